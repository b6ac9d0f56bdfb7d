//! [`SecretKey`]: 32 bytes of key material that is wiped on drop and never printed.

use crate::pii::PiiError;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// A 256-bit secret: a key ring's master key or a [`TokenKey`](crate::pii::TokenKey)'s key.
///
/// The bytes are wiped when the value is dropped (`zeroize`). `Debug` prints `SecretKey(<redacted>)`; there is
/// no `Display`, no serde and no `Clone` (copies would be more places to wipe), so a key is not logged,
/// serialized or duplicated by accident.
pub struct SecretKey([u8; SecretKey::LEN]);

impl SecretKey {
    /// The length of a key in bytes.
    pub const LEN: usize = 32;

    /// The key made of `bytes`.
    pub fn from_bytes(bytes: [u8; SecretKey::LEN]) -> SecretKey {
        SecretKey(bytes)
    }

    /// A new random key from the operating system's generator.
    pub fn generate() -> Result<SecretKey, PiiError> {
        let mut bytes = [0u8; SecretKey::LEN];
        getrandom::fill(&mut bytes).map_err(|e| PiiError::Random(e.to_string()))?;
        Ok(SecretKey(bytes))
    }

    /// Parses a key written as base64 (standard or URL-safe, padding optional) or as 64 hex digits.
    ///
    /// `at` names the source in the error (e.g. `CAPACITOR_TOKEN_KEY`); the error never contains the text.
    pub fn parse(text: &str, at: &str) -> Result<SecretKey, PiiError> {
        decode(text.trim()).ok_or_else(|| PiiError::InvalidKey {
            at: at.to_owned(),
            reason: format!(
                "a key must be {} bytes written as base64 or as {} hex digits",
                SecretKey::LEN,
                2 * SecretKey::LEN
            ),
        })
    }

    /// The key's bytes, for a primitive to key itself with.
    pub(crate) fn expose(&self) -> &[u8; SecretKey::LEN] {
        &self.0
    }
}

/// The 32 bytes `text` spells in hex or in one of the base64 alphabets, if it spells exactly 32.
fn decode(text: &str) -> Option<SecretKey> {
    if text.len() == 2 * SecretKey::LEN && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut bytes = [0u8; SecretKey::LEN];
        for (at, pair) in text.as_bytes().chunks(2).enumerate() {
            let pair = std::str::from_utf8(pair).ok()?;
            bytes[at] = u8::from_str_radix(pair, 16).ok()?;
        }
        return Some(SecretKey(bytes));
    }
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        // Decoded into a wiped buffer: a near-miss (wrong length) must not leave key bytes behind either.
        if let Ok(decoded) = engine.decode(text).map(Zeroizing::new)
            && let Ok(bytes) = <[u8; SecretKey::LEN]>::try_from(decoded.as_slice())
        {
            return Some(SecretKey(bytes));
        }
    }
    None
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for SecretKey {}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hex_and_every_base64_alphabet() {
        let bytes: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(250));
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let spellings = [
            hex.clone(),
            hex.to_uppercase(),
            STANDARD.encode(bytes),
            STANDARD_NO_PAD.encode(bytes),
            URL_SAFE.encode(bytes),
            URL_SAFE_NO_PAD.encode(bytes),
            format!("  {}\n", STANDARD.encode(bytes)),
        ];
        for text in spellings {
            assert_eq!(
                SecretKey::parse(&text, "test").unwrap().expose(),
                &bytes,
                "{text}"
            );
        }
    }

    #[test]
    fn refuses_other_lengths_without_echoing_the_text() {
        for text in [
            "",
            "abcd",
            &"ab".repeat(31),
            &STANDARD.encode([7u8; 31]),
            &STANDARD.encode([7u8; 33]),
        ] {
            let error = SecretKey::parse(text, "CAPACITOR_TOKEN_KEY")
                .unwrap_err()
                .to_string();
            assert!(error.starts_with("CAPACITOR_TOKEN_KEY: "), "{error}");
            if !text.is_empty() {
                assert!(!error.contains(text), "{error}");
            }
        }
    }

    #[test]
    fn debug_shows_no_key_bytes() {
        let key = SecretKey::from_bytes([0xAB; 32]);
        assert_eq!(format!("{key:?}"), "SecretKey(<redacted>)");
        assert_eq!(format!("{key:#?}"), "SecretKey(<redacted>)");
    }
}
