//! The event-sourced account of the event store benches (`events`, `events_interleaved`): the aggregate, its
//! event, the same aggregate with snapshots off, and the Postgres tables (what `capgen migrate diff` emits, plus
//! a copy for the raw `INSERT` baseline).

use capacitor::events::{Aggregate, EventSourced, StreamSchema};
use capacitor::validate::{Cx, PathNode, Validate};
use std::ops::ControlFlow;

#[derive(Clone, PartialEq, prost::Message)]
pub struct Account {
    #[prost(int64, tag = "1")]
    pub balance: i64,
    #[prost(uint64, tag = "2")]
    pub deposits: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Deposited {
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
pub struct Unsnapshotted {
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
pub const DDL: &[&str] = &[
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

pub fn deposit(i: u64) -> Deposited {
    Deposited {
        amount: (i % 97) as i64 + 1,
        reference: format!("ref-{i:08}"),
    }
}

/// A fresh database `name` on the testkit's Postgres with the tables of [`DDL`], and a pool of 4 on it.
pub fn database(rt: &tokio::runtime::Runtime, name: &str) -> sqlx::PgPool {
    let url = capacitor_testkit::postgres::PostgresServer::shared()
        .create_database(&format!("{name}_{}", std::process::id()))
        .unwrap();
    rt.block_on(async {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect(&url)
            .await
            .unwrap();
        for ddl in DDL {
            sqlx::query(ddl).execute(&pool).await.unwrap();
        }
        pool
    })
}

/// The baseline: event `i` of `stream` as one autocommit `INSERT` of the same columns into `raw_events`.
pub async fn raw_insert(pool: &sqlx::PgPool, stream: &str, i: u64) {
    let payload = prost::Message::encode_to_vec(&deposit(i));
    sqlx::query(
        r#"INSERT INTO "raw_events" ("stream_id", "version", "event_type", "payload", "metadata", "recorded_at")
           VALUES ($1, $2, $3, $4, $5, $6)"#,
    )
    .bind(stream)
    .bind((i + 1) as i64)
    .bind("Deposited")
    .bind(payload)
    .bind(&[] as &[u8])
    .bind(0i64)
    .execute(pool)
    .await
    .unwrap();
}
