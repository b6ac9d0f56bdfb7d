//! The event store on the testkit's Postgres (`capacitor::events`):
//!
//! - `events/replay_10k`: `Stream::replay` of a 10,000-event stream into an aggregate (events/s = 10,000 / time).
//! - `events/append` vs `events/raw_insert`: appending one event to a stream at a known version vs a raw sqlx
//!   `INSERT` of the same columns into a table of the same shape (one statement, autocommit, same pool).
//! - `events/load_snapshot` vs `events/load_replay`: `load` of a 10,000-event stream with snapshots every 100
//!   (the latest snapshot plus no tail) vs replaying all of it.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use capacitor::events::{Aggregate, EventSourced, EventStore, StreamSchema};
use capacitor::validate::{Cx, PathNode, Validate};
use capacitor_testkit::postgres::PostgresServer;
use criterion::{Criterion, criterion_group, criterion_main};

#[derive(Clone, PartialEq, prost::Message)]
struct Account {
    #[prost(int64, tag = "1")]
    balance: i64,
    #[prost(uint64, tag = "2")]
    deposits: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Deposited {
    #[prost(int64, tag = "1")]
    amount: i64,
    #[prost(string, tag = "2")]
    reference: String,
}

impl Validate for Deposited {
    fn validate_into(&self, _: &mut Cx, _: Option<&PathNode<'_>>) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}

static SCHEMA: StreamSchema = StreamSchema {
    entity: "Account",
    events_table: "account_events",
    snapshots_table: "account_snapshots",
    snapshot_every: 100,
};

impl EventSourced for Account {
    type Event = Deposited;
    const STREAM: &'static StreamSchema = &SCHEMA;
    fn event_type(_: &Deposited) -> &'static str {
        "Deposited"
    }
}

impl Aggregate for Account {
    fn apply(&mut self, event: &Deposited) {
        self.balance += event.amount;
        self.deposits += 1;
    }
}

/// The same aggregate with snapshots off, on the same tables: `events/append_no_snapshot` separates the
/// snapshot appends' share of the append cost.
#[derive(Clone, PartialEq, prost::Message)]
struct Unsnapshotted {
    #[prost(int64, tag = "1")]
    balance: i64,
}

static NO_SNAPSHOTS: StreamSchema = StreamSchema {
    snapshot_every: 0,
    ..SCHEMA
};

impl EventSourced for Unsnapshotted {
    type Event = Deposited;
    const STREAM: &'static StreamSchema = &NO_SNAPSHOTS;
    fn event_type(_: &Deposited) -> &'static str {
        "Deposited"
    }
}

impl Aggregate for Unsnapshotted {
    fn apply(&mut self, event: &Deposited) {
        self.balance += event.amount;
    }
}

// The tables `capgen migrate diff` emits for this entity on Postgres, plus the raw baseline's copy.
const DDL: &[&str] = &[
    r#"CREATE TABLE "account_events" ("stream_id" TEXT NOT NULL, "version" BIGINT NOT NULL,
       "position" BIGINT GENERATED ALWAYS AS IDENTITY NOT NULL, "event_type" TEXT NOT NULL, "payload" BYTEA NOT NULL,
       "metadata" BYTEA NOT NULL, "recorded_at" BIGINT NOT NULL,
       CONSTRAINT "account_events_pkey" PRIMARY KEY ("stream_id", "version"))"#,
    r#"CREATE UNIQUE INDEX "account_events_position_key" ON "account_events" ("position")"#,
    r#"CREATE TABLE "account_snapshots" ("stream_id" TEXT NOT NULL, "version" BIGINT NOT NULL,
       "state" BYTEA NOT NULL, "recorded_at" BIGINT NOT NULL,
       CONSTRAINT "account_snapshots_pkey" PRIMARY KEY ("stream_id", "version"))"#,
    r#"CREATE TABLE "raw_events" ("stream_id" TEXT NOT NULL, "version" BIGINT NOT NULL,
       "position" BIGINT GENERATED ALWAYS AS IDENTITY NOT NULL, "event_type" TEXT NOT NULL, "payload" BYTEA NOT NULL,
       "metadata" BYTEA NOT NULL, "recorded_at" BIGINT NOT NULL,
       CONSTRAINT "raw_events_pkey" PRIMARY KEY ("stream_id", "version"))"#,
    r#"CREATE UNIQUE INDEX "raw_events_position_key" ON "raw_events" ("position")"#,
];

fn deposit(i: u64) -> Deposited {
    Deposited {
        amount: (i % 97) as i64 + 1,
        reference: format!("ref-{i:08}"),
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = PostgresServer::shared()
        .create_database(&format!("bench_events_{}", std::process::id()))
        .unwrap();
    let pool = rt.block_on(async {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect(&url)
            .await
            .unwrap();
        for ddl in DDL {
            sqlx::query(ddl).execute(&pool).await.unwrap();
        }
        pool
    });
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
    let sql = r#"INSERT INTO "raw_events" ("stream_id", "version", "event_type", "payload", "metadata", "recorded_at")
                 VALUES ($1, $2, $3, $4, $5, $6)"#;
    group.bench_function("raw_insert", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let run = format!("r{}", runs.fetch_add(1, Ordering::Relaxed));
                let start = Instant::now();
                for i in 0..iters {
                    let payload = prost::Message::encode_to_vec(&deposit(i));
                    sqlx::query(sql)
                        .bind(&run)
                        .bind((i + 1) as i64)
                        .bind("Deposited")
                        .bind(payload)
                        .bind(&[] as &[u8])
                        .bind(0i64)
                        .execute(&pool)
                        .await
                        .unwrap();
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
