//! Crypto-shredding: each data subject's encrypted values sealed under a data key of the subject's own, so
//! destroying that one key makes every copy of them unreadable — backups included — without finding the copies.
//!
//! An entity opts in with `(capacitor.v1.entity).subject = "user_id"` (or `#[capacitor(subject = "user_id")]`),
//! naming the field whose value identifies the subject. Its `encrypt` fields are then sealed in the
//! [version 2 format](crate::pii::cipher) under the [`SubjectKey`] of that value:
//!
//! | offset | length | content |
//! |---|---|---|
//! | 0 | 1 | format version, `0x02` |
//! | 1 | 16 | the subject key's id, random |
//! | 17 | 12 | nonce, random |
//! | 29 | *n* | the encrypted value |
//! | 29 + *n* | 16 | authentication tag |
//!
//! The associated data binds the 17 header bytes, the entity, the field number and the row's key, as in
//! version 1. The keys live in the table `capacitor_subject_keys` (emitted by `capgen migrate` once per database
//! that stores an entity with a subject):
//!
//! - `key_id`: the 16 bytes every ciphertext names, so a read needs no subject value to find its key;
//! - `subject_token`: HMAC-SHA256 of the subject's canonical value (its [`Column::write_token`] text, so an
//!   `int32` and an `int64` field holding 42 name the same subject) under the key ring's subject-token sub-key,
//!   never the value itself; unique, which makes creating a subject's first key race-safe;
//! - `wrapped_key`: the ring's key id (`u32` BE), a nonce, then the 32-byte data key followed by the subject's
//!   canonical value, sealed (AES-256-GCM-SIV) under the ring's subject-wrap sub-key with the key id as
//!   associated data. The subject value rides along so that a ring rotation can rewrap the key *and* recompute
//!   its token ([`Store::rewrap_subject_keys`](crate::Store::rewrap_subject_keys)) without knowing the subject;
//! - `created_at`: microseconds since the Unix epoch.
//!
//! Shredding deletes the subject's rows from the table (under every ring id's token); afterwards a read of any
//! of the subject's values — from the live table, a restored backup, a copied row — fails with
//! [`PiiError::SubjectKeyDestroyed`] naming entity and field.
//!
//! Unwrapped keys are cached in memory ([`SubjectKeyCache`]: quick_cache, bounded, each entry with a time to
//! live so that a key another process shredded stops being used here within that time); the AES key schedules
//! are wiped when the last reference drops.
//!
//! [`Column::write_token`]: crate::record::Column::write_token

use crate::pii::PiiError;
use crate::pii::cipher::{FieldContext, NONCE_LEN, TAG_LEN, open_with, seal_with};
use crate::pii::keyring::KeyRing;
use aes_gcm_siv::Aes256GcmSiv;
use aes_gcm_siv::aead::{AeadInOut, KeyInit};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// The format version of a value sealed under a subject's data key.
pub const SUBJECT_FORMAT_VERSION: u8 = 2;

/// The length of a subject key's id.
pub const SUBJECT_KEY_ID_LEN: usize = 16;

const SUBJECT_HEADER_LEN: usize = 1 + SUBJECT_KEY_ID_LEN;

/// The bytes a version 2 ciphertext adds to its plaintext: version, subject key id, nonce and tag.
pub const SUBJECT_OVERHEAD: usize = SUBJECT_HEADER_LEN + NONCE_LEN + TAG_LEN;

/// A subject key's id: 16 random bytes (not derived from the subject, so it reveals nothing about it).
pub type SubjectKeyId = [u8; SUBJECT_KEY_ID_LEN];

/// The length of a subject token (a full HMAC-SHA256).
pub(crate) const SUBJECT_TOKEN_LEN: usize = 32;

/// A subject token: the keyed hash standing in for a subject's value in `capacitor_subject_keys`.
pub(crate) type SubjectToken = [u8; SUBJECT_TOKEN_LEN];

/// A subject's canonical value, unwrapped: wiped on drop.
pub(crate) type Subject = Zeroizing<Vec<u8>>;

const WRAP_DOMAIN: &[u8] = b"capacitor subject-key v1";
const TOKEN_DOMAIN: &[u8] = b"capacitor subject-token v1";
const DATA_KEY_LEN: usize = 32;

/// One data subject's data key: seals and opens the values of that subject in the version 2 format.
///
/// Made by the stores from the subject key table (a new random key, or an unwrapped stored one); the AES key
/// schedule is wiped on drop. `Debug` shows nothing of the key.
pub struct SubjectKey {
    id: SubjectKeyId,
    cipher: Aes256GcmSiv,
}

impl SubjectKey {
    fn from_bytes(id: SubjectKeyId, bytes: &[u8; DATA_KEY_LEN]) -> SubjectKey {
        SubjectKey {
            id,
            cipher: Aes256GcmSiv::new(bytes.into()),
        }
    }

    /// The key's id, which every value sealed under it names.
    pub fn id(&self) -> SubjectKeyId {
        self.id
    }

    /// `plaintext` sealed under this key in `ctx` (version 2). Fails only when the random generator does.
    pub fn encrypt(&self, ctx: &FieldContext<'_>, plaintext: &[u8]) -> Result<Vec<u8>, PiiError> {
        seal_with(&self.cipher, &header(&self.id), ctx, plaintext)
    }

    /// The plaintext of a version 2 `ciphertext` sealed under this key in `ctx`; wiped when dropped.
    /// [`PiiError::Authentication`] when it was sealed under another key, row, field or entity, or tampered
    /// with; [`PiiError::Malformed`] when it is not a version 2 value of this key.
    pub fn decrypt(
        &self,
        ctx: &FieldContext<'_>,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, PiiError> {
        match SubjectKey::key_id(ciphertext) {
            None => Err(ctx.malformed(
                "it is not a value sealed under a data subject's key (format version 2)",
            )),
            Some(id) if id != self.id => Err(ctx.authentication_error()),
            Some(_) => open_with(&self.cipher, SUBJECT_HEADER_LEN, ctx, ciphertext),
        }
    }

    /// The subject key id a version 2 ciphertext names, without decrypting it; `None` for any other format or
    /// a value too short to be one.
    pub fn key_id(ciphertext: &[u8]) -> Option<SubjectKeyId> {
        match ciphertext.first() {
            Some(&SUBJECT_FORMAT_VERSION) if ciphertext.len() >= SUBJECT_OVERHEAD => {
                ciphertext[1..SUBJECT_HEADER_LEN].try_into().ok()
            }
            _ => None,
        }
    }
}

impl fmt::Debug for SubjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SubjectKey(<redacted>)")
    }
}

fn header(id: &SubjectKeyId) -> [u8; SUBJECT_HEADER_LEN] {
    let mut out = [0u8; SUBJECT_HEADER_LEN];
    out[0] = SUBJECT_FORMAT_VERSION;
    out[1..].copy_from_slice(id);
    out
}

/// How many unwrapped subject keys a store keeps in memory, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct SubjectKeyCache {
    /// At most this many keys (quick_cache evicts the least useful beyond it).
    pub capacity: usize,
    /// A cached key is used for at most this long before it is read from the table again: the longest a
    /// process keeps using a key that another process shredded.
    pub ttl: Duration,
}

impl Default for SubjectKeyCache {
    /// 10,000 keys for 60 seconds.
    fn default() -> Self {
        SubjectKeyCache {
            capacity: 10_000,
            ttl: Duration::from_secs(60),
        }
    }
}

#[derive(Clone)]
struct Entry {
    key: Arc<SubjectKey>,
    expires: Instant,
}

/// A row of the subject key table to insert: a new subject's first key.
pub(crate) struct NewSubjectKey {
    pub(crate) key: Arc<SubjectKey>,
    pub(crate) token: SubjectToken,
    pub(crate) wrapped: Vec<u8>,
}

/// The subject-key side of a key ring: wrapping, tokens, and the cache of unwrapped keys.
pub(crate) struct SubjectKeys {
    /// Current first.
    wrap: Vec<(u32, Aes256GcmSiv)>,
    /// Current first.
    token: Vec<(u32, Hmac<Sha256>)>,
    by_id: quick_cache::sync::Cache<SubjectKeyId, Entry>,
    by_token: quick_cache::sync::Cache<SubjectToken, Entry>,
    /// Keys created inside a transaction, not known to be committed: only the Redis tier seals with them (its
    /// write-through runs after the commit), never a store write (a rolled-back key would make its values
    /// unreadable).
    tentative: quick_cache::sync::Cache<SubjectToken, Entry>,
    ttl: Duration,
}

impl SubjectKeys {
    pub(crate) fn new(ring: &KeyRing, cache: SubjectKeyCache) -> SubjectKeys {
        let capacity = cache.capacity.max(1);
        SubjectKeys {
            wrap: ring
                .subject_wrap_keys()
                .map(|(id, key)| (id, Aes256GcmSiv::new(key.expose().into())))
                .collect(),
            token: ring
                .subject_token_keys()
                .map(|(id, key)| {
                    let mac = <Hmac<Sha256> as Mac>::new_from_slice(key.expose())
                        .expect("HMAC takes a key of any length");
                    (id, mac)
                })
                .collect(),
            by_id: quick_cache::sync::Cache::new(capacity),
            by_token: quick_cache::sync::Cache::new(capacity),
            tentative: quick_cache::sync::Cache::new(capacity),
            ttl: cache.ttl,
        }
    }

    /// The subject's token under every ring id, the current first (a key created before a rotation is found
    /// by its old token until it is rewrapped).
    pub(crate) fn tokens(&self, subject: &[u8]) -> Vec<SubjectToken> {
        self.token
            .iter()
            .map(|(_, mac)| token_with(mac, subject))
            .collect()
    }

    /// A new random data key for `subject`, with the row that stores it.
    pub(crate) fn create(&self, subject: &[u8]) -> Result<NewSubjectKey, PiiError> {
        let mut id = [0u8; SUBJECT_KEY_ID_LEN];
        getrandom::fill(&mut id).map_err(|e| PiiError::Random(e.to_string()))?;
        let mut bytes = Zeroizing::new([0u8; DATA_KEY_LEN]);
        getrandom::fill(bytes.as_mut()).map_err(|e| PiiError::Random(e.to_string()))?;
        let wrapped = self.wrap(&id, &bytes, subject)?;
        Ok(NewSubjectKey {
            key: Arc::new(SubjectKey::from_bytes(id, &bytes)),
            token: token_with(&self.token[0].1, subject),
            wrapped,
        })
    }

    /// `data_key` and `subject` sealed under the current ring key, bound to the key id.
    fn wrap(
        &self,
        id: &SubjectKeyId,
        data_key: &[u8; DATA_KEY_LEN],
        subject: &[u8],
    ) -> Result<Vec<u8>, PiiError> {
        let (ring_id, cipher) = &self.wrap[0];
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| PiiError::Random(e.to_string()))?;
        let mut out = Vec::with_capacity(4 + NONCE_LEN + DATA_KEY_LEN + subject.len() + TAG_LEN);
        out.extend_from_slice(&ring_id.to_be_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(data_key);
        out.extend_from_slice(subject);
        let tag = cipher
            .encrypt_inout_detached(
                &nonce.into(),
                &wrap_associated_data(id),
                (&mut out[4 + NONCE_LEN..]).into(),
            )
            .map_err(|_| wrap_error("the subject value is too long to wrap", None))?;
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// The data key (and the subject's canonical value) a `wrapped_key` of row `id` holds.
    pub(crate) fn unwrap(
        &self,
        id: &SubjectKeyId,
        wrapped: &[u8],
    ) -> Result<(Arc<SubjectKey>, Subject), PiiError> {
        let (bytes, subject) = self.unwrap_raw(id, wrapped)?;
        Ok((Arc::new(SubjectKey::from_bytes(*id, &bytes)), subject))
    }

    /// The raw data key bytes and the subject's canonical value of a `wrapped_key`, both wiped on drop.
    fn unwrap_raw(
        &self,
        id: &SubjectKeyId,
        wrapped: &[u8],
    ) -> Result<(Zeroizing<[u8; DATA_KEY_LEN]>, Subject), PiiError> {
        if wrapped.len() < 4 + NONCE_LEN + DATA_KEY_LEN + TAG_LEN {
            return Err(wrap_error("a wrapped subject key is too short", None));
        }
        let ring_id = u32::from_be_bytes(wrapped[..4].try_into().expect("4 bytes"));
        let (_, cipher) = self
            .wrap
            .iter()
            .find(|(i, _)| *i == ring_id)
            .ok_or_else(|| {
                wrap_error(
                    "it is wrapped under a key id that is not in the key ring",
                    Some(ring_id),
                )
            })?;
        let (nonce, rest) = wrapped[4..].split_at(NONCE_LEN);
        let (sealed, tag) = rest.split_at(rest.len() - TAG_LEN);
        let mut plain = Zeroizing::new(sealed.to_vec());
        cipher
            .decrypt_inout_detached(
                nonce.try_into().expect("split at the nonce's length"),
                &wrap_associated_data(id),
                plain.as_mut_slice().into(),
                tag.try_into().expect("split at the tag's length"),
            )
            .map_err(|_| {
                wrap_error(
                    "it does not authenticate (tampered, moved to another key id, or other key bytes under the same ring id)",
                    Some(ring_id),
                )
            })?;
        let mut bytes = Zeroizing::new([0u8; DATA_KEY_LEN]);
        bytes.copy_from_slice(&plain[..DATA_KEY_LEN]);
        Ok((bytes, Zeroizing::new(plain[DATA_KEY_LEN..].to_vec())))
    }

    /// The ring key id a `wrapped_key` is under.
    pub(crate) fn wrapped_ring_id(wrapped: &[u8]) -> Option<u32> {
        wrapped
            .get(..4)
            .map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")))
    }

    /// The ring's current id.
    pub(crate) fn current_ring_id(&self) -> u32 {
        self.wrap[0].0
    }

    /// A stored row rewrapped under the current ring key: the new `wrapped_key` and the current token.
    pub(crate) fn rewrap(
        &self,
        id: &SubjectKeyId,
        wrapped: &[u8],
    ) -> Result<(Vec<u8>, SubjectToken), PiiError> {
        let (bytes, subject) = self.unwrap_raw(id, wrapped)?;
        Ok((
            self.wrap(id, &bytes, &subject)?,
            token_with(&self.token[0].1, &subject),
        ))
    }

    /// A cached key by id, if it has not expired.
    pub(crate) fn cached(&self, id: &SubjectKeyId) -> Option<Arc<SubjectKey>> {
        self.by_id
            .get(id)
            .filter(|e| e.expires > Instant::now())
            .map(|e| e.key)
    }

    /// A cached key by any of the subject's tokens, if it has not expired.
    pub(crate) fn cached_for(&self, tokens: &[SubjectToken]) -> Option<Arc<SubjectKey>> {
        let now = Instant::now();
        tokens.iter().find_map(|t| {
            self.by_token
                .get(t)
                .filter(|e| e.expires > now)
                .map(|e| e.key)
        })
    }

    /// Remembers a key read from (or committed to) the table; `token` when the caller knows the subject's.
    pub(crate) fn remember(&self, key: &Arc<SubjectKey>, token: Option<SubjectToken>) {
        let entry = Entry {
            key: key.clone(),
            expires: Instant::now() + self.ttl,
        };
        if let Some(token) = token {
            self.by_token.insert(token, entry.clone());
        }
        self.by_id.insert(key.id, entry);
    }

    /// Remembers a key read or created inside a transaction: by id (a committed row naming it is readable) and
    /// for the Redis tier's sealing only ([`cached_for_redis`](Self::cached_for_redis)).
    pub(crate) fn remember_tentative(&self, key: &Arc<SubjectKey>, token: SubjectToken) {
        let entry = Entry {
            key: key.clone(),
            expires: Instant::now() + self.ttl,
        };
        self.tentative.insert(token, entry.clone());
        self.by_id.insert(key.id, entry);
    }

    /// The key the Redis tier seals a value of the subject with: a committed one, else one created by a
    /// transaction (the tier writes through only after the commit).
    pub(crate) fn cached_for_redis(&self, tokens: &[SubjectToken]) -> Option<Arc<SubjectKey>> {
        self.cached_for(tokens).or_else(|| {
            let now = Instant::now();
            tokens.iter().find_map(|t| {
                self.tentative
                    .get(t)
                    .filter(|e| e.expires > now)
                    .map(|e| e.key)
            })
        })
    }

    /// Forgets the keys of a shredded subject.
    pub(crate) fn forget(&self, ids: &[SubjectKeyId], tokens: &[SubjectToken]) {
        for id in ids {
            self.by_id.remove(id);
        }
        for token in tokens {
            self.by_token.remove(token);
            self.tentative.remove(token);
        }
    }
}

fn token_with(mac: &Hmac<Sha256>, subject: &[u8]) -> SubjectToken {
    let mut mac = mac.clone();
    mac.update(&(TOKEN_DOMAIN.len() as u64).to_be_bytes());
    mac.update(TOKEN_DOMAIN);
    mac.update(&(subject.len() as u64).to_be_bytes());
    mac.update(subject);
    mac.finalize().into_bytes().into()
}

fn wrap_associated_data(id: &SubjectKeyId) -> Vec<u8> {
    let mut data = Vec::with_capacity(WRAP_DOMAIN.len() + SUBJECT_KEY_ID_LEN);
    data.extend_from_slice(WRAP_DOMAIN);
    data.extend_from_slice(id);
    data
}

fn wrap_error(reason: &'static str, ring_key_id: Option<u32>) -> PiiError {
    PiiError::SubjectKeyWrap {
        reason,
        ring_key_id,
    }
}

impl fmt::Debug for SubjectKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::pii::keyring::debug_key_ids(f, "SubjectKeys", self.wrap.iter().map(|(id, _)| *id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pii::SecretKey;

    fn ring(entries: &[(u32, u8)]) -> KeyRing {
        KeyRing::new(
            entries
                .iter()
                .map(|&(id, b)| (id, SecretKey::from_bytes([b; 32])))
                .collect(),
        )
        .unwrap()
    }

    fn ctx() -> FieldContext<'static> {
        FieldContext {
            entity: "app.v1.User",
            field: "email",
            field_number: 2,
            row_key: b"s2:u1;",
        }
    }

    #[test]
    fn a_subject_key_round_trips_and_is_bound_to_its_id_and_row() {
        let keys = SubjectKeys::new(&ring(&[(1, 1)]), SubjectKeyCache::default());
        let new = keys.create(b"s7:canary;").unwrap();
        let sealed = new.key.encrypt(&ctx(), b"canary@example.com").unwrap();
        assert_eq!(sealed.len(), 18 + SUBJECT_OVERHEAD);
        assert_eq!(sealed[0], SUBJECT_FORMAT_VERSION);
        assert_eq!(SubjectKey::key_id(&sealed), Some(new.key.id()));
        assert_eq!(
            new.key.decrypt(&ctx(), &sealed).unwrap().as_slice(),
            b"canary@example.com"
        );
        let other_row = FieldContext {
            row_key: b"s2:u2;",
            ..ctx()
        };
        assert!(matches!(
            new.key.decrypt(&other_row, &sealed),
            Err(PiiError::Authentication { .. })
        ));
        // Another subject's key does not open it.
        let other = keys.create(b"s5:other;").unwrap();
        assert_ne!(other.key.id(), new.key.id());
        assert!(other.key.decrypt(&ctx(), &sealed).is_err());
        // The ring's cipher refuses it with a clear reason.
        let ring_cipher = crate::pii::FieldCipher::new(&ring(&[(1, 1)]));
        let error = ring_cipher.decrypt(&ctx(), &sealed).unwrap_err();
        assert!(error.to_string().contains("data subject's key"), "{error}");
    }

    #[test]
    fn wrapped_keys_unwrap_only_under_their_id_and_rewrap_after_rotation() {
        let old = SubjectKeys::new(&ring(&[(1, 1)]), SubjectKeyCache::default());
        let new = old.create(b"s7:canary;").unwrap();
        assert!(!contains(&new.wrapped, b"canary"));
        let sealed = new.key.encrypt(&ctx(), b"v").unwrap();
        let (key, subject) = old.unwrap(&new.key.id(), &new.wrapped).unwrap();
        assert_eq!(subject.as_slice(), b"s7:canary;");
        assert_eq!(key.decrypt(&ctx(), &sealed).unwrap().as_slice(), b"v");
        // Moved to another key id: refused.
        let error = old.unwrap(&[9; 16], &new.wrapped).unwrap_err();
        assert!(matches!(error, PiiError::SubjectKeyWrap { .. }), "{error}");
        // After a rotation the old wrapping still opens; rewrap moves it (and its token) to the new id.
        let rotated = SubjectKeys::new(&ring(&[(2, 2), (1, 1)]), SubjectKeyCache::default());
        assert_eq!(rotated.tokens(b"s7:canary;")[1], new.token);
        let (rewrapped, token) = rotated.rewrap(&new.key.id(), &new.wrapped).unwrap();
        assert_eq!(SubjectKeys::wrapped_ring_id(&rewrapped), Some(2));
        assert_eq!(token, rotated.tokens(b"s7:canary;")[0]);
        let retired = SubjectKeys::new(&ring(&[(2, 2)]), SubjectKeyCache::default());
        let (key, _) = retired.unwrap(&new.key.id(), &rewrapped).unwrap();
        assert_eq!(key.decrypt(&ctx(), &sealed).unwrap().as_slice(), b"v");
        let error = retired.unwrap(&new.key.id(), &new.wrapped).unwrap_err();
        assert!(error.to_string().contains("key id 1"), "{error}");
    }

    #[test]
    fn the_cache_expires_and_forgets() {
        let keys = SubjectKeys::new(
            &ring(&[(1, 1)]),
            SubjectKeyCache {
                capacity: 4,
                ttl: Duration::from_millis(50),
            },
        );
        let new = keys.create(b"s1:a;").unwrap();
        keys.remember(&new.key, Some(new.token));
        assert!(keys.cached(&new.key.id()).is_some());
        assert!(keys.cached_for(&[new.token]).is_some());
        keys.forget(&[new.key.id()], &[new.token]);
        assert!(keys.cached(&new.key.id()).is_none());
        assert!(keys.cached_for(&[new.token]).is_none());
        keys.remember(&new.key, Some(new.token));
        std::thread::sleep(Duration::from_millis(80));
        assert!(keys.cached(&new.key.id()).is_none());
        assert_eq!(format!("{:?}", new.key), "SubjectKey(<redacted>)");
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }
}
