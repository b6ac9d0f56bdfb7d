//! The in-process cache tier (L1), on quick_cache (chosen by measurement: `runtime/benches/l1_cache.rs`,
//! BENCHMARKS.md).
//!
//! Every entry carries its row version and every write is "set if newer", so a slow miss-fill can never
//! replace a value a writer cached meanwhile. A delete leaves a tombstone with the deleted version, so a
//! miss-fill that read the row before the delete cannot bring it back. quick_cache has no TTL: each entry
//! stores its expiry (on a coarse clock, so a hit reads no system clock) and a read treats an expired entry as
//! a miss.

mod clock;
mod slot;

use crate::record::Record;
use crate::schema::CacheSchema;
use crate::versioned::Versioned;
use quick_cache::sync::{Cache, EntryAction, EntryResult};
use slot::{Slot, SlotWeighter};
use std::time::Duration;

/// Entries kept when the schema gives neither `max_entries` nor `max_bytes`.
pub const DEFAULT_MAX_ENTRIES: u64 = 10_000;

/// The L1 tier of one entity.
pub struct MemoryTier<E: Record> {
    cache: Cache<E::Key, Slot<E>, SlotWeighter>,
    ttl: Option<Duration>,
}

/// What a lookup in L1 found.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup<E> {
    /// A live value.
    Hit(Versioned<E>),
    /// A tombstone: the row was deleted at `version` (a definite "absent" for eventual reads).
    Deleted(u64),
    /// Nothing usable (absent or expired).
    Miss,
}

impl<E: Record> MemoryTier<E> {
    /// An L1 tier sized by the entity's `cache` option: by bytes (a weigher over the encoded size) when
    /// `max_bytes` is set, else by entries.
    pub fn new(config: &CacheSchema) -> Self {
        let (estimated_items, capacity, by_bytes) = match (config.max_bytes, config.max_entries) {
            (Some(bytes), entries) => (entries.unwrap_or(bytes / 256).max(16), bytes, true),
            (None, entries) => {
                let entries = entries.unwrap_or(DEFAULT_MAX_ENTRIES);
                (entries, entries, false)
            }
        };
        if config.ttl().is_some() {
            clock::start();
        }
        MemoryTier {
            cache: Cache::with_weighter(
                estimated_items as usize,
                capacity,
                SlotWeighter { by_bytes },
            ),
            ttl: config.ttl(),
        }
    }

    /// The live, unexpired value of `key`.
    #[inline]
    pub fn get(&self, key: &E::Key) -> Lookup<E> {
        match self.cache.get(key) {
            Some(slot) => slot.into_lookup(clock::now_ms),
            None => Lookup::Miss,
        }
    }

    /// Caches `value` at `version` unless L1 already holds that version or a newer one (live or deleted).
    /// Returns whether it was stored.
    pub fn set_if_newer(&self, key: &E::Key, value: &E, version: u64) -> bool {
        let expires = self.expiry();
        self.write_if_newer(key, (version, false), || {
            Slot::live(value.clone(), version, expires)
        })
    }

    /// Records that the row of `key` at `version` was deleted, unless L1 already holds a newer version. The
    /// tombstone replaces the live value of the same version.
    pub fn set_deleted(&self, key: &E::Key, version: u64) {
        let expires = self.expiry();
        self.write_if_newer(key, (version, true), || Slot::deleted(version, expires));
    }

    /// Drops whatever L1 holds for `key` (used when the outcome of a write is unknown).
    pub fn invalidate(&self, key: &E::Key) {
        self.cache.remove(key);
    }

    /// Drops every entry.
    pub fn clear(&self) {
        self.cache.clear();
    }

    /// Number of entries (tombstones included).
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    /// Whether L1 holds no entry.
    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }

    fn expiry(&self) -> Option<u64> {
        self.ttl.map(clock::deadline_ms)
    }

    fn write_if_newer(
        &self,
        key: &E::Key,
        rank: (u64, bool),
        make: impl FnOnce() -> Slot<E>,
    ) -> bool {
        let mut make = Some(make);
        let result = self.cache.entry(key, None, |_, current: &mut Slot<E>| {
            if rank > current.rank() {
                *current = (make.take().expect("called once"))();
                EntryAction::Retain(true)
            } else {
                EntryAction::Retain(false)
            }
        });
        match result {
            EntryResult::Retained(stored) => stored,
            EntryResult::Vacant(guard) => {
                let slot = (make.take().expect("callback did not run"))();
                guard.insert(slot).is_ok()
            }
            // `entry` waits without timeout and the callback never removes: the other outcomes cannot occur;
            // treat them as "not stored", which is always safe for a cache.
            _ => false,
        }
    }
}
