//! Column representations on PostgreSQL (feature `postgres`).

use super::{CodecError, Duration, Json, Repeated, Timestamp};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// A proto value kind stored in a Postgres column (two for [`Timestamp`]: see [`PgTimestamp`]).
///
/// Bind `value.to_pg()?`; read the column as `T::Column` and convert it with `T::from_pg`.
/// [`Option<T>`] (explicit presence, wrappers) maps to a nullable column of the same representation.
pub trait PgValue: Sized {
    /// The Rust type sqlx binds and reads for this column.
    type Column;
    /// The column value for `self`.
    fn to_pg(&self) -> Result<Self::Column, CodecError>;
    /// The value a column holds.
    fn from_pg(column: Self::Column) -> Result<Self, CodecError>;
}

macro_rules! same {
    ($($ty:ty),*) => {$(
        impl PgValue for $ty {
            type Column = $ty;
            fn to_pg(&self) -> Result<$ty, CodecError> { Ok(self.clone()) }
            fn from_pg(column: $ty) -> Result<$ty, CodecError> { Ok(column) }
        }
    )*};
}

// INTEGER (int32, sint32, sfixed32, enum numbers), BIGINT, BOOLEAN, REAL and DOUBLE PRECISION (IEEE-754: NaN,
// ±Inf and -0.0 are kept), TEXT, BYTEA.
same!(i32, i64, bool, f32, f64, String, Vec<u8>);

/// uint32 and fixed32 in a BIGINT.
impl PgValue for u32 {
    type Column = i64;
    fn to_pg(&self) -> Result<i64, CodecError> {
        Ok(i64::from(*self))
    }
    fn from_pg(column: i64) -> Result<u32, CodecError> {
        u32::try_from(column).map_err(|_| CodecError::new("uint32", "the column is out of range"))
    }
}

/// uint64 and fixed64 in a NUMERIC(20,0), which holds all 2^64 values.
impl PgValue for u64 {
    type Column = Decimal;
    fn to_pg(&self) -> Result<Decimal, CodecError> {
        Ok(Decimal::from(*self))
    }
    fn from_pg(column: Decimal) -> Result<u64, CodecError> {
        column
            .fract()
            .is_zero()
            .then(|| column.to_u64())
            .flatten()
            .ok_or_else(|| CodecError::new("uint64", "the column is not an integer in 0..2^64"))
    }
}

/// A Timestamp's two columns: `<col>` TIMESTAMPTZ holds the instant truncated to the microsecond (Postgres'
/// precision) and `<col>_nanos` INTEGER the exact nanoseconds of the second, so nothing is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgTimestamp {
    /// The `<col>` TIMESTAMPTZ column.
    pub at: chrono::DateTime<chrono::Utc>,
    /// The `<col>_nanos` INTEGER column.
    pub nanos: i32,
}

impl PgValue for Timestamp {
    type Column = PgTimestamp;
    fn to_pg(&self) -> Result<PgTimestamp, CodecError> {
        let micros_only = Timestamp {
            seconds: self.seconds,
            nanos: self.nanos - self.nanos.rem_euclid(1_000),
        };
        self.to_chrono()?;
        Ok(PgTimestamp {
            at: micros_only.to_chrono()?,
            nanos: self.nanos,
        })
    }
    fn from_pg(column: PgTimestamp) -> Result<Timestamp, CodecError> {
        if column.at.timestamp_subsec_micros() as i32 != column.nanos / 1_000 {
            return Err(CodecError::new(
                Timestamp::KIND,
                "the `_nanos` column disagrees with the TIMESTAMPTZ column",
            ));
        }
        Ok(Timestamp {
            seconds: column.at.timestamp(),
            nanos: column.nanos,
        })
    }
}

/// A Duration in a NUMERIC(21,9) of seconds: exact over the whole ±10,000-year range, and ordered.
impl PgValue for Duration {
    type Column = Decimal;
    fn to_pg(&self) -> Result<Decimal, CodecError> {
        Decimal::try_from_i128_with_scale(self.total_nanos()?, 9)
            .map_err(|_| CodecError::new(Duration::KIND, "out of range"))
    }
    fn from_pg(column: Decimal) -> Result<Duration, CodecError> {
        let mut scaled = column;
        scaled.rescale(9);
        if scaled != column {
            return Err(CodecError::new(
                Duration::KIND,
                "the column has more than nine decimals",
            ));
        }
        Duration::from_total_nanos(scaled.mantissa())
    }
}

/// JSONB.
impl PgValue for Json {
    type Column = serde_json::Value;
    fn to_pg(&self) -> Result<serde_json::Value, CodecError> {
        Ok(self.0.clone())
    }
    fn from_pg(column: serde_json::Value) -> Result<Json, CodecError> {
        Ok(Json(column))
    }
}

/// An array of the element's column type (`BIGINT[]`, `NUMERIC(20,0)[]`, …).
impl<T> PgValue for Repeated<T>
where
    T: PgValue,
    T::Column: sqlx::postgres::PgHasArrayType,
{
    type Column = Vec<T::Column>;
    fn to_pg(&self) -> Result<Vec<T::Column>, CodecError> {
        self.0.iter().map(T::to_pg).collect()
    }
    fn from_pg(column: Vec<T::Column>) -> Result<Repeated<T>, CodecError> {
        column
            .into_iter()
            .map(T::from_pg)
            .collect::<Result<_, _>>()
            .map(Repeated)
    }
}

impl<T: PgValue> PgValue for Option<T> {
    type Column = Option<T::Column>;
    fn to_pg(&self) -> Result<Option<T::Column>, CodecError> {
        self.as_ref().map(T::to_pg).transpose()
    }
    fn from_pg(column: Option<T::Column>) -> Result<Option<T>, CodecError> {
        column.map(T::from_pg).transpose()
    }
}
