//! The change feed of a repository's entity, and the cross-process L1 invalidation built on it.
//!
//! With [`RepositoryBuilder::invalidate_l1_from_changes`](super::RepositoryBuilder::invalidate_l1_from_changes),
//! a task reads the entity's change feed and applies every committed change (from any process) to this
//! process's L1: a put replaces an older entry (set if newer), a removal leaves a tombstone. L1 serves a read
//! only while the feed is *fresh*: its last read that reached the end of the outbox started less than
//! [`L1Invalidation::bound`] ago. Every change committed before that read started has been applied, so an L1
//! hit is never staler than the bound. When the feed stalls (a slow or failing store, a gap it must wait on)
//! L1 is skipped and reads go to the tiers below; when it fails (a store error, a cursor past the retention),
//! L1 is flushed and the feed restarts at the outbox's end before L1 serves again.

use super::Repository;
use crate::cache::MemoryTier;
use crate::error::Error;
use crate::outbox::{Change, ChangeCursor, ChangeFeed, FeedOptions};
use crate::record::Record;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How L1 follows the change feed ([`RepositoryBuilder::invalidate_l1_from_changes`](super::RepositoryBuilder::invalidate_l1_from_changes)).
#[derive(Debug, Clone, Copy)]
pub struct L1Invalidation {
    /// The most an L1 hit may lag behind a commit in another process. Default 50 ms.
    pub bound: Duration,
    /// How the feed reads (its poll interval must be well under the bound). Default: 5 ms polls.
    pub feed: FeedOptions,
}

impl Default for L1Invalidation {
    fn default() -> Self {
        L1Invalidation {
            bound: Duration::from_millis(50),
            feed: FeedOptions {
                poll_interval: Duration::from_millis(5),
                ..FeedOptions::default()
            },
        }
    }
}

/// Until when L1 may serve reads, in microseconds since `epoch` (0: not yet).
pub(super) struct Freshness {
    started: Instant,
    fresh_until_us: AtomicU64,
    /// How many times the feed failed and L1 was flushed.
    pub(super) flushes: AtomicU64,
    /// Moves before the follower applies changes or clears L1: a read that fills L1 from a lower tier does so
    /// only if it has not moved since the read began (its value may predate a change already applied, whose
    /// entry an eviction could have removed).
    epoch: AtomicU64,
}

impl Freshness {
    fn new() -> Self {
        Freshness {
            started: Instant::now(),
            fresh_until_us: AtomicU64::new(0),
            flushes: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
        }
    }

    fn now_us(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
    }

    /// The epoch a read that may fill L1 starts under.
    pub(super) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Whether a read that started under `epoch` may fill L1.
    pub(super) fn may_fill(&self, epoch: u64) -> bool {
        self.epoch.load(Ordering::Acquire) == epoch
    }

    /// Whether L1 may serve a read now.
    pub(super) fn is_fresh(&self) -> bool {
        self.now_us() < self.fresh_until_us.load(Ordering::Acquire)
    }
}

/// The runtime the follower task will run on: [`Error::Config`] outside a Tokio runtime.
pub(super) fn runtime<E: Record>() -> Result<tokio::runtime::Handle, Error> {
    tokio::runtime::Handle::try_current().map_err(|_| {
        Error::Config(format!(
            "{}: L1 invalidation from the change feed runs a task: build the repository inside a Tokio runtime",
            E::SCHEMA.message
        ))
    })
}

/// A new freshness: L1 serves nothing until the follower's first read.
pub(super) fn freshness() -> Arc<Freshness> {
    Arc::new(Freshness::new())
}

/// Starts the task that applies `E`'s changes to the L1 of `repository` and keeps `fresh` up to date. The task
/// ends when the repository (its last clone) is dropped.
pub(super) fn follow<E: Record>(
    runtime: &tokio::runtime::Handle,
    repository: std::sync::Weak<super::Inner<E>>,
    fresh: Arc<Freshness>,
    options: L1Invalidation,
) {
    let l1 = repository;
    runtime.spawn(async move {
        let mut feed: Option<ChangeFeed<E>> = None;
        loop {
            let Some(inner) = l1.upgrade() else {
                // The repository is gone.
                return;
            };
            let Some(cache) = inner.l1.as_ref() else {
                return;
            };
            let started = fresh.now_us();
            let round = match feed.as_mut() {
                Some(feed) => apply(feed, cache, &fresh).await,
                None => match inner.store.outbox_last_seq::<E>().await {
                    Ok(last) => {
                        // Starting (or restarting after a failure): whatever L1 holds may have missed changes,
                        // and so may reads in flight.
                        fresh.epoch.fetch_add(1, Ordering::AcqRel);
                        cache.clear();
                        feed = Some(ChangeFeed::new(
                            inner.store.clone(),
                            ChangeCursor::at(last),
                            options.feed,
                        ));
                        Ok(false)
                    }
                    Err(e) => Err(e),
                },
            };
            drop(inner);
            match round {
                Ok(true) => {
                    let until = started + options.bound.as_micros() as u64;
                    fresh.fresh_until_us.fetch_max(until, Ordering::AcqRel);
                    match feed.as_mut() {
                        Some(feed) => feed.wait().await,
                        None => tokio::time::sleep(options.feed.poll_interval).await,
                    }
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(entity = E::SCHEMA.message, error = %e,
                        "change feed failed: L1 is flushed and skipped until the feed is back");
                    fresh.fresh_until_us.store(0, Ordering::Release);
                    fresh.flushes.fetch_add(1, Ordering::Relaxed);
                    feed = None;
                    tokio::time::sleep(options.feed.poll_interval).await;
                }
            }
        }
    });
}

/// One read of the feed applied to `l1`; whether it reached the end of the outbox.
async fn apply<E: Record>(
    feed: &mut ChangeFeed<E>,
    l1: &MemoryTier<E>,
    fresh: &Freshness,
) -> Result<bool, Error> {
    let (events, caught_up) = feed.poll_to_end().await?;
    if !events.is_empty() {
        fresh.epoch.fetch_add(1, Ordering::AcqRel);
    }
    for event in events {
        match event.change {
            Change::Put { value, version } => {
                l1.set_if_newer(&value.key(), &value, version);
            }
            Change::Delete { key, version } => l1.set_deleted(&key, version),
        }
    }
    Ok(caught_up)
}

impl<E: Record> Repository<E> {
    /// The entity's change feed after `from` (see [`crate::outbox`]): [`Error::Config`] when the entity has no
    /// outbox or the store is the memory store. Reads poll every 10 ms; [`changes_with`](Self::changes_with)
    /// sets that.
    ///
    /// ```no_run
    /// # async fn run<User: capacitor::Record>(users: capacitor::Repository<User>) -> Result<(), capacitor::Error> {
    /// use capacitor::outbox::{Change, ChangeCursor};
    /// let mut feed = users.changes(ChangeCursor::beginning())?;
    /// loop {
    ///     let event = feed.next().await?;
    ///     match event.change {
    ///         Change::Put { value, version } => { /* upsert into a read model */ }
    ///         Change::Delete { key, version } => { /* remove from it */ }
    ///     }
    ///     // Store event.cursor.to_string() with what was applied, to resume after it.
    /// }
    /// # }
    /// ```
    pub fn changes(&self, from: ChangeCursor) -> Result<ChangeFeed<E>, Error> {
        self.changes_with(from, FeedOptions::default())
    }

    /// [`changes`](Self::changes) with its read options.
    pub fn changes_with(
        &self,
        from: ChangeCursor,
        options: FeedOptions,
    ) -> Result<ChangeFeed<E>, Error> {
        has_outbox::<E>(&self.inner.store)?;
        Ok(ChangeFeed::new(self.inner.store.clone(), from, options))
    }

    /// The cursor after every change committed so far: a feed from it sees only later changes.
    pub async fn change_cursor_now(&self) -> Result<ChangeCursor, Error> {
        has_outbox::<E>(&self.inner.store)?;
        Ok(ChangeCursor::at(
            self.inner.store.outbox_last_seq::<E>().await?,
        ))
    }

    /// How many times the L1 invalidation's feed failed and L1 was flushed (0 without it).
    pub fn l1_flushes(&self) -> u64 {
        self.inner
            .freshness
            .as_ref()
            .map_or(0, |f| f.flushes.load(Ordering::Relaxed))
    }
}

/// [`Error::Config`] unless `E` has an outbox in a SQL store.
pub(super) fn has_outbox<E: Record>(store: &crate::store::Store) -> Result<(), Error> {
    if E::SCHEMA.outbox.is_none() {
        return Err(Error::Config(format!(
            "entity `{}` has no outbox (the `outbox` entity option), so it has no change feed",
            E::SCHEMA.message
        )));
    }
    if store.is_memory() {
        return Err(Error::Config(format!(
            "entity `{}`: the memory store has no outbox (use SQLite or Postgres)",
            E::SCHEMA.message
        )));
    }
    Ok(())
}
