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
//! once every node reports `cluster_state:ok`. [`RedisCluster::start_with_replicas`] gives each master a replica,
//! for fault tests: [`RedisCluster::master_of_slot`], [`RedisServer::kill`] (SIGKILL),
//! [`RedisCluster::cut_replication`], [`RedisCluster::take_over`] (`CLUSTER FAILOVER TAKEOVER` on a replica) and the steps of a slot migration
//! ([`RedisCluster::begin_slot_migration`], [`RedisCluster::migrate_keys`], [`RedisCluster::finish_slot_migration`]).

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
    /// Between [`hang`](Self::hang) and [`resume`](Self::resume) (a stopped server must not be asked anything:
    /// `redis-cli` would wait forever).
    hung: std::sync::atomic::AtomicBool,
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
            hung: std::sync::atomic::AtomicBool::new(false),
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
        stop_when_process_exits(&format!(
            "redis-cli -p {} shutdown nosave; rm -rf {}",
            self.port,
            shell_quote(self.dir.path())
        ));
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The loopback port the server listens on (kept across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `CLUSTER NODES` as this node sees it.
    fn cluster_nodes(&self) -> io::Result<Vec<NodeLine>> {
        Ok(self
            .cli(&["cluster", "nodes"])?
            .lines()
            .filter_map(NodeLine::parse)
            .collect())
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
            self.hung.store(false, std::sync::atomic::Ordering::Release);
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

    /// SIGKILL, as a crash: no shutdown, no final write, connections reset. [`restart`](Self::restart) starts it
    /// again.
    pub fn kill(&self) -> io::Result<()> {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mut c) = child.take() {
            c.kill()?;
            c.wait()?;
        }
        self.hung.store(false, std::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// Whether the server process is running and answering (not stopped, killed or hung through this handle).
    pub fn is_running(&self) -> bool {
        !self.hung.load(std::sync::atomic::Ordering::Acquire)
            && self
                .child
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some()
    }

    /// Runs one command through `redis-cli -e` and returns its raw reply (one line per element); a command
    /// error is an `io::Error` with the server's message.
    pub fn cli(&self, args: &[&str]) -> io::Result<String> {
        if self.hung.load(std::sync::atomic::Ordering::Acquire) {
            return Err(io::Error::other(format!(
                "redis-server on port {} is hung (SIGSTOP); resume it first",
                self.port
            )));
        }
        cli(self.port, args)
    }

    /// SIGSTOP: the server keeps its connections but answers nothing until [`resume`](Self::resume).
    pub fn hang(&self) -> io::Result<()> {
        self.send("STOP")?;
        self.hung.store(true, std::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// SIGCONT after [`hang`](Self::hang).
    pub fn resume(&self) -> io::Result<()> {
        self.send("CONT")?;
        self.hung.store(false, std::sync::atomic::Ordering::Release);
        Ok(())
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
                .args(["--cluster-node-timeout", "5000"])
                // Failovers happen only when a test asks for one (`take_over`), never because a loaded CI
                // machine delayed a heartbeat.
                .args(["--cluster-replica-no-failover", "yes"]);
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

/// A Redis Cluster of three masters (every slot served), optionally with a replica each, for tests of cluster
/// clients and of cluster faults.
///
/// ```no_run
/// let cluster = capacitor_testkit::redis::RedisCluster::start().unwrap();
/// let url = cluster.url(); // redis+cluster://127.0.0.1:<port>,127.0.0.1:<port>,127.0.0.1:<port>
/// ```
///
/// Roles change under the tests' feet (a replica taken over becomes a master), so the cluster is asked for
/// them ([`master_of_slot`](Self::master_of_slot), [`replica_of`](Self::replica_of)) rather than remembered.
/// Automatic failover is off (`cluster-replica-no-failover`): only [`take_over`](Self::take_over) promotes.
/// The nodes are killed when the handle drops.
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

/// One line of `CLUSTER NODES`, as far as the tests need it.
#[derive(Debug, Clone)]
struct NodeLine {
    id: String,
    port: u16,
    flags: Vec<String>,
    master_id: Option<String>,
    /// Slot ranges served (inclusive); migration markers (`[…]`) are left out.
    slots: Vec<(u16, u16)>,
}

impl NodeLine {
    fn parse(line: &str) -> Option<NodeLine> {
        let mut fields = line.split_whitespace();
        let id = fields.next()?.to_owned();
        let address = fields.next()?;
        let port = address
            .split(['@', ','])
            .next()?
            .rsplit(':')
            .next()?
            .parse()
            .ok()?;
        let flags = fields.next()?.split(',').map(str::to_owned).collect();
        let master_id = Some(fields.next()?)
            .filter(|m| *m != "-")
            .map(str::to_owned);
        let slots = fields
            .skip(4) // ping-sent, pong-recv, config-epoch, link-state
            .filter(|s| !s.starts_with('['))
            .filter_map(|s| match s.split_once('-') {
                Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                None => s.parse().ok().map(|n| (n, n)),
            })
            .collect();
        Some(NodeLine {
            id,
            port,
            flags,
            master_id,
            slots,
        })
    }

    fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    fn serves(&self, slot: u16) -> bool {
        self.slots.iter().any(|&(a, b)| a <= slot && slot <= b)
    }
}

impl RedisCluster {
    /// Masters in the cluster.
    pub const MASTERS: usize = 3;

    /// Starts [`MASTERS`](Self::MASTERS) cluster-enabled servers on free loopback ports, assigns the slots
    /// with `redis-cli --cluster create … --cluster-replicas 0 --cluster-yes`, and waits until every node
    /// reports `cluster_state:ok`.
    pub fn start() -> io::Result<Self> {
        Self::create(0)
    }

    /// Like [`start`](Self::start), with one replica per master (six servers), and waits until every replica
    /// has caught up with its master.
    pub fn start_with_replicas() -> io::Result<Self> {
        let cluster = Self::create(1)?;
        cluster.wait_for_replicas(Duration::from_secs(30))?;
        Ok(cluster)
    }

    /// Tries three times: a port reported free may be taken by another test's server before ours binds it.
    fn create(replicas: usize) -> io::Result<Self> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::create_once(replicas) {
                Err(e) if attempt < 3 => {
                    eprintln!("testkit: redis cluster did not start ({e}); retrying");
                }
                outcome => return outcome,
            }
        }
    }

    fn create_once(replicas: usize) -> io::Result<Self> {
        let nodes = (0..Self::MASTERS * (1 + replicas))
            .map(|_| RedisServer::launch_with(false, Some(free_port()?)))
            .collect::<io::Result<Vec<_>>>()?;
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let output = Command::new(REDIS_CLI)
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
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

    /// The node of port `port`.
    fn node(&self, port: u16) -> io::Result<&RedisServer> {
        self.nodes
            .iter()
            .find(|n| n.port == port)
            .ok_or_else(|| io::Error::other(format!("no cluster node on port {port}")))
    }

    /// `CLUSTER NODES` as seen by the first running node.
    fn topology(&self) -> io::Result<Vec<NodeLine>> {
        self.nodes
            .iter()
            .find(|n| n.is_running())
            .ok_or_else(|| io::Error::other("no cluster node is running"))?
            .cluster_nodes()
    }

    /// The hash slot of `key` (`CLUSTER KEYSLOT`).
    pub fn keyslot(&self, key: &str) -> io::Result<u16> {
        let node = self
            .nodes
            .iter()
            .find(|n| n.is_running())
            .ok_or_else(|| io::Error::other("no cluster node is running"))?;
        node.cli(&["cluster", "keyslot", key])?
            .trim()
            .parse()
            .map_err(io::Error::other)
    }

    /// The master serving `slot` (as the first running node sees it).
    pub fn master_of_slot(&self, slot: u16) -> io::Result<&RedisServer> {
        let line = self
            .topology()?
            .into_iter()
            .find(|l| l.has_flag("master") && !l.has_flag("fail") && l.serves(slot))
            .ok_or_else(|| io::Error::other(format!("no master serves slot {slot}")))?;
        self.node(line.port)
    }

    /// A master that does not serve `slot` (a target for migrating it).
    pub fn other_master(&self, slot: u16) -> io::Result<&RedisServer> {
        let line = self
            .topology()?
            .into_iter()
            .find(|l| {
                l.has_flag("master")
                    && !l.has_flag("fail")
                    && !l.serves(slot)
                    && !l.slots.is_empty()
            })
            .ok_or_else(|| io::Error::other(format!("no master without slot {slot}")))?;
        self.node(line.port)
    }

    /// The replica of `master`.
    pub fn replica_of(&self, master: &RedisServer) -> io::Result<&RedisServer> {
        let topology = self.topology()?;
        let master_id = topology
            .iter()
            .find(|l| l.port == master.port)
            .map(|l| l.id.clone())
            .ok_or_else(|| {
                io::Error::other(format!("port {} is not in the cluster", master.port))
            })?;
        let line = topology
            .into_iter()
            .find(|l| l.has_flag("slave") && l.master_id.as_deref() == Some(master_id.as_str()))
            .ok_or_else(|| {
                io::Error::other(format!("master on port {} has no replica", master.port))
            })?;
        self.node(line.port)
    }

    /// Waits until every master's replicas have acknowledged its whole replication stream (so a write made
    /// before this call survives a failover).
    pub fn wait_for_replicas(&self, timeout: Duration) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        for node in self.nodes.iter().filter(|n| n.is_running()) {
            loop {
                let info = node.cli(&["info", "replication"])?;
                if replicas_caught_up(&info) {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("replicas of 127.0.0.1:{} not caught up: {info}", node.port),
                    ));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Ok(())
    }

    /// Cuts `replica` off its master's replication stream and keeps it off: a wrong `masterauth` on the replica,
    /// then `CLIENT KILL TYPE replica` on the master, so the replica's reconnections fail their `AUTH`. Writes
    /// from now on reach only the master: the window of asynchronous replication that a failover loses, held
    /// open. (A stopped replica would not do: the kernel buffers the stream and it catches up on `SIGCONT`.)
    pub fn cut_replication(&self, replica: &RedisServer) -> io::Result<()> {
        let master_port = self
            .topology()?
            .into_iter()
            .find(|l| l.port == replica.port)
            .and_then(|l| l.master_id)
            .and_then(|id| self.topology().ok()?.into_iter().find(|l| l.id == id))
            .map(|l| l.port)
            .ok_or_else(|| io::Error::other(format!("port {} is not a replica", replica.port)))?;
        replica.cli(&["config", "set", "masterauth", "capacitor-testkit-cut"])?;
        self.node(master_port)?
            .cli(&["client", "kill", "type", "replica"])?;
        poll_until(
            Duration::from_secs(10),
            || "the replication link stays up".to_owned(),
            || {
                Ok(replica
                    .cli(&["info", "replication"])?
                    .lines()
                    .any(|l| l.trim() == "master_link_status:down"))
            },
        )
    }

    /// Promotes `replica` with `CLUSTER FAILOVER TAKEOVER` (no agreement from its master, which may be dead or
    /// hung) and waits until every running node sees it serving its master's slots.
    pub fn take_over(&self, replica: &RedisServer) -> io::Result<()> {
        replica.cli(&["cluster", "failover", "takeover"])?;
        poll_until(
            Duration::from_secs(30),
            || format!("127.0.0.1:{} did not take over", replica.port),
            || {
                let mut settled = true;
                for node in self.nodes.iter().filter(|n| n.is_running()) {
                    let promoted = node.cluster_nodes()?.iter().any(|l| {
                        l.port == replica.port && l.has_flag("master") && !l.slots.is_empty()
                    });
                    let info = node.cli(&["cluster", "info"])?;
                    settled &= promoted && info.lines().any(|l| l.trim() == "cluster_state:ok");
                }
                Ok(settled)
            },
        )
    }

    /// First step of moving `slot` from `from` to `to`: `CLUSTER SETSLOT <slot> IMPORTING` on `to`, then
    /// `MIGRATING` on `from`. Until [`finish_slot_migration`](Self::finish_slot_migration), `from` answers for
    /// the keys it still holds and redirects the rest with `ASK`; commands on several keys split between the two
    /// get `TRYAGAIN`.
    pub fn begin_slot_migration(
        &self,
        slot: u16,
        from: &RedisServer,
        to: &RedisServer,
    ) -> io::Result<()> {
        let slot = slot.to_string();
        to.cli(&["cluster", "setslot", &slot, "importing", &self.id_of(from)?])?;
        from.cli(&["cluster", "setslot", &slot, "migrating", &self.id_of(to)?])?;
        Ok(())
    }

    /// Keys of `slot` still held by `node` (`CLUSTER GETKEYSINSLOT`, up to `count`).
    pub fn keys_in_slot(
        &self,
        node: &RedisServer,
        slot: u16,
        count: usize,
    ) -> io::Result<Vec<String>> {
        Ok(node
            .cli(&[
                "cluster",
                "getkeysinslot",
                &slot.to_string(),
                &count.to_string(),
            ])?
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect())
    }

    /// Moves `keys` (all of one slot) from `from` to `to` in one `MIGRATE … KEYS …` (atomic for the batch: the
    /// keys leave `from` once `to` holds them).
    pub fn migrate_keys(
        &self,
        from: &RedisServer,
        to: &RedisServer,
        keys: &[String],
    ) -> io::Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let port = to.port.to_string();
        let mut args = vec!["migrate", "127.0.0.1", &port, "", "0", "5000", "KEYS"];
        args.extend(keys.iter().map(String::as_str));
        from.cli(&args).map(drop)
    }

    /// Last step: `CLUSTER SETSLOT <slot> NODE <to>` on `to`, then on every other master, and waits until every
    /// running node sees `to` serving the slot.
    pub fn finish_slot_migration(&self, slot: u16, to: &RedisServer) -> io::Result<()> {
        let id = self.id_of(to)?;
        let s = slot.to_string();
        to.cli(&["cluster", "setslot", &s, "node", &id])?;
        for line in self.topology()? {
            if line.port != to.port && line.has_flag("master") && !line.has_flag("fail") {
                self.node(line.port)?
                    .cli(&["cluster", "setslot", &s, "node", &id])?;
            }
        }
        poll_until(
            Duration::from_secs(30),
            || format!("slot {slot} not seen on 127.0.0.1:{}", to.port),
            || {
                let mut settled = true;
                for node in self.nodes.iter().filter(|n| n.is_running()) {
                    settled &= node
                        .cluster_nodes()?
                        .iter()
                        .any(|l| l.port == to.port && l.serves(slot));
                }
                Ok(settled)
            },
        )
    }

    fn id_of(&self, node: &RedisServer) -> io::Result<String> {
        Ok(node.cli(&["cluster", "myid"])?.trim().to_owned())
    }
}

/// Whether `INFO replication` of a master shows every replica online at the master's offset (trivially true
/// for a replica or a master without replicas).
fn replicas_caught_up(info: &str) -> bool {
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.trim().strip_prefix(name).map(str::to_owned))
    };
    if field("role:").as_deref() != Some("master") {
        return true;
    }
    let Some(offset) = field("master_repl_offset:") else {
        return false;
    };
    info.lines()
        .filter(|l| l.starts_with("slave") && l.contains(":ip="))
        .all(|l| {
            l.contains("state=online") && l.split(',').any(|kv| kv == format!("offset={offset}"))
        })
}

/// `redis-cli` (Debian's `redis-tools`, a dependency of `redis-server`).
const REDIS_CLI: &str = "redis-cli";

/// `redis-cli -e -h 127.0.0.1 -p <port> <args>`: the raw reply, or the server's error.
fn cli(port: u16, args: &[&str]) -> io::Result<String> {
    let output = Command::new(REDIS_CLI)
        .args(["-e", "-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        Ok(stdout)
    } else {
        Err(io::Error::other(format!(
            "`{REDIS_CLI} -p {port} {}` failed: {stdout}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        )))
    }
}

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
/// Runs `stop` (a shell command line) once this process has exited: statics are never dropped, so the shared
/// servers would otherwise outlive the test binary.
pub(crate) fn stop_when_process_exits(stop: &str) {
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {stop}",
        pid = std::process::id(),
    );
    let _ = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

/// `path` quoted for a shell command line.
pub(crate) fn shell_quote(path: &std::path::Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

pub(crate) fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_for_port(port: u16, timeout: Duration) -> io::Result<()> {
    poll_until(
        timeout,
        || format!("redis-server did not listen on 127.0.0.1:{port}"),
        || Ok(TcpStream::connect(("127.0.0.1", port)).is_ok()),
    )
}

/// Polls `done` every 10 ms until it says so; after `timeout`, a `TimedOut` error saying `what` (and how long).
pub(crate) fn poll_until(
    timeout: Duration,
    what: impl Fn() -> String,
    mut done: impl FnMut() -> io::Result<bool>,
) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if done()? {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{} within {timeout:?}", what()),
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
