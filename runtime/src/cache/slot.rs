//! One L1 entry: a live value or a tombstone, with its version and expiry.

use super::Lookup;
use crate::versioned::Versioned;
use std::time::Instant;

/// Per-entry bookkeeping counted against a byte budget besides the encoded value (key, version, expiry,
/// quick_cache's own slot).
const ENTRY_OVERHEAD_BYTES: u64 = 64;

#[derive(Clone)]
pub(super) enum Slot<E> {
    Live {
        value: E,
        version: u64,
        expires: Option<Instant>,
    },
    Deleted {
        version: u64,
        expires: Option<Instant>,
    },
}

impl<E> Slot<E> {
    pub(super) fn live(value: E, version: u64, expires: Option<Instant>) -> Self {
        Slot::Live {
            value,
            version,
            expires,
        }
    }

    pub(super) fn deleted(version: u64, expires: Option<Instant>) -> Self {
        Slot::Deleted { version, expires }
    }

    /// The order in which writes win: by version, and a delete beats the live value of the same version
    /// (the row it deleted).
    pub(super) fn rank(&self) -> (u64, bool) {
        match self {
            Slot::Live { version, .. } => (*version, false),
            Slot::Deleted { version, .. } => (*version, true),
        }
    }

    pub(super) fn into_lookup(self, now: Instant) -> Lookup<E> {
        let expired = |expires: Option<Instant>| expires.is_some_and(|at| at <= now);
        match self {
            Slot::Live {
                value,
                version,
                expires,
            } if !expired(expires) => Lookup::Hit(Versioned::new(value, version)),
            Slot::Deleted { version, expires } if !expired(expires) => Lookup::Deleted(version),
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
