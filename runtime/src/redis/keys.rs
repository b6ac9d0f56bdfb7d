//! Redis key layout of one entity.

use crate::record::Record;

/// The key space of one entity: `<prefix>:{<table>}:<fingerprint>` and its generation key.
#[derive(Clone)]
pub(super) struct KeySpace {
    base: String,
    gen_key: String,
}

impl KeySpace {
    pub(super) fn new(prefix: &str, table: &str, fingerprint: u64) -> Self {
        KeySpace {
            base: format!("{prefix}:{{{table}}}:{fingerprint:016x}"),
            gen_key: format!("{prefix}:{{{table}}}:gen"),
        }
    }

    /// Everything before the generation; the scripts append `:<generation>:<token>`.
    pub(super) fn base(&self) -> &str {
        &self.base
    }

    pub(super) fn gen_key(&self) -> &str {
        &self.gen_key
    }

    /// The key's own segment (see [`Column::write_token`](crate::record::Column::write_token)).
    pub(super) fn token<E: Record>(&self, key: &E::Key) -> String {
        crate::record::key_token::<E>(key)
    }
}
