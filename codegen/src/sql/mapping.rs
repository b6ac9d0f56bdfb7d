//! Proto kind → column type, nullability and default, per dialect. The runtime's `capacitor::sql` codec
//! reads and writes exactly these representations.

use super::{Column, ColumnKey, Dialect, NANOS_SUFFIX, VERSION_COLUMN};
use crate::ir::{Field, FieldType, Label, Scalar, WellKnown};

/// A column type with the literal a NOT NULL column of proto3 implicit presence defaults to (its zero value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnType {
    pub sql: &'static str,
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
fn value_type(ty_: &FieldType, dialect: Dialect) -> ColumnType {
    match ty_ {
        FieldType::Scalar(s) => scalar(*s, dialect),
        FieldType::Enum(_) => ty("INTEGER", "0"),
        FieldType::WellKnown(w) => match w {
            WellKnown::Timestamp => match dialect {
                Dialect::Postgres => ty("TIMESTAMPTZ", "'1970-01-01T00:00:00Z'"),
                Dialect::Sqlite => ty("TEXT", "'1970-01-01T00:00:00.000000000Z'"),
            },
            WellKnown::Duration => match dialect {
                Dialect::Postgres => ty("NUMERIC(21,9)", "0"),
                Dialect::Sqlite => ty("TEXT", "'0.000000000s'"),
            },
            WellKnown::DoubleValue => scalar(Scalar::Double, dialect),
            WellKnown::FloatValue => scalar(Scalar::Float, dialect),
            WellKnown::Int64Value => scalar(Scalar::Int64, dialect),
            WellKnown::Uint64Value => scalar(Scalar::Uint64, dialect),
            WellKnown::Int32Value => scalar(Scalar::Int32, dialect),
            WellKnown::Uint32Value => scalar(Scalar::Uint32, dialect),
            WellKnown::BoolValue => scalar(Scalar::Bool, dialect),
            WellKnown::StringValue => scalar(Scalar::String, dialect),
            WellKnown::BytesValue => scalar(Scalar::Bytes, dialect),
        },
        FieldType::Message(_) => ty(json(dialect), "'{}'"),
    }
}

/// The column types a field type is stored in for `label`, as `(sql type, zero literal)`; exposed for the
/// documentation test that keeps the README table honest.
pub fn column_types(field_type: &FieldType, label: &Label, dialect: Dialect) -> ColumnType {
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

/// The columns of one stored field (two for a Timestamp on Postgres).
pub(super) fn field_columns(field: &Field, in_key: bool, dialect: Dialect) -> Vec<Column> {
    let encrypted = field.options.encrypt.as_ref().is_some_and(|e| e.value);
    let column_type = if encrypted {
        match dialect {
            Dialect::Postgres => ty("BYTEA", "''"),
            Dialect::Sqlite => ty("BLOB", "X''"),
        }
    } else {
        column_types(&field.ty, &field.label, dialect)
    };
    // Explicit presence and wrappers are NULL when unset; implicit presence and collections are NOT NULL with
    // their zero value as default; key columns and proto2 `required` are NOT NULL without one.
    let wrapper = matches!(&field.ty, FieldType::WellKnown(w) if *w != WellKnown::Timestamp && *w != WellKnown::Duration);
    let (nullable, default) = if in_key {
        (false, None)
    } else {
        match &field.label {
            Label::Required => (false, None),
            Label::Optional => (true, None),
            Label::Repeated | Label::Map { .. } => (false, Some(column_type.zero)),
            Label::Implicit => match &field.ty {
                FieldType::Message(_) | FieldType::WellKnown(_) => (true, None),
                _ if wrapper => (true, None),
                _ => (false, Some(column_type.zero)),
            },
        }
    };
    let name = field.column().to_string();
    let mut out = vec![Column {
        key: ColumnKey::Field(field.number),
        name: name.clone(),
        sql_type: column_type.sql.to_string(),
        nullable,
        default: default.map(str::to_string),
        field: field.name.clone(),
    }];
    let single = !matches!(field.label, Label::Repeated | Label::Map { .. });
    if dialect == Dialect::Postgres
        && single
        && !encrypted
        && field.ty == FieldType::WellKnown(WellKnown::Timestamp)
    {
        out.push(Column {
            key: ColumnKey::Nanos(field.number),
            name: format!("{name}{NANOS_SUFFIX}"),
            sql_type: "INTEGER".to_string(),
            nullable,
            default: default.map(|_| "0".to_string()),
            field: field.name.clone(),
        });
    }
    out
}

/// The JSON column of a oneof: NULL when no member is set.
pub(super) fn oneof_column(oneof: &str, dialect: Dialect) -> Column {
    Column {
        key: ColumnKey::Oneof(oneof.to_string()),
        name: oneof.to_string(),
        sql_type: json(dialect).to_string(),
        nullable: true,
        default: None,
        field: oneof.to_string(),
    }
}

/// `_version BIGINT NOT NULL` on both dialects (BIGINT has INTEGER affinity on SQLite: 64-bit).
pub(super) fn version_column(_dialect: Dialect) -> Column {
    Column {
        key: ColumnKey::Version,
        name: VERSION_COLUMN.to_string(),
        sql_type: "BIGINT".to_string(),
        nullable: false,
        default: None,
        field: VERSION_COLUMN.to_string(),
    }
}
