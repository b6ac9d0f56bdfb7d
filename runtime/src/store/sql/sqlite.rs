//! The SQLite store (feature `sqlite`, the embedded default): rusqlite connections run statements on the
//! caller's thread ([`connection`]); WAL mode, so readers never wait for a writer, and a busy timeout, so
//! concurrent writers wait for each other instead of failing. Migrations and
//! [`Store::sqlite_pool`](crate::Store::sqlite_pool) use a sqlx pool on the same file, connected on first use.

mod connection;

use crate::codec::{SqliteArguments, SqliteRow};
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

    /// Opens (creating if missing) the database a `sqlite:` URL names.
    pub(crate) async fn open(url: &str, encryption: Encryption) -> Result<Self, Error> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::Config(format!("sqlite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let target = target(url, options.get_filename());
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
fn target(url: &str, filename: &std::path::Path) -> Target {
    let params = url.split_once('?').map_or("", |(_, params)| params);
    let mode = |value: &str| params.split('&').any(|p| p == format!("mode={value}"));
    let database = url.split_once('?').map_or(url, |(database, _)| database);
    Target {
        path: filename.to_path_buf(),
        in_memory: database.ends_with(":memory:") || mode("memory"),
        read_only: mode("ro"),
    }
}
