//! The audit trail of PII access: who read, wrote or erased which fields of which row, and how it ended.
//!
//! An [`AuditEvent`] names the entity, the [`Operation`], the row's key — as a [`KeyToken`] when the key is
//! PII, never the key itself —, the fields touched, the [`Actor`] (taken from the task-local context the
//! caller set with [`Actor::scope`]), the time and the [`AuditOutcome`]. It never holds a field's value.
//!
//! An [`AuditSink`] receives events; [`TracingAuditSink`] is the default one: it writes JSON lines through
//! `tracing` (target [`AUDIT_TARGET`], level INFO), where the service's subscriber routes it (a file, a
//! collector). Formatting and writing happen on a background task that drains buffers every
//! [`LINGER`](TracingAuditSink::LINGER) (5 ms; sooner when part of a buffer is half full), so recording costs
//! the caller a push into a buffer lane that is its thread's own, not a JSON encoding, a write or a task wake-up.
//!
//! **What a repository records.** A repository whose sink is a [`TracingAuditSink`] (see
//! [`AuditSink::tracing_sink`]) does not build an [`AuditEvent`] per access: it pushes a compact record — the
//! key as is (never formatted or hashed on the caller's thread), the operation, the outcome, the current
//! [`Actor`] and the sink's coarse clock, a timestamp the writer refreshes every `LINGER` — and the writer names
//! the key (its [`KeyToken`] when the key is PII: the plaintext never leaves the process) and writes. Within one
//! drain, the records of one entity that share key, actor, operation and outcome are written as **one line with
//! their `count`**; counts add up exactly to the accesses (less those [`Overflow::Drop`] dropped and counted).
//! Each line bounds its accesses' time: none happened before `at_ms` (the coarse clock when the first was
//! recorded) or after `until_ms` (the drain). The bound is the drain interval, about `LINGER`, wider only when
//! the writer task is starved. Events given to [`AuditSink::record`] directly keep their exact time
//! (`at_ms == until_ms`, `count` 1).
//!
//! **When a buffer lane is full** (the writer cannot keep up), [`Overflow`] decides: [`Overflow::WriteInline`]
//! (the default) writes the event on the caller's thread, with an exact time, so no event is lost and the
//! caller pays the write; [`Overflow::Drop`] drops it, counts it ([`TracingAuditSink::dropped`] and the counter
//! `capacitor_audit_dropped_total`) and keeps the caller's latency. One thread's buffered events are written in
//! the order it recorded them (a repository's records, coalesced, in the order each group first appears);
//! lines of different threads, entities and buffers, and inline writes, may interleave out of time order (each
//! carries its time bound). When the background task is gone (the runtime shut down), events are written inline.

use crate::pii::KeyToken;
use serde::Serialize;
use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};
use try_lock::{Locked, TryLock};

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

    /// The event as one line of JSON: `at_ms` and `until_ms` (both the event's time, in milliseconds since the
    /// Unix epoch), `count` (1), `entity`, `operation`, `key_token` or `key`, `fields`, `actor` (`null` when
    /// none) and `outcome`. The lines of a [`TracingAuditSink`] all have this form; see the [module docs](self)
    /// for what `at_ms`, `until_ms` and `count` say about coalesced records.
    ///
    /// ```
    /// use capacitor::pii::{AuditEvent, AuditKey, AuditOutcome, Operation};
    /// use std::time::{Duration, UNIX_EPOCH};
    ///
    /// let mut event = AuditEvent::now("app.v1.User", Operation::Read, AuditKey::Clear("u-1".into()), &["email"][..], AuditOutcome::Success);
    /// event.at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_000);
    /// assert_eq!(
    ///     event.to_json_line(),
    ///     r#"{"at_ms":1700000000000,"until_ms":1700000000000,"count":1,"entity":"app.v1.User","operation":"read","key":"u-1","fields":["email"],"actor":null,"outcome":"success"}"#
    /// );
    /// ```
    pub fn to_json_line(&self) -> String {
        let at_ms = millis(self.at);
        LineParts {
            at_ms,
            until_ms: at_ms,
            count: 1,
            entity: self.entity,
            operation: self.operation,
            key: &self.key,
            fields: &self.fields,
            actor: self.actor.as_ref(),
            outcome: self.outcome,
        }
        .to_json()
    }
}

/// One line of the trail: `count` accesses that share entity, operation, key, actor and outcome, each of them
/// no earlier than `at_ms` and no later than `until_ms`. A single event with an exact time has `count` 1 and
/// `at_ms == until_ms`.
#[derive(Serialize)]
struct Line<'a> {
    at_ms: u64,
    until_ms: u64,
    count: u64,
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

/// What a line says, borrowed from an event or from a group of coalesced records.
struct LineParts<'a> {
    at_ms: u64,
    until_ms: u64,
    count: u64,
    entity: &'a str,
    operation: Operation,
    key: &'a AuditKey,
    fields: &'a [&'static str],
    actor: Option<&'a Actor>,
    outcome: AuditOutcome,
}

impl LineParts<'_> {
    fn to_json(&self) -> String {
        let (key_token, key) = match self.key {
            AuditKey::Token(token) => (Some(token.to_string()), None),
            AuditKey::Clear(key) => (None, Some(key.as_str())),
        };
        let line = Line {
            at_ms: self.at_ms,
            until_ms: self.until_ms,
            count: self.count,
            entity: self.entity,
            operation: self.operation,
            key_token,
            key,
            fields: self.fields,
            actor: self.actor.map(Actor::id),
            outcome: self.outcome,
        };
        serde_json::to_string(&line).expect("an audit line has only strings, numbers and lists")
    }
}

/// Milliseconds since the Unix epoch of `at` (0 before it).
fn millis(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

fn now_ms() -> u64 {
    millis(SystemTime::now())
}

/// Where audit events go. `record` must not block for long: it runs on the path of the audited operation.
pub trait AuditSink: Send + Sync {
    /// Records one event.
    fn record(&self, event: AuditEvent);

    /// The [`TracingAuditSink`] behind this sink, if it is one (or a wrapper that writes through one).
    ///
    /// A repository whose sink returns one here does not build an [`AuditEvent`] per access: it hands the sink
    /// a compact record (the key as is, the actor, a coarse time) that the sink's writer task turns into lines
    /// (see [`TracingAuditSink`]). Every other sink gets [`record`](AuditSink::record) with a full event, its
    /// time read from the system clock. The default is `None`.
    fn tracing_sink(&self) -> Option<&TracingAuditSink> {
        None
    }
}

/// What [`TracingAuditSink`] does with an event or record when its lane of a buffer is full.
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

/// What the writer task drains: events recorded as [`AuditEvent`]s, and the compact records of every
/// repository that records into this sink.
struct Buffer {
    shared: Arc<Shared>,
    /// Events given to [`AuditSink::record`], in lanes by thread.
    events: Lanes<Vec<AuditEvent>>,
    /// One source per repository (entity) recording compact records; removed once closed and drained.
    sources: Mutex<Vec<Arc<dyn Drain>>>,
}

/// The state every recording reads: the coarse clock, the overflow policy and whether the writer is there.
struct Shared {
    /// Milliseconds since the Unix epoch when the writer last ticked (every [`LINGER`](TracingAuditSink::LINGER)
    /// while it runs): never later than the moment a record reads it, so it is the lower bound of that record's
    /// time.
    clock_ms: AtomicU64,
    /// How many lanes a buffer has.
    lanes: usize,
    /// The most records (or events) a lane holds; a recording that finds its lane full overflows.
    per_lane: usize,
    overflow: Overflow,
    dropped: AtomicU64,
    /// Wakes the writer early (a lane half full, the last clone dropped).
    wake: tokio::sync::Notify,
    /// The writer task has ended (its runtime shut down, or the sink was dropped): record writes inline.
    writer_gone: AtomicBool,
    /// Set when the last clone is dropped.
    closing: AtomicBool,
    /// Held while lanes are drained and written, so a flush returns only after a drain in progress is done.
    draining: Mutex<()>,
}

impl Shared {
    /// Counts an event the full buffer dropped ([`Overflow::Drop`]).
    fn drop_one(&self, entity: &'static str) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("capacitor_audit_dropped_total", "entity" => entity).increment(1);
    }

    /// After a push that left `len` in its lane: wakes the writer when the lane is just past half full, and
    /// drains with `drain` when the writer ended meanwhile.
    fn pushed(&self, len: usize, drain: impl FnOnce()) {
        if len == self.per_lane / 2 + 1 {
            self.wake.notify_one();
        }
        // The writer may have ended (and drained) between the caller's check and the push.
        if self.writer_gone.load(Ordering::SeqCst) {
            let _draining = lock(&self.draining);
            drain();
        }
    }
}

/// Buffers in lanes, one per thread or so, so that threads recording at once rarely share a lock or a cache
/// line: a thread always uses the same lane, so one thread's records are written in the order it made them.
struct Lanes<B> {
    lanes: Box<[Lane<B>]>,
}

/// A lane, padded to its own cache line. Its lock is a [`TryLock`]: taken with one atomic swap and released with
/// a plain store (a `Mutex` needs an atomic read-modify-write for each), which is most of what recording costs.
/// Every holder keeps it for a push or a swap of buffers only; see [`acquire`].
#[repr(align(128))]
struct Lane<B>(TryLock<B>);

impl<B: Default> Lanes<B> {
    fn new(count: usize) -> Lanes<B> {
        Lanes {
            lanes: (0..count)
                .map(|_| Lane(TryLock::new(B::default())))
                .collect(),
        }
    }

    /// This thread's lane, locked.
    fn mine(&self) -> Locked<'_, B> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        thread_local! {
            // Const-initialised (no lazy-init check on each access); `usize::MAX` until first used.
            static INDEX: Cell<usize> = const { Cell::new(usize::MAX) };
        }
        let index = INDEX
            .try_with(|index| match index.get() {
                usize::MAX => {
                    let fresh = NEXT.fetch_add(1, Ordering::Relaxed) & (usize::MAX >> 1);
                    index.set(fresh);
                    fresh
                }
                known => known,
            })
            .unwrap_or(0);
        // The count of lanes is a power of two.
        acquire(&self.lanes[index & (self.lanes.len() - 1)].0)
    }

    fn iter(&self) -> impl Iterator<Item = &TryLock<B>> {
        self.lanes.iter().map(|lane| &lane.0)
    }
}

/// Takes `lane`'s lock. Holders keep it for a push or a swap of buffers, so a taker that finds it held (the
/// writer swapping, or another thread of the same lane) spins a little, then yields its thread, in case the
/// holder was preempted.
fn acquire<B>(lane: &TryLock<B>) -> Locked<'_, B> {
    let mut spins = 0u32;
    loop {
        if let Some(locked) = lane.try_lock() {
            return locked;
        }
        if spins < 100 {
            spins += 1;
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl TracingAuditSink {
    /// The default capacity of each buffer (the one for events given to [`record`](AuditSink::record), and one
    /// per repository recording into the sink), in entries; allocated as lanes fill, and large enough that a
    /// thread recording as fast as it can wakes the writer once per several thousand entries.
    pub const DEFAULT_CAPACITY: usize = 65_536;

    /// How long the writer waits between drains when no lane is half full; also how often it refreshes the
    /// coarse clock that repositories' records take their time from.
    pub const LINGER: std::time::Duration = std::time::Duration::from_millis(5);

    /// A sink with [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY) and [`Overflow::WriteInline`], its task
    /// spawned on the current Tokio runtime.
    ///
    /// # Panics
    /// Outside a Tokio runtime, as [`tokio::spawn`] does.
    pub fn spawn() -> TracingAuditSink {
        TracingAuditSink::with_capacity(TracingAuditSink::DEFAULT_CAPACITY, Overflow::default())
    }

    /// A sink whose buffers hold about `capacity` events each (split over a lane per two threads of the
    /// machine, rounded to a power of two, at least 1 per lane; one buffer for events given to [`record`](AuditSink::record) and one per
    /// repository recording into it) and that handles a full lane as `overflow` says, its task spawned on the
    /// current Tokio runtime.
    ///
    /// # Panics
    /// Outside a Tokio runtime, as [`tokio::spawn`] does.
    pub fn with_capacity(capacity: usize, overflow: Overflow) -> TracingAuditSink {
        let threads = std::thread::available_parallelism().map_or(4, |n| n.get());
        // A power of two, so that a thread finds its lane with a mask, not a division.
        let lanes = (threads * 2)
            .next_power_of_two()
            .clamp(2, 64)
            .min(1 << capacity.max(1).ilog2());
        let shared = Arc::new(Shared {
            clock_ms: AtomicU64::new(now_ms()),
            lanes,
            per_lane: (capacity / lanes).max(1),
            overflow,
            dropped: AtomicU64::new(0),
            wake: tokio::sync::Notify::new(),
            writer_gone: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            draining: Mutex::new(()),
        });
        let buffer = Arc::new(Buffer {
            events: Lanes::new(lanes),
            shared,
            sources: Mutex::new(Vec::new()),
        });
        tokio::spawn(write_batches(Gone(buffer.clone())));
        TracingAuditSink {
            owner: Arc::new(Owner { buffer }),
        }
    }

    /// How many events were dropped because the buffer was full ([`Overflow::Drop`] only).
    pub fn dropped(&self) -> u64 {
        self.owner.buffer.shared.dropped.load(Ordering::Relaxed)
    }

    /// Writes every event and record recorded before this call (on the caller's thread, after any drain the
    /// writer has in progress); when it returns, they are all written.
    pub async fn flush(&self) {
        self.owner.buffer.drain();
    }

    /// A recorder of compact records for one entity: `entity` its full name, `fields` the fields its accesses
    /// touch, `name_key` how the writer names a key in a line (its token when the key is PII). The records are
    /// drained by this sink's writer until the recorder is dropped (and once more after that).
    pub(crate) fn recorder<K>(
        &self,
        entity: &'static str,
        fields: &'static [&'static str],
        name_key: Box<dyn Fn(&K) -> AuditKey + Send + Sync>,
    ) -> Recorder<K>
    where
        K: Clone + Eq + Hash + Send + Sync + 'static,
    {
        let shared = self.owner.buffer.shared.clone();
        let source = Arc::new(Source {
            lanes: Lanes::new(shared.lanes),
            spare: Mutex::new(Vec::new()),
            shared,
            entity,
            fields,
            name_key,
            closed: AtomicBool::new(false),
        });
        lock(&self.owner.buffer.sources).push(source.clone());
        Recorder { source }
    }
}

impl Buffer {
    fn record(&self, event: AuditEvent) {
        let shared = &*self.shared;
        if shared.writer_gone.load(Ordering::SeqCst) {
            return write_event(&event);
        }
        let mut events = self.events.mine();
        if events.len() < shared.per_lane {
            events.push(event);
            let len = events.len();
            drop(events);
            return shared.pushed(len, || self.drain_events());
        }
        drop(events);
        match shared.overflow {
            Overflow::WriteInline => write_event(&event),
            Overflow::Drop => shared.drop_one(event.entity),
        }
    }

    /// Takes every lane's events and records, and writes them.
    fn drain(&self) {
        let _draining = lock(&self.shared.draining);
        self.drain_events();
        let sources = lock(&self.sources).clone();
        let mut finished = Vec::new();
        for source in &sources {
            // Closed before the drain: nothing can be recorded into it any more, so this drain is its last.
            let closed = source.closed();
            source.drain();
            if closed {
                finished.push(Arc::as_ptr(source) as *const ());
            }
        }
        if !finished.is_empty() {
            lock(&self.sources)
                .retain(|source| !finished.contains(&(Arc::as_ptr(source) as *const ())));
        }
    }

    /// Takes every lane's events and writes them. The caller holds `draining`.
    fn drain_events(&self) {
        for lane in self.events.iter() {
            let mut batch = {
                let mut events = acquire(lane);
                if events.is_empty() {
                    continue;
                }
                // Nothing is allocated under the lane's lock: the lane grows again as events come.
                std::mem::take(&mut *events)
            };
            for event in batch.drain(..) {
                write_event(&event);
            }
        }
    }
}

impl AuditSink for TracingAuditSink {
    fn record(&self, event: AuditEvent) {
        self.owner.buffer.record(event);
    }

    fn tracing_sink(&self) -> Option<&TracingAuditSink> {
        Some(self)
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.buffer.shared.closing.store(true, Ordering::Release);
        self.buffer.shared.wake.notify_one();
    }
}

impl fmt::Debug for TracingAuditSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracingAuditSink")
            .field("overflow", &self.owner.buffer.shared.overflow)
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

/// Marks the writer gone however its task ends (finished, dropped with its runtime, or dropped before it was
/// ever polled: the guard is part of the task's future from its creation), then drains what was recorded
/// before the flag was seen.
struct Gone(Arc<Buffer>);

impl Drop for Gone {
    fn drop(&mut self) {
        self.0.shared.writer_gone.store(true, Ordering::SeqCst);
        self.0.drain();
    }
}

/// The writer: every [`LINGER`](TracingAuditSink::LINGER), or sooner when woken, refreshes the coarse clock and
/// drains the buffer, until the last clone of the sink is dropped (then writes what is left). If its runtime
/// shuts down first, later events are written inline.
async fn write_batches(gone: Gone) {
    let buffer = &gone.0;
    while !buffer.shared.closing.load(Ordering::Acquire) {
        let _ = tokio::time::timeout(TracingAuditSink::LINGER, buffer.shared.wake.notified()).await;
        buffer.shared.clock_ms.store(now_ms(), Ordering::Relaxed);
        buffer.drain();
    }
}

/// Whether a subscriber listens to audit lines: when none does, a drain writes nothing and formats nothing.
fn audit_enabled() -> bool {
    tracing::enabled!(target: AUDIT_TARGET, tracing::Level::INFO)
}

fn write_line(line: &str) {
    tracing::info!(target: AUDIT_TARGET, "{line}");
}

fn write_event(event: &AuditEvent) {
    if audit_enabled() {
        write_line(&event.to_json_line());
    }
}

/// A buffer the writer drains: one repository's compact records.
trait Drain: Send + Sync {
    /// Takes every buffered record and writes it. The caller holds [`Shared::draining`].
    fn drain(&self);
    /// Whether its recorder was dropped.
    fn closed(&self) -> bool;
}

/// Records one entity's accesses into a [`TracingAuditSink`] without building an [`AuditEvent`]: the key as is
/// (a copy of an integer, a clone of a string), the operation, the outcome, the current [`Actor`] and the
/// sink's coarse clock go into this thread's lane; the writer task names the key (its token when the key is
/// PII), coalesces and writes. Dropping the recorder lets the writer drain it one last time and forget it.
pub(crate) struct Recorder<K: Clone + Eq + Hash + Send + Sync + 'static> {
    source: Arc<Source<K>>,
}

/// A recorder's lanes, shared with the sink's writer.
struct Source<K> {
    shared: Arc<Shared>,
    lanes: Lanes<Batch<K>>,
    /// Emptied batches, kept so that a drain hands each lane a batch that already has room.
    spare: Mutex<Vec<Batch<K>>>,
    entity: &'static str,
    fields: &'static [&'static str],
    name_key: Box<dyn Fn(&K) -> AuditKey + Send + Sync>,
    closed: AtomicBool,
}

/// A lane's records, and the actors they name (consecutive records by one actor share an entry, so recording
/// under a busy actor does not touch its reference count each time).
struct Batch<K> {
    records: Vec<Raw<K>>,
    actors: Vec<Actor>,
}

impl<K> Default for Batch<K> {
    fn default() -> Self {
        Batch {
            records: Vec::new(),
            actors: Vec::new(),
        }
    }
}

/// One access, as recorded: what the line needs, unformatted.
struct Raw<K> {
    key: K,
    /// The coarse clock when it was recorded: no later than the access.
    at_ms: u64,
    /// 1 + the index of its actor in the batch's `actors`; 0 for none.
    actor: u32,
    operation: Operation,
    outcome: AuditOutcome,
}

impl<K: Clone + Eq + Hash + Send + Sync + 'static> Recorder<K> {
    /// Records `operation` on `key` with `outcome`, by the [current](Actor::current) actor.
    pub(crate) fn record(&self, operation: Operation, key: &K, outcome: AuditOutcome) {
        let source = &*self.source;
        let shared = &*source.shared;
        if shared.writer_gone.load(Ordering::SeqCst) {
            return source.write_inline(operation, key, outcome);
        }
        let at_ms = shared.clock_ms.load(Ordering::Relaxed);
        let push = |actor: Option<&Actor>| source.push(actor, key, at_ms, operation, outcome);
        let pushed = match ACTOR.try_with(|actor| push(Some(actor))) {
            Ok(pushed) => pushed,
            Err(_) => push(None),
        };
        match pushed {
            Some(len) => shared.pushed(len, || source.drain()),
            None => match shared.overflow {
                Overflow::WriteInline => source.write_inline(operation, key, outcome),
                Overflow::Drop => shared.drop_one(source.entity),
            },
        }
    }
}

impl<K: Clone + Eq + Hash + Send + Sync + 'static> Drop for Recorder<K> {
    fn drop(&mut self) {
        self.source.closed.store(true, Ordering::Release);
        if self.source.shared.writer_gone.load(Ordering::SeqCst) {
            let _draining = lock(&self.source.shared.draining);
            self.source.drain();
        }
    }
}

impl<K: Clone + Eq + Hash + Send + Sync + 'static> Source<K> {
    /// Pushes a record into this thread's lane; its new length, or `None` when the lane is full.
    fn push(
        &self,
        actor: Option<&Actor>,
        key: &K,
        at_ms: u64,
        operation: Operation,
        outcome: AuditOutcome,
    ) -> Option<usize> {
        let mut batch = self.lanes.mine();
        if batch.records.len() >= self.shared.per_lane {
            return None;
        }
        let actor = match actor {
            None => 0,
            Some(actor) => {
                // The same `Actor` (one scope) is the same pointer: no need to compare the ids.
                let same = batch
                    .actors
                    .last()
                    .is_some_and(|last| Arc::ptr_eq(&last.0, &actor.0) || last == actor);
                if !same {
                    batch.actors.push(actor.clone());
                }
                batch.actors.len() as u32
            }
        };
        batch.records.push(Raw {
            key: key.clone(),
            at_ms,
            actor,
            operation,
            outcome,
        });
        Some(batch.records.len())
    }

    /// Writes one access now, on the caller's thread, with an exact time.
    fn write_inline(&self, operation: Operation, key: &K, outcome: AuditOutcome) {
        if !audit_enabled() {
            return;
        }
        let at_ms = now_ms();
        let actor = Actor::current();
        write_line(
            &LineParts {
                at_ms,
                until_ms: at_ms,
                count: 1,
                entity: self.entity,
                operation,
                key: &(self.name_key)(key),
                fields: self.fields,
                actor: actor.as_ref(),
                outcome,
            }
            .to_json(),
        );
    }
}

impl<K: Clone + Eq + Hash + Send + Sync + 'static> Drain for Source<K> {
    fn drain(&self) {
        let mut taken = Vec::new();
        {
            let mut spare = lock(&self.spare);
            for lane in self.lanes.iter() {
                let mut batch = acquire(lane);
                if !batch.records.is_empty() {
                    let empty = spare.pop().unwrap_or_default();
                    taken.push(std::mem::replace(&mut *batch, empty));
                }
            }
        }
        if taken.is_empty() {
            return;
        }
        // Read after every record taken was recorded: no access in this drain happened later.
        let until_ms = now_ms();
        if audit_enabled() {
            self.write_coalesced(&taken, until_ms);
        }
        let mut spare = lock(&self.spare);
        for mut batch in taken {
            batch.records.clear();
            batch.actors.clear();
            spare.push(batch);
        }
    }

    fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

impl<K: Clone + Eq + Hash + Send + Sync + 'static> Source<K> {
    /// Writes `batches` as lines, one per distinct (key, actor, operation, outcome), with the count of its
    /// records and the earliest of their times; in the order each first appears (lane by lane).
    fn write_coalesced(&self, batches: &[Batch<K>], until_ms: u64) {
        struct Group<'a, K> {
            key: &'a K,
            actor: Option<&'a Actor>,
            operation: Operation,
            outcome: AuditOutcome,
            at_ms: u64,
            count: u64,
        }
        type GroupKey<'a, K> = (&'a K, Option<&'a str>, Operation, AuditOutcome);
        let mut index: HashMap<GroupKey<'_, K>, usize> = HashMap::new();
        let mut groups: Vec<Group<'_, K>> = Vec::new();
        for batch in batches {
            for raw in &batch.records {
                let actor = (raw.actor as usize)
                    .checked_sub(1)
                    .map(|i| &batch.actors[i]);
                let at = *index
                    .entry((&raw.key, actor.map(Actor::id), raw.operation, raw.outcome))
                    .or_insert_with(|| {
                        groups.push(Group {
                            key: &raw.key,
                            actor,
                            operation: raw.operation,
                            outcome: raw.outcome,
                            at_ms: raw.at_ms,
                            count: 0,
                        });
                        groups.len() - 1
                    });
                let group = &mut groups[at];
                group.count += 1;
                group.at_ms = group.at_ms.min(raw.at_ms);
            }
        }
        for group in &groups {
            write_line(
                &LineParts {
                    at_ms: group.at_ms.min(until_ms),
                    until_ms,
                    count: group.count,
                    entity: self.entity,
                    operation: group.operation,
                    key: &(self.name_key)(group.key),
                    fields: self.fields,
                    actor: group.actor,
                    outcome: group.outcome,
                }
                .to_json(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pii::{SecretKey, TokenKey};
    use capacitor_testkit::log_lines::MessageLines;

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
        let lines = MessageLines::new(AUDIT_TARGET);
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
        let lines = MessageLines::new(AUDIT_TARGET);
        let _guard = tracing::subscriber::set_default(lines.clone());
        // On this current-thread runtime the writer cannot run until the test awaits: the buffer fills. A
        // capacity of 4 is at least 2 lanes of at most 2 events; this thread uses one of them.
        let inline = TracingAuditSink::with_capacity(4, Overflow::WriteInline);
        let held = inline.owner.buffer.shared.per_lane;
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
        let lines = MessageLines::new(AUDIT_TARGET);
        let _guard = tracing::subscriber::set_default(lines.clone());
        let sink = TracingAuditSink::spawn();
        sink.record(event(1));
        drop(sink);
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(lines.take().len(), 1);
    }

    /// Parses every line, checking the fields every line has.
    fn parse(lines: &[String]) -> Vec<serde_json::Value> {
        lines
            .iter()
            .map(|line| {
                let parsed: serde_json::Value = serde_json::from_str(line).unwrap();
                let at = parsed["at_ms"].as_u64().unwrap();
                let until = parsed["until_ms"].as_u64().unwrap();
                assert!(at <= until, "{line}");
                assert!(parsed["count"].as_u64().unwrap() >= 1, "{line}");
                assert_eq!(parsed["entity"], "app.v1.User", "{line}");
                assert_eq!(parsed["fields"], serde_json::json!(["email"]), "{line}");
                parsed
            })
            .collect()
    }

    /// A recorder as a repository makes one, its keys named in clear (`n` as `u-n`).
    fn clear_recorder(sink: &TracingAuditSink) -> Recorder<u64> {
        sink.recorder(
            "app.v1.User",
            &["email"],
            Box::new(|key: &u64| AuditKey::Clear(format!("u-{key}"))),
        )
    }

    #[tokio::test]
    async fn coalesced_counts_add_up_exactly_across_threads_and_actors() {
        let lines = MessageLines::new(AUDIT_TARGET);
        // The subscriber is this thread's; the writer task runs on this thread too, and cannot run while the
        // recording threads are joined below, so every line is written here, by the flush.
        let _guard = tracing::subscriber::set_default(lines.clone());
        let sink = TracingAuditSink::with_capacity(1 << 20, Overflow::Drop);
        let recorder = Arc::new(clear_recorder(&sink));
        let before = now_ms();
        let mut threads = Vec::new();
        for t in 0..4u64 {
            let recorder = recorder.clone();
            threads.push(std::thread::spawn(move || {
                let actor = Actor::new(format!("svc:{}", t % 2));
                actor.sync_scope(|| {
                    for n in 0..10_000u64 {
                        let outcome = match n % 5 {
                            0 => AuditOutcome::NotFound,
                            _ => AuditOutcome::Success,
                        };
                        recorder.record(Operation::Read, &(n % 7), outcome);
                    }
                });
                // Outside any scope: no actor.
                recorder.record(Operation::Write, &t, AuditOutcome::Failed);
            }));
        }
        for thread in threads {
            thread.join().unwrap();
        }
        sink.flush().await;
        let after = now_ms();
        assert_eq!(sink.dropped(), 0);
        let parsed = parse(&lines.take());
        let mut counts: HashMap<(String, String, String, String), u64> = HashMap::new();
        for line in &parsed {
            assert!(line["at_ms"].as_u64().unwrap() + 1_000 >= before);
            assert!(line["until_ms"].as_u64().unwrap() <= after);
            let group = (
                line["key"].as_str().unwrap().to_owned(),
                line["actor"].to_string(),
                line["operation"].as_str().unwrap().to_owned(),
                line["outcome"].as_str().unwrap().to_owned(),
            );
            *counts.entry(group).or_default() += line["count"].as_u64().unwrap();
        }
        let mut expected: HashMap<(String, String, String, String), u64> = HashMap::new();
        for t in 0..4u64 {
            for n in 0..10_000u64 {
                let outcome = if n % 5 == 0 { "not_found" } else { "success" };
                let actor = format!("\"svc:{}\"", t % 2);
                *expected
                    .entry((format!("u-{}", n % 7), actor, "read".into(), outcome.into()))
                    .or_default() += 1;
            }
            *expected
                .entry((
                    format!("u-{t}"),
                    "null".into(),
                    "write".into(),
                    "failed".into(),
                ))
                .or_default() += 1;
        }
        assert_eq!(counts, expected);
        assert!(parsed.len() < 40_004, "coalesced: {} lines", parsed.len());
    }

    #[tokio::test]
    async fn records_carry_a_true_time_bound_and_a_token_never_the_key() {
        let lines = MessageLines::new(AUDIT_TARGET);
        let _guard = tracing::subscriber::set_default(lines.clone());
        let constructed = now_ms();
        let sink = TracingAuditSink::spawn();
        let tokens = TokenKey::new(&SecretKey::from_bytes([4; 32]));
        let recorder: Recorder<String> = sink.recorder(
            "app.v1.User",
            &["email"],
            Box::new(move |key: &String| {
                AuditKey::Token(tokens.token("app.v1.User", key.as_bytes()))
            }),
        );
        let canary = "canary-77cd@example.com".to_owned();
        // The writer ticks (every 5 ms) while this task sleeps: the coarse clock moves past the construction.
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        let before = now_ms();
        Actor::new("svc:support").sync_scope(|| {
            recorder.record(Operation::Read, &canary, AuditOutcome::Success);
            recorder.record(Operation::Read, &canary, AuditOutcome::Success);
            recorder.record(Operation::Erase, &canary, AuditOutcome::Success);
        });
        let recorded = now_ms();
        sink.flush().await;
        let written = lines.take();
        let parsed = parse(&written);
        assert_eq!(parsed.len(), 2, "{written:?}");
        let token = TokenKey::new(&SecretKey::from_bytes([4; 32]))
            .token("app.v1.User", canary.as_bytes())
            .to_string();
        for (line, (operation, count)) in parsed.iter().zip([("read", 2), ("erase", 1)]) {
            assert_eq!(line["operation"], operation);
            assert_eq!(line["count"], count);
            assert_eq!(line["key_token"], token);
            assert!(line.get("key").is_none());
            assert_eq!(line["actor"], "svc:support");
            assert_eq!(line["outcome"], "success");
            // A lower bound (the coarse clock), refreshed since the sink was made.
            let at = line["at_ms"].as_u64().unwrap();
            assert!(
                constructed < at && at <= recorded,
                "{at} vs {constructed}, {before}..{recorded}"
            );
            assert!(line["until_ms"].as_u64().unwrap() >= recorded);
        }
        for line in &written {
            assert!(!line.contains("canary"), "{line}");
        }
    }

    #[tokio::test]
    async fn a_full_recorder_lane_writes_inline_or_drops_and_counts() {
        let lines = MessageLines::new(AUDIT_TARGET);
        let _guard = tracing::subscriber::set_default(lines.clone());
        // As for events: the writer cannot run until the test awaits, so this thread's lane fills.
        let inline = TracingAuditSink::with_capacity(4, Overflow::WriteInline);
        let recorder = clear_recorder(&inline);
        let held = inline.owner.buffer.shared.per_lane;
        for n in 0..5 {
            recorder.record(Operation::Read, &n, AuditOutcome::Success);
        }
        let written = parse(&lines.take());
        assert_eq!(written.len(), 5 - held, "written inline");
        for line in &written {
            assert_eq!(
                line["at_ms"], line["until_ms"],
                "an inline line has an exact time"
            );
        }
        inline.flush().await;
        assert_eq!(parse(&lines.take()).len(), held, "written by the flush");
        assert_eq!(inline.dropped(), 0);

        let dropping = TracingAuditSink::with_capacity(4, Overflow::Drop);
        let recorder = clear_recorder(&dropping);
        for n in 0..5 {
            recorder.record(Operation::Read, &n, AuditOutcome::Success);
        }
        assert!(lines.take().is_empty());
        dropping.flush().await;
        let kept = parse(&lines.take());
        let counted: u64 = kept.iter().map(|l| l["count"].as_u64().unwrap()).sum();
        assert_eq!(counted as usize, held);
        assert_eq!(dropping.dropped(), (5 - held) as u64);
    }

    #[tokio::test]
    async fn a_dropped_recorder_and_sink_write_what_they_had() {
        let lines = MessageLines::new(AUDIT_TARGET);
        let _guard = tracing::subscriber::set_default(lines.clone());
        let sink = TracingAuditSink::spawn();
        let recorder = clear_recorder(&sink);
        recorder.record(Operation::Read, &1, AuditOutcome::Success);
        drop(recorder);
        // The writer's next drain writes the closed recorder's records and forgets it.
        sink.flush().await;
        assert_eq!(parse(&lines.take()).len(), 1);
        assert!(lock(&sink.owner.buffer.sources).is_empty());

        let recorder = clear_recorder(&sink);
        recorder.record(Operation::Read, &2, AuditOutcome::Success);
        drop(sink);
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        let written = parse(&lines.take());
        assert_eq!(written.len(), 1);
        assert_eq!(written[0]["key"], "u-2");
        // The writer is gone: later records are written inline, exactly timed.
        recorder.record(Operation::Read, &3, AuditOutcome::Success);
        let written = parse(&lines.take());
        assert_eq!(written.len(), 1);
        assert_eq!(written[0]["at_ms"], written[0]["until_ms"]);
    }

    #[test]
    fn a_runtime_shut_down_leaves_records_written_inline() {
        let lines = MessageLines::new(AUDIT_TARGET);
        let _guard = tracing::subscriber::set_default(lines.clone());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let sink = runtime.block_on(async { TracingAuditSink::spawn() });
        let recorder = clear_recorder(&sink);
        recorder.record(Operation::Read, &1, AuditOutcome::Success);
        // Shutting down drops the writer task, which drains what it had.
        drop(runtime);
        assert_eq!(parse(&lines.take()).len(), 1);
        recorder.record(Operation::Read, &2, AuditOutcome::Success);
        assert_eq!(parse(&lines.take()).len(), 1);
        assert_eq!(sink.dropped(), 0);
    }

    #[tokio::test]
    async fn threads_sharing_lanes_with_a_draining_writer_lose_nothing() {
        let lines = MessageLines::new(AUDIT_TARGET);
        let _guard = tracing::subscriber::set_default(lines.clone());
        // Small lanes, so some records overflow and are written inline on the recording threads, and twice as
        // many threads as lanes, so threads share lanes, while this thread drains all along.
        let sink = TracingAuditSink::with_capacity(256, Overflow::WriteInline);
        let recorder = Arc::new(clear_recorder(&sink));
        let threads = 2 * sink.owner.buffer.shared.lanes + 1;
        let done = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (recorder, done, lines) = (recorder.clone(), done.clone(), lines.clone());
                std::thread::spawn(move || {
                    let _guard = tracing::subscriber::set_default(lines);
                    for n in 0..3_000u64 {
                        recorder.record(Operation::Read, &(n % 3), AuditOutcome::Success);
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        while done.load(Ordering::SeqCst) < threads {
            sink.flush().await;
            tokio::task::yield_now().await;
        }
        for handle in handles {
            handle.join().unwrap();
        }
        sink.flush().await;
        let mut counts = [0u64; 3];
        for line in parse(&lines.take()) {
            let key = line["key"].as_str().unwrap();
            let n: usize = key.strip_prefix("u-").unwrap().parse().unwrap();
            counts[n] += line["count"].as_u64().unwrap();
        }
        assert_eq!(counts, [1_000 * threads as u64; 3]);
        assert_eq!(sink.dropped(), 0);
    }
}
