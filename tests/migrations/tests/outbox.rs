//! The outbox table of an entity with the `outbox` option comes from the migration emitter: created when the
//! option is added, renamed with its entity, refused as destructive when the option is dropped, and applied to
//! real SQLite and Postgres databases.

use capacitor_codegen::ddl::Dialect;
use capacitor_codegen::migrate::{self, DiffOptions, Error};
use capacitor_migration_tests::{
    diff_options, load_from, migrate_next as migrate, plan_up, v1_with,
};
use capacitor_testkit::postgres::PostgresServer;

const PLAIN: &str =
    "message Customer {\n  option (capacitor.v1.entity) = { backend: BACKEND_SQLITE };";

fn with_outbox(backend: &str) -> impl Fn(&str) -> String {
    let backend = backend.to_owned();
    move |text: &str| {
        text.replace(
            PLAIN,
            &format!(
                "message Customer {{\n  option (capacitor.v1.entity) = {{ backend: {backend} outbox: {{ topic: \"customers\" }} }};"
            ),
        )
    }
}

fn backend(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "BACKEND_SQLITE",
        Dialect::Postgres => "BACKEND_POSTGRES",
    }
}

fn base(dialect: Dialect) -> tempfile::TempDir {
    let backend = backend(dialect);
    v1_with(move |text| text.replace("BACKEND_SQLITE", backend))
}

#[test]
fn adding_the_option_creates_the_outbox_table_and_dropping_it_is_destructive() {
    for dialect in Dialect::ALL {
        let migrations = tempfile::tempdir().unwrap();
        migrate(base(dialect).path(), migrations.path(), dialect, "create");
        let with = v1_with({
            let add = with_outbox(backend(dialect));
            let backend = backend(dialect);
            move |text| add(text).replace("BACKEND_SQLITE", backend)
        });
        let up = migrate(with.path(), migrations.path(), dialect, "outbox");
        insta::assert_snapshot!(format!("outbox_{}_up", dialect.name()), up);

        // Removing the option would drop unpublished changes: refused without --allow-destructive.
        match migrate::plan(
            &load_from(base(dialect).path(), dialect),
            migrations.path(),
            &diff_options("drop", dialect),
        ) {
            Err(Error::Refused { problems }) => {
                assert_eq!(problems.len(), 1, "{problems:?}");
                assert_eq!(problems[0].rule, "DESTRUCTIVE_DROP_TABLE");
                assert_eq!(problems[0].message, "shop.v1.Customer#outbox");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }

        // A renamed entity keeps its outbox: both tables are renamed, nothing dropped.
        let renamed = v1_with({
            let add = with_outbox(backend(dialect));
            let backend = backend(dialect);
            move |text| {
                add(text)
                    .replace("message Customer {", "message Client {")
                    .replace("BACKEND_SQLITE", backend)
            }
        });
        // A rename plans without destructive changes.
        let up = plan_up(
            renamed.path(),
            migrations.path(),
            dialect,
            &DiffOptions {
                renamed_from: vec![("Customer".to_string(), "Client".to_string())],
                ..diff_options("rename", dialect)
            },
        );
        assert!(up.contains("\"customer_outbox\""), "{up}");
        assert!(up.contains("\"client_outbox\""), "{up}");
        assert!(!up.contains("DROP TABLE"), "{up}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_migration_applies_to_real_databases() {
    for dialect in Dialect::ALL {
        let work = tempfile::tempdir().unwrap();
        let migrations = work.path().join("migrations");
        migrate(base(dialect).path(), &migrations, dialect, "create");
        let with = v1_with({
            let add = with_outbox(backend(dialect));
            let backend = backend(dialect);
            move |text| add(text).replace("BACKEND_SQLITE", backend)
        });
        migrate(with.path(), &migrations, dialect, "outbox");
        let select = r#"SELECT "_seq", "id", "_version", "_op", "_payload", "_recorded_at", "_published_at" FROM "customer_outbox""#;
        match dialect {
            Dialect::Sqlite => {
                let url = format!("sqlite://{}?mode=rwc", work.path().join("app.db").display());
                let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
                capacitor::migrate::migrate_from(&pool, &migrations)
                    .await
                    .unwrap();
                sqlx::query(select).fetch_all(&pool).await.unwrap();
            }
            Dialect::Postgres => {
                let url = PostgresServer::shared()
                    .create_database("outbox_migration")
                    .unwrap();
                let pool = sqlx::PgPool::connect(&url).await.unwrap();
                capacitor::migrate::migrate_from(&pool, &migrations)
                    .await
                    .unwrap();
                sqlx::query(select).fetch_all(&pool).await.unwrap();
            }
        }
    }
}

/// An SQLite outbox made before its index became partial (every row, `<table>_outbox_unpublished_idx`) migrates
/// to the partial index of published rows: the next plan drops the old index and creates the new one, nothing
/// destructive, and it applies to a real database that holds rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sqlite_outbox_with_the_full_index_moves_to_the_partial_one() {
    use capacitor_codegen::ddl::Index;
    use capacitor_codegen::migrate::lockfile::{LOCKFILE, Lockfile};
    let dialect = Dialect::Sqlite;
    let work = tempfile::tempdir().unwrap();
    let migrations = work.path().join("migrations");
    migrate(base(dialect).path(), &migrations, dialect, "create");
    let with = v1_with(with_outbox("BACKEND_SQLITE"));
    migrate(with.path(), &migrations, dialect, "outbox");

    // What an earlier capgen wrote: the index over every row, in the migration and in the lockfile.
    let old_index = r#"CREATE INDEX "customer_outbox_unpublished_idx" ON "customer_outbox" ("_published_at", "_seq");"#;
    let folder = migrations.join(dialect.name());
    let outbox_sql = folder.join("0002_outbox.up.sql");
    let text = std::fs::read_to_string(&outbox_sql).unwrap();
    let new_index = text
        .lines()
        .find(|l| l.contains("customer_outbox_published_idx"))
        .unwrap()
        .to_owned();
    std::fs::write(&outbox_sql, text.replace(&new_index, old_index)).unwrap();
    let lock = Lockfile::read(&folder, dialect).unwrap().unwrap();
    let mut tables = lock.tables.clone();
    let outbox = tables
        .iter_mut()
        .find(|t| t.name == "customer_outbox")
        .unwrap();
    let index: &mut Index = &mut outbox.indexes[0];
    index.name = "customer_outbox_unpublished_idx".into();
    index.only_positive = None;
    std::fs::write(
        folder.join(LOCKFILE),
        Lockfile::new(dialect, lock.version, tables).to_text(),
    )
    .unwrap();

    let url = format!("sqlite://{}?mode=rwc", work.path().join("app.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    capacitor::migrate::migrate_from(&pool, &migrations)
        .await
        .unwrap();
    sqlx::query(
        r#"INSERT INTO "customer_outbox" ("id", "_version", "_op", "_recorded_at", "_published_at") VALUES ('a', 1, 'insert', 1, 5), ('b', 1, 'insert', 2, NULL)"#,
    )
    .execute(&pool)
    .await
    .unwrap();

    let up = migrate(with.path(), &migrations, dialect, "partial_index");
    assert!(
        up.contains(r#"DROP INDEX "customer_outbox_unpublished_idx""#),
        "{up}"
    );
    assert!(up.contains(&new_index), "{up}");
    assert!(!up.contains("DROP TABLE"), "{up}");
    capacitor::migrate::migrate_from(&pool, &migrations)
        .await
        .unwrap();
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'customer_outbox' AND sql IS NOT NULL",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(indexes.len(), 1, "{indexes:?}");
    assert!(
        indexes[0].1.ends_with(r#"WHERE "_published_at" > 0"#),
        "{indexes:?}"
    );
    let rows: i64 = sqlx::query_scalar(r#"SELECT COUNT(*) FROM "customer_outbox""#)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rows, 2);
}
