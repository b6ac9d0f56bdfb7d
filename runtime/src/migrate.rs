//! Applying the migrations `capgen migrate diff` writes, with sqlx's own [`Migrator`] (what `sqlx migrate run`
//! uses): versions are applied in order, each once, and applied files are checksummed.
//!
//! ```no_run
//! # async fn run() -> Result<(), sqlx::migrate::MigrateError> {
//! let pool = sqlx::SqlitePool::connect("sqlite://app.db?mode=rwc").await?;
//! capacitor::migrate(&pool).await?; // applies ./migrations/sqlite
//! # Ok(()) }
//! ```
//!
//! To embed the migrations in the binary instead, use sqlx's macro in your crate:
//! `sqlx::migrate!("migrations/sqlite").run(&pool).await?` (with `cargo:rerun-if-changed=migrations` in
//! `build.rs`).

use sqlx::migrate::{MigrateError, Migrator};
use std::path::Path;

/// A connection pool whose database has a Capacitor migrations folder (`migrations/<dialect>`).
pub trait MigrationTarget {
    /// The dialect folder's name under the migrations directory (`sqlite`, `postgres`).
    const FOLDER: &'static str;

    /// Runs every pending migration of `migrator` on this pool.
    fn run_migrator(
        &self,
        migrator: &Migrator,
    ) -> impl std::future::Future<Output = Result<(), MigrateError>> + Send;
}

#[cfg(feature = "sqlite")]
impl MigrationTarget for sqlx::SqlitePool {
    const FOLDER: &'static str = "sqlite";
    async fn run_migrator(&self, migrator: &Migrator) -> Result<(), MigrateError> {
        migrator.run(self).await
    }
}

#[cfg(feature = "postgres")]
impl MigrationTarget for sqlx::PgPool {
    const FOLDER: &'static str = "postgres";
    async fn run_migrator(&self, migrator: &Migrator) -> Result<(), MigrateError> {
        migrator.run(self).await
    }
}

/// Applies the pending migrations of `./migrations/<dialect>` (relative to the working directory).
pub async fn migrate<P: MigrationTarget>(pool: &P) -> Result<(), MigrateError> {
    migrate_from(pool, Path::new("migrations")).await
}

/// Applies the pending migrations of `<dir>/<dialect>`.
pub async fn migrate_from<P: MigrationTarget>(pool: &P, dir: &Path) -> Result<(), MigrateError> {
    let migrator = Migrator::new(dir.join(P::FOLDER)).await?;
    pool.run_migrator(&migrator).await
}
