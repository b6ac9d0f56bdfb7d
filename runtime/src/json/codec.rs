//! How one field's values are written and read in the proto3 JSON mapping.
//!
//! A prost field's Rust type does not say everything the mapping needs (an `i32` may be an `int32` or an enum,
//! a `Vec<u8>` is `bytes`, an `i64` is written as a string), so generated code names a codec per field:
//! [`Plain`] for scalars and the well-known types whose mapping this crate fixes, [`Msg`] for messages,
//! [`Enum`] for enums, wrapped in the shape the field holds them in ([`Opt`], [`Rep`], [`Map`]). The codecs
//! are zero-sized: a value is passed only so the compiler infers the field's type.

use super::de::field_mask_from_json;
use super::ser::{field_mask_to_json, timestamp};
use base64::Engine as _;
use pbjson_types::{FieldMask, Timestamp};
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::ser::{self, Serialize, Serializer};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;

/// Writes and reads a value of type `T` in the mapping.
pub trait Codec<T> {
    /// Whether `value` is its field's default, which a field without presence leaves out.
    fn is_default(value: &T) -> bool;
    /// Writes `value`.
    fn serialize<S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error>;
    /// Reads a value.
    fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<T, D::Error>;
}

/// Scalars, and the well-known types whose mapping this crate writes itself ([`Timestamp`], [`FieldMask`]):
/// `int32`/`uint32` as numbers, 64-bit integers as strings of digits, `float`/`double` as numbers or `"NaN"`,
/// `"Infinity"`, `"-Infinity"`, `bytes` as standard base64. Numbers are read from numbers or strings, `bytes`
/// from standard or URL-safe base64 with or without padding.
#[derive(Clone, Copy, Debug, Default)]
pub struct Plain;

/// A message: its own `Serialize` and `Deserialize` (generated, or pbjson-types' for the well-known types).
#[derive(Clone, Copy, Debug, Default)]
pub struct Msg;

/// An enum field (an `i32`) of the prost enum `E`: its name, or its number when the number has no name. Read
/// from a name (through `E`'s `Deserialize`) or from any number, which an open enum keeps.
pub struct Enum<E>(PhantomData<fn() -> E>);

impl<E> Enum<E> {
    /// The codec of enum `E`.
    pub const fn new() -> Self {
        Enum(PhantomData)
    }
}

impl<E> Default for Enum<E> {
    fn default() -> Self {
        Self::new()
    }
}

/// An optional field (`Option<T>`): left out when `None`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Opt<C>(pub C);

/// A repeated field (`Vec<T>`): a JSON array, left out when empty.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rep<C>(pub C);

/// A map field (`HashMap` or `BTreeMap`): a JSON object whose keys are the map keys as strings, left out when
/// empty.
#[derive(Clone, Copy, Debug, Default)]
pub struct Map<C>(pub C);

/// Serializes `T` through codec `C`.
pub(crate) struct SerWith<'a, C, T>(pub &'a T, pub PhantomData<C>);

impl<C: Codec<T>, T> Serialize for SerWith<'_, C, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        C::serialize(self.0, s)
    }
}

/// Deserializes `T` through codec `C` (the value is field `.0`).
pub(crate) struct DeWith<C, T>(pub T, pub PhantomData<C>);

impl<'de, C: Codec<T>, T> de::Deserialize<'de> for DeWith<C, T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        C::deserialize(d).map(|v| DeWith(v, PhantomData))
    }
}

/// 32-bit integers: JSON numbers.
macro_rules! number {
    ($ty:ty, $write:ident) => {
        impl Codec<$ty> for Plain {
            fn is_default(value: &$ty) -> bool {
                *value == 0
            }
            fn serialize<S: Serializer>(value: &$ty, s: S) -> Result<S::Ok, S::Error> {
                s.$write(*value)
            }
            fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                d.deserialize_any(IntegerVisitor::<$ty>(PhantomData))
            }
        }
    };
}
number!(i32, serialize_i32);
number!(u32, serialize_u32);

/// 64-bit integers: strings of digits, since JSON numbers lose precision beyond 2^53.
macro_rules! long {
    ($ty:ty) => {
        impl Codec<$ty> for Plain {
            fn is_default(value: &$ty) -> bool {
                *value == 0
            }
            fn serialize<S: Serializer>(value: &$ty, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(value)
            }
            fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                d.deserialize_any(IntegerVisitor::<$ty>(PhantomData))
            }
        }
    };
}
long!(i64);
long!(u64);

struct IntegerVisitor<T>(PhantomData<T>);

impl<'de, T> Visitor<'de> for IntegerVisitor<T>
where
    T: TryFrom<i64> + TryFrom<u64> + std::str::FromStr,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "an integer as a number or a string ({})",
            std::any::type_name::<T>()
        )
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        // The mapping accepts a number with a zero fraction (`1.0`, `1e2`) for an integer field.
        let unexpected = || E::invalid_value(de::Unexpected::Float(v), &self);
        // Beyond these bounds `as` would saturate instead of failing.
        if v.fract() != 0.0 || !(-9.223_372_036_854_776e18..1.844_674_407_370_955_2e19).contains(&v)
        {
            return Err(unexpected());
        }
        if v < 0.0 {
            T::try_from(v as i64).map_err(|_| unexpected())
        } else {
            T::try_from(v as u64).map_err(|_| unexpected())
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        v.parse()
            .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

/// `"NaN"`, `"Infinity"`, `"-Infinity"` for the non-finite values (serde_json writes `null`, which does not
/// read back), the number otherwise.
macro_rules! float {
    ($ty:ty, $write:ident) => {
        impl Codec<$ty> for Plain {
            fn is_default(value: &$ty) -> bool {
                *value == 0.0
            }
            fn serialize<S: Serializer>(value: &$ty, s: S) -> Result<S::Ok, S::Error> {
                let v = *value;
                if v.is_nan() {
                    s.serialize_str("NaN")
                } else if v == <$ty>::INFINITY {
                    s.serialize_str("Infinity")
                } else if v == <$ty>::NEG_INFINITY {
                    s.serialize_str("-Infinity")
                } else {
                    s.$write(v)
                }
            }
            fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                d.deserialize_any(FloatVisitor::<$ty>(PhantomData))
            }
        }
    };
}
float!(f64, serialize_f64);
float!(f32, serialize_f32);

struct FloatVisitor<T>(PhantomData<T>);

/// A float from a number, or from a string: `"NaN"`, `"Infinity"`, `"-Infinity"` or a number's text.
trait FromNumber: std::str::FromStr {
    fn from_f64(v: f64) -> Self;
}

impl FromNumber for f64 {
    fn from_f64(v: f64) -> Self {
        v
    }
}

impl FromNumber for f32 {
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

impl<'de, T: FromNumber> Visitor<'de> for FloatVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number, or a string holding one, \"NaN\", \"Infinity\" or \"-Infinity\"")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        Ok(T::from_f64(v as f64))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        Ok(T::from_f64(v as f64))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        Ok(T::from_f64(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        v.parse()
            .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

impl Codec<bool> for Plain {
    fn is_default(value: &bool) -> bool {
        !*value
    }
    fn serialize<S: Serializer>(value: &bool, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bool(*value)
    }
    fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        <bool as de::Deserialize>::deserialize(d)
    }
}

impl Codec<String> for Plain {
    fn is_default(value: &String) -> bool {
        value.is_empty()
    }
    fn serialize<S: Serializer>(value: &String, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(value)
    }
    fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        <String as de::Deserialize>::deserialize(d)
    }
}

/// `bytes` as `Vec<u8>` or as prost's `Bytes` (prost-build's `bytes` option).
macro_rules! bytes {
    ($ty:ty) => {
        impl Codec<$ty> for Plain {
            fn is_default(value: &$ty) -> bool {
                value.is_empty()
            }
            fn serialize<S: Serializer>(value: &$ty, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(value))
            }
            fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                d.deserialize_str(Base64Visitor).map(<$ty>::from)
            }
        }
    };
}
bytes!(Vec<u8>);
bytes!(prost::bytes::Bytes);

struct Base64Visitor;

impl<'de> Visitor<'de> for Base64Visitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a base64 string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
        use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
        const INDIFFERENT: GeneralPurposeConfig =
            GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
        const STANDARD: GeneralPurpose =
            GeneralPurpose::new(&base64::alphabet::STANDARD, INDIFFERENT);
        const URL_SAFE: GeneralPurpose =
            GeneralPurpose::new(&base64::alphabet::URL_SAFE, INDIFFERENT);
        // The mapping accepts either alphabet; `-` and `_` only occur in the URL-safe one.
        let alphabet = if v.contains(['-', '_']) {
            URL_SAFE
        } else {
            STANDARD
        };
        alphabet.decode(v).map_err(E::custom)
    }
}

impl Codec<Timestamp> for Plain {
    fn is_default(_: &Timestamp) -> bool {
        false
    }
    fn serialize<S: Serializer>(value: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        timestamp(value)
            .map_err(ser::Error::custom)
            .and_then(|text| s.serialize_str(&text))
    }
    fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        <Timestamp as de::Deserialize>::deserialize(d)
    }
}

impl Codec<FieldMask> for Plain {
    fn is_default(_: &FieldMask) -> bool {
        false
    }
    fn serialize<S: Serializer>(value: &FieldMask, s: S) -> Result<S::Ok, S::Error> {
        field_mask_to_json(&value.paths)
            .map_err(ser::Error::custom)
            .and_then(|text| s.serialize_str(&text))
    }
    fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<FieldMask, D::Error> {
        let text = <String as de::Deserialize>::deserialize(d)?;
        field_mask_from_json(&text)
            .map(|paths| FieldMask { paths })
            .map_err(de::Error::custom)
    }
}

impl<T: Serialize + DeserializeOwned> Codec<T> for Msg {
    fn is_default(_: &T) -> bool {
        // A message held directly (a oneof member, a list item) is always written.
        false
    }
    fn serialize<S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        value.serialize(s)
    }
    fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        T::deserialize(d)
    }
}

impl<E> Codec<i32> for Enum<E>
where
    E: TryFrom<i32> + Serialize + DeserializeOwned + Into<i32>,
{
    fn is_default(value: &i32) -> bool {
        *value == 0
    }
    fn serialize<S: Serializer>(value: &i32, s: S) -> Result<S::Ok, S::Error> {
        match E::try_from(*value) {
            Ok(known) => known.serialize(s),
            Err(_) => s.serialize_i32(*value),
        }
    }
    fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
        d.deserialize_any(EnumVisitor::<E>(PhantomData))
    }
}

struct EnumVisitor<E>(PhantomData<E>);

impl<'de, E: DeserializeOwned + Into<i32>> Visitor<'de> for EnumVisitor<E> {
    type Value = i32;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a name or number of {}", std::any::type_name::<E>())
    }

    fn visit_str<Er: de::Error>(self, v: &str) -> Result<i32, Er> {
        E::deserialize(de::value::StrDeserializer::<Er>::new(v)).map(Into::into)
    }

    fn visit_i64<Er: de::Error>(self, v: i64) -> Result<i32, Er> {
        i32::try_from(v).map_err(|_| Er::invalid_value(de::Unexpected::Signed(v), &self))
    }

    fn visit_u64<Er: de::Error>(self, v: u64) -> Result<i32, Er> {
        i32::try_from(v).map_err(|_| Er::invalid_value(de::Unexpected::Unsigned(v), &self))
    }

    /// `google.protobuf.NullValue` is written as `null`.
    fn visit_unit<Er: de::Error>(self) -> Result<i32, Er> {
        Ok(0)
    }
}

impl<C: Codec<T>, T> Codec<Option<T>> for Opt<C> {
    fn is_default(value: &Option<T>) -> bool {
        value.is_none()
    }
    fn serialize<S: Serializer>(value: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => C::serialize(v, s),
            None => s.serialize_none(),
        }
    }
    fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<T>, D::Error> {
        let value = <Option<DeWith<C, T>> as de::Deserialize>::deserialize(d)?;
        Ok(value.map(|v| v.0))
    }
}

impl<C: Codec<T>, T> Codec<Vec<T>> for Rep<C> {
    fn is_default(value: &Vec<T>) -> bool {
        value.is_empty()
    }
    fn serialize<S: Serializer>(value: &Vec<T>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(value.iter().map(|v| SerWith::<C, T>(v, PhantomData)))
    }
    fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<T>, D::Error> {
        let items = <Vec<DeWith<C, T>> as de::Deserialize>::deserialize(d)?;
        Ok(items.into_iter().map(|v| v.0).collect())
    }
}

/// A map key: every key type the mapping allows, written as a string.
pub trait MapKey: Sized {
    /// Writes the key as the mapping's string.
    fn serialize_key<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error>;
    /// Reads the key from the mapping's string.
    fn parse_key(text: &str) -> Result<Self, String>;
}

impl MapKey for String {
    fn serialize_key<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self)
    }
    fn parse_key(text: &str) -> Result<Self, String> {
        Ok(text.to_string())
    }
}

impl MapKey for bool {
    fn serialize_key<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if *self { "true" } else { "false" })
    }
    fn parse_key(text: &str) -> Result<Self, String> {
        match text {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!("map key `{text}` is not `true` or `false`")),
        }
    }
}

macro_rules! integer_key {
    ($($ty:ty),*) => {$(
        impl MapKey for $ty {
            fn serialize_key<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
            fn parse_key(text: &str) -> Result<Self, String> {
                text.parse()
                    .map_err(|_| format!("map key `{text}` is not a {}", stringify!($ty)))
            }
        }
    )*};
}
integer_key!(i32, i64, u32, u64);

struct KeyWith<'a, K>(&'a K);

impl<K: MapKey> Serialize for KeyWith<'_, K> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_key(s)
    }
}

struct KeyFrom<K>(K);

impl<'de, K: MapKey> de::Deserialize<'de> for KeyFrom<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor<K>(PhantomData<K>);
        impl<'de, K: MapKey> Visitor<'de> for KeyVisitor<K> {
            type Value = K;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<K, E> {
                K::parse_key(v).map_err(E::custom)
            }
        }
        d.deserialize_str(KeyVisitor(PhantomData)).map(KeyFrom)
    }
}

/// Writes a map field (a `HashMap` or a `BTreeMap`) as a JSON object.
fn serialize_map<'a, M, K, V, C, S>(map: &'a M, s: S) -> Result<S::Ok, S::Error>
where
    &'a M: IntoIterator<Item = (&'a K, &'a V)>,
    K: MapKey + 'a,
    V: 'a,
    C: Codec<V>,
    S: Serializer,
{
    s.collect_map(
        map.into_iter()
            .map(|(k, v)| (KeyWith(k), SerWith::<C, V>(v, PhantomData))),
    )
}

/// Reads a map field (a `HashMap` or a `BTreeMap`) from a JSON object.
fn deserialize_map<'de, M, K, V, C, D>(d: D) -> Result<M, D::Error>
where
    M: Default + Extend<(K, V)>,
    K: MapKey,
    C: Codec<V>,
    D: Deserializer<'de>,
{
    struct MapVisitor<M, K, V, C>(PhantomData<(M, K, V, C)>);
    impl<'de, M, K, V, C> Visitor<'de> for MapVisitor<M, K, V, C>
    where
        M: Default + Extend<(K, V)>,
        K: MapKey,
        C: Codec<V>,
    {
        type Value = M;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut access: A) -> Result<M, A::Error> {
            let mut map = M::default();
            while let Some((KeyFrom(k), DeWith(v, _))) =
                access.next_entry::<KeyFrom<K>, DeWith<C, V>>()?
            {
                map.extend([(k, v)]);
            }
            Ok(map)
        }
    }
    d.deserialize_map(MapVisitor::<M, K, V, C>(PhantomData))
}

impl<C, K, V, H> Codec<HashMap<K, V, H>> for Map<C>
where
    C: Codec<V>,
    K: MapKey + Eq + Hash,
    H: BuildHasher + Default,
{
    fn is_default(value: &HashMap<K, V, H>) -> bool {
        value.is_empty()
    }
    fn serialize<S: Serializer>(value: &HashMap<K, V, H>, s: S) -> Result<S::Ok, S::Error> {
        serialize_map::<_, K, V, C, S>(value, s)
    }
    fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<HashMap<K, V, H>, D::Error> {
        deserialize_map::<_, K, V, C, D>(d)
    }
}

impl<C, K, V> Codec<BTreeMap<K, V>> for Map<C>
where
    C: Codec<V>,
    K: MapKey + Ord,
{
    fn is_default(value: &BTreeMap<K, V>) -> bool {
        value.is_empty()
    }
    fn serialize<S: Serializer>(value: &BTreeMap<K, V>, s: S) -> Result<S::Ok, S::Error> {
        serialize_map::<_, K, V, C, S>(value, s)
    }
    fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<K, V>, D::Error> {
        deserialize_map::<_, K, V, C, D>(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to_json<C: Codec<T>, T>(_: C, value: &T) -> String {
        serde_json::to_string(&SerWith::<C, T>(value, PhantomData)).unwrap()
    }

    fn from_json<C: Codec<T>, T>(_: C, json: &str) -> Result<T, serde_json::Error> {
        serde_json::from_str::<DeWith<C, T>>(json).map(|v| v.0)
    }

    #[test]
    fn integers() {
        assert_eq!(to_json(Plain, &-5i32), "-5");
        assert_eq!(to_json(Plain, &i64::MIN), "\"-9223372036854775808\"");
        assert_eq!(to_json(Plain, &u64::MAX), "\"18446744073709551615\"");
        assert_eq!(from_json::<_, i32>(Plain, "\"-7\"").unwrap(), -7);
        assert_eq!(from_json::<_, i32>(Plain, "1e2").unwrap(), 100);
        assert_eq!(
            from_json::<_, u64>(Plain, "18446744073709551615").unwrap(),
            u64::MAX
        );
        assert!(from_json::<_, i32>(Plain, "1.5").is_err());
        assert!(from_json::<_, u32>(Plain, "-1").is_err());
        assert!(from_json::<_, i32>(Plain, "4294967296").is_err());
    }

    #[test]
    fn floats() {
        assert_eq!(to_json(Plain, &f64::NAN), "\"NaN\"");
        assert_eq!(to_json(Plain, &f32::NEG_INFINITY), "\"-Infinity\"");
        assert_eq!(to_json(Plain, &1.5f64), "1.5");
        assert_eq!(
            to_json(Rep(Plain), &vec![f64::INFINITY, 0.0]),
            "[\"Infinity\",0.0]"
        );
        assert!(from_json::<_, f64>(Plain, "\"NaN\"").unwrap().is_nan());
        assert_eq!(
            from_json::<_, f32>(Plain, "\"-Infinity\"").unwrap(),
            f32::NEG_INFINITY
        );
        assert_eq!(from_json::<_, f64>(Plain, "\"2.5\"").unwrap(), 2.5);
    }

    #[test]
    fn bytes_in_both_alphabets() {
        assert_eq!(
            to_json(Plain, &vec![0u8, 1, 2, 0xfb, 0xff, 0xfe]),
            "\"AAEC+//+\""
        );
        assert_eq!(
            from_json::<_, Vec<u8>>(Plain, "\"AAEC+//+\"").unwrap(),
            [0, 1, 2, 0xfb, 0xff, 0xfe]
        );
        assert_eq!(
            from_json::<_, Vec<u8>>(Plain, "\"AAEC-__-\"").unwrap(),
            [0, 1, 2, 0xfb, 0xff, 0xfe]
        );
        assert_eq!(from_json::<_, Vec<u8>>(Plain, "\"AQ\"").unwrap(), [1]);
    }

    #[test]
    fn maps_have_string_keys() {
        let map: BTreeMap<i64, f32> = [(-3, f32::NAN), (4, 1.0)].into();
        assert_eq!(to_json(Map(Plain), &map), "{\"-3\":\"NaN\",\"4\":1.0}");
        let back: BTreeMap<i64, f32> = from_json(Map(Plain), "{\"-3\":2,\"4\":1.0}").unwrap();
        assert_eq!(back, [(-3, 2.0), (4, 1.0)].into());
        let flags: HashMap<bool, String> = from_json(Map(Plain), "{\"true\":\"y\"}").unwrap();
        assert_eq!(flags[&true], "y");
        assert!(from_json::<_, HashMap<bool, String>>(Map(Plain), "{\"yes\":\"y\"}").is_err());
    }

    #[test]
    fn well_known_types_this_crate_writes() {
        let ts = Timestamp {
            seconds: -1,
            nanos: 500_000_000,
        };
        assert_eq!(
            to_json(Opt(Plain), &Some(ts)),
            "\"1969-12-31T23:59:59.500Z\""
        );
        let mask = FieldMask {
            paths: vec!["user_id".into(), "a.b_c".into()],
        };
        assert_eq!(to_json(Plain, &mask), "\"userId,a.bC\"");
        let back: FieldMask = from_json(Plain, "\"fooBar\"").unwrap();
        assert_eq!(back.paths, ["foo_bar"]);
    }
}
