//! The proto3 JSON mapping where the serde impls that generated code gets from pbjson-build 0.9 (and the
//! well-known types from pbjson-types 0.9) differ from [the mapping](https://protobuf.dev/programming-guides/json/).
//!
//! Generated code calls this module; `capgen` rewrites pbjson-build's output to go through it (see
//! `docs/json.md`):
//! - [`Ser`] wraps a field's value on the way out: `Timestamp` as RFC 3339 with `Z` and years 0001–9999 only,
//!   `FieldMask` as one string of lowerCamel paths, non-finite `double`/`float` as `"NaN"`, `"Infinity"`,
//!   `"-Infinity"`. Lists and maps are forwarded element by element; other values are not wrapped.
//! - [`De`] reads a field's value on the way in: `FieldMask` from its string.
//!
//! The module is public and documented rather than hidden because what it holds is the mapping itself, with
//! its own tests, and it is where the rest of the JSON logic goes when generated JSON gets thinner; the
//! adapters' shapes follow what generated code needs and may change with the generator.
//!
//! Not to be confused with [`crate::codec`]'s JSON, which is how columns store repeated values.

mod de;
mod ser;

pub use de::{De, field_mask_from_json};
pub use ser::{Ser, field_mask_to_json, timestamp};
