//! The one error type of the data access layer, which callers match on.
//!
//! Messages name the entity, the tier and what went wrong, never a field value or a key: keys and values may
//! hold personal data, and errors end up in logs.

use crate::driver_error::{DriverError, DriverErrorKind};
use crate::schema::EntitySchema;
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
    /// from `tier`. Only with `RedisOptions::strong_writes_need_redis` (feature `redis`). Read the row back (or retry an idempotent write) once Redis is reachable.
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
        /// What failed: for driver failures a [`crate::driver_error::DriverError`], which keeps the
        /// kind, code and constraint name and drops the driver's message (it can quote values).
        #[source]
        source: BoxError,
    },
    /// A stored encrypted value did not decrypt: its ciphertext was moved from another row, field or entity,
    /// was tampered with, or is under a key the store's key ring lacks or holds other bytes for. The source
    /// names the entity, field and key id, never the value; match it to tell a key problem
    /// ([`PiiError::UnknownKeyId`](crate::pii::PiiError::UnknownKeyId)) from a bad ciphertext
    /// ([`PiiError::Authentication`](crate::pii::PiiError::Authentication)).
    #[error("{entity}: a stored encrypted value cannot be read: {source}")]
    Encryption {
        /// The entity's message name.
        entity: &'static str,
        /// Why it did not decrypt.
        #[source]
        source: crate::pii::PiiError,
    },
    /// A claim-checked field's row or payload names a blob its blob store does not hold (deleted by hand, a
    /// store emptied, or garbage-collected while a row still named it). Names the entity, the field and the
    /// reference (`sha256:<hex>`, a digest of the content, which does not reveal it).
    #[error("{entity}: field `{field}` names blob {reference}, which its blob store does not hold")]
    MissingBlob {
        /// The entity's message name.
        entity: &'static str,
        /// The claim-checked field's name.
        field: &'static str,
        /// The blob's reference.
        reference: String,
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
    /// A change cursor ([`ChangeCursor`](crate::outbox::ChangeCursor)) from before the outbox's retention: the
    /// changes after it were pruned, so the feed cannot resume there without a gap. Start again from a fresh
    /// read of the data and [`Repository::change_cursor_now`](crate::Repository::change_cursor_now).
    #[error(
        "{entity}: change cursor {cursor} is older than the outbox's retention (pruned through {pruned_through})"
    )]
    ChangeCursorExpired {
        /// The entity's message name.
        entity: &'static str,
        /// The cursor's position.
        cursor: u64,
        /// The last position pruned.
        pruned_through: u64,
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

    /// A store driver's failure on `schema`'s entity, reduced to a [`DriverError`]: a unique violation whose
    /// constraint maps to one of the schema's indexes becomes [`Error::UniqueViolation`], anything else
    /// [`Error::Backend`] of the store tier.
    pub fn from_store_driver(schema: &'static EntitySchema, e: impl Into<DriverError>) -> Self {
        let e = e.into();
        if e.kind() == DriverErrorKind::UniqueViolation
            && let Some(index) = e.constraint().and_then(|c| unique_index(schema, c))
        {
            return Error::UniqueViolation {
                entity: schema.message,
                index,
            };
        }
        Error::backend(schema.message, Tier::Store, e)
    }

    /// Whether this is [`Error::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    /// Whether this is a read of a value whose data subject was crypto-shredded
    /// ([`PiiError::SubjectKeyDestroyed`](crate::pii::PiiError::SubjectKeyDestroyed)).
    pub fn is_subject_key_destroyed(&self) -> bool {
        matches!(
            self,
            Error::Encryption {
                source: crate::pii::PiiError::SubjectKeyDestroyed { .. },
                ..
            }
        )
    }

    /// Whether this is [`Error::Conflict`].
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Conflict { .. })
    }
}

/// The unique index (or primary key) of `schema` a driver's `constraint` names: Postgres gives the index's own
/// name; SQLite lists the columns (`users.email, users.tenant`), matched against each index's columns.
fn unique_index(schema: &'static EntitySchema, constraint: &str) -> Option<&'static str> {
    let unique = || {
        schema
            .indexes
            .iter()
            .filter(|i| i.kind != crate::schema::IndexKind::Secondary)
    };
    if let Some(index) = unique().find(|i| i.name == constraint) {
        return Some(index.name);
    }
    let listed: Vec<&str> = constraint
        .split(',')
        .map(|c| {
            let c = c.trim();
            let column = c.rsplit_once('.').map_or(c, |(_, column)| column);
            column.trim_matches('"')
        })
        .collect();
    // An index's columns as the listed names start: a field's own column, or columns derived from it
    // (`<column>_nanos`, a blind index beside an encrypted one) — the first listed column per field decides.
    unique()
        .find(|index| {
            let columns: Vec<&str> = index
                .fields
                .iter()
                .filter_map(|n| schema.field_by_number(*n).and_then(|f| f.column))
                .collect();
            !columns.is_empty()
                && columns
                    .iter()
                    .all(|c| listed.iter().any(|l| l.starts_with(c)))
                && listed
                    .iter()
                    .all(|l| columns.iter().any(|c| l.starts_with(c)))
        })
        .map(|i| i.name)
}

/// A stored row that does not decode into its entity (corrupt bytes, a column of the wrong type, an encrypted
/// column that does not decrypt).
///
/// Carries a description of the column or encoding, never the value.
#[derive(Debug, thiserror::Error)]
#[error("cannot decode stored {what}")]
pub struct DecodeError {
    what: String,
    /// Set when an encrypted column did not decrypt: the store reports it as [`Error::Encryption`].
    #[source]
    encryption: Option<crate::pii::PiiError>,
}

impl DecodeError {
    /// A decode error describing which column or encoding failed, without its value.
    pub fn new(what: impl Into<String>) -> Self {
        DecodeError {
            what: what.into(),
            encryption: None,
        }
    }

    /// An encrypted column that did not decrypt (moved ciphertext, wrong or unknown key).
    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    pub(crate) fn encryption(error: crate::pii::PiiError) -> Self {
        DecodeError {
            what: "encrypted column".to_owned(),
            encryption: Some(error),
        }
    }

    /// The decryption failure, for the store to report as [`Error::Encryption`].
    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    pub(crate) fn into_encryption(self) -> Result<crate::pii::PiiError, DecodeError> {
        match self.encryption {
            Some(error) => Ok(error),
            None => Err(self),
        }
    }
}
