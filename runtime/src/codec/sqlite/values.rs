//! The values a SQLite statement binds and the rows it returns, owned: a row is copied out of the statement as
//! it steps, so decoding (and decryption) runs after the statement is reset and the connection is free, and a
//! statement moved to a blocking thread (see the SQLite store) hands back plain data.

use crate::driver_error::{DriverError, DriverErrorKind};
use crate::error::BoxError;
use rusqlite::types::{FromSql, ToSql, ToSqlOutput, Value, ValueRef};

/// The values bound to a statement's placeholders `?1, ?2, …`, in order. [`Column`](crate::record::Column)'s
/// SQLite hooks bind through it.
#[derive(Default, Clone)]
pub struct SqliteArguments {
    values: Vec<Value>,
}

impl SqliteArguments {
    /// Binds the next placeholder to `value`.
    pub fn add<T: ToSql>(&mut self, value: T) -> Result<(), BoxError> {
        let value = match value.to_sql()? {
            ToSqlOutput::Borrowed(borrowed) => owned(borrowed),
            ToSqlOutput::Owned(value) => value,
            // Only blobs of zeros and arrays produce other outputs; the codec binds neither.
            _ => return Err(Box::new(DriverError::new(DriverErrorKind::Encode))),
        };
        self.values.push(value);
        Ok(())
    }

    pub(crate) fn values(&self) -> &[Value] {
        &self.values
    }
}

/// A row a statement returned, its columns in the statement's order.
pub struct SqliteRow {
    columns: Vec<Value>,
}

impl SqliteRow {
    pub(crate) fn read(row: &rusqlite::Row<'_>, width: usize) -> rusqlite::Result<SqliteRow> {
        let mut columns = Vec::with_capacity(width);
        for at in 0..width {
            columns.push(owned(row.get_ref(at)?));
        }
        Ok(SqliteRow { columns })
    }

    /// The column at `at` as a `T` (`Option<T>` for a nullable column). The second parameter keeps the call
    /// shape of sqlx's `Row::try_get`, which the shared store operations use for both dialects.
    pub fn try_get<T: FromSql, I: Into<usize>>(&self, at: I) -> Result<T, SqliteDecodeError> {
        let value = self
            .columns
            .get(at.into())
            .ok_or(SqliteDecodeError::OutOfBounds)?;
        T::column_result(ValueRef::from(value)).map_err(SqliteDecodeError::Decode)
    }
}

/// A column that did not decode. rusqlite's own error may quote the value (a UTF-8 or range error), so only its
/// kind is kept when it is reported (see `DecodeReason` in `record.rs`).
#[derive(Debug)]
pub enum SqliteDecodeError {
    /// The row has no such column.
    OutOfBounds,
    /// The column's value is not of the type asked for.
    Decode(rusqlite::types::FromSqlError),
}

impl crate::record::DecodeReason for SqliteDecodeError {
    fn reason(&self) -> String {
        use rusqlite::types::FromSqlError as F;
        match self {
            SqliteDecodeError::OutOfBounds => "the row has no such column".to_owned(),
            SqliteDecodeError::Decode(F::InvalidType) => {
                "mismatched types; the column's SQLite type is not the one expected".to_owned()
            }
            SqliteDecodeError::Decode(F::OutOfRange(_)) => {
                "the column is out of range of its type".to_owned()
            }
            SqliteDecodeError::Decode(_) => "the column does not decode as its type".to_owned(),
        }
    }
}

/// A value SQLite handed out, copied. Text that is not UTF-8 (SQLite does not check what it stores) is kept as
/// a blob, so reading it as a string fails as a type mismatch rather than a panic in rusqlite's conversion.
fn owned(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(text) => match std::str::from_utf8(text) {
            Ok(text) => Value::Text(text.to_owned()),
            Err(_) => Value::Blob(text.to_vec()),
        },
        ValueRef::Blob(blob) => Value::Blob(blob.to_vec()),
    }
}
