//! Redis Cluster faults under the repository's Redis tier: a master killed (SIGKILL) or hung (SIGSTOP) and its
//! replica promoted with `CLUSTER FAILOVER TAKEOVER`, and the entity's slot migrated to another master while the
//! repository runs. The entity is strong (no L1) on a SQLite file; Redis is the testkit's `RedisCluster` with a
//! replica per master.
//!
//! What must hold: no operation fails because of Redis (errors are counted and the store serves), every
//! acknowledged write is readable afterwards, and no read returns a version older than one acknowledged before
//! the read started — in particular not the older entry that a promoted replica still holds because
//! replication is asynchronous.

use capacitor::redis::{RedisOptions, RedisTier};
use capacitor::{Repository, Store};
use capacitor_dal_tests::Entry;
use capacitor_testkit::redis::{RedisCluster, RedisServer};
use std::time::Duration;

const SQLITE_LEDGER: &str = r#"CREATE TABLE "ledger" ("account" TEXT NOT NULL, "seq" INTEGER NOT NULL,
    "memo" TEXT NOT NULL, "_version" INTEGER NOT NULL, PRIMARY KEY ("account", "seq"))"#;

/// A fresh SQLite file with the ledger table (kept alive by the returned temp dir).
async fn sqlite() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("dal.db").display());
    let store = Store::open(&url).await.unwrap();
    sqlx::query(SQLITE_LEDGER)
        .execute(store.sqlite_pool().unwrap())
        .await
        .unwrap();
    (store, dir)
}

fn options(prefix: &str) -> RedisOptions {
    RedisOptions {
        prefix: prefix.to_owned(),
        timeout: Duration::from_millis(300),
        write_timeout: Duration::from_secs(1),
        backoff: Duration::from_millis(100),
        ..RedisOptions::default()
    }
}

/// A repository with its own cluster connection: one process.
async fn process(cluster: &RedisCluster, store: &Store, prefix: &str) -> Repository<Entry> {
    let tier = RedisTier::connect(&cluster.url(), options(prefix))
        .await
        .expect("connects to the test cluster");
    Repository::builder(store.clone()).redis(tier).build()
}

fn entry(seq: i64, memo: &str) -> Entry {
    Entry {
        account: "acct".into(),
        seq,
        memo: memo.into(),
    }
}

/// Runs blocking testkit steps (they shell out to `redis-cli`) without stalling the runtime's workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// The master of the ledger's slot (the `{ledger}` hash tag) and its replica, by port.
fn ledger_master_and_replica(cluster: &RedisCluster) -> (u16, u16) {
    let slot = cluster.keyslot("{ledger}").unwrap();
    let master = cluster.master_of_slot(slot).unwrap();
    let replica = cluster.replica_of(master).unwrap();
    (master.port(), replica.port())
}

fn node(cluster: &RedisCluster, port: u16) -> &RedisServer {
    cluster.nodes().iter().find(|n| n.port() == port).unwrap()
}

/// How the master of the entity's slot fails.
#[derive(Clone, Copy, Debug)]
enum MasterFault {
    Killed,
    Hung,
}

/// The replica misses the last write-through (it is stopped while the write happens), the master fails, the
/// replica is promoted: a reader that used the cluster before must read the acknowledged version, not the
/// promoted replica's older entry.
async fn promoted_replica_without_the_last_write(fault: MasterFault) {
    let cluster = std::sync::Arc::new(RedisCluster::start_with_replicas().unwrap());
    let (store, _dir) = sqlite().await;
    let writer = process(&cluster, &store, "failover").await;
    let reader = process(&cluster, &store, "failover").await;
    let key = ("acct".to_owned(), 1);

    let v1 = writer.put(entry(1, "one")).await.unwrap();
    let read = reader.get(&key).await.unwrap();
    assert_eq!(read.version, v1);
    assert_eq!(reader.stats().redis_hits, 1, "{:?}", reader.stats());
    let c = cluster.clone();
    blocking(move || c.wait_for_replicas(Duration::from_secs(10)).unwrap()).await;

    let (master, replica) = ledger_master_and_replica(&cluster);
    let c = cluster.clone();
    blocking(move || c.cut_replication(node(&c, replica)).unwrap()).await;
    let v2 = writer.put(entry(1, "two")).await.unwrap();
    assert_eq!(writer.stats().redis_errors, 0, "{:?}", writer.stats());
    match fault {
        MasterFault::Killed => node(&cluster, master).kill().unwrap(),
        MasterFault::Hung => node(&cluster, master).hang().unwrap(),
    }
    let c = cluster.clone();
    blocking(move || c.take_over(node(&c, replica)).unwrap()).await;
    // The scenario holds: the promoted replica has the entry of v1, not v2.
    let held = raw_versions(node(&cluster, replica));
    assert_eq!(held, vec![v1], "the promoted replica's entries");

    if let MasterFault::Hung = fault {
        // The old master wakes up, learns it was replaced and becomes a replica of the promoted one
        // (dropping v2 for good); clients still routing to it get MOVED and follow it without an error.
        node(&cluster, master).resume().unwrap();
        let c = cluster.clone();
        blocking(move || wait_for_role(node(&c, master), "slave")).await;
    }

    // The promoted replica holds v1 (it never got v2). Every read must still see v2: from Redis once the
    // generation moved on, or from the store — for the reader that used the old master, and for a process that
    // connects only now and has seen no failure at all.
    let late = process(&cluster, &store, "failover").await;
    for _ in 0..20 {
        for (who, repo) in [("reader", &reader), ("late reader", &late)] {
            let read = repo
                .get(&key)
                .await
                .expect("the store serves whatever Redis does");
            assert_eq!(
                (read.version, read.value.memo.as_str()),
                (v2, "two"),
                "{fault:?}: {who} read a stale version"
            );
        }
    }
    let v3 = writer.put(entry(1, "three")).await.unwrap();
    for repo in [&reader, &late] {
        assert_eq!(repo.get(&key).await.unwrap().version, v3);
    }
    assert!(
        late.stats().redis_hits > 0,
        "Redis serves again after the failover: {:?}",
        late.stats()
    );
}

/// The versions of the entries a node holds (`KEYS` then `GET`; the first 16 bytes of a value are its version
/// in hex), generation keys left out.
fn raw_versions(node: &RedisServer) -> Vec<u64> {
    let keys = node.cli(&["keys", "*"]).unwrap();
    let mut versions: Vec<u64> = keys
        .lines()
        .filter(|k| !k.is_empty() && !k.ends_with(":gen"))
        .map(|k| {
            let value = node.cli(&["get", k]).unwrap();
            u64::from_str_radix(&value[..16], 16).unwrap()
        })
        .collect();
    versions.sort_unstable();
    versions
}

/// Polls `ROLE` until the node reports `role`.
fn wait_for_role(node: &RedisServer, role: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let reply = node.cli(&["role"]).unwrap();
        if reply.lines().next() == Some(role) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "role stays {reply}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_master_whose_replica_missed_the_last_write_never_serves_the_older_entry() {
    promoted_replica_without_the_last_write(MasterFault::Killed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_master_whose_replica_missed_the_last_write_never_serves_the_older_entry() {
    promoted_replica_without_the_last_write(MasterFault::Hung).await;
}
