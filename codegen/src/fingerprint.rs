//! Incremental generation: what one run read and wrote, kept beside its output, so that the next run with
//! nothing changed can say "up to date" without compiling or emitting anything.
//!
//! A fingerprint records the tool (capgen's version and the identity of its executable), every option that
//! shapes the output, every file read (its SHA-256), where each import resolved (so a file added earlier on
//! the include path, which would shadow an import, counts as a change), and the SHA-256 of every file
//! written. A run is skipped only when all of that still holds, outputs included: a hand-edited or deleted
//! output is regenerated, never trusted.
//!
//! ```no_run
//! use capacitor_codegen::fingerprint::Fingerprint;
//! # let (out, tool, includes) = (std::path::Path::new("src/gen"), String::new(), Vec::new());
//! if Fingerprint::load(out).is_some_and(|f| f.is_current(&tool, &includes, out)) {
//!     println!("up to date");
//! }
//! ```

use crate::error::Error;
use crate::generate::{Generated, GeneratedFile};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The fingerprint's file name in the output directory.
pub const FILE_NAME: &str = ".capgen-fingerprint";

/// One run's inputs and outputs, as hashes (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// The tool and every option that shapes the output ([`tool_identity`] plus the caller's options).
    pub tool: String,
    /// Every file read from disk, with its SHA-256.
    pub read: Vec<Hashed>,
    /// Each schema file by import name, with the path it resolved to (`None`: built in, e.g. the well-known
    /// types), so that a new file shadowing it on the include path is noticed.
    pub resolved: Vec<Resolved>,
    /// Every file written, relative to the output directory, with its SHA-256.
    pub written: Vec<Hashed>,
    /// The run's warnings, printed again when a later run is skipped.
    pub warnings: Vec<String>,
}

/// A file and the SHA-256 of its contents (hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hashed {
    pub path: PathBuf,
    pub sha256: String,
}

/// Where an import name resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolved {
    pub name: String,
    pub path: Option<PathBuf>,
}

/// capgen's version and its executable's size and modification time: a rebuilt capgen (whose emitters or
/// embedded protos may have changed) never trusts an earlier build's output. `None` when the executable
/// cannot be inspected: then no run is skipped.
pub fn tool_identity() -> Option<String> {
    let exe = std::fs::metadata(std::env::current_exe().ok()?).ok()?;
    let modified = exe
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(format!(
        "capgen {} ({} bytes, modified {}.{:09})",
        env!("CARGO_PKG_VERSION"),
        exe.len(),
        modified.as_secs(),
        modified.subsec_nanos()
    ))
}

impl Fingerprint {
    /// The fingerprint of `generated`, produced by `tool` (see [`tool_identity`]). `also_read` names input
    /// files the generation read that it does not list itself (a descriptor set the caller read).
    pub fn record(
        tool: String,
        generated: &Generated,
        also_read: &[PathBuf],
    ) -> Result<Fingerprint, Error> {
        let mut paths: Vec<&PathBuf> = generated.inputs.iter().chain(also_read).collect();
        paths.sort();
        paths.dedup();
        let read = paths
            .into_iter()
            .map(|path| {
                let bytes = std::fs::read(path).map_err(|source| Error::Io {
                    path: path.clone(),
                    source,
                })?;
                Ok(Hashed {
                    path: path.clone(),
                    sha256: sha256(&bytes),
                })
            })
            .collect::<Result<_, Error>>()?;
        let resolved = generated
            .sources
            .iter()
            .map(|(name, path)| Resolved {
                name: name.clone(),
                path: path.clone(),
            })
            .collect();
        let written = generated
            .files
            .iter()
            .map(|file| Hashed {
                path: PathBuf::from(&file.name),
                sha256: sha256(file.contents.as_bytes()),
            })
            .collect();
        Ok(Fingerprint {
            tool,
            read,
            resolved,
            written,
            warnings: generated.warnings.clone(),
        })
    }

    /// The fingerprint kept in `out`, if there is a readable one.
    pub fn load(out: &Path) -> Option<Fingerprint> {
        let text = std::fs::read(out.join(FILE_NAME)).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// The fingerprint as the file [`Fingerprint::load`] reads, for [`crate::output::write_all`].
    pub fn to_file(&self) -> GeneratedFile {
        GeneratedFile {
            name: FILE_NAME.to_string(),
            contents: serde_json::to_string_pretty(self).expect("a fingerprint serializes") + "\n",
        }
    }

    /// Whether a run of `tool` over the same inputs, importing through `includes` in that order, would
    /// produce exactly what `out` holds now.
    pub fn is_current(&self, tool: &str, includes: &[PathBuf], out: &Path) -> bool {
        let same_contents = |path: &Path, expected: &str| {
            std::fs::read(path).is_ok_and(|bytes| sha256(&bytes) == expected)
        };
        self.tool == tool
            && self
                .resolved
                .iter()
                .all(|r| resolve(includes, &r.name).as_ref() == r.path.as_ref())
            && self
                .read
                .iter()
                .all(|file| same_contents(&file.path, &file.sha256))
            && self
                .written
                .iter()
                .all(|file| same_contents(&out.join(&file.path), &file.sha256))
    }
}

/// The file an import name resolves to on the include path (the first include holding it), as protox's
/// include resolver finds it; `None` when no include holds it (a built-in file).
fn resolve(includes: &[PathBuf], name: &str) -> Option<PathBuf> {
    includes
        .iter()
        .map(|include| include.join(name))
        .find(|path| path.is_file())
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
