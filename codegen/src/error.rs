//! The library's error type.

use crate::report::SourceDiagnostic;
use std::path::PathBuf;

/// Why generation failed. Every variant says what is wrong and where; render it with miette for the source
/// snippet (`capgen` does), or print it: `Display` lists each problem as `file:line:col: message`.
#[derive(thiserror::Error, miette::Diagnostic)]
#[non_exhaustive]
pub enum Error {
    /// A proto file does not parse, or an import or type cannot be resolved.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Parse(Box<protox::Error>),

    /// The schema parsed but breaks Capacitor's rules (two primary keys, an index on a map, …).
    #[error("{}", schema_message(diagnostics))]
    Schema {
        #[related]
        diagnostics: Vec<SourceDiagnostic>,
    },

    /// An `edition = "…"` file and no compiler to read it: protox parses proto2 and proto3 only, so capgen
    /// compiles editions sources through buf or protoc 27+ when it finds one.
    #[error(
        "{location}: `{file}` uses protobuf editions: capgen compiles those through buf or protoc 27+, but {found}"
    )]
    #[diagnostic(help(
        "{}; or compile it to a descriptor set yourself (`buf build -o set.binpb`) and pass that with --descriptor-set-in; or declare the file with `syntax = \"proto3\";`",
        crate::proto::EDITIONS_COMPILER_INSTALL
    ))]
    Editions {
        file: String,
        /// `path:line:col` of the `edition` declaration (the file name alone for descriptor sets).
        location: String,
        /// What was looked for and found (`neither buf nor protoc is on PATH`).
        found: String,
    },

    /// buf or protoc failed on editions sources; its own report follows.
    #[error("`{compiler}` could not compile the editions sources:\n{output}", compiler = compiler.display())]
    ExternalCompiler { compiler: PathBuf, output: String },

    /// A file could not be read.
    #[error("cannot read `{path}`: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    /// A `--descriptor-set-in` file is not a serialized `FileDescriptorSet`.
    #[error("`{path}` is not a serialized FileDescriptorSet: {reason}")]
    DescriptorSet { path: PathBuf, reason: String },

    /// A file named to generate is not in the `--descriptor-set-in` set.
    #[error(
        "`{path}` has no file `{file}` to generate: name files by their import name in the set (`app/v1/user.proto`)"
    )]
    NotInDescriptorSet { path: PathBuf, file: String },

    /// An output file could not be written; nothing was written.
    #[error("cannot write `{path}`: {source} (no file was written)")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },

    /// A builder option is invalid.
    #[error("invalid option `{option}`: {reason}")]
    Config {
        option: &'static str,
        reason: String,
    },

    /// prost-build failed on a schema that passed every check.
    #[error("code generation failed: {0}")]
    Generate(String),
}

fn schema_message(diagnostics: &[SourceDiagnostic]) -> String {
    let mut text = match diagnostics.len() {
        1 => "1 problem in the schema:".to_string(),
        n => format!("{n} problems in the schema:"),
    };
    for d in diagnostics {
        text.push_str("\n  ");
        text.push_str(&d.to_string());
    }
    text
}

/// `Debug` renders the full report (source snippets included), so a build script that returns this error
/// from `main` shows the user where the problem is.
impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let handler =
            miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor());
        match self {
            Error::Schema { diagnostics } => {
                for d in diagnostics {
                    handler.render_report(f, d)?;
                }
                Ok(())
            }
            other => handler.render_report(f, other),
        }
    }
}
