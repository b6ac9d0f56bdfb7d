//! The transactional outbox and the typed change feed of an entity with the `outbox` option.
//!
//! Every committed insert, update, upsert, delete and erase of such an entity writes one row to its outbox
//! table (`<table>_outbox`, from the migration emitter) **in the write's own transaction**, on SQLite and
//! Postgres, inside [`Store::transaction`](crate::Store::transaction) too: a rolled-back write leaves no row, a
//! committed one always has its row. The row holds the key, the row's new version, the [`Op`], and for a write
//! that leaves a value its protobuf encoding with the encrypted fields sealed (what Redis holds: no plaintext
//! of an `encrypt` field leaves the process).
//!
//! Two readers consume it:
//! - [`Repository::changes`](crate::Repository::changes): a [`ChangeFeed`] of typed [`ChangeEvent`]s, resumable
//!   from an opaque [`ChangeCursor`];
//! - [`Relay`](relay::Relay): publishes rows to a [`Sink`](relay::Sink) at least once and marks them published,
//!   and prunes what was published before a retention.
//!
//! **Order.** Rows are numbered by a sequence assigned when the outbox row is written, after the entity's row
//! (which holds the row's lock until commit): so the changes of one key are numbered in commit order. Across
//! keys the sequence is the order rows were written, not committed: on Postgres a transaction can commit a
//! lower number after a higher one is visible. The feed never skips such a row: it stops at a gap until every
//! transaction that could fill it has ended (Postgres' snapshot `xmin` passes the `xmax` seen with the gap),
//! then a gap that stayed empty (a rolled-back write) is passed. SQLite has one writer at a time and no such
//! gaps. See `docs/changes.md`.

#[cfg(feature = "nats")]
pub mod nats;
#[cfg(feature = "redis")]
pub mod redis_stream;
pub mod relay;
pub mod wake;

use crate::error::Error;
use crate::record::Record;
use crate::store::Store;
use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The operation an outbox row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `insert`: the row did not exist.
    Insert,
    /// `update`: a compare-and-set replace of an existing row.
    Update,
    /// `upsert`: `put` (inserted or replaced, the store does not say which).
    Upsert,
    /// `delete`.
    Delete,
    /// `erase`: [`Repository::erase`](crate::Repository::erase) (a delete for personal data).
    Erase,
}

impl Op {
    /// Every operation.
    pub const ALL: [Op; 5] = [Op::Insert, Op::Update, Op::Upsert, Op::Delete, Op::Erase];

    /// The text stored in `_op` and sent in envelopes.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Insert => "insert",
            Op::Update => "update",
            Op::Upsert => "upsert",
            Op::Delete => "delete",
            Op::Erase => "erase",
        }
    }

    /// The operation [`as_str`](Op::as_str) spells `text`.
    pub fn parse(text: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.as_str() == text)
    }

    /// Whether the operation removes the row.
    pub fn is_removal(self) -> bool {
        matches!(self, Op::Delete | Op::Erase)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One outbox row as stored: the payload still sealed.
#[derive(Clone)]
pub struct OutboxRow<E: Record> {
    /// Its position in the outbox.
    pub seq: u64,
    /// The row's key.
    pub key: E::Key,
    /// The row's version after the write (for a removal: the version the removed row had).
    pub version: u64,
    /// What the write did.
    pub op: Op,
    /// The value's encoding, encrypted fields sealed; `None` for a removal (and for the pruning marker).
    pub payload: Option<Vec<u8>>,
    /// When the row was written, in microseconds since the Unix epoch.
    pub recorded_at_us: i64,
    /// Whether this is the pruning marker (every row before it is gone), not a change.
    pub(crate) marker: bool,
}

impl<E: Record> fmt::Debug for OutboxRow<E> {
    /// The key and payload are left out: either can hold personal data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboxRow")
            .field("entity", &E::SCHEMA.message)
            .field("seq", &self.seq)
            .field("version", &self.version)
            .field("op", &self.op)
            .field("payload_bytes", &self.payload.as_ref().map(Vec::len))
            .finish_non_exhaustive()
    }
}

/// A committed change of an entity.
#[derive(Clone, PartialEq)]
pub enum Change<E: Record> {
    /// The row now holds `value` at `version` (an insert, update or upsert).
    Put {
        /// The value written.
        value: E,
        /// Its row version.
        version: u64,
    },
    /// The row of `key` was removed (a delete or an erase); `version` is the version it had.
    Delete {
        /// The removed row's key.
        key: E::Key,
        /// The version the row had.
        version: u64,
    },
}

impl<E: Record + fmt::Debug> fmt::Debug for Change<E> {
    /// A removal's key is left out (it can be personal data); a value prints as its own `Debug` does, which
    /// redacts its PII fields.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Put { value, version } => f
                .debug_struct("Put")
                .field("value", value)
                .field("version", version)
                .finish(),
            Change::Delete { version, .. } => f
                .debug_struct("Delete")
                .field("version", version)
                .finish_non_exhaustive(),
        }
    }
}

impl<E: Record> Change<E> {
    /// The key of the row that changed.
    pub fn key(&self) -> E::Key {
        match self {
            Change::Put { value, .. } => value.key(),
            Change::Delete { key, .. } => key.clone(),
        }
    }

    /// The version the change is about.
    pub fn version(&self) -> u64 {
        match self {
            Change::Put { version, .. } | Change::Delete { version, .. } => *version,
        }
    }
}

/// One change read from the feed, with the cursor to resume after it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeEvent<E: Record> {
    /// What changed.
    pub change: Change<E>,
    /// The operation that made the change.
    pub op: Op,
    /// Resume after this change: pass it to [`Repository::changes`](crate::Repository::changes).
    pub cursor: ChangeCursor,
}

/// A position in an entity's change feed: opaque text (`Display` / `FromStr`) to store with what the
/// consumer has applied, and resume from.
///
/// ```
/// use capacitor::outbox::ChangeCursor;
/// let start = ChangeCursor::beginning();
/// let text = start.to_string();
/// assert_eq!(text.parse::<ChangeCursor>().unwrap(), start);
/// assert!("junk".parse::<ChangeCursor>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChangeCursor {
    seq: u64,
}

impl ChangeCursor {
    /// Before every change the outbox still holds: a feed from here reads everything retained (and fails with
    /// [`Error::ChangeCursorExpired`] once the outbox has been pruned).
    pub fn beginning() -> Self {
        ChangeCursor { seq: 0 }
    }

    pub(crate) fn at(seq: u64) -> Self {
        ChangeCursor { seq }
    }

    /// The outbox position after which the feed resumes.
    pub fn position(&self) -> u64 {
        self.seq
    }
}

impl fmt::Display for ChangeCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c1.{}", self.seq)
    }
}

/// A text that is not a [`ChangeCursor`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a change cursor (expected `c1.<position>`)")]
pub struct ChangeCursorError;

impl FromStr for ChangeCursor {
    type Err = ChangeCursorError;
    fn from_str(text: &str) -> Result<Self, ChangeCursorError> {
        text.strip_prefix("c1.")
            .and_then(|seq| seq.parse().ok())
            .map(|seq| ChangeCursor { seq })
            .ok_or(ChangeCursorError)
    }
}

/// How a [`ChangeFeed`] reads: rows per read, and how long it waits when it has read everything.
#[derive(Debug, Clone, Copy)]
pub struct FeedOptions {
    /// The most outbox rows one read returns. Default 500.
    pub batch: usize,
    /// How long [`ChangeFeed::next`] sleeps before reading again when the last read found nothing new: the
    /// bound on how late a change is seen, beyond the read itself. Default 10 ms.
    pub poll_interval: Duration,
}

impl Default for FeedOptions {
    fn default() -> Self {
        FeedOptions {
            batch: 500,
            poll_interval: Duration::from_millis(10),
        }
    }
}

/// An entity's change feed: the changes after a cursor, in outbox order (per key, commit order), each read
/// from the outbox table, which is the source of truth. Made by
/// [`Repository::changes`](crate::Repository::changes).
pub struct ChangeFeed<E: Record> {
    store: Store,
    cursor: u64,
    /// The position of the last change [`next`](Self::next) or [`poll`](Self::poll) returned.
    consumed: u64,
    options: FeedOptions,
    ready: VecDeque<ChangeEvent<E>>,
    /// A gap seen below `.0` (the highest position read with it) that may still be filled by a transaction
    /// that had not committed: it is passed once Postgres' snapshot xmin reaches `.1`.
    gap: Option<(u64, u64)>,
    /// Wake-ups on commits (Postgres), subscribed on the first read; `None` before, or where the feed only polls.
    wake: Option<tokio::sync::watch::Receiver<u64>>,
    subscribed: bool,
}

impl<E: Record> ChangeFeed<E> {
    pub(crate) fn new(store: Store, from: ChangeCursor, options: FeedOptions) -> Self {
        ChangeFeed {
            store,
            cursor: from.seq,
            consumed: from.seq,
            options: FeedOptions {
                batch: options.batch.max(1),
                ..options
            },
            ready: VecDeque::new(),
            gap: None,
            wake: None,
            subscribed: false,
        }
    }

    /// Where the feed stands: after the last change returned (or read and skipped).
    pub fn cursor(&self) -> ChangeCursor {
        match self.ready.is_empty() {
            true => ChangeCursor::at(self.cursor),
            // Changes read but not returned yet are not consumed.
            false => ChangeCursor::at(self.consumed),
        }
    }

    /// The next change, waiting (polling every [`FeedOptions::poll_interval`]) until there is one.
    pub async fn next(&mut self) -> Result<ChangeEvent<E>, Error> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                self.consumed = event.cursor.seq;
                return Ok(event);
            }
            if !self.read().await?.advanced {
                self.wait().await;
            }
        }
    }

    /// The changes available now (one read of the outbox; empty when there is nothing new).
    pub async fn poll(&mut self) -> Result<Vec<ChangeEvent<E>>, Error> {
        if self.ready.is_empty() {
            self.read().await?;
        }
        if let Some(last) = self.ready.back() {
            self.consumed = last.cursor.seq;
        }
        Ok(self.ready.drain(..).collect())
    }

    /// One read: the changes available now, and whether the read reached the end of the outbox (every change
    /// committed before it started is in this or an earlier result).
    pub(crate) async fn poll_to_end(&mut self) -> Result<(Vec<ChangeEvent<E>>, bool), Error> {
        let caught_up = self.read().await?.caught_up;
        if let Some(last) = self.ready.back() {
            self.consumed = last.cursor.seq;
        }
        Ok((self.ready.drain(..).collect(), caught_up))
    }

    /// The feed as a [`Stream`](futures_core::Stream) of [`next`](Self::next)'s results, which ends after its
    /// first error.
    pub fn into_stream(self) -> impl futures_core::Stream<Item = Result<ChangeEvent<E>, Error>> {
        futures_util::stream::unfold(Some(self), |feed| async move {
            let mut feed = feed?;
            match feed.next().await {
                Ok(event) => Some((Ok(event), Some(feed))),
                Err(e) => Some((Err(e), None)),
            }
        })
    }

    /// Reads the outbox after the cursor into `ready`.
    /// Waits for a commit to the outbox after the last read began (on Postgres, which notifies), or the poll
    /// interval, whichever comes first.
    pub(crate) async fn wait(&mut self) {
        let interval = self.options.poll_interval;
        let Some(wake) = self.wake.as_mut() else {
            return tokio::time::sleep(interval).await;
        };
        let started = tokio::time::Instant::now();
        if let Ok(Err(_)) = tokio::time::timeout(interval, wake.changed()).await {
            // The store is gone (or its listener with it): poll from now on.
            self.wake = None;
            tokio::time::sleep_until(started + interval).await;
        }
    }

    async fn read(&mut self) -> Result<ReadStatus, Error> {
        // A commit from now on wakes `wait`: seen before the rows are read, so none is missed.
        if !self.subscribed {
            self.subscribed = true;
            self.wake = self.store.outbox_wakeups::<E>();
        }
        if let Some(wake) = self.wake.as_mut() {
            wake.borrow_and_update();
        }
        // Only a gap seen before can be passed, and only by a horizon read before the rows: a transaction that
        // had ended by then is visible to the read that follows.
        let xmin = match self.gap {
            Some(_) => self.store.outbox_horizon::<E>(true).await?,
            None => None,
        };
        let rows = self
            .store
            .outbox_after::<E>(self.cursor, self.options.batch)
            .await?;
        // Pruning deletes every row below its marker: a marker after the cursor means the changes after the
        // cursor are gone. It comes first (the relay never prunes past a number a running transaction holds);
        // any marker is checked all the same, so a change lost to pruning is never passed over silently.
        if let Some(marker) = rows.iter().find(|r| r.marker) {
            return Err(Error::ChangeCursorExpired {
                entity: E::SCHEMA.message,
                cursor: self.cursor,
                pruned_through: marker.seq,
            });
        }
        let start = self.cursor;
        let full = rows.len() >= self.options.batch;
        let highest = rows.last().map(|r| r.seq);
        let mut stopped_at = None;
        for row in rows {
            if row.seq != self.cursor + 1 {
                // `cursor + 1 .. row.seq` are missing: numbers taken by writes that have not committed yet,
                // or never will (rolled back). On SQLite none can be pending. A gap is passed once every
                // transaction that was running when it was first seen has ended.
                let passable = match (self.store.outbox_has_gaps(), xmin) {
                    (false, _) => true,
                    (true, None) => false,
                    (true, Some(xmin)) => self
                        .gap
                        .is_some_and(|(upto, horizon)| row.seq - 1 <= upto && xmin >= horizon),
                };
                if !passable {
                    stopped_at = Some(row.seq);
                    break;
                }
            }
            self.cursor = row.seq;
            let change = match row.op.is_removal() {
                true => Change::Delete {
                    key: row.key.clone(),
                    version: row.version,
                },
                false => Change::Put {
                    value: self.store.outbox_value::<E>(&row).await?,
                    version: row.version,
                },
            };
            self.ready.push_back(ChangeEvent {
                change,
                op: row.op,
                cursor: ChangeCursor::at(row.seq),
            });
        }
        if let Some(stop) = stopped_at {
            // Read after the rows: every transaction that could still fill the gap has an id below it.
            if self.gap.is_none_or(|(upto, _)| upto < stop - 1) {
                let horizon = self.store.outbox_horizon::<E>(false).await?.unwrap_or(0);
                self.gap = highest.map(|h| (h, horizon));
            }
        } else if self.gap.is_some_and(|(upto, _)| upto <= self.cursor) {
            self.gap = None;
        }
        Ok(ReadStatus {
            advanced: self.cursor != start,
            caught_up: !full && stopped_at.is_none(),
        })
    }
}

/// What one read of the outbox did.
struct ReadStatus {
    /// The cursor moved.
    advanced: bool,
    /// Nothing committed before the read was left behind (no full batch, no gap waited on).
    caught_up: bool,
}
