//! The outbox across two OS processes (this test binary runs itself as children, on a Postgres database and a
//! Redis server the parent starts):
//!
//! - `l1_reads_are_never_older_than_the_bound_across_processes`: cross-process L1 invalidation, measured. A
//!   **writer** puts 16 hot keys round-robin through a repository with Redis and logs each write's version and
//!   the wall-clock time it was acknowledged; a **reader** reads the same keys through a repository with Redis
//!   and an L1 that follows the change feed ([`L1Invalidation`], bound 50 ms) until the writer is done and it has
//!   read at least its share, and logs each read's version and start time. At least 100,000 operations in all.
//!   No read may be older than the bound: a read that started at `t` returning version `u` of a key, while a newer
//!   version of that key had been acknowledged before `t - bound`, is a violation. It prints the staleness of each
//!   write in the reader (from its ack to the start of the reader's last read that still returned an older
//!   version, 0 when none): p50, p99 and max, which `docs/changes.md` records.
//! - `every_committed_change_is_published_exactly_once_after_dedup`: two **relay-writer** processes each make
//!   5,000 writes to the same 50 keys (one in ten inside a transaction that rolls back) while each runs a relay
//!   to one Redis stream. Afterwards every committed change is in the stream exactly once after deduplication by
//!   idempotency key, none of the rolled-back ones is, and each key's changes are in commit (version) order.

use capacitor::outbox::FeedOptions;
use capacitor::outbox::redis_stream::RedisStreamSink;
use capacitor::outbox::relay::{Relay, RelayOptions};
use capacitor::redis::{RedisOptions, RedisTier};
use capacitor::repo::L1Invalidation;
use capacitor::{Repository, Store};
use capacitor_dal_tests::Order;
use capacitor_testkit::postgres::PostgresServer;
use capacitor_testkit::redis::RedisServer;
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const KEYS: usize = 16;
const WRITES: usize = 10_000;
const MIN_READS: usize = 90_000;
const BOUND: Duration = Duration::from_millis(50);
const CHILD: &str = "CAPACITOR_STALENESS_CHILD";
const DONE: &str = "staleness-writer-done";
const RELAY_WRITES: usize = 5_000;
const STREAM: &str = "orders";

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

fn key(i: usize) -> String {
    format!("hot{}", i % KEYS)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l1_reads_are_never_older_than_the_bound_across_processes() {
    let redis = RedisServer::start().unwrap();
    let url = PostgresServer::shared()
        .create_database(&format!("dal_outbox_staleness_{}", std::process::id()))
        .unwrap();
    let store = Store::open(&url).await.unwrap();
    sqlx::raw_sql(Order::CREATE_TABLE_POSTGRES)
        .execute(store.postgres_pool().unwrap())
        .await
        .unwrap();

    let spawn = |role: &str| {
        capacitor_dal_tests::spawn_child(
            "child_process",
            CHILD,
            format!("{role} {url} {}", redis.url()),
        )
    };
    let children = [spawn("reader"), spawn("writer")];
    let mut logs = Vec::new();
    for child in children {
        logs.push(capacitor_dal_tests::child_output(child));
    }

    // (key, version, acknowledged at), in write order per key.
    let mut writes: HashMap<String, Vec<(u64, u64)>> = HashMap::new();
    // (key, version, started at).
    let mut reads: Vec<(String, u64, u64)> = Vec::new();
    for line in logs.iter().flat_map(|l| l.lines()) {
        let mut parts = line.split_whitespace();
        match parts.next() {
            Some("W") => {
                let (k, v, t) = (
                    parts.next().unwrap(),
                    parts.next().unwrap(),
                    parts.next().unwrap(),
                );
                writes
                    .entry(k.to_owned())
                    .or_default()
                    .push((v.parse().unwrap(), t.parse().unwrap()));
            }
            Some("R") => {
                let (k, v, t) = (
                    parts.next().unwrap(),
                    parts.next().unwrap(),
                    parts.next().unwrap(),
                );
                reads.push((k.to_owned(), v.parse().unwrap(), t.parse().unwrap()));
            }
            _ => {}
        }
    }
    // The reader's L1 served reads (so the bound is L1's, not Redis' write-through), and its feed never failed.
    let stats = logs
        .iter()
        .flat_map(|l| l.lines())
        .find_map(|l| l.strip_prefix("STATS "))
        .expect("the reader reports its stats");
    let stat = |name: &str| -> u64 {
        stats
            .split_whitespace()
            .find_map(|f| f.strip_prefix(&format!("{name}=")))
            .unwrap()
            .parse()
            .unwrap()
    };
    println!("reader: {stats}");
    assert!(stat("l1_hits") > 10_000, "{stats}");
    assert_eq!(stat("flushes"), 0, "{stats}");
    let write_count: usize = writes.values().map(Vec::len).sum();
    assert_eq!(write_count, WRITES);
    assert!(reads.len() >= MIN_READS, "{} reads", reads.len());

    let bound_us = BOUND.as_micros() as u64;
    let mut violations = Vec::new();
    // Per write, the start of the last read of its key that returned an older version.
    let mut last_stale: HashMap<(String, u64), u64> = HashMap::new();
    for (k, version, started) in &reads {
        let Some(history) = writes.get(k) else {
            continue;
        };
        for &(v, acked) in history.iter().filter(|(v, _)| v > version) {
            if acked < *started {
                let entry = last_stale.entry((k.clone(), v)).or_insert(0);
                *entry = (*entry).max(*started);
                if acked + bound_us < *started {
                    violations.push((k.clone(), *version, v, started - acked));
                }
            }
        }
    }
    let mut staleness: Vec<u64> = writes
        .iter()
        .flat_map(|(k, history)| {
            let last_stale = &last_stale;
            history.iter().map(move |(v, acked)| {
                last_stale
                    .get(&(k.clone(), *v))
                    .map_or(0, |stale| stale - acked)
            })
        })
        .collect();
    staleness.sort_unstable();
    let pct = |p: f64| staleness[((staleness.len() - 1) as f64 * p) as usize] as f64 / 1000.0;
    println!(
        "STALENESS writes={} reads={} p50={:.2}ms p99={:.2}ms max={:.2}ms bound={}ms violations={}",
        write_count,
        reads.len(),
        pct(0.5),
        pct(0.99),
        pct(1.0),
        BOUND.as_millis(),
        violations.len()
    );
    assert!(
        violations.is_empty(),
        "{} reads older than the bound, e.g. (key, read version, newer version, µs since its ack): {:?}",
        violations.len(),
        &violations[..violations.len().min(5)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_committed_change_is_published_exactly_once_after_dedup() {
    let redis = RedisServer::start().unwrap();
    let url = PostgresServer::shared()
        .create_database(&format!("dal_outbox_relays_{}", std::process::id()))
        .unwrap();
    let store = Store::open(&url).await.unwrap();
    sqlx::raw_sql(Order::CREATE_TABLE_POSTGRES)
        .execute(store.postgres_pool().unwrap())
        .await
        .unwrap();
    let children: Vec<_> = (0..2)
        .map(|process| {
            capacitor_dal_tests::spawn_child(
                "child_process",
                CHILD,
                format!("relay-writer {url} {} {process}", redis.url()),
            )
        })
        .collect();
    let mut committed = std::collections::HashSet::new();
    for child in children {
        let stdout = capacitor_dal_tests::child_output(child);
        for line in stdout.lines() {
            let mut parts = line.split_whitespace();
            if parts.next() == Some("C") {
                let key = parts.next().unwrap().to_owned();
                let version: u64 = parts.next().unwrap().parse().unwrap();
                committed.insert((key, version));
            }
        }
    }
    assert_eq!(committed.len(), 2 * RELAY_WRITES * 9 / 10);

    // The children's relays were stopped mid-flight: a last relay publishes the rest once their claims expire.
    let relay: Relay<Order, _> = Relay::new(
        store.clone(),
        RedisStreamSink::connect(&redis.url()).await.unwrap(),
        RelayOptions {
            retention: None,
            ..RelayOptions::default()
        },
        None,
    )
    .unwrap();
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let (entries, published) = loop {
        relay.run_once().await.unwrap();
        let entries = stream_entries(&mut conn).await;
        let published: std::collections::HashSet<(String, u64)> = entries
            .iter()
            .map(|(_, key, version, _)| (key.clone(), *version))
            .collect();
        if published.len() >= committed.len() {
            break (entries, published);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {} committed changes published",
            published.len(),
            committed.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        published, committed,
        "every committed change, and nothing else"
    );
    assert!(
        entries.iter().all(|(_, _, _, total)| *total >= 0),
        "a rolled-back write was published"
    );
    // After dedup by idempotency key, each key's versions rise in stream order (commit order).
    let mut seen = std::collections::HashSet::new();
    let mut last: HashMap<String, u64> = HashMap::new();
    for (id, key, version, _) in &entries {
        if !seen.insert(id.clone()) {
            continue;
        }
        let previous = last.insert(key.clone(), *version).unwrap_or(0);
        assert!(previous < *version, "{key}: v{version} after v{previous}");
    }
    println!(
        "RELAYS committed={} entries={} duplicates={}",
        committed.len(),
        entries.len(),
        entries.len() - seen.len()
    );
}

/// Every entry of the stream `orders`: (idempotency key, order id, version, total).
async fn stream_entries(
    conn: &mut redis::aio::MultiplexedConnection,
) -> Vec<(String, String, u64, i64)> {
    let mut out = Vec::new();
    let mut from = "-".to_owned();
    loop {
        let reply: Vec<(String, HashMap<String, redis::Value>)> = redis::cmd("XRANGE")
            .arg(STREAM)
            .arg(&from)
            .arg("+")
            .arg("COUNT")
            .arg(5_000)
            .query_async(conn)
            .await
            .unwrap();
        let Some((last_id, _)) = reply.last() else {
            return out;
        };
        from = format!("({last_id}");
        for (_, fields) in reply {
            let text =
                |name: &str| -> String { redis::from_redis_value(fields[name].clone()).unwrap() };
            let payload: Vec<u8> = redis::from_redis_value(fields["payload"].clone()).unwrap();
            let order = <Order as prost::Message>::decode(&payload[..]).unwrap();
            out.push((
                text("id"),
                order.id,
                text("version").parse().unwrap(),
                order.total,
            ));
        }
    }
}

/// One child process: `reader`, `writer` or `relay-writer` (see the module docs). Does nothing outside the parent
/// tests.
#[test]
fn child_process() {
    let Ok(config) = std::env::var(CHILD) else {
        return;
    };
    let mut parts = config.split_whitespace();
    let (role, url, redis_url) = (
        parts.next().unwrap().to_owned(),
        parts.next().unwrap().to_owned(),
        parts.next().unwrap().to_owned(),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let store = Store::open(&url).await.unwrap();
        let redis = RedisTier::connect(&redis_url, RedisOptions::default())
            .await
            .unwrap();
        let client = redis::Client::open(redis_url.as_str()).unwrap();
        let mut flags = client.get_multiplexed_async_connection().await.unwrap();
        let mut out = String::new();
        use std::fmt::Write;
        match role.as_str() {
            "writer" => {
                let orders: Repository<Order> = Repository::builder(store).redis(redis).build();
                for i in 0..WRITES {
                    let k = key(i);
                    let version = orders
                        .put(Order {
                            id: k.clone(),
                            email: format!("{k}@example.com"),
                            total: i as i64,
                        })
                        .await
                        .unwrap();
                    let _ = writeln!(out, "W {k} {version} {}", now_us());
                }
                let _: () = redis::cmd("SET")
                    .arg(DONE)
                    .arg(1)
                    .query_async(&mut flags)
                    .await
                    .unwrap();
            }
            "relay-writer" => {
                let process: usize = parts.next().unwrap().parse().unwrap();
                let orders: Repository<Order> = Repository::new(store.clone());
                let relay: Relay<Order, _> = Relay::new(
                    store.clone(),
                    RedisStreamSink::connect(&redis_url).await.unwrap(),
                    RelayOptions {
                        batch: 200,
                        lease: Duration::from_secs(5),
                        idle: Duration::from_millis(5),
                        retention: None,
                        ..RelayOptions::default()
                    },
                    None,
                )
                .unwrap();
                let relay = relay.spawn();
                for i in 0..RELAY_WRITES {
                    let k = format!("k{}", i % 50);
                    let value = Order {
                        id: k.clone(),
                        email: format!("{k}@example.com"),
                        total: (process * RELAY_WRITES + i) as i64,
                    };
                    if i % 10 == 9 {
                        // Rolled back: never published.
                        let doomed = Order { total: -1, ..value };
                        let rolled_back = store
                            .transaction(async |tx| {
                                orders.put_in(tx, doomed).await?;
                                Err::<(), _>(capacitor::Error::Config("rolled back".into()))
                            })
                            .await;
                        assert!(rolled_back.is_err());
                        continue;
                    }
                    let version = orders.put(value).await.unwrap();
                    let _ = writeln!(out, "C {k} {version}");
                }
                // Let the relay run on a little, racing the other process's, then stop it mid-flight.
                tokio::time::sleep(Duration::from_millis(200)).await;
                relay.abort();
            }
            _ => {
                let orders: Repository<Order> = Repository::builder(store)
                    .redis(redis)
                    .invalidate_l1_from_changes(L1Invalidation {
                        bound: BOUND,
                        feed: FeedOptions {
                            poll_interval: Duration::from_millis(5),
                            ..FeedOptions::default()
                        },
                    })
                    .try_build()
                    .unwrap();
                let mut i = 0;
                let mut logged = 0;
                loop {
                    let k = key(i);
                    let started = now_us();
                    if let Ok(got) = orders.get(&k).await {
                        let _ = writeln!(out, "R {k} {} {started}", got.version);
                        logged += 1;
                    }
                    i += 1;
                    if i % 20 == 0 {
                        // Reads spread over the writer's run rather than racing ahead of it (about 20k/s).
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    if i % 1000 == 0 {
                        let done: Option<i64> = redis::cmd("GET")
                            .arg(DONE)
                            .query_async(&mut flags)
                            .await
                            .unwrap();
                        if done.is_some() && logged >= MIN_READS {
                            break;
                        }
                    }
                }
                let stats = orders.stats();
                let _ = writeln!(
                    out,
                    "STATS l1_hits={} flushes={}",
                    stats.l1_hits,
                    orders.l1_flushes()
                );
            }
        }
        // On a line of its own: libtest prints `test child_process ... ` without a newline first.
        print!("\n{out}");
    });
}
