//! What a field holds: its scalar, enum, well-known or message type, and its label (presence, repeated, map).

/// The type of a field's value.
///
/// `Name` is how enum and message types are named: the code generator's IR keeps their names
/// (`FieldType<String>`: the fully qualified proto name, or the Rust path on the derive path), the runtime's static
/// schema does not (`FieldType<()>`, the default), since the column layout and the runtime never need them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
pub enum FieldType<Name = ()> {
    /// A protobuf scalar.
    Scalar(Scalar),
    /// An enum, by name (see the type's documentation).
    Enum(Name),
    /// A well-known type that maps to one column.
    WellKnown(WellKnown),
    /// Any other message, by name (see the type's documentation).
    Message(Name),
}

impl<Name> FieldType<Name> {
    /// Whether a value of this type fits one indexable column: a scalar, an enum or a single-column
    /// well-known type.
    pub fn is_indexable(&self) -> bool {
        !matches!(self, FieldType::Message(_))
    }

    /// The same type without the name of its enum or message (what the runtime's schema records).
    pub fn unnamed(&self) -> FieldType {
        match self {
            FieldType::Scalar(s) => FieldType::Scalar(*s),
            FieldType::Enum(_) => FieldType::Enum(()),
            FieldType::WellKnown(w) => FieldType::WellKnown(*w),
            FieldType::Message(_) => FieldType::Message(()),
        }
    }
}

/// How many values a field holds and whether it tracks presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
pub enum Label {
    /// proto3 implicit presence: the zero value is "not set".
    Implicit,
    /// Explicit presence: proto2 `optional`, proto3 `optional`, a message field, a oneof member.
    Optional,
    /// proto2 `required`.
    Required,
    /// `repeated`.
    Repeated,
    /// `map<K, V>`; the field's type is the value type.
    Map {
        /// The key type.
        key: Scalar,
    },
}

impl Label {
    /// Whether the field holds a collection (repeated or map), stored as one array or JSON column.
    pub fn is_collection(&self) -> bool {
        matches!(self, Label::Repeated | Label::Map { .. })
    }
}

/// Protobuf scalar types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
#[allow(missing_docs)] // The variants are protobuf's scalar types, named as `descriptor.proto` names them.
pub enum Scalar {
    Double,
    Float,
    Int32,
    Int64,
    Uint32,
    Uint64,
    Sint32,
    Sint64,
    Fixed32,
    Fixed64,
    Sfixed32,
    Sfixed64,
    Bool,
    String,
    Bytes,
}

impl Scalar {
    /// Every scalar, in `descriptor.proto` order.
    pub const ALL: [Scalar; 15] = [
        Scalar::Double,
        Scalar::Float,
        Scalar::Int32,
        Scalar::Int64,
        Scalar::Uint32,
        Scalar::Uint64,
        Scalar::Sint32,
        Scalar::Sint64,
        Scalar::Fixed32,
        Scalar::Fixed64,
        Scalar::Sfixed32,
        Scalar::Sfixed64,
        Scalar::Bool,
        Scalar::String,
        Scalar::Bytes,
    ];

    /// The proto keyword (`int64`), which is also prost's attribute name.
    pub fn proto_name(self) -> &'static str {
        match self {
            Scalar::Double => "double",
            Scalar::Float => "float",
            Scalar::Int32 => "int32",
            Scalar::Int64 => "int64",
            Scalar::Uint32 => "uint32",
            Scalar::Uint64 => "uint64",
            Scalar::Sint32 => "sint32",
            Scalar::Sint64 => "sint64",
            Scalar::Fixed32 => "fixed32",
            Scalar::Fixed64 => "fixed64",
            Scalar::Sfixed32 => "sfixed32",
            Scalar::Sfixed64 => "sfixed64",
            Scalar::Bool => "bool",
            Scalar::String => "string",
            Scalar::Bytes => "bytes",
        }
    }

    /// The scalar a proto keyword names.
    pub fn from_proto_name(name: &str) -> Option<Scalar> {
        Scalar::ALL.into_iter().find(|s| s.proto_name() == name)
    }
}

/// Well-known types that are stored in one column, so they may be indexed or be a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
#[allow(missing_docs)] // The variants are the `google.protobuf` messages of the same name.
pub enum WellKnown {
    Timestamp,
    Duration,
    DoubleValue,
    FloatValue,
    Int64Value,
    Uint64Value,
    Int32Value,
    Uint32Value,
    BoolValue,
    StringValue,
    BytesValue,
}

impl WellKnown {
    /// Every single-column well-known type.
    pub const ALL: [WellKnown; 11] = [
        WellKnown::Timestamp,
        WellKnown::Duration,
        WellKnown::DoubleValue,
        WellKnown::FloatValue,
        WellKnown::Int64Value,
        WellKnown::Uint64Value,
        WellKnown::Int32Value,
        WellKnown::Uint32Value,
        WellKnown::BoolValue,
        WellKnown::StringValue,
        WellKnown::BytesValue,
    ];

    /// The message name inside `google.protobuf` (`Timestamp`).
    pub fn name(self) -> &'static str {
        match self {
            WellKnown::Timestamp => "Timestamp",
            WellKnown::Duration => "Duration",
            WellKnown::DoubleValue => "DoubleValue",
            WellKnown::FloatValue => "FloatValue",
            WellKnown::Int64Value => "Int64Value",
            WellKnown::Uint64Value => "UInt64Value",
            WellKnown::Int32Value => "Int32Value",
            WellKnown::Uint32Value => "UInt32Value",
            WellKnown::BoolValue => "BoolValue",
            WellKnown::StringValue => "StringValue",
            WellKnown::BytesValue => "BytesValue",
        }
    }

    /// The Rust variant name (`Uint64Value`, where [`name`](Self::name) is protobuf's `UInt64Value`), as
    /// generated code spells it.
    pub fn variant_name(self) -> &'static str {
        match self {
            WellKnown::Uint64Value => "Uint64Value",
            WellKnown::Uint32Value => "Uint32Value",
            other => other.name(),
        }
    }

    /// The single-column well-known type with this message name (`Timestamp`, `UInt64Value`).
    pub fn from_name(name: &str) -> Option<WellKnown> {
        WellKnown::ALL.into_iter().find(|w| w.name() == name)
    }

    /// The single-column well-known type with this fully qualified proto name (`google.protobuf.Timestamp`).
    pub fn from_full_name(full_name: &str) -> Option<WellKnown> {
        full_name
            .strip_prefix("google.protobuf.")
            .and_then(WellKnown::from_name)
    }

    /// The scalar a wrapper type (`Int64Value`…) wraps; `None` for Timestamp and Duration.
    pub fn wrapped(self) -> Option<Scalar> {
        Some(match self {
            WellKnown::DoubleValue => Scalar::Double,
            WellKnown::FloatValue => Scalar::Float,
            WellKnown::Int64Value => Scalar::Int64,
            WellKnown::Uint64Value => Scalar::Uint64,
            WellKnown::Int32Value => Scalar::Int32,
            WellKnown::Uint32Value => Scalar::Uint32,
            WellKnown::BoolValue => Scalar::Bool,
            WellKnown::StringValue => Scalar::String,
            WellKnown::BytesValue => Scalar::Bytes,
            WellKnown::Timestamp | WellKnown::Duration => return None,
        })
    }
}
