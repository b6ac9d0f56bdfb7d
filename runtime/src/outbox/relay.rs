//! The relay: publishes an entity's outbox rows to a [`Sink`] at least once, in outbox order, and prunes what
//! it published once it is older than the retention.
//!
//! One relay pass ([`Relay::run_once`]):
//! 1. **claims** the oldest unpublished rows (up to [`RelayOptions::batch`]) for [`RelayOptions::lease`], unless
//!    another relay holds a live claim on the same outbox: so several relays on one database never publish
//!    concurrently, and per-key order holds (Postgres serializes the claim with a transaction-scoped advisory
//!    lock, SQLite with its single writer). A relay that dies leaves a claim that expires after the lease; its
//!    rows are claimed again;
//! 2. **publishes** them as [`OutboxMessage`]s, in order, with the sink;
//! 3. **marks** them published. A crash between 2 and 3 publishes them again: consumers dedupe by
//!    [`OutboxMessage::idempotency_key`]. A sink error releases the claim; the rows wait, in order, for the
//!    next pass (after a backoff, in [`Relay::run`]).
//!
//! Run it in the service ([`Relay::spawn`]) or as a process of its own (a `main` that opens the store, builds
//! the relay and awaits [`Relay::run`]; `docs/changes.md` shows one).

use super::{Op, OutboxRow};
use crate::error::{BoxError, Error};
use crate::pii::TokenKey;
use crate::record::Record;
use crate::store::Store;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One change as a sink receives it.
#[derive(Clone)]
pub struct OutboxMessage {
    /// Where it goes (the `outbox` option's `topic`).
    pub topic: &'static str,
    /// The entity's full name (`app.v1.User`).
    pub entity: String,
    /// The row's key as text: the Redis key token of its columns, or, when the key is personal data, its keyed
    /// token ([`TokenKey`]), never the key itself.
    pub key: String,
    /// The row's version after the change (for a removal, the version the row had).
    pub version: u64,
    /// What the change did.
    pub op: Op,
    /// The value's protobuf encoding with its encrypted fields sealed; `None` for a removal.
    pub payload: Option<Vec<u8>>,
    /// When the change was written to the outbox, in microseconds since the Unix epoch.
    pub recorded_at_us: i64,
    /// Its position in the outbox.
    pub seq: u64,
}

impl std::fmt::Debug for OutboxMessage {
    /// The payload is left out (sealed or not, it is the entity's data).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxMessage")
            .field("topic", &self.topic)
            .field("entity", &self.entity)
            .field("key", &self.key)
            .field("version", &self.version)
            .field("op", &self.op)
            .field("payload_bytes", &self.payload.as_ref().map(Vec::len))
            .field("seq", &self.seq)
            .finish()
    }
}

impl OutboxMessage {
    /// The same for every delivery of this change: `<entity>/<key>/<version>/<put|delete>`. Sinks that dedupe
    /// (NATS' `Nats-Msg-Id`, a set of seen ids) and consumers key on it.
    pub fn idempotency_key(&self) -> String {
        let kind = match self.op.is_removal() {
            true => "delete",
            false => "put",
        };
        format!("{}/{}/{}/{kind}", self.entity, self.key, self.version)
    }

    /// The change as a Debezium-style envelope (JSON): `op` (`c` insert, `u` update or upsert, `d` delete or
    /// erase), `after` (the payload in base64, `null` for a removal), `source` (entity, key, version, outbox
    /// position, Capacitor's own `capacitor_op`) and `ts_ms`.
    ///
    /// ```
    /// use capacitor::outbox::Op;
    /// use capacitor::outbox::relay::OutboxMessage;
    /// let m = OutboxMessage {
    ///     topic: "users", entity: "app.v1.User".into(), key: "s3:ada;".into(), version: 7,
    ///     op: Op::Insert, payload: Some(vec![10, 3, 97, 100, 97]), recorded_at_us: 1_000_000, seq: 1,
    /// };
    /// let envelope = m.envelope();
    /// assert_eq!(envelope["op"], "c");
    /// assert_eq!(envelope["after"], "CgNhZGE=");
    /// assert_eq!(envelope["source"]["version"], 7);
    /// assert_eq!(m.idempotency_key(), "app.v1.User/s3:ada;/7/put");
    /// ```
    pub fn envelope(&self) -> serde_json::Value {
        use base64::Engine;
        let op = match self.op {
            Op::Insert => "c",
            Op::Update | Op::Upsert => "u",
            Op::Delete | Op::Erase => "d",
        };
        serde_json::json!({
            "op": op,
            "before": null,
            "after": self.payload.as_ref().map(|p| base64::engine::general_purpose::STANDARD.encode(p)),
            "source": {
                "connector": "capacitor",
                "entity": self.entity,
                "key": self.key,
                "version": self.version,
                "seq": self.seq,
                "capacitor_op": self.op.as_str(),
                "idempotency_key": self.idempotency_key(),
            },
            "ts_ms": self.recorded_at_us / 1000,
        })
    }
}

/// Where a relay publishes: an implementation delivers a batch in order and returns `Ok` only once every
/// message of it is durably accepted (the relay then marks the rows published). It may deliver a message it
/// delivered before (at least once); [`OutboxMessage::idempotency_key`] is the same each time.
pub trait Sink: Send + Sync + 'static {
    /// Publishes `batch`, in order.
    fn publish(&self, batch: &[OutboxMessage])
    -> impl Future<Output = Result<(), BoxError>> + Send;
}

/// How a relay runs.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// The most rows one pass claims and publishes. Default 100.
    pub batch: usize,
    /// How long a claim holds before another relay may take the rows over (a pass must finish well within
    /// it). Default 30 s.
    pub lease: Duration,
    /// How long [`Relay::run`] waits when a pass found nothing to publish. Default 20 ms.
    pub idle: Duration,
    /// Published rows older than this are pruned (the change feed then reports older cursors as expired);
    /// `None` keeps them. Default 24 h.
    pub retention: Option<Duration>,
    /// The first wait after a failed pass, doubling up to [`max_backoff`](Self::max_backoff). Default 100 ms.
    pub min_backoff: Duration,
    /// The longest wait between failed passes. Default 10 s.
    pub max_backoff: Duration,
}

impl Default for RelayOptions {
    fn default() -> Self {
        RelayOptions {
            batch: 100,
            lease: Duration::from_secs(30),
            idle: Duration::from_millis(20),
            retention: Some(Duration::from_secs(24 * 3600)),
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// Publishes one entity's outbox to a sink. See the [module](self) documentation.
pub struct Relay<E: Record, S: Sink> {
    store: Store,
    sink: Arc<S>,
    options: RelayOptions,
    tokens: Option<TokenKey>,
    /// Postgres: the pruning candidate waiting for the transactions that were running when it was chosen
    /// (its position, and the snapshot xmax read after it).
    pending_prune: std::sync::Mutex<Option<(u64, u64)>>,
    _entity: std::marker::PhantomData<fn() -> E>,
}

impl<E: Record, S: Sink> Relay<E, S> {
    /// A relay of `E`'s outbox in `store` to `sink`. [`Error::Config`] when `E` has no outbox, or when its key
    /// is personal data and no `tokens` key is given (messages name a PII key by its keyed token).
    pub fn new(
        store: Store,
        sink: S,
        options: RelayOptions,
        tokens: Option<TokenKey>,
    ) -> Result<Self, Error> {
        if E::SCHEMA.outbox.is_none() {
            return Err(Error::Config(format!(
                "entity `{}` has no outbox (the `outbox` entity option)",
                E::SCHEMA.message
            )));
        }
        if E::SCHEMA.key_is_pii() && tokens.is_none() {
            return Err(Error::Config(format!(
                "entity `{}`: its key is personal data, so the relay needs a TokenKey to name rows in messages",
                E::SCHEMA.message
            )));
        }
        Ok(Relay {
            store,
            sink: Arc::new(sink),
            options,
            tokens,
            pending_prune: std::sync::Mutex::new(None),
            _entity: std::marker::PhantomData,
        })
    }

    fn message(&self, row: OutboxRow<E>) -> OutboxMessage {
        let text = crate::record::key_token::<E>(&row.key);
        let entity = E::SCHEMA.full_name();
        let key = match &self.tokens {
            Some(tokens) if E::SCHEMA.key_is_pii() => {
                tokens.token(&entity, text.as_bytes()).to_string()
            }
            _ => text,
        };
        OutboxMessage {
            topic: E::SCHEMA.outbox.map_or("", |o| o.topic),
            entity,
            key,
            version: row.version,
            op: row.op,
            payload: row.payload,
            recorded_at_us: row.recorded_at_us,
            seq: row.seq,
        }
    }

    /// One pass: claims, publishes and marks up to a batch; then prunes. The number of rows published (0 when
    /// there was nothing, or another relay holds the outbox). A sink error releases the claim and is returned
    /// as [`Error::Backend`] of the entity.
    pub async fn run_once(&self) -> Result<usize, Error> {
        let (rows, mark) = self
            .store
            .outbox_claim::<E>(self.options.batch, self.options.lease)
            .await?;
        let published = rows.len();
        if let (Some(first), Some(last)) = (rows.first().map(|r| r.seq), rows.last().map(|r| r.seq))
        {
            let batch: Vec<OutboxMessage> = rows
                .into_iter()
                .filter(|r| !r.marker)
                .map(|r| self.message(r))
                .collect();
            if let Err(e) = self.sink.publish(&batch).await {
                // Best effort: an unreleased claim expires after the lease anyway.
                let _ = self.store.outbox_release::<E>(mark, first, last).await;
                return Err(Error::backend(
                    E::SCHEMA.message,
                    crate::error::Tier::Store,
                    SinkFailed(e),
                ));
            }
            self.store.outbox_mark::<E>(mark, first, last).await?;
        }
        if let Some(retention) = self.options.retention {
            let cutoff = SystemTime::now()
                .checked_sub(retention)
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_micros() as i64);
            self.prune(cutoff).await?;
        }
        Ok(published)
    }

    /// Prunes the rows published before `cutoff_us`. On SQLite (one writer, no gaps) through the highest
    /// prunable row. On Postgres a transaction still running may hold a lower number than rows already
    /// visible and published, and commit it after a prune: pruning past it would hide its change from a feed
    /// reading from before it. So a candidate is only pruned on a later pass, once every transaction running
    /// when it was chosen has ended (the snapshot xmin has passed the xmax read after the candidate), and no
    /// further than what is prunable then (a late commit is unpublished, which bounds it).
    async fn prune(&self, cutoff_us: i64) -> Result<(), Error> {
        if !self.store.outbox_has_gaps() {
            if let Some(through) = self.store.outbox_prunable::<E>(cutoff_us).await? {
                self.store.outbox_prune_through::<E>(through).await?;
            }
            return Ok(());
        }
        // Read before the candidate: a transaction ended by now is visible to the read that follows.
        let xmin = self.store.outbox_horizon::<E>(true).await?.unwrap_or(0);
        let candidate = self.store.outbox_prunable::<E>(cutoff_us).await?;
        let waiting = *self.pending_prune.lock().unwrap_or_else(|p| p.into_inner());
        let keep = match waiting {
            Some((through, horizon)) if xmin >= horizon => {
                if let Some(now) = candidate {
                    self.store
                        .outbox_prune_through::<E>(through.min(now))
                        .await?;
                }
                None
            }
            other => other,
        };
        let next = match (keep, candidate) {
            (Some(waiting), _) => Some(waiting),
            (None, Some(now)) => {
                let horizon = self.store.outbox_horizon::<E>(false).await?.unwrap_or(0);
                Some((now, horizon))
            }
            (None, None) => None,
        };
        *self.pending_prune.lock().unwrap_or_else(|p| p.into_inner()) = next;
        Ok(())
    }

    /// Runs passes until the future is dropped: immediately again after a full batch, after
    /// [`RelayOptions::idle`] otherwise, after a doubling backoff on errors (logged at WARN without values).
    pub async fn run(&self) {
        let mut backoff = self.options.min_backoff;
        loop {
            match self.run_once().await {
                Ok(n) => {
                    backoff = self.options.min_backoff;
                    if n < self.options.batch {
                        tokio::time::sleep(self.options.idle).await;
                    }
                }
                Err(e) => {
                    tracing::warn!(entity = E::SCHEMA.message, error = %e, "outbox relay pass failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.options.max_backoff);
                }
            }
        }
    }

    /// Runs the relay on a spawned task; abort the handle to stop it.
    pub fn spawn(self) -> tokio::task::JoinHandle<()>
    where
        Self: Sized,
    {
        tokio::spawn(async move { self.run().await })
    }
}

/// A sink's failure, as the source of the relay's [`Error::Backend`].
#[derive(Debug, thiserror::Error)]
#[error("the outbox sink failed: {0}")]
struct SinkFailed(BoxError);
