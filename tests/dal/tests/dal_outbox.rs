//! The transactional outbox, the change feed, the relay to Redis Streams and L1 invalidation from the feed, on
//! SQLite and Postgres (real servers).

use capacitor::outbox::redis_stream::RedisStreamSink;
use capacitor::outbox::relay::{Relay, RelayOptions};
use capacitor::outbox::{Change, ChangeCursor, FeedOptions, Op};
use capacitor::repo::L1Invalidation;
use capacitor::{Error, Repository, Store};
use capacitor_dal_tests::{Order, postgres_store, sqlite_store};
use std::collections::HashMap;
use std::time::{Duration, Instant};

fn order(id: &str, total: i64) -> Order {
    Order {
        id: id.to_owned(),
        email: format!("{id}@example.com"),
        total,
    }
}

async fn sqlite(name: &str) -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path(), name, &[Order::CREATE_TABLE_SQLITE]).await;
    (store, dir)
}

async fn postgres(name: &str) -> Store {
    postgres_store(name, &[Order::CREATE_TABLE_POSTGRES]).await
}

/// Every change committed so far, from `from` (polling past the gaps rolled-back writes leave on Postgres).
async fn drain(repo: &Repository<Order>, from: ChangeCursor) -> Vec<(Op, Change<Order>)> {
    let end = repo.change_cursor_now().await.unwrap();
    let mut feed = repo.changes(from).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while feed.cursor() < end {
        let batch = feed.poll().await.unwrap();
        out.extend(batch.into_iter().map(|e| (e.op, e.change)));
        assert!(Instant::now() < deadline, "the feed never reached {end}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    out
}

async fn every_write_commits_its_change(store: Store) {
    let orders: Repository<Order> = Repository::new(store.clone());
    let start = orders.change_cursor_now().await.unwrap();
    assert_eq!(start, ChangeCursor::beginning(), "an empty outbox");
    let v1 = orders.insert(order("a", 10)).await.unwrap();
    let v2 = orders.update(order("a", 11), v1).await.unwrap();
    let v3 = orders.put(order("a", 12)).await.unwrap();
    orders
        .put_many(vec![order("b", 1), order("c", 2)])
        .await
        .unwrap();
    orders.delete(&"b".to_owned()).await.unwrap();
    orders.erase(&"c".to_owned()).await.unwrap();
    // A refused write (a conflict) records nothing.
    assert!(orders.update(order("a", 99), v1).await.is_err());

    let changes = drain(&orders, start).await;
    let ops: Vec<Op> = changes.iter().map(|(op, _)| *op).collect();
    assert_eq!(
        ops,
        [
            Op::Insert,
            Op::Update,
            Op::Upsert,
            Op::Upsert,
            Op::Upsert,
            Op::Delete,
            Op::Erase
        ]
    );
    let versions: Vec<u64> = changes[..3].iter().map(|(_, c)| c.version()).collect();
    assert_eq!(versions, [v1, v2, v3]);
    assert_eq!(
        changes[2].1,
        Change::Put {
            value: order("a", 12),
            version: v3
        }
    );
    assert!(matches!(&changes[5].1, Change::Delete { key, .. } if key == "b"));
    assert!(matches!(&changes[6].1, Change::Delete { key, .. } if key == "c"));

    // Resuming after the third change reads the rest, and the cursor survives its text form.
    let mut feed = orders.changes(start).unwrap();
    let mut third = None;
    for _ in 0..3 {
        third = Some(feed.next().await.unwrap().cursor);
    }
    let resumed: ChangeCursor = third.unwrap().to_string().parse().unwrap();
    assert_eq!(drain(&orders, resumed).await.len(), 4);
    assert_eq!(orders.change_cursor_now().await.unwrap().position(), 7);
}

async fn transactions_commit_or_drop_their_changes(store: Store) {
    let orders: Repository<Order> = Repository::new(store.clone());
    let start = orders.change_cursor_now().await.unwrap();
    let refused = store
        .transaction(async |tx| {
            orders.put_in(tx, order("t1", 1)).await?;
            orders.put_in(tx, order("t2", 2)).await?;
            Err::<(), _>(Error::Config("rolled back on purpose".into()))
        })
        .await;
    assert!(refused.is_err());
    assert!(
        drain(&orders, start).await.is_empty(),
        "a rollback leaves no change"
    );
    store
        .transaction(async |tx| {
            orders.put_in(tx, order("t1", 1)).await?;
            orders.put_in(tx, order("t2", 2)).await?;
            orders.delete_in(tx, &"t1".to_owned()).await?;
            Ok::<_, Error>(())
        })
        .await
        .unwrap();
    let changes = drain(&orders, start).await;
    let keys: Vec<(Op, String)> = changes.iter().map(|(op, c)| (*op, c.key())).collect();
    assert_eq!(
        keys,
        [
            (Op::Upsert, "t1".to_owned()),
            (Op::Upsert, "t2".to_owned()),
            (Op::Delete, "t1".to_owned())
        ]
    );
}

/// A Redis server and a consumer group on the stream `topic`.
async fn redis_consumer(topic: &str) -> (redis::aio::MultiplexedConnection, String) {
    let redis = capacitor_testkit::redis::RedisServer::shared();
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: redis::RedisResult<()> = redis::cmd("DEL").arg(topic).query_async(&mut conn).await;
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(topic)
        .arg("readers")
        .arg("$")
        .arg("MKSTREAM")
        .query_async(&mut conn)
        .await
        .unwrap();
    (conn, redis.url())
}

/// Every entry of the consumer group `readers` on `topic`, acknowledged: `(id, fields)` in stream order.
async fn read_group(
    conn: &mut redis::aio::MultiplexedConnection,
    topic: &str,
) -> Vec<HashMap<String, redis::Value>> {
    let mut out = Vec::new();
    loop {
        let reply: redis::Value = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg("readers")
            .arg("r1")
            .arg("COUNT")
            .arg(1000)
            .arg("STREAMS")
            .arg(topic)
            .arg(">")
            .query_async(conn)
            .await
            .unwrap();
        let entries = match reply {
            redis::Value::Nil => return out,
            redis::Value::Array(streams) => streams,
            redis::Value::Map(streams) => streams.into_iter().map(|(_, v)| v).collect(),
            other => panic!("XREADGROUP reply {other:?}"),
        };
        let mut got = 0;
        for stream in entries {
            let items = match stream {
                redis::Value::Array(mut pair) if pair.len() == 2 => pair.remove(1),
                other => other,
            };
            let redis::Value::Array(items) = items else {
                panic!("stream entries {items:?}")
            };
            for item in items {
                let redis::Value::Array(mut entry) = item else {
                    panic!("entry {item:?}")
                };
                let fields = entry.remove(1);
                let id: String = redis::from_redis_value(entry.remove(0)).unwrap();
                let fields: HashMap<String, redis::Value> =
                    redis::from_redis_value(fields).unwrap();
                let _: () = redis::cmd("XACK")
                    .arg(topic)
                    .arg("readers")
                    .arg(&id)
                    .query_async(conn)
                    .await
                    .unwrap();
                out.push(fields);
                got += 1;
            }
        }
        if got == 0 {
            return out;
        }
    }
}

fn text(fields: &HashMap<String, redis::Value>, name: &str) -> String {
    redis::from_redis_value(fields[name].clone()).unwrap()
}

async fn relay_publishes_in_order_and_prunes(store: Store, topic: &'static str) {
    let orders: Repository<Order> = Repository::new(store.clone());
    let (mut conn, url) = redis_consumer(topic).await;
    for i in 0..5 {
        orders.put(order("k", i)).await.unwrap();
        orders.put(order(&format!("other{i}"), i)).await.unwrap();
    }
    orders.delete(&"k".to_owned()).await.unwrap();
    // A relay that publishes to a stream named by the test (the entity's topic is `orders`).
    let sink = TopicSink {
        inner: RedisStreamSink::connect(&url).await.unwrap(),
        topic,
    };
    let options = RelayOptions {
        batch: 4,
        retention: None,
        ..RelayOptions::default()
    };
    let relay: Relay<Order, _> = Relay::new(store.clone(), sink, options, None).unwrap();
    let mut published = 0;
    loop {
        let n = relay.run_once().await.unwrap();
        if n == 0 {
            break;
        }
        published += n;
    }
    assert_eq!(published, 11);
    let entries = read_group(&mut conn, topic).await;
    assert_eq!(entries.len(), 11, "each change once");
    let k: Vec<(String, String)> = entries
        .iter()
        .filter(|f| text(f, "key").contains("k;"))
        .map(|f| (text(f, "op"), text(f, "version")))
        .collect();
    assert_eq!(k.len(), 6);
    assert!(k[..5].iter().all(|(op, _)| op == "upsert"));
    assert_eq!(k[5].0, "delete");
    let versions: Vec<u64> = k.iter().map(|(_, v)| v.parse().unwrap()).collect();
    assert!(
        versions[..5].windows(2).all(|w| w[0] < w[1]),
        "one key's changes in commit order: {versions:?}"
    );
    assert_eq!(
        versions[5], versions[4],
        "a delete names the version it removed"
    );
    let ids: std::collections::HashSet<String> = entries.iter().map(|f| text(f, "id")).collect();
    assert_eq!(ids.len(), 11, "idempotency keys are distinct per change");
    // The payload is the value's encoding.
    let payload: Vec<u8> = redis::from_redis_value(entries[0]["payload"].clone()).unwrap();
    assert_eq!(
        <Order as prost::Message>::decode(&payload[..]).unwrap(),
        order("k", 0)
    );

    // Nothing left to publish; a second relay finds nothing either.
    assert_eq!(relay.run_once().await.unwrap(), 0);

    // Pruning: everything published before now goes, except the last row; a cursor from before it expires.
    let pruner: Relay<Order, _> = Relay::new(
        store.clone(),
        TopicSink {
            inner: RedisStreamSink::connect(&url).await.unwrap(),
            topic,
        },
        RelayOptions {
            retention: Some(Duration::ZERO),
            ..RelayOptions::default()
        },
        None,
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(2)).await;
    // On Postgres a candidate is pruned by the pass after the one that chose it (once the transactions running
    // then have ended); on SQLite by the first.
    for _ in 0..2 {
        assert_eq!(pruner.run_once().await.unwrap(), 0);
    }
    let mut stale = orders.changes(ChangeCursor::beginning()).unwrap();
    match stale.next().await {
        Err(Error::ChangeCursorExpired {
            entity,
            cursor,
            pruned_through,
        }) => {
            assert_eq!((entity, cursor), ("Order", 0));
            assert_eq!(pruned_through, 10, "all but the last row");
        }
        other => panic!("expected an expired cursor, got {other:?}"),
    }
    // A cursor at the marker or later still reads what follows.
    let now = orders.change_cursor_now().await.unwrap();
    orders.put(order("after", 1)).await.unwrap();
    assert_eq!(drain(&orders, now).await.len(), 1);
}

/// Publishes to `topic` whatever the message says (so tests on both stores use streams of their own).
struct TopicSink {
    inner: RedisStreamSink,
    topic: &'static str,
}

impl capacitor::outbox::relay::Sink for TopicSink {
    async fn publish(
        &self,
        batch: &[capacitor::outbox::relay::OutboxMessage],
    ) -> Result<(), capacitor::error::BoxError> {
        let batch: Vec<_> = batch
            .iter()
            .cloned()
            .map(|mut m| {
                m.topic = self.topic;
                m
            })
            .collect();
        self.inner.publish(&batch).await
    }
}

async fn l1_follows_commits_from_another_repository(store: Store) {
    // Two repositories with L1s of their own stand for two processes.
    let writer: Repository<Order> = Repository::new(store.clone());
    // A generous bound: this checks what reaches L1, not the latency (the machine may be loaded); the bound
    // itself is measured by `benches/outbox_staleness`.
    let reader: Repository<Order> = Repository::builder(store.clone())
        .invalidate_l1_from_changes(L1Invalidation {
            bound: Duration::from_secs(2),
            ..L1Invalidation::default()
        })
        .try_build()
        .unwrap();
    writer.put(order("x", 1)).await.unwrap();
    // Wait for the feed to be fresh, then load x into the reader's L1.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = reader.get(&"x".to_owned()).await.unwrap();
        if got.value.total == 1 && reader.stats().l1_hits > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "L1 never served ({} flushes)",
            reader.l1_flushes()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // A write elsewhere reaches the reader's L1 within the bound (plus a poll), not after the 600 s TTL.
    writer.put(order("x", 2)).await.unwrap();
    let committed = Instant::now();
    loop {
        let got = reader.get(&"x".to_owned()).await.unwrap();
        if got.value.total == 2 {
            break;
        }
        assert!(
            committed.elapsed() < Duration::from_millis(500),
            "the reader still serves the old value"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    writer.delete(&"x".to_owned()).await.unwrap();
    let deleted = Instant::now();
    while reader.get(&"x".to_owned()).await.is_ok() {
        assert!(
            deleted.elapsed() < Duration::from_millis(500),
            "the delete never arrived"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(reader.l1_flushes(), 0);
}

/// Runs `sql` on the store's own database, past the repository.
async fn raw(store: &Store, sql: &str) {
    match store.postgres_pool() {
        Some(pool) => {
            sqlx::raw_sql(sql).execute(pool).await.unwrap();
        }
        None => {
            sqlx::raw_sql(sql)
                .execute(store.sqlite_pool().unwrap())
                .await
                .unwrap();
        }
    }
}

/// When the feed fails, L1 is flushed and skipped (reads go to the store) until the feed is back.
async fn a_failed_feed_flushes_l1_and_reads_skip_it(store: Store) {
    let reader: Repository<Order> = Repository::builder(store.clone())
        .invalidate_l1_from_changes(L1Invalidation {
            bound: Duration::from_secs(2),
            ..L1Invalidation::default()
        })
        .try_build()
        .unwrap();
    reader.put(order("f", 1)).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while reader.stats().l1_hits == 0 {
        reader.get(&"f".to_owned()).await.unwrap();
        assert!(Instant::now() < deadline, "L1 never served");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The feed breaks (its table is gone), and a change it cannot see lands in the store.
    raw(
        &store,
        r#"ALTER TABLE "orders_outbox" RENAME TO "orders_outbox_away""#,
    )
    .await;
    raw(
        &store,
        r#"UPDATE "orders" SET "total" = 2 WHERE "id" = 'f'"#,
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while reader.l1_flushes() == 0 {
        assert!(
            Instant::now() < deadline,
            "the feed failure was never noticed"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let hits = reader.stats().l1_hits;
    assert_eq!(reader.get(&"f".to_owned()).await.unwrap().value.total, 2);
    assert_eq!(
        reader.stats().l1_hits,
        hits,
        "L1 is skipped while the feed is down"
    );
    // The feed comes back: L1 serves again.
    raw(
        &store,
        r#"ALTER TABLE "orders_outbox_away" RENAME TO "orders_outbox""#,
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while reader.stats().l1_hits == hits {
        assert_eq!(reader.get(&"f".to_owned()).await.unwrap().value.total, 2);
        assert!(Instant::now() < deadline, "L1 never served again");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn refusals(store: Store) {
    // The memory store has no outbox.
    let memory: Repository<Order> = Repository::new(Store::memory());
    assert!(matches!(
        memory.changes(ChangeCursor::beginning()),
        Err(Error::Config(_))
    ));
    let _ = store;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_outbox() {
    let (store, _dir) = sqlite("outbox_writes").await;
    every_write_commits_its_change(store).await;
    let (store, _dir) = sqlite("outbox_tx").await;
    transactions_commit_or_drop_their_changes(store).await;
    let (store, _dir) = sqlite("outbox_relay").await;
    relay_publishes_in_order_and_prunes(store, "orders_sqlite").await;
    let (store, _dir) = sqlite("outbox_l1").await;
    l1_follows_commits_from_another_repository(store.clone()).await;
    a_failed_feed_flushes_l1_and_reads_skip_it(store.clone()).await;
    refusals(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outbox() {
    every_write_commits_its_change(postgres("outbox_writes").await).await;
    transactions_commit_or_drop_their_changes(postgres("outbox_tx").await).await;
    relay_publishes_in_order_and_prunes(postgres("outbox_relay").await, "orders_pg").await;
    l1_follows_commits_from_another_repository(postgres("outbox_l1").await).await;
    a_failed_feed_flushes_l1_and_reads_skip_it(postgres("outbox_flush").await).await;
}

/// On Postgres a later change can be visible before an earlier one commits: the feed waits for the earlier
/// one rather than skip it, and passes a number whose transaction rolled back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_feed_never_skips_a_late_commit() {
    let store = postgres("outbox_gaps").await;
    let orders: Repository<Order> = Repository::new(store.clone());
    let start = orders.change_cursor_now().await.unwrap();
    let mut feed = orders
        .changes_with(
            start,
            FeedOptions {
                poll_interval: Duration::from_millis(5),
                ..FeedOptions::default()
            },
        )
        .unwrap();

    // Takes sequence 1 and holds it uncommitted.
    let mut slow = store.begin().await.unwrap();
    orders.put_in(&mut slow, order("slow", 1)).await.unwrap();
    // Sequence 2 commits first.
    orders.put(order("fast", 2)).await.unwrap();
    assert!(
        feed.poll().await.unwrap().is_empty(),
        "the feed must wait for sequence 1"
    );
    slow.commit().await.unwrap();
    let keys: Vec<String> = feed
        .poll()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.change.key())
        .collect();
    assert_eq!(keys, ["slow", "fast"]);

    // A number taken by a transaction that rolls back is passed once that transaction has ended.
    let mut doomed = store.begin().await.unwrap();
    orders
        .put_in(&mut doomed, order("doomed", 3))
        .await
        .unwrap();
    orders.put(order("next", 4)).await.unwrap();
    assert!(feed.poll().await.unwrap().is_empty());
    doomed.rollback().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let keys = loop {
        let got = feed.poll().await.unwrap();
        if !got.is_empty() {
            break got.into_iter().map(|e| e.change.key()).collect::<Vec<_>>();
        }
        assert!(
            Instant::now() < deadline,
            "the rolled-back gap was never passed"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert_eq!(keys, ["next"]);
}

/// On Postgres a commit wakes a waiting feed through `LISTEN/NOTIFY`: the change arrives long before the
/// feed's next poll (10 s here), from a write in this process or through another pool (another process).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_commits_wake_a_waiting_feed() {
    let store = postgres("outbox_wake").await;
    let orders: Repository<Order> = Repository::new(store.clone());
    let url = capacitor_testkit::postgres::PostgresServer::shared().database_url("outbox_wake");
    let other_pool = Store::open(&url).await.unwrap();
    let elsewhere: Repository<Order> = Repository::new(other_pool);
    let start = orders.change_cursor_now().await.unwrap();
    let mut feed = orders
        .changes_with(
            start,
            FeedOptions {
                poll_interval: Duration::from_secs(10),
                ..FeedOptions::default()
            },
        )
        .unwrap();
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        orders.put(order("here", 1)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        elsewhere.put(order("there", 2)).await.unwrap();
    });
    let started = Instant::now();
    for expected in ["here", "there"] {
        let event = tokio::time::timeout(Duration::from_secs(3), feed.next())
            .await
            .expect("a commit wakes the feed before its poll interval")
            .unwrap();
        assert_eq!(event.change.key(), expected);
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    writer.await.unwrap();
}

/// Takes every batch and publishes nothing anywhere: for tests about what the relay does to the outbox.
struct Discard;

impl capacitor::outbox::relay::Sink for Discard {
    async fn publish(
        &self,
        _batch: &[capacitor::outbox::relay::OutboxMessage],
    ) -> Result<(), capacitor::error::BoxError> {
        Ok(())
    }
}

/// Pruning on Postgres never deletes past a number a running transaction holds: a feed that started before
/// that transaction's write still reads it, and every change after it, once it commits; pruning resumes after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_pruning_never_passes_a_late_commit() {
    let store = postgres("outbox_prune_gap").await;
    let orders: Repository<Order> = Repository::new(store.clone());
    orders.put(order("before", 0)).await.unwrap();
    let start = orders.change_cursor_now().await.unwrap();
    let mut slow = store.begin().await.unwrap();
    orders.put_in(&mut slow, order("slow", 1)).await.unwrap();
    for i in 0..5 {
        orders.put(order(&format!("fast{i}"), i)).await.unwrap();
    }
    let options = RelayOptions {
        retention: Some(Duration::ZERO),
        ..RelayOptions::default()
    };
    let relay: Relay<Order, _> = Relay::new(store.clone(), Discard, options, None).unwrap();
    for _ in 0..5 {
        relay.run_once().await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    slow.commit().await.unwrap();
    let keys: Vec<String> = drain(&orders, start)
        .await
        .into_iter()
        .map(|(_, change)| change.key())
        .collect();
    assert_eq!(keys, ["slow", "fast0", "fast1", "fast2", "fast3", "fast4"]);

    // Once the transaction has ended, the same relay prunes everything published but the last row.
    for _ in 0..5 {
        relay.run_once().await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut feed = orders.changes(start).unwrap();
    match feed.poll().await {
        Err(Error::ChangeCursorExpired { .. }) => {}
        other => panic!("expected an expired cursor after pruning, got {other:?}"),
    }
}

/// Publishes, then never returns: the relay is "killed" between publish and mark when its future is dropped.
struct PublishThenHang<S>(S);

impl<S: capacitor::outbox::relay::Sink> capacitor::outbox::relay::Sink for PublishThenHang<S> {
    async fn publish(
        &self,
        batch: &[capacitor::outbox::relay::OutboxMessage],
    ) -> Result<(), capacitor::error::BoxError> {
        self.0.publish(batch).await?;
        std::future::pending().await
    }
}

/// A relay killed between publish and mark: its rows are claimed again once its lease ends and published
/// again; a Redis Streams consumer sees the duplicates and drops them by idempotency key, nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_between_publish_and_mark_publishes_again_and_consumers_dedupe() {
    let (store, _dir) = sqlite("outbox_crash").await;
    let orders: Repository<Order> = Repository::new(store.clone());
    let topic = "orders_crash";
    let (mut conn, url) = redis_consumer(topic).await;
    for i in 0..6 {
        orders.put(order(&format!("o{}", i % 3), i)).await.unwrap();
    }
    let lease = Duration::from_millis(300);
    let options = RelayOptions {
        lease,
        retention: None,
        ..RelayOptions::default()
    };
    let sink = |url: &str| {
        let url = url.to_owned();
        async move {
            TopicSink {
                inner: RedisStreamSink::connect(&url).await.unwrap(),
                topic,
            }
        }
    };
    let doomed: Relay<Order, _> = Relay::new(
        store.clone(),
        PublishThenHang(sink(&url).await),
        options.clone(),
        None,
    )
    .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(200), doomed.run_once())
            .await
            .is_err(),
        "the doomed relay published and hangs before marking"
    );
    drop(doomed);
    let relay: Relay<Order, _> =
        Relay::new(store.clone(), sink(&url).await, options, None).unwrap();
    // Within the lease the rows are still claimed: nothing to do.
    assert_eq!(relay.run_once().await.unwrap(), 0);
    tokio::time::sleep(lease).await;
    assert_eq!(
        relay.run_once().await.unwrap(),
        6,
        "claimed again after the lease"
    );
    assert_eq!(relay.run_once().await.unwrap(), 0);

    let entries = read_group(&mut conn, topic).await;
    assert_eq!(entries.len(), 12, "every change published twice");
    let mut seen = std::collections::HashSet::new();
    let applied: Vec<String> = entries
        .iter()
        .filter(|f| seen.insert(text(f, "id")))
        .map(|f| text(f, "seq"))
        .collect();
    assert_eq!(applied, ["1", "2", "3", "4", "5", "6"], "deduped, in order");
}

/// NATS JetStream: `Nats-Msg-Id` makes a second publish of a change a no-op, and while the server is down the
/// rows wait (the pass fails, nothing is marked) and go out in order once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_dedupes_republished_changes_and_rows_wait_while_it_is_down() {
    let nats = capacitor_testkit::nats::NatsServer::start().unwrap();
    let (store, _dir) = sqlite("outbox_nats").await;
    let orders: Repository<Order> = Repository::new(store.clone());
    let sink = capacitor::outbox::nats::NatsSink::connect(&nats.url())
        .await
        .unwrap();
    sink.ensure_stream(
        "ORDERS",
        vec!["orders".to_owned()],
        Duration::from_secs(120),
    )
    .await
    .unwrap();
    for i in 0..4 {
        orders.put(order("n", i)).await.unwrap();
    }
    let lease = Duration::from_millis(300);
    let options = RelayOptions {
        lease,
        retention: None,
        ..RelayOptions::default()
    };
    let doomed: Relay<Order, _> = Relay::new(
        store.clone(),
        PublishThenHang(sink.clone()),
        options.clone(),
        None,
    )
    .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(500), doomed.run_once())
            .await
            .is_err()
    );
    drop(doomed);
    tokio::time::sleep(lease).await;
    let relay: Relay<Order, _> = Relay::new(store.clone(), sink.clone(), options, None).unwrap();
    assert_eq!(relay.run_once().await.unwrap(), 4);

    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream("ORDERS").await.unwrap();
    assert_eq!(
        stream.info().await.unwrap().state.messages,
        4,
        "the second publish of each change was dropped by its Nats-Msg-Id"
    );

    // The sink goes down: passes fail, rows wait, writes go on.
    nats.stop().unwrap();
    for i in 4..7 {
        orders.put(order("n", i)).await.unwrap();
    }
    assert!(relay.run_once().await.is_err(), "the sink is down");
    nats.restart().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut published = 0;
    while published < 3 {
        match relay.run_once().await {
            Ok(n) => published += n,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
        assert!(Instant::now() < deadline, "the rows never went out");
    }
    let stream = js.get_stream("ORDERS").await.unwrap();
    let mut totals = Vec::new();
    for seq in 1..=7 {
        let message = stream.get_raw_message(seq).await.unwrap();
        let value = <Order as prost::Message>::decode(&message.payload[..]).unwrap();
        assert_eq!(
            message.headers.get("Capacitor-Op").map(|v| v.as_str()),
            Some("upsert")
        );
        totals.push(value.total);
    }
    assert_eq!(totals, [0, 1, 2, 3, 4, 5, 6], "nothing lost, in order");
}

/// A database restart: writes and relay passes fail (or wait for a connection) while Postgres is down; afterwards
/// the relay publishes everything committed, in order, and the follower's L1 serves the new values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_loses_nothing_and_followers_resume() {
    let server = capacitor_testkit::postgres::PostgresServer::start().unwrap();
    let url = server.create_database("outbox_restart").unwrap();
    let store = Store::open(&url).await.unwrap();
    sqlx::raw_sql(Order::CREATE_TABLE_POSTGRES)
        .execute(store.postgres_pool().unwrap())
        .await
        .unwrap();
    let topic = "orders_restart";
    let (mut conn, redis_url) = redis_consumer(topic).await;
    let orders: Repository<Order> = Repository::new(store.clone());
    let follower: Repository<Order> = Repository::builder(store.clone())
        .invalidate_l1_from_changes(L1Invalidation {
            bound: Duration::from_secs(2),
            ..L1Invalidation::default()
        })
        .try_build()
        .unwrap();
    let relay: Relay<Order, _> = Relay::new(
        store.clone(),
        TopicSink {
            inner: RedisStreamSink::connect(&redis_url).await.unwrap(),
            topic,
        },
        RelayOptions {
            retention: None,
            ..RelayOptions::default()
        },
        None,
    )
    .unwrap();
    orders.put(order("r", 1)).await.unwrap();
    assert_eq!(relay.run_once().await.unwrap(), 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while follower.stats().l1_hits == 0 {
        follower.get(&"r".to_owned()).await.unwrap();
        assert!(Instant::now() < deadline, "L1 never served");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    server.restart().unwrap();
    // Pooled connections were cut: retry until the store answers again.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut total = 2;
    while total <= 4 {
        if orders.put(order("r", total)).await.is_ok() {
            total += 1;
        }
        assert!(Instant::now() < deadline, "the store never came back");
    }
    let mut published = 0;
    while published < 3 {
        if let Ok(n) = relay.run_once().await {
            published += n;
        }
        assert!(Instant::now() < deadline, "the relay never caught up");
    }
    let totals: Vec<i64> = read_group(&mut conn, topic)
        .await
        .iter()
        .map(|f| {
            let payload: Vec<u8> = redis::from_redis_value(f["payload"].clone()).unwrap();
            <Order as prost::Message>::decode(&payload[..])
                .unwrap()
                .total
        })
        .collect();
    assert_eq!(totals, [1, 2, 3, 4], "every committed change, in order");
    // The follower's feed waited (or failed and flushed L1) through the restart; it follows again: L1 serves
    // the value committed after the restart.
    let hits = follower.stats().l1_hits;
    loop {
        let got = follower
            .get(&"r".to_owned())
            .await
            .map(|g| g.value.total)
            .ok();
        if got == Some(4) && follower.stats().l1_hits > hits {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the follower never caught up ({got:?}, {} flushes)",
            follower.l1_flushes()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
