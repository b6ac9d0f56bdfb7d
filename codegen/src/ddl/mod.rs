//! The relational model of a schema: the tables, columns, keys and indexes each dialect stores entities in,
//! and their rendering to SQL through the askama templates in `templates/`.
//!
//! The model is computed from the IR once per dialect ([`tables`]); the DDL renderer ([`render`]) and the
//! migration lockfile ([`crate::migrate`]) both read it. A column's name, type, nullability and default are
//! decided by `capacitor_schema::columns`, which the runtime's statements call too; the runtime's value codec
//! (`capacitor::codec`) reads and writes the same representations; the README's mapping table documents both.
//!
//! Every column carries a stable [`ColumnKey`] derived from the proto field *number*, so a renamed field is a
//! renamed column, never a drop and an add.

pub mod constants;
pub mod render;

use crate::ir::{EntityOptions, IndexKind, Message, Schema};
use serde::{Deserialize, Serialize};

// The column layout (a field's columns, their types and keys) is shared with the runtime's statements.
pub use capacitor_schema::columns::{
    Column, ColumnKey, ColumnType, Dialect, NANOS_SUFFIX, VERSION_COLUMN, column_types,
};

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

/// A primary key, unique or secondary index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    pub name: String,
    pub unique: bool,
    /// Columns by key, in index order.
    pub columns: Vec<ColumnKey>,
    /// A partial index: only the rows whose column is above zero (`WHERE "<column>" > 0`). SQLite's outbox
    /// indexes only published rows this way, so the row a write adds touches no index. Left out of the
    /// lockfile when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_positive: Option<ColumnKey>,
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

/// The tables of every entity stored by `dialect`, in declaration order, each followed by its outbox table
/// when it has one.
///
/// When an entity stored by `dialect` names a `subject` (crypto-shredding), the subject keys table
/// ([`subject_keys_table`]) follows, once.
pub fn tables(schema: &Schema, dialect: Dialect) -> Vec<Table> {
    let stored = || {
        schema
            .entities()
            .filter(|(_, entity)| entity.backend() == dialect.backend())
    };
    let mut tables: Vec<Table> = stored()
        .flat_map(|(message, entity)| entity_tables(message, entity, dialect))
        .collect();
    if stored().any(|(_, entity)| entity.subject.is_some()) {
        tables.push(subject_keys_table(dialect));
    }
    tables
}

/// The identity ([`Table::message`]) of the subject keys table: no message's full name contains `#`.
pub const SUBJECT_KEYS_IDENTITY: &str = "capacitor#subject_keys";

/// The table of per-subject data keys for crypto-shredding (`capacitor_schema::columns::SUBJECT_KEYS_TABLE`,
/// columns from `subject_keys_columns`): keyed by the key id every ciphertext names, with a unique index on the
/// subject token, which makes creating a subject's first key race-safe (`INSERT … ON CONFLICT DO NOTHING`,
/// then read the winner). One per database, shared by every entity with a subject stored there.
pub fn subject_keys_table(dialect: Dialect) -> Table {
    let name = capacitor_schema::columns::SUBJECT_KEYS_TABLE.to_string();
    let key = |role: &str| ColumnKey::SubjectKey(role.to_string());
    Table {
        message: SUBJECT_KEYS_IDENTITY.to_string(),
        columns: capacitor_schema::columns::subject_keys_columns(dialect),
        primary_key: Index {
            name: format!("{name}_pkey"),
            unique: true,
            columns: vec![key("key_id")],
            only_positive: None,
        },
        indexes: vec![Index {
            name: format!("{name}_subject_token_key"),
            unique: true,
            columns: vec![key("subject_token")],
            only_positive: None,
        }],
        name,
    }
}

/// One entity's tables: its own and, with the `outbox` option, its outbox table.
pub fn entity_tables(message: &Message, entity: &EntityOptions, dialect: Dialect) -> Vec<Table> {
    let name = entity.table_name(message);
    if entity.event_sourced.is_some() {
        return stream_tables(message, &name, dialect);
    }
    let indexes = message.resolved_indexes(entity);
    let mut tables = vec![table(message, &name, &indexes, dialect)];
    if entity.outbox.is_some() {
        tables.push(outbox_table(message, &name, &indexes, dialect));
    }
    tables
}

/// The identity suffixes of an event-sourced entity's tables: their [`Table::message`] is the entity's full
/// name followed by one.
pub const EVENTS_IDENTITY_SUFFIX: &str = "#events";
/// See [`EVENTS_IDENTITY_SUFFIX`].
pub const SNAPSHOTS_IDENTITY_SUFFIX: &str = "#snapshots";

/// The events and snapshots tables of an event-sourced entity mapped to `entity_table` (it has no row table):
/// both keyed by `(stream_id, version)`, the events table with a unique index on its global position.
pub fn stream_tables(message: &Message, entity_table: &str, dialect: Dialect) -> Vec<Table> {
    let key = |role: &str| ColumnKey::Stream(role.to_string());
    let events = capacitor_schema::columns::events_table(entity_table);
    let snapshots = capacitor_schema::columns::snapshots_table(entity_table);
    vec![
        Table {
            message: format!("{}{EVENTS_IDENTITY_SUFFIX}", message.full_name),
            columns: capacitor_schema::columns::events_columns(dialect),
            primary_key: Index {
                name: format!("{events}_pkey"),
                unique: true,
                columns: vec![key("stream_id"), key("version")],
                only_positive: None,
            },
            indexes: vec![Index {
                name: format!("{events}_position_key"),
                unique: true,
                columns: vec![key("position")],
                only_positive: None,
            }],
            name: events,
        },
        Table {
            message: format!("{}{SNAPSHOTS_IDENTITY_SUFFIX}", message.full_name),
            columns: capacitor_schema::columns::snapshots_columns(dialect),
            primary_key: Index {
                name: format!("{snapshots}_pkey"),
                unique: true,
                columns: vec![key("stream_id"), key("version")],
                only_positive: None,
            },
            indexes: Vec::new(),
            name: snapshots,
        },
    ]
}

/// The field numbers of the primary key among `indexes`, in key order.
fn key_fields(indexes: &[crate::ir::ResolvedIndex]) -> Vec<u32> {
    indexes
        .iter()
        .filter(|i| i.kind == IndexKind::Primary)
        .flat_map(|i| i.fields.iter().copied())
        .collect()
}

/// The identity suffix of an outbox table: its [`Table::message`] is the entity's full name followed by it.
pub const OUTBOX_IDENTITY_SUFFIX: &str = "#outbox";

/// The outbox table of the entity stored in `entity_table` (see `capacitor_schema::columns::outbox_columns`):
/// keyed by its sequence, with one index serving the relay and the pruning of published rows. On Postgres it
/// holds every row (`_published_at`, `_seq`): the relay finds unpublished rows through it. On SQLite only the
/// published rows (a partial index), so the row each write adds touches no index: SQLite commits positions in
/// order, so every row before the last published one is published, and the relay starts there (see the
/// runtime's outbox statements).
pub fn outbox_table(
    message: &Message,
    entity_table: &str,
    indexes: &[crate::ir::ResolvedIndex],
    dialect: Dialect,
) -> Table {
    let key_fields = key_fields(indexes);
    let name = capacitor_schema::columns::outbox_table(entity_table);
    let meta = |role: &str| ColumnKey::Outbox(role.to_string());
    Table {
        message: format!("{}{OUTBOX_IDENTITY_SUFFIX}", message.full_name),
        columns: capacitor_schema::columns::outbox_columns(&message.fields, &key_fields, dialect),
        primary_key: Index {
            name: format!("{name}_pkey"),
            unique: true,
            columns: vec![meta("seq")],
            only_positive: None,
        },
        indexes: vec![match dialect {
            Dialect::Postgres => Index {
                name: format!("{name}_unpublished_idx"),
                unique: false,
                columns: vec![meta("published_at"), meta("seq")],
                only_positive: None,
            },
            Dialect::Sqlite => Index {
                name: format!("{name}_published_idx"),
                unique: false,
                columns: vec![meta("published_at"), meta("seq")],
                only_positive: Some(meta("published_at")),
            },
        }],
        name,
    }
}

/// The table of one entity.
pub fn table(
    message: &Message,
    name: &str,
    indexes: &[crate::ir::ResolvedIndex],
    dialect: Dialect,
) -> Table {
    let key_fields = key_fields(indexes);
    let encrypted = |n: u32| {
        message
            .fields
            .iter()
            .any(|f| f.number == n && capacitor_schema::columns::StoredField::encrypted(f))
    };
    // An index on an encrypted field is on its blind index column (ciphertext is not comparable), whose width
    // depends on whether one of the field's indexes is unique.
    let mut blind: Vec<(u32, bool)> = Vec::new();
    for index in indexes.iter().filter(|i| i.kind != IndexKind::Primary) {
        for n in index.fields.iter().copied().filter(|n| encrypted(*n)) {
            let unique = index.kind == IndexKind::Unique;
            match blind.iter_mut().find(|(m, _)| *m == n) {
                Some((_, u)) => *u |= unique,
                None => blind.push((n, unique)),
            }
        }
    }
    let mut columns = capacitor_schema::columns::row_columns(&message.fields, &key_fields, dialect);
    columns.extend(capacitor_schema::columns::blind_index_columns(
        &message.fields,
        &blind,
        dialect,
    ));
    columns.push(capacitor_schema::columns::version_column());
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
                let value = match blind.iter().any(|(m, _)| m == n) {
                    true => ColumnKey::BlindIndex(*n),
                    false => ColumnKey::Field(*n),
                };
                std::iter::once(value).chain(nanos)
            })
            .collect(),
        only_positive: None,
    };
    let primary_key = indexes
        .iter()
        .find(|i| i.kind == IndexKind::Primary)
        .map(to_index)
        .unwrap_or_else(|| Index {
            name: format!("{name}_pkey"),
            unique: true,
            columns: Vec::new(),
            only_positive: None,
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
