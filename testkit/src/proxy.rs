//! A TCP proxy on a loopback port, to cut ONE client off a server that others still reach (a partition), which
//! stopping or pausing the server itself cannot do.
//!
//! ```no_run
//! let redis = capacitor_testkit::redis::RedisServer::start().unwrap();
//! let proxy = capacitor_testkit::proxy::TcpProxy::start(redis.port()).unwrap();
//! // connect one client to `proxy.port()`, the others to `redis.port()`…
//! proxy.cut(); // its connections close; new ones are closed at once
//! proxy.heal(); // forwards again
//! ```

use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

/// Forwards connections on its own loopback port to `127.0.0.1:<target>` until [`cut`](TcpProxy::cut).
pub struct TcpProxy {
    port: u16,
    shared: Arc<Shared>,
}

struct Shared {
    cut: AtomicBool,
    stopped: AtomicBool,
    /// Both ends of every forwarded connection, to close them on a cut.
    open: Mutex<Vec<TcpStream>>,
}

impl TcpProxy {
    /// Starts forwarding to `127.0.0.1:<target>`.
    pub fn start(target: u16) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            cut: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            open: Mutex::new(Vec::new()),
        });
        let accepting = shared.clone();
        thread::spawn(move || {
            for client in listener.incoming() {
                if accepting.stopped.load(Ordering::Acquire) {
                    break;
                }
                let Ok(client) = client else { continue };
                if accepting.cut.load(Ordering::Acquire) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let _ = forward(&accepting, client, server);
            }
        });
        Ok(TcpProxy { port, shared })
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Closes every forwarded connection and closes new ones at once, until [`heal`](TcpProxy::heal).
    pub fn cut(&self) {
        self.shared.cut.store(true, Ordering::Release);
        for stream in self.shared.open.lock().expect("proxy lock").drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Forwards new connections again.
    pub fn heal(&self) {
        self.shared.cut.store(false, Ordering::Release);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::Release);
        self.cut();
        // Wakes the accept loop so it sees `stopped`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Copies both ways on two threads; remembers both streams so a cut can close them.
fn forward(shared: &Arc<Shared>, client: TcpStream, server: TcpStream) -> io::Result<()> {
    {
        let mut open = shared.open.lock().expect("proxy lock");
        open.push(client.try_clone()?);
        open.push(server.try_clone()?);
    }
    let (mut client_read, mut server_write) = (client.try_clone()?, server.try_clone()?);
    let (mut server_read, mut client_write) = (server, client);
    thread::spawn(move || {
        let _ = io::copy(&mut client_read, &mut server_write);
        let _ = server_write.shutdown(Shutdown::Both);
    });
    thread::spawn(move || {
        let _ = io::copy(&mut server_read, &mut client_write);
        let _ = client_write.shutdown(Shutdown::Both);
    });
    Ok(())
}
