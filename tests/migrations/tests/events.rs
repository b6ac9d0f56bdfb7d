//! The events and snapshots tables of an event-sourced entity come from the migration emitter: created with
//! the entity, renamed with it, and applied to real SQLite and Postgres databases, where the runtime's event
//! store appends to and loads from them.

use capacitor::Error;
use capacitor::events::{Aggregate, EventSourced, EventStore, StreamSchema};
use capacitor::validate::{Cx, PathNode, Validate};
use capacitor_codegen::ddl::Dialect;
use capacitor_codegen::migrate::DiffOptions;
use capacitor_migration_tests::{diff_options, migrate_next as migrate, plan_up, schema_dir};
use capacitor_testkit::postgres::PostgresServer;
use std::ops::ControlFlow;

const SCHEMA: &str = r#"syntax = "proto3";
package shop.v1;
import "capacitor/v1/options.proto";

message Order {
  option (capacitor.v1.entity) = {
    backend: BACKEND_SQLITE
    event_sourced: { events: "OrderEvent" snapshot_every: 3 }
  };
  string id = 1 [(capacitor.v1.field).index = INDEX_PRIMARY];
  int64 total_cents = 2;
  bool paid = 3;
}

message OrderPlaced { int64 total_cents = 1; }
message OrderPaid {}

message OrderEvent {
  oneof event {
    OrderPlaced placed = 1;
    OrderPaid paid = 2;
  }
}
"#;

#[test]
fn the_entity_gets_an_events_and_a_snapshots_table_and_keeps_them_when_renamed() {
    for dialect in Dialect::ALL {
        let migrations = tempfile::tempdir().unwrap();
        let up = migrate(
            schema_dir(SCHEMA).path(),
            migrations.path(),
            dialect,
            "create",
        );
        insta::assert_snapshot!(format!("events_{}_up", dialect.name()), up);
        assert!(!up.contains("CREATE TABLE \"order\""), "no row table: {up}");

        let renamed = schema_dir(&SCHEMA.replace("message Order {", "message Purchase {"));
        // A rename plans without destructive changes.
        let up = plan_up(
            renamed.path(),
            migrations.path(),
            dialect,
            &DiffOptions {
                renamed_from: vec![("Order".to_string(), "Purchase".to_string())],
                ..diff_options("rename", dialect)
            },
        );
        for table in [
            "order_events",
            "purchase_events",
            "order_snapshots",
            "purchase_snapshots",
        ] {
            assert!(up.contains(&format!("\"{table}\"")), "{table} in {up}");
        }
        assert!(!up.contains("DROP TABLE"), "{up}");
    }
}

// The types capgen generates for the schema above, written by hand (this crate does not run prost-build).
#[derive(Clone, PartialEq, prost::Message)]
struct Order {
    #[prost(string, tag = "1")]
    id: String,
    #[prost(int64, tag = "2")]
    total_cents: i64,
    #[prost(bool, tag = "3")]
    paid: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
struct OrderEvent {
    #[prost(int64, optional, tag = "1")]
    placed_total_cents: Option<i64>,
}

impl Validate for OrderEvent {
    fn validate_into(&self, _: &mut Cx, _: Option<&PathNode<'_>>) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}

static ORDER_STREAM: StreamSchema = StreamSchema {
    entity: "Order",
    events_table: "order_events",
    snapshots_table: "order_snapshots",
    snapshot_every: 3,
};

impl EventSourced for Order {
    type Event = OrderEvent;
    const STREAM: &'static StreamSchema = &ORDER_STREAM;
    fn event_type(event: &OrderEvent) -> &'static str {
        if event.placed_total_cents.is_some() {
            "OrderPlaced"
        } else {
            "OrderPaid"
        }
    }
}

impl Aggregate for Order {
    fn apply(&mut self, event: &OrderEvent) {
        match event.placed_total_cents {
            Some(total) => self.total_cents += total,
            None => self.paid = true,
        }
    }
}

async fn exercise(store: EventStore) {
    let stream = store.stream::<Order>();
    let placed = |total| OrderEvent {
        placed_total_cents: Some(total),
    };
    assert_eq!(
        stream
            .append("o1", 0, &[placed(100), placed(50)])
            .await
            .unwrap(),
        2
    );
    assert!(matches!(
        stream.append("o1", 0, &[placed(1)]).await,
        Err(Error::Conflict { found: Some(2), .. })
    ));
    assert_eq!(
        stream
            .append("o1", 2, &[OrderEvent::default()])
            .await
            .unwrap(),
        3
    );
    let loaded = stream.load("o1").await.unwrap();
    assert_eq!((loaded.version, loaded.from_snapshot), (3, Some(3)));
    assert_eq!((loaded.state.total_cents, loaded.state.paid), (150, true));
    let all = stream.read_all(0, 10).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|e| e.event_type.as_str())
            .collect::<Vec<_>>(),
        ["OrderPlaced", "OrderPlaced", "OrderPaid"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_tables_serve_the_event_store_on_real_databases() {
    for dialect in Dialect::ALL {
        let work = tempfile::tempdir().unwrap();
        let migrations = work.path().join("migrations");
        migrate(schema_dir(SCHEMA).path(), &migrations, dialect, "create");
        match dialect {
            Dialect::Sqlite => {
                let url = format!("sqlite://{}?mode=rwc", work.path().join("app.db").display());
                let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
                capacitor::migrate::migrate_from(&pool, &migrations)
                    .await
                    .unwrap();
                exercise(EventStore::sqlite(pool)).await;
            }
            Dialect::Postgres => {
                let url = PostgresServer::shared()
                    .create_database(&format!("events_migration_{}", std::process::id()))
                    .unwrap();
                let pool = sqlx::PgPool::connect(&url).await.unwrap();
                capacitor::migrate::migrate_from(&pool, &migrations)
                    .await
                    .unwrap();
                exercise(EventStore::postgres(pool)).await;
            }
        }
    }
}
