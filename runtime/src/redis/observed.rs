//! What a process last saw of each bucket's generation, and the snapshot of it a write takes before its store
//! commit.
//!
//! A write-through is sent after the store commit and may reach Redis late (a retried script, a descheduled
//! task). If a new generation began meanwhile, a newer version of the same key may have been written through
//! and acknowledged in the retired generation, and the late write-through, had it created an entry in the new
//! one, would serve the older version. So the `SET_IF_NEWER` script lets a write-through *create* a value only
//! when the bucket's generation is still the one its process had seen before the commit: then no generation
//! began between the commit and the write-through, and every newer acknowledged version was written through
//! to this generation, where the version comparison keeps the newest. Otherwise it updates a value that is
//! there (one a read filled in this generation, which is newer than anything committed before the generation
//! began) and, where there is none, leaves a fence.

use super::CLUSTER_BUCKETS;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// No generation seen yet.
const UNKNOWN: u64 = u64::MAX;

/// The generation of each of an entity's buckets as this process last saw it (shared by the entity's clones).
#[derive(Clone)]
pub(super) struct Seen(Arc<[AtomicU64]>);

impl Seen {
    pub(super) fn new(buckets: usize) -> Self {
        Seen((0..buckets).map(|_| AtomicU64::new(UNKNOWN)).collect())
    }

    /// Records the generation a script on `bucket` returned (decimal digits; anything else forgets it).
    pub(super) fn record(&self, bucket: usize, generation: &[u8]) {
        let parsed = std::str::from_utf8(generation)
            .ok()
            .and_then(|g| g.parse().ok())
            .unwrap_or(UNKNOWN);
        self.0[bucket].store(parsed, Ordering::Release);
    }

    pub(super) fn is_known(&self, bucket: usize) -> bool {
        self.0[bucket].load(Ordering::Acquire) != UNKNOWN
    }

    pub(super) fn snapshot(&self) -> Observed {
        let mut generations = [UNKNOWN; CLUSTER_BUCKETS];
        for (g, seen) in generations.iter_mut().zip(self.0.iter()) {
            *g = seen.load(Ordering::Acquire);
        }
        Observed(generations)
    }
}

/// The generations a process had seen of an entity's buckets before a store commit, which its write-through
/// carries (see [`RedisEntity::observe`](super::RedisEntity::observe)). [`Observed::NOTHING`] lets a
/// write-through update cached values but create none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed([u64; CLUSTER_BUCKETS]);

impl Observed {
    /// No generation seen: the write-through creates no value (it leaves fences where nothing was filled).
    pub const NOTHING: Observed = Observed([UNKNOWN; CLUSTER_BUCKETS]);

    /// The script argument for `bucket`: its generation in decimal, or empty when unknown.
    pub(super) fn argument(&self, bucket: usize) -> String {
        match self.0[bucket] {
            UNKNOWN => String::new(),
            g => g.to_string(),
        }
    }
}
