//! What a check or front end says about the user's schema, tied to where it was declared.

use crate::ir::Origin;
use serde::Serialize;

/// One problem in a schema: what is wrong, where, and what to do.
///
/// Front ends render it their own way: the proto path as a miette report with the source snippet
/// (`file:line:col`), the derive path as a `compile_error!` at the Rust span.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// What is wrong, naming the message, the field and the option (`` `app.v1.User.tags`: (capacitor.v1.field).index on a repeated field ``).
    pub message: String,
    /// Where it was declared.
    pub origin: Origin,
    /// A short label shown under the span.
    pub label: String,
    /// What to do about it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at `origin`.
    pub fn new(origin: &Origin, message: impl Into<String>, label: impl Into<String>) -> Self {
        Diagnostic {
            message: message.into(),
            origin: origin.clone(),
            label: label.into(),
            help: None,
        }
    }

    /// Adds advice on how to fix it.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Origin::Proto(span) = &self.origin {
            write!(f, "{span}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(help) = &self.help {
            write!(f, " (help: {help})")?;
        }
        Ok(())
    }
}
