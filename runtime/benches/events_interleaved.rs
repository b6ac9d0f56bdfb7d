//! The event append against a raw sqlx `INSERT`, measured interleaved: on this shared machine criterion's groups
//! run one after another under different load, and the raw baseline alone moved between 110 and 134 µs from one
//! run to the next. Here each variant appends `PER` events in turn, for `ROUNDS` rounds (default 40), each to a
//! stream of its own that grows across rounds, and each variant's median round is compared with the raw
//! `INSERT`'s. Variants: `raw_insert` (one autocommit `INSERT` of the same columns into a table of the same
//! shape, same pool), `append` (`Stream::append` of one event at a known version, snapshots every 100) and
//! `append_no_snapshot` (the same with snapshots off).
//!
//! `cargo bench -p capacitor --features postgres --bench events_interleaved` (needs Debian's postgresql).

use capacitor::events::EventStore;
use std::time::Instant;

#[path = "support/events_account.rs"]
mod events_account;
use events_account::{Account, Unsnapshotted, database, deposit, raw_insert};

const PER: u64 = 100;

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pool = database(&rt, "bench_events_interleaved");
    let store = EventStore::postgres(pool.clone());
    let snapshotted = store.stream::<Account>();
    let plain = store.stream::<Unsnapshotted>();
    let rounds: u64 = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(40);
    let names = ["raw_insert", "append", "append_no_snapshot"];
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for round in 0..rounds {
        for (variant, times) in samples.iter_mut().enumerate() {
            let start = Instant::now();
            rt.block_on(async {
                for i in round * PER..(round + 1) * PER {
                    match variant {
                        0 => {
                            raw_insert(&pool, "raw", i).await;
                        }
                        1 => {
                            snapshotted.append("s", i, &[deposit(i)]).await.unwrap();
                        }
                        _ => {
                            plain.append("n", i, &[deposit(i)]).await.unwrap();
                        }
                    }
                }
            });
            times.push(start.elapsed().as_secs_f64() * 1e6 / PER as f64);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    let base = median(&mut samples[0].clone());
    for (name, times) in names.iter().zip(samples.iter_mut()) {
        let m = median(times);
        println!("{name:>20}: median {m:7.2} us  ratio {:.2}", m / base);
    }
}
