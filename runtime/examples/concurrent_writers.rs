//! Concurrent writers on one SQLite store: `tasks` tasks on a two-thread runtime each put `puts` rows of their
//! own, at both durabilities; prints the throughput and the latency of a put (p50, p99, max). BENCHMARKS.md
//! quotes it (tail latency is what it is for, which criterion does not report).
//!
//! `cargo run --release -p capacitor --example concurrent_writers -- [tasks] [puts]` (defaults: 8, 1,000).

use capacitor::{Repository, Store};
use std::time::{Duration, Instant};

#[path = "../benches/support/plain_order.rs"]
mod plain_order;
use plain_order::Plain as Order;

fn main() {
    let arg = |n: usize, default: i64| {
        std::env::args()
            .nth(n)
            .map_or(default, |s| s.parse().expect("a number"))
    };
    let (tasks, puts) = (arg(1, 8), arg(2, 1_000));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for durability in ["full", "normal"] {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite:{}?synchronous={durability}",
            dir.path().join("writers.db").display()
        );
        let (elapsed, mut latencies) = rt.block_on(run(&url, tasks, puts));
        latencies.sort();
        let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
        println!(
            "synchronous={durability}: {tasks} tasks x {puts} puts in {elapsed:.2?}: {:.0} puts/s; put p50 {:.2?}, \
             p99 {:.2?}, max {:.2?}",
            latencies.len() as f64 / elapsed.as_secs_f64(),
            at(0.5),
            at(0.99),
            latencies[latencies.len() - 1],
        );
    }
}

async fn run(url: &str, tasks: i64, puts: i64) -> (Duration, Vec<Duration>) {
    let store = Store::open(url).await.unwrap();
    sqlx::raw_sql(Order::CREATE_TABLE_SQLITE)
        .execute(store.sqlite_pool().unwrap())
        .await
        .unwrap();
    let repo: Repository<Order> = Repository::new(store);
    let started = Instant::now();
    let workers: Vec<_> = (0..tasks)
        .map(|task| {
            let repo = repo.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(puts as usize);
                for i in 0..puts {
                    let put = Instant::now();
                    repo.put(Order {
                        id: task * puts + i,
                        customer: "ada".into(),
                        total: i,
                    })
                    .await
                    .unwrap();
                    latencies.push(put.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.unwrap());
    }
    (started.elapsed(), latencies)
}
