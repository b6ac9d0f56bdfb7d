//! The entity inventory `capgen inspect` prints: keys, indexes, PII, backend, cache, consistency.

use crate::ir::{Field, IndexKind, Schema};
use serde::Serialize;
use std::fmt;

/// Every entity of a schema, as plain data.
#[derive(Debug, Serialize)]
pub struct Inventory {
    pub entities: Vec<EntityView>,
}

/// One entity.
#[derive(Debug, Serialize)]
pub struct EntityView {
    pub message: String,
    pub table: String,
    pub backend: &'static str,
    pub consistency: &'static str,
    pub cache: Option<CacheView>,
    /// Field names of the primary key.
    pub primary_key: Vec<String>,
    pub indexes: Vec<IndexView>,
    pub columns: Vec<ColumnView>,
    pub pii: Vec<PiiView>,
}

#[derive(Debug, Serialize)]
pub struct CacheView {
    pub ttl_ms: Option<u64>,
    pub max_entries: Option<u64>,
    pub max_bytes: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct IndexView {
    pub name: String,
    pub kind: IndexKind,
    pub fields: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ColumnView {
    pub number: u32,
    pub field: String,
    pub column: String,
    pub encrypt: bool,
}

#[derive(Debug, Serialize)]
pub struct PiiView {
    pub field: String,
    pub kind: &'static str,
}

impl Inventory {
    /// The inventory of a checked schema.
    pub fn new(schema: &Schema) -> Self {
        let entities = schema
            .entities()
            .map(|(m, e)| {
                let name_of = |n: &u32| {
                    m.fields
                        .iter()
                        .find(|f| f.number == *n)
                        .map_or_else(|| n.to_string(), |f| f.name.clone())
                };
                EntityView {
                    message: m.full_name.clone(),
                    table: e.table_name(m),
                    backend: e.backend().short_name(),
                    consistency: e.consistency().short_name(),
                    cache: e.effective_cache().map(|c| CacheView {
                        ttl_ms: c.ttl().map(|d| d.as_millis() as u64),
                        max_entries: c.max_entries,
                        max_bytes: c.max_bytes,
                    }),
                    primary_key: m.primary_key(e).iter().map(name_of).collect(),
                    indexes: m
                        .resolved_indexes(e)
                        .into_iter()
                        .map(|i| IndexView {
                            name: i.name,
                            kind: i.kind,
                            fields: i.fields.iter().map(name_of).collect(),
                        })
                        .collect(),
                    columns: m
                        .fields
                        .iter()
                        .filter_map(|f: &Field| f.stored_in().map(|c| (f, c)))
                        .map(|(f, column)| ColumnView {
                            number: f.number,
                            field: f.name.clone(),
                            column: column.to_string(),
                            encrypt: f.options.encrypt.as_ref().is_some_and(|e| e.value),
                        })
                        .collect(),
                    pii: m
                        .fields
                        .iter()
                        .filter_map(|f| {
                            f.options.pii.map(|p| PiiView {
                                field: f.name.clone(),
                                kind: p.short_name(),
                            })
                        })
                        .collect(),
                }
            })
            .collect();
        Inventory { entities }
    }
}

impl fmt::Display for Inventory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.entities.is_empty() {
            return writeln!(
                f,
                "no entities (mark a message with `option (capacitor.v1.entity) = {{}};`)"
            );
        }
        for (i, e) in self.entities.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            writeln!(f, "{}", e.message)?;
            writeln!(f, "  table        {}", e.table)?;
            writeln!(f, "  backend      {}", e.backend)?;
            writeln!(f, "  consistency  {}", e.consistency)?;
            match &e.cache {
                None => writeln!(f, "  cache        none")?,
                Some(c) => {
                    let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
                    writeln!(
                        f,
                        "  cache        ttl {} ms, max entries {}, max bytes {}",
                        opt(c.ttl_ms),
                        opt(c.max_entries),
                        opt(c.max_bytes)
                    )?
                }
            }
            writeln!(f, "  primary key  {}", e.primary_key.join(", "))?;
            for index in &e.indexes {
                let kind = match index.kind {
                    IndexKind::Primary => "primary",
                    IndexKind::Unique => "unique",
                    IndexKind::Secondary => "secondary",
                };
                writeln!(
                    f,
                    "  index        {:<9} {} ({})",
                    kind,
                    index.name,
                    index.fields.join(", ")
                )?;
            }
            for c in &e.columns {
                let encrypt = if c.encrypt { "  encrypted" } else { "" };
                writeln!(
                    f,
                    "  column       #{:<3} {} -> {}{encrypt}",
                    c.number, c.field, c.column
                )?;
            }
            for p in &e.pii {
                writeln!(f, "  pii          {} ({})", p.field, p.kind)?;
            }
        }
        Ok(())
    }
}
