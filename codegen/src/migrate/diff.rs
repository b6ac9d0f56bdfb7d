//! What changed between two relational states, matched by identity — tables by message, columns by field
//! number, indexes by their columns — never by name, so renames are renames.

use crate::ddl::{Column, ColumnKey, Index, Table};

/// One table's change.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A new entity table.
    Create(Table),
    /// A table whose entity is gone (or moved to another backend).
    Drop(Table),
    /// A table that exists on both sides and differs.
    Alter(Box<TableChange>),
}

/// How one table changed.
#[derive(Debug, Clone, PartialEq)]
pub struct TableChange {
    pub old: Table,
    pub new: Table,
    pub columns: Vec<ColumnChange>,
    /// The primary key's columns changed.
    pub primary_key_changed: bool,
    /// Indexes of `old` that no longer exist (by columns and uniqueness).
    pub dropped_indexes: Vec<Index>,
    /// Indexes of `new` that did not exist.
    pub created_indexes: Vec<Index>,
    /// Indexes that exist on both sides under different names: `(old name, new name)`.
    pub renamed_indexes: Vec<(String, String)>,
}

/// How one column changed.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnChange {
    Add(Column),
    Drop(Column),
    /// Same key on both sides; the name, type, nullability or default differ.
    Alter {
        old: Column,
        new: Column,
    },
}

impl ColumnChange {
    /// The column's key.
    pub fn key(&self) -> &ColumnKey {
        match self {
            ColumnChange::Add(c) | ColumnChange::Drop(c) => &c.key,
            ColumnChange::Alter { new, .. } => &new.key,
        }
    }
}

impl TableChange {
    /// Whether the table was renamed.
    pub fn renamed(&self) -> bool {
        self.old.name != self.new.name
    }

    /// Whether anything differs.
    pub fn is_empty(&self) -> bool {
        !self.renamed()
            && self.columns.is_empty()
            && !self.primary_key_changed
            && self.old.primary_key.name == self.new.primary_key.name
            && self.dropped_indexes.is_empty()
            && self.created_indexes.is_empty()
            && self.renamed_indexes.is_empty()
    }
}

/// The changes from `old` to `new`. `renames` maps an old message name to its new one (`--renamed-from`).
pub fn diff(old: &[Table], new: &[Table], renames: &[(String, String)]) -> Vec<Change> {
    // A renamed entity's outbox, events and snapshots tables (identity `<message>#outbox`…) are renamed with it.
    let old_for = |new_message: &str| {
        let (base, suffix) = [
            crate::ddl::OUTBOX_IDENTITY_SUFFIX,
            crate::ddl::EVENTS_IDENTITY_SUFFIX,
            crate::ddl::SNAPSHOTS_IDENTITY_SUFFIX,
        ]
        .into_iter()
        .find_map(|suffix| Some((new_message.strip_suffix(suffix)?, suffix)))
        .unwrap_or((new_message, ""));
        let message = renames
            .iter()
            .find(|(_, to)| to == base)
            .map_or(base, |(from, _)| from.as_str());
        let message = format!("{message}{suffix}");
        old.iter().find(|t| t.message == message)
    };
    let mut changes = Vec::new();
    let mut matched = Vec::new();
    for table in new {
        match old_for(&table.message) {
            Some(previous) => {
                matched.push(previous.message.clone());
                let change = diff_table(previous, table);
                if !change.is_empty() {
                    changes.push(Change::Alter(Box::new(change)));
                }
            }
            None => changes.push(Change::Create(table.clone())),
        }
    }
    for table in old {
        if !matched.contains(&table.message) {
            changes.push(Change::Drop(table.clone()));
        }
    }
    changes
}

fn diff_table(old: &Table, new: &Table) -> TableChange {
    let mut columns = Vec::new();
    for column in &new.columns {
        match old.column(&column.key) {
            None => columns.push(ColumnChange::Add(column.clone())),
            Some(previous) if previous != column && !same_but_field_name(previous, column) => {
                columns.push(ColumnChange::Alter {
                    old: previous.clone(),
                    new: column.clone(),
                })
            }
            Some(_) => {}
        }
    }
    for column in &old.columns {
        if new.column(&column.key).is_none() {
            columns.push(ColumnChange::Drop(column.clone()));
        }
    }
    let same_index = |a: &Index, b: &Index| {
        a.unique == b.unique && a.columns == b.columns && a.only_positive == b.only_positive
    };
    let mut dropped_indexes = Vec::new();
    let mut renamed_indexes = Vec::new();
    for index in &old.indexes {
        match new.indexes.iter().find(|n| same_index(index, n)) {
            Some(n) if n.name != index.name => {
                renamed_indexes.push((index.name.clone(), n.name.clone()))
            }
            Some(_) => {}
            None => dropped_indexes.push(index.clone()),
        }
    }
    let created_indexes = new
        .indexes
        .iter()
        .filter(|n| !old.indexes.iter().any(|o| same_index(o, n)))
        .cloned()
        .collect();
    TableChange {
        old: old.clone(),
        new: new.clone(),
        columns,
        primary_key_changed: old.primary_key.columns != new.primary_key.columns,
        dropped_indexes,
        created_indexes,
        renamed_indexes,
    }
}

/// A column whose only difference is the proto field name it is documented with, while its SQL name stayed
/// (a field renamed but kept in its column with the `column` option): nothing to migrate.
fn same_but_field_name(old: &Column, new: &Column) -> bool {
    Column {
        field: new.field.clone(),
        // A lockfile written before blind index widths were recorded has 0: not a change of width.
        blind_bits: if old.blind_bits == 0 {
            new.blind_bits
        } else {
            old.blind_bits
        },
        ..old.clone()
    } == *new
}
