//! The shared cache tier (L2) on Redis, behind the `redis` feature.
//!
//! - **Connection**: redis-rs's reconnecting [`ConnectionManager`] (or a cluster connection for
//!   `redis+cluster://` URLs); every read is bounded by [`RedisOptions::timeout`], so a hung Redis costs the
//!   timeout, not the request, and after a failure Redis is skipped for [`RedisOptions::backoff`]. The
//!   write-through of a strong entity is never skipped and gets the longer [`RedisOptions::write_timeout`]:
//!   a write that does not reach Redis could let another process read the older cached version, so a slow
//!   Redis delays the acknowledgement (boundedly) rather than risking a stale read. When it fails anyway, one
//!   generation bump is tried (bounded by `write_timeout` too) before the write is acknowledged.
//! - **Keys**: `<prefix>:{<tag>}:<fingerprint>:<generation>:<key>`. The braces are a Cluster hash tag: all keys
//!   of one tag live in one slot, so the scripts below may touch several of them. An entity is one tag,
//!   `{<table>}`, on a single server, and [`CLUSTER_BUCKETS`] tags, `{<table>/<bucket>}`, on a cluster, so its
//!   keys spread over the masters; each bucket has its own generation, and a batch runs one script per bucket,
//!   concurrently. The fingerprint changes with the schema, so bytes written under an old schema are never
//!   decoded as the new one.
//! - **Values**: the row version as 16 hex digits, `L` (live), `T` (tombstone) or `F` (fence), then the
//!   protobuf bytes (none for `T` and `F`). Fixed-width hex compares like the number and `F` < `L` < `T`, so the
//!   Lua scripts compare these 17 bytes as strings: newer versions win, and a delete wins over the live value of
//!   its own version.
//! - **Writes** are version compare-and-set in one Lua script: set only if newer than what Redis holds. A
//!   write-through creates an entry only in the generation its process had seen before the store commit
//!   ([`RedisEntity::observe`]); in a later one it updates an entry a read filled and otherwise leaves a fence,
//!   a version with no value that readers take for a miss and no older fill passes, since it may arrive after a
//!   newer version's write-through landed in the generation before (see `observed.rs`).
//! - **Missed writes**: any failure on a connection (error or timeout, for any entity) is counted. Before an
//!   entity uses a bucket again, it increments that bucket's generation (`<prefix>:{<tag>}:gen`; the others
//!   right after, in the background); every script reads the
//!   generation server-side, so entries that may have missed a write are never served again, by any process
//!   (they expire by their TTL).
//! - **Lost history**: a failover (a replica promoted without the last writes it had not replicated yet), a
//!   restart from an older snapshot or a slot moved to another node need not break any client's connection (the
//!   cluster client follows `MOVED` and reconnects on its own, without an error), so the scripts detect them
//!   server-side: the generation record names the replication history it was made in, and a script running in
//!   another history starts a new generation before it reads or writes (see `scripts.rs`). See
//!   `docs/repository.md` for what this does not cover (a partition that hides Redis from one process only; a
//!   demoted master that accepts a write before it learns it was replaced).
//! - **Hits on a single server** skip the scripts: one `MGET` of the generation record and the entries, served
//!   only when the record is the one a script checked since the connection's last failure (`get_chunk`).

mod keys;
mod observed;
mod scripts;

use crate::blob::claim::{Blobs, EntityBlobs, Fetched};
use crate::driver_error::DriverError;
use crate::error::{Error, Tier};
use crate::pii::TokenKey;
use crate::pii::field_keys::{Encryption, row_key};
use crate::record::Record;
use crate::schema::Consistency;
use crate::versioned::Versioned;
pub use keys::CLUSTER_BUCKETS;
use keys::{Bucket, KeySpace};
pub use observed::Observed;
use observed::Seen;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The most keys one script call reads or writes. A script blocks the Redis server while it runs, and each call
/// has its own [`RedisOptions::timeout`]: a batch of tens of thousands of keys in one call took longer than the
/// default 50 ms, and the failure retired the entity's whole cache (a generation bump). Chunks of this size take
/// well under a millisecond each.
pub const KEYS_PER_SCRIPT: usize = 256;

/// How the Redis tier connects and behaves.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// Key prefix shared by every entity of this application.
    pub prefix: String,
    /// Bound on each Redis read and each write-through of an eventual entity.
    pub timeout: Duration,
    /// Bound on the write-through of a strong entity (see the module docs).
    pub write_timeout: Duration,
    /// How long Redis is skipped after a failure before it is tried again.
    pub backoff: Duration,
    /// TTL of entries of entities without a cache TTL (`None`: kept until Redis evicts them).
    pub default_ttl: Option<Duration>,
    /// TTL of tombstones and fences (they only need to outlive a racing miss-fill).
    pub tombstone_ttl: Duration,
    /// Acknowledge a strong entity's write only once Redis holds it, or once the entity's generation was bumped
    /// after the write-through failed (either way no process can read the previous version from Redis).
    ///
    /// Off (the default), a strong write whose write-through fails is acknowledged from the store, so the
    /// repository keeps working while Redis is down; the price is one window: if only this process cannot reach
    /// Redis, other processes may read the previous version until it reconnects or the entry expires. On, such a
    /// write returns [`Error::Unconfirmed`] instead (the store did commit it), which closes the window at the
    /// cost of strong writes failing while this process cannot reach Redis.
    pub strong_writes_need_redis: bool,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            prefix: "capacitor".to_owned(),
            timeout: Duration::from_millis(50),
            write_timeout: Duration::from_secs(1),
            backoff: Duration::from_millis(500),
            default_ttl: Some(Duration::from_secs(3600)),
            tombstone_ttl: Duration::from_secs(60),
            strong_writes_need_redis: false,
        }
    }
}

#[derive(Clone)]
enum Connection {
    Single(ConnectionManager),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl Connection {
    async fn query<T: redis::FromRedisValue>(&mut self, cmd: &redis::Cmd) -> redis::RedisResult<T> {
        match self {
            Connection::Single(c) => cmd.query_async(c).await,
            Connection::Cluster(c) => cmd.query_async(c).await,
        }
    }

    async fn invoke<T: redis::FromRedisValue>(
        &mut self,
        call: &redis::ScriptInvocation<'_>,
    ) -> redis::RedisResult<T> {
        match self {
            Connection::Single(c) => call.invoke_async(c).await,
            Connection::Cluster(c) => call.invoke_async(c).await,
        }
    }
}

/// A connection to Redis shared by the repositories of one application.
#[derive(Clone)]
pub struct RedisTier {
    connection: Connection,
    options: Arc<RedisOptions>,
    health: Arc<Health>,
}

impl RedisTier {
    /// Connects to `url` (`redis://…`, or `redis+cluster://host:port,host:port` for a Redis Cluster).
    pub async fn connect(url: &str, options: RedisOptions) -> Result<Self, Error> {
        let config_error = |e: redis::RedisError| Error::Config(format!("redis: {e}"));
        let connection = if let Some(nodes) = url.strip_prefix("redis+cluster://") {
            let nodes: Vec<String> = nodes.split(',').map(|n| format!("redis://{n}")).collect();
            let client = redis::cluster::ClusterClientBuilder::new(nodes)
                .response_timeout(options.timeout.max(options.write_timeout))
                .connection_timeout(options.timeout)
                .build()
                .map_err(config_error)?;
            let connection =
                tokio::time::timeout(options.timeout * 20, client.get_async_connection())
                    .await
                    .map_err(|_| Error::Config("redis: cluster connection timed out".to_owned()))?
                    .map_err(config_error)?;
            Connection::Cluster(connection)
        } else {
            let client = redis::Client::open(url).map_err(config_error)?;
            let config = ConnectionManagerConfig::new()
                // Each operation has its own bound (`run`); the connection's only needs to cover the longest.
                .set_response_timeout(Some(options.timeout.max(options.write_timeout)))
                .set_connection_timeout(Some(options.timeout))
                .set_number_of_retries(1)
                .set_max_delay(options.backoff);
            // A manager that cannot connect at start is a configuration error worth reporting; later outages
            // are absorbed by the tier.
            let connection = tokio::time::timeout(
                options.timeout * 20,
                ConnectionManager::new_with_config(client, config),
            )
            .await
            .map_err(|_| Error::Config("redis: connection timed out".to_owned()))?
            .map_err(config_error)?;
            Connection::Single(connection)
        };
        Ok(RedisTier {
            connection,
            options: Arc::new(options),
            health: Arc::default(),
        })
    }

    /// The tier's options.
    pub fn options(&self) -> &RedisOptions {
        &self.options
    }

    /// The L2 tier of entity `E`, whose entries live `ttl` (`None`: [`RedisOptions::default_ttl`]).
    ///
    /// When `E`'s key is PII ([`EntitySchema::key_is_pii`](crate::schema::EntitySchema::key_is_pii)), its keys
    /// are named in Redis by their keyed token under `tokens`, which every process sharing this Redis must
    /// share; [`Error::Config`] without one. `tokens` is unused otherwise.
    pub fn entity<E: Record>(
        &self,
        ttl: Option<Duration>,
        tokens: Option<&TokenKey>,
    ) -> Result<RedisEntity<E>, Error> {
        let tokens = match (E::SCHEMA.key_is_pii(), tokens) {
            (false, _) => None,
            (true, Some(tokens)) => Some((tokens.clone(), E::SCHEMA.full_name())),
            (true, None) => {
                return Err(Error::Config(format!(
                    "{}: its primary key is PII, so its Redis key names need a token key shared by every \
                     process: set {} or {}, or pass RepositoryBuilder::token_key",
                    E::SCHEMA.message,
                    crate::pii::token::TOKEN_KEY_ENV,
                    crate::cursor::CURSOR_KEY_ENV,
                )));
            }
        };
        let buckets = match self.connection {
            Connection::Single(_) => 1,
            Connection::Cluster(_) => CLUSTER_BUCKETS,
        };
        // Outages before this handle existed were handled by the handles that saw them.
        let failures = self.health.failures.load(Ordering::Acquire);
        Ok(RedisEntity {
            tier: self.clone(),
            keys: KeySpace::new(
                &self.options.prefix,
                E::SCHEMA.table,
                E::fingerprint(),
                buckets,
                tokens,
            ),
            ttl: entry_ttl(
                E::SCHEMA.consistency,
                ttl.or(self.options.default_ttl),
                self.options.tombstone_ttl,
            ),
            clean_through: (0..buckets).map(|_| AtomicU64::new(failures)).collect(),
            bumping: Arc::default(),
            seen: Seen::new(buckets),
            checked: Arc::default(),
            encryption: Encryption::default(),
            blobs: Blobs::default(),
            _entity: PhantomData,
        })
    }
}

/// How long an entity's entries live in Redis: its cache TTL, else the default; for a strong entity at least
/// `tombstone_ttl`. Version comparison needs the newer entry to be there when an older write-through arrives
/// late (a retried script, a descheduled task); tombstones and fences already assume that arrives within
/// `tombstone_ttl`, and a strong entity's values get the same margin (its reads never depend on the TTL, which
/// only bounds memory). An eventual entity keeps its TTL as given: its staleness bound is that TTL.
fn entry_ttl(
    consistency: Consistency,
    ttl: Option<Duration>,
    tombstone_ttl: Duration,
) -> Option<Duration> {
    match consistency {
        Consistency::Strong => ttl.map(|t| t.max(tombstone_ttl)),
        Consistency::Eventual => ttl,
    }
}

/// The health of one Redis connection, shared by every entity that uses it.
#[derive(Default)]
struct Health {
    /// Failures so far (errors, timeouts); an entity whose generation was bumped through a smaller count
    /// bumps it again before its next use of Redis.
    failures: AtomicU64,
    /// Until when Redis is skipped, in milliseconds since the process epoch (0: not skipped).
    skip_until_ms: AtomicU64,
}

/// An entry to write: the key, the value (`None` for a tombstone) and its version.
type Entry<E> = (<E as Record>::Key, Option<E>, u64);

/// What a `SET_IF_NEWER` call writes: values a lookup missed under these generations and then read from the
/// store, or committed values written through by a writer that had seen these generations before its commit.
#[derive(Clone, Copy)]
enum Write<'a> {
    Fill(&'a Generation),
    Through(&'a Observed),
}

/// The generation records a lookup read under, one per bucket it read (opaque).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation(Vec<Option<Vec<u8>>>);

/// What an L2 lookup found.
#[derive(Debug, Clone, PartialEq)]
pub enum Cached<E> {
    /// A live value.
    Hit(Versioned<E>),
    /// A tombstone: deleted at this version.
    Deleted(u64),
    /// Not in Redis.
    Miss,
}

/// A generation record as a script returned it after checking it against the node's history, and the tier's
/// failure count before that script ran: while the count is unchanged, the connection has not broken since.
struct Checked {
    failures: u64,
    generation: Vec<u8>,
    record: Vec<u8>,
}

/// The L2 tier of one entity.
pub struct RedisEntity<E> {
    tier: RedisTier,
    keys: KeySpace,
    ttl: Option<Duration>,
    /// Per bucket, the tier failure count through which its generation has been bumped.
    clean_through: Arc<[AtomicU64]>,
    /// Set while a background task bumps the buckets an operation did not use (see [`run`](Self::run)).
    bumping: Arc<std::sync::atomic::AtomicBool>,
    /// Per bucket, the generation the last script on it returned (what a write-through may create values in).
    seen: Seen,
    /// The record the last `GET_MANY` script checked on a single server: reads compare a plain `MGET`'s record
    /// with it instead of running the script (see [`get_chunk`](Self::get_chunk)).
    checked: Arc<std::sync::RwLock<Option<Arc<Checked>>>>,
    /// The keys `E`'s encrypted fields are sealed under in cached payloads (the store's).
    encryption: Encryption,
    /// The blob store claim-checked values are read from (the store's).
    blobs: Blobs,
    _entity: PhantomData<fn() -> E>,
}

impl<E> Clone for RedisEntity<E> {
    fn clone(&self) -> Self {
        RedisEntity {
            tier: self.tier.clone(),
            keys: self.keys.clone(),
            ttl: self.ttl,
            clean_through: self.clean_through.clone(),
            bumping: self.bumping.clone(),
            seen: self.seen.clone(),
            checked: self.checked.clone(),
            encryption: self.encryption.clone(),
            blobs: self.blobs.clone(),
            _entity: PhantomData,
        }
    }
}

fn process_epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    process_epoch().elapsed().as_millis() as u64 + 1
}

impl<E: Record> RedisEntity<E> {
    /// Seals `E`'s encrypted fields in cached payloads under `encryption` (the repository passes its store's).
    pub(crate) fn with_encryption(mut self, encryption: Encryption) -> Self {
        self.encryption = encryption;
        self
    }

    /// Reads claim-checked values' blobs from `blobs` (the repository passes its store's).
    pub(crate) fn with_blobs(mut self, blobs: Blobs) -> Self {
        self.blobs = blobs;
        self
    }

    /// The cached payload of `value`: its protobuf encoding, each claim-checked field's bytes in their stored
    /// form (a value above the threshold as its blob's reference), then each encrypted field's bytes sealed
    /// (stored forms included). `None` when a sealed blob's reference is not known in this process (see
    /// `SealedRefs`): the entry is then written as a fence, read as a miss.
    fn payload(&self, key: &E::Key, value: &E) -> Result<Option<Vec<u8>>, Error> {
        let mut encoded = value.encode_to_vec();
        if let Some(blobs) = self.blobs.for_entity(E::SCHEMA)? {
            let row_key = row_key::<E>(key);
            let payload = crate::blob::claim::store_payload(
                E::SCHEMA,
                &encoded,
                None,
                Some((blobs.sealed(), &row_key)),
            )
            .map_err(|e| Error::backend(E::SCHEMA.message, Tier::Redis, e))?;
            match payload {
                Some(payload) => encoded = payload,
                None => return Ok(None),
            }
        }
        match self.encryption.for_entity::<E>()? {
            None => Ok(Some(encoded)),
            // An entity with a data subject seals under the subject's key, which the store's write cached;
            // when it is not cached the seal fails and `write_chunk` writes a fence instead.
            Some(keys) => keys
                .sealing_cached(value)
                .seal_message(&row_key::<E>(key), &encoded)
                .map(Some)
                .map_err(|e| Error::backend(E::SCHEMA.message, Tier::Redis, e)),
        }
    }

    /// The health probe: one `PING` on the tier's connection, outside the backoff and the failure count (a
    /// probe writes nothing, so its failure cannot hide a missed write).
    pub(crate) async fn ping(&self) -> Result<(), DriverError> {
        let ping = redis::cmd("PING");
        let reply: redis::RedisResult<String> = match self.tier.connection.clone() {
            Connection::Single(mut c) => ping.query_async(&mut c).await,
            Connection::Cluster(mut c) => ping.query_async(&mut c).await,
        };
        reply.map(drop).map_err(DriverError::from)
    }

    /// Whether the tier will skip Redis right now (it failed less than `backoff` ago).
    pub fn is_skipping(&self) -> bool {
        now_ms() < self.tier.health.skip_until_ms.load(Ordering::Acquire)
    }

    /// Whether Redis failed since the generation of one of this entity's buckets was last bumped (the next use
    /// bumps it).
    pub fn needs_new_generation(&self) -> bool {
        let failures = self.tier.health.failures.load(Ordering::Acquire);
        self.clean_through
            .iter()
            .any(|clean| failures > clean.load(Ordering::Acquire))
    }

    /// Whether a strong write whose write-through just failed must not be acknowledged: the entity is strong,
    /// [`RedisOptions::strong_writes_need_redis`] is on, and the generation was not bumped since the failure (so
    /// other processes may still read the previous version from Redis).
    pub fn write_unconfirmed(&self) -> bool {
        E::SCHEMA.consistency == Consistency::Strong
            && self.tier.options.strong_writes_need_redis
            && self.needs_new_generation()
    }

    /// Looks up `keys`: grouped by bucket (one slot each; a single server has one), each bucket's keys in chunks
    /// of [`KEYS_PER_SCRIPT`], every chunk one script call (or `MGET`). A bucket's chunks run in turn (each under
    /// its own timeout), the buckets concurrently, so on a cluster the calls to one node are in flight together
    /// on its connection. Also returns the generations they were
    /// read under, for [`fill_if_newer`](Self::fill_if_newer): per bucket, its first chunk's, so if a bump came
    /// between chunks, a fill is refused rather than carried into the new generation.
    pub async fn get_many(&self, keys: &[E::Key]) -> Result<(Generation, Vec<Cached<E>>), Error> {
        let tokens: Vec<String> = keys.iter().map(|k| self.keys.token::<E>(k)).collect();
        let calls = self.calls(&tokens);
        // A bucket's chunks one after another (each has its own timeout, which chunks queued on one server
        // together would share), the buckets concurrently.
        let tokens = &tokens;
        let reads = calls.iter().map(|(bucket, chunks)| async move {
            let mut found = Vec::with_capacity(chunks.len());
            for indices in chunks {
                let keys: Vec<E::Key> = indices.iter().map(|&i| keys[i].clone()).collect();
                let tokens: Vec<String> = indices.iter().map(|&i| tokens[i].clone()).collect();
                found.push(self.get_chunk(*bucket, &keys, tokens).await?);
            }
            Ok::<_, Error>(found)
        });
        let results = match calls.len() {
            1 => vec![reads.into_iter().next().expect("one bucket").await?],
            _ => futures_util::future::try_join_all(reads).await?,
        };
        let mut generations = vec![None; self.keys.buckets().len()];
        let mut values: Vec<Option<Cached<E>>> = (0..keys.len()).map(|_| None).collect();
        for ((bucket, chunks), results) in calls.iter().zip(results) {
            for (indices, (generation, found)) in chunks.iter().zip(results) {
                generations[*bucket].get_or_insert(generation);
                for (&i, value) in indices.iter().zip(found) {
                    values[i] = Some(value);
                }
            }
        }
        let values = values
            .into_iter()
            .map(|v| v.unwrap_or(Cached::Miss))
            .collect();
        Ok((Generation(generations), values))
    }

    /// The script calls a batch of keys (by token) takes: each bucket that has keys, with its indices in chunks
    /// of [`KEYS_PER_SCRIPT`], in order.
    fn calls(&self, tokens: &[String]) -> Vec<(usize, Vec<Vec<usize>>)> {
        let mut by_bucket: Vec<Vec<usize>> = vec![Vec::new(); self.keys.buckets().len()];
        for (i, token) in tokens.iter().enumerate() {
            by_bucket[self.keys.bucket_of(token)].push(i);
        }
        by_bucket
            .into_iter()
            .enumerate()
            .filter(|(_, indices)| !indices.is_empty())
            .map(|(bucket, indices)| {
                let chunks = indices.chunks(KEYS_PER_SCRIPT).map(<[usize]>::to_vec);
                (bucket, chunks.collect())
            })
            .collect()
    }

    /// The hash tag (braces included) under which `key`'s entries live: `{<table>}` on a single server,
    /// `{<table>/<bucket>}` on a cluster ([`CLUSTER_BUCKETS`]), so `CLUSTER KEYSLOT` of it names the key's slot.
    pub fn hash_tag(&self, key: &E::Key) -> &str {
        let token = self.keys.token::<E>(key);
        self.keys.bucket(self.keys.bucket_of(&token)).tag()
    }

    /// One chunk's lookup: a plain `MGET` when a script checked the generation record on this connection
    /// (single server), else one `GET_MANY` script call.
    ///
    /// The script checks the record against the node's replication history (`INFO replication`, see `scripts.rs`)
    /// on every call, which made a hit cost about 1.4 times a plain `GET`. On a single server that history only
    /// changes with a restart, which breaks the connection: the next request on it fails, the failure is counted,
    /// and no `MGET` runs again until a script has checked the record anew. So once a script has returned the
    /// record under the current failure count, the reads fetch the record and the data keys of its generation in
    /// one `MGET` (atomic, like the script) and serve them only when the record is still that one (another
    /// process's bump, or a new history recorded by any script, changes it: then the script runs). A cluster
    /// connection follows `MOVED`, failovers and reconnects on its own, without an error, so it keeps the check
    /// in every script.
    async fn get_chunk(
        &self,
        bucket: usize,
        keys: &[E::Key],
        tokens: Vec<String>,
    ) -> Result<(Vec<u8>, Vec<Cached<E>>), Error> {
        if let Some(found) = self.get_chunk_plain(keys, &tokens).await? {
            return Ok(found);
        }
        let failures = self.tier.health.failures.load(Ordering::Acquire);
        let mut raw: Vec<Option<Vec<u8>>> = self
            .run(bucket, false, |mut c, keys| async move {
                let mut call = scripts::get_many().key(keys.gen_key());
                call.arg(keys.base());
                for t in &tokens {
                    call.arg(t);
                }
                c.invoke(&call).await
            })
            .await?;
        if raw.len() < 2 {
            return Err(Error::backend(
                E::SCHEMA.message,
                Tier::Redis,
                "short reply",
            ));
        }
        let values = raw.split_off(2);
        let record = raw.pop().flatten().unwrap_or_default();
        let generation = raw.pop().flatten().unwrap_or_default();
        self.seen.record(bucket, &record);
        if let Connection::Single(_) = self.tier.connection {
            *self.checked.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(Checked {
                failures,
                generation,
                record: record.clone(),
            }));
        }
        let values = self.decode_all(values, keys).await?;
        Ok((record, values))
    }

    /// The `MGET` read of [`get_chunk`](Self::get_chunk) (a single server: one bucket); `None` when the script
    /// must run instead (no record checked since the last failure, or the record changed).
    async fn get_chunk_plain(
        &self,
        keys: &[E::Key],
        tokens: &[String],
    ) -> Result<Option<(Vec<u8>, Vec<Cached<E>>)>, Error> {
        let checked = match &*self.checked.read().unwrap_or_else(|e| e.into_inner()) {
            Some(c) if c.failures == self.tier.health.failures.load(Ordering::Acquire) => c.clone(),
            _ => return Ok(None),
        };
        let generation = std::str::from_utf8(&checked.generation).unwrap_or_default();
        let bucket = self.keys.bucket(0);
        let mut cmd = redis::cmd("MGET");
        cmd.arg(bucket.gen_key());
        for t in tokens {
            cmd.arg(format!("{}:{generation}:{t}", bucket.base()));
        }
        let mut raw: Vec<Option<Vec<u8>>> = self
            .run(0, false, |mut c, _| async move { c.query(&cmd).await })
            .await?;
        if raw.len() != keys.len() + 1 || raw[0].as_deref() != Some(&checked.record[..]) {
            return Ok(None);
        }
        raw.remove(0);
        let values = self.decode_all(raw, keys).await?;
        Ok(Some((checked.record.clone(), values)))
    }

    /// Caches values read from the store after `get_many` missed them under `generation`: nothing is written
    /// if the generation moved on meanwhile, and each entry only if newer than what Redis holds.
    pub async fn fill_if_newer(
        &self,
        generation: &Generation,
        entries: &[(E::Key, Option<E>, u64)],
    ) -> Result<(), Error> {
        self.write_entries(Write::Fill(generation), entries).await
    }

    /// The generations this process has seen of the buckets of `keys`, to take before the store commit whose
    /// values [`set_many_if_newer`](Self::set_many_if_newer) then writes through. A bucket this process has
    /// not used yet is read first (one script call, once per bucket; on failure it stays unknown, and the
    /// write-through leaves a fence instead of a value there).
    pub async fn observe(&self, keys: &[E::Key]) -> Observed {
        if !self.knows_every_generation() {
            let mut unknown: Vec<usize> = keys
                .iter()
                .map(|key| self.keys.bucket_of(&self.keys.token::<E>(key)))
                .filter(|&b| !self.seen.is_known(b))
                .collect();
            unknown.sort_unstable();
            unknown.dedup();
            let reads = unknown.into_iter().map(|bucket| async move {
                // A failure is counted by `run` like any other; the bucket then stays unknown.
                let _ = self.get_chunk(bucket, &[], Vec::new()).await;
            });
            futures_util::future::join_all(reads).await;
        }
        self.observed()
    }

    /// Whether this process has seen the generation of every bucket of the entity (then
    /// [`observe`](Self::observe) reads nothing).
    pub fn knows_every_generation(&self) -> bool {
        (0..self.keys.buckets().len()).all(|b| self.seen.is_known(b))
    }

    /// The generations this process has seen of the entity's buckets, without reading any (see
    /// [`observe`](Self::observe)); for a commit that cannot wait for Redis (a transaction's statements).
    pub fn observed(&self) -> Observed {
        self.seen.snapshot()
    }

    /// Writes `value` through at `version` (see [`set_many_if_newer`](Self::set_many_if_newer)).
    pub async fn set_if_newer(
        &self,
        key: &E::Key,
        value: &E,
        version: u64,
        observed: &Observed,
    ) -> Result<(), Error> {
        self.set_many_if_newer(&[(key.clone(), Some(value.clone()), version)], observed)
            .await
    }

    /// Writes each committed `(key, value or None for a tombstone, version)` through, in one round trip per
    /// bucket and chunk, unless Redis holds that version or a newer one. `observed` is what
    /// [`observe`](Self::observe) returned before the commit: in a bucket whose generation is still that one
    /// an entry is created; in any other, an entry that a read filled is updated and a missing one becomes a
    /// fence (a version without a value, read as a miss), since the write-through may arrive after a newer
    /// version's was written to the generation before (see `observed.rs`).
    pub async fn set_many_if_newer(
        &self,
        entries: &[(E::Key, Option<E>, u64)],
        observed: &Observed,
    ) -> Result<(), Error> {
        self.write_entries(Write::Through(observed), entries).await
    }

    /// One `SET_IF_NEWER` script call per bucket and [`KEYS_PER_SCRIPT`] entries, all concurrently. A fill
    /// writes only to the buckets its lookup read.
    async fn write_entries(
        &self,
        write: Write<'_>,
        entries: &[(E::Key, Option<E>, u64)],
    ) -> Result<(), Error> {
        let tokens: Vec<String> = entries
            .iter()
            .map(|(key, _, _)| self.keys.token::<E>(key))
            .collect();
        let calls = self.calls(&tokens);
        let writes = calls.iter().filter_map(|(bucket, chunks)| {
            let (mode, generation) = match write {
                Write::Through(observed) => ("w", observed.argument(*bucket).to_vec()),
                // Not read under any generation of this bucket: nothing to compare a fill with.
                Write::Fill(g) => ("f", g.0.get(*bucket).cloned().flatten()?),
            };
            let tokens = &tokens;
            // A bucket's chunks in turn, the buckets concurrently (as in `get_many`).
            Some(async move {
                for indices in chunks {
                    let chunk: Vec<(String, &Entry<E>)> = indices
                        .iter()
                        .map(|&i| (tokens[i].clone(), &entries[i]))
                        .collect();
                    self.write_chunk(*bucket, mode, generation.clone(), &chunk)
                        .await?;
                }
                Ok::<_, Error>(())
            })
        });
        futures_util::future::try_join_all(writes).await?;
        Ok(())
    }

    /// One `SET_IF_NEWER` call on `bucket` for `(token, entry)` pairs; `mode` is `f` (fill) or `w`
    /// (write-through), `generation` the record the fill read under or the writer had seen (see the script).
    async fn write_chunk(
        &self,
        bucket: usize,
        mode: &'static str,
        generation: Vec<u8>,
        entries: &[(String, &Entry<E>)],
    ) -> Result<(), Error> {
        if entries.is_empty() {
            return Ok(());
        }
        let ttl_ms = |live: bool| -> u64 {
            if live {
                self.ttl.map(|t| t.as_millis() as u64).unwrap_or(0)
            } else {
                self.tier.options.tombstone_ttl.as_millis() as u64
            }
        };
        let fence_ttl = ttl_ms(false);
        let args: Vec<(String, String, Vec<u8>, u64)> = entries
            .iter()
            .map(|(token, (key, value, version))| {
                let (kind, payload, ttl) = match value {
                    Some(v) => match self.payload(key, v) {
                        Ok(Some(payload)) => (b'L', payload, ttl_ms(true)),
                        // A version without a value: it outranks older entries and reads as a miss. Also when
                        // the payload cannot be built (a data subject's key this process no longer holds):
                        // failing here, before Redis, would leave the previous version readable there.
                        Ok(None) => (b'F', Vec::new(), fence_ttl),
                        Err(e) => {
                            tracing::debug!(
                                entity = E::SCHEMA.message,
                                error = %e,
                                "cached as a fence: the entry's payload could not be built"
                            );
                            (b'F', Vec::new(), fence_ttl)
                        }
                    },
                    None => (b'T', Vec::new(), ttl_ms(false)),
                };
                let rank = format!("{version:016x}{}", kind as char);
                Ok((token.clone(), rank, payload, ttl))
            })
            .collect::<Result<_, Error>>()?;
        let record: Vec<u8> = self
            .run(bucket, true, |mut c, keys| async move {
                let mut call = scripts::set_if_newer().key(keys.gen_key());
                call.arg(keys.base())
                    .arg(mode)
                    .arg(generation.as_slice())
                    .arg(fence_ttl);
                for (token, rank, payload, ttl) in &args {
                    call.arg(token).arg(rank).arg(payload.as_slice()).arg(*ttl);
                }
                c.invoke(&call).await
            })
            .await?;
        self.seen.record(bucket, &record);
        Ok(())
    }

    /// The entries `raws` of `keys`, decoded; for an entity with claim-checked fields, each payload is opened
    /// first (an encrypted claim-checked field's stored form is sealed), then the blobs the payloads name are
    /// read (all at once).
    async fn decode_all(
        &self,
        raws: Vec<Option<Vec<u8>>>,
        keys: &[E::Key],
    ) -> Result<Vec<Cached<E>>, Error> {
        let opened = raws
            .into_iter()
            .zip(keys)
            .map(|(raw, key)| self.open(key, raw))
            .collect::<Result<Vec<_>, Error>>()?;
        let Some(blobs) = self.blobs.for_entity(E::SCHEMA)? else {
            return opened
                .into_iter()
                .map(|entry| self.finish(entry, None))
                .collect();
        };
        let mut references = Vec::new();
        for entry in &opened {
            if let Opened::Live { encoded, .. } = entry {
                references.extend(
                    blobs
                        .payload_references(encoded)
                        .map_err(|e| Error::backend(E::SCHEMA.message, Tier::Redis, e))?,
                );
            }
        }
        let mut fetched = match references.is_empty() {
            true => Fetched::default(),
            false => blobs.fetch(references).await?,
        };
        opened
            .into_iter()
            .map(|entry| self.finish(entry, Some((&blobs, &mut fetched))))
            .collect()
    }

    /// One entry of `key` read, its encrypted fields opened.
    fn open(&self, key: &E::Key, raw: Option<Vec<u8>>) -> Result<Opened<E>, Error> {
        let corrupt = |what: &str| Error::backend(E::SCHEMA.message, Tier::Redis, what.to_owned());
        let Some(raw) = raw else {
            return Ok(Opened::Done(Cached::Miss));
        };
        if raw.len() < 17 {
            return Err(corrupt("cached entry too short"));
        }
        let version = std::str::from_utf8(&raw[..16])
            .ok()
            .and_then(|s| u64::from_str_radix(s, 16).ok())
            .ok_or_else(|| corrupt("cached entry has no version"))?;
        match raw[16] {
            b'T' => Ok(Opened::Done(Cached::Deleted(version))),
            // A fence: a write-through found no filled entry, or could not name a sealed blob (see
            // `scripts::SET_IF_NEWER`, `payload`). Read the store.
            b'F' => Ok(Opened::Done(Cached::Miss)),
            b'L' => {
                let mut raw = raw;
                let encoded = match self.encryption.for_entity::<E>()? {
                    None => {
                        raw.drain(..17);
                        raw
                    }
                    Some(keys) => match keys.open_message(&row_key::<E>(key), &raw[17..]) {
                        Ok(plain) => plain,
                        // Sealed under a data subject's key this process has not read yet (or one shredded
                        // since): a miss, so the store read loads the key (or reports the shredding).
                        Err(crate::pii::PiiError::SubjectKeyNotLoaded { .. }) => {
                            return Ok(Opened::Done(Cached::Miss));
                        }
                        Err(e) => return Err(Error::backend(E::SCHEMA.message, Tier::Redis, e)),
                    },
                };
                Ok(Opened::Live {
                    key: key.clone(),
                    version,
                    encoded,
                })
            }
            _ => Err(corrupt("cached entry has an unknown kind")),
        }
    }

    /// An opened entry decoded, its claim-checked fields' blobs taken from `claims` (a sealed blob opened
    /// under the keys of the entry's row).
    fn finish(
        &self,
        entry: Opened<E>,
        claims: Option<(&EntityBlobs<'_>, &mut Fetched)>,
    ) -> Result<Cached<E>, Error> {
        let (key, version, encoded) = match entry {
            Opened::Done(cached) => return Ok(cached),
            Opened::Live {
                key,
                version,
                encoded,
            } => (key, version, encoded),
        };
        let resolved;
        let encoded = match claims {
            None => &encoded[..],
            Some((blobs, fetched)) => {
                let keys = self.encryption.for_entity::<E>()?;
                let row_key = keys.as_ref().map(|_| row_key::<E>(&key));
                resolved = match blobs.resolve_payload(
                    &encoded,
                    fetched,
                    keys.as_ref().zip(row_key.as_deref()),
                ) {
                    Ok(resolved) => resolved,
                    Err(e) => {
                        return match e.into_encryption() {
                            // As for the payload: a subject key this process no longer holds is a miss.
                            Ok(crate::pii::PiiError::SubjectKeyNotLoaded { .. }) => {
                                Ok(Cached::Miss)
                            }
                            Ok(e) => Err(Error::backend(E::SCHEMA.message, Tier::Redis, e)),
                            Err(e) => Err(Error::backend(E::SCHEMA.message, Tier::Redis, e)),
                        };
                    }
                };
                &resolved[..]
            }
        };
        E::decode(encoded)
            .map(|value| Cached::Hit(Versioned::new(value, version)))
            .map_err(|_| {
                Error::backend(
                    E::SCHEMA.message,
                    Tier::Redis,
                    "cached entry does not decode".to_owned(),
                )
            })
    }

    /// Runs one operation on `bucket` under the timeout, after bumping the generation of every bucket of the
    /// entity if Redis failed (for any entity of this connection) since the last bump. A failure starts the
    /// backoff.
    async fn run<T, F, Fut>(&self, bucket: usize, is_write: bool, op: F) -> Result<T, Error>
    where
        F: FnOnce(Connection, Bucket) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let entity = E::SCHEMA.message;
        let health = &self.tier.health;
        let strong_write = is_write && E::SCHEMA.consistency == Consistency::Strong;
        let timeout = match strong_write {
            true => self.tier.options.write_timeout,
            false => self.tier.options.timeout,
        };
        if !strong_write && self.is_skipping() {
            return Err(Error::backend(
                entity,
                Tier::Redis,
                "skipped after a recent failure",
            ));
        }
        let attempt = async {
            let failures = health.failures.load(Ordering::Acquire);
            if failures > self.clean_through[bucket].load(Ordering::Acquire) {
                let mut c = self.tier.connection.clone();
                let bump = scripts::bump_generation().key(self.keys.bucket(bucket).gen_key());
                let record: Vec<u8> = c.invoke(&bump).await?;
                self.seen.record(bucket, &record);
                self.clean_through[bucket].fetch_max(failures, Ordering::AcqRel);
                tracing::info!(
                    entity,
                    tier = "redis",
                    "redis generation bumped after an outage"
                );
            }
            self.bump_the_others(bucket, failures);
            op(
                self.tier.connection.clone(),
                self.keys.bucket(bucket).clone(),
            )
            .await
        };
        let outcome = match tokio::time::timeout(timeout, attempt).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => Error::backend(entity, Tier::Redis, DriverError::from(e)),
            Err(_) => Error::Timeout {
                entity,
                tier: Tier::Redis,
                after: timeout,
            },
        };
        // Any failure may hide missed writes: a failed or timed-out write may not have landed, writes made while
        // Redis is skipped miss it, and a Redis that restarts WITH its data brings back entries other writers
        // could not update. Count it; every entity bumps its generation before using Redis again.
        health.failures.fetch_add(1, Ordering::AcqRel);
        let until = now_ms() + self.tier.options.backoff.as_millis() as u64;
        health.skip_until_ms.fetch_max(until, Ordering::AcqRel);
        if strong_write {
            self.bump_before_ack().await;
        }
        Err(outcome)
    }

    /// After a failure any bucket may hold an entry that missed a write, but an operation waits only for its own
    /// bucket's bump: the others not bumped since `failures` are bumped by a background task (one at a time per
    /// entity), and by the next operations until each has been. So a node that is down or slow (a failover in
    /// progress) does not fail the operations on every other node; and nobody reads a bucket of a node this
    /// process cannot reach before it can bump it there, except across a partition that hides the node from this
    /// process only (see `docs/repository.md`).
    fn bump_the_others(&self, used: usize, failures: u64) {
        let dirty: Vec<usize> = (0..self.clean_through.len())
            .filter(|&b| b != used && failures > self.clean_through[b].load(Ordering::Acquire))
            .collect();
        if dirty.is_empty() || self.bumping.swap(true, Ordering::AcqRel) {
            return;
        }
        /// Clears the flag however the task ends (finished, timed out, dropped with its runtime).
        struct Done(Arc<std::sync::atomic::AtomicBool>);
        impl Drop for Done {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Release);
            }
        }
        let done = Done(self.bumping.clone());
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (connection, keys, clean, seen) = (
            self.tier.connection.clone(),
            self.keys.clone(),
            self.clean_through.clone(),
            self.seen.clone(),
        );
        let bound = self.tier.options.write_timeout;
        runtime.spawn(async move {
            let _done = done;
            let bumps = bump_buckets(connection, keys, clean, seen, dirty, failures);
            let _ = tokio::time::timeout(bound, bumps).await;
        });
    }

    /// After a strong write-through failed: other processes may read the previous version from Redis until this
    /// process bumps the generation, which it would do only at its next use. Try once now, bounded like the
    /// write-through itself ([`RedisOptions::write_timeout`]), so the write is acknowledged after the bump
    /// whenever Redis answers within that bound (e.g. the cluster client has followed a failover or a moved slot
    /// since the write-through was sent, or a busy server caught up). Bounded by the short read timeout, a
    /// server slowed by load (not down) failed both steps and the write was acknowledged with the previous
    /// version still readable: `dal_stress` read stale values on a 2-core machine at load 9.
    async fn bump_before_ack(&self) {
        let failures = self.tier.health.failures.load(Ordering::Acquire);
        let bump = bump_buckets(
            self.tier.connection.clone(),
            self.keys.clone(),
            self.clean_through.clone(),
            self.seen.clone(),
            (0..self.clean_through.len()).collect(),
            failures,
        );
        if let Ok(true) = tokio::time::timeout(self.tier.options.write_timeout, bump).await {
            tracing::info!(
                entity = E::SCHEMA.message,
                tier = "redis",
                "redis generation bumped after a failed write-through"
            );
        }
    }
}

/// Bumps the generation of each of `buckets` concurrently; each that succeeds is marked clean through
/// `failures` and its new generation recorded in `seen`. Whether every one did.
async fn bump_buckets(
    connection: Connection,
    keys: KeySpace,
    clean: Arc<[AtomicU64]>,
    seen: Seen,
    buckets: Vec<usize>,
    failures: u64,
) -> bool {
    let bumps = buckets.into_iter().map(|b| {
        let mut c = connection.clone();
        let (keys, clean, seen) = (keys.clone(), clean.clone(), seen.clone());
        async move {
            let bump = scripts::bump_generation().key(keys.bucket(b).gen_key());
            let record: redis::RedisResult<Vec<u8>> = c.invoke(&bump).await;
            if let Ok(record) = &record {
                seen.record(b, record);
                clean[b].fetch_max(failures, Ordering::AcqRel);
            }
            record.is_ok()
        }
    });
    futures_util::future::join_all(bumps)
        .await
        .into_iter()
        .all(|done| done)
}

/// A Redis entry read and its encrypted fields opened, before its claim-checked fields are resolved.
enum Opened<E: Record> {
    /// A miss or a tombstone.
    Done(Cached<E>),
    /// A value: its protobuf encoding with claim-checked fields in their stored form.
    Live {
        key: E::Key,
        version: u64,
        encoded: Vec<u8>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_strong_entitys_entries_live_at_least_the_tombstone_ttl() {
        let (second, minute) = (Duration::from_secs(1), Duration::from_secs(60));
        let hour = Duration::from_secs(3600);
        assert_eq!(
            entry_ttl(Consistency::Strong, Some(second), minute),
            Some(minute)
        );
        assert_eq!(
            entry_ttl(Consistency::Strong, Some(hour), minute),
            Some(hour)
        );
        assert_eq!(entry_ttl(Consistency::Strong, None, minute), None);
        assert_eq!(
            entry_ttl(Consistency::Eventual, Some(second), minute),
            Some(second)
        );
    }
}
