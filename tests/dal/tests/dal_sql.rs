//! The repository on the SQL stores — SQLite files and a real PostgreSQL 15 — with and without Redis: the same
//! suite on every store, so they all behave like the in-memory one.

use capacitor::redis::{RedisOptions, RedisTier};
use capacitor::{Error, Repository, Store};
use capacitor_dal_tests::{Account, Entry, Kinds, account};
use capacitor_testkit::postgres::PostgresServer;
use capacitor_testkit::redis::RedisServer;
use std::sync::atomic::{AtomicUsize, Ordering};

const SQLITE_DDL: &[&str] = &[
    r#"CREATE TABLE "kinds" ("id" INTEGER NOT NULL PRIMARY KEY, "at" TEXT, "took" TEXT, "ratio" INTEGER NOT NULL,
       "flag" INTEGER NOT NULL, "blob" BLOB NOT NULL, "small" INTEGER NOT NULL, "note" TEXT, "json" TEXT NOT NULL,
       "_version" INTEGER NOT NULL)"#,
    r#"CREATE TABLE "accounts" ("id" TEXT NOT NULL PRIMARY KEY, "email" TEXT NOT NULL UNIQUE,
       "balance" INTEGER NOT NULL, "_version" INTEGER NOT NULL)"#,
    r#"CREATE TABLE "ledger" ("account" TEXT NOT NULL, "seq" INTEGER NOT NULL, "memo" TEXT NOT NULL,
       "_version" INTEGER NOT NULL, PRIMARY KEY ("account", "seq"))"#,
];

const POSTGRES_DDL: &[&str] = &[
    r#"CREATE TABLE "kinds" ("id" NUMERIC(20,0) NOT NULL PRIMARY KEY, "at" TIMESTAMPTZ, "at_nanos" INTEGER,
       "took" NUMERIC(21,9), "ratio" DOUBLE PRECISION NOT NULL, "flag" BOOLEAN NOT NULL, "blob" BYTEA NOT NULL,
       "small" INTEGER NOT NULL, "note" TEXT, "json" JSONB NOT NULL, "_version" BIGINT NOT NULL)"#,
    r#"CREATE TABLE "accounts" ("id" TEXT NOT NULL PRIMARY KEY, "email" TEXT NOT NULL UNIQUE,
       "balance" BIGINT NOT NULL, "_version" BIGINT NOT NULL)"#,
    r#"CREATE TABLE "ledger" ("account" TEXT NOT NULL, "seq" BIGINT NOT NULL, "memo" TEXT NOT NULL,
       "_version" BIGINT NOT NULL, PRIMARY KEY ("account", "seq"))"#,
];

/// A fresh SQLite file with the tables (kept alive by the returned temp dir).
async fn sqlite() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("dal.db").display());
    let store = Store::open(&url).await.unwrap();
    for ddl in SQLITE_DDL {
        sqlx::query(ddl)
            .execute(store.sqlite_pool().unwrap())
            .await
            .unwrap();
    }
    (store, dir)
}

/// A fresh database on the shared PostgreSQL server, with the tables.
async fn postgres() -> Store {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "dal_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let url = PostgresServer::shared().create_database(&name).unwrap();
    let store = Store::open(&url).await.unwrap();
    for ddl in POSTGRES_DDL {
        sqlx::query(ddl)
            .execute(store.postgres_pool().unwrap())
            .await
            .unwrap();
    }
    store
}

/// Every column kind round-trips exactly, edge values included, through the store (and Redis when given).
async fn kinds_round_trip(store: Store, redis: Option<RedisTier>) {
    // Redis holds prost's encoding, which (like every proto3 implementation with implicit presence) drops a
    // double equal to 0.0, so -0.0 comes back as 0.0 from Redis; the stores keep the sign.
    let sign_of_zero_kept = redis.is_none();
    let builder = Repository::<Kinds>::builder(store);
    let repo = match redis {
        Some(r) => builder.redis(r).build(),
        None => builder.build(),
    };
    let values = [
        Kinds {
            id: u64::MAX,
            at: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 123_456_789,
            }),
            took: Some(prost_types::Duration {
                seconds: -3,
                nanos: -500_000_001,
            }),
            ratio: f64::NAN,
            flag: true,
            blob: vec![0, 255, 1],
            small: i32::MIN,
            note: Some("ß".into()),
            json: r#"{"a":[1,"x",null]}"#.into(),
        },
        Kinds {
            id: 0,
            at: None,
            took: None,
            ratio: -0.0,
            flag: false,
            blob: Vec::new(),
            small: 0,
            note: None,
            json: "null".into(),
        },
    ];
    for value in &values {
        repo.put(value.clone()).await.unwrap();
        for _ in 0..2 {
            // store, then (with Redis) the cached copy
            let got = repo.get(&value.id).await.unwrap().value;
            let same_ratio = match sign_of_zero_kept || value.ratio != 0.0 {
                true => got.ratio.to_bits() == value.ratio.to_bits(),
                false => got.ratio == 0.0,
            };
            let same = same_ratio
                && Kinds {
                    ratio: 0.0,
                    ..got.clone()
                } == Kinds {
                    ratio: 0.0,
                    ..value.clone()
                };
            assert!(same, "{got:?} != {value:?}");
        }
    }
    let page = repo.scan(None, 10).await.unwrap();
    assert_eq!(page.items.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_kinds() {
    let (store, _dir) = sqlite().await;
    kinds_round_trip(store, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_kinds() {
    kinds_round_trip(postgres().await, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_kinds_with_redis() {
    let server = RedisServer::start().unwrap();
    let redis = RedisTier::connect(&server.url(), RedisOptions::default())
        .await
        .unwrap();
    kinds_round_trip(postgres().await, Some(redis)).await;
}

/// Writes through two repositories in one transaction: visible and cached after the commit; after a rollback,
/// the store and the caches are as they were.
async fn transactions(store: Store) {
    let accounts: Repository<Account> = Repository::new(store.clone());
    let ledger: Repository<Entry> = Repository::new(store.clone());
    let entry = |seq: i64, memo: &str| Entry {
        account: "t".into(),
        seq,
        memo: memo.into(),
    };
    let v1 = accounts.put(account("t", 1)).await.unwrap();
    assert_eq!(accounts.get(&"t".to_owned()).await.unwrap().version, v1); // cached in L1

    // Commit.
    let mut tx = store.begin().await.unwrap();
    let v2 = accounts
        .update_in(&mut tx, account("t", 2), v1)
        .await
        .unwrap();
    ledger.insert_in(&mut tx, entry(1, "one")).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(accounts.get(&"t".to_owned()).await.unwrap().version, v2);
    assert_eq!(accounts.stats().l1_hits, 2, "the commit wrote L1 through");
    assert_eq!(
        ledger.get(&("t".to_owned(), 1)).await.unwrap().value.memo,
        "one"
    );

    // Rollback by drop, after a conflict inside the transaction.
    let mut tx = store.begin().await.unwrap();
    accounts.put_in(&mut tx, account("t", 3)).await.unwrap();
    ledger
        .delete_in(&mut tx, &("t".to_owned(), 1))
        .await
        .unwrap();
    let conflict = ledger.insert_in(&mut tx, entry(2, "x")).await;
    assert!(conflict.is_ok());
    let conflict = ledger.insert_in(&mut tx, entry(2, "again")).await;
    assert!(conflict.unwrap_err().is_conflict());
    drop(tx);
    let got = accounts.get(&"t".to_owned()).await.unwrap();
    assert_eq!((got.value.balance, got.version), (2, v2), "L1 untouched");
    let stored = store
        .get::<Account>(&"t".to_owned())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.value.balance, stored.version),
        (2, v2),
        "store rolled back"
    );
    assert!(ledger.get(&("t".to_owned(), 1)).await.is_ok());
    assert!(
        ledger
            .get(&("t".to_owned(), 2))
            .await
            .unwrap_err()
            .is_not_found()
    );

    // Explicit rollback.
    let mut tx = store.begin().await.unwrap();
    accounts.delete_in(&mut tx, &"t".to_owned()).await.unwrap();
    tx.rollback().await;
    assert!(
        store
            .get::<Account>(&"t".to_owned())
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_on_every_store() {
    transactions(Store::memory()).await;
    let (store, _dir) = sqlite().await;
    transactions(store).await;
    transactions(postgres().await).await;
}

async fn suite(store: Store, redis: Option<RedisTier>) {
    let with_redis = |b: capacitor::repo::RepositoryBuilder<Account>| match &redis {
        Some(r) => b.redis(r.clone()),
        None => b,
    };
    let repo: Repository<Account> = with_redis(Repository::builder(store.clone())).build();
    // A second "process": its own L1, same store and Redis.
    let other: Repository<Account> = with_redis(Repository::builder(store.clone())).build();
    let k = |s: &str| s.to_owned();

    // CRUD with versions.
    let v1 = repo.insert(account("a", 10)).await.unwrap();
    let got = other.get(&k("a")).await.unwrap();
    assert_eq!((got.value, got.version), (account("a", 10), v1));
    let v2 = repo.update(account("a", 20), v1).await.unwrap();
    assert!(v2 > v1);
    let v3 = repo.put(account("a", 30)).await.unwrap();
    assert!(v3 > v2);
    assert_eq!(repo.get(&k("a")).await.unwrap().version, v3);

    // Conflicts.
    match repo.insert(account("a", 1)).await {
        Err(Error::Conflict {
            expected: None,
            found: Some(f),
            ..
        }) => assert_eq!(f, v3),
        other => panic!("{other:?}"),
    }
    match repo.update(account("a", 1), v1).await {
        Err(Error::Conflict {
            expected: Some(e),
            found: Some(f),
            ..
        }) => assert_eq!((e, f), (v1, v3)),
        other => panic!("{other:?}"),
    }

    // Delete, then re-insert: a newer version than any before.
    assert!(repo.delete(&k("a")).await.unwrap());
    assert!(repo.get(&k("a")).await.unwrap_err().is_not_found());
    let v4 = repo.insert(account("a", 40)).await.unwrap();
    assert!(v4 > v3, "re-insert {v4} after {v3}");
    assert_eq!(repo.get(&k("a")).await.unwrap().value.balance, 40);

    // Batches in one transaction and one round trip, pages by keyset.
    let values: Vec<Account> = (0..30).map(|i| account(&format!("b{i:02}"), i)).collect();
    assert_eq!(repo.put_many(values).await.unwrap().len(), 30);
    let keys: Vec<String> = vec![k("b05"), k("nope"), k("b29"), k("a")];
    let got = other.get_many(&keys).await.unwrap();
    assert_eq!(got[0].as_ref().unwrap().value.balance, 5);
    assert!(got[1].is_none());
    assert_eq!(got[2].as_ref().unwrap().value.balance, 29);
    // `other` cached "a" at v1 in its own L1: an eventual entity may be stale there until the TTL.
    assert!(got[3].as_ref().unwrap().version <= v4);
    assert_eq!(
        repo.get_many(&keys).await.unwrap()[3]
            .as_ref()
            .unwrap()
            .value
            .balance,
        40
    );
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = repo.scan(after.as_ref(), 7).await.unwrap();
        seen.extend(page.items.into_iter().map(|v| v.value.id));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let mut expected: Vec<String> = vec![k("a")];
    expected.extend((0..30).map(|i| format!("b{i:02}")));
    assert_eq!(seen, expected);
    assert_eq!(repo.delete_many(&keys).await.unwrap(), 3);

    // A unique index violation fails the write, names no value, and leaves the caches alone.
    let err = repo
        .insert(Account {
            id: k("dup"),
            email: account("b00", 0).email,
            balance: 0,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::UniqueViolation {
                entity: "Account",
                index: "accounts_email_key"
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "Account: unique index accounts_email_key already holds that value"
    );
    assert!(!format!("{err:?}").contains("b00@"), "{err:?}");
    assert!(repo.get(&k("dup")).await.unwrap_err().is_not_found());

    // Composite keys, strong entity.
    let ledger: Repository<Entry> = Repository::new(store.clone());
    let e = Entry {
        account: k("x"),
        seq: 3,
        memo: k("m"),
    };
    let v = ledger.insert(e.clone()).await.unwrap();
    assert_eq!(ledger.get(&(k("x"), 3)).await.unwrap().version, v);
    let got = ledger.get_many(&[(k("x"), 3), (k("x"), 4)]).await.unwrap();
    assert_eq!(got[0].as_ref().unwrap().value, e);
    assert!(got[1].is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store() {
    let (store, _dir) = sqlite().await;
    suite(store, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store() {
    suite(postgres().await, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store() {
    suite(Store::memory(), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_with_redis() {
    let server = RedisServer::start().unwrap();
    let redis = RedisTier::connect(&server.url(), RedisOptions::default())
        .await
        .unwrap();
    suite(postgres().await, Some(redis)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_with_redis() {
    let server = RedisServer::start().unwrap();
    let redis = RedisTier::connect(&server.url(), RedisOptions::default())
        .await
        .unwrap();
    let (store, _dir) = sqlite().await;
    suite(store, Some(redis)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_concurrent_writers_wait_instead_of_failing() {
    let (store, _dir) = sqlite().await;
    let repo: Repository<Account> = Repository::new(store);
    let mut tasks = Vec::new();
    for w in 0..8 {
        let repo = repo.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                repo.put(account(&format!("w{w}-{i}"), i)).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let page = repo.scan(None, 1000).await.unwrap();
    assert_eq!(page.items.len(), 200);
}

#[tokio::test]
async fn a_missing_table_is_a_store_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}", dir.path().join("x.db").display()))
        .await
        .unwrap();
    let repo: Repository<Account> = Repository::new(store);
    let err = repo.put(account("a", 1)).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Backend {
                tier: capacitor::Tier::Store,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(repo.stats().store_errors, 1);
}

#[tokio::test]
async fn bad_urls_are_config_errors() {
    for url in ["nope", "mysql://x", "sqlite:///nonexistent-dir/x/y.db"] {
        let err = Store::open(url).await.err().expect(url);
        assert!(
            matches!(err, Error::Config(_) | Error::Backend { .. }),
            "{url}: {err:?}"
        );
    }
}
