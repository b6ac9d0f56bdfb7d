//! Sealed page cursors: the token a page hands out as [`Page::next`](crate::store::Page::next) and a scan or
//! lookup takes back as `after`.
//!
//! **Layout.** A token is base64url (no padding) of a format byte and the key's columns in their unambiguous
//! token form ([`Column::write_token`], read back by [`Column::read_token`]), padded to a multiple of 16 bytes and
//! sealed with AES-256-SIV (RFC 5297, RustCrypto's `aes-siv`) under a [`CursorKey`]. The format byte, the
//! entity's message name and its [`Record::fingerprint`] are the associated data: a token of another entity, of
//! an older schema of this one, or sealed under another key fails authentication and is refused.
//!
//! **Properties.** *Opaque*: without the key a token reveals nothing of the key it holds but its length, to
//! within 16 bytes. *Stable*: SIV is deterministic, so the same key under the same cursor key always gives the
//! same token, and a page boundary is stable. *Unforgeable*: a tampered, truncated or made-up token is
//! [`Error::InvalidCursor`], which names the entity only (never the token or the key), never a wrong page.
//!
//! **Keys.** A [`Repository`](crate::Repository) seals with the key of
//! [`RepositoryBuilder::cursor_key`](crate::repo::RepositoryBuilder::cursor_key), else with the process-wide
//! default ([`default_key`]): the key given to [`set_default_key`], else the environment variable
//! [`CURSOR_KEY_ENV`] (`CAPACITOR_CURSOR_KEY`), else a random key made for this process, with one
//! `tracing` warning per process, since its tokens are refused by other processes and after a restart. Services
//! with several processes set the same key everywhere. A [`CursorKey`] is 64 bytes, written as 128 hex digits
//! or as base64 (standard or URL-safe, padding optional); `openssl rand -hex 64` makes one.
//!
//! **Rotation.** A key may carry previous keys ([`CursorKey::accepting`], or a comma-separated list in the
//! variable, newest first): tokens are sealed under the first and opened under any, so pages handed out before a
//! rotation still work while the old key is listed.
//!
//! [`Cursor`]'s and [`CursorKey`]'s `Debug` never show their contents.

use crate::error::{DecodeError, Error};
use crate::record::{Column, ColumnReader, ColumnWriter, Record};
use aes_siv::siv::Aes256Siv;
use aes_siv::{Key, KeyInit};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Once, OnceLock};
use zeroize::Zeroizing;

/// The format byte of the current token layout (1 was the unsealed layout, now refused).
const FORMAT: u8 = 2;

/// The SIV tag that starts a sealed body, and the block the plaintext is padded to.
const BLOCK: usize = 16;

/// The most rows one page may ask for; larger limits are refused with [`Error::InvalidLimit`].
pub const MAX_PAGE_LIMIT: usize = 10_000;

/// The environment variable the process-wide default [`CursorKey`] is read from (see the
/// [module docs](self)).
pub const CURSOR_KEY_ENV: &str = "CAPACITOR_CURSOR_KEY";

/// The secret that seals page cursors, with the previous keys it still accepts.
///
/// Cheap to clone (shared). `Debug` prints `CursorKey(<redacted>)`; there is no `Display` and no serde, so a key
/// is never logged or serialized by accident. The key bytes are wiped (`zeroize`) when the last clone drops.
#[derive(Clone)]
pub struct CursorKey(Arc<Zeroizing<Vec<[u8; CursorKey::LEN]>>>);

impl CursorKey {
    /// The length of a key in bytes (AES-256-SIV: a 256-bit MAC key and a 256-bit encryption key).
    pub const LEN: usize = 64;

    /// A new random key from the operating system's generator; [`Error::Config`] if the generator fails.
    pub fn generate() -> Result<CursorKey, Error> {
        let mut bytes = Zeroizing::new([0u8; CursorKey::LEN]);
        getrandom::fill(&mut *bytes).map_err(|e| {
            Error::Config(format!(
                "cursor key: the operating system's random generator failed: {e}"
            ))
        })?;
        Ok(CursorKey::from_bytes(*bytes))
    }

    /// The key made of `bytes`.
    pub fn from_bytes(bytes: [u8; CursorKey::LEN]) -> CursorKey {
        CursorKey(Arc::new(Zeroizing::new(vec![bytes])))
    }

    /// Parses a key: 128 hex digits or base64 (standard or URL-safe, padding optional) of 64 bytes, or a
    /// comma-separated list of them, newest first (the first seals, all open; see [`accepting`](Self::accepting)).
    ///
    /// [`Error::Config`] on anything else; the message says what is wrong, never the text.
    pub fn parse(text: &str) -> Result<CursorKey, Error> {
        let parts: Vec<&str> = text.split(',').map(str::trim).collect();
        let mut keys = Zeroizing::new(Vec::with_capacity(parts.len()));
        for (at, part) in parts.iter().enumerate() {
            let key = decode_key(part).ok_or_else(|| {
                let which = match parts.len() {
                    1 => "a cursor key".to_owned(),
                    n => format!("cursor key {} of {n}", at + 1),
                };
                Error::Config(format!(
                    "{which} is not {} bytes written as {} hex digits or as base64",
                    CursorKey::LEN,
                    2 * CursorKey::LEN
                ))
            })?;
            keys.push(key);
        }
        Ok(CursorKey(Arc::new(keys)))
    }

    /// The key in [`CURSOR_KEY_ENV`] (parsed as by [`parse`](Self::parse)); `None` when it is unset or empty.
    pub fn from_env() -> Result<Option<CursorKey>, Error> {
        match std::env::var(CURSOR_KEY_ENV) {
            Ok(text) if text.trim().is_empty() => Ok(None),
            Ok(text) => CursorKey::parse(&text)
                .map(Some)
                .map_err(|e| Error::Config(format!("{CURSOR_KEY_ENV}: {}", config_text(e)))),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(Error::Config(format!(
                "{CURSOR_KEY_ENV} is not valid UTF-8"
            ))),
        }
    }

    /// This key, also accepting tokens sealed under `previous` (and the keys `previous` accepts): for a rotation,
    /// seal under the new key while pages handed out under the old one are still in flight.
    pub fn accepting(self, previous: &CursorKey) -> CursorKey {
        // Sized up front: a growing Vec would free its old buffer without wiping it.
        let mut keys = Zeroizing::new(Vec::with_capacity(self.0.len() + previous.0.len()));
        keys.extend_from_slice(&self.0);
        for key in previous.0.iter() {
            if !keys.contains(key) {
                keys.push(*key);
            }
        }
        CursorKey(Arc::new(keys))
    }

    /// The [`TokenKey`](crate::pii::TokenKey) derived from this key (its sealing key), for processes that share
    /// a cursor key and have no `CAPACITOR_TOKEN_KEY`: HMAC-SHA256 of the sealing key over a fixed label, so the
    /// token key reveals nothing of the cursor key and is the same in every process with the same cursor key.
    /// Rotating the cursor key (a new first key) changes every token; see `docs/pii.md`.
    pub fn token_key(&self) -> crate::pii::TokenKey {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(self.sealing())
            .expect("HMAC takes a key of any length");
        mac.update(b"capacitor key-token key from cursor key v1");
        let derived: [u8; 32] = mac.finalize().into_bytes().into();
        crate::pii::TokenKey::new(&crate::pii::SecretKey::from_bytes(derived))
    }

    /// The key that seals.
    fn sealing(&self) -> &[u8; CursorKey::LEN] {
        // Every constructor puts at least one key in.
        &self.0[0]
    }
}

impl fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CursorKey(<redacted>)")
    }
}

impl FromStr for CursorKey {
    type Err = Error;

    /// As [`CursorKey::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CursorKey::parse(s)
    }
}

/// The text of a `Config` error (the others do not occur while parsing).
fn config_text(e: Error) -> String {
    match e {
        Error::Config(text) => text,
        other => other.to_string(),
    }
}

/// 64 bytes from hex or base64 text.
fn decode_key(text: &str) -> Option<[u8; CursorKey::LEN]> {
    let bytes =
        match text.len() == 2 * CursorKey::LEN && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            true => (0..CursorKey::LEN)
                .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
                .collect::<Option<Vec<u8>>>()?,
            false => [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
                .iter()
                .find_map(|engine| engine.decode(text).ok())?,
        };
    bytes.try_into().ok()
}

/// The process-wide default key, resolved once.
struct DefaultKey {
    key: CursorKey,
    /// Made up for this process because nothing was configured.
    random: bool,
}

static DEFAULT_KEY: OnceLock<Result<DefaultKey, String>> = OnceLock::new();
static RANDOM_KEY_WARNING: Once = Once::new();

/// Sets the process-wide default cursor key (see the [module docs](self)); call it once at startup, before any
/// page is read. [`Error::Config`] if the default is already set or already in use (resolved from the
/// environment or made up at random by an earlier page).
pub fn set_default_key(key: CursorKey) -> Result<(), Error> {
    DEFAULT_KEY
        .set(Ok(DefaultKey { key, random: false }))
        .map_err(|_| {
            Error::Config(
                "the default cursor key is already set or already in use: set it once, before the first page"
                    .to_owned(),
            )
        })
}

/// The process-wide default cursor key: the one given to [`set_default_key`], else the one in
/// [`CURSOR_KEY_ENV`], else a random key for this process (with one `tracing` warning per process).
/// [`Error::Config`] when the variable holds no valid key.
pub fn default_key() -> Result<&'static CursorKey, Error> {
    let default = resolve_default()?;
    if default.random {
        RANDOM_KEY_WARNING.call_once(|| {
            tracing::warn!(
                target: "capacitor::cursor",
                "no cursor key is configured ({CURSOR_KEY_ENV} or capacitor::cursor::set_default_key): page \
                 cursors are sealed under a random key of this process, so other processes and this one after a \
                 restart will refuse them"
            );
        });
    }
    Ok(&default.key)
}

/// The process-wide default key if one is configured ([`set_default_key`] or [`CURSOR_KEY_ENV`]); `None` when
/// the default is (or would be) a random key of this process.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) fn configured_default_key() -> Result<Option<&'static CursorKey>, Error> {
    let default = resolve_default()?;
    Ok((!default.random).then_some(&default.key))
}

/// The default key without the warning (for [`Cursor::of`], which internal scans call even when a repository
/// seals under its own key).
fn resolve_default() -> Result<&'static DefaultKey, Error> {
    let resolved = DEFAULT_KEY.get_or_init(|| match CursorKey::from_env() {
        Ok(Some(key)) => Ok(DefaultKey { key, random: false }),
        Ok(None) => CursorKey::generate()
            .map(|key| DefaultKey { key, random: true })
            .map_err(config_text),
        Err(e) => Err(config_text(e)),
    });
    resolved
        .as_ref()
        .map_err(|text| Error::Config(text.clone()))
}

/// An opaque, stable, sealed page cursor for one entity (see the [module docs](self)).
///
/// Displays and parses as a URL-safe string; `Debug` prints `Cursor(<redacted>)`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Cursor(String);

impl Cursor {
    /// The cursor of `key` sealed under the process-wide [`default_key`]: the next page starts after it. A
    /// repository with its own key makes its cursors with [`Repository::cursor`](crate::Repository::cursor).
    ///
    /// When the default key cannot be resolved (a malformed [`CURSOR_KEY_ENV`]) the token opens under no key;
    /// the scans report the configuration error.
    pub fn of<E: Record>(key: &E::Key) -> Cursor {
        match resolve_default() {
            Ok(default) => Cursor::seal::<E>(key, &default.key),
            Err(_) => Cursor(URL_SAFE_NO_PAD.encode([FORMAT])),
        }
    }

    /// The cursor of `key` sealed under `with`.
    pub fn seal<E: Record>(key: &E::Key, with: &CursorKey) -> Cursor {
        let mut text = KeyText(String::new());
        E::write_key(key, &mut text);
        let mut plain = text.0.into_bytes();
        // Padding (0x80, then zeros to a whole block) hides the key's exact length.
        plain.push(0x80);
        plain.resize(plain.len().next_multiple_of(BLOCK), 0);
        let headers = [associated_data::<E>()];
        let mut siv = Aes256Siv::new(&Key::<Aes256Siv>::from(*with.sealing()));
        // Fails only with more than 126 headers; one never does. An empty body would open as "truncated".
        let sealed = siv.encrypt(&headers, &plain).unwrap_or_default();
        let mut bytes = Vec::with_capacity(1 + sealed.len());
        bytes.push(FORMAT);
        bytes.extend_from_slice(&sealed);
        Cursor(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The key this cursor holds, opened under the process-wide [`default_key`]; see [`open`](Self::open).
    pub fn key<E: Record>(&self) -> Result<E::Key, Error> {
        self.open::<E>(default_key()?)
    }

    /// The key this cursor holds, opened under `with` (or a previous key it accepts); [`Error::InvalidCursor`]
    /// when it is not a token of `E` under its current schema sealed under one of those keys (another
    /// entity's, an older schema's, another key's, tampered with, truncated or junk).
    pub fn open<E: Record>(&self, with: &CursorKey) -> Result<E::Key, Error> {
        let bad = |reason: &'static str| Error::InvalidCursor {
            entity: E::SCHEMA.message,
            reason,
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(self.0.as_bytes())
            .map_err(|_| bad("not a cursor token"))?;
        let (&format, sealed) = bytes.split_first().ok_or_else(|| bad("empty token"))?;
        if format != FORMAT {
            return Err(bad("unknown token format"));
        }
        if sealed.len() < 2 * BLOCK || sealed.len() % BLOCK != 0 {
            return Err(bad("truncated token"));
        }
        let headers = [associated_data::<E>()];
        let mut plain = with
            .0
            .iter()
            .find_map(|key| {
                Aes256Siv::new(&Key::<Aes256Siv>::from(*key))
                    .decrypt(&headers, sealed)
                    .ok()
            })
            .ok_or_else(|| {
                bad("not a token of this entity and schema under this cursor key, or tampered with")
            })?;
        let end = plain.iter().rposition(|&b| b != 0).unwrap_or(0);
        if plain.get(end) != Some(&0x80) {
            return Err(bad("malformed key"));
        }
        plain.truncate(end);
        let text = std::str::from_utf8(&plain).map_err(|_| bad("malformed key"))?;
        let mut reader = KeyReader(text);
        let key = E::read_key(&mut reader).map_err(|_| bad("malformed key"))?;
        if !reader.0.is_empty() {
            return Err(bad("malformed key"));
        }
        Ok(key)
    }

    /// The token text (the same as `Display`).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cursor(<redacted>)")
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A string that cannot be a token (empty, or a character outside base64url).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseCursorError;

impl fmt::Display for ParseCursorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a cursor token")
    }
}

impl std::error::Error for ParseCursorError {}

impl FromStr for Cursor {
    type Err = ParseCursorError;

    /// Checks only the alphabet; which entity and key the token belongs to is checked when it is used.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let alphabet = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
        match !s.is_empty() && s.bytes().all(alphabet) {
            true => Ok(Cursor(s.to_owned())),
            false => Err(ParseCursorError),
        }
    }
}

impl serde::Serialize for Cursor {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Cursor {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What a token is bound to without carrying it: the format, `E`'s fingerprint and message name (last, as the
/// only part of varying length). One header, since SIV pays one CMAC per header.
fn associated_data<E: Record>() -> Vec<u8> {
    let name = E::SCHEMA.message.as_bytes();
    let mut data = Vec::with_capacity(9 + name.len());
    data.push(FORMAT);
    data.extend_from_slice(&E::fingerprint().to_be_bytes());
    data.extend_from_slice(name);
    data
}

/// Checks a page limit: at least one row, at most [`MAX_PAGE_LIMIT`].
pub(crate) fn check_limit<E: Record>(limit: usize) -> Result<(), Error> {
    match limit {
        1..=MAX_PAGE_LIMIT => Ok(()),
        _ => Err(Error::InvalidLimit {
            entity: E::SCHEMA.message,
            limit,
            max: MAX_PAGE_LIMIT,
        }),
    }
}

/// The key of an optional cursor opened under `with`.
pub(crate) fn key_under<E: Record>(
    after: Option<&Cursor>,
    with: &CursorKey,
) -> Result<Option<E::Key>, Error> {
    after.map(|c| c.open::<E>(with)).transpose()
}

/// Writes key columns in their token form.
struct KeyText(String);

impl ColumnWriter for KeyText {
    fn column<T: Column>(&mut self, value: &T) {
        value.write_token(&mut self.0);
    }
}

/// Reads key columns back from their token form.
struct KeyReader<'a>(&'a str);

impl ColumnReader for KeyReader<'_> {
    fn column<T: Column>(&mut self) -> Result<T, DecodeError> {
        T::read_token(&mut self.0).ok_or_else(|| DecodeError::new("cursor key column"))
    }
}

#[cfg(test)]
mod tests {
    use super::CursorKey;
    use crate::codec::{Duration, Timestamp};
    use crate::record::Column;
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    #[test]
    fn keys_parse_from_hex_and_base64_and_lists() {
        let bytes: [u8; 64] = std::array::from_fn(|i| i as u8 * 3);
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        for text in [
            hex.clone(),
            hex.to_uppercase(),
            STANDARD.encode(bytes),
            URL_SAFE_NO_PAD.encode(bytes),
            format!("  {hex}\n"),
        ] {
            let key = CursorKey::parse(&text).unwrap();
            assert_eq!(key.0.as_slice(), &[bytes], "{text}");
        }
        let older = [7u8; 64];
        let ring = CursorKey::parse(&format!("{hex}, {}", STANDARD.encode(older))).unwrap();
        assert_eq!(ring.0.as_slice(), &[bytes, older], "newest first");
        let accepting = CursorKey::from_bytes(bytes).accepting(&CursorKey::from_bytes(older));
        assert_eq!(accepting.0.as_slice(), ring.0.as_slice());
    }

    #[test]
    fn bad_keys_are_config_errors_that_never_echo_the_text() {
        let short = "ab".repeat(32);
        for (text, says) in [
            (short.as_str(), "a cursor key is not 64 bytes"),
            ("not-a-key-at-all", "a cursor key is not 64 bytes"),
            ("", "a cursor key is not 64 bytes"),
        ] {
            let err = CursorKey::parse(text).unwrap_err();
            let shown = err.to_string();
            assert!(shown.contains(says), "{shown}");
            assert!(text.is_empty() || !shown.contains(text), "{shown}");
        }
        let good = "00".repeat(64);
        let err = CursorKey::parse(&format!("{good},{short}")).unwrap_err();
        assert!(err.to_string().contains("cursor key 2 of 2"), "{err}");
        assert!(!err.to_string().contains(&short), "{err}");
    }

    #[test]
    fn keys_never_print() {
        let key = CursorKey::from_bytes([0xAB; 64]);
        assert_eq!(format!("{key:?}"), "CursorKey(<redacted>)");
        assert_eq!(format!("{:?}", Some(key)), "Some(CursorKey(<redacted>))");
    }

    /// `read_token` is the inverse of `write_token` and consumes exactly one token.
    fn round_trip<T: Column + PartialEq + std::fmt::Debug>(value: T) {
        let mut text = String::new();
        value.write_token(&mut text);
        text.push_str("rest");
        let mut input = text.as_str();
        assert_eq!(T::read_token(&mut input), Some(value));
        assert_eq!(input, "rest");
    }

    #[test]
    fn key_kinds_read_back_their_tokens() {
        round_trip(-7i64);
        round_trip(u64::MAX);
        round_trip(3u32);
        round_trip(true);
        round_trip(false);
        round_trip(-0.5f64);
        round_trip(1.25f32);
        round_trip("a;b:c s3:é".to_owned());
        round_trip(String::new());
        round_trip(vec![0u8, 255, 7]);
        round_trip(Some(5i32));
        round_trip(None::<String>);
        round_trip(Timestamp {
            seconds: -3,
            nanos: 5,
        });
        round_trip(Duration {
            seconds: -1,
            nanos: -5,
        });
    }

    #[test]
    fn malformed_tokens_read_nothing() {
        for bad in [
            "", "i;", "ix;", "s5:ab;", "s2:ab", "b1:zz;", "d12;", "T1;", "q1;",
        ] {
            let mut input = bad;
            assert_eq!(String::read_token(&mut input), None, "{bad}");
            let mut input = bad;
            assert_eq!(i64::read_token(&mut input), None, "{bad}");
            let mut input = bad;
            assert_eq!(Vec::<u8>::read_token(&mut input), None, "{bad}");
            let mut input = bad;
            assert_eq!(f64::read_token(&mut input), None, "{bad}");
            let mut input = bad;
            assert_eq!(Timestamp::read_token(&mut input), None, "{bad}");
        }
    }
}
