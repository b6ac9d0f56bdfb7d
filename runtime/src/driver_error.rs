//! Driver errors reduced to what is safe to log: the kind, the SQLSTATE or server code and the constraint
//! name, never the driver's message.
//!
//! Drivers put values into their errors. Postgres' unique violation carries `detail: Key (email)=(ada@…)
//! already exists`, a NOT NULL or CHECK violation `Failing row contains (…)` with the whole row, a bad literal
//! `invalid input syntax for type integer: "…"`, and sqlx's `Debug` prints all of it; an encode or decode
//! error may quote its input. [`DriverError`] is what [`Error::Backend`](crate::Error::Backend) carries as its
//! source instead: built from the driver's error by reading only the structured, value-free parts, so no
//! `Display`, `Debug` or `source()` of an [`Error`](crate::Error) can reach a value through the driver.
//!
//! The price is diagnosis: the database's own message is gone. The SQLSTATE code (`23505`, `42P01`) and the
//! constraint name say what happened; the statement's text and the server log say where.

use std::fmt;

/// What kind of driver failure, as far as it can be told without reading the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DriverErrorKind {
    /// A unique or primary key constraint refused the write.
    UniqueViolation,
    /// A foreign key constraint refused the write.
    ForeignKeyViolation,
    /// A NOT NULL constraint refused the write.
    NotNullViolation,
    /// A CHECK constraint refused the write.
    CheckViolation,
    /// Any other error the database returned (a missing table, a type mismatch, a syntax error…); see the code.
    Database,
    /// The connection failed (I/O, TLS, protocol), or the server closed it.
    Connection,
    /// No pooled connection was free within the pool's timeout.
    PoolTimedOut,
    /// The pool was closed.
    PoolClosed,
    /// A value could not be encoded for the driver.
    Encode,
    /// A column could not be decoded.
    Decode,
    /// The driver's configuration (URL, options) was refused.
    Configuration,
    /// Applying migrations failed (see [`DriverError::migration`]).
    Migration,
    /// A Redis command failed; see the code.
    Redis,
    /// Anything else.
    Other,
}

/// A driver's error, holding only its kind, code and constraint name (see the [module docs](self)).
#[derive(Clone, PartialEq, Eq)]
pub struct DriverError {
    kind: DriverErrorKind,
    code: Option<String>,
    constraint: Option<String>,
    detail: Option<&'static str>,
    migration: Option<i64>,
}

impl DriverError {
    /// A driver error of `kind` with nothing else known.
    pub fn new(kind: DriverErrorKind) -> DriverError {
        DriverError {
            kind,
            code: None,
            constraint: None,
            detail: None,
            migration: None,
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> DriverErrorKind {
        self.kind
    }

    /// The SQLSTATE (Postgres), the extended result code (SQLite) or the server's error code (Redis).
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// The constraint that refused a write: its name on Postgres; on SQLite, which names none, its columns as
    /// SQLite lists them (`users.email`).
    pub fn constraint(&self) -> Option<&str> {
        self.constraint.as_deref()
    }

    /// The version of the migration that failed, for [`DriverErrorKind::Migration`].
    pub fn migration(&self) -> Option<i64> {
        self.migration
    }

    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn with_detail(mut self, detail: &'static str) -> DriverError {
        self.detail = Some(detail);
        self
    }
}

#[cfg(feature = "sqlite")]
impl DriverError {
    /// A SQLite error of `kind` with its extended result `code`; of its `message`, only the columns a
    /// constraint failure lists are kept.
    pub(crate) fn sqlite(kind: DriverErrorKind, code: String, message: &str) -> DriverError {
        DriverError {
            code: Some(code),
            constraint: sqlite_constraint(kind, message),
            ..DriverError::new(kind)
        }
    }
}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            DriverErrorKind::UniqueViolation => "unique constraint violated",
            DriverErrorKind::ForeignKeyViolation => "foreign key constraint violated",
            DriverErrorKind::NotNullViolation => "not-null constraint violated",
            DriverErrorKind::CheckViolation => "check constraint violated",
            DriverErrorKind::Database => "database error",
            DriverErrorKind::Connection => "connection failed",
            DriverErrorKind::PoolTimedOut => "no pooled connection within the timeout",
            DriverErrorKind::PoolClosed => "the pool is closed",
            DriverErrorKind::Encode => "a value could not be encoded",
            DriverErrorKind::Decode => "a column could not be decoded",
            DriverErrorKind::Configuration => "configuration refused",
            DriverErrorKind::Migration => "migration failed",
            DriverErrorKind::Redis => "redis command failed",
            DriverErrorKind::Other => "driver error",
        };
        f.write_str(what)?;
        if let Some(version) = self.migration {
            write!(f, " (migration {version})")?;
        }
        if let Some(code) = &self.code {
            write!(f, " (code {code})")?;
        }
        if let Some(constraint) = &self.constraint {
            write!(f, " (constraint {constraint})")?;
        }
        if let Some(detail) = self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

/// The same text as `Display`: a derived `Debug` would be safe too, but one text is easier to grep for.
impl fmt::Debug for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DriverError({self})")
    }
}

impl std::error::Error for DriverError {}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl From<sqlx::Error> for DriverError {
    fn from(e: sqlx::Error) -> DriverError {
        use sqlx::error::ErrorKind as Db;
        match e {
            sqlx::Error::Database(db) => {
                let kind = match db.kind() {
                    Db::UniqueViolation => DriverErrorKind::UniqueViolation,
                    Db::ForeignKeyViolation => DriverErrorKind::ForeignKeyViolation,
                    Db::NotNullViolation => DriverErrorKind::NotNullViolation,
                    Db::CheckViolation => DriverErrorKind::CheckViolation,
                    _ => DriverErrorKind::Database,
                };
                let constraint = db
                    .constraint()
                    .map(str::to_owned)
                    .or_else(|| sqlite_constraint(kind, db.message()));
                DriverError {
                    code: db.code().map(|c| c.into_owned()),
                    constraint,
                    ..DriverError::new(kind)
                }
            }
            sqlx::Error::Io(io) => {
                DriverError::new(DriverErrorKind::Connection).with_detail(io_kind_text(io.kind()))
            }
            sqlx::Error::Tls(_) => DriverError::new(DriverErrorKind::Connection).with_detail("tls"),
            sqlx::Error::Protocol(_) => {
                DriverError::new(DriverErrorKind::Connection).with_detail("protocol")
            }
            sqlx::Error::PoolTimedOut => DriverError::new(DriverErrorKind::PoolTimedOut),
            sqlx::Error::PoolClosed => DriverError::new(DriverErrorKind::PoolClosed),
            sqlx::Error::WorkerCrashed => DriverError::new(DriverErrorKind::Connection)
                .with_detail("the driver's worker crashed"),
            sqlx::Error::Configuration(_) => DriverError::new(DriverErrorKind::Configuration),
            sqlx::Error::Encode(_) => DriverError::new(DriverErrorKind::Encode),
            sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. } => {
                DriverError::new(DriverErrorKind::Decode)
            }
            sqlx::Error::RowNotFound => {
                DriverError::new(DriverErrorKind::Other).with_detail("no row")
            }
            sqlx::Error::Migrate(m) => DriverError::from(*m),
            _ => DriverError::new(DriverErrorKind::Other),
        }
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl From<sqlx::migrate::MigrateError> for DriverError {
    fn from(e: sqlx::migrate::MigrateError) -> DriverError {
        use sqlx::migrate::MigrateError as M;
        let failed = |version: Option<i64>, detail: &'static str| DriverError {
            migration: version,
            ..DriverError::new(DriverErrorKind::Migration).with_detail(detail)
        };
        match e {
            // The statement's failure: reduced like any other (a `CREATE UNIQUE INDEX` over duplicates reports
            // `Key (email)=(…) is duplicated` in its detail).
            M::Execute(inner) => {
                let inner = DriverError::from(inner);
                DriverError {
                    kind: DriverErrorKind::Migration,
                    ..inner
                }
            }
            M::ExecuteMigration(inner, version) => {
                let inner = DriverError::from(inner);
                DriverError {
                    kind: DriverErrorKind::Migration,
                    migration: Some(version),
                    ..inner
                }
            }
            M::VersionMissing(v) => {
                failed(Some(v), "applied but missing from the migrations given")
            }
            M::VersionMismatch(v) => failed(Some(v), "modified after it was applied"),
            M::VersionNotPresent(v) => failed(Some(v), "not present"),
            M::VersionTooOld(v, _) => failed(Some(v), "older than the latest applied migration"),
            M::VersionTooNew(v, _) => failed(Some(v), "newer than the target"),
            M::Dirty(v) => failed(Some(v), "partially applied (dirty); fix it by hand"),
            M::ForceNotSupported => failed(None, "forced migration is not supported"),
            M::Source(_) => failed(None, "the migration source could not be read"),
            _ => failed(None, "migration error"),
        }
    }
}

#[cfg(feature = "redis")]
impl From<redis::RedisError> for DriverError {
    fn from(e: redis::RedisError) -> DriverError {
        // The server's error text follows its code and may quote a key or an argument: keep the code only.
        let kind = if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() {
            DriverErrorKind::Connection
        } else {
            DriverErrorKind::Redis
        };
        let detail = if e.is_timeout() {
            Some("timed out")
        } else {
            None
        };
        DriverError {
            code: e.code().map(str::to_owned),
            detail,
            ..DriverError::new(kind)
        }
    }
}

/// SQLite names no constraint, but its constraint messages list the columns (`UNIQUE constraint failed:
/// users.email, users.tenant`): identifiers, never values. Kept for mapping a violation to its index.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn sqlite_constraint(kind: DriverErrorKind, message: &str) -> Option<String> {
    let prefix = match kind {
        DriverErrorKind::UniqueViolation => "UNIQUE constraint failed: ",
        DriverErrorKind::NotNullViolation => "NOT NULL constraint failed: ",
        DriverErrorKind::CheckViolation => "CHECK constraint failed: ",
        _ => return None,
    };
    let columns = message.strip_prefix(prefix)?;
    // Only identifiers pass: anything else (a future message format) is dropped rather than risked.
    columns
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b',' | b' ' | b'"'))
        .then(|| columns.to_owned())
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn io_kind_text(kind: std::io::ErrorKind) -> &'static str {
    use std::io::ErrorKind as K;
    match kind {
        K::ConnectionRefused => "connection refused",
        K::ConnectionReset => "connection reset",
        K::ConnectionAborted => "connection aborted",
        K::NotConnected => "not connected",
        K::TimedOut => "timed out",
        K::UnexpectedEof => "unexpected end of stream",
        K::BrokenPipe => "broken pipe",
        K::NotFound => "not found",
        K::PermissionDenied => "permission denied",
        _ => "i/o error",
    }
}
