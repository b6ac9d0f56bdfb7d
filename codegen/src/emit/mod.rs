//! Emitters: each reads only the IR.

#[cfg(feature = "proto")]
#[cfg(feature = "proto")]
pub mod json;
pub mod record;
pub mod rust;
pub(crate) mod tokens;
pub mod validate;
