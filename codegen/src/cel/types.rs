//! CEL's types as the compiler checks them, and how a schema's field types map onto them.

use crate::ir::{FieldType, Scalar, WellKnown};
use std::fmt;

/// The static type of a CEL expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    /// `bool`
    Bool,
    /// `int` (64-bit signed; protobuf's int32, sint32, sfixed32, int64, … and enums)
    Int,
    /// `uint` (64-bit unsigned; uint32, fixed32, uint64, fixed64)
    Uint,
    /// `double` (float and double)
    Double,
    /// `string`
    String,
    /// `bytes`
    Bytes,
    /// `google.protobuf.Duration`
    Duration,
    /// `google.protobuf.Timestamp`
    Timestamp,
    /// `null_type`
    Null,
    /// `list(T)`
    List(Box<Type>),
    /// `map(K, V)`
    Map(Box<Type>, Box<Type>),
    /// A message of the schema, by full name.
    Message(String),
    /// The element type of an empty list literal: fits any element type.
    Dyn,
}

impl Type {
    /// Whether values of the two types can be compared for equality: the same type, or `Dyn` on either side.
    pub fn unifies(&self, other: &Type) -> bool {
        match (self, other) {
            (Type::Dyn, _) | (_, Type::Dyn) => true,
            (Type::List(a), Type::List(b)) => a.unifies(b),
            (Type::Map(ka, va), Type::Map(kb, vb)) => ka.unifies(kb) && va.unifies(vb),
            (a, b) => a == b,
        }
    }

    /// Whether the type is one of CEL's three numeric types.
    pub fn is_numeric(&self) -> bool {
        matches!(self, Type::Int | Type::Uint | Type::Double)
    }

    /// The type CEL reads a value of protobuf type `ty` as (an enum is an `int`, a wrapper its scalar).
    pub fn of_value(ty: &FieldType) -> Type {
        match ty {
            FieldType::Scalar(s) => Type::of_scalar(*s),
            FieldType::Enum(_) => Type::Int,
            FieldType::WellKnown(w) => match w {
                WellKnown::Timestamp => Type::Timestamp,
                WellKnown::Duration => Type::Duration,
                wrapper => Type::of_scalar(wrapper.wrapped().expect("a wrapper type")),
            },
            FieldType::Message(m) => Type::Message(m.clone()),
        }
    }

    /// The type CEL reads a scalar as.
    pub fn of_scalar(s: Scalar) -> Type {
        match s {
            Scalar::Double | Scalar::Float => Type::Double,
            Scalar::Int32
            | Scalar::Int64
            | Scalar::Sint32
            | Scalar::Sint64
            | Scalar::Sfixed32
            | Scalar::Sfixed64 => Type::Int,
            Scalar::Uint32 | Scalar::Uint64 | Scalar::Fixed32 | Scalar::Fixed64 => Type::Uint,
            Scalar::Bool => Type::Bool,
            Scalar::String => Type::String,
            Scalar::Bytes => Type::Bytes,
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Bool => f.write_str("bool"),
            Type::Int => f.write_str("int"),
            Type::Uint => f.write_str("uint"),
            Type::Double => f.write_str("double"),
            Type::String => f.write_str("string"),
            Type::Bytes => f.write_str("bytes"),
            Type::Duration => f.write_str("google.protobuf.Duration"),
            Type::Timestamp => f.write_str("google.protobuf.Timestamp"),
            Type::Null => f.write_str("null_type"),
            Type::List(t) => write!(f, "list({t})"),
            Type::Map(k, v) => write!(f, "map({k}, {v})"),
            Type::Message(m) => f.write_str(m),
            Type::Dyn => f.write_str("dyn"),
        }
    }
}
