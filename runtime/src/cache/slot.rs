//! One L1 entry: a live value or a tombstone, with its version and expiry.

use super::Lookup;
use crate::versioned::Versioned;

/// Per-entry bookkeeping counted against a byte budget besides the encoded value (key, version, expiry,
/// quick_cache's own slot).
const ENTRY_OVERHEAD_BYTES: u64 = 64;

#[derive(Clone)]
pub(super) enum Slot<E> {
    Live {
        value: E,
        version: u64,
        expires_ms: Option<u64>,
    },
    Deleted {
        version: u64,
        expires_ms: Option<u64>,
    },
}

impl<E> Slot<E> {
    pub(super) fn live(value: E, version: u64, expires_ms: Option<u64>) -> Self {
        Slot::Live {
            value,
            version,
            expires_ms,
        }
    }

    pub(super) fn deleted(version: u64, expires_ms: Option<u64>) -> Self {
        Slot::Deleted {
            version,
            expires_ms,
        }
    }

    /// The order in which writes win: by version, and a delete beats the live value of the same version
    /// (the row it deleted).
    pub(super) fn rank(&self) -> (u64, bool) {
        match self {
            Slot::Live { version, .. } => (*version, false),
            Slot::Deleted { version, .. } => (*version, true),
        }
    }

    /// What a read at `now_ms` (read lazily: only entries with a TTL need the clock) sees.
    #[inline]
    pub(super) fn into_lookup(self, now_ms: impl Fn() -> u64) -> Lookup<E> {
        let expired = |expires: Option<u64>| expires.is_some_and(|at| at <= now_ms());
        match self {
            Slot::Live {
                value,
                version,
                expires_ms,
            } if !expired(expires_ms) => Lookup::Hit(Versioned::new(value, version)),
            Slot::Deleted {
                version,
                expires_ms,
            } if !expired(expires_ms) => Lookup::Deleted(version),
            _ => Lookup::Miss,
        }
    }
}

/// Weighs entries by count, or by encoded size when the cache is bounded in bytes.
#[derive(Clone)]
pub(super) struct SlotWeighter {
    pub(super) by_bytes: bool,
}

impl<K, E: prost::Message> quick_cache::Weighter<K, Slot<E>> for SlotWeighter {
    fn weight(&self, _key: &K, slot: &Slot<E>) -> u64 {
        if !self.by_bytes {
            return 1;
        }
        match slot {
            Slot::Live { value, .. } => value.encoded_len() as u64 + ENTRY_OVERHEAD_BYTES,
            Slot::Deleted { .. } => ENTRY_OVERHEAD_BYTES,
        }
    }
}
