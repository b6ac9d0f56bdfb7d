//! Index lookups through a repository: what generated `find_by_<field>` methods call.
//!
//! **Caches.** A lookup reads the store, the source of truth, and never a cache: the caches are keyed by
//! primary key, so answering "which row has this email" from them would need an index per tier kept in step
//! with every write (and across processes for Redis). Reading the store means a lookup never returns a version
//! older than the last acknowledged write, in either consistency mode; to read a hot row through the tiers,
//! look up its key once and [`get`](Repository::get) it afterwards. Lookups fill no cache either: a fill
//! outside the repository's read path could not take part in its stale-fill protection.
//!
//! **Pages.** Secondary lookups are keyset-paginated on the primary key within the matching rows: a page's
//! [`next`](crate::store::Page::next) is an opaque [`Cursor`] after the last key returned, stable under concurrent inserts and deletes
//! (no row is returned twice, none that existed throughout is skipped). Cursors are sealed under the
//! repository's [`CursorKey`] (see [`cursor`](crate::cursor)).

use super::Repository;
use crate::cursor::{Cursor, CursorKey};
use crate::error::{Error, Tier};
use crate::record::Record;
use crate::store::Page;
use crate::store::index_lookup::{IndexRef, IndexValues};
use crate::versioned::Versioned;
use tracing::Instrument;

impl<E: Record> Repository<E> {
    /// The cursor of `key` under this repository's cursor key: a page passed it as `after` starts after `key`.
    ///
    /// [`Error::Config`] when the repository uses the process-wide default key and that is misconfigured.
    pub fn cursor(&self, key: &E::Key) -> Result<Cursor, Error> {
        Ok(Cursor::seal::<E>(key, self.cursor_key()?))
    }

    /// The key this repository seals its cursors under: its own, else the process-wide default.
    pub(super) fn cursor_key(&self) -> Result<&CursorKey, Error> {
        match &self.inner.cursor_key {
            Some(key) => Ok(key),
            None => crate::cursor::default_key(),
        }
    }

    /// The row whose columns of the unique index `index` equal `values`, if any. Generated code passes the
    /// schema's [`IndexSchema`](crate::schema::IndexSchema); a name works too (see [`IndexRef`]).
    pub async fn find_unique<V: IndexValues>(
        &self,
        index: impl IndexRef,
        values: &V,
    ) -> Result<Option<Versioned<E>>, Error> {
        // No cursor (a unique index has at most one row), so no key to resolve.
        let page = self
            .lookup(index, values, None, 1, false)
            .instrument(self.span("find_unique"))
            .await?;
        Ok(page.items.into_iter().next())
    }

    /// Up to `limit` rows whose columns of `index` equal `values`, in primary key order after the key `after`
    /// (`None` for the first page; then the previous page's `next`). `index` is the schema's
    /// [`IndexSchema`](crate::schema::IndexSchema) or its name (see [`IndexRef`]).
    ///
    /// [`Error::InvalidCursor`] for a cursor that is not `E`'s, [`Error::InvalidLimit`] for a `limit` of zero
    /// or above [`MAX_PAGE_LIMIT`](crate::cursor::MAX_PAGE_LIMIT).
    pub async fn find_by_index<V: IndexValues>(
        &self,
        index: impl IndexRef,
        values: &V,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<E>, Error> {
        self.lookup(index, values, after, limit, true)
            .instrument(self.span("find_by_index"))
            .await
    }

    async fn lookup<V: IndexValues>(
        &self,
        index: impl IndexRef,
        values: &V,
        after: Option<&Cursor>,
        limit: usize,
        paged: bool,
    ) -> Result<Page<E>, Error> {
        let with = match paged {
            true => Some(self.cursor_key()?),
            false => None,
        };
        let counters = &self.inner.counters;
        let started = std::time::Instant::now();
        let result = self
            .inner
            .store
            .find_by_index_with::<E, V>(index, values, after, limit, with)
            .instrument(self.inner.store_span(super::spans::SELECT))
            .await;
        counters.latency(Tier::Store, started.elapsed());
        match &result {
            Ok(page) if page.items.is_empty() => counters.miss(Tier::Store),
            Ok(_) => counters.hit(Tier::Store),
            Err(Error::Config(_) | Error::InvalidCursor { .. } | Error::InvalidLimit { .. }) => {}
            Err(e) => counters.error(Tier::Store, e),
        }
        self.audit_page(&result);
        result
    }
}
