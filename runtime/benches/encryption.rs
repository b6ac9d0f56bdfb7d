//! What field encryption costs, each figure against the same entity unencrypted in the same run:
//!
//! - `enc_sqlite_put_get/{plain,sealed}`: a put then a get by key of an entity with two `encrypt` fields on
//!   SQLite, strong (no L1, so the get reads and decrypts the row); target sealed ≤ 1.3× plain;
//! - `enc_l1_hit/{plain,sealed}`: an L1 hit of an eventual entity (L1 holds plaintext); target the same;
//! - `enc_find/{plain_index,blind_index}`: `find_by_email` through a plain unique index vs a blind index
//!   (tokens, decryption, the false-positive check); target ≤ 1.2×.
//!
//! `cargo bench -p capacitor --features encryption --bench encryption`.

use capacitor::pii::{KeyRing, SecretKey};
use capacitor::{Repository, Store};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

const ROWS: i64 = 1_000;

// Two entities per shape, differing only in `encrypt` (the email's unique index is a blind index when sealed).
// `tt`: the derive does not look inside the invisible group a `literal` fragment becomes.
macro_rules! user_entity {
    ($name:ident, $table:tt, $consistency:tt $(, $encrypt:ident)?) => {
        #[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
        #[capacitor(
            table = $table,
            consistency = $consistency,
            cache(ttl = "60s", max_entries = 100000),
            repository
        )]
        pub struct $name {
            #[prost(int64, tag = "1")]
            #[capacitor(primary_key)]
            pub id: i64,
            #[prost(string, tag = "2")]
            #[capacitor(pii = "email", unique $(, $encrypt)?)]
            pub email: String,
            #[prost(string, tag = "3")]
            #[capacitor(pii = "national_id" $(, $encrypt)?)]
            pub ssn: String,
            #[prost(int64, tag = "4")]
            pub visits: i64,
        }

        impl $name {
            pub fn new(id: i64) -> Self {
                $name {
                    id,
                    email: format!("user{id}@example.com"),
                    ssn: format!("078-05-{id:04}"),
                    visits: id,
                }
            }
        }
    };
}

// Public (the generated repositories name them) in a module whose unused generated items are allowed.
#[allow(dead_code)]
mod users {
    user_entity!(PlainStrong, "plain_strong", "strong");
    user_entity!(SealedStrong, "sealed_strong", "strong", encrypt);
    user_entity!(PlainEventual, "plain_eventual", "eventual");
    user_entity!(SealedEventual, "sealed_eventual", "eventual", encrypt);
}
use users::*;

#[path = "support/ready.rs"]
mod support_ready;
use support_ready::ready;

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
        .unwrap()
        .with_keyring(&ring());
    let pool = store.sqlite_pool().unwrap().clone();
    rt.block_on(async {
        for ddl in [
            PlainStrong::CREATE_TABLE_SQLITE,
            SealedStrong::CREATE_TABLE_SQLITE,
        ] {
            for statement in ddl.split(";\n").filter(|s| !s.trim().is_empty()) {
                sqlx::query(statement).execute(&pool).await.unwrap();
            }
        }
    });
    let plain: Repository<PlainStrong> = Repository::new(store.clone());
    let sealed: Repository<SealedStrong> = Repository::builder(store.clone()).try_build().unwrap();
    rt.block_on(async {
        for id in 0..ROWS {
            plain.put(PlainStrong::new(id)).await.unwrap();
            sealed.put(SealedStrong::new(id)).await.unwrap();
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

    let mut group = c.benchmark_group("enc_sqlite_put_get");
    let mut id = 0;
    checkpoint();
    group.bench_function("plain", |b| {
        b.iter(|| {
            id = (id + 7) % ROWS;
            rt.block_on(async {
                plain.put(PlainStrong::new(id)).await.unwrap();
                black_box(plain.get(&id).await.unwrap())
            })
        })
    });
    checkpoint();
    group.bench_function("sealed", |b| {
        b.iter(|| {
            id = (id + 7) % ROWS;
            rt.block_on(async {
                sealed.put(SealedStrong::new(id)).await.unwrap();
                black_box(sealed.get(&id).await.unwrap())
            })
        })
    });
    group.finish();

    let plain = PlainStrongRepo::from(plain);
    let sealed = SealedStrongRepo::from(sealed);
    let mut group = c.benchmark_group("enc_find");
    group.bench_function("plain_index", |b| {
        b.iter(|| {
            id = (id + 7) % ROWS;
            let email = format!("user{id}@example.com");
            rt.block_on(async { black_box(plain.find_by_email(&email).await.unwrap().unwrap()) })
        })
    });
    group.bench_function("blind_index", |b| {
        b.iter(|| {
            id = (id + 7) % ROWS;
            let email = format!("user{id}@example.com");
            rt.block_on(async { black_box(sealed.find_by_email(&email).await.unwrap().unwrap()) })
        })
    });
    group.finish();
}

fn l1_hit(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // `synchronous=normal`: commits that do not wait for the disk, as the baseline's, so the figures measure the
    // code and not the fsync (the default, `full`, adds one to every commit).
    let store = rt
        .block_on(Store::open(&format!(
            "sqlite://{}?synchronous=normal",
            dir.path().join("l1.db").display()
        )))
        .unwrap()
        .with_keyring(&ring());
    let pool = store.sqlite_pool().unwrap().clone();
    rt.block_on(async {
        for ddl in [
            PlainEventual::CREATE_TABLE_SQLITE,
            SealedEventual::CREATE_TABLE_SQLITE,
        ] {
            for statement in ddl.split(";\n").filter(|s| !s.trim().is_empty()) {
                sqlx::query(statement).execute(&pool).await.unwrap();
            }
        }
    });
    let plain: Repository<PlainEventual> = Repository::new(store.clone());
    let sealed: Repository<SealedEventual> = Repository::new(store.clone());
    rt.block_on(async {
        for id in 0..ROWS {
            plain.put(PlainEventual::new(id)).await.unwrap();
            sealed.put(SealedEventual::new(id)).await.unwrap();
        }
    });
    let mut group = c.benchmark_group("enc_l1_hit");
    let mut id = 0;
    group.bench_function("plain", |b| {
        b.iter(|| {
            id = (id + 7) % ROWS;
            black_box(ready(plain.get(black_box(&id))).unwrap())
        })
    });
    group.bench_function("sealed", |b| {
        b.iter(|| {
            id = (id + 7) % ROWS;
            black_box(ready(sealed.get(black_box(&id))).unwrap())
        })
    });
    group.finish();
}

criterion_group!(benches, sqlite, l1_hit);
criterion_main!(benches);
