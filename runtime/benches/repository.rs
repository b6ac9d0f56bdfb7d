//! The repository against the same work done by hand, tiers named in each benchmark:
//!
//! - `l1_hit/repository_get` vs `l1_hit/raw_quick_cache_get_clone` (target ≤ 1.5×);
//! - `sqlite_miss/repository_get` (no L1: a strong entity) vs `sqlite_miss/rusqlite_prepare_cached` (target
//!   ≤ 3×: rusqlite by hand on the caller's thread, same file, WAL, synchronous=NORMAL) and `sqlite_miss/raw_sqlx`
//!   (same query on the store's sqlx pool, for the record);
//! - `sqlite_put/repository_put_l1` (eventual entity, write-through to L1) vs `sqlite_put/rusqlite_upsert_tx`
//!   (target ≤ 3×: the upsert in a transaction) and `sqlite_put/raw_sqlx_upsert`;
//! - `sqlite_get_many/repository_get_many_100` vs `sqlite_get_many/rusqlite_loop_100` (target ≤ 2×: one
//!   prepared statement run for each of the 100 keys);
//! - `sqlite_reads/threads_{1,2}`: repository misses from 1 and 2 concurrent tasks on a 2-worker runtime (time
//!   per read of the whole group: reads/s = 1 / time), for the record;
//! - `cursor/seal_and_open` (a page's cursor costs) vs `cursor/sqlite_scan_page_100` (the page), for the record;
//! - `postgres/get_many_100` vs `postgres/get_100_singles`, `postgres_miss/repository_get` vs
//!   `postgres_miss/raw_sqlx`; `postgres_redis/repository_get` (strong: Redis hit, no L1) vs
//!   `postgres_redis/raw_redis_get` (a `GET` of the same cached bytes over a `ConnectionManager`, target ≤ 1.3×).
//!
//! - `concurrent_64/*`: reads per second with 64 concurrent tasks, Redis hits and Postgres misses, each beside
//!   the same reads done raw on the same connection or pool (issue #14 item 4, reported).
//!
//! `cargo bench -p capacitor --features redis,postgres --bench repository`. Needs Debian's postgresql and
//! redis-server (the testkit starts them).

use capacitor::cache::{Lookup, MemoryTier};
use capacitor::error::DecodeError;
use capacitor::record::{ColumnReader, ColumnWriter, Record};
use capacitor::redis::{RedisOptions, RedisTier};
use capacitor::{Cursor, CursorKey, Entity, Repository, Store};
use capacitor_testkit::postgres::PostgresServer;
use capacitor_testkit::redis::RedisServer;
use criterion::{Criterion, criterion_group, criterion_main};
use prost::Message;
use sqlx::Row;
use std::hint::black_box;

#[path = "support/user_entity.rs"]
#[macro_use]
mod support_user_entity;
#[path = "support/ready.rs"]
mod support_ready;
use support_ready::ready;

user_entity!(Eventual, "eventual");
user_entity!(Strong, "strong");

const ROWS: i64 = 1_000;
const DDL: &str = r#"CREATE TABLE "users" ("id" BIGINT NOT NULL PRIMARY KEY, "email" TEXT NOT NULL,
    "created_at" BIGINT NOT NULL, "_version" BIGINT NOT NULL)"#;
const SELECT_SQLITE: &str =
    r#"SELECT "id", "email", "created_at", "_version" FROM "users" WHERE "id" = ?1"#;
const SELECT_PG: &str =
    r#"SELECT "id", "email", "created_at", "_version" FROM "users" WHERE "id" = $1"#;
const UPSERT_SQLITE: &str = r#"INSERT INTO "users" ("id", "email", "created_at", "_version") VALUES (?1, ?2, ?3, ?4)
    ON CONFLICT ("id") DO UPDATE SET "email" = excluded."email", "created_at" = excluded."created_at",
    "_version" = MAX("users"."_version" + 1, excluded."_version") RETURNING "_version""#;

/// A row of `SELECT_SQLITE` read by hand with rusqlite: the value and its version.
fn hand_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Strong, i64)> {
    Ok((
        Strong {
            id: row.get(0)?,
            email: row.get(1)?,
            created_at: row.get(2)?,
        },
        row.get(3)?,
    ))
}

fn l1_hit(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let repo: Repository<Eventual> = Repository::new(Store::memory());
    let raw: quick_cache::sync::Cache<i64, Eventual> = quick_cache::sync::Cache::new(100_000);
    let tier: MemoryTier<Eventual> = MemoryTier::new(Eventual::SCHEMA.cache.as_ref().unwrap());
    rt.block_on(async {
        for id in 0..ROWS {
            repo.put(Eventual::new(id)).await.unwrap();
            raw.insert(id, Eventual::new(id));
            tier.set_if_newer(&id, &Eventual::new(id), 1);
        }
    });
    let mut group = c.benchmark_group("l1_hit");
    let mut id = 0;
    group.bench_function("raw_quick_cache_get_clone", |b| {
        b.iter(|| {
            id = (id + 7) % ROWS;
            black_box(raw.get(black_box(&id)))
        })
    });
    group.bench_function("tier_get", |b| {
        b.iter(|| {
            id = (id + 7) % ROWS;
            match tier.get(black_box(&id)) {
                Lookup::Hit(v) => black_box(v),
                _ => unreachable!("every key is cached"),
            }
        })
    });
    group.bench_function("repository_get", |b| {
        b.iter(|| {
            id = (id + 7) % ROWS;
            black_box(ready(repo.get(black_box(&id))).unwrap())
        })
    });
    group.finish();
}

fn sqlite(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // `synchronous=normal`: commits that do not wait for the disk, as the baseline's, so the figures measure the
    // code and not the fsync (the default, `full`, adds one to every commit).
    let store = rt
        .block_on(Store::open(&format!(
            "sqlite://{}?synchronous=normal",
            dir.path().join("bench.db").display()
        )))
        .unwrap();
    let pool = store.sqlite_pool().unwrap().clone();
    let strong: Repository<Strong> = Repository::new(store.clone());
    let eventual: Repository<Eventual> = Repository::new(store.clone());
    rt.block_on(async {
        sqlx::query(DDL).execute(&pool).await.unwrap();
        for id in 0..ROWS {
            strong.put(Strong::new(id)).await.unwrap();
        }
    });

    // What a user writes by hand: rusqlite on the caller's thread, on the same file.
    let hand = rusqlite::Connection::open(dir.path().join("bench.db")).unwrap();
    hand.pragma_update(None, "journal_mode", "WAL").unwrap();
    hand.pragma_update(None, "synchronous", "NORMAL").unwrap();
    hand.busy_timeout(std::time::Duration::from_secs(5))
        .unwrap();

    let mut group = c.benchmark_group("sqlite_miss");
    let mut id = 0;
    group.bench_function("rusqlite_prepare_cached", |b| {
        b.iter(|| {
            id = (id + 7) % ROWS;
            let mut select = hand.prepare_cached(SELECT_SQLITE).unwrap();
            black_box(select.query_row([id], hand_row).unwrap())
        })
    });
    group.bench_function("raw_sqlx", |b| {
        b.iter(|| {
            id = (id + 7) % ROWS;
            rt.block_on(async {
                let row = sqlx::query(SELECT_SQLITE)
                    .bind(id)
                    .fetch_optional(&pool)
                    .await
                    .unwrap()
                    .unwrap();
                black_box((
                    Strong {
                        id: row.get(0),
                        email: row.get(1),
                        created_at: row.get(2),
                    },
                    row.get::<i64, _>(3),
                ))
            })
        })
    });
    group.bench_function("repository_get", |b| {
        b.iter(|| {
            id = (id + 7) % ROWS;
            rt.block_on(async { black_box(strong.get(&id).await.unwrap()) })
        })
    });
    group.finish();

    // Each writer starts from an empty WAL, so neither inherits the other's checkpoint debt (SQLite checkpoints
    // every 1,000 pages, during whichever benchmark happens to be running).
    let checkpoint = || {
        rt.block_on(async {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&pool)
                .await
                .unwrap();
        })
    };
    let mut group = c.benchmark_group("sqlite_put");
    checkpoint();
    group.bench_function("rusqlite_upsert_tx", |b| {
        b.iter(|| {
            id = (id + 7) % ROWS;
            let user = Eventual::new(id);
            let tx = hand.unchecked_transaction().unwrap();
            let version: i64 = tx
                .prepare_cached(UPSERT_SQLITE)
                .unwrap()
                .query_row(
                    rusqlite::params![
                        user.id,
                        user.email,
                        user.created_at,
                        capacitor::record::next_version(None) as i64
                    ],
                    |row| row.get(0),
                )
                .unwrap();
            tx.commit().unwrap();
            black_box(version)
        })
    });
    checkpoint();
    group.bench_function("raw_sqlx_upsert", |b| {
        b.iter(|| {
            id = (id + 7) % ROWS;
            let user = Eventual::new(id);
            rt.block_on(async {
                let version: i64 = sqlx::query(UPSERT_SQLITE)
                    .bind(user.id)
                    .bind(&user.email)
                    .bind(user.created_at)
                    .bind(capacitor::record::next_version(None) as i64)
                    .fetch_one(&pool)
                    .await
                    .unwrap()
                    .get(0);
                black_box(version)
            })
        })
    });
    checkpoint();
    group.bench_function("repository_put_l1", |b| {
        b.iter(|| {
            id = (id + 7) % ROWS;
            rt.block_on(async { black_box(eventual.put(Eventual::new(id)).await.unwrap()) })
        })
    });
    group.finish();

    let mut group = c.benchmark_group("sqlite_get_many");
    let keys: Vec<i64> = (0..100).map(|i| i * 7 % ROWS).collect();
    group.bench_function("rusqlite_loop_100", |b| {
        b.iter(|| {
            let mut select = hand.prepare_cached(SELECT_SQLITE).unwrap();
            let rows: Vec<(Strong, i64)> = keys
                .iter()
                .map(|k| select.query_row([k], hand_row).unwrap())
                .collect();
            black_box(rows)
        })
    });
    group.bench_function("repository_get_many_100", |b| {
        b.iter(|| rt.block_on(async { black_box(strong.get_many(&keys).await.unwrap()) }))
    });
    group.finish();

    // Reads/s under concurrency (issue #14 item 4): `threads` tasks on a 2-worker runtime share the store, each
    // reading its share of the iterations; the time per iteration is the group's time per read.
    let workers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("sqlite_reads");
    for threads in [1u64, 2] {
        group.bench_function(format!("threads_{threads}"), |b| {
            b.iter_custom(|iters| {
                let start = std::time::Instant::now();
                workers.block_on(async {
                    let tasks: Vec<_> = (0..threads)
                        .map(|t| {
                            let repo = strong.clone();
                            tokio::spawn(async move {
                                for i in 0..iters.div_ceil(threads) {
                                    let id = ((i * threads + t) * 7) as i64 % ROWS;
                                    black_box(repo.get(&id).await.unwrap());
                                }
                            })
                        })
                        .collect();
                    for task in tasks {
                        task.await.unwrap();
                    }
                });
                start.elapsed()
            })
        });
    }
    group.finish();

    // What sealing costs a page: the seal of its `next` and the open of its `after`, against the page itself (100
    // rows from SQLite, after a cursor, through the repository).
    let key = CursorKey::generate().unwrap();
    let paged: Repository<Strong> = Repository::builder(store.clone())
        .cursor_key(key.clone())
        .build();
    let mut group = c.benchmark_group("cursor");
    group.bench_function("seal_and_open", |b| {
        b.iter(|| {
            id = (id + 7) % ROWS;
            let cursor = Cursor::seal::<Strong>(black_box(&id), &key);
            black_box(cursor.open::<Strong>(&key).unwrap())
        })
    });
    let cursors: Vec<Cursor> = (0..ROWS - 100)
        .map(|id| paged.cursor(&id).unwrap())
        .collect();
    group.bench_function("sqlite_scan_page_100", |b| {
        b.iter(|| {
            id = (id + 7) % (ROWS - 100);
            let after = &cursors[id as usize];
            rt.block_on(async { black_box(paged.scan(Some(after), 100).await.unwrap()) })
        })
    });
    group.finish();
}

fn postgres(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = PostgresServer::start().unwrap();
    let url = server.create_database("bench").unwrap();
    let redis = RedisServer::start().unwrap();
    let store = rt.block_on(Store::open(&url)).unwrap();
    let pool = store.postgres_pool().unwrap().clone();
    let strong: Repository<Strong> = Repository::new(store.clone());
    let tier = rt
        .block_on(RedisTier::connect(&redis.url(), RedisOptions::default()))
        .unwrap();
    let with_redis: Repository<Strong> = Repository::builder(store.clone()).redis(tier).build();
    rt.block_on(async {
        sqlx::query(DDL).execute(&pool).await.unwrap();
        for id in 0..ROWS {
            strong.put(Strong::new(id)).await.unwrap();
        }
    });

    let mut group = c.benchmark_group("postgres_miss");
    let mut id = 0;
    group.bench_function("raw_sqlx", |b| {
        b.iter(|| {
            id = (id + 7) % ROWS;
            rt.block_on(async {
                let row = sqlx::query(SELECT_PG)
                    .bind(id)
                    .fetch_optional(&pool)
                    .await
                    .unwrap()
                    .unwrap();
                black_box((
                    Strong {
                        id: row.get(0),
                        email: row.get(1),
                        created_at: row.get(2),
                    },
                    row.get::<i64, _>(3),
                ))
            })
        })
    });
    group.bench_function("repository_get", |b| {
        b.iter(|| {
            id = (id + 7) % ROWS;
            rt.block_on(async { black_box(strong.get(&id).await.unwrap()) })
        })
    });
    group.finish();

    let mut group = c.benchmark_group("postgres");
    let keys: Vec<i64> = (0..100).map(|i| i * 7 % ROWS).collect();
    group.bench_function("get_100_singles", |b| {
        b.iter(|| {
            rt.block_on(async {
                for k in &keys {
                    black_box(strong.get(k).await.unwrap());
                }
            })
        })
    });
    group.bench_function("get_many_100", |b| {
        b.iter(|| rt.block_on(async { black_box(strong.get_many(&keys).await.unwrap()) }))
    });
    group.finish();

    let mut group = c.benchmark_group("postgres_redis");
    // The baseline is what a user would write by hand over the same kind of connection the tier uses (one
    // multiplexed `ConnectionManager`): a `GET` of the very bytes the tier caches (version, kind, protobuf) and
    // the decode of the protobuf part.
    let mut raw_redis = rt
        .block_on(async {
            redis::aio::ConnectionManager::new(redis::Client::open(redis.url())?).await
        })
        .unwrap();
    rt.block_on(async {
        for id in 0..ROWS {
            let cached = with_redis.get(&id).await.unwrap(); // fills Redis
            let mut payload = format!("{:016x}L", cached.version).into_bytes();
            payload.extend(cached.value.encode_to_vec());
            redis::cmd("SET")
                .arg(format!("raw:{id}"))
                .arg(payload)
                .exec_async(&mut raw_redis)
                .await
                .unwrap();
        }
    });
    let raw_keys: Vec<String> = (0..ROWS).map(|id| format!("raw:{id}")).collect();
    group.bench_function("raw_redis_get", |b| {
        b.iter(|| {
            id = (id + 7) % ROWS;
            rt.block_on(async {
                let payload: Vec<u8> = redis::cmd("GET")
                    .arg(&raw_keys[id as usize])
                    .query_async(&mut raw_redis)
                    .await
                    .unwrap();
                black_box(Strong::decode(&payload[17..]).unwrap())
            })
        })
    });
    group.bench_function("repository_get", |b| {
        b.iter(|| {
            id = (id + 7) % ROWS;
            rt.block_on(async { black_box(with_redis.get(&id).await.unwrap()) })
        })
    });
    group.finish();

    // Throughput under concurrency (issue #14 item 4): 64 tasks on the runtime's worker threads (one per core),
    // each doing `PER_TASK` reads; criterion reports reads per second. The raw rows share the same connection
    // (Redis: one multiplexed `ConnectionManager`) or pool (Postgres: sqlx's default, 10 connections).
    const TASKS: i64 = 64;
    const PER_TASK: i64 = 16;
    let mut group = c.benchmark_group("concurrent_64");
    group.throughput(criterion::Throughput::Elements((TASKS * PER_TASK) as u64));
    let run_tasks =
        |read: &(dyn Fn(i64) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> + Sync)| {
            rt.block_on(async {
                let tasks: Vec<_> = (0..TASKS)
                    .map(|t| {
                        let reads: Vec<_> = (0..PER_TASK)
                            .map(|i| read((t * PER_TASK + i) * 7 % ROWS))
                            .collect();
                        tokio::spawn(async move {
                            for r in reads {
                                r.await;
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            })
        };
    group.bench_function("redis_raw_get", |b| {
        b.iter(|| {
            run_tasks(&|id| {
                let (mut c, key) = (raw_redis.clone(), raw_keys[id as usize].clone());
                Box::pin(async move {
                    let payload: Vec<u8> = redis::cmd("GET")
                        .arg(key)
                        .query_async(&mut c)
                        .await
                        .unwrap();
                    black_box(Strong::decode(&payload[17..]).unwrap());
                })
            })
        })
    });
    group.bench_function("redis_hit_repository", |b| {
        b.iter(|| {
            run_tasks(&|id| {
                let repo = with_redis.clone();
                Box::pin(async move {
                    black_box(repo.get(&id).await.unwrap());
                })
            })
        })
    });
    group.bench_function("postgres_raw_sqlx", |b| {
        b.iter(|| {
            run_tasks(&|id| {
                let pool = pool.clone();
                Box::pin(async move {
                    let row = sqlx::query(SELECT_PG)
                        .bind(id)
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                    black_box(row.get::<i64, _>(3));
                })
            })
        })
    });
    group.bench_function("postgres_miss_repository", |b| {
        b.iter(|| {
            run_tasks(&|id| {
                let repo = strong.clone();
                Box::pin(async move {
                    black_box(repo.get(&id).await.unwrap());
                })
            })
        })
    });
    group.finish();
    drop(server);
}

criterion_group!(benches, l1_hit, sqlite, postgres);
criterion_main!(benches);
