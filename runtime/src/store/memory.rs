//! The `memory` backend: rows in a map per table, each operation atomic under one lock.

use super::Page;
use crate::error::Error;
use crate::record::{Column, ColumnWriter, Record, next_version, stored_columns};
use crate::schema::IndexKind;
use crate::versioned::Versioned;
use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Mutex;

type Table<E> = BTreeMap<<E as Record>::Key, Versioned<E>>;

#[derive(Default)]
pub(super) struct MemoryStore {
    // One `Table<E>` per entity, by table name; `Any` because a store serves entities of many types.
    tables: Mutex<HashMap<&'static str, Box<dyn Any + Send>>>,
}

impl MemoryStore {
    fn with<E: Record, T>(&self, f: impl FnOnce(&mut Table<E>) -> T) -> T {
        // A poisoned lock only means another operation panicked mid-way; each operation leaves the map
        // consistent before it can panic, so keep serving.
        let mut tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        let table = tables
            .entry(E::SCHEMA.table)
            .or_insert_with(|| Box::new(Table::<E>::new()));
        let table = table
            .downcast_mut::<Table<E>>()
            .expect("two entity types share a table name: the schema check forbids it");
        f(table)
    }

    pub(super) fn get<E: Record>(&self, key: &E::Key) -> Option<Versioned<E>> {
        self.with::<E, _>(|t| t.get(key).cloned())
    }

    pub(super) fn get_many<E: Record>(&self, keys: &[E::Key]) -> Vec<Option<Versioned<E>>> {
        self.with::<E, _>(|t| keys.iter().map(|k| t.get(k).cloned()).collect())
    }

    pub(super) fn insert<E: Record>(&self, value: &E) -> Result<u64, Error> {
        self.with::<E, _>(|t| match t.get(&value.key()) {
            Some(current) => Err(Error::Conflict {
                entity: E::SCHEMA.message,
                expected: None,
                found: Some(current.version),
            }),
            None => {
                check_unique(t, value)?;
                let version = next_version(None);
                t.insert(value.key(), Versioned::new(stored(value), version));
                Ok(version)
            }
        })
    }

    pub(super) fn put<E: Record>(&self, value: &E) -> Result<u64, Error> {
        self.with::<E, _>(|t| put_one(t, value))
    }

    pub(super) fn update<E: Record>(&self, value: &E, expected: u64) -> Result<u64, Error> {
        self.with::<E, _>(|t| {
            let found = t.get(&value.key()).map(|v| v.version);
            if found != Some(expected) {
                return Err(Error::Conflict {
                    entity: E::SCHEMA.message,
                    expected: Some(expected),
                    found,
                });
            }
            put_one(t, value)
        })
    }

    pub(super) fn delete<E: Record>(&self, key: &E::Key) -> Option<u64> {
        self.with::<E, _>(|t| t.remove(key).map(|v| v.version))
    }

    /// All or nothing, like a transaction: on a failure the table is restored.
    pub(super) fn put_many<E: Record>(&self, values: &[E]) -> Result<Vec<u64>, Error> {
        self.with::<E, _>(|t| {
            let before = t.clone();
            let result: Result<Vec<u64>, Error> = values.iter().map(|v| put_one(t, v)).collect();
            if result.is_err() {
                *t = before;
            }
            result
        })
    }

    pub(super) fn delete_many<E: Record>(&self, keys: &[E::Key]) -> Vec<Option<u64>> {
        self.with::<E, _>(|t| {
            keys.iter()
                .map(|k| t.remove(k).map(|v| v.version))
                .collect()
        })
    }

    /// Puts back what a key held before a rolled-back write.
    pub(super) fn restore<E: Record>(&self, key: &E::Key, before: Option<Versioned<E>>) {
        self.with::<E, _>(|t| match before {
            Some(v) => {
                t.insert(key.clone(), v);
            }
            None => {
                t.remove(key);
            }
        })
    }

    /// One page after `after`, its `next` cursor sealed under `with`.
    pub(super) fn scan<E: Record>(
        &self,
        after: Option<&E::Key>,
        limit: usize,
        with: &crate::cursor::CursorKey,
    ) -> Page<E> {
        let (items, more) = self.rows_after::<E>(after, limit);
        let next = match more {
            true => items
                .last()
                .map(|v| crate::cursor::Cursor::seal::<E>(&v.value.key(), with)),
            false => None,
        };
        Page { items, next }
    }

    /// Up to `limit` rows after `after` in key order, and whether more follow.
    pub(super) fn rows_after<E: Record>(
        &self,
        after: Option<&E::Key>,
        limit: usize,
    ) -> (Vec<Versioned<E>>, bool) {
        self.with::<E, _>(|t| {
            let start = match after {
                Some(k) => Bound::Excluded(k.clone()),
                None => Bound::Unbounded,
            };
            let mut rows = t.range((start, Bound::Unbounded));
            let items: Vec<Versioned<E>> =
                rows.by_ref().take(limit).map(|(_, v)| v.clone()).collect();
            let more = rows.next().is_some();
            (items, more)
        })
    }
}

/// The Redis-style token of each stored column of a row, to compare index values without knowing the types.
struct ColumnTokens(Vec<String>);

impl ColumnWriter for ColumnTokens {
    fn column<T: Column>(&mut self, value: &T) {
        let mut token = String::new();
        value.write_token(&mut token);
        self.0.push(token);
    }
}

fn column_tokens<E: Record>(value: &E) -> Vec<String> {
    let mut tokens = ColumnTokens(Vec::new());
    value.write_row(&mut tokens);
    tokens.0
}

/// Fails like a SQL store when `value` would break a unique index (naming the index, never the value).
fn check_unique<E: Record>(table: &Table<E>, value: &E) -> Result<(), Error> {
    let schema = E::SCHEMA;
    let positions: Vec<u32> = stored_columns(schema).map(|(f, _)| f.number).collect();
    let unique: Vec<(&'static str, Vec<usize>)> = schema
        .indexes
        .iter()
        .filter(|i| i.kind == IndexKind::Unique)
        .map(|i| {
            let at = i
                .fields
                .iter()
                .filter_map(|n| positions.iter().position(|p| p == n))
                .collect();
            (i.name, at)
        })
        .collect();
    if unique.is_empty() {
        return Ok(());
    }
    let key = value.key();
    let mine = column_tokens(value);
    for (other_key, other) in table.iter() {
        if *other_key == key {
            continue;
        }
        let theirs = column_tokens(&other.value);
        for (name, at) in &unique {
            if at.iter().all(|&i| mine.get(i) == theirs.get(i)) {
                return Err(Error::UniqueViolation {
                    entity: schema.message,
                    index: name,
                });
            }
        }
    }
    Ok(())
}

/// What a row keeps of `value`, as the SQL stores do: fields without a column are cleared.
fn stored<E: Record>(value: &E) -> E {
    let mut row = value.clone();
    row.clear_unstored();
    row
}

fn put_one<E: Record>(table: &mut Table<E>, value: &E) -> Result<u64, Error> {
    check_unique(table, value)?;
    let version = next_version(table.get(&value.key()).map(|v| v.version));
    table.insert(value.key(), Versioned::new(stored(value), version));
    Ok(version)
}
