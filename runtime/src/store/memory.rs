//! The `memory` backend: rows in a map per table, each operation atomic under one lock.

use super::Page;
use crate::error::Error;
use crate::record::{Record, next_version};
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
                let version = next_version(None);
                t.insert(value.key(), Versioned::new(value.clone(), version));
                Ok(version)
            }
        })
    }

    pub(super) fn put<E: Record>(&self, value: &E) -> u64 {
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
            Ok(put_one(t, value))
        })
    }

    pub(super) fn delete<E: Record>(&self, key: &E::Key) -> Option<u64> {
        self.with::<E, _>(|t| t.remove(key).map(|v| v.version))
    }

    pub(super) fn put_many<E: Record>(&self, values: &[E]) -> Vec<u64> {
        self.with::<E, _>(|t| values.iter().map(|v| put_one(t, v)).collect())
    }

    pub(super) fn delete_many<E: Record>(&self, keys: &[E::Key]) -> Vec<Option<u64>> {
        self.with::<E, _>(|t| {
            keys.iter()
                .map(|k| t.remove(k).map(|v| v.version))
                .collect()
        })
    }

    pub(super) fn scan<E: Record>(&self, after: Option<&E::Key>, limit: usize) -> Page<E> {
        self.with::<E, _>(|t| {
            let start = match after {
                Some(k) => Bound::Excluded(k.clone()),
                None => Bound::Unbounded,
            };
            let mut rows = t.range((start, Bound::Unbounded));
            let items: Vec<Versioned<E>> =
                rows.by_ref().take(limit).map(|(_, v)| v.clone()).collect();
            let next = match rows.next() {
                Some(_) => items.last().map(|v| v.value.key()),
                None => None,
            };
            Page { items, next }
        })
    }
}

fn put_one<E: Record>(table: &mut Table<E>, value: &E) -> u64 {
    let version = next_version(table.get(&value.key()).map(|v| v.version));
    table.insert(value.key(), Versioned::new(value.clone(), version));
    version
}
