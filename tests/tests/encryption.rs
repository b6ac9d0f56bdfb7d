//! Field encryption end to end, on real servers: the generated repository of `proto/pii/v1/patient.proto`
//! (fields declared `encrypt`) on SQLite and PostgreSQL 15 with Redis 7 in front. At rest — the raw SQL column
//! read with a plain query, the raw Redis value read with GET — holds ciphertext, never the canary plaintext;
//! a ciphertext moved into another row, a wrong key and an unknown key id fail with errors naming entity and
//! field; an entity with encrypted fields and no key ring is refused up front.

// The whole generated API is included; this test uses part of it.
#[allow(dead_code)]
mod pii {
    pub mod v1 {
        capacitor::include_proto!("pii.v1");
    }
}

use capacitor::pii::PiiError;
use capacitor::redis::{RedisOptions, RedisTier};
use capacitor::{Error, Repository, Store};
use capacitor_codegen::ddl::Dialect;
use capacitor_testkit::redis::RedisServer;
use pii::v1::{Patient, PatientRepo};

#[path = "support/keys.rs"]
mod keys;
#[path = "support/stores.rs"]
mod stores;
use keys::ring;
use stores::{contains, create_tables, execute, raw_redis_values};

/// Canary values: none may appear in any column or cached payload.
const CANARY_ID: &str = "CANARY-NID-7391-0042";
const CANARY_TEXT: &str = "CANARY diagnosis: rare astrocytoma";
const CANARY_SCAN: &[u8] = b"CANARY-SCAN-BYTES";
const CANARY_CITY: &str = "CANARYVILLE";

fn patient(id: &str) -> Patient {
    Patient {
        id: id.to_owned(),
        national_id: format!("{CANARY_ID}-{id}"),
        diagnosis: Some(CANARY_TEXT.to_owned()),
        scan: CANARY_SCAN.to_vec(),
        visits: 3,
        email: format!("{id}@canary.example"),
        city: CANARY_CITY.to_owned(),
    }
}

type Row = (
    Vec<u8>,
    Option<Vec<u8>>,
    Vec<u8>,
    Vec<u8>,
    Vec<u8>,
    Vec<u8>,
    Vec<u8>,
);

/// The raw bytes of every encrypted column of every row, read with a plain query, and of the blind indexes.
async fn raw_columns(store: &Store) -> Vec<Vec<u8>> {
    raw_columns_and_tokens(store).await.0
}

async fn raw_columns_and_tokens(store: &Store) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut blind = Vec::new();
    const SQL: &str =
        "SELECT national_id, diagnosis, scan, email, city, email_bidx, city_bidx FROM patients";
    let mut out = Vec::new();
    if let Some(pool) = store.sqlite_pool() {
        let rows: Vec<Row> = sqlx::query_as(SQL).fetch_all(pool).await.unwrap();
        for (a, b, c, d, e, f, g) in rows {
            out.extend([a, c, d, e]);
            out.extend(b);
            blind.extend([f, g]);
        }
    } else if let Some(pool) = store.postgres_pool() {
        let rows: Vec<Row> = sqlx::query_as(SQL).fetch_all(pool).await.unwrap();
        for (a, b, c, d, e, f, g) in rows {
            out.extend([a, c, d, e]);
            out.extend(b);
            blind.extend([f, g]);
        }
    }
    (out, blind)
}

fn assert_no_canary(bytes: &[u8], what: &str) {
    for canary in [
        CANARY_ID.as_bytes(),
        CANARY_TEXT.as_bytes(),
        CANARY_SCAN,
        CANARY_CITY.as_bytes(),
        b"canary.example",
    ] {
        assert!(
            !contains(bytes, canary),
            "{what} holds a canary in plaintext"
        );
    }
}

async fn exercise(store: Store, dialect: Dialect, prefix: &str) {
    create_tables(&store, "pii/v1/patient.proto", None, dialect).await;

    // No key ring: refused up front, naming the entity; and no write reaches the table.
    let refused = Repository::<Patient>::builder(store.clone())
        .try_build()
        .err()
        .expect("an encrypted entity without a key ring is refused");
    assert!(
        matches!(&refused, Error::Config(m) if m.contains("Patient")),
        "{refused}"
    );
    // A direct store write (no repository in between) is refused the same way.
    let error = store.put(&patient("nokey")).await.unwrap_err();
    assert!(matches!(error, Error::Config(_)), "{error}");
    assert!(raw_columns(&store).await.is_empty());

    // With keys, through L1 and Redis.
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
    let repo = Repository::<Patient>::builder(store.clone())
        .redis(tier.clone())
        .try_build()
        .unwrap();
    for id in ["p1", "p2"] {
        repo.put(patient(id)).await.unwrap();
    }
    let mut unset = patient("p3");
    unset.diagnosis = None;
    repo.put(unset.clone()).await.unwrap();
    assert_eq!(
        repo.get(&"p1".to_owned()).await.unwrap().value,
        patient("p1")
    );

    // At rest in SQL: ciphertext only (33 bytes of format overhead), never the canary.
    let raw = raw_columns(&store).await;
    assert_eq!(
        raw.len(),
        14,
        "two rows with five values, one with four (NULL diagnosis)"
    );
    for value in &raw {
        assert_no_canary(value, "a SQL column");
        assert_eq!(value[0], 1, "ciphertext format version 1");
        assert_eq!(&value[1..5], &1u32.to_be_bytes(), "under key id 1");
    }

    // At rest in Redis: a process without L1 reads through the store and fills Redis; the payloads hold no
    // canary, and a third process reads them back from Redis (decrypting).
    let no_l1 = Repository::<Patient>::builder(store.clone())
        .redis(tier.clone())
        .without_l1()
        .build();
    for id in ["p1", "p2", "p3"] {
        no_l1.get(&id.to_owned()).await.unwrap();
    }
    let cached = raw_redis_values(server, prefix).await;
    assert!(cached.len() >= 3, "Redis holds the rows");
    for value in &cached {
        assert_no_canary(value, "a Redis value");
    }
    let reader = Repository::<Patient>::builder(store.clone())
        .redis(tier.clone())
        .without_l1()
        .build();
    assert_eq!(
        reader.get(&"p2".to_owned()).await.unwrap().value,
        patient("p2")
    );
    assert_eq!(reader.get(&"p3".to_owned()).await.unwrap().value, unset);

    // Blind indexes: tokens at rest (32 bytes for the unique index, 3 for the secondary one's configured 24
    // bits), never the value;
    // the generated finders work unchanged.
    let (_, tokens) = raw_columns_and_tokens(&store).await;
    for token in &tokens {
        assert_no_canary(token, "a blind index column");
        assert!(token.len() == 32 || token.len() == 3, "{}", token.len());
    }
    let patients = PatientRepo::from(repo.clone());
    let found = patients
        .find_by_email(&"p2@canary.example".to_owned())
        .await
        .unwrap()
        .expect("found by its blind index");
    assert_eq!(found.value, patient("p2"));
    assert!(
        patients
            .find_by_email(&"nobody@canary.example".to_owned())
            .await
            .unwrap()
            .is_none()
    );
    let mut elsewhere = patient("p5");
    elsewhere.city = "Elsewhere".to_owned();
    patients.put(elsewhere).await.unwrap();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = patients
            .find_by_city(&CANARY_CITY.to_owned(), after.as_ref(), 2)
            .await
            .unwrap();
        seen.extend(page.items.into_iter().map(|v| v.value.id));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ["p1", "p2", "p3"]);
    // A unique violation through the blind index is typed, and names the index, not the value.
    let mut duplicate = patient("p9");
    duplicate.email = "p1@canary.example".to_owned();
    let error = patients.put(duplicate).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::UniqueViolation {
                index: "patients_email_key",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        !format!("{error} {error:?}").contains("canary"),
        "{error:?}"
    );
    patients.delete(&"p5".to_owned()).await.unwrap();

    // A page through the store decrypts every row (the key is read from the row before its ciphertexts).
    let page = store.scan::<Patient>(None, 10).await.unwrap();
    assert_eq!(page.items.len(), 3);
    assert_eq!(page.items[1].value, patient("p2"));

    // A ciphertext moved into another row does not decrypt: the error names entity and field, not the value.
    execute(
        &store,
        "UPDATE patients SET national_id = (SELECT national_id FROM patients WHERE id = 'p2') WHERE id = 'p1'",
    )
    .await;
    let moved = store.get::<Patient>(&"p1".to_owned()).await.unwrap_err();
    assert!(
        matches!(
            &moved,
            Error::Encryption {
                source: PiiError::Authentication {
                    field_number: 2,
                    ..
                },
                ..
            }
        ),
        "a typed error: {moved:?}"
    );
    let text = format!("{moved} {moved:?}");
    assert!(
        text.contains("pii.v1.Patient.national_id (field 2)"),
        "{text}"
    );
    assert!(!text.contains("CANARY"), "{text}");

    // A wrong key under the same id fails to authenticate; an unknown key id is named.
    let wrong = store.with_keyring(&ring(&[(1, 9)]));
    let error = wrong.get::<Patient>(&"p2".to_owned()).await.unwrap_err();
    assert!(
        error.to_string().contains("does not authenticate"),
        "{error}"
    );
    let unknown = store.with_keyring(&ring(&[(2, 7)]));
    let error = unknown.get::<Patient>(&"p2".to_owned()).await.unwrap_err();
    assert!(
        matches!(
            &error,
            Error::Encryption {
                source: PiiError::UnknownKeyId { key_id: 1, .. },
                ..
            }
        ),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains("key id 1") && text.contains("national_id"),
        "{text}"
    );
    assert!(!text.contains("CANARY"), "{text}");

    // After a rotation (new current key first, old kept) old rows still read; new writes use the new id.
    let rotated = store.with_keyring(&ring(&[(2, 8), (1, 7)]));
    assert_eq!(
        rotated
            .get::<Patient>(&"p2".to_owned())
            .await
            .unwrap()
            .unwrap()
            .value,
        patient("p2")
    );
    rotated.put(&patient("p4")).await.unwrap();
    let under_two = raw_columns(&store)
        .await
        .iter()
        .filter(|c| c[1..5] == 2u32.to_be_bytes())
        .count();
    assert_eq!(under_two, 5, "p4's five values are under key id 2");
}

/// Key ids of every stored ciphertext.
async fn key_ids(store: &Store) -> Vec<u32> {
    raw_columns(store)
        .await
        .iter()
        .map(|c| u32::from_be_bytes([c[1], c[2], c[3], c[4]]))
        .collect()
}

/// Rotation: a new current key, then `reencrypt` with a concurrent writer (zero lost writes, nothing left under
/// the old key), then a resumed pass.
async fn rotation(store: Store) {
    execute(&store, "DELETE FROM patients").await;
    let old = store.with_keyring(&ring(&[(1, 7)]));
    let seeded = PatientRepo::from(Repository::<Patient>::new(old));
    let ids: Vec<String> = (0..60).map(|i| format!("r{i:02}")).collect();
    seeded
        .put_many(ids.iter().map(|id| patient(id)).collect())
        .await
        .unwrap();
    assert!(key_ids(&store).await.iter().all(|id| *id == 1));

    let rotated = store.with_keyring(&ring(&[(2, 8), (1, 7)]));
    let repo = Repository::<Patient>::new(rotated.clone());
    let writer = {
        let repo = repo.clone();
        let ids = ids.clone();
        tokio::spawn(async move {
            let mut last = std::collections::BTreeMap::new();
            for round in 0..4i64 {
                for (i, id) in ids.iter().enumerate().filter(|(i, _)| i % 3 == 0) {
                    let mut value = patient(id);
                    value.visits = round * 100 + i as i64;
                    repo.put(value.clone()).await.unwrap();
                    last.insert(id.clone(), value);
                }
                tokio::task::yield_now().await;
            }
            last
        })
    };
    let mut reports = Vec::new();
    let report = repo
        .reencrypt(
            capacitor::repo::ReencryptOptions {
                after: None,
                page_size: 7,
                all_rows: false,
            },
            |p| reports.push(p.clone()),
        )
        .await
        .unwrap();
    let last = writer.await.unwrap();
    assert_eq!(report.scanned, 60);
    assert!(report.rewritten > 0);
    assert_eq!(reports.len(), 60usize.div_ceil(7));
    assert!(reports.last().unwrap().cursor.is_none());
    assert!(reports[0].cursor.is_some());
    // Nothing is left under the old key, and no write was lost.
    assert!(key_ids(&store).await.iter().all(|id| *id == 2));
    let fresh = Repository::<Patient>::builder(rotated.clone())
        .without_l1()
        .build();
    for id in &ids {
        let stored = fresh.get(id).await.unwrap().value;
        let expected = last.get(id).cloned().unwrap_or_else(|| patient(id));
        assert_eq!(stored, expected, "{id}");
    }
    // The old id can now be removed from the ring.
    let only_new = store.with_keyring(&ring(&[(2, 8)]));
    let page = only_new.scan::<Patient>(None, 100).await.unwrap();
    assert_eq!(page.items.len(), 60);
    // Finders after the rotation: the blind index was rebuilt under key 2.
    let after_rotation = PatientRepo::from(Repository::<Patient>::new(only_new.clone()));
    assert!(
        after_rotation
            .find_by_email(&"r05@canary.example".to_owned())
            .await
            .unwrap()
            .is_some()
    );

    // Resumable: a pass started after row r29 rewrites only the rows after it; a second pass does the rest.
    let third = store.with_keyring(&ring(&[(3, 9), (2, 8)]));
    let repo = Repository::<Patient>::new(third);
    let resumed = repo
        .reencrypt(
            capacitor::repo::ReencryptOptions {
                after: Some(repo.cursor(&"r29".to_owned()).unwrap()),
                page_size: 50,
                all_rows: false,
            },
            |_| {},
        )
        .await
        .unwrap();
    assert_eq!((resumed.scanned, resumed.rewritten), (30, 30));
    let ids3 = key_ids(&store).await;
    assert_eq!(ids3.iter().filter(|id| **id == 3).count(), 30 * 5);
    let rest = repo
        .reencrypt(capacitor::repo::ReencryptOptions::default(), |_| {})
        .await
        .unwrap();
    assert_eq!((rest.scanned, rest.rewritten), (60, 30));
    assert!(key_ids(&store).await.iter().all(|id| *id == 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_fields_on_sqlite_and_redis() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("pii.db").display());
    let store = Store::open(&url).await.unwrap();
    exercise(store.clone(), Dialect::Sqlite, "pii-sqlite").await;
    rotation(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_fields_on_postgres_and_redis() {
    let server = capacitor_testkit::postgres::PostgresServer::shared();
    let url = server
        .create_database("encryption")
        .expect("creates the test database");
    let store = Store::open(&url).await.unwrap();
    exercise(store.clone(), Dialect::Postgres, "pii-postgres").await;
    rotation(store).await;
}
