//! The relational model of a schema: the tables, columns, keys and indexes each dialect stores entities in,
//! and their rendering to SQL through the askama templates in `templates/`.
//!
//! The model is computed from the IR once per dialect ([`tables`]); the DDL renderer ([`render`]) and the
//! migration lockfile ([`crate::migrate`]) both read it, so a column's name, type, nullability and default are
//! decided here and nowhere else. The runtime's value codec (`capacitor::sql`) reads and writes the same
//! representations; the README's mapping table documents both.
//!
//! Every column carries a stable [`ColumnKey`] derived from the proto field *number*, so a renamed field is a
//! renamed column, never a drop and an add.

pub mod constants;
mod mapping;
pub mod render;

use crate::ir::{Backend, IndexKind, Message, Schema};
use serde::{Deserialize, Serialize};
use std::fmt;

pub use mapping::column_types;

/// A SQL dialect Capacitor renders DDL for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    Postgres,
    Sqlite,
}

impl Dialect {
    /// Both dialects, in the order their folders are written.
    pub const ALL: [Dialect; 2] = [Dialect::Postgres, Dialect::Sqlite];

    /// The dialect's name, which is also its migrations folder (`postgres`, `sqlite`).
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::Sqlite => "sqlite",
        }
    }

    /// The dialect whose name this is.
    pub fn from_name(name: &str) -> Option<Dialect> {
        Dialect::ALL.into_iter().find(|d| d.name() == name)
    }

    /// The backend whose entities this dialect stores.
    pub fn backend(self) -> Backend {
        match self {
            Dialect::Postgres => Backend::Postgres,
            Dialect::Sqlite => Backend::Sqlite,
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A column's stable identity: what it stores, by proto field number, never by name.
///
/// Written into the lockfile as text: `7` (field 7), `7/nanos` (the nanoseconds companion of Timestamp field 7
/// on Postgres), `oneof/contact` (a oneof's JSON column, by oneof name) and `_version`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum ColumnKey {
    /// The value of field `number`.
    Field(u32),
    /// The nanoseconds companion column of Timestamp field `number` (Postgres).
    Nanos(u32),
    /// The JSON column of a oneof, by oneof name.
    Oneof(String),
    /// The row version column used for optimistic concurrency.
    Version,
}

impl fmt::Display for ColumnKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnKey::Field(n) => write!(f, "{n}"),
            ColumnKey::Nanos(n) => write!(f, "{n}/nanos"),
            ColumnKey::Oneof(name) => write!(f, "oneof/{name}"),
            ColumnKey::Version => f.write_str(VERSION_COLUMN),
        }
    }
}

impl From<ColumnKey> for String {
    fn from(key: ColumnKey) -> String {
        key.to_string()
    }
}

impl TryFrom<String> for ColumnKey {
    type Error = String;
    fn try_from(text: String) -> Result<ColumnKey, String> {
        let bad =
            || format!("`{text}` is not a column key (`7`, `7/nanos`, `oneof/<name>`, `_version`)");
        if text == VERSION_COLUMN {
            return Ok(ColumnKey::Version);
        }
        if let Some(name) = text.strip_prefix("oneof/") {
            return Ok(ColumnKey::Oneof(name.to_string()));
        }
        if let Some(number) = text.strip_suffix("/nanos") {
            return number.parse().map(ColumnKey::Nanos).map_err(|_| bad());
        }
        text.parse().map(ColumnKey::Field).map_err(|_| bad())
    }
}

impl ColumnKey {
    /// The field number this column stores, if it stores one field.
    pub fn field_number(&self) -> Option<u32> {
        match self {
            ColumnKey::Field(n) | ColumnKey::Nanos(n) => Some(*n),
            _ => None,
        }
    }
}

/// The row version column every entity table has (`BIGINT NOT NULL`).
pub const VERSION_COLUMN: &str = "_version";

/// Suffix of a Timestamp's nanoseconds companion column on Postgres (`created_at_nanos`).
pub const NANOS_SUFFIX: &str = "_nanos";

/// One entity's table in one dialect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// The table's stable identity: the message's fully qualified name.
    pub message: String,
    /// The table name.
    pub name: String,
    /// Columns in declaration order (`_version` last).
    pub columns: Vec<Column>,
    /// The primary key constraint.
    pub primary_key: Index,
    /// Unique and secondary indexes, in declaration order.
    pub indexes: Vec<Index>,
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub key: ColumnKey,
    pub name: String,
    /// The SQL type as the dialect spells it (`BIGINT`, `NUMERIC(20,0)`, `TEXT[]`).
    #[serde(rename = "type")]
    pub sql_type: String,
    pub nullable: bool,
    /// A SQL literal (`0`, `''`, `'{}'`), for proto3 implicit presence and collections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// The proto field name (or oneof name) it stores, for messages (not part of the column's identity).
    pub field: String,
}

/// A primary key, unique or secondary index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    pub name: String,
    pub unique: bool,
    /// Columns by key, in index order.
    pub columns: Vec<ColumnKey>,
}

impl Table {
    /// A column by key.
    pub fn column(&self, key: &ColumnKey) -> Option<&Column> {
        self.columns.iter().find(|c| &c.key == key)
    }

    /// The names of an index's columns, in index order.
    pub fn column_names(&self, index: &Index) -> Vec<String> {
        index
            .columns
            .iter()
            .filter_map(|k| self.column(k))
            .map(|c| c.name.clone())
            .collect()
    }
}

/// The tables of every entity stored by `dialect`, in declaration order.
pub fn tables(schema: &Schema, dialect: Dialect) -> Vec<Table> {
    schema
        .entities()
        .filter(|(_, entity)| entity.backend() == dialect.backend())
        .map(|(message, entity)| {
            table(
                message,
                &entity.table_name(message),
                &message.resolved_indexes(entity),
                dialect,
            )
        })
        .collect()
}

/// The table of one entity.
pub fn table(
    message: &Message,
    name: &str,
    indexes: &[crate::ir::ResolvedIndex],
    dialect: Dialect,
) -> Table {
    let key_fields: Vec<u32> = indexes
        .iter()
        .filter(|i| i.kind == IndexKind::Primary)
        .flat_map(|i| i.fields.iter().copied())
        .collect();
    let mut columns = Vec::new();
    let mut oneofs_seen = Vec::new();
    for field in &message.fields {
        if field.options.ignore {
            continue;
        }
        if let Some(oneof) = &field.oneof {
            if !oneofs_seen.contains(oneof) {
                oneofs_seen.push(oneof.clone());
                columns.push(mapping::oneof_column(oneof, dialect));
            }
            continue;
        }
        columns.extend(mapping::field_columns(
            field,
            key_fields.contains(&field.number),
            dialect,
        ));
    }
    columns.push(mapping::version_column(dialect));
    // A Timestamp key or index on Postgres covers its nanoseconds column too, so two instants in the same
    // microsecond stay distinct.
    let has_nanos = |n: u32| {
        columns
            .iter()
            .any(|c: &Column| c.key == ColumnKey::Nanos(n))
    };
    let to_index = |i: &crate::ir::ResolvedIndex| Index {
        name: i.name.clone(),
        unique: i.kind != IndexKind::Secondary,
        columns: i
            .fields
            .iter()
            .flat_map(|n| {
                let nanos = has_nanos(*n).then_some(ColumnKey::Nanos(*n));
                std::iter::once(ColumnKey::Field(*n)).chain(nanos)
            })
            .collect(),
    };
    let primary_key = indexes
        .iter()
        .find(|i| i.kind == IndexKind::Primary)
        .map(to_index)
        .unwrap_or_else(|| Index {
            name: format!("{name}_pkey"),
            unique: true,
            columns: Vec::new(),
        });
    let indexes = indexes
        .iter()
        .filter(|i| i.kind != IndexKind::Primary)
        .map(to_index)
        .collect();
    Table {
        message: message.full_name.clone(),
        name: name.to_string(),
        columns,
        primary_key,
        indexes,
    }
}
