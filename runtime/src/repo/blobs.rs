//! Garbage collection of claim-checked values' blobs.

use super::Repository;
use crate::error::Error;
use crate::record::Record;
use std::time::Duration;

/// What [`Repository::collect_blobs`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlobCollection {
    /// Blobs listed under the entity's claim-checked fields.
    pub examined: usize,
    /// Blobs a row names: kept.
    pub live: usize,
    /// Blobs no row names, written less than the grace period ago: kept (a write may be about to commit the
    /// row that names it).
    pub young: usize,
    /// Blobs no row names, older than the grace period: removed (or found gone already when looked at again just
    /// before the delete).
    pub removed: usize,
    /// Objects under the entity's prefix whose names the repository does not write: left alone.
    pub foreign: usize,
}

impl<E: Record> Repository<E> {
    /// Removes the blobs of `E`'s claim-checked fields that no row names and that were last written more than
    /// `grace` ago: the orphans a write leaves when it fails or crashes between writing its blob and committing
    /// its row, and the blobs of deleted or overwritten values (a delete leaves its blobs to this collector,
    /// since content addressing lets rows share one; [`erase`](Self::erase) removes them at once).
    ///
    /// Safe to run at any time, from any process: a blob is written (and its last-modified time refreshed)
    /// before every commit of a row that names it, so a blob that a write in flight is about to name is younger
    /// than `grace` as long as the write commits within `grace` of writing it. Ages count to the moment before
    /// the rows are read, and a blob is looked at again (`BlobStore::head`) just before it is deleted, since a
    /// write of the same content may have refreshed it after the listing. Pick a grace period well above your
    /// longest transaction (an hour is typical). Nothing for an entity without claim-checked fields.
    ///
    /// ```no_run
    /// # async fn run<E: capacitor::Record>(repo: capacitor::Repository<E>) -> Result<(), capacitor::Error> {
    /// let report = repo.collect_blobs(std::time::Duration::from_secs(3600)).await?;
    /// println!("removed {} orphan blobs", report.removed);
    /// # Ok(()) }
    /// ```
    pub async fn collect_blobs(&self, grace: Duration) -> Result<BlobCollection, Error> {
        self.inner.store.collect_blobs::<E>(grace).await
    }
}
