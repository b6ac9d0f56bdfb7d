//! Batches larger than one statement may bind (SQLite's 32,766 parameters) or Postgres may plan (a composite
//! key's `IN` list is a chain of `OR`s, bounded by its stack depth): `get_many` splits them and still answers
//! every key in order, duplicates included, on SQLite and Postgres, for single and composite keys, with and
//! without Redis in front.

use capacitor::redis::{RedisOptions, RedisTier};
use capacitor::repo::Stats;
use capacitor::{Repository, Store};
use capacitor_dal_tests::{Account, Entry, account, postgres_store, sqlite_store};
use capacitor_testkit::redis::RedisServer;

const SQLITE: &[&str] = &[Account::CREATE_TABLE_SQLITE, Entry::CREATE_TABLE_SQLITE];
const POSTGRES: &[&str] = &[Account::CREATE_TABLE_POSTGRES, Entry::CREATE_TABLE_POSTGRES];

/// More keys than one statement can bind, for a one-column key.
const KEYS: usize = 40_000;

async fn huge_batches(store: Store, redis: Option<RedisTier>) -> [Stats; 2] {
    let accounts: Repository<Account> = match &redis {
        Some(r) => Repository::builder(store.clone()).redis(r.clone()).build(),
        None => Repository::new(store.clone()),
    };
    let ledger: Repository<Entry> = match &redis {
        Some(r) => Repository::builder(store.clone()).redis(r.clone()).build(),
        None => Repository::new(store.clone()),
    };
    // Every 400th key exists; the batch also repeats a present key at both ends.
    let present: Vec<Account> = (0..KEYS)
        .step_by(400)
        .map(|i| account(&format!("k{i}"), i as i64))
        .collect();
    accounts.put_many(present.clone()).await.unwrap();
    let mut keys: Vec<String> = (0..KEYS).map(|i| format!("k{i}")).collect();
    keys.push("k0".to_owned());
    keys.insert(0, "k400".to_owned());
    let got = accounts.get_many(&keys).await.unwrap();
    assert_eq!(got.len(), keys.len(), "one answer per key, in order");
    for (key, answer) in keys.iter().zip(&got) {
        let i: usize = key[1..].parse().unwrap();
        match answer {
            Some(v) => assert_eq!((v.value.id.as_str(), i % 400), (key.as_str(), 0)),
            None => assert_ne!(i % 400, 0, "{key} is stored"),
        }
    }
    assert_eq!(got.iter().flatten().count(), present.len() + 2);

    // A two-column key: 20,000 keys, far more tuples than Postgres plans in one `IN` list.
    let entries: Vec<Entry> = (0..50)
        .map(|seq| Entry {
            account: "a".to_owned(),
            seq,
            memo: format!("m{seq}"),
        })
        .collect();
    ledger.put_many(entries).await.unwrap();
    let keys: Vec<(String, i64)> = (0..20_000).map(|seq| ("a".to_owned(), seq)).collect();
    let got = ledger.get_many(&keys).await.unwrap();
    assert_eq!(got.len(), keys.len());
    for (seq, answer) in got.iter().enumerate() {
        assert_eq!(
            answer.as_ref().map(|v| v.value.seq),
            (seq < 50).then_some(seq as i64),
            "key ('a', {seq})"
        );
    }
    // Again: now through whatever the first read filled (Redis, when present).
    let again = ledger.get_many(&keys).await.unwrap();
    assert_eq!(again, got);
    [accounts.stats(), ledger.stats()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_beyond_the_bind_parameter_limit() {
    let dir = tempfile::tempdir().unwrap();
    huge_batches(sqlite_store(dir.path(), "batches", SQLITE).await, None).await;
    huge_batches(postgres_store("dal_batches", POSTGRES).await, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_beyond_the_bind_parameter_limit_through_redis() {
    let server = RedisServer::start().unwrap();
    let redis = RedisTier::connect(&server.url(), RedisOptions::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let stats = huge_batches(
        sqlite_store(dir.path(), "batches", SQLITE).await,
        Some(redis),
    )
    .await;
    // Within the default per-operation timeout: a failure would also retire every cached entry of the entity
    // (a generation bump).
    for stats in &stats {
        assert_eq!(
            stats.redis_errors, 0,
            "Redis served the whole batch: {stats:?}"
        );
    }
    // The ledger (strong: no L1) found its 50 rows in Redis (written through by put_many) in both batches.
    assert_eq!(stats[1].redis_hits, 100, "{:?}", stats[1]);
}
