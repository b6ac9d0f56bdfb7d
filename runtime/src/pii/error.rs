//! The errors of the PII primitives.
//!
//! Every message names what an operator needs to act on — the entity and field, the key id, the line of a key
//! ring — and never a plaintext value, a ciphertext or key material: these errors end up in logs.

use std::path::PathBuf;

/// What went wrong in a PII primitive: decrypting a field, loading keys, writing an audit record.
///
/// Display names entities, fields and key ids only; no variant holds a value or a key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PiiError {
    /// A ciphertext names a key id the key ring does not hold (a key was removed before every value under
    /// it was re-encrypted, or the ring is another service's).
    #[error("{entity}.{field}: encrypted under key id {key_id}, which is not in the key ring")]
    UnknownKeyId {
        /// The entity's full name.
        entity: String,
        /// The field's name.
        field: String,
        /// The key id the ciphertext names.
        key_id: u32,
    },
    /// A ciphertext failed authentication: it was tampered with, belongs to another row, field or entity,
    /// or was sealed under other key bytes with the same key id.
    #[error(
        "{entity}.{field} (field {field_number}): the ciphertext does not authenticate for this row \
         (tampered, copied from another row, field or entity, or sealed under another key)"
    )]
    Authentication {
        /// The entity's full name.
        entity: String,
        /// The field's name.
        field: String,
        /// The field's number.
        field_number: u32,
    },
    /// A ciphertext is too short to hold the format's header and tag.
    #[error("{entity}.{field}: the ciphertext is malformed: {reason}")]
    Malformed {
        /// The entity's full name.
        entity: String,
        /// The field's name.
        field: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A ciphertext starts with a format version this build does not read.
    #[error(
        "{entity}.{field}: ciphertext format version {version} is not supported (this build reads version {supported})"
    )]
    UnsupportedVersion {
        /// The entity's full name.
        entity: String,
        /// The field's name.
        field: String,
        /// The version byte found.
        version: u8,
        /// The version this build reads and writes.
        supported: u8,
    },
    /// A key or key ring could not be parsed; `at` says where (a variable's name, a file and line).
    #[error("{at}: {reason}")]
    InvalidKey {
        /// Where the key was read from, e.g. `CAPACITOR_KEYRING line 2`.
        at: String,
        /// What is wrong, never the text itself.
        reason: String,
    },
    /// A key ring names the same key id twice.
    #[error("{at}: key id {key_id} appears more than once")]
    DuplicateKeyId {
        /// Where the key ring was read from.
        at: String,
        /// The repeated id.
        key_id: u32,
    },
    /// A key ring file could not be read.
    #[error("cannot read the key ring file {}", path.display())]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A `KeyProvider` (a KMS, a secret store; feature `encryption`) failed.
    #[error("key provider {provider}: {message}")]
    Provider {
        /// The provider's name.
        provider: &'static str,
        /// What failed; a provider must not put key material here.
        message: String,
    },
    /// A value sealed under a data subject's key (crypto-shredding) whose key is gone: the subject was shredded
    /// (`shred_subject`), or the key's row is missing from `capacitor_subject_keys` (a backup restored without
    /// it). The value is unreadable for good; erasing the row still works.
    #[error(
        "{entity}.{field}: the data subject's key was destroyed (crypto-shredded) or is missing from \
         capacitor_subject_keys, so the value cannot be read"
    )]
    SubjectKeyDestroyed {
        /// The entity's full name.
        entity: String,
        /// The field's name.
        field: String,
    },
    /// The data subject's key was not loaded where a value needed it (a cached Redis entry whose key this
    /// process has not read yet: the repository reads the row from the store instead).
    #[error("{entity}.{field}: the data subject's key is not loaded in this process")]
    SubjectKeyNotLoaded {
        /// The entity's full name.
        entity: String,
        /// The field's name.
        field: String,
    },
    /// A row of `capacitor_subject_keys` could not be unwrapped under the key ring.
    #[error("a subject key in capacitor_subject_keys cannot be unwrapped: {reason}{}", ring_key_id.map(|id| format!(" (ring key id {id})")).unwrap_or_default())]
    SubjectKeyWrap {
        /// What is wrong.
        reason: &'static str,
        /// The ring key id the wrapped key names, when it could be read.
        ring_key_id: Option<u32>,
    },
    /// The operating system's random generator failed (no nonce, no key).
    #[error("the operating system's random generator failed: {0}")]
    Random(String),
}
