//! What crypto-shredding costs: a put then a get by key of an entity whose two `encrypt` fields are sealed
//! under its subject's data key (`subject = "owner"`), against the same entity sealed under the key ring, in the
//! same run, on SQLite, strong (no L1, so every get reads and decrypts the row).
//!
//! - `shred_sqlite_put_get/{ring_keys,subject_keys}`: 100 subjects, their keys cached after the first write
//!   (the steady state: each put finds its subject's key in memory, each get too);
//! - `shred_sqlite_get_cold_key/{ring_keys,subject_keys}`: a get through a store handle whose key cache was
//!   just emptied (a new key ring handle per iteration), so the subject key is read from
//!   `capacitor_subject_keys` and unwrapped first: the cost of a cache miss.
//!
//! `cargo bench -p capacitor --features encryption --bench shredding`.

use capacitor::pii::{KeyRing, SecretKey};
use capacitor::{Repository, Store};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

const ROWS: i64 = 1_000;
const SUBJECTS: i64 = 100;

// `tt`: the derive does not look inside the invisible group a `literal` fragment becomes.
macro_rules! record_entity {
    ($name:ident, $table:tt $(, $subject:tt)?) => {
        #[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
        #[capacitor(table = $table, consistency = "strong", repository $(, subject = $subject)?)]
        pub struct $name {
            #[prost(int64, tag = "1")]
            #[capacitor(primary_key)]
            pub id: i64,
            #[prost(string, tag = "2")]
            pub owner: String,
            #[prost(string, tag = "3")]
            #[capacitor(pii = "email", encrypt)]
            pub email: String,
            #[prost(string, tag = "4")]
            #[capacitor(pii = "national_id", encrypt)]
            pub ssn: String,
        }

        impl $name {
            pub fn new(id: i64) -> Self {
                $name {
                    id,
                    owner: format!("owner-{}", id % SUBJECTS),
                    email: format!("user{id}@example.com"),
                    ssn: format!("078-05-{id:04}"),
                }
            }
        }
    };
}

#[allow(dead_code)]
mod records {
    use super::SUBJECTS;
    record_entity!(RingRecord, "ring_records");
    record_entity!(SubjectRecord, "subject_records", "owner");
}
use records::*;

fn ring() -> KeyRing {
    KeyRing::new(vec![(1, SecretKey::from_bytes([7; 32]))]).unwrap()
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
    let store = store.with_keyring(&ring());
    rt.block_on(async {
        // The subject entity's constant creates the subject key table too.
        for ddl in [
            RingRecord::CREATE_TABLE_SQLITE,
            SubjectRecord::CREATE_TABLE_SQLITE,
        ] {
            for statement in ddl.split(";\n").filter(|s| !s.trim().is_empty()) {
                sqlx::query(statement).execute(&pool).await.unwrap();
            }
        }
    });
    let ring_repo: Repository<RingRecord> = Repository::new(store.clone());
    let subject_repo: Repository<SubjectRecord> = Repository::new(store.clone());
    rt.block_on(async {
        for id in 0..ROWS {
            ring_repo.put(RingRecord::new(id)).await.unwrap();
            subject_repo.put(SubjectRecord::new(id)).await.unwrap();
        }
    });
    let checkpoint = || {
        rt.block_on(async {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&pool)
                .await
                .unwrap();
        })
    };

    let mut group = c.benchmark_group("shred_sqlite_put_get");
    let mut id = 0;
    checkpoint();
    group.bench_function("ring_keys", |b| {
        b.iter(|| {
            id = (id + 7) % ROWS;
            rt.block_on(async {
                ring_repo.put(RingRecord::new(id)).await.unwrap();
                black_box(ring_repo.get(&id).await.unwrap())
            })
        })
    });
    checkpoint();
    group.bench_function("subject_keys", |b| {
        b.iter(|| {
            id = (id + 7) % ROWS;
            rt.block_on(async {
                subject_repo.put(SubjectRecord::new(id)).await.unwrap();
                black_box(subject_repo.get(&id).await.unwrap())
            })
        })
    });
    group.finish();

    // A new key ring handle has an empty subject key cache: each get reads and unwraps its subject's key.
    let mut group = c.benchmark_group("shred_sqlite_get_cold_key");
    group.bench_function("ring_keys", |b| {
        b.iter(|| {
            id = (id + 7) % ROWS;
            let repo: Repository<RingRecord> = Repository::new(store.with_keyring(&ring()));
            rt.block_on(async { black_box(repo.get(&id).await.unwrap()) })
        })
    });
    group.bench_function("subject_keys", |b| {
        b.iter(|| {
            id = (id + 7) % ROWS;
            let repo: Repository<SubjectRecord> = Repository::new(store.with_keyring(&ring()));
            rt.block_on(async { black_box(repo.get(&id).await.unwrap()) })
        })
    });
    group.finish();
}

criterion_group!(benches, sqlite);
criterion_main!(benches);
