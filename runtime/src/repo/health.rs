//! [`Repository::health`]: each tier's state for a health endpoint or a readiness probe.
//!
//! Each configured tier is probed once, concurrently, by its cheapest round trip (L1: reading its length; Redis:
//! `PING`; the store: `SELECT 1`), bounded by [`PROBE_TIMEOUT`]. With the probe comes the last failure the
//! repository saw on the tier, from an operation or a probe, as its [`Error`]'s Display: that names the
//! entity, the tier and what failed, never a key or a value (drivers' messages are dropped, see
//! [`driver_error`](crate::driver_error)), so it is safe to serve.

use super::Repository;
use crate::driver_error::DriverError;
use crate::error::{Error, Tier};
use crate::record::Record;
use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

/// How long a health probe may take before its tier is reported down.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// The health of a repository's tiers, from [`Repository::health`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Health {
    /// The entity's message name.
    pub entity: &'static str,
    /// The in-process cache, if the repository has one (eventual entities with a cache).
    pub l1: Option<TierHealth>,
    /// The Redis tier, if configured.
    pub redis: Option<TierHealth>,
    /// The store, the source of truth.
    pub store: TierHealth,
}

impl Health {
    /// The configured tiers, fastest first.
    pub fn tiers(&self) -> impl Iterator<Item = &TierHealth> {
        self.l1.iter().chain(&self.redis).chain(Some(&self.store))
    }

    /// [`Status::Down`] when the store is down (no operation can succeed), [`Status::Degraded`] when only a
    /// cache tier is (the repository absorbs Redis failures and reads the store), [`Status::Up`] otherwise.
    pub fn status(&self) -> Status {
        if !self.store.up {
            Status::Down
        } else if self.tiers().all(|t| t.up) {
            Status::Up
        } else {
            Status::Degraded
        }
    }
}

/// A repository's overall state (see [`Health::status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Every tier answered its probe.
    Up,
    /// The store answered, a cache tier did not: operations succeed, slower.
    Degraded,
    /// The store did not answer: operations fail.
    Down,
}

impl Status {
    /// `up`, `degraded` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Up => "up",
            Status::Degraded => "degraded",
            Status::Down => "down",
        }
    }
}

/// One tier's health.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TierHealth {
    /// Which tier.
    pub tier: Tier,
    /// What it runs on, as OpenTelemetry's `db.system` spells it (`redis`, `postgresql`, `sqlite`), or
    /// `memory` for L1 and the in-process store.
    pub system: &'static str,
    /// Whether the probe succeeded within [`PROBE_TIMEOUT`].
    pub up: bool,
    /// How long the probe took (up to the timeout when it timed out).
    pub latency: Duration,
    /// The last failure seen on this tier (by an operation or a probe), if any; it stays after the tier
    /// recovers, so compare its time with the probe's result.
    pub last_error: Option<LastError>,
}

/// A tier's last failure.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LastError {
    /// The error's Display: entity, tier and what failed, never a key or a value.
    pub message: String,
    /// When it happened.
    pub at: SystemTime,
}

impl LastError {
    pub(super) fn of(error: &Error) -> Self {
        LastError {
            message: error.to_string(),
            at: SystemTime::now(),
        }
    }
}

impl<E: Record> Repository<E> {
    /// Probes every configured tier (concurrently, each bounded by [`PROBE_TIMEOUT`]: L1 reads its length,
    /// Redis answers `PING`, the store `SELECT 1`) and reports whether it answered, how fast, and the last
    /// failure seen on it, as the error's Display, which never holds a key or a value. A failed probe becomes
    /// the tier's last error but is not counted in the metrics: it is no operation. See
    /// `docs/observability.md`.
    pub async fn health(&self) -> Health {
        let inner = &self.inner;
        let l1 = inner.l1.as_ref().map(|l1| {
            let started = Instant::now();
            std::hint::black_box(l1.len());
            self.tier_health(Tier::Memory, "memory", Ok(()), started.elapsed())
        });
        #[cfg(feature = "redis")]
        let redis_probe = async {
            match &inner.l2 {
                Some(l2) => Some(self.probe(Tier::Redis, "redis", l2.ping()).await),
                None => None,
            }
        };
        #[cfg(not(feature = "redis"))]
        let redis_probe = std::future::ready(None);
        let store_probe = self.probe(Tier::Store, inner.store.db_system(), inner.store.ping());
        let (redis, store) = tokio::join!(redis_probe, store_probe);
        Health {
            entity: E::SCHEMA.message,
            l1,
            redis,
            store,
        }
    }

    /// Runs one probe under [`PROBE_TIMEOUT`], keeping its failure as the tier's last error.
    async fn probe(
        &self,
        tier: Tier,
        system: &'static str,
        ping: impl Future<Output = Result<(), DriverError>>,
    ) -> TierHealth {
        let entity = E::SCHEMA.message;
        let started = Instant::now();
        let outcome = match tokio::time::timeout(PROBE_TIMEOUT, ping).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::backend(entity, tier, e)),
            Err(_) => Err(Error::Timeout {
                entity,
                tier,
                after: PROBE_TIMEOUT,
            }),
        };
        let latency = started.elapsed();
        if let Err(e) = &outcome {
            self.inner.counters.keep_last_error(tier, e);
        }
        self.tier_health(tier, system, outcome, latency)
    }

    fn tier_health(
        &self,
        tier: Tier,
        system: &'static str,
        outcome: Result<(), Error>,
        latency: Duration,
    ) -> TierHealth {
        TierHealth {
            tier,
            system,
            up: outcome.is_ok(),
            latency,
            last_error: self.inner.counters.last_error(tier),
        }
    }
}
