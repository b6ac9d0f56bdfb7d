//! The wire form of violations, `buf.validate.Violations`, so a service can return them as-is.
//!
//! These are minimal prost declarations with protovalidate's field numbers; they encode and decode
//! byte-compatibly with the upstream messages.

use super::path::{FieldPath, FieldPathElement, FieldType, Subscript};
use super::violation::{Violation, Violations};
use std::borrow::Cow;

/// `buf.validate.Violations`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WireViolations {
    /// `violations = 1`.
    #[prost(message, repeated, tag = "1")]
    pub violations: Vec<WireViolation>,
}

/// `buf.validate.Violation`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WireViolation {
    /// `field = 5`.
    #[prost(message, optional, tag = "5")]
    pub field: Option<WireFieldPath>,
    /// `rule = 6`.
    #[prost(message, optional, tag = "6")]
    pub rule: Option<WireFieldPath>,
    /// `rule_id = 2`.
    #[prost(string, optional, tag = "2")]
    pub rule_id: Option<String>,
    /// `message = 3`.
    #[prost(string, optional, tag = "3")]
    pub message: Option<String>,
    /// `for_key = 4`.
    #[prost(bool, optional, tag = "4")]
    pub for_key: Option<bool>,
}

/// `buf.validate.FieldPath`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WireFieldPath {
    /// `elements = 1`.
    #[prost(message, repeated, tag = "1")]
    pub elements: Vec<WireFieldPathElement>,
}

/// `buf.validate.FieldPathElement`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WireFieldPathElement {
    /// `field_number = 1`.
    #[prost(int32, optional, tag = "1")]
    pub field_number: Option<i32>,
    /// `field_name = 2`.
    #[prost(string, optional, tag = "2")]
    pub field_name: Option<String>,
    /// `field_type = 3` (`google.protobuf.FieldDescriptorProto.Type`).
    #[prost(int32, optional, tag = "3")]
    pub field_type: Option<i32>,
    /// `key_type = 4`.
    #[prost(int32, optional, tag = "4")]
    pub key_type: Option<i32>,
    /// `value_type = 5`.
    #[prost(int32, optional, tag = "5")]
    pub value_type: Option<i32>,
    /// The `subscript` oneof (`index = 6` … `string_key = 10`).
    #[prost(oneof = "WireSubscript", tags = "6, 7, 8, 9, 10")]
    pub subscript: Option<WireSubscript>,
}

/// `buf.validate.FieldPathElement.subscript`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum WireSubscript {
    /// `index = 6`.
    #[prost(uint64, tag = "6")]
    Index(u64),
    /// `bool_key = 7`.
    #[prost(bool, tag = "7")]
    BoolKey(bool),
    /// `int_key = 8`.
    #[prost(int64, tag = "8")]
    IntKey(i64),
    /// `uint_key = 9`.
    #[prost(uint64, tag = "9")]
    UintKey(u64),
    /// `string_key = 10`.
    #[prost(string, tag = "10")]
    StringKey(String),
}

impl From<&FieldPath> for WireFieldPath {
    fn from(path: &FieldPath) -> Self {
        WireFieldPath {
            elements: path
                .elements
                .iter()
                .map(|e| WireFieldPathElement {
                    // A oneof has no number and no type.
                    field_number: (e.field_number != 0).then_some(e.field_number),
                    field_name: Some(e.field_name.to_string()),
                    field_type: (e.field_number != 0).then_some(e.field_type.number()),
                    key_type: e.key_type.map(FieldType::number),
                    value_type: e.value_type.map(FieldType::number),
                    subscript: e.subscript.as_ref().map(|s| match s {
                        Subscript::Index(i) => WireSubscript::Index(*i),
                        Subscript::Bool(b) => WireSubscript::BoolKey(*b),
                        Subscript::Int(i) => WireSubscript::IntKey(*i),
                        Subscript::Uint(u) => WireSubscript::UintKey(*u),
                        Subscript::String(s) => WireSubscript::StringKey(s.clone()),
                    }),
                })
                .collect(),
        }
    }
}

impl From<&Violations> for WireViolations {
    fn from(v: &Violations) -> Self {
        WireViolations {
            violations: v
                .iter()
                .map(|v| WireViolation {
                    field: (!v.field.is_empty()).then(|| (&v.field).into()),
                    rule: (!v.rule.is_empty()).then(|| (&v.rule).into()),
                    rule_id: Some(v.rule_id.to_string()),
                    message: Some(v.message.to_string()),
                    for_key: v.for_key.then_some(true),
                })
                .collect(),
        }
    }
}

impl From<Violations> for WireViolations {
    fn from(v: Violations) -> Self {
        (&v).into()
    }
}

/// A wire message that does not describe violations: a field type number outside
/// `FieldDescriptorProto.Type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    /// The offending type number.
    pub field_type: i32,
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "field type {} is not a google.protobuf.FieldDescriptorProto.Type",
            self.field_type
        )
    }
}

impl std::error::Error for WireError {}

fn field_type(n: i32) -> Result<FieldType, WireError> {
    FieldType::from_number(n).ok_or(WireError { field_type: n })
}

impl TryFrom<&WireFieldPath> for FieldPath {
    type Error = WireError;
    fn try_from(path: &WireFieldPath) -> Result<Self, WireError> {
        let elements = path
            .elements
            .iter()
            .map(|e| {
                Ok(FieldPathElement {
                    field_number: e.field_number(),
                    field_name: Cow::Owned(e.field_name().to_string()),
                    field_type: match e.field_type {
                        Some(n) => field_type(n)?,
                        None => FieldType::Message,
                    },
                    key_type: e.key_type.map(field_type).transpose()?,
                    value_type: e.value_type.map(field_type).transpose()?,
                    subscript: e.subscript.as_ref().map(|s| match s {
                        WireSubscript::Index(i) => Subscript::Index(*i),
                        WireSubscript::BoolKey(b) => Subscript::Bool(*b),
                        WireSubscript::IntKey(i) => Subscript::Int(*i),
                        WireSubscript::UintKey(u) => Subscript::Uint(*u),
                        WireSubscript::StringKey(s) => Subscript::String(s.clone()),
                    }),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(FieldPath { elements })
    }
}

impl TryFrom<&WireViolations> for Violations {
    type Error = WireError;
    fn try_from(wire: &WireViolations) -> Result<Self, WireError> {
        let path = |p: &Option<WireFieldPath>| {
            p.as_ref()
                .map_or_else(|| Ok(FieldPath::default()), FieldPath::try_from)
        };
        let mut out = Violations::default();
        for v in &wire.violations {
            out.push(Violation {
                field: path(&v.field)?,
                rule: path(&v.rule)?,
                rule_id: Cow::Owned(v.rule_id().to_string()),
                message: Cow::Owned(v.message().to_string()),
                for_key: v.for_key(),
            });
        }
        Ok(out)
    }
}

impl TryFrom<WireViolations> for Violations {
    type Error = WireError;
    fn try_from(wire: WireViolations) -> Result<Self, WireError> {
        Violations::try_from(&wire)
    }
}
