//! An S3-compatible server for tests: the `s3s-fs` binary (crates.io's `s3s-fs`, installed by
//! `scripts/test.sh`) on a loopback port, serving a temp dir, with one bucket and fixed credentials; killed when
//! the handle drops (the shared one, when the test process exits).
//!
//! ```no_run
//! let s3 = capacitor_testkit::s3::S3Server::shared();
//! let (endpoint, bucket) = (s3.endpoint(), s3.bucket()); // http://127.0.0.1:<port>, "capacitor"
//! ```

use crate::redis::{free_port, poll_until, shell_quote, stop_when_process_exits};
use std::io;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The `s3s-fs` binary.
const S3S_FS: &str = "s3s-fs";

/// A running test S3 server.
pub struct S3Server {
    port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl S3Server {
    /// The access key id the server accepts.
    pub const ACCESS_KEY: &'static str = "capacitor-test";
    /// The secret access key the server accepts.
    pub const SECRET_KEY: &'static str = "capacitor-test-secret";
    /// The region to sign requests for.
    pub const REGION: &'static str = "us-east-1";

    /// Starts `s3s-fs` on a free loopback port over a temp dir holding the bucket [`bucket`](Self::bucket).
    pub fn start() -> io::Result<Self> {
        let port = free_port()?;
        let dir = tempfile::Builder::new().prefix("capacitor-s3-").tempdir()?;
        // s3s-fs serves each directory of its root as a bucket.
        std::fs::create_dir(dir.path().join("capacitor"))?;
        let child = Command::new(S3S_FS)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", Self::ACCESS_KEY, "--secret-key", Self::SECRET_KEY])
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "cannot start `{S3S_FS}` ({e}); install it with \
                         `cargo install s3s-fs --locked --version 0.14.1 --features binary` (scripts/test.sh does)"
                    ),
                )
            })?;
        let server = S3Server { port, dir, child };
        poll_until(
            Duration::from_secs(10),
            || format!("s3s-fs did not listen on 127.0.0.1:{port}"),
            || Ok(TcpStream::connect(("127.0.0.1", port)).is_ok()),
        )?;
        Ok(server)
    }

    /// One server per test binary, started on first use. Statics are never dropped, so a watchdog shell kills
    /// it and removes its dir when the test process exits.
    pub fn shared() -> &'static S3Server {
        static SERVER: std::sync::OnceLock<S3Server> = std::sync::OnceLock::new();
        SERVER.get_or_init(|| {
            let server = S3Server::start().expect("start the test S3 server");
            stop_when_process_exits(&format!(
                "kill {}; rm -rf {}",
                server.child.id(),
                shell_quote(server.dir.path())
            ));
            server
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The bucket the server holds.
    pub fn bucket(&self) -> &'static str {
        "capacitor"
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
