//! The proto3 JSON form of scalar values, for repeated fields stored as JSON text (SQLite) and for the
//! Duration's text column.

use super::{CodecError, Duration, NANOS_PER_SECOND};
use base64::Engine as _;
use serde_json::Value;

/// A scalar that has a proto3 JSON form: 64-bit integers as strings, non-finite floats as `"NaN"`,
/// `"Infinity"`, `"-Infinity"`, bytes as standard base64.
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
pub(crate) trait JsonScalar: Sized {
    const KIND: &'static str;
    fn to_json(&self) -> Value;
    fn from_json(value: &Value) -> Option<Self>;
}

fn number_or_string<T: std::str::FromStr>(value: &Value) -> Option<T> {
    match value {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.to_string().parse().ok(),
        _ => None,
    }
}

macro_rules! json_integer {
    ($($ty:ty => $kind:literal, $as_string:literal;)*) => {$(
        impl JsonScalar for $ty {
            const KIND: &'static str = $kind;
            fn to_json(&self) -> Value {
                if $as_string { Value::String(self.to_string()) } else { Value::from(*self) }
            }
            fn from_json(value: &Value) -> Option<Self> {
                number_or_string(value)
            }
        }
    )*};
}

json_integer! {
    i32 => "int32", false;
    u32 => "uint32", false;
    i64 => "int64", true;
    u64 => "uint64", true;
}

fn float_to_json(x: f64) -> Value {
    if x.is_nan() {
        Value::from("NaN")
    } else if x.is_infinite() {
        Value::from(if x > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
    }
}

fn float_from_json(value: &Value) -> Option<f64> {
    match value {
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            other => other.parse().ok(),
        },
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

impl JsonScalar for f64 {
    const KIND: &'static str = "double";
    fn to_json(&self) -> Value {
        float_to_json(*self)
    }
    fn from_json(value: &Value) -> Option<Self> {
        float_from_json(value)
    }
}

impl JsonScalar for f32 {
    const KIND: &'static str = "float";
    fn to_json(&self) -> Value {
        float_to_json(f64::from(*self))
    }
    fn from_json(value: &Value) -> Option<Self> {
        // Widening is exact and the shortest double text parses back to the same double, so narrowing is too.
        float_from_json(value).map(|x| x as f32)
    }
}

impl JsonScalar for bool {
    const KIND: &'static str = "bool";
    fn to_json(&self) -> Value {
        Value::Bool(*self)
    }
    fn from_json(value: &Value) -> Option<Self> {
        value.as_bool()
    }
}

impl JsonScalar for String {
    const KIND: &'static str = "string";
    fn to_json(&self) -> Value {
        Value::String(self.clone())
    }
    fn from_json(value: &Value) -> Option<Self> {
        value.as_str().map(str::to_owned)
    }
}

impl JsonScalar for Vec<u8> {
    const KIND: &'static str = "bytes";
    fn to_json(&self) -> Value {
        Value::String(base64::engine::general_purpose::STANDARD.encode(self))
    }
    fn from_json(value: &Value) -> Option<Self> {
        base64::engine::general_purpose::STANDARD
            .decode(value.as_str()?)
            .ok()
    }
}

/// Encodes a repeated field as a JSON array text.
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
pub(crate) fn array_to_text<T: JsonScalar>(values: &[T]) -> String {
    Value::Array(values.iter().map(T::to_json).collect()).to_string()
}

/// Decodes a JSON array text written by [`array_to_text`].
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
pub(crate) fn array_from_text<T: JsonScalar>(text: &str) -> Result<Vec<T>, CodecError> {
    let bad = || CodecError::new(T::KIND, "the column is not a JSON array of this kind");
    let Value::Array(items) = serde_json::from_str(text).map_err(|_| bad())? else {
        return Err(bad());
    };
    items
        .iter()
        .map(|v| T::from_json(v).ok_or_else(bad))
        .collect()
}

/// A Duration in the proto3 JSON form, always with nine fractional digits (`-1.500000000s`).
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
pub(crate) fn duration_to_text(d: Duration) -> Result<String, CodecError> {
    let total = d.total_nanos()?;
    let sign = if total < 0 { "-" } else { "" };
    let magnitude = total.unsigned_abs();
    let per_second = NANOS_PER_SECOND as u128;
    Ok(format!(
        "{sign}{}.{:09}s",
        magnitude / per_second,
        magnitude % per_second
    ))
}

/// Parses the text [`duration_to_text`] writes.
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
pub(crate) fn duration_from_text(text: &str) -> Result<Duration, CodecError> {
    let bad = || {
        CodecError::new(
            Duration::KIND,
            "the column is not a `<seconds>.<nanos>s` duration",
        )
    };
    let body = text.strip_suffix('s').ok_or_else(bad)?;
    let (negative, body) = match body.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, body),
    };
    let (whole, fraction) = body.split_once('.').ok_or_else(bad)?;
    if fraction.len() != 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let seconds: u64 = whole.parse().map_err(|_| bad())?;
    let nanos: u64 = fraction.parse().map_err(|_| bad())?;
    let magnitude = i128::from(seconds) * i128::from(NANOS_PER_SECOND) + i128::from(nanos);
    Duration::from_total_nanos(if negative { -magnitude } else { magnitude })
}
