//! The column layout: which columns a field is stored in, per SQL dialect, and in which order a row lists them.
//!
//! [`field_columns`] is the one place that decides a field's columns — their names, SQL types, nullability and
//! defaults, and the `_nanos` companion of a single Timestamp on Postgres. The code generator's DDL and
//! migration lockfile, and the runtime's statements, all call it (through [`row_columns`] for a whole row), so
//! the tables capgen creates and the statements the runtime runs cannot drift apart. The runtime's value codec
//! (`capacitor::codec`) reads and writes exactly these representations.
//!
//! Every [`Column`] carries a [`ColumnKey`]: its role in the row (a field's value, a Timestamp's nanoseconds,
//! a oneof's JSON, the row version) and its stable identity, by proto field number, so a renamed field is a
//! renamed column, never a drop and an add. A column of another role (an encrypted field's ciphertext, a blind
//! index) is a new `ColumnKey` variant, not a naming convention.

use crate::field_type::{FieldType, Label, Scalar, WellKnown};
use crate::options::Backend;
use std::fmt;

/// A SQL dialect Capacitor stores entities in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum Dialect {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
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

/// The row version column every entity table has (`BIGINT NOT NULL`).
pub const VERSION_COLUMN: &str = "_version";

/// Suffix of a Timestamp's nanoseconds companion column on Postgres (`created_at_nanos`).
pub const NANOS_SUFFIX: &str = "_nanos";

/// Suffix of the blind index column of an encrypted, indexed field (`email_bidx`).
pub const BLIND_INDEX_SUFFIX: &str = "_bidx";

/// How many bits the blind index of an encrypted field keeps by default when the field has only secondary
/// indexes: the lookup matches about one row in 2^16 besides the wanted ones (dropped after decryption), and
/// each token is shared by about one value in 2^16 (see `docs/pii.md`). A field sets its own width with the
/// `blind_index_bits` option; a field with a unique index keeps all 256 bits.
pub const SECONDARY_BLIND_INDEX_BITS: u16 = 16;

/// The widest blind index token, in bits: the whole HMAC-SHA256 (what a unique index keeps).
pub const FULL_BLIND_INDEX_BITS: u16 = 256;

/// How many bits the blind index of the encrypted `field` keeps: all of them ([`FULL_BLIND_INDEX_BITS`]) when a
/// unique index is on it (no false collisions, so the database enforces uniqueness), else the field's
/// configured width ([`StoredField::blind_index_bits`]) or [`SECONDARY_BLIND_INDEX_BITS`].
///
/// ```
/// # use capacitor_schema::columns::{blind_index_width, FULL_BLIND_INDEX_BITS, SECONDARY_BLIND_INDEX_BITS};
/// # struct F(Option<u16>);
/// # impl capacitor_schema::StoredField for F {
/// #     type TypeName = String;
/// #     fn number(&self) -> u32 { 1 }
/// #     fn name(&self) -> &str { "email" }
/// #     fn stored_in(&self) -> Option<&str> { Some("email") }
/// #     fn oneof(&self) -> Option<&str> { None }
/// #     fn field_type(&self) -> &capacitor_schema::FieldType<String> { unimplemented!() }
/// #     fn label(&self) -> capacitor_schema::Label { capacitor_schema::Label::Implicit }
/// #     fn encrypted(&self) -> bool { true }
/// #     fn blind_index_bits(&self) -> Option<u16> { self.0 }
/// # }
/// assert_eq!(blind_index_width(&F(None), false), SECONDARY_BLIND_INDEX_BITS);
/// assert_eq!(blind_index_width(&F(Some(24)), false), 24);
/// assert_eq!(blind_index_width(&F(Some(24)), true), FULL_BLIND_INDEX_BITS);
/// ```
pub fn blind_index_width<F: StoredField + ?Sized>(field: &F, unique: bool) -> u16 {
    if unique {
        FULL_BLIND_INDEX_BITS
    } else {
        field
            .blind_index_bits()
            .unwrap_or(SECONDARY_BLIND_INDEX_BITS)
    }
}

/// A column's role in the row and its stable identity: what it stores, by proto field number, never by name.
///
/// Written into the migration lockfile as text: `7` (field 7), `7/nanos` (the nanoseconds companion of
/// Timestamp field 7 on Postgres), `7/blind` (the blind index of encrypted field 7), `oneof/contact` (a oneof's
/// JSON column, by oneof name) and `_version`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(into = "String", try_from = "String")
)]
pub enum ColumnKey {
    /// The value of field `number`.
    Field(u32),
    /// The nanoseconds companion column of Timestamp field `number` (Postgres).
    Nanos(u32),
    /// The blind index (keyed HMAC tokens) of encrypted field `number`, which its unique or secondary index is
    /// on: ciphertext is not comparable.
    BlindIndex(u32),
    /// The JSON column of a oneof, by oneof name.
    Oneof(String),
    /// The row version column used for optimistic concurrency.
    Version,
    /// A bookkeeping column of an entity's outbox table, by role: `seq`, `op`, `payload`, `recorded_at`,
    /// `published_at` ([`outbox_columns`]).
    Outbox(String),
    /// A column of an event-sourced entity's events or snapshots table, by role: `stream_id`, `version`,
    /// `position`, `event_type`, `payload`, `metadata`, `state`, `recorded_at` ([`events_columns`],
    /// [`snapshots_columns`]).
    Stream(String),
    /// A column of the crypto-shredding table [`SUBJECT_KEYS_TABLE`], by role: `key_id`, `subject_token`,
    /// `wrapped_key`, `created_at` ([`subject_keys_columns`]).
    SubjectKey(String),
}

impl fmt::Display for ColumnKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnKey::Field(n) => write!(f, "{n}"),
            ColumnKey::Nanos(n) => write!(f, "{n}/nanos"),
            ColumnKey::BlindIndex(n) => write!(f, "{n}/blind"),
            ColumnKey::Oneof(name) => write!(f, "oneof/{name}"),
            ColumnKey::Version => f.write_str(VERSION_COLUMN),
            ColumnKey::Outbox(role) => write!(f, "outbox/{role}"),
            ColumnKey::Stream(role) => write!(f, "stream/{role}"),
            ColumnKey::SubjectKey(role) => write!(f, "subject_key/{role}"),
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
        let bad = || {
            format!(
                "`{text}` is not a column key (`7`, `7/nanos`, `7/blind`, `oneof/<name>`, `_version`, \
                 `outbox/<role>`, `stream/<role>`)"
            )
        };
        if text == VERSION_COLUMN {
            return Ok(ColumnKey::Version);
        }
        if let Some(name) = text.strip_prefix("oneof/") {
            return Ok(ColumnKey::Oneof(name.to_string()));
        }
        if let Some(role) = text.strip_prefix("outbox/") {
            return Ok(ColumnKey::Outbox(role.to_string()));
        }
        if let Some(role) = text.strip_prefix("stream/") {
            return Ok(ColumnKey::Stream(role.to_string()));
        }
        if let Some(role) = text.strip_prefix("subject_key/") {
            return Ok(ColumnKey::SubjectKey(role.to_string()));
        }
        if let Some(number) = text.strip_suffix("/nanos") {
            return number.parse().map(ColumnKey::Nanos).map_err(|_| bad());
        }
        if let Some(number) = text.strip_suffix("/blind") {
            return number.parse().map(ColumnKey::BlindIndex).map_err(|_| bad());
        }
        text.parse().map(ColumnKey::Field).map_err(|_| bad())
    }
}

impl ColumnKey {
    /// The field number this column stores, if it stores one field.
    pub fn field_number(&self) -> Option<u32> {
        match self {
            ColumnKey::Field(n) | ColumnKey::Nanos(n) | ColumnKey::BlindIndex(n) => Some(*n),
            _ => None,
        }
    }
}

/// One column of an entity's table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Column {
    /// Its role and stable identity.
    pub key: ColumnKey,
    /// The column name.
    pub name: String,
    /// The SQL type as the dialect spells it (`BIGINT`, `NUMERIC(20,0)`, `TEXT[]`).
    #[cfg_attr(feature = "serde", serde(rename = "type"))]
    pub sql_type: String,
    /// Whether the column may be NULL.
    pub nullable: bool,
    /// A SQL literal (`0`, `''`, `'{}'`), for proto3 implicit presence and collections.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub default: Option<String>,
    /// The proto field name (or oneof name) it stores, for messages (not part of the column's identity).
    pub field: String,
    /// Whether it holds ciphertext (an `encrypt` field's value). Recorded in the migration lockfile (only when
    /// true), so switching `encrypt` on or off for a stored field is seen even when the SQL type stays `BYTEA`.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "std::ops::Not::not")
    )]
    pub encrypted: bool,
    /// For a blind index column, how many bits its tokens keep ([`blind_index_width`]); 0 for every other
    /// column. Recorded in the migration lockfile (only when not 0), so a width change, which makes the stored
    /// tokens unmatchable until they are rebuilt, is seen although the SQL type stays `BYTEA`. Lockfiles written
    /// before the width was recorded read as 0.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "is_zero"))]
    pub blind_bits: u16,
    /// Whether it holds a claim-checked field's stored form: the value followed by a 0 byte when it is at most
    /// the threshold, a blob reference followed by a 1 byte above it (`docs/claim-check.md`). Recorded in the
    /// migration lockfile (only when true), so switching `claim_check` on or off for a stored field is seen.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "std::ops::Not::not")
    )]
    pub claim_checked: bool,
}

#[cfg(feature = "serde")]
fn is_zero(bits: &u16) -> bool {
    *bits == 0
}

/// What the column layout reads from a field: implemented by the code generator's IR field and by the runtime's
/// static `FieldSchema`, so both get their columns from [`field_columns`].
pub trait StoredField {
    /// How the field's type names enums and messages (see [`FieldType`]).
    type TypeName;
    /// The proto field number.
    fn number(&self) -> u32;
    /// The proto field name.
    fn name(&self) -> &str;
    /// The column holding the field's value: its own, its oneof's for a oneof member, `None` when it is not
    /// stored (`ignore`d).
    fn stored_in(&self) -> Option<&str>;
    /// The oneof the field is a member of, by proto name.
    fn oneof(&self) -> Option<&str>;
    /// The type of the field's value.
    fn field_type(&self) -> &FieldType<Self::TypeName>;
    /// The field's label.
    fn label(&self) -> Label;
    /// Whether the field is stored encrypted.
    fn encrypted(&self) -> bool;
    /// The width its blind index keeps when only secondary indexes are on it (`blind_index_bits`), `None` for
    /// the default ([`blind_index_width`] decides).
    fn blind_index_bits(&self) -> Option<u16>;
    /// For a claim-checked field (`claim_check`), the size in bytes above which its value is stored in a blob
    /// store and its column holds a reference ([`claim_checked`](Column::claim_checked)); `None` otherwise.
    fn claim_check_threshold(&self) -> Option<u64> {
        None
    }
}

/// A column type with the literal a NOT NULL column of proto3 implicit presence defaults to (its zero value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnType {
    /// The SQL type as the dialect spells it.
    pub sql: &'static str,
    /// The zero value's SQL literal.
    pub zero: &'static str,
}

const fn ty(sql: &'static str, zero: &'static str) -> ColumnType {
    ColumnType { sql, zero }
}

/// The column type of a scalar.
fn scalar(s: Scalar, dialect: Dialect) -> ColumnType {
    use Scalar::*;
    match dialect {
        Dialect::Postgres => match s {
            Double => ty("DOUBLE PRECISION", "0"),
            Float => ty("REAL", "0"),
            Int32 | Sint32 | Sfixed32 => ty("INTEGER", "0"),
            Int64 | Sint64 | Sfixed64 | Uint32 | Fixed32 => ty("BIGINT", "0"),
            Uint64 | Fixed64 => ty("NUMERIC(20,0)", "0"),
            Bool => ty("BOOLEAN", "false"),
            String => ty("TEXT", "''"),
            Bytes => ty("BYTEA", "''"),
        },
        // SQLite: every number is an INTEGER (floats as the order-preserving image of their bits, since REAL
        // turns NaN into NULL; uint64 as its two's-complement bits).
        Dialect::Sqlite => match s {
            String => ty("TEXT", "''"),
            Bytes => ty("BLOB", "X''"),
            _ => ty("INTEGER", "0"),
        },
    }
}

fn json(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "JSONB",
        Dialect::Sqlite => "TEXT",
    }
}

/// The column type of a single (non-repeated) value of a field type.
fn value_type<N>(field_type: &FieldType<N>, dialect: Dialect) -> ColumnType {
    match field_type {
        FieldType::Scalar(s) => scalar(*s, dialect),
        FieldType::Enum(_) => ty("INTEGER", "0"),
        FieldType::WellKnown(WellKnown::Timestamp) => match dialect {
            Dialect::Postgres => ty("TIMESTAMPTZ", "'1970-01-01T00:00:00Z'"),
            Dialect::Sqlite => ty("TEXT", "'1970-01-01T00:00:00.000000000Z'"),
        },
        FieldType::WellKnown(WellKnown::Duration) => match dialect {
            Dialect::Postgres => ty("NUMERIC(21,9)", "0"),
            Dialect::Sqlite => ty("TEXT", "'0.000000000s'"),
        },
        FieldType::WellKnown(wrapper) => scalar(
            wrapper
                .wrapped()
                .expect("Timestamp and Duration are matched above"),
            dialect,
        ),
        FieldType::Message(_) => ty(json(dialect), "'{}'"),
    }
}

/// The column type a field type is stored in for `label` (for the first column of a Timestamp on Postgres);
/// exposed for the documentation test that keeps the README's mapping table honest.
pub fn column_types<N>(field_type: &FieldType<N>, label: &Label, dialect: Dialect) -> ColumnType {
    match label {
        Label::Map { .. } => ty(json(dialect), "'{}'"),
        Label::Repeated => match (field_type, dialect) {
            (FieldType::Scalar(_) | FieldType::Enum(_), Dialect::Postgres) => {
                let element = value_type(field_type, dialect);
                ty(array_type(element.sql), "'{}'")
            }
            _ => ty(json(dialect), "'[]'"),
        },
        _ => value_type(field_type, dialect),
    }
}

fn array_type(element: &'static str) -> &'static str {
    match element {
        "DOUBLE PRECISION" => "DOUBLE PRECISION[]",
        "REAL" => "REAL[]",
        "INTEGER" => "INTEGER[]",
        "BIGINT" => "BIGINT[]",
        "NUMERIC(20,0)" => "NUMERIC(20,0)[]",
        "BOOLEAN" => "BOOLEAN[]",
        "TEXT" => "TEXT[]",
        "BYTEA" => "BYTEA[]",
        other => unreachable!("no array of {other}"),
    }
}

/// The columns of one field in `dialect`, in row order: none for a field without a column, the oneof's JSON
/// column for a oneof member, two for a single Timestamp on Postgres (`<col>` TIMESTAMPTZ holding the
/// microseconds and `<col>_nanos` INTEGER holding the full nanoseconds, so no precision is lost), one otherwise
/// (a repeated Timestamp or a map of them is one array or JSON column).
///
/// `in_key`: the field is part of the primary key (its columns are NOT NULL without a default).
pub fn field_columns<F: StoredField + ?Sized>(
    field: &F,
    in_key: bool,
    dialect: Dialect,
) -> Vec<Column> {
    let Some(name) = field.stored_in() else {
        return Vec::new();
    };
    if let Some(oneof) = field.oneof() {
        return vec![oneof_column(oneof, name, dialect)];
    }
    let encrypted = field.encrypted();
    let claim_checked = field.claim_check_threshold().is_some();
    let (field_type, label) = (field.field_type(), field.label());
    let column_type = if encrypted || claim_checked {
        match dialect {
            Dialect::Postgres => ty("BYTEA", "''"),
            Dialect::Sqlite => ty("BLOB", "X''"),
        }
    } else {
        column_types(field_type, &label, dialect)
    };
    // Explicit presence and wrappers are NULL when unset; implicit presence and collections are NOT NULL with
    // their zero value as default; key columns and proto2 `required` are NOT NULL without one.
    let (nullable, default) = if in_key {
        (false, None)
    } else {
        match label {
            Label::Required => (false, None),
            Label::Optional => (true, None),
            Label::Repeated | Label::Map { .. } => (false, Some(column_type.zero)),
            Label::Implicit => match field_type {
                FieldType::Message(_) | FieldType::WellKnown(_) => (true, None),
                _ => (false, Some(column_type.zero)),
            },
        }
    };
    let number = field.number();
    let mut out = vec![Column {
        key: ColumnKey::Field(number),
        name: name.to_string(),
        sql_type: column_type.sql.to_string(),
        nullable,
        default: default.map(str::to_string),
        field: field.name().to_string(),
        encrypted,
        blind_bits: 0,
        claim_checked,
    }];
    let timestamp = matches!(field_type, FieldType::WellKnown(WellKnown::Timestamp));
    if dialect == Dialect::Postgres && timestamp && !label.is_collection() && !encrypted {
        out.push(Column {
            key: ColumnKey::Nanos(number),
            name: format!("{name}{NANOS_SUFFIX}"),
            sql_type: "INTEGER".to_string(),
            nullable,
            default: default.map(|_| "0".to_string()),
            field: field.name().to_string(),
            encrypted: false,
            blind_bits: 0,
            claim_checked: false,
        });
    }
    out
}

/// The blind index column of an encrypted field with a unique or secondary index (`unique`: one of them is
/// unique): `<col>_bidx`, bytes, NULL when the value is (an unset optional), its tokens [`blind_index_width`]
/// bits wide. `None` for a field that is not stored encrypted. A table lists these after its row's columns
/// ([`row_columns`]) and before the version, in field order ([`blind_index_columns`]); the field's indexes are
/// on this column instead of its ciphertext.
pub fn blind_index_column<F: StoredField + ?Sized>(
    field: &F,
    unique: bool,
    dialect: Dialect,
) -> Option<Column> {
    let name = field.stored_in()?;
    if !field.encrypted() || field.oneof().is_some() {
        return None;
    }
    Some(Column {
        key: ColumnKey::BlindIndex(field.number()),
        name: format!("{name}{BLIND_INDEX_SUFFIX}"),
        sql_type: match dialect {
            Dialect::Postgres => "BYTEA",
            Dialect::Sqlite => "BLOB",
        }
        .to_string(),
        nullable: true,
        default: None,
        field: field.name().to_string(),
        encrypted: false,
        blind_bits: blind_index_width(field, unique),
        claim_checked: false,
    })
}

/// The blind index columns of a row of `fields` whose numbers are in `indexed` (the encrypted fields with a
/// unique or secondary index, each with whether one of them is unique), in field order.
pub fn blind_index_columns<F: StoredField>(
    fields: &[F],
    indexed: &[(u32, bool)],
    dialect: Dialect,
) -> Vec<Column> {
    fields
        .iter()
        .filter_map(|f| {
            let (_, unique) = indexed.iter().find(|(n, _)| *n == f.number())?;
            blind_index_column(f, *unique, dialect)
        })
        .collect()
}

/// The JSON column `column` of the oneof `oneof`: NULL when no member is set.
fn oneof_column(oneof: &str, column: &str, dialect: Dialect) -> Column {
    Column {
        key: ColumnKey::Oneof(oneof.to_string()),
        name: column.to_string(),
        sql_type: json(dialect).to_string(),
        nullable: true,
        default: None,
        field: oneof.to_string(),
        encrypted: false,
        blind_bits: 0,
        claim_checked: false,
    }
}

/// `_version BIGINT NOT NULL`, the last column of every row, on both dialects (BIGINT has INTEGER affinity on
/// SQLite: 64-bit).
pub fn version_column() -> Column {
    Column {
        key: ColumnKey::Version,
        name: VERSION_COLUMN.to_string(),
        sql_type: "BIGINT".to_string(),
        nullable: false,
        default: None,
        field: VERSION_COLUMN.to_string(),
        encrypted: false,
        blind_bits: 0,
        claim_checked: false,
    }
}

/// Suffix of an entity's outbox table (`users_outbox`), which holds one row per committed write of an entity
/// with the `outbox` option: written in the write's own transaction, read by the relay and the change feed.
pub const OUTBOX_SUFFIX: &str = "_outbox";

/// The outbox's sequence column: its primary key, increasing in the order rows were written (per key, in
/// commit order).
pub const OUTBOX_SEQ: &str = "_seq";
/// The operation a row records: `insert`, `update`, `upsert`, `delete` or `erase`.
pub const OUTBOX_OP: &str = "_op";
/// The entity's encoded message after the write (encrypted fields sealed, as in Redis); NULL for a delete.
pub const OUTBOX_PAYLOAD: &str = "_payload";
/// When the row was written, in microseconds since the Unix epoch.
pub const OUTBOX_RECORDED_AT: &str = "_recorded_at";
/// When a relay published the row, in microseconds since the Unix epoch; NULL until then.
pub const OUTBOX_PUBLISHED_AT: &str = "_published_at";

/// The outbox table of the entity stored in `table`.
pub fn outbox_table(table: &str) -> String {
    format!("{table}{OUTBOX_SUFFIX}")
}

/// The columns of an entity's outbox table, in order: the sequence, the entity's key columns (as its table
/// has them, in key order: `primary_key` holds the key's field numbers), the row's new version, the
/// operation, the payload, and the times it was recorded and published.
pub fn outbox_columns<F: StoredField>(
    fields: &[F],
    primary_key: &[u32],
    dialect: Dialect,
) -> Vec<Column> {
    let meta = |role: &str, name: &str, sql_type: &str, nullable: bool| Column {
        key: ColumnKey::Outbox(role.to_string()),
        name: name.to_string(),
        sql_type: sql_type.to_string(),
        nullable,
        default: None,
        field: name.to_string(),
        encrypted: false,
        blind_bits: 0,
        claim_checked: false,
    };
    let (seq, bytes) = match dialect {
        // An identity column: never reused, and the table's primary key.
        Dialect::Postgres => ("BIGINT GENERATED ALWAYS AS IDENTITY", "BYTEA"),
        // `INTEGER` with the primary key is the rowid; Capacitor never deletes the last row, so ids are never
        // reused.
        Dialect::Sqlite => ("INTEGER", "BLOB"),
    };
    let mut columns = vec![meta("seq", OUTBOX_SEQ, seq, false)];
    for n in primary_key {
        if let Some(field) = fields.iter().find(|f| f.number() == *n) {
            columns.extend(field_columns(field, true, dialect));
        }
    }
    columns.push(version_column());
    columns.push(meta("op", OUTBOX_OP, "TEXT", false));
    columns.push(meta("payload", OUTBOX_PAYLOAD, bytes, true));
    columns.push(meta("recorded_at", OUTBOX_RECORDED_AT, "BIGINT", false));
    columns.push(meta("published_at", OUTBOX_PUBLISHED_AT, "BIGINT", true));
    columns
}

/// Suffix of an event-sourced entity's events table (`orders_events`): one row per event, keyed by
/// `(stream_id, version)`, with a unique global `position`.
pub const EVENTS_SUFFIX: &str = "_events";
/// Suffix of an event-sourced entity's snapshots table (`orders_snapshots`), keyed by `(stream_id, version)`.
pub const SNAPSHOTS_SUFFIX: &str = "_snapshots";

/// The events table of the event-sourced entity mapped to `table`.
pub fn events_table(table: &str) -> String {
    format!("{table}{EVENTS_SUFFIX}")
}

/// The snapshots table of the event-sourced entity mapped to `table`.
pub fn snapshots_table(table: &str) -> String {
    format!("{table}{SNAPSHOTS_SUFFIX}")
}

/// The table holding the per-subject data keys of crypto-shredding (`(capacitor.v1.entity).subject`): one per
/// database, shared by every entity with a subject stored there.
pub const SUBJECT_KEYS_TABLE: &str = "capacitor_subject_keys";

/// The columns of [`SUBJECT_KEYS_TABLE`], in order: `key_id` (16 random bytes, the primary key; every
/// ciphertext sealed under the key names it), `subject_token` (a keyed HMAC of the subject's value under a
/// key-ring sub-key, never the value; unique), `wrapped_key` (the 32-byte data key sealed under the key ring,
/// with the ring's key id) and `created_at` (microseconds since the Unix epoch). Shredding a subject deletes
/// its rows.
pub fn subject_keys_columns(dialect: Dialect) -> Vec<Column> {
    let bytes = match dialect {
        Dialect::Postgres => "BYTEA",
        Dialect::Sqlite => "BLOB",
    };
    ["key_id", "subject_token", "wrapped_key"]
        .into_iter()
        .map(|role| subject_key_column(role, bytes))
        .chain([subject_key_column("created_at", "BIGINT")])
        .collect()
}

fn subject_key_column(role: &str, sql_type: &str) -> Column {
    Column {
        key: ColumnKey::SubjectKey(role.to_string()),
        ..stream_column(role, sql_type)
    }
}

fn stream_column(role: &str, sql_type: &str) -> Column {
    Column {
        key: ColumnKey::Stream(role.to_string()),
        name: role.to_string(),
        sql_type: sql_type.to_string(),
        nullable: false,
        default: None,
        field: role.to_string(),
        encrypted: false,
        blind_bits: 0,
        claim_checked: false,
    }
}

/// The columns of an events table, in order: `stream_id`, `version` (1, 2, 3… per stream), `position`
/// (global order: a Postgres identity; on SQLite assigned by the writer under SQLite's write lock),
/// `event_type` (the `oneof` case), `payload` (the encoded events message), `metadata` (opaque bytes) and
/// `recorded_at` (microseconds since the Unix epoch).
pub fn events_columns(dialect: Dialect) -> Vec<Column> {
    let (position, bytes) = match dialect {
        Dialect::Postgres => ("BIGINT GENERATED ALWAYS AS IDENTITY", "BYTEA"),
        Dialect::Sqlite => ("INTEGER", "BLOB"),
    };
    vec![
        stream_column("stream_id", "TEXT"),
        stream_column("version", "BIGINT"),
        stream_column("position", position),
        stream_column("event_type", "TEXT"),
        stream_column("payload", bytes),
        stream_column("metadata", bytes),
        stream_column("recorded_at", "BIGINT"),
    ]
}

/// The columns of a snapshots table, in order: `stream_id`, `version` (of the last event folded in),
/// `state` (the encoded entity message) and `recorded_at` (microseconds since the Unix epoch).
pub fn snapshots_columns(dialect: Dialect) -> Vec<Column> {
    let bytes = match dialect {
        Dialect::Postgres => "BYTEA",
        Dialect::Sqlite => "BLOB",
    };
    vec![
        stream_column("stream_id", "TEXT"),
        stream_column("version", "BIGINT"),
        stream_column("state", bytes),
        stream_column("recorded_at", "BIGINT"),
    ]
}

/// The fields that decide a row's columns, in row order: every field with a column, in `fields`' order, except
/// that the members of a oneof share one column, listed once where its first stored member is.
pub fn row_fields<F: StoredField>(fields: &[F]) -> impl Iterator<Item = &F> {
    fields.iter().enumerate().filter_map(|(at, f)| {
        f.stored_in()?;
        let earlier_member = f.oneof().is_some_and(|oneof| {
            fields[..at]
                .iter()
                .any(|e| e.oneof() == Some(oneof) && e.stored_in().is_some())
        });
        (!earlier_member).then_some(f)
    })
}

/// Every column of a row of `fields` in `dialect`, in row order ([`row_fields`], each through
/// [`field_columns`]), without the [`version_column`] that follows them. `primary_key` holds the key's field
/// numbers.
pub fn row_columns<F: StoredField>(
    fields: &[F],
    primary_key: &[u32],
    dialect: Dialect,
) -> Vec<Column> {
    row_fields(fields)
        .flat_map(|f| field_columns(f, primary_key.contains(&f.number()), dialect))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Field {
        number: u32,
        column: Option<&'static str>,
        oneof: Option<&'static str>,
        ty: FieldType,
        label: Label,
    }

    impl StoredField for Field {
        type TypeName = ();
        fn number(&self) -> u32 {
            self.number
        }
        fn name(&self) -> &str {
            self.column.unwrap_or("unstored")
        }
        fn stored_in(&self) -> Option<&str> {
            self.column
        }
        fn oneof(&self) -> Option<&str> {
            self.oneof
        }
        fn field_type(&self) -> &FieldType {
            &self.ty
        }
        fn label(&self) -> Label {
            self.label
        }
        fn encrypted(&self) -> bool {
            false
        }
        fn blind_index_bits(&self) -> Option<u16> {
            None
        }
    }

    const fn field(number: u32, column: &'static str, ty: FieldType, label: Label) -> Field {
        Field {
            number,
            column: Some(column),
            oneof: None,
            ty,
            label,
        }
    }

    fn names(columns: &[Column]) -> Vec<&str> {
        columns.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn a_single_timestamp_is_two_columns_on_postgres_only() {
        let at = field(
            2,
            "at",
            FieldType::WellKnown(WellKnown::Timestamp),
            Label::Optional,
        );
        let pg = field_columns(&at, false, Dialect::Postgres);
        assert_eq!(names(&pg), ["at", "at_nanos"]);
        assert_eq!(pg[1].key, ColumnKey::Nanos(2));
        assert_eq!(names(&field_columns(&at, false, Dialect::Sqlite)), ["at"]);
        let seen = field(
            3,
            "seen",
            FieldType::WellKnown(WellKnown::Timestamp),
            Label::Repeated,
        );
        assert_eq!(
            names(&field_columns(&seen, false, Dialect::Postgres)),
            ["seen"]
        );
    }

    #[test]
    fn a_oneof_is_one_column_where_its_first_stored_member_is() {
        let member = |number, column| Field {
            number,
            column,
            oneof: Some("choice"),
            ty: FieldType::Scalar(Scalar::String),
            label: Label::Optional,
        };
        let fields = [
            field(1, "id", FieldType::Scalar(Scalar::String), Label::Implicit),
            member(5, None),
            member(3, Some("choice")),
            field(2, "n", FieldType::Scalar(Scalar::Int64), Label::Implicit),
            member(4, Some("choice")),
        ];
        let row = row_columns(&fields, &[1], Dialect::Postgres);
        assert_eq!(names(&row), ["id", "choice", "n"]);
        assert_eq!(row[1].key, ColumnKey::Oneof("choice".into()));
        assert_eq!(row[1].sql_type, "JSONB");
        assert_eq!((row[0].nullable, row[0].default.as_deref()), (false, None));
        assert_eq!(
            (row[2].nullable, row[2].default.as_deref()),
            (false, Some("0"))
        );
    }

    #[test]
    fn column_keys_round_trip_through_their_text() {
        for key in [
            ColumnKey::Field(7),
            ColumnKey::Nanos(7),
            ColumnKey::BlindIndex(7),
            ColumnKey::Oneof("contact".into()),
            ColumnKey::Version,
        ] {
            assert_eq!(ColumnKey::try_from(key.to_string()), Ok(key));
        }
    }
}
