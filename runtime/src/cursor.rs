//! Opaque page cursors: the token a page hands out as [`Page::next`](crate::store::Page::next) and a scan or
//! lookup takes back as `after`.
//!
//! A token is base64url (no padding) of a format byte, the entity's [`Record::fingerprint`] (so a token of
//! another entity, or of an older schema of this one, is refused) and the key's columns in their unambiguous
//! token form ([`Column::write_token`], read back by [`Column::read_token`]). The same key always gives the same
//! token, so a page boundary is stable.
//!
//! **Sensitivity.** A token is not encrypted: it carries the key (which may be PII, e.g. an email) in a form
//! anyone can decode. Treat a token as sensitive as the key itself: hand it only to callers who may read the
//! rows it pages through. [`Cursor`]'s `Debug` never shows it, and decoding errors name the entity only.

use crate::error::{DecodeError, Error};
use crate::record::{Column, ColumnReader, ColumnWriter, Record};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::fmt;
use std::str::FromStr;

/// The format byte of the current token layout.
const FORMAT: u8 = 1;

/// The most rows one page may ask for; larger limits are refused with [`Error::InvalidLimit`].
pub const MAX_PAGE_LIMIT: usize = 10_000;

/// An opaque, stable page cursor for one entity (see the [module docs](self) on what it carries).
///
/// Displays and parses as a URL-safe string; `Debug` prints `Cursor(<redacted>)`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Cursor(String);

impl Cursor {
    /// The cursor of `key`: the next page starts after it.
    pub fn of<E: Record>(key: &E::Key) -> Cursor {
        let mut out = KeyText(String::new());
        E::write_key(key, &mut out);
        let mut bytes = Vec::with_capacity(9 + out.0.len());
        bytes.push(FORMAT);
        bytes.extend_from_slice(&E::fingerprint().to_be_bytes());
        bytes.extend_from_slice(out.0.as_bytes());
        Cursor(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The key this cursor holds; [`Error::InvalidCursor`] when it is not a token of `E` under its current
    /// schema (another entity's, an older schema's, truncated or junk).
    pub fn key<E: Record>(&self) -> Result<E::Key, Error> {
        let bad = |reason: &'static str| Error::InvalidCursor {
            entity: E::SCHEMA.message,
            reason,
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(self.0.as_bytes())
            .map_err(|_| bad("not a cursor token"))?;
        let (&format, rest) = bytes.split_first().ok_or_else(|| bad("empty token"))?;
        if format != FORMAT {
            return Err(bad("unknown token format"));
        }
        let (fingerprint, body) = rest
            .split_first_chunk::<8>()
            .ok_or_else(|| bad("truncated token"))?;
        if u64::from_be_bytes(*fingerprint) != E::fingerprint() {
            return Err(bad("token of another entity or schema"));
        }
        let text = std::str::from_utf8(body).map_err(|_| bad("malformed key"))?;
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

    /// Checks only the alphabet; which entity the token belongs to is checked when it is used.
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

/// The key of an optional cursor, for the stores.
pub(crate) fn key_of<E: Record>(after: Option<&Cursor>) -> Result<Option<E::Key>, Error> {
    after.map(Cursor::key::<E>).transpose()
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
    use crate::record::Column;
    use crate::sql::{Duration, Timestamp};

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
