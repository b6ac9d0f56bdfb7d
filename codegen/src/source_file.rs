//! The text of a proto file that diagnostics quote. Its own module so that reports ([`crate::report`]) need
//! nothing of the proto front end that fills it (which depends on the error type, which holds reports).

use std::path::PathBuf;

/// The text of one proto file and where it lives.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path on disk (`None` for embedded files and descriptor sets).
    pub path: Option<PathBuf>,
    /// The file's text (`None` when it is not at hand, as for a descriptor set).
    pub text: Option<String>,
}

impl SourceFile {
    /// The name to show in diagnostics: the path on disk when known, else the import name.
    pub fn display_name(&self, import_name: &str) -> String {
        self.path
            .as_ref()
            .map_or_else(|| import_name.to_string(), |p| p.display().to_string())
    }
}
