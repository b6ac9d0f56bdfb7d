//! [`FieldCipher`]: authenticated encryption of one field value, bound to its entity, field and row.
//!
//! **Algorithm.** AES-256-GCM-SIV (RFC 8452, RustCrypto's `aes-gcm-siv`) with a random 96-bit nonce per value,
//! under the field-encryption sub-key of a [`KeyRing`] id. Why not XChaCha20-Poly1305: see `docs/pii.md`
//! (measured here: GCM-SIV is about twice as fast on a 38-byte value with AES-NI, and a repeated nonce only
//! reveals that two identical values under identical row and field are equal, where a repeated
//! XChaCha20-Poly1305 nonce exposes both plaintexts' XOR and the authentication key; it also shares the `aes`
//! crate with the page cursors).
//!
//! **Ciphertext format, version 1** (what is stored in the column), byte by byte:
//!
//! | offset | length | content |
//! |---|---|---|
//! | 0 | 1 | format version, `0x01` |
//! | 1 | 4 | key id, `u32` big-endian |
//! | 5 | 12 | nonce, random |
//! | 17 | *n* | the encrypted value (as long as the plaintext) |
//! | 17 + *n* | 16 | authentication tag |
//!
//! So a value costs 33 bytes more than its plaintext. The length of the plaintext is not hidden.
//!
//! **Version 2** is a value of an entity with a data subject (crypto-shredding), sealed under the subject's own
//! data key instead of the ring's: `0x02`, the 16-byte subject key id, then nonce, value and tag as above (45
//! bytes of overhead). Its associated data is built the same way from its 17-byte header. See
//! [`SubjectKey`](crate::pii::SubjectKey).
//!
//! **Associated data** (authenticated, not stored): the 5 header bytes (version and key id), then the
//! entity's full name (`u64` big-endian length, then UTF-8), the field number (`u32` big-endian) and the row's
//! primary key bytes (`u64` big-endian length, then the bytes). A ciphertext copied into another row, another
//! field or another entity's table, or with its version or key id altered, fails to decrypt with
//! [`PiiError::Authentication`], which names the entity and field. The field *name* is not bound (renaming a
//! field keeps its number, and its values stay readable); the entity's full name is, so renaming a message or
//! its package needs the values re-encrypted ([`FieldCipher::rotate`] under the old context, then encrypt
//! under the new one).

use crate::pii::keyring::debug_key_ids;
use crate::pii::{KeyRing, PiiError};
use aes_gcm_siv::aead::{AeadInOut, KeyInit};
use aes_gcm_siv::{Aes256GcmSiv, Nonce, Tag};
use std::fmt;
use zeroize::Zeroizing;

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;

const HEADER_LEN: usize = 1 + 4;
pub(crate) const NONCE_LEN: usize = 12;
pub(crate) const TAG_LEN: usize = 16;

/// The bytes a ciphertext adds to its plaintext: version, key id, nonce and tag.
pub const OVERHEAD: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;

/// Which value a ciphertext is: the entity, field and row it belongs to. Everything here but the field
/// name is bound into the ciphertext as associated data.
#[derive(Debug, Clone, Copy)]
pub struct FieldContext<'a> {
    /// The entity's full name (`app.v1.User`).
    pub entity: &'a str,
    /// The field's name, for error messages only (not bound, so a rename keeps values readable).
    pub field: &'a str,
    /// The field's number.
    pub field_number: u32,
    /// The row's primary key, in its canonical bytes. Not PII-free in general: it is bound, never shown.
    pub row_key: &'a [u8],
}

impl FieldContext<'_> {
    pub(crate) fn authentication_error(&self) -> PiiError {
        PiiError::Authentication {
            entity: self.entity.to_owned(),
            field: self.field.to_owned(),
            field_number: self.field_number,
        }
    }

    pub(crate) fn malformed(&self, reason: &'static str) -> PiiError {
        PiiError::Malformed {
            entity: self.entity.to_owned(),
            field: self.field.to_owned(),
            reason,
        }
    }

    /// The associated data of a value with `header` in this context (see the [module docs](self)): the header
    /// of either format (version 1's five bytes, or version 2's seventeen), then entity, field number and row.
    pub(crate) fn associated_data(&self, header: &[u8]) -> Vec<u8> {
        let mut data =
            Vec::with_capacity(header.len() + 8 + self.entity.len() + 4 + 8 + self.row_key.len());
        data.extend_from_slice(header);
        data.extend_from_slice(&(self.entity.len() as u64).to_be_bytes());
        data.extend_from_slice(self.entity.as_bytes());
        data.extend_from_slice(&self.field_number.to_be_bytes());
        data.extend_from_slice(&(self.row_key.len() as u64).to_be_bytes());
        data.extend_from_slice(self.row_key);
        data
    }
}

/// `header`, a random nonce, `plaintext` sealed under `cipher` in `ctx`, and the tag: the layout both formats
/// share after their header.
pub(crate) fn seal_with(
    cipher: &Aes256GcmSiv,
    header: &[u8],
    ctx: &FieldContext<'_>,
    plaintext: &[u8],
) -> Result<Vec<u8>, PiiError> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|e| PiiError::Random(e.to_string()))?;
    let mut out = Vec::with_capacity(header.len() + NONCE_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(header);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let body = header.len() + NONCE_LEN;
    let tag = cipher
        .encrypt_inout_detached(
            &Nonce::from(nonce),
            &ctx.associated_data(header),
            (&mut out[body..]).into(),
        )
        // GCM-SIV refuses only plaintexts or associated data over 2^36 bytes, which no column holds.
        .map_err(|_| ctx.malformed("the value is too long to encrypt"))?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// The plaintext of `ciphertext` (which starts with `header_len` header bytes, checked by the caller to be at
/// least a header, a nonce and a tag long) under `cipher` in `ctx`.
pub(crate) fn open_with(
    cipher: &Aes256GcmSiv,
    header_len: usize,
    ctx: &FieldContext<'_>,
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, PiiError> {
    let (header, rest) = ciphertext.split_at(header_len);
    let (nonce, rest) = rest.split_at(NONCE_LEN);
    let (sealed, tag) = rest.split_at(rest.len() - TAG_LEN);
    let mut plaintext = Zeroizing::new(sealed.to_vec());
    let nonce = Nonce::try_from(nonce).expect("split at the nonce's length");
    let tag = Tag::try_from(tag).expect("split at the tag's length");
    cipher
        .decrypt_inout_detached(
            &nonce,
            &ctx.associated_data(header),
            plaintext.as_mut_slice().into(),
            &tag,
        )
        .map_err(|_| ctx.authentication_error())?;
    Ok(plaintext)
}

/// Encrypts field values under a [`KeyRing`]'s current key and decrypts them under any of its keys.
///
/// Build one at start-up and share it (`Send + Sync`; methods take `&self`). The AES key schedules it holds
/// are wiped on drop. `Debug` shows key ids only.
///
/// ```
/// use capacitor::pii::{FieldCipher, FieldContext, KeyRing, SecretKey};
///
/// let ring = KeyRing::new(vec![(1, SecretKey::from_bytes([7; 32]))])?;
/// let cipher = FieldCipher::new(&ring);
/// let ctx = FieldContext { entity: "app.v1.User", field: "email", field_number: 2, row_key: b"u-1" };
/// let stored = cipher.encrypt(&ctx, b"ada@example.com")?;
/// assert_eq!(FieldCipher::key_id(&stored), Some(1));
/// assert_eq!(cipher.decrypt(&ctx, &stored)?.as_slice(), b"ada@example.com");
///
/// // The same bytes in another row do not decrypt.
/// let other_row = FieldContext { row_key: b"u-2", ..ctx };
/// let error = cipher.decrypt(&other_row, &stored).unwrap_err();
/// assert!(error.to_string().starts_with("app.v1.User.email (field 2): the ciphertext does not authenticate"));
/// # Ok::<(), capacitor::pii::PiiError>(())
/// ```
pub struct FieldCipher {
    /// Current first.
    keys: Vec<(u32, Aes256GcmSiv)>,
}

impl FieldCipher {
    /// A cipher over `ring`'s field-encryption sub-keys.
    pub fn new(ring: &KeyRing) -> FieldCipher {
        let keys = ring
            .field_encryption_keys()
            .map(|(id, key)| (id, Aes256GcmSiv::new(key.expose().into())))
            .collect();
        FieldCipher { keys }
    }

    /// The id new values are encrypted under.
    pub fn current_key_id(&self) -> u32 {
        // A KeyRing holds at least one key, so every FieldCipher does.
        self.keys[0].0
    }

    /// `plaintext` encrypted under the current key, bound to `ctx`. Fails only when the operating system's
    /// random generator does ([`PiiError::Random`]).
    pub fn encrypt(&self, ctx: &FieldContext<'_>, plaintext: &[u8]) -> Result<Vec<u8>, PiiError> {
        let (id, cipher) = &self.keys[0];
        seal_with(cipher, &header(*id), ctx, plaintext)
    }

    /// The plaintext of `ciphertext`, if it was encrypted in `ctx` under a key of this ring; wiped when dropped.
    ///
    /// Errors name the entity, field and key id, never the value: [`PiiError::Authentication`] (tampered, moved
    /// from another row, field or entity, or other key bytes under the same id), [`PiiError::UnknownKeyId`],
    /// [`PiiError::UnsupportedVersion`], [`PiiError::Malformed`] (too short, or sealed under a subject's data
    /// key: [`SubjectKey::decrypt`](crate::pii::SubjectKey::decrypt) opens those).
    pub fn decrypt(
        &self,
        ctx: &FieldContext<'_>,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, PiiError> {
        let (_, cipher) = self.cipher_for(ctx, ciphertext)?;
        open_with(cipher, HEADER_LEN, ctx, ciphertext)
    }

    /// `ciphertext` re-encrypted under the current key, or `None` when it already is under it: the step of a
    /// rotation job, which runs it on every stored value before the old id is removed from the ring.
    pub fn rotate(
        &self,
        ctx: &FieldContext<'_>,
        ciphertext: &[u8],
    ) -> Result<Option<Vec<u8>>, PiiError> {
        if FieldCipher::key_id(ciphertext) == Some(self.current_key_id()) {
            // Still authenticate it: a rotation job must not bless a value that would not decrypt.
            self.decrypt(ctx, ciphertext)?;
            return Ok(None);
        }
        let plaintext = self.decrypt(ctx, ciphertext)?;
        self.encrypt(ctx, &plaintext).map(Some)
    }

    /// The key id a ciphertext of this format names, without decrypting it; `None` when it is too short or of
    /// another version.
    pub fn key_id(ciphertext: &[u8]) -> Option<u32> {
        match ciphertext {
            [FORMAT_VERSION, a, b, c, d, ..] if ciphertext.len() >= OVERHEAD => {
                Some(u32::from_be_bytes([*a, *b, *c, *d]))
            }
            _ => None,
        }
    }

    /// The key id and cipher a ciphertext needs, after checking its length and version.
    fn cipher_for(
        &self,
        ctx: &FieldContext<'_>,
        ciphertext: &[u8],
    ) -> Result<(u32, &Aes256GcmSiv), PiiError> {
        match ciphertext.first() {
            None => return Err(ctx.malformed("it is empty")),
            Some(&FORMAT_VERSION) => {}
            Some(&crate::pii::subject::SUBJECT_FORMAT_VERSION) => {
                return Err(ctx
                    .malformed("it is sealed under a data subject's key, not under the key ring"));
            }
            Some(&version) => {
                return Err(PiiError::UnsupportedVersion {
                    entity: ctx.entity.to_owned(),
                    field: ctx.field.to_owned(),
                    version,
                    supported: FORMAT_VERSION,
                });
            }
        }
        let key_id = FieldCipher::key_id(ciphertext)
            .ok_or_else(|| ctx.malformed("it is shorter than the format's header and tag"))?;
        let (_, cipher) = self
            .keys
            .iter()
            .find(|(id, _)| *id == key_id)
            .ok_or_else(|| PiiError::UnknownKeyId {
                entity: ctx.entity.to_owned(),
                field: ctx.field.to_owned(),
                key_id,
            })?;
        Ok((key_id, cipher))
    }
}

fn header(key_id: u32) -> [u8; HEADER_LEN] {
    let [a, b, c, d] = key_id.to_be_bytes();
    [FORMAT_VERSION, a, b, c, d]
}

impl fmt::Debug for FieldCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_key_ids(f, "FieldCipher", self.keys.iter().map(|(id, _)| *id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pii::SecretKey;
    use proptest::prelude::*;
    use std::error::Error as _;

    const CANARY: &[u8] = b"canary-5e1f@example.com";

    fn ring(ids: &[(u32, u8)]) -> KeyRing {
        KeyRing::new(
            ids.iter()
                .map(|&(id, byte)| (id, SecretKey::from_bytes([byte; 32])))
                .collect(),
        )
        .unwrap()
    }

    fn ctx() -> FieldContext<'static> {
        FieldContext {
            entity: "app.v1.User",
            field: "email",
            field_number: 2,
            row_key: b"user-1",
        }
    }

    /// Every rendering of an error: Display, Debug and each `source()` below it.
    fn rendered(error: &PiiError) -> String {
        let mut text = format!("{error} | {error:?}");
        let mut source = error.source();
        while let Some(inner) = source {
            text.push_str(&format!(" | {inner} | {inner:?}"));
            source = inner.source();
        }
        text
    }

    fn assert_no_canary(error: &PiiError) {
        let text = rendered(error);
        assert!(!text.contains("canary"), "{text}");
        assert!(!text.contains("5e1f"), "{text}");
    }

    #[test]
    fn round_trip_and_layout() {
        let cipher = FieldCipher::new(&ring(&[(0x0102_0304, 1)]));
        let stored = cipher.encrypt(&ctx(), CANARY).unwrap();
        assert_eq!(stored.len(), CANARY.len() + OVERHEAD);
        assert_eq!(&stored[..5], &[1, 1, 2, 3, 4]);
        assert!(!stored.windows(6).any(|w| CANARY.windows(6).any(|c| c == w)));
        assert_eq!(cipher.decrypt(&ctx(), &stored).unwrap().as_slice(), CANARY);
        // Random nonces: the same value encrypts differently each time.
        assert_ne!(stored, cipher.encrypt(&ctx(), CANARY).unwrap());
        let empty = cipher.encrypt(&ctx(), b"").unwrap();
        assert_eq!(empty.len(), OVERHEAD);
        assert!(cipher.decrypt(&ctx(), &empty).unwrap().is_empty());
    }

    #[test]
    fn a_moved_ciphertext_fails_naming_entity_and_field() {
        let cipher = FieldCipher::new(&ring(&[(1, 1)]));
        let stored = cipher.encrypt(&ctx(), CANARY).unwrap();
        let moved = [
            FieldContext {
                row_key: b"user-2",
                ..ctx()
            },
            FieldContext {
                row_key: b"",
                ..ctx()
            },
            FieldContext {
                field_number: 3,
                field: "name",
                ..ctx()
            },
            FieldContext {
                entity: "app.v1.Admin",
                ..ctx()
            },
        ];
        for other in moved {
            let error = cipher.decrypt(&other, &stored).unwrap_err();
            assert!(
                matches!(error, PiiError::Authentication { .. }),
                "{error:?}"
            );
            let expected = format!(
                "{}.{} (field {})",
                other.entity, other.field, other.field_number
            );
            assert!(error.to_string().starts_with(&expected), "{error}");
            assert_no_canary(&error);
            assert!(
                !rendered(&error).contains("user-"),
                "the row key is PII-prone: {error}"
            );
        }
        // The field name is not bound: a renamed field still reads.
        let renamed = FieldContext {
            field: "email_address",
            ..ctx()
        };
        assert_eq!(
            cipher.decrypt(&renamed, &stored).unwrap().as_slice(),
            CANARY
        );
    }

    #[test]
    fn length_prefixes_keep_entity_and_row_key_apart() {
        let cipher = FieldCipher::new(&ring(&[(1, 1)]));
        let a = FieldContext {
            entity: "ab",
            field: "f",
            field_number: 1,
            row_key: b"c",
        };
        let b = FieldContext {
            entity: "a",
            field: "f",
            field_number: 1,
            row_key: b"bc",
        };
        let stored = cipher.encrypt(&a, CANARY).unwrap();
        assert!(cipher.decrypt(&b, &stored).is_err());
    }

    #[test]
    fn rotation_writes_under_the_current_key_and_reads_older_ones() {
        let old = FieldCipher::new(&ring(&[(1, 1)]));
        let under_old = old.encrypt(&ctx(), CANARY).unwrap();
        let rotated = FieldCipher::new(&ring(&[(2, 2), (1, 1)]));
        assert_eq!(rotated.current_key_id(), 2);
        assert_eq!(
            rotated.decrypt(&ctx(), &under_old).unwrap().as_slice(),
            CANARY
        );
        let under_new = rotated.encrypt(&ctx(), CANARY).unwrap();
        assert_eq!(FieldCipher::key_id(&under_new), Some(2));
        // The rotation step moves old values to the current key and leaves current ones alone.
        let moved = rotated.rotate(&ctx(), &under_old).unwrap().unwrap();
        assert_eq!(FieldCipher::key_id(&moved), Some(2));
        assert_eq!(rotated.decrypt(&ctx(), &moved).unwrap().as_slice(), CANARY);
        assert_eq!(rotated.rotate(&ctx(), &under_new).unwrap(), None);
        // Once id 1 is dropped, its values name it.
        let retired = FieldCipher::new(&ring(&[(2, 2)]));
        let error = retired.decrypt(&ctx(), &under_old).unwrap_err();
        assert!(
            matches!(error, PiiError::UnknownKeyId { key_id: 1, .. }),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "app.v1.User.email: encrypted under key id 1, which is not in the key ring"
        );
        assert_no_canary(&error);
    }

    #[test]
    fn other_key_bytes_under_the_same_id_fail_authentication() {
        let stored = FieldCipher::new(&ring(&[(1, 1)]))
            .encrypt(&ctx(), CANARY)
            .unwrap();
        let error = FieldCipher::new(&ring(&[(1, 9)]))
            .decrypt(&ctx(), &stored)
            .unwrap_err();
        assert!(
            matches!(error, PiiError::Authentication { .. }),
            "{error:?}"
        );
    }

    #[test]
    fn a_key_id_pointed_at_another_key_fails_authentication() {
        let cipher = FieldCipher::new(&ring(&[(2, 2), (1, 1)]));
        let mut stored = cipher.encrypt(&ctx(), CANARY).unwrap();
        stored[4] = 1;
        let error = cipher.decrypt(&ctx(), &stored).unwrap_err();
        assert!(
            matches!(error, PiiError::Authentication { .. }),
            "{error:?}"
        );
    }

    #[test]
    fn tampering_at_every_byte_and_every_truncation_fails() {
        let cipher = FieldCipher::new(&ring(&[(1, 1)]));
        let stored = cipher.encrypt(&ctx(), CANARY).unwrap();
        for at in 0..stored.len() {
            for flip in [0x01, 0x80, 0xFF] {
                let mut tampered = stored.clone();
                tampered[at] ^= flip;
                let error = cipher.decrypt(&ctx(), &tampered).unwrap_err();
                assert_no_canary(&error);
                assert!(
                    error.to_string().starts_with("app.v1.User.email"),
                    "byte {at}: {error}"
                );
            }
        }
        for len in 0..stored.len() {
            let error = cipher.decrypt(&ctx(), &stored[..len]).unwrap_err();
            assert_no_canary(&error);
        }
        let mut extended = stored.clone();
        extended.push(0);
        assert!(cipher.decrypt(&ctx(), &extended).is_err());
    }

    #[test]
    fn versions_and_short_inputs_have_their_own_errors() {
        let cipher = FieldCipher::new(&ring(&[(1, 1)]));
        let mut stored = cipher.encrypt(&ctx(), CANARY).unwrap();
        // Version 2 is a value under a data subject's key: the ring's cipher names that, not the version.
        stored[0] = 2;
        let error = cipher.decrypt(&ctx(), &stored).unwrap_err();
        assert!(
            matches!(error, PiiError::Malformed { reason, .. } if reason.contains("data subject")),
            "{error:?}"
        );
        stored[0] = 3;
        let error = cipher.decrypt(&ctx(), &stored).unwrap_err();
        assert!(
            matches!(
                error,
                PiiError::UnsupportedVersion {
                    version: 3,
                    supported: 1,
                    ..
                }
            ),
            "{error:?}"
        );
        let error = cipher.decrypt(&ctx(), &[]).unwrap_err();
        assert!(matches!(error, PiiError::Malformed { .. }), "{error:?}");
        let error = cipher.decrypt(&ctx(), &[1, 0, 0, 0, 1, 9]).unwrap_err();
        assert!(matches!(error, PiiError::Malformed { .. }), "{error:?}");
        assert_eq!(FieldCipher::key_id(&[1, 0, 0, 0, 1]), None);
    }

    #[test]
    fn debug_shows_key_ids_only() {
        let key = SecretKey::from_bytes([0xAB; 32]);
        let ring = KeyRing::new(vec![(5, key), (4, SecretKey::from_bytes([0xCD; 32]))]).unwrap();
        let cipher = FieldCipher::new(&ring);
        let shown = format!("{cipher:?} {cipher:#?} {ring:?}");
        assert_eq!(
            format!("{cipher:?}"),
            "FieldCipher { current: 5, ids: [5, 4] }"
        );
        for bytes in ["ab, ab", "171", "abab", "ABAB", "cdcd", "205"] {
            assert!(!shown.contains(bytes), "{shown}");
        }
    }

    proptest! {
        #[test]
        fn any_value_round_trips_in_any_context(
            value in proptest::collection::vec(any::<u8>(), 0..200),
            entity in "[a-z.A-Z]{1,30}",
            field_number in 1u32..536_870_911,
            row_key in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let cipher = FieldCipher::new(&ring(&[(3, 3)]));
            let ctx = FieldContext { entity: &entity, field: "f", field_number, row_key: &row_key };
            let stored = cipher.encrypt(&ctx, &value).unwrap();
            let opened = cipher.decrypt(&ctx, &stored).unwrap();
            prop_assert_eq!(opened.as_slice(), value.as_slice());
            let other = FieldContext { field_number: field_number + 1, ..ctx };
            prop_assert!(cipher.decrypt(&other, &stored).is_err());
        }
    }
}
