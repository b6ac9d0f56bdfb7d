//! The Postgres store (feature `postgres`), on sqlx.

use super::ops::sql_store;
use sqlx::postgres::{PgArguments, PgPool, PgPoolOptions, PgRow};
// The argument and row traits the shared operations call `add` and `try_get` through.
use sqlx::{Arguments, Row};

sql_store!(
    PgStore,
    PgPool,
    sqlx::PgConnection,
    PgArguments,
    PgRow,
    bind_pg,
    read_pg,
    driver,
    super::Dialect::Postgres
);

super::outbox_ops::outbox_ops!(
    PgStore,
    sqlx::PgConnection,
    PgRow,
    read_pg,
    driver,
    super::Dialect::Postgres
);

super::subject_ops::subject_ops!(
    PgStore,
    sqlx::PgConnection,
    PgRow,
    read_pg,
    driver,
    super::Dialect::Postgres
);

impl PgStore {
    /// A receiver that changes when `E`'s outbox is written (see [`crate::outbox::wake`]).
    pub(crate) fn outbox_wakeups<E: crate::record::Record>(
        &self,
    ) -> Option<tokio::sync::watch::Receiver<u64>> {
        let table = crate::schema::columns::outbox_table(E::SCHEMA.table);
        let pool = self.pool.clone();
        self.wakeups
            .subscribe(&table, |tables| crate::outbox::wake::listen(pool, tables))
    }
}

/// The statement runner `sql_store!` expands over: sqlx's pool and connections.
mod driver {
    use sqlx::postgres::{PgArguments, PgConnection, PgPool, PgRow, Postgres};

    pub(super) type Error = sqlx::Error;
    pub(super) type Transaction = sqlx::Transaction<'static, Postgres>;

    pub(super) async fn acquire(
        pool: &PgPool,
    ) -> Result<sqlx::pool::PoolConnection<Postgres>, Error> {
        pool.acquire().await
    }

    pub(super) async fn begin(pool: &PgPool) -> Result<Transaction, Error> {
        pool.begin().await
    }

    /// Makes every transaction committed so far durable: every Postgres commit already is (`synchronous_commit`
    /// on, the server's default).
    pub(super) fn sync_committed(_pool: &PgPool) -> Result<(), Error> {
        Ok(())
    }

    /// A transaction whose commit is on disk when it returns: every Postgres commit is (`synchronous_commit`
    /// on, the server's default).
    pub(super) async fn begin_durable(pool: &PgPool) -> Result<Transaction, Error> {
        pool.begin().await
    }

    pub(super) async fn commit(tx: Transaction) -> Result<(), Error> {
        tx.commit().await
    }

    pub(super) async fn fetch_optional(
        conn: &mut PgConnection,
        sql: &str,
        args: PgArguments,
    ) -> Result<Option<PgRow>, Error> {
        sqlx::query_with(sql, args).fetch_optional(conn).await
    }

    pub(super) async fn fetch_all(
        conn: &mut PgConnection,
        sql: &str,
        args: PgArguments,
    ) -> Result<Vec<PgRow>, Error> {
        sqlx::query_with(sql, args).fetch_all(conn).await
    }

    pub(super) async fn fetch_one(
        conn: &mut PgConnection,
        sql: &str,
        args: PgArguments,
    ) -> Result<PgRow, Error> {
        sqlx::query_with(sql, args).fetch_one(conn).await
    }

    /// The message and constraint name of a unique violation.
    pub(super) fn unique_violation(e: &Error) -> Option<(&str, Option<&str>)> {
        e.as_database_error()
            .filter(|db| db.is_unique_violation())
            .map(|db| (db.message(), db.constraint()))
    }
}

impl PgStore {
    /// Connects to the database a `postgres://` URL names.
    pub(crate) async fn open(url: &str, encryption: Encryption) -> Result<Self, Error> {
        let pool = PgPoolOptions::new().connect(url).await.map_err(|e| {
            Error::backend(
                "store",
                Tier::Store,
                crate::driver_error::DriverError::from(e),
            )
        })?;
        Ok(PgStore::new(pool, encryption))
    }
}
