//! The destructive-change guard and the deleted-field rule, checked before anything is written.

use super::diff::{Change, ColumnChange};
use crate::ddl::{Column, ColumnKey};
use crate::ir::Schema;
use std::fmt;

/// A change capgen refuses to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The message (`app.v1.User`).
    pub message: String,
    /// The field (or oneof) concerned, when the problem is about one.
    pub field: Option<String>,
    /// Its number, when it has one.
    pub number: Option<u32>,
    /// A stable rule id (`FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED`, `DESTRUCTIVE_DROP_COLUMN`, …).
    pub rule: &'static str,
    /// What would happen and what to do.
    pub reason: String,
    /// Whether `--allow-destructive` lifts it (a deleted field without a reserved number never is lifted).
    pub allowable: bool,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(field) = &self.field {
            write!(f, " field `{field}`")?;
        }
        if let Some(number) = self.number {
            write!(f, " (number {number})")?;
        }
        write!(f, ": {}: {}", self.rule, self.reason)
    }
}

/// Widening type changes, which keep every value: `(old, new)`.
const WIDENING: &[(&str, &str)] = &[
    ("INTEGER", "BIGINT"),
    ("INTEGER", "NUMERIC(20,0)"),
    ("BIGINT", "NUMERIC(20,0)"),
    ("REAL", "DOUBLE PRECISION"),
    ("INTEGER[]", "BIGINT[]"),
    ("INTEGER[]", "NUMERIC(20,0)[]"),
    ("BIGINT[]", "NUMERIC(20,0)[]"),
    ("REAL[]", "DOUBLE PRECISION[]"),
];

/// Why switching an option that changes what a stored column holds (`encrypt`, `claim_check`) on or off is
/// refused, and the safe steps instead: SQL cannot rewrite the column in place (`why`: what lives in the
/// application), and reading the old values in the new form would garble or lose every one. `forms`: what the
/// column holds with the option off and on.
fn new_field_steps(column: &str, option: &str, on: bool, forms: (&str, &str), why: &str) -> String {
    let (was, now) = match on {
        true => forms,
        false => (forms.1, forms.0),
    };
    format!(
        "column \"{column}\" holds {was} and would be read as {now} (`{option}` was switched {}); SQL cannot convert \
         it ({why}). Steps: (1) add a new field with a new number and the wanted `{option}`, and generate that \
         migration; (2) copy each row's value from the old field to the new one through the repository (read, set, \
         update); (3) delete the old field, reserving its number and name, in a later migration",
        if on { "on" } else { "off" }
    )
}

/// Every problem in `changes` (against the current `schema`, for reserved numbers).
pub fn problems(changes: &[Change], schema: &Schema) -> Vec<Problem> {
    let mut out = Vec::new();
    for change in changes {
        match change {
            Change::Create(_) => {}
            Change::Drop(table) => out.push(Problem {
                message: table.message.clone(),
                field: None,
                number: None,
                rule: "DESTRUCTIVE_DROP_TABLE",
                reason: format!(
                    "table \"{}\" would be dropped with its rows (the message is no longer an entity of this backend; if it was renamed, pass --renamed-from {}=<new name>)",
                    table.name, table.message
                ),
                allowable: true,
            }),
            Change::Alter(change) => {
                let message = schema.message(&change.new.message);
                for column in &change.columns {
                    let problem = |rule, reason: String, allowable| Problem {
                        message: change.new.message.clone(),
                        field: Some(column_field(column)),
                        number: column.key().field_number(),
                        rule,
                        reason,
                        allowable,
                    };
                    match column {
                        ColumnChange::Drop(c) => {
                            if matches!(c.key, ColumnKey::Nanos(_)) {
                                continue;
                            }
                            if let ColumnKey::Field(n) = c.key {
                                let deleted = message.is_none_or(|m| m.fields.iter().all(|f| f.number != n));
                                if deleted && !message.is_some_and(|m| m.is_reserved(n)) {
                                    out.push(problem(
                                        "FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED",
                                        format!(
                                            "the field was deleted without reserving its number; add `reserved {n};` (and `reserved \"{}\";`) to the message so the number is never reused with another meaning",
                                            c.field
                                        ),
                                        false,
                                    ));
                                    continue;
                                }
                            }
                            out.push(problem(
                                "DESTRUCTIVE_DROP_COLUMN",
                                format!("column \"{}\" would be dropped with its data", c.name),
                                true,
                            ));
                        }
                        ColumnChange::Add(c) if !c.nullable && c.default.is_none() => {
                            out.push(problem(
                                "DESTRUCTIVE_NOT_NULL_WITHOUT_DEFAULT",
                                format!(
                                    "new column \"{}\" is NOT NULL without a default, so existing rows cannot be kept",
                                    c.name
                                ),
                                true,
                            ))
                        }
                        ColumnChange::Alter { old, new } if old.encrypted != new.encrypted => out.push(problem(
                            "ENCRYPT_CHANGE_NEEDS_A_NEW_FIELD",
                            new_field_steps(
                                &old.name,
                                "encrypt",
                                new.encrypted,
                                ("plaintext", "ciphertext"),
                                "the keys live in the application",
                            ),
                            false,
                        )),
                        ColumnChange::Alter { old, new } if old.claim_checked != new.claim_checked => out.push(problem(
                            "CLAIM_CHECK_CHANGE_NEEDS_A_NEW_FIELD",
                            new_field_steps(
                                &old.name,
                                "claim_check",
                                new.claim_checked,
                                ("plain values", "claim-checked values (inline or blob references)"),
                                "the blobs live in the application's blob store",
                            ),
                            false,
                        )),
                        ColumnChange::Alter { old, new }
                            if old.blind_bits != 0 && old.blind_bits != new.blind_bits =>
                        {
                            out.push(problem(
                                "BLIND_INDEX_WIDTH_NEEDS_A_REBUILD",
                                format!(
                                    "blind index column \"{}\" would change from {}-bit to {}-bit tokens, so `find_by_{}` would not find the rows already stored until their tokens are rebuilt. Steps: \
                                     (1) rerun with --allow-destructive to write this migration; \
                                     (2) after applying it, run `Repository::reencrypt(ReencryptOptions {{ all_rows: true, .. }}, ..)` once, which rewrites every row with a token of the new width; \
                                     the lookups find a row once it is rewritten. A unique index added over truncated tokens can fail to build when two of them collide: \
                                     to make an index unique, first rebuild with 256 bits (`blind_index_bits: 256`), then switch it to unique",
                                    new.name, old.blind_bits, new.blind_bits, new.field
                                ),
                                true,
                            ))
                        }
                        ColumnChange::Add(c) if matches!(c.key, ColumnKey::BlindIndex(_)) => {
                            out.push(problem(
                                "BLIND_INDEX_NEEDS_A_REBUILD",
                                format!(
                                    "new blind index column \"{}\" would be empty for the rows already stored, so `find_by_{}` would not find them. Steps: \
                                     (1) rerun with --allow-destructive to write this migration; \
                                     (2) after applying it, run `Repository::reencrypt(ReencryptOptions {{ all_rows: true, .. }}, ..)` once, which rewrites every row with its token; \
                                     the lookups find a row once it is rewritten",
                                    c.name, c.field
                                ),
                                true,
                            ))
                        }
                        ColumnChange::Alter { old, new } => {
                            if old.sql_type != new.sql_type
                                && !WIDENING.contains(&(old.sql_type.as_str(), new.sql_type.as_str()))
                            {
                                out.push(problem(
                                    "DESTRUCTIVE_NARROWING_TYPE_CHANGE",
                                    format!(
                                        "column \"{}\" would change from {} to {}, which cannot hold every old value",
                                        new.name, old.sql_type, new.sql_type
                                    ),
                                    true,
                                ));
                            }
                            if old.nullable && !new.nullable && new.default.is_none() {
                                out.push(problem(
                                    "DESTRUCTIVE_NOT_NULL_WITHOUT_DEFAULT",
                                    format!(
                                        "column \"{}\" would become NOT NULL without a default, so rows holding NULL cannot be kept",
                                        new.name
                                    ),
                                    true,
                                ));
                            }
                        }
                        ColumnChange::Add(_) => {}
                    }
                }
            }
        }
    }
    out
}

fn column_field(change: &ColumnChange) -> String {
    let column: &Column = match change {
        ColumnChange::Add(c) | ColumnChange::Drop(c) => c,
        ColumnChange::Alter { new, .. } => new,
    };
    column.field.clone()
}
