//! L1 tier: picks the cache crate by measurement and checks the tier's overhead.
//!
//! - `raw/quick_cache` vs `raw/moka`: a get + clone of a small entity on each crate (the choice).
//! - `tier/hit`: `MemoryTier::get` (version, expiry check, clone) against `raw/quick_cache` (target ≤ 1.5×).
//! - `tier/set_if_newer`: the compare-and-set write against a raw `insert`.
//!
//! `cargo bench -p capacitor --bench l1_cache`; BENCHMARKS.md records the ratios.

use capacitor::cache::{Lookup, MemoryTier};
use capacitor::error::DecodeError;
use capacitor::record::{ColumnReader, ColumnWriter, Record};
use capacitor::schema::CacheSchema;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

#[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
#[capacitor(table = "bench_users", consistency = "eventual", cache(ttl = "60s"))]
struct User {
    #[prost(string, tag = "1")]
    #[capacitor(primary_key)]
    id: String,
    #[prost(string, tag = "2")]
    email: String,
    #[prost(int64, tag = "3")]
    created_at: i64,
}

impl Record for User {
    type Key = u64;
    fn key(&self) -> u64 {
        self.id.parse().unwrap_or_default()
    }
    fn write_key<W: ColumnWriter>(key: &u64, out: &mut W) {
        out.column(key);
    }
    fn read_key<R: ColumnReader>(columns: &mut R) -> Result<u64, DecodeError> {
        columns.column()
    }
    fn write_row<W: ColumnWriter>(&self, out: &mut W) {
        out.column(&self.id);
        out.column(&self.email);
        out.column(&self.created_at);
    }
    fn read_row<R: ColumnReader>(columns: &mut R) -> Result<Self, DecodeError> {
        Ok(User {
            id: columns.column()?,
            email: columns.column()?,
            created_at: columns.column()?,
        })
    }
}

const KEYS: u64 = 10_000;

fn user(i: u64) -> User {
    User {
        id: i.to_string(),
        email: format!("user{i}@example.com"),
        created_at: i as i64,
    }
}

fn gets(c: &mut Criterion) {
    let mut group = c.benchmark_group("l1_get");

    let quick: quick_cache::sync::Cache<u64, User> =
        quick_cache::sync::Cache::new(KEYS as usize * 2);
    let moka: moka::sync::Cache<u64, User> = moka::sync::Cache::builder()
        .max_capacity(KEYS * 2)
        .time_to_live(Duration::from_secs(60))
        .build();
    let tier: MemoryTier<User> = MemoryTier::new(&CacheSchema {
        ttl_ms: Some(60_000),
        max_entries: Some(KEYS * 2),
        max_bytes: None,
    });
    for i in 0..KEYS {
        quick.insert(i, user(i));
        moka.insert(i, user(i));
        tier.set_if_newer(&i, &user(i), 1);
    }

    let mut i = 0u64;
    group.bench_function("raw/quick_cache", |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            black_box(quick.get(black_box(&i)))
        })
    });
    group.bench_function("raw/moka", |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            black_box(moka.get(black_box(&i)))
        })
    });
    group.bench_function("tier/hit", |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            match tier.get(black_box(&i)) {
                Lookup::Hit(v) => black_box(v),
                _ => unreachable!("every key is cached"),
            }
        })
    });
    group.finish();

    let mut group = c.benchmark_group("l1_set");
    let value = user(1);
    let mut version = 1u64;
    group.bench_function("raw/quick_cache_insert", |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            quick.insert(i, black_box(&value).clone())
        })
    });
    group.bench_function("tier/set_if_newer", |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            version += 1;
            black_box(tier.set_if_newer(&i, black_box(&value), version))
        })
    });
    group.finish();
}

criterion_group!(benches, gets);
criterion_main!(benches);
