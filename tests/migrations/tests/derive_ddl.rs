//! `#[derive(Entity)]` gives a hand-written entity its `CREATE TABLE` per dialect, rendered at expansion time
//! by the same templates as `capgen migrate sql`: the constants equal what capgen renders for the same
//! message written in proto, and they run on SQLite and PostgreSQL 15.

use capacitor_codegen::ddl::Dialect;
use capacitor_codegen::migrate;
use capacitor_migration_tests::load_from;
use capacitor_testkit::postgres::PostgresServer;

#[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
#[capacitor(package = "shop.v1", index(fields("group", "placed_at"), unique))]
pub struct Order {
    #[prost(string, tag = "1")]
    #[capacitor(primary_key)]
    pub id: String,
    #[prost(string, tag = "2")]
    #[capacitor(index)]
    pub user: String,
    #[prost(uint64, tag = "3")]
    pub total: u64,
    #[prost(message, optional, tag = "4")]
    pub placed_at: Option<prost_types::Timestamp>,
    #[prost(string, tag = "5")]
    pub group: String,
    #[prost(double, repeated, tag = "6")]
    pub weights: Vec<f64>,
}

const PROTO: &str = r#"syntax = "proto3";
package shop.v1;
import "capacitor/v1/options.proto";
import "google/protobuf/timestamp.proto";
message Order {
  option (capacitor.v1.entity) = { backend: BACKEND_SQLITE indexes: { fields: ["group", "placed_at"] unique: true } };
  string id = 1 [(capacitor.v1.field).index = INDEX_PRIMARY];
  string user = 2 [(capacitor.v1.field).index = INDEX_SECONDARY];
  uint64 total = 3;
  google.protobuf.Timestamp placed_at = 4;
  string group = 5;
  repeated double weights = 6;
}
"#;

#[test]
fn the_derive_renders_what_capgen_renders() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("shop/v1")).unwrap();
    std::fs::write(dir.path().join("shop/v1/shop.proto"), PROTO).unwrap();
    for (dialect, constant) in [
        (Dialect::Sqlite, Order::CREATE_TABLE_SQLITE),
        (Dialect::Postgres, Order::CREATE_TABLE_POSTGRES),
    ] {
        let schema = load_from(dir.path(), dialect);
        assert_eq!(
            constant,
            migrate::create_script(&schema, dialect),
            "{dialect}"
        );
    }
    assert!(Order::CREATE_TABLE_POSTGRES.contains("\"placed_at_nanos\" INTEGER"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_constants_run() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("derive.db").display()
    );
    let sqlite = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::raw_sql(Order::CREATE_TABLE_SQLITE)
        .execute(&sqlite)
        .await
        .unwrap();
    let url = PostgresServer::shared()
        .create_database("derive_ddl")
        .unwrap();
    let postgres = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::raw_sql(Order::CREATE_TABLE_POSTGRES)
        .execute(&postgres)
        .await
        .unwrap();
}

/// Two hand-written entities with a data subject: each constant brings the subject key table they share, as
/// `capgen migrate sql` renders it but `IF NOT EXISTS`, so they run one after the other in either order.
mod subjects {
    #[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
    #[capacitor(table = "notes", subject = "owner")]
    pub struct Note {
        #[prost(int64, tag = "1")]
        #[capacitor(primary_key)]
        pub id: i64,
        #[prost(string, tag = "2")]
        pub owner: String,
        #[prost(string, tag = "3")]
        #[capacitor(pii = "free_text", encrypt)]
        pub body: String,
    }

    #[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
    #[capacitor(table = "visits", subject = "patient")]
    pub struct Visit {
        #[prost(int64, tag = "1")]
        #[capacitor(primary_key)]
        pub id: i64,
        #[prost(string, tag = "2")]
        pub patient: String,
        #[prost(string, tag = "3")]
        #[capacitor(pii = "free_text", encrypt)]
        pub reason: String,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subject_entities_bring_the_shared_key_table() {
    use subjects::{Note, Visit};
    for constant in [Note::CREATE_TABLE_SQLITE, Visit::CREATE_TABLE_POSTGRES] {
        assert!(
            constant.contains("CREATE TABLE IF NOT EXISTS \"capacitor_subject_keys\""),
            "{constant}"
        );
        assert!(
            constant.contains(
                "CREATE UNIQUE INDEX IF NOT EXISTS \"capacitor_subject_keys_subject_token_key\""
            ),
            "{constant}"
        );
    }
    let count = "SELECT COUNT(*) FROM capacitor_subject_keys";
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("subjects.db").display()
    );
    let sqlite = sqlx::SqlitePool::connect(&url).await.unwrap();
    for ddl in [Note::CREATE_TABLE_SQLITE, Visit::CREATE_TABLE_SQLITE] {
        sqlx::raw_sql(ddl).execute(&sqlite).await.unwrap();
    }
    let keys: i64 = sqlx::query_scalar(count).fetch_one(&sqlite).await.unwrap();
    assert_eq!(keys, 0);
    let url = PostgresServer::shared()
        .create_database("derive_ddl_subjects")
        .unwrap();
    let postgres = sqlx::PgPool::connect(&url).await.unwrap();
    for ddl in [Visit::CREATE_TABLE_POSTGRES, Note::CREATE_TABLE_POSTGRES] {
        sqlx::raw_sql(ddl).execute(&postgres).await.unwrap();
    }
    let keys: i64 = sqlx::query_scalar(count)
        .fetch_one(&postgres)
        .await
        .unwrap();
    assert_eq!(keys, 0);
}
