//! The operations of a SQL store, written once for both dialects: `sql_store!` expands them for one driver
//! (the dialects differ only in types, in the driver that runs a statement and in the statements' text).

/// Expands a store type over one driver. Parameters: the store type, the driver's pool, connection, arguments
/// and row types, the column hooks (`bind`, `read` of [`Column`](crate::record::Column)), the module of the
/// driver's functions and the [`Dialect`](super::Dialect).
///
/// The driver module provides, on its own types: `Error` (a [`StoreFailure`](super::StoreFailure)),
/// `Transaction` (dereferencing to the connection, rolled back when dropped), `acquire(&pool)`, `begin(&pool)`,
/// `commit(tx)`, `fetch_optional` / `fetch_all` / `fetch_one(&mut conn, sql, args)` and `unique_violation(&e)`
/// (the message and constraint of a unique violation).
macro_rules! sql_store {
    ($store:ident, $pool:ty, $conn:ty, $args:ty, $row:ty, $bind:ident, $read:ident, $driver:ident, $dialect:expr) => {
        use crate::blob::claim::{self, Blobs, Fetched, Offloaded, Stored};
        use crate::error::{BoxError, DecodeError, Error, Tier};
        use crate::pii::field_keys::{Encryption, EntityKeys, row_key};
        use crate::record::{Column, ColumnReader, ColumnWriter, Record, Sealable, next_version};
        use crate::schema::FieldSchema;
        use crate::store::Page;
        use crate::store::sql::{StatementCache, Statements};
        use crate::versioned::Versioned;
        use std::sync::Arc;

        /// A SQL store: a connection pool, the statements of each entity it has served and the keys its
        /// entities' encrypted fields are sealed under.
        pub(crate) struct $store {
            pub(crate) pool: $pool,
            statements: StatementCache,
            pub(crate) encryption: Encryption,
            /// Where claim-checked values above their threshold live.
            pub(crate) blobs: Blobs,
            /// Change feed wake-ups (see [`crate::outbox::wake`]): Postgres notifies them, SQLite feeds poll.
            #[allow(dead_code)]
            pub(crate) wakeups: crate::outbox::wake::Wakeups,
        }

        /// Binds a statement's values through the `Column` hooks; the first failure is kept for `finish`.
        /// A row writer also encrypts the row's encrypted columns (see [`Writer::row`]).
        pub(super) struct Writer<'k> {
            args: $args,
            error: Option<BoxError>,
            seal: Option<Sealing<'k>>,
            lookup: Option<Lookup<'k>>,
            claims: Option<ClaimWrite<'k>>,
        }

        /// Which columns of a row are claim-checked, and the references of the values moved to the blob store.
        struct ClaimWrite<'k> {
            /// Per `write_row` column call, the field when it is claim-checked.
            plan: &'k [Option<&'static FieldSchema>],
            offloaded: &'k Offloaded,
            at: usize,
        }

        /// Which columns of a row are claim-checked, and the blobs read for them.
        struct ClaimRead<'k> {
            /// Per `read_row` column call, the field when it is claim-checked.
            plan: &'k [Option<&'static FieldSchema>],
            fetched: &'k mut Fetched,
            at: usize,
            schema: &'static crate::schema::EntitySchema,
        }

        /// The field `plan` names for the next column call, if any (advancing past the call).
        fn next_in_plan(
            plan: &[Option<&'static FieldSchema>],
            at: &mut usize,
        ) -> Option<&'static FieldSchema> {
            let here = *at;
            *at += 1;
            plan.get(here).copied().flatten()
        }

        /// The values of an index lookup: an encrypted field's value is bound as its blind index tokens.
        struct Lookup<'k> {
            keys: EntityKeys<'k>,
            /// Per index value, its field's blind index width when it has one.
            blind: Vec<Option<(u32, u16)>>,
            at: usize,
        }

        /// Which columns of a row are encrypted, and under which keys and row key.
        struct Sealing<'k> {
            keys: EntityKeys<'k>,
            /// Per `write_row`/`read_row` column call, the field when it is encrypted.
            plan: &'k [Option<&'static FieldSchema>],
            row_key: Vec<u8>,
            /// The next column call.
            at: usize,
            /// The row's blind index fields and widths, and the tokens computed as their values pass.
            blind: &'k [(&'static FieldSchema, u16)],
            tokens: Vec<Option<Vec<u8>>>,
        }

        impl Sealing<'_> {
            /// The encrypted field of the next column call, if it is one.
            fn next_field(&mut self) -> Option<&'static FieldSchema> {
                next_in_plan(self.plan, &mut self.at)
            }
        }

        impl ColumnWriter for Writer<'_> {
            fn column<T: Column>(&mut self, value: &T) {
                if self.error.is_some() {
                    return;
                }
                if let Some(claims) = &mut self.claims
                    && let Some(field) = next_in_plan(claims.plan, &mut claims.at)
                {
                    // An encrypted claim-checked field's column holds its stored form sealed.
                    let mut seal = self.seal.as_mut().and_then(|seal| {
                        let encrypted = seal.next_field();
                        encrypted.map(|_| seal)
                    });
                    let stored: Result<Option<Vec<u8>>, BoxError> = match value.sealable() {
                        Sealable::Bytes(bytes) => match claims.offloaded.get(field.number) {
                            Some(reference) => Ok(Some(claim::reference(reference))),
                            None if field.claim_check.is_some_and(|t| bytes.len() as u64 > t) => {
                                Err(format!(
                                    "field `{}`: a value above the claim check threshold was not moved to the blob store",
                                    field.name
                                )
                                .into())
                            }
                            None => Ok(Some(claim::inline(bytes))),
                        },
                        Sealable::Null => Ok(None),
                        Sealable::Unsupported => {
                            Err(format!("field `{}` cannot be claim-checked", field.name).into())
                        }
                    };
                    let stored = stored.and_then(|stored| match (stored, seal.as_mut()) {
                        (Some(stored), Some(seal)) => seal
                            .keys
                            .seal(field, &seal.row_key, &stored)
                            .map(Some)
                            .map_err(BoxError::from),
                        (stored, _) => Ok(stored),
                    });
                    if let Err(e) = stored.and_then(|stored| stored.$bind(&mut self.args)) {
                        self.error = Some(e);
                    }
                    return;
                }
                if let Some(seal) = &mut self.seal
                    && let Some(field) = seal.next_field()
                {
                    let sealed: Result<Option<Vec<u8>>, BoxError> = match value.sealable() {
                        Sealable::Bytes(plaintext) => {
                            if let Some(at) = seal
                                .blind
                                .iter()
                                .position(|(f, _)| f.number == field.number)
                            {
                                let bits = seal.blind[at].1;
                                seal.tokens[at] =
                                    Some(seal.keys.blind_token(field.number, bits, plaintext));
                            }
                            seal.keys
                                .seal(field, &seal.row_key, plaintext)
                                .map(Some)
                                .map_err(BoxError::from)
                        }
                        Sealable::Null => Ok(None),
                        Sealable::Unsupported => {
                            Err(format!("field `{}` cannot be encrypted", field.name).into())
                        }
                    };
                    if let Err(e) = sealed.and_then(|ciphertext| ciphertext.$bind(&mut self.args)) {
                        self.error = Some(e);
                    }
                    return;
                }
                if let Some(lookup) = &mut self.lookup {
                    let at = lookup.at;
                    lookup.at += 1;
                    if let Some(Some((field, bits))) = lookup.blind.get(at).copied() {
                        let tokens: Vec<Option<Vec<u8>>> = match value.sealable() {
                            Sealable::Bytes(value) => lookup
                                .keys
                                .lookup_tokens(field, bits, value)
                                .into_iter()
                                .map(Some)
                                .collect(),
                            // NULL equals nothing, as for a plain column.
                            _ => vec![None; lookup.keys.key_ids()],
                        };
                        for token in tokens {
                            if let Err(e) = token.$bind(&mut self.args) {
                                self.error = Some(e);
                            }
                        }
                        return;
                    }
                }
                if let Err(e) = value.$bind(&mut self.args) {
                    self.error = Some(e);
                }
            }
        }

        impl<'k> Writer<'k> {
            pub(super) fn new() -> Self {
                Writer {
                    args: <$args>::default(),
                    error: None,
                    seal: None,
                    lookup: None,
                    claims: None,
                }
            }

            /// A writer for the values of a lookup on `index` (an encrypted field's as blind index tokens).
            pub(super) fn lookup(
                index: &crate::schema::IndexSchema,
                keys: Option<EntityKeys<'k>>,
                st: &Statements,
            ) -> Self {
                let mut w = Writer::new();
                w.lookup = keys.map(|keys| Lookup {
                    keys,
                    blind: index
                        .fields
                        .iter()
                        .map(|n| {
                            st.blind
                                .iter()
                                .find(|(f, _)| f.number == *n)
                                .map(|(f, bits)| (f.number, *bits))
                        })
                        .collect(),
                    at: 0,
                });
                w
            }

            /// A writer with `value`'s row columns bound (its encrypted fields sealed under `keys`, its
            /// claim-checked fields in their stored form, `offloaded` naming the values moved to the blob store).
            fn row<E: Record>(
                value: &E,
                keys: Option<EntityKeys<'k>>,
                st: &'k Statements,
                offloaded: &'k Offloaded,
            ) -> Self {
                let mut w = Writer::new();
                w.claims = (!st.claim_positions.is_empty()).then(|| ClaimWrite {
                    plan: &st.claimed_at,
                    offloaded,
                    at: 0,
                });
                w.seal = keys.map(|keys| Sealing {
                    keys,
                    plan: &st.encrypted_at,
                    row_key: row_key::<E>(&value.key()),
                    at: 0,
                    blind: &st.blind,
                    tokens: vec![None; st.blind.len()],
                });
                value.write_row(&mut w);
                w.claims = None;
                // The blind index columns follow the row's; key and version columns bound after them are never
                // encrypted.
                if let Some(seal) = w.seal.take() {
                    for token in seal.tokens {
                        w.column(&token);
                    }
                }
                w
            }

            pub(super) fn int(&mut self, value: i64) {
                if self.error.is_none() {
                    if let Err(e) = self.args.add(value) {
                        self.error = Some(e);
                    }
                }
            }

            /// [`finish`](Self::finish) for a statement on a runtime table (`name`), not an entity's.
            #[allow(dead_code)]
            pub(super) fn finish_named(self, name: &'static str) -> Result<$args, Error> {
                match self.error {
                    None => Ok(self.args),
                    Some(e) => Err(Error::backend(
                        name,
                        Tier::Store,
                        crate::store::sql::bind_failure(e),
                    )),
                }
            }

            pub(super) fn finish<E: Record>(self) -> Result<$args, Error> {
                match self.error {
                    None => Ok(self.args),
                    Some(e) => Err(Error::backend(
                        E::SCHEMA.message,
                        Tier::Store,
                        crate::store::sql::bind_failure(e),
                    )),
                }
            }
        }

        struct Reader<'r, 'k> {
            row: &'r $row,
            index: usize,
            open: Option<Sealing<'k>>,
            claims: Option<ClaimRead<'k>>,
            /// Whether a ciphertext read is under another key id than the ring's current one.
            stale: bool,
        }

        impl ColumnReader for Reader<'_, '_> {
            fn column<T: Column>(&mut self) -> Result<T, DecodeError> {
                let at = self.index;
                if let Some(claims) = &mut self.claims
                    && let Some(field) = next_in_plan(claims.plan, &mut claims.at)
                {
                    // An encrypted claim-checked field: its column and its blob are sealed.
                    let open = self.open.as_mut().and_then(|open| {
                        let encrypted = open.next_field();
                        encrypted.map(|_| &*open)
                    });
                    let Some(mut stored) = Option::<Vec<u8>>::$read(self.row, &mut self.index)?.flatten()
                    else {
                        return T::unseal(None);
                    };
                    if let Some(open) = open {
                        self.stale |= !open.keys.is_current(&stored);
                        stored = open
                            .keys
                            .open(field, &open.row_key, &stored)
                            .map_err(DecodeError::encryption)?;
                    }
                    return match Stored::parse(field, &stored)? {
                        Stored::Inline(_) => {
                            // The value is the stored form without its tag byte: no copy.
                            stored.pop();
                            T::unseal(Some(stored))
                        }
                        Stored::Reference(reference) => {
                            let blob = claims.fetched.take(field, &reference)?;
                            let Some(open) = open else {
                                return T::unseal(Some(blob));
                            };
                            let value = claim::open_blob(
                                claims.schema,
                                field,
                                Some((&open.keys, &open.row_key)),
                                &blob,
                            )?;
                            // Remembered for the Redis tier's payload of this value.
                            if let Some(sealed) = claims.fetched.sealed() {
                                sealed.remember(claims.schema, field, &open.row_key, &value, reference);
                            }
                            T::unseal(Some(value))
                        }
                    };
                }
                if let Some(open) = &mut self.open
                    && let Some(field) = open.next_field()
                {
                    let ciphertext = Option::<Vec<u8>>::$read(self.row, &mut self.index)?.flatten();
                    if let Some(c) = &ciphertext {
                        self.stale |= !open.keys.is_current(c);
                    }
                    let plaintext = ciphertext
                        .map(|c| open.keys.open(field, &open.row_key, &c))
                        .transpose()
                        .map_err(DecodeError::encryption)?;
                    return T::unseal(plaintext);
                }
                T::$read(self.row, &mut self.index)?
                    .ok_or_else(|| DecodeError::new(format!("column {at}: unexpected NULL")))
            }
        }

        /// Reads a row's primary key columns, wherever they are in the row (an encrypted row is bound to its
        /// key, which must be known before its encrypted columns are read).
        struct KeyReader<'r> {
            row: &'r $row,
            positions: &'r [usize],
            at: usize,
        }

        impl ColumnReader for KeyReader<'_> {
            fn column<T: Column>(&mut self) -> Result<T, DecodeError> {
                let mut index = *self
                    .positions
                    .get(self.at)
                    .ok_or_else(|| DecodeError::new("more key columns than the primary key has"))?;
                self.at += 1;
                let at = index;
                T::$read(self.row, &mut index)?
                    .ok_or_else(|| DecodeError::new(format!("column {at}: unexpected NULL")))
            }
        }

        pub(super) fn store_error<E: Record>(e: impl crate::store::sql::StoreFailure) -> Error {
            e.into_error(E::SCHEMA)
        }

        /// The error of a row write: a unique violation on a blind index column becomes
        /// [`Error::UniqueViolation`] naming the index (the driver's text, which may carry the token, is
        /// dropped); anything else is a store error.
        fn write_error<E: Record>(st: &Statements, e: $driver::Error) -> Error {
            if let Some((message, constraint)) = $driver::unique_violation(&e) {
                let schema = E::SCHEMA;
                let blind = st.blind.iter().find_map(|(field, bits)| {
                    let unique = *bits == crate::schema::columns::FULL_BLIND_INDEX_BITS;
                    let column =
                        crate::schema::columns::blind_index_column(*field, unique, $dialect)?.name;
                    // Postgres names the constraint (the index), SQLite the column (`table.column`).
                    let hit = message.contains(&format!(".{column}"))
                        || constraint.is_some_and(|c| {
                            schema
                                .indexes
                                .iter()
                                .any(|i| i.name == c && i.fields.contains(&field.number))
                        });
                    hit.then(|| {
                        schema.indexes.iter().find(|i| {
                            i.kind == crate::schema::IndexKind::Unique
                                && i.fields.contains(&field.number)
                        })
                    })
                    .flatten()
                });
                if let Some(index) = blind {
                    return Error::UniqueViolation {
                        entity: schema.message,
                        index: index.name,
                    };
                }
            }
            store_error::<E>(e)
        }

        fn version_of(row: &$row, at: usize) -> Result<u64, DecodeError> {
            row.try_get::<i64, _>(at).map(|v| v as u64).map_err(|e| {
                DecodeError::new(format!(
                    "_version: {}",
                    crate::record::DecodeReason::reason(&e)
                ))
            })
        }

        /// A row's value and its `_version` (the column after the row's), its encrypted fields opened under
        /// `keys`, its claim-checked fields' blobs taken from `fetched` ([`fetch_blobs`]($store::fetch_blobs)).
        pub(super) fn decode_row<E: Record>(
            row: &$row,
            keys: Option<EntityKeys<'_>>,
            st: &Statements,
            fetched: &mut Fetched,
        ) -> Result<(E, u64), Error> {
            decode_row_checked(row, keys, st, fetched).map(|(value, version, _)| (value, version))
        }

        /// [`decode_row`], and whether a ciphertext of the row is under an older key id than the current one.
        fn decode_row_checked<E: Record>(
            row: &$row,
            keys: Option<EntityKeys<'_>>,
            st: &Statements,
            fetched: &mut Fetched,
        ) -> Result<(E, u64, bool), Error> {
            let open = match keys {
                None => None,
                Some(keys) => {
                    let mut key_reader = KeyReader {
                        row,
                        positions: &st.key_positions,
                        at: 0,
                    };
                    let key = E::read_key(&mut key_reader).map_err(store_error::<E>)?;
                    Some(Sealing {
                        keys,
                        plan: &st.encrypted_at,
                        row_key: row_key::<E>(&key),
                        at: 0,
                        blind: &[],
                        tokens: Vec::new(),
                    })
                }
            };
            let mut reader = Reader {
                row,
                index: 0,
                open,
                claims: (!st.claim_positions.is_empty()).then(|| ClaimRead {
                    plan: &st.claimed_at,
                    fetched,
                    at: 0,
                    schema: E::SCHEMA,
                }),
                stale: false,
            };
            let value = E::read_row(&mut reader).map_err(store_error::<E>)?;
            let version = version_of(row, reader.index).map_err(store_error::<E>)?;
            Ok((value, version, reader.stale))
        }

        /// The row key of `row` (what its ciphertexts are bound to).
        fn row_key_of<E: Record>(st: &Statements, row: &$row) -> Result<Vec<u8>, Error> {
            let mut key_reader = KeyReader {
                row,
                positions: &st.key_positions,
                at: 0,
            };
            let key = E::read_key(&mut key_reader).map_err(store_error::<E>)?;
            Ok(row_key::<E>(&key))
        }

        /// The blob references a row's claim-checked columns hold (only `only`'s when given), an encrypted
        /// one's opened under `keys` (with the row's subject keys loaded). A sealed column that does not open
        /// names no blob here (`Skip`, for a read: decoding the row reports the failure) or fails the call
        /// (`Fail`).
        fn row_references<E: Record>(
            st: &Statements,
            row: &$row,
            keys: Option<&EntityKeys<'_>>,
            unopened: Unopened,
            only: Option<&FieldSchema>,
        ) -> Result<Vec<(&'static FieldSchema, crate::blob::BlobRef)>, Error> {
            let mut out = Vec::new();
            let mut row_key = None;
            for (at, field) in &st.claim_positions {
                if only.is_some_and(|only| only.number != field.number) {
                    continue;
                }
                let mut index = *at;
                let stored = Option::<Vec<u8>>::$read(row, &mut index)
                    .map_err(store_error::<E>)?
                    .flatten();
                let Some(mut stored) = stored else {
                    continue;
                };
                if field.encrypt {
                    let Some(keys) = keys else {
                        continue;
                    };
                    if row_key.is_none() {
                        row_key = Some(row_key_of::<E>(st, row)?);
                    }
                    let bound = row_key.as_deref().unwrap_or_default();
                    stored = match keys.open(field, bound, &stored) {
                        Ok(opened) => opened,
                        Err(crate::pii::PiiError::SubjectKeyDestroyed { .. }) => continue,
                        Err(source) => match unopened {
                            Unopened::Skip => continue,
                            Unopened::Fail => {
                                return Err(Error::Encryption {
                                    entity: E::SCHEMA.message,
                                    source,
                                });
                            }
                        },
                    };
                }
                if let Stored::Reference(r) =
                    Stored::parse(field, &stored).map_err(store_error::<E>)?
                {
                    out.push((*field, r));
                }
            }
            Ok(out)
        }

        /// What [`row_references`] does with a sealed column that does not open (other than for a shredded
        /// subject, whose values no row can name any more: always skipped).
        #[derive(Clone, Copy)]
        enum Unopened {
            Skip,
            Fail,
        }

        fn key_args<E: Record>(key: &E::Key, writer: &mut Writer) {
            E::write_key(key, writer);
        }

        impl $store {
            pub(crate) fn new(pool: $pool, encryption: Encryption) -> Self {
                $store {
                    pool,
                    statements: StatementCache::default(),
                    encryption,
                    blobs: Blobs::default(),
                    wakeups: crate::outbox::wake::Wakeups::default(),
                }
            }

            /// The same pool under other keys (and the same blob store).
            #[cfg(feature = "encryption")]
            pub(crate) fn with_encryption(&self, encryption: Encryption) -> Self {
                $store {
                    blobs: self.blobs.clone(),
                    ..$store::new(self.pool.clone(), encryption)
                }
            }

            /// The same pool and keys over another blob store.
            pub(crate) fn with_blobs(&self, blobs: Blobs) -> Self {
                $store {
                    blobs,
                    ..$store::new(self.pool.clone(), self.encryption.clone())
                }
            }

            /// Writes `value`'s claim-checked values above their thresholds to the blob store, before the row
            /// that names them, an encrypted field's sealed under `keys` (those the row is sealed under);
            /// nothing for an entity without claim-checked fields.
            async fn offload<E: Record>(
                &self,
                st: &Statements,
                value: &E,
                keys: Option<&EntityKeys<'_>>,
            ) -> Result<Offloaded, Error> {
                if st.claim_positions.is_empty() {
                    return Ok(Offloaded::default());
                }
                match self.blobs.for_entity(E::SCHEMA)? {
                    None => Ok(Offloaded::default()),
                    Some(blobs) => {
                        let row_key = keys.map(|_| row_key::<E>(&value.key()));
                        let seal = keys.zip(row_key.as_deref());
                        blobs
                            .offload(claim::values_to_move(value, &st.claimed_at), seal)
                            .await
                    }
                }
            }

            /// Reads the blobs the claim-checked columns of `rows` name (all of them at once), for
            /// [`decode_row`], sealed columns opened under the subject keys `subjects` (read for the rows
            /// first); nothing for an entity without claim-checked fields.
            pub(super) async fn fetch_blobs<E: Record>(
                &self,
                st: &Statements,
                rows: &[$row],
                subjects: &crate::pii::field_keys::SubjectSet,
            ) -> Result<Fetched, Error> {
                if st.claim_positions.is_empty() {
                    return Ok(Fetched::default());
                }
                let Some(blobs) = self.blobs.for_entity(E::SCHEMA)? else {
                    return Ok(Fetched::default());
                };
                let keys = self.keys::<E>()?.map(|k| k.with_loaded(subjects));
                let mut references = Vec::new();
                for row in rows {
                    references.extend(row_references::<E>(
                        st,
                        row,
                        keys.as_ref(),
                        Unopened::Skip,
                        None,
                    )?);
                }
                match references.is_empty() {
                    true => Ok(Fetched::default()),
                    false => blobs.fetch(references).await,
                }
            }

            /// Deletes the row of `key` for an erasure, and then the blobs of its claim-checked values that no
            /// other row of the entity names (content addressing lets rows share one). Returns the deleted
            /// row's version, and what became of its blobs.
            pub(crate) async fn erase<E: Record>(
                &self,
                key: &E::Key,
            ) -> Result<(Option<u64>, crate::repo::BlobErasure), Error> {
                let st = self.statements::<E>();
                let mut blobs_report = crate::repo::BlobErasure::default();
                let blobs = self.blobs.for_entity(E::SCHEMA)?;
                let references = match blobs {
                    None => Vec::new(),
                    Some(_) => {
                        let mut w = Writer::new();
                        key_args::<E>(key, &mut w);
                        let row = self
                            .fetch_all_pooled::<E>(&st.select_one, w.finish::<E>()?)
                            .await?;
                        let subjects = self.load_subject_keys::<E>(&st, &row).await?;
                        let keys = self.keys::<E>()?.map(|k| k.with_loaded(&subjects));
                        match row.first() {
                            // A sealed column that does not open names no blob the erasure can find: the
                            // collector removes it (a shredded subject's is unreadable already).
                            Some(row) => {
                                row_references::<E>(&st, row, keys.as_ref(), Unopened::Skip, None)?
                            }
                            None => Vec::new(),
                        }
                    }
                };
                let version = self.delete::<E>(key, Op::Erase).await?;
                if version.is_none() {
                    return Ok((None, blobs_report));
                }
                if let Some(blobs) = blobs {
                    for (field, reference) in references {
                        // A sealed blob is bound to this row and sealed under a random nonce: no other
                        // row names it (and sealed columns never compare equal in SQL).
                        if field.encrypt {
                            match blobs.delete(field, &reference).await {
                                Ok(()) => blobs_report.removed += 1,
                                Err(_) => blobs_report.failed += 1,
                            }
                            continue;
                        }
                        let mut w = Writer::new();
                        w.column(&claim::reference(&reference));
                        let shared = self
                            .fetch_all_pooled::<E>(&st.claim_referenced(field), w.finish::<E>()?)
                            .await
                            .map(|rows| !rows.is_empty());
                        match shared {
                            Ok(true) => blobs_report.shared += 1,
                            Ok(false) => match blobs.delete(field, &reference).await {
                                Ok(()) => blobs_report.removed += 1,
                                Err(_) => blobs_report.failed += 1,
                            },
                            Err(_) => blobs_report.failed += 1,
                        }
                    }
                }
                Ok((version, blobs_report))
            }

            /// Every blob reference `field`'s column holds (the blob collector's live set).
            pub(crate) async fn claim_references<E: Record>(
                &self,
                field: &'static FieldSchema,
            ) -> Result<std::collections::HashSet<crate::blob::BlobRef>, Error> {
                let st = self.statements::<E>();
                if field.encrypt {
                    return self.sealed_claim_references::<E>(&st, field).await;
                }
                let rows = self
                    .fetch_all_pooled::<E>(&st.claim_references(field), <$args>::default())
                    .await?;
                let mut out = std::collections::HashSet::with_capacity(rows.len());
                for row in &rows {
                    let mut index = 0;
                    let stored = Option::<Vec<u8>>::$read(row, &mut index)
                        .map_err(store_error::<E>)?
                        .flatten();
                    if let Some(stored) = stored
                        && let Ok(Stored::Reference(r)) = Stored::parse(field, &stored)
                    {
                        out.insert(r);
                    }
                }
                Ok(out)
            }

            /// [`claim_references`](Self::claim_references) of an encrypted field: each row whose sealed column
            /// is as long as a sealed reference is opened. A row whose subject key was shredded names no
            /// readable blob (skipped); any other failure to open fails the call, so the collector never
            /// removes a blob that may be live.
            async fn sealed_claim_references<E: Record>(
                &self,
                st: &Statements,
                field: &'static FieldSchema,
            ) -> Result<std::collections::HashSet<crate::blob::BlobRef>, Error> {
                let rows = self
                    .fetch_all_pooled::<E>(&st.sealed_claim_references(field), <$args>::default())
                    .await?;
                let mut out = std::collections::HashSet::with_capacity(rows.len());
                for page in rows.chunks(256) {
                    let subjects = self.load_subject_keys::<E>(st, page).await?;
                    let keys = self.keys::<E>()?.map(|k| k.with_loaded(&subjects));
                    for row in page {
                        let references = row_references::<E>(
                            st,
                            row,
                            keys.as_ref(),
                            Unopened::Fail,
                            Some(field),
                        )?;
                        out.extend(references.into_iter().map(|(_, reference)| reference));
                    }
                }
                Ok(out)
            }

            pub(crate) fn statements<E: Record>(&self) -> Arc<Statements> {
                self.statements.get::<E>($dialect)
            }

            /// The keys of `E`'s encrypted fields (see [`Encryption::for_entity`]).
            pub(crate) fn keys<E: Record>(&self) -> Result<Option<EntityKeys<'_>>, Error> {
                self.encryption.for_entity::<E>()
            }

            pub(crate) async fn get<E: Record>(
                &self,
                key: &E::Key,
            ) -> Result<Option<Versioned<E>>, Error> {
                let st = self.statements::<E>();
                self.keys::<E>()?;
                let mut w = Writer::new();
                key_args::<E>(key, &mut w);
                let mut conn = $driver::acquire(&self.pool)
                    .await
                    .map_err(store_error::<E>)?;
                let row = $driver::fetch_optional(&mut conn, &st.select_one, w.finish::<E>()?)
                    .await
                    .map_err(store_error::<E>)?;
                drop(conn);
                let Some(row) = row else {
                    return Ok(None);
                };
                let subjects = self
                    .load_subject_keys::<E>(&st, std::slice::from_ref(&row))
                    .await?;
                let mut fetched = self
                    .fetch_blobs::<E>(&st, std::slice::from_ref(&row), &subjects)
                    .await?;
                let keys = self.keys::<E>()?.map(|k| k.with_loaded(&subjects));
                decode_row::<E>(&row, keys, &st, &mut fetched)
                    .map(|(v, version)| Some(Versioned::new(v, version)))
            }

            pub(crate) async fn get_many<E: Record>(
                &self,
                keys: &[E::Key],
            ) -> Result<Vec<Option<Versioned<E>>>, Error> {
                if keys.is_empty() {
                    return Ok(Vec::new());
                }
                let st = self.statements::<E>();
                let mut found = std::collections::HashMap::with_capacity(keys.len());
                let mut conn = $driver::acquire(&self.pool)
                    .await
                    .map_err(store_error::<E>)?;
                // One statement per chunk of at most `batch_capacity` keys (the bind-parameter limit), each
                // padded to a power of two with its last key, so a connection's statement cache sees a handful
                // of shapes per entity rather than one per batch size.
                for chunk in keys.chunks(st.batch_capacity()) {
                    let shape = chunk.len().next_power_of_two().min(st.batch_capacity());
                    let mut w = Writer::new();
                    for key in chunk.iter().chain(std::iter::repeat_n(
                        &chunk[chunk.len() - 1],
                        shape - chunk.len(),
                    )) {
                        key_args::<E>(key, &mut w);
                    }
                    let sql = st.select_many(shape);
                    let rows = $driver::fetch_all(&mut conn, &sql, w.finish::<E>()?)
                        .await
                        .map_err(store_error::<E>)?;
                    let subjects = self.load_subject_keys::<E>(&st, &rows).await?;
                    let mut fetched = self.fetch_blobs::<E>(&st, &rows, &subjects).await?;
                    for row in &rows {
                        let keys = self.keys::<E>()?.map(|k| k.with_loaded(&subjects));
                        let (value, version) = decode_row::<E>(row, keys, &st, &mut fetched)?;
                        found.insert(value.key(), Versioned::new(value, version));
                    }
                }
                Ok(keys.iter().map(|k| found.get(k).cloned()).collect())
            }

            async fn current_version<E: Record>(
                &self,
                conn: &mut $conn,
                key: &E::Key,
            ) -> Result<Option<u64>, Error> {
                let st = self.statements::<E>();
                let mut w = Writer::new();
                key_args::<E>(key, &mut w);
                let row = $driver::fetch_optional(conn, &st.version_of, w.finish::<E>()?)
                    .await
                    .map_err(store_error::<E>)?;
                row.map(|r| version_of(&r, 0).map_err(store_error::<E>))
                    .transpose()
            }

            /// A transaction on this store (rolled back when dropped uncommitted).
            pub(crate) async fn begin(&self) -> Result<$driver::Transaction, Error> {
                $driver::begin(&self.pool).await.map_err(|e| {
                    Error::backend(
                        "transaction",
                        Tier::Store,
                        crate::driver_error::DriverError::from(e),
                    )
                })
            }

            pub(crate) async fn insert<E: Record>(&self, value: &E) -> Result<u64, Error> {
                self.write::<E, _>(async |conn| self.insert_on_with(conn, value, true).await)
                    .await
            }

            /// Inserts `value` on `conn`, which may be a transaction's.
            pub(crate) async fn insert_on<E: Record>(
                &self,
                conn: &mut $conn,
                value: &E,
            ) -> Result<u64, Error> {
                self.insert_on_with(conn, value, false).await
            }

            /// [`insert_on`](Self::insert_on); `autocommit` when `conn` commits each statement (not a
            /// transaction's), so a subject key it creates may be cached at once.
            async fn insert_on_with<E: Record>(
                &self,
                conn: &mut $conn,
                value: &E,
                autocommit: bool,
            ) -> Result<u64, Error> {
                let st = self.statements::<E>();
                let keys = self.keys::<E>()?;
                let subject = self
                    .subject_key_for_write(&mut *conn, value, autocommit)
                    .await?;
                let keys = keys.map(|k| k.sealing_under(subject));
                let offloaded = self.offload(&st, value, keys.as_ref()).await?;
                let outbox_keys = st.outbox.as_ref().and(keys.clone());
                let key = value.key();
                let mut w = Writer::row(value, keys, &st, &offloaded);
                w.int(next_version(None) as i64);
                let (sql, outbox_row) = Self::outbox_plan(
                    &st,
                    &st.insert,
                    |c| &c.insert,
                    &mut w,
                    Op::Insert,
                    &key,
                    Some((outbox_keys, value, &offloaded)),
                )?;
                let row = $driver::fetch_optional(&mut *conn, sql, w.finish::<E>()?)
                    .await
                    .map_err(|e| write_error::<E>(&st, e))?;
                let version = match row {
                    Some(r) => version_of(&r, 0).map_err(store_error::<E>)?,
                    None => {
                        return Err(Error::Conflict {
                            entity: E::SCHEMA.message,
                            expected: None,
                            found: self.current_version::<E>(conn, &key).await?,
                        });
                    }
                };
                Self::record_change::<E>(&st, conn, &key, version, outbox_row).await?;
                Ok(version)
            }

            pub(crate) async fn put_on<E: Record>(
                &self,
                conn: &mut $conn,
                value: &E,
            ) -> Result<u64, Error> {
                let st = self.statements::<E>();
                let keys = self.keys::<E>()?;
                let subject = self.subject_key_for_write(&mut *conn, value, false).await?;
                let keys = keys.map(|k| k.sealing_under(subject));
                let offloaded = self.offload(&st, value, keys.as_ref()).await?;
                Self::upsert_on(&st, keys, &mut *conn, value, &offloaded).await
            }

            pub(crate) async fn update_on<E: Record>(
                &self,
                conn: &mut $conn,
                value: &E,
                expected: u64,
            ) -> Result<u64, Error> {
                self.update_on_with(conn, value, expected, false).await
            }

            /// [`update_on`](Self::update_on); `autocommit` as for [`insert_on_with`](Self::insert_on_with).
            async fn update_on_with<E: Record>(
                &self,
                conn: &mut $conn,
                value: &E,
                expected: u64,
                autocommit: bool,
            ) -> Result<u64, Error> {
                let st = self.statements::<E>();
                let keys = self.keys::<E>()?;
                let subject = self
                    .subject_key_for_write(&mut *conn, value, autocommit)
                    .await?;
                let keys = keys.map(|k| k.sealing_under(subject));
                let offloaded = self.offload(&st, value, keys.as_ref()).await?;
                let outbox_keys = st.outbox.as_ref().and(keys.clone());
                let key = value.key();
                let mut w = Writer::row(value, keys, &st, &offloaded);
                w.int(next_version(Some(expected)) as i64);
                key_args::<E>(&key, &mut w);
                w.int(expected as i64);
                let (sql, outbox_row) = Self::outbox_plan(
                    &st,
                    &st.update,
                    |c| &c.update,
                    &mut w,
                    Op::Update,
                    &key,
                    Some((outbox_keys, value, &offloaded)),
                )?;
                let row = $driver::fetch_optional(&mut *conn, sql, w.finish::<E>()?)
                    .await
                    .map_err(|e| write_error::<E>(&st, e))?;
                let version = match row {
                    Some(r) => version_of(&r, 0).map_err(store_error::<E>)?,
                    None => {
                        return Err(Error::Conflict {
                            entity: E::SCHEMA.message,
                            expected: Some(expected),
                            found: self.current_version::<E>(conn, &key).await?,
                        });
                    }
                };
                Self::record_change::<E>(&st, conn, &key, version, outbox_row).await?;
                Ok(version)
            }

            pub(crate) async fn delete_in<E: Record>(
                &self,
                conn: &mut $conn,
                key: &E::Key,
            ) -> Result<Option<u64>, Error> {
                let st = self.statements::<E>();
                Self::delete_on::<E>(&st, conn, key, Op::Delete).await
            }

            async fn upsert_on<E: Record>(
                st: &Statements,
                keys: Option<EntityKeys<'_>>,
                conn: &mut $conn,
                value: &E,
                offloaded: &Offloaded,
            ) -> Result<u64, Error> {
                // Only an entity with an outbox needs the keys again, to seal the outbox row's payload.
                let outbox_keys = st.outbox.as_ref().and(keys.clone());
                let key = value.key();
                let mut w = Writer::row(value, keys, st, offloaded);
                w.int(next_version(None) as i64);
                let (sql, outbox_row) = Self::outbox_plan(
                    st,
                    &st.upsert,
                    |c| &c.upsert,
                    &mut w,
                    Op::Upsert,
                    &key,
                    Some((outbox_keys, value, offloaded)),
                )?;
                let row = $driver::fetch_one(&mut *conn, sql, w.finish::<E>()?)
                    .await
                    .map_err(|e| write_error::<E>(st, e))?;
                let version = version_of(&row, 0).map_err(store_error::<E>)?;
                Self::record_change::<E>(st, conn, &key, version, outbox_row).await?;
                Ok(version)
            }

            pub(crate) async fn put<E: Record>(&self, value: &E) -> Result<u64, Error> {
                let st = self.statements::<E>();
                let keys = self.keys::<E>()?;
                // Blobs before the connection is taken, unless they are sealed under the data subject's key,
                // which is found on it.
                let sealed_by_subject = E::SCHEMA.subject.is_some() && keys.is_some();
                let early = match sealed_by_subject {
                    false => Some(self.offload(&st, value, keys.as_ref()).await?),
                    true => None,
                };
                self.write::<E, _>(async |conn| {
                    let subject = self.subject_key_for_write(&mut *conn, value, true).await?;
                    let keys = keys.clone().map(|k| k.sealing_under(subject));
                    let offloaded = match &early {
                        Some(offloaded) => offloaded.clone(),
                        None => self.offload(&st, value, keys.as_ref()).await?,
                    };
                    Self::upsert_on(&st, keys, conn, value, &offloaded).await
                })
                .await
            }

            pub(crate) async fn update<E: Record>(
                &self,
                value: &E,
                expected: u64,
            ) -> Result<u64, Error> {
                self.write::<E, _>(async |conn| {
                    self.update_on_with(conn, value, expected, true).await
                })
                .await
            }

            async fn delete_on<E: Record>(
                st: &Statements,
                conn: &mut $conn,
                key: &E::Key,
                op: Op,
            ) -> Result<Option<u64>, Error> {
                let mut w = Writer::new();
                key_args::<E>(key, &mut w);
                let (sql, outbox_row) =
                    Self::outbox_plan::<E>(st, &st.delete, |c| &c.delete, &mut w, op, key, None)?;
                let row = $driver::fetch_optional(&mut *conn, sql, w.finish::<E>()?)
                    .await
                    .map_err(store_error::<E>)?;
                let version = row
                    .map(|r| version_of(&r, 0).map_err(store_error::<E>))
                    .transpose()?;
                if let Some(version) = version {
                    Self::record_change::<E>(st, conn, key, version, outbox_row).await?;
                }
                Ok(version)
            }

            /// Deletes the row of `key` (`op`: a delete or an erasure, as the outbox records it).
            pub(crate) async fn delete<E: Record>(
                &self,
                key: &E::Key,
                op: Op,
            ) -> Result<Option<u64>, Error> {
                let st = self.statements::<E>();
                self.write::<E, _>(async |conn| Self::delete_on::<E>(&st, conn, key, op).await)
                    .await
            }

            pub(crate) async fn put_many<E: Record>(
                &self,
                values: &[E],
            ) -> Result<Vec<u64>, Error> {
                let st = self.statements::<E>();
                // Every subject key, committed (and cached) before the rows that need it.
                let mut subjects = Vec::with_capacity(values.len());
                if E::SCHEMA.subject.is_some() {
                    let mut conn = $driver::acquire(&self.pool)
                        .await
                        .map_err(store_error::<E>)?;
                    for value in values {
                        subjects.push(self.subject_key_for_write(&mut conn, value, true).await?);
                    }
                }
                // And every blob (a sealed one under the keys its row is sealed under) before the
                // transaction that names them begins.
                let mut offloaded = Vec::with_capacity(values.len());
                for (at, value) in values.iter().enumerate() {
                    let subject = subjects.get(at).cloned().flatten();
                    let keys = self.keys::<E>()?.map(|k| k.sealing_under(subject));
                    offloaded.push(self.offload(&st, value, keys.as_ref()).await?);
                }
                let mut tx = $driver::begin(&self.pool).await.map_err(store_error::<E>)?;
                let mut versions = Vec::with_capacity(values.len());
                for (at, (value, offloaded)) in values.iter().zip(&offloaded).enumerate() {
                    let subject = subjects.get(at).cloned().flatten();
                    let keys = self.keys::<E>()?.map(|k| k.sealing_under(subject));
                    versions.push(Self::upsert_on(&st, keys, &mut tx, value, offloaded).await?);
                }
                $driver::commit(tx).await.map_err(store_error::<E>)?;
                Ok(versions)
            }

            pub(crate) async fn delete_many<E: Record>(
                &self,
                keys: &[E::Key],
            ) -> Result<Vec<Option<u64>>, Error> {
                let st = self.statements::<E>();
                let mut tx = $driver::begin(&self.pool).await.map_err(store_error::<E>)?;
                let mut versions = Vec::with_capacity(keys.len());
                for key in keys {
                    versions.push(Self::delete_on::<E>(&st, &mut tx, key, Op::Delete).await?);
                }
                $driver::commit(tx).await.map_err(store_error::<E>)?;
                Ok(versions)
            }

            /// The rows of `sql` on a pooled connection (returned before the rows are decoded).
            pub(super) async fn fetch_all_pooled<E: Record>(
                &self,
                sql: &str,
                args: $args,
            ) -> Result<Vec<$row>, Error> {
                let mut conn = $driver::acquire(&self.pool)
                    .await
                    .map_err(store_error::<E>)?;
                $driver::fetch_all(&mut conn, sql, args)
                    .await
                    .map_err(store_error::<E>)
            }

            /// Up to `limit` rows after `after` in key order, each with whether one of its ciphertexts is under
            /// an older key id; and whether more rows follow. The page of a re-encryption pass, and of `scan`.
            /// A row whose data subject was shredded is its key and the error reading it.
            pub(crate) async fn scan_checked<E: Record>(
                &self,
                after: Option<&E::Key>,
                limit: usize,
            ) -> Result<(Vec<crate::store::CheckedRow<E>>, bool), Error> {
                let st = self.statements::<E>();
                let mut w = Writer::new();
                let sql = match after {
                    Some(key) => {
                        key_args::<E>(key, &mut w);
                        &st.scan_after
                    }
                    None => &st.scan_first,
                };
                // One row more than asked tells whether there is a next page.
                w.int(limit as i64 + 1);
                let rows = self.fetch_all_pooled::<E>(sql, w.finish::<E>()?).await?;
                let more = rows.len() > limit;
                let mut items = Vec::with_capacity(rows.len().min(limit));
                let page = &rows[..rows.len().min(limit)];
                let subjects = self.load_subject_keys::<E>(&st, page).await?;
                let mut fetched = self.fetch_blobs::<E>(&st, page, &subjects).await?;
                for row in page {
                    let keys = self.keys::<E>()?.map(|k| k.with_loaded(&subjects));
                    match decode_row_checked::<E>(row, keys, &st, &mut fetched) {
                        Ok((value, version, stale)) => {
                            items.push(Ok((Versioned::new(value, version), stale)))
                        }
                        Err(e) if e.is_subject_key_destroyed() => {
                            let mut key_reader = KeyReader {
                                row,
                                positions: &st.key_positions,
                                at: 0,
                            };
                            let key = E::read_key(&mut key_reader).map_err(store_error::<E>)?;
                            items.push(Err((key, e)));
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok((items, more))
            }

            /// One page after `after`, its `next` cursor sealed under `with`.
            pub(crate) async fn scan<E: Record>(
                &self,
                after: Option<&E::Key>,
                limit: usize,
                with: &crate::cursor::CursorKey,
            ) -> Result<Page<E>, Error> {
                let (rows, more) = self.scan_checked::<E>(after, limit).await?;
                let items = rows
                    .into_iter()
                    .map(|row| row.map(|(row, _)| row).map_err(|(_, e)| e))
                    .collect::<Result<Vec<Versioned<E>>, Error>>()?;
                let next = match more {
                    true => items
                        .last()
                        .map(|v| crate::cursor::Cursor::seal::<E>(&v.value.key(), with)),
                    false => None,
                };
                Ok(Page { items, next })
            }
        }
    };
}

pub(crate) use sql_store;
