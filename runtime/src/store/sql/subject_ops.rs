//! Crypto-shredding on a SQL store, written once for both dialects like [`sql_store!`](super::ops): the subject
//! key table `capacitor_subject_keys` (see [`crate::pii::subject`]) read before rows are decoded, written before
//! a subject's first value is sealed, and emptied of a subject's keys by `shred_subject`.

/// Expands the subject key operations over one driver, in the module `sql_store!` expanded in (it uses that
/// module's `Writer` and driver). Parameters: the store type, the connection and row types, the column read
/// hook, the driver module and the [`Dialect`](super::Dialect).
macro_rules! subject_ops {
    ($store:ident, $conn:ty, $row:ty, $read:ident, $driver:ident, $dialect:expr) => {
        #[cfg(feature = "encryption")]
        use crate::pii::field_keys::SubjectSet;
        #[cfg(feature = "encryption")]
        use crate::pii::subject::{SubjectKey, SubjectKeyId, SubjectKeys, SubjectToken};

        /// The subject key table's statements in this dialect.
        #[cfg(feature = "encryption")]
        struct SubjectSql;

        #[cfg(feature = "encryption")]
        impl SubjectSql {
            fn p(i: usize) -> String {
                match $dialect {
                    crate::store::sql::Dialect::Postgres => format!("${i}"),
                    crate::store::sql::Dialect::Sqlite => "?".to_owned(),
                }
            }

            fn by_token() -> String {
                format!(
                    "SELECT key_id, wrapped_key FROM {} WHERE subject_token = {}",
                    crate::schema::columns::SUBJECT_KEYS_TABLE,
                    Self::p(1)
                )
            }

            fn by_id() -> String {
                format!(
                    "SELECT wrapped_key FROM {} WHERE key_id = {}",
                    crate::schema::columns::SUBJECT_KEYS_TABLE,
                    Self::p(1)
                )
            }

            fn insert() -> String {
                format!(
                    "INSERT INTO {} (key_id, subject_token, wrapped_key, created_at) VALUES ({}, {}, {}, {}) \
                     ON CONFLICT (subject_token) DO NOTHING",
                    crate::schema::columns::SUBJECT_KEYS_TABLE,
                    Self::p(1),
                    Self::p(2),
                    Self::p(3),
                    Self::p(4)
                )
            }

            fn delete_by_token() -> String {
                format!(
                    "DELETE FROM {} WHERE subject_token = {} RETURNING key_id",
                    crate::schema::columns::SUBJECT_KEYS_TABLE,
                    Self::p(1)
                )
            }

            fn page_after() -> String {
                format!(
                    "SELECT key_id, wrapped_key FROM {} WHERE key_id > {} ORDER BY key_id LIMIT {}",
                    crate::schema::columns::SUBJECT_KEYS_TABLE,
                    Self::p(1),
                    Self::p(2)
                )
            }

            fn rewrap() -> String {
                format!(
                    "UPDATE {} SET wrapped_key = {}, subject_token = {} WHERE key_id = {} AND wrapped_key = {} \
                     RETURNING key_id",
                    crate::schema::columns::SUBJECT_KEYS_TABLE,
                    Self::p(1),
                    Self::p(2),
                    Self::p(3),
                    Self::p(4)
                )
            }
        }

        /// A driver failure on the subject key table.
        #[cfg(feature = "encryption")]
        fn subject_table_error(e: impl Into<crate::driver_error::DriverError>) -> Error {
            Error::backend(
                crate::schema::columns::SUBJECT_KEYS_TABLE,
                Tier::Store,
                e.into(),
            )
        }

        /// A row of the subject key table that does not decode.
        #[cfg(feature = "encryption")]
        fn subject_decode_error(e: DecodeError) -> Error {
            Error::backend(crate::schema::columns::SUBJECT_KEYS_TABLE, Tier::Store, e)
        }

        /// A key-ring failure on the subject key table (a key that does not unwrap).
        #[cfg(feature = "encryption")]
        fn subject_key_error(e: crate::pii::PiiError) -> Error {
            Error::Encryption {
                entity: crate::schema::columns::SUBJECT_KEYS_TABLE,
                source: e,
            }
        }

        #[cfg(feature = "encryption")]
        fn bytes_at(row: &$row, at: usize) -> Result<Vec<u8>, Error> {
            let mut index = at;
            Vec::<u8>::$read(row, &mut index)
                .map_err(subject_decode_error)?
                .ok_or_else(|| subject_decode_error(DecodeError::new("unexpected NULL")))
        }

        #[cfg(feature = "encryption")]
        fn key_id_of(bytes: &[u8]) -> Result<SubjectKeyId, Error> {
            bytes
                .try_into()
                .map_err(|_| subject_decode_error(DecodeError::new("key_id is not 16 bytes")))
        }

        /// Without the `encryption` feature no entity has keys, so there is nothing to load or create.
        #[cfg(not(feature = "encryption"))]
        impl $store {
            pub(crate) async fn subject_key_for_write<E: Record>(
                &self,
                _: &mut $conn,
                _: &E,
                _: bool,
            ) -> Result<Option<crate::pii::field_keys::SubjectKeyRef>, Error> {
                Ok(None)
            }

            #[allow(clippy::extra_unused_type_parameters)] // the same signature as with the feature
            pub(super) async fn load_subject_keys<E: Record>(
                &self,
                _: &Statements,
                _: &[$row],
            ) -> Result<crate::pii::field_keys::SubjectSet, Error> {
                Ok(Default::default())
            }
        }

        impl $store {
            /// The subject keys of `E`'s subject, if it has one: the ring's subject side ([`Error::Config`] when
            /// the store has no key ring, as for any entity with encrypted fields).
            #[cfg(feature = "encryption")]
            fn subject_keys_of<E: Record>(&self) -> Result<Option<&SubjectKeys>, Error> {
                if E::SCHEMA.subject.is_none() {
                    return Ok(None);
                }
                self.keys::<E>()?;
                Ok(self.encryption.subjects())
            }

            /// The data key `value`'s subject seals under: from the cache, else the table, else a new one
            /// inserted race-safely (`ON CONFLICT DO NOTHING`, then the winner read back). On `conn` (the write's
            /// own connection or transaction); `cacheable` when `conn` commits each statement itself, so what it
            /// reads or inserts is committed and may be cached (a transaction's insert may still roll back).
            #[cfg(feature = "encryption")]
            pub(crate) async fn subject_key_for_write<E: Record>(
                &self,
                conn: &mut $conn,
                value: &E,
                cacheable: bool,
            ) -> Result<Option<std::sync::Arc<SubjectKey>>, Error> {
                let Some(subjects) = self.subject_keys_of::<E>()? else {
                    return Ok(None);
                };
                let Some(subject) = crate::pii::field_keys::subject_of(value) else {
                    return Ok(None);
                };
                let tokens = subjects.tokens(subject.as_bytes());
                if let Some(key) = subjects.cached_for(&tokens) {
                    return Ok(Some(key));
                }
                if let Some(key) = Self::subject_key_by_tokens(subjects, &mut *conn, &tokens).await? {
                    match cacheable {
                        true => subjects.remember(&key.0, Some(key.1)),
                        false => subjects.remember_tentative(&key.0, key.1),
                    }
                    return Ok(Some(key.0));
                }
                let new = subjects
                    .create(subject.as_bytes())
                    .map_err(subject_key_error)?;
                let mut w = Writer::new();
                w.column(&new.key.id().to_vec());
                w.column(&new.token.to_vec());
                w.column(&new.wrapped);
                w.int(crate::store::sql::subject_now_us());
                let args = w.finish_named(crate::schema::columns::SUBJECT_KEYS_TABLE)?;
                $driver::fetch_optional(&mut *conn, &SubjectSql::insert(), args)
                    .await
                    .map_err(subject_table_error)?;
                // The winner: ours, or a concurrent writer's that committed first.
                let (key, token) = Self::subject_key_by_tokens(subjects, &mut *conn, &tokens[..1])
                    .await?
                    .ok_or_else(|| {
                        subject_decode_error(DecodeError::new(
                            "the subject key just inserted is not there",
                        ))
                    })?;
                match cacheable {
                    true => subjects.remember(&key, Some(token)),
                    false => subjects.remember_tentative(&key, token),
                }
                Ok(Some(key))
            }

            /// The stored key under the first of `tokens` that has one, unwrapped, with that token.
            #[cfg(feature = "encryption")]
            async fn subject_key_by_tokens(
                subjects: &SubjectKeys,
                conn: &mut $conn,
                tokens: &[SubjectToken],
            ) -> Result<Option<(std::sync::Arc<SubjectKey>, SubjectToken)>, Error> {
                for token in tokens {
                    let mut w = Writer::new();
                    w.column(&token.to_vec());
                    let args = w.finish_named(crate::schema::columns::SUBJECT_KEYS_TABLE)?;
                    let row = $driver::fetch_optional(&mut *conn, &SubjectSql::by_token(), args)
                        .await
                        .map_err(subject_table_error)?;
                    if let Some(row) = row {
                        let id = key_id_of(&bytes_at(&row, 0)?)?;
                        let wrapped = bytes_at(&row, 1)?;
                        let (key, _) = subjects.unwrap(&id, &wrapped).map_err(subject_key_error)?;
                        return Ok(Some((key, *token)));
                    }
                }
                Ok(None)
            }

            /// The subject keys the encrypted columns of `rows` name (cached or read from the table), for
            /// [`decode_row`]; empty when no column holds a value sealed under a subject key.
            #[cfg(feature = "encryption")]
            pub(super) async fn load_subject_keys<E: Record>(
                &self,
                st: &Statements,
                rows: &[$row],
            ) -> Result<SubjectSet, Error> {
                let mut set = SubjectSet::new();
                // Not only for an entity that names a subject: one that stopped naming one still reads the
                // values written under subject keys until `reencrypt` has moved them back to the ring.
                if st.encrypted_positions.is_empty() || self.keys::<E>()?.is_none() {
                    return Ok(set);
                }
                let Some(subjects) = self.encryption.subjects() else {
                    return Ok(set);
                };
                let mut missing = Vec::new();
                for row in rows {
                    for at in &st.encrypted_positions {
                        let mut index = *at;
                        let stored = Option::<Vec<u8>>::$read(row, &mut index)
                            .map_err(store_error::<E>)?
                            .flatten();
                        if let Some(id) = stored.as_deref().and_then(SubjectKey::key_id)
                            && !set.contains_key(&id)
                        {
                            match subjects.cached(&id) {
                                Some(key) => {
                                    set.insert(id, Some(key));
                                }
                                None => {
                                    set.insert(id, None);
                                    missing.push(id);
                                }
                            }
                        }
                    }
                }
                if missing.is_empty() {
                    return Ok(set);
                }
                let mut conn = $driver::acquire(&self.pool)
                    .await
                    .map_err(subject_table_error)?;
                for id in missing {
                    let mut w = Writer::new();
                    w.column(&id.to_vec());
                    let args = w.finish_named(crate::schema::columns::SUBJECT_KEYS_TABLE)?;
                    let row = $driver::fetch_optional(&mut conn, &SubjectSql::by_id(), args)
                        .await
                        .map_err(subject_table_error)?;
                    // No row: shredded (or never restored); the value's read fails naming entity and field.
                    if let Some(row) = row {
                        let (key, subject) = subjects
                            .unwrap(&id, &bytes_at(&row, 0)?)
                            .map_err(subject_key_error)?;
                        // Also by the subject's token (the wrapping holds the subject): the Redis fill that
                        // follows this read seals with it.
                        let token = subjects.tokens(&subject)[0];
                        subjects.remember(&key, Some(token));
                        set.insert(id, Some(key));
                    }
                }
                Ok(set)
            }

            /// The key and version of every row of `E` whose subject field holds `subject` (to purge caches).
            #[cfg(feature = "encryption")]
            pub(crate) async fn subject_rows<E: Record, T: Column>(
                &self,
                subject: &T,
            ) -> Result<Vec<(E::Key, u64)>, Error> {
                let st = self.statements::<E>();
                let Some(sql) = &st.subject_rows else {
                    return Ok(Vec::new());
                };
                let mut w = Writer::new();
                w.column(subject);
                let rows = self.fetch_all_pooled::<E>(sql, w.finish::<E>()?).await?;
                let mut out = Vec::with_capacity(rows.len());
                for row in &rows {
                    let mut reader = Reader {
                        row,
                        index: 0,
                        open: None,
                        claims: None,
                        stale: false,
                    };
                    let key = E::read_key(&mut reader).map_err(store_error::<E>)?;
                    let version = version_of(row, reader.index).map_err(store_error::<E>)?;
                    out.push((key, version));
                }
                Ok(out)
            }

            /// Deletes every key of the subject whose canonical value is `subject` (under each ring id's
            /// token) and forgets them here; the ids deleted.
            #[cfg(feature = "encryption")]
            pub(crate) async fn shred_subject_text(
                &self,
                subject: &str,
            ) -> Result<Vec<SubjectKeyId>, Error> {
                let subjects = self.encryption.subjects().ok_or_else(|| {
                    Error::Config(
                        "shred_subject: the store has no key ring, so it has no subject keys".to_owned(),
                    )
                })?;
                let tokens = subjects.tokens(subject.as_bytes());
                let mut conn = $driver::acquire(&self.pool)
                    .await
                    .map_err(subject_table_error)?;
                let mut ids = Vec::new();
                for token in &tokens {
                    let mut w = Writer::new();
                    w.column(&token.to_vec());
                    let args = w.finish_named(crate::schema::columns::SUBJECT_KEYS_TABLE)?;
                    let rows = $driver::fetch_all(&mut conn, &SubjectSql::delete_by_token(), args)
                        .await
                        .map_err(subject_table_error)?;
                    for row in &rows {
                        ids.push(key_id_of(&bytes_at(row, 0)?)?);
                    }
                }
                subjects.forget(&ids, &tokens);
                Ok(ids)
            }

            /// Rewraps every subject key under the ring's current key (and recomputes its token under it), a
            /// page at a time; returns how many rows this pass rewrote. Rows a concurrent pass or shred changed
            /// meanwhile are left as they are (compare-and-set on the old wrapping).
            #[cfg(feature = "encryption")]
            pub(crate) async fn rewrap_subject_keys(&self) -> Result<u64, Error> {
                const PAGE: i64 = 256;
                let subjects = self.encryption.subjects().ok_or_else(|| {
                    Error::Config(
                        "rewrap_subject_keys: the store has no key ring".to_owned(),
                    )
                })?;
                let mut after: Vec<u8> = Vec::new();
                let mut rewritten = 0;
                let mut conn = $driver::acquire(&self.pool)
                    .await
                    .map_err(subject_table_error)?;
                loop {
                    let mut w = Writer::new();
                    w.column(&after);
                    w.int(PAGE);
                    let args = w.finish_named(crate::schema::columns::SUBJECT_KEYS_TABLE)?;
                    let rows = $driver::fetch_all(&mut conn, &SubjectSql::page_after(), args)
                        .await
                        .map_err(subject_table_error)?;
                    for row in &rows {
                        let raw_id = bytes_at(row, 0)?;
                        let id = key_id_of(&raw_id)?;
                        let wrapped = bytes_at(row, 1)?;
                        after = raw_id;
                        if SubjectKeys::wrapped_ring_id(&wrapped) == Some(subjects.current_ring_id()) {
                            continue;
                        }
                        let (new_wrapped, token) =
                            subjects.rewrap(&id, &wrapped).map_err(subject_key_error)?;
                        let mut w = Writer::new();
                        w.column(&new_wrapped);
                        w.column(&token.to_vec());
                        w.column(&id.to_vec());
                        w.column(&wrapped);
                        let args = w.finish_named(crate::schema::columns::SUBJECT_KEYS_TABLE)?;
                        // No row: a concurrent pass rewrapped (or a shred deleted) it meanwhile.
                        let updated = $driver::fetch_optional(&mut conn, &SubjectSql::rewrap(), args)
                            .await
                            .map_err(subject_table_error)?;
                        rewritten += u64::from(updated.is_some());
                    }
                    if (rows.len() as i64) < PAGE {
                        return Ok(rewritten);
                    }
                }
            }
        }
    };
}

pub(crate) use subject_ops;
