//! # capacitor-testkit
//!
//! Real servers for Capacitor's tests, never mocks: PostgreSQL 15, Redis 7 and NATS 2.9 (JetStream) from
//! Debian's packages, and an S3-compatible server (crates.io's `s3s-fs`), each started on a free loopback port in a temp dir and stopped when its handle drops.
//! `scripts/test.sh` installs the packages when the machine lacks them.

pub mod alloc;
pub mod log_lines;
pub mod nats;
pub mod postgres;
pub mod proxy;
pub mod redis;
pub mod s3;

/// `len` pseudo-random bytes, the same for the same `seed` (xorshift64): test and benchmark payloads that differ
/// per seed and do not compress.
///
/// ```
/// let a = capacitor_testkit::pseudo_random_bytes(64, 1);
/// assert_eq!(a, capacitor_testkit::pseudo_random_bytes(64, 1));
/// assert_ne!(a, capacitor_testkit::pseudo_random_bytes(64, 2));
/// ```
pub fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
