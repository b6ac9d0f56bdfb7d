//! Renders IR diagnostics against their proto sources, as miette reports (the same look as protox's own
//! parse errors).

use crate::diagnostic::Diagnostic;
use crate::ir::{Origin, ProtoSpan};
use miette::{LabeledSpan, NamedSource, SourceSpan};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// The text of one proto file and where it lives.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path on disk (`None` for embedded files and descriptor sets).
    pub path: Option<PathBuf>,
    /// The file's text, when known (not for a descriptor set).
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

/// One diagnostic with its source snippet.
#[derive(Debug, Clone)]
pub struct SourceDiagnostic {
    pub diagnostic: Diagnostic,
    /// `path:line:col`, with the path as the user knows it (on disk, or the import name).
    pub location: Option<String>,
    source: Option<NamedSource<String>>,
    span: Option<SourceSpan>,
}

impl SourceDiagnostic {
    /// Attaches the source text of the diagnostic's file, when known.
    pub fn new(diagnostic: Diagnostic, sources: &BTreeMap<String, SourceFile>) -> Self {
        let Origin::Proto(span) = &diagnostic.origin else {
            return SourceDiagnostic {
                diagnostic,
                location: None,
                source: None,
                span: None,
            };
        };
        let file = sources.get(&span.file);
        let name = file.map_or_else(|| span.file.clone(), |f| f.display_name(&span.file));
        let location = Some(format!("{name}:{}:{}", span.line, span.column));
        let text = file.and_then(|f| f.text.clone());
        let source_span = text.as_deref().and_then(|t| byte_span(t, span));
        SourceDiagnostic {
            diagnostic,
            location,
            source: text.map(|t| NamedSource::new(name, t).with_language("protobuf")),
            span: source_span,
        }
    }
}

/// Converts a 1-based line:column span (columns count characters) into a byte range.
fn byte_span(text: &str, span: &ProtoSpan) -> Option<SourceSpan> {
    let offset = |line: u32, column: u32| -> Option<usize> {
        let line_start: usize = text
            .split_inclusive('\n')
            .take(line.checked_sub(1)? as usize)
            .map(str::len)
            .sum();
        let line_text = text[line_start..].lines().next().unwrap_or("");
        let column = column.checked_sub(1)? as usize;
        let within = line_text
            .char_indices()
            .nth(column)
            .map_or(line_text.len(), |(i, _)| i);
        Some(line_start + within)
    };
    let start = offset(span.line, span.column)?;
    let end = offset(span.end_line, span.end_column)?.max(start);
    Some(SourceSpan::new(start.into(), end - start))
}

impl fmt::Display for SourceDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(location) = &self.location {
            write!(f, "{location}: ")?;
        }
        write!(f, "{}", self.diagnostic.message)
    }
}

impl std::error::Error for SourceDiagnostic {}

impl miette::Diagnostic for SourceDiagnostic {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.diagnostic
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.span?;
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            Some(self.diagnostic.label.clone()),
            span,
        ))))
    }
}
