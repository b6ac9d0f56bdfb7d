//! Applying, listing and reverting the written migrations on a database (`capgen migrate run | status |
//! revert`), with sqlx's own `Migrator`, so deploy scripts need no code and the bookkeeping
//! (`_sqlx_migrations`, checksums) is the one `sqlx::migrate!` and `capacitor::migrate` use.
//!
//! The URL's scheme picks the dialect and so the folder: `sqlite:` reads `<dir>/sqlite`, `postgres://`
//! (or `postgresql://`) reads `<dir>/postgres`. Before changing anything, every applied migration is checked
//! against the folder: a partially applied (dirty) one, one whose file was edited after it was applied
//! (checksum mismatch) or one whose file is gone stops the command with what to do.

use crate::ddl::Dialect;
use sqlx::migrate::{AppliedMigration, Migrate, MigrateError, Migrator};
use sqlx::{Connection, PgConnection, SqliteConnection};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Why a migration command failed. Each says what to do.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[non_exhaustive]
pub enum ApplyError {
    /// The URL is neither SQLite's nor Postgres'.
    #[error("`{url}` is not a database URL capgen knows")]
    #[diagnostic(help(
        "use sqlite:path/to/app.db (or sqlite://…) or postgres://user@host:port/database"
    ))]
    Scheme { url: String },

    /// The dialect's folder does not exist or cannot be read.
    #[error("cannot read the migrations in `{path}`: {reason}", path = path.display())]
    #[diagnostic(help(
        "point --dir at the folder `capgen migrate diff` writes (it holds postgres/ and sqlite/)"
    ))]
    Folder { path: PathBuf, reason: String },

    /// The database cannot be reached (no server, wrong credentials, missing SQLite file…).
    #[error("cannot connect to `{url}`: {reason}")]
    #[diagnostic(help(
        "check that the server is running and the URL is right; a SQLite file is created by `migrate run` only"
    ))]
    Connect { url: String, reason: String },

    /// A migration failed midway and left its row marked unsuccessful.
    #[error("migration {} is partially applied (dirty): an earlier run failed midway", describe(.version, .description))]
    #[diagnostic(help(
        "repair the database by hand (finish or undo what the migration did), then delete its row from _sqlx_migrations and run again"
    ))]
    Dirty { version: i64, description: String },

    /// An applied migration's file changed since it was applied.
    #[error("migration {} was applied, then its file was edited (checksum mismatch)", describe(.version, .description))]
    #[diagnostic(help(
        "applied migrations are append-only: restore the file as it was applied, and write the change as a new migration with `capgen migrate diff`"
    ))]
    Edited { version: i64, description: String },

    /// An applied migration has no file in the folder.
    #[error("migration {version} is applied but has no file in `{path}`", path = path.display())]
    #[diagnostic(help(
        "restore the migration's files (or point --dir at the folder the database was migrated from)"
    ))]
    Missing { version: i64, path: PathBuf },

    /// `--target-version` names no applied migration.
    #[error("no applied migration has version {version}: applied are {applied:?}")]
    Target { version: i64, applied: Vec<i64> },

    /// sqlx failed while applying or reverting (the migration's SQL is wrong, the connection dropped…).
    #[error("migration failed: {0}")]
    Migrate(String),
}

fn describe(version: &i64, description: &str) -> String {
    format!("{version} ({description})")
}

/// Where one migration of the folder stands on the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Applied, and its file is as it was applied.
    Applied,
    /// Not applied yet.
    Pending,
    /// Applied, but the file changed since.
    Edited,
    /// Started and failed midway.
    Dirty,
    /// Applied, but its file is no longer in the folder.
    Missing,
}

impl State {
    /// Whether this state stops `run` and `revert`.
    pub fn is_problem(self) -> bool {
        matches!(self, State::Edited | State::Dirty | State::Missing)
    }

    /// How `capgen migrate status` prints it.
    pub fn label(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Edited => "EDITED (checksum mismatch)",
            State::Dirty => "DIRTY (partially applied)",
            State::Missing => "MISSING (applied, no file)",
        }
    }
}

/// One migration and its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    pub version: i64,
    /// The name part of the file name (`add email`: sqlx turns `_` into spaces).
    pub description: String,
    pub state: State,
}

impl MigrationStatus {
    /// The error this state stands for, if it is a problem.
    fn problem(&self, folder: &Path) -> Option<ApplyError> {
        let (version, description) = (self.version, self.description.clone());
        match self.state {
            State::Applied | State::Pending => None,
            State::Edited => Some(ApplyError::Edited {
                version,
                description,
            }),
            State::Dirty => Some(ApplyError::Dirty {
                version,
                description,
            }),
            State::Missing => Some(ApplyError::Missing {
                version,
                path: folder.to_path_buf(),
            }),
        }
    }
}

/// The dialect a URL names.
pub fn dialect_of(url: &str) -> Result<Dialect, ApplyError> {
    if url.starts_with("sqlite:") {
        Ok(Dialect::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Dialect::Postgres)
    } else {
        Err(ApplyError::Scheme { url: redact(url) })
    }
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info
                .split_once(':')
                .map_or(user_info, |(user, _)| user);
            let masked = if user_info.contains(':') {
                format!("{user}:***")
            } else {
                user.to_string()
            };
            format!("{scheme}://{masked}@{host}{}", &rest[authority_end..])
        }
        None => url.to_string(),
    }
}

/// A connection of either dialect, and the folder its migrations come from.
struct Target {
    connection: Database,
    folder: PathBuf,
    migrator: Migrator,
}

/// An open connection of either dialect.
enum Database {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl Target {
    /// Reads `<dir>/<dialect>` and connects; `create` makes a missing SQLite file (for `run`).
    async fn open(url: &str, dir: &Path, create: bool) -> Result<Target, ApplyError> {
        let dialect = dialect_of(url)?;
        let folder = dir.join(dialect.name());
        if !folder.is_dir() {
            return Err(ApplyError::Folder {
                path: folder,
                reason: "no such folder".to_string(),
            });
        }
        let migrator = Migrator::new(folder.clone())
            .await
            .map_err(|e| ApplyError::Folder {
                path: folder.clone(),
                reason: e.to_string(),
            })?;
        let connect_error = |e: sqlx::Error| ApplyError::Connect {
            url: redact(url),
            reason: e.to_string(),
        };
        let connection = match dialect {
            Dialect::Sqlite => {
                // `synchronous` is Capacitor's parameter (the store's durability): migrations take it too, so
                // one URL serves both.
                let (url, durability) = capacitor_schema::sqlite_url::Durability::from_url(url)
                    .map_err(|reason| ApplyError::Connect {
                        url: redact(url),
                        reason,
                    })?;
                let mut options = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
                    .map_err(connect_error)?
                    .create_if_missing(create);
                if let Some(durability) = durability {
                    options = options.pragma("synchronous", durability.pragma());
                }
                Database::Sqlite(
                    SqliteConnection::connect_with(&options)
                        .await
                        .map_err(connect_error)?,
                )
            }
            Dialect::Postgres => {
                Database::Postgres(PgConnection::connect(url).await.map_err(connect_error)?)
            }
        };
        Ok(Target {
            connection,
            folder,
            migrator,
        })
    }

    fn migrate(&mut self) -> &mut dyn Migrate {
        match &mut self.connection {
            Database::Sqlite(c) => c,
            Database::Postgres(c) => c,
        }
    }

    /// Every migration of the folder and every applied one, with its state, by version.
    async fn status(&mut self) -> Result<Vec<MigrationStatus>, ApplyError> {
        let connection = self.migrate();
        connection.ensure_migrations_table().await.map_err(failed)?;
        let dirty = connection.dirty_version().await.map_err(failed)?;
        let applied: BTreeMap<i64, AppliedMigration> = connection
            .list_applied_migrations()
            .await
            .map_err(failed)?
            .into_iter()
            .map(|m| (m.version, m))
            .collect();
        let mut states: BTreeMap<i64, MigrationStatus> = BTreeMap::new();
        for migration in self
            .migrator
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
        {
            let state = match applied.get(&migration.version) {
                _ if dirty == Some(migration.version) => State::Dirty,
                Some(done) if done.checksum != migration.checksum => State::Edited,
                Some(_) => State::Applied,
                None => State::Pending,
            };
            states.insert(
                migration.version,
                MigrationStatus {
                    version: migration.version,
                    description: migration.description.to_string(),
                    state,
                },
            );
        }
        for version in applied.keys() {
            states.entry(*version).or_insert(MigrationStatus {
                version: *version,
                description: String::new(),
                state: if dirty == Some(*version) {
                    State::Dirty
                } else {
                    State::Missing
                },
            });
        }
        Ok(states.into_values().collect())
    }

    /// The first problem among `states`, as an error.
    fn check(&self, states: &[MigrationStatus]) -> Result<(), ApplyError> {
        match states.iter().find_map(|s| s.problem(&self.folder)) {
            Some(problem) => Err(problem),
            None => Ok(()),
        }
    }
}

fn failed(error: MigrateError) -> ApplyError {
    ApplyError::Migrate(error.to_string())
}

/// Lists every migration of the dialect's folder (and any applied one missing from it) with its state.
pub async fn status(url: &str, dir: &Path) -> Result<Vec<MigrationStatus>, ApplyError> {
    Target::open(url, dir, false).await?.status().await
}

/// Applies every pending migration, in order, each in its own transaction; returns those applied. Refuses to
/// start when an applied migration is dirty, edited or missing.
pub async fn run(url: &str, dir: &Path) -> Result<Vec<MigrationStatus>, ApplyError> {
    let mut target = Target::open(url, dir, true).await?;
    let states = target.status().await?;
    target.check(&states)?;
    let result = match &mut target.connection {
        Database::Sqlite(c) => target.migrator.run(c).await,
        Database::Postgres(c) => target.migrator.run(c).await,
    };
    result.map_err(failed)?;
    Ok(states
        .into_iter()
        .filter(|s| s.state == State::Pending)
        .map(|s| MigrationStatus {
            state: State::Applied,
            ..s
        })
        .collect())
}

/// Reverts the last applied migration, or with `to_version` every applied migration newer than that one
/// (`0` reverts all), newest first, with their down scripts; returns those reverted. Refuses to start when
/// an applied migration is dirty, edited or missing.
pub async fn revert(
    url: &str,
    dir: &Path,
    to_version: Option<i64>,
) -> Result<Vec<MigrationStatus>, ApplyError> {
    let mut target = Target::open(url, dir, false).await?;
    let states = target.status().await?;
    target.check(&states)?;
    let applied: Vec<i64> = states
        .iter()
        .filter(|s| s.state == State::Applied)
        .map(|s| s.version)
        .collect();
    let target_version = match to_version {
        Some(0) => 0,
        Some(version) if applied.contains(&version) => version,
        Some(version) => return Err(ApplyError::Target { version, applied }),
        // One back: to the applied migration before the last (none: before the first).
        None => match applied.as_slice() {
            [.., before, _] => *before,
            _ => 0,
        },
    };
    let result = match &mut target.connection {
        Database::Sqlite(c) => target.migrator.undo(c, target_version).await,
        Database::Postgres(c) => target.migrator.undo(c, target_version).await,
    };
    result.map_err(failed)?;
    Ok(states
        .into_iter()
        .rev()
        .filter(|s| s.state == State::Applied && s.version > target_version)
        .map(|s| MigrationStatus {
            state: State::Pending,
            ..s
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_dialect_and_lose_their_password() {
        assert_eq!(dialect_of("sqlite:app.db").unwrap(), Dialect::Sqlite);
        assert_eq!(dialect_of("sqlite://app.db").unwrap(), Dialect::Sqlite);
        assert_eq!(dialect_of("postgresql://h/db").unwrap(), Dialect::Postgres);
        assert!(
            dialect_of("mysql://root:hunter2@h/db")
                .is_err_and(|e| !e.to_string().contains("hunter2"))
        );
        assert_eq!(
            redact("postgres://app:s3cret@db.internal:5432/shop"),
            "postgres://app:***@db.internal:5432/shop"
        );
        assert_eq!(redact("postgres://app@db/shop"), "postgres://app@db/shop");
        assert_eq!(redact("sqlite:app.db"), "sqlite:app.db");
    }
}
