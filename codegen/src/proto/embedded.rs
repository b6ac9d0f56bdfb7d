//! Proto files compiled into capgen, so users `import "capacitor/v1/options.proto";` without copying it.

use protox::file::{File, FileResolver};

/// `capacitor/v1/options.proto`, Capacitor's option vocabulary.
pub const OPTIONS_PROTO_NAME: &str = "capacitor/v1/options.proto";
/// The text of `capacitor/v1/options.proto`.
pub const OPTIONS_PROTO: &str = include_str!("../../schemas/capacitor/v1/options.proto");

/// `buf/validate/validate.proto`: protovalidate's rule vocabulary, upstream's own file (Apache-2.0, v1.1+).
pub const VALIDATE_PROTO_NAME: &str = "buf/validate/validate.proto";
/// The text of the embedded `buf/validate/validate.proto`.
pub const VALIDATE_PROTO: &str = include_str!("../../schemas/buf/validate/validate.proto");

/// Resolves the embedded files after the user's include paths (so a user's own copy wins, as with protoc).
#[derive(Debug, Default)]
pub struct EmbeddedFiles;

impl EmbeddedFiles {
    /// The embedded files, by import name.
    pub const FILES: &'static [(&'static str, &'static str)] = &[
        (OPTIONS_PROTO_NAME, OPTIONS_PROTO),
        (VALIDATE_PROTO_NAME, VALIDATE_PROTO),
    ];

    /// Whether `name` is one of ours, or another vendor file that is never generated into user code.
    pub fn is_vendor_file(name: &str) -> bool {
        Self::FILES.iter().any(|(n, _)| *n == name)
            || name.starts_with("google/protobuf/")
            || name == VALIDATE_PROTO_NAME
    }

    /// The embedded files as files to write (`capgen protos --out DIR`), for tools that need them on their
    /// include path: protoc and buf parse the imports themselves, unlike capgen.
    pub fn as_files() -> Vec<crate::generate::GeneratedFile> {
        Self::FILES
            .iter()
            .map(|(name, text)| crate::generate::GeneratedFile {
                name: (*name).to_string(),
                contents: (*text).to_string(),
            })
            .collect()
    }

    /// The text of an embedded file.
    pub fn source(name: &str) -> Option<&'static str> {
        Self::FILES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| *s)
    }
}

impl FileResolver for EmbeddedFiles {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        match Self::source(name) {
            Some(source) => File::from_source(name, source),
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}
