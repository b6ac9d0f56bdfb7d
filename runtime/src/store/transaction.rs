//! Transactions across the repositories of one store.
//!
//! ```text
//! // A closure: committed when it returns Ok, rolled back when it returns Err (or panics, or is dropped).
//! store.transaction(async |tx| {
//!     accounts.update_in(tx, account, version).await?;
//!     ledger.insert_in(tx, entry).await
//! }).await?;
//!
//! // Or by hand:
//! let mut tx = store.begin().await?;
//! accounts.put_in(&mut tx, a).await?;      // Repository::put_in / insert_in / update_in / delete_in
//! ledger.insert_in(&mut tx, entry).await?;
//! tx.commit().await?;          // caches are written through only now; dropping `tx` rolls back
//! ```
//!
//! Each repository write in a transaction records its cache write-through as an effect; `commit` runs the store
//! commit and then the effects, moving to a spawned task if its future is dropped unfinished, so a caller that
//! drops `commit`'s future after the commit still gets its caches updated. A rollback (drop without commit, or a failed commit) runs no effect, so the
//! caches stay as they were.

use super::memory::MemoryStore;
use super::{Backend, Store};
use crate::error::Error;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
use crate::error::Tier;
use crate::record::Record;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A cache write-through to run after the commit.
/// It fails only when the write must not be acknowledged ([`Error::Unconfirmed`]).
pub(crate) type Effect =
    Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send>> + Send>;

type Undo = Box<dyn FnOnce(&MemoryStore) + Send>;

enum TxBackend {
    /// The in-memory store applies writes at once and undoes them on rollback (no isolation from concurrent
    /// readers: it is a test and ephemeral-data backend).
    Memory {
        store: Arc<MemoryStore>,
        undo: Vec<Undo>,
    },
    #[cfg(feature = "sqlite")]
    Sqlite {
        store: Arc<super::sql::sqlite::SqliteStore>,
        tx: super::sql::sqlite::SqliteTransaction,
    },
    #[cfg(feature = "postgres")]
    Postgres {
        store: Arc<super::sql::postgres::PgStore>,
        tx: sqlx::Transaction<'static, sqlx::Postgres>,
    },
}

/// An open transaction on a [`Store`]; dropped without [`commit`](Transaction::commit), it rolls back.
pub struct Transaction {
    backend: Option<TxBackend>,
    effects: Vec<Effect>,
}

macro_rules! in_tx {
    ($self:ident, |$m:ident, $undo:ident| $memory:expr, |$s:ident, $conn:ident| $sql:expr) => {
        match $self.backend.as_mut().expect("an open transaction") {
            TxBackend::Memory {
                store: $m,
                undo: $undo,
            } => $memory,
            #[cfg(feature = "sqlite")]
            TxBackend::Sqlite { store: $s, tx } => {
                let $conn = &mut **tx;
                $sql.await
            }
            #[cfg(feature = "postgres")]
            TxBackend::Postgres { store: $s, tx } => {
                let $conn = &mut **tx;
                $sql.await
            }
        }
    };
}

impl Store {
    /// Starts a transaction for writes through several repositories of this store.
    pub async fn begin(&self) -> Result<Transaction, Error> {
        let backend = match &self.backend {
            Backend::Memory(m) => TxBackend::Memory {
                store: m.clone(),
                undo: Vec::new(),
            },
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(s) => TxBackend::Sqlite {
                store: s.clone(),
                tx: s.begin().await?,
            },
            #[cfg(feature = "postgres")]
            Backend::Postgres(s) => TxBackend::Postgres {
                store: s.clone(),
                tx: s.begin().await?,
            },
        };
        Ok(Transaction {
            backend: Some(backend),
            effects: Vec::new(),
        })
    }

    /// Runs `work` in a transaction: commits when it returns `Ok` (then writes the caches through, see
    /// [`Transaction::commit`]) and rolls back, touching no cache, when it returns `Err` — which is returned as
    /// is — or panics, or the future is dropped before it finishes. A failed commit is returned as the error
    /// (converted with `From<Error>`), and nothing was acknowledged.
    ///
    /// ```no_run
    /// # async fn run(store: capacitor::Store) -> Result<(), capacitor::Error> {
    /// let moved: u64 = store
    ///     .transaction(async |tx| {
    ///         // accounts.update_in(tx, from, v1).await?; accounts.update_in(tx, to, v2).await?;
    ///         # let _ = tx;
    ///         Ok::<_, capacitor::Error>(100)
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn transaction<T, X>(
        &self,
        work: impl AsyncFnOnce(&mut Transaction) -> Result<T, X>,
    ) -> Result<T, X>
    where
        X: From<Error>,
    {
        let mut tx = self.begin().await?;
        let value = work(&mut tx).await?;
        tx.commit().await?;
        Ok(value)
    }
}

impl Transaction {
    /// Inserts `value`; [`Error::Conflict`] if present.
    pub(crate) async fn insert<E: Record>(&mut self, value: &E) -> Result<u64, Error> {
        in_tx!(
            self,
            |m, undo| {
                let version = m.insert(value)?;
                let key = value.key();
                undo.push(Box::new(move |m: &MemoryStore| m.restore::<E>(&key, None)));
                Ok(version)
            },
            |s, conn| s.insert_on(conn, value)
        )
    }

    /// Inserts or replaces `value`.
    pub(crate) async fn put<E: Record>(&mut self, value: &E) -> Result<u64, Error> {
        in_tx!(
            self,
            |m, undo| {
                let key = value.key();
                let before = m.get::<E>(&key);
                let version = m.put(value)?;
                undo.push(Box::new(move |m: &MemoryStore| {
                    m.restore::<E>(&key, before)
                }));
                Ok(version)
            },
            |s, conn| s.put_on(conn, value)
        )
    }

    /// Replaces `value` if the stored version is `expected`.
    pub(crate) async fn update<E: Record>(
        &mut self,
        value: &E,
        expected: u64,
    ) -> Result<u64, Error> {
        in_tx!(
            self,
            |m, undo| {
                let key = value.key();
                let before = m.get::<E>(&key);
                let version = m.update(value, expected)?;
                undo.push(Box::new(move |m: &MemoryStore| {
                    m.restore::<E>(&key, before)
                }));
                Ok(version)
            },
            |s, conn| s.update_on(conn, value, expected)
        )
    }

    /// Deletes the row of `key`; the version it had, `None` when absent.
    pub(crate) async fn delete<E: Record>(&mut self, key: &E::Key) -> Result<Option<u64>, Error> {
        in_tx!(
            self,
            |m, undo| {
                let before = m.get::<E>(key);
                let deleted = m.delete::<E>(key);
                let key = key.clone();
                undo.push(Box::new(move |m: &MemoryStore| {
                    m.restore::<E>(&key, before)
                }));
                Ok(deleted)
            },
            |s, conn| s.delete_in::<E>(conn, key)
        )
    }

    /// Records a cache write-through to run after the commit.
    pub(crate) fn after_commit(&mut self, effect: Effect) {
        self.effects.push(effect);
    }

    /// Commits, then writes the caches through. Dropping this future unfinished moves the rest to a spawned
    /// task, so the write-through still completes.
    pub async fn commit(mut self) -> Result<(), Error> {
        let backend = self.backend.take().expect("an open transaction");
        let effects = std::mem::take(&mut self.effects);
        let task = async move {
            match backend {
                TxBackend::Memory { .. } => {}
                #[cfg(feature = "sqlite")]
                TxBackend::Sqlite { tx, .. } => tx.commit().await.map_err(|e| {
                    Error::backend(
                        "transaction",
                        Tier::Store,
                        crate::driver_error::DriverError::from(e),
                    )
                })?,
                #[cfg(feature = "postgres")]
                TxBackend::Postgres { tx, .. } => tx.commit().await.map_err(|e| {
                    Error::backend(
                        "transaction",
                        Tier::Store,
                        crate::driver_error::DriverError::from(e),
                    )
                })?,
            }
            // Every effect runs, even after one failed: each updates its own entries.
            let mut outcome = Ok(());
            for effect in effects {
                if let Err(e) = effect().await {
                    outcome = outcome.and(Err(e));
                }
            }
            outcome
        };
        crate::detach::DetachOnDrop::new(task).await
    }

    /// Rolls back (the same as dropping the transaction).
    pub async fn rollback(self) {}
}

impl Drop for Transaction {
    fn drop(&mut self) {
        // The SQL transactions roll back when they drop; the memory store replays its undo log, newest first.
        if let Some(TxBackend::Memory { store, undo }) = self.backend.take() {
            for undo in undo.into_iter().rev() {
                undo(&store);
            }
        }
    }
}
