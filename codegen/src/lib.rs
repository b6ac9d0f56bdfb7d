//! # capacitor-codegen
//!
//! Turns Protobuf schemas annotated with Capacitor's options (`capacitor/v1/options.proto`) and the standard
//! `buf.validate` rules into Rust: typed DTOs (prost + serde in the proto3 JSON mapping) with a Debug that
//! redacts personal data, and entity metadata (`impl capacitor::Entity`) for the runtime crate.
//!
//! The pipeline is one IR with two front ends:
//!
//! ```text
//!  .proto + options ──protox──► prost-reflect pool ─┐
//!                                                   ├─► ir::Schema ──► check ──► emit
//!  #[derive(Entity)] struct ──syn (capacitor-macros)┘
//! ```
//!
//! In a `build.rs` (the API mirrors prost-build and tonic-build):
//!
//! ```no_run
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     capacitor_codegen::configure().compile_protos(&["proto/app/v1/user.proto"], &["proto"])?;
//!     Ok(())
//! }
//! ```
//!
//! and in the crate: `pub mod app { pub mod v1 { capacitor::include_proto!("app.v1"); } }`.

pub mod cel;
pub mod check;
pub mod ddl;
pub mod diagnostic;
pub mod emit;
pub mod ir;
pub mod names;
pub mod rules;

#[cfg(feature = "proto")]
mod builder;
#[cfg(feature = "proto")]
mod error;
#[cfg(feature = "proto")]
pub mod fingerprint;
#[cfg(feature = "proto")]
pub mod generate;
#[cfg(feature = "proto")]
pub mod inspect;
#[cfg(feature = "proto")]
pub mod migrate;
#[cfg(feature = "proto")]
pub mod output;
#[cfg(feature = "proto")]
pub mod pii_report;
#[cfg(feature = "proto")]
pub mod plugin;
#[cfg(feature = "proto")]
pub mod progress;
#[cfg(feature = "proto")]
pub mod proto;
#[cfg(feature = "proto")]
pub mod report;

#[cfg(feature = "proto")]
pub use builder::{Builder, configure};
#[cfg(feature = "proto")]
pub use error::Error;
#[cfg(feature = "proto")]
pub use generate::{Generated, GeneratedFile, generate};
