//! A claim-checked 1 MiB value read through each tier (issue #17 item 4), beside what a user would do instead:
//!
//! - `claim_check_get_1MiB/l1`: an L1 hit (L1 holds the value; no blob is read);
//! - `claim_check_get_1MiB/redis`: a Redis hit (no L1): the 60-byte cached entry, then the blob from the
//!   directory, checked against its SHA-256;
//! - `claim_check_get_1MiB/store`: no cache: the SQLite row (its 41-byte reference), then the blob, checked;
//! - `claim_check_get_1MiB/baseline_sqlite_inline_blob`: the same 1 MiB as an inline SQLite BLOB read by hand with
//!   rusqlite (prepared, cached): what the row read costs without the claim check;
//! - `claim_check_get_1MiB/baseline_fs_read`: `std::fs::read` of the blob file alone.
//!
//! `cargo bench -p capacitor --features redis,blob-store --bench claim_check`. Needs Debian's redis-server (the
//! testkit starts it).

use capacitor::blob::ObjectStoreBlobs;
use capacitor::redis::{RedisOptions, RedisTier};
use capacitor::{Repository, Store};
use capacitor_testkit::redis::RedisServer;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;

#[path = "support/ready.rs"]
mod support_ready;
use support_ready::ready;

#[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
#[capacitor(
    table = "documents",
    consistency = "eventual",
    cache(ttl = "600s", max_entries = 16),
    repository
)]
pub struct Document {
    #[prost(string, tag = "1")]
    #[capacitor(primary_key)]
    pub id: String,
    #[prost(bytes = "vec", tag = "2")]
    #[capacitor(claim_check(threshold = "256KiB"))]
    pub body: Vec<u8>,
}

const MIB: usize = 1 << 20;

fn get_1mib(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let blobs = Arc::new(ObjectStoreBlobs::filesystem(dir.path().join("blobs")).unwrap());
    let value = Document {
        id: "d1".to_owned(),
        body: capacitor_testkit::pseudo_random_bytes(MIB, 1),
    };
    let db = dir.path().join("claim.db");
    let (l1, redis, store) = rt.block_on(async {
        // `synchronous=normal`, as the rusqlite baseline: the figures measure the code, not the fsync.
        let store = Store::open(&format!("sqlite:{}?synchronous=normal", db.display()))
            .await
            .unwrap()
            .with_blob_store(blobs);
        sqlx::query(Document::CREATE_TABLE_SQLITE)
            .execute(store.sqlite_pool().unwrap())
            .await
            .unwrap();
        let server = RedisServer::shared();
        let tier = RedisTier::connect(
            &server.url(),
            RedisOptions {
                prefix: "claim-bench".to_owned(),
                ..RedisOptions::default()
            },
        )
        .await
        .unwrap();
        let l1 = Repository::<Document>::builder(store.clone())
            .redis(tier.clone())
            .build();
        l1.put(value.clone()).await.unwrap();
        let redis = Repository::<Document>::builder(store.clone())
            .redis(tier)
            .without_l1()
            .build();
        let store_only = Repository::<Document>::builder(store).without_l1().build();
        // Every tier serves the same value before anything is timed.
        for repo in [&l1, &redis, &store_only] {
            assert_eq!(repo.get(&"d1".to_owned()).await.unwrap().value, value);
        }
        (l1, redis, store_only)
    });

    // The baselines: the same bytes inline in a SQLite BLOB, and the blob file itself.
    let inline_db = dir.path().join("inline.db");
    let conn = rusqlite::Connection::open(&inline_db).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; \
         CREATE TABLE documents (id TEXT PRIMARY KEY, body BLOB NOT NULL);",
    )
    .unwrap();
    conn.execute(
        "INSERT INTO documents (id, body) VALUES (?1, ?2)",
        rusqlite::params!["d1", value.body],
    )
    .unwrap();
    let file = std::fs::read_dir(dir.path().join("blobs/documents/2"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();

    let key = "d1".to_owned();
    let mut group = c.benchmark_group("claim_check_get_1MiB");
    group.bench_function("l1", |b| {
        b.iter(|| black_box(ready(l1.get(&key)).unwrap()));
    });
    group.bench_function("redis", |b| {
        b.iter(|| black_box(rt.block_on(redis.get(&key)).unwrap()));
    });
    group.bench_function("store", |b| {
        b.iter(|| black_box(rt.block_on(store.get(&key)).unwrap()));
    });
    group.bench_function("baseline_sqlite_inline_blob", |b| {
        b.iter(|| {
            let mut statement = conn
                .prepare_cached("SELECT id, body FROM documents WHERE id = ?1")
                .unwrap();
            let row: (String, Vec<u8>) = statement
                .query_row([&key], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap();
            black_box(row)
        });
    });
    group.bench_function("baseline_fs_read", |b| {
        b.iter(|| black_box(std::fs::read(&file).unwrap()));
    });
    group.finish();
}

criterion_group!(benches, get_1mib);
criterion_main!(benches);
