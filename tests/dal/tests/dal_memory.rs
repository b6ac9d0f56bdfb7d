//! The repository on the in-memory store, with and without L1: CRUD, versions, conflicts, batches, scans,
//! tombstones and the stale miss-fill race.

use capacitor::cache::{Lookup, MemoryTier};
use capacitor::schema::CacheSchema;
use capacitor::{Entity, Error, Repository, Store};
use capacitor_dal_tests::{Account, Entry, account};

fn accounts() -> Repository<Account> {
    Repository::new(Store::memory())
}

#[tokio::test]
async fn crud_with_versions() {
    let repo = accounts();
    assert!(repo.has_l1(), "eventual + cache option: L1 on");
    let v1 = repo.insert(account("a", 10)).await.unwrap();
    let got = repo.get(&"a".to_owned()).await.unwrap();
    assert_eq!((got.value.balance, got.version), (10, v1));

    let v2 = repo.update(account("a", 20), v1).await.unwrap();
    assert!(v2 > v1, "versions increase");
    assert_eq!(repo.get(&"a".to_owned()).await.unwrap().value.balance, 20);

    let v3 = repo.put(account("a", 30)).await.unwrap();
    assert!(v3 > v2);
    assert!(repo.delete(&"a".to_owned()).await.unwrap());
    assert!(!repo.delete(&"a".to_owned()).await.unwrap());
    let err = repo.get(&"a".to_owned()).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test]
async fn conflicts_name_both_versions() {
    let repo = accounts();
    let v1 = repo.insert(account("a", 1)).await.unwrap();
    match repo.insert(account("a", 2)).await {
        Err(Error::Conflict {
            expected: None,
            found: Some(found),
            ..
        }) => assert_eq!(found, v1),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let v2 = repo.update(account("a", 3), v1).await.unwrap();
    match repo.update(account("a", 4), v1).await {
        Err(Error::Conflict {
            expected: Some(e),
            found: Some(f),
            ..
        }) => assert_eq!((e, f), (v1, v2)),
        other => panic!("expected a conflict, got {other:?}"),
    }
    repo.delete(&"a".to_owned()).await.unwrap();
    match repo.update(account("a", 5), v2).await {
        Err(Error::Conflict { found: None, .. }) => {}
        other => panic!("expected a conflict on a deleted row, got {other:?}"),
    }
    // The failed writes left the cached value alone.
    assert!(repo.get(&"a".to_owned()).await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn errors_never_print_keys_or_values() {
    let repo = accounts();
    repo.insert(account("secret-id", 1)).await.unwrap();
    let err = repo.insert(account("secret-id", 2)).await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains("secret"), "{text}");
    let text = format!("{:?}", repo.get(&"secret-id".to_owned()).await.unwrap());
    assert!(
        !text.contains("secret-id@example.com"),
        "Debug redacts PII: {text}"
    );
}

#[tokio::test]
async fn batches_and_scan_pages() {
    let repo = accounts();
    let values: Vec<Account> = (0..25).map(|i| account(&format!("k{i:02}"), i)).collect();
    let versions = repo.put_many(values).await.unwrap();
    assert_eq!(versions.len(), 25);

    let keys: Vec<String> = vec!["k03".into(), "missing".into(), "k24".into()];
    let got = repo.get_many(&keys).await.unwrap();
    assert_eq!(got[0].as_ref().unwrap().value.balance, 3);
    assert!(got[1].is_none());
    assert_eq!(got[2].as_ref().unwrap().value.balance, 24);

    let mut seen = Vec::new();
    let mut after: Option<capacitor::Cursor> = None;
    loop {
        let page = repo.scan(after.as_ref(), 10).await.unwrap();
        seen.extend(page.items.iter().map(|v| v.value.id.clone()));
        match page.next {
            // Through the token's text form, as an HTTP API would hand it out and take it back.
            Some(next) => after = Some(next.to_string().parse().unwrap()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25).map(|i| format!("k{i:02}")).collect();
    assert_eq!(seen, expected);

    assert_eq!(repo.delete_many(&keys).await.unwrap(), 2);
    assert!(
        repo.get_many(&keys)
            .await
            .unwrap()
            .iter()
            .all(Option::is_none)
    );
}

#[tokio::test]
async fn strong_entities_have_no_l1_and_composite_keys_work() {
    let repo: Repository<Entry> = Repository::new(Store::memory());
    assert!(!repo.has_l1());
    let e = Entry {
        account: "a".into(),
        seq: 7,
        memo: "m".into(),
    };
    repo.insert(e.clone()).await.unwrap();
    let got = repo.get(&("a".to_owned(), 7)).await.unwrap();
    assert_eq!(got.value, e);
    assert!(
        repo.get(&("a".to_owned(), 8))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(repo.stats().l1_hits, 0);
}

#[tokio::test]
async fn reads_hit_l1_after_the_first_and_stats_count_them() {
    let repo = accounts();
    repo.put(account("a", 1)).await.unwrap();
    for _ in 0..3 {
        repo.get(&"a".to_owned()).await.unwrap();
    }
    let stats = repo.stats();
    assert_eq!(stats.l1_hits, 3, "write-through fills L1: {stats:?}");
    assert_eq!(stats.store_hits, 0);
    assert_eq!(stats.writes, 1);
}

#[tokio::test]
async fn another_writer_is_seen_after_invalidation_only_within_ttl_bounds() {
    // Two repositories on one store model two processes without Redis: eventual reads may be stale until the
    // TTL, but a repository's own writes are read back at once.
    let store = Store::memory();
    let a: Repository<Account> = Repository::new(store.clone());
    let b: Repository<Account> = Repository::new(store);
    a.put(account("k", 1)).await.unwrap();
    assert_eq!(b.get(&"k".to_owned()).await.unwrap().value.balance, 1);
    a.put(account("k", 2)).await.unwrap();
    assert_eq!(a.get(&"k".to_owned()).await.unwrap().value.balance, 2);
}

#[tokio::test]
async fn delete_then_reinsert_gets_a_newer_version() {
    let repo = accounts();
    let mut last = 0;
    for round in 0..5 {
        let v = repo.insert(account("a", round)).await.unwrap();
        assert!(v > last, "round {round}: {v} after {last}");
        assert_eq!(
            repo.get(&"a".to_owned()).await.unwrap().value.balance,
            round
        );
        assert!(repo.delete(&"a".to_owned()).await.unwrap());
        last = v;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_write_future_still_updates_the_cache() {
    let repo = accounts();
    repo.put(account("a", 1)).await.unwrap();
    repo.get(&"a".to_owned()).await.unwrap(); // cached at v1
    // Poll the write once (it spawns its task) and drop it.
    {
        let write = repo.put(account("a", 2));
        let mut write = Box::pin(write);
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let _ = write.as_mut().poll(&mut cx);
    }
    // The spawned task finishes the commit and the write-through; the cache never keeps v1 past it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let stored = repo.store().get::<Account>(&"a".to_owned()).await.unwrap();
        if stored.as_ref().map(|v| v.value.balance) == Some(2) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the write never committed"
        );
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(repo.get(&"a".to_owned()).await.unwrap().value.balance, 2);
}

fn tier() -> MemoryTier<Account> {
    MemoryTier::new(&Account::SCHEMA.cache.unwrap())
}

#[test]
fn l1_keeps_the_newest_version() {
    let l1 = tier();
    let k = "k".to_owned();
    assert!(l1.set_if_newer(&k, &account("k", 2), 2));
    // The stale miss-fill: a reader read v1 before the writer cached v2.
    assert!(!l1.set_if_newer(&k, &account("k", 1), 1));
    assert!(
        !l1.set_if_newer(&k, &account("k", 9), 2),
        "same version: kept"
    );
    match l1.get(&k) {
        Lookup::Hit(v) => assert_eq!((v.version, v.value.balance), (2, 2)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn l1_tombstones_block_older_fills() {
    let l1 = tier();
    let k = "k".to_owned();
    l1.set_if_newer(&k, &account("k", 5), 5);
    l1.set_deleted(&k, 5);
    assert_eq!(l1.get(&k), Lookup::Deleted(5));
    assert!(
        !l1.set_if_newer(&k, &account("k", 5), 5),
        "a fill of the deleted row"
    );
    assert!(l1.set_if_newer(&k, &account("k", 6), 6), "a re-insert");
}

#[test]
fn l1_entries_expire() {
    let l1: MemoryTier<Account> = MemoryTier::new(&CacheSchema {
        ttl_ms: Some(20),
        max_entries: Some(10),
        max_bytes: None,
    });
    let k = "k".to_owned();
    l1.set_if_newer(&k, &account("k", 1), 1);
    assert!(matches!(l1.get(&k), Lookup::Hit(_)));
    std::thread::sleep(std::time::Duration::from_millis(40));
    assert_eq!(l1.get(&k), Lookup::Miss);
    // The expired entry still guards its version against older fills.
    assert!(!l1.set_if_newer(&k, &account("k", 0), 1));
}

#[test]
fn l1_is_bounded_by_entries_or_bytes() {
    let by_entries: MemoryTier<Account> = MemoryTier::new(&CacheSchema {
        ttl_ms: None,
        max_entries: Some(100),
        max_bytes: None,
    });
    let by_bytes: MemoryTier<Account> = MemoryTier::new(&CacheSchema {
        ttl_ms: None,
        max_entries: None,
        max_bytes: Some(4096),
    });
    for i in 0..1000 {
        let k = format!("k{i}");
        by_entries.set_if_newer(&k, &account(&k, i), 1);
        by_bytes.set_if_newer(&k, &account(&k, i), 1);
    }
    assert!(by_entries.len() <= 100, "{}", by_entries.len());
    // Each entry weighs its encoded size (~25 bytes) plus 64 bytes of bookkeeping.
    assert!(by_bytes.len() <= 4096 / 64, "{}", by_bytes.len());
    assert!(by_bytes.len() >= 10, "{}", by_bytes.len());
}

#[tokio::test]
async fn invalid_values_touch_no_tier() {
    let repo = accounts();
    repo.put(account("a", 1)).await.unwrap();
    let invalid = Account {
        id: "a".into(),
        email: String::new(),
        balance: 2,
    };
    for result in [
        repo.put(invalid.clone()).await,
        repo.insert(invalid.clone()).await,
        repo.update(invalid.clone(), 1).await,
        repo.put_many(vec![account("b", 1), invalid.clone()])
            .await
            .map(|_| 0),
    ] {
        match result {
            Err(Error::Validation(v)) => assert_eq!(v.len(), 1),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(repo.stats().writes, 1);
    assert_eq!(repo.get(&"a".to_owned()).await.unwrap().value.balance, 1);
    assert!(
        repo.store()
            .get::<Account>(&"b".to_owned())
            .await
            .unwrap()
            .is_none()
    );
}

/// A hand-written lookup names its index, or passes the schema's own (as generated `find_by_…` methods do); an
/// unknown name or the wrong number of values is a configuration error, not an empty answer.
#[tokio::test]
async fn lookups_take_an_index_by_schema_entry_or_by_name() {
    let repo = accounts();
    repo.insert(account("a", 1)).await.unwrap();
    let email = "a@example.com".to_owned();
    let by_email = Account::SCHEMA
        .indexes
        .iter()
        .find(|i| i.name == "accounts_email_key")
        .expect("the unique email index");
    let found = repo.find_unique(by_email, &(&email,)).await.unwrap();
    assert_eq!(found.map(|v| v.value.id).as_deref(), Some("a"));
    let found = repo
        .find_unique("accounts_email_key", &(&email,))
        .await
        .unwrap();
    assert_eq!(found.map(|v| v.value.id).as_deref(), Some("a"));

    match repo.find_unique("accounts_by_nothing", &(&email,)).await {
        Err(Error::Config(message)) => assert!(
            message.contains("no index named `accounts_by_nothing`"),
            "{message}"
        ),
        other => panic!("expected a configuration error, got {other:?}"),
    }
    match repo.find_unique(by_email, &(&email, &email)).await {
        Err(Error::Config(message)) => assert!(message.contains("has 1 field(s)"), "{message}"),
        other => panic!("expected a configuration error, got {other:?}"),
    }
}
