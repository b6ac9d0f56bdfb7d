//! Stores: the source of truth under the cache tiers.
//!
//! A [`Store`] is a cloneable handle to one backend shared by the repositories of an application; the
//! repository asks it for one entity's rows. The in-memory backend is always available; SQLite (feature
//! `sqlite`, the default) and Postgres (feature `postgres`) come from sqlx.
//!
//! Every write computes the row's next version with [`next_version`](crate::record::next_version), so
//! versions never go backwards, not even across delete and re-insert.

mod memory;

use crate::error::Error;
use crate::record::Record;
use crate::versioned::Versioned;
use memory::MemoryStore;
use std::sync::Arc;

/// A handle to the store of an application.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Memory(Arc<MemoryStore>),
}

/// One page of a keyset scan.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<E: Record> {
    /// The rows, in key order.
    pub items: Vec<Versioned<E>>,
    /// The key after which the next page starts; `None` on the last page.
    pub next: Option<E::Key>,
}

impl Store {
    /// A store that keeps rows in this process (the `memory` backend): for tests and ephemeral data.
    pub fn memory() -> Self {
        Store {
            backend: Backend::Memory(Arc::new(MemoryStore::default())),
        }
    }

    /// Opens the store a URL names: `memory:` for the in-memory backend.
    pub async fn open(url: &str) -> Result<Self, Error> {
        match url.split_once(':').map(|(scheme, _)| scheme) {
            Some("memory") => Ok(Store::memory()),
            Some(scheme) => Err(Error::Config(format!(
                "store URL scheme `{scheme}:` is not supported (or its cargo feature is off)"
            ))),
            None => Err(Error::Config(
                "store URL has no scheme (expected `memory:`)".to_owned(),
            )),
        }
    }

    /// The row of `key`.
    pub async fn get<E: Record>(&self, key: &E::Key) -> Result<Option<Versioned<E>>, Error> {
        match &self.backend {
            Backend::Memory(m) => Ok(m.get::<E>(key)),
        }
    }

    /// The rows of `keys`, aligned with them, in one round trip.
    pub async fn get_many<E: Record>(
        &self,
        keys: &[E::Key],
    ) -> Result<Vec<Option<Versioned<E>>>, Error> {
        match &self.backend {
            Backend::Memory(m) => Ok(m.get_many::<E>(keys)),
        }
    }

    /// Inserts `value`; [`Error::Conflict`] if its key is present. Returns the new version.
    pub async fn insert<E: Record>(&self, value: &E) -> Result<u64, Error> {
        match &self.backend {
            Backend::Memory(m) => m.insert(value),
        }
    }

    /// Inserts or replaces `value`. Returns the new version.
    pub async fn put<E: Record>(&self, value: &E) -> Result<u64, Error> {
        match &self.backend {
            Backend::Memory(m) => Ok(m.put(value)),
        }
    }

    /// Replaces `value` if the stored version is `expected`; [`Error::Conflict`] otherwise.
    pub async fn update<E: Record>(&self, value: &E, expected: u64) -> Result<u64, Error> {
        match &self.backend {
            Backend::Memory(m) => m.update(value, expected),
        }
    }

    /// Deletes the row of `key`; returns the version it had, `None` when absent.
    pub async fn delete<E: Record>(&self, key: &E::Key) -> Result<Option<u64>, Error> {
        match &self.backend {
            Backend::Memory(m) => Ok(m.delete::<E>(key)),
        }
    }

    /// Inserts or replaces every value in one transaction. Returns their new versions.
    pub async fn put_many<E: Record>(&self, values: &[E]) -> Result<Vec<u64>, Error> {
        match &self.backend {
            Backend::Memory(m) => Ok(m.put_many(values)),
        }
    }

    /// Deletes every key in one transaction; returns the versions the rows had.
    pub async fn delete_many<E: Record>(&self, keys: &[E::Key]) -> Result<Vec<Option<u64>>, Error> {
        match &self.backend {
            Backend::Memory(m) => Ok(m.delete_many::<E>(keys)),
        }
    }

    /// Up to `limit` rows in key order, starting after `after`.
    pub async fn scan<E: Record>(
        &self,
        after: Option<&E::Key>,
        limit: usize,
    ) -> Result<Page<E>, Error> {
        match &self.backend {
            Backend::Memory(m) => Ok(m.scan::<E>(after, limit)),
        }
    }
}
