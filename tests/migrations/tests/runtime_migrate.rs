//! `capacitor::migrate` applies what `capgen migrate diff` wrote, on SQLite and PostgreSQL 15, and is a no-op
//! when everything is applied.

use capacitor_codegen::ddl::Dialect;
use capacitor_codegen::migrate::{self, DiffOptions};
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

/// capgen's folder for `dialect` as an embedded-style migrator (`sqlx::migrate!` builds the same value at compile
/// time; a test reads the folder it just wrote).
async fn migrator(dir: &std::path::Path, dialect: &str) -> &'static sqlx::migrate::Migrator {
    let migrator = sqlx::migrate::Migrator::new(dir.join(dialect))
        .await
        .expect("read the migrations folder");
    Box::leak(Box::new(migrator))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_opened_with_migrations_applies_its_dialects_folder() {
    use capacitor::migrate::Migrations;
    use capacitor::{Error, Store};

    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("migrations");
    write_chain(&dir, 3);
    let migrations = Migrations::new()
        .sqlite(migrator(&dir, "sqlite").await)
        .postgres(migrator(&dir, "postgres").await);

    let sqlite_url = format!("sqlite:{}", work.path().join("app.db").display());
    for _ in 0..2 {
        // The second open finds every version applied and changes nothing.
        let store = Store::open_migrated(&sqlite_url, &migrations)
            .await
            .unwrap();
        let pool = store.sqlite_pool().unwrap();
        let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(applied, 3);
        sqlx::query(r#"SELECT "full_name", "buyer" FROM "customer", "order""#)
            .fetch_all(pool)
            .await
            .unwrap();
    }

    let postgres_url = PostgresServer::shared()
        .create_database("runtime_migrate_embedded")
        .unwrap();
    let store = Store::open_migrated(&postgres_url, &migrations)
        .await
        .unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(store.postgres_pool().unwrap())
        .await
        .unwrap();
    assert_eq!(applied, 3);

    // A dialect with no migrations given is a configuration error that names the missing call, and the memory
    // store needs none.
    let only_postgres = Migrations::new().postgres(migrator(&dir, "postgres").await);
    let other = format!("sqlite:{}", work.path().join("other.db").display());
    match Store::open_migrated(&other, &only_postgres).await {
        Err(Error::Config(message)) => assert!(message.contains("Migrations::sqlite"), "{message}"),
        other => panic!("expected Error::Config, got {:?}", other.map(|_| "a store")),
    }
    Store::open_migrated("memory:", &Migrations::new())
        .await
        .expect("memory: has no schema to migrate");

    // A migration edited after it was applied is refused, with sqlx's reason in the error's text.
    let up = std::fs::read_dir(dir.join("sqlite"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.to_string_lossy().ends_with(".up.sql"))
        .expect("an up migration");
    let text = std::fs::read_to_string(&up).unwrap();
    std::fs::write(&up, format!("{text}\n-- edited after it was applied\n")).unwrap();
    let edited = Migrations::new().sqlite(migrator(&dir, "sqlite").await);
    match Store::open_migrated(&sqlite_url, &edited).await {
        Err(error @ Error::Backend { .. }) => {
            let text = error.to_string();
            assert!(
                text.contains("migrations") && text.contains("modified"),
                "{text}"
            );
        }
        other => panic!(
            "expected Error::Backend, got {:?}",
            other.map(|_| "a store")
        ),
    }
}
