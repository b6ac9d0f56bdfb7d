//! The audit trail of PII access: who read, wrote or erased which fields of which row, and how it ended.
//!
//! An [`AuditEvent`] names the entity, the [`Operation`], the row's key — as a [`KeyToken`] when the key is
//! PII, never the key itself —, the fields touched, the [`Actor`] (taken from the task-local context the
//! caller set with [`Actor::scope`]), the time and the [`AuditOutcome`]. It never holds a field's value.
//!
//! An [`AuditSink`] receives events; [`TracingAuditSink`] is the default one: it writes each event as one JSON
//! line through `tracing` (target [`AUDIT_TARGET`], level INFO), where the service's subscriber routes it (a
//! file, a collector). Formatting and writing happen on a background task that drains a buffer every few
//! milliseconds (sooner when part of it is half full), so recording costs the caller a push under a lock that
//! is its thread's own (the buffer is sharded by thread), not a JSON encoding, a write or a task wake-up.
//!
//! **When the buffer is full** (the writer cannot keep up), [`Overflow`] decides: [`Overflow::WriteInline`]
//! (the default) writes the event on the caller's thread, so no event is lost and the caller pays the write;
//! [`Overflow::Drop`] drops it, counts it ([`TracingAuditSink::dropped`] and the counter
//! `capacitor_audit_dropped_total`) and keeps the caller's latency. One thread's buffered events are written in
//! the order it recorded them; events of different threads, and events written inline, may interleave out of
//! time order (each carries its time). When the background task is gone (the runtime shut down), events are
//! written inline.

use crate::pii::KeyToken;
use serde::Serialize;
use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The `tracing` target audit lines are written under.
pub const AUDIT_TARGET: &str = "capacitor::audit";

/// What was done to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// Read (by key, index lookup or scan).
    Read,
    /// Inserted or updated.
    Write,
    /// Erased (deleted, or its PII fields wiped for a right-to-erasure request).
    Erase,
}

/// How an audited operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    /// It succeeded.
    Success,
    /// There was no such row.
    NotFound,
    /// The caller was not allowed to.
    Denied,
    /// It failed (a store error, a decryption failure).
    Failed,
}

/// The row an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AuditKey {
    /// The keyed token of a key that is PII (an email, a phone number): audit logs must not become a copy
    /// of the PII they audit.
    Token(KeyToken),
    /// A key that is not PII (a random id), as written in the log. Only for keys whose fields carry no
    /// [`Pii`](crate::schema::Pii) kind.
    Clear(String),
}

/// Who acts: a principal id the caller sets for a task with [`scope`](Actor::scope) (a service name, a user's
/// internal id). The id is written into audit logs as is, so it should not be PII itself (an internal id,
/// not an email).
///
/// Task-local, so it follows the task across `.await`s but not into tasks it spawns: set it again there.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Actor(Arc<str>);

tokio::task_local! {
    static ACTOR: Actor;
}

impl Actor {
    /// The actor with id `id`.
    pub fn new(id: impl Into<Arc<str>>) -> Actor {
        Actor(id.into())
    }

    /// The actor's id.
    pub fn id(&self) -> &str {
        &self.0
    }

    /// Runs `future` with this actor as the [`current`](Actor::current) one.
    ///
    /// ```
    /// use capacitor::pii::Actor;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let id = Actor::new("svc:support").scope(async { Actor::current().map(|a| a.id().to_owned()) }).await;
    /// assert_eq!(id.as_deref(), Some("svc:support"));
    /// assert_eq!(Actor::current(), None);
    /// # });
    /// ```
    pub async fn scope<F: Future>(self, future: F) -> F::Output {
        ACTOR.scope(self, future).await
    }

    /// Runs `f` with this actor as the current one, for synchronous code.
    pub fn sync_scope<R>(self, f: impl FnOnce() -> R) -> R {
        ACTOR.sync_scope(self, f)
    }

    /// The actor of the innermost enclosing scope, if any.
    pub fn current() -> Option<Actor> {
        ACTOR.try_with(Actor::clone).ok()
    }
}

impl fmt::Debug for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Actor({:?})", self.id())
    }
}

/// One audited access. Holds no field value.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// The entity's full name.
    pub entity: &'static str,
    /// What was done.
    pub operation: Operation,
    /// Which row.
    pub key: AuditKey,
    /// The names of the fields read, written or erased.
    pub fields: Cow<'static, [&'static str]>,
    /// Who did it; `None` outside any [`Actor::scope`].
    pub actor: Option<Actor>,
    /// When.
    pub at: SystemTime,
    /// How it ended.
    pub outcome: AuditOutcome,
}

impl AuditEvent {
    /// An event happening now, by the [current](Actor::current) actor.
    pub fn now(
        entity: &'static str,
        operation: Operation,
        key: AuditKey,
        fields: impl Into<Cow<'static, [&'static str]>>,
        outcome: AuditOutcome,
    ) -> AuditEvent {
        AuditEvent {
            entity,
            operation,
            key,
            fields: fields.into(),
            actor: Actor::current(),
            at: SystemTime::now(),
            outcome,
        }
    }

    /// The event as one line of JSON: `at_ms` (milliseconds since the Unix epoch), `entity`, `operation`,
    /// `key_token` or `key`, `fields`, `actor` (`null` when none) and `outcome`.
    ///
    /// ```
    /// use capacitor::pii::{AuditEvent, AuditKey, AuditOutcome, Operation};
    /// use std::time::{Duration, UNIX_EPOCH};
    ///
    /// let mut event = AuditEvent::now("app.v1.User", Operation::Read, AuditKey::Clear("u-1".into()), &["email"][..], AuditOutcome::Success);
    /// event.at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_000);
    /// assert_eq!(
    ///     event.to_json_line(),
    ///     r#"{"at_ms":1700000000000,"entity":"app.v1.User","operation":"read","key":"u-1","fields":["email"],"actor":null,"outcome":"success"}"#
    /// );
    /// ```
    pub fn to_json_line(&self) -> String {
        #[derive(Serialize)]
        struct Line<'a> {
            at_ms: u64,
            entity: &'a str,
            operation: Operation,
            #[serde(skip_serializing_if = "Option::is_none")]
            key_token: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            key: Option<&'a str>,
            fields: &'a [&'static str],
            actor: Option<&'a str>,
            outcome: AuditOutcome,
        }
        let (key_token, key) = match &self.key {
            AuditKey::Token(token) => (Some(token.to_string()), None),
            AuditKey::Clear(key) => (None, Some(key.as_str())),
        };
        let line = Line {
            at_ms: self
                .at
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_millis() as u64),
            entity: self.entity,
            operation: self.operation,
            key_token,
            key,
            fields: &self.fields,
            actor: self.actor.as_ref().map(Actor::id),
            outcome: self.outcome,
        };
        serde_json::to_string(&line).expect("an audit line has only strings, numbers and lists")
    }
}

/// Where audit events go. `record` must not block for long: it runs on the path of the audited operation.
pub trait AuditSink: Send + Sync {
    /// Records one event.
    fn record(&self, event: AuditEvent);
}

/// What [`TracingAuditSink`] does with an event when its buffer is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overflow {
    /// Write it on the caller's thread: nothing is lost, the caller pays the write.
    #[default]
    WriteInline,
    /// Drop it and count it: the caller's latency is kept, the trail has a gap.
    Drop,
}

/// The default [`AuditSink`]: JSON lines through `tracing` (target [`AUDIT_TARGET`]), written in batches by a
/// background task (see the [module docs](self)).
///
/// Cheap to clone (clones share the buffer and the task). The task ends when the last clone is dropped, after
/// writing what is buffered.
#[derive(Clone)]
pub struct TracingAuditSink {
    owner: Arc<Owner>,
}

/// Held by every clone of a sink: when the last one goes, the writer task writes what is left and ends.
struct Owner {
    buffer: Arc<Buffer>,
}

/// Events waiting for the writer, in shards so that threads recording at once rarely share a lock or a cache
/// line: a thread always uses the same shard, so one thread's events are written in the order it recorded them.
struct Buffer {
    shards: Box<[Shard]>,
    /// The most events a shard holds; a recording that finds its shard full overflows.
    per_shard: usize,
    overflow: Overflow,
    dropped: AtomicU64,
    /// Wakes the writer early (a shard half full, a flush, the last clone dropped).
    wake: tokio::sync::Notify,
    /// The writer task has ended (its runtime shut down, or the sink was dropped): record writes inline.
    writer_gone: AtomicBool,
    /// Set when the last clone is dropped.
    closing: AtomicBool,
    /// Held while shards are drained and written, so a flush returns only after a drain in progress is done.
    draining: Mutex<()>,
}

/// A shard, padded to its own cache line.
#[repr(align(128))]
struct Shard(Mutex<Vec<AuditEvent>>);

impl TracingAuditSink {
    /// The default capacity of the buffer, in events.
    pub const DEFAULT_CAPACITY: usize = 4096;

    /// How long the writer waits between drains when no shard is half full.
    const LINGER: std::time::Duration = std::time::Duration::from_millis(5);

    /// A sink with [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY) and [`Overflow::WriteInline`], its task
    /// spawned on the current Tokio runtime.
    ///
    /// # Panics
    /// Outside a Tokio runtime, as [`tokio::spawn`] does.
    pub fn spawn() -> TracingAuditSink {
        TracingAuditSink::with_capacity(TracingAuditSink::DEFAULT_CAPACITY, Overflow::default())
    }

    /// A sink whose buffer holds about `capacity` events (split over a shard per two threads of the machine,
    /// at least 1 per shard) and that handles a full buffer as `overflow` says, its task spawned on the
    /// current Tokio runtime.
    ///
    /// # Panics
    /// Outside a Tokio runtime, as [`tokio::spawn`] does.
    pub fn with_capacity(capacity: usize, overflow: Overflow) -> TracingAuditSink {
        let threads = std::thread::available_parallelism().map_or(4, |n| n.get());
        let count = (threads * 2).clamp(2, 64).min(capacity.max(1));
        let buffer = Arc::new(Buffer {
            shards: (0..count).map(|_| Shard(Mutex::new(Vec::new()))).collect(),
            per_shard: (capacity / count).max(1),
            overflow,
            dropped: AtomicU64::new(0),
            wake: tokio::sync::Notify::new(),
            writer_gone: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            draining: Mutex::new(()),
        });
        tokio::spawn(write_batches(buffer.clone()));
        TracingAuditSink {
            owner: Arc::new(Owner { buffer }),
        }
    }

    /// How many events were dropped because the buffer was full ([`Overflow::Drop`] only).
    pub fn dropped(&self) -> u64 {
        self.owner.buffer.dropped.load(Ordering::Relaxed)
    }

    /// Writes every event recorded before this call (on the caller's thread, after any drain the writer has in
    /// progress); when it returns, they are all written.
    pub async fn flush(&self) {
        self.owner.buffer.drain();
    }
}

impl Buffer {
    /// This thread's shard.
    fn shard(&self) -> &Shard {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        thread_local! {
            static INDEX: usize = NEXT.fetch_add(1, Ordering::Relaxed);
        }
        let index = INDEX.try_with(|i| *i).unwrap_or(0);
        &self.shards[index % self.shards.len()]
    }

    fn record(&self, event: AuditEvent) {
        if self.writer_gone.load(Ordering::SeqCst) {
            return write(&event);
        }
        let mut events = self.shard().0.lock().unwrap_or_else(|e| e.into_inner());
        if events.len() < self.per_shard {
            events.push(event);
            let len = events.len();
            drop(events);
            if len == self.per_shard / 2 + 1 {
                self.wake.notify_one();
            }
            // The writer may have ended (and drained) between the check above and the push.
            if self.writer_gone.load(Ordering::SeqCst) {
                self.drain();
            }
            return;
        }
        drop(events);
        match self.overflow {
            Overflow::WriteInline => write(&event),
            Overflow::Drop => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("capacitor_audit_dropped_total", "entity" => event.entity)
                    .increment(1);
            }
        }
    }

    /// Takes every shard's events and writes them.
    fn drain(&self) {
        let _draining = self.draining.lock().unwrap_or_else(|e| e.into_inner());
        for shard in self.shards.iter() {
            let mut batch = {
                let mut events = shard.0.lock().unwrap_or_else(|e| e.into_inner());
                if events.is_empty() {
                    continue;
                }
                // The shard keeps an allocation of the same size, so recording does not grow it again.
                let capacity = events.capacity();
                std::mem::replace(&mut *events, Vec::with_capacity(capacity))
            };
            for event in batch.drain(..) {
                write(&event);
            }
        }
    }
}

impl AuditSink for TracingAuditSink {
    fn record(&self, event: AuditEvent) {
        self.owner.buffer.record(event);
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.buffer.closing.store(true, Ordering::Release);
        self.buffer.wake.notify_one();
    }
}

impl fmt::Debug for TracingAuditSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracingAuditSink")
            .field("overflow", &self.owner.buffer.overflow)
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

/// The writer: drains the buffer every [`LINGER`](TracingAuditSink::LINGER), or sooner when woken, until the
/// last clone of the sink is dropped (then writes what is left). If its runtime shuts down first, later events
/// are written inline.
async fn write_batches(buffer: Arc<Buffer>) {
    /// Marks the writer gone however the task ends (finished, or dropped with its runtime).
    struct Gone(Arc<Buffer>);
    impl Drop for Gone {
        fn drop(&mut self) {
            self.0.writer_gone.store(true, Ordering::SeqCst);
            // Whatever was recorded before the flag was seen.
            self.0.drain();
        }
    }
    let gone = Gone(buffer);
    let buffer = &gone.0;
    while !buffer.closing.load(Ordering::Acquire) {
        let _ = tokio::time::timeout(TracingAuditSink::LINGER, buffer.wake.notified()).await;
        buffer.drain();
    }
}

fn write(event: &AuditEvent) {
    tracing::info!(target: AUDIT_TARGET, "{}", event.to_json_line());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pii::{SecretKey, TokenKey};
    use std::sync::Mutex;
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    /// A real `tracing` subscriber that keeps the messages of audit events.
    #[derive(Clone, Default)]
    struct AuditLines(Arc<Mutex<Vec<String>>>);

    impl AuditLines {
        fn take(&self) -> Vec<String> {
            std::mem::take(&mut self.0.lock().unwrap())
        }
    }

    impl Subscriber for AuditLines {
        fn enabled(&self, metadata: &Metadata<'_>) -> bool {
            metadata.target() == AUDIT_TARGET
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            struct Message<'a>(&'a mut String);
            impl Visit for Message<'_> {
                fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
                    if field.name() == "message" {
                        *self.0 = format!("{value:?}");
                    }
                }
            }
            let mut line = String::new();
            event.record(&mut Message(&mut line));
            self.0.lock().unwrap().push(line);
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    fn event(n: usize) -> AuditEvent {
        AuditEvent::now(
            "app.v1.User",
            Operation::Write,
            AuditKey::Clear(format!("u-{n}")),
            &["name"][..],
            AuditOutcome::Success,
        )
    }

    #[test]
    fn json_line_with_a_token_and_an_actor_holds_no_pii() {
        let canary = "canary-91ab@example.com";
        let token =
            TokenKey::new(&SecretKey::from_bytes([4; 32])).token("app.v1.User", canary.as_bytes());
        let event = Actor::new("svc:support").sync_scope(|| {
            AuditEvent::now(
                "app.v1.User",
                Operation::Erase,
                AuditKey::Token(token),
                vec!["email", "name"],
                AuditOutcome::Denied,
            )
        });
        let line = event.to_json_line();
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["key_token"], token.to_string());
        assert!(parsed.get("key").is_none());
        assert_eq!(parsed["operation"], "erase");
        assert_eq!(parsed["outcome"], "denied");
        assert_eq!(parsed["actor"], "svc:support");
        assert_eq!(parsed["fields"], serde_json::json!(["email", "name"]));
        assert!(parsed["at_ms"].as_u64().unwrap() > 1_600_000_000_000);
        for shown in [line, format!("{event:?}")] {
            assert!(!shown.contains("canary"), "{shown}");
        }
    }

    #[tokio::test]
    async fn actor_scopes_nest_and_end() {
        assert_eq!(Actor::current(), None);
        let seen = Actor::new("outer")
            .scope(async {
                let outer = Actor::current();
                tokio::task::yield_now().await;
                let inner = Actor::new("inner").scope(async { Actor::current() }).await;
                (outer, inner, Actor::current())
            })
            .await;
        assert_eq!(
            seen,
            (
                Some(Actor::new("outer")),
                Some(Actor::new("inner")),
                Some(Actor::new("outer"))
            )
        );
        assert_eq!(Actor::current(), None);
    }

    #[tokio::test]
    async fn writes_json_lines_in_order_through_tracing() {
        let lines = AuditLines::default();
        let _guard = tracing::subscriber::set_default(lines.clone());
        let sink = TracingAuditSink::spawn();
        Actor::new("svc:test")
            .scope(async {
                for n in 0..600 {
                    sink.record(event(n));
                }
            })
            .await;
        sink.flush().await;
        let written = lines.take();
        assert_eq!(written.len(), 600);
        for (n, line) in written.iter().enumerate() {
            let parsed: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(parsed["key"], format!("u-{n}"));
            assert_eq!(parsed["actor"], "svc:test");
        }
    }

    #[tokio::test]
    async fn a_full_channel_writes_inline_or_drops_and_counts() {
        let lines = AuditLines::default();
        let _guard = tracing::subscriber::set_default(lines.clone());
        // On this current-thread runtime the writer cannot run until the test awaits: the buffer fills. A
        // capacity of 4 is at least 2 shards of at most 2 events; this thread uses one of them.
        let inline = TracingAuditSink::with_capacity(4, Overflow::WriteInline);
        let held = inline.owner.buffer.per_shard;
        assert!((1..=2).contains(&held));
        for n in 0..5 {
            inline.record(event(n));
        }
        assert_eq!(lines.take().len(), 5 - held, "written inline");
        inline.flush().await;
        assert_eq!(lines.take().len(), held, "written by the flush");
        assert_eq!(inline.dropped(), 0);

        let dropping = TracingAuditSink::with_capacity(4, Overflow::Drop);
        for n in 0..5 {
            dropping.record(event(n));
        }
        assert!(lines.take().is_empty());
        dropping.flush().await;
        assert_eq!(lines.take().len(), held);
        assert_eq!(dropping.dropped(), (5 - held) as u64);
    }

    #[tokio::test]
    async fn a_dropped_sink_writes_what_it_had() {
        let lines = AuditLines::default();
        let _guard = tracing::subscriber::set_default(lines.clone());
        let sink = TracingAuditSink::spawn();
        sink.record(event(1));
        drop(sink);
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(lines.take().len(), 1);
    }
}
