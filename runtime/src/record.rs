//! What the data access layer needs from an entity beyond its [`Entity::SCHEMA`]: its key, its protobuf
//! encoding and its row mapping.
//!
//! Generated code implements [`Record`] for every entity; until the emitter does, tests implement it by hand.
//! Everything else (caching, promotion, write-through, metrics) lives once in the runtime, generic over it.

use crate::Entity;
use crate::error::DecodeError;
use crate::schema::EntitySchema;
use std::fmt::Write;
use std::hash::Hash;
use std::time::{SystemTime, UNIX_EPOCH};

/// Receives the column values of a row or key, in column order. Implemented by each store (binding through the
/// SQL value codec for its dialect) and by the Redis key encoder.
pub trait ColumnWriter {
    /// The next column's value.
    fn column<T: Column>(&mut self, value: &T);
}

/// Hands out the column values of a row or key, in column order.
pub trait ColumnReader {
    /// The next column's value.
    fn column<T: Column>(&mut self) -> Result<T, DecodeError>;
}

/// A Rust value that maps to a column. Generated code names only this trait and the two visitors above, which
/// exist whatever runtime features are on; each store maps a `Column` with its own dialect's codec
/// ([`capacitor::codec`](crate::codec)), through the hidden methods below.
pub trait Column: Sized + Send + Sync + 'static {
    /// Appends an unambiguous text form of the value (used in Redis keys): a kind letter, then the value, with
    /// a length prefix wherever the value could contain a separator.
    fn write_token(&self, out: &mut String);

    /// Reads a value back from the front of `input` (advancing past it), the inverse of
    /// [`write_token`](Column::write_token); `None` when the text is not one. Page cursors read keys with it;
    /// the kinds that cannot be key columns (collections, JSON) keep this default and read nothing.
    fn read_token(input: &mut &str) -> Option<Self> {
        let _ = input;
        None
    }

    /// The plaintext bytes an encrypted column seals: [`Sealable::Bytes`] for a string's UTF-8 or a byte
    /// string, [`Sealable::Null`] for an unset optional. Only string and bytes fields may be encrypted (the
    /// schema check refuses others), so every other kind keeps this default.
    #[doc(hidden)]
    fn sealable(&self) -> Sealable<'_> {
        Sealable::Unsupported
    }

    /// The value of an encrypted column from its decrypted bytes (`None`: the column was NULL), the inverse of
    /// [`sealable`](Column::sealable).
    #[doc(hidden)]
    fn unseal(plaintext: Option<Vec<u8>>) -> Result<Self, DecodeError> {
        let _ = plaintext;
        Err(DecodeError::new(
            "an encrypted column of a type that cannot be encrypted",
        ))
    }

    #[cfg(feature = "sqlite")]
    #[doc(hidden)]
    fn bind_sqlite(&self, args: &mut SqliteArguments) -> Result<(), BoxError>;
    #[cfg(feature = "sqlite")]
    #[doc(hidden)]
    fn bind_sqlite_null(args: &mut SqliteArguments) -> Result<(), BoxError>;
    /// Reads the column at `*index` (advancing it); `None` for NULL.
    #[cfg(feature = "sqlite")]
    #[doc(hidden)]
    fn read_sqlite(row: &SqliteRow, index: &mut usize) -> Result<Option<Self>, DecodeError>;

    #[cfg(feature = "postgres")]
    #[doc(hidden)]
    fn bind_pg(&self, args: &mut PgArguments) -> Result<(), BoxError>;
    #[cfg(feature = "postgres")]
    #[doc(hidden)]
    fn bind_pg_null(args: &mut PgArguments) -> Result<(), BoxError>;
    /// Reads the column(s) at `*index` (advancing past them); `None` for NULL.
    #[cfg(feature = "postgres")]
    #[doc(hidden)]
    fn read_pg(row: &PgRow, index: &mut usize) -> Result<Option<Self>, DecodeError>;
}

#[cfg(feature = "sqlite")]
use crate::codec::{SqliteArguments, SqliteRow};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
use crate::error::BoxError;
#[cfg(feature = "postgres")]
use sqlx::postgres::{PgArguments, PgRow};
#[cfg(feature = "postgres")]
use {sqlx::Arguments, sqlx::Row};

#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn codec_error(column: usize, e: impl DecodeReason) -> DecodeError {
    DecodeError::new(format!("column {column}: {}", e.reason()))
}

/// Why a column did not decode, in words that cannot hold the column's value.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) trait DecodeReason {
    /// The reason, without the value.
    fn reason(&self) -> String;
}

/// The codec's errors name the proto kind and a fixed reason, never the value (its contract).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl DecodeReason for crate::codec::CodecError {
    fn reason(&self) -> String {
        self.to_string()
    }
}

/// sqlx's decode errors may quote their input (a UTF-8 or number parse error on a corrupt column): only its
/// type-mismatch text, which names SQL and Rust types, is kept.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl DecodeReason for sqlx::Error {
    fn reason(&self) -> String {
        match self {
            sqlx::Error::ColumnDecode { source, .. } => {
                let text = source.to_string();
                match text.starts_with("mismatched types;") && !text.contains(['\'', '"']) {
                    true => text,
                    false => "the column does not decode as its type".to_owned(),
                }
            }
            sqlx::Error::ColumnIndexOutOfBounds { .. } => "the row has no such column".to_owned(),
            _ => "the column could not be read".to_owned(),
        }
    }
}

/// Met by every type when the runtime has its `encryption` feature. Generated code for an entity with
/// `encrypt` fields requires it, so such a schema fails to compile, naming the feature, against a runtime
/// built without it (rather than storing plaintext, or failing only at run time).
#[diagnostic::on_unimplemented(
    message = "`{Self}` has encrypted fields (`encrypt`), which need the `encryption` feature of the `capacitor` runtime",
    label = "enable it: capacitor = {{ features = [\"encryption\"] }}",
    note = "without the feature, values of encrypted fields could not be encrypted"
)]
pub trait EncryptionEnabled {}

#[cfg(feature = "encryption")]
impl<T: ?Sized> EncryptionEnabled for T {}

/// What an encrypted column seals, from [`Column::sealable`].
#[doc(hidden)]
#[derive(Debug)]
pub enum Sealable<'a> {
    /// The plaintext bytes.
    Bytes(&'a [u8]),
    /// An unset optional value: stored as NULL, not encrypted.
    Null,
    /// A kind that cannot be encrypted.
    Unsupported,
}

/// The SQL hooks of a one-column type, through the codec.
macro_rules! sql_hooks {
    () => {
        sqlite_hooks!();
        pg_hooks!();
    };
}

/// The SQLite hooks of a one-column type, through the codec.
macro_rules! sqlite_hooks {
    () => {
        #[cfg(feature = "sqlite")]
        fn bind_sqlite(&self, args: &mut SqliteArguments) -> Result<(), BoxError> {
            args.add(crate::codec::SqliteValue::to_sqlite(self)?)
        }
        #[cfg(feature = "sqlite")]
        fn bind_sqlite_null(args: &mut SqliteArguments) -> Result<(), BoxError> {
            args.add(None::<<Self as crate::codec::SqliteValue>::Column>)
        }
        #[cfg(feature = "sqlite")]
        fn read_sqlite(row: &SqliteRow, index: &mut usize) -> Result<Option<Self>, DecodeError> {
            let at = *index;
            *index += 1;
            let column: Option<<Self as crate::codec::SqliteValue>::Column> =
                row.try_get(at).map_err(|e| codec_error(at, e))?;
            column
                .map(|c| crate::codec::SqliteValue::from_sqlite(c).map_err(|e| codec_error(at, e)))
                .transpose()
        }
    };
}

/// The Postgres hooks of a one-column type, through the codec.
macro_rules! pg_hooks {
    () => {
        #[cfg(feature = "postgres")]
        fn bind_pg(&self, args: &mut PgArguments) -> Result<(), BoxError> {
            args.add(crate::codec::PgValue::to_pg(self)?)
        }
        #[cfg(feature = "postgres")]
        fn bind_pg_null(args: &mut PgArguments) -> Result<(), BoxError> {
            args.add(None::<<Self as crate::codec::PgValue>::Column>)
        }
        #[cfg(feature = "postgres")]
        fn read_pg(row: &PgRow, index: &mut usize) -> Result<Option<Self>, DecodeError> {
            let at = *index;
            *index += 1;
            let column: Option<<Self as crate::codec::PgValue>::Column> =
                row.try_get(at).map_err(|e| codec_error(at, e))?;
            column
                .map(|c| crate::codec::PgValue::from_pg(c).map_err(|e| codec_error(at, e)))
                .transpose()
        }
    };
}

// Other modules' `Column` impls (`collections`) bind through the same hooks; their expansion names
// `codec_error`, the sqlx row/argument types and traits, `BoxError` and `DecodeError`, which the caller imports.
pub(crate) use {pg_hooks, sql_hooks, sqlite_hooks};

macro_rules! integer_column {
    ($($ty:ty),*) => {$(
        impl Column for $ty {
            fn write_token(&self, out: &mut String) {
                let _ = write!(out, "i{self};");
            }
            fn read_token(input: &mut &str) -> Option<Self> {
                token_field(input, 'i')?.parse().ok()
            }
            sql_hooks!();
        }
    )*};
}
integer_column!(i32, i64, u32, u64);

impl Column for bool {
    fn write_token(&self, out: &mut String) {
        out.push_str(if *self { "t;" } else { "f;" });
    }
    fn read_token(input: &mut &str) -> Option<Self> {
        let value = match input.get(..2)? {
            "t;" => true,
            "f;" => false,
            _ => return None,
        };
        *input = &input[2..];
        Some(value)
    }
    sql_hooks!();
}

impl Column for f64 {
    fn write_token(&self, out: &mut String) {
        let _ = write!(out, "d{:016x};", self.to_bits());
    }
    fn read_token(input: &mut &str) -> Option<Self> {
        let hex = token_field(input, 'd')?;
        (hex.len() == 16)
            .then(|| u64::from_str_radix(hex, 16).ok())
            .flatten()
            .map(f64::from_bits)
    }
    sql_hooks!();
}

impl Column for f32 {
    fn write_token(&self, out: &mut String) {
        let _ = write!(out, "e{:08x};", self.to_bits());
    }
    fn read_token(input: &mut &str) -> Option<Self> {
        let hex = token_field(input, 'e')?;
        (hex.len() == 8)
            .then(|| u32::from_str_radix(hex, 16).ok())
            .flatten()
            .map(f32::from_bits)
    }
    sql_hooks!();
}

impl Column for String {
    fn write_token(&self, out: &mut String) {
        let _ = write!(out, "s{}:{self};", self.len());
    }
    fn read_token(input: &mut &str) -> Option<Self> {
        token_sized(input, 's', Some).map(str::to_owned)
    }
    fn sealable(&self) -> Sealable<'_> {
        Sealable::Bytes(self.as_bytes())
    }
    fn unseal(plaintext: Option<Vec<u8>>) -> Result<Self, DecodeError> {
        String::from_utf8(plaintext.ok_or_else(unexpected_null)?)
            .map_err(|_| DecodeError::new("a decrypted string is not UTF-8"))
    }
    sql_hooks!();
}

/// The token of a byte string: `b<len>:<hex>;`.
fn write_bytes_token(bytes: &[u8], out: &mut String) {
    let _ = write!(out, "b{}:", bytes.len());
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out.push(';');
}

impl Column for Vec<u8> {
    fn write_token(&self, out: &mut String) {
        write_bytes_token(self, out);
    }
    fn read_token(input: &mut &str) -> Option<Self> {
        let hex = token_sized(input, 'b', |len| len.checked_mul(2))?;
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect()
    }
    fn sealable(&self) -> Sealable<'_> {
        Sealable::Bytes(self)
    }
    fn unseal(plaintext: Option<Vec<u8>>) -> Result<Self, DecodeError> {
        plaintext.ok_or_else(unexpected_null)
    }
    sql_hooks!();
}

/// prost's `bytes` option (`prost_build::Config::bytes`): the same column and token as `Vec<u8>`.
impl Column for prost::bytes::Bytes {
    fn write_token(&self, out: &mut String) {
        write_bytes_token(self, out);
    }
    fn read_token(input: &mut &str) -> Option<Self> {
        Vec::<u8>::read_token(input).map(Self::from)
    }
    fn sealable(&self) -> Sealable<'_> {
        Sealable::Bytes(self)
    }
    fn unseal(plaintext: Option<Vec<u8>>) -> Result<Self, DecodeError> {
        Vec::<u8>::unseal(plaintext).map(Self::from)
    }
    #[cfg(feature = "sqlite")]
    fn bind_sqlite(&self, args: &mut SqliteArguments) -> Result<(), BoxError> {
        self.to_vec().bind_sqlite(args)
    }
    #[cfg(feature = "sqlite")]
    fn bind_sqlite_null(args: &mut SqliteArguments) -> Result<(), BoxError> {
        Vec::<u8>::bind_sqlite_null(args)
    }
    #[cfg(feature = "sqlite")]
    fn read_sqlite(row: &SqliteRow, index: &mut usize) -> Result<Option<Self>, DecodeError> {
        Ok(Vec::<u8>::read_sqlite(row, index)?.map(Self::from))
    }
    #[cfg(feature = "postgres")]
    fn bind_pg(&self, args: &mut PgArguments) -> Result<(), BoxError> {
        args.add(&self[..])
    }
    #[cfg(feature = "postgres")]
    fn bind_pg_null(args: &mut PgArguments) -> Result<(), BoxError> {
        Vec::<u8>::bind_pg_null(args)
    }
    #[cfg(feature = "postgres")]
    fn read_pg(row: &PgRow, index: &mut usize) -> Result<Option<Self>, DecodeError> {
        Ok(Vec::<u8>::read_pg(row, index)?.map(Self::from))
    }
}

impl<T: Column> Column for Option<T> {
    fn write_token(&self, out: &mut String) {
        match self {
            Some(v) => v.write_token(out),
            None => out.push_str("n;"),
        }
    }
    fn read_token(input: &mut &str) -> Option<Self> {
        match input.strip_prefix("n;") {
            Some(rest) => {
                *input = rest;
                Some(None)
            }
            None => T::read_token(input).map(Some),
        }
    }
    fn sealable(&self) -> Sealable<'_> {
        match self {
            Some(v) => v.sealable(),
            None => Sealable::Null,
        }
    }
    fn unseal(plaintext: Option<Vec<u8>>) -> Result<Self, DecodeError> {
        plaintext.map(|p| T::unseal(Some(p))).transpose()
    }
    #[cfg(feature = "sqlite")]
    fn bind_sqlite(&self, args: &mut SqliteArguments) -> Result<(), BoxError> {
        match self {
            Some(v) => v.bind_sqlite(args),
            None => T::bind_sqlite_null(args),
        }
    }
    #[cfg(feature = "sqlite")]
    fn bind_sqlite_null(args: &mut SqliteArguments) -> Result<(), BoxError> {
        T::bind_sqlite_null(args)
    }
    #[cfg(feature = "sqlite")]
    fn read_sqlite(row: &SqliteRow, index: &mut usize) -> Result<Option<Self>, DecodeError> {
        Ok(Some(T::read_sqlite(row, index)?))
    }
    #[cfg(feature = "postgres")]
    fn bind_pg(&self, args: &mut PgArguments) -> Result<(), BoxError> {
        match self {
            Some(v) => v.bind_pg(args),
            None => T::bind_pg_null(args),
        }
    }
    #[cfg(feature = "postgres")]
    fn bind_pg_null(args: &mut PgArguments) -> Result<(), BoxError> {
        T::bind_pg_null(args)
    }
    #[cfg(feature = "postgres")]
    fn read_pg(row: &PgRow, index: &mut usize) -> Result<Option<Self>, DecodeError> {
        Ok(Some(T::read_pg(row, index)?))
    }
}

impl Column for crate::codec::Timestamp {
    fn write_token(&self, out: &mut String) {
        let _ = write!(out, "T{}.{:09};", self.seconds, self.nanos);
    }
    fn read_token(input: &mut &str) -> Option<Self> {
        let (seconds, nanos) = token_pair(input, 'T')?;
        Some(crate::codec::Timestamp { seconds, nanos })
    }
    sqlite_hooks!();

    // Two columns on Postgres: `<col>` TIMESTAMPTZ (µs) and `<col>_nanos` INTEGER, as the column layout
    // (`schema::columns::field_columns`) lays out a single Timestamp; see the codec.
    #[cfg(feature = "postgres")]
    fn bind_pg(&self, args: &mut PgArguments) -> Result<(), BoxError> {
        let column = crate::codec::PgValue::to_pg(self)?;
        args.add(column.at)?;
        args.add(column.nanos)
    }
    #[cfg(feature = "postgres")]
    fn bind_pg_null(args: &mut PgArguments) -> Result<(), BoxError> {
        args.add(None::<chrono::DateTime<chrono::Utc>>)?;
        args.add(None::<i32>)
    }
    #[cfg(feature = "postgres")]
    fn read_pg(row: &PgRow, index: &mut usize) -> Result<Option<Self>, DecodeError> {
        let at = *index;
        *index += 2;
        let instant: Option<chrono::DateTime<chrono::Utc>> =
            row.try_get(at).map_err(|e| codec_error(at, e))?;
        let nanos: Option<i32> = row.try_get(at + 1).map_err(|e| codec_error(at + 1, e))?;
        match (instant, nanos) {
            (Some(at_), Some(nanos)) => {
                crate::codec::PgValue::from_pg(crate::codec::PgTimestamp { at: at_, nanos })
                    .map(Some)
                    .map_err(|e| codec_error(at, e))
            }
            (None, None) => Ok(None),
            _ => Err(DecodeError::new(format!(
                "column {at}: a Timestamp and its `{}` column disagree on NULL",
                crate::schema::columns::NANOS_SUFFIX
            ))),
        }
    }
}

impl Column for crate::codec::Duration {
    fn write_token(&self, out: &mut String) {
        let _ = write!(out, "D{}.{:09};", self.seconds, self.nanos);
    }
    fn read_token(input: &mut &str) -> Option<Self> {
        let (seconds, nanos) = token_pair(input, 'D')?;
        Some(crate::codec::Duration { seconds, nanos })
    }
    sql_hooks!();
}

impl Column for crate::codec::Json {
    fn write_token(&self, out: &mut String) {
        let text = self.0.to_string();
        let _ = write!(out, "j{}:{text};", text.len());
    }
    sql_hooks!();
}

fn unexpected_null() -> DecodeError {
    DecodeError::new("an encrypted column of a required value is NULL")
}

/// The text of a `<kind><text>;` token at the front of `input` (advancing past it).
fn token_field<'a>(input: &mut &'a str, kind: char) -> Option<&'a str> {
    let rest = input.strip_prefix(kind)?;
    let (field, rest) = rest.split_once(';')?;
    *input = rest;
    Some(field)
}

/// The `<seconds>.<nanos>` of a timestamp or duration token.
fn token_pair(input: &mut &str, kind: char) -> Option<(i64, i32)> {
    let (seconds, nanos) = token_field(input, kind)?.split_once('.')?;
    Some((seconds.parse().ok()?, nanos.parse().ok()?))
}

/// The payload of a `<kind><len>:<payload>;` token, whose payload is `width(len)` bytes long.
fn token_sized<'a>(
    input: &mut &'a str,
    kind: char,
    width: impl Fn(usize) -> Option<usize>,
) -> Option<&'a str> {
    let rest = input.strip_prefix(kind)?;
    let (len, rest) = rest.split_once(':')?;
    let width = width(len.parse().ok()?)?;
    let payload = rest.get(..width)?;
    *input = rest.get(width..)?.strip_prefix(';')?;
    Some(payload)
}

/// Writes a key's columns as one Redis key segment.
pub(crate) struct TokenWriter(pub(crate) String);

impl ColumnWriter for TokenWriter {
    fn column<T: Column>(&mut self, value: &T) {
        value.write_token(&mut self.0);
    }
}

/// The Redis key segment of `key`.
pub fn key_token<E: Record>(key: &E::Key) -> String {
    let mut writer = TokenWriter(String::new());
    E::write_key(key, &mut writer);
    writer.0
}

/// An entity the repository can store and cache.
///
/// The column order of [`write_row`](Record::write_row) and [`read_row`](Record::read_row) is the order of
/// [`stored_columns`] over [`Entity::SCHEMA`]: every field with a column, in the schema's field order, a oneof once
/// (one JSON column, where its first stored member is). The key columns
/// of [`write_key`](Record::write_key) follow [`EntitySchema::primary_key`].
pub trait Record: Entity + prost::Message + Default + Clone + Send + Sync + 'static {
    /// The primary key: the field's type for a one-field key, a tuple for a composite key.
    type Key: Clone + Eq + Hash + Ord + Send + Sync + 'static;

    /// The key of this value.
    fn key(&self) -> Self::Key;

    /// Writes the key's columns, in primary key order.
    fn write_key<W: ColumnWriter>(key: &Self::Key, out: &mut W);

    /// Reads a key from its columns (the inverse of [`write_key`](Record::write_key)); keyset cursors use it.
    fn read_key<R: ColumnReader>(columns: &mut R) -> Result<Self::Key, DecodeError>;

    /// Writes the stored columns.
    fn write_row<W: ColumnWriter>(&self, out: &mut W);

    /// Reads a value from its stored columns.
    fn read_row<R: ColumnReader>(columns: &mut R) -> Result<Self, DecodeError>;

    /// Clears what the store does not keep: every field without a column (`ignore`d), and a oneof whose set
    /// member is `ignore`d. The repository applies it to a value before writing it, so the caches hold exactly
    /// what the store holds and a read returns the same value from every tier. The default keeps everything
    /// (an entity whose fields all have columns); generated code clears its unstored fields.
    fn clear_unstored(&mut self) {}

    /// Checks the value against its schema's rules before a write; generated code for an entity with
    /// `buf.validate` rules returns [`Validate::validate`](crate::Validate::validate). An error stops the write
    /// before any tier is touched.
    fn check_rules(&self) -> Result<(), crate::validate::Violations> {
        Ok(())
    }

    /// A fingerprint of the encoding of cached bytes: it goes into Redis keys, so bytes written under an older
    /// schema are never decoded as the new one. The default hashes [`Entity::SCHEMA`]; generated code may
    /// override it with a hash of the full descriptor (nested messages included).
    fn fingerprint() -> u64 {
        schema_fingerprint(Self::SCHEMA)
    }
}

/// The columns of a row of `schema`, in the schema's field order, each with the field that decides it: every field
/// with a column, except that the members of a oneof share one column, listed once at the position of its first
/// stored member: the column layout's [`row_fields`](crate::schema::columns::row_fields), which the DDL's tables
/// follow too. A `(field, column)` pair whose field is in a oneof
/// ([`FieldSchema::oneof`](crate::schema::FieldSchema::oneof)) stands for the oneof's JSON column, not for the
/// member.
pub fn stored_columns(
    schema: &EntitySchema,
) -> impl Iterator<Item = (&crate::schema::FieldSchema, &'static str)> {
    crate::schema::columns::row_fields(schema.fields)
        .filter_map(|f| f.column.map(|column| (f, column)))
}

/// FNV-1a over what decides a message's stored encoding: each field's number, name, type and label.
pub fn schema_fingerprint(schema: &EntitySchema) -> u64 {
    let mut text = format!("{}.{}", schema.package, schema.message);
    for field in schema.fields {
        text.push_str(&format!(
            "|{}:{}:{}:{:?}",
            field.number,
            field.name,
            fingerprint_type(field.ty),
            field.label
        ));
    }
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    text.bytes()
        .fold(OFFSET, |hash, b| (hash ^ u64::from(b)).wrapping_mul(PRIME))
}

/// A field type as the fingerprint spells it. The text is frozen (Redis keys and page cursors written by earlier
/// versions carry the hash): it is the `Debug` of the runtime's field type before enums and messages gained their
/// `()` name, so `Enum`, not `Enum(())`.
fn fingerprint_type(ty: crate::schema::FieldType) -> String {
    match ty {
        crate::schema::FieldType::Enum(()) => "Enum".to_string(),
        crate::schema::FieldType::Message(()) => "Message".to_string(),
        other => format!("{other:?}"),
    }
}

/// The version of the next write of a row whose current version is `current` (`None` when absent).
///
/// `max(current + 1, now in microseconds since the Unix epoch)`: strictly increasing per key, and a row
/// re-inserted after a delete starts above any version it had before (its old versions were taken from an
/// earlier clock), so a cached copy of the deleted row can never win a version comparison against it. Writers'
/// clocks must not step back by more than the time between a delete and the re-insert.
pub fn next_version(current: Option<u64>) -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    match current {
        Some(v) => now.max(v + 1),
        None => now,
    }
}
