//! A NATS server with JetStream for tests: Debian's `nats-server` (2.9) on a loopback port, its store in a temp
//! dir, killed when the handle drops; [`NatsServer::stop`] and [`NatsServer::restart`] (same port, same store)
//! for the sink-down fault tests.
//!
//! ```no_run
//! let nats = capacitor_testkit::nats::NatsServer::start().unwrap();
//! let url = nats.url(); // nats://127.0.0.1:<port>
//! ```

use crate::redis::{free_port, poll_until};
use std::io;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

/// The `nats-server` binary (Debian's `nats-server` package).
const NATS_SERVER: &str = "nats-server";

/// A running (or stopped) test NATS server with JetStream.
pub struct NatsServer {
    port: u16,
    dir: tempfile::TempDir,
    child: Mutex<Option<Child>>,
}

impl NatsServer {
    /// Starts `nats-server -js` on a free loopback port, storing JetStream data in a temp dir.
    pub fn start() -> io::Result<Self> {
        let server = NatsServer {
            port: free_port()?,
            dir: tempfile::Builder::new()
                .prefix("capacitor-nats-")
                .tempdir()?,
            child: Mutex::new(None),
        };
        server.spawn()?;
        Ok(server)
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (its JetStream store stays in the temp dir).
    pub fn stop(&self) -> io::Result<()> {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mut c) = child.take() {
            c.kill()?;
            c.wait()?;
        }
        Ok(())
    }

    /// Starts the server again on the same port with the same store.
    pub fn restart(&self) -> io::Result<()> {
        self.stop()?;
        self.spawn()
    }

    fn spawn(&self) -> io::Result<()> {
        let child = Command::new(NATS_SERVER)
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-sd", &self.dir.path().to_string_lossy()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "cannot start `{NATS_SERVER}` ({e}); install Debian's nats-server package"
                    ),
                )
            })?;
        *self.child.lock().unwrap_or_else(|e| e.into_inner()) = Some(child);
        let port = self.port;
        poll_until(
            Duration::from_secs(10),
            || format!("nats-server did not listen on 127.0.0.1:{port}"),
            || Ok(TcpStream::connect(("127.0.0.1", port)).is_ok()),
        )
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
