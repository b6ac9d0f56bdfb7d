//! Redis Cluster faults under the repository's Redis tier: a master killed (SIGKILL) or hung (SIGSTOP) and its
//! replica promoted with `CLUSTER FAILOVER TAKEOVER`, and the entity's slot migrated to another master (step by
//! step, and under load) while the repository runs. The entity is strong (no L1) on a SQLite file; Redis is the
//! testkit's `RedisCluster`, with a replica per master for the failovers. The last test is the same check on a
//! single server restarted with its data.
//!
//! What must hold: no operation fails because of Redis (errors are counted and the store serves), every
//! acknowledged write is readable afterwards, and no read returns a version older than one acknowledged before
//! the read started — in particular not the older entry that a promoted replica still holds because
//! replication is asynchronous, though no client may have seen an error (see `docs/repository.md`, "Redis
//! Cluster faults").

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

/// The slot of the bucket that holds `key`'s entries (on a cluster an entity's keys spread over
/// `CLUSTER_BUCKETS` hash tags, `{ledger/0}` … `{ledger/15}`).
async fn slot_of(cluster: &RedisCluster, key: &(String, i64)) -> u16 {
    let tier = RedisTier::connect(&cluster.url(), options("tags"))
        .await
        .unwrap();
    let tag = tier
        .entity::<Entry>(None, None)
        .unwrap()
        .hash_tag(key)
        .to_owned();
    cluster.keyslot(&tag).unwrap()
}

/// Ledger sequence numbers (of account `acct`) whose keys share one bucket, hence one slot: `n` of them,
/// starting with 0.
async fn seqs_in_one_slot(cluster: &RedisCluster, n: usize) -> Vec<i64> {
    let slot = slot_of(cluster, &("acct".to_owned(), 0)).await;
    let mut seqs = Vec::new();
    for seq in 0.. {
        if slot_of(cluster, &("acct".to_owned(), seq)).await == slot {
            seqs.push(seq);
            if seqs.len() == n {
                return seqs;
            }
        }
    }
    unreachable!()
}

/// The master of the slot that holds `key` and its replica, by port.
async fn master_and_replica(cluster: &RedisCluster, key: &(String, i64)) -> (u16, u16) {
    let slot = slot_of(cluster, key).await;
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

    let (master, replica) = master_and_replica(&cluster, &key).await;
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

/// Keys the workload writes and reads (spread over the ledger's buckets; the faults hit the slot of key 0).
const KEYS: i64 = 16;

/// Writers and readers of one strong entity, in two "processes" (each its own cluster connection), checking
/// every read against the versions acknowledged before it started.
struct Workload {
    stop: std::sync::atomic::AtomicBool,
    /// Per key, the newest version acknowledged to a writer.
    acked: Vec<std::sync::atomic::AtomicU64>,
    reads: std::sync::atomic::AtomicU64,
    writes: std::sync::atomic::AtomicU64,
    /// Reads older than a version acknowledged before they started, with what they read.
    stale: std::sync::Mutex<Vec<String>>,
    /// Operations that returned an error (the store is up: none may).
    failed: std::sync::Mutex<Vec<String>>,
}

impl Workload {
    /// Seeds every key (through `seed`) and returns the shared state.
    async fn seeded(seed: &Repository<Entry>) -> std::sync::Arc<Workload> {
        let versions = seed
            .put_many((0..KEYS).map(|seq| entry(seq, "seed")).collect())
            .await
            .unwrap();
        std::sync::Arc::new(Workload {
            stop: Default::default(),
            acked: versions.into_iter().map(Into::into).collect(),
            reads: Default::default(),
            writes: Default::default(),
            stale: Default::default(),
            failed: Default::default(),
        })
    }

    /// Starts `writers` writer tasks and `readers` reader tasks on each repository.
    fn spawn(
        self: &std::sync::Arc<Self>,
        repos: &[Repository<Entry>],
        writers: usize,
        readers: usize,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let mut tasks = Vec::new();
        for (p, repo) in repos.iter().enumerate() {
            for w in 0..writers {
                let (work, repo) = (self.clone(), repo.clone());
                tasks.push(tokio::spawn(async move {
                    work.write_loop(&repo, p * 100 + w).await
                }));
            }
            for r in 0..readers {
                let (work, repo) = (self.clone(), repo.clone());
                tasks.push(tokio::spawn(async move {
                    work.read_loop(&repo, p * 100 + r).await
                }));
            }
        }
        tasks
    }

    async fn write_loop(&self, repo: &Repository<Entry>, id: usize) {
        use std::sync::atomic::Ordering;
        let mut n = id;
        while !self.stop.load(Ordering::Acquire) {
            n += 7;
            let seq = (n as i64) % KEYS;
            match repo.put(entry(seq, &format!("w{id}-{n}"))).await {
                Ok(version) => {
                    self.acked[seq as usize].fetch_max(version, Ordering::AcqRel);
                    self.writes.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => self.failed.lock().unwrap().push(format!("put: {e}")),
            }
        }
    }

    async fn read_loop(&self, repo: &Repository<Entry>, id: usize) {
        use std::sync::atomic::Ordering;
        let mut n = id;
        while !self.stop.load(Ordering::Acquire) {
            n += 5;
            let first = (n as i64) % KEYS;
            // Every other read is a batch of four keys (one GET_MANY script for the lot).
            let seqs: Vec<i64> = match n % 2 {
                0 => vec![first],
                _ => (0..4).map(|i| (first + i) % KEYS).collect(),
            };
            let floors: Vec<u64> = seqs
                .iter()
                .map(|&s| self.acked[s as usize].load(Ordering::Acquire))
                .collect();
            let keys: Vec<(String, i64)> = seqs.iter().map(|&s| ("acct".to_owned(), s)).collect();
            let result = match keys.as_slice() {
                [key] => repo.get(key).await.map(|v| vec![Some(v)]),
                _ => repo.get_many(&keys).await,
            };
            match result {
                Ok(found) => {
                    for ((seq, floor), got) in seqs.iter().zip(floors).zip(found) {
                        let version = got.as_ref().map_or(0, |v| v.version);
                        if version < floor {
                            self.stale
                                .lock()
                                .unwrap()
                                .push(format!("key {seq}: read {version}, acknowledged {floor}"));
                        }
                    }
                    self.reads.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => self.failed.lock().unwrap().push(format!("get: {e}")),
            }
        }
    }

    /// Stops the tasks, waits for them, and checks what they saw; then every acknowledged write is what a
    /// fresh process (through Redis) and the store read.
    async fn finish(
        &self,
        tasks: Vec<tokio::task::JoinHandle<()>>,
        fresh: &Repository<Entry>,
        store: &Store,
    ) {
        use std::sync::atomic::Ordering;
        self.stop.store(true, Ordering::Release);
        for t in tasks {
            t.await.unwrap();
        }
        let stale = std::mem::take(&mut *self.stale.lock().unwrap());
        assert!(
            stale.is_empty(),
            "{} stale reads: {:?}",
            stale.len(),
            &stale[..stale.len().min(5)]
        );
        let failed = std::mem::take(&mut *self.failed.lock().unwrap());
        assert!(
            failed.is_empty(),
            "{} failed operations: {:?}",
            failed.len(),
            &failed[..failed.len().min(5)]
        );
        let keys: Vec<(String, i64)> = (0..KEYS).map(|s| ("acct".to_owned(), s)).collect();
        let through_redis = fresh.get_many(&keys).await.unwrap();
        let from_store = Repository::<Entry>::new(store.clone())
            .get_many(&keys)
            .await
            .unwrap();
        for (i, (cached, stored)) in through_redis.iter().zip(&from_store).enumerate() {
            let acked = self.acked[i].load(Ordering::Acquire);
            let stored = stored.as_ref().expect("every key was written").version;
            assert_eq!(
                stored, acked,
                "key {i}: the store holds the last acknowledged version"
            );
            assert_eq!(
                cached.as_ref().map(|v| v.version),
                Some(acked),
                "key {i} through Redis"
            );
        }
    }

    fn counts(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering;
        (
            self.reads.load(Ordering::Relaxed),
            self.writes.load(Ordering::Relaxed),
        )
    }
}

/// Polls (with a deadline) until the workload has done `more` reads and `more` writes beyond what it had.
async fn progress(work: &Workload, more: u64) {
    let (reads, writes) = work.counts();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while {
        let (r, w) = work.counts();
        r < reads + more || w < writes + more
    } {
        assert!(
            std::time::Instant::now() < deadline,
            "the workload stalled: {:?}",
            work.counts()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The workload rides through a failover of the entity's master: its replica is cut off from replication, writes
/// land on the master alone, the master fails, the replica (lacking those write-throughs) is taken over.
///
/// Not run with a hung master resumed during the load: requests queued on its connections may run there before
/// it learns it was replaced, and a write-through that lands there is lost without an error — the split-brain
/// window `docs/repository.md` names as not covered, which would make such a test pass or fail by timing.
/// Waits (10 s at most, the workload running) until `a` or `b` has read from Redis again since `hits_before`.
/// Progress alone cannot tell: while the tier skips Redis after a failure (its backoff) the store serves
/// thousands of operations in a few milliseconds.
async fn redis_serves_again(
    a: &Repository<Entry>,
    b: &Repository<Entry>,
    hits_before: u64,
    after: &str,
) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while a.stats().redis_hits + b.stats().redis_hits <= hits_before {
        assert!(
            std::time::Instant::now() < deadline,
            "Redis serves again after {after}: {:?} {:?}",
            a.stats(),
            b.stats()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn ride_through_failover(fault: MasterFault) {
    let cluster = std::sync::Arc::new(RedisCluster::start_with_replicas().unwrap());
    let (store, _dir) = sqlite().await;
    let a = process(&cluster, &store, "ride").await;
    let b = process(&cluster, &store, "ride").await;
    let work = Workload::seeded(&a).await;
    let tasks = work.spawn(&[a.clone(), b.clone()], 2, 2);
    progress(&work, 200).await;

    let (master, replica) = master_and_replica(&cluster, &("acct".to_owned(), 0)).await;
    let c = cluster.clone();
    blocking(move || c.cut_replication(node(&c, replica)).unwrap()).await;
    progress(&work, 100).await;
    match fault {
        MasterFault::Killed => node(&cluster, master).kill().unwrap(),
        MasterFault::Hung => node(&cluster, master).hang().unwrap(),
    }
    let c = cluster.clone();
    blocking(move || c.take_over(node(&c, replica)).unwrap()).await;
    let hits_before = a.stats().redis_hits + b.stats().redis_hits;
    progress(&work, 300).await;
    redis_serves_again(&a, &b, hits_before, "the failover").await;

    let fresh = process(&cluster, &store, "ride").await;
    work.finish(tasks, &fresh, &store).await;
    let (sa, sb) = (a.stats(), b.stats());
    eprintln!(
        "ride-through failover ({fault:?}): {:?}; a {sa:?}; b {sb:?}",
        work.counts()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_and_readers_ride_through_a_master_killed_and_taken_over() {
    ride_through_failover(MasterFault::Killed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_and_readers_ride_through_the_slot_moving_to_another_master() {
    let cluster = std::sync::Arc::new(RedisCluster::start_with_replicas().unwrap());
    let (store, _dir) = sqlite().await;
    let a = process(&cluster, &store, "move").await;
    let b = process(&cluster, &store, "move").await;
    let work = Workload::seeded(&a).await;
    let tasks = work.spawn(&[a.clone(), b.clone()], 2, 2);
    progress(&work, 200).await;

    // The slot of key 0's bucket moves a few keys at a time while the workload runs: the scripts meet keys on
    // both sides (ASK redirects, "non local key" script errors, TRYAGAIN), the generation key included at some
    // point.
    let slot = slot_of(&cluster, &("acct".to_owned(), 0)).await;
    let from = cluster.master_of_slot(slot).unwrap().port();
    let to = cluster.other_master(slot).unwrap().port();
    let c = cluster.clone();
    blocking(move || {
        c.begin_slot_migration(slot, node(&c, from), node(&c, to))
            .unwrap()
    })
    .await;
    loop {
        let c = cluster.clone();
        let moved = blocking(move || {
            let keys = c.keys_in_slot(node(&c, from), slot, 3).unwrap();
            c.migrate_keys(node(&c, from), node(&c, to), &keys).unwrap();
            keys.len()
        })
        .await;
        if moved == 0 {
            break;
        }
        progress(&work, 5).await;
    }
    let c = cluster.clone();
    blocking(move || c.finish_slot_migration(slot, node(&c, to)).unwrap()).await;
    let hits_before = a.stats().redis_hits + b.stats().redis_hits;
    progress(&work, 300).await;
    redis_serves_again(&a, &b, hits_before, "the move").await;

    let fresh = process(&cluster, &store, "move").await;
    work.finish(tasks, &fresh, &store).await;
    let (sa, sb) = (a.stats(), b.stats());
    eprintln!(
        "ride-through slot move: {:?}; a {sa:?}; b {sb:?}",
        work.counts()
    );

    // Everything of the slot now lives on the new master, and the entity's scripts still keep the newest
    // version.
    assert_eq!(cluster.master_of_slot(slot).unwrap().port(), to);
    let c = cluster.clone();
    let left = blocking(move || c.keys_in_slot(node(&c, from), slot, 100).unwrap()).await;
    assert!(left.is_empty(), "{left:?}");
    let tier = RedisTier::connect(&cluster.url(), options("move"))
        .await
        .unwrap();
    let l2 = tier.entity::<Entry>(None, None).unwrap();
    let key = ("acct".to_owned(), 1000);
    let seen = l2.observe(std::slice::from_ref(&key)).await;
    l2.set_if_newer(&key, &entry(1000, "newer"), 20, &seen)
        .await
        .unwrap();
    l2.set_if_newer(&key, &entry(1000, "older"), 10, &seen)
        .await
        .unwrap();
    match &l2.get_many(std::slice::from_ref(&key)).await.unwrap().1[0] {
        capacitor::redis::Cached::Hit(v) => {
            assert_eq!((v.version, v.value.memo.as_str()), (20, "newer"))
        }
        other => panic!("{other:?}"),
    }
}

/// Polls `op` (with a deadline) until it returns `Some`.
async fn eventually<T, F: Future<Output = Option<T>>>(what: &str, mut op: impl FnMut() -> F) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = op().await {
            return value;
        }
        assert!(std::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The slot moves one step at a time under the scripts, each step checked: a data key gone to the importing
/// node (the script on the source cannot reach it: a counted error, the store serves), the generation key gone
/// (scripts follow `ASK` to the importing node, which starts a new generation there before anything else), the
/// old generation's keys moved last without colliding with what was written on the importing node meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_on_a_half_migrated_slot_never_serve_a_stale_entry() {
    let cluster = std::sync::Arc::new(RedisCluster::start().unwrap());
    let (store, _dir) = sqlite().await;
    let a = process(&cluster, &store, "steps").await;
    // Four keys of one bucket, so the whole batch is one script on the migrating slot.
    let seqs = seqs_in_one_slot(&cluster, 4).await;
    let keys: Vec<(String, i64)> = seqs.iter().map(|&s| ("acct".to_owned(), s)).collect();
    let mut versions = a
        .put_many(seqs.iter().map(|&s| entry(s, "one")).collect())
        .await
        .unwrap();
    let check = |got: Vec<Option<capacitor::Versioned<Entry>>>, versions: &[u64]| {
        let got: Vec<u64> = got.into_iter().map(|v| v.unwrap().version).collect();
        assert_eq!(got, versions);
    };
    check(a.get_many(&keys).await.unwrap(), &versions);
    assert_eq!(a.stats().redis_hits, 4, "{:?}", a.stats());

    let slot = slot_of(&cluster, &keys[0]).await;
    let from = cluster.master_of_slot(slot).unwrap().port();
    let to = cluster.other_master(slot).unwrap().port();
    let c = cluster.clone();
    let held = blocking(move || {
        c.begin_slot_migration(slot, node(&c, from), node(&c, to))
            .unwrap();
        c.keys_in_slot(node(&c, from), slot, 100).unwrap()
    })
    .await;
    let held_key = |suffix: &str| held.iter().find(|k| k.ends_with(suffix)).unwrap().clone();
    let (gen_key, key0) = (held_key(":gen"), held_key(&format!(";i{};", seqs[0])));

    // Step 1: the entry of key 0 moves alone. The batch script runs on the source (it holds the generation
    // key) and cannot read it there: an error, counted; the store serves the batch.
    let c = cluster.clone();
    blocking(move || {
        c.migrate_keys(node(&c, from), node(&c, to), &[key0])
            .unwrap()
    })
    .await;
    check(a.get_many(&keys).await.unwrap(), &versions);
    assert!(a.stats().redis_errors >= 1, "{:?}", a.stats());
    // After that error the process starts a new generation (on the source, which holds the generation key),
    // whose entries cannot be created there while the slot migrates (a missing key belongs to the importing
    // node): until the generation key moves, the entity's scripts fail, counted, and the store serves.
    versions[1] = a.put(entry(seqs[1], "two")).await.unwrap();
    check(a.get_many(&keys).await.unwrap(), &versions);

    // Step 2: the generation key moves. Scripts follow ASK to the importing node, which sees a generation made
    // in another history and starts a new one: the old generation's entries, on either node, are never read.
    let c = cluster.clone();
    blocking(move || {
        c.migrate_keys(node(&c, from), node(&c, to), &[gen_key])
            .unwrap()
    })
    .await;
    eventually("Redis is used again after the backoff", || {
        let (a, keys, versions) = (a.clone(), keys.clone(), versions.clone());
        async move {
            let errors = a.stats().redis_errors;
            let got = a.get_many(&keys).await.unwrap();
            let got: Vec<u64> = got.into_iter().map(|v| v.unwrap().version).collect();
            assert_eq!(got, versions);
            (a.stats().redis_errors == errors).then_some(())
        }
    })
    .await;
    versions[2] = a.put(entry(seqs[2], "two")).await.unwrap();
    check(a.get_many(&keys).await.unwrap(), &versions);

    // Step 3: the rest of the old generation moves (MIGRATE fails on a key the target already has: nothing of
    // the new generation collides), and the slot is handed over.
    let c = cluster.clone();
    blocking(move || {
        let rest = c.keys_in_slot(node(&c, from), slot, 100).unwrap();
        assert!(!rest.is_empty());
        c.migrate_keys(node(&c, from), node(&c, to), &rest).unwrap();
        c.finish_slot_migration(slot, node(&c, to)).unwrap();
    })
    .await;
    versions[3] = a.put(entry(seqs[3], "two")).await.unwrap();
    let late = process(&cluster, &store, "steps").await;
    for repo in [&a, &late] {
        check(repo.get_many(&keys).await.unwrap(), &versions);
    }
    assert!(late.stats().redis_hits > 0, "{:?}", late.stats());
    assert!(raw_versions(node(&cluster, from)).is_empty());
}

/// The same history check on a single server: Redis restarts WITH its data (an entry that missed a write while
/// it was down), and the only process that reads afterwards connected after the restart, so it never saw a
/// failure and the writer has not touched Redis since. The restarted server's new replication ID makes the
/// first script start a new generation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_connecting_after_a_restart_with_data_never_reads_a_missed_write() {
    let server = RedisServer::start_persistent().unwrap();
    let (store, _dir) = sqlite().await;
    let connect = || async {
        let tier = RedisTier::connect(&server.url(), options("restart"))
            .await
            .unwrap();
        Repository::<Entry>::builder(store.clone())
            .redis(tier)
            .build()
    };
    let writer = connect().await;
    let key = ("acct".to_owned(), 1);
    writer.put(entry(1, "one")).await.unwrap();
    server.stop().unwrap();
    // Acknowledged from the store after the write-through fails (Redis is down).
    let v2 = writer.put(entry(1, "two")).await.unwrap();
    assert!(writer.stats().redis_errors > 0, "{:?}", writer.stats());
    server.restart().unwrap();
    assert_eq!(
        raw_versions(&server).len(),
        1,
        "Redis came back with the entry of v1"
    );

    let late = connect().await;
    let read = late.get(&key).await.unwrap();
    assert_eq!((read.version, read.value.memo.as_str()), (v2, "two"));
    assert_eq!(late.stats().redis_errors, 0, "{:?}", late.stats());
    // Redis serves it from now on (the fill went into the new generation).
    assert_eq!(late.get(&key).await.unwrap().version, v2);
    assert_eq!(late.stats().redis_hits, 1, "{:?}", late.stats());
}
