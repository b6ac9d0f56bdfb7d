//! The `buf.validate` rule vocabulary: every rules message, its fields' names, numbers and types, as
//! declared by protovalidate's `buf/validate/validate.proto` (package `buf.validate`).
//!
//! The validator emitter reads it to build rule paths (`string.max_len` → fields 14 and 3) and to know which
//! rules a field type accepts; the derive front end reads it to map attribute names onto the same rules.
//! It depends on nothing proto-specific, so it builds with the `proto` feature off.

use crate::ir::Scalar;

/// The type of one field of a rules message, as protobuf declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleType {
    /// A scalar (`bool`, `int32`, `string`, …): the IR's own scalar type.
    Scalar(Scalar),
    /// An enum (`Ignore`, `KnownRegex`).
    Enum,
    /// Another rules message, by name inside `buf.validate` (`StringRules`).
    Message(&'static str),
    /// `google.protobuf.Duration`.
    Duration,
    /// `google.protobuf.Timestamp`.
    Timestamp,
    /// `google.protobuf.FieldMask`.
    FieldMask,
}

impl RuleType {
    /// The `google.protobuf.FieldDescriptorProto.Type` number of the field.
    pub fn descriptor_type(self) -> i32 {
        match self {
            RuleType::Scalar(s) => scalar_descriptor_type(s),
            RuleType::Message(_)
            | RuleType::Duration
            | RuleType::Timestamp
            | RuleType::FieldMask => 11,
            RuleType::Enum => 14,
        }
    }
}

/// The `google.protobuf.FieldDescriptorProto.Type` number of a scalar field.
pub fn scalar_descriptor_type(scalar: Scalar) -> i32 {
    match scalar {
        Scalar::Double => 1,
        Scalar::Float => 2,
        Scalar::Int64 => 3,
        Scalar::Uint64 => 4,
        Scalar::Int32 => 5,
        Scalar::Fixed64 => 6,
        Scalar::Fixed32 => 7,
        Scalar::Bool => 8,
        Scalar::String => 9,
        Scalar::Bytes => 12,
        Scalar::Uint32 => 13,
        Scalar::Sfixed32 => 15,
        Scalar::Sfixed64 => 16,
        Scalar::Sint32 => 17,
        Scalar::Sint64 => 18,
    }
}

/// One field of a rules message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleField {
    /// The field's name (`max_len`).
    pub name: &'static str,
    /// The field's number in its rules message.
    pub number: i32,
    /// The field's type.
    pub ty: RuleType,
    /// Whether the field is repeated (`in`, `not_in`, `cel`).
    pub repeated: bool,
}

macro_rules! fields {
    ($($name:literal = $number:literal : $ty:expr $(, $rep:ident)?;)*) => {
        &[$(RuleField { name: $name, number: $number, ty: $ty, repeated: fields!(@rep $($rep)?) },)*]
    };
    (@rep) => { false };
    (@rep repeated) => { true };
}

use RuleType as T;
use Scalar as S;

macro_rules! numeric {
    ($t:expr, $example:literal) => {
        fields! {
            "const" = 1: $t; "lt" = 2: $t; "lte" = 3: $t; "gt" = 4: $t; "gte" = 5: $t;
            "in" = 6: $t, repeated; "not_in" = 7: $t, repeated; "example" = $example: $t, repeated;
        }
    };
}

macro_rules! floating {
    ($t:expr) => {
        fields! {
            "const" = 1: $t; "lt" = 2: $t; "lte" = 3: $t; "gt" = 4: $t; "gte" = 5: $t;
            "in" = 6: $t, repeated; "not_in" = 7: $t, repeated; "finite" = 8: T::Scalar(S::Bool);
            "example" = 9: $t, repeated;
        }
    };
}

/// `FieldRules`: the rules of one field.
pub const FIELD_RULES: &[RuleField] = fields! {
    "float" = 1: T::Message("FloatRules"); "double" = 2: T::Message("DoubleRules");
    "int32" = 3: T::Message("Int32Rules"); "int64" = 4: T::Message("Int64Rules");
    "uint32" = 5: T::Message("UInt32Rules"); "uint64" = 6: T::Message("UInt64Rules");
    "sint32" = 7: T::Message("SInt32Rules"); "sint64" = 8: T::Message("SInt64Rules");
    "fixed32" = 9: T::Message("Fixed32Rules"); "fixed64" = 10: T::Message("Fixed64Rules");
    "sfixed32" = 11: T::Message("SFixed32Rules"); "sfixed64" = 12: T::Message("SFixed64Rules");
    "bool" = 13: T::Message("BoolRules"); "string" = 14: T::Message("StringRules");
    "bytes" = 15: T::Message("BytesRules"); "enum" = 16: T::Message("EnumRules");
    "repeated" = 18: T::Message("RepeatedRules"); "map" = 19: T::Message("MapRules");
    "any" = 20: T::Message("AnyRules"); "duration" = 21: T::Message("DurationRules");
    "timestamp" = 22: T::Message("TimestampRules");
    "field_mask" = 28: T::Message("FieldMaskRules");
    "cel" = 23: T::Message("Rule"), repeated; "cel_expression" = 29: T::Scalar(S::String), repeated;
    "required" = 25: T::Scalar(S::Bool); "ignore" = 27: T::Enum;
};

/// The fields of the rules message named `message` (`StringRules`), or `None` for a name outside the vocabulary.
pub fn rules_message(message: &str) -> Option<&'static [RuleField]> {
    Some(match message {
        "FieldRules" => FIELD_RULES,
        "FloatRules" => floating!(T::Scalar(S::Float)),
        "DoubleRules" => floating!(T::Scalar(S::Double)),
        "Int32Rules" => numeric!(T::Scalar(S::Int32), 8),
        "Int64Rules" => numeric!(T::Scalar(S::Int64), 9),
        "UInt32Rules" => numeric!(T::Scalar(S::Uint32), 8),
        "UInt64Rules" => numeric!(T::Scalar(S::Uint64), 8),
        "SInt32Rules" => numeric!(T::Scalar(S::Sint32), 8),
        "SInt64Rules" => numeric!(T::Scalar(S::Sint64), 8),
        "Fixed32Rules" => numeric!(T::Scalar(S::Fixed32), 8),
        "Fixed64Rules" => numeric!(T::Scalar(S::Fixed64), 8),
        "SFixed32Rules" => numeric!(T::Scalar(S::Sfixed32), 8),
        "SFixed64Rules" => numeric!(T::Scalar(S::Sfixed64), 8),
        "BoolRules" => {
            fields! { "const" = 1: T::Scalar(S::Bool); "example" = 2: T::Scalar(S::Bool), repeated; }
        }
        "StringRules" => fields! {
            "const" = 1: T::Scalar(S::String); "min_len" = 2: T::Scalar(S::Uint64); "max_len" = 3: T::Scalar(S::Uint64);
            "min_bytes" = 4: T::Scalar(S::Uint64); "max_bytes" = 5: T::Scalar(S::Uint64); "pattern" = 6: T::Scalar(S::String);
            "prefix" = 7: T::Scalar(S::String); "suffix" = 8: T::Scalar(S::String); "contains" = 9: T::Scalar(S::String);
            "in" = 10: T::Scalar(S::String), repeated; "not_in" = 11: T::Scalar(S::String), repeated;
            "email" = 12: T::Scalar(S::Bool); "hostname" = 13: T::Scalar(S::Bool); "ip" = 14: T::Scalar(S::Bool); "ipv4" = 15: T::Scalar(S::Bool);
            "ipv6" = 16: T::Scalar(S::Bool); "uri" = 17: T::Scalar(S::Bool); "uri_ref" = 18: T::Scalar(S::Bool); "len" = 19: T::Scalar(S::Uint64);
            "len_bytes" = 20: T::Scalar(S::Uint64); "address" = 21: T::Scalar(S::Bool); "uuid" = 22: T::Scalar(S::Bool);
            "not_contains" = 23: T::Scalar(S::String); "well_known_regex" = 24: T::Enum; "strict" = 25: T::Scalar(S::Bool);
            "ip_with_prefixlen" = 26: T::Scalar(S::Bool); "ipv4_with_prefixlen" = 27: T::Scalar(S::Bool);
            "ipv6_with_prefixlen" = 28: T::Scalar(S::Bool); "ip_prefix" = 29: T::Scalar(S::Bool); "ipv4_prefix" = 30: T::Scalar(S::Bool);
            "ipv6_prefix" = 31: T::Scalar(S::Bool); "host_and_port" = 32: T::Scalar(S::Bool); "tuuid" = 33: T::Scalar(S::Bool);
            "example" = 34: T::Scalar(S::String), repeated; "ulid" = 35: T::Scalar(S::Bool);
            "protobuf_fqn" = 37: T::Scalar(S::Bool); "protobuf_dot_fqn" = 38: T::Scalar(S::Bool);
        },
        "BytesRules" => fields! {
            "const" = 1: T::Scalar(S::Bytes); "min_len" = 2: T::Scalar(S::Uint64); "max_len" = 3: T::Scalar(S::Uint64);
            "pattern" = 4: T::Scalar(S::String); "prefix" = 5: T::Scalar(S::Bytes); "suffix" = 6: T::Scalar(S::Bytes);
            "contains" = 7: T::Scalar(S::Bytes); "in" = 8: T::Scalar(S::Bytes), repeated; "not_in" = 9: T::Scalar(S::Bytes), repeated;
            "ip" = 10: T::Scalar(S::Bool); "ipv4" = 11: T::Scalar(S::Bool); "ipv6" = 12: T::Scalar(S::Bool); "len" = 13: T::Scalar(S::Uint64);
            "example" = 14: T::Scalar(S::Bytes), repeated; "uuid" = 15: T::Scalar(S::Bool);
        },
        "EnumRules" => fields! {
            "const" = 1: T::Scalar(S::Int32); "defined_only" = 2: T::Scalar(S::Bool); "in" = 3: T::Scalar(S::Int32), repeated;
            "not_in" = 4: T::Scalar(S::Int32), repeated; "example" = 5: T::Scalar(S::Int32), repeated;
        },
        "RepeatedRules" => fields! {
            "min_items" = 1: T::Scalar(S::Uint64); "max_items" = 2: T::Scalar(S::Uint64); "unique" = 3: T::Scalar(S::Bool);
            "items" = 4: T::Message("FieldRules");
        },
        "MapRules" => fields! {
            "min_pairs" = 1: T::Scalar(S::Uint64); "max_pairs" = 2: T::Scalar(S::Uint64);
            "keys" = 4: T::Message("FieldRules"); "values" = 5: T::Message("FieldRules");
        },
        "AnyRules" => {
            fields! { "in" = 2: T::Scalar(S::String), repeated; "not_in" = 3: T::Scalar(S::String), repeated; }
        }
        "FieldMaskRules" => fields! {
            "const" = 1: T::FieldMask; "in" = 2: T::Scalar(S::String), repeated; "not_in" = 3: T::Scalar(S::String), repeated;
            "example" = 4: T::FieldMask, repeated;
        },
        "DurationRules" => fields! {
            "const" = 2: T::Duration; "lt" = 3: T::Duration; "lte" = 4: T::Duration; "gt" = 5: T::Duration;
            "gte" = 6: T::Duration; "in" = 7: T::Duration, repeated; "not_in" = 8: T::Duration, repeated;
            "example" = 9: T::Duration, repeated;
        },
        "TimestampRules" => fields! {
            "const" = 2: T::Timestamp; "lt" = 3: T::Timestamp; "lte" = 4: T::Timestamp;
            "gt" = 5: T::Timestamp; "gte" = 6: T::Timestamp; "lt_now" = 7: T::Scalar(S::Bool); "gt_now" = 8: T::Scalar(S::Bool);
            "within" = 9: T::Duration; "example" = 10: T::Timestamp, repeated;
        },
        "MessageRules" => fields! {
            "cel" = 3: T::Message("Rule"), repeated; "oneof" = 4: T::Message("MessageOneofRule"), repeated;
            "cel_expression" = 5: T::Scalar(S::String), repeated;
        },
        "MessageOneofRule" => {
            fields! { "fields" = 1: T::Scalar(S::String), repeated; "required" = 2: T::Scalar(S::Bool); }
        }
        "OneofRules" => fields! { "required" = 1: T::Scalar(S::Bool); },
        "Rule" => {
            fields! { "id" = 1: T::Scalar(S::String); "message" = 2: T::Scalar(S::String); "expression" = 3: T::Scalar(S::String); }
        }
        _ => return None,
    })
}

/// Resolves a dotted rule path inside `FieldRules` (`repeated.items.string.min_len`) to its fields,
/// outermost first; `None` when a step is not in the vocabulary.
///
/// ```
/// use capacitor_codegen::rules::resolve_field_rule;
/// let path = resolve_field_rule("string.max_len").unwrap();
/// assert_eq!(path.iter().map(|f| f.number).collect::<Vec<_>>(), [14, 3]);
/// ```
pub fn resolve_field_rule(path: &str) -> Option<Vec<RuleField>> {
    resolve("FieldRules", path)
}

/// Resolves a dotted rule path inside the rules message `root`.
pub fn resolve(root: &str, path: &str) -> Option<Vec<RuleField>> {
    let mut message = root;
    let mut out = Vec::new();
    for step in path.split('.') {
        let field = *rules_message(message)?.iter().find(|f| f.name == step)?;
        if let RuleType::Message(m) = field.ty {
            message = m;
        }
        out.push(field);
    }
    Some(out)
}

/// Whether a message type is `google.protobuf.FieldMask`, which takes the `field_mask` rules: by its proto
/// name (proto front end) or by a Rust path ending in `FieldMask` (`prost_types::FieldMask`, derive front end).
pub fn is_field_mask(message: &str) -> bool {
    message == "google.protobuf.FieldMask"
        || message == "FieldMask"
        || message.ends_with("::FieldMask")
}

/// The `FieldRules` member that holds the rules for values of a scalar type (`int32` → `Int32Rules`).
pub fn type_rules_name(scalar: crate::ir::Scalar) -> &'static str {
    scalar.proto_name()
}
