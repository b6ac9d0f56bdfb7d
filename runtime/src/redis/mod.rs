//! The shared cache tier (L2) on Redis, behind the `redis` feature.
//!
//! - **Connection**: redis-rs's reconnecting [`ConnectionManager`] (or a cluster connection for
//!   `redis+cluster://` URLs); every operation is bounded by [`RedisOptions::timeout`], so a hung Redis costs
//!   the timeout, not the request, and after a failure Redis is skipped for [`RedisOptions::backoff`].
//! - **Keys**: `<prefix>:{<table>}:<fingerprint>:<generation>:<key>`. The braces are a Cluster hash tag: all
//!   keys of one entity live in one slot, so the scripts below may touch several of them. The fingerprint
//!   changes with the schema, so bytes written under an old schema are never decoded as the new one.
//! - **Values**: the row version as 16 hex digits, `L` (live) or `D` (deleted), then the protobuf bytes.
//!   Fixed-width hex compares like the number, so the Lua scripts compare versions as strings.
//! - **Writes** are version compare-and-set in one Lua script: set only if newer than what Redis holds.
//! - **Missed writes**: when an operation fails or Redis is skipped, the tier is marked dirty. Before it uses
//!   Redis again, it increments the entity's generation (`<prefix>:{<table>}:gen`); every script reads the
//!   generation server-side, so entries that may have missed a write are never served again, by any process
//!   (they expire by their TTL). See `docs/repository.md` for the window this leaves between processes.

mod keys;
mod scripts;

use crate::error::{BoxError, Error, Tier};
use crate::record::Record;
use crate::versioned::Versioned;
use keys::KeySpace;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How the Redis tier connects and behaves.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// Key prefix shared by every entity of this application.
    pub prefix: String,
    /// Bound on each Redis operation.
    pub timeout: Duration,
    /// How long Redis is skipped after a failure before it is tried again.
    pub backoff: Duration,
    /// TTL of entries of entities without a cache TTL (`None`: kept until Redis evicts them).
    pub default_ttl: Option<Duration>,
    /// TTL of tombstones (they only need to outlive a racing miss-fill).
    pub tombstone_ttl: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            prefix: "capacitor".to_owned(),
            timeout: Duration::from_millis(50),
            backoff: Duration::from_millis(500),
            default_ttl: Some(Duration::from_secs(3600)),
            tombstone_ttl: Duration::from_secs(60),
        }
    }
}

#[derive(Clone)]
enum Connection {
    Single(ConnectionManager),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl Connection {
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
}

impl RedisTier {
    /// Connects to `url` (`redis://…`, or `redis+cluster://host:port,host:port` for a Redis Cluster).
    pub async fn connect(url: &str, options: RedisOptions) -> Result<Self, Error> {
        let config_error = |e: redis::RedisError| Error::Config(format!("redis: {e}"));
        let connection = if let Some(nodes) = url.strip_prefix("redis+cluster://") {
            let nodes: Vec<String> = nodes.split(',').map(|n| format!("redis://{n}")).collect();
            let client = redis::cluster::ClusterClientBuilder::new(nodes)
                .response_timeout(options.timeout)
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
                .set_response_timeout(Some(options.timeout))
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
        })
    }

    /// The tier's options.
    pub fn options(&self) -> &RedisOptions {
        &self.options
    }

    /// The L2 tier of entity `E`, whose entries live `ttl` (`None`: [`RedisOptions::default_ttl`]).
    pub fn entity<E: Record>(&self, ttl: Option<Duration>) -> RedisEntity<E> {
        RedisEntity {
            tier: self.clone(),
            keys: KeySpace::new(&self.options.prefix, E::SCHEMA.table, E::fingerprint()),
            ttl: ttl.or(self.options.default_ttl),
            // A new handle may be created after an outage it did not see: the first use bumps the generation
            // only if this handle itself misses a write, so start clean.
            state: Arc::new(State::default()),
            _entity: PhantomData,
        }
    }
}

#[derive(Default)]
struct State {
    /// A write may not have reached Redis: bump the generation before using Redis again.
    dirty: AtomicBool,
    /// Until when Redis is skipped, in milliseconds since `EPOCH` (0: not skipped).
    skip_until_ms: AtomicU64,
}

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

/// The L2 tier of one entity.
pub struct RedisEntity<E> {
    tier: RedisTier,
    keys: KeySpace,
    ttl: Option<Duration>,
    state: Arc<State>,
    _entity: PhantomData<fn() -> E>,
}

impl<E> Clone for RedisEntity<E> {
    fn clone(&self) -> Self {
        RedisEntity {
            tier: self.tier.clone(),
            keys: self.keys.clone(),
            ttl: self.ttl,
            state: self.state.clone(),
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
    /// Whether the tier will skip Redis right now (it failed less than `backoff` ago).
    pub fn is_skipping(&self) -> bool {
        now_ms() < self.state.skip_until_ms.load(Ordering::Acquire)
    }

    /// Whether a write may have missed Redis and the generation has not been bumped yet.
    pub fn is_dirty(&self) -> bool {
        self.state.dirty.load(Ordering::Acquire)
    }

    /// Looks up `keys` in one round trip.
    pub async fn get_many(&self, keys: &[E::Key]) -> Result<Vec<Cached<E>>, Error> {
        let tokens: Vec<String> = keys.iter().map(|k| self.keys.token::<E>(k)).collect();
        let raw: Vec<Option<Vec<u8>>> = self
            .run(false, |mut c, keys| async move {
                let mut call = scripts::get_many().key(keys.gen_key());
                call.arg(keys.base());
                for t in &tokens {
                    call.arg(t);
                }
                c.invoke(&call).await
            })
            .await?;
        raw.into_iter().map(|r| self.decode(r)).collect()
    }

    /// Stores `value` at `version` unless Redis holds that version or a newer one.
    pub async fn set_if_newer(&self, key: &E::Key, value: &E, version: u64) -> Result<(), Error> {
        self.set_many_if_newer(&[(key.clone(), Some(value.clone()), version)])
            .await
    }

    /// Writes each `(key, value or None for a tombstone, version)` unless Redis holds a newer version, in one
    /// round trip.
    pub async fn set_many_if_newer(
        &self,
        entries: &[(E::Key, Option<E>, u64)],
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
        let args: Vec<(String, String, Vec<u8>, u64)> = entries
            .iter()
            .map(|(key, value, version)| {
                let (payload, ttl) = match value {
                    Some(v) => {
                        let mut bytes = Vec::with_capacity(1 + v.encoded_len());
                        bytes.push(b'L');
                        v.encode(&mut bytes).expect("a Vec grows as needed");
                        (bytes, ttl_ms(true))
                    }
                    None => (vec![b'D'], ttl_ms(false)),
                };
                (
                    self.keys.token::<E>(key),
                    format!("{version:016x}"),
                    payload,
                    ttl,
                )
            })
            .collect();
        self.run(true, |mut c, keys| async move {
            let mut call = scripts::set_if_newer().key(keys.gen_key());
            call.arg(keys.base());
            for (token, version, payload, ttl) in &args {
                call.arg(token)
                    .arg(version)
                    .arg(payload.as_slice())
                    .arg(*ttl);
            }
            c.invoke::<i64>(&call).await
        })
        .await?;
        Ok(())
    }

    fn decode(&self, raw: Option<Vec<u8>>) -> Result<Cached<E>, Error> {
        let corrupt = |what: &str| Error::backend(E::SCHEMA.message, Tier::Redis, what.to_owned());
        let Some(raw) = raw else {
            return Ok(Cached::Miss);
        };
        if raw.len() < 17 {
            return Err(corrupt("cached entry too short"));
        }
        let version = std::str::from_utf8(&raw[..16])
            .ok()
            .and_then(|s| u64::from_str_radix(s, 16).ok())
            .ok_or_else(|| corrupt("cached entry has no version"))?;
        match raw[16] {
            b'D' => Ok(Cached::Deleted(version)),
            b'L' => E::decode(&raw[17..])
                .map(|value| Cached::Hit(Versioned::new(value, version)))
                .map_err(|_| corrupt("cached entry does not decode")),
            _ => Err(corrupt("cached entry has an unknown kind")),
        }
    }

    /// Runs one operation under the timeout, after bumping the generation if a write was missed. A failure
    /// (or a skipped write) marks the tier dirty and starts the backoff.
    async fn run<T, F, Fut>(&self, is_write: bool, op: F) -> Result<T, Error>
    where
        F: FnOnce(Connection, KeySpace) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let entity = E::SCHEMA.message;
        let timeout = self.tier.options.timeout;
        if self.is_skipping() {
            if is_write {
                self.state.dirty.store(true, Ordering::Release);
            }
            return Err(Error::backend(
                entity,
                Tier::Redis,
                "skipped after a recent failure",
            ));
        }
        let attempt = async {
            if self.state.dirty.load(Ordering::Acquire) {
                let mut c = self.tier.connection.clone();
                c.invoke::<i64>(&scripts::bump_generation().key(self.keys.gen_key()))
                    .await?;
                self.state.dirty.store(false, Ordering::Release);
                tracing::info!(
                    entity,
                    tier = "redis",
                    "redis generation bumped after missed writes"
                );
            }
            op(self.tier.connection.clone(), self.keys.clone()).await
        };
        let outcome = match tokio::time::timeout(timeout, attempt).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => Error::backend(entity, Tier::Redis, Box::new(e) as BoxError),
            Err(_) => Error::Timeout {
                entity,
                tier: Tier::Redis,
                after: timeout,
            },
        };
        // A failed read leaves Redis as it was; a failed (or timed out) write may or may not have landed, and
        // any write this process makes while skipping will miss Redis: bump the generation before reuse.
        if is_write {
            self.state.dirty.store(true, Ordering::Release);
        }
        let until = now_ms() + self.tier.options.backoff.as_millis() as u64;
        self.state.skip_until_ms.store(until, Ordering::Release);
        Err(outcome)
    }
}
