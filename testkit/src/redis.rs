//! A Redis 7 server for tests: `redis-server` on a loopback port, stoppable, hangable and restartable.
//!
//! ```no_run
//! let redis = capacitor_testkit::redis::RedisServer::start().unwrap();
//! let url = redis.url();             // redis://127.0.0.1:<port>/
//! redis.hang();                      // SIGSTOP: connections stay open, nothing answers
//! redis.resume();                    // SIGCONT
//! ```
//!
//! [`RedisServer::start_persistent`] keeps an append-only file in the server's temp dir, so
//! [`RedisServer::restart`] brings the server back on the same port WITH its data (the "Redis returns with
//! entries that missed writes while it was away" case). The server is killed when the handle drops.
//!
//! [`RedisCluster::start`] starts a small Redis Cluster: three masters without replicas, each a
//! `redis-server --cluster-enabled yes` in its own temp dir, joined with `redis-cli --cluster create` and ready
//! once every node reports `cluster_state:ok`.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The `redis-server` binary (Debian's `redis-server` package).
const REDIS_SERVER: &str = "redis-server";

/// A running (or stopped) test Redis server.
pub struct RedisServer {
    port: u16,
    dir: tempfile::TempDir,
    persistent: bool,
    /// The cluster bus port when the server is a cluster node.
    cluster_bus: Option<u16>,
    child: Mutex<Option<Child>>,
}

impl RedisServer {
    /// Starts a server without persistence (`--save '' --appendonly no`) on a free loopback port.
    pub fn start() -> io::Result<Self> {
        Self::launch(false)
    }

    /// Starts a server that keeps its data in an append-only file, so [`restart`](Self::restart) keeps it.
    pub fn start_persistent() -> io::Result<Self> {
        Self::launch(true)
    }

    fn launch(persistent: bool) -> io::Result<Self> {
        Self::launch_with(persistent, None)
    }

    fn launch_with(persistent: bool, cluster_bus: Option<u16>) -> io::Result<Self> {
        let server = RedisServer {
            port: free_port()?,
            dir: tempfile::Builder::new()
                .prefix("capacitor-redis-")
                .tempdir()?,
            persistent,
            cluster_bus,
            child: Mutex::new(None),
        };
        server.spawn()?;
        Ok(server)
    }

    /// One server per test binary, started on first use (for tests that share it, e.g. across proptest
    /// cases). Statics are never dropped, so a watchdog shell shuts it down when the test process exits.
    pub fn shared() -> &'static RedisServer {
        static SERVER: std::sync::OnceLock<RedisServer> = std::sync::OnceLock::new();
        SERVER.get_or_init(|| {
            let server = RedisServer::start().expect("start the test Redis server");
            server.stop_when_process_exits();
            server
        })
    }

    fn stop_when_process_exits(&self) {
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; redis-cli -p {port} shutdown nosave; rm -rf '{dir}'",
            pid = std::process::id(),
            port = self.port,
            dir = self.dir.path().display().to_string().replace('\'', "'\\''"),
        );
        let _ = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The loopback port the server listens on (kept across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's working directory (its append-only file lives here when persistent).
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }

    /// Stops the server (SIGTERM; a persistent server flushes its append-only file first) and waits for it.
    pub fn stop(&self) -> io::Result<()> {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mut c) = child.take() {
            signal(c.id(), "CONT")?; // a hung server cannot handle SIGTERM
            signal(c.id(), "TERM")?;
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if c.try_wait()?.is_some() {
                    break;
                }
                if Instant::now() > deadline {
                    c.kill()?;
                    c.wait()?;
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Ok(())
    }

    /// Starts the server again on the same port and directory (with its data when persistent).
    pub fn restart(&self) -> io::Result<()> {
        self.stop()?;
        self.spawn()
    }

    /// SIGSTOP: the server keeps its connections but answers nothing until [`resume`](Self::resume).
    pub fn hang(&self) -> io::Result<()> {
        self.send("STOP")
    }

    /// SIGCONT after [`hang`](Self::hang).
    pub fn resume(&self) -> io::Result<()> {
        self.send("CONT")
    }

    fn send(&self, sig: &str) -> io::Result<()> {
        let child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        match child.as_ref() {
            Some(c) => signal(c.id(), sig),
            None => Err(io::Error::other("redis-server is not running")),
        }
    }

    fn spawn(&self) -> io::Result<()> {
        let mut command = Command::new(REDIS_SERVER);
        command
            .current_dir(self.dir.path())
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--dir", &self.dir.path().to_string_lossy()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if self.persistent {
            command.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            command.args(["--appendonly", "no"]);
        }
        if let Some(bus) = self.cluster_bus {
            // The bus port is given explicitly: the default (port + 10000) may be past 65535 for an ephemeral
            // port. The config file lives in the node's own temp dir.
            command
                .args(["--cluster-enabled", "yes"])
                .args(["--cluster-config-file", "nodes.conf"])
                .args(["--cluster-port", &bus.to_string()])
                .args(["--cluster-node-timeout", "5000"]);
        }
        let child = command.spawn().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot start `{REDIS_SERVER}` ({e}); install Debian's redis-server package"
                ),
            )
        })?;
        *self.child.lock().unwrap_or_else(|e| e.into_inner()) = Some(child);
        wait_for_port(self.port, Duration::from_secs(10))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(mut c) = child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A Redis Cluster of three masters without replicas (every slot served), for tests of cluster clients.
///
/// ```no_run
/// let cluster = capacitor_testkit::redis::RedisCluster::start().unwrap();
/// let url = cluster.url(); // redis+cluster://127.0.0.1:<port>,127.0.0.1:<port>,127.0.0.1:<port>
/// ```
///
/// The nodes are killed when the handle drops.
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Masters in the cluster.
    pub const MASTERS: usize = 3;

    /// Starts [`MASTERS`](Self::MASTERS) cluster-enabled servers on free loopback ports, assigns the slots
    /// with `redis-cli --cluster create … --cluster-replicas 0 --cluster-yes`, and waits until every node
    /// reports `cluster_state:ok`.
    pub fn start() -> io::Result<Self> {
        let nodes = (0..Self::MASTERS)
            .map(|_| RedisServer::launch_with(false, Some(free_port()?)))
            .collect::<io::Result<Vec<_>>>()?;
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let output = Command::new(REDIS_CLI)
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot run `{REDIS_CLI}` ({e}); install Debian's redis-tools package"),
                )
            })?;
        if !output.status.success() {
            return Err(io::Error::other(format!(
                "`{REDIS_CLI} --cluster create` failed: {}",
                String::from_utf8_lossy(&output.stdout)
            )));
        }
        let cluster = RedisCluster { nodes };
        for node in &cluster.nodes {
            wait_for_cluster_ok(node.port, Duration::from_secs(30))?;
        }
        Ok(cluster)
    }

    /// `redis+cluster://127.0.0.1:<port>,…`: every node, in the form `capacitor::redis::RedisTier::connect`
    /// takes for a cluster.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+cluster://{}", nodes.join(","))
    }

    /// The nodes, e.g. to ask one for `CLUSTER KEYSLOT` or `DBSIZE`.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }
}

/// `redis-cli` (Debian's `redis-tools`, a dependency of `redis-server`).
const REDIS_CLI: &str = "redis-cli";

fn wait_for_cluster_ok(port: u16, timeout: Duration) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    while Instant::now() < deadline {
        let output = Command::new(REDIS_CLI)
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "cluster",
                "info",
            ])
            .stdin(Stdio::null())
            .output()?;
        last = String::from_utf8_lossy(&output.stdout).into_owned();
        if last.lines().any(|l| l.trim() == "cluster_state:ok") {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(io::Error::new(
        io::ErrorKind::TimedOut,
        format!("redis cluster node 127.0.0.1:{port} not ok within {timeout:?}: {last}"),
    ))
}

fn signal(pid: u32, sig: &str) -> io::Result<()> {
    let signal = match sig {
        "STOP" => libc::SIGSTOP,
        "CONT" => libc::SIGCONT,
        "TERM" => libc::SIGTERM,
        other => return Err(io::Error::other(format!("unknown signal {other}"))),
    };
    let pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
    // SAFETY: kill(2) only sends a signal to the process we spawned (and still hold a handle to).
    if unsafe { libc::kill(pid, signal) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A port the OS reports free on loopback (another process may take it before the server binds; tests
/// retry by starting a new server).
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_for_port(port: u16, timeout: Duration) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(io::Error::new(
        io::ErrorKind::TimedOut,
        format!("redis-server did not listen on 127.0.0.1:{port} within {timeout:?}"),
    ))
}
