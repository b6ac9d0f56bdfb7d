//! The keys the stores and the Redis tier encrypt an entity's `encrypt` fields with, and the two places a
//! value leaves the process: a SQL column (one field's ciphertext) and a Redis payload (the protobuf encoding of
//! the whole message, with each encrypted field's bytes replaced by their ciphertext).
//!
//! A [`Store`](crate::Store) holds one [`Encryption`] (given with
//! [`Store::with_keyring`](crate::Store::with_keyring) or read from `CAPACITOR_KEYRING` /
//! `CAPACITOR_KEYRING_FILE` when the store is opened); the repository hands the same keys to its Redis tier.
//! An entity with encrypted fields on a store without keys is refused with [`Error::Config`] naming the entity,
//! before any write: a value is never written in plaintext for want of a key.
//!
//! Each ciphertext is bound to the entity, the field number and the row's primary key ([`row_key`]), so a
//! value copied into another row or field fails to decrypt with an error naming entity and field.

// The SQL stores hold the keys (the Redis tier gets them from its store): without a SQL store, parts are unused.
#![cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]

use crate::error::Error;
use crate::record::{Column, ColumnWriter, Record};
use crate::schema::EntitySchema;

/// The canonical bytes of a row's primary key that every ciphertext of the row is bound to: the key columns'
/// [`Column::write_token`] texts, concatenated. Frozen: changing it would make every stored value unreadable.
pub(crate) fn row_key<E: Record>(key: &E::Key) -> Vec<u8> {
    struct Tokens(String);
    impl ColumnWriter for Tokens {
        fn column<T: Column>(&mut self, value: &T) {
            value.write_token(&mut self.0);
        }
    }
    let mut out = Tokens(String::new());
    E::write_key(key, &mut out);
    out.0.into_bytes()
}

#[cfg_attr(not(feature = "encryption"), allow(dead_code))]
/// The canonical value of `value`'s data subject (crypto-shredding): the [`Column::write_token`] text of the
/// field `E::SCHEMA.subject` names; `None` for an entity without a subject. Frozen: subject tokens are keyed
/// hashes of it.
pub(crate) fn subject_of<E: Record>(value: &E) -> Option<String> {
    let subject = E::SCHEMA.subject?;
    let position =
        crate::schema::columns::row_fields(E::SCHEMA.fields).position(|f| f.number == subject)?;
    struct Pick {
        at: usize,
        want: usize,
        out: Option<String>,
    }
    impl ColumnWriter for Pick {
        fn column<T: Column>(&mut self, value: &T) {
            if self.at == self.want {
                let mut text = String::new();
                value.write_token(&mut text);
                self.out = Some(text);
            }
            self.at += 1;
        }
    }
    let mut pick = Pick {
        at: 0,
        want: position,
        out: None,
    };
    value.write_row(&mut pick);
    pick.out
}

/// The canonical value of a subject given by the caller (`shred_subject`): the same text as [`subject_of`].
#[cfg_attr(not(feature = "encryption"), allow(dead_code))]
pub(crate) fn subject_token_text<T: Column>(subject: &T) -> String {
    let mut text = String::new();
    subject.write_token(&mut text);
    text
}

/// Whether `schema` has a field stored encrypted.
pub(crate) fn has_encrypted_fields(schema: &EntitySchema) -> bool {
    schema.fields.iter().any(|f| f.encrypt)
}

/// The field-encryption keys of a store (none when it was given no key ring): cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct Encryption {
    #[cfg(feature = "encryption")]
    keys: Option<std::sync::Arc<FieldKeys>>,
}

/// A key ring's field cipher, built once.
#[cfg(feature = "encryption")]
pub(crate) struct FieldKeys {
    pub(crate) cipher: super::FieldCipher,
    pub(crate) index: super::BlindIndex,
    /// How many key ids the ring has: a blind index lookup matches a token under each.
    pub(crate) key_ids: usize,
    /// Crypto-shredding: wrapping, tokens and the cache of per-subject data keys.
    pub(crate) subjects: super::subject::SubjectKeys,
}

/// A subject's data key, shared (nothing without the `encryption` feature, where no entity has keys).
#[cfg(feature = "encryption")]
pub(crate) type SubjectKeyRef = std::sync::Arc<super::subject::SubjectKey>;
/// See above.
#[cfg(not(feature = "encryption"))]
pub(crate) type SubjectKeyRef = std::convert::Infallible;

/// The subject keys a batch of rows names, read before the rows are decoded: `None` for a key id that is not
/// in the subject key table (shredded).
pub(crate) type SubjectSet = std::collections::HashMap<[u8; 16], Option<SubjectKeyRef>>;

impl Encryption {
    /// Encryption under `ring`'s keys.
    #[cfg(feature = "encryption")]
    pub(crate) fn new(ring: &super::KeyRing) -> Encryption {
        Encryption::with_subject_cache(ring, Default::default())
    }

    /// Encryption under `ring`'s keys, caching unwrapped subject keys as `cache` says.
    #[cfg(feature = "encryption")]
    pub(crate) fn with_subject_cache(
        ring: &super::KeyRing,
        cache: super::subject::SubjectKeyCache,
    ) -> Encryption {
        Encryption {
            keys: Some(std::sync::Arc::new(FieldKeys {
                cipher: super::FieldCipher::new(ring),
                index: super::BlindIndex::new(ring),
                key_ids: ring.ids().count(),
                subjects: super::subject::SubjectKeys::new(ring, cache),
            })),
        }
    }

    /// The subject-key side of the key ring (crypto-shredding), when the store has one.
    #[cfg(feature = "encryption")]
    pub(crate) fn subjects(&self) -> Option<&super::subject::SubjectKeys> {
        self.keys.as_deref().map(|k| &k.subjects)
    }

    /// The key ring in `CAPACITOR_KEYRING` (or the file `CAPACITOR_KEYRING_FILE` names), if one is set; none
    /// without the `encryption` feature. A key ring that does not parse is [`Error::Config`].
    pub(crate) fn from_env() -> Result<Encryption, Error> {
        #[cfg(feature = "encryption")]
        {
            match super::KeyRing::from_env() {
                Ok(Some(ring)) => Ok(Encryption::new(&ring)),
                Ok(None) => Ok(Encryption::default()),
                Err(e) => Err(Error::Config(format!("key ring: {e}"))),
            }
        }
        #[cfg(not(feature = "encryption"))]
        Ok(Encryption::default())
    }

    /// The keys to encrypt `E`'s fields with: `None` when `E` has no encrypted field; [`Error::Config`] naming
    /// the entity when it has some and there are no keys (or the runtime lacks the `encryption` feature).
    pub(crate) fn for_entity<E: Record>(&self) -> Result<Option<EntityKeys<'_>>, Error> {
        let schema = E::SCHEMA;
        if !has_encrypted_fields(schema) {
            return Ok(None);
        }
        #[cfg(feature = "encryption")]
        if let Some(keys) = &self.keys {
            let entity = match schema.package {
                "" => schema.message.to_owned(),
                package => format!("{package}.{}", schema.message),
            };
            return Ok(Some(EntityKeys {
                keys,
                schema,
                entity,
                subject: None,
                loaded: None,
            }));
        }
        Err(Error::Config(missing_keys(schema)))
    }
}

fn missing_keys(schema: &EntitySchema) -> String {
    if cfg!(feature = "encryption") {
        format!(
            "entity `{}` has encrypted fields and its store has no key ring: give one with \
             `Store::with_keyring` or set CAPACITOR_KEYRING (or CAPACITOR_KEYRING_FILE) before opening the store",
            schema.message
        )
    } else {
        format!(
            "entity `{}` has encrypted fields and the capacitor runtime was built without its `encryption` feature",
            schema.message
        )
    }
}

/// One entity's view of the keys; the only way to reach them is through an entity with encrypted fields.
#[derive(Clone)]
pub(crate) struct EntityKeys<'a> {
    #[cfg(feature = "encryption")]
    keys: &'a FieldKeys,
    #[cfg_attr(not(feature = "encryption"), allow(dead_code))]
    schema: &'static EntitySchema,
    /// The entity's full name, bound into every ciphertext.
    #[cfg_attr(not(feature = "encryption"), allow(dead_code))]
    entity: String,
    /// Crypto-shredding: the data key of the row being written, for an entity with a subject.
    #[cfg(feature = "encryption")]
    subject: Option<SubjectKeyRef>,
    /// Crypto-shredding: the subject keys read for the rows being decoded.
    #[cfg(feature = "encryption")]
    loaded: Option<&'a SubjectSet>,
    /// Without the feature no keys exist, so no `EntityKeys` can be made.
    #[cfg(not(feature = "encryption"))]
    never: std::convert::Infallible,
    #[cfg(not(feature = "encryption"))]
    _keys: std::marker::PhantomData<&'a ()>,
}

/// Without the `encryption` feature an `EntityKeys` cannot exist ([`Encryption::for_entity`] refuses every
/// entity with encrypted fields), so these are never called; they let the stores compile with any features.
#[cfg(not(feature = "encryption"))]
impl<'a> EntityKeys<'a> {
    pub(crate) fn sealing_under(self, _: Option<SubjectKeyRef>) -> Self {
        match self.never {}
    }

    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn sealing_cached<E: Record>(self, _: &E) -> Self {
        match self.never {}
    }

    pub(crate) fn with_loaded<'b>(self, _: &'b SubjectSet) -> EntityKeys<'b>
    where
        'a: 'b,
    {
        match self.never {}
    }

    pub(crate) fn seal(
        &self,
        _: &'static crate::schema::FieldSchema,
        _: &[u8],
        _: &[u8],
    ) -> Result<Vec<u8>, super::PiiError> {
        match self.never {}
    }

    pub(crate) fn open(
        &self,
        _: &'static crate::schema::FieldSchema,
        _: &[u8],
        _: &[u8],
    ) -> Result<Vec<u8>, super::PiiError> {
        match self.never {}
    }

    #[cfg_attr(not(feature = "redis"), allow(dead_code))] // the Redis tier's
    pub(crate) fn seal_message(&self, _: &[u8], _: &[u8]) -> Result<Vec<u8>, super::PiiError> {
        match self.never {}
    }

    pub(crate) fn blind_token(&self, _: u32, _: u16, _: &[u8]) -> Vec<u8> {
        match self.never {}
    }

    pub(crate) fn lookup_tokens(&self, _: u32, _: u16, _: &[u8]) -> Vec<Vec<u8>> {
        match self.never {}
    }

    pub(crate) fn key_ids(&self) -> usize {
        match self.never {}
    }

    pub(crate) fn is_current(&self, _: &[u8]) -> bool {
        match self.never {}
    }

    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn open_message(&self, _: &[u8], _: &[u8]) -> Result<Vec<u8>, super::PiiError> {
        match self.never {}
    }
}

#[cfg(feature = "encryption")]
impl<'a> EntityKeys<'a> {
    fn context<'c>(
        &'c self,
        field: &'static crate::schema::FieldSchema,
        row_key: &'c [u8],
    ) -> super::FieldContext<'c> {
        super::FieldContext {
            entity: &self.entity,
            field: field.name,
            field_number: field.number,
            row_key,
        }
    }

    /// `plaintext` of `field` in the row `row_key`, encrypted under the current key; for an entity with a data
    /// subject, under the subject's data key ([`sealing_under`](Self::sealing_under)).
    pub(crate) fn seal(
        &self,
        field: &'static crate::schema::FieldSchema,
        row_key: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, super::PiiError> {
        let ctx = self.context(field, row_key);
        if self.schema.subject.is_some() {
            return match &self.subject {
                Some(key) => key.encrypt(&ctx, plaintext),
                None => Err(super::PiiError::SubjectKeyNotLoaded {
                    entity: self.entity.clone(),
                    field: field.name.to_owned(),
                }),
            };
        }
        self.keys.cipher.encrypt(&ctx, plaintext)
    }

    /// These keys sealing a row under `key`, its data subject's key.
    pub(crate) fn sealing_under(mut self, key: Option<SubjectKeyRef>) -> Self {
        self.subject = key;
        self
    }

    /// These keys opening values under the subject keys of `loaded` (read for the rows being decoded).
    pub(crate) fn with_loaded<'b>(self, loaded: &'b SubjectSet) -> EntityKeys<'b>
    where
        'a: 'b,
    {
        EntityKeys {
            loaded: Some(loaded),
            ..self
        }
    }

    /// `value`'s data subject's key from the cache, for a Redis payload (the store's write put it there).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn sealing_cached<E: Record>(self, value: &E) -> Self {
        let key = subject_of(value).and_then(|subject| {
            let tokens = self.keys.subjects.tokens(subject.as_bytes());
            self.keys.subjects.cached_for_redis(&tokens)
        });
        self.sealing_under(key)
    }

    /// The subject key a version 2 `ciphertext` names, from the rows' loaded set or the cache.
    fn subject_key(
        &self,
        field: &'static crate::schema::FieldSchema,
        id: &super::subject::SubjectKeyId,
    ) -> Result<std::sync::Arc<super::subject::SubjectKey>, super::PiiError> {
        if let Some(loaded) = self.loaded
            && let Some(found) = loaded.get(id)
        {
            return found
                .clone()
                .ok_or_else(|| super::PiiError::SubjectKeyDestroyed {
                    entity: self.entity.clone(),
                    field: field.name.to_owned(),
                });
        }
        self.keys
            .subjects
            .cached(id)
            .ok_or_else(|| super::PiiError::SubjectKeyNotLoaded {
                entity: self.entity.clone(),
                field: field.name.to_owned(),
            })
    }

    /// The plaintext of `field`'s `ciphertext` in the row `row_key`.
    pub(crate) fn open(
        &self,
        field: &'static crate::schema::FieldSchema,
        row_key: &[u8],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, super::PiiError> {
        let ctx = self.context(field, row_key);
        let mut plaintext = match super::SubjectKey::key_id(ciphertext) {
            Some(id) => self.subject_key(field, &id)?.decrypt(&ctx, ciphertext)?,
            None => self.keys.cipher.decrypt(&ctx, ciphertext)?,
        };
        // Moved out (the buffer left behind is empty): the value becomes the entity's field, which owns it.
        Ok(std::mem::take(&mut *plaintext))
    }

    fn index_context(&self, field: u32, bits: u16) -> super::IndexContext<'_> {
        super::IndexContext {
            entity: &self.entity,
            fields: std::slice::from_ref(
                &self
                    .schema
                    .fields
                    .iter()
                    .find(|f| f.number == field)
                    .expect("a field of the entity")
                    .number,
            ),
            width: super::Width::bits(bits),
        }
    }

    /// The blind index token to store for `value` of field `field` (`bits` wide), under the current key.
    pub(crate) fn blind_token(&self, field: u32, bits: u16, value: &[u8]) -> Vec<u8> {
        let ctx = self.index_context(field, bits);
        self.keys.index.token(&ctx, value).as_bytes().to_vec()
    }

    /// The tokens to look `value` up by: one per key id of the ring, current first ([`key_ids`](Self::key_ids)).
    pub(crate) fn lookup_tokens(&self, field: u32, bits: u16, value: &[u8]) -> Vec<Vec<u8>> {
        let ctx = self.index_context(field, bits);
        self.keys
            .index
            .lookup_tokens(&ctx, value)
            .iter()
            .map(|t| t.as_bytes().to_vec())
            .collect()
    }

    /// How many key ids the ring has.
    pub(crate) fn key_ids(&self) -> usize {
        self.keys.key_ids
    }

    /// Whether `ciphertext` is sealed as a new write would seal it: under the ring's current key id, or, for an
    /// entity with a data subject, under a subject key (which a ring rotation rewraps instead:
    /// `Store::rewrap_subject_keys`).
    pub(crate) fn is_current(&self, ciphertext: &[u8]) -> bool {
        if self.schema.subject.is_some() {
            return super::SubjectKey::key_id(ciphertext).is_some();
        }
        super::FieldCipher::key_id(ciphertext) == Some(self.keys.cipher.current_key_id())
    }

    /// The protobuf encoding `encoded` of a row with each encrypted field's bytes replaced by their ciphertext
    /// (the Redis payload).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))] // the Redis tier's
    pub(crate) fn seal_message(
        &self,
        row_key: &[u8],
        encoded: &[u8],
    ) -> Result<Vec<u8>, super::PiiError> {
        crate::wire::rewrite(
            self.schema,
            encoded,
            |f| f.encrypt,
            |field, bytes| self.seal(field, row_key, bytes),
            || self.malformed(),
        )
    }

    fn malformed(&self) -> super::PiiError {
        super::PiiError::Malformed {
            entity: self.schema.message.to_owned(),
            field: "(message)".to_owned(),
            reason: "the cached protobuf encoding is malformed",
        }
    }

    /// The inverse of [`seal_message`](Self::seal_message).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn open_message(
        &self,
        row_key: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, super::PiiError> {
        crate::wire::rewrite(
            self.schema,
            sealed,
            |f| f.encrypt,
            |field, bytes| self.open(field, row_key, bytes),
            || self.malformed(),
        )
    }
}
