//! Messages and enums in the proto3 JSON mapping: the serde logic, written once, over a table each generated
//! message supplies ([`Message`]).
//!
//! Generated code implements [`Message`] (the message's name, its fields' JSON and proto names, and two small
//! functions that hand each field to a [`Writer`] or take it from a [`Reader`] with its [codec](super::codec))
//! and then invokes [`messages!`](crate::json::messages) and [`enums!`](crate::json::enums), which implement
//! `Serialize` and `Deserialize` by calling [`serialize_message`], [`deserialize_message`] and
//! [`deserialize_enum`].
//!
//! What the mapping says and these functions do: a field is written under its JSON name (lowerCamel) and read
//! under it or its proto name; fields without presence are left out when they hold their default, fields with
//! presence when unset; a oneof member is written whenever it is set. Reading, `null` leaves a field at its
//! default, an unknown or repeated field name and a second member of one oneof are errors.

use super::codec::{Codec, DeWith, SerWith};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeStruct, Serializer};
use std::convert::Infallible;
use std::fmt;
use std::marker::PhantomData;

/// A field of a message's table: the names it is written and read under.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The name it is written under: the field's `json_name` (lowerCamel unless the schema sets it).
    pub json: &'static str,
    /// The proto name, which reading accepts too.
    pub proto: &'static str,
}

impl Field {
    /// A field written as `json` and declared as `proto`.
    pub const fn new(json: &'static str, proto: &'static str) -> Self {
        Field { json, proto }
    }

    /// A field whose JSON name is its proto name (`id`, `name`).
    pub const fn same(name: &'static str) -> Self {
        Field {
            json: name,
            proto: name,
        }
    }
}

/// A message's table for the proto3 JSON mapping. Implemented by generated code.
pub trait Message: Default {
    /// The message's full proto name (`app.v1.User`), for error messages and `serialize_struct`.
    const NAME: &'static str;
    /// Its fields, oneof members included; [`Message::write`] and [`Message::read`] refer to them by index.
    const FIELDS: &'static [Field];

    /// Hands every field to `w`: [`Writer::field`] for fields (left out when default or unset),
    /// [`Writer::member`] for a set oneof member and a proto2 `required` field (always written).
    fn write<W: Writer>(&self, w: &mut W) -> Result<(), W::Error>;

    /// Reads field `index` (of [`Message::FIELDS`]) from `r` into `self`.
    fn read<'de, R: Reader<'de>>(&mut self, index: usize, r: R) -> Result<(), R::Error>;
}

/// Where [`Message::write`] sends a message's fields.
pub trait Writer {
    /// Why writing failed.
    type Error;

    /// Field `index`, written through codec `C` unless the codec calls its value a default.
    fn field<C: Codec<T>, T>(
        &mut self,
        index: usize,
        codec: C,
        value: &T,
    ) -> Result<(), Self::Error>;

    /// Field `index`, always written: a set oneof member, a proto2 `required` field.
    fn member<C: Codec<T>, T>(
        &mut self,
        index: usize,
        codec: C,
        value: &T,
    ) -> Result<(), Self::Error>;
}

/// Where [`Message::read`] takes one field's value from.
pub trait Reader<'de> {
    /// Why reading failed.
    type Error;

    /// Reads the field into `slot` through codec `C`; `null` leaves `slot` as it is.
    fn field<C: Codec<T>, T>(self, codec: C, slot: &mut T) -> Result<(), Self::Error>;

    /// Reads a oneof member into the oneof's `slot` as `variant(value)`; `null` leaves the oneof unset. Fails if
    /// another member was set already.
    fn member<C: Codec<T>, T, O>(
        self,
        codec: C,
        slot: &mut Option<O>,
        variant: impl FnOnce(T) -> O,
    ) -> Result<(), Self::Error>;
}

/// Counts the fields [`Message::write`] will write, for `serialize_struct`'s length.
struct Count(usize);

impl Writer for Count {
    type Error = Infallible;

    fn field<C: Codec<T>, T>(&mut self, _: usize, _: C, value: &T) -> Result<(), Infallible> {
        self.0 += usize::from(!C::is_default(value));
        Ok(())
    }

    fn member<C: Codec<T>, T>(&mut self, _: usize, _: C, _: &T) -> Result<(), Infallible> {
        self.0 += 1;
        Ok(())
    }
}

/// Writes fields into a serde struct under their JSON names.
struct StructWriter<'a, M, S>(S, PhantomData<&'a M>);

impl<M: Message, S: SerializeStruct> Writer for StructWriter<'_, M, S> {
    type Error = S::Error;

    fn field<C: Codec<T>, T>(&mut self, index: usize, codec: C, value: &T) -> Result<(), S::Error> {
        if C::is_default(value) {
            return Ok(());
        }
        self.member(index, codec, value)
    }

    fn member<C: Codec<T>, T>(&mut self, index: usize, _: C, value: &T) -> Result<(), S::Error> {
        self.0
            .serialize_field(M::FIELDS[index].json, &SerWith::<C, T>(value, PhantomData))
    }
}

/// `Serialize` for a generated message: a JSON object of its fields that are set.
pub fn serialize_message<M: Message, S: Serializer>(message: &M, s: S) -> Result<S::Ok, S::Error> {
    let mut count = Count(0);
    let Ok(()) = message.write(&mut count);
    let mut writer = StructWriter::<M, _>(s.serialize_struct(M::NAME, count.0)?, PhantomData);
    message.write(&mut writer)?;
    writer.0.end()
}

/// `Deserialize` for a generated message: from a JSON object.
pub fn deserialize_message<'de, M: Message, D: Deserializer<'de>>(d: D) -> Result<M, D::Error> {
    d.deserialize_map(MessageVisitor::<M>(PhantomData))
}

struct MessageVisitor<M>(PhantomData<M>);

impl<'de, M: Message> Visitor<'de> for MessageVisitor<M> {
    type Value = M;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a JSON object for message {}", M::NAME)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<M, A::Error> {
        let mut message = M::default();
        let mut seen = Seen::new(M::FIELDS.len());
        while let Some(FieldIndex(index, _)) = map.next_key::<FieldIndex<M>>()? {
            if !seen.insert(index) {
                return Err(de::Error::duplicate_field(M::FIELDS[index].json));
            }
            message.read(
                index,
                MapValue {
                    map: &mut map,
                    name: M::FIELDS[index].json,
                },
            )?;
        }
        Ok(message)
    }
}

/// The fields read so far, to refuse a field named twice.
enum Seen {
    Few(u64),
    Many(Vec<bool>),
}

impl Seen {
    fn new(fields: usize) -> Self {
        if fields <= 64 {
            Seen::Few(0)
        } else {
            Seen::Many(vec![false; fields])
        }
    }

    /// Marks `index` seen; false if it was already.
    fn insert(&mut self, index: usize) -> bool {
        match self {
            Seen::Few(bits) => {
                let bit = 1u64 << index;
                let new = *bits & bit == 0;
                *bits |= bit;
                new
            }
            Seen::Many(seen) => !std::mem::replace(&mut seen[index], true),
        }
    }
}

/// A field name read as the field's index in `M::FIELDS`, by JSON name or proto name.
struct FieldIndex<M>(usize, PhantomData<M>);

impl<'de, M: Message> de::Deserialize<'de> for FieldIndex<M> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(FieldNameVisitor::<M>(PhantomData))
    }
}

struct FieldNameVisitor<M>(PhantomData<M>);

impl<'de, M: Message> Visitor<'de> for FieldNameVisitor<M> {
    type Value = FieldIndex<M>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a field name of message {}", M::NAME)
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<FieldIndex<M>, E> {
        M::FIELDS
            .iter()
            .position(|f| f.json == name)
            .or_else(|| M::FIELDS.iter().position(|f| f.proto == name))
            .map(|index| FieldIndex(index, PhantomData))
            .ok_or_else(|| E::custom(format_args!("unknown field `{name}` in {}", M::NAME)))
    }
}

/// The value of the map entry whose key was just read.
struct MapValue<'a, A> {
    map: &'a mut A,
    /// The field's JSON name, for errors.
    name: &'static str,
}

impl<'de, A: MapAccess<'de>> Reader<'de> for MapValue<'_, A> {
    type Error = A::Error;

    fn field<C: Codec<T>, T>(self, _: C, slot: &mut T) -> Result<(), A::Error> {
        if let Some(DeWith(value, _)) = self.map.next_value::<Option<DeWith<C, T>>>()? {
            *slot = value;
        }
        Ok(())
    }

    fn member<C: Codec<T>, T, O>(
        self,
        _: C,
        slot: &mut Option<O>,
        variant: impl FnOnce(T) -> O,
    ) -> Result<(), A::Error> {
        if slot.is_some() {
            return Err(de::Error::duplicate_field(self.name));
        }
        if let Some(DeWith(value, _)) = self.map.next_value::<Option<DeWith<C, T>>>()? {
            *slot = Some(variant(value));
        }
        Ok(())
    }
}

/// `Deserialize` for a generated enum: from its name (`from_name` is prost's `from_str_name`) or its number,
/// which must be one of its values (a field of the enum's type keeps unknown numbers: see [`super::Enum`]).
pub fn deserialize_enum<'de, E, D>(d: D, from_name: fn(&str) -> Option<E>) -> Result<E, D::Error>
where
    E: TryFrom<i32>,
    D: Deserializer<'de>,
{
    struct EnumVisitor<E>(fn(&str) -> Option<E>);
    impl<'de, E: TryFrom<i32>> Visitor<'de> for EnumVisitor<E> {
        type Value = E;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a name or number of {}", std::any::type_name::<E>())
        }
        fn visit_str<Er: de::Error>(self, v: &str) -> Result<E, Er> {
            (self.0)(v).ok_or_else(|| Er::invalid_value(de::Unexpected::Str(v), &self))
        }
        fn visit_i64<Er: de::Error>(self, v: i64) -> Result<E, Er> {
            i32::try_from(v)
                .ok()
                .and_then(|n| E::try_from(n).ok())
                .ok_or_else(|| Er::invalid_value(de::Unexpected::Signed(v), &self))
        }
        fn visit_u64<Er: de::Error>(self, v: u64) -> Result<E, Er> {
            i32::try_from(v)
                .ok()
                .and_then(|n| E::try_from(n).ok())
                .ok_or_else(|| Er::invalid_value(de::Unexpected::Unsigned(v), &self))
        }
    }
    d.deserialize_any(EnumVisitor(from_name))
}

/// Implements `Serialize` and `Deserialize` for generated messages, each of which implements
/// [`Message`]: `messages!(User, user::Address);`.
#[macro_export]
macro_rules! __capacitor_json_messages {
    ($($message:ty),* $(,)?) => {$(
        impl $crate::json::__serde::Serialize for $message {
            fn serialize<S: $crate::json::__serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::core::result::Result<S::Ok, S::Error> {
                $crate::json::serialize_message(self, serializer)
            }
        }
        impl<'de> $crate::json::__serde::Deserialize<'de> for $message {
            fn deserialize<D: $crate::json::__serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::core::result::Result<Self, D::Error> {
                $crate::json::deserialize_message(deserializer)
            }
        }
    )*};
}

/// Implements `Serialize` (the value's name) and `Deserialize` (from a name or a number) for prost enums,
/// through the `as_str_name` and `from_str_name` prost-build gives each: `enums!(Color, user::Kind);`.
#[macro_export]
macro_rules! __capacitor_json_enums {
    ($($enum:ty),* $(,)?) => {$(
        impl $crate::json::__serde::Serialize for $enum {
            fn serialize<S: $crate::json::__serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::core::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str_name())
            }
        }
        impl<'de> $crate::json::__serde::Deserialize<'de> for $enum {
            fn deserialize<D: $crate::json::__serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::core::result::Result<Self, D::Error> {
                $crate::json::deserialize_enum(deserializer, <$enum>::from_str_name)
            }
        }
    )*};
}
