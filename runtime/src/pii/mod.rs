//! Protection primitives for personal data (PII): field encryption with key rotation, blind indexes, keyed
//! tokens for keys that are PII, kind-aware masks and an audit trail.
//!
//! Field encryption and blind indexes are wired into the stores and the Redis tier (`field_keys`): a field
//! declared `encrypt = true` leaves the process only as ciphertext, under the key ring given to the
//! [`Store`](crate::Store) (`Store::with_keyring`) or read from `CAPACITOR_KEYRING` when it is opened; its
//! unique or secondary index is a blind index; `Repository::reencrypt` rotates keys. `docs/pii.md` says what
//! each tier holds and what is not wired yet.
//!
//! | piece | what | feature |
//! |---|---|---|
//! | `FieldCipher`, `FieldContext` | AES-256-GCM-SIV per value, bound to entity, field and row (`cipher`) | `encryption` |
//! | `KeyRing`, `KeyProvider` | master keys by id, current first; HKDF sub-keys (`keyring`) | `encryption` |
//! | `BlindIndex` | HMAC-SHA256 equality tokens, full or truncated (`blind_index`) | `encryption` |
//! | `SubjectKey`, `SubjectKeyCache` | crypto-shredding: per-subject data keys (`subject`) | `encryption` |
//! | [`TokenKey`], [`KeyToken`] | keyed tokens standing in for PII keys in Redis keys, labels, logs ([`token`]) | — |
//! | [`mask`](fn@mask), [`Masked`] | what of a value each [`Pii`](crate::schema::Pii) kind may show ([`mask`](mod@mask)) | — |
//! | [`AuditSink`], [`TracingAuditSink`] | who read, wrote or erased what ([`audit`]) | — |
//! | [`MaskedView`], [`MaskFields`] | a whole message with its PII masked, Display and serde ([`masked_view`]) | — |
//!
//! (The items behind `encryption` are not linked here so these docs build with any features.)
//!
//! Nothing here puts a value or key material into an error, a `Debug` output or a log line: errors name
//! entities, fields and key ids; keys print as `<redacted>`.

pub mod audit;
#[cfg(feature = "encryption")]
pub mod blind_index;
#[cfg(feature = "encryption")]
pub mod cipher;
mod error;
pub(crate) mod field_keys;
#[cfg(feature = "encryption")]
pub mod keyring;
pub mod mask;
pub mod masked_view;
mod secret;
#[cfg(feature = "encryption")]
pub mod subject;
pub mod token;

pub use audit::{
    Actor, AuditEvent, AuditKey, AuditOutcome, AuditSink, Operation, TracingAuditSink,
};
#[cfg(feature = "encryption")]
pub use blind_index::{BlindIndex, BlindToken, IndexContext, Width};
#[cfg(feature = "encryption")]
pub use cipher::{FieldCipher, FieldContext};
pub use error::PiiError;
#[cfg(feature = "encryption")]
pub use keyring::{EnvKeyRing, KeyProvider, KeyRing, KeyRingFile};
pub use mask::{Masked, mask};
pub use masked_view::{MaskFields, MaskedFields, MaskedView};
pub use secret::SecretKey;
#[cfg(feature = "encryption")]
pub use subject::{SubjectKey, SubjectKeyCache, SubjectKeyId};
pub use token::{KeyToken, TokenKey};
