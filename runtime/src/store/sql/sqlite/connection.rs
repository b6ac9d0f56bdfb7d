//! SQLite connections run on the caller's thread: a small pool of rusqlite connections, each statement prepared
//! once per connection (`prepare_cached`) and run in place.
//!
//! Why not sqlx's driver: it runs each connection on a worker thread and hands every statement and row across a
//! channel, which costs ~25 µs per statement (a read by key is ~3 µs by hand); `spawn_blocking` alone costs
//! ~10 µs. A statement on an embedded database in WAL mode takes microseconds and never waits for readers, so
//! it runs where it is called, like a short mutex section.
//!
//! It must not block the caller's thread while it waits for another writer's lock, though: on a current-thread
//! runtime the writer holding the lock (an open transaction) could be a task of the same thread. So statements
//! run in place with no busy timeout; one that finds the database locked (`SQLITE_BUSY`, before it has done
//! anything) is run again on a blocking thread with the store's busy timeout. Transactions start with `BEGIN
//! IMMEDIATE`, taking the write lock up front, so no statement inside one meets a lock it cannot wait for.
//!
//! Writers of one database file take turns: a write outside a transaction (an autocommit `INSERT`, `UPDATE`,
//! `DELETE`) first waits, asynchronously and in arrival order, for the file's write turn, then runs as above.
//! The turn is the process's, shared by every store opened on the file (a generated `open` per entity opens a
//! store each). Without
//! it, concurrent writers of one process met each other's lock and waited in SQLite's busy handler, which
//! sleeps (1 ms, then longer): under load a put could wait hundreds of milliseconds while others kept taking
//! the lock, and with `synchronous = FULL` (each commit holding the lock for its `fsync`) over a second. The
//! turn is held for one statement only, whose wait for another process's or a transaction's lock is bounded by
//! the busy timeout, so it cannot deadlock; transactions do not take it (a task holding one may write again
//! outside it, which must fail after the busy timeout, as before, not wait forever).
//!
//! With `synchronous = FULL` (the store's default) a commit's `fsync` runs in place too, holding the runtime
//! thread for it (about 150 µs on the development machine). Running committing statements on a blocking thread
//! instead was measured (BENCHMARKS.md, concurrent writers): it cost 30% of the write throughput, so it is not
//! done; with the write turn, at most one runtime thread per store waits in an `fsync` at a time.
//!
//! Cancellation: a statement in place completes before its future can be dropped. A statement moved to a
//! blocking thread owns its connection; if its future is dropped, the thread finishes the statement and then
//! closes the connection, which rolls back any transaction open on it. A connection returned to the pool with a
//! transaction still open (a [`SqliteTransaction`] dropped without commit) is rolled back first.

use crate::codec::{SqliteArguments, SqliteRow};
use crate::driver_error::{DriverError, DriverErrorKind};
use rusqlite::{Connection, OpenFlags};
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a writer waits for another's lock before failing.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Idle connections kept for reuse; more are opened when more tasks run statements at once, and closed after.
const MAX_IDLE: usize = 16;

/// Prepared statements kept per connection: an entity uses about a dozen (a handful of batch shapes among them).
const STATEMENT_CACHE: usize = 128;

/// The pool of a SQLite store: rusqlite connections for its statements, and a sqlx pool (connected on first
/// use) for migrations and raw queries through [`Store::sqlite_pool`](crate::Store::sqlite_pool).
#[derive(Clone)]
pub(crate) struct SqlitePool {
    shared: Arc<Shared>,
}

struct Shared {
    path: PathBuf,
    flags: OpenFlags,
    synchronous: &'static str,
    idle: Mutex<Vec<Connection>>,
    /// The file's write turn (see the [module docs](self)): one permit, handed out in arrival order.
    writers: Arc<tokio::sync::Semaphore>,
    /// Statements that found the database locked and waited on a blocking thread.
    busy_waits: std::sync::atomic::AtomicU64,
    /// An in-memory database lives as long as a connection to it: this one is never used, only kept.
    _keep_alive: Option<Mutex<Connection>>,
    sqlx: sqlx::SqlitePool,
}

/// Where and how to open connections: the parts of a `sqlite:` URL sqlx parsed.
pub(crate) struct Target {
    /// The file, or the name of a shared in-memory database (`file:…`, opened as a URI).
    pub(crate) path: PathBuf,
    pub(crate) in_memory: bool,
    pub(crate) read_only: bool,
    /// The connections' `PRAGMA synchronous`.
    pub(crate) synchronous: &'static str,
}

impl SqlitePool {
    /// Opens the first connection (switching the file to WAL, which persists in it) and keeps it for reuse.
    pub(crate) async fn open(target: Target, sqlx: sqlx::SqlitePool) -> Result<Self, SqliteError> {
        let mut flags = OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        flags |= match target.read_only {
            true => OpenFlags::SQLITE_OPEN_READ_ONLY,
            false => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        };
        if target.in_memory {
            flags |= OpenFlags::SQLITE_OPEN_MEMORY | OpenFlags::SQLITE_OPEN_SHARED_CACHE;
        }
        let (path, synchronous) = (target.path, target.synchronous);
        let opened = path.clone();
        let first = tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            loop {
                match open_first(&opened, flags, synchronous) {
                    // SQLite answers BUSY without calling the busy handler while another connection is closing
                    // the file's last connection (it checkpoints and removes the WAL): wait for that too.
                    Err(e) if is_busy(&e) && started.elapsed() < BUSY_TIMEOUT => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    opened => return opened,
                }
            }
        })
        .await
        .map_err(|_| SqliteError::Interrupted)??;
        let (idle, keep_alive) = match target.in_memory {
            true => (Vec::new(), Some(Mutex::new(first))),
            false => (vec![first], None),
        };
        let writers = write_turn(&path);
        Ok(SqlitePool {
            shared: Arc::new(Shared {
                path,
                flags,
                synchronous,
                idle: Mutex::new(idle),
                writers,
                busy_waits: Default::default(),
                _keep_alive: keep_alive,
                sqlx,
            }),
        })
    }

    /// How many statements found the database locked and waited for it on a blocking thread.
    #[cfg(test)]
    pub(crate) fn busy_waits(&self) -> u64 {
        self.shared
            .busy_waits
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The sqlx pool on the same database (migrations, raw queries).
    pub(crate) fn sqlx(&self) -> &sqlx::SqlitePool {
        &self.shared.sqlx
    }

    /// Makes every transaction committed so far durable, whatever the store's `synchronous` setting: syncs the
    /// WAL file to disk (Linux's `fsync` covers every write to the file, through any descriptor; frames a
    /// checkpoint already copied are in the database file, which the checkpoint synced). Nothing to do at
    /// `FULL` (each commit synced it), for an in-memory database, or when there is no WAL file yet.
    pub(crate) fn sync_committed(&self) -> Result<(), SqliteError> {
        if self.shared.synchronous == "FULL" {
            return Ok(());
        }
        let Some(wal) = self.wal_path() else {
            return Ok(());
        };
        match std::fs::File::open(&wal) {
            Ok(file) => file.sync_data().map_err(|_| SqliteError::Sync),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(_) => Err(SqliteError::Sync),
        }
    }

    /// The WAL file of a database on disk (`<file>-wal`); `None` for an in-memory database.
    pub(crate) fn wal_path(&self) -> Option<PathBuf> {
        if self.shared._keep_alive.is_some() {
            return None;
        }
        let mut wal = self.shared.path.clone().into_os_string();
        wal.push("-wal");
        Some(wal.into())
    }

    /// An idle connection, or a new one.
    pub(crate) fn acquire(&self) -> Result<PooledConnection, SqliteError> {
        let idle = self
            .shared
            .idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop();
        let conn = match idle {
            Some(conn) => conn,
            None => connect(
                &self.shared.path,
                self.shared.flags,
                self.shared.synchronous,
            )?,
        };
        Ok(PooledConnection {
            conn: Some(conn),
            pool: self.shared.clone(),
            raised: false,
        })
    }
}

/// The write turn of the database at `path`, shared by every pool of this process on it (one permit). Keyed by
/// the canonical path, so two spellings of one file share it; a name that does not resolve (an in-memory
/// database's) is its own key. Entries go when their last pool does.
fn write_turn(path: &std::path::Path) -> Arc<tokio::sync::Semaphore> {
    type Turns = std::collections::HashMap<PathBuf, std::sync::Weak<tokio::sync::Semaphore>>;
    static TURNS: std::sync::LazyLock<Mutex<Turns>> = std::sync::LazyLock::new(Default::default);
    let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut turns = TURNS.lock().unwrap_or_else(|e| e.into_inner());
    turns.retain(|_, turn| turn.strong_count() > 0);
    if let Some(turn) = turns.get(&key).and_then(std::sync::Weak::upgrade) {
        return turn;
    }
    let turn = Arc::new(tokio::sync::Semaphore::new(1));
    turns.insert(key, Arc::downgrade(&turn));
    turn
}

/// The store's first connection, which switches the file to WAL (a lock it waits for like any writer).
fn open_first(
    path: &std::path::Path,
    flags: OpenFlags,
    synchronous: &str,
) -> rusqlite::Result<Connection> {
    let conn = connect(path, flags, synchronous)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.busy_timeout(Duration::ZERO)?;
    Ok(conn)
}

/// A new connection with the store's per-connection settings (WAL is the file's, set once in `open`).
fn connect(
    path: &std::path::Path,
    flags: OpenFlags,
    synchronous: &str,
) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::ZERO)?;
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// A connection taken from the pool, returned to it when dropped.
pub(crate) struct PooledConnection {
    /// `None` once the connection was lost to a blocking statement whose future was dropped.
    conn: Option<Connection>,
    pool: Arc<Shared>,
    /// `synchronous` was raised to `FULL` for one transaction ([`SqliteTransaction::begin_durable`]): the
    /// store's setting is put back before the connection is reused.
    raised: bool,
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        // A transaction left open (dropped uncommitted, or a failed commit) is rolled back before reuse; if even
        // that fails, the connection is closed, which rolls back too.
        if !conn.is_autocommit() && conn.execute_batch("ROLLBACK").is_err() {
            return;
        }
        if self.raised
            && conn
                .pragma_update(None, "synchronous", self.pool.synchronous)
                .is_err()
        {
            return;
        }
        let mut idle = self.pool.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }
}

impl PooledConnection {
    /// Runs `sql` with `args` and returns its rows: in place, or on a blocking thread when the database is
    /// locked (see the [module docs](self)).
    pub(crate) async fn fetch_all(
        &mut self,
        sql: &str,
        args: SqliteArguments,
    ) -> Result<Vec<SqliteRow>, SqliteError> {
        let conn = self.conn.as_ref().ok_or(SqliteError::Interrupted)?;
        if let Some(done) = run_unless_write(conn, sql, &args) {
            return self.settle(done, sql, args).await;
        }
        let pool = self.pool.clone();
        // Never closed, so never an error.
        let _turn = pool
            .writers
            .acquire()
            .await
            .map_err(|_| SqliteError::Interrupted)?;
        let conn = self.conn.as_ref().ok_or(SqliteError::Interrupted)?;
        let done = run(conn, sql, &args);
        self.settle(done, sql, args).await
    }

    /// The rows of a statement run in place, or, when it found the database locked, of the same statement run
    /// again on a blocking thread.
    async fn settle(
        &mut self,
        done: rusqlite::Result<Vec<SqliteRow>>,
        sql: &str,
        args: SqliteArguments,
    ) -> Result<Vec<SqliteRow>, SqliteError> {
        match done {
            Err(e) if is_busy(&e) => self.fetch_all_waiting(sql, args).await,
            done => done.map_err(SqliteError::Sqlite),
        }
    }

    /// At most one row of `sql`.
    pub(crate) async fn fetch_optional(
        &mut self,
        sql: &str,
        args: SqliteArguments,
    ) -> Result<Option<SqliteRow>, SqliteError> {
        Ok(self.fetch_all(sql, args).await?.into_iter().next())
    }

    /// The one row of `sql` (an error when there is none).
    pub(crate) async fn fetch_one(
        &mut self,
        sql: &str,
        args: SqliteArguments,
    ) -> Result<SqliteRow, SqliteError> {
        self.fetch_optional(sql, args)
            .await?
            .ok_or(SqliteError::Sqlite(rusqlite::Error::QueryReturnedNoRows))
    }

    /// Runs `sql` on a blocking thread, waiting up to the busy timeout for the lock.
    async fn fetch_all_waiting(
        &mut self,
        sql: &str,
        args: SqliteArguments,
    ) -> Result<Vec<SqliteRow>, SqliteError> {
        let conn = self.conn.take().ok_or(SqliteError::Interrupted)?;
        self.pool
            .busy_waits
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let sql = sql.to_owned();
        let (conn, rows) = tokio::task::spawn_blocking(move || {
            let rows = conn
                .busy_timeout(BUSY_TIMEOUT)
                .and_then(|()| run(&conn, &sql, &args));
            match conn.busy_timeout(Duration::ZERO) {
                Ok(()) => (Some(conn), rows),
                // A connection that would block its callers' thread is not reused.
                Err(_) => (None, rows),
            }
        })
        .await
        .map_err(|_| SqliteError::Interrupted)?;
        self.conn = conn;
        rows.map_err(SqliteError::Sqlite)
    }
}

/// Whether `sql`, prepared as `statement`, writes and commits by itself on `conn`: a statement that is not
/// read-only (SQLite's own judgement) outside a transaction. `BEGIN` (which SQLite calls a write when it is
/// `IMMEDIATE`, but which commits nothing: the transaction it opens does not take the write turn), `COMMIT` and
/// reads are not.
fn commits_a_write(conn: &Connection, sql: &str, statement: &rusqlite::Statement<'_>) -> bool {
    conn.is_autocommit()
        && !sql
            .get(..5)
            .is_some_and(|start| start.eq_ignore_ascii_case("BEGIN"))
        && !statement.readonly()
}

/// Runs a statement and copies out its rows, unless it [commits a write](commits_a_write): `None` then, with
/// nothing run, for the caller to take the write turn first. One statement-cache lookup for a read.
fn run_unless_write(
    conn: &Connection,
    sql: &str,
    args: &SqliteArguments,
) -> Option<rusqlite::Result<Vec<SqliteRow>>> {
    let mut statement = match conn.prepare_cached(sql) {
        Ok(statement) => statement,
        Err(e) => return Some(Err(e)),
    };
    match commits_a_write(conn, sql, &statement) {
        true => None,
        false => Some(rows(&mut statement, args)),
    }
}

/// Runs a statement and copies out its rows.
fn run(conn: &Connection, sql: &str, args: &SqliteArguments) -> rusqlite::Result<Vec<SqliteRow>> {
    rows(&mut *conn.prepare_cached(sql)?, args)
}

/// Runs a prepared statement with `args` and copies out its rows.
fn rows(
    statement: &mut rusqlite::Statement<'_>,
    args: &SqliteArguments,
) -> rusqlite::Result<Vec<SqliteRow>> {
    let width = statement.column_count();
    let mut rows = statement.query(rusqlite::params_from_iter(args.values()))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(SqliteRow::read(row, width)?);
    }
    Ok(out)
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy)
    )
}

/// A transaction holding its connection: `BEGIN IMMEDIATE` when it starts, rolled back when dropped uncommitted.
pub(crate) struct SqliteTransaction {
    conn: PooledConnection,
}

impl SqliteTransaction {
    /// Starts a transaction on a connection of `pool`, taking the write lock.
    pub(crate) async fn begin(pool: &SqlitePool) -> Result<Self, SqliteError> {
        let mut conn = pool.acquire()?;
        conn.fetch_all("BEGIN IMMEDIATE", SqliteArguments::default())
            .await?;
        Ok(SqliteTransaction { conn })
    }

    /// Starts a transaction whose commit waits for the disk whatever the store's `synchronous` setting: when
    /// [`commit`](Self::commit) returns, the WAL is synced through its commit, so neither this transaction
    /// nor any committed before it can be rolled back by a power loss. The relay claims outbox rows this
    /// way before publishing them (one sync per batch).
    pub(crate) async fn begin_durable(pool: &SqlitePool) -> Result<Self, SqliteError> {
        let mut conn = pool.acquire()?;
        if pool.shared.synchronous != "FULL" {
            conn.raised = true;
            conn.fetch_all("PRAGMA synchronous = FULL", SqliteArguments::default())
                .await?;
        }
        conn.fetch_all("BEGIN IMMEDIATE", SqliteArguments::default())
            .await?;
        Ok(SqliteTransaction { conn })
    }

    /// Commits; on failure the transaction is rolled back as the connection returns to the pool.
    pub(crate) async fn commit(mut self) -> Result<(), SqliteError> {
        self.conn
            .fetch_all("COMMIT", SqliteArguments::default())
            .await
            .map(drop)
    }
}

impl Deref for SqliteTransaction {
    type Target = PooledConnection;
    fn deref(&self) -> &PooledConnection {
        &self.conn
    }
}

impl DerefMut for SqliteTransaction {
    fn deref_mut(&mut self) -> &mut PooledConnection {
        &mut self.conn
    }
}

/// A failed SQLite statement.
#[derive(Debug)]
pub(crate) enum SqliteError {
    /// SQLite's or rusqlite's error.
    Sqlite(rusqlite::Error),
    /// The connection was lost: a statement moved to a blocking thread did not come back (its future was
    /// dropped, or the thread panicked), so its transaction was rolled back.
    Interrupted,
    /// Syncing the WAL file to disk failed (see [`SqlitePool::sync_committed`]).
    Sync,
}

impl From<rusqlite::Error> for SqliteError {
    fn from(e: rusqlite::Error) -> Self {
        SqliteError::Sqlite(e)
    }
}

impl SqliteError {
    /// SQLite's message of a unique violation (it names the columns, never the value).
    pub(crate) fn unique_violation(&self) -> Option<&str> {
        match self {
            SqliteError::Sqlite(rusqlite::Error::SqliteFailure(e, message))
                if matches!(
                    e.extended_code,
                    rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                        | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                ) =>
            {
                Some(message.as_deref().unwrap_or(""))
            }
            _ => None,
        }
    }
}

/// Only the structured parts: the extended result code and, for a constraint, the columns SQLite lists.
impl From<SqliteError> for DriverError {
    fn from(e: SqliteError) -> DriverError {
        use rusqlite::ffi;
        match e {
            SqliteError::Sqlite(rusqlite::Error::SqliteFailure(failure, message)) => {
                let kind = match failure.extended_code {
                    ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                        DriverErrorKind::UniqueViolation
                    }
                    ffi::SQLITE_CONSTRAINT_FOREIGNKEY => DriverErrorKind::ForeignKeyViolation,
                    ffi::SQLITE_CONSTRAINT_NOTNULL => DriverErrorKind::NotNullViolation,
                    ffi::SQLITE_CONSTRAINT_CHECK => DriverErrorKind::CheckViolation,
                    _ => DriverErrorKind::Database,
                };
                DriverError::sqlite(
                    kind,
                    failure.extended_code.to_string(),
                    message.as_deref().unwrap_or(""),
                )
            }
            SqliteError::Sqlite(
                rusqlite::Error::ToSqlConversionFailure(_)
                | rusqlite::Error::InvalidParameterCount(..),
            ) => DriverError::new(DriverErrorKind::Encode),
            SqliteError::Sqlite(
                rusqlite::Error::FromSqlConversionFailure(..)
                | rusqlite::Error::InvalidColumnType(..)
                | rusqlite::Error::IntegralValueOutOfRange(..)
                | rusqlite::Error::Utf8Error(_),
            ) => DriverError::new(DriverErrorKind::Decode),
            SqliteError::Sqlite(rusqlite::Error::QueryReturnedNoRows) => {
                DriverError::new(DriverErrorKind::Other).with_detail("no row")
            }
            SqliteError::Sqlite(_) => DriverError::new(DriverErrorKind::Other),
            SqliteError::Interrupted => DriverError::new(DriverErrorKind::Connection)
                .with_detail("the statement was interrupted and its connection closed"),
            // Not the I/O error's text: it could name the file's path.
            SqliteError::Sync => DriverError::new(DriverErrorKind::Other)
                .with_detail("syncing the WAL file to disk failed"),
        }
    }
}
