//! What the store tests do to a real database and Redis by hand: create an entity's tables the way capgen
//! renders them, run a statement, read every cached value raw. Included with `#[path]` by the tests that need it.

use capacitor::Store;
use capacitor_codegen::ddl::{Dialect, entity_tables, render};
use capacitor_codegen::proto::Input;
use capacitor_testkit::redis::RedisServer;
use std::path::PathBuf;

/// Runs `statement` on the store's own pool.
pub async fn execute(store: &Store, statement: &str) {
    match (store.sqlite_pool(), store.postgres_pool()) {
        (Some(pool), _) => {
            sqlx::query(statement).execute(pool).await.unwrap();
        }
        (_, Some(pool)) => {
            sqlx::query(statement).execute(pool).await.unwrap();
        }
        _ => unreachable!("a SQL store"),
    }
}

/// Runs each statement of `script` (statements end with `;` and a newline, as capgen renders them and the
/// derive's `CREATE_TABLE_*` constants hold them).
pub async fn execute_script(store: &Store, script: &str) {
    for statement in script.split(";\n").filter(|s| !s.trim().is_empty()) {
        execute(store, statement).await;
    }
}

/// Creates the tables (outbox included) capgen renders in `dialect` for the entities of `proto` (a path under
/// `tests/proto`) whose full name `message` names, or all of them.
pub async fn create_tables(store: &Store, proto: &str, message: Option<&str>, dialect: Dialect) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("proto");
    let input = Input::Files {
        files: vec![root.join(proto)],
        includes: vec![root],
    };
    let (_, schema) = capacitor_codegen::generate::load_schema(&input).expect("schema loads");
    let scripts: Vec<String> = schema
        .entities()
        .filter(|(m, _)| message.is_none_or(|name| m.full_name == name))
        .flat_map(|(m, entity)| entity_tables(m, entity, dialect))
        .map(|table| render::create_table(&table, dialect))
        .collect();
    for script in scripts {
        execute_script(store, &script).await;
    }
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every value under `prefix` in Redis, read raw (KEYS + GET), as `redis-cli` would.
pub async fn raw_redis_values(server: &RedisServer, prefix: &str) -> Vec<Vec<u8>> {
    let client = redis::Client::open(server.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut c)
        .await
        .unwrap();
    let mut out = Vec::new();
    for key in keys {
        if let Ok(Some(value)) = redis::cmd("GET")
            .arg(&key)
            .query_async::<Option<Vec<u8>>>(&mut c)
            .await
        {
            out.push(value);
        }
    }
    out
}
