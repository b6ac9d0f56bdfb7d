//! Editions sources compiled by an external compiler, `buf` or a `protoc` new enough for editions (27+):
//! protox parses proto2 and proto3 only. The compiler writes a descriptor set (imports and source info
//! included), which takes the descriptor-set path from there on (editions lowered to proto2, see
//! `editions`).
//!
//! protoc takes the user's include paths as they are. buf has no include paths, so each one becomes a module
//! of a throwaway workspace (a symlink to it; buf follows them). Either way capgen's built-in imports
//! (`capacitor/v1/options.proto`, `buf/validate/validate.proto`) are written to a temp folder searched last,
//! unless an include path has its own copy.

use super::embedded::EmbeddedFiles;
use crate::error::Error;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The oldest protoc that compiles editions without experimental flags.
const PROTOC_EDITIONS_MAJOR: u32 = 27;

/// An external proto compiler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalCompiler {
    path: PathBuf,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Buf,
    Protoc,
}

impl ExternalCompiler {
    /// The compiler at `path`: protoc when its `--version` says `libprotoc …`, buf otherwise (buf prints a
    /// bare version number). A compiler that does not run fails later, in [`Self::compile`], with the reason.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let kind = match version(&path) {
            Some(v) if v.starts_with("libprotoc") => Kind::Protoc,
            _ => Kind::Buf,
        };
        ExternalCompiler { kind, path }
    }

    /// `buf` on PATH, else a `protoc` on PATH that supports editions. The error says what was looked at.
    pub fn discover() -> Result<Self, String> {
        if let Some(buf) = on_path("buf") {
            return Ok(ExternalCompiler {
                path: buf,
                kind: Kind::Buf,
            });
        }
        let Some(protoc) = on_path("protoc") else {
            return Err("neither buf nor protoc is on PATH".to_string());
        };
        let version = version(&protoc).unwrap_or_default();
        // `libprotoc 3.21.12` (old numbering) or `libprotoc 27.1`.
        let major = version
            .rsplit(' ')
            .next()
            .and_then(|v| v.split('.').next())
            .and_then(|m| m.parse::<u32>().ok())
            .unwrap_or(0);
        if major >= PROTOC_EDITIONS_MAJOR {
            Ok(ExternalCompiler {
                path: protoc,
                kind: Kind::Protoc,
            })
        } else {
            Err(format!(
                "buf is not on PATH and the protoc on PATH ({}: `{version}`) is too old for editions",
                protoc.display()
            ))
        }
    }

    /// Compiles `files` (paths or import names, as for protox) into a serialized `FileDescriptorSet` with
    /// imports and source info.
    pub fn compile(&self, includes: &[PathBuf], files: &[PathBuf]) -> Result<Vec<u8>, Error> {
        let work = tempfile::tempdir().map_err(|source| Error::Io {
            path: std::env::temp_dir(),
            source,
        })?;
        let vendor = work.path().join("vendor");
        let vendored = write_vendor_files(&vendor, includes)?;
        let out = work.path().join("set.binpb");
        let mut command = Command::new(&self.path);
        // buf's modules, one per distinct include path: (canonical path, as the user gave it).
        let mut roots: Vec<(PathBuf, &PathBuf)> = Vec::new();
        match self.kind {
            Kind::Protoc => {
                command
                    .args(["--include_imports", "--include_source_info"])
                    .arg(format!("--descriptor_set_out={}", out.display()));
                for include in includes {
                    command.arg(format!("-I{}", include.display()));
                }
                if vendored {
                    command.arg(format!("-I{}", vendor.display()));
                }
                command.args(files);
            }
            Kind::Buf => {
                let mut modules = String::from("version: v2\nmodules:\n");
                for include in includes {
                    let root = std::fs::canonicalize(include).map_err(|source| Error::Io {
                        path: include.clone(),
                        source,
                    })?;
                    if roots.iter().any(|(r, _)| *r == root) {
                        continue;
                    }
                    let link = work.path().join(format!("include{}", roots.len()));
                    symlink(&root, &link)?;
                    modules.push_str(&format!("  - path: include{}\n", roots.len()));
                    roots.push((root, include));
                }
                if vendored {
                    modules.push_str("  - path: vendor\n");
                }
                let config = work.path().join("buf.yaml");
                std::fs::write(&config, modules).map_err(|source| Error::Io {
                    path: config,
                    source,
                })?;
                command
                    .current_dir(work.path())
                    .arg("build")
                    .arg("-o")
                    .arg(&out);
                for file in files {
                    let (index, name) = import_name(&roots, file).ok_or_else(|| Error::Io {
                        path: file.clone(),
                        source: std::io::Error::new(
                            std::io::ErrorKind::NotFound,
                            "not found in any include path (-I)",
                        ),
                    })?;
                    command.arg("--path").arg(format!("include{index}/{name}"));
                }
            }
        }
        let output = command.output().map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })?;
        if !output.status.success() {
            let mut report = String::from_utf8_lossy(&output.stderr).trim().to_string();
            if self.kind == Kind::Buf {
                // buf names files by the throwaway module they are in: name the include path instead.
                for (index, (_, include)) in roots.iter().enumerate().rev() {
                    report = report.replace(
                        &format!("include{index}/"),
                        &format!("{}/", include.display()),
                    );
                }
            }
            return Err(Error::ExternalCompiler {
                compiler: self.path.clone(),
                output: report,
            });
        }
        std::fs::read(&out).map_err(|source| Error::Io { path: out, source })
    }
}

/// Writes the built-in imports no include path provides; whether any was written.
fn write_vendor_files(vendor: &Path, includes: &[PathBuf]) -> Result<bool, Error> {
    let mut wrote = false;
    for (name, text) in EmbeddedFiles::FILES {
        if includes.iter().any(|i| i.join(name).is_file()) {
            continue;
        }
        let path = vendor.join(name);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, text));
        written.map_err(|source| Error::Io { path, source })?;
        wrote = true;
    }
    Ok(wrote)
}

/// The include root (by index) a file lives under and its import name there: a path under a root, or an
/// import name that exists in one (protox takes both).
fn import_name(roots: &[(PathBuf, &PathBuf)], file: &Path) -> Option<(usize, String)> {
    let slashed = |p: &Path| {
        p.components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/")
    };
    if let Ok(full) = std::fs::canonicalize(file) {
        for (index, (root, _)) in roots.iter().enumerate() {
            if let Ok(rest) = full.strip_prefix(root) {
                return Some((index, slashed(rest)));
            }
        }
    }
    roots
        .iter()
        .position(|(root, _)| root.join(file).is_file())
        .map(|index| (index, slashed(file)))
}

/// What `<compiler> --version` prints, trimmed.
fn version(compiler: &Path) -> Option<String> {
    let output = Command::new(compiler).arg("--version").output().ok()?;
    Some(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> Result<(), Error> {
    std::os::unix::fs::symlink(target, link).map_err(|source| Error::Io {
        path: link.to_path_buf(),
        source,
    })
}

#[cfg(not(unix))]
fn symlink(target: &Path, link: &Path) -> Result<(), Error> {
    std::os::windows::fs::symlink_dir(target, link).map_err(|source| Error::Io {
        path: link.to_path_buf(),
        source,
    })
}
