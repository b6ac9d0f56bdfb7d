//! Redis key layout of one entity.

use crate::pii::TokenKey;
use crate::record::Record;

/// How many hash-tag buckets an entity's keys spread over on a Redis Cluster: each bucket is a slot of its own
/// (`{<table>/<bucket>}`), with its own generation record, so an entity's keys land on many masters and adding
/// masters adds capacity for one hot entity. A fixed number, not an option: every process sharing a cluster must
/// name a key the same way (a process that put key `k` in another bucket would write where the others never
/// read, and its generation bumps would not retire their entries). On a single server an entity is one bucket,
/// `{<table>}`.
pub const CLUSTER_BUCKETS: usize = 16;

/// One bucket's names: `<prefix>:{<tag>}:<fingerprint>` (the data keys' base, before `:<generation>:<token>`)
/// and its generation key.
#[derive(Clone)]
pub(super) struct Bucket {
    base: String,
    gen_key: String,
    tag: String,
}

impl Bucket {
    /// Everything before the generation; the scripts append `:<generation>:<token>`.
    pub(super) fn base(&self) -> &str {
        &self.base
    }

    pub(super) fn gen_key(&self) -> &str {
        &self.gen_key
    }

    /// The hash tag, braces included: Redis Cluster puts every key with it in the same slot.
    pub(super) fn tag(&self) -> &str {
        &self.tag
    }
}

/// The key space of one entity: its buckets (one on a single server, [`CLUSTER_BUCKETS`] on a cluster).
#[derive(Clone)]
pub(super) struct KeySpace {
    buckets: std::sync::Arc<[Bucket]>,
    /// For an entity whose key is PII: the token key and the entity's full name (what tokens are keyed by).
    tokens: Option<(TokenKey, String)>,
}

impl KeySpace {
    pub(super) fn new(
        prefix: &str,
        table: &str,
        fingerprint: u64,
        buckets: usize,
        tokens: Option<(TokenKey, String)>,
    ) -> Self {
        let bucket = |tag: String| Bucket {
            base: format!("{prefix}:{tag}:{fingerprint:016x}"),
            gen_key: format!("{prefix}:{tag}:gen"),
            tag,
        };
        let buckets = match buckets {
            0 | 1 => vec![bucket(format!("{{{table}}}"))],
            n => (0..n).map(|b| bucket(format!("{{{table}/{b}}}"))).collect(),
        };
        KeySpace {
            buckets: buckets.into(),
            tokens,
        }
    }

    pub(super) fn buckets(&self) -> &[Bucket] {
        &self.buckets
    }

    pub(super) fn bucket(&self, index: usize) -> &Bucket {
        &self.buckets[index]
    }

    /// The bucket of a key, from its token (FNV-1a, so every process and every version agrees).
    pub(super) fn bucket_of(&self, token: &str) -> usize {
        if self.buckets.len() == 1 {
            return 0;
        }
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in token.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        (hash % self.buckets.len() as u64) as usize
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
