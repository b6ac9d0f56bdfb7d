//! SQL text from the model, rendered by the askama templates in `templates/<dialect>/<statement>.sql`.
//!
//! Rust never concatenates SQL: it fills a template's fields with [`Ident`]s (always double-quoted, so tables
//! and columns named `order`, `user` or `select` work) and type names and literals taken from the model.

use super::{Column, Dialect, Index, Table};
use askama::Template;
use std::fmt;

/// A quoted SQL identifier: `"order"`, with embedded quotes doubled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident(pub String);

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0.replace('"', "\"\""))
    }
}

fn ident(name: &str) -> Ident {
    Ident(name.to_string())
}

/// A column definition as the templates print it.
#[derive(Debug, Clone)]
pub struct ColumnDef {
    pub name: Ident,
    pub sql_type: String,
    pub nullable: bool,
    pub default: Option<String>,
}

impl From<&Column> for ColumnDef {
    fn from(c: &Column) -> ColumnDef {
        ColumnDef {
            name: ident(&c.name),
            sql_type: c.sql_type.clone(),
            nullable: c.nullable,
            default: c.default.clone(),
        }
    }
}

/// Declares one template struct per dialect for a statement kind, and a function rendering it for either.
macro_rules! statement {
    ($(#[$doc:meta])* $fn_name:ident, $pg:literal, $lite:literal { $($field:ident : $ty:ty),* $(,)? }) => {
        #[allow(non_snake_case)]
        mod $fn_name {
            use super::*;
            #[derive(Template)]
            #[template(path = $pg, escape = "none")]
            pub(super) struct Postgres { $(pub(super) $field: $ty,)* }
            #[derive(Template)]
            #[template(path = $lite, escape = "none")]
            pub(super) struct Sqlite { $(pub(super) $field: $ty,)* }
        }
        $(#[$doc])*
        fn $fn_name(dialect: Dialect, $($field: $ty),*) -> String {
            let rendered = match dialect {
                Dialect::Postgres => $fn_name::Postgres { $($field,)* }.render(),
                Dialect::Sqlite => $fn_name::Sqlite { $($field,)* }.render(),
            };
            // The templates only print fields; rendering cannot fail.
            rendered.expect("SQL template renders")
        }
    };
}

/// Declares a template struct for a statement only one dialect has.
macro_rules! dialect_statement {
    ($(#[$doc:meta])* $fn_name:ident, $path:literal { $($field:ident : $ty:ty),* $(,)? }) => {
        #[allow(non_snake_case)]
        mod $fn_name {
            use super::*;
            #[derive(Template)]
            #[template(path = $path, escape = "none")]
            pub(super) struct Only { $(pub(super) $field: $ty,)* }
        }
        $(#[$doc])*
        #[allow(clippy::too_many_arguments)]
        fn $fn_name($($field: $ty),*) -> String {
            $fn_name::Only { $($field,)* }.render().expect("SQL template renders")
        }
    };
}

statement!(create_table_sql, "postgres/create_table.sql", "sqlite/create_table.sql" {
    table: Ident, columns: Vec<ColumnDef>, pk_name: Ident, pk_columns: Vec<Ident>, if_missing: bool,
});
statement!(create_index_sql, "postgres/create_index.sql", "sqlite/create_index.sql" {
    name: Ident, table: Ident, unique: bool, columns: Vec<Ident>, only_positive: Option<Ident>, if_missing: bool,
});
statement!(drop_index_sql, "postgres/drop_index.sql", "sqlite/drop_index.sql" { name: Ident });
statement!(drop_table_sql, "postgres/drop_table.sql", "sqlite/drop_table.sql" { table: Ident });
statement!(rename_table_sql, "postgres/rename_table.sql", "sqlite/rename_table.sql" { from: Ident, to: Ident });
statement!(rename_column_sql, "postgres/rename_column.sql", "sqlite/rename_column.sql" { table: Ident, from: Ident, to: Ident });
statement!(drop_column_sql, "postgres/drop_column.sql", "sqlite/drop_column.sql" { table: Ident, column: Ident });
statement!(add_column_sql, "postgres/add_column.sql", "sqlite/add_column.sql" { table: Ident, c: ColumnDef });

dialect_statement!(pg_rename_index_sql, "postgres/rename_index.sql" { from: Ident, to: Ident });
dialect_statement!(pg_rename_primary_key_sql, "postgres/rename_primary_key.sql" {
    table: Ident, from: Ident, to: Ident,
});
dialect_statement!(pg_drop_primary_key_sql, "postgres/drop_primary_key.sql" {
    table: Ident, name: Ident,
});
dialect_statement!(pg_add_primary_key_sql, "postgres/add_primary_key.sql" {
    table: Ident, name: Ident, columns: Vec<Ident>,
});
dialect_statement!(pg_alter_column_sql, "postgres/alter_column.sql" {
    table: Ident,
    column: Ident,
    drop_default: bool,
    new_type: Option<String>,
    set_default: Option<String>,
    set_not_null: Option<Option<String>>,
    drop_not_null: bool,
});
dialect_statement!(sqlite_rebuild_table_sql, "sqlite/rebuild_table.sql" {
    table: Ident,
    columns: Vec<ColumnDef>,
    pk_name: Ident,
    pk_columns: Vec<Ident>,
    copy_columns: Vec<Ident>,
    copy_values: Vec<CopyValue>,
    old_table: Ident,
    final_table: Ident,
    if_missing: bool,
});

fn idents(names: Vec<String>) -> Vec<Ident> {
    names.into_iter().map(Ident).collect()
}

/// `CREATE TABLE` with its primary key, then a `CREATE INDEX` per index.
pub fn create_table(table: &Table, dialect: Dialect) -> String {
    create(table, dialect, false)
}

/// [`create_table`] with `IF NOT EXISTS` on the table and its indexes: for a table that several entities share
/// (the subject key table), created by whichever of their `CREATE_TABLE_*` constants runs first.
pub fn create_table_if_missing(table: &Table, dialect: Dialect) -> String {
    create(table, dialect, true)
}

fn create(table: &Table, dialect: Dialect, if_missing: bool) -> String {
    let mut out = line(create_table_sql(
        dialect,
        ident(&table.name),
        table.columns.iter().map(ColumnDef::from).collect(),
        ident(&table.primary_key.name),
        idents(table.column_names(&table.primary_key)),
        if_missing,
    ));
    for index in &table.indexes {
        out.push_str(&index_sql(table, index, dialect, if_missing));
    }
    out
}

/// The whole CREATE script of a set of tables (what `capgen migrate sql` prints).
pub fn create_script(tables: &[Table], dialect: Dialect) -> String {
    let mut out = String::new();
    for (i, table) in tables.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&create_table(table, dialect));
    }
    out
}

/// `CREATE [UNIQUE] INDEX`, with its `WHERE` when partial.
pub fn create_index(table: &Table, index: &Index, dialect: Dialect) -> String {
    index_sql(table, index, dialect, false)
}

fn index_sql(table: &Table, index: &Index, dialect: Dialect, if_missing: bool) -> String {
    line(create_index_sql(
        dialect,
        ident(&index.name),
        ident(&table.name),
        index.unique,
        idents(table.column_names(index)),
        index
            .only_positive
            .as_ref()
            .and_then(|key| table.column(key))
            .map(|c| ident(&c.name)),
        if_missing,
    ))
}

/// `DROP INDEX`.
pub fn drop_index(index: &Index, dialect: Dialect) -> String {
    line(drop_index_sql(dialect, ident(&index.name)))
}

/// `DROP TABLE`.
pub fn drop_table(table: &str, dialect: Dialect) -> String {
    line(drop_table_sql(dialect, ident(table)))
}

/// `ALTER TABLE … RENAME TO`.
pub fn rename_table(from: &str, to: &str, dialect: Dialect) -> String {
    line(rename_table_sql(dialect, ident(from), ident(to)))
}

/// `ALTER TABLE … RENAME COLUMN`.
pub fn rename_column(table: &str, from: &str, to: &str, dialect: Dialect) -> String {
    line(rename_column_sql(
        dialect,
        ident(table),
        ident(from),
        ident(to),
    ))
}

/// `ALTER TABLE … DROP COLUMN`.
pub fn drop_column(table: &str, column: &str, dialect: Dialect) -> String {
    line(drop_column_sql(dialect, ident(table), ident(column)))
}

/// `ALTER TABLE … ADD COLUMN`.
pub fn add_column(table: &str, column: &Column, dialect: Dialect) -> String {
    line(add_column_sql(dialect, ident(table), column.into()))
}

/// Postgres: `ALTER INDEX … RENAME TO`.
pub fn pg_rename_index(from: &str, to: &str) -> String {
    line(pg_rename_index_sql(ident(from), ident(to)))
}

/// Postgres: renames the primary key constraint (and its index).
pub fn pg_rename_primary_key(table: &str, from: &str, to: &str) -> String {
    line(pg_rename_primary_key_sql(
        ident(table),
        ident(from),
        ident(to),
    ))
}

/// Postgres: drops the primary key constraint (before its columns may be dropped).
pub fn pg_drop_primary_key(table: &str, name: &str) -> String {
    line(pg_drop_primary_key_sql(ident(table), ident(name)))
}

/// Postgres: adds the table's primary key constraint (after its columns exist).
pub fn pg_add_primary_key(table: &Table) -> String {
    line(pg_add_primary_key_sql(
        ident(&table.name),
        ident(&table.primary_key.name),
        idents(table.column_names(&table.primary_key)),
    ))
}

/// Postgres: changes a column's type (with a `USING` cast), default and nullability, in a safe order.
/// Setting NOT NULL on a column with a default first fills its NULLs with that default.
pub fn pg_alter_column(table: &str, old: &Column, new: &Column) -> String {
    let type_changed = old.sql_type != new.sql_type;
    let default_changed = old.default != new.default;
    let sql = pg_alter_column_sql(
        ident(table),
        ident(&new.name),
        old.default.is_some() && (default_changed || type_changed),
        type_changed.then(|| new.sql_type.clone()),
        new.default
            .clone()
            .filter(|_| default_changed || type_changed),
        (old.nullable && !new.nullable).then(|| new.default.clone()),
        !old.nullable && new.nullable,
    );
    line(sql.trim_start().to_string())
}

/// SQLite: rebuilds `old` into `new` (the documented twelve-step procedure without foreign keys, which
/// Capacitor does not create): a new table, the rows copied (`copy` pairs a new column with the SQL value
/// read from the old row), the old table dropped, the new one renamed; the caller recreates the indexes.
pub fn sqlite_rebuild_table(old_name: &str, new: &Table, copy: Vec<(String, CopyValue)>) -> String {
    let temp = format!("_capacitor_new_{}", new.name);
    let (copy_columns, copy_values): (Vec<_>, Vec<_>) = copy.into_iter().unzip();
    line(sqlite_rebuild_table_sql(
        ident(&temp),
        new.columns.iter().map(ColumnDef::from).collect(),
        ident(&new.primary_key.name),
        idents(new.column_names(&new.primary_key)),
        idents(copy_columns),
        copy_values,
        ident(old_name),
        ident(&new.name),
        // The rebuilt table's `CREATE TABLE` (the included template) always creates it.
        false,
    ))
}

/// A value a rebuild's `SELECT` reads from the old row: a column, with the literal that replaces its NULLs
/// when the new column is NOT NULL.
#[derive(Debug, Clone)]
pub struct CopyValue {
    pub column: Ident,
    pub fill: Option<String>,
}

impl CopyValue {
    /// Reads `old_column`, replacing NULL with `fill` when given.
    pub fn new(old_column: &str, fill: Option<String>) -> CopyValue {
        CopyValue {
            column: ident(old_column),
            fill,
        }
    }
}

/// Ends a rendered statement with exactly one newline.
fn line(mut sql: String) -> String {
    let trimmed = sql.trim_end().len();
    sql.truncate(trimmed);
    sql.push('\n');
    sql
}
