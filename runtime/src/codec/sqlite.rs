//! Column representations on SQLite (feature `sqlite`).

use super::json::{
    JsonScalar, array_from_text, array_to_text, duration_from_text, duration_to_text,
};
mod values;

#[doc(hidden)]
pub use values::{SqliteArguments, SqliteDecodeError, SqliteRow};

use super::{CodecError, Duration, Json, Repeated, Timestamp, f64_from_ordered, f64_to_ordered};

/// A proto value kind stored in one SQLite column.
///
/// Bind `value.to_sqlite()?`; read the column as `T::Column` and convert it with `T::from_sqlite`.
/// [`Option<T>`] (explicit presence, wrappers) maps to a nullable column of the same representation.
pub trait SqliteValue: Sized {
    /// The Rust type sqlx binds and reads for this column.
    type Column;
    /// The column value for `self`.
    fn to_sqlite(&self) -> Result<Self::Column, CodecError>;
    /// The value a column holds.
    fn from_sqlite(column: Self::Column) -> Result<Self, CodecError>;
}

macro_rules! same {
    ($($ty:ty),*) => {$(
        impl SqliteValue for $ty {
            type Column = $ty;
            fn to_sqlite(&self) -> Result<$ty, CodecError> { Ok(self.clone()) }
            fn from_sqlite(column: $ty) -> Result<$ty, CodecError> { Ok(column) }
        }
    )*};
}

// int32, sint32, sfixed32 and enums (the number, so unknown numbers survive), int64 and friends, bool (0/1),
// string, bytes.
same!(i32, i64, bool, String, Vec<u8>);

impl SqliteValue for u32 {
    type Column = i64;
    fn to_sqlite(&self) -> Result<i64, CodecError> {
        Ok(i64::from(*self))
    }
    fn from_sqlite(column: i64) -> Result<u32, CodecError> {
        u32::try_from(column).map_err(|_| CodecError::new("uint32", "the column is out of range"))
    }
}

/// SQLite integers are signed 64-bit: a uint64 is stored as its two's-complement bit pattern, so values below
/// 2^63 read as themselves and larger ones as negative integers (equality lookups stay exact).
impl SqliteValue for u64 {
    type Column = i64;
    fn to_sqlite(&self) -> Result<i64, CodecError> {
        Ok(*self as i64)
    }
    fn from_sqlite(column: i64) -> Result<u64, CodecError> {
        Ok(column as u64)
    }
}

/// SQLite's REAL turns NaN into NULL, so floats are stored as the order-preserving image of their bits.
impl SqliteValue for f64 {
    type Column = i64;
    fn to_sqlite(&self) -> Result<i64, CodecError> {
        Ok(f64_to_ordered(*self))
    }
    fn from_sqlite(column: i64) -> Result<f64, CodecError> {
        Ok(f64_from_ordered(column))
    }
}

/// A float is stored as the image of its exact widening to a double, so changing a field from float to double
/// needs no data migration.
impl SqliteValue for f32 {
    type Column = i64;
    fn to_sqlite(&self) -> Result<i64, CodecError> {
        Ok(f64_to_ordered(f64::from(*self)))
    }
    fn from_sqlite(column: i64) -> Result<f32, CodecError> {
        let wide = f64_from_ordered(column);
        let narrow = wide as f32;
        if f64::from(narrow).to_bits() == wide.to_bits() || wide.is_nan() {
            Ok(narrow)
        } else {
            Err(CodecError::new(
                "float",
                "the column holds a double that is not a float",
            ))
        }
    }
}

/// RFC 3339 in UTC with exactly nine fractional digits: fixed width, so text order is time order.
impl SqliteValue for Timestamp {
    type Column = String;
    fn to_sqlite(&self) -> Result<String, CodecError> {
        Ok(self
            .to_chrono()?
            .format("%Y-%m-%dT%H:%M:%S%.9fZ")
            .to_string())
    }
    fn from_sqlite(column: String) -> Result<Timestamp, CodecError> {
        let at = chrono::DateTime::parse_from_rfc3339(&column).map_err(|_| {
            CodecError::new(Timestamp::KIND, "the column is not an RFC 3339 timestamp")
        })?;
        Ok(Timestamp {
            seconds: at.timestamp(),
            nanos: at.timestamp_subsec_nanos() as i32,
        })
    }
}

impl SqliteValue for Duration {
    type Column = String;
    fn to_sqlite(&self) -> Result<String, CodecError> {
        duration_to_text(*self)
    }
    fn from_sqlite(column: String) -> Result<Duration, CodecError> {
        duration_from_text(&column)
    }
}

impl SqliteValue for Json {
    type Column = String;
    fn to_sqlite(&self) -> Result<String, CodecError> {
        Ok(self.0.to_string())
    }
    fn from_sqlite(column: String) -> Result<Json, CodecError> {
        serde_json::from_str(&column)
            .map(Json)
            .map_err(|_| CodecError::new("message", "the column is not JSON"))
    }
}

#[allow(private_bounds)]
impl<T: JsonScalar> SqliteValue for Repeated<T> {
    type Column = String;
    fn to_sqlite(&self) -> Result<String, CodecError> {
        Ok(array_to_text(&self.0))
    }
    fn from_sqlite(column: String) -> Result<Repeated<T>, CodecError> {
        array_from_text(&column).map(Repeated)
    }
}

impl<T: SqliteValue> SqliteValue for Option<T> {
    type Column = Option<T::Column>;
    fn to_sqlite(&self) -> Result<Option<T::Column>, CodecError> {
        self.as_ref().map(T::to_sqlite).transpose()
    }
    fn from_sqlite(column: Option<T::Column>) -> Result<Option<T>, CodecError> {
        column.map(T::from_sqlite).transpose()
    }
}
