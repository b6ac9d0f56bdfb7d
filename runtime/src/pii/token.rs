//! Keyed tokens for keys that are PII: a stable, non-reversible stand-in for an email-keyed row's key in a
//! Redis key name, a metric label or a tracing field.
//!
//! A [`KeyToken`] is the first 128 bits of HMAC-SHA256 under a [`TokenKey`] over the entity's full name and
//! the key's canonical bytes (both length-prefixed, so no two different pairs share an input). Without the
//! token key it reveals nothing of the key but equality: the same key of the same entity always gives the same
//! token, in every process that shares the token key, so tokens can name shared cache entries. 128 bits keep
//! accidental collisions out of reach (the birthday bound is 2^64 keys).
//!
//! The token key is its own secret, not one of the key ring's encryption keys, and is not rotated with them:
//! rotating it changes every token, which costs a cold cache and discontinuous metric series, nothing worse.
//! This module needs no cargo feature (HMAC-SHA256 only).

use crate::pii::{PiiError, SecretKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

/// The environment variable [`TokenKey::from_env`] reads: a 32-byte key as base64 or 64 hex digits.
pub const TOKEN_KEY_ENV: &str = "CAPACITOR_TOKEN_KEY";

/// Domain separation: a token can never equal a blind index or any other HMAC under the same bytes.
const DOMAIN: &[u8] = b"capacitor key-token v1";

/// The secret that keys [`KeyToken`]s.
///
/// Keyed once at construction (the HMAC state after the key is kept and cloned per token). `Debug` prints
/// `TokenKey(<redacted>)`.
#[derive(Clone)]
pub struct TokenKey {
    keyed: Hmac<Sha256>,
}

impl TokenKey {
    /// The token key made of `key`.
    pub fn new(key: &SecretKey) -> TokenKey {
        let mut keyed = <Hmac<Sha256> as Mac>::new_from_slice(key.expose())
            .expect("HMAC takes a key of any length");
        keyed.update(DOMAIN);
        TokenKey { keyed }
    }

    /// The key in [`TOKEN_KEY_ENV`] (`CAPACITOR_TOKEN_KEY`); `None` when it is unset or empty.
    ///
    /// Services that share a cache must share this key; there is deliberately no random fallback here, since
    /// tokens from a per-process key would name cache entries no other process finds.
    pub fn from_env() -> Result<Option<TokenKey>, PiiError> {
        match std::env::var(TOKEN_KEY_ENV) {
            Ok(text) if text.trim().is_empty() => Ok(None),
            Ok(text) => Ok(Some(TokenKey::new(&SecretKey::parse(
                &text,
                TOKEN_KEY_ENV,
            )?))),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(PiiError::InvalidKey {
                at: TOKEN_KEY_ENV.to_owned(),
                reason: "not valid UTF-8".to_owned(),
            }),
        }
    }

    /// The token of the key whose canonical bytes are `key` in the entity named `entity` (its full name).
    ///
    /// ```
    /// use capacitor::pii::{SecretKey, TokenKey};
    ///
    /// let tokens = TokenKey::new(&SecretKey::from_bytes([7; 32]));
    /// let token = tokens.token("app.v1.User", b"ada@example.com");
    /// assert_eq!(token, tokens.token("app.v1.User", b"ada@example.com"));
    /// assert_ne!(token, tokens.token("app.v1.Admin", b"ada@example.com"));
    /// assert_eq!(token.to_string().len(), 22);
    /// assert!(!token.to_string().contains("ada"));
    /// ```
    pub fn token(&self, entity: &str, key: &[u8]) -> KeyToken {
        let mut mac = self.keyed.clone();
        mac.update(&(entity.len() as u64).to_be_bytes());
        mac.update(entity.as_bytes());
        mac.update(&(key.len() as u64).to_be_bytes());
        mac.update(key);
        let full = mac.finalize().into_bytes();
        let mut token = [0u8; KeyToken::LEN];
        token.copy_from_slice(&full[..KeyToken::LEN]);
        KeyToken(token)
    }
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey(<redacted>)")
    }
}

/// A 128-bit keyed token standing in for a key that is PII.
///
/// `Display` writes 22 characters of unpadded URL-safe base64 (`[A-Za-z0-9_-]`), safe in a Redis key, a
/// Prometheus label or a log field. Not secret: tokens may be logged.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyToken([u8; KeyToken::LEN]);

impl KeyToken {
    /// The length of a token in bytes.
    pub const LEN: usize = 16;

    /// The token's bytes.
    pub fn as_bytes(&self) -> &[u8; KeyToken::LEN] {
        &self.0
    }
}

impl fmt::Display for KeyToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // 16 bytes encode to exactly 22 characters; a stack buffer keeps Display allocation-free.
        let mut text = [0u8; 22];
        let written = URL_SAFE_NO_PAD
            .encode_slice(self.0, &mut text)
            .expect("16 bytes fit 22 base64 characters");
        f.write_str(std::str::from_utf8(&text[..written]).expect("base64 is ASCII"))
    }
}

impl fmt::Debug for KeyToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyToken({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(byte: u8) -> TokenKey {
        TokenKey::new(&SecretKey::from_bytes([byte; 32]))
    }

    #[test]
    fn stable_per_key_and_entity_distinct_otherwise() {
        let t = tokens(1);
        let a = t.token("app.v1.User", b"ada@example.com");
        assert_eq!(a, tokens(1).token("app.v1.User", b"ada@example.com"));
        assert_ne!(a, t.token("app.v1.User", b"bob@example.com"));
        assert_ne!(a, t.token("app.v1.Users", b"ada@example.com"));
        assert_ne!(a, tokens(2).token("app.v1.User", b"ada@example.com"));
        // Length prefixes: moving bytes between the entity and the key changes the token.
        assert_ne!(t.token("ab", b"c"), t.token("a", b"bc"));
    }

    #[test]
    fn display_is_key_name_safe_and_hides_the_key() {
        let canary = "canary-7f3e@example.com";
        let token = tokens(3).token("app.v1.User", canary.as_bytes());
        for text in [
            token.to_string(),
            format!("{token:?}"),
            format!("{:?}", tokens(3)),
        ] {
            assert!(!text.contains("canary"), "{text}");
        }
        let shown = token.to_string();
        assert_eq!(shown.len(), 22);
        assert!(
            shown
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{shown}"
        );
        assert_eq!(format!("{:?}", tokens(3)), "TokenKey(<redacted>)");
    }

    #[test]
    fn matches_hmac_sha256_of_the_documented_input() {
        // The layout is a stored contract (Redis keys outlive a deploy): pin it against a direct computation.
        let key = [9u8; 32];
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
        mac.update(b"capacitor key-token v1");
        mac.update(&4u64.to_be_bytes());
        mac.update(b"a.Bc");
        mac.update(&3u64.to_be_bytes());
        mac.update(b"key");
        let expected = mac.finalize().into_bytes();
        assert_eq!(tokens(9).token("a.Bc", b"key").as_bytes(), &expected[..16]);
    }
}
