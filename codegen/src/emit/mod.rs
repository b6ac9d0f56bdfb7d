//! Emitters: each reads only the IR.

#[cfg(feature = "proto")]
pub mod dependency_paths;
#[cfg(feature = "proto")]
pub mod json;
pub mod record;
pub mod rust;
pub mod validate;
