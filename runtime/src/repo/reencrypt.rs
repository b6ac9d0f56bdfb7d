//! Key rotation's maintenance pass: [`Repository::reencrypt`] moves every row whose encrypted fields are under
//! an older key id to the key ring's current key, and rebuilds its blind index tokens with it (an id's
//! blind-index key is derived from the same master as its encryption key, so the tokens of a row written under
//! an old id are old too: one pass covers both).
//!
//! The pass walks the table in key order, a page at a time, and rewrites each stale row with the repository's
//! version compare-and-set ([`Repository::update`], which also refreshes the caches). A row a concurrent writer
//! changed meanwhile is **skipped**, never overwritten: that writer's write was itself sealed under the current
//! key, so there is nothing left to do for it; the report counts it. The pass is resumable: each progress report
//! carries the cursor after the last row examined, to pass back as [`ReencryptOptions::after`].

use super::Repository;
use crate::cursor::Cursor;
use crate::error::Error;
use crate::record::Record;
use tracing::Instrument;

/// Where and how a re-encryption pass runs.
#[derive(Debug, Clone)]
pub struct ReencryptOptions {
    /// Resume after this cursor (from an earlier pass's [`ReencryptProgress::cursor`]); `None`: from the start.
    pub after: Option<Cursor>,
    /// Rows read per page.
    pub page_size: usize,
    /// Rewrite every row, not only those under an older key id: fills a blind index column added to a table
    /// that already had rows (`capgen migrate diff` says when), or rebuilds every token.
    pub all_rows: bool,
}

impl Default for ReencryptOptions {
    fn default() -> Self {
        ReencryptOptions {
            after: None,
            page_size: 256,
            all_rows: false,
        }
    }
}

/// What a re-encryption pass has done so far (passed to the progress callback after each page) or in all
/// (returned at the end).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReencryptProgress {
    /// Rows examined.
    pub scanned: u64,
    /// Rows rewritten under the current key.
    pub rewritten: u64,
    /// Stale rows a concurrent writer changed (or deleted) between the read and the rewrite: left as that
    /// writer wrote them, which was under the current key.
    pub skipped_concurrent: u64,
    /// Rows whose data subject was crypto-shredded (`shred_subject`): unreadable, so left as they are (erase
    /// them to remove them).
    pub skipped_shredded: u64,
    /// The cursor after the last row examined: pass it as [`ReencryptOptions::after`] to resume. `None` once
    /// the pass has reached the end of the table.
    pub cursor: Option<Cursor>,
}

impl<E: Record> Repository<E> {
    /// Re-encrypts every row whose encrypted fields are under an older key id than the key ring's current one
    /// (after a rotation: put the new key first, keep the old ones, run this, then remove the old ids), and
    /// rebuilds its blind index tokens; see the [module docs](self). `progress` is called after each page.
    ///
    /// Rows are rewritten through [`update`](Repository::update) (validation, version compare-and-set, cache
    /// write-through). Errors other than a lost compare-and-set stop the pass; resume it from the last
    /// progress report's cursor.
    pub async fn reencrypt(
        &self,
        options: ReencryptOptions,
        mut progress: impl FnMut(&ReencryptProgress),
    ) -> Result<ReencryptProgress, Error> {
        let with = self.cursor_key()?.clone();
        let mut after = crate::cursor::key_under::<E>(options.after.as_ref(), &with)?;
        let mut report = ReencryptProgress::default();
        let page_size = options.page_size.max(1);
        loop {
            let (span, round_trip) = self.op_spans("reencrypt", super::spans::SELECT);
            let (rows, more) = self
                .inner
                .store
                .scan_checked::<E>(after.as_ref(), page_size)
                .instrument(round_trip)
                .instrument(span)
                .await?;
            for row in rows {
                report.scanned += 1;
                let (row, stale) = match row {
                    Ok(row) => row,
                    Err((key, _)) => {
                        report.skipped_shredded += 1;
                        after = Some(key);
                        continue;
                    }
                };
                after = Some(row.value.key());
                if !stale && !options.all_rows {
                    continue;
                }
                match self.update(row.value, row.version).await {
                    Ok(_) => report.rewritten += 1,
                    Err(Error::Conflict { .. } | Error::NotFound { .. }) => {
                        report.skipped_concurrent += 1
                    }
                    Err(e) => return Err(e),
                }
            }
            report.cursor = match more {
                true => after.as_ref().map(|key| Cursor::seal::<E>(key, &with)),
                false => None,
            };
            progress(&report);
            if !more {
                return Ok(report);
            }
        }
    }
}
