//! The SQLite store (feature `sqlite`, the embedded default): WAL mode and a busy timeout, so concurrent
//! writers wait for each other instead of failing.

use super::ops::sql_store;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

sql_store!(
    SqliteStore,
    sqlx::Sqlite,
    SqlitePool,
    sqlx::SqliteConnection,
    SqliteArguments<'static>,
    SqliteRow,
    bind_sqlite,
    read_sqlite,
    super::Dialect::Sqlite
);

/// How long a writer waits for another's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

impl SqliteStore {
    /// Opens (creating if missing) the database a `sqlite:` URL names.
    pub(crate) async fn open(url: &str, encryption: Encryption) -> Result<Self, Error> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::Config(format!("sqlite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .connect_with(options)
            .await
            .map_err(|e| {
                Error::backend(
                    "store",
                    Tier::Store,
                    crate::driver_error::DriverError::from(e),
                )
            })?;
        Ok(SqliteStore::new(pool, encryption))
    }
}
