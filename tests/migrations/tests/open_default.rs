//! `Store::open_default`: the store URL from `CAPACITOR_DATABASE_URL`, else the entity backend's default (a SQLite
//! file in the working directory). One test in its own binary: it changes the process's working directory and
//! environment, which no other test may see.

use capacitor::Error;
use capacitor::migrate::Migrations;
use capacitor::schema::Backend;
use capacitor::store::{DATABASE_URL_ENV, Store};

/// The quickstart's checked-in SQLite migrations (they create `user_profile`).
async fn quickstart_migrations() -> Migrations {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/quickstart/migrations/sqlite");
    let migrator = sqlx::migrate::Migrator::new(dir)
        .await
        .expect("quickstart migrations");
    Migrations::new().sqlite(Box::leak(Box::new(migrator)))
}

async fn has_user_profile(store: &Store) -> bool {
    sqlx::query("SELECT 1 FROM sqlite_master WHERE name = 'user_profile'")
        .fetch_optional(store.sqlite_pool().expect("a SQLite store"))
        .await
        .expect("query the catalog")
        .is_some()
}

#[tokio::test]
async fn open_default_uses_the_environment_then_the_backend_default() {
    let migrations = quickstart_migrations().await;
    let work = tempfile::tempdir().unwrap();
    std::env::set_current_dir(work.path()).unwrap();
    // SAFETY: this binary's only test; no other thread reads the environment meanwhile.
    unsafe { std::env::remove_var(DATABASE_URL_ENV) };

    // Nothing configured: a SQLite entity gets `capacitor.db` in the working directory, migrated.
    let store = Store::open_default(Backend::Sqlite, &migrations)
        .await
        .unwrap();
    assert!(work.path().join("capacitor.db").exists());
    assert!(has_user_profile(&store).await);

    // A Postgres entity has no default server: the error says what to set.
    match Store::open_default(Backend::Postgres, &migrations).await {
        Err(Error::Config(message)) => assert!(message.contains(DATABASE_URL_ENV), "{message}"),
        other => panic!("expected Error::Config, got {:?}", other.map(|_| "a store")),
    }
    Store::open_default(Backend::Memory, &Migrations::new())
        .await
        .expect("memory: needs no migrations");

    // The environment wins over the backend's default, for every backend.
    let configured = work.path().join("configured.db");
    // SAFETY: as above.
    unsafe { std::env::set_var(DATABASE_URL_ENV, format!("sqlite:{}", configured.display())) };
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let store = Store::open_default(backend, &migrations).await.unwrap();
        assert!(has_user_profile(&store).await);
    }
    assert!(configured.exists());
}
