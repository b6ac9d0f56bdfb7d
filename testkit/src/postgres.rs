//! A PostgreSQL 15 server for tests: `initdb` into a temp dir, `pg_ctl start` on a loopback port.
//!
//! ```no_run
//! let server = capacitor_testkit::postgres::PostgresServer::shared();
//! let url = server.create_database("orders_test").unwrap(); // postgres://postgres@127.0.0.1:<port>/orders_test
//! ```
//!
//! Debian's binaries live in `/usr/lib/postgresql/15/bin` (override with `CAPACITOR_PG_BIN`). Postgres refuses
//! to run as root, so when the tests run as root (CI does) the server runs as the `postgres` OS user, which
//! the Debian package creates, through `runuser`. Durability is switched off (`fsync`, `synchronous_commit`,
//! `full_page_writes`): these are throwaway databases. Authentication is `trust` on loopback only.

use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Where Debian's `postgresql-15` package puts `initdb`, `pg_ctl` and `createdb`.
const DEFAULT_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A running test server; stopped (and its data deleted) when dropped.
pub struct PostgresServer {
    dir: tempfile::TempDir,
    port: u16,
    bin: PathBuf,
    as_postgres_user: bool,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

fn failed(what: &str, output: &std::process::Output) -> io::Error {
    io::Error::other(format!(
        "{what} failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

impl PostgresServer {
    /// Initializes a cluster in a new temp dir and starts it on a free loopback port.
    pub fn start() -> io::Result<PostgresServer> {
        let bin = std::env::var_os("CAPACITOR_PG_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_BIN));
        if !bin.join("initdb").exists() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "no initdb in {}: install Debian's `postgresql` package (scripts/test.sh does) or set CAPACITOR_PG_BIN",
                    bin.display()
                ),
            ));
        }
        let as_postgres_user = is_root();
        let dir = tempfile::Builder::new().prefix("capacitor-pg-").tempdir()?;
        let server = PostgresServer {
            port: free_port()?,
            dir,
            bin,
            as_postgres_user,
        };
        if as_postgres_user {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(server.dir.path())
                .status()?;
            if !status.success() {
                return Err(io::Error::other(
                    "cannot chown the data dir to the `postgres` user (is Debian's postgresql package installed?)",
                ));
            }
        }
        let output = server
            .tool("initdb")
            .arg("-D")
            .arg(server.data_dir())
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--locale=C",
            ])
            .output()?;
        if !output.status.success() {
            return Err(failed("initdb", &output));
        }
        server.pg_ctl("start")?;
        Ok(server)
    }

    /// `pg_ctl <action>` with the server's options, waiting for it to finish.
    fn pg_ctl(&self, action: &str) -> io::Result<()> {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        let output = self
            .tool("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.dir.path().join("server.log"))
            .args(["-w", "-t", "60", "-m", "fast", "-o", &options, action])
            .stdin(Stdio::null())
            .output()?;
        if !output.status.success() {
            let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
            return Err(io::Error::other(format!(
                "{}\n{log}",
                failed(&format!("pg_ctl {action}"), &output)
            )));
        }
        Ok(())
    }

    /// Restarts the server on the same port with the same data (a fast shutdown: open connections are cut).
    pub fn restart(&self) -> io::Result<()> {
        self.pg_ctl("restart")
    }

    /// One server per test binary, started on first use. A watchdog process stops it when the test
    /// process exits (statics are never dropped).
    pub fn shared() -> &'static PostgresServer {
        static SERVER: OnceLock<PostgresServer> = OnceLock::new();
        SERVER.get_or_init(|| {
            let server = PostgresServer::start().expect("start the test PostgreSQL server");
            server.stop_when_process_exits();
            server
        })
    }

    /// A command running one of the server's binaries, as the `postgres` user when we are root.
    fn tool(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        if self.as_postgres_user {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The loopback port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of the default `postgres` database.
    pub fn url(&self) -> String {
        self.database_url("postgres")
    }

    /// The URL of database `name` on this server.
    pub fn database_url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates an empty database (for test isolation) and returns its URL.
    pub fn create_database(&self, name: &str) -> io::Result<String> {
        let output = Command::new(self.bin.join("createdb"))
            .args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(self.port.to_string())
            .arg(name)
            .output()?;
        if !output.status.success() {
            return Err(failed("createdb", &output));
        }
        Ok(self.database_url(name))
    }

    /// The server's log file (useful when a test fails).
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    fn stop_when_process_exits(&self) {
        crate::redis::stop_when_process_exits(&self.stop_command_line());
    }

    fn stop_command_line(&self) -> String {
        let pg_ctl = quote(&self.bin.join("pg_ctl"));
        let data = quote(&self.data_dir());
        let stop = format!("{pg_ctl} -D {data} -m immediate stop");
        let stop = if self.as_postgres_user {
            format!("runuser -u postgres -- {stop}")
        } else {
            stop
        };
        format!("{stop}; rm -rf {}", quote(self.dir.path()))
    }
}

fn quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let _ = self
            .tool("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
