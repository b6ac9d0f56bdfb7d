//! The vocabulary Capacitor's code generator and runtime share, and the one decision of how a field is stored.
//!
//! - [`field_type`]: what a field holds ([`Scalar`], [`WellKnown`], [`FieldType`], [`Label`]).
//! - [`options`]: what Capacitor's options say ([`Pii`], [`IndexKind`], [`Backend`], [`Consistency`]).
//! - [`civil`]: the calendar arithmetic of a Timestamp's date (days since the epoch ⇄ year, month, day).
//! - [`sqlite_url`]: the `synchronous` parameter of a `sqlite:` URL (commit durability).
//! - [`time_text`]: durations and timestamps as CEL spells them (`1h30m`, RFC 3339) and CEL's ranges.
//! - [`columns`]: the column layout — a field's columns per [`Dialect`] (names, SQL types, nullability,
//!   defaults, the `_nanos` companion of a Postgres Timestamp) and the order of a row's columns. The DDL, the
//!   migration lockfile, the runtime's statements and the row mapping all read it from here, so a column is
//!   decided once.
//!
//! This crate sits below both `capacitor-codegen` and the runtime `capacitor` (which re-export its types as
//! `capacitor_codegen::ir::*` and `capacitor::schema::*`), so codegen still never depends on the runtime. It has
//! no dependencies; `serde` is behind the `serde` feature, for the code generator.

#![warn(missing_docs)]

pub mod civil;
pub mod columns;
pub mod field_type;
pub mod options;
pub mod sqlite_url;
pub mod time_text;

pub use columns::{
    Column, ColumnKey, ColumnType, Dialect, NANOS_SUFFIX, StoredField, VERSION_COLUMN,
};
pub use field_type::{FieldType, Label, Scalar, WellKnown};
pub use options::{Backend, Consistency, IndexKind, Pii};
