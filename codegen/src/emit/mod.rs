//! Emitters: each reads only the IR.

pub mod rust;
