//! The SQL of an entity's outbox table (`<table>_outbox`, laid out by
//! [`outbox_columns`](crate::schema::columns::outbox_columns)): the row each write adds in its own transaction,
//! the change feed's read, the relay's claim and mark, and pruning. See [`crate::outbox`] for the guarantees.

use super::statements::{Dialect, columns_of_numbers, placeholder, quote};
use crate::schema::EntitySchema;
use crate::schema::columns::{
    OUTBOX_OP, OUTBOX_PAYLOAD, OUTBOX_PUBLISHED_AT, OUTBOX_RECORDED_AT, OUTBOX_SEQ, VERSION_COLUMN,
    outbox_table,
};

/// The `_op` of the row that marks how far the outbox has been pruned: every row before it is gone, and a
/// change cursor before it is expired.
pub(crate) const PRUNED_MARKER: &str = "pruned";

/// The statements of one entity's outbox. Rows are read back as `_seq`, the key columns, `_version`, `_op`,
/// `_payload`, `_recorded_at` ([`OutboxStatements::row_list`]).
#[derive(Debug)]
pub(crate) struct OutboxStatements {
    /// Binds the key, the version, the op, the payload and the time.
    pub(crate) insert: String,
    /// Binds the cursor's sequence and a limit: the rows after it in sequence order.
    pub(crate) after: String,
    /// Binds the claim's mark (minus its expiry), a limit and minus now: marks the oldest unpublished (or
    /// abandoned) rows as claimed, unless another relay holds a live claim, and returns them.
    pub(crate) claim: String,
    /// Binds the publication time, the claim's mark, and the first and last sequence claimed.
    pub(crate) mark: String,
    /// Binds a claim's mark and its first and last sequence: gives its rows back unpublished (after a sink
    /// failure).
    pub(crate) release: String,
    /// Binds a cutoff time: the highest sequence that may be pruned (published before the cutoff, below every
    /// unpublished row, and not the last row).
    pub(crate) prunable: String,
    /// Binds a sequence: deletes the rows before it.
    pub(crate) prune: String,
    /// Binds a sequence: turns its row into the pruning marker.
    pub(crate) mark_pruned: String,
    /// The highest sequence written (0 when empty): where a feed that starts now begins.
    pub(crate) last_seq: String,
    /// Postgres: each write and its outbox row in one statement ([`Combined`]); `None` on SQLite, where the
    /// row is a second statement in the write's transaction.
    pub(crate) combined: Option<Combined>,
    /// The outbox table's name, and the same quoted, and the key columns, quoted.
    name: String,
    table: String,
    keys: Vec<String>,
}

/// The entity's writes with their outbox row, one statement each (a data-modifying `WITH`): a single round trip
/// in autocommit instead of `BEGIN`, the write, the outbox insert and `COMMIT`. Each binds the write's own
/// values, then the op, the payload and the time.
#[derive(Debug)]
pub(crate) struct Combined {
    pub(crate) insert: String,
    pub(crate) upsert: String,
    pub(crate) update: String,
    pub(crate) delete: String,
}

impl OutboxStatements {
    pub(crate) fn new(schema: &'static EntitySchema, dialect: Dialect) -> Self {
        let p = |n: usize| placeholder(dialect, n);
        let t = quote(&outbox_table(schema.table));
        let keys = columns_of_numbers(schema, schema.primary_key, dialect);
        let (seq, version, op, payload, recorded, published) = (
            quote(OUTBOX_SEQ),
            quote(VERSION_COLUMN),
            quote(OUTBOX_OP),
            quote(OUTBOX_PAYLOAD),
            quote(OUTBOX_RECORDED_AT),
            quote(OUTBOX_PUBLISHED_AT),
        );
        let row_list = format!(
            "{seq}, {}, {version}, {op}, {payload}, {recorded}",
            keys.join(", ")
        );
        let k = keys.len();
        let values: Vec<String> = (1..=k + 4).map(p).collect();
        let insert = format!(
            "INSERT INTO {t} ({}, {version}, {op}, {payload}, {recorded}) VALUES ({})",
            keys.join(", "),
            values.join(", ")
        );
        let after = format!(
            "SELECT {row_list} FROM {t} WHERE {seq} > {} ORDER BY {seq} LIMIT {}",
            p(1),
            p(2)
        );
        // A claim writes minus its expiry into `_published_at`: a live claim is below minus now, an abandoned
        // one (its relay died) at or above it, a published row positive.
        let claim = match dialect {
            // Through the index of every row by `_published_at`.
            Dialect::Postgres => format!(
                "UPDATE {t} SET {published} = {} WHERE {seq} IN (SELECT {seq} FROM {t} WHERE {published} IS NULL \
                 OR ({published} < 0 AND {published} >= {}) ORDER BY {seq} LIMIT {}) AND NOT EXISTS (SELECT 1 \
                 FROM {t} WHERE {published} < {}) RETURNING {row_list}",
                p(1),
                p(3),
                p(2),
                p(3)
            ),
            // SQLite indexes only published rows. It commits positions in order and a claim always takes the
            // oldest rows not published, so every row before a published one is published (or claimed, and
            // then before the first unpublished row): the scan starts at the row published last (one step down
            // the partial index) and walks the primary key. A live claim, if any, holds the first row not
            // published, so only that row is checked.
            Dialect::Sqlite => {
                let from = format!(
                    "COALESCE((SELECT {seq} FROM {t} WHERE {published} > 0 ORDER BY {published} DESC, {seq} DESC \
                     LIMIT 1), 0)"
                );
                format!(
                    "UPDATE {t} SET {published} = {} WHERE {seq} IN (SELECT {seq} FROM {t} WHERE {seq} > {from} AND \
                     ({published} IS NULL OR ({published} < 0 AND {published} >= {})) ORDER BY {seq} LIMIT {}) AND \
                     NOT EXISTS (SELECT 1 FROM (SELECT {published} AS p FROM {t} WHERE {seq} > {from} AND \
                     ({published} IS NULL OR {published} < 0) ORDER BY {seq} LIMIT 1) WHERE p < {}) RETURNING \
                     {row_list}",
                    p(1),
                    p(3),
                    p(2),
                    p(3)
                )
            }
        };
        let mark = format!(
            "UPDATE {t} SET {published} = {} WHERE {published} = {} AND {seq} >= {} AND {seq} <= {}",
            p(1),
            p(2),
            p(3),
            p(4)
        );
        let release = format!(
            "UPDATE {t} SET {published} = NULL WHERE {published} = {} AND {seq} >= {} AND {seq} <= {}",
            p(1),
            p(2),
            p(3)
        );
        let prunable = match dialect {
            Dialect::Postgres => format!(
                "SELECT MAX({seq}) FROM {t} WHERE {published} > 0 AND {published} < {} AND {seq} < (SELECT \
                 MAX({seq}) FROM {t}) AND {seq} < COALESCE((SELECT MIN({seq}) FROM {t} WHERE {published} IS NULL \
                 OR {published} < 0), (SELECT MAX({seq}) FROM {t}))",
                p(1)
            ),
            // Every published row is before every row not published (see `claim`); the partial index's range
            // below the cutoff is the rows about to be pruned.
            Dialect::Sqlite => format!(
                "SELECT MAX({seq}) FROM {t} WHERE {published} > 0 AND {published} < {} AND {seq} < (SELECT \
                 MAX({seq}) FROM {t})",
                p(1)
            ),
        };
        let prune = format!("DELETE FROM {t} WHERE {seq} < {}", p(1));
        let mark_pruned = format!(
            "UPDATE {t} SET {op} = '{PRUNED_MARKER}', {payload} = NULL WHERE {seq} = {}",
            p(1)
        );
        let last_seq = format!("SELECT COALESCE(MAX({seq}), 0) FROM {t}");
        OutboxStatements {
            insert,
            after,
            claim,
            mark,
            release,
            prunable,
            prune,
            mark_pruned,
            last_seq,
            combined: None,
            name: outbox_table(schema.table),
            table: t,
            keys,
        }
    }

    /// Makes the [`Combined`] statements from the entity's own (each ending in `RETURNING "_version"`) and the
    /// number of values each binds.
    pub(crate) fn combine(&mut self, writes: [(&str, usize); 4]) {
        let [insert, upsert, update, delete] = writes.map(|(sql, params)| self.wrap(sql, params));
        self.combined = Some(Combined {
            insert,
            upsert,
            update,
            delete,
        });
    }

    /// `WITH w AS (<write> RETURNING "_version", <keys>), o AS (INSERT INTO <outbox> … SELECT … FROM w RETURNING
    /// "_version") SELECT … FROM o, (SELECT pg_notify(…))`: the outbox row is inserted after the write took its
    /// row's lock, so one key's rows keep commit order, and the commit wakes the change feeds listening on
    /// [`WAKE_CHANNEL`](crate::outbox::wake::WAKE_CHANNEL) (Postgres delivers a notification at commit, once per
    /// transaction, never for a rollback).
    fn wrap(&self, write: &str, params: usize) -> String {
        let write = write
            .strip_suffix(" RETURNING \"_version\"")
            .expect("a write statement returns its version");
        let keys = self.keys.join(", ");
        let p = |n: usize| placeholder(Dialect::Postgres, n);
        format!(
            "WITH w AS ({write} RETURNING \"_version\", {keys}), o AS (INSERT INTO {} ({keys}, \"_version\", {}, {}, \
             {}) SELECT {keys}, \"_version\", {}, {}, {} FROM w RETURNING \"_version\") SELECT o.\"_version\" FROM o, \
             (SELECT pg_notify('{}', '{}')) AS n",
            self.table,
            quote(OUTBOX_OP),
            quote(OUTBOX_PAYLOAD),
            quote(OUTBOX_RECORDED_AT),
            p(params + 1),
            p(params + 2),
            p(params + 3),
            crate::outbox::wake::WAKE_CHANNEL,
            self.name.replace('\'', "''"),
        )
    }
}
