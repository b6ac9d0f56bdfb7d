//! How a value is held in Rust and which `FieldRules` member checks it.

use crate::ir::{FieldType, Scalar, WellKnown};
use crate::rules;

/// How a value of a field is held and checked.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Kind {
    Scalar(Scalar),
    Enum(String),
    Duration,
    Timestamp,
    Any,
    /// `google.protobuf.FieldMask`.
    FieldMask,
    /// A wrapper: the inner scalar.
    Wrapper(Scalar),
    /// A message with its own `impl Validate` when it is in the schema.
    Message(String),
}

pub(super) fn kind_of(ty: &FieldType) -> Kind {
    match ty {
        FieldType::Scalar(s) => Kind::Scalar(*s),
        FieldType::Enum(e) => Kind::Enum(e.clone()),
        FieldType::WellKnown(WellKnown::Timestamp) => Kind::Timestamp,
        FieldType::WellKnown(WellKnown::Duration) => Kind::Duration,
        FieldType::WellKnown(w) => Kind::Wrapper(
            w.wrapped()
                .expect("every other well-known type wraps a scalar"),
        ),
        FieldType::Message(m) if m == "google.protobuf.Any" => Kind::Any,
        FieldType::Message(m) if rules::is_field_mask(m) => Kind::FieldMask,
        FieldType::Message(m) => Kind::Message(m.clone()),
    }
}

/// The `FieldRules` member whose rules fit a value of this kind (`string`, `int32`, `timestamp`).
pub(super) fn rules_member(kind: &Kind) -> Option<&'static str> {
    match kind {
        Kind::Scalar(s) | Kind::Wrapper(s) => Some(s.proto_name()),
        Kind::Enum(_) => Some("enum"),
        Kind::Duration => Some("duration"),
        Kind::Timestamp => Some("timestamp"),
        Kind::Any => Some("any"),
        Kind::FieldMask => Some("field_mask"),
        Kind::Message(_) => None,
    }
}
