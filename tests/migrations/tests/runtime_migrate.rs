//! `capacitor::migrate` applies what `capgen migrate diff` wrote, on SQLite and PostgreSQL 15, and is a no-op
//! when everything is applied.

use capacitor_codegen::migrate::{self, DiffOptions};
use capacitor_codegen::sql::Dialect;
use capacitor_migration_tests::load;
use capacitor_testkit::postgres::PostgresServer;

fn write_chain(dir: &std::path::Path, last: u32) {
    for version in 1..=last {
        for dialect in Dialect::ALL {
            let options = DiffOptions {
                name: format!("v{version}"),
                dialects: vec![dialect],
                ..DiffOptions::default()
            };
            let planned = migrate::plan(&load(version, dialect), dir, &options).expect("plan");
            migrate::write(dir, &planned, &options.name).expect("write");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacitor_migrate_applies_the_written_migrations() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("migrations");
    write_chain(&dir, 3);

    let url = format!("sqlite://{}?mode=rwc", work.path().join("app.db").display());
    let sqlite = sqlx::SqlitePool::connect(&url).await.unwrap();
    capacitor::migrate::migrate_from(&sqlite, &dir)
        .await
        .unwrap();
    capacitor::migrate::migrate_from(&sqlite, &dir)
        .await
        .unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&sqlite)
        .await
        .unwrap();
    assert_eq!(applied, 3);
    sqlx::query(r#"SELECT "full_name", "buyer" FROM "customer", "order""#)
        .fetch_all(&sqlite)
        .await
        .unwrap();

    let url = PostgresServer::shared()
        .create_database("runtime_migrate")
        .unwrap();
    let postgres = sqlx::PgPool::connect(&url).await.unwrap();
    capacitor::migrate::migrate_from(&postgres, &dir)
        .await
        .unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&postgres)
        .await
        .unwrap();
    assert_eq!(applied, 3);
    sqlx::query(r#"SELECT "full_name", "buyer" FROM "customer", "order""#)
        .fetch_all(&postgres)
        .await
        .unwrap();
}
