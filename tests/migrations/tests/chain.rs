//! The eight-version chain, walked on SQLite files and on PostgreSQL 15: every change kind the differ knows
//! (new/dropped table, table renamed by option and by message, new/dropped/renamed column, widening type
//! change, a narrowing one SQLite applies by rebuilding the table, nullability change, new/dropped/composite index, changed primary key), each step
//!
//! 1. planned by `capacitor_codegen::migrate` and written like `capgen migrate diff` writes it (snapshotted);
//! 2. applied with sqlx's `Migrator`, after which the catalog equals a fresh CREATE of that version and the
//!    rows inserted earlier are still there (renamed columns keep their data);
//! 3. reverted with the down migration, after which the catalog equals the previous version's; then
//!    re-applied.

use capacitor_codegen::ddl::Dialect;
use capacitor_codegen::migrate::{self, DiffOptions};
use capacitor_migration_tests::{VERSIONS, load, postgres_catalog, sqlite_catalog};
use capacitor_testkit::postgres::PostgresServer;
use sqlx::migrate::Migrator;
use std::collections::BTreeSet;
use std::path::Path;

/// What `capgen migrate diff` is told at each version.
fn step(version: u32) -> DiffOptions {
    let (name, renamed_from, allow_destructive) = match version {
        1 => ("create_customer_and_order", vec![], false),
        2 => ("add_audit_phone_and_name_index", vec![], false),
        3 => ("rename_name_and_user", vec![], false),
        4 => ("widen_age_and_score_add_audit_note", vec![], false),
        5 => ("phone_not_null", vec![], false),
        6 => ("rename_customer_table_and_reindex", vec![], false),
        7 => ("audit_composite_primary_key", vec![], false),
        8 => (
            "drop_score_and_audit_rename_order",
            vec![("shop.v1.Order".to_string(), "shop.v1.Purchase".to_string())],
            true,
        ),
        _ => unreachable!(),
    };
    DiffOptions {
        name: name.to_string(),
        dialects: Vec::new(),
        renamed_from,
        allow_destructive,
    }
}

/// A database of either dialect.
enum Db {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Db {
    async fn open(dialect: Dialect, name: &str, dir: &Path) -> Db {
        match dialect {
            Dialect::Sqlite => {
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.join(format!("{name}.db")).display()
                );
                Db::Sqlite(sqlx::SqlitePool::connect(&url).await.expect("open sqlite"))
            }
            Dialect::Postgres => {
                let url = PostgresServer::shared()
                    .create_database(name)
                    .expect("create database");
                Db::Postgres(sqlx::PgPool::connect(&url).await.expect("connect postgres"))
            }
        }
    }

    async fn catalog(&self) -> BTreeSet<String> {
        match self {
            Db::Sqlite(pool) => sqlite_catalog(pool).await,
            Db::Postgres(pool) => postgres_catalog(pool).await,
        }
    }

    async fn execute(&self, sql: &str) {
        let result = match self {
            Db::Sqlite(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop),
            Db::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop),
        };
        result.unwrap_or_else(|e| panic!("{e}\n{sql}"));
    }

    async fn text(&self, sql: &str) -> String {
        let result = match self {
            Db::Sqlite(pool) => sqlx::query_scalar::<_, String>(sql).fetch_one(pool).await,
            Db::Postgres(pool) => sqlx::query_scalar::<_, String>(sql).fetch_one(pool).await,
        };
        result.unwrap_or_else(|e| panic!("{e}\n{sql}"))
    }

    async fn up(&self, dir: &Path) {
        let migrator = Migrator::new(dir.to_path_buf())
            .await
            .expect("read migrations");
        let result = match self {
            Db::Sqlite(pool) => migrator.run(pool).await,
            Db::Postgres(pool) => migrator.run(pool).await,
        };
        result.unwrap_or_else(|e| panic!("up migration failed: {e}"));
    }

    async fn down_to(&self, dir: &Path, target: i64) {
        let migrator = Migrator::new(dir.to_path_buf())
            .await
            .expect("read migrations");
        let result = match self {
            Db::Sqlite(pool) => migrator.undo(pool, target).await,
            Db::Postgres(pool) => migrator.undo(pool, target).await,
        };
        result.unwrap_or_else(|e| panic!("down migration failed: {e}"));
    }
}

/// Rows inserted at a version (with that version's names).
fn inserts(version: u32, dialect: Dialect) -> Vec<String> {
    let max_u64 = match dialect {
        Dialect::Postgres => "18446744073709551615",
        // SQLite stores a uint64 as its two's-complement bits (see `capacitor::codec`).
        Dialect::Sqlite => "-1",
    };
    match version {
        1 => vec![
            r#"INSERT INTO "customer" ("id", "email", "name", "age", "group", "_version") VALUES ('c1', 'ada@example.com', 'Ada', 36, 'g1', 1)"#.to_string(),
            format!(r#"INSERT INTO "order" ("id", "user", "total", "_version") VALUES ('o1', 'c1', {max_u64}, 1)"#),
        ],
        2 => vec![r#"INSERT INTO "audit" ("id", "action", "seq", "_version") VALUES ('a1', 'created', 1, 1)"#.to_string()],
        _ => vec![],
    }
}

/// `(query, expected)` pairs that hold at `version` for the rows inserted up to version `inserted`, written
/// with that version's names.
fn checks(version: u32, inserted: u32, dialect: Dialect) -> Vec<(String, String)> {
    let customer = if version >= 6 {
        "customers"
    } else {
        "customer"
    };
    let name = if version >= 3 { "full_name" } else { "name" };
    let order = if version >= 8 { "purchase" } else { "order" };
    let user = if version >= 3 { "buyer" } else { "user" };
    let total = match dialect {
        Dialect::Postgres => "18446744073709551615",
        Dialect::Sqlite => "-1",
    };
    let mut out = vec![
        (
            format!(r#"SELECT CAST("{name}" AS TEXT) FROM "{customer}" WHERE "id" = 'c1'"#),
            "Ada".to_string(),
        ),
        (
            format!(r#"SELECT CAST("age" AS TEXT) FROM "{customer}" WHERE "id" = 'c1'"#),
            "36".to_string(),
        ),
        (
            format!(r#"SELECT CAST("{user}" AS TEXT) FROM "{order}" WHERE "id" = 'o1'"#),
            "c1".to_string(),
        ),
        (
            format!(r#"SELECT CAST("total" AS TEXT) FROM "{order}" WHERE "id" = 'o1'"#),
            total.to_string(),
        ),
    ];
    if version >= 2 {
        // Inserted while nullable (NULL); NOT NULL DEFAULT '' from version 5, which filled the NULL.
        let phone = if version >= 5 { "" } else { "<null>" };
        out.push((
            format!(r#"SELECT COALESCE("phone", '<null>') FROM "{customer}" WHERE "id" = 'c1'"#),
            phone.to_string(),
        ));
    }
    if (2..8).contains(&version) && inserted >= 2 {
        out.push((
            r#"SELECT "action" FROM "audit" WHERE "id" = 'a1'"#.to_string(),
            "created".to_string(),
        ));
    }
    out
}

async fn check_data(db: &Db, version: u32, inserted: u32, dialect: Dialect, when: &str) {
    for (query, expected) in checks(version, inserted, dialect) {
        assert_eq!(
            db.text(&query).await,
            expected,
            "{dialect} v{version} {when}: {query}"
        );
    }
}

async fn run_chain(dialect: Dialect) {
    let work = tempfile::tempdir().expect("temp dir");
    let migrations = work.path().join("migrations");
    let folder = migrations.join(dialect.name());
    let db = Db::open(dialect, &format!("chain_{dialect}"), work.path()).await;
    let mut previous_catalog = BTreeSet::new();
    let mut previous_version = 0i64;
    for version in 1..=VERSIONS {
        let schema = load(version, dialect);
        let options = DiffOptions {
            dialects: vec![dialect],
            ..step(version)
        };

        // `capgen migrate check` sees the uncaptured change.
        let pending = migrate::pending(&schema, &migrations, &[dialect]).expect("pending");
        assert!(
            !pending.is_empty(),
            "{dialect} v{version}: check must report the change"
        );

        let planned = migrate::plan(&schema, &migrations, &options)
            .unwrap_or_else(|e| panic!("{dialect} v{version}: {e}"));
        assert_eq!(planned.len(), 1, "{dialect} v{version}: one migration");
        let written = migrate::write(&migrations, &planned, &options.name).expect("write");
        for path in written
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        {
            let name = path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .replace(".sql", "");
            insta::assert_snapshot!(
                format!("{dialect}_{name}"),
                std::fs::read_to_string(path).unwrap()
            );
        }
        assert!(
            migrate::pending(&schema, &migrations, &[dialect])
                .expect("pending")
                .is_empty(),
            "{dialect} v{version}: nothing pending after the diff"
        );

        // Up: the catalog equals a fresh CREATE of this version, and earlier rows are still there.
        db.up(&folder).await;
        let catalog = db.catalog().await;
        assert!(
            catalog.iter().any(|line| line.contains("_version")),
            "{dialect} v{version}: the catalog query sees the tables"
        );
        let script = migrate::create_script(&schema, dialect);
        insta::assert_snapshot!(format!("{dialect}_v{version}_create"), script);
        let fresh = Db::open(dialect, &format!("fresh_{dialect}_v{version}"), work.path()).await;
        fresh.execute(&script).await;
        assert_eq!(
            catalog,
            fresh.catalog().await,
            "{dialect} v{version}: migrated catalog differs from a fresh CREATE"
        );
        if version > 1 {
            // Rows inserted up to the previous version, read with this version's names.
            check_data(&db, version, version - 1, dialect, "after migrating").await;
        }

        // Down restores the previous catalog; up again.
        let this_version = i64::from(planned[0].version);
        db.down_to(&folder, previous_version).await;
        assert_eq!(
            db.catalog().await,
            previous_catalog,
            "{dialect} v{version}: down migration does not restore the previous catalog"
        );
        db.up(&folder).await;
        assert_eq!(
            db.catalog().await,
            catalog,
            "{dialect} v{version}: re-applied catalog"
        );

        for insert in inserts(version, dialect) {
            db.execute(&insert).await;
        }
        check_data(&db, version, version, dialect, "after inserting").await;
        previous_catalog = catalog;
        previous_version = this_version;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_on_sqlite() {
    run_chain(Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_on_postgres() {
    run_chain(Dialect::Postgres).await;
}
