//! The Postgres store (feature `postgres`).

use super::ops::sql_store;
use sqlx::postgres::{PgArguments, PgPool, PgPoolOptions, PgRow};

sql_store!(
    PgStore,
    sqlx::Postgres,
    PgPool,
    sqlx::PgConnection,
    PgArguments,
    PgRow,
    bind_pg,
    read_pg,
    super::Dialect::Postgres
);

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
