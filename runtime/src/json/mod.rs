//! The [proto3 JSON mapping](https://protobuf.dev/programming-guides/json/) for generated messages and enums.
//!
//! Generated code holds only a table per message (its [`Message`] impl: names, and which [`codec`] each
//! field's values go through) and one invocation each of [`messages!`] and [`enums!`]; the serde logic is here,
//! once, with its own tests (see `docs/json.md`). A generated file names this module once, as
//! `use ::capacitor::json as __json;` (through the configured runtime path).
//!
//! The well-known types come from pbjson-types, whose own serde impls are used except where they differ from
//! the mapping: `Timestamp` ([`timestamp`]: `Z`, years 0001–9999) and `FieldMask` (one string of lowerCamel
//! paths, [`field_mask_to_json`], [`field_mask_from_json`]) go through [`Plain`].
//!
//! Not to be confused with [`crate::codec`]'s JSON, which is how columns store repeated values.

pub mod codec;
mod de;
mod message;
mod ser;

pub use codec::{Codec, Enum, Map, MapKey, Msg, Opt, Plain, Rep};
pub use de::field_mask_from_json;
pub use message::{
    Field, Message, Reader, Writer, deserialize_enum, deserialize_message, serialize_message,
};
pub use ser::{field_mask_to_json, timestamp};

/// Implements `Serialize` and `Deserialize` for generated messages that implement [`Message`]:
/// `messages!(User, user::Address);`.
pub use crate::__capacitor_json_messages as messages;

/// Implements `Serialize` (the value's name) and `Deserialize` (a name or a number) for prost enums, through
/// the `as_str_name` and `from_str_name` prost-build gives each: `enums!(Color, user::Kind);`.
pub use crate::__capacitor_json_enums as enums;

/// serde, as [`messages!`] and [`enums!`] name it, so the including crate needs no `serde` of its own for them.
#[doc(hidden)]
pub use serde as __serde;
