//! Blob stores for claim-checked fields (`(capacitor.v1.field).claim_check`, see `docs/claim-check.md`): a value
//! above the field's threshold is written to a [`BlobStore`] under a content address ([`BlobRef`], its SHA-256)
//! and the row, the Redis payload and the outbox payload hold only the reference.
//!
//! A [`BlobStore`] is a plain object store (put, get, delete, list under a prefix); content addressing, the
//! object names and garbage collection live in the repository, so an implementation only moves bytes. The
//! runtime ships one over the `object_store` crate (feature `blob-store`): a local directory or S3 (and any
//! S3-compatible server).

pub(crate) mod claim;
#[cfg(feature = "blob-store")]
mod object;
#[cfg(feature = "blob-store")]
pub use object::{ObjectStoreBlobs, S3Config};

use futures_util::future::BoxFuture;
use sha2::{Digest, Sha256};
use std::fmt;
use std::time::SystemTime;

/// The content address of a blob: the SHA-256 of its bytes and their length.
///
/// ```
/// use capacitor::blob::BlobRef;
///
/// let reference = BlobRef::of(b"hello");
/// assert_eq!(reference.len(), 5);
/// assert_eq!(
///     reference.to_string(),
///     "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
/// );
/// assert_eq!(BlobRef::from_bytes(&reference.to_bytes()), Some(reference));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlobRef {
    sha256: [u8; 32],
    len: u64,
}

impl BlobRef {
    /// How many bytes [`to_bytes`](Self::to_bytes) writes.
    pub const ENCODED_LEN: usize = 40;

    /// The reference of `bytes`.
    pub fn of(bytes: &[u8]) -> BlobRef {
        BlobRef {
            sha256: Sha256::digest(bytes).into(),
            len: bytes.len() as u64,
        }
    }

    /// The SHA-256 of the blob.
    pub fn sha256(&self) -> &[u8; 32] {
        &self.sha256
    }

    /// The blob's length in bytes.
    #[allow(clippy::len_without_is_empty)] // a length recorded in the reference, not a collection
    pub fn len(&self) -> u64 {
        self.len
    }

    /// The SHA-256 in lower-case hex.
    pub fn hex(&self) -> String {
        use std::fmt::Write;
        self.sha256
            .iter()
            .fold(String::with_capacity(64), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            })
    }

    /// The binary form stored in rows and payloads: the SHA-256, then the length as 8 little-endian bytes.
    pub fn to_bytes(&self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [0u8; Self::ENCODED_LEN];
        out[..32].copy_from_slice(&self.sha256);
        out[32..].copy_from_slice(&self.len.to_le_bytes());
        out
    }

    /// The inverse of [`to_bytes`](Self::to_bytes); `None` when `bytes` is not one.
    pub fn from_bytes(bytes: &[u8]) -> Option<BlobRef> {
        if bytes.len() != Self::ENCODED_LEN {
            return None;
        }
        let mut sha256 = [0u8; 32];
        sha256.copy_from_slice(&bytes[..32]);
        let len = u64::from_le_bytes(bytes[32..].try_into().ok()?);
        Some(BlobRef { sha256, len })
    }

    /// The reference from the hex digest an object name ends with, for a blob of `len` bytes.
    pub fn from_hex(hex: &str, len: u64) -> Option<BlobRef> {
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut sha256 = [0u8; 32];
        for (i, byte) in sha256.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(BlobRef { sha256, len })
    }
}

/// `sha256:<hex>`: a digest of the content, which names it without revealing it.
impl fmt::Display for BlobRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for BlobRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobRef({self}, {} bytes)", self.len)
    }
}

/// An object a [`BlobStore`] lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    /// Its name (the `key` it was put under).
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written.
    pub last_modified: SystemTime,
}

/// Why a blob store operation failed. The text names the operation, the object and the backend's reason; never
/// a blob's content.
#[derive(Debug, thiserror::Error)]
#[error("blob store: {operation} `{key}`: {reason}")]
pub struct BlobError {
    /// `put`, `get`, `head`, `delete` or `list`.
    pub operation: &'static str,
    /// The object name (or prefix, for `list`).
    pub key: String,
    /// The backend's reason.
    pub reason: String,
}

/// Where claim-checked values live: a store of named byte objects.
///
/// Implementations must make `put` durable before returning (a row referencing the object commits after it),
/// let `put` overwrite an object with the same content (content addressing makes retries write the same bytes)
/// and refresh its `last_modified` (the garbage collector's grace period counts from it), return `Ok(None)`
/// from `get` and `head` for a missing object, and treat deleting a missing object as success.
pub trait BlobStore: Send + Sync + 'static {
    /// Writes `bytes` as the object `key` (owned: a backend may hand them to its client without a copy).
    fn put<'a>(&'a self, key: &'a str, bytes: Vec<u8>) -> BoxFuture<'a, Result<(), BlobError>>;
    /// The bytes of the object `key`, `None` when there is none.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, BlobError>>;
    /// The size and last-modified time of the object `key` as they are now, `None` when there is none (the
    /// garbage collector looks again just before it deletes, since a listing can be older than a `put`).
    fn head<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<BlobMeta>, BlobError>>;
    /// Removes the object `key` (a missing one is not an error).
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), BlobError>>;
    /// Every object under the folder `prefix` (a name ending in `/`): the objects whose names start with it.
    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<BlobMeta>, BlobError>>;
}
