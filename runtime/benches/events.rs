//! The event store on the testkit's Postgres (`capacitor::events`):
//!
//! - `events/replay_10k`: `Stream::replay` of a 10,000-event stream into an aggregate (events/s = 10,000 / time).
//! - `events/append` vs `events/raw_insert`: appending one event to a stream at a known version vs a raw sqlx
//!   `INSERT` of the same columns into a table of the same shape (one statement, autocommit, same pool).
//! - `events/load_snapshot` vs `events/load_replay`: `load` of a 10,000-event stream with snapshots every 100
//!   (the latest snapshot plus no tail) vs replaying all of it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use capacitor::events::EventStore;
use criterion::{Criterion, criterion_group, criterion_main};

#[path = "support/events_account.rs"]
mod events_account;
use events_account::{Account, Deposited, Unsnapshotted, database, deposit, raw_insert};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pool = database(&rt, "bench_events");
    let store = EventStore::postgres(pool.clone());
    let stream = store.stream::<Account>();
    // A 10,000-event stream, appended in batches of 50 (snapshots every 100 are written on the way).
    rt.block_on(async {
        let mut version = 0;
        while version < 10_000 {
            let batch: Vec<Deposited> = (version..version + 50).map(deposit).collect();
            version = stream.append("big", version, &batch).await.unwrap();
        }
    });

    let mut group = c.benchmark_group("events");
    group.sample_size(20);
    group.bench_function("replay_10k", |b| {
        b.iter(|| {
            let loaded = rt.block_on(stream.replay("big")).unwrap();
            assert_eq!(loaded.version, 10_000);
        })
    });
    group.bench_function("load_snapshot", |b| {
        b.iter(|| {
            let loaded = rt.block_on(stream.load("big")).unwrap();
            assert_eq!(loaded.from_snapshot, Some(10_000));
        })
    });
    group.bench_function("load_replay", |b| {
        b.iter(|| {
            let loaded = rt.block_on(stream.replay("big")).unwrap();
            assert_eq!(loaded.version, 10_000);
        })
    });
    group.sample_size(100);
    let runs = AtomicU64::new(0);
    // One event per append on fresh streams, so no append crosses a snapshot boundary of a long stream.
    group.bench_function("append", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let run = format!("a{}", runs.fetch_add(1, Ordering::Relaxed));
                let start = Instant::now();
                for i in 0..iters {
                    stream.append(&run, i, &[deposit(i)]).await.unwrap();
                }
                start.elapsed()
            })
        })
    });
    let plain = store.stream::<Unsnapshotted>();
    group.bench_function("append_no_snapshot", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let run = format!("n{}", runs.fetch_add(1, Ordering::Relaxed));
                let start = Instant::now();
                for i in 0..iters {
                    plain.append(&run, i, &[deposit(i)]).await.unwrap();
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("raw_insert", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let run = format!("r{}", runs.fetch_add(1, Ordering::Relaxed));
                let start = Instant::now();
                for i in 0..iters {
                    raw_insert(&pool, &run, i).await;
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
