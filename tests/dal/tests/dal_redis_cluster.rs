//! The Redis tier against a Redis Cluster (three masters from the testkit, `redis+cluster://` URL): reads,
//! write-through, batches and the compare-and-set scripts. On a cluster each entity's keys spread over
//! `CLUSTER_BUCKETS` hash tags (`{accounts/0}` … `{accounts/15}`), slots of their own, so the client routes each
//! bucket's scripts to its node, and every key one script touches shares that bucket's slot.

use capacitor::redis::{Cached, RedisOptions, RedisTier};
use capacitor::{Repository, Store};
use capacitor_dal_tests::{Account, Entry, Kinds, account};
use capacitor_testkit::redis::RedisCluster;
use std::time::Duration;

async fn tier(cluster: &RedisCluster, prefix: &str) -> RedisTier {
    RedisTier::connect(
        &cluster.url(),
        RedisOptions {
            prefix: prefix.to_owned(),
            // Generous: the cluster client's first requests also fetch the slot map.
            timeout: Duration::from_millis(500),
            write_timeout: Duration::from_secs(1),
            ..RedisOptions::default()
        },
    )
    .await
    .expect("connects to the test cluster")
}

/// Two repositories on one store and one cluster, each with its own connection and L1: two processes.
async fn two_processes<E: capacitor::Record>(
    cluster: &RedisCluster,
    store: &Store,
    prefix: &str,
) -> (Repository<E>, Repository<E>) {
    let a = Repository::builder(store.clone())
        .redis(tier(cluster, prefix).await)
        .build();
    let b = Repository::builder(store.clone())
        .redis(tier(cluster, prefix).await)
        .build();
    (a, b)
}

/// Keys held by each node (`DBSIZE` over a plain connection to it).
async fn keys_per_node(cluster: &RedisCluster) -> Vec<i64> {
    let mut sizes = Vec::new();
    for node in cluster.nodes() {
        let client = redis::Client::open(node.url()).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        sizes.push(redis::cmd("DBSIZE").query_async(&mut c).await.unwrap());
    }
    sizes
}

fn entry(seq: i64, memo: &str) -> Entry {
    Entry {
        account: "acct".into(),
        seq,
        memo: memo.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repositories_of_several_entities_work_through_a_cluster() {
    let cluster = RedisCluster::start().unwrap();
    let store = Store::memory();

    // Eventual entity (L1 + Redis): a batch written by one process is read by the other from Redis.
    let (a, b) = two_processes::<Account>(&cluster, &store, "cluster").await;
    let values: Vec<Account> = (0..20).map(|i| account(&format!("k{i}"), i)).collect();
    a.put_many(values).await.unwrap();
    let keys: Vec<String> = (0..25).map(|i| format!("k{i}")).collect();
    let got = b.get_many(&keys).await.unwrap();
    assert_eq!(got.iter().filter(|v| v.is_some()).count(), 20);
    assert_eq!(got[7].as_ref().unwrap().value.balance, 7);
    let stats = b.stats();
    assert_eq!(
        (stats.redis_hits, stats.redis_misses, stats.redis_errors),
        (20, 5, 0),
        "{stats:?}"
    );
    // Promoted into b's L1 by the batch read.
    assert_eq!(b.get(&"k3".to_owned()).await.unwrap().value.balance, 3);
    assert_eq!(b.stats().l1_hits, 1, "{:?}", b.stats());
    assert!(a.delete(&"k3".to_owned()).await.unwrap());
    assert!(a.get(&"k3".to_owned()).await.unwrap_err().is_not_found());

    // Strong entity (no L1, composite key): every acknowledged write is what the other process reads next.
    let (c, d) = two_processes::<Entry>(&cluster, &store, "cluster").await;
    let key = ("acct".to_owned(), 1);
    let v1 = c.insert(entry(1, "one")).await.unwrap();
    assert_eq!(d.get(&key).await.unwrap().value.memo, "one");
    let v2 = c.update(entry(1, "two"), v1).await.unwrap();
    let read = d.get(&key).await.unwrap();
    assert_eq!((read.value.memo.as_str(), read.version), ("two", v2));
    assert!(c.delete(&key).await.unwrap());
    assert!(d.get(&key).await.unwrap_err().is_not_found());
    let stats = d.stats();
    assert_eq!(
        (stats.redis_hits, stats.store_hits, stats.redis_errors),
        (3, 0, 0),
        "d read everything from Redis (the tombstone too): {stats:?}"
    );
    c.put_many((2..12).map(|seq| entry(seq, "batch")).collect())
        .await
        .unwrap();
    let keys: Vec<(String, i64)> = (2..12).map(|seq| ("acct".to_owned(), seq)).collect();
    let got = d.get_many(&keys).await.unwrap();
    assert!(
        got.iter()
            .all(|v| v.as_ref().unwrap().value.memo == "batch")
    );
    assert_eq!(c.delete_many(&keys[..5]).await.unwrap(), 5);
    let got = d.get_many(&keys).await.unwrap();
    assert_eq!(got.iter().filter(|v| v.is_some()).count(), 5);
    assert_eq!(d.stats().redis_errors, 0, "{:?}", d.stats());

    // A third entity: a miss read from the store fills Redis (the generation-checked fill script), so the
    // other process then hits Redis.
    let (e, f) = two_processes::<Kinds>(&cluster, &store, "cluster").await;
    let kinds = |id: u64| Kinds {
        id,
        json: "{}".into(),
        ..Kinds::default()
    };
    Repository::<Kinds>::new(store.clone())
        .put(kinds(1))
        .await
        .unwrap(); // store only
    assert_eq!(e.get(&1).await.unwrap().value.id, 1);
    assert_eq!((e.stats().store_hits, e.stats().promotions), (1, 1));
    assert_eq!(f.get(&1).await.unwrap().value.id, 1);
    assert_eq!((f.stats().redis_hits, f.stats().store_hits), (1, 0));

    // The entities' buckets fall on the three masters: the client routed each bucket to its node.
    let sizes = keys_per_node(&cluster).await;
    assert!(sizes.iter().all(|&n| n > 0), "keys per node: {sizes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_and_set_scripts_keep_the_newest_version_on_a_cluster() {
    let cluster = RedisCluster::start().unwrap();
    let tier = tier(&cluster, "cas").await;
    let accounts = tier.entity::<Account>(None, None).unwrap();
    let ledger = tier.entity::<Entry>(None, None).unwrap();

    let k = "k".to_owned();
    // What a writer takes before its store commit (here nothing changes the generation after it).
    let seen = accounts.observe(std::slice::from_ref(&k)).await;
    accounts
        .set_if_newer(&k, &account("k", 2), 2, &seen)
        .await
        .unwrap();
    // The stale miss-fill: v1 read from the store before v2 was cached.
    accounts
        .set_if_newer(&k, &account("k", 1), 1, &seen)
        .await
        .unwrap();
    match &accounts.get_many(std::slice::from_ref(&k)).await.unwrap().1[0] {
        Cached::Hit(v) => assert_eq!((v.version, v.value.balance), (2, 2)),
        other => panic!("{other:?}"),
    }
    // A tombstone outranks the live value of its own version and older writes.
    accounts
        .set_many_if_newer(&[(k.clone(), None, 3)], &seen)
        .await
        .unwrap();
    accounts
        .set_if_newer(&k, &account("k", 3), 3, &seen)
        .await
        .unwrap();
    assert_eq!(
        accounts.get_many(std::slice::from_ref(&k)).await.unwrap().1[0],
        Cached::Deleted(3)
    );

    // A batch fill under the generation it read, on another entity (another node): newer entries win
    // entry by entry.
    let keys: Vec<(String, i64)> = (0..4).map(|seq| ("acct".to_owned(), seq)).collect();
    let (generation, found) = ledger.get_many(&keys).await.unwrap();
    assert!(found.iter().all(|c| *c == Cached::Miss));
    let seen = ledger.observe(&keys).await;
    ledger
        .set_if_newer(&keys[0], &entry(0, "newer"), 10, &seen)
        .await
        .unwrap();
    let fills: Vec<_> = (0..4)
        .map(|seq| (keys[seq as usize].clone(), Some(entry(seq, "fill")), 5))
        .collect();
    ledger.fill_if_newer(&generation, &fills).await.unwrap();
    let (_, found) = ledger.get_many(&keys).await.unwrap();
    let memos: Vec<(String, u64)> = found
        .into_iter()
        .map(|c| match c {
            Cached::Hit(v) => (v.value.memo, v.version),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(memos[0], ("newer".to_owned(), 10));
    assert!(memos[1..].iter().all(|m| *m == ("fill".to_owned(), 5)));
    let sizes = keys_per_node(&cluster).await;
    assert!(
        sizes.iter().all(|&n| n > 0),
        "each entity spreads over every master: {sizes:?}"
    );
}

/// Script calls (`EVALSHA`) and `MGET`s a node has served (`INFO commandstats`).
async fn calls_per_node(cluster: &RedisCluster) -> Vec<u64> {
    let mut calls = Vec::new();
    for node in cluster.nodes() {
        let client = redis::Client::open(node.url()).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        let stats: String = redis::cmd("INFO")
            .arg("commandstats")
            .query_async(&mut c)
            .await
            .unwrap();
        let count = |command: &str| -> u64 {
            stats
                .lines()
                .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:calls=")))
                .and_then(|rest| rest.split(',').next())
                .map_or(0, |n| n.parse().unwrap())
        };
        calls.push(count("evalsha") + count("eval") + count("mget"));
    }
    calls
}

/// One entity's keys spread over every master (its `CLUSTER_BUCKETS` hash tags are slots of their own), and a
/// batch of 1,000 keys is one script call per bucket, the calls to a node in flight together: not one per key
/// and not one per chunk of the batch in turn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_entity_spreads_over_every_master() {
    let cluster = RedisCluster::start().unwrap();
    let tier = tier(&cluster, "spread").await;
    let accounts = tier.entity::<Account>(None, None).unwrap();
    let keys: Vec<String> = (0..1000).map(|i| format!("k{i}")).collect();
    let entries: Vec<(String, Option<Account>, u64)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.clone(), Some(account(k, i as i64)), 1))
        .collect();
    let seen = accounts.observe(&keys).await;
    accounts.set_many_if_newer(&entries, &seen).await.unwrap();

    // The keys land on all three masters, and the buckets that hold them on all three too.
    let sizes = keys_per_node(&cluster).await;
    assert!(sizes.iter().all(|&n| n > 100), "keys per node: {sizes:?}");
    let mut tags: Vec<&str> = keys.iter().map(|k| accounts.hash_tag(k)).collect();
    tags.sort();
    tags.dedup();
    assert_eq!(tags.len(), capacitor::redis::CLUSTER_BUCKETS);
    let mut masters = std::collections::HashSet::new();
    for tag in &tags {
        let slot = cluster.keyslot(tag).unwrap();
        masters.insert(cluster.master_of_slot(slot).unwrap().port());
    }
    assert_eq!(masters.len(), 3, "the buckets' slots fall on every master");

    // Once each node has the script (the first call of a script on a node is answered `NOSCRIPT` and sent
    // again with the script's text).
    accounts.get_many(&keys).await.unwrap();
    let before = calls_per_node(&cluster).await;
    let (_, found) = accounts.get_many(&keys).await.unwrap();
    let after = calls_per_node(&cluster).await;
    assert!(found.iter().enumerate().all(|(i, c)| matches!(
        c,
        Cached::Hit(v) if v.value.balance == i as i64
    )));
    let calls: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    assert_eq!(
        calls.iter().sum::<u64>(),
        capacitor::redis::CLUSTER_BUCKETS as u64,
        "one call per bucket: {calls:?}"
    );
    assert!(
        calls.iter().all(|&n| n > 0),
        "every master served part of the batch: {calls:?}"
    );
}
