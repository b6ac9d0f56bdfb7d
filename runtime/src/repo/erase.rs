//! Erasure: a right-to-erasure request for one row, across every tier, with a report of what was done.

use super::Repository;
use crate::cache::Lookup;
use crate::error::{Error, Tier};
use crate::pii::{AuditOutcome, Operation};
use crate::record::Record;

#[cfg(feature = "redis")]
use crate::redis::Cached;

/// What [`Repository::erase`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErasureReport {
    /// The version the row had when it was deleted; `None` when the store held no row (nothing was erased).
    pub version: Option<u64>,
    /// The tiers that held a live copy of the row just before the erasure, in tier order.
    pub held_by: Vec<Tier>,
    /// The cache tiers now holding no value for the key: a tombstone (the version, no value) outlives the
    /// erasure briefly so a racing miss-fill cannot bring the value back.
    pub purged: Vec<Tier>,
    /// The cache tiers that could not be reached to purge (Redis down). Their copy is never served again (the
    /// entity's Redis generation is bumped before Redis is used after a failure) and expires by its TTL;
    /// retry `erase` once Redis is back to remove it sooner.
    pub unconfirmed: Vec<Tier>,
    /// What became of the blobs of the row's claim-checked values (`docs/claim-check.md`).
    pub blobs: BlobErasure,
}

/// What an erasure did to the blobs of the row's claim-checked values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlobErasure {
    /// Blobs removed from the blob store.
    pub removed: usize,
    /// Blobs kept because another row of the entity holds the same content (a content address is shared):
    /// the content is that row's data too.
    pub shared: usize,
    /// Blobs that could not be removed (the blob store or the check for other rows failed); the row is gone,
    /// so [`Repository::collect_blobs`] removes them once the grace period has passed.
    pub failed: usize,
}

impl<E: Record> Repository<E> {
    /// Erases the row of `key`: deletes it from the store, purges it from L1 and Redis, records an
    /// [`Operation::Erase`] audit event (when the repository audits) and reports what it did.
    ///
    /// Like a write, it runs to the end even if the caller drops the future. Erasing an absent key is not an
    /// error: the report's `version` is `None`. Copies outside the tiers (backups, logs, replicas' WAL) are not
    /// touched; see `docs/pii.md` on crypto-shredding.
    pub async fn erase(&self, key: &E::Key) -> Result<ErasureReport, Error> {
        let inner = self.inner.clone();
        let key = key.clone();
        let span = self.span("erase");
        let task = async move {
            let mut report = ErasureReport::default();
            if let Some(l1) = &inner.l1
                && matches!(l1.get(&key), Lookup::Hit(_))
            {
                report.held_by.push(Tier::Memory);
            }
            #[cfg(feature = "redis")]
            if let Some(l2) = &inner.l2
                && let Ok((_, found)) = tracing::Instrument::instrument(
                    l2.get_many(std::slice::from_ref(&key)),
                    inner.redis_span(),
                )
                .await
                && matches!(found.first(), Some(Cached::Hit(_)))
            {
                report.held_by.push(Tier::Redis);
            }
            #[cfg(feature = "redis")]
            let observed = inner.observe(std::slice::from_ref(&key)).await;
            let started = std::time::Instant::now();
            let deleted = tracing::Instrument::instrument(
                inner.store.erase::<E>(&key),
                inner.store_span("DELETE"),
            )
            .await;
            inner.counters.latency(Tier::Store, started.elapsed());
            let version = match deleted {
                Ok((version, blobs)) => {
                    report.blobs = blobs;
                    version
                }
                Err(e) => {
                    inner.counters.error(Tier::Store, &e);
                    if let Some(audit) = &inner.audit {
                        audit.record::<E>(Operation::Erase, &key, AuditOutcome::Failed);
                    }
                    return Err(e);
                }
            };
            let Some(version) = version else {
                if let Some(audit) = &inner.audit {
                    audit.record::<E>(Operation::Erase, &key, AuditOutcome::NotFound);
                }
                return Ok(report);
            };
            report.version = Some(version);
            report.held_by.push(Tier::Store);
            inner.counters.write(1);
            #[cfg(feature = "redis")]
            if let Some(l2) = &inner.l2 {
                let started = std::time::Instant::now();
                let result = tracing::Instrument::instrument(
                    l2.set_many_if_newer(&[(key.clone(), None, version)], &observed),
                    inner.redis_span(),
                )
                .await;
                inner.counters.latency(Tier::Redis, started.elapsed());
                match result {
                    Ok(()) => report.purged.push(Tier::Redis),
                    Err(e) => {
                        inner.counters.error(Tier::Redis, &e);
                        report.unconfirmed.push(Tier::Redis);
                    }
                }
            }
            if let Some(l1) = &inner.l1 {
                l1.set_deleted(&key, version);
                report.purged.insert(0, Tier::Memory);
            }
            if let Some(audit) = &inner.audit {
                audit.record::<E>(Operation::Erase, &key, AuditOutcome::Success);
            }
            Ok(report)
        };
        crate::detach::DetachOnDrop::new(tracing::Instrument::instrument(task, span)).await
    }
}

/// What `Repository::shred_subject` (feature `encryption`) did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ShredReport {
    /// Data keys destroyed in `capacitor_subject_keys` (0 when the subject had none).
    pub keys_destroyed: usize,
    /// Rows of this repository's entity that belong to the subject: they stay in the store, unreadable
    /// (erase them with [`Repository::erase_subject`] to remove them too).
    pub rows: usize,
    /// The cache tiers purged of those rows: L1 (which holds plaintext) drops each of them. Redis entries are
    /// not deleted: they are ciphertext under the destroyed key, unreadable, and expire by their TTL.
    pub purged: Vec<Tier>,
}

#[cfg(feature = "encryption")]
impl<E: Record> Repository<E> {
    /// Crypto-shreds the data subject whose `subject` field value is `subject` (for an entity declared with
    /// `(capacitor.v1.entity).subject`): destroys the subject's data keys ([`Store::shred_subject`]), then drops
    /// this repository's L1 copies of the subject's rows. Every value sealed under the keys — rows of any
    /// entity with that subject, Redis entries, backups — then fails to read with
    /// [`PiiError::SubjectKeyDestroyed`](crate::pii::PiiError::SubjectKeyDestroyed), never a panic; erasing
    /// such a row still works. Records an [`Operation::Erase`] audit event per row when the repository audits.
    ///
    /// Other repositories' L1 (of other entities with the same subject, or in other processes) keep plaintext
    /// copies until they expire or are shredded there too: see `docs/pii.md`. Like [`erase`](Self::erase), it
    /// runs to the end even if the caller drops the future.
    ///
    /// [`Store::shred_subject`]: crate::Store::shred_subject
    pub async fn shred_subject<T: crate::record::Column + Clone>(
        &self,
        subject: &T,
    ) -> Result<ShredReport, Error> {
        if E::SCHEMA.subject.is_none() {
            return Err(Error::Config(format!(
                "shred_subject: entity `{}` names no data subject (`(capacitor.v1.entity).subject`)",
                E::SCHEMA.message
            )));
        }
        let inner = self.inner.clone();
        let span = self.span("shred_subject");
        let subject = subject.clone();
        let task = async move {
            // The rows first: their keys name the cached copies to drop.
            let rows = inner.store.subject_rows::<E, T>(&subject).await?;
            let keys_destroyed = inner.store.shred_subject(&subject).await?;
            let mut report = ShredReport {
                keys_destroyed,
                rows: rows.len(),
                purged: Vec::new(),
            };
            if let Some(l1) = &inner.l1 {
                for (key, _) in &rows {
                    l1.invalidate(key);
                }
                report.purged.push(Tier::Memory);
            }
            if let Some(audit) = &inner.audit {
                for (key, _) in &rows {
                    audit.record::<E>(Operation::Erase, key, AuditOutcome::Success);
                }
            }
            Ok(report)
        };
        // Like `erase`, it runs to the end if the caller drops the future: a destroyed key with L1 still
        // holding plaintext would be a half-done shred.
        crate::detach::DetachOnDrop::new(tracing::Instrument::instrument(task, span)).await
    }

    /// Erases every row of this entity whose `subject` field value is `subject` (see
    /// [`erase`](Self::erase)): the rows are found by the subject column, which stays readable after
    /// [`shred_subject`](Self::shred_subject), so the rows a shred left unreadable (and that would fail a
    /// `scan` page) can be removed without knowing their keys. One [`ErasureReport`] per row, in key order;
    /// the first failure stops it (rows already erased stay erased; running it again erases the rest).
    pub async fn erase_subject<T: crate::record::Column + Clone>(
        &self,
        subject: &T,
    ) -> Result<Vec<ErasureReport>, Error> {
        if E::SCHEMA.subject.is_none() {
            return Err(Error::Config(format!(
                "erase_subject: entity `{}` names no data subject (`(capacitor.v1.entity).subject`)",
                E::SCHEMA.message
            )));
        }
        let rows = self.inner.store.subject_rows::<E, T>(subject).await?;
        let mut reports = Vec::with_capacity(rows.len());
        for (key, _) in &rows {
            reports.push(self.erase(key).await?);
        }
        Ok(reports)
    }
}
