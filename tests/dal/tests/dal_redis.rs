//! The repository with a real Redis (L2): promotion between processes, version compare-and-set, and the
//! faults the issue lists — Redis hung (SIGSTOP), Redis stopped during writes and restarted WITH its data,
//! delete + re-insert.

use capacitor::redis::{Cached, RedisOptions, RedisTier};
use capacitor::{Repository, Store};
use capacitor_dal_tests::{Account, Entry, account};
use capacitor_testkit::redis::RedisServer;
use std::time::{Duration, Instant};

async fn tier(server: &RedisServer, prefix: &str) -> RedisTier {
    RedisTier::connect(
        &server.url(),
        RedisOptions {
            prefix: prefix.to_owned(),
            timeout: Duration::from_millis(100),
            write_timeout: Duration::from_millis(300),
            backoff: Duration::from_millis(200),
            ..RedisOptions::default()
        },
    )
    .await
    .expect("connects to the test server")
}

/// Two repositories on one store and one Redis, each with its own connection and L1: two processes.
async fn two_processes<E: capacitor::Record>(
    server: &RedisServer,
    prefix: &str,
) -> (Repository<E>, Repository<E>) {
    let store = Store::memory();
    let a = Repository::builder(store.clone())
        .redis(tier(server, prefix).await)
        .build();
    let b = Repository::builder(store)
        .redis(tier(server, prefix).await)
        .build();
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_promote_from_redis_and_strong_reads_see_acknowledged_writes() {
    let server = RedisServer::start().unwrap();
    let (a, b) = two_processes::<Entry>(&server, "promote").await;
    let key = ("acct".to_owned(), 1);
    let entry = |memo: &str| Entry {
        account: "acct".into(),
        seq: 1,
        memo: memo.into(),
    };
    a.put(entry("one")).await.unwrap();
    assert_eq!(b.get(&key).await.unwrap().value.memo, "one");
    let stats = b.stats();
    assert_eq!((stats.redis_hits, stats.store_hits), (1, 0), "{stats:?}");

    // Strong: after a's write is acknowledged, b reads it (b has no L1; Redis holds the new version).
    for i in 0..20 {
        let memo = format!("v{i}");
        a.put(entry(&memo)).await.unwrap();
        assert_eq!(b.get(&key).await.unwrap().value.memo, memo);
    }
    a.delete(&key).await.unwrap();
    assert!(b.get(&key).await.unwrap_err().is_not_found());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_keeps_the_newest_version() {
    let server = RedisServer::start().unwrap();
    let l2 = tier(&server, "cas")
        .await
        .entity::<Account>(None, None)
        .unwrap();
    let k = "k".to_owned();
    let (generation, _) = l2.get_many(std::slice::from_ref(&k)).await.unwrap();
    // What a writer takes before its store commit.
    let seen = l2.observe(std::slice::from_ref(&k)).await;
    l2.set_if_newer(&k, &account("k", 2), 2, &seen)
        .await
        .unwrap();
    // The stale miss-fill: v1 read from the store before v2 was cached.
    l2.fill_if_newer(&generation, &[(k.clone(), Some(account("k", 1)), 1)])
        .await
        .unwrap();
    match &l2.get_many(std::slice::from_ref(&k)).await.unwrap().1[0] {
        Cached::Hit(v) => assert_eq!((v.version, v.value.balance), (2, 2)),
        other => panic!("{other:?}"),
    }
    // A tombstone outranks older values, and the live value of its own version.
    l2.set_many_if_newer(&[(k.clone(), None, 3)], &seen)
        .await
        .unwrap();
    l2.fill_if_newer(&generation, &[(k.clone(), Some(account("k", 2)), 2)])
        .await
        .unwrap();
    l2.set_if_newer(&k, &account("k", 3), 3, &seen)
        .await
        .unwrap();
    assert_eq!(
        l2.get_many(std::slice::from_ref(&k)).await.unwrap().1[0],
        Cached::Deleted(3)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_use_one_round_trip_per_tier_and_fill_redis() {
    let server = RedisServer::start().unwrap();
    let (a, b) = two_processes::<Account>(&server, "batch").await;
    let values: Vec<Account> = (0..50).map(|i| account(&format!("k{i}"), i)).collect();
    a.put_many(values).await.unwrap();
    let keys: Vec<String> = (0..60).map(|i| format!("k{i}")).collect();
    let got = b.get_many(&keys).await.unwrap();
    assert_eq!(got.iter().filter(|v| v.is_some()).count(), 50);
    assert_eq!(got[7].as_ref().unwrap().value.balance, 7);
    let stats = b.stats();
    assert_eq!(
        (stats.redis_hits, stats.redis_misses),
        (50, 10),
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_redis_costs_the_timeout_not_the_request() {
    let server = RedisServer::start().unwrap();
    let (accounts, _) = two_processes::<Account>(&server, "hang").await;
    let (ledger, _) = two_processes::<Entry>(&server, "hang-strong").await;
    accounts.put(account("k0", 0)).await.unwrap();
    server.hang().unwrap();

    // Eventual entity: reads and write-throughs pay the 100 ms timeout, then Redis is skipped for the backoff.
    let started = Instant::now();
    for i in 1..=20 {
        let id = format!("k{i}");
        accounts.put(account(&id, i)).await.unwrap();
        assert_eq!(accounts.get(&id).await.unwrap().value.balance, i);
    }
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    assert!(accounts.stats().redis_errors > 0);

    // Strong entity: the write-through is never skipped; it waits at most the 300 ms write timeout.
    let started = Instant::now();
    ledger
        .put(Entry {
            account: "x".into(),
            seq: 1,
            memo: "m".into(),
        })
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
    assert_eq!(ledger.get(&("x".to_owned(), 1)).await.unwrap().value.seq, 1);
    server.resume().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_with_its_data_never_serves_a_missed_write() {
    let server = RedisServer::start_persistent().unwrap();
    let (a, b) = two_processes::<Entry>(&server, "restart").await;
    let key = ("acct".to_owned(), 1);
    let entry = |memo: &str| Entry {
        account: "acct".into(),
        seq: 1,
        memo: memo.into(),
    };
    a.put(entry("before")).await.unwrap();
    assert_eq!(b.get(&key).await.unwrap().value.memo, "before"); // cached in Redis

    server.stop().unwrap();
    a.put(entry("while-down")).await.unwrap(); // commits to the store; misses Redis
    // b does not touch Redis while it is down.
    server.restart().unwrap(); // back WITH "before" in its data

    // b reads first: its connection broke with the restart, so it too bumps the generation before serving
    // anything from Redis (its first attempt may fail and fall back to the store).
    for _ in 0..30 {
        let memo = b.get(&key).await.unwrap().value.memo;
        assert_eq!(memo, "while-down", "b served the stale entry");
        let memo = a.get(&key).await.unwrap().value.memo;
        assert_eq!(memo, "while-down", "a served the stale entry");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(a.stats().redis_errors > 0);
    // Redis is used again once the backoff is over.
    let hits = b.stats().redis_hits;
    b.get(&key).await.unwrap();
    assert!(b.stats().redis_hits > hits, "{:?}", b.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_and_reinsert_never_resurrects_an_old_copy() {
    let server = RedisServer::start().unwrap();
    // Strong entity: both processes must see every acknowledged insert and delete at once.
    let (a, b) = two_processes::<Entry>(&server, "reinsert").await;
    let key = ("acct".to_owned(), 1);
    for round in 0..10 {
        let memo = format!("round {round}");
        a.insert(Entry {
            account: "acct".into(),
            seq: 1,
            memo: memo.clone(),
        })
        .await
        .unwrap();
        assert_eq!(b.get(&key).await.unwrap().value.memo, memo);
        assert!(a.delete(&key).await.unwrap());
        assert!(
            b.get(&key).await.unwrap_err().is_not_found(),
            "round {round}"
        );
    }
    // Eventual entity, one process: its own L1 and Redis hold tombstones after the delete.
    let (a, _) = two_processes::<Account>(&server, "reinsert-eventual").await;
    let k = "k".to_owned();
    for round in 0..10 {
        a.insert(account("k", round)).await.unwrap();
        assert_eq!(a.get(&k).await.unwrap().value.balance, round);
        assert!(a.delete(&k).await.unwrap());
        assert!(a.get(&k).await.unwrap_err().is_not_found());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_carry_the_prefix_table_hash_tag_and_fingerprint() {
    let server = RedisServer::start().unwrap();
    let (a, _) = two_processes::<Account>(&server, "layout").await;
    a.put(account("k", 1)).await.unwrap();
    let out = std::process::Command::new("redis-cli")
        .args([
            "-p",
            &server.port().to_string(),
            "--scan",
            "--pattern",
            "layout:*",
        ])
        .output()
        .expect("redis-cli from the redis-tools package");
    let keys = String::from_utf8_lossy(&out.stdout);
    let key = keys
        .lines()
        .find(|k| !k.ends_with(":gen"))
        .expect("one data key");
    let parts: Vec<&str> = key.split(':').collect();
    assert_eq!(parts[..2], ["layout", "{accounts}"], "{key}");
    assert!(
        parts[2].len() == 16 && parts[2].bytes().all(|b| b.is_ascii_hexdigit()),
        "the schema fingerprint: {key}"
    );
    // A new generation record starts at the server's clock in microseconds (not 0: a record that vanished,
    // evicted or deleted, must not bring back generations whose entries may still be alive).
    let generation: u64 = parts[3].parse().expect("a decimal generation");
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    assert!(
        generation <= now_us && now_us - generation < 60_000_000,
        "{key}"
    );
    assert_eq!(parts[4..], ["s1", "k;"], "the key token: {key}");
}

/// On a single server, reads skip the scripts once one has checked the generation record on the connection: one
/// plain `MGET` of the record and the data keys. The record it returns must still be the checked one, so a
/// generation started meanwhile by another process (written here by hand, as that process's bump would) retires
/// the entries of the old one for this reader at once: an entry that missed a write is never served. A restart
/// breaks the connection, which puts the reads back on the script (`redis_restarted_with_its_data_never_serves_a_missed_write`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_reads_never_serve_an_entry_of_a_retired_generation() {
    let server = RedisServer::start().unwrap();
    let store = Store::memory();
    let reader: Repository<Entry> = Repository::builder(store.clone())
        .redis(tier(&server, "plain").await)
        .build();
    let writer: Repository<Entry> = Repository::builder(store.clone())
        .redis(tier(&server, "plain").await)
        .build();
    let key = ("acct".to_owned(), 1);
    let entry = |memo: &str| Entry {
        account: "acct".into(),
        seq: 1,
        memo: memo.into(),
    };
    let calls = |command: &str| -> u64 {
        let stats = server.cli(&["info", "commandstats"]).unwrap();
        stats
            .lines()
            .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:calls=")))
            .and_then(|rest| rest.split(',').next())
            .map_or(0, |n| n.parse().unwrap())
    };

    writer.put(entry("one")).await.unwrap();
    for _ in 0..3 {
        assert_eq!(reader.get(&key).await.unwrap().value.memo, "one");
    }
    assert_eq!(reader.stats().redis_hits, 3, "{:?}", reader.stats());
    let (scripts, plain) = (calls("evalsha"), calls("mget"));
    for _ in 0..10 {
        assert_eq!(reader.get(&key).await.unwrap().value.memo, "one");
    }
    assert_eq!(calls("evalsha"), scripts, "hits run no script");
    assert_eq!(calls("mget"), plain + 10, "one MGET per hit");

    // A write reaches the store but not Redis (another process's write-through failed), and that process starts
    // a new generation, as it does before it uses Redis again.
    let v2 = Repository::<Entry>::new(store.clone())
        .put(entry("two"))
        .await
        .unwrap();
    start_new_generation(&server, "plain");

    let read = reader.get(&key).await.unwrap();
    assert_eq!((read.version, read.value.memo.as_str()), (v2, "two"));
    // The script ran again, refilled the new generation, and the plain reads serve it.
    for _ in 0..3 {
        assert_eq!(reader.get(&key).await.unwrap().version, v2);
    }
    assert_eq!(reader.stats().redis_errors, 0, "{:?}", reader.stats());
}

/// Starts the next generation of the one entity under `prefix`, as another process does after a failure it saw.
fn start_new_generation(server: &RedisServer, prefix: &str) {
    let gen_key = server.cli(&["keys", &format!("{prefix}:*:gen")]).unwrap();
    let gen_key = gen_key.trim();
    let record = server.cli(&["get", gen_key]).unwrap();
    let (generation, history) = record.trim().split_once(' ').unwrap();
    let bumped = format!("{} {history}", generation.parse::<u64>().unwrap() + 1);
    server.cli(&["set", gen_key, &bumped]).unwrap();
}

/// The race behind a stale strong read seen once under a live slot migration
/// (`dal_redis_cluster_faults.rs`, `writers_and_readers_ride_through_the_slot_moving_to_another_master`): v1
/// and v2 are committed in that order by writers that had seen generation g, v2's write-through lands in g and
/// v2 is acknowledged, a new generation begins (any process's bump after a failure), and only then does v1's
/// write-through — sent before the bump, delayed (a retried script, a descheduled task) — reach Redis. Had it
/// created an entry, the new generation would serve v1 after v2 was acknowledged. A write-through creates an
/// entry only in the generation its writer had seen before the commit; elsewhere it updates an entry a read
/// filled and otherwise leaves a fence (the version, no value), read as a miss, which no older fill passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_delayed_past_a_new_generation_never_serves_an_older_version() {
    let server = RedisServer::start().unwrap();
    let l2 = tier(&server, "late")
        .await
        .entity::<Account>(None, None)
        .unwrap();
    let k = "k".to_owned();
    let lookup = || async { l2.get_many(std::slice::from_ref(&k)).await.unwrap() };

    let seen = l2.observe(std::slice::from_ref(&k)).await;
    l2.set_if_newer(&k, &account("k", 2), 2, &seen)
        .await
        .unwrap();
    start_new_generation(&server, "late");
    // v1's write-through, sent before the bump, arrives after it.
    l2.set_if_newer(&k, &account("k", 1), 1, &seen)
        .await
        .unwrap();
    let (generation, found) = lookup().await;
    assert_eq!(found[0], Cached::Miss, "the late v1 is not served");
    // A fill that read v0 before v1 was committed cannot pass v1's fence; one that read v2 can.
    l2.fill_if_newer(&generation, &[(k.clone(), Some(account("k", 0)), 0)])
        .await
        .unwrap();
    assert_eq!(lookup().await.1[0], Cached::Miss);
    l2.fill_if_newer(&generation, &[(k.clone(), Some(account("k", 2)), 2)])
        .await
        .unwrap();
    match &lookup().await.1[0] {
        Cached::Hit(v) => assert_eq!((v.version, v.value.balance), (2, 2)),
        other => panic!("{other:?}"),
    }
    // Once filled, write-throughs from before the bump update the entry (newer versions only), deletes too.
    l2.set_if_newer(&k, &account("k", 3), 3, &seen)
        .await
        .unwrap();
    l2.set_if_newer(&k, &account("k", 1), 1, &seen)
        .await
        .unwrap();
    match &lookup().await.1[0] {
        Cached::Hit(v) => assert_eq!((v.version, v.value.balance), (3, 3)),
        other => panic!("{other:?}"),
    }
    l2.set_many_if_newer(&[(k.clone(), None, 4)], &seen)
        .await
        .unwrap();
    assert_eq!(lookup().await.1[0], Cached::Deleted(4));
    // A delete written through into a generation its writer had not seen leaves a fence, not a tombstone.
    start_new_generation(&server, "late");
    l2.set_many_if_newer(&[(k.clone(), None, 5)], &seen)
        .await
        .unwrap();
    let (generation, found) = lookup().await;
    assert_eq!(found[0], Cached::Miss);
    l2.fill_if_newer(&generation, &[(k.clone(), Some(account("k", 4)), 4)])
        .await
        .unwrap();
    assert_eq!(
        lookup().await.1[0],
        Cached::Miss,
        "a fill older than the delete"
    );
    // A writer that had seen the current generation (its last script returned it) creates the entry.
    let current = l2.observe(std::slice::from_ref(&k)).await;
    assert_ne!(current, seen);
    l2.set_if_newer(&k, &account("k", 6), 6, &current)
        .await
        .unwrap();
    match &lookup().await.1[0] {
        Cached::Hit(v) => assert_eq!((v.version, v.value.balance), (6, 6)),
        other => panic!("{other:?}"),
    }
}

/// A generation record that vanishes (evicted under an `allkeys-*` memory policy, or deleted) must not bring
/// back the entries of the generations it had counted through: they may have missed writes. A new record starts
/// at the server's clock, so it names a generation no entry was written in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_generation_record_never_brings_back_its_entries() {
    let server = RedisServer::start().unwrap();
    let l2 = tier(&server, "vanish")
        .await
        .entity::<Account>(None, None)
        .unwrap();
    let k = "k".to_owned();
    let (generation, _) = l2.get_many(std::slice::from_ref(&k)).await.unwrap();
    l2.fill_if_newer(&generation, &[(k.clone(), Some(account("k", 1)), 1)])
        .await
        .unwrap();
    assert!(matches!(
        &l2.get_many(std::slice::from_ref(&k)).await.unwrap().1[0],
        Cached::Hit(v) if v.version == 1
    ));
    let gen_key = server.cli(&["keys", "vanish:*:gen"]).unwrap();
    server.cli(&["del", gen_key.trim()]).unwrap();
    let (after, found) = l2.get_many(std::slice::from_ref(&k)).await.unwrap();
    assert_eq!(found[0], Cached::Miss);
    assert_ne!(after, generation);
}

/// Generations are told apart by their whole record (number and history), not the number: a replica promoted
/// after its master made generation g, that missed that bump (and so every entry of g), holds the record of
/// g - 1 and starts "g" again in its own history. A write-through whose writer had seen the old g must not
/// create an entry there: the newer version acknowledged in the old g is lost with it. Simulated on one server:
/// that state, then a restart (which gives the node a new history, as a promotion does).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generation_number_reused_in_another_history_is_another_generation() {
    let server = RedisServer::start_persistent().unwrap();
    let l2 = tier(&server, "history")
        .await
        .entity::<Account>(None, None)
        .unwrap();
    let k = "k".to_owned();
    let seen = l2.observe(std::slice::from_ref(&k)).await;
    l2.set_if_newer(&k, &account("k", 2), 2, &seen)
        .await
        .unwrap();

    let gen_key = server.cli(&["keys", "history:*:gen"]).unwrap();
    let gen_key = gen_key.trim();
    let record = server.cli(&["get", gen_key]).unwrap();
    let (generation, history) = record.trim().split_once(' ').unwrap();
    let g: u64 = generation.parse().unwrap();
    let entries = server.cli(&["keys", &format!("history:*:{g}:*")]).unwrap();
    for key in entries.lines().filter(|k| !k.is_empty()) {
        server.cli(&["del", key]).unwrap();
    }
    server
        .cli(&["set", gen_key, &format!("{} {history}", g - 1)])
        .unwrap();
    server.restart().unwrap();

    // A process that saw no failure (it connects only now) sends the late write-through of v1, committed before
    // v2 by a writer that had seen g in the old history; its script starts the next generation first.
    let late = tier(&server, "history")
        .await
        .entity::<Account>(None, None)
        .unwrap();
    late.set_if_newer(&k, &account("k", 1), 1, &seen)
        .await
        .unwrap();
    let record = server.cli(&["get", gen_key]).unwrap();
    let (number, new_history) = record.trim().split_once(' ').unwrap();
    assert_eq!(number, generation, "the scenario: generation g again");
    assert_ne!(new_history, history, "the scenario: in another history");
    assert_eq!(
        late.get_many(std::slice::from_ref(&k)).await.unwrap().1[0],
        Cached::Miss,
        "the late v1 is not served"
    );
}
