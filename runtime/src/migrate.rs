//! Applying the migrations `capgen migrate diff` writes, with sqlx's own `Migrator`
//! (what `sqlx migrate run` uses): versions are applied in order, each once, and applied files are checksummed.
//!
//! **Embedded** (the usual way): embed each dialect's folder with [`crate::migrations!`] (sqlx's `migrate!`
//! through this crate) and hand the set to
//! [`Store::open_migrated`](crate::Store::open_migrated) or a generated `<Entity>Repo::open`, which apply the
//! folder of the dialect the URL names:
//!
//! ```no_run
//! # #[cfg(feature = "sqlite")]
//! # async fn run() -> Result<(), capacitor::Error> {
//! use capacitor::migrate::{Migrations, Migrator};
//!
//! static SQLITE: Migrator = capacitor::migrations!("../examples/quickstart/migrations/sqlite");
//! const MIGRATIONS: Migrations = Migrations::new().sqlite(&SQLITE);
//!
//! let store = capacitor::Store::open_migrated("sqlite:app.db", &MIGRATIONS).await?;
//! # Ok(()) }
//! ```
//!
//! **From files at run time**: `migrate` / `migrate_from` (features `sqlite`, `postgres`) read `migrations/<dialect>` when the process
//! runs (add `cargo:rerun-if-changed=migrations` to `build.rs` when embedding, so a new migration rebuilds).

/// capgen's migrations for each dialect an application may open, embedded with `sqlx::migrate!`.
///
/// Built in a `const`: [`Migrations::new`], then one `sqlite` / `postgres` call per dialect folder (each exists with its store's cargo feature).
/// Opening a URL of a dialect with no migrations given is [`Error::Config`](crate::Error::Config); the
/// `memory:` store has no schema and needs none.
#[derive(Debug, Clone, Copy, Default)]
pub struct Migrations {
    #[cfg(feature = "sqlite")]
    sqlite: Option<&'static sqlx::migrate::Migrator>,
    #[cfg(feature = "postgres")]
    postgres: Option<&'static sqlx::migrate::Migrator>,
}

impl Migrations {
    /// No migrations yet.
    pub const fn new() -> Self {
        Migrations {
            #[cfg(feature = "sqlite")]
            sqlite: None,
            #[cfg(feature = "postgres")]
            postgres: None,
        }
    }

    /// The SQLite folder (`sqlx::migrate!("migrations/sqlite")`).
    #[cfg(feature = "sqlite")]
    pub const fn sqlite(mut self, migrator: &'static sqlx::migrate::Migrator) -> Self {
        self.sqlite = Some(migrator);
        self
    }

    /// The Postgres folder (`sqlx::migrate!("migrations/postgres")`).
    #[cfg(feature = "postgres")]
    pub const fn postgres(mut self, migrator: &'static sqlx::migrate::Migrator) -> Self {
        self.postgres = Some(migrator);
        self
    }

    /// The SQLite migrations, if given.
    #[cfg(feature = "sqlite")]
    pub fn sqlite_migrator(&self) -> Option<&'static sqlx::migrate::Migrator> {
        self.sqlite
    }

    /// The Postgres migrations, if given.
    #[cfg(feature = "postgres")]
    pub fn postgres_migrator(&self) -> Option<&'static sqlx::migrate::Migrator> {
        self.postgres
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use files::{MigrationTarget, migrate, migrate_from};
/// A folder of migrations embedded by [`crate::migrations!`]: sqlx's own type, named here so applications need
/// no sqlx dependency.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sqlx::migrate::Migrator;

#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod files {
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
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), sqlx::migrate::MigrateError> {
    /// # #[cfg(feature = "sqlite")] {
    /// let pool = sqlx::SqlitePool::connect("sqlite://app.db?mode=rwc").await?;
    /// capacitor::migrate(&pool).await?; // applies ./migrations/sqlite
    /// # }
    /// # Ok(()) }
    /// ```
    pub async fn migrate<P: MigrationTarget>(pool: &P) -> Result<(), MigrateError> {
        migrate_from(pool, Path::new("migrations")).await
    }

    /// Applies the pending migrations of `<dir>/<dialect>`.
    pub async fn migrate_from<P: MigrationTarget>(
        pool: &P,
        dir: &Path,
    ) -> Result<(), MigrateError> {
        let migrator = Migrator::new(dir.join(P::FOLDER)).await?;
        pool.run_migrator(&migrator).await
    }
}
