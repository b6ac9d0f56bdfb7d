//! The SQLite store (feature `sqlite`, the embedded default): rusqlite connections run statements on the
//! caller's thread ([`connection`]); WAL mode, so readers never wait for a writer, and a busy timeout, so
//! concurrent writers wait for each other instead of failing. Migrations and
//! [`Store::sqlite_pool`](crate::Store::sqlite_pool) use a sqlx pool on the same file, connected on first use.

mod connection;

use crate::codec::{SqliteArguments, SqliteRow};
use capacitor_schema::sqlite_url::Durability;
use connection::{BUSY_TIMEOUT, SqlitePool, Target};
pub(crate) use connection::{SqliteError, SqliteTransaction};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;

sql_store!(
    SqliteStore,
    SqlitePool,
    connection::PooledConnection,
    SqliteArguments,
    SqliteRow,
    bind_sqlite,
    read_sqlite,
    driver,
    super::Dialect::Sqlite
);

super::outbox_ops::outbox_ops!(
    SqliteStore,
    connection::PooledConnection,
    SqliteRow,
    read_sqlite,
    driver,
    super::Dialect::Sqlite
);

super::subject_ops::subject_ops!(
    SqliteStore,
    connection::PooledConnection,
    SqliteRow,
    read_sqlite,
    driver,
    super::Dialect::Sqlite
);

use super::ops::sql_store;

/// The statement runner `sql_store!` expands over: rusqlite on the caller's thread (see [`connection`]).
mod driver {
    use super::connection::{PooledConnection, SqlitePool};
    use crate::codec::{SqliteArguments, SqliteRow};

    pub(super) type Error = super::connection::SqliteError;
    pub(super) type Transaction = super::connection::SqliteTransaction;

    pub(super) async fn acquire(pool: &SqlitePool) -> Result<PooledConnection, Error> {
        pool.acquire()
    }

    pub(super) async fn begin(pool: &SqlitePool) -> Result<Transaction, Error> {
        Transaction::begin(pool).await
    }

    /// Makes every transaction committed so far durable, whatever the store's `synchronous` setting.
    pub(super) fn sync_committed(pool: &SqlitePool) -> Result<(), Error> {
        pool.sync_committed()
    }

    /// A transaction whose commit is on disk when it returns, whatever the store's `synchronous` setting.
    pub(super) async fn begin_durable(pool: &SqlitePool) -> Result<Transaction, Error> {
        Transaction::begin_durable(pool).await
    }

    pub(super) async fn commit(tx: Transaction) -> Result<(), Error> {
        tx.commit().await
    }

    pub(super) async fn fetch_optional(
        conn: &mut PooledConnection,
        sql: &str,
        args: SqliteArguments,
    ) -> Result<Option<SqliteRow>, Error> {
        conn.fetch_optional(sql, args).await
    }

    pub(super) async fn fetch_all(
        conn: &mut PooledConnection,
        sql: &str,
        args: SqliteArguments,
    ) -> Result<Vec<SqliteRow>, Error> {
        conn.fetch_all(sql, args).await
    }

    pub(super) async fn fetch_one(
        conn: &mut PooledConnection,
        sql: &str,
        args: SqliteArguments,
    ) -> Result<SqliteRow, Error> {
        conn.fetch_one(sql, args).await
    }

    /// SQLite's message of a unique violation; SQLite names no constraint.
    pub(super) fn unique_violation(e: &Error) -> Option<(&str, Option<&str>)> {
        e.unique_violation().map(|message| (message, None))
    }
}

impl SqliteStore {
    /// The health probe: `SELECT 1` on a connection of the store's own pool.
    pub(crate) async fn ping(&self) -> Result<(), SqliteError> {
        let mut conn = self.pool.acquire()?;
        conn.fetch_one("SELECT 1", SqliteArguments::default())
            .await
            .map(drop)
    }

    /// Opens (creating if missing) the database a `sqlite:` URL names; its `synchronous` parameter, if any,
    /// sets the durability of commits ([`Durability`]), `full` otherwise: an acknowledged write survives a
    /// power loss unless the URL asks for less.
    pub(crate) async fn open(url: &str, encryption: Encryption) -> Result<Self, Error> {
        let (url, durability) =
            Durability::from_url(url).map_err(|e| Error::Config(format!("sqlite URL: {e}")))?;
        let durability = durability.unwrap_or(Durability::Full);
        let options = SqliteConnectOptions::from_str(&url)
            .map_err(|e| Error::Config(format!("sqlite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous(durability))
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let target = target(&url, options.get_filename(), durability);
        // Connected on first use: a store that only runs its own statements never starts sqlx's worker threads.
        let sqlx = SqlitePoolOptions::new().connect_lazy_with(options);
        let pool = SqlitePool::open(target, sqlx).await.map_err(|e| {
            Error::backend(
                "store",
                Tier::Store,
                crate::driver_error::DriverError::from(e),
            )
        })?;
        Ok(SqliteStore::new(pool, encryption))
    }
}

/// What the store's own connections open: the file sqlx resolved from the URL (percent-decoded; a `:memory:`
/// database named so that sqlx's connections share it), and the URL's `mode` (sqlx keeps both flags private).
fn target(url: &str, filename: &std::path::Path, durability: Durability) -> Target {
    let params = url.split_once('?').map_or("", |(_, params)| params);
    let mode = |value: &str| params.split('&').any(|p| p == format!("mode={value}"));
    let database = url.split_once('?').map_or(url, |(database, _)| database);
    Target {
        path: filename.to_path_buf(),
        in_memory: database.ends_with(":memory:") || mode("memory"),
        read_only: mode("ro"),
        synchronous: durability.pragma(),
    }
}

/// sqlx's setting for `durability` (the event store's pool uses it too).
pub(crate) fn synchronous(durability: Durability) -> SqliteSynchronous {
    match durability {
        Durability::Normal => SqliteSynchronous::Normal,
        Durability::Full => SqliteSynchronous::Full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `PRAGMA synchronous` on one of the store's own connections and on its sqlx pool (1 = NORMAL, 2 = FULL).
    async fn synchronous_of(store: &SqliteStore) -> (i64, i64) {
        let own = pragma_of(&mut store.pool.acquire().unwrap()).await;
        let sqlx: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(store.pool.sqlx())
            .await
            .unwrap();
        (own, sqlx)
    }

    /// `PRAGMA synchronous` on `conn`.
    async fn pragma_of(conn: &mut connection::PooledConnection) -> i64 {
        conn.fetch_one("PRAGMA synchronous", SqliteArguments::default())
            .await
            .unwrap()
            .try_get::<i64, _>(0usize)
            .unwrap()
    }

    #[tokio::test]
    async fn a_durable_transaction_commits_with_full_and_gives_the_connection_back_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        // A store that asked for `normal`: the durable transaction raises it for itself alone.
        let url = format!(
            "sqlite:{}?synchronous=normal",
            dir.path().join("claim.db").display()
        );
        let store = SqliteStore::open(&url, Encryption::default())
            .await
            .unwrap();
        for commit in [true, false] {
            let mut tx = SqliteTransaction::begin_durable(&store.pool).await.unwrap();
            assert_eq!(
                pragma_of(&mut tx).await,
                2,
                "FULL while the transaction runs"
            );
            match commit {
                true => tx.commit().await.unwrap(),
                false => drop(tx),
            }
            // The pool hands back the connection it was given last: the same one, back at NORMAL.
            let mut conn = store.pool.acquire().unwrap();
            assert_eq!(
                pragma_of(&mut conn).await,
                1,
                "NORMAL again (commit: {commit})"
            );
        }
    }

    #[tokio::test]
    async fn sync_committed_syncs_the_file_sqlite_writes_its_wal_to() {
        let dir = tempfile::tempdir().unwrap();
        // At `normal` (at `full` every commit is synced already and this is a no-op).
        let url = format!(
            "sqlite:{}?synchronous=normal",
            dir.path().join("feed.db").display()
        );
        let store = SqliteStore::open(&url, Encryption::default())
            .await
            .unwrap();
        let mut conn = store.pool.acquire().unwrap();
        conn.fetch_all("CREATE TABLE t (x INTEGER)", SqliteArguments::default())
            .await
            .unwrap();
        conn.fetch_all("INSERT INTO t VALUES (1)", SqliteArguments::default())
            .await
            .unwrap();
        let wal = store.pool.wal_path().expect("a file database has a WAL");
        assert!(wal.exists(), "{} is where SQLite writes", wal.display());
        store.pool.sync_committed().unwrap();
        let memory = SqliteStore::open("sqlite::memory:", Encryption::default())
            .await
            .unwrap();
        assert_eq!(memory.pool.wal_path(), None);
        memory.pool.sync_committed().unwrap();
    }

    /// Concurrent writes outside transactions take turns at the file's write gate instead of meeting each
    /// other's lock (which sent them to SQLite's sleeping busy handler), also across two stores of this process
    /// on one file (a generated `open` per entity opens one each); at the default durability each commit holds
    /// the lock for its `fsync`, so without the turn two worker threads collide all the time.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_of_one_file_take_turns_instead_of_meeting_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("turns.db").display());
        let first = SqliteStore::open(&url, Encryption::default())
            .await
            .unwrap();
        // The same file by another spelling of its path.
        let other = format!("sqlite:{}", dir.path().join(".").join("turns.db").display());
        let second = SqliteStore::open(&other, Encryption::default())
            .await
            .unwrap();
        let mut conn = first.pool.acquire().unwrap();
        conn.fetch_all(
            "CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER)",
            SqliteArguments::default(),
        )
        .await
        .unwrap();
        drop(conn);
        let tasks: Vec<_> = (0..8)
            .map(|task| {
                let pool = match task % 2 {
                    0 => first.pool.clone(),
                    _ => second.pool.clone(),
                };
                tokio::spawn(async move {
                    for i in 0..50 {
                        let mut conn = pool.acquire().unwrap();
                        let sql = format!("INSERT INTO t VALUES ({}, {i})", task * 1000 + i);
                        conn.fetch_all(&sql, SqliteArguments::default())
                            .await
                            .unwrap();
                        // A read between writes does not take a turn.
                        conn.fetch_all("SELECT count(*) FROM t", SqliteArguments::default())
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let mut conn = first.pool.acquire().unwrap();
        let rows = conn
            .fetch_one("SELECT count(*) FROM t", SqliteArguments::default())
            .await
            .unwrap();
        assert_eq!(rows.try_get::<i64, _>(0usize).unwrap(), 400);
        assert_eq!(
            first.pool.busy_waits() + second.pool.busy_waits(),
            0,
            "no write met another's lock"
        );
    }

    #[tokio::test]
    async fn the_url_sets_the_durability_of_every_connection() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("durability.db");
        let open = |params: &str| {
            let url = format!("sqlite:{}{params}", file.display());
            async move { SqliteStore::open(&url, Encryption::default()).await }
        };
        // No parameter: every commit waits for the disk.
        let default = open("").await.unwrap();
        assert_eq!(synchronous_of(&default).await, (2, 2));
        let normal = open("?synchronous=normal").await.unwrap();
        assert_eq!(synchronous_of(&normal).await, (1, 1));
        let full = open("?synchronous=full").await.unwrap();
        assert_eq!(synchronous_of(&full).await, (2, 2));
        // Other parameters still reach sqlx.
        let both = open("?mode=rwc&synchronous=FULL").await.unwrap();
        assert_eq!(synchronous_of(&both).await, (2, 2));
        let Err(Error::Config(message)) = open("?synchronous=off").await else {
            panic!("`synchronous=off` must be refused");
        };
        assert!(message.contains("synchronous=off"), "{message}");
    }
}
