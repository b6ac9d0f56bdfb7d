//! [`BlobStore`] over the `object_store` crate: a local directory, S3 (and S3-compatible servers), or any other
//! `object_store` backend.

use super::{BlobError, BlobMeta, BlobStore};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// A [`BlobStore`] over an [`object_store::ObjectStore`].
///
/// ```
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use capacitor::blob::{BlobStore, ObjectStoreBlobs};
///
/// let dir = std::env::temp_dir().join("capacitor-blob-doc");
/// let blobs = ObjectStoreBlobs::filesystem(&dir)?;
/// blobs.put("docs/1/abc", b"hello".to_vec()).await?;
/// assert_eq!(blobs.get("docs/1/abc").await?.as_deref(), Some(&b"hello"[..]));
/// assert_eq!(blobs.get("docs/1/missing").await?, None);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ObjectStoreBlobs {
    inner: Arc<dyn ObjectStore>,
}

impl fmt::Debug for ObjectStoreBlobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // object_store's backends print their configuration, never a secret.
        f.debug_struct("ObjectStoreBlobs")
            .field("store", &self.inner.to_string())
            .finish()
    }
}

/// Where an S3 (or S3-compatible) blob store is and how to sign in. Debug prints no secret.
#[derive(Clone, Default)]
pub struct S3Config {
    /// The bucket (it must exist).
    pub bucket: String,
    /// The region (`us-east-1` for most S3-compatible servers).
    pub region: String,
    /// The endpoint of an S3-compatible server (`http://127.0.0.1:9000`); `None` for AWS S3.
    pub endpoint: Option<String>,
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// Whether a plain `http://` endpoint is allowed (a server on loopback); TLS otherwise.
    pub allow_http: bool,
    /// How long one request may take before it fails (default 30 s); connecting is bounded by a fifth of it.
    pub timeout: Option<Duration>,
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("allow_http", &self.allow_http)
            .field("timeout", &self.timeout)
            .finish()
    }
}

fn config_error(what: &str, e: impl fmt::Display) -> BlobError {
    BlobError {
        operation: "open",
        key: what.to_owned(),
        reason: e.to_string(),
    }
}

impl ObjectStoreBlobs {
    /// Blobs in `store`, any `object_store` backend (GCS, Azure, in-memory, ...).
    pub fn new(store: Arc<dyn ObjectStore>) -> ObjectStoreBlobs {
        ObjectStoreBlobs { inner: store }
    }

    /// Blobs as files under the directory `dir` (created if missing); each `put` is written to a temporary
    /// file, renamed into place and synced to disk before it returns.
    pub fn filesystem(dir: impl AsRef<std::path::Path>) -> Result<ObjectStoreBlobs, BlobError> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| config_error(&dir.display().to_string(), e))?;
        // `fsync`: a `put` is durable before it returns (the file and its directory are synced after the
        // rename), as the contract asks: the row that names the blob commits right after.
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| config_error(&dir.display().to_string(), e))?
            .with_fsync(true);
        Ok(ObjectStoreBlobs::new(Arc::new(store)))
    }

    /// Blobs in an S3 bucket, or a bucket of an S3-compatible server (`config.endpoint`). Requests time out
    /// after `config.timeout` (30 s by default) and are retried by object_store's backoff within it. Over
    /// TLS, the process's default rustls crypto provider is used; when none is installed, ring's is installed
    /// (it has no post-quantum key exchange: install aws-lc-rs' provider first for one).
    pub fn s3(config: S3Config) -> Result<ObjectStoreBlobs, BlobError> {
        // Fails only when a provider is installed already, which is then the one used. ring's provider has no
        // post-quantum key exchange (hence rustls' deprecation note); a process that wants one installs
        // aws-lc-rs' provider before opening the store.
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
        let timeout = config.timeout.unwrap_or(Duration::from_secs(30));
        let mut builder = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_access_key_id(&config.access_key_id)
            .with_secret_access_key(&config.secret_access_key)
            .with_allow_http(config.allow_http)
            .with_client_options(
                object_store::ClientOptions::new()
                    .with_timeout(timeout)
                    .with_connect_timeout(timeout / 5)
                    .with_allow_http(config.allow_http),
            )
            .with_retry(object_store::RetryConfig {
                max_retries: 3,
                retry_timeout: timeout,
                ..object_store::RetryConfig::default()
            });
        if let Some(endpoint) = &config.endpoint {
            // S3-compatible servers address buckets by path (`http://host/bucket/key`).
            builder = builder
                .with_endpoint(endpoint)
                .with_virtual_hosted_style_request(false);
        }
        let store = builder
            .build()
            .map_err(|e| config_error(&format!("s3://{}", config.bucket), e))?;
        Ok(ObjectStoreBlobs::new(Arc::new(store)))
    }
}

fn path(operation: &'static str, key: &str) -> Result<Path, BlobError> {
    Path::parse(key).map_err(|e| BlobError {
        operation,
        key: key.to_owned(),
        reason: e.to_string(),
    })
}

/// object_store's errors name the operation, the path and the backend's reason (an HTTP status, an I/O
/// error), never the object's content.
fn failed(operation: &'static str, key: &str, e: object_store::Error) -> BlobError {
    BlobError {
        operation,
        key: key.to_owned(),
        reason: e.to_string(),
    }
}

impl BlobStore for ObjectStoreBlobs {
    fn put<'a>(&'a self, key: &'a str, bytes: Vec<u8>) -> BoxFuture<'a, Result<(), BlobError>> {
        Box::pin(async move {
            let location = path("put", key)?;
            self.inner
                .put(&location, PutPayload::from(bytes))
                .await
                .map(drop)
                .map_err(|e| failed("put", key, e))
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, BlobError>> {
        Box::pin(async move {
            let location = path("get", key)?;
            let result = match self.inner.get(&location).await {
                Ok(result) => result,
                Err(object_store::Error::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(failed("get", key, e)),
            };
            match result.bytes().await {
                // No copy when the buffer is the result's alone (a file read into one buffer).
                Ok(bytes) => Ok(Some(Vec::from(bytes))),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(failed("get", key, e)),
            }
        })
    }

    fn head<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<BlobMeta>, BlobError>> {
        Box::pin(async move {
            let location = path("head", key)?;
            match self.inner.head(&location).await {
                Ok(meta) => Ok(Some(BlobMeta {
                    key: key.to_owned(),
                    size: meta.size,
                    last_modified: SystemTime::from(meta.last_modified),
                })),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(failed("head", key, e)),
            }
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), BlobError>> {
        Box::pin(async move {
            let location = path("delete", key)?;
            match self.inner.delete(&location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(failed("delete", key, e)),
            }
        })
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<BlobMeta>, BlobError>> {
        Box::pin(async move {
            let location = path("list", prefix.trim_end_matches('/'))?;
            let mut listing = self.inner.list(Some(&location));
            let mut out = Vec::new();
            while let Some(meta) = listing.next().await {
                let meta = match meta {
                    Ok(meta) => meta,
                    Err(object_store::Error::NotFound { .. }) => break,
                    Err(e) => return Err(failed("list", prefix, e)),
                };
                let key = meta.location.to_string();
                if key.starts_with(prefix) {
                    out.push(BlobMeta {
                        key,
                        size: meta.size,
                        last_modified: SystemTime::from(meta.last_modified),
                    });
                }
            }
            Ok(out)
        })
    }
}
