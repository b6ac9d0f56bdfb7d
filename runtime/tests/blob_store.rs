//! The blob stores of claim-checked fields (`capacitor::blob`), held to the `BlobStore` contract on a directory
//! and on a real S3-compatible server (`s3s-fs`): put then get returns the bytes, a second put of the same name
//! is fine and refreshes the last-modified time (seen by `list` and `head`), a missing object reads and heads as
//! `None` and deletes as success, `list` returns exactly the objects under a prefix, and a dead endpoint is a
//! bounded error naming the object.

use capacitor::blob::{BlobStore, ObjectStoreBlobs, S3Config};
use capacitor_testkit::pseudo_random_bytes as random;
use capacitor_testkit::s3::S3Server;
use std::time::{Duration, SystemTime};

fn s3(endpoint: String, timeout: Duration) -> ObjectStoreBlobs {
    ObjectStoreBlobs::s3(S3Config {
        bucket: S3Server::shared().bucket().to_owned(),
        region: S3Server::REGION.to_owned(),
        endpoint: Some(endpoint),
        access_key_id: S3Server::ACCESS_KEY.to_owned(),
        secret_access_key: S3Server::SECRET_KEY.to_owned(),
        allow_http: true,
        timeout: Some(timeout),
    })
    .unwrap()
}

/// The contract, under `root/` (a name no other test uses).
async fn contract(blobs: &dyn BlobStore, root: &str) {
    let big = random(1 << 20, 1);
    let key = format!("{root}/3/big");
    blobs.put(&key, big.clone()).await.unwrap();
    assert_eq!(blobs.get(&key).await.unwrap().as_deref(), Some(&big[..]));
    let empty = format!("{root}/3/empty");
    blobs.put(&empty, Vec::new()).await.unwrap();
    assert_eq!(blobs.get(&empty).await.unwrap().as_deref(), Some(&[][..]));

    let missing = format!("{root}/3/missing");
    assert_eq!(blobs.get(&missing).await.unwrap(), None);
    assert_eq!(blobs.head(&missing).await.unwrap(), None);
    blobs.delete(&missing).await.unwrap();

    // `list` returns exactly the objects under the prefix, with their sizes and a recent last-modified time.
    blobs
        .put(&format!("{root}/4/other"), b"x".to_vec())
        .await
        .unwrap();
    let mut listed = blobs.list(&format!("{root}/3/")).await.unwrap();
    listed.sort_by(|a, b| a.key.cmp(&b.key));
    let names: Vec<&str> = listed.iter().map(|m| m.key.as_str()).collect();
    assert_eq!(names, [key.as_str(), empty.as_str()]);
    assert_eq!((listed[0].size, listed[1].size), (1 << 20, 0));
    let age = SystemTime::now()
        .duration_since(listed[0].last_modified)
        .unwrap_or_default();
    assert!(age < Duration::from_secs(60), "last modified {age:?} ago");
    assert_eq!(blobs.list(&format!("{root}/9/")).await.unwrap(), []);

    // A second put of the same name (content addressing makes it the same bytes) succeeds and refreshes the
    // last-modified time the collector's grace period counts from (whole seconds on some backends).
    let before = listed[0].last_modified;
    std::thread::sleep(Duration::from_millis(1100));
    blobs.put(&key, big.clone()).await.unwrap();
    let after = blobs.list(&format!("{root}/3/")).await.unwrap();
    let refreshed = after.iter().find(|m| m.key == key).unwrap().last_modified;
    assert!(refreshed > before, "{refreshed:?} after {before:?}");
    // `head` sees the object as it is now: refreshed too (to within the second some backends' headers carry).
    let head = blobs.head(&key).await.unwrap().unwrap();
    assert_eq!((head.key.as_str(), head.size), (key.as_str(), 1 << 20));
    assert!(head.last_modified > before, "{head:?} after {before:?}");
    let apart = match head.last_modified.duration_since(refreshed) {
        Ok(d) => d,
        Err(e) => e.duration(),
    };
    assert!(
        apart < Duration::from_secs(1),
        "head {head:?}, listed {refreshed:?}"
    );

    blobs.delete(&key).await.unwrap();
    assert_eq!(blobs.get(&key).await.unwrap(), None);
    assert_eq!(blobs.head(&key).await.unwrap(), None);
    let left: Vec<String> = blobs
        .list(&format!("{root}/3/"))
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(left, [empty]);
}

#[tokio::test]
async fn filesystem_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = ObjectStoreBlobs::filesystem(dir.path().join("blobs")).unwrap();
    contract(&blobs, "fs").await;
    // The objects are files under the directory, named as put.
    assert!(dir.path().join("blobs/fs/3/empty").is_file());
}

#[tokio::test]
async fn s3_keeps_the_contract() {
    let server = S3Server::shared();
    contract(&s3(server.endpoint(), Duration::from_secs(10)), "s3").await;
}

#[tokio::test]
async fn a_dead_s3_endpoint_is_a_bounded_error_naming_the_object() {
    // A port nothing listens on: the request fails within the timeout and its retries.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let blobs = s3(
        format!("http://127.0.0.1:{port}"),
        Duration::from_millis(500),
    );
    let started = std::time::Instant::now();
    let error = blobs.get("dead/3/abc").await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let text = error.to_string();
    assert!(
        text.contains("get") && text.contains("dead/3/abc"),
        "{text}"
    );
    let error = blobs
        .put("dead/3/abc", b"secret payload".to_vec())
        .await
        .unwrap_err();
    assert!(!error.to_string().contains("secret payload"));
}

#[test]
fn s3_config_debug_hides_the_secret() {
    let config = S3Config {
        secret_access_key: "TOP-SECRET-KEY".to_owned(),
        ..S3Config::default()
    };
    assert!(!format!("{config:?}").contains("TOP-SECRET"));
}
