//! The strong-consistency stress test across two OS processes: this test binary starts Postgres and Redis,
//! then runs itself twice as a child (`child_process`), each child with 8 writers and 8 readers on its own pool
//! and Redis connection. The children share the highest acknowledged version of each key through Redis keys
//! outside the cache's prefix (`stress-ack:<k>`): a reader loads it before it starts, and must then read that
//! version or a newer one. 2 × (8 × 1,250 writes + 8 × 5,000 reads) = 100k operations.

use capacitor::redis::{RedisOptions, RedisTier};
use capacitor::{Repository, Store};
use capacitor_dal_tests::Entry;
use capacitor_testkit::postgres::PostgresServer;
use capacitor_testkit::redis::RedisServer;

const KEYS: usize = 32;
const WRITES_PER_WRITER: usize = 1_250;
const READS_PER_READER: usize = 5_000;
const CHILD: &str = "CAPACITOR_STRESS_CHILD";

fn key(i: usize) -> (String, i64) {
    ("stress".to_owned(), i as i64)
}

/// Raises `stress-ack:<k>` to at least the version.
const ACK: &str = "local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1]) end
return 0";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_never_read_stale_and_lose_no_ack() {
    let redis = RedisServer::start().unwrap();
    let url = PostgresServer::shared()
        .create_database(&format!("dal_stress_procs_{}", std::process::id()))
        .unwrap();
    let store = Store::open(&url).await.unwrap();
    sqlx::query(
        r#"CREATE TABLE "ledger" ("account" TEXT NOT NULL, "seq" BIGINT NOT NULL, "memo" TEXT NOT NULL,
           "_version" BIGINT NOT NULL, PRIMARY KEY ("account", "seq"))"#,
    )
    .execute(store.postgres_pool().unwrap())
    .await
    .unwrap();

    let spawned: Vec<_> = (0..2)
        .map(|process| {
            capacitor_dal_tests::spawn_child(
                "child_process",
                CHILD,
                format!("{process} {url} {}", redis.url()),
            )
        })
        .collect();
    let mut stale = 0;
    // Each child's repository stats (Redis errors, timeouts, generation bumps), so a failure says which path
    // the stale reads came through.
    let mut stats = Vec::new();
    // Writes the store committed but did not acknowledge (`Error::Unconfirmed`), across both children.
    let mut unconfirmed = 0;
    for child in spawned {
        let stdout = capacitor_dal_tests::child_output(child);
        let line = stdout
            .lines()
            .find_map(|l| l.split("STALE=").nth(1))
            .unwrap_or_else(|| panic!("the child reports its stale reads:\n{stdout}"));
        stale += line.trim().parse::<u64>().unwrap();
        unconfirmed += stdout
            .lines()
            .find_map(|l| l.strip_prefix("UNCONFIRMED="))
            .map_or(0, |n| n.trim().parse::<u64>().unwrap());
        stats.extend(
            stdout
                .lines()
                .filter(|l| l.starts_with("STATS="))
                .map(str::to_owned),
        );
    }
    assert_eq!(stale, 0, "stale reads across processes; {stats:#?}");

    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    for k in 0..KEYS {
        let acked: u64 = redis::cmd("GET")
            .arg(format!("stress-ack:{k}"))
            .query_async(&mut conn)
            .await
            .unwrap();
        let stored = store.get::<Entry>(&key(k)).await.unwrap().expect("written");
        if unconfirmed == 0 {
            assert_eq!(
                stored.version, acked,
                "key {k}: an acknowledged write was lost"
            );
        } else {
            // An unconfirmed write was committed too, and may be the newest.
            assert!(
                stored.version >= acked,
                "key {k}: an acknowledged write was lost"
            );
        }
    }
}

/// One child process: does nothing unless started by the test above.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn child_process() {
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    let mut parts = spec.split(' ');
    let (process, url, redis_url) = (
        parts.next().unwrap().parse::<usize>().unwrap(),
        parts.next().unwrap().to_owned(),
        parts.next().unwrap().to_owned(),
    );
    let store = Store::open(&url).await.unwrap();
    // As in `dal_stress`: writes are acknowledged only once Redis holds them or the generation moved, so a
    // Redis slowed past its timeouts (a loaded machine) cannot open the documented availability window.
    let options = RedisOptions {
        strong_writes_need_redis: true,
        ..RedisOptions::default()
    };
    let tier = RedisTier::connect(&redis_url, options).await.unwrap();
    let repo: Repository<Entry> = Repository::builder(store).redis(tier).build();
    let acks = redis::Client::open(redis_url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let ack = redis::Script::new(ACK);

    let unconfirmed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for writer in 0..8 {
        let (repo, mut acks, ack, unconfirmed) =
            (repo.clone(), acks.clone(), ack.clone(), unconfirmed.clone());
        tasks.push(tokio::spawn(async move {
            for n in 0..WRITES_PER_WRITER {
                let k = (n * 7 + writer * 13 + process) % KEYS;
                let (account, seq) = key(k);
                let memo = format!("p{process}w{writer}n{n}");
                let version = match repo.put(Entry { account, seq, memo }).await {
                    Ok(version) => version,
                    // Committed, not acknowledged: nothing to hold readers to; the store may hold it.
                    Err(capacitor::Error::Unconfirmed { .. }) => {
                        unconfirmed.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                        continue;
                    }
                    Err(e) => panic!("write failed: {e}"),
                };
                let _: i64 = ack
                    .key(format!("stress-ack:{k}"))
                    .arg(version)
                    .invoke_async(&mut acks)
                    .await
                    .unwrap();
            }
            0u64
        }));
    }
    for reader in 0..8 {
        let (repo, mut acks) = (repo.clone(), acks.clone());
        tasks.push(tokio::spawn(async move {
            let mut stale = 0;
            for n in 0..READS_PER_READER {
                let k = (n * 5 + reader * 3 + process) % KEYS;
                let floor: Option<u64> = redis::cmd("GET")
                    .arg(format!("stress-ack:{k}"))
                    .query_async(&mut acks)
                    .await
                    .unwrap();
                let floor = floor.unwrap_or(0);
                match repo.get(&key(k)).await {
                    Ok(v) if v.version >= floor => {}
                    Ok(_) => stale += 1,
                    Err(e) if e.is_not_found() && floor == 0 => {}
                    Err(e) => panic!("read failed: {e}"),
                }
            }
            stale
        }));
    }
    let mut stale = 0;
    for t in tasks {
        stale += t.await.unwrap();
    }
    println!("STALE={stale}");
    println!(
        "UNCONFIRMED={}",
        unconfirmed.load(std::sync::atomic::Ordering::Acquire)
    );
    println!("STATS={:?}", repo.stats());
}
