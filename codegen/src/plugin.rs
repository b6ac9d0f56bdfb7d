//! `protoc-gen-capacitor`: capgen as a protoc / buf plugin.
//!
//! protoc and `buf generate` hand a plugin a `CodeGeneratorRequest` on stdin (every file as a
//! `FileDescriptorProto`, with source info, and the names of the files to generate) and read a
//! `CodeGeneratorResponse` from stdout. [`respond`] turns one into the other through the same
//! [`generate`] `capgen generate --descriptor-set-in` uses, so the plugin writes the
//! same files. Problems in the schema come back in the response's `error` field, one `file:line:col: message`
//! per line (the protocol's way: the plugin still exits 0); protoc prints it after `--capacitor_out:`.
//!
//! The request is read with messages of our own rather than prost-types' `compiler` module: prost-types
//! would decode each file and drop its extension options (`capacitor.v1.*`, `buf.validate.*`) and editions
//! fields, and its response lacks `minimum_edition` / `maximum_edition`.

use crate::emit::rust::RuntimePath;
use crate::error::Error;
use crate::generate::{DtoOptions, generate};
use crate::proto::Input;
use prost::Message;
use std::path::PathBuf;

/// The parameters the plugin takes (`--capacitor_opt=…` or buf's `opt:`), comma-separated, each mirroring
/// the `capgen generate` flag of the same name.
pub const PARAMETERS: &str = "runtime_crate=PATH, allow_unsupported_rules";

/// `CodeGeneratorResponse.Feature` bits.
const SUPPORTS_PROTO3_OPTIONAL: u64 = 1;
const SUPPORTS_EDITIONS: u64 = 2;
/// `Edition` values: editions files are lowered to proto2 (see `proto::editions`), whose rules are 2023's.
const EDITION_PROTO2: i32 = 998;
const EDITION_2023: i32 = 1000;

/// `google.protobuf.compiler.CodeGeneratorRequest`, keeping each file's raw bytes.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Request {
    /// Import names of the files to generate code for.
    #[prost(string, repeated, tag = "1")]
    pub file_to_generate: Vec<String>,
    /// The plugin's parameter string (`runtime_crate=::capacitor,allow_unsupported_rules`).
    #[prost(string, optional, tag = "2")]
    pub parameter: Option<String>,
    /// Every `FileDescriptorProto` the files to generate need, imports first, as wire bytes.
    #[prost(bytes = "vec", repeated, tag = "15")]
    pub proto_file: Vec<Vec<u8>>,
}

/// `google.protobuf.compiler.CodeGeneratorResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Response {
    /// Why generation failed (the files are then ignored).
    #[prost(string, optional, tag = "1")]
    pub error: Option<String>,
    /// `Feature` bits the plugin supports.
    #[prost(uint64, optional, tag = "2")]
    pub supported_features: Option<u64>,
    /// The oldest edition the plugin reads.
    #[prost(int32, optional, tag = "3")]
    pub minimum_edition: Option<i32>,
    /// The newest edition the plugin reads.
    #[prost(int32, optional, tag = "4")]
    pub maximum_edition: Option<i32>,
    /// The generated files.
    #[prost(message, repeated, tag = "15")]
    pub file: Vec<ResponseFile>,
}

/// `CodeGeneratorResponse.File`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResponseFile {
    /// Path relative to the output directory.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// The file's contents.
    #[prost(string, optional, tag = "15")]
    pub content: Option<String>,
}

/// A `FileDescriptorSet` whose files are kept as wire bytes.
#[derive(Clone, PartialEq, prost::Message)]
struct RawDescriptorSet {
    #[prost(bytes = "vec", repeated, tag = "1")]
    file: Vec<Vec<u8>>,
}

/// Answers one serialized request with a serialized response. Never fails: every problem, an undecodable
/// request included, is reported in the response's `error` field. Warnings (rules skipped under
/// `allow_unsupported_rules`) are returned beside it, for stderr, which protoc and buf pass through.
pub fn respond(request: &[u8]) -> (Vec<u8>, Vec<String>) {
    let mut response = Response {
        supported_features: Some(SUPPORTS_PROTO3_OPTIONAL | SUPPORTS_EDITIONS),
        minimum_edition: Some(EDITION_PROTO2),
        maximum_edition: Some(EDITION_2023),
        ..Response::default()
    };
    let mut warnings = Vec::new();
    match Request::decode(request)
        .map_err(|e| format!("protoc-gen-capacitor: stdin is not a CodeGeneratorRequest: {e}"))
        .and_then(|request| generate_files(&request, &mut warnings))
    {
        Ok(files) => response.file = files,
        Err(error) => response.error = Some(error),
    }
    (response.encode_to_vec(), warnings)
}

fn generate_files(
    request: &Request,
    warnings: &mut Vec<String>,
) -> Result<Vec<ResponseFile>, String> {
    let options = parse_parameter(request.parameter.as_deref().unwrap_or(""))?;
    let input = Input::DescriptorSetBytes {
        bytes: RawDescriptorSet {
            file: request.proto_file.clone(),
        }
        .encode_to_vec(),
        generate: request.file_to_generate.clone(),
        origin: PathBuf::from("CodeGeneratorRequest"),
    };
    let generated = generate(&input, &options).map_err(|e| error_text(&e))?;
    warnings.extend(generated.warnings);
    Ok(generated
        .files
        .into_iter()
        .map(|f| ResponseFile {
            name: Some(f.name),
            content: Some(f.contents),
        })
        .collect())
}

/// Parses `key=value,flag,…` into the options `capgen generate` would take from the same flags.
pub fn parse_parameter(parameter: &str) -> Result<DtoOptions, String> {
    let mut options = DtoOptions::default();
    for item in parameter
        .split(',')
        .map(str::trim)
        .filter(|i| !i.is_empty())
    {
        let (key, value) = match item.split_once('=') {
            Some((key, value)) => (key.trim(), Some(value.trim())),
            None => (item, None),
        };
        match (key, value) {
            ("runtime_crate", Some(path)) => {
                options.runtime = RuntimePath::parse(path)
                    .map_err(|reason| format!("invalid parameter `runtime_crate`: {reason}"))?;
            }
            ("allow_unsupported_rules", None | Some("true")) => {
                options.allow_unsupported_rules = true;
            }
            ("allow_unsupported_rules", Some("false")) => {
                options.allow_unsupported_rules = false;
            }
            _ => {
                return Err(format!(
                    "unknown parameter `{item}`: protoc-gen-capacitor takes {PARAMETERS}"
                ));
            }
        }
    }
    Ok(options)
}

/// The response's error text: plain lines protoc prints as they are, each schema problem as
/// `file:line:col: message` (positions from the request's source info), with its help indented below.
pub fn error_text(error: &Error) -> String {
    match error {
        Error::Schema { diagnostics } => {
            let mut lines = Vec::new();
            for d in diagnostics {
                lines.push(d.to_string());
                if let Some(help) = &d.diagnostic.help {
                    lines.push(format!("  help: {help}"));
                }
            }
            lines.push(format!(
                "{} problem(s) in the schema; nothing was generated",
                diagnostics.len()
            ));
            lines.join("\n")
        }
        other => other.to_string(),
    }
}
