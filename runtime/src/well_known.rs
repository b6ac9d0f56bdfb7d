//! Building a `google.protobuf.Timestamp` or `Duration` of whichever Rust type the entity uses.
//!
//! Generated row mappings read these columns as [`seconds` and `nanos`](crate::record::Column) and must hand
//! back the entity's own type: `pbjson_types::Timestamp` by default, `prost_types::Timestamp` on a derived
//! struct, or whatever an `extern_path` names. Every one of them is a prost message with `seconds = 1` and
//! `nanos = 2`, so the value is built through its protobuf encoding and the type is inferred from the field.

use crate::error::DecodeError;

/// The `google.protobuf` types generated code uses (pbjson-types': prost messages with proto3 JSON), so an
/// application builds a `Timestamp` as `capacitor::well_known::Timestamp` without depending on pbjson-types.
pub use pbjson_types::*;

/// A message with `int64 seconds = 1; int32 nanos = 2;` (Timestamp, Duration) holding these values.
pub fn seconds_nanos<T: prost::Message + Default>(
    seconds: i64,
    nanos: i32,
) -> Result<T, DecodeError> {
    let mut bytes = Vec::with_capacity(16);
    if seconds != 0 {
        prost::encoding::int64::encode(1, &seconds, &mut bytes);
    }
    if nanos != 0 {
        prost::encoding::int32::encode(2, &nanos, &mut bytes);
    }
    T::decode(bytes.as_slice()).map_err(|e| DecodeError::new(format!("seconds and nanos: {e}")))
}

#[cfg(test)]
mod tests {
    #[derive(Clone, PartialEq, prost::Message)]
    struct Timestamp {
        #[prost(int64, tag = "1")]
        seconds: i64,
        #[prost(int32, tag = "2")]
        nanos: i32,
    }

    #[test]
    fn builds_through_the_encoding() {
        for (seconds, nanos) in [(0, 0), (-62_135_596_800, 999_999_999), (i64::MAX, -1)] {
            let t: Timestamp = super::seconds_nanos(seconds, nanos).unwrap();
            assert_eq!((t.seconds, t.nanos), (seconds, nanos));
        }
    }
}
