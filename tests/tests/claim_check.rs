//! The claim check end to end, on real servers: the generated repository of `proto/claim/v1/document.proto`
//! (fields declared `claim_check`) on SQLite with Redis 7 in front and a filesystem blob store, and on
//! PostgreSQL 15 with an S3 blob store (the `s3s-fs` server). A value above its threshold is in the blob store
//! once (content-addressed), the row, the Redis entry and the outbox row hold its 41-byte reference, reads through
//! L1, Redis and the store return equal values, a small value stays inline, erasure removes a blob no other row
//! shares, a write rolled back after its blob was written, or a process killed before its commit, leaves only an
//! orphan the collector removes, and a missing blob is an error naming entity, field and reference.

// The whole generated API is included; this test uses part of it.
#[allow(dead_code)]
mod claim {
    pub mod v1 {
        capacitor::include_proto!("claim.v1");
    }
}

use capacitor::blob::{BlobRef, BlobStore, ObjectStoreBlobs, S3Config};
use capacitor::outbox::ChangeCursor;
use capacitor::redis::{RedisOptions, RedisTier};
use capacitor::{Error, Repository, Store};
use capacitor_codegen::ddl::Dialect;
use capacitor_testkit::postgres::PostgresServer;
use capacitor_testkit::pseudo_random_bytes as bytes;
use capacitor_testkit::redis::RedisServer;
use capacitor_testkit::s3::S3Server;
use claim::v1::{Attachment, Document};
use std::sync::Arc;
use std::time::Duration;

#[path = "support/stores.rs"]
mod stores;
use stores::{contains, create_tables, raw_redis_values};

/// The schema under test, under `tests/proto`.
const PROTO: &str = "claim/v1/document.proto";

fn document(id: &str, body: Vec<u8>, notes: Option<String>) -> Document {
    Document {
        id: id.to_owned(),
        title: format!("title of {id}"),
        body,
        notes,
        revision: 1,
    }
}

/// The raw column `column` of `table` for the row `id`, as `sqlite3` or `psql` would read it.
async fn raw_column(store: &Store, table: &str, column: &str, id: &str) -> Option<Vec<u8>> {
    let sql = match store.sqlite_pool() {
        Some(_) => format!("SELECT {column} FROM {table} WHERE id = ?1"),
        None => format!("SELECT {column} FROM {table} WHERE id = $1"),
    };
    match (store.sqlite_pool(), store.postgres_pool()) {
        (Some(pool), _) => sqlx::query_scalar(&sql)
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap(),
        (_, Some(pool)) => sqlx::query_scalar(&sql)
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap(),
        _ => unreachable!("a SQL store"),
    }
}

/// Every outbox payload of `table`, in commit order.
async fn outbox_payloads(store: &Store, table: &str) -> Vec<Vec<u8>> {
    let sql =
        format!("SELECT _payload FROM {table}_outbox WHERE _payload IS NOT NULL ORDER BY _seq");
    match (store.sqlite_pool(), store.postgres_pool()) {
        (Some(pool), _) => sqlx::query_scalar(&sql).fetch_all(pool).await.unwrap(),
        (_, Some(pool)) => sqlx::query_scalar(&sql).fetch_all(pool).await.unwrap(),
        _ => unreachable!("a SQL store"),
    }
}

/// The stored form of a moved value: its reference, then the tag byte 1.
fn reference_form(value: &[u8]) -> Vec<u8> {
    let mut out = BlobRef::of(value).to_bytes().to_vec();
    out.push(1);
    out
}

/// The blob store's object of `value` in field `number` of `table`, if it holds one.
async fn blob_of(blobs: &dyn BlobStore, table: &str, number: u32, value: &[u8]) -> Option<Vec<u8>> {
    let key = format!("{table}/{number}/{}", BlobRef::of(value).hex());
    blobs.get(&key).await.unwrap()
}

async fn tier(prefix: &str) -> RedisTier {
    RedisTier::connect(
        &RedisServer::shared().url(),
        RedisOptions {
            prefix: prefix.to_owned(),
            ..RedisOptions::default()
        },
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn sqlite_with_redis_and_a_filesystem_blob_store() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("claim.db").display());
    let plain = Store::open(&url).await.unwrap();
    create_tables(&plain, PROTO, Some("claim.v1.Document"), Dialect::Sqlite).await;

    // Without a blob store an entity with claim-checked fields is refused up front, naming the entity, and a
    // direct store write is refused the same way: a big value is never written inline for want of a store.
    let refused = Repository::<Document>::builder(plain.clone())
        .try_build()
        .err()
        .expect("refused without a blob store");
    assert!(
        matches!(&refused, Error::Config(m) if m.contains("Document") && m.contains("blob store")),
        "{refused}"
    );
    let error = plain
        .put(&document("x", bytes(4096, 9), None))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Config(_)), "{error}");

    let blobs: Arc<dyn BlobStore> =
        Arc::new(ObjectStoreBlobs::filesystem(dir.path().join("blobs")).unwrap());
    let store = plain.with_blob_store(blobs.clone());
    let prefix = "claim-sqlite";
    let redis = tier(prefix).await;
    let repo = Repository::<Document>::builder(store.clone())
        .redis(redis.clone())
        .build();

    // Above the thresholds (1 KiB for the body, 64 bytes for the notes): moved; at or below: inline.
    let big = document("big", bytes(64 * 1024, 1), Some("n".repeat(65)));
    let small = document("small", bytes(1024, 2), Some("short notes".to_owned()));
    let unset = document("unset", Vec::new(), None);
    for d in [&big, &small, &unset] {
        repo.put(d.clone()).await.unwrap();
    }

    // At rest: the row holds the 41-byte reference of a moved value, the value plus a 0 byte otherwise (NULL
    // for an unset optional); the blob store holds the moved value once, under its content address.
    assert_eq!(
        raw_column(&store, "documents", "body", "big")
            .await
            .unwrap(),
        reference_form(&big.body)
    );
    assert_eq!(
        raw_column(&store, "documents", "notes", "big")
            .await
            .unwrap(),
        reference_form(big.notes.as_deref().unwrap().as_bytes())
    );
    let mut inline = small.body.clone();
    inline.push(0);
    assert_eq!(
        raw_column(&store, "documents", "body", "small")
            .await
            .unwrap(),
        inline
    );
    assert_eq!(
        raw_column(&store, "documents", "notes", "unset").await,
        None
    );
    assert_eq!(
        blob_of(blobs.as_ref(), "documents", 3, &big.body)
            .await
            .as_deref(),
        Some(&big.body[..])
    );
    assert_eq!(
        blob_of(blobs.as_ref(), "documents", 3, &small.body).await,
        None
    );
    assert_eq!(
        blobs.list("documents/").await.unwrap().len(),
        2,
        "the body and notes of `big`"
    );

    // Reads through each tier return equal values: L1 (this repository), Redis (a repository without L1,
    // after a fill), the store (no cache at all).
    for d in [&big, &small, &unset] {
        assert_eq!(&repo.get(&d.id).await.unwrap().value, d, "through L1");
    }
    let no_l1 = Repository::<Document>::builder(store.clone())
        .redis(redis.clone())
        .without_l1()
        .build();
    for d in [&big, &small, &unset] {
        assert_eq!(
            &no_l1.get(&d.id).await.unwrap().value,
            d,
            "filled from the store"
        );
        assert_eq!(&no_l1.get(&d.id).await.unwrap().value, d, "through Redis");
    }
    let store_only = Repository::<Document>::builder(store.clone())
        .without_l1()
        .build();
    for d in [&big, &small, &unset] {
        assert_eq!(
            &store_only.get(&d.id).await.unwrap().value,
            d,
            "from the store"
        );
    }
    let many = store_only
        .get_many(&["big".to_owned(), "small".to_owned(), "nobody".to_owned()])
        .await
        .unwrap();
    assert_eq!(many[0].as_ref().map(|v| &v.value), Some(&big));
    assert_eq!(many[1].as_ref().map(|v| &v.value), Some(&small));
    assert!(many[2].is_none());

    // Redis holds references, not the moved values: every entry is small and none contains the body.
    let cached = raw_redis_values(RedisServer::shared(), prefix).await;
    assert!(cached.len() >= 3, "Redis holds the rows");
    for value in &cached {
        assert!(
            value.len() < 2048,
            "a cached entry of {} bytes",
            value.len()
        );
        assert!(!contains(value, &big.body[..256]));
    }
    assert!(
        cached
            .iter()
            .any(|v| contains(v, &reference_form(&big.body)))
    );

    // The outbox holds references too, and the change feed reads the values back whole.
    let payloads = outbox_payloads(&store, "documents").await;
    assert_eq!(payloads.len(), 3);
    assert!(contains(&payloads[0], &reference_form(&big.body)));
    assert!(payloads.iter().all(|p| p.len() < 2048));
    let mut feed = repo.changes(ChangeCursor::beginning()).unwrap();
    for d in [&big, &small, &unset] {
        let event = tokio::time::timeout(Duration::from_secs(10), feed.next())
            .await
            .unwrap()
            .unwrap();
        match event.change {
            capacitor::outbox::Change::Put { value, .. } => assert_eq!(&value, d),
            other => panic!("expected a put, got {other:?}"),
        }
    }

    // A value written twice (another row with the same body) is one blob; erasing one row keeps the blob the
    // other still names, erasing the other removes it.
    let twin = document("twin", big.body.clone(), None);
    repo.put(twin.clone()).await.unwrap();
    assert_eq!(blobs.list("documents/3/").await.unwrap().len(), 1);
    let report = repo.erase(&"twin".to_owned()).await.unwrap();
    assert_eq!((report.blobs.removed, report.blobs.shared), (0, 1));
    assert!(
        blob_of(blobs.as_ref(), "documents", 3, &big.body)
            .await
            .is_some()
    );
    let report = repo.erase(&"big".to_owned()).await.unwrap();
    assert_eq!(
        (
            report.blobs.removed,
            report.blobs.shared,
            report.blobs.failed
        ),
        (2, 0, 0)
    );
    assert!(blobs.list("documents/").await.unwrap().is_empty());

    // A write rolled back after its blob was written (as a crash before the commit would leave it): no row
    // names the blob, so no read sees a half state; the collector keeps it while young and then removes it.
    let orphan = document("orphan", bytes(8192, 3), None);
    let result: Result<(), Error> = store
        .transaction(async |tx| {
            repo.put_in(tx, orphan.clone()).await?;
            Err(Error::Config("rolled back on purpose".to_owned()))
        })
        .await;
    assert!(result.is_err());
    assert!(
        store_only
            .get(&"orphan".to_owned())
            .await
            .unwrap_err()
            .to_string()
            .contains("not found")
    );
    assert!(
        blob_of(blobs.as_ref(), "documents", 3, &orphan.body)
            .await
            .is_some()
    );
    let kept = repo.collect_blobs(Duration::from_secs(3600)).await.unwrap();
    assert_eq!((kept.young, kept.removed), (1, 0));
    let collected = repo.collect_blobs(Duration::ZERO).await.unwrap();
    assert_eq!((collected.removed, collected.live), (1, 0));
    assert!(
        blob_of(blobs.as_ref(), "documents", 3, &orphan.body)
            .await
            .is_none()
    );

    // A delete leaves the blob to the collector, which keeps every blob a row still names.
    let kept_doc = document("kept", bytes(4096, 4), None);
    let gone_doc = document("gone", bytes(4096, 5), None);
    repo.put(kept_doc.clone()).await.unwrap();
    repo.put(gone_doc.clone()).await.unwrap();
    repo.delete(&"gone".to_owned()).await.unwrap();
    assert!(
        blob_of(blobs.as_ref(), "documents", 3, &gone_doc.body)
            .await
            .is_some()
    );
    let collected = repo.collect_blobs(Duration::ZERO).await.unwrap();
    assert_eq!((collected.removed, collected.live), (1, 1));
    assert!(
        blob_of(blobs.as_ref(), "documents", 3, &kept_doc.body)
            .await
            .is_some()
    );

    // A missing blob is an error naming the entity, the field and the reference, never the value.
    blobs
        .delete(&format!(
            "documents/3/{}",
            BlobRef::of(&kept_doc.body).hex()
        ))
        .await
        .unwrap();
    let error = store_only.get(&"kept".to_owned()).await.unwrap_err();
    let reference = BlobRef::of(&kept_doc.body).to_string();
    assert!(
        matches!(&error, Error::MissingBlob { entity: "Document", field: "body", reference: r } if *r == reference),
        "{error:?}"
    );
    let text = format!("{error} {error:?}");
    assert!(
        text.contains("Document") && text.contains("body") && text.contains(&reference),
        "{text}"
    );
}

#[tokio::test]
async fn postgres_with_an_s3_blob_store() {
    let server = PostgresServer::shared();
    let url = server.create_database("claim_check").unwrap();
    let s3 = S3Server::shared();
    let blobs: Arc<dyn BlobStore> = Arc::new(
        ObjectStoreBlobs::s3(S3Config {
            bucket: s3.bucket().to_owned(),
            region: S3Server::REGION.to_owned(),
            endpoint: Some(s3.endpoint()),
            access_key_id: S3Server::ACCESS_KEY.to_owned(),
            secret_access_key: S3Server::SECRET_KEY.to_owned(),
            allow_http: true,
            timeout: None,
        })
        .unwrap(),
    );
    let store = Store::open(&url)
        .await
        .unwrap()
        .with_blob_store(blobs.clone());
    create_tables(
        &store,
        PROTO,
        Some("claim.v1.Attachment"),
        Dialect::Postgres,
    )
    .await;
    let repo = Repository::<Attachment>::builder(store.clone())
        .redis(tier("claim-pg").await)
        .build();

    // 300 KiB: above the 256 KiB threshold. A strong entity has no L1: reads come from Redis and the store.
    let big = Attachment {
        id: "a1".to_owned(),
        content: bytes(300 * 1024, 7),
    };
    let small = Attachment {
        id: "a2".to_owned(),
        content: bytes(256 * 1024, 8),
    };
    repo.put(big.clone()).await.unwrap();
    repo.put(small.clone()).await.unwrap();
    assert_eq!(
        raw_column(&store, "attachments", "content", "a1")
            .await
            .unwrap(),
        reference_form(&big.content)
    );
    assert_eq!(
        raw_column(&store, "attachments", "content", "a2")
            .await
            .unwrap()
            .len(),
        256 * 1024 + 1,
        "at the threshold: inline"
    );
    assert_eq!(
        blob_of(blobs.as_ref(), "attachments", 2, &big.content)
            .await
            .as_deref(),
        Some(&big.content[..])
    );
    for a in [&big, &small] {
        assert_eq!(
            &repo.get(&a.id).await.unwrap().value,
            a,
            "through Redis or the store"
        );
        assert_eq!(&repo.get(&a.id).await.unwrap().value, a, "through Redis");
    }
    let store_only = Repository::<Attachment>::builder(store.clone()).build();
    assert_eq!(store_only.get(&"a1".to_owned()).await.unwrap().value, big);

    // Rewriting with the same content costs nothing new (the same object); erasure removes it.
    repo.put(big.clone()).await.unwrap();
    assert_eq!(blobs.list("attachments/").await.unwrap().len(), 1);
    let report = repo.erase(&"a1".to_owned()).await.unwrap();
    assert_eq!(report.blobs.removed, 1);
    assert!(blobs.list("attachments/").await.unwrap().is_empty());
}

/// The child's role in `a_crash_between_blob_and_commit_leaves_only_an_orphan`: the directory to crash in.
const CRASH_DIR: &str = "CAPACITOR_CLAIM_CRASH_DIR";

async fn crash_store(dir: &std::path::Path) -> (Store, Arc<dyn BlobStore>) {
    let blobs: Arc<dyn BlobStore> =
        Arc::new(ObjectStoreBlobs::filesystem(dir.join("blobs")).unwrap());
    let url = format!("sqlite:{}", dir.join("crash.db").display());
    (
        Store::open(&url)
            .await
            .unwrap()
            .with_blob_store(blobs.clone()),
        blobs,
    )
}

#[tokio::test]
async fn a_crash_between_blob_and_commit_leaves_only_an_orphan() {
    let body = bytes(16 * 1024, 11);
    if let Some(dir) = std::env::var_os(CRASH_DIR) {
        // The child: writes the row in a transaction (so its blob first), then dies before the commit.
        let (store, _) = crash_store(std::path::Path::new(&dir)).await;
        let repo = Repository::<Document>::builder(store.clone()).build();
        let mut tx = store.begin().await.unwrap();
        repo.put_in(&mut tx, document("crashed", body, None))
            .await
            .unwrap();
        std::process::abort();
    }
    let dir = tempfile::tempdir().unwrap();
    let (store, blobs) = crash_store(dir.path()).await;
    create_tables(&store, PROTO, Some("claim.v1.Document"), Dialect::Sqlite).await;
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_crash_between_blob_and_commit_leaves_only_an_orphan",
            "--test-threads",
            "1",
        ])
        .env(CRASH_DIR, dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "the child crashed");

    // No row names the blob: the value is simply absent (no half state), the blob an orphan the collector
    // removes once it is older than the grace period.
    let repo = Repository::<Document>::builder(store.clone()).build();
    assert!(matches!(
        repo.get(&"crashed".to_owned()).await,
        Err(Error::NotFound { .. })
    ));
    assert!(
        blob_of(blobs.as_ref(), "documents", 3, &body)
            .await
            .is_some()
    );
    let kept = repo.collect_blobs(Duration::from_secs(3600)).await.unwrap();
    assert_eq!((kept.young, kept.removed), (1, 0));
    let collected = repo.collect_blobs(Duration::ZERO).await.unwrap();
    assert_eq!(collected.removed, 1);
    assert!(blobs.list("documents/").await.unwrap().is_empty());
}
