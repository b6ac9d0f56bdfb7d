//! The SQL stores (SQLite, Postgres) over sqlx.
//!
//! Statements are built by the runtime from [`Entity::SCHEMA`](crate::Entity::SCHEMA), once per entity and
//! dialect, and cached in the store — not rendered by codegen — because they depend only on the schema (which
//! is already a `'static` value in every binary) and the dialect (known only when the URL is opened): generated
//! code stays thin, the derive path needs nothing extra, and one builder serves both dialects. Values are bound
//! and read through the SQL value codec ([`crate::codec`]) via [`Column`](crate::record::Column).

mod index_query;
mod ops;
mod statements;

#[cfg(feature = "postgres")]
pub(super) mod postgres;
#[cfg(feature = "sqlite")]
pub(super) mod sqlite;

pub(super) use statements::Statements;

use crate::record::Record;
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
