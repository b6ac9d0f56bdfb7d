//! Stores: the source of truth under the cache tiers.
//!
//! A [`Store`] is a cloneable handle to one backend shared by the repositories of an application; the
//! repository asks it for one entity's rows. The in-memory backend is always available; SQLite (feature
//! `sqlite`, the default) runs on rusqlite connections on the caller's thread; Postgres (feature `postgres`)
//! on sqlx.
//!
//! Every write computes the row's next version with [`next_version`](crate::record::next_version), so
//! versions never go backwards, not even across delete and re-insert.

pub mod index_lookup;
mod memory;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
pub(crate) use sql::sqlite::synchronous as sqlite_synchronous;
mod transaction;

use crate::blob::claim::Blobs;
use crate::cursor::Cursor;
use crate::error::Error;
pub use crate::migrate::Migrations;
#[allow(unused_imports)] // only the SQL backends hold keys
use crate::pii::field_keys::Encryption;
use crate::record::Record;
use crate::schema::Backend as SchemaBackend;
use crate::versioned::Versioned;
pub use index_lookup::{IndexRef, IndexValues};
use memory::MemoryStore;
use std::sync::Arc;
pub use transaction::Transaction;

/// The environment variable [`Store::open_default`] reads the store URL from.
pub const DATABASE_URL_ENV: &str = "CAPACITOR_DATABASE_URL";

/// The store [`Store::open_default`] opens for a SQLite entity when no URL is configured: `capacitor.db` in the
/// working directory.
pub const DEFAULT_SQLITE_URL: &str = "sqlite:capacitor.db";

/// A row of a re-encryption page: the row and whether a ciphertext of it is under an older key id, or, when
/// its data subject was shredded, its key and the error reading it.
#[allow(type_alias_bounds)]
pub(crate) type CheckedRow<E: Record> = Result<(Versioned<E>, bool), (<E as Record>::Key, Error)>;

/// A handle to the store of an application.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Memory(Arc<MemoryStore>),
    #[cfg(feature = "sqlite")]
    Sqlite(Arc<sql::sqlite::SqliteStore>),
    #[cfg(feature = "postgres")]
    Postgres(Arc<sql::postgres::PgStore>),
}

/// Runs `$call` on the SQL store behind `$self`, or `$memory` on the in-memory one.
macro_rules! dispatch {
    ($self:ident, |$m:ident| $memory:expr, |$s:ident| $call:expr) => {
        match &$self.backend {
            Backend::Memory($m) => $memory,
            #[cfg(feature = "sqlite")]
            Backend::Sqlite($s) => $call.await,
            #[cfg(feature = "postgres")]
            Backend::Postgres($s) => $call.await,
        }
    };
}

/// One page of a keyset scan.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<E: Record> {
    /// The rows, in key order.
    pub items: Vec<Versioned<E>>,
    /// The cursor of the next page (pass it as `after`); `None` on the last page.
    pub next: Option<Cursor>,
}

impl Store {
    /// A store that keeps rows in this process (the `memory` backend): for tests and ephemeral data.
    pub fn memory() -> Self {
        Store {
            backend: Backend::Memory(Arc::new(MemoryStore::default())),
        }
    }

    /// Opens the store a URL names: `memory:`, `sqlite:<path>` (feature `sqlite`; created if missing, WAL,
    /// busy timeout; `?synchronous=full` makes every commit wait for the disk, `normal` is the default, see
    /// docs/repository.md, Durability) or `postgres://…` (feature `postgres`).
    pub async fn open(url: &str) -> Result<Self, Error> {
        let scheme = url.split_once(':').map(|(scheme, _)| scheme);
        #[cfg_attr(
            not(any(feature = "sqlite", feature = "postgres")),
            allow(unused_variables)
        )]
        let backend = |backend| Ok::<_, Error>(Store { backend });
        match scheme {
            Some("memory") => Ok(Store::memory()),
            #[cfg(feature = "sqlite")]
            Some("sqlite") => backend(Backend::Sqlite(Arc::new(
                sql::sqlite::SqliteStore::open(url, Encryption::from_env()?).await?,
            ))),
            #[cfg(feature = "postgres")]
            Some("postgres" | "postgresql") => backend(Backend::Postgres(Arc::new(
                sql::postgres::PgStore::open(url, Encryption::from_env()?).await?,
            ))),
            Some(scheme) => Err(Error::Config(format!(
                "store URL scheme `{scheme}:` is not supported (its cargo feature may be off: \
                 `sqlite`, `postgres`)"
            ))),
            None => Err(Error::Config(
                "store URL has no scheme (expected `sqlite:`, `postgres://` or `memory:`)"
                    .to_owned(),
            )),
        }
    }

    /// Opens the store `url` names (see [`open`](Store::open)) and applies the migrations of its dialect (see
    /// [`Migrations`]); [`Error::Config`] when `migrations` has none for that dialect.
    pub async fn open_migrated(url: &str, migrations: &Migrations) -> Result<Self, Error> {
        let store = Store::open(url).await?;
        store.migrate(migrations).await?;
        Ok(store)
    }

    /// Opens the store configured for an entity whose schema says `backend`, and applies `migrations`:
    /// the URL in the environment variable [`DATABASE_URL_ENV`] if set; otherwise the backend's default —
    /// the SQLite file [`DEFAULT_SQLITE_URL`] in the working directory (the embedded default), or `memory:`. A
    /// Postgres entity has no default server: [`Error::Config`] says what to set.
    pub async fn open_default(
        backend: SchemaBackend,
        migrations: &Migrations,
    ) -> Result<Self, Error> {
        let url = match std::env::var(DATABASE_URL_ENV) {
            Ok(url) if !url.trim().is_empty() => url,
            _ => match backend {
                SchemaBackend::Sqlite => DEFAULT_SQLITE_URL.to_owned(),
                SchemaBackend::Memory => "memory:".to_owned(),
                SchemaBackend::Postgres => {
                    return Err(Error::Config(format!(
                        "the entity's backend is Postgres and no store URL is configured: set \
                         {DATABASE_URL_ENV} (e.g. postgres://user@host/db) or open the repository with a URL"
                    )));
                }
            },
        };
        Store::open_migrated(&url, migrations).await
    }

    /// Applies the migrations of this store's dialect (none for `memory:`). Each version is applied once;
    /// a version whose file changed after it was applied is an error (sqlx checksums applied migrations).
    pub async fn migrate(&self, migrations: &Migrations) -> Result<(), Error> {
        #[cfg(any(feature = "sqlite", feature = "postgres"))]
        let failed = |e: sqlx::migrate::MigrateError| {
            Error::backend(
                "migrations",
                crate::error::Tier::Store,
                crate::driver_error::DriverError::from(e),
            )
        };
        #[cfg(not(any(feature = "sqlite", feature = "postgres")))]
        let _ = migrations;
        match &self.backend {
            Backend::Memory(_) => Ok(()),
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(s) => {
                let migrator = migrations.sqlite_migrator().ok_or_else(|| {
                    Error::Config(
                        "a sqlite: store was opened but no SQLite migrations were given \
                         (Migrations::sqlite)"
                            .to_owned(),
                    )
                })?;
                migrator.run(s.pool.sqlx()).await.map_err(failed)
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres(s) => {
                let migrator = migrations.postgres_migrator().ok_or_else(|| {
                    Error::Config(
                        "a postgres:// store was opened but no Postgres migrations were given \
                         (Migrations::postgres)"
                            .to_owned(),
                    )
                })?;
                migrator.run(&s.pool).await.map_err(failed)
            }
        }
    }

    /// This store with the field-encryption keys of `ring`: the entities' `encrypt` fields are written as
    /// ciphertext under its current key and read under any of its keys. The returned handle shares the
    /// connection pool; the handle it was made from keeps its own keys.
    ///
    /// A SQL store opened with `CAPACITOR_KEYRING` (or `CAPACITOR_KEYRING_FILE`) set already has that key
    /// ring. Without any, an entity with encrypted fields is refused with [`Error::Config`]; the in-memory
    /// store keeps values in this process and needs no keys.
    #[cfg(feature = "encryption")]
    #[cfg_attr(
        not(any(feature = "sqlite", feature = "postgres")),
        allow(unused_variables)
    )]
    pub fn with_keyring(&self, ring: &crate::pii::KeyRing) -> Store {
        self.with_keyring_and_subject_cache(ring, crate::pii::SubjectKeyCache::default())
    }

    /// [`with_keyring`](Self::with_keyring), keeping at most `cache.capacity` unwrapped subject data keys
    /// (crypto-shredding) for at most `cache.ttl` each: the longest this process keeps reading a subject that
    /// another process shredded. The default is 10,000 keys for 60 seconds.
    #[cfg(feature = "encryption")]
    #[cfg_attr(
        not(any(feature = "sqlite", feature = "postgres")),
        allow(unused_variables)
    )]
    pub fn with_keyring_and_subject_cache(
        &self,
        ring: &crate::pii::KeyRing,
        cache: crate::pii::SubjectKeyCache,
    ) -> Store {
        let backend = match &self.backend {
            Backend::Memory(m) => Backend::Memory(m.clone()),
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(s) => Backend::Sqlite(Arc::new(
                s.with_encryption(Encryption::with_subject_cache(ring, cache)),
            )),
            #[cfg(feature = "postgres")]
            Backend::Postgres(s) => Backend::Postgres(Arc::new(
                s.with_encryption(Encryption::with_subject_cache(ring, cache)),
            )),
        };
        Store { backend }
    }

    /// This store with `blobs` as the blob store of claim-checked fields (`claim_check`, see
    /// `docs/claim-check.md`): a value above its field's threshold is written there, content-addressed, before
    /// the row that names it, and read back when the row (or a Redis entry or outbox row) is. The returned handle
    /// shares the connection pool and key ring. Without a blob store, an entity with claim-checked fields is
    /// refused with [`Error::Config`]; the in-memory store keeps values in this process and needs none.
    ///
    /// ```no_run
    /// # #[cfg(feature = "blob-store")]
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// let blobs = capacitor::blob::ObjectStoreBlobs::filesystem("/var/lib/app/blobs")?;
    /// let store = capacitor::Store::open("sqlite:app.db").await?.with_blob_store(Arc::new(blobs));
    /// # Ok(()) }
    /// ```
    #[cfg_attr(
        not(any(feature = "sqlite", feature = "postgres")),
        allow(unused_variables)
    )]
    pub fn with_blob_store(&self, blobs: Arc<dyn crate::blob::BlobStore>) -> Store {
        let backend = match &self.backend {
            Backend::Memory(m) => Backend::Memory(m.clone()),
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(s) => Backend::Sqlite(Arc::new(s.with_blobs(Blobs::new(blobs)))),
            #[cfg(feature = "postgres")]
            Backend::Postgres(s) => Backend::Postgres(Arc::new(s.with_blobs(Blobs::new(blobs)))),
        };
        Store { backend }
    }

    /// The blob store of claim-checked values (none for the in-memory store, which needs none).
    pub(crate) fn blobs(&self) -> Blobs {
        match &self.backend {
            Backend::Memory(_) => Blobs::default(),
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(s) => s.blobs.clone(),
            #[cfg(feature = "postgres")]
            Backend::Postgres(s) => s.blobs.clone(),
        }
    }

    /// Checks that this store can hold `E`: [`Error::Config`] naming the entity when `E` has encrypted fields
    /// and the store has no key ring (or the runtime lacks the `encryption` feature), or claim-checked fields
    /// and no blob store ([`with_blob_store`](Self::with_blob_store)). Repositories check it when built with
    /// [`try_build`](crate::repo::RepositoryBuilder::try_build) and when opened by generated code.
    pub fn check_entity<E: Record>(&self) -> Result<(), Error> {
        match &self.backend {
            Backend::Memory(_) => Ok(()),
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(s) => {
                s.keys::<E>()?;
                s.blobs.for_entity(E::SCHEMA).map(|_| ())
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres(s) => {
                s.keys::<E>()?;
                s.blobs.for_entity(E::SCHEMA).map(|_| ())
            }
        }
    }

    /// A page of a re-encryption pass: up to `limit` rows after `after`, each with whether a ciphertext of it
    /// is under an older key id, and whether more rows follow. The in-memory store holds no ciphertext.
    pub(crate) async fn scan_checked<E: Record>(
        &self,
        after: Option<&E::Key>,
        limit: usize,
    ) -> Result<(Vec<CheckedRow<E>>, bool), Error> {
        match &self.backend {
            Backend::Memory(m) => {
                let (rows, more) = m.rows_after::<E>(after, limit);
                Ok((rows.into_iter().map(|v| Ok((v, false))).collect(), more))
            }
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(s) => s.scan_checked::<E>(after, limit).await,
            #[cfg(feature = "postgres")]
            Backend::Postgres(s) => s.scan_checked::<E>(after, limit).await,
        }
    }

    /// Crypto-shredding: destroys every data key of the data subject whose value is `subject` (the value of the
    /// `subject` field of the entities that name one, e.g. a user id) in the table `capacitor_subject_keys`,
    /// and forgets them in this process. Afterwards every value sealed under them — in the live tables, in
    /// Redis, in any backup or copy — fails to read with
    /// [`PiiError::SubjectKeyDestroyed`](crate::pii::PiiError::SubjectKeyDestroyed), for every entity whose
    /// subject it is. Returns how many keys were destroyed (0 when the subject had none; more than one only if
    /// writers on different current ring keys created one each).
    ///
    /// `subject` is given as the field's Rust type (`String`, an integer, `Vec<u8>`): subjects are matched by
    /// their canonical text, so an `int32` and an `int64` field holding 42 name the same subject. Other
    /// processes keep a key they cached for at most [`SubjectKeyCache::ttl`](crate::pii::SubjectKeyCache);
    /// [`Repository::shred_subject`](crate::Repository::shred_subject) also purges the repository's L1. Needs a key ring; the in-memory store
    /// has no subject keys ([`Error::Config`]).
    #[cfg(feature = "encryption")]
    pub async fn shred_subject<T: crate::record::Column>(
        &self,
        subject: &T,
    ) -> Result<usize, Error> {
        let text = crate::pii::field_keys::subject_token_text(subject);
        match &self.backend {
            Backend::Memory(_) => Err(Error::Config(
                "shred_subject: the in-memory store has no subject keys".to_owned(),
            )),
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(s) => s.shred_subject_text(&text).await.map(|ids| ids.len()),
            #[cfg(feature = "postgres")]
            Backend::Postgres(s) => s.shred_subject_text(&text).await.map(|ids| ids.len()),
        }
    }

    /// Crypto-shredding maintenance after a key ring rotation: rewraps every subject data key still wrapped
    /// under an older ring key id under the current one (recomputing its subject token under the current id
    /// too), so the old id can leave the ring. The data keys do not change, so no row is re-encrypted. Returns
    /// how many keys were rewrapped. Idempotent; run it after putting the new key first in the ring, and
    /// remove the old id only once it has returned.
    #[cfg(feature = "encryption")]
    pub async fn rewrap_subject_keys(&self) -> Result<u64, Error> {
        match &self.backend {
            Backend::Memory(_) => Ok(0),
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(s) => s.rewrap_subject_keys().await,
            #[cfg(feature = "postgres")]
            Backend::Postgres(s) => s.rewrap_subject_keys().await,
        }
    }

    /// The key and version of every row of `E` whose subject field holds `subject`.
    #[cfg(feature = "encryption")]
    pub(crate) async fn subject_rows<E: Record, T: crate::record::Column>(
        &self,
        subject: &T,
    ) -> Result<Vec<(E::Key, u64)>, Error> {
        match &self.backend {
            Backend::Memory(_) => Ok(Vec::new()),
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(s) => s.subject_rows::<E, T>(subject).await,
            #[cfg(feature = "postgres")]
            Backend::Postgres(s) => s.subject_rows::<E, T>(subject).await,
        }
    }

    /// The field-encryption keys of this store, for the Redis tier in front of it (none for `memory:`).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn encryption(&self) -> Encryption {
        match &self.backend {
            Backend::Memory(_) => Encryption::default(),
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(s) => s.encryption.clone(),
            #[cfg(feature = "postgres")]
            Backend::Postgres(s) => s.encryption.clone(),
        }
    }

    /// The backend's name as OpenTelemetry's `db.system` spells it: `sqlite`, `postgresql`, or `memory` for the
    /// in-process store (which has no semantic-conventions name). The repository's spans carry it.
    pub fn db_system(&self) -> &'static str {
        match &self.backend {
            Backend::Memory(_) => "memory",
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => "postgresql",
        }
    }

    /// The health probe: one `SELECT 1` on a connection of the store's own pool (nothing to do for `memory:`).
    /// What fails is reduced to a [`DriverError`](crate::driver_error::DriverError), so it quotes nothing.
    pub(crate) async fn ping(&self) -> Result<(), crate::driver_error::DriverError> {
        match &self.backend {
            Backend::Memory(_) => Ok(()),
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(s) => s.ping().await.map_err(Into::into),
            #[cfg(feature = "postgres")]
            Backend::Postgres(s) => sqlx::query("SELECT 1")
                .execute(&s.pool)
                .await
                .map(drop)
                .map_err(Into::into),
        }
    }

    /// A sqlx pool on the database of a SQLite store (for DDL in tests, raw queries, benchmarks), connected on
    /// first use. The store runs its own statements on connections of its own (rusqlite on the caller's
    /// thread), so this pool is not the one the repositories use; both reach the same file.
    #[cfg(feature = "sqlite")]
    pub fn sqlite_pool(&self) -> Option<&sqlx::SqlitePool> {
        match &self.backend {
            Backend::Sqlite(s) => Some(s.pool.sqlx()),
            _ => None,
        }
    }

    /// The Postgres pool of a Postgres store.
    #[cfg(feature = "postgres")]
    pub fn postgres_pool(&self) -> Option<&sqlx::PgPool> {
        match &self.backend {
            Backend::Postgres(s) => Some(&s.pool),
            _ => None,
        }
    }

    /// The row of `key`.
    pub async fn get<E: Record>(&self, key: &E::Key) -> Result<Option<Versioned<E>>, Error> {
        dispatch!(self, |m| Ok(m.get::<E>(key)), |s| s.get::<E>(key))
    }

    /// The rows of `keys`, aligned with them, in one round trip.
    pub async fn get_many<E: Record>(
        &self,
        keys: &[E::Key],
    ) -> Result<Vec<Option<Versioned<E>>>, Error> {
        dispatch!(self, |m| Ok(m.get_many::<E>(keys)), |s| s
            .get_many::<E>(keys))
    }

    /// Inserts `value`; [`Error::Conflict`] if its key is present. Returns the new version.
    pub async fn insert<E: Record>(&self, value: &E) -> Result<u64, Error> {
        dispatch!(self, |m| m.insert(value), |s| s.insert(value))
    }

    /// Inserts or replaces `value`. Returns the new version.
    pub async fn put<E: Record>(&self, value: &E) -> Result<u64, Error> {
        dispatch!(self, |m| m.put(value), |s| s.put(value))
    }

    /// Replaces `value` if the stored version is `expected`; [`Error::Conflict`] otherwise.
    pub async fn update<E: Record>(&self, value: &E, expected: u64) -> Result<u64, Error> {
        dispatch!(self, |m| m.update(value, expected), |s| s
            .update(value, expected))
    }

    /// Deletes the row of `key`; returns the version it had, `None` when absent.
    pub async fn delete<E: Record>(&self, key: &E::Key) -> Result<Option<u64>, Error> {
        dispatch!(self, |m| Ok(m.delete::<E>(key)), |s| s
            .delete::<E>(key, crate::outbox::Op::Delete))
    }

    /// Deletes the row of `key` as an erasure (what `Repository::erase` runs): a delete that the outbox, if the
    /// entity has one, records as `erase`.
    pub(crate) async fn erase<E: Record>(
        &self,
        key: &E::Key,
    ) -> Result<(Option<u64>, crate::repo::BlobErasure), Error> {
        dispatch!(
            self,
            |m| Ok((m.delete::<E>(key), Default::default())),
            |s| s.erase::<E>(key)
        )
    }

    /// Removes the blobs of `E`'s claim-checked fields that no row names and that were last written more than
    /// `grace` ago (see [`Repository::collect_blobs`](crate::Repository::collect_blobs)).
    #[cfg_attr(
        not(any(feature = "sqlite", feature = "postgres")),
        allow(unused_variables, unused_mut, unreachable_code, clippy::never_loop)
    )]
    pub(crate) async fn collect_blobs<E: Record>(
        &self,
        grace: std::time::Duration,
    ) -> Result<crate::repo::BlobCollection, Error> {
        let mut report = crate::repo::BlobCollection::default();
        let blobs = self.blobs();
        let Some(entity) = blobs.for_entity(E::SCHEMA)? else {
            return Ok(report);
        };
        for field in E::SCHEMA.fields.iter().filter(|f| f.claim_check.is_some()) {
            let prefix = entity.field_prefix(field);
            // Listed before the live set is read: a row committed in between is in the live set.
            let listed = entity
                .store()
                .list(&prefix)
                .await
                .map_err(|e| Error::backend(E::SCHEMA.message, crate::error::Tier::Store, e))?;
            // A blob is judged against the moment before the live set is read. One last written at least `grace`
            // before it can only be named by a write that committed before it (a write commits within `grace` of
            // putting its blobs), which the live set holds.
            let read_at = std::time::SystemTime::now();
            let young = |written: std::time::SystemTime| {
                read_at.duration_since(written).unwrap_or_default() < grace
            };
            let live: std::collections::HashSet<crate::blob::BlobRef> = match &self.backend {
                Backend::Memory(_) => return Ok(report),
                #[cfg(feature = "sqlite")]
                Backend::Sqlite(s) => s.claim_references::<E>(field).await?,
                #[cfg(feature = "postgres")]
                Backend::Postgres(s) => s.claim_references::<E>(field).await?,
            };
            for blob in listed {
                report.examined += 1;
                let reference = blob
                    .key
                    .strip_prefix(&prefix)
                    .and_then(|hex| crate::blob::BlobRef::from_hex(hex, blob.size));
                let Some(reference) = reference else {
                    // Not a name the repository writes: left alone.
                    report.foreign += 1;
                    continue;
                };
                if live.contains(&reference) {
                    report.live += 1;
                    continue;
                }
                if young(blob.last_modified) {
                    report.young += 1;
                    continue;
                }
                // The listing can be older than a write in flight that put the same content again after it (and
                // commits after the live set was read): look at the blob as it is now before deleting it.
                let now =
                    entity.store().head(&blob.key).await.map_err(|e| {
                        Error::backend(E::SCHEMA.message, crate::error::Tier::Store, e)
                    })?;
                match now {
                    Some(meta) if young(meta.last_modified) => report.young += 1,
                    Some(_) => {
                        entity.delete(field, &reference).await?;
                        report.removed += 1;
                    }
                    // Gone already (another collector, an erase): nothing left to remove.
                    None => report.removed += 1,
                }
            }
        }
        Ok(report)
    }

    /// Inserts or replaces every value in one transaction. Returns their new versions.
    pub async fn put_many<E: Record>(&self, values: &[E]) -> Result<Vec<u64>, Error> {
        dispatch!(self, |m| m.put_many(values), |s| s.put_many(values))
    }

    /// Whether this is the memory store.
    pub(crate) fn is_memory(&self) -> bool {
        matches!(self.backend, Backend::Memory(_))
    }

    /// The outbox's store: an error for the memory store, which has none.
    fn outbox_store<E: Record>(&self) -> Result<(), Error> {
        match &self.backend {
            Backend::Memory(_) => Err(Error::Config(format!(
                "entity `{}`: the memory store has no outbox (use SQLite or Postgres)",
                E::SCHEMA.message
            ))),
            #[allow(unreachable_patterns)]
            _ => Ok(()),
        }
    }

    /// Up to `limit` outbox rows of `E` after position `after`, in order (the pruning marker included).
    #[cfg_attr(
        not(any(feature = "sqlite", feature = "postgres")),
        allow(unused_variables)
    )]
    pub(crate) async fn outbox_after<E: Record>(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<crate::outbox::OutboxRow<E>>, Error> {
        self.outbox_store::<E>()?;
        dispatch!(self, |_m| Ok(Vec::new()), |s| s
            .outbox_after::<E>(after, limit))
    }

    /// The value an outbox row of `E` holds, its encrypted fields opened.
    #[cfg_attr(
        not(any(feature = "sqlite", feature = "postgres")),
        allow(unused_variables)
    )]
    pub(crate) async fn outbox_value<E: Record>(
        &self,
        row: &crate::outbox::OutboxRow<E>,
    ) -> Result<E, Error> {
        self.outbox_store::<E>()?;
        match &self.backend {
            Backend::Memory(_) => unreachable!("refused by outbox_store"),
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(s) => s.outbox_value(row).await,
            #[cfg(feature = "postgres")]
            Backend::Postgres(s) => s.outbox_value(row).await,
        }
    }

    /// Whether a visible outbox row can have a lower position still uncommitted (Postgres); SQLite commits
    /// positions in order.
    pub(crate) fn outbox_has_gaps(&self) -> bool {
        match &self.backend {
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => true,
            _ => false,
        }
    }

    /// Wake-ups for a feed of `E`'s outbox: Postgres notifications; `None` elsewhere (the feed polls).
    #[cfg_attr(not(feature = "postgres"), allow(clippy::extra_unused_type_parameters))]
    pub(crate) fn outbox_wakeups<E: Record>(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        match &self.backend {
            #[cfg(feature = "postgres")]
            Backend::Postgres(s) => s.outbox_wakeups::<E>(),
            _ => None,
        }
    }

    /// The highest position of `E`'s outbox (0 when empty).
    pub(crate) async fn outbox_last_seq<E: Record>(&self) -> Result<u64, Error> {
        self.outbox_store::<E>()?;
        dispatch!(self, |_m| Ok(0), |s| s.outbox_last_seq::<E>())
    }

    /// Postgres' current snapshot xmin (`min`) or xmax; `None` elsewhere.
    #[cfg_attr(
        not(any(feature = "sqlite", feature = "postgres")),
        allow(unused_variables)
    )]
    pub(crate) async fn outbox_horizon<E: Record>(&self, min: bool) -> Result<Option<u64>, Error> {
        self.outbox_store::<E>()?;
        dispatch!(self, |_m| Ok(None), |s| s.outbox_horizon::<E>(min))
    }

    /// Claims up to `limit` unpublished rows of `E`'s outbox for `lease` (see the relay).
    #[cfg_attr(
        not(any(feature = "sqlite", feature = "postgres")),
        allow(unused_variables)
    )]
    pub(crate) async fn outbox_claim<E: Record>(
        &self,
        limit: usize,
        lease: std::time::Duration,
    ) -> Result<(Vec<crate::outbox::OutboxRow<E>>, i64), Error> {
        self.outbox_store::<E>()?;
        dispatch!(self, |_m| Ok((Vec::new(), 0)), |s| s
            .outbox_claim::<E>(limit, lease))
    }

    /// Marks the rows claimed with `mark` from `first` to `last` as published.
    #[cfg_attr(
        not(any(feature = "sqlite", feature = "postgres")),
        allow(unused_variables)
    )]
    pub(crate) async fn outbox_mark<E: Record>(
        &self,
        mark: i64,
        first: u64,
        last: u64,
    ) -> Result<(), Error> {
        self.outbox_store::<E>()?;
        dispatch!(self, |_m| Ok(()), |s| s.outbox_mark::<E>(mark, first, last))
    }

    /// Gives the rows claimed with `mark` from `first` to `last` back unpublished.
    #[cfg_attr(
        not(any(feature = "sqlite", feature = "postgres")),
        allow(unused_variables)
    )]
    pub(crate) async fn outbox_release<E: Record>(
        &self,
        mark: i64,
        first: u64,
        last: u64,
    ) -> Result<(), Error> {
        self.outbox_store::<E>()?;
        dispatch!(self, |_m| Ok(()), |s| s
            .outbox_release::<E>(mark, first, last))
    }

    /// The highest position of `E`'s outbox that may be pruned now (see the relay).
    #[cfg_attr(
        not(any(feature = "sqlite", feature = "postgres")),
        allow(unused_variables)
    )]
    pub(crate) async fn outbox_prunable<E: Record>(
        &self,
        cutoff_us: i64,
    ) -> Result<Option<u64>, Error> {
        self.outbox_store::<E>()?;
        dispatch!(self, |_m| Ok(None), |s| s.outbox_prunable::<E>(cutoff_us))
    }

    /// Deletes `E`'s outbox rows before `through`, which becomes the pruning marker.
    #[cfg_attr(
        not(any(feature = "sqlite", feature = "postgres")),
        allow(unused_variables)
    )]
    pub(crate) async fn outbox_prune_through<E: Record>(&self, through: u64) -> Result<(), Error> {
        self.outbox_store::<E>()?;
        dispatch!(self, |_m| Ok(()), |s| s.outbox_prune_through::<E>(through))
    }

    /// Deletes every key in one transaction; returns the versions the rows had.
    pub async fn delete_many<E: Record>(&self, keys: &[E::Key]) -> Result<Vec<Option<u64>>, Error> {
        dispatch!(self, |m| Ok(m.delete_many::<E>(keys)), |s| s
            .delete_many::<E>(keys))
    }

    /// Up to `limit` rows in key order, starting after the cursor `after`.
    ///
    /// [`Error::InvalidCursor`] for a cursor that is not `E`'s, [`Error::InvalidLimit`] for a `limit` of zero
    /// or above [`MAX_PAGE_LIMIT`](crate::cursor::MAX_PAGE_LIMIT).
    pub async fn scan<E: Record>(
        &self,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<E>, Error> {
        self.scan_with::<E>(after, limit, crate::cursor::default_key()?)
            .await
    }
}
