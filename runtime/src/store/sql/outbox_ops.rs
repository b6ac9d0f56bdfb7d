//! The outbox operations of a SQL store, written once for both dialects like [`sql_store!`](super::ops): the
//! row a write adds in its own transaction, and the reads and updates of the change feed and the relay.

/// Expands the outbox operations over one driver, in the module `sql_store!` expanded in (it uses that
/// module's `Writer`, `Reader` and driver). Parameters: the store type, the connection and row types, the
/// column read hook, the driver module and the [`Dialect`](super::Dialect).
macro_rules! outbox_ops {
    ($store:ident, $conn:ty, $row:ty, $read:ident, $driver:ident, $dialect:expr) => {
        use crate::outbox::{Op, OutboxRow};

        /// Reads one outbox row: `_seq`, the key, `_version`, `_op`, `_payload`, `_recorded_at`.
        fn outbox_row<E: Record>(row: &$row) -> Result<OutboxRow<E>, Error> {
            let mut reader = Reader {
                row,
                index: 0,
                open: None,
                claims: None,
                stale: false,
            };
            let decode = |e: DecodeError| store_error::<E>(e);
            let seq: i64 = reader.column().map_err(decode)?;
            let key = E::read_key(&mut reader).map_err(decode)?;
            let version: i64 = reader.column().map_err(decode)?;
            let op: String = reader.column().map_err(decode)?;
            let payload: Option<Vec<u8>> = reader.column().map_err(decode)?;
            let recorded_at: i64 = reader.column().map_err(decode)?;
            let marker = op == crate::store::sql::outbox::PRUNED_MARKER;
            let op = match marker {
                true => Op::Delete,
                false => Op::parse(&op).ok_or_else(|| {
                    store_error::<E>(DecodeError::new(format!(
                        "_op: `{op}` is not an outbox operation"
                    )))
                })?,
            };
            Ok(OutboxRow {
                seq: seq as u64,
                key,
                version: version as u64,
                op,
                payload,
                recorded_at_us: recorded_at,
                marker,
            })
        }

        fn outbox_statements<E: Record>(
            st: &Statements,
        ) -> Result<&crate::store::sql::outbox::OutboxStatements, Error> {
            st.outbox.as_ref().ok_or_else(|| {
                Error::Config(format!(
                    "entity `{}` has no outbox (the `outbox` entity option)",
                    E::SCHEMA.message
                ))
            })
        }

        /// Microseconds since the Unix epoch.
        fn now_us() -> i64 {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as i64)
        }

        impl $store {
            /// How a write of `E` records its outbox row. Without an outbox: `base` as is, nothing more. On
            /// Postgres: the combined form of `base` (`pick`), with the op, payload and time bound after the
            /// write's own values; nothing more. On SQLite: `base`, and the row to add after it in the same
            /// transaction ([`record_change`](Self::record_change)). `value` is the value written (with the keys
            /// its encrypted fields are sealed under) or `None` for a removal.
            pub(super) fn outbox_plan<'s, E: Record>(
                st: &'s Statements,
                base: &'s str,
                pick: fn(&'s crate::store::sql::outbox::Combined) -> &'s String,
                w: &mut Writer,
                op: Op,
                key: &E::Key,
                value: Option<(Option<EntityKeys<'_>>, &E, &Offloaded)>,
            ) -> Result<(&'s str, Option<(Op, Option<Vec<u8>>)>), Error> {
                let Some(outbox) = &st.outbox else {
                    return Ok((base, None));
                };
                let payload = match value {
                    None => None,
                    Some((keys, value, offloaded)) => {
                        let mut encoded = value.encode_to_vec();
                        if !st.claim_positions.is_empty() {
                            // The write's own references: every sealed one is known.
                            encoded = claim::store_payload(
                                E::SCHEMA,
                                &encoded,
                                Some(offloaded),
                                None,
                            )
                            .map_err(store_error::<E>)?
                            .ok_or_else(|| {
                                store_error::<E>(DecodeError::new(
                                    "_payload: a sealed blob's reference is missing from the write",
                                ))
                            })?;
                        }
                        Some(match keys {
                            None => encoded,
                            Some(keys) => keys
                                .seal_message(&row_key::<E>(key), &encoded)
                                .map_err(|e| Error::backend(E::SCHEMA.message, Tier::Store, e))?,
                        })
                    }
                };
                match &outbox.combined {
                    Some(combined) => {
                        w.column(&op.as_str().to_owned());
                        w.column(&payload);
                        w.int(now_us());
                        Ok((pick(combined), None))
                    }
                    None => Ok((base, Some((op, payload)))),
                }
            }

            /// Adds `E`'s outbox row for a write just made on `conn`, in the write's transaction (the SQLite
            /// half of [`outbox_plan`](Self::outbox_plan)).
            pub(super) async fn record_change<E: Record>(
                st: &Statements,
                conn: &mut $conn,
                key: &E::Key,
                version: u64,
                row: Option<(Op, Option<Vec<u8>>)>,
            ) -> Result<(), Error> {
                let (Some(outbox), Some((op, payload))) = (&st.outbox, row) else {
                    return Ok(());
                };
                let mut w = Writer::new();
                key_args::<E>(key, &mut w);
                w.int(version as i64);
                w.column(&op.as_str().to_owned());
                w.column(&payload);
                w.int(now_us());
                $driver::fetch_optional(conn, &outbox.insert, w.finish::<E>()?)
                    .await
                    .map_err(store_error::<E>)?;
                Ok(())
            }

            /// Runs `write` in a transaction when `E`'s outbox row is a statement of its own (SQLite: it must
            /// commit with the write), on a pooled connection otherwise (no outbox, or Postgres, where the write
            /// and its outbox row are one statement).
            pub(super) async fn write<E: Record, T>(
                &self,
                write: impl AsyncFnOnce(&mut $conn) -> Result<T, Error>,
            ) -> Result<T, Error> {
                let separate = E::SCHEMA.outbox.is_some()
                    && self
                        .statements::<E>()
                        .outbox
                        .as_ref()
                        .is_some_and(|o| o.combined.is_none());
                if separate {
                    let mut tx = $driver::begin(&self.pool).await.map_err(store_error::<E>)?;
                    let out = write(&mut tx).await?;
                    $driver::commit(tx).await.map_err(store_error::<E>)?;
                    Ok(out)
                } else {
                    let mut conn = $driver::acquire(&self.pool)
                        .await
                        .map_err(store_error::<E>)?;
                    write(&mut conn).await
                }
            }

            /// Up to `limit` outbox rows after sequence `after`, in sequence order (the pruning marker
            /// included).
            pub(crate) async fn outbox_after<E: Record>(
                &self,
                after: u64,
                limit: usize,
            ) -> Result<Vec<OutboxRow<E>>, Error> {
                let st = self.statements::<E>();
                let outbox = outbox_statements::<E>(&st)?;
                let mut w = Writer::new();
                w.int(after as i64);
                w.int(limit as i64);
                let rows = self
                    .fetch_all_pooled::<E>(&outbox.after, w.finish::<E>()?)
                    .await?;
                // A feed hands out only changes a power loss cannot roll back (SQLite at `synchronous=normal`
                // commits without syncing; this syncs what is committed, once per read that found rows).
                if !rows.is_empty() {
                    $driver::sync_committed(&self.pool).map_err(store_error::<E>)?;
                }
                rows.iter().map(outbox_row::<E>).collect()
            }

            /// The value an outbox row's payload holds, its encrypted fields opened and its claim-checked
            /// fields' blobs read.
            pub(crate) async fn outbox_value<E: Record>(
                &self,
                row: &OutboxRow<E>,
            ) -> Result<E, Error> {
                let payload = row.payload.as_deref().ok_or_else(|| {
                    store_error::<E>(DecodeError::new(
                        "_payload: NULL for a write that leaves a value",
                    ))
                })?;
                // Opened first: an encrypted claim-checked field's stored form is sealed too.
                let keys = self.keys::<E>()?;
                let row_key = keys.as_ref().map(|_| row_key::<E>(&row.key));
                let opened;
                let payload = match (&keys, &row_key) {
                    (Some(keys), Some(row_key)) => {
                        opened = keys.open_message(row_key, payload).map_err(|source| {
                            Error::Encryption {
                                entity: E::SCHEMA.message,
                                source,
                            }
                        })?;
                        &opened[..]
                    }
                    _ => payload,
                };
                let resolved;
                let bytes = match self.blobs.for_entity(E::SCHEMA)? {
                    None => payload,
                    Some(blobs) => {
                        let references = blobs
                            .payload_references(payload)
                            .map_err(store_error::<E>)?;
                        let mut fetched = blobs.fetch(references).await?;
                        resolved = blobs
                            .resolve_payload(
                                payload,
                                &mut fetched,
                                keys.as_ref().zip(row_key.as_deref()),
                            )
                            .map_err(store_error::<E>)?;
                        &resolved[..]
                    }
                };
                // prost's error names the wire problem; the message is left out all the same.
                E::decode(bytes).map_err(|_| {
                    store_error::<E>(DecodeError::new(
                        "_payload: not a valid encoding of the message",
                    ))
                })
            }

            /// One integer from `sql` (`None` for NULL).
            async fn outbox_scalar<E: Record>(
                &self,
                sql: &str,
                args: Option<i64>,
            ) -> Result<Option<i64>, Error> {
                let mut w = Writer::new();
                if let Some(arg) = args {
                    w.int(arg);
                }
                let rows = self.fetch_all_pooled::<E>(sql, w.finish::<E>()?).await?;
                let Some(row) = rows.first() else {
                    return Ok(None);
                };
                let mut index = 0;
                Option::<i64>::$read(row, &mut index)
                    .map(Option::flatten)
                    .map_err(store_error::<E>)
            }

            /// The highest sequence written, 0 when the outbox is empty.
            pub(crate) async fn outbox_last_seq<E: Record>(&self) -> Result<u64, Error> {
                let st = self.statements::<E>();
                let sql = &outbox_statements::<E>(&st)?.last_seq;
                Ok(self.outbox_scalar::<E>(sql, None).await?.unwrap_or(0) as u64)
            }

            /// Claims up to `limit` of the oldest unpublished rows for `lease` unless another relay holds a
            /// live claim; the rows in sequence order and the claim's mark (for
            /// [`outbox_mark`](Self::outbox_mark)). Empty when there is nothing to publish or another relay
            /// is publishing.
            pub(crate) async fn outbox_claim<E: Record>(
                &self,
                limit: usize,
                lease: std::time::Duration,
            ) -> Result<(Vec<OutboxRow<E>>, i64), Error> {
                let st = self.statements::<E>();
                let outbox = outbox_statements::<E>(&st)?;
                let now = now_us();
                let mark = -(now + lease.as_micros() as i64);
                let mut w = Writer::new();
                w.int(mark);
                w.int(limit as i64);
                w.int(-now);
                // The claim's commit reaches the disk before the rows are published: on SQLite with
                // `synchronous=normal` a power loss could otherwise roll back a change a sink already has.
                let mut tx = $driver::begin_durable(&self.pool)
                    .await
                    .map_err(store_error::<E>)?;
                // Claims are serialized: on Postgres by a transaction-scoped advisory lock (two concurrent
                // claims would both see no live claim), on SQLite by its single writer.
                if $dialect == crate::store::sql::Dialect::Postgres {
                    let mut lock = Writer::new();
                    lock.column(&crate::schema::columns::outbox_table(E::SCHEMA.table));
                    $driver::fetch_optional(
                        &mut tx,
                        "SELECT pg_advisory_xact_lock(hashtext($1))::text",
                        lock.finish::<E>()?,
                    )
                    .await
                    .map_err(store_error::<E>)?;
                }
                let rows = $driver::fetch_all(&mut tx, &outbox.claim, w.finish::<E>()?)
                    .await
                    .map_err(store_error::<E>)?;
                $driver::commit(tx).await.map_err(store_error::<E>)?;
                let mut rows = rows
                    .iter()
                    .map(outbox_row::<E>)
                    .collect::<Result<Vec<_>, _>>()?;
                rows.sort_by_key(|r| r.seq);
                Ok((rows, mark))
            }

            /// Marks the rows claimed with `mark` from `first` to `last` as published now.
            pub(crate) async fn outbox_mark<E: Record>(
                &self,
                mark: i64,
                first: u64,
                last: u64,
            ) -> Result<(), Error> {
                let st = self.statements::<E>();
                let outbox = outbox_statements::<E>(&st)?;
                let mut w = Writer::new();
                w.int(now_us());
                w.int(mark);
                w.int(first as i64);
                w.int(last as i64);
                self.fetch_all_pooled::<E>(&outbox.mark, w.finish::<E>()?)
                    .await?;
                Ok(())
            }

            /// Gives the rows claimed with `mark` from `first` to `last` back unpublished.
            pub(crate) async fn outbox_release<E: Record>(
                &self,
                mark: i64,
                first: u64,
                last: u64,
            ) -> Result<(), Error> {
                let st = self.statements::<E>();
                let outbox = outbox_statements::<E>(&st)?;
                let mut w = Writer::new();
                w.int(mark);
                w.int(first as i64);
                w.int(last as i64);
                self.fetch_all_pooled::<E>(&outbox.release, w.finish::<E>()?)
                    .await?;
                Ok(())
            }

            /// The highest sequence that may be pruned now: published before `cutoff_us`, below every
            /// unpublished row visible, and not the last row written.
            pub(crate) async fn outbox_prunable<E: Record>(
                &self,
                cutoff_us: i64,
            ) -> Result<Option<u64>, Error> {
                let st = self.statements::<E>();
                let sql = &outbox_statements::<E>(&st)?.prunable;
                Ok(self
                    .outbox_scalar::<E>(sql, Some(cutoff_us))
                    .await?
                    .map(|seq| seq as u64))
            }

            /// Deletes the rows before `through` and turns `through` into the pruning marker, in one
            /// transaction.
            pub(crate) async fn outbox_prune_through<E: Record>(
                &self,
                through: u64,
            ) -> Result<(), Error> {
                let st = self.statements::<E>();
                let outbox = outbox_statements::<E>(&st)?;
                let mut tx = $driver::begin(&self.pool).await.map_err(store_error::<E>)?;
                for sql in [&outbox.prune, &outbox.mark_pruned] {
                    let mut w = Writer::new();
                    w.int(through as i64);
                    $driver::fetch_optional(&mut tx, sql, w.finish::<E>()?)
                        .await
                        .map_err(store_error::<E>)?;
                }
                $driver::commit(tx).await.map_err(store_error::<E>)?;
                Ok(())
            }

            /// Postgres: `pg_snapshot_xmin` (`min`) or `pg_snapshot_xmax` of the current snapshot, for the
            /// change feed's gap rule; `None` on SQLite, whose single writer leaves no gap behind a visible row.
            pub(crate) async fn outbox_horizon<E: Record>(
                &self,
                min: bool,
            ) -> Result<Option<u64>, Error> {
                if $dialect != crate::store::sql::Dialect::Postgres {
                    return Ok(None);
                }
                let sql = match min {
                    true => "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
                    false => "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint",
                };
                Ok(self.outbox_scalar::<E>(sql, None).await?.map(|v| v as u64))
            }
        }
    };
}

pub(crate) use outbox_ops;
