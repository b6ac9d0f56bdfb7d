//! The lockfile: the relational state the migrations in one dialect folder produce, keyed by table (message)
//! and column (field number), with a checksum so a hand edit is detected instead of silently trusted.

use crate::ddl::{Dialect, Table};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The lockfile's name inside `migrations/<dialect>/`. sqlx's migrator ignores files that are not
/// `<version>_<name>.sql`, so it can live beside the migrations.
pub const LOCKFILE: &str = "capacitor-lock.json";

/// The lockfile format this version of capgen writes and reads.
pub const FORMAT: u32 = 1;

/// The recorded state of one dialect folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lockfile {
    pub format: u32,
    pub dialect: Dialect,
    /// The version of the last migration in the folder (`0` before the first).
    pub version: u32,
    /// SHA-256 of the rest of the file in canonical (compact) JSON.
    pub checksum: String,
    /// Tables by message, in the schema's declaration order.
    pub tables: Vec<Table>,
}

/// Why a lockfile cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}", path = path.display())]
pub struct LockfileError {
    pub path: PathBuf,
    pub reason: String,
}

#[derive(Serialize)]
struct Checked<'a> {
    format: u32,
    dialect: Dialect,
    version: u32,
    tables: &'a [Table],
}

fn checksum(format: u32, dialect: Dialect, version: u32, tables: &[Table]) -> String {
    let canonical = serde_json::to_vec(&Checked {
        format,
        dialect,
        version,
        tables,
    })
    .expect("tables serialize");
    Sha256::digest(&canonical)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Lockfile {
    /// The lockfile for `tables` after migration `version`.
    pub fn new(dialect: Dialect, version: u32, tables: Vec<Table>) -> Lockfile {
        Lockfile {
            format: FORMAT,
            dialect,
            version,
            checksum: checksum(FORMAT, dialect, version, &tables),
            tables,
        }
    }

    /// The file's text: pretty JSON ending in a newline, byte-stable for the same state.
    pub fn to_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("lockfile serializes");
        text.push('\n');
        text
    }

    /// Parses and verifies a lockfile read from `path` for `dialect`.
    pub fn parse(text: &str, path: &Path, dialect: Dialect) -> Result<Lockfile, LockfileError> {
        let fail = |reason: String| LockfileError {
            path: path.to_path_buf(),
            reason,
        };
        let lock: Lockfile = serde_json::from_str(text).map_err(|e| {
            fail(format!(
                "corrupt lockfile (line {}, column {}: {e}); restore it from version control — it is \
                 written by `capgen migrate diff` and must not be edited",
                e.line(),
                e.column()
            ))
        })?;
        if lock.format != FORMAT {
            return Err(fail(format!(
                "lockfile format {} is not the format this capgen reads ({FORMAT})",
                lock.format
            )));
        }
        if lock.dialect != dialect {
            return Err(fail(format!(
                "the lockfile is for {}, but it is in the {dialect} folder",
                lock.dialect
            )));
        }
        let expected = checksum(lock.format, lock.dialect, lock.version, &lock.tables);
        if lock.checksum != expected {
            return Err(fail(
                "checksum mismatch: the lockfile was edited by hand; restore it from version control \
                 (it is written by `capgen migrate diff` only)"
                    .to_string(),
            ));
        }
        Ok(lock)
    }

    /// Reads `dir/LOCKFILE`; `None` when the folder has no lockfile yet.
    pub fn read(dir: &Path, dialect: Dialect) -> Result<Option<Lockfile>, LockfileError> {
        let path = dir.join(LOCKFILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Lockfile::parse(&text, &path, dialect).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(LockfileError {
                path,
                reason: format!("cannot read: {e}"),
            }),
        }
    }
}
