//! The generic tiered repository: L1 memory → L2 Redis → store.
//!
//! - **Reads** try each tier in turn and promote a hit into the faster tiers, always as "set if newer".
//! - **Writes** commit to the store first (the source of truth), then write through to L2 and L1 as version
//!   compare-and-set, so an older write or a slow miss-fill never overwrites a newer cached value.
//! - **Dropped futures**: a write (commit and cache updates together) runs on the caller's task, and moves to a
//!   spawned task if the caller drops it unfinished, so dropping the caller's future after the commit cannot
//!   leave a stale cache entry behind.
//! - **Consistency**: strong entities get no L1 (no cross-process invalidation is needed, so a write is
//!   acknowledged after the store commit and the Redis compare-and-set); eventual entities use L1 with the
//!   entity's TTL. See `docs/repository.md`.
//! - **Redis failures** are counted and absorbed: the operation continues on the store.

mod audit;
mod blobs;
mod changes;
mod erase;
mod find;
mod health;
pub mod reencrypt;
mod spans;
mod stats;

use crate::cache::{Lookup, MemoryTier};
use crate::cursor::{Cursor, CursorKey};
use crate::error::{Error, Tier};
use crate::pii::TokenKey;
use crate::pii::{AuditOutcome, AuditSink, Operation};
use crate::record::Record;
use crate::schema::Consistency;
use crate::store::{Page, Store, Transaction};
use crate::versioned::Versioned;
use audit::Audit;
pub use blobs::BlobCollection;
pub use changes::L1Invalidation;
pub use erase::{BlobErasure, ErasureReport, ShredReport};
pub use health::{Health, LastError, PROBE_TIMEOUT, Status, TierHealth};
pub use reencrypt::{ReencryptOptions, ReencryptProgress};
use stats::Counters;
pub use stats::Stats;
use std::sync::Arc;
use tracing::Instrument;

#[cfg(feature = "redis")]
use crate::redis::{Cached, Observed, RedisEntity, RedisTier};

/// Without Redis a write has no generation to observe before its commit.
#[cfg(not(feature = "redis"))]
struct Observed;

#[cfg(not(feature = "redis"))]
impl Observed {
    fn nothing() -> Observed {
        Observed
    }
}

/// A typed repository of entity `E` over the configured tiers.
pub struct Repository<E: Record> {
    inner: Arc<Inner<E>>,
}

impl<E: Record> Clone for Repository<E> {
    fn clone(&self) -> Self {
        Repository {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<E: Record> {
    store: Store,
    l1: Option<MemoryTier<E>>,
    #[cfg(feature = "redis")]
    l2: Option<RedisEntity<E>>,
    counters: Counters,
    /// The key page cursors are sealed under; `None`: the process-wide default, resolved at the first page.
    cursor_key: Option<CursorKey>,
    /// The audit trail; `None` when not configured or the entity has no PII.
    audit: Option<Audit<E::Key>>,
    /// With L1 invalidation from the change feed: until when L1 may serve reads.
    freshness: Option<Arc<changes::Freshness>>,
}

/// Configures a [`Repository`].
pub struct RepositoryBuilder<E: Record> {
    store: Store,
    l1: bool,
    #[cfg(feature = "redis")]
    redis: Option<RedisTier>,
    cursor_key: Option<CursorKey>,
    token_key: Option<TokenKey>,
    audit: Option<Arc<dyn AuditSink>>,
    l1_invalidation: Option<L1Invalidation>,
    _entity: std::marker::PhantomData<fn() -> E>,
}

impl<E: Record> RepositoryBuilder<E> {
    /// Turns the L1 tier off even where the schema asks for it (e.g. to measure without it).
    pub fn without_l1(mut self) -> Self {
        self.l1 = false;
        self
    }

    /// Adds the shared Redis tier (L2).
    #[cfg(feature = "redis")]
    pub fn redis(mut self, redis: RedisTier) -> Self {
        self.redis = Some(redis);
        self
    }

    /// Seals this repository's page cursors under `key` instead of the process-wide
    /// [`default_key`](crate::cursor::default_key). Repositories (in any process) with the same key accept each
    /// other's cursors; see [`cursor`](crate::cursor).
    pub fn cursor_key(mut self, key: CursorKey) -> Self {
        self.cursor_key = Some(key);
        self
    }

    /// Names this repository's Redis entries by keyed tokens under `key` when the entity's primary key is PII
    /// (see [`try_build`](Self::try_build) for where the key comes from otherwise). Unused when it is not.
    pub fn token_key(mut self, key: TokenKey) -> Self {
        self.token_key = Some(key);
        self
    }

    /// Records an [`AuditEvent`](crate::pii::AuditEvent) in `sink` for every row this repository reads,
    /// writes or erases, if the entity has a PII field (see `docs/pii.md`). Off by default. When the entity's
    /// primary key is PII, events carry its keyed token, so a token key is needed as for Redis
    /// ([`try_build`](Self::try_build)). With a [`TracingAuditSink`](crate::pii::TracingAuditSink) (see
    /// [`AuditSink::tracing_sink`]) each access is a compact record the sink's writer names, coalesces and
    /// writes, instead of an event built on the caller's thread.
    pub fn audit(mut self, sink: Arc<dyn AuditSink>) -> Self {
        self.audit = Some(sink);
        self
    }

    /// Keeps this process's L1 in step with commits made anywhere, through the entity's change feed (the
    /// `outbox` option): an L1 hit is never older than `options.bound` (see [`L1Invalidation`] and
    /// `docs/changes.md`). Needs an eventual, cached entity with an outbox in a SQL store, and a Tokio runtime
    /// ([`try_build`](Self::try_build) says which is missing).
    pub fn invalidate_l1_from_changes(mut self, options: L1Invalidation) -> Self {
        self.l1_invalidation = Some(options);
        self
    }

    /// Builds the repository.
    ///
    /// # Panics
    /// Where [`try_build`](Self::try_build) returns an error: an entity with encrypted fields on a store without
    /// a key ring, or a Redis tier for an entity whose primary key is PII with no token key configured. Services
    /// that configure those at run time call `try_build`.
    pub fn build(self) -> Repository<E> {
        match self.try_build() {
            Ok(repository) => repository,
            Err(e) => panic!("{e}"),
        }
    }

    /// Builds the repository; [`Error::Config`] naming the entity when its store cannot hold it
    /// ([`Store::check_entity`]: encrypted fields and no key ring), or for a Redis tier of an entity whose primary
    /// key is PII ([`EntitySchema::key_is_pii`](crate::schema::EntitySchema::key_is_pii)) when no token key is
    /// configured.
    ///
    /// Such keys are named in Redis by a keyed token, never in plaintext, and every process sharing the Redis
    /// must compute the same token for the same key (or they would not address the same entry, and a strong
    /// entity's reads could miss a write). The token key is, in order: the one given to
    /// [`token_key`](Self::token_key); `CAPACITOR_TOKEN_KEY`
    /// ([`TokenKey::from_env`](crate::pii::TokenKey::from_env)); derived from this repository's
    /// [`cursor_key`](Self::cursor_key) or the configured process-wide cursor key (`CAPACITOR_CURSOR_KEY`,
    /// [`set_default_key`](crate::cursor::set_default_key)) with [`CursorKey::token_key`], since every
    /// multi-process deployment already shares that one. Never a random key: a process-local token would
    /// silently split the cache.
    pub fn try_build(self) -> Result<Repository<E>, Error> {
        self.store.check_entity::<E>()?;
        let schema = E::SCHEMA;
        // Strong entities get no L1: a read after an acknowledged write must see it from any process, and an
        // in-process cache would need cross-process invalidation before every ack.
        let l1 = match (self.l1, schema.consistency, &schema.cache) {
            (true, Consistency::Eventual, Some(cache)) => Some(MemoryTier::new(cache)),
            _ => None,
        };
        let audit = match &self.audit {
            Some(sink) => {
                let tokens = match schema.key_is_pii() {
                    true => Some(self.resolve_token_key()?.ok_or_else(|| {
                        Error::Config(format!(
                            "{}: its primary key is PII, so audit events need a token key: set {} or {}, or \
                             pass RepositoryBuilder::token_key",
                            schema.message,
                            crate::pii::token::TOKEN_KEY_ENV,
                            crate::cursor::CURSOR_KEY_ENV,
                        ))
                    })?),
                    false => None,
                };
                Audit::new::<E>(sink.clone(), tokens)
            }
            None => None,
        };
        #[cfg(feature = "redis")]
        let l2 = match &self.redis {
            Some(redis) => {
                let tokens = match schema.key_is_pii() {
                    true => self.resolve_token_key()?,
                    false => None,
                };
                Some(
                    redis
                        .entity::<E>(schema.cache.as_ref().and_then(|c| c.ttl()), tokens.as_ref())?
                        .with_encryption(self.store.encryption())
                        .with_blobs(self.store.blobs()),
                )
            }
            None => None,
        };
        let follower = match self.l1_invalidation {
            None => None,
            Some(options) => {
                changes::has_outbox::<E>(&self.store)?;
                if l1.is_none() {
                    return Err(Error::Config(format!(
                        "{}: L1 invalidation needs an L1 tier: an eventual entity with a `cache` option",
                        schema.message
                    )));
                }
                Some((changes::runtime::<E>()?, changes::freshness(), options))
            }
        };
        let inner = Arc::new(Inner {
            store: self.store,
            l1,
            #[cfg(feature = "redis")]
            l2,
            counters: Counters::new(schema.message),
            cursor_key: self.cursor_key,
            audit,
            freshness: follower.as_ref().map(|(_, fresh, _)| fresh.clone()),
        });
        if let Some((runtime, fresh, options)) = follower {
            changes::follow(&runtime, Arc::downgrade(&inner), fresh, options);
        }
        Ok(Repository { inner })
    }

    /// The token key for PII keys (see [`try_build`](Self::try_build)); `None` when none is configured.
    fn resolve_token_key(&self) -> Result<Option<TokenKey>, Error> {
        if let Some(key) = &self.token_key {
            return Ok(Some(key.clone()));
        }
        if let Some(key) = TokenKey::from_env().map_err(|e| Error::Config(e.to_string()))? {
            return Ok(Some(key));
        }
        if let Some(key) = &self.cursor_key {
            return Ok(Some(key.token_key()));
        }
        Ok(crate::cursor::configured_default_key()?.map(CursorKey::token_key))
    }
}

impl<E: Record> Repository<E> {
    /// A repository of `E` on `store`, with L1 as the schema asks and no Redis.
    pub fn new(store: Store) -> Self {
        Self::builder(store).build()
    }

    /// Configures a repository of `E` on `store`.
    pub fn builder(store: Store) -> RepositoryBuilder<E> {
        RepositoryBuilder {
            store,
            l1: true,
            #[cfg(feature = "redis")]
            redis: None,
            cursor_key: None,
            token_key: None,
            audit: None,
            l1_invalidation: None,
            _entity: std::marker::PhantomData,
        }
    }

    /// The store this repository reads and writes.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// L1, when it may serve reads now: always when it exists, unless it follows the change feed and the feed
    /// is not fresh.
    fn readable_l1(&self) -> Option<&MemoryTier<E>> {
        let l1 = self.inner.l1.as_ref()?;
        match &self.inner.freshness {
            Some(freshness) if !freshness.is_fresh() => None,
            _ => Some(l1),
        }
    }

    /// L1, when a read that began under `epoch` (its follower's, see [`changes`]) may fill it.
    fn fillable_l1(&self, epoch: Option<u64>) -> Option<&MemoryTier<E>> {
        let l1 = self.inner.l1.as_ref()?;
        match (&self.inner.freshness, epoch) {
            (Some(freshness), Some(epoch)) if !freshness.may_fill(epoch) => None,
            _ => Some(l1),
        }
    }

    /// Whether reads use an L1 tier (eventual entities with a `cache` option).
    pub fn has_l1(&self) -> bool {
        self.inner.l1.is_some()
    }

    /// Counters since the repository was built.
    pub fn stats(&self) -> Stats {
        self.inner.counters.snapshot()
    }

    /// The value of `key` with its version; [`Error::NotFound`] when absent.
    pub async fn get(&self, key: &E::Key) -> Result<Versioned<E>, Error> {
        let inner = &self.inner;
        if let Some(l1) = self.readable_l1() {
            match l1.get(key) {
                Lookup::Hit(v) => {
                    inner.counters.hit(Tier::Memory);
                    if let Some(audit) = &inner.audit {
                        audit.record::<E>(Operation::Read, key, AuditOutcome::Success);
                    }
                    return Ok(v);
                }
                Lookup::Deleted(_) => {
                    inner.counters.hit(Tier::Memory);
                    if let Some(audit) = &inner.audit {
                        audit.record::<E>(Operation::Read, key, AuditOutcome::NotFound);
                    }
                    return Err(self.not_found());
                }
                Lookup::Miss => inner.counters.miss(Tier::Memory),
            }
        }
        // Boxed: the slow path's state stays out of `get`'s own future, which an L1 hit creates and drops
        // without ever needing it.
        let found = Box::pin(
            self.get_many_below_l1(std::slice::from_ref(key))
                .instrument(self.span("get")),
        )
        .await
        .and_then(|found| {
            found
                .into_iter()
                .next()
                .flatten()
                .ok_or_else(|| self.not_found())
        });
        if let Some(audit) = &inner.audit {
            audit.record_result::<E, _>(Operation::Read, key, &found);
        }
        found
    }

    /// The values of `keys`, aligned with them (`None` where absent), with one round trip per tier.
    pub async fn get_many(&self, keys: &[E::Key]) -> Result<Vec<Option<Versioned<E>>>, Error> {
        let found = self.get_many_unaudited(keys).await;
        if let Some(audit) = &self.inner.audit {
            for (i, key) in keys.iter().enumerate() {
                let outcome = match &found {
                    Ok(values) if values[i].is_some() => AuditOutcome::Success,
                    Ok(_) => AuditOutcome::NotFound,
                    Err(_) => AuditOutcome::Failed,
                };
                audit.record::<E>(Operation::Read, key, outcome);
            }
        }
        found
    }

    async fn get_many_unaudited(
        &self,
        keys: &[E::Key],
    ) -> Result<Vec<Option<Versioned<E>>>, Error> {
        let inner = &self.inner;
        let Some(l1) = self.readable_l1() else {
            return self
                .get_many_below_l1(keys)
                .instrument(self.span("get_many"))
                .await;
        };
        let mut out: Vec<Option<Versioned<E>>> = Vec::with_capacity(keys.len());
        let mut missing_at = Vec::new();
        let mut missing = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            match l1.get(key) {
                Lookup::Hit(v) => {
                    inner.counters.hit(Tier::Memory);
                    out.push(Some(v));
                }
                Lookup::Deleted(_) => {
                    inner.counters.hit(Tier::Memory);
                    out.push(None);
                }
                Lookup::Miss => {
                    inner.counters.miss(Tier::Memory);
                    out.push(None);
                    missing_at.push(i);
                    missing.push(key.clone());
                }
            }
        }
        if !missing.is_empty() {
            let found = self
                .get_many_below_l1(&missing)
                .instrument(self.span("get_many"))
                .await?;
            for (i, v) in missing_at.into_iter().zip(found) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// Inserts or replaces `value` (after checking its rules); returns its new version.
    pub async fn put(&self, value: E) -> Result<u64, Error> {
        let value = prepare(value)?;
        let keys = self.write_keys(|| vec![value.key()]);
        self.write(
            "put",
            "INSERT",
            keys,
            move |store, value: E| async move {
                let version = store.put(&value).await?;
                Ok(vec![(value.key(), Some(value), version)])
            },
            value,
        )
        .await
        .map(first_version)
    }

    /// Inserts `value`; [`Error::Conflict`] (with `expected: None`) if its key is present.
    pub async fn insert(&self, value: E) -> Result<u64, Error> {
        let value = prepare(value)?;
        let keys = self.write_keys(|| vec![value.key()]);
        self.write(
            "insert",
            "INSERT",
            keys,
            move |store, value: E| async move {
                let version = store.insert(&value).await?;
                Ok(vec![(value.key(), Some(value), version)])
            },
            value,
        )
        .await
        .map(first_version)
    }

    /// Replaces `value` if the stored row is at `expected_version`; [`Error::Conflict`] otherwise.
    pub async fn update(&self, value: E, expected_version: u64) -> Result<u64, Error> {
        let value = prepare(value)?;
        let keys = self.write_keys(|| vec![value.key()]);
        self.write(
            "update",
            "UPDATE",
            keys,
            move |store, value: E| async move {
                let version = store.update(&value, expected_version).await?;
                Ok(vec![(value.key(), Some(value), version)])
            },
            value,
        )
        .await
        .map(first_version)
    }

    /// Deletes the row of `key`; returns whether there was one.
    pub async fn delete(&self, key: &E::Key) -> Result<bool, Error> {
        let written = self
            .write(
                "delete",
                "DELETE",
                self.write_keys(|| vec![key.clone()]),
                move |store, key: E::Key| async move {
                    Ok(match store.delete::<E>(&key).await? {
                        Some(version) => vec![(key, None, version)],
                        None => Vec::new(),
                    })
                },
                key.clone(),
            )
            .await?;
        Ok(!written.is_empty())
    }

    /// Inserts or replaces every value in one store transaction; returns their new versions.
    pub async fn put_many(&self, values: Vec<E>) -> Result<Vec<u64>, Error> {
        let values = values
            .into_iter()
            .map(prepare)
            .collect::<Result<Vec<E>, _>>()?;
        let keys = self.write_keys(|| values.iter().map(Record::key).collect());
        let written = self
            .write(
                "put_many",
                "BATCH INSERT",
                keys,
                move |store, values: Vec<E>| async move {
                    let versions = store.put_many(&values).await?;
                    Ok(values
                        .into_iter()
                        .zip(versions)
                        .map(|(v, version)| (v.key(), Some(v), version))
                        .collect())
                },
                values,
            )
            .await?;
        Ok(written.into_iter().map(|(_, _, v)| v).collect())
    }

    /// Deletes every key in one store transaction; returns how many rows existed.
    pub async fn delete_many(&self, keys: &[E::Key]) -> Result<usize, Error> {
        let written = self
            .write(
                "delete_many",
                "BATCH DELETE",
                self.write_keys(|| keys.to_vec()),
                move |store, keys: Vec<E::Key>| async move {
                    let versions = store.delete_many::<E>(&keys).await?;
                    Ok(keys
                        .into_iter()
                        .zip(versions)
                        .filter_map(|(k, v)| v.map(|version| (k, None, version)))
                        .collect())
                },
                keys.to_vec(),
            )
            .await?;
        Ok(written.len())
    }

    /// Up to `limit` rows in key order after the cursor `after` (`None` for the first page; then the previous
    /// page's [`next`](Page::next)), straight from the store: scans bypass the caches.
    ///
    /// [`Error::InvalidCursor`] for a cursor that is not `E`'s, [`Error::InvalidLimit`] for a `limit` of zero
    /// or above [`MAX_PAGE_LIMIT`](crate::cursor::MAX_PAGE_LIMIT).
    pub async fn scan(&self, after: Option<&Cursor>, limit: usize) -> Result<Page<E>, Error> {
        let with = self.cursor_key()?;
        let span = self.span("scan");
        // Made inside the operation's span, so that it is the round trip's parent.
        let round_trip = span.in_scope(|| self.inner.store_span(spans::SELECT));
        let page = self
            .inner
            .store
            .scan_with::<E>(after, limit, with)
            .instrument(round_trip)
            .instrument(span)
            .await;
        self.audit_page(&page);
        page
    }

    /// The keys a write touches, computed only when needed: for its audit events, and for reading the Redis
    /// generations of the buckets they live in that this process has not used yet
    /// ([`RedisEntity::observe`]).
    fn write_keys(&self, keys: impl FnOnce() -> Vec<E::Key>) -> Vec<E::Key> {
        #[cfg(feature = "redis")]
        let observing = self
            .inner
            .l2
            .as_ref()
            .is_some_and(|l2| !l2.knows_every_generation());
        #[cfg(not(feature = "redis"))]
        let observing = false;
        match self.inner.audit.is_some() || observing {
            true => keys(),
            false => Vec::new(),
        }
    }

    /// Audits the rows a page returned as reads.
    pub(super) fn audit_page(&self, page: &Result<Page<E>, Error>) {
        if let (Some(audit), Ok(page)) = (&self.inner.audit, page) {
            for item in &page.items {
                audit.record::<E>(Operation::Read, &item.value.key(), AuditOutcome::Success);
            }
        }
    }

    fn not_found(&self) -> Error {
        Error::NotFound {
            entity: E::SCHEMA.message,
        }
    }

    /// The span of the repository operation `op` (see [`spans`]).
    fn span(&self, op: &'static str) -> tracing::Span {
        spans::operation(E::SCHEMA, self.inner.store.db_system(), op)
    }

    /// L2, then the store for what L2 lacks; promotes what it finds.
    async fn get_many_below_l1(&self, keys: &[E::Key]) -> Result<Vec<Option<Versioned<E>>>, Error> {
        let inner = &self.inner;
        let epoch = inner.freshness.as_ref().map(|f| f.epoch());
        let mut out: Vec<Option<Versioned<E>>> = vec![None; keys.len()];
        #[cfg_attr(not(feature = "redis"), allow(unused_mut))]
        let mut pending: Vec<usize> = (0..keys.len()).collect();

        // The Redis generation the misses were read under: store rows are cached in Redis only if it has not
        // moved on (a bump must not receive an old read). `None`: Redis failed, so no fill.
        #[cfg(feature = "redis")]
        let mut generation = None;
        #[cfg(feature = "redis")]
        if let Some(l2) = &inner.l2 {
            let started = std::time::Instant::now();
            let result = l2.get_many(keys).instrument(inner.redis_span()).await;
            inner.counters.latency(Tier::Redis, started.elapsed());
            match result {
                Ok((read_under, cached)) => {
                    generation = Some(read_under);
                    pending.clear();
                    for (i, c) in cached.into_iter().enumerate() {
                        match c {
                            Cached::Hit(v) => {
                                inner.counters.hit(Tier::Redis);
                                if let Some(l1) = self.fillable_l1(epoch)
                                    && l1.set_if_newer(&keys[i], &v.value, v.version)
                                {
                                    inner.counters.promotion(Tier::Memory);
                                }
                                out[i] = Some(v);
                            }
                            Cached::Deleted(version) => {
                                inner.counters.hit(Tier::Redis);
                                if let Some(l1) = self.fillable_l1(epoch) {
                                    l1.set_deleted(&keys[i], version);
                                }
                            }
                            Cached::Miss => {
                                inner.counters.miss(Tier::Redis);
                                pending.push(i);
                            }
                        }
                    }
                }
                Err(e) => inner.counters.error(Tier::Redis, &e),
            }
        }
        if pending.is_empty() {
            return Ok(out);
        }

        let wanted: Vec<E::Key> = pending.iter().map(|&i| keys[i].clone()).collect();
        let started = std::time::Instant::now();
        // One key: the single-row statement (prepared once, no IN list to build).
        let result = async {
            match wanted.as_slice() {
                [key] => inner.store.get::<E>(key).await.map(|row| vec![row]),
                _ => inner.store.get_many::<E>(&wanted).await,
            }
        }
        .instrument(inner.store_span(spans::SELECT))
        .await;
        inner.counters.latency(Tier::Store, started.elapsed());
        let rows = match result {
            Ok(rows) => rows,
            Err(e) => {
                inner.counters.error(Tier::Store, &e);
                return Err(e);
            }
        };
        #[cfg(feature = "redis")]
        let mut fills = Vec::new();
        for (&i, row) in pending.iter().zip(rows) {
            match &row {
                Some(v) => {
                    inner.counters.hit(Tier::Store);
                    if let Some(l1) = self.fillable_l1(epoch)
                        && l1.set_if_newer(&keys[i], &v.value, v.version)
                    {
                        inner.counters.promotion(Tier::Memory);
                    }
                    #[cfg(feature = "redis")]
                    fills.push((keys[i].clone(), Some(v.value.clone()), v.version));
                }
                None => inner.counters.miss(Tier::Store),
            }
            out[i] = row;
        }
        #[cfg(feature = "redis")]
        if let (Some(l2), Some(generation), false) = (&inner.l2, &generation, fills.is_empty()) {
            match l2
                .fill_if_newer(generation, &fills)
                .instrument(inner.redis_span())
                .await
            {
                Ok(()) => inner.counters.promotions(Tier::Redis, fills.len()),
                Err(e) => inner.counters.error(Tier::Redis, &e),
            }
        }
        Ok(out)
    }

    /// Runs a store write and the cache write-through together; if the caller drops its future after the
    /// commit, the rest runs in a spawned task ([`DetachOnDrop`](crate::detach::DetachOnDrop)), so the caches are
    /// still updated. `commit` returns what it wrote: (key, value or `None` for
    /// a delete, new version).
    async fn write<A, F, Fut>(
        &self,
        op: &'static str,
        statement: &'static str,
        keys: Vec<E::Key>,
        commit: F,
        arg: A,
    ) -> Result<Vec<(E::Key, Option<E>, u64)>, Error>
    where
        A: Send + 'static,
        F: FnOnce(Store, A) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Vec<(E::Key, Option<E>, u64)>, Error>> + Send + 'static,
    {
        let inner = self.inner.clone();
        let span = self.span(op);
        let task = async move {
            // What this process has seen of the Redis generations, before the commit: its write-through may
            // create entries only where no new generation began since (see `RedisEntity::observe`).
            let observed = inner.observe(&keys).await;
            let started = std::time::Instant::now();
            let result = commit(inner.store.clone(), arg)
                .instrument(inner.store_span(statement))
                .await;
            inner.counters.latency(Tier::Store, started.elapsed());
            let written = match result {
                Ok(written) => written,
                Err(e) => {
                    if !matches!(e, Error::Conflict { .. } | Error::NotFound { .. }) {
                        inner.counters.error(Tier::Store, &e);
                    }
                    if let Some(audit) = &inner.audit {
                        for key in &keys {
                            audit.record::<E>(Operation::Write, key, AuditOutcome::Failed);
                        }
                    }
                    return Err(e);
                }
            };
            inner
                .write_through(&written, Operation::Write, &observed)
                .await?;
            Ok(written)
        }
        .instrument(span);
        crate::detach::DetachOnDrop::new(task).await
    }
}

/// What a write wrote: key, value (`None` for a delete) and new version.
type Written<E> = Vec<(<E as Record>::Key, Option<E>, u64)>;

impl<E: Record> Inner<E> {
    /// The span of one store round trip sending `statement`.
    fn store_span(&self, statement: &'static str) -> tracing::Span {
        spans::round_trip(E::SCHEMA, Tier::Store, self.store.db_system(), statement)
    }

    /// What this process has seen of the Redis generations of `keys`' buckets, to take before a store commit
    /// (reads the buckets it has not used yet; nothing without Redis).
    #[cfg_attr(not(feature = "redis"), allow(unused_variables))]
    async fn observe(&self, keys: &[E::Key]) -> Observed {
        #[cfg(feature = "redis")]
        if let Some(l2) = &self.l2 {
            return match l2.knows_every_generation() {
                true => l2.observed(),
                false => l2.observe(keys).instrument(self.redis_span()).await,
            };
        }
        Observed::nothing()
    }

    /// The span of one Redis round trip.
    #[cfg(feature = "redis")]
    fn redis_span(&self) -> tracing::Span {
        spans::round_trip(E::SCHEMA, Tier::Redis, "redis", spans::REDIS_SCRIPT)
    }

    /// After a commit: Redis, then L1, each as compare-and-set. A Redis failure is counted and absorbed, unless
    /// the write must not be acknowledged ([`Error::Unconfirmed`]; see `RedisOptions::strong_writes_need_redis`).
    #[cfg_attr(not(feature = "redis"), allow(unused_variables))]
    async fn write_through(
        &self,
        written: &Written<E>,
        operation: Operation,
        observed: &Observed,
    ) -> Result<(), Error> {
        self.counters.write(written.len());
        if let Some(audit) = &self.audit {
            for (key, _, _) in written {
                audit.record::<E>(operation, key, AuditOutcome::Success);
            }
        }
        #[cfg_attr(not(feature = "redis"), allow(unused_mut))]
        let mut outcome = Ok(());
        #[cfg(feature = "redis")]
        if let (Some(l2), false) = (&self.l2, written.is_empty()) {
            let started = std::time::Instant::now();
            let result = l2
                .set_many_if_newer(written, observed)
                .instrument(self.redis_span())
                .await;
            self.counters.latency(Tier::Redis, started.elapsed());
            if let Err(e) = result {
                self.counters.error(Tier::Redis, &e);
                if l2.write_unconfirmed() {
                    outcome = Err(Error::Unconfirmed {
                        entity: E::SCHEMA.message,
                        tier: Tier::Redis,
                    });
                }
            }
        }
        if let Some(l1) = &self.l1 {
            for (key, value, version) in written {
                match value {
                    Some(v) => {
                        l1.set_if_newer(key, v, *version);
                    }
                    None => l1.set_deleted(key, *version),
                }
            }
        }
        outcome
    }
}

/// Transactions: writes through several repositories of one store, cached only after the commit.
impl<E: Record> Repository<E> {
    /// The cache write-through of `written` once `tx` commits, in its own `after_commit` operation span.
    /// A transaction does not wait for Redis before its commit: the write-through carries the generations this
    /// process has seen so far (where it has used no bucket yet, it leaves a fence rather than an entry).
    fn after_commit(&self, tx: &mut Transaction, written: Written<E>) {
        let inner = self.inner.clone();
        let span = self.span("after_commit");
        #[cfg(feature = "redis")]
        let observed = inner
            .l2
            .as_ref()
            .map_or_else(Observed::nothing, RedisEntity::observed);
        #[cfg(not(feature = "redis"))]
        let observed = Observed::nothing();
        tx.after_commit(Box::new(move || {
            Box::pin(
                async move {
                    inner
                        .write_through(&written, Operation::Write, &observed)
                        .await
                }
                .instrument(span),
            )
        }));
    }

    /// The spans of an operation `op` that makes one store round trip sending `statement` (a write inside a
    /// transaction, a page of the re-encryption pass): the operation's, and the round trip's inside it.
    fn op_spans(
        &self,
        op: &'static str,
        statement: &'static str,
    ) -> (tracing::Span, tracing::Span) {
        let span = self.span(op);
        let round_trip = span.in_scope(|| self.inner.store_span(statement));
        (span, round_trip)
    }

    /// [`put`](Self::put) inside `tx`.
    pub async fn put_in(&self, tx: &mut Transaction, value: E) -> Result<u64, Error> {
        let value = prepare(value)?;
        let (span, round_trip) = self.op_spans("put_in", "INSERT");
        let version = tx
            .put(&value)
            .instrument(round_trip)
            .instrument(span)
            .await?;
        self.after_commit(tx, vec![(value.key(), Some(value), version)]);
        Ok(version)
    }

    /// [`insert`](Self::insert) inside `tx`.
    pub async fn insert_in(&self, tx: &mut Transaction, value: E) -> Result<u64, Error> {
        let value = prepare(value)?;
        let (span, round_trip) = self.op_spans("insert_in", "INSERT");
        let version = tx
            .insert(&value)
            .instrument(round_trip)
            .instrument(span)
            .await?;
        self.after_commit(tx, vec![(value.key(), Some(value), version)]);
        Ok(version)
    }

    /// [`update`](Self::update) inside `tx`.
    pub async fn update_in(
        &self,
        tx: &mut Transaction,
        value: E,
        expected_version: u64,
    ) -> Result<u64, Error> {
        let value = prepare(value)?;
        let (span, round_trip) = self.op_spans("update_in", "UPDATE");
        let version = tx
            .update(&value, expected_version)
            .instrument(round_trip)
            .instrument(span)
            .await?;
        self.after_commit(tx, vec![(value.key(), Some(value), version)]);
        Ok(version)
    }

    /// [`delete`](Self::delete) inside `tx`.
    pub async fn delete_in(&self, tx: &mut Transaction, key: &E::Key) -> Result<bool, Error> {
        let (span, round_trip) = self.op_spans("delete_in", "DELETE");
        let deleted = tx
            .delete::<E>(key)
            .instrument(round_trip)
            .instrument(span)
            .await?;
        if let Some(version) = deleted {
            self.after_commit(tx, vec![(key.clone(), None, version)]);
        }
        Ok(deleted.is_some())
    }
}

/// A value as a write stores and caches it: its rules checked (a violation touches no tier), then its unstored
/// fields cleared ([`Record::clear_unstored`]), so every tier holds what the store holds.
fn prepare<E: Record>(mut value: E) -> Result<E, Error> {
    value.check_rules().map_err(Error::Validation)?;
    value.clear_unstored();
    Ok(value)
}

fn first_version<K, E>(written: Vec<(K, Option<E>, u64)>) -> u64 {
    written.first().map(|(_, _, v)| *v).unwrap_or_default()
}
