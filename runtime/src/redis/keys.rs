//! Redis key layout of one entity.

use crate::pii::TokenKey;
use crate::record::Record;

/// The key space of one entity: `<prefix>:{<table>}:<fingerprint>` and its generation key.
#[derive(Clone)]
pub(super) struct KeySpace {
    base: String,
    gen_key: String,
    /// For an entity whose key is PII: the token key and the entity's full name (what tokens are keyed by).
    tokens: Option<(TokenKey, String)>,
}

impl KeySpace {
    pub(super) fn new(
        prefix: &str,
        table: &str,
        fingerprint: u64,
        tokens: Option<(TokenKey, String)>,
    ) -> Self {
        KeySpace {
            base: format!("{prefix}:{{{table}}}:{fingerprint:016x}"),
            gen_key: format!("{prefix}:{{{table}}}:gen"),
            tokens,
        }
    }

    /// Everything before the generation; the scripts append `:<generation>:<token>`.
    pub(super) fn base(&self) -> &str {
        &self.base
    }

    pub(super) fn gen_key(&self) -> &str {
        &self.gen_key
    }

    /// The key's own segment: its [`Column::write_token`](crate::record::Column::write_token) text, or, when the
    /// key is PII, the keyed token of that text (22 characters of `[A-Za-z0-9_-]`, which never contain the `;`
    /// every plain token text has, so the two forms cannot collide).
    pub(super) fn token<E: Record>(&self, key: &E::Key) -> String {
        let text = crate::record::key_token::<E>(key);
        match &self.tokens {
            None => text,
            Some((tokens, entity)) => tokens.token(entity, text.as_bytes()).to_string(),
        }
    }
}
