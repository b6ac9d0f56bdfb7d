//! Crypto-shredding end to end, on real servers: the generated repository of `proto/pii/v1/subject.proto`
//! (`HealthRecord`, whose `encrypt` fields belong to the subject `owner_id`) on SQLite and PostgreSQL 15 with
//! Redis 7 in front. Each subject's values are sealed under a data key of its own, stored wrapped in
//! `capacitor_subject_keys`; shredding a subject destroys its key, after which every copy of its values —
//! the live rows, a backup taken before and restored after, a new process — fails to read with
//! `PiiError::SubjectKeyDestroyed`, while other subjects read on. No error names a value or a subject.

// The whole generated API is included; this test uses part of it.
#[allow(dead_code)]
mod pii {
    pub mod v1 {
        capacitor::include_proto!("pii.v1");
    }
}

use capacitor::pii::{FieldCipher, FieldContext, PiiError};
use capacitor::redis::{RedisOptions, RedisTier};
use capacitor::{Error, Repository, Store};
use capacitor_codegen::ddl::{Dialect, render, subject_keys_table};
use capacitor_testkit::redis::RedisServer;
use pii::v1::{HealthRecord, HealthRecordRepo};

#[path = "support/keys.rs"]
mod keys;
#[path = "support/stores.rs"]
mod stores;
use keys::ring;
use stores::{contains, create_tables, execute, execute_script, raw_redis_values};

const CANARY_DIAGNOSIS: &str = "CANARY-DX shredded astrocytoma";
const CANARY_DOMAIN: &str = "canary-shred.example";
/// Subject ids are PII too (an owner's id may be an email): none may appear in the key table or an error.
const OWNER_A: &str = "owner-CANARY-A";
const OWNER_B: &str = "owner-CANARY-B";
const OWNER_C: &str = "owner-CANARY-C";
const OWNER_D: &str = "owner-CANARY-D";

fn record(id: &str, owner: &str) -> HealthRecord {
    HealthRecord {
        id: id.to_owned(),
        owner_id: owner.to_owned(),
        diagnosis: format!("{CANARY_DIAGNOSIS} {id}"),
        email: format!("{id}@{CANARY_DOMAIN}"),
        visits: 3,
    }
}

/// A stored row, raw: id, owner, diagnosis and email ciphertexts, email blind index, visits, version.
type RawRow = (String, String, Vec<u8>, Vec<u8>, Vec<u8>, i64, i64);

const SELECT_RAW: &str = "SELECT id, owner_id, diagnosis, email, email_bidx, visits, _version FROM health_records ORDER BY id";

async fn raw_rows(store: &Store) -> Vec<RawRow> {
    if let Some(pool) = store.sqlite_pool() {
        sqlx::query_as(SELECT_RAW).fetch_all(pool).await.unwrap()
    } else {
        let pool = store.postgres_pool().expect("a SQL store");
        sqlx::query_as(SELECT_RAW).fetch_all(pool).await.unwrap()
    }
}

/// Restores `rows` as a backup restore would (`INSERT` of the dumped values).
async fn restore(store: &Store, rows: &[RawRow]) {
    for (id, owner, diagnosis, email, bidx, visits, version) in rows.iter().cloned() {
        if let Some(pool) = store.sqlite_pool() {
            sqlx::query("INSERT INTO health_records (id, owner_id, diagnosis, email, email_bidx, visits, _version) VALUES (?, ?, ?, ?, ?, ?, ?)")
                .bind(id).bind(owner).bind(diagnosis).bind(email).bind(bidx).bind(visits).bind(version)
                .execute(pool).await.unwrap();
        } else {
            let pool = store.postgres_pool().unwrap();
            sqlx::query("INSERT INTO health_records (id, owner_id, diagnosis, email, email_bidx, visits, _version) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(id).bind(owner).bind(diagnosis).bind(email).bind(bidx).bind(visits).bind(version)
                .execute(pool).await.unwrap();
        }
    }
}

/// The subject key table, raw: key id, subject token, wrapped key.
async fn key_rows(store: &Store) -> Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    const SQL: &str =
        "SELECT key_id, subject_token, wrapped_key FROM capacitor_subject_keys ORDER BY key_id";
    if let Some(pool) = store.sqlite_pool() {
        sqlx::query_as(SQL).fetch_all(pool).await.unwrap()
    } else {
        sqlx::query_as(SQL)
            .fetch_all(store.postgres_pool().unwrap())
            .await
            .unwrap()
    }
}

async fn create_subject_tables(store: &Store, dialect: Dialect) {
    create_tables(store, "pii/v1/subject.proto", None, dialect).await;
    let script = render::create_table(&subject_keys_table(dialect), dialect);
    execute_script(store, &script).await;
}

/// `pii.v1.HealthRecord` as a derived struct without `subject`: the entity after its schema dropped the option.
mod unsubjected {
    #[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
    #[capacitor(
        table = "health_records",
        package = "pii.v1",
        consistency = "strong",
        repository
    )]
    pub struct HealthRecord {
        #[prost(string, tag = "1")]
        #[capacitor(primary_key)]
        pub id: String,
        #[prost(string, tag = "2")]
        #[capacitor(index)]
        pub owner_id: String,
        #[prost(string, tag = "3")]
        #[capacitor(pii = "free_text", encrypt)]
        pub diagnosis: String,
        #[prost(string, tag = "4")]
        #[capacitor(pii = "email", encrypt, unique)]
        pub email: String,
        #[prost(int64, tag = "5")]
        pub visits: i64,
    }
}

fn opt_plain(
    read: Result<capacitor::Versioned<unsubjected::HealthRecord>, Error>,
) -> Result<Option<capacitor::Versioned<unsubjected::HealthRecord>>, Error> {
    match read {
        Err(e) if e.is_not_found() => Ok(None),
        other => other.map(Some),
    }
}

/// A read as an option: absent is `None`.
fn opt(
    read: Result<capacitor::Versioned<HealthRecord>, Error>,
) -> Result<Option<capacitor::Versioned<HealthRecord>>, Error> {
    match read {
        Err(e) if e.is_not_found() => Ok(None),
        other => other.map(Some),
    }
}

/// Every rendering of an error and its sources.
fn rendered(error: &Error) -> String {
    use std::error::Error as _;
    let mut text = format!("{error} | {error:?}");
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(&format!(" | {inner} | {inner:?}"));
        source = inner.source();
    }
    text
}

fn assert_no_pii(text: &str, what: &str) {
    for canary in ["CANARY", "canary", "owner-"] {
        assert!(!text.contains(canary), "{what} names a value: {text}");
    }
}

/// The read of a shredded subject's row: the typed error naming entity and field, never a value or subject.
fn assert_shredded(result: Result<Option<capacitor::Versioned<HealthRecord>>, Error>, what: &str) {
    let error = result.expect_err(what);
    match &error {
        Error::Encryption {
            entity,
            source:
                PiiError::SubjectKeyDestroyed {
                    entity: full,
                    field,
                },
        } => {
            assert_eq!(*entity, "HealthRecord", "{what}");
            assert_eq!(full, "pii.v1.HealthRecord", "{what}");
            assert!(field == "diagnosis" || field == "email", "{what}: {field}");
        }
        other => panic!("{what}: not a destroyed subject key: {other}"),
    }
    let text = rendered(&error);
    assert!(text.contains("destroyed"), "{text}");
    assert_no_pii(&text, what);
}

async fn exercise(store: Store, dialect: Dialect, prefix: &str) {
    create_subject_tables(&store, dialect).await;
    let store = store.with_keyring(&ring(&[(1, 7)]));
    let server = RedisServer::shared();
    let tier = RedisTier::connect(
        &server.url(),
        RedisOptions {
            prefix: prefix.to_owned(),
            ..RedisOptions::default()
        },
    )
    .await
    .unwrap();
    let repo = HealthRecordRepo::from(
        Repository::<HealthRecord>::builder(store.clone())
            .redis(tier.clone())
            .try_build()
            .unwrap(),
    );

    // Round trip, two subjects.
    for (id, owner) in [("a1", OWNER_A), ("a2", OWNER_A), ("b1", OWNER_B)] {
        repo.put(record(id, owner)).await.unwrap();
    }
    // Concurrent first writes for one new subject create one key: every writer uses the winner's.
    let writers: Vec<_> = (0..8)
        .map(|i| {
            let repo = repo.clone();
            tokio::spawn(async move { repo.put(record(&format!("c{i}"), OWNER_C)).await })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap().unwrap();
    }
    assert_eq!(key_rows(&store).await.len(), 3, "one key per subject");
    for id in ["a1", "a2", "b1", "c0", "c7"] {
        let owner = match id.as_bytes()[0] {
            b'a' => OWNER_A,
            b'b' => OWNER_B,
            _ => OWNER_C,
        };
        let got = opt(repo.get(&id.to_owned()).await).unwrap().unwrap();
        assert_eq!(got.value, record(id, owner), "{id}");
    }
    // Another process on the same Redis, which has not read B's key yet: its first read of b1 is a Redis miss
    // (not an error), read from the store, which loads the key; the next is a Redis hit.
    let other = Repository::<HealthRecord>::builder(store.with_keyring(&ring(&[(1, 7)])))
        .redis(tier.clone())
        .without_l1()
        .try_build()
        .unwrap();
    for _ in 0..2 {
        assert_eq!(
            opt(other.get(&"b1".to_owned()).await)
                .unwrap()
                .unwrap()
                .value,
            record("b1", OWNER_B)
        );
    }
    let stats = other.stats();
    assert_eq!(stats.redis_errors, 0, "{stats:?}");
    assert_eq!((stats.redis_misses, stats.redis_hits), (1, 1), "{stats:?}");

    // A fresh store handle (nothing cached) reads them too, and the blind index finds by email.
    let fresh = HealthRecordRepo::from(Repository::<HealthRecord>::new(
        store.with_keyring(&ring(&[(1, 7)])),
    ));
    for i in 0..8 {
        let id = format!("c{i}");
        assert_eq!(
            opt(fresh.get(&id).await).unwrap().unwrap().value,
            record(&id, OWNER_C)
        );
    }
    let found = fresh
        .find_by_email(&format!("a2@{CANARY_DOMAIN}"))
        .await
        .unwrap()
        .expect("found by its blind index");
    assert_eq!(found.value.id, "a2");

    // At rest: ciphertext in the version 2 format, one key per subject; the key table holds wrapped keys and
    // tokens, never a subject id or a value.
    let rows = raw_rows(&store).await;
    let key_of = |id: &str| {
        let row = rows.iter().find(|r| r.0 == id).unwrap();
        assert_eq!(row.2[0], 2, "{id}: version 2");
        assert_eq!(row.3[0], 2, "{id}: version 2");
        assert_eq!(
            row.2[1..17],
            row.3[1..17],
            "{id}: one key for the row's fields"
        );
        row.2[1..17].to_vec()
    };
    assert_eq!(key_of("a1"), key_of("a2"), "one subject, one data key");
    assert_ne!(key_of("a1"), key_of("b1"), "two subjects, two data keys");
    assert_ne!(key_of("b1"), key_of("c0"));
    for row in &rows {
        for bytes in [&row.2, &row.3, &row.4] {
            for canary in [CANARY_DIAGNOSIS.as_bytes(), CANARY_DOMAIN.as_bytes()] {
                assert!(!contains(bytes, canary), "{}: plaintext at rest", row.0);
            }
        }
    }
    for (key_id, token, wrapped) in key_rows(&store).await {
        assert_eq!((key_id.len(), token.len()), (16, 32));
        assert_eq!(wrapped[..4], 1u32.to_be_bytes(), "wrapped under ring key 1");
        for bytes in [&key_id, &token, &wrapped] {
            assert!(!contains(bytes, b"owner-"), "a subject id in the key table");
            assert!(!contains(bytes, b"CANARY"), "a subject id in the key table");
        }
    }
    for value in raw_redis_values(server, prefix).await {
        assert!(
            !contains(&value, CANARY_DIAGNOSIS.as_bytes()),
            "plaintext in Redis"
        );
    }

    // A value sealed under the ring (written before the entity named a subject) still reads, and
    // `reencrypt` moves it to its subject's key.
    let ring_cipher = FieldCipher::new(&ring(&[(1, 7)]));
    let row_key = b"s4:old1;";
    let ctx = |field: &'static str, field_number: u32| FieldContext {
        entity: "pii.v1.HealthRecord",
        field,
        field_number,
        row_key,
    };
    let old = record("old1", OWNER_B);
    let diagnosis = ring_cipher
        .encrypt(&ctx("diagnosis", 3), old.diagnosis.as_bytes())
        .unwrap();
    let email = ring_cipher
        .encrypt(&ctx("email", 4), old.email.as_bytes())
        .unwrap();
    restore(
        &store,
        &[(
            "old1".into(),
            OWNER_B.into(),
            diagnosis,
            email,
            vec![0xEE; 32],
            3,
            1,
        )],
    )
    .await;
    assert_eq!(
        opt(fresh.get(&"old1".to_owned()).await)
            .unwrap()
            .unwrap()
            .value,
        old
    );
    let pass = Repository::<HealthRecord>::new(store.clone())
        .reencrypt(capacitor::repo::ReencryptOptions::default(), |_| {})
        .await
        .unwrap();
    assert_eq!(pass.rewritten, 1, "only the ring-sealed row is stale");
    let moved = raw_rows(&store).await;
    let moved = moved.iter().find(|r| r.0 == "old1").unwrap();
    assert_eq!(moved.2[0], 2);
    assert_eq!(moved.2[1..17], key_of("b1")[..], "under its subject's key");

    // A backup taken before shredding.
    let backup: Vec<RawRow> = raw_rows(&store)
        .await
        .into_iter()
        .filter(|r| r.1 == OWNER_A)
        .collect();
    assert_eq!(backup.len(), 2);

    // Shredding A: one key destroyed, its two rows found and dropped from L1.
    assert!(opt(repo.get(&"a1".to_owned()).await).unwrap().is_some()); // in L1 now
    let report = repo.shred_subject(&OWNER_A.to_owned()).await.unwrap();
    assert_eq!(report.keys_destroyed, 1);
    assert_eq!(report.rows, 2);
    assert_eq!(report.purged, vec![capacitor::Tier::Memory]);
    assert_no_pii(&format!("{report:?}"), "the report");
    assert_eq!(key_rows(&store).await.len(), 2);
    // Every read of A's rows fails, typed: this process (L1 purged, Redis entry unreadable), a fresh one.
    for id in ["a1", "a2"] {
        assert_shredded(opt(repo.get(&id.to_owned()).await), "the repository");
        let again = Repository::<HealthRecord>::new(store.with_keyring(&ring(&[(1, 7)])));
        assert_shredded(opt(again.get(&id.to_owned()).await), "a new process");
    }
    // The other subjects read on.
    assert_eq!(
        opt(repo.get(&"b1".to_owned()).await)
            .unwrap()
            .unwrap()
            .value,
        record("b1", OWNER_B)
    );
    assert!(opt(fresh.get(&"c3".to_owned()).await).unwrap().is_some());
    // Shredding again destroys nothing; erasing the shredded rows works, found by their subject (their keys
    // unknown to the caller), and leaves the other subjects' rows.
    assert_eq!(store.shred_subject(&OWNER_A.to_owned()).await.unwrap(), 0);
    let erased = repo.erase_subject(&OWNER_A.to_owned()).await.unwrap();
    assert_eq!(erased.len(), 2);
    assert!(erased.iter().all(|r| r.version.is_some()), "{erased:?}");
    assert_no_pii(&format!("{erased:?}"), "the erasure reports");
    for id in ["a1", "a2"] {
        assert_eq!(opt(repo.get(&id.to_owned()).await).unwrap(), None);
    }
    assert!(
        repo.erase_subject(&OWNER_A.to_owned())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(opt(repo.get(&"b1".to_owned()).await).unwrap().is_some());

    // The backup restored: still unreadable, as is any copy.
    restore(&store, &backup).await;
    for id in ["a1", "a2"] {
        let again = Repository::<HealthRecord>::new(store.with_keyring(&ring(&[(1, 7)])));
        assert_shredded(opt(again.get(&id.to_owned()).await), "a restored backup");
    }
    let page = store.scan::<HealthRecord>(None, 100).await;
    assert!(
        page.is_err(),
        "a scan over a shredded row fails rather than skipping it"
    );
    // A maintenance pass skips them, counted, and goes on.
    let pass = Repository::<HealthRecord>::new(store.clone())
        .reencrypt(
            capacitor::repo::ReencryptOptions {
                all_rows: true,
                ..Default::default()
            },
            |_| {},
        )
        .await
        .unwrap();
    assert_eq!(pass.skipped_shredded, 2, "{pass:?}");
    assert_eq!(pass.rewritten + 2, pass.scanned, "{pass:?}");
    for id in ["a1", "a2"] {
        repo.erase(&id.to_owned()).await.unwrap();
    }

    // The subject writes again after shredding: new data under a new key.
    repo.put(record("a3", OWNER_A)).await.unwrap();
    assert_eq!(key_rows(&store).await.len(), 3);
    let fresh_a = Repository::<HealthRecord>::new(store.with_keyring(&ring(&[(1, 7)])));
    assert_eq!(
        opt(fresh_a.get(&"a3".to_owned()).await)
            .unwrap()
            .unwrap()
            .value,
        record("a3", OWNER_A)
    );

    // In a transaction: a new subject's key is created in it, so a rollback takes it away with the rows,
    // and a commit keeps both (readable by a new process, whose cache never saw the key).
    let mut tx = store.begin().await.unwrap();
    repo.put_in(&mut tx, record("d1", OWNER_D)).await.unwrap();
    repo.put_in(&mut tx, record("d2", OWNER_D)).await.unwrap();
    tx.rollback().await;
    assert_eq!(key_rows(&store).await.len(), 3, "rolled back with the rows");
    assert_eq!(opt(repo.get(&"d1".to_owned()).await).unwrap(), None);
    let cached_before = raw_redis_values(server, prefix).await.len();
    let mut tx = store.begin().await.unwrap();
    repo.put_in(&mut tx, record("d1", OWNER_D)).await.unwrap();
    repo.put_in(&mut tx, record("d2", OWNER_D)).await.unwrap();
    tx.commit().await.unwrap();
    // The commit's write-through sealed both rows for Redis with the key the transaction created.
    assert_eq!(
        raw_redis_values(server, prefix).await.len(),
        cached_before + 2,
        "written through to Redis"
    );
    assert_eq!(
        key_rows(&store).await.len(),
        4,
        "one key for the transaction's subject"
    );
    let rows = raw_rows(&store).await;
    let d: Vec<_> = rows.iter().filter(|r| r.1 == OWNER_D).collect();
    assert_eq!(d[0].2[1..17], d[1].2[1..17], "both rows under one key");
    let again = Repository::<HealthRecord>::new(store.with_keyring(&ring(&[(1, 7)])));
    for id in ["d1", "d2"] {
        assert_eq!(
            opt(again.get(&id.to_owned()).await).unwrap().unwrap().value,
            record(id, OWNER_D)
        );
    }
    // The entity stops naming a subject: values under subject keys still read (their keys are loaded by id),
    // and `reencrypt` moves them back under the ring.
    let dropped =
        Repository::<unsubjected::HealthRecord>::new(store.with_keyring(&ring(&[(1, 7)])));
    let d1 = opt_plain(dropped.get(&"d1".to_owned()).await)
        .unwrap()
        .unwrap();
    assert_eq!(d1.value.diagnosis, record("d1", OWNER_D).diagnosis);
    let pass = dropped
        .reencrypt(capacitor::repo::ReencryptOptions::default(), |_| {})
        .await
        .unwrap();
    assert!(pass.rewritten >= 2, "{pass:?}");
    for row in raw_rows(&store).await {
        assert_eq!(row.2[0], 1, "{}: back under the ring", row.0);
    }
    assert_eq!(
        opt_plain(dropped.get(&"d2".to_owned()).await)
            .unwrap()
            .unwrap()
            .value
            .email,
        record("d2", OWNER_D).email
    );
    // And back: naming the subject again, a pass moves them under their subjects' keys.
    let back = Repository::<HealthRecord>::new(store.clone())
        .reencrypt(capacitor::repo::ReencryptOptions::default(), |_| {})
        .await
        .unwrap();
    assert_eq!(back.rewritten, pass.rewritten, "{back:?}");
    for row in raw_rows(&store).await {
        assert_eq!(row.2[0], 2, "{}: under its subject's key again", row.0);
    }

    assert_eq!(store.shred_subject(&OWNER_D.to_owned()).await.unwrap(), 1);

    // Ring rotation: rewrapping moves every subject key (and its token) to the new ring key, so the old one
    // can leave the ring; the data keys, and so the rows, do not change.
    let rotated = store.with_keyring(&ring(&[(2, 8), (1, 7)]));
    assert_eq!(rotated.rewrap_subject_keys().await.unwrap(), 3);
    assert_eq!(
        rotated.rewrap_subject_keys().await.unwrap(),
        0,
        "idempotent"
    );
    for (_, _, wrapped) in key_rows(&store).await {
        assert_eq!(wrapped[..4], 2u32.to_be_bytes());
    }
    let only_new = store.with_keyring(&ring(&[(2, 8)]));
    let after = Repository::<HealthRecord>::new(only_new.clone());
    assert_eq!(
        opt(after.get(&"b1".to_owned()).await)
            .unwrap()
            .unwrap()
            .value,
        record("b1", OWNER_B)
    );
    // A subject's key is found by its rewrapped token: a new write for B reuses it, and B still shreds.
    after.put(record("b2", OWNER_B)).await.unwrap();
    assert_eq!(key_rows(&store).await.len(), 3);
    // Another process that read B's key keeps it for its cache's TTL after B is shredded elsewhere (the
    // documented window), then reads B's rows as shredded.
    // (Without L1, which would keep its plaintext copy for the entity's cache TTL: see docs/pii.md.)
    let elsewhere = Repository::<HealthRecord>::builder(store.with_keyring_and_subject_cache(
        &ring(&[(2, 8)]),
        capacitor::pii::SubjectKeyCache {
            capacity: 100,
            ttl: std::time::Duration::from_millis(300),
        },
    ))
    .without_l1()
    .try_build()
    .unwrap();
    assert!(
        opt(elsewhere.get(&"b1".to_owned()).await)
            .unwrap()
            .is_some()
    );
    assert_eq!(
        only_new.shred_subject(&OWNER_B.to_owned()).await.unwrap(),
        1
    );
    assert!(
        opt(elsewhere.get(&"b1".to_owned()).await)
            .unwrap()
            .is_some(),
        "within the TTL"
    );
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_shredded(opt(elsewhere.get(&"b1".to_owned()).await), "after the TTL");
    let later = Repository::<HealthRecord>::new(store.with_keyring(&ring(&[(2, 8)])));
    assert_shredded(opt(later.get(&"b2".to_owned()).await), "after a rotation");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shredding_on_sqlite_and_redis() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("shred.db").display());
    let store = Store::open(&url).await.unwrap();
    exercise(store, Dialect::Sqlite, "shred-sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shredding_on_postgres_and_redis() {
    let server = capacitor_testkit::postgres::PostgresServer::shared();
    let url = server
        .create_database("shredding")
        .expect("creates the test database");
    let store = Store::open(&url).await.unwrap();
    exercise(store, Dialect::Postgres, "shred-postgres").await;
}

/// A SQLite file copied before shredding (a file backup, `VACUUM INTO`) and opened after it, with the key
/// table as it is now (kept apart from long-lived backups): the shredded subject's rows do not read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_file_backup_is_unreadable_after_shredding() {
    let dir = tempfile::tempdir().unwrap();
    let live_url = format!("sqlite:{}", dir.path().join("live.db").display());
    let store = Store::open(&live_url).await.unwrap();
    create_subject_tables(&store, Dialect::Sqlite).await;
    let store = store.with_keyring(&ring(&[(1, 7)]));
    let repo = Repository::<HealthRecord>::new(store.clone());
    repo.put(record("a1", OWNER_A)).await.unwrap();
    repo.put(record("b1", OWNER_B)).await.unwrap();
    let backup_path = dir.path().join("backup.db");
    execute(&store, &format!("VACUUM INTO '{}'", backup_path.display())).await;

    store.shred_subject(&OWNER_A.to_owned()).await.unwrap();

    // Restore the data from the file, and the key table from the live database.
    let restored = Store::open(&format!("sqlite:{}", backup_path.display()))
        .await
        .unwrap();
    execute(&restored, "DELETE FROM capacitor_subject_keys").await;
    let pool = restored.sqlite_pool().unwrap();
    for (key_id, token, wrapped) in key_rows(&store).await {
        sqlx::query("INSERT INTO capacitor_subject_keys (key_id, subject_token, wrapped_key, created_at) VALUES (?, ?, ?, 0)")
            .bind(key_id)
            .bind(token)
            .bind(wrapped)
            .execute(pool)
            .await
            .unwrap();
    }
    let restored = Repository::<HealthRecord>::new(restored.with_keyring(&ring(&[(1, 7)])));
    assert_shredded(opt(restored.get(&"a1".to_owned()).await), "a file backup");
    assert_eq!(
        opt(restored.get(&"b1".to_owned()).await)
            .unwrap()
            .unwrap()
            .value,
        record("b1", OWNER_B)
    );
}

/// A write-through that cannot seal its value (this process holds no cached key for the subject: here a
/// subject key cache with a zero TTL, as after an eviction) must not leave the previous version readable from
/// Redis: the entry becomes a fence (the version, no value), read as a miss, and the next read gets the new
/// version from the store. Before, the write-through failed before reaching Redis, was not counted as a Redis
/// failure, and the strong write was acknowledged with the older entry still cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_that_cannot_seal_leaves_no_older_entry_readable() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("unsealed.db").display());
    let store = Store::open(&url).await.unwrap();
    create_subject_tables(&store, Dialect::Sqlite).await;
    let tier = || async {
        RedisTier::connect(
            &RedisServer::shared().url(),
            RedisOptions {
                prefix: "unsealed".to_owned(),
                ..RedisOptions::default()
            },
        )
        .await
        .unwrap()
    };
    let reader = Repository::<HealthRecord>::builder(store.with_keyring(&ring(&[(1, 7)])))
        .redis(tier().await)
        .without_l1()
        .try_build()
        .unwrap();
    let forgetful = store.with_keyring_and_subject_cache(
        &ring(&[(1, 7)]),
        capacitor::pii::SubjectKeyCache {
            capacity: 100,
            ttl: std::time::Duration::ZERO,
        },
    );
    let writer = Repository::<HealthRecord>::builder(forgetful)
        .redis(tier().await)
        .without_l1()
        .try_build()
        .unwrap();

    let id = "u1".to_owned();
    let v1 = reader.put(record(&id, OWNER_A)).await.unwrap();
    assert_eq!(reader.get(&id).await.unwrap().version, v1);
    assert_eq!(reader.get(&id).await.unwrap().version, v1);
    assert!(reader.stats().redis_hits > 0, "{:?}", reader.stats());

    let mut changed = record(&id, OWNER_A);
    changed.visits += 1;
    let v2 = writer.put(changed.clone()).await.unwrap();
    let read = reader.get(&id).await.unwrap();
    assert_eq!((read.version, read.value), (v2, changed));
}
