//! The SQL stores (SQLite, Postgres) over sqlx.
//!
//! Statements are built by the runtime from [`Entity::SCHEMA`](crate::Entity::SCHEMA), once per entity and
//! dialect, and cached in the store — not rendered by codegen — because they depend only on the schema (which
//! is already a `'static` value in every binary) and the dialect (known only when the URL is opened): generated
//! code stays thin, the derive path needs nothing extra, and one builder serves both dialects. Values are bound
//! and read through the SQL value codec ([`crate::codec`]) via [`Column`](crate::record::Column).

mod index_query;
mod ops;
pub(crate) mod outbox;
mod outbox_ops;
mod statements;
mod subject_ops;

#[cfg(feature = "postgres")]
pub(super) mod postgres;
#[cfg(feature = "sqlite")]
pub(super) mod sqlite;

pub(super) use statements::Statements;

use crate::driver_error::{DriverError, DriverErrorKind};
use crate::error::{BoxError, DecodeError, Error, Tier};
use crate::record::Record;
use crate::schema::EntitySchema;
use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Statements per entity type, built on first use.
#[derive(Default)]
pub(super) struct StatementCache {
    by_entity: Mutex<HashMap<TypeId, Arc<Statements>>>,
}

impl StatementCache {
    pub(super) fn get<E: Record>(&self, dialect: statements::Dialect) -> Arc<Statements> {
        let mut map = self.by_entity.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(TypeId::of::<E>())
            .or_insert_with(|| Arc::new(Statements::new(E::SCHEMA, dialect)))
            .clone()
    }
}

pub(super) use statements::Dialect;

/// Microseconds since the Unix epoch (a subject key's `created_at`).
#[cfg(feature = "encryption")]
pub(super) fn subject_now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// A failure of a SQL store operation, turned into the [`Error`] callers see: driver errors reduced to a
/// [`DriverError`] (a unique violation mapped to the schema's index), decode errors as they are (they carry no
/// value by construction).
pub(super) trait StoreFailure {
    /// The error of an operation on `schema`'s entity.
    fn into_error(self, schema: &'static EntitySchema) -> Error;
}

impl StoreFailure for sqlx::Error {
    fn into_error(self, schema: &'static EntitySchema) -> Error {
        Error::from_store_driver(schema, self)
    }
}

impl StoreFailure for DecodeError {
    fn into_error(self, schema: &'static EntitySchema) -> Error {
        match self.into_encryption() {
            Ok(source) => Error::Encryption {
                entity: schema.message,
                source,
            },
            Err(decode) => Error::backend(schema.message, Tier::Store, decode),
        }
    }
}

/// A value that could not be bound: the codec's own error names the kind and reason, never the value; anything
/// else (sqlx's encoders) may quote its input and is reduced to its kind.
pub(super) fn bind_failure(e: BoxError) -> BoxError {
    match e.downcast::<crate::codec::CodecError>() {
        Ok(codec) => codec,
        Err(_) => Box::new(DriverError::new(DriverErrorKind::Encode)),
    }
}

#[cfg(feature = "sqlite")]
impl StoreFailure for sqlite::SqliteError {
    fn into_error(self, schema: &'static EntitySchema) -> Error {
        Error::from_store_driver(schema, self)
    }
}
