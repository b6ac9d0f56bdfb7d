//! What a process last saw of each bucket's generation, and the snapshot of it a write takes before its store
//! commit.
//!
//! A write-through is sent after the store commit and may reach Redis late (a retried script, a descheduled
//! task). If a new generation began meanwhile, a newer version of the same key may have been written through
//! and acknowledged in the retired generation, and the late write-through, had it created an entry in the new
//! one, would serve the older version. So the `SET_IF_NEWER` script lets a write-through *create* a value only
//! when the bucket's generation record is still the one its process had seen before the commit: then no generation
//! began between the commit and the write-through, and every newer acknowledged version was written through
//! to this generation, where the version comparison keeps the newest. Otherwise it updates a value that is
//! there (one a read filled in this generation, which is newer than anything committed before the generation
//! began) and, where there is none, leaves a fence.

use std::sync::{Arc, RwLock};

/// A generation record (`<generation> <history>`, see `scripts.rs`) as a script returned it.
type Record = Arc<[u8]>;

/// The generation record of each of an entity's buckets as this process last saw it (shared by the entity's
/// clones). Records, not numbers: a promoted replica that missed the bump which made generation g starts "g"
/// again under its own history, and the record tells the two apart.
#[derive(Clone)]
pub(super) struct Seen(Arc<[RwLock<Option<Record>>]>);

impl Seen {
    pub(super) fn new(buckets: usize) -> Self {
        Seen((0..buckets).map(|_| RwLock::new(None)).collect())
    }

    /// Records the generation record a script on `bucket` returned.
    pub(super) fn record(&self, bucket: usize, record: &[u8]) {
        let mut slot = self.0[bucket].write().unwrap_or_else(|e| e.into_inner());
        if slot.as_deref() != Some(record) {
            *slot = Some(record.into());
        }
    }

    pub(super) fn is_known(&self, bucket: usize) -> bool {
        self.0[bucket]
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    pub(super) fn snapshot(&self) -> Observed {
        Observed(
            self.0
                .iter()
                .map(|slot| slot.read().unwrap_or_else(|e| e.into_inner()).clone())
                .collect(),
        )
    }
}

/// The generation records a process had seen of an entity's buckets before a store commit, which its
/// write-through carries (see [`RedisEntity::observe`](super::RedisEntity::observe)). [`Observed::nothing`] lets
/// a write-through update cached values but create none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed(Vec<Option<Record>>);

impl Observed {
    /// No generation seen: the write-through creates no value (it leaves fences where nothing was filled).
    pub fn nothing() -> Observed {
        Observed::default()
    }

    /// The script argument for `bucket`: its record, or empty when unknown.
    pub(super) fn argument(&self, bucket: usize) -> &[u8] {
        self.0.get(bucket).and_then(Option::as_deref).unwrap_or(&[])
    }
}
