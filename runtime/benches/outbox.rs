//! The transactional outbox's cost and the relay's throughput (issue #15):
//!
//! - `outbox_put_sqlite/{plain,outbox}` and `outbox_put_postgres/{plain,outbox}`: `Repository::put` of the same
//!   strong entity (no cache tier, so the store write is all there is) without and with the `outbox` option, on
//!   the same store opened as a user opens it (SQLite's default: every commit waits for the disk) (target:
//!   outbox ≤ 1.3× plain);
//! - `outbox_put_sqlite_normal/{plain,outbox}`: the same on a SQLite store opened with `synchronous=normal`
//!   (commits do not wait for the disk, so the outbox's second page is most of what differs), and the same two by
//!   hand with rusqlite on that file (`rusqlite_plain`, `rusqlite_outbox`: what any transactional outbox costs on
//!   SQLite);
//! - `outbox_put_sqlite_normal_wide/{plain,outbox}`: the same at `normal` for an eight-field entity with a
//!   secondary index that every put changes;
//! - `outbox_relay_postgres/publish_5000_to_redis_streams`: a relay draining 5,000 outbox rows from Postgres to
//!   a Redis stream in batches of 1,000 (claim, pipelined `XADD`s, mark); rows/s = 5,000 / time (reported; the
//!   issue aims at ≥ 20,000 rows/s); `outbox_relay_sqlite/…` the same from the SQLite store (its claims commit
//!   with `synchronous=full`, one sync per batch).
//!
//! `cargo bench -p capacitor --features redis,postgres --bench outbox`. Needs Debian's postgresql and
//! redis-server (the testkit starts them).

use capacitor::outbox::redis_stream::RedisStreamSink;
use capacitor::outbox::relay::{Relay, RelayOptions};
use capacitor::{Repository, Store};
use capacitor_testkit::postgres::PostgresServer;
use capacitor_testkit::redis::RedisServer;
use criterion::{Criterion, criterion_group, criterion_main};
use std::time::{Duration, Instant};

#[path = "support/plain_order.rs"]
mod plain_order;
use plain_order::Plain;

/// The same with an outbox.
#[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
#[capacitor(table = "boxed_orders", outbox(topic = "bench_orders"), repository)]
pub struct Boxed {
    #[prost(int64, tag = "1")]
    #[capacitor(primary_key)]
    pub id: i64,
    #[prost(string, tag = "2")]
    pub customer: String,
    #[prost(int64, tag = "3")]
    pub total: i64,
}

/// A wider entity, as services store them: eight fields and a secondary index on one that every put changes;
/// `$name` on table `$table`, with `$outbox` as its further entity options.
macro_rules! ticket_entity {
    ($(#[$doc:meta])* $name:ident, $table:literal $(, $($outbox:tt)*)?) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
        #[capacitor(table = $table, $($($outbox)*,)? repository)]
        pub struct $name {
            #[prost(int64, tag = "1")]
            #[capacitor(primary_key)]
            pub id: i64,
            #[prost(string, tag = "2")]
            #[capacitor(index)]
            pub assignee: String,
            #[prost(string, tag = "3")]
            pub title: String,
            #[prost(string, tag = "4")]
            pub status: String,
            #[prost(string, tag = "5")]
            pub body: String,
            #[prost(int64, tag = "6")]
            pub priority: i64,
            #[prost(int64, tag = "7")]
            pub created_at: i64,
            #[prost(int64, tag = "8")]
            pub updated_at: i64,
        }
    };
}

ticket_entity!(
    /// The wide entity without an outbox.
    WidePlain,
    "plain_tickets"
);
ticket_entity!(
    /// The same with an outbox.
    WideBoxed,
    "boxed_tickets",
    outbox(topic = "bench_tickets")
);

const KEYS: i64 = 1_000;

/// `outbox_put_sqlite_normal_wide/{plain,outbox}`: the wider entity without and with the outbox, on `store` (the bench
/// passes the store opened with `synchronous=normal`).
fn wide_puts(c: &mut Criterion, store: &Store, rt: &tokio::runtime::Runtime) {
    let plain: Repository<WidePlain> = Repository::new(store.clone());
    let boxed: Repository<WideBoxed> = Repository::new(store.clone());
    let mut g = c.benchmark_group("outbox_put_sqlite_normal_wide");
    let mut i = 0i64;
    macro_rules! ticket {
        ($ty:ident, $i:expr) => {
            $ty {
                id: $i % KEYS,
                assignee: format!("agent-{}", $i % 37),
                title: "printer on floor 3 is out of toner".into(),
                status: "open".into(),
                body: "Reported by the front desk; the spare cartridges are in the supply room."
                    .into(),
                priority: $i % 5,
                created_at: 1_700_000_000,
                updated_at: 1_700_000_000 + $i,
            }
        };
    }
    g.bench_function("plain", |b| {
        b.iter(|| {
            i += 1;
            rt.block_on(plain.put(ticket!(WidePlain, i))).unwrap()
        })
    });
    g.bench_function("outbox", |b| {
        b.iter(|| {
            i += 1;
            rt.block_on(boxed.put(ticket!(WideBoxed, i))).unwrap()
        })
    });
    g.finish();
}

fn puts(c: &mut Criterion, group: &str, store: &Store, rt: &tokio::runtime::Runtime) {
    let plain: Repository<Plain> = Repository::new(store.clone());
    let boxed: Repository<Boxed> = Repository::new(store.clone());
    let mut g = c.benchmark_group(group);
    let mut i = 0i64;
    g.bench_function("plain", |b| {
        b.iter(|| {
            i += 1;
            rt.block_on(plain.put(Plain {
                id: i % KEYS,
                customer: "ada".into(),
                total: i,
            }))
            .unwrap()
        })
    });
    g.bench_function("outbox", |b| {
        b.iter(|| {
            i += 1;
            rt.block_on(boxed.put(Boxed {
                id: i % KEYS,
                customer: "ada".into(),
                total: i,
            }))
            .unwrap()
        })
    });
    g.finish();
}

/// What a user would write instead on SQLite, by hand with rusqlite on the same file (WAL, synchronous=NORMAL):
/// the same upsert alone (`rusqlite_plain`), and a transactional outbox (`rusqlite_outbox`: `BEGIN IMMEDIATE`,
/// the upsert, the outbox row with the same columns and index as Capacitor's, `COMMIT`). Their ratio is the cost
/// of any outbox on SQLite: a second row in a second b-tree (and its index), committed with the first.
fn by_hand(c: &mut Criterion, group: &str, path: &std::path::Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let upsert = |table: &str| {
        format!(
            "INSERT INTO \"{table}\" (\"id\", \"customer\", \"total\", \"_version\") VALUES (?1, ?2, ?3, ?4) ON \
             CONFLICT (\"id\") DO UPDATE SET \"customer\" = excluded.\"customer\", \"total\" = excluded.\"total\", \
             \"_version\" = MAX(\"{table}\".\"_version\" + 1, excluded.\"_version\") RETURNING \"_version\""
        )
    };
    let (plain, boxed) = (upsert("plain_orders"), upsert("boxed_orders"));
    let outbox = "INSERT INTO \"boxed_orders_outbox\" (\"id\", \"_version\", \"_op\", \"_payload\", \"_recorded_at\") \
                  VALUES (?1, ?2, 'upsert', ?3, ?4)";
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros() as i64
    };
    let mut g = c.benchmark_group(group);
    let mut i = 0i64;
    g.bench_function("rusqlite_plain", |b| {
        b.iter(|| {
            i += 1;
            let mut st = conn.prepare_cached(&plain).unwrap();
            st.query_row(rusqlite::params![i % KEYS, "ada", i, now()], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap()
        })
    });
    g.bench_function("rusqlite_outbox", |b| {
        b.iter(|| {
            i += 1;
            conn.prepare_cached("BEGIN IMMEDIATE")
                .unwrap()
                .execute([])
                .unwrap();
            let version: i64 = conn
                .prepare_cached(&boxed)
                .unwrap()
                .query_row(rusqlite::params![i % KEYS, "ada", i, now()], |r| r.get(0))
                .unwrap();
            let payload = prost::Message::encode_to_vec(&Boxed {
                id: i % KEYS,
                customer: "ada".into(),
                total: i,
            });
            conn.prepare_cached(outbox)
                .unwrap()
                .execute(rusqlite::params![i % KEYS, version, payload, now()])
                .unwrap();
            conn.prepare_cached("COMMIT").unwrap().execute([]).unwrap();
            version
        })
    });
    g.finish();
}

fn outbox(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();

    let dir = tempfile::tempdir().unwrap();
    // As a user opens it: every commit waits for the disk (the default).
    let url = format!("sqlite:{}", dir.path().join("bench.db").display());
    let sqlite = rt.block_on(Store::open(&url)).unwrap();
    for ddl in [Plain::CREATE_TABLE_SQLITE, Boxed::CREATE_TABLE_SQLITE] {
        rt.block_on(sqlx::raw_sql(ddl).execute(sqlite.sqlite_pool().unwrap()))
            .unwrap();
    }
    puts(c, "outbox_put_sqlite", &sqlite, &rt);

    // Commits that do not wait for the disk (`synchronous=normal`, asked for in the URL): what is left of a put is
    // CPU and page-cache writes, where the outbox's second page weighs most.
    let path = dir.path().join("normal.db");
    let url = format!("sqlite:{}?synchronous=normal", path.display());
    let normal = rt.block_on(Store::open(&url)).unwrap();
    for ddl in [
        Plain::CREATE_TABLE_SQLITE,
        Boxed::CREATE_TABLE_SQLITE,
        WidePlain::CREATE_TABLE_SQLITE,
        WideBoxed::CREATE_TABLE_SQLITE,
    ] {
        rt.block_on(sqlx::raw_sql(ddl).execute(normal.sqlite_pool().unwrap()))
            .unwrap();
    }
    puts(c, "outbox_put_sqlite_normal", &normal, &rt);
    by_hand(c, "outbox_put_sqlite_normal", &path);
    wide_puts(c, &normal, &rt);

    let server = PostgresServer::start().unwrap();
    let url = server.create_database("bench_outbox").unwrap();
    let postgres = rt.block_on(Store::open(&url)).unwrap();
    for ddl in [Plain::CREATE_TABLE_POSTGRES, Boxed::CREATE_TABLE_POSTGRES] {
        rt.block_on(sqlx::raw_sql(ddl).execute(postgres.postgres_pool().unwrap()))
            .unwrap();
    }
    puts(c, "outbox_put_postgres", &postgres, &rt);

    let redis = RedisServer::start().unwrap();
    relay(c, "outbox_relay_postgres", &postgres, &redis, &rt);
    relay(c, "outbox_relay_sqlite", &sqlite, &redis, &rt);
}

/// `<group>/publish_5000_to_redis_streams`: a relay on `store` publishing 5,000 outbox rows (written beforehand,
/// untimed) to a Redis stream in batches of 1,000.
fn relay(
    c: &mut Criterion,
    group: &str,
    store: &Store,
    redis: &RedisServer,
    rt: &tokio::runtime::Runtime,
) {
    let sink = rt.block_on(RedisStreamSink::connect(&redis.url())).unwrap();
    let relay: Relay<Boxed, _> = Relay::new(
        store.clone(),
        sink.max_len(100_000),
        RelayOptions {
            batch: 1_000,
            retention: None,
            ..RelayOptions::default()
        },
        None,
    )
    .unwrap();
    let boxed: Repository<Boxed> = Repository::new(store.clone());
    rt.block_on(async { while relay.run_once().await.unwrap() > 0 {} });
    let mut g = c.benchmark_group(group);
    g.sample_size(10);
    g.bench_function("publish_5000_to_redis_streams", |b| {
        b.iter_custom(|iterations| {
            let mut spent = Duration::ZERO;
            for _ in 0..iterations {
                rt.block_on(async {
                    let rows: Vec<Boxed> = (0..5_000)
                        .map(|i| Boxed {
                            id: i,
                            customer: "ada".into(),
                            total: i,
                        })
                        .collect();
                    for chunk in rows.chunks(1_000) {
                        boxed.put_many(chunk.to_vec()).await.unwrap();
                    }
                    let started = Instant::now();
                    let mut published = 0;
                    while published < 5_000 {
                        published += relay.run_once().await.unwrap();
                    }
                    spent += started.elapsed();
                });
            }
            spent
        })
    });
    g.finish();
}

criterion_group!(benches, outbox);
criterion_main!(benches);
