//! Writing generated files: all or none, atomically, and only when they changed.

use crate::error::Error;
use crate::generate::GeneratedFile;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes every file into `dir` (created if missing, with the folders a file's name holds). Each file is written to a temporary file beside its
/// target first; only when all are written are they renamed into place, so a failure leaves the previous
/// output untouched. Files whose contents did not change are not rewritten (their mtime stays, so cargo does
/// not rebuild). Returns the paths written.
pub fn write_all(dir: &Path, files: &[GeneratedFile]) -> Result<Vec<PathBuf>, Error> {
    let write_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(write_error(dir))?;
    let mut staged = Vec::new();
    for file in files {
        let path = dir.join(&file.name);
        if std::fs::read(&path).is_ok_and(|old| old == file.contents.as_bytes()) {
            continue;
        }
        // A name may hold folders (`capacitor/v1/options.proto`); the temp file goes beside its target so
        // the rename stays on one file system.
        let parent = path.parent().unwrap_or(dir);
        std::fs::create_dir_all(parent).map_err(write_error(parent))?;
        let mut temp = tempfile::NamedTempFile::new_in(parent).map_err(write_error(&path))?;
        temp.write_all(file.contents.as_bytes())
            .and_then(|()| temp.as_file().sync_all())
            .map_err(write_error(&path))?;
        staged.push((temp, path));
    }
    let mut written = Vec::new();
    for (temp, path) in staged {
        temp.persist(&path).map_err(|e| Error::Write {
            path: path.clone(),
            source: e.error,
        })?;
        written.push(path);
    }
    Ok(written)
}

/// Why a generated file on disk does not match what generation produces now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stale {
    Missing(PathBuf),
    Differs(PathBuf),
}

impl std::fmt::Display for Stale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stale::Missing(p) => write!(f, "{}: missing", p.display()),
            Stale::Differs(p) => write!(
                f,
                "{}: stale (differs from what the schema generates)",
                p.display()
            ),
        }
    }
}

/// Compares `files` with what `dir` holds, writing nothing.
pub fn stale_files(dir: &Path, files: &[GeneratedFile]) -> Vec<Stale> {
    files
        .iter()
        .filter_map(|file| {
            let path = dir.join(&file.name);
            match std::fs::read(&path) {
                Err(_) => Some(Stale::Missing(path)),
                Ok(old) if old != file.contents.as_bytes() => Some(Stale::Differs(path)),
                Ok(_) => None,
            }
        })
        .collect()
}
