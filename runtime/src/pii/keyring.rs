//! [`KeyRing`]: the PII master keys by id, the current one first, and where they come from
//! ([`KeyProvider`]).
//!
//! **Text format** (a file, or the [`KEYRING_ENV`] variable): one `id:key` entry per line, the current key
//! first, older keys after it in any order. `id` is a decimal `u32` (it is written into every ciphertext);
//! `key` is 32 bytes as base64 (standard or URL-safe, padding optional) or as 64 hex digits. Blank lines and
//! lines starting with `#` are skipped; in the variable, entries may also be separated by commas, since a
//! variable with line breaks is awkward to set.
//!
//! ```text
//! # current key first
//! 3:q4Pb0cS2m1xG0J8m6kQ9mG9f1l0tA3dV4fC7o2bq1oU=
//! 2:2b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfe
//! ```
//!
//! `openssl rand -base64 32` makes a key. **Rotation**: put a new entry first and keep the old ones; new writes
//! use the new key, values under the old ids still decrypt. Remove an id only once no stored value uses it
//! ([`FieldCipher::key_id`](crate::pii::FieldCipher::key_id) tells a re-encryption job which values do).
//!
//! **Sub-keys.** Each master key is never used directly: HKDF-SHA256 (RFC 5869, salt `capacitor pii v1`)
//! derives from it one key for field encryption (info `capacitor field-encryption v1`), one for blind
//! indexes (info `capacitor blind-index v1`), and for crypto-shredding one that wraps per-subject data keys
//! (info `capacitor subject-key-wrap v1`) and one that keys subject tokens (info `capacitor subject-token v1`).
//! One secret per id to store and rotate, and no two primitives that share a key.

use crate::pii::{PiiError, SecretKey};
use hkdf::Hkdf;
use sha2::Sha256;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};

/// The environment variable [`KeyRing::from_env`] reads first: the key ring's entries (see the
/// [module docs](self)).
pub const KEYRING_ENV: &str = "CAPACITOR_KEYRING";

/// The environment variable [`KeyRing::from_env`] reads when [`KEYRING_ENV`] is unset: the path of a key
/// ring file.
pub const KEYRING_FILE_ENV: &str = "CAPACITOR_KEYRING_FILE";

const HKDF_SALT: &[u8] = b"capacitor pii v1";
const FIELD_ENCRYPTION_INFO: &[u8] = b"capacitor field-encryption v1";
const BLIND_INDEX_INFO: &[u8] = b"capacitor blind-index v1";
const SUBJECT_WRAP_INFO: &[u8] = b"capacitor subject-key-wrap v1";
const SUBJECT_TOKEN_INFO: &[u8] = b"capacitor subject-token v1";

/// The PII keys: a current key id for new writes and older ids that still decrypt, each with the sub-keys
/// derived from its master key.
///
/// Built once at start-up (from [`from_env`](Self::from_env), a file, or a [`KeyProvider`]) and handed to
/// [`FieldCipher::new`](crate::pii::FieldCipher::new) and [`BlindIndex::new`](crate::pii::BlindIndex::new).
/// `Debug` shows the key ids only.
pub struct KeyRing {
    /// Current first.
    entries: Vec<Entry>,
}

struct Entry {
    id: u32,
    field_encryption: SecretKey,
    blind_index: SecretKey,
    /// Wraps (AEAD) the per-subject data keys of crypto-shredding.
    subject_wrap: SecretKey,
    /// Keys the HMAC that stands in for a subject's value in the subject key table.
    subject_token: SecretKey,
}

impl KeyRing {
    /// The key ring of `keys`, the current key first. [`PiiError::InvalidKey`] when `keys` is empty,
    /// [`PiiError::DuplicateKeyId`] when an id repeats.
    ///
    /// ```
    /// use capacitor::pii::{KeyRing, SecretKey};
    ///
    /// let ring = KeyRing::new(vec![(2, SecretKey::from_bytes([2; 32])), (1, SecretKey::from_bytes([1; 32]))])?;
    /// assert_eq!(ring.current_id(), 2);
    /// assert_eq!(ring.ids().collect::<Vec<_>>(), [2, 1]);
    /// assert_eq!(format!("{ring:?}"), "KeyRing { current: 2, ids: [2, 1] }");
    /// # Ok::<(), capacitor::pii::PiiError>(())
    /// ```
    pub fn new(keys: Vec<(u32, SecretKey)>) -> Result<KeyRing, PiiError> {
        KeyRing::build(keys, "key ring")
    }

    fn build(keys: Vec<(u32, SecretKey)>, at: &str) -> Result<KeyRing, PiiError> {
        if keys.is_empty() {
            return Err(PiiError::InvalidKey {
                at: at.to_owned(),
                reason: "the key ring holds no key".to_owned(),
            });
        }
        let mut entries: Vec<Entry> = Vec::with_capacity(keys.len());
        for (id, master) in keys {
            if entries.iter().any(|entry| entry.id == id) {
                return Err(PiiError::DuplicateKeyId {
                    at: at.to_owned(),
                    key_id: id,
                });
            }
            entries.push(Entry {
                id,
                field_encryption: derive(&master, FIELD_ENCRYPTION_INFO),
                blind_index: derive(&master, BLIND_INDEX_INFO),
                subject_wrap: derive(&master, SUBJECT_WRAP_INFO),
                subject_token: derive(&master, SUBJECT_TOKEN_INFO),
            });
        }
        Ok(KeyRing { entries })
    }

    /// Parses the text format of the [module docs](self). `at` names the source in errors (a variable or a
    /// file); an error names the entry by position (`entry 2`: the second line, or comma-separated part),
    /// never its text.
    pub fn parse(text: &str, at: &str) -> Result<KeyRing, PiiError> {
        let mut keys = Vec::new();
        let entries = text
            .split(['\n', ','])
            .map(str::trim)
            .enumerate()
            .filter(|(_, entry)| !entry.is_empty() && !entry.starts_with('#'));
        for (index, entry) in entries {
            let here = format!("{at} entry {}", index + 1);
            let (id, key) = entry.split_once(':').ok_or_else(|| PiiError::InvalidKey {
                at: here.clone(),
                reason: "an entry is `id:key`".to_owned(),
            })?;
            let id: u32 = id.trim().parse().map_err(|_| PiiError::InvalidKey {
                at: here.clone(),
                reason: "the key id is not a decimal number from 0 to 4294967295".to_owned(),
            })?;
            keys.push((id, SecretKey::parse(key, &here)?));
        }
        KeyRing::build(keys, at)
    }

    /// Reads a key ring file in the text format.
    pub fn from_file(path: impl AsRef<Path>) -> Result<KeyRing, PiiError> {
        let path = path.as_ref();
        let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|source| {
            PiiError::KeyFile {
                path: path.to_owned(),
                source,
            }
        })?);
        KeyRing::parse(&text, &path.display().to_string())
    }

    /// The key ring in [`KEYRING_ENV`] (`CAPACITOR_KEYRING`), else in the file [`KEYRING_FILE_ENV`]
    /// (`CAPACITOR_KEYRING_FILE`) names; `None` when neither is set.
    pub fn from_env() -> Result<Option<KeyRing>, PiiError> {
        if let Some(text) = env_text(KEYRING_ENV)? {
            return KeyRing::parse(&text, KEYRING_ENV).map(Some);
        }
        match env_text(KEYRING_FILE_ENV)? {
            Some(path) => KeyRing::from_file(PathBuf::from(path.trim())).map(Some),
            None => Ok(None),
        }
    }

    /// The id new values are encrypted under.
    pub fn current_id(&self) -> u32 {
        self.entries[0].id
    }

    /// Every key id, the current first.
    pub fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.entries.iter().map(|entry| entry.id)
    }

    /// The field-encryption sub-key of every id, the current first.
    pub(crate) fn field_encryption_keys(&self) -> impl Iterator<Item = (u32, &SecretKey)> {
        self.entries
            .iter()
            .map(|entry| (entry.id, &entry.field_encryption))
    }

    /// The blind-index sub-key of every id, the current first.
    pub(crate) fn blind_index_keys(&self) -> impl Iterator<Item = (u32, &SecretKey)> {
        self.entries
            .iter()
            .map(|entry| (entry.id, &entry.blind_index))
    }

    /// The subject-key wrapping sub-key of every id, the current first.
    pub(crate) fn subject_wrap_keys(&self) -> impl Iterator<Item = (u32, &SecretKey)> {
        self.entries
            .iter()
            .map(|entry| (entry.id, &entry.subject_wrap))
    }

    /// The subject-token sub-key of every id, the current first.
    pub(crate) fn subject_token_keys(&self) -> impl Iterator<Item = (u32, &SecretKey)> {
        self.entries
            .iter()
            .map(|entry| (entry.id, &entry.subject_token))
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_key_ids(f, "KeyRing", self.ids())
    }
}

/// The `Debug` of a keyed type: its name, current key id and all ids (current first), never key material.
pub(crate) fn debug_key_ids(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    ids: impl Iterator<Item = u32>,
) -> fmt::Result {
    let ids: Vec<u32> = ids.collect();
    f.debug_struct(name)
        .field("current", &ids[0])
        .field("ids", &ids)
        .finish()
}

/// A 32-byte sub-key of `master` for the purpose `info` names.
fn derive(master: &SecretKey, info: &[u8]) -> SecretKey {
    let mut bytes = zeroize::Zeroizing::new([0u8; SecretKey::LEN]);
    Hkdf::<Sha256>::new(Some(HKDF_SALT), master.expose())
        .expand(info, bytes.as_mut())
        .expect("32 bytes is within HKDF-SHA256's 8160-byte limit");
    SecretKey::from_bytes(*bytes)
}

/// The variable's text, `None` when unset or blank.
fn env_text(name: &str) -> Result<Option<zeroize::Zeroizing<String>>, PiiError> {
    match std::env::var(name) {
        Ok(text) if text.trim().is_empty() => Ok(None),
        Ok(text) => Ok(Some(zeroize::Zeroizing::new(text))),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(PiiError::InvalidKey {
            at: name.to_owned(),
            reason: "not valid UTF-8".to_owned(),
        }),
    }
}

/// Where a service's [`KeyRing`] comes from: the environment, a file, a KMS.
///
/// Called once at start-up (and again on a reload, if the service has one), never per value: encryption and
/// decryption are synchronous and in memory. It is async because the KMS case is a network call: an
/// implementation reads wrapped (encrypted) data keys from its configuration, asks the KMS to unwrap each one
/// (AWS KMS `Decrypt`, Vault Transit `decrypt`) and builds the ring from the plaintext keys, so the master keys
/// never sit in a file or a variable. `docs/pii.md` describes that envelope design.
///
/// ```
/// use capacitor::pii::{KeyProvider, KeyRing, KeyRingFile};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("keyring");
/// std::fs::write(&path, format!("7:{}\n", "ab".repeat(32))).unwrap();
/// let ring: KeyRing = KeyRingFile::new(&path).load().await?;
/// assert_eq!(ring.current_id(), 7);
/// # Ok::<(), capacitor::pii::PiiError>(())
/// # }).unwrap();
/// ```
pub trait KeyProvider: Send + Sync {
    /// The key ring, current key first.
    fn load(&self) -> impl Future<Output = Result<KeyRing, PiiError>> + Send;
}

/// The key ring in the environment ([`KeyRing::from_env`]); loading fails when neither variable is set.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvKeyRing;

impl KeyProvider for EnvKeyRing {
    async fn load(&self) -> Result<KeyRing, PiiError> {
        KeyRing::from_env()?.ok_or_else(|| PiiError::InvalidKey {
            at: KEYRING_ENV.to_owned(),
            reason: format!("not set, and neither is {KEYRING_FILE_ENV}"),
        })
    }
}

/// The key ring in a file ([`KeyRing::from_file`]), read on every [`load`](KeyProvider::load).
#[derive(Debug, Clone)]
pub struct KeyRingFile {
    path: PathBuf,
}

impl KeyRingFile {
    /// The key ring file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> KeyRingFile {
        KeyRingFile { path: path.into() }
    }
}

impl KeyProvider for KeyRingFile {
    async fn load(&self) -> Result<KeyRing, PiiError> {
        KeyRing::from_file(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANARY_KEY_HEX: &str = "c0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ff";

    #[test]
    fn parses_entries_current_first_with_comments_and_commas() {
        let text = format!(
            "# rotated 2025-01\n\n 3 : {}\n2:{CANARY_KEY_HEX}\n",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [3u8; 32])
        );
        let ring = KeyRing::parse(&text, "test").unwrap();
        assert_eq!(ring.current_id(), 3);
        assert_eq!(ring.ids().collect::<Vec<_>>(), [3, 2]);
        let ring =
            KeyRing::parse(&format!("5:{CANARY_KEY_HEX},4:{}", "11".repeat(32)), "test").unwrap();
        assert_eq!(ring.ids().collect::<Vec<_>>(), [5, 4]);
    }

    #[test]
    fn refuses_bad_rings_naming_the_entry_never_the_key() {
        let short = &CANARY_KEY_HEX[..60];
        let cases = [
            (String::new(), "test: the key ring holds no key"),
            (
                "# only a comment".to_owned(),
                "test: the key ring holds no key",
            ),
            (
                CANARY_KEY_HEX.to_owned(),
                "test entry 1: an entry is `id:key`",
            ),
            (
                format!("x:{CANARY_KEY_HEX}"),
                "test entry 1: the key id is not a decimal number",
            ),
            (
                format!("1:{CANARY_KEY_HEX}\n2:{short}"),
                "test entry 2: a key must be 32 bytes",
            ),
            (
                format!("1:{CANARY_KEY_HEX}\n1:{CANARY_KEY_HEX}"),
                "test: key id 1 appears more than once",
            ),
        ];
        for (text, expected) in cases {
            let error = KeyRing::parse(&text, "test").unwrap_err();
            let shown = format!("{error} {error:?}");
            assert!(shown.starts_with(expected), "{shown}");
            assert!(
                !shown.contains("c0ffee") && !shown.contains(short),
                "{shown}"
            );
        }
    }

    #[test]
    fn debug_shows_ids_only() {
        let ring = KeyRing::parse(&format!("9:{CANARY_KEY_HEX}"), "test").unwrap();
        let shown = format!("{ring:?} {ring:#?}");
        assert!(!shown.to_lowercase().contains("c0ffee"), "{shown}");
        assert_eq!(format!("{ring:?}"), "KeyRing { current: 9, ids: [9] }");
    }

    #[test]
    fn sub_keys_differ_from_the_master_and_from_each_other() {
        let ring = KeyRing::parse(&format!("1:{CANARY_KEY_HEX}"), "test").unwrap();
        let (_, field) = ring.field_encryption_keys().next().unwrap();
        let (_, index) = ring.blind_index_keys().next().unwrap();
        let master = SecretKey::parse(CANARY_KEY_HEX, "test").unwrap();
        assert_ne!(field.expose(), index.expose());
        assert_ne!(field.expose(), master.expose());
        assert_ne!(index.expose(), master.expose());
    }

    #[test]
    fn file_errors_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let error = KeyRing::from_file(&missing).unwrap_err();
        assert!(error.to_string().contains("missing"), "{error}");
        assert!(std::error::Error::source(&error).is_some());
        let path = dir.path().join("keyring");
        std::fs::write(&path, format!("1:{CANARY_KEY_HEX}\n1:{CANARY_KEY_HEX}\n")).unwrap();
        let error = KeyRing::from_file(&path).unwrap_err().to_string();
        assert!(
            error.contains("keyring") && error.contains("key id 1"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn file_provider_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring");
        std::fs::write(&path, format!("4:{CANARY_KEY_HEX}\n")).unwrap();
        let ring = KeyRingFile::new(&path).load().await.unwrap();
        assert_eq!(ring.current_id(), 4);
    }
}
