//! The proto front end: `.proto` files (or a pre-built descriptor set) in, [`ir::Schema`](crate::ir::Schema) out.
//!
//! Files are compiled with protox into a prost-reflect [`DescriptorPool`], which keeps extension options
//! (`protox::compile()` and prost-types drop them) and source info for `file:line:col` diagnostics.

mod editions;
mod embedded;
mod external;
mod rules;
mod schema;
mod source;

pub use embedded::{EmbeddedFiles, OPTIONS_PROTO, OPTIONS_PROTO_NAME};
pub use external::{ExternalCompiler, INSTALL as EDITIONS_COMPILER_INSTALL};
pub use schema::{build_schema, oneof_type_name};

use crate::error::Error;
use crate::progress::Progress;
// Defined beside the diagnostics that render it, so that report.rs need not import the loader.
pub use crate::report::SourceFile;
use prost::Message as _;
use prost_reflect::DescriptorPool;
use protox::file::{ChainFileResolver, GoogleFileResolver, IncludeFileResolver};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where the schema comes from.
#[derive(Debug, Clone)]
pub enum Input {
    /// `.proto` files, found through include paths (protoc's `-I`).
    Files {
        includes: Vec<PathBuf>,
        files: Vec<PathBuf>,
    },
    /// A serialized `FileDescriptorSet` (protoc's `--descriptor_set_in`), e.g. from `buf build -o`.
    DescriptorSet { path: PathBuf },
    /// A serialized `FileDescriptorSet` already in memory, with the files to generate named: a protoc plugin
    /// request (its `proto_file` list and `file_to_generate`).
    DescriptorSetBytes {
        /// The set's wire bytes (raw, so extension options and editions fields survive).
        bytes: Vec<u8>,
        /// Import names of the files to generate code for; the set's other files are only imported.
        generate: Vec<String>,
        /// What the set is called in error messages (`CodeGeneratorRequest`).
        origin: PathBuf,
    },
}

/// A compiled schema: the descriptor pool and what is needed to point at its sources.
#[derive(Debug)]
pub struct Loaded {
    pub pool: DescriptorPool,
    /// Files to generate code for, by import name: every file but vendor files (well-known types, Capacitor's
    /// and buf.validate's options), imports included, as prost-build does.
    pub targets: Vec<String>,
    /// Source text by import name, for diagnostics.
    pub sources: BTreeMap<String, SourceFile>,
    /// Every file read from disk (for `cargo:rerun-if-changed`).
    pub inputs: Vec<PathBuf>,
    /// Fields (`pkg.Message.field`) of editions files declared with implicit presence, which lowering to
    /// proto2 turned into optional fields: validators treat them as implicit (see the `editions` module).
    pub implicit_presence: std::collections::BTreeSet<String>,
}

impl Loaded {
    /// The proto packages of the target files, sorted, each once (`""` for files without a package).
    pub fn target_packages(&self) -> Vec<String> {
        let mut packages: Vec<String> = self
            .targets
            .iter()
            .filter_map(|name| self.pool.get_file_by_name(name))
            .map(|f| f.package_name().to_string())
            .collect();
        packages.sort();
        packages.dedup();
        packages
    }
}

/// Compiles the input into a descriptor pool. Editions sources go through buf or protoc 27+ found on PATH.
pub fn load(input: &Input) -> Result<Loaded, Error> {
    load_with(input, None)
}

/// [`load`], compiling editions sources with `editions_compiler` (buf or protoc 27+) instead of one found on
/// PATH.
pub fn load_with(input: &Input, editions_compiler: Option<&Path>) -> Result<Loaded, Error> {
    load_reporting(input, editions_compiler, &mut |_| {})
}

/// [`load_with`], telling `progress` as each named file is compiled.
pub fn load_reporting(
    input: &Input,
    editions_compiler: Option<&Path>,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Loaded, Error> {
    let loaded = match input {
        Input::Files { includes, files } => match load_files(includes, files, progress) {
            Err(Error::Editions {
                file,
                location,
                found: _,
            }) => {
                let compiler = match editions_compiler {
                    Some(path) => ExternalCompiler::at(path),
                    None => ExternalCompiler::discover().map_err(|found| Error::Editions {
                        file,
                        location,
                        found,
                    })?,
                };
                load_compiled(&compiler, includes, files)
            }
            loaded => loaded,
        },
        Input::DescriptorSet { path } => {
            let bytes = std::fs::read(path).map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })?;
            load_descriptor_set(bytes, path, None)
        }
        Input::DescriptorSetBytes {
            bytes,
            generate,
            origin,
        } => load_descriptor_set(bytes.clone(), origin, Some(generate)),
    }?;
    progress(Progress::Loaded {
        files: loaded.pool.files().len(),
    });
    Ok(loaded)
}

fn load_files(
    includes: &[PathBuf],
    files: &[PathBuf],
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Loaded, Error> {
    let mut resolver = ChainFileResolver::new();
    for include in includes {
        resolver.add(IncludeFileResolver::new(include.clone()));
    }
    resolver.add(EmbeddedFiles);
    resolver.add(GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_imports(true).include_source_info(true);
    for (done, file) in files.iter().enumerate() {
        compiler
            .open_file(file)
            .map_err(|e| parse_error(e, includes))?;
        progress(Progress::Loading {
            done: done + 1,
            total: files.len(),
        });
    }
    let pool = compiler.descriptor_pool();
    let mut sources = BTreeMap::new();
    let mut inputs = Vec::new();
    for meta in compiler.files() {
        let path = meta.path().map(Path::to_path_buf);
        if let Some(p) = &path {
            inputs.push(p.clone());
        }
        let text = match &path {
            Some(p) => std::fs::read_to_string(p).ok(),
            None => EmbeddedFiles::source(meta.name()).map(str::to_string),
        };
        sources.insert(meta.name().to_string(), SourceFile { path, text });
    }
    Ok(Loaded {
        targets: targets(&pool),
        pool,
        sources,
        inputs,
        implicit_presence: Default::default(),
    })
}

/// protox reports an `edition = "2023"` file as a plain syntax error; say what is really going on.
fn parse_error(error: protox::Error, includes: &[PathBuf]) -> Error {
    if error.is_parse()
        && let Some(file) = error.file()
        && let Some((path, text)) = includes.iter().find_map(|i| {
            std::fs::read_to_string(i.join(file))
                .ok()
                .map(|t| (i.join(file), t))
        })
        && let Some(line) = text
            .lines()
            .position(|l| l.trim_start().starts_with("edition"))
    {
        let column = text
            .lines()
            .nth(line)
            .map_or(0, |l| l.len() - l.trim_start().len());
        return Error::Editions {
            file: file.to_string(),
            location: format!("{}:{}:{}", path.display(), line + 1, column + 1),
            found: "none was looked for".to_string(),
        };
    }
    Error::Parse(Box::new(error))
}

/// Editions sources: compiled by `compiler` into a descriptor set, loaded from there, with each file's text
/// read back from the include paths so diagnostics show the source.
fn load_compiled(
    compiler: &ExternalCompiler,
    includes: &[PathBuf],
    files: &[PathBuf],
) -> Result<Loaded, Error> {
    let bytes = compiler.compile(includes, files)?;
    let origin = PathBuf::from(
        files
            .first()
            .map_or("editions sources".into(), |f| f.display().to_string()),
    );
    let mut loaded = load_descriptor_set(bytes, &origin, None)?;
    loaded.inputs.clear();
    for (name, source) in &mut loaded.sources {
        if source.text.is_some() {
            continue;
        }
        if let Some(path) = includes.iter().map(|i| i.join(name)).find(|p| p.is_file()) {
            source.text = std::fs::read_to_string(&path).ok();
            loaded.inputs.push(path.clone());
            source.path = Some(path);
        }
    }
    Ok(loaded)
}

/// Loads a serialized set; `generate` narrows the targets to those files (else every non-vendor file).
fn load_descriptor_set(
    bytes: Vec<u8>,
    path: &Path,
    generate: Option<&[String]>,
) -> Result<Loaded, Error> {
    // prost-reflect panics on editions descriptors: look at the raw files first (prost-types keeps `syntax`),
    // and lower editions files to proto2 on the raw bytes before anything decodes them.
    let set = prost_types::FileDescriptorSet::decode(bytes.as_slice()).map_err(|e| {
        Error::DescriptorSet {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }
    })?;
    let mut implicit_presence = std::collections::BTreeSet::new();
    let bytes = if set.file.iter().any(|f| f.syntax() == "editions") {
        let lowered = editions::lower(&bytes).map_err(|reason| Error::DescriptorSet {
            path: path.to_path_buf(),
            reason: format!("cannot lower its editions files to proto2: {reason}"),
        })?;
        implicit_presence = lowered.implicit_presence;
        lowered.bytes
    } else {
        bytes
    };
    let pool = DescriptorPool::decode(bytes.as_slice()).map_err(|e| Error::DescriptorSet {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let sources = pool
        .files()
        .map(|f| {
            let source = SourceFile {
                path: None,
                text: EmbeddedFiles::source(f.name()).map(str::to_string),
            };
            (f.name().to_string(), source)
        })
        .collect();
    let targets = match generate {
        Some(names) => {
            if let Some(missing) = names.iter().find(|n| pool.get_file_by_name(n).is_none()) {
                return Err(Error::NotInDescriptorSet {
                    path: path.to_path_buf(),
                    file: missing.clone(),
                });
            }
            let names: std::collections::HashSet<&str> = names.iter().map(String::as_str).collect();
            targets(&pool)
                .into_iter()
                .filter(|t| names.contains(t.as_str()))
                .collect()
        }
        None => targets(&pool),
    };
    // An in-memory set was not read from disk: nothing for `cargo:rerun-if-changed`.
    let inputs = match generate {
        Some(_) => Vec::new(),
        None => vec![path.to_path_buf()],
    };
    Ok(Loaded {
        targets,
        pool,
        sources,
        inputs,
        implicit_presence,
    })
}

fn targets(pool: &DescriptorPool) -> Vec<String> {
    pool.files()
        .map(|f| f.name().to_string())
        .filter(|n| !EmbeddedFiles::is_vendor_file(n))
        .collect()
}
