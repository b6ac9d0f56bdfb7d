//! The build.rs API, shaped like prost-build's `Config` and tonic-build's `configure()`.

use crate::emit::rust::RuntimePath;
use crate::error::Error;
use crate::generate::{DtoOptions, Generated, generate};
use crate::output::write_all;
use crate::proto::Input;
use std::path::{Path, PathBuf};

/// Starts a [`Builder`] with the defaults: output into `$OUT_DIR`, runtime at `::capacitor`,
/// `cargo:rerun-if-changed` for every input.
///
/// ```no_run
/// // build.rs
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     capacitor_codegen::configure()
///         .btree_map(["."])
///         .compile_protos(&["proto/app/v1/user.proto"], &["proto"])?;
///     Ok(())
/// }
/// ```
pub fn configure() -> Builder {
    Builder::default()
}

/// Configures and runs code generation from a build script.
///
/// Generated code goes to one file per proto package (`app.v1.rs`), included with
/// `capacitor::include_proto!("app.v1")`. The generated types are plain prost messages, so they work unchanged
/// with tonic-build services (point tonic-build at them with its own `extern_path`).
#[derive(Debug, Clone)]
pub struct Builder {
    options: DtoOptions,
    out_dir: Option<PathBuf>,
    emit_rerun_if_changed: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            options: DtoOptions::default(),
            out_dir: None,
            emit_rerun_if_changed: true,
        }
    }
}

impl Builder {
    /// Writes into `dir` instead of `$OUT_DIR`.
    pub fn out_dir(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// The path generated code uses for the runtime crate, for users who re-export it
    /// (`"::my_platform::capacitor"`). Defaults to `::capacitor`.
    ///
    /// Panics if `path` is not a Rust path: it is a constant in the build script, so a typo is a bug there.
    pub fn runtime_crate(&mut self, path: &str) -> &mut Self {
        self.options.runtime =
            RuntimePath::parse(path).unwrap_or_else(|e| panic!("runtime_crate: {e}"));
        self
    }

    /// Uses existing Rust types for a proto package or type instead of generating them, as
    /// prost-build's `extern_path` (`.google.type` → `::googleapis::google::r#type`).
    pub fn extern_path(
        &mut self,
        proto_path: impl Into<String>,
        rust_path: impl Into<String>,
    ) -> &mut Self {
        self.options
            .extern_paths
            .push((proto_path.into(), rust_path.into()));
        self
    }

    /// Adds an attribute to matched messages, enums and oneofs (prost-build's `type_attribute`).
    pub fn type_attribute(
        &mut self,
        path: impl Into<String>,
        attribute: impl Into<String>,
    ) -> &mut Self {
        self.options
            .type_attributes
            .push((path.into(), attribute.into()));
        self
    }

    /// Adds an attribute to matched messages (prost-build's `message_attribute`).
    pub fn message_attribute(
        &mut self,
        path: impl Into<String>,
        attribute: impl Into<String>,
    ) -> &mut Self {
        self.options
            .message_attributes
            .push((path.into(), attribute.into()));
        self
    }

    /// Adds an attribute to matched enums and oneofs (prost-build's `enum_attribute`).
    pub fn enum_attribute(
        &mut self,
        path: impl Into<String>,
        attribute: impl Into<String>,
    ) -> &mut Self {
        self.options
            .enum_attributes
            .push((path.into(), attribute.into()));
        self
    }

    /// Adds an attribute to matched fields (prost-build's `field_attribute`).
    pub fn field_attribute(
        &mut self,
        path: impl Into<String>,
        attribute: impl Into<String>,
    ) -> &mut Self {
        self.options
            .field_attributes
            .push((path.into(), attribute.into()));
        self
    }

    /// Generates `bytes::Bytes` for matched `bytes` fields (prost-build's `bytes`; `["."]` for all).
    pub fn bytes<S: Into<String>>(&mut self, paths: impl IntoIterator<Item = S>) -> &mut Self {
        self.options.bytes.extend(paths.into_iter().map(Into::into));
        self
    }

    /// Generates `BTreeMap` for matched map fields (prost-build's `btree_map`; `["."]` for all).
    pub fn btree_map<S: Into<String>>(&mut self, paths: impl IntoIterator<Item = S>) -> &mut Self {
        self.options
            .btree_map
            .extend(paths.into_iter().map(Into::into));
        self
    }

    /// Boxes matched message fields (prost-build's `boxed`).
    pub fn boxed(&mut self, path: impl Into<String>) -> &mut Self {
        self.options.boxed.push(path.into());
        self
    }

    /// Leaves out the proto3 JSON (serde) impls, for crates that only use the wire format; their users need
    /// no `serde`/`pbjson` dependency and build faster.
    pub fn skip_json(&mut self, yes: bool) -> &mut Self {
        self.options.skip_json = yes;
        self
    }

    /// Leaves out the `impl Validate` of every message.
    pub fn skip_validators(&mut self, yes: bool) -> &mut Self {
        self.options.skip_validators = yes;
        self
    }

    /// Generates validators even when the schema holds message or oneof rules capgen does not know (an extension
    /// of `MessageRules` or `OneofRules`): those rules are skipped with a warning on stderr, the rest is
    /// generated. Without it such a rule is an error naming the rule. CEL rules are always compiled, never skipped:
    /// one that does not compile is an error either way.
    pub fn allow_unsupported_rules(&mut self, yes: bool) -> &mut Self {
        self.options.allow_unsupported_rules = yes;
        self
    }

    /// Generates a message whose `buf.validate` rules are invalid without its rules, listing it in
    /// [`Generated::refused`](crate::Generated) and its problems in the warnings, instead of failing. Meant for
    /// test harnesses such as the conformance runner, which expect a per-message "compilation error".
    #[doc(hidden)]
    pub fn refuse_invalid_messages(&mut self, yes: bool) -> &mut Self {
        self.options.refuse_invalid_messages = yes;
        self
    }

    /// buf or protoc 27+ to compile editions sources (`edition = "2023"`), which protox cannot parse; by
    /// default one is looked for on PATH (buf first). Editions files are then lowered to proto2, as descriptor
    /// sets are.
    pub fn editions_compiler(&mut self, path: impl Into<PathBuf>) -> &mut Self {
        self.options.editions_compiler = Some(path.into());
        self
    }

    /// Whether to print `cargo:rerun-if-changed` for every input (default: yes).
    pub fn emit_rerun_if_changed(&mut self, yes: bool) -> &mut Self {
        self.emit_rerun_if_changed = yes;
        self
    }

    /// Compiles `protos` (found through `includes`, plus the embedded `capacitor/v1/options.proto` and the
    /// well-known types) and writes the generated Rust.
    pub fn compile_protos(
        &self,
        protos: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> Result<(), Error> {
        self.run(&Input::Files {
            includes: includes.iter().map(|p| p.as_ref().to_path_buf()).collect(),
            files: protos.iter().map(|p| p.as_ref().to_path_buf()).collect(),
        })
    }

    /// Generates from a serialized `FileDescriptorSet` (as written by `protoc --descriptor_set_out
    /// --include_imports` or `buf build -o`).
    pub fn compile_descriptor_set(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        self.run(&Input::DescriptorSet {
            path: path.as_ref().to_path_buf(),
        })
    }

    /// Generates without writing anything: the files and the checked IR.
    pub fn generate(&self, input: &Input) -> Result<Generated, Error> {
        generate(input, &self.options)
    }

    fn run(&self, input: &Input) -> Result<(), Error> {
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or(Error::Config {
                    option: "out_dir",
                    reason: "OUT_DIR is not set: call this from build.rs, or set `out_dir`"
                        .to_string(),
                })?,
        };
        if self.emit_rerun_if_changed
            && let Input::Files { includes, .. } = input
        {
            // A new file in an include directory can change import resolution.
            for include in includes {
                println!("cargo:rerun-if-changed={}", include.display());
            }
        }
        let result = self.generate(input);
        if self.emit_rerun_if_changed {
            let inputs = match (&result, input) {
                (Ok(g), _) => g.inputs.clone(),
                (Err(_), Input::Files { files, .. }) => files.clone(),
                (Err(_), Input::DescriptorSet { path }) => vec![path.clone()],
                (Err(_), Input::DescriptorSetBytes { .. }) => Vec::new(),
            };
            for path in inputs {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
        let generated = result?;
        for warning in &generated.warnings {
            println!("cargo:warning={warning}");
        }
        write_all(&out_dir, &generated.files)?;
        Ok(())
    }
}
