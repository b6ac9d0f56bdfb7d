//! The one error type of the data access layer, which callers match on.
//!
//! Messages name the entity, the tier and what went wrong, never a field value or a key: keys and values may
//! hold personal data, and errors end up in logs.

use std::fmt;
use std::time::Duration;

/// A boxed error from a backend driver (sqlx, redis-rs).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result of a data access operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A tier of the tiered data access layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    /// The in-process cache (L1).
    Memory,
    /// The shared Redis cache (L2).
    Redis,
    /// The store: SQLite, Postgres or the in-memory backend (the source of truth).
    Store,
}

impl Tier {
    /// The name used in metrics labels and tracing fields.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Memory => "l1",
            Tier::Redis => "redis",
            Tier::Store => "store",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What went wrong in a data access operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No row with that key.
    #[error("{entity}: not found")]
    NotFound {
        /// The entity's message name.
        entity: &'static str,
    },
    /// The row's version is not the one the operation required.
    ///
    /// `expected: None` means the operation required the row to be absent (`insert`); `found: None` means
    /// the row is absent (`update` of a deleted row).
    #[error("{entity}: version conflict (expected {}, found {})", version_text(*expected), version_text(*found))]
    Conflict {
        /// The entity's message name.
        entity: &'static str,
        /// The version the operation required.
        expected: Option<u64>,
        /// The version the store holds.
        found: Option<u64>,
    },
    /// A write would give a unique index a value another row holds. Names the entity and the index, never the
    /// value.
    #[error("{entity}: unique index {index} already holds that value")]
    UniqueViolation {
        /// The entity's message name.
        entity: &'static str,
        /// The index's name.
        index: &'static str,
    },
    /// The value breaks its schema's rules (`buf.validate`); no tier was touched.
    #[error("invalid value: {0}")]
    Validation(crate::validate::Violations),
    /// The store committed the write, but it is not acknowledged: a strong entity's Redis write-through failed
    /// and the entity's generation could not be bumped, so other processes may still read the previous version
    /// from `tier`. Only with [`RedisOptions::strong_writes_need_redis`](crate::redis::RedisOptions) (feature
    /// `redis`). Read the row back (or retry an idempotent write) once Redis is reachable.
    #[error(
        "{entity}: the store committed the write, but {tier} could not be updated, so it is not acknowledged"
    )]
    Unconfirmed {
        /// The entity's message name.
        entity: &'static str,
        /// The cache tier that could not be updated.
        tier: Tier,
    },
    /// A tier failed. Redis failures are counted and absorbed by the repository; a store failure means the
    /// operation did not happen (nothing is acknowledged that did not commit).
    #[error("{entity}: {tier} failed: {source}")]
    Backend {
        /// The entity's message name.
        entity: &'static str,
        /// The tier that failed.
        tier: Tier,
        /// The driver's error.
        #[source]
        source: BoxError,
    },
    /// A tier did not answer within its timeout.
    #[error("{entity}: {tier} timed out after {after:?}")]
    Timeout {
        /// The entity's message name.
        entity: &'static str,
        /// The tier that timed out.
        tier: Tier,
        /// The timeout that elapsed.
        after: Duration,
    },
    /// The repository or a tier is misconfigured (bad URL, unknown scheme, feature not compiled in).
    #[error("configuration: {0}")]
    Config(String),
    /// A page cursor that is not a token of this entity under its current schema (another entity's, an older
    /// schema's, truncated or junk). Names the entity and the reason, never the token or its key.
    #[error("{entity}: invalid page cursor ({reason})")]
    InvalidCursor {
        /// The entity's message name.
        entity: &'static str,
        /// Why the token was refused.
        reason: &'static str,
    },
    /// A page limit of zero or above the cap.
    #[error("{entity}: page limit {limit} is outside 1..={max}")]
    InvalidLimit {
        /// The entity's message name.
        entity: &'static str,
        /// The limit asked for.
        limit: usize,
        /// The largest limit allowed.
        max: usize,
    },
}

fn version_text(version: Option<u64>) -> String {
    match version {
        Some(v) => format!("v{v}"),
        None => "absent".to_owned(),
    }
}

impl Error {
    /// A backend error of `tier` for `entity`.
    pub fn backend(entity: &'static str, tier: Tier, source: impl Into<BoxError>) -> Self {
        Error::Backend {
            entity,
            tier,
            source: source.into(),
        }
    }

    /// Whether this is [`Error::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    /// Whether this is [`Error::Conflict`].
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Conflict { .. })
    }
}

/// A stored row that does not decode into its entity (corrupt bytes, a column of the wrong type).
///
/// Carries a description of the column or encoding, never the value.
#[derive(Debug, thiserror::Error)]
#[error("cannot decode stored {what}")]
pub struct DecodeError {
    what: String,
}

impl DecodeError {
    /// A decode error describing which column or encoding failed, without its value.
    pub fn new(what: impl Into<String>) -> Self {
        DecodeError { what: what.into() }
    }
}
