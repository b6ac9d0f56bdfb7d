//! Changes → SQL statements, in an order each dialect accepts.

use super::diff::{Change, ColumnChange, TableChange};
use crate::ddl::render::{self, CopyValue};
use crate::ddl::{Dialect, Table};

/// The SQL script applying `changes`, one statement per line group, each from a template.
pub fn script(changes: &[Change], dialect: Dialect) -> String {
    let mut out = String::new();
    for change in changes {
        let sql = match change {
            Change::Create(table) => render::create_table(table, dialect),
            Change::Drop(table) => render::drop_table(&table.name, dialect),
            Change::Alter(change) => match dialect {
                Dialect::Postgres => alter_postgres(change),
                Dialect::Sqlite => alter_sqlite(change),
            },
        };
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&sql);
    }
    out
}

fn alter_postgres(change: &TableChange) -> String {
    let (old, new) = (&change.old, &change.new);
    let mut out = String::new();
    for index in &change.dropped_indexes {
        out.push_str(&render::drop_index(index, Dialect::Postgres));
    }
    if change.primary_key_changed {
        out.push_str(&render::pg_drop_primary_key(
            &old.name,
            &old.primary_key.name,
        ));
    }
    if change.renamed() {
        out.push_str(&render::rename_table(
            &old.name,
            &new.name,
            Dialect::Postgres,
        ));
    }
    let table = new.name.as_str();
    for column in &change.columns {
        if let ColumnChange::Alter { old, new } = column
            && old.name != new.name
        {
            out.push_str(&render::rename_column(
                table,
                &old.name,
                &new.name,
                Dialect::Postgres,
            ));
        }
    }
    for column in &change.columns {
        if let ColumnChange::Drop(c) = column {
            out.push_str(&render::drop_column(table, &c.name, Dialect::Postgres));
        }
    }
    for column in &change.columns {
        match column {
            ColumnChange::Add(c) => out.push_str(&render::add_column(table, c, Dialect::Postgres)),
            ColumnChange::Alter { old, new }
                if (&old.sql_type, old.nullable, &old.default)
                    != (&new.sql_type, new.nullable, &new.default) =>
            {
                out.push_str(&render::pg_alter_column(table, old, new))
            }
            _ => {}
        }
    }
    if change.primary_key_changed {
        out.push_str(&render::pg_add_primary_key(new));
    } else if old.primary_key.name != new.primary_key.name {
        out.push_str(&render::pg_rename_primary_key(
            table,
            &old.primary_key.name,
            &new.primary_key.name,
        ));
    }
    for (from, to) in &change.renamed_indexes {
        out.push_str(&render::pg_rename_index(from, to));
    }
    for index in &change.created_indexes {
        out.push_str(&render::create_index(new, index, Dialect::Postgres));
    }
    out
}

/// Whether SQLite must rebuild the table: it cannot alter a column's type, nullability or default, change a
/// primary key, or add a column that is NOT NULL without a default.
fn needs_rebuild(change: &TableChange) -> bool {
    change.primary_key_changed
        || change.columns.iter().any(|c| match c {
            ColumnChange::Alter { old, new } => {
                (&old.sql_type, old.nullable, &old.default)
                    != (&new.sql_type, new.nullable, &new.default)
            }
            ColumnChange::Add(c) => !c.nullable && c.default.is_none(),
            ColumnChange::Drop(_) => false,
        })
}

fn alter_sqlite(change: &TableChange) -> String {
    let (old, new) = (&change.old, &change.new);
    if needs_rebuild(change) {
        return rebuild_sqlite(old, new);
    }
    let mut out = String::new();
    // SQLite cannot rename an index: a renamed one is dropped and created again.
    let renamed: Vec<_> = change
        .renamed_indexes
        .iter()
        .filter_map(|(from, _)| old.indexes.iter().find(|i| &i.name == from))
        .collect();
    for index in change.dropped_indexes.iter().chain(renamed.iter().copied()) {
        out.push_str(&render::drop_index(index, Dialect::Sqlite));
    }
    if change.renamed() {
        out.push_str(&render::rename_table(&old.name, &new.name, Dialect::Sqlite));
    }
    let table = new.name.as_str();
    for column in &change.columns {
        match column {
            ColumnChange::Alter { old, new } if old.name != new.name => out.push_str(
                &render::rename_column(table, &old.name, &new.name, Dialect::Sqlite),
            ),
            _ => {}
        }
    }
    for column in &change.columns {
        if let ColumnChange::Drop(c) = column {
            out.push_str(&render::drop_column(table, &c.name, Dialect::Sqlite));
        }
    }
    for column in &change.columns {
        if let ColumnChange::Add(c) = column {
            out.push_str(&render::add_column(table, c, Dialect::Sqlite));
        }
    }
    let recreated = change
        .renamed_indexes
        .iter()
        .filter_map(|(_, to)| new.indexes.iter().find(|i| &i.name == to));
    for index in change.created_indexes.iter().chain(recreated) {
        out.push_str(&render::create_index(new, index, Dialect::Sqlite));
    }
    out
}

/// SQLite's table rebuild, keeping every row: columns present on both sides are copied (NULLs replaced by
/// the new default where the column became NOT NULL), then every index of the new table is created.
fn rebuild_sqlite(old: &Table, new: &Table) -> String {
    let copy = new
        .columns
        .iter()
        .filter_map(|column| {
            let previous = old.column(&column.key)?;
            let fill = (previous.nullable && !column.nullable)
                .then(|| column.default.clone())
                .flatten();
            Some((column.name.clone(), CopyValue::new(&previous.name, fill)))
        })
        .collect();
    let mut out = render::sqlite_rebuild_table(&old.name, new, copy);
    for index in &new.indexes {
        out.push_str(&render::create_index(new, index, Dialect::Sqlite));
    }
    out
}
