//! Source positions from `SourceCodeInfo`, looked up by descriptor path.

use crate::ir::{Origin, ProtoSpan};
use prost_reflect::FileDescriptor;
use std::collections::HashMap;

/// The spans of one file, keyed by descriptor path (`[4, 0, 2, 1]` = message 0, field 1).
#[derive(Debug, Default)]
pub struct SourceMap {
    spans: HashMap<Vec<i32>, ProtoSpan>,
}

impl SourceMap {
    /// Reads the file's source info (empty when it was compiled without it).
    pub fn new(file: &FileDescriptor) -> Self {
        let proto = file.file_descriptor_proto();
        let mut spans = HashMap::new();
        for location in proto.source_code_info.iter().flat_map(|i| &i.location) {
            let s = &location.span;
            let (line, column, end_line, end_column) = match s.len() {
                3 => (s[0], s[1], s[0], s[2]),
                4 => (s[0], s[1], s[2], s[3]),
                _ => continue,
            };
            let to_u32 = |v: i32| u32::try_from(v).unwrap_or(0) + 1;
            // The first location for a path is the whole declaration; later ones (repeated options) are kept out.
            spans.entry(location.path.clone()).or_insert(ProtoSpan {
                file: file.name().to_string(),
                line: to_u32(line),
                column: to_u32(column),
                end_line: to_u32(end_line),
                end_column: to_u32(end_column),
            });
        }
        SourceMap { spans }
    }

    /// The span of the longest recorded prefix of `path`: an option written inside an aggregate
    /// (`{ pii: PII_EMAIL }`) has no location of its own, so it falls back to the aggregate, then the field.
    pub fn origin(&self, path: &[i32]) -> Origin {
        (0..=path.len())
            .rev()
            .find_map(|len| self.spans.get(&path[..len]))
            .map(|s| Origin::Proto(s.clone()))
            .unwrap_or(Origin::Unknown)
    }
}
