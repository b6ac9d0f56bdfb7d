//! A coarse monotonic clock for L1 expiry: reading it is one relaxed atomic load, where `Instant::now` costs a
//! clock read (tens of nanoseconds, more on some virtual machines) on every L1 hit.
//!
//! A background thread, started by the first L1 tier with a TTL, advances it every [`TICK`]. Expiry is
//! therefore about one tick late (more if the machine starves that thread), negligible against TTLs of seconds.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How often the clock advances.
pub(super) const TICK: Duration = Duration::from_millis(1);

static NOW_MS: AtomicU64 = AtomicU64::new(0);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(|| {
        let epoch = Instant::now();
        let started = std::thread::Builder::new()
            .name("capacitor-l1-clock".to_owned())
            .spawn(move || {
                loop {
                    std::thread::sleep(TICK);
                    NOW_MS.store(epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
                }
            });
        if started.is_err() {
            // Without the thread the clock would stand still and nothing would expire: make every read precise.
            PRECISE.store(true, Ordering::Relaxed);
        }
        epoch
    })
}

static PRECISE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Starts the clock (idempotent).
pub(super) fn start() {
    epoch();
}

/// Milliseconds since the clock started, at most one tick behind.
#[inline]
pub(super) fn now_ms() -> u64 {
    if PRECISE.load(Ordering::Relaxed) {
        return epoch().elapsed().as_millis() as u64;
    }
    NOW_MS.load(Ordering::Relaxed)
}

/// The clock reading `ttl` from now, in milliseconds; exact at write time, so an entry never outlives its TTL
/// by more than one tick.
pub(super) fn deadline_ms(ttl: Duration) -> u64 {
    epoch().elapsed().as_millis() as u64 + ttl.as_millis() as u64
}
