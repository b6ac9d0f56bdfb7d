//! The conformance dump's format (`buf.validate.conformance.harness.ResultSet`), only the fields the runner
//! reads. Shared by build.rs (through `#[path]`) and the runner.

/// `ResultSet`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResultSet {
    #[prost(message, repeated, tag = "3")]
    pub suites: Vec<SuiteResults>,
}

/// `SuiteResults`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SuiteResults {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, repeated, tag = "4")]
    pub cases: Vec<CaseResult>,
    #[prost(message, optional, tag = "5")]
    pub fdset: Option<prost_types::FileDescriptorSet>,
}

/// `CaseResult`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CaseResult {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "3")]
    pub wanted: Option<TestResult>,
    #[prost(message, optional, tag = "5")]
    pub input: Option<prost_types::Any>,
}

/// `TestResult`; the violations stay raw bytes so the runner decodes them with the runtime's wire types.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TestResult {
    #[prost(bool, tag = "1")]
    pub success: bool,
    #[prost(bytes = "vec", optional, tag = "2")]
    pub validation_error: Option<Vec<u8>>,
    #[prost(string, optional, tag = "3")]
    pub compilation_error: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub runtime_error: Option<String>,
    #[prost(string, optional, tag = "5")]
    pub unexpected_error: Option<String>,
}

/// The dump's path: `CAPACITOR_CONFORMANCE_DUMP`, or `../shared/conformance/` beside the workspace.
pub fn dump_path(manifest_dir: &str) -> std::path::PathBuf {
    match std::env::var_os("CAPACITOR_CONFORMANCE_DUMP") {
        Some(p) => p.into(),
        None => std::path::Path::new(manifest_dir)
            .join("../../../shared/conformance/protovalidate-v1.0-dump.pbbin"),
    }
}
