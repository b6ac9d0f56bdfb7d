//! The event store (`capacitor::events`) on real Postgres and SQLite: optimistic concurrency, snapshots,
//! global order, validation, and two OS processes appending to the same streams.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use capacitor::Error;
use capacitor::events::{Aggregate, EventSourced, EventStore, Stream, StreamSchema};
use capacitor::validate::{Cx, PathNode, Validate};
use capacitor_testkit::postgres::PostgresServer;
use proptest::prelude::*;

/// The aggregate: a counter whose state depends on the order of its events.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Counter {
    #[prost(int64, tag = "1")]
    pub total: i64,
    #[prost(int64, repeated, tag = "2")]
    pub history: Vec<i64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Added {
    #[prost(int64, tag = "1")]
    pub amount: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Reset {}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CounterEvent {
    #[prost(oneof = "counter_event::Kind", tags = "1, 2")]
    pub kind: Option<counter_event::Kind>,
}

pub mod counter_event {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Kind {
        #[prost(message, tag = "1")]
        Added(super::Added),
        #[prost(message, tag = "2")]
        Reset(super::Reset),
    }
}

// What a generated validator does for `(buf.validate.field).int64.gt = 0` on `Added.amount`.
impl Validate for CounterEvent {
    fn validate_into(&self, cx: &mut Cx, parent: Option<&PathNode<'_>>) -> ControlFlow<()> {
        if let Some(counter_event::Kind::Added(a)) = &self.kind
            && a.amount <= 0
        {
            return cx.violation(parent, &[], "int64.gt", "value must be greater than 0");
        }
        ControlFlow::Continue(())
    }
}

static COUNTER_STREAM: StreamSchema = StreamSchema {
    entity: "Counter",
    events_table: "counter_events",
    snapshots_table: "counter_snapshots",
    snapshot_every: 5,
};

// What capgen emits for `event_sourced = { events: "CounterEvent" snapshot_every: 5 }`.
impl EventSourced for Counter {
    type Event = CounterEvent;
    const STREAM: &'static StreamSchema = &COUNTER_STREAM;
    fn event_type(event: &CounterEvent) -> &'static str {
        match &event.kind {
            Some(counter_event::Kind::Added(_)) => "Added",
            Some(counter_event::Kind::Reset(_)) => "Reset",
            None => "",
        }
    }
}

impl Aggregate for Counter {
    fn apply(&mut self, event: &CounterEvent) {
        match &event.kind {
            Some(counter_event::Kind::Added(a)) => {
                self.total += a.amount;
                self.history.push(a.amount);
            }
            Some(counter_event::Kind::Reset(_)) => {
                self.total = 0;
                self.history.push(0);
            }
            None => {}
        }
    }
}

fn added(amount: i64) -> CounterEvent {
    CounterEvent {
        kind: Some(counter_event::Kind::Added(Added { amount })),
    }
}

fn reset() -> CounterEvent {
    CounterEvent {
        kind: Some(counter_event::Kind::Reset(Reset {})),
    }
}

// The tables as capgen's migration emitter writes them (see codegen's event-sourcing snapshots).
const POSTGRES_DDL: &[&str] = &[
    r#"CREATE TABLE counter_events (
        stream_id TEXT NOT NULL,
        version BIGINT NOT NULL,
        position BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
        event_type TEXT NOT NULL,
        payload BYTEA NOT NULL,
        metadata BYTEA NOT NULL,
        recorded_at BIGINT NOT NULL,
        PRIMARY KEY (stream_id, version))"#,
    r#"CREATE TABLE counter_snapshots (
        stream_id TEXT NOT NULL,
        version BIGINT NOT NULL,
        state BYTEA NOT NULL,
        recorded_at BIGINT NOT NULL,
        PRIMARY KEY (stream_id, version))"#,
];

const SQLITE_DDL: &[&str] = &[
    r#"CREATE TABLE counter_events (
        stream_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        position INTEGER NOT NULL UNIQUE,
        event_type TEXT NOT NULL,
        payload BLOB NOT NULL,
        metadata BLOB NOT NULL,
        recorded_at INTEGER NOT NULL,
        PRIMARY KEY (stream_id, version)) WITHOUT ROWID"#,
    r#"CREATE TABLE counter_snapshots (
        stream_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        state BLOB NOT NULL,
        recorded_at INTEGER NOT NULL,
        PRIMARY KEY (stream_id, version)) WITHOUT ROWID"#,
];

async fn postgres_store(name: &str) -> (EventStore, String) {
    let url = PostgresServer::shared()
        .create_database(&format!("{name}_{}", std::process::id()))
        .unwrap();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    for ddl in POSTGRES_DDL {
        sqlx::query(ddl).execute(&pool).await.unwrap();
    }
    (EventStore::postgres(pool), url)
}

async fn sqlite_store(dir: &tempfile::TempDir) -> (EventStore, String) {
    let url = format!("sqlite:{}", dir.path().join("events.db").display());
    let store = EventStore::connect(&url).await.unwrap();
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    for ddl in SQLITE_DDL {
        sqlx::query(ddl).execute(&pool).await.unwrap();
    }
    (store, url)
}

async fn contract(store: EventStore) {
    let stream: Stream<Counter> = store.stream();
    assert_eq!(stream.load("a").await.unwrap().version, 0);
    assert_eq!(
        stream.append("a", 0, &[added(2), added(3)]).await.unwrap(),
        2
    );
    // A stale and a future expected version both conflict and write nothing.
    for expected in [0, 1, 3] {
        match stream.append("a", expected, &[added(1)]).await {
            Err(Error::Conflict { found, .. }) => assert_eq!(found, Some(2)),
            other => panic!("expected a conflict, got {other:?}"),
        }
    }
    // An invalid event is refused before the store is touched.
    assert!(matches!(
        stream.append("a", 2, &[added(1), added(-1)]).await,
        Err(Error::Validation(_))
    ));
    assert_eq!(stream.append("b", 0, &[added(7)]).await.unwrap(), 1);
    // Crosses 5: a snapshot at version 6 is written with the events.
    assert_eq!(
        stream
            .append_with_metadata("a", 2, &[reset(), added(4), added(5), added(6)], b"cmd-1")
            .await
            .unwrap(),
        6
    );
    let loaded = stream.load("a").await.unwrap();
    assert_eq!(loaded.version, 6);
    assert_eq!(loaded.from_snapshot, Some(6));
    assert_eq!(loaded.state.total, 15);
    assert_eq!(loaded.state.history, vec![2, 3, 0, 4, 5, 6]);
    assert_eq!(stream.replay("a").await.unwrap().state, loaded.state);
    stream.append("a", 6, &[added(1)]).await.unwrap();
    let loaded = stream.load("a").await.unwrap();
    assert_eq!(
        (loaded.version, loaded.from_snapshot, loaded.state.total),
        (7, Some(6), 16)
    );

    let all = stream.read_all(0, 100).await.unwrap();
    let order: Vec<(&str, u64)> = all
        .iter()
        .map(|e| (e.stream_id.as_str(), e.version))
        .collect();
    assert_eq!(
        order,
        vec![
            ("a", 1),
            ("a", 2),
            ("b", 1),
            ("a", 3),
            ("a", 4),
            ("a", 5),
            ("a", 6),
            ("a", 7)
        ]
    );
    assert!(all.windows(2).all(|w| w[0].position < w[1].position));
    assert_eq!(all[3].event_type, "Reset");
    assert_eq!(all[3].metadata, b"cmd-1");
    assert_eq!(all[2].event, added(7));
    let tail = stream.read_all(all[5].position, 2).await.unwrap();
    assert_eq!(
        tail.iter().map(|e| e.version).collect::<Vec<_>>(),
        vec![6, 7]
    );
    let a_tail = stream.read_stream("a", 5).await.unwrap();
    assert_eq!(
        a_tail.iter().map(|e| e.version).collect::<Vec<_>>(),
        vec![6, 7]
    );
}

#[tokio::test]
async fn postgres_contract() {
    contract(postgres_store("events_contract").await.0).await;
}

#[tokio::test]
async fn sqlite_contract() {
    let dir = tempfile::tempdir().unwrap();
    contract(sqlite_store(&dir).await.0).await;
}

fn event_strategy() -> impl Strategy<Value = CounterEvent> {
    prop_oneof![(1i64..1000).prop_map(added), Just(reset())]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Whatever the batches, loading from the latest snapshot plus the tail equals a full replay and the
    /// fold of the events in memory.
    #[test]
    fn snapshot_plus_tail_equals_replay(
        batches in prop::collection::vec(prop::collection::vec(event_strategy(), 1..7), 1..8),
        on_postgres in any::<bool>(),
    ) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            // Postgres: one database for every case, a fresh stream per case.
            static CASE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let id = format!("s{}", CASE.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
            let store = if on_postgres {
                static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
                let url = URL.get_or_init(|| {
                    PostgresServer::shared()
                        .create_database(&format!("events_prop_{}", std::process::id()))
                        .unwrap()
                });
                let pool = sqlx::PgPool::connect(url).await.unwrap();
                for ddl in POSTGRES_DDL {
                    sqlx::query(&ddl.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"))
                        .execute(&pool)
                        .await
                        .unwrap();
                }
                EventStore::postgres(pool)
            } else {
                sqlite_store(&dir).await.0
            };
            let id = id.as_str();
            let stream: Stream<Counter> = store.stream();
            let mut expected = Counter::default();
            let mut version = 0;
            for batch in &batches {
                version = stream.append(id, version, batch).await.unwrap();
                for e in batch {
                    expected.apply(e);
                }
            }
            let loaded = stream.load(id).await.unwrap();
            let replayed = stream.replay(id).await.unwrap();
            prop_assert_eq!(loaded.version, version);
            prop_assert_eq!(&loaded.state, &expected);
            prop_assert_eq!(&replayed.state, &expected);
            prop_assert_eq!(loaded.from_snapshot.is_some(), version >= 5);
            Ok(())
        })?;
    }
}

const CHILD: &str = "CAPACITOR_EVENTS_CHILD";
const STREAMS: usize = 4;
const APPENDS: usize = 60;

/// Two OS processes append to the same streams, each re-loading after a conflict: every stream ends with
/// versions 1..=n, no duplicate, every acknowledged event present once, every refused append reported.
async fn two_processes(url: &str, store: EventStore) {
    let spawned: Vec<_> = (0..2)
        .map(|process| {
            capacitor_dal_tests::spawn_child("child_appender", CHILD, format!("{process} {url}"))
        })
        .collect();
    let mut acked = BTreeSet::new();
    let mut conflicts = 0;
    for child in spawned {
        let stdout = capacitor_dal_tests::child_output(child);
        for line in stdout.lines() {
            if let Some(amount) = line.strip_prefix("ACK ") {
                assert!(
                    acked.insert(amount.parse::<i64>().unwrap()),
                    "acknowledged twice: {amount}"
                );
            } else if let Some(n) = line.strip_prefix("CONFLICTS ") {
                conflicts += n.parse::<usize>().unwrap();
            }
        }
    }
    assert_eq!(
        acked.len(),
        2 * APPENDS,
        "every append is acknowledged after its retries"
    );
    let stream: Stream<Counter> = store.stream();
    let all = stream.read_all(0, 100_000).await.unwrap();
    let mut per_stream: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut stored = BTreeSet::new();
    for e in &all {
        per_stream
            .entry(e.stream_id.clone())
            .or_default()
            .push(e.version);
        if let Some(counter_event::Kind::Added(a)) = &e.event.kind {
            assert!(stored.insert(a.amount), "event stored twice: {}", a.amount);
        }
    }
    assert_eq!(
        stored, acked,
        "no acknowledged event lost, none stored unacknowledged"
    );
    for (id, mut versions) in per_stream {
        let n = versions.len() as u64;
        versions.sort();
        assert_eq!(
            versions,
            (1..=n).collect::<Vec<_>>(),
            "stream {id} has gaps or duplicates"
        );
        let (loaded, replayed) = (
            stream.load(&id).await.unwrap(),
            stream.replay(&id).await.unwrap(),
        );
        assert_eq!((loaded.version, &loaded.state), (n, &replayed.state));
    }
    assert!(all.windows(2).all(|w| w[0].position < w[1].position));
    println!(
        "two processes: {} events, {conflicts} conflicts reported",
        all.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_postgres() {
    let (store, url) = postgres_store("events_procs").await;
    two_processes(&url, store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let (store, url) = sqlite_store(&dir).await;
    two_processes(&url, store).await;
}

/// One child process: does nothing unless started by `two_processes`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_appender() {
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    let (process, url) = spec.split_once(' ').unwrap();
    let process: i64 = process.parse().unwrap();
    let store = EventStore::connect(url).await.unwrap();
    let stream: Stream<Counter> = store.stream();
    let mut conflicts = 0;
    // libtest wrote `test child_appender ... ` with no newline: start the report on a line of its own.
    println!();
    for i in 0..APPENDS {
        let id = format!("s{}", i % STREAMS);
        // Unique across both processes, so the parent can find each acknowledged event exactly once.
        let amount = process * 1_000_000 + i as i64 + 1;
        loop {
            let version = stream.load(&id).await.unwrap().version;
            match stream.append(&id, version, &[added(amount)]).await {
                Ok(_) => break,
                Err(Error::Conflict { .. }) => conflicts += 1,
                Err(e) => panic!("append failed: {e}"),
            }
        }
        println!("ACK {amount}");
    }
    println!("CONFLICTS {conflicts}");
}

/// The derive front end: `event_sourced(...)` gives the same impl and tables as the proto option.
#[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
#[capacitor(
    package = "dal.v1",
    event_sourced(events = "CounterEvent", snapshot_every = 2)
)]
pub struct Tally {
    #[prost(string, tag = "1")]
    #[capacitor(primary_key)]
    pub id: String,
    #[prost(int64, tag = "2")]
    pub total: i64,
}

impl capacitor::events::EventKind for CounterEvent {
    fn event_type(&self) -> &'static str {
        Counter::event_type(self)
    }
}

impl Aggregate for Tally {
    fn apply(&mut self, event: &CounterEvent) {
        match &event.kind {
            Some(counter_event::Kind::Added(a)) => self.total += a.amount,
            Some(counter_event::Kind::Reset(_)) => self.total = 0,
            None => {}
        }
    }
}

#[tokio::test]
async fn derived_entity_on_sqlite() {
    assert_eq!(Tally::STREAM.events_table, "tally_events");
    assert_eq!(Tally::STREAM.snapshot_every, 2);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("tally.db").display());
    // The store's `synchronous` parameter is accepted here too (the same URL serves both), and checked.
    let store = EventStore::connect(&format!("{url}?synchronous=normal"))
        .await
        .unwrap();
    let Err(refused) = EventStore::connect(&format!("{url}?synchronous=off")).await else {
        panic!("`synchronous=off` must be refused");
    };
    assert!(refused.to_string().contains("synchronous=off"), "{refused}");
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    // The derive's DDL constant holds the events and snapshots tables, as `capgen migrate sql` renders them.
    assert!(Tally::CREATE_TABLE_SQLITE.contains("\"tally_snapshots\""));
    sqlx::raw_sql(Tally::CREATE_TABLE_SQLITE)
        .execute(&pool)
        .await
        .unwrap();
    let tallies: TallyStream = store.stream();
    tallies
        .append("t", 0, &[added(4), added(5), reset(), added(1)])
        .await
        .unwrap();
    let loaded = tallies.load("t").await.unwrap();
    assert_eq!(
        (loaded.version, loaded.from_snapshot, loaded.state.total),
        (4, Some(4), 1)
    );
    assert_eq!(
        tallies.read_all(0, 10).await.unwrap()[2].event_type,
        "Reset"
    );
}
