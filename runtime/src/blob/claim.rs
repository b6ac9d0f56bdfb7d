//! The claim check: how a claim-checked field's value is stored, and the blob store a SQL store and its Redis
//! tier move big values to.
//!
//! A claim-checked field's **stored form** (its column, and its bytes in a Redis or outbox payload) is the value
//! followed by one byte: `0` when the value is at most the field's threshold (the value is inline), `1` after a
//! [`BlobRef`] (40 bytes) when it is above: the value is the blob the reference names. Putting the tag last lets a
//! read drop it without moving the value. An unset optional value is NULL (absent from a payload), as for any
//! field.
//!
//! A blob is named `<table>/<field number>/<sha256 hex>`: content addressing makes a retried or duplicated
//! write cost nothing (the object is the same), and the prefix lets garbage collection and erasure work one
//! field at a time.
//!
//! A field that is also encrypted (`encrypt`) is **sealed** everywhere: its blob holds the value sealed as its
//! column would seal it (same key, same binding to entity, field number and row key, a fresh nonce), the
//! reference is computed over that ciphertext (so the fetch check is unchanged and object names reveal
//! nothing), and the stored form itself is sealed in the column and in payloads. Such a blob is never shared:
//! every write of the field uploads a new one.

// The SQL stores move and read blobs (the Redis tier gets them from its store): without one, parts are unused.
#![cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]

use super::{BlobRef, BlobStore};
use crate::error::{DecodeError, Error, Tier};
use crate::pii::field_keys::EntityKeys;
// Blob store failures are the store's: a claim-checked value is part of its row.
use crate::record::{Column, ColumnWriter, Record, Sealable};
use crate::schema::{EntitySchema, FieldSchema};
use std::collections::HashMap;
use std::sync::Arc;

/// The last byte of an inline stored form.
const INLINE: u8 = 0;
/// The last byte of a reference's stored form.
const REFERENCE: u8 = 1;

/// What a stored form holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stored<'a> {
    /// The value itself.
    Inline(&'a [u8]),
    /// The blob holding the value.
    Reference(BlobRef),
}

impl<'a> Stored<'a> {
    /// The stored form `bytes` of `field` decoded; a [`DecodeError`] naming the field when it is not one.
    pub(crate) fn parse(field: &FieldSchema, bytes: &'a [u8]) -> Result<Stored<'a>, DecodeError> {
        match bytes.split_last() {
            Some((&INLINE, value)) => Ok(Stored::Inline(value)),
            Some((&REFERENCE, reference)) => BlobRef::from_bytes(reference)
                .map(Stored::Reference)
                .ok_or_else(|| not_stored_form(field)),
            _ => Err(not_stored_form(field)),
        }
    }
}

fn not_stored_form(field: &FieldSchema) -> DecodeError {
    DecodeError::new(format!(
        "field `{}` (claim-checked) holds no stored form (a value or a blob reference followed by its tag byte)",
        field.name
    ))
}

fn malformed(schema: &EntitySchema) -> DecodeError {
    DecodeError::new(format!(
        "a payload of `{}` is not a valid protobuf encoding",
        schema.message
    ))
}

/// The stored form of an inline value.
pub(crate) fn inline(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 1);
    out.extend_from_slice(value);
    out.push(INLINE);
    out
}

/// The stored form of a reference.
pub(crate) fn reference(reference: &BlobRef) -> Vec<u8> {
    let mut out = Vec::with_capacity(BlobRef::ENCODED_LEN + 1);
    out.extend_from_slice(&reference.to_bytes());
    out.push(REFERENCE);
    out
}

/// The values of `value`'s claim-checked fields above their thresholds (copied once: the blob store takes them
/// after the row is walked), `plan` naming the field of each `write_row` column call that is claim-checked.
pub(crate) fn values_to_move<E: Record>(
    value: &E,
    plan: &[Option<&'static FieldSchema>],
) -> Vec<(&'static FieldSchema, Vec<u8>)> {
    struct Capture<'p> {
        plan: &'p [Option<&'static FieldSchema>],
        at: usize,
        out: Vec<(&'static FieldSchema, Vec<u8>)>,
    }
    impl ColumnWriter for Capture<'_> {
        fn column<T: Column>(&mut self, value: &T) {
            let at = self.at;
            self.at += 1;
            if let Some(Some(field)) = self.plan.get(at)
                && let Sealable::Bytes(bytes) = value.sealable()
                && field.claim_check.is_some_and(|t| bytes.len() as u64 > t)
            {
                self.out.push((field, bytes.to_vec()));
            }
        }
    }
    let mut capture = Capture {
        plan,
        at: 0,
        out: Vec::new(),
    };
    value.write_row(&mut capture);
    capture.out
}

/// A payload (a Redis entry's or an outbox row's) from the protobuf encoding of a value: each
/// claim-checked field's bytes replaced by their stored form, the reference of a value above the threshold
/// taken from `offloaded` (the write's) or computed. The blob must exist: it is written before any row that
/// names it, and a cached value was read from such a row or written after it.
///
/// A sealed (encrypted) field's reference cannot be computed from its value (it is the SHA-256 of a
/// ciphertext under a random nonce): without `offloaded` it is looked up in `sealed` (the references this
/// process wrote or read for `row_key`), and `Ok(None)` says that it is not known here (the caller caches no
/// value rather than one naming a blob that may not exist). The sealing of the encrypted fields, stored forms
/// included, is the caller's, after this.
pub(crate) fn store_payload(
    schema: &'static EntitySchema,
    encoded: &[u8],
    offloaded: Option<&Offloaded>,
    sealed: Option<(&SealedRefs, &[u8])>,
) -> Result<Option<Vec<u8>>, DecodeError> {
    let mut unknown = false;
    let payload = crate::wire::rewrite(
        schema,
        encoded,
        |f| f.claim_check.is_some(),
        |field, value| {
            let moved = match offloaded.and_then(|o| o.get(field.number).copied()) {
                Some(r) => Some(r),
                None if field.encrypt => match EntityBlobs::is_above(field, value) {
                    false => None,
                    true => {
                        let known = sealed
                            .and_then(|(refs, row_key)| refs.get(schema, field, row_key, value));
                        unknown |= known.is_none();
                        // A placeholder, never cached: the whole payload is dropped below.
                        Some(known.unwrap_or(BlobRef::of(&[])))
                    }
                },
                None => EntityBlobs::reference_of(field, value),
            };
            Ok(match moved {
                Some(r) => reference(&r),
                None => inline(value),
            })
        },
        || malformed(schema),
    )?;
    Ok((!unknown).then_some(payload))
}

/// The references of the sealed blobs this process wrote or read lately, by entity, field, row key and the
/// SHA-256 of the value: what lets the Redis tier cache a sealed claim-checked value (its reference cannot be
/// recomputed from the value). In memory only, bounded; a value it no longer knows is not cached in Redis.
pub(crate) struct SealedRefs(quick_cache::sync::Cache<[u8; 32], BlobRef>);

impl Default for SealedRefs {
    fn default() -> Self {
        SealedRefs(quick_cache::sync::Cache::new(SEALED_REFS))
    }
}

/// How many sealed references [`SealedRefs`] keeps.
const SEALED_REFS: usize = 10_000;

impl SealedRefs {
    fn slot(schema: &EntitySchema, field: &FieldSchema, row_key: &[u8], value: &[u8]) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for part in [
            schema.package.as_bytes(),
            schema.message.as_bytes(),
            row_key,
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        h.update(field.number.to_be_bytes());
        h.update(value);
        h.finalize().into()
    }

    /// Remembers that `reference` is a blob sealing `value` of `field` in the row `row_key`.
    pub(crate) fn remember(
        &self,
        schema: &EntitySchema,
        field: &FieldSchema,
        row_key: &[u8],
        value: &[u8],
        reference: BlobRef,
    ) {
        self.0
            .insert(Self::slot(schema, field, row_key, value), reference);
    }

    /// A blob known to seal `value` of `field` in the row `row_key`.
    pub(crate) fn get(
        &self,
        schema: &EntitySchema,
        field: &FieldSchema,
        row_key: &[u8],
        value: &[u8],
    ) -> Option<BlobRef> {
        self.0.get(&Self::slot(schema, field, row_key, value))
    }
}

/// The value a sealed blob of `field` holds, opened under `open` (the keys and the row key of its row).
pub(crate) fn open_blob(
    schema: &EntitySchema,
    field: &'static FieldSchema,
    open: Option<(&EntityKeys<'_>, &[u8])>,
    blob: &[u8],
) -> Result<Vec<u8>, DecodeError> {
    let Some((keys, row_key)) = open else {
        return Err(DecodeError::new(format!(
            "`{}`: field `{}` is encrypted and no keys were given to open its blob",
            schema.message, field.name
        )));
    };
    keys.open(field, row_key, blob)
        .map_err(DecodeError::encryption)
}

/// Whether `schema` has a claim-checked field.
pub(crate) fn has_claim_checked(schema: &EntitySchema) -> bool {
    schema.fields.iter().any(|f| f.claim_check.is_some())
}

/// The blob store of a SQL store (none unless one was given): cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct Blobs {
    store: Option<Arc<dyn BlobStore>>,
    /// The references of sealed blobs lately written or read (shared with the Redis tier).
    sealed: Arc<SealedRefs>,
}

impl Blobs {
    /// Blobs kept in `store`.
    pub(crate) fn new(store: Arc<dyn BlobStore>) -> Blobs {
        Blobs {
            store: Some(store),
            sealed: Arc::default(),
        }
    }

    /// `E`'s view of the blob store: `None` when `E` has no claim-checked field; [`Error::Config`] naming the
    /// entity when it has one and there is no blob store.
    pub(crate) fn for_entity(
        &self,
        schema: &'static EntitySchema,
    ) -> Result<Option<EntityBlobs<'_>>, Error> {
        if !has_claim_checked(schema) {
            return Ok(None);
        }
        match &self.store {
            Some(store) => Ok(Some(EntityBlobs {
                store: store.as_ref(),
                schema,
                sealed: &self.sealed,
            })),
            None => Err(Error::Config(format!(
                "entity `{}` has claim-checked fields and its store has no blob store: give one with \
                 `Store::with_blob_store` (e.g. `capacitor::blob::ObjectStoreBlobs`, feature `blob-store`)",
                schema.message
            ))),
        }
    }
}

/// One entity's view of the blob store.
#[derive(Clone, Copy)]
pub(crate) struct EntityBlobs<'a> {
    store: &'a dyn BlobStore,
    schema: &'static EntitySchema,
    sealed: &'a Arc<SealedRefs>,
}

/// The values a write moved to the blob store: per claim-checked field number, the reference its column and
/// payloads hold.
#[derive(Debug, Default, Clone)]
pub(crate) struct Offloaded(Vec<(u32, BlobRef)>);

impl Offloaded {
    /// The reference of field `number`'s value, when it was moved.
    pub(crate) fn get(&self, number: u32) -> Option<&BlobRef> {
        self.0.iter().find(|(n, _)| *n == number).map(|(_, r)| r)
    }
}

/// Blobs read for a batch of rows or payloads, each handed out once per reference that names it (the last
/// hand-out moves the bytes instead of copying them).
#[derive(Default)]
pub(crate) struct Fetched {
    blobs: HashMap<BlobRef, (usize, Vec<u8>)>,
    /// Where the references of sealed blobs opened from these are remembered.
    sealed: Option<Arc<SealedRefs>>,
}

impl Fetched {
    /// The references of sealed blobs lately written or read, when these were read from a blob store.
    pub(crate) fn sealed(&self) -> Option<&SealedRefs> {
        self.sealed.as_deref()
    }

    /// The value of `reference` for `field`.
    pub(crate) fn take(
        &mut self,
        field: &FieldSchema,
        reference: &BlobRef,
    ) -> Result<Vec<u8>, DecodeError> {
        let entry = self.blobs.get_mut(reference).ok_or_else(|| {
            DecodeError::new(format!(
                "field `{}`: blob {reference} was not read before the row",
                field.name
            ))
        })?;
        entry.0 -= 1;
        Ok(match entry.0 {
            0 => std::mem::take(&mut entry.1),
            _ => entry.1.clone(),
        })
    }
}

impl EntityBlobs<'_> {
    /// The object name of `reference` for `field`.
    pub(crate) fn object_key(&self, field: &FieldSchema, reference: &BlobRef) -> String {
        format!("{}/{}/{}", self.schema.table, field.number, reference.hex())
    }

    /// The object name prefix of `field`'s blobs.
    pub(crate) fn field_prefix(&self, field: &FieldSchema) -> String {
        format!("{}/{}/", self.schema.table, field.number)
    }

    /// The reference of `value` for `field` when it is above the field's threshold (a field that is not
    /// encrypted: a sealed blob's reference is its ciphertext's).
    pub(crate) fn reference_of(field: &FieldSchema, value: &[u8]) -> Option<BlobRef> {
        Self::is_above(field, value).then(|| BlobRef::of(value))
    }

    /// Whether `value` is above `field`'s threshold (moved to the blob store).
    pub(crate) fn is_above(field: &FieldSchema, value: &[u8]) -> bool {
        field.claim_check.is_some_and(|t| value.len() as u64 > t)
    }

    /// The references of sealed blobs this process wrote or read lately.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))] // the Redis tier's
    pub(crate) fn sealed(&self) -> &SealedRefs {
        self.sealed
    }

    /// Writes every value of `values` above its field's threshold to the blob store (all of them concurrently)
    /// and returns their references. Called before the row is written: a crash in between leaves an orphan blob,
    /// never a row without its blob. An encrypted field's value is sealed first under `seal` (the keys the row
    /// is sealed under and its row key), its reference computed over the ciphertext.
    pub(crate) async fn offload(
        &self,
        values: Vec<(&'static FieldSchema, Vec<u8>)>,
        seal: Option<(&EntityKeys<'_>, &[u8])>,
    ) -> Result<Offloaded, Error> {
        let mut moved = Vec::with_capacity(values.len());
        let mut uploads = Vec::with_capacity(values.len());
        for (field, value) in values {
            if !Self::is_above(field, &value) {
                continue;
            }
            let bytes = match (field.encrypt, seal) {
                (false, _) => value,
                (true, Some((keys, row_key))) => {
                    let sealed =
                        keys.seal(field, row_key, &value)
                            .map_err(|source| Error::Encryption {
                                entity: self.schema.message,
                                source,
                            })?;
                    self.sealed
                        .remember(self.schema, field, row_key, &value, BlobRef::of(&sealed));
                    sealed
                }
                // Never reached: an entity with encrypted fields has keys or is refused before any write.
                (true, None) => {
                    return Err(Error::Config(format!(
                        "entity `{}`: field `{}` is encrypted and no keys were given to seal its blob",
                        self.schema.message, field.name
                    )));
                }
            };
            let reference = BlobRef::of(&bytes);
            moved.push((field.number, reference));
            uploads.push((field, reference, bytes));
        }
        let puts = uploads
            .into_iter()
            .map(|(field, reference, bytes)| async move {
                let key = self.object_key(field, &reference);
                self.store
                    .put(&key, bytes)
                    .await
                    .map_err(|e| self.error(field, &reference, e.to_string()))
            });
        futures_util::future::try_join_all(puts).await?;
        Ok(Offloaded(moved))
    }

    /// Reads the blobs `references` name (each once, all concurrently). A missing blob is
    /// [`Error::MissingBlob`] naming the entity, the field and the reference.
    pub(crate) async fn fetch(
        &self,
        references: Vec<(&'static FieldSchema, BlobRef)>,
    ) -> Result<Fetched, Error> {
        let mut wanted: HashMap<BlobRef, (&'static FieldSchema, usize)> = HashMap::new();
        for (field, reference) in references {
            wanted.entry(reference).or_insert((field, 0)).1 += 1;
        }
        let gets = wanted
            .into_iter()
            .map(|(reference, (field, uses))| async move {
                let key = self.object_key(field, &reference);
                let bytes = self
                    .store
                    .get(&key)
                    .await
                    .map_err(|e| self.error(field, &reference, e.to_string()))?
                    .ok_or(Error::MissingBlob {
                        entity: self.schema.message,
                        field: field.name,
                        reference: reference.to_string(),
                    })?;
                if BlobRef::of(&bytes) != reference {
                    return Err(self.error(
                        field,
                        &reference,
                        "the blob's content does not match its reference (SHA-256 and length)"
                            .to_owned(),
                    ));
                }
                Ok::<_, Error>((reference, (uses, bytes)))
            });
        let fetched = futures_util::future::try_join_all(gets).await?;
        Ok(Fetched {
            blobs: fetched.into_iter().collect(),
            sealed: Some(self.sealed.clone()),
        })
    }

    /// Removes `reference`'s blob of `field`.
    pub(crate) async fn delete(
        &self,
        field: &FieldSchema,
        reference: &BlobRef,
    ) -> Result<(), Error> {
        self.store
            .delete(&self.object_key(field, reference))
            .await
            .map_err(|e| self.error(field, reference, e.to_string()))
    }

    /// The blob store.
    pub(crate) fn store(&self) -> &dyn BlobStore {
        self.store
    }

    /// The references a payload's stored forms hold.
    pub(crate) fn payload_references(
        &self,
        payload: &[u8],
    ) -> Result<Vec<(&'static FieldSchema, BlobRef)>, DecodeError> {
        let mut out = Vec::new();
        crate::wire::visit(
            self.schema,
            payload,
            |f| f.claim_check.is_some(),
            |field, stored| {
                if let Stored::Reference(r) = Stored::parse(field, stored)? {
                    out.push((field, r));
                }
                Ok(())
            },
            || self.malformed(),
        )?;
        Ok(out)
    }

    /// The protobuf encoding a payload stands for: each stored form replaced by its value (a reference's from
    /// `fetched`). The payload's encrypted fields must be opened first; a sealed blob is opened under `open`
    /// (the keys and the row key the payload was opened with).
    pub(crate) fn resolve_payload(
        &self,
        payload: &[u8],
        fetched: &mut Fetched,
        open: Option<(&EntityKeys<'_>, &[u8])>,
    ) -> Result<Vec<u8>, DecodeError> {
        crate::wire::rewrite(
            self.schema,
            payload,
            |f| f.claim_check.is_some(),
            |field, stored| match Stored::parse(field, stored)? {
                Stored::Inline(value) => Ok(value.to_vec()),
                Stored::Reference(r) => {
                    let blob = fetched.take(field, &r)?;
                    match field.encrypt {
                        false => Ok(blob),
                        true => open_blob(self.schema, field, open, &blob),
                    }
                }
            },
            || self.malformed(),
        )
    }

    fn malformed(&self) -> DecodeError {
        malformed(self.schema)
    }

    fn error(&self, field: &FieldSchema, reference: &BlobRef, reason: String) -> Error {
        Error::backend(
            self.schema.message,
            Tier::Store,
            format!("field `{}`, blob {reference}: {reason}", field.name),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::*;

    const fn bytes_field(number: u32, name: &'static str, encrypt: bool) -> FieldSchema {
        FieldSchema {
            number,
            name,
            column: Some(name),
            oneof: None,
            ty: FieldType::Scalar(Scalar::Bytes),
            label: Label::Implicit,
            pii: None,
            redacted: false,
            encrypt,
            blind_index_bits: None,
            claim_check: Some(4),
        }
    }

    const SCHEMA: EntitySchema = EntitySchema {
        package: "t.v1",
        message: "Doc",
        table: "docs",
        backend: Backend::Sqlite,
        consistency: Consistency::Strong,
        cache: None,
        primary_key: &[],
        fields: &[
            bytes_field(1, "plain", false),
            bytes_field(2, "sealed", true),
        ],
        indexes: &[],
        outbox: None,
        subject: None,
    };

    /// Field 1 = `plain`, field 2 = `sealed`, both length-delimited.
    fn encoded(plain: &[u8], sealed: &[u8]) -> Vec<u8> {
        let mut out = vec![0x0a, plain.len() as u8];
        out.extend_from_slice(plain);
        out.extend([0x12, sealed.len() as u8]);
        out.extend_from_slice(sealed);
        out
    }

    #[test]
    fn a_sealed_reference_comes_from_the_write_or_what_this_process_remembers() {
        let value = encoded(b"big plain", b"big sealed");
        let refs = SealedRefs::default();
        // Unknown: no payload (the Redis tier writes a fence), never a reference computed from the value.
        assert_eq!(
            store_payload(&SCHEMA, &value, None, Some((&refs, b"k1"))).unwrap(),
            None
        );
        let remembered = BlobRef::of(b"ciphertext");
        refs.remember(&SCHEMA, &SCHEMA.fields[1], b"k1", b"big sealed", remembered);
        // Bound to the row: another row's equal value is still unknown.
        assert_eq!(
            store_payload(&SCHEMA, &value, None, Some((&refs, b"k2"))).unwrap(),
            None
        );
        let payload = store_payload(&SCHEMA, &value, None, Some((&refs, b"k1")))
            .unwrap()
            .expect("remembered");
        assert_eq!(
            payload,
            encoded(
                &reference(&BlobRef::of(b"big plain")),
                &reference(&remembered)
            )
        );
        // The write's own references win; small values stay inline.
        let offloaded = Offloaded(vec![(2, BlobRef::of(b"other"))]);
        let payload = store_payload(&SCHEMA, &value, Some(&offloaded), None)
            .unwrap()
            .expect("the write's");
        assert_eq!(
            payload,
            encoded(
                &reference(&BlobRef::of(b"big plain")),
                &reference(&BlobRef::of(b"other"))
            )
        );
        let small = encoded(b"abc", b"de");
        assert_eq!(
            store_payload(&SCHEMA, &small, None, None).unwrap(),
            Some(encoded(&inline(b"abc"), &inline(b"de")))
        );
    }
}
