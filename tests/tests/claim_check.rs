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

use capacitor::blob::{BlobError, BlobMeta, BlobRef, BlobStore, ObjectStoreBlobs, S3Config};
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
    feed_puts(&repo, &[&big, &small, &unset]).await;

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

/// The change feed, read from the beginning, holds a put of each of `values` in order, whole.
async fn feed_puts<E: capacitor::Record + PartialEq + std::fmt::Debug>(
    repo: &Repository<E>,
    values: &[&E],
) {
    let mut feed = repo.changes(ChangeCursor::beginning()).unwrap();
    for expected in values {
        let event = tokio::time::timeout(Duration::from_secs(10), feed.next())
            .await
            .unwrap()
            .unwrap();
        match event.change {
            capacitor::outbox::Change::Put { value, .. } => assert_eq!(&value, *expected),
            other => panic!("expected a put, got {other:?}"),
        }
    }
}

/// The shared S3-compatible test server's bucket, as a blob store.
fn s3_blobs() -> Arc<dyn BlobStore> {
    let s3 = S3Server::shared();
    Arc::new(
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
    )
}

#[tokio::test]
async fn postgres_with_an_s3_blob_store() {
    let server = PostgresServer::shared();
    let url = server.create_database("claim_check").unwrap();
    let blobs = s3_blobs();
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

/// A blob store on a directory that replays, once armed, a write racing the collector: when the collector lists,
/// the writer's `put` of `key` (content that already has an old, unnamed blob) reaches the store before the
/// listing returns, and that `put` returns (so its row commits) only when the test releases it, after the
/// collector is done.
struct Racing {
    inner: Arc<dyn BlobStore>,
    key: String,
    armed: std::sync::atomic::AtomicBool,
    raced: std::sync::atomic::AtomicBool,
    listed: tokio::sync::Notify,
    uploaded: tokio::sync::Notify,
    release: tokio::sync::Notify,
}

type Boxed<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

impl Racing {
    fn armed(&self) -> bool {
        self.armed.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl BlobStore for Racing {
    fn put<'a>(&'a self, key: &'a str, bytes: Vec<u8>) -> Boxed<'a, Result<(), BlobError>> {
        Box::pin(async move {
            if !(self.armed() && key == self.key) {
                return self.inner.put(key, bytes).await;
            }
            self.listed.notified().await;
            self.inner.put(key, bytes).await?;
            self.uploaded.notify_one();
            self.release.notified().await;
            Ok(())
        })
    }
    fn get<'a>(&'a self, key: &'a str) -> Boxed<'a, Result<Option<Vec<u8>>, BlobError>> {
        self.inner.get(key)
    }
    fn head<'a>(&'a self, key: &'a str) -> Boxed<'a, Result<Option<BlobMeta>, BlobError>> {
        self.inner.head(key)
    }
    fn delete<'a>(&'a self, key: &'a str) -> Boxed<'a, Result<(), BlobError>> {
        self.inner.delete(key)
    }
    fn list<'a>(&'a self, prefix: &'a str) -> Boxed<'a, Result<Vec<BlobMeta>, BlobError>> {
        Box::pin(async move {
            let listing = self.inner.list(prefix).await?;
            // Once, on the first listing (the collector lists each claim-checked field).
            if self.armed() && !self.raced.swap(true, std::sync::atomic::Ordering::SeqCst) {
                self.listed.notify_one();
                self.uploaded.notified().await;
            }
            Ok(listing)
        })
    }
}

/// A value deleted long ago leaves its blob unnamed and old; the same content written again while the collector
/// runs (put after the listing, committed after the rows were read) keeps its blob: the collector looks at the
/// blob again before deleting it, and the listing's last-modified time is older than that write.
#[tokio::test]
async fn the_collector_keeps_a_blob_written_again_after_its_listing() {
    let dir = tempfile::tempdir().unwrap();
    let body = bytes(16 * 1024, 23);
    let key = format!("documents/3/{}", BlobRef::of(&body).hex());
    let racing = Arc::new(Racing {
        inner: Arc::new(ObjectStoreBlobs::filesystem(dir.path().join("blobs")).unwrap()),
        key: key.clone(),
        armed: Default::default(),
        raced: Default::default(),
        listed: Default::default(),
        uploaded: Default::default(),
        release: Default::default(),
    });
    let url = format!("sqlite:{}", dir.path().join("race.db").display());
    let store = Store::open(&url)
        .await
        .unwrap()
        .with_blob_store(racing.clone());
    create_tables(&store, PROTO, Some("claim.v1.Document"), Dialect::Sqlite).await;
    let repo = Repository::<Document>::builder(store.clone()).build();

    // Written and deleted two hours ago: the blob stays, named by no row, last modified then.
    repo.put(document("old", body.clone(), None)).await.unwrap();
    repo.delete(&"old".to_owned()).await.unwrap();
    std::fs::File::options()
        .write(true)
        .open(dir.path().join("blobs").join(&key))
        .unwrap()
        .set_modified(std::time::SystemTime::now() - Duration::from_secs(7200))
        .unwrap();

    racing
        .armed
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let writer = {
        let repo = repo.clone();
        let body = body.clone();
        tokio::spawn(async move { repo.put(document("new", body, None)).await })
    };
    let report = tokio::time::timeout(
        Duration::from_secs(60),
        repo.collect_blobs(Duration::from_secs(3600)),
    )
    .await
    .expect("the collector and the racing write never wait on each other for long")
    .unwrap();
    racing.release.notify_one();
    writer.await.unwrap().unwrap();

    assert_eq!((report.young, report.removed), (1, 0), "{report:?}");
    assert!(
        blob_of(racing.inner.as_ref(), "documents", 3, &body)
            .await
            .is_some()
    );
    // Read from the database and the blob store (a new repository: nothing cached).
    let fresh = Repository::<Document>::builder(store).build();
    assert_eq!(fresh.get(&"new".to_owned()).await.unwrap().value.body, body);
}

// Encrypted claim-checked fields (`proto/claim/v1/sealed.proto`): every tier outside the process holds
// ciphertext only.

use capacitor::pii::PiiError;
use capacitor_codegen::ddl::{render, subject_keys_table};
use claim::v1::{Dossier, Scan};

#[path = "support/keys.rs"]
mod keys;
use keys::ring;

/// The schema of the sealed entities, under `tests/proto`.
const SEALED_PROTO: &str = "claim/v1/sealed.proto";

/// What no tier outside the process may hold: it is in every sealed value the tests write.
const CANARY: &[u8] = b"CANARY-sealed-claim 7f3e";

/// `len` bytes starting with the canary, then the canary again every 512 bytes.
fn canary_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut out = bytes(len, seed);
    for at in (0..len.saturating_sub(CANARY.len())).step_by(512) {
        out[at..at + CANARY.len()].copy_from_slice(CANARY);
    }
    out
}

fn dossier(id: &str, scan: Vec<u8>, summary: Option<&str>) -> Dossier {
    Dossier {
        id: id.to_owned(),
        scan,
        summary: summary.map(|s| format!("{} {s}", String::from_utf8_lossy(CANARY))),
        revision: 1,
    }
}

/// Every file under `dir` (the filesystem blob store), read raw.
fn files_under(dir: &std::path::Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(std::fs::read(&path).unwrap());
        }
    }
    out
}

/// Every object under `prefix`, read.
async fn objects(blobs: &dyn BlobStore, prefix: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for meta in blobs.list(prefix).await.unwrap() {
        out.push(blobs.get(&meta.key).await.unwrap().expect("listed"));
    }
    out
}

/// Two nullable byte columns of a row, raw.
type TwoColumns = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Two byte columns of `table`'s rows, raw, as one byte string per row (`sqlite3`'s view of them).
async fn raw_rows(store: &Store, table: &str, columns: &str) -> Vec<Vec<u8>> {
    let sql = format!("SELECT {columns} FROM {table}");
    let rows: Vec<TwoColumns> = match (store.sqlite_pool(), store.postgres_pool()) {
        (Some(pool), _) => sqlx::query_as(&sql).fetch_all(pool).await.unwrap(),
        (_, Some(pool)) => sqlx::query_as(&sql).fetch_all(pool).await.unwrap(),
        _ => unreachable!("a SQL store"),
    };
    rows.into_iter()
        .map(|(a, b)| [a.unwrap_or_default(), b.unwrap_or_default()].concat())
        .collect()
}

fn assert_no_canary(what: &str, values: &[Vec<u8>]) {
    for value in values {
        assert!(!contains(value, CANARY), "{what} holds the plaintext");
    }
}

#[tokio::test]
async fn encrypted_claim_checked_fields_on_sqlite_with_redis_and_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("sealed.db").display());
    let plain = Store::open(&url).await.unwrap();
    create_tables(
        &plain,
        SEALED_PROTO,
        Some("claim.v1.Dossier"),
        Dialect::Sqlite,
    )
    .await;
    let blob_dir = dir.path().join("blobs");
    let blobs: Arc<dyn BlobStore> = Arc::new(ObjectStoreBlobs::filesystem(&blob_dir).unwrap());
    let store = plain
        .with_blob_store(blobs.clone())
        .with_keyring(&ring(&[(1, 3)]));
    let prefix = "claim-sealed";
    let redis = tier(prefix).await;
    // No L1: every read goes to Redis, and to the store on a Redis miss.
    let repo = Repository::<Dossier>::builder(store.clone())
        .redis(redis.clone())
        .without_l1()
        .build();

    let big = dossier("big", canary_bytes(16 * 1024, 1), Some(&"long ".repeat(20)));
    let small = dossier("small", canary_bytes(512, 2), Some("short"));
    let unset = dossier("unset", Vec::new(), None);
    for d in [&big, &small, &unset] {
        repo.put(d.clone()).await.unwrap();
    }

    // The blob store: one object per moved value (the big scan and summary), each the value sealed (33 bytes
    // of overhead), named by the ciphertext's SHA-256, never the value's.
    let stored = objects(blobs.as_ref(), "dossiers/").await;
    assert_eq!(stored.len(), 2, "the scan and summary of `big`");
    assert!(stored.iter().any(|o| o.len() == big.scan.len() + 33));
    assert_no_canary("the blob store", &files_under(&blob_dir));
    assert!(
        blob_of(blobs.as_ref(), "dossiers", 2, &big.scan)
            .await
            .is_none(),
        "no object is named by the value's digest"
    );
    // The columns: sealed stored forms, a reference's as long as 41 bytes sealed.
    let scan_column = raw_column(&store, "dossiers", "scan", "big").await.unwrap();
    assert_eq!(scan_column.len(), 41 + 33);
    assert!(!contains(&scan_column, &reference_form(&big.scan)));
    assert_eq!(
        raw_column(&store, "dossiers", "scan", "small")
            .await
            .unwrap()
            .len(),
        small.scan.len() + 1 + 33,
        "inline, sealed"
    );
    assert_eq!(
        raw_column(&store, "dossiers", "summary", "unset").await,
        None
    );
    assert_no_canary(
        "the table",
        &raw_rows(&store, "dossiers", "scan, summary").await,
    );

    // Reads: through Redis (filled by the write-through), from the store, and in batches.
    let before = repo.stats();
    for d in [&big, &small, &unset] {
        assert_eq!(&repo.get(&d.id).await.unwrap().value, d, "through Redis");
    }
    let after = repo.stats();
    assert_eq!(after.redis_hits - before.redis_hits, 3, "{after:?}");
    let store_only = Repository::<Dossier>::builder(store.clone())
        .without_l1()
        .build();
    for d in [&big, &small, &unset] {
        assert_eq!(
            &store_only.get(&d.id).await.unwrap().value,
            d,
            "from the store"
        );
    }
    let keys = ["big".to_owned(), "small".to_owned(), "nobody".to_owned()];
    for r in [&repo, &store_only] {
        let many = r.get_many(&keys).await.unwrap();
        assert_eq!(many[0].as_ref().map(|v| &v.value), Some(&big));
        assert_eq!(many[1].as_ref().map(|v| &v.value), Some(&small));
        assert!(many[2].is_none());
    }
    // A Redis entry filled from a store read (another process's view: a new tier over the same server reads
    // the store after a flush of its entries) also names the sealed blob.
    let cold = Repository::<Dossier>::builder(store.clone())
        .redis(tier("claim-sealed-cold").await)
        .without_l1()
        .build();
    assert_eq!(
        cold.get(&"big".to_owned()).await.unwrap().value,
        big,
        "filled"
    );
    let before = cold.stats();
    assert_eq!(cold.get(&"big".to_owned()).await.unwrap().value, big, "hit");
    assert_eq!(cold.stats().redis_hits - before.redis_hits, 1);

    // Redis: no plaintext, and small entries (the big values are referenced).
    for prefix in [prefix, "claim-sealed-cold"] {
        let cached = raw_redis_values(RedisServer::shared(), prefix).await;
        assert!(cached.iter().any(|v| v.len() > 17 && v[16] == b'L'));
        assert!(
            cached.iter().all(|v| v.len() < 1024),
            "a cached entry holds a value"
        );
        assert_no_canary("Redis", &cached);
    }

    // The outbox: sealed payloads; the change feed reads the values back whole.
    let payloads = outbox_payloads(&store, "dossiers").await;
    assert_eq!(payloads.len(), 3);
    assert!(payloads.iter().all(|p| p.len() < 1024));
    assert_no_canary("the outbox", &payloads);
    feed_puts(&repo, &[&big, &small, &unset]).await;

    // No dedup: the same value written again (or in another row) is a new sealed blob; the old one is an
    // orphan the collector removes, the live ones stay.
    repo.put(big.clone()).await.unwrap();
    let twin = dossier("twin", big.scan.clone(), None);
    repo.put(twin.clone()).await.unwrap();
    assert_eq!(blobs.list("dossiers/2/").await.unwrap().len(), 3);
    let kept = repo.collect_blobs(Duration::from_secs(3600)).await.unwrap();
    assert_eq!((kept.young, kept.removed, kept.live), (2, 0, 3), "{kept:?}");
    let collected = repo.collect_blobs(Duration::ZERO).await.unwrap();
    assert_eq!(
        (collected.removed, collected.live, collected.foreign),
        (2, 3, 0),
        "{collected:?}"
    );
    assert_eq!(blobs.list("dossiers/2/").await.unwrap().len(), 2);
    assert_eq!(repo.get(&"big".to_owned()).await.unwrap().value, big);
    assert_eq!(
        store_only.get(&"twin".to_owned()).await.unwrap().value,
        twin
    );

    // A collector that cannot open a sealed column (a wrong key under the same id) fails, removing nothing.
    let wrong = Repository::<Dossier>::builder(
        plain
            .with_blob_store(blobs.clone())
            .with_keyring(&ring(&[(1, 4)])),
    )
    .build();
    let error = wrong.collect_blobs(Duration::ZERO).await.unwrap_err();
    assert!(matches!(error, Error::Encryption { .. }), "{error}");
    assert!(!contains(format!("{error} {error:?}").as_bytes(), CANARY));
    assert_eq!(blobs.list("dossiers/").await.unwrap().len(), 3);

    // Re-encryption after a key rotation rewrites each row (and so its blobs) under the new key: the values
    // read without the old key.
    let rotated = plain
        .with_blob_store(blobs.clone())
        .with_keyring(&ring(&[(2, 5), (1, 3)]));
    let rotating = Repository::<Dossier>::builder(rotated).without_l1().build();
    let pass = rotating
        .reencrypt(capacitor::repo::ReencryptOptions::default(), |_| {})
        .await
        .unwrap();
    assert_eq!(pass.rewritten, 4, "{pass:?}");
    let new_only = Repository::<Dossier>::builder(
        plain
            .with_blob_store(blobs.clone())
            .with_keyring(&ring(&[(2, 5)])),
    )
    .without_l1()
    .build();
    for d in [&big, &small, &unset, &twin] {
        assert_eq!(
            &new_only.get(&d.id).await.unwrap().value,
            d,
            "after rotation"
        );
    }
    let collected = new_only.collect_blobs(Duration::ZERO).await.unwrap();
    assert_eq!((collected.removed, collected.live), (3, 3), "{collected:?}");
    assert_no_canary("the blob store", &files_under(&blob_dir));

    // Erasure removes the row's sealed blobs at once (never shared), and the other rows' stay.
    let report = new_only.erase(&"big".to_owned()).await.unwrap();
    assert_eq!(
        (
            report.blobs.removed,
            report.blobs.shared,
            report.blobs.failed
        ),
        (2, 0, 0)
    );
    assert_eq!(
        blobs.list("dossiers/").await.unwrap().len(),
        1,
        "twin's scan"
    );
    assert_eq!(new_only.get(&"twin".to_owned()).await.unwrap().value, twin);
    assert_no_canary("the blob store", &files_under(&blob_dir));
}

#[tokio::test]
async fn encrypted_claim_checked_fields_are_shredded_with_their_subject_on_postgres_and_s3() {
    let server = PostgresServer::shared();
    let url = server.create_database("claim_sealed").unwrap();
    let blobs = s3_blobs();
    let plain = Store::open(&url).await.unwrap();
    create_tables(
        &plain,
        SEALED_PROTO,
        Some("claim.v1.Scan"),
        Dialect::Postgres,
    )
    .await;
    let script = render::create_table(&subject_keys_table(Dialect::Postgres), Dialect::Postgres);
    stores::execute_script(&plain, &script).await;
    let store = plain
        .with_blob_store(blobs.clone())
        .with_keyring(&ring(&[(1, 9)]));
    let repo = Repository::<Scan>::builder(store.clone())
        .redis(tier("claim-sealed-pg").await)
        .build();
    let scan = |id: &str, owner: &str, len: usize, seed: u64| Scan {
        id: id.to_owned(),
        owner_id: owner.to_owned(),
        image: canary_bytes(len, seed),
    };
    let a_big = scan("a1", "owner-a", 64 * 1024, 1);
    let a_small = scan("a2", "owner-a", 1024, 2);
    let b_big = scan("b1", "owner-b", 64 * 1024, 3);
    for s in [&a_big, &a_small, &b_big] {
        repo.put(s.clone()).await.unwrap();
    }
    for s in [&a_big, &a_small, &b_big] {
        assert_eq!(
            &repo.get(&s.id).await.unwrap().value,
            s,
            "through Redis or the store"
        );
        assert_eq!(&repo.get(&s.id).await.unwrap().value, s, "through Redis");
    }
    let stored = objects(blobs.as_ref(), "scans/").await;
    assert_eq!(stored.len(), 2);
    // Sealed under the subject's key: format 2, 45 bytes of overhead.
    assert!(
        stored
            .iter()
            .all(|o| o.len() == 64 * 1024 + 45 && o[0] == 2)
    );
    assert_no_canary("S3", &stored);
    assert_no_canary(
        "the table",
        &raw_rows(&store, "scans", "image, image").await,
    );
    assert_no_canary(
        "Redis",
        &raw_redis_values(RedisServer::shared(), "claim-sealed-pg").await,
    );

    // Shredding owner A: its values, the blob included, are unreadable (a clear typed error, no plaintext);
    // owner B reads on.
    let report = repo.shred_subject(&"owner-a".to_owned()).await.unwrap();
    assert_eq!(report.keys_destroyed, 1);
    for id in ["a1", "a2"] {
        let fresh = Repository::<Scan>::builder(
            plain
                .with_blob_store(blobs.clone())
                .with_keyring(&ring(&[(1, 9)])),
        )
        .build();
        let error = fresh.get(&id.to_owned()).await.unwrap_err();
        assert!(
            matches!(
                &error,
                Error::Encryption {
                    source: PiiError::SubjectKeyDestroyed { .. },
                    ..
                }
            ),
            "{id}: {error}"
        );
        assert!(!contains(format!("{error} {error:?}").as_bytes(), CANARY));
    }
    assert_eq!(repo.get(&"b1".to_owned()).await.unwrap().value, b_big);

    // The collector: a shredded row names no readable blob, so A's blob goes; B's stays.
    let collected = repo.collect_blobs(Duration::ZERO).await.unwrap();
    assert_eq!((collected.removed, collected.live), (1, 1), "{collected:?}");
    assert_eq!(repo.get(&"b1".to_owned()).await.unwrap().value, b_big);

    // Erasing B's row removes its blob at once.
    let report = repo.erase(&"b1".to_owned()).await.unwrap();
    assert_eq!(report.blobs.removed, 1);
    assert!(blobs.list("scans/").await.unwrap().is_empty());
}

/// An encrypted claim-checked field declared with the derive.
mod derived {
    #[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
    #[capacitor(
        table = "memos",
        package = "derived.v1",
        consistency = "strong",
        repository
    )]
    pub struct Memo {
        #[prost(string, tag = "1")]
        #[capacitor(primary_key)]
        pub id: String,
        #[prost(string, tag = "2")]
        #[capacitor(pii = "free_text", encrypt, claim_check(threshold = "64B"))]
        pub body: String,
    }
}

#[tokio::test]
async fn a_derived_encrypted_claim_checked_field_is_sealed_everywhere() {
    use derived::Memo;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("memo.db").display());
    let blob_dir = dir.path().join("blobs");
    let blobs: Arc<dyn BlobStore> = Arc::new(ObjectStoreBlobs::filesystem(&blob_dir).unwrap());
    let store = Store::open(&url)
        .await
        .unwrap()
        .with_blob_store(blobs.clone())
        .with_keyring(&ring(&[(1, 6)]));
    stores::execute_script(&store, Memo::CREATE_TABLE_SQLITE).await;
    let repo = Repository::<Memo>::new(store.clone());
    let canary = String::from_utf8_lossy(CANARY).into_owned();
    let big = Memo {
        id: "m1".to_owned(),
        body: format!("{canary} {}", "x".repeat(100)),
    };
    let small = Memo {
        id: "m2".to_owned(),
        body: canary.clone(),
    };
    repo.put(big.clone()).await.unwrap();
    repo.put(small.clone()).await.unwrap();
    assert_eq!(repo.get(&"m1".to_owned()).await.unwrap().value, big);
    assert_eq!(repo.get(&"m2".to_owned()).await.unwrap().value, small);
    assert_eq!(blobs.list("memos/2/").await.unwrap().len(), 1);
    assert_no_canary("the blob store", &files_under(&blob_dir));
    assert_no_canary("the table", &raw_rows(&store, "memos", "body, body").await);
    let report = repo.erase(&"m1".to_owned()).await.unwrap();
    assert_eq!(report.blobs.removed, 1);
    assert!(blobs.list("memos/").await.unwrap().is_empty());
}
