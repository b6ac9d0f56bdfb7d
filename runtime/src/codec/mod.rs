//! The SQL value codec: how every proto value kind is stored in a column, per dialect.
//!
//! One implementation serves the generated row mapping, the stores and the round-trip tests, so the column
//! representation is decided in exactly one place (the DDL that `capgen` renders agrees with it; the README's
//! mapping table documents both). Every representation is exact: a value read back equals the value written,
//! including a Timestamp's nanoseconds, a uint64 above 2^63, NaN, ±Inf, -0.0 and enum numbers the schema does not
//! know.
//!
//! - `SqliteValue` (feature `sqlite`) and `PgValue` (feature `postgres`) convert a Rust value of a proto kind
//!   to the sqlx type bound for its column and back.
//! - [`Timestamp`], [`Duration`], [`Json`] and [`Repeated`] name the kinds whose Rust type alone would be
//!   ambiguous (`Vec<u8>` is `bytes`, so a repeated field is `Repeated<T>`).
//!
//! ```
//! # #[cfg(feature = "sqlite")] {
//! use capacitor::codec::{SqliteValue, Timestamp};
//! let at = Timestamp { seconds: 1_700_000_000, nanos: 123_456_789 };
//! let column = at.to_sqlite().unwrap();
//! assert_eq!(column, "2023-11-14T22:13:20.123456789Z");
//! assert_eq!(Timestamp::from_sqlite(column).unwrap(), at);
//! # }
//! ```

mod json;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "postgres")]
pub use postgres::{PgTimestamp, PgValue};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteValue;
#[cfg(feature = "sqlite")]
#[doc(hidden)]
pub use sqlite::{SqliteArguments, SqliteDecodeError, SqliteRow};

/// A value that cannot be mapped to or from its column.
///
/// The message names the proto kind and the reason, never the value itself (it may be personal data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot map a {kind} value to or from its SQL column: {reason}")]
pub struct CodecError {
    /// The proto kind (`uint64`, `google.protobuf.Timestamp`, …).
    pub kind: &'static str,
    /// Why, without the value.
    pub reason: String,
}

impl CodecError {
    pub(crate) fn new(kind: &'static str, reason: impl Into<String>) -> Self {
        CodecError {
            kind,
            reason: reason.into(),
        }
    }
}

/// A `google.protobuf.Timestamp`, as its two fields (generated code copies them from `pbjson_types::Timestamp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Timestamp {
    /// Seconds since the Unix epoch.
    pub seconds: i64,
    /// Nanoseconds of the second, `0..1_000_000_000`.
    pub nanos: i32,
}

/// A `google.protobuf.Duration`, as its two fields (`seconds` and `nanos` have the same sign).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Duration {
    /// Whole seconds.
    pub seconds: i64,
    /// Nanoseconds, `-999_999_999..=999_999_999`, with the sign of `seconds`.
    pub nanos: i32,
}

/// A nested message, a map or a oneof, already in the proto3 JSON mapping (JSONB on Postgres, TEXT on SQLite).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Json(pub serde_json::Value);

/// A repeated scalar or enum field (an array on Postgres, a proto3 JSON array in TEXT on SQLite).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Repeated<T>(pub Vec<T>);

const NANOS_PER_SECOND: i64 = 1_000_000_000;

impl Timestamp {
    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    const KIND: &'static str = "google.protobuf.Timestamp";

    /// The instant as a chrono value, checking the nanos range.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn to_chrono(self) -> Result<chrono::DateTime<chrono::Utc>, CodecError> {
        let nanos = u32::try_from(self.nanos)
            .ok()
            .filter(|n| i64::from(*n) < NANOS_PER_SECOND)
            .ok_or_else(|| CodecError::new(Self::KIND, "nanos is outside 0..1_000_000_000"))?;
        chrono::DateTime::from_timestamp(self.seconds, nanos).ok_or_else(|| {
            CodecError::new(Self::KIND, "seconds is outside the representable range")
        })
    }
}

impl Duration {
    const KIND: &'static str = "google.protobuf.Duration";

    /// The duration as a count of nanoseconds, checking that both fields agree in sign and range.
    pub(crate) fn total_nanos(self) -> Result<i128, CodecError> {
        if self.nanos.unsigned_abs() >= NANOS_PER_SECOND as u32
            || (self.seconds > 0 && self.nanos < 0)
            || (self.seconds < 0 && self.nanos > 0)
        {
            return Err(CodecError::new(
                Self::KIND,
                "nanos must be within ±999_999_999 and have the sign of seconds",
            ));
        }
        Ok(i128::from(self.seconds) * i128::from(NANOS_PER_SECOND) + i128::from(self.nanos))
    }

    /// The duration with this many nanoseconds (truncating division keeps both signs equal).
    pub(crate) fn from_total_nanos(total: i128) -> Result<Self, CodecError> {
        let seconds = i64::try_from(total / i128::from(NANOS_PER_SECOND))
            .map_err(|_| CodecError::new(Self::KIND, "seconds overflow"))?;
        let nanos = (total % i128::from(NANOS_PER_SECOND)) as i32;
        Ok(Duration { seconds, nanos })
    }
}

/// Order-preserving integer image of a double: SQL `<` on the image is IEEE-754 `totalOrder`
/// (-NaN < -Inf < … < -0.0 < +0.0 < … < +Inf < +NaN) and the mapping is a bijection, so every bit pattern
/// round-trips. The same transform `f64::total_cmp` uses.
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
pub(crate) fn f64_to_ordered(x: f64) -> i64 {
    let bits = x.to_bits() as i64;
    bits ^ ((((bits >> 63) as u64) >> 1) as i64)
}

/// Inverse of [`f64_to_ordered`] (the transform is an involution).
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
pub(crate) fn f64_from_ordered(image: i64) -> f64 {
    f64::from_bits(f64_to_ordered_bits(image) as u64)
}

#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
fn f64_to_ordered_bits(image: i64) -> i64 {
    image ^ ((((image >> 63) as u64) >> 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_floats_round_trip_and_sort_in_total_order() {
        let values = [
            f64::NEG_INFINITY,
            -1.5,
            -0.0,
            0.0,
            f64::MIN_POSITIVE,
            2.5,
            f64::INFINITY,
            f64::NAN,
        ];
        let images: Vec<i64> = values.iter().map(|v| f64_to_ordered(*v)).collect();
        assert!(images.windows(2).all(|w| w[0] < w[1]));
        for (v, image) in values.iter().zip(images) {
            assert_eq!(f64_from_ordered(image).to_bits(), v.to_bits());
        }
    }

    #[test]
    fn durations_keep_the_sign_of_both_fields() {
        for d in [
            Duration {
                seconds: -1,
                nanos: -500_000_000,
            },
            Duration {
                seconds: 0,
                nanos: -5,
            },
            Duration {
                seconds: 315_576_000_000,
                nanos: 999_999_999,
            },
        ] {
            assert_eq!(
                Duration::from_total_nanos(d.total_nanos().unwrap()).unwrap(),
                d
            );
        }
        assert!(
            Duration {
                seconds: 1,
                nanos: -1
            }
            .total_nanos()
            .is_err()
        );
    }
}
