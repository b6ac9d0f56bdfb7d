//! One process cut off from Redis while another still reaches it (a TCP proxy in front of the first one's
//! connection): the documented window, and `RedisOptions::strong_writes_need_redis`, which closes it.

use capacitor::redis::{RedisOptions, RedisTier};
use capacitor::{Error, Repository, Store};
use capacitor_dal_tests::{Entry, sqlite_store};
use capacitor_testkit::proxy::TcpProxy;
use capacitor_testkit::redis::RedisServer;
use std::time::{Duration, Instant};

fn entry(memo: &str) -> Entry {
    Entry {
        account: "acct".to_owned(),
        seq: 1,
        memo: memo.to_owned(),
    }
}

fn key() -> (String, i64) {
    ("acct".to_owned(), 1)
}

/// A store shared by both "processes", and the two repositories of the strong `Entry`: `a` reaches Redis
/// through `proxy`, `b` directly.
struct Processes {
    store: Store,
    a: Repository<Entry>,
    b: Repository<Entry>,
    proxy: TcpProxy,
    _redis: RedisServer,
    _dir: tempfile::TempDir,
}

async fn processes(strong_writes_need_redis: bool) -> Processes {
    let redis = RedisServer::start().unwrap();
    let proxy = TcpProxy::start(redis.port()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path(), "partition", &[Entry::CREATE_TABLE_SQLITE]).await;
    let options = RedisOptions {
        prefix: "partition".to_owned(),
        strong_writes_need_redis,
        ..RedisOptions::default()
    };
    let tier = |url: String| {
        let options = options.clone();
        async move { RedisTier::connect(&url, options).await.unwrap() }
    };
    let a = Repository::builder(store.clone())
        .redis(tier(proxy.redis_url()).await)
        .build();
    let b = Repository::builder(store.clone())
        .redis(tier(redis.url()).await)
        .build();
    Processes {
        store,
        a,
        b,
        proxy,
        _redis: redis,
        _dir: dir,
    }
}

async fn memo_in_store(p: &Processes) -> String {
    let row = p.store.get::<Entry>(&key()).await.unwrap();
    row.expect("the row is stored").value.memo
}

async fn memo_read_by(repo: &Repository<Entry>) -> String {
    repo.get(&key()).await.unwrap().value.memo
}

/// After the partition heals, `a`'s next write bumps the generation first (it saw the failure), so `b` reads
/// the newest version again. The cluster client reconnects on its own schedule: retry until a deadline.
async fn heal_and_write(p: &Processes, memo: &str) {
    p.proxy.heal();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match p.a.put(entry(memo)).await {
            Ok(_) => break,
            Err(e) if Instant::now() < deadline => {
                assert!(matches!(e, Error::Unconfirmed { .. }), "{e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("Redis did not come back for `a`: {e}"),
        }
    }
    assert_eq!(memo_read_by(&p.b).await, memo);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_a_partitioned_writer_is_acknowledged_and_others_may_read_the_previous_version()
{
    let p = processes(false).await;
    p.a.put(entry("one")).await.unwrap();
    assert_eq!(memo_read_by(&p.b).await, "one");
    assert_eq!(p.b.stats().redis_hits, 1, "b reads from Redis");

    p.proxy.cut();
    // Acknowledged from the store, though its write-through failed: Redis down → the store serves.
    p.a.put(entry("two")).await.unwrap();
    assert!(p.a.stats().redis_errors > 0);
    assert_eq!(memo_in_store(&p).await, "two");
    // The documented window: `b` still reaches Redis, which holds the previous version.
    assert_eq!(memo_read_by(&p.b).await, "one");

    heal_and_write(&p, "three").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_strong_writes_need_redis_a_partitioned_writer_is_not_acknowledged() {
    let p = processes(true).await;
    p.a.put(entry("one")).await.unwrap();
    assert_eq!(memo_read_by(&p.b).await, "one");

    p.proxy.cut();
    match p.a.put(entry("two")).await {
        Err(e @ Error::Unconfirmed { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("Entry") && text.contains("committed"),
                "{text}"
            );
            assert!(!text.contains("two"), "the error names no value: {text}");
        }
        other => panic!("expected Error::Unconfirmed, got {other:?}"),
    }
    // The store committed it; no read that starts after an acknowledgement can be stale, since there was none.
    assert_eq!(memo_in_store(&p).await, "two");
    // Reads by the cut-off process itself continue on the store.
    assert_eq!(memo_read_by(&p.a).await, "two");
    // A transaction's commit reports it the same way, after the store committed.
    let committed = p
        .store
        .transaction(async |tx| p.a.put_in(tx, entry("two and a half")).await)
        .await;
    assert!(
        matches!(committed, Err(Error::Unconfirmed { .. })),
        "{committed:?}"
    );
    assert_eq!(memo_in_store(&p).await, "two and a half");

    // Reachable again: acknowledged, and `b` sees it (the generation was bumped before the write).
    heal_and_write(&p, "three").await;

    // A healthy Redis acknowledges strong writes as usual.
    let version = p.a.put(entry("four")).await.unwrap();
    assert_eq!(p.b.get(&key()).await.unwrap().version, version);
}
