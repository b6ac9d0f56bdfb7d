//! Per-repository counters: kept in atomics for [`Repository::stats`](super::Repository::stats) and mirrored
//! to the `metrics` facade (`capacitor_repo_*`, labelled by entity and tier).
//!
//! Latencies of Redis and store round trips go to the `capacitor_repo_latency_seconds` histogram (labels entity
//! and tier). Metric handles are registered once, when the repository is built: install the metrics recorder first.

use super::health::LastError;
use crate::error::{Error, Tier};
use metrics::{Counter, Histogram};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A snapshot of a repository's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// L1 hits (tombstones included).
    pub l1_hits: u64,
    /// L1 misses.
    pub l1_misses: u64,
    /// Redis hits (tombstones included).
    pub redis_hits: u64,
    /// Redis misses.
    pub redis_misses: u64,
    /// Redis errors, timeouts and skips; the operation continued on the store.
    pub redis_errors: u64,
    /// Rows read from the store.
    pub store_hits: u64,
    /// Keys the store did not have.
    pub store_misses: u64,
    /// Store errors (the operation failed).
    pub store_errors: u64,
    /// Values copied into a faster tier after a read.
    pub promotions: u64,
    /// Rows written (inserted, replaced or deleted).
    pub writes: u64,
}

struct Pair {
    count: AtomicU64,
    metric: Counter,
}

impl Pair {
    fn new(name: &'static str, entity: &'static str, tier: &'static str) -> Self {
        Pair {
            count: AtomicU64::new(0),
            metric: metrics::counter!(name, "entity" => entity, "tier" => tier),
        }
    }

    #[inline]
    fn add(&self, n: u64) {
        self.count.fetch_add(n, Ordering::Relaxed);
        self.metric.increment(n);
    }

    fn get(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

pub(super) struct Counters {
    entity: &'static str,
    l1_hits: Pair,
    l1_misses: Pair,
    redis_hits: Pair,
    redis_misses: Pair,
    redis_errors: Pair,
    store_hits: Pair,
    store_misses: Pair,
    store_errors: Pair,
    promotions_l1: Pair,
    promotions_redis: Pair,
    writes: Pair,
    redis_latency: Histogram,
    store_latency: Histogram,
    /// The last failure of each tier, for [`Repository::health`](super::Repository::health): written only on
    /// the error path, so the lock costs the hot path nothing.
    last_redis_error: Mutex<Option<LastError>>,
    last_store_error: Mutex<Option<LastError>>,
}

impl Counters {
    pub(super) fn new(entity: &'static str) -> Self {
        Counters {
            entity,
            l1_hits: Pair::new("capacitor_repo_hits_total", entity, "l1"),
            l1_misses: Pair::new("capacitor_repo_misses_total", entity, "l1"),
            redis_hits: Pair::new("capacitor_repo_hits_total", entity, "redis"),
            redis_misses: Pair::new("capacitor_repo_misses_total", entity, "redis"),
            redis_errors: Pair::new("capacitor_repo_errors_total", entity, "redis"),
            store_hits: Pair::new("capacitor_repo_hits_total", entity, "store"),
            store_misses: Pair::new("capacitor_repo_misses_total", entity, "store"),
            store_errors: Pair::new("capacitor_repo_errors_total", entity, "store"),
            promotions_l1: Pair::new("capacitor_repo_promotions_total", entity, "l1"),
            promotions_redis: Pair::new("capacitor_repo_promotions_total", entity, "redis"),
            writes: Pair::new("capacitor_repo_writes_total", entity, "store"),
            redis_latency: metrics::histogram!("capacitor_repo_latency_seconds", "entity" => entity, "tier" => "redis"),
            store_latency: metrics::histogram!("capacitor_repo_latency_seconds", "entity" => entity, "tier" => "store"),
            last_redis_error: Mutex::default(),
            last_store_error: Mutex::default(),
        }
    }

    #[inline]
    pub(super) fn hit(&self, tier: Tier) {
        match tier {
            Tier::Memory => &self.l1_hits,
            Tier::Redis => &self.redis_hits,
            Tier::Store => &self.store_hits,
        }
        .add(1);
    }

    pub(super) fn miss(&self, tier: Tier) {
        match tier {
            Tier::Memory => &self.l1_misses,
            Tier::Redis => &self.redis_misses,
            Tier::Store => &self.store_misses,
        }
        .add(1);
    }

    pub(super) fn promotion(&self, tier: Tier) {
        self.promotions(tier, 1);
    }

    pub(super) fn promotions(&self, tier: Tier, n: usize) {
        match tier {
            Tier::Redis => &self.promotions_redis,
            _ => &self.promotions_l1,
        }
        .add(n as u64);
    }

    /// Records how long one round trip to `tier` took (L1 is not timed: its hit path reads no clock).
    pub(super) fn latency(&self, tier: Tier, elapsed: Duration) {
        match tier {
            Tier::Redis => self.redis_latency.record(elapsed.as_secs_f64()),
            Tier::Store => self.store_latency.record(elapsed.as_secs_f64()),
            Tier::Memory => {}
        }
    }

    pub(super) fn write(&self, n: usize) {
        self.writes.add(n as u64);
    }

    /// Counts an error, keeps it as the tier's last and logs it (the error's Display names entity and tier,
    /// never values).
    pub(super) fn error(&self, tier: Tier, error: &Error) {
        match tier {
            Tier::Store => &self.store_errors,
            _ => &self.redis_errors,
        }
        .add(1);
        self.keep_last_error(tier, error);
        tracing::warn!(entity = self.entity, tier = tier.as_str(), %error, "tier failed");
    }

    /// Keeps `error` as `tier`'s last failure without counting it (a failed health probe is no operation).
    pub(super) fn keep_last_error(&self, tier: Tier, error: &Error) {
        let slot = match tier {
            Tier::Store => &self.last_store_error,
            _ => &self.last_redis_error,
        };
        // A poisoned lock only means a panic elsewhere mid-write of an `Option`: the value is still whole.
        *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(LastError::of(error));
    }

    /// The last failure of `tier` (`None` for L1, which cannot fail).
    pub(super) fn last_error(&self, tier: Tier) -> Option<LastError> {
        let slot = match tier {
            Tier::Memory => return None,
            Tier::Store => &self.last_store_error,
            Tier::Redis => &self.last_redis_error,
        };
        slot.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(super) fn snapshot(&self) -> Stats {
        Stats {
            l1_hits: self.l1_hits.get(),
            l1_misses: self.l1_misses.get(),
            redis_hits: self.redis_hits.get(),
            redis_misses: self.redis_misses.get(),
            redis_errors: self.redis_errors.get(),
            store_hits: self.store_hits.get(),
            store_misses: self.store_misses.get(),
            store_errors: self.store_errors.get(),
            promotions: self.promotions_l1.get() + self.promotions_redis.get(),
            writes: self.writes.get(),
        }
    }
}
