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

// The SQL stores move and read blobs (the Redis tier gets them from its store): without one, parts are unused.
#![cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]

use super::{BlobRef, BlobStore};
use crate::error::{DecodeError, Error, Tier};
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
pub(crate) fn store_payload(
    schema: &'static EntitySchema,
    encoded: &[u8],
    offloaded: Option<&Offloaded>,
) -> Result<Vec<u8>, DecodeError> {
    crate::wire::rewrite(
        schema,
        encoded,
        |f| f.claim_check.is_some(),
        |field, value| {
            let moved = offloaded
                .and_then(|o| o.get(field.number).copied())
                .or_else(|| EntityBlobs::reference_of(field, value));
            Ok(match moved {
                Some(r) => reference(&r),
                None => inline(value),
            })
        },
        || malformed(schema),
    )
}

/// Whether `schema` has a claim-checked field.
pub(crate) fn has_claim_checked(schema: &EntitySchema) -> bool {
    schema.fields.iter().any(|f| f.claim_check.is_some())
}

/// The blob store of a SQL store (none unless one was given): cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct Blobs {
    store: Option<Arc<dyn BlobStore>>,
}

impl Blobs {
    /// Blobs kept in `store`.
    pub(crate) fn new(store: Arc<dyn BlobStore>) -> Blobs {
        Blobs { store: Some(store) }
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
pub(crate) struct Fetched(HashMap<BlobRef, (usize, Vec<u8>)>);

impl Fetched {
    /// The value of `reference` for `field`.
    pub(crate) fn take(
        &mut self,
        field: &FieldSchema,
        reference: &BlobRef,
    ) -> Result<Vec<u8>, DecodeError> {
        let entry = self.0.get_mut(reference).ok_or_else(|| {
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

    /// The reference of `value` for `field` when it is above the field's threshold.
    pub(crate) fn reference_of(field: &FieldSchema, value: &[u8]) -> Option<BlobRef> {
        let threshold = field.claim_check?;
        (value.len() as u64 > threshold).then(|| BlobRef::of(value))
    }

    /// Writes every value of `values` above its field's threshold to the blob store (all of them concurrently)
    /// and returns their references. Called before the row is written: a crash in between leaves an orphan blob,
    /// never a row without its blob.
    pub(crate) async fn offload(
        &self,
        values: Vec<(&'static FieldSchema, Vec<u8>)>,
    ) -> Result<Offloaded, Error> {
        let mut moved = Vec::with_capacity(values.len());
        let puts: Vec<_> = values
            .into_iter()
            .filter_map(|(field, value)| {
                let reference = Self::reference_of(field, &value)?;
                moved.push((field.number, reference));
                Some(async move {
                    let key = self.object_key(field, &reference);
                    self.store
                        .put(&key, value)
                        .await
                        .map_err(|e| self.error(field, &reference, e.to_string()))
                })
            })
            .collect();
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
        Ok(Fetched(fetched.into_iter().collect()))
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
    /// `fetched`).
    pub(crate) fn resolve_payload(
        &self,
        payload: &[u8],
        fetched: &mut Fetched,
    ) -> Result<Vec<u8>, DecodeError> {
        crate::wire::rewrite(
            self.schema,
            payload,
            |f| f.claim_check.is_some(),
            |field, stored| match Stored::parse(field, stored)? {
                Stored::Inline(value) => Ok(value.to_vec()),
                Stored::Reference(r) => fetched.take(field, &r),
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
