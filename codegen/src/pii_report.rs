//! The PII inventory `capgen report` prints: for a privacy review, where every field that holds personal data
//! lives and how it is protected, as Markdown (with a mermaid ER diagram) or JSON, and a policy check for CI.
//!
//! Everything here is derived from the IR: the `pii` kind and `encrypt` flag of each field, the entity's
//! backend, cache and consistency, its indexes. PII inside a nested message is reported under the entity field
//! that stores it (the whole message is one JSON column), so a review sees every column that can hold PII,
//! not only the annotated top-level fields.

use crate::ir::{Consistency, Field, FieldType, IndexKind, Label, Pii, Schema};
use capacitor_schema::columns::blind_index_width;
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt::{self, Write};

/// The PII inventory of a schema.
#[derive(Debug, Serialize)]
pub struct PiiReport {
    /// Every entity, with or without PII (an entity without PII is listed so the review sees it was looked at).
    pub entities: Vec<EntityPii>,
}

/// One stored entity.
#[derive(Debug, Serialize)]
pub struct EntityPii {
    /// The message's fully qualified name.
    pub message: String,
    pub table: String,
    pub backend: &'static str,
    pub consistency: &'static str,
    /// The entity's cache time to live in milliseconds; `None` when it has no TTL or no cache.
    pub cache_ttl_ms: Option<u64>,
    /// Whether the entity declares a cache (and so may be held by the in-process L1 and Redis tiers).
    pub cached: bool,
    /// Every column of the table, for the ER diagram.
    pub columns: Vec<ColumnEntry>,
    /// Every place PII is stored: annotated fields and fields whose nested message holds PII.
    pub pii: Vec<PiiField>,
    /// Crypto-shredding: the field naming the data subject whose own data key seals the encrypted fields
    /// (`(capacitor.v1.entity).subject`); absent without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

/// One column of an entity's table.
#[derive(Debug, Serialize)]
pub struct ColumnEntry {
    pub column: String,
    /// A short type name (`string`, `int64`, `Timestamp`, `message`, `map`, `repeated_string`).
    pub ty: String,
    /// `primary`, `unique` or `secondary` when the column is indexed on its own or is part of the primary key.
    pub key: Option<IndexKind>,
    /// Whether the column can hold PII.
    pub pii: bool,
}

/// One place PII is stored.
#[derive(Debug, Serialize)]
pub struct PiiField {
    /// The path from the entity to the value (`email`, or `address.street` inside a nested message).
    pub path: String,
    /// The column that holds it.
    pub column: String,
    /// The PII kind's short name (`email`).
    pub kind: &'static str,
    /// Whether the value is encrypted before it leaves the process.
    pub encrypted: bool,
    /// Whether it is encrypted under its data subject's own key, so `shred_subject` makes every copy of it
    /// unreadable (crypto-shredding); left out when not.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub subject_key: bool,
    /// The index over this column, if any: an index over plaintext PII is itself plaintext PII.
    pub index: Option<IndexKind>,
    /// For an encrypted, indexed field, how many bits its blind index tokens keep (256 for a unique index; a
    /// secondary one's `blind_index_bits`, 16 by default): fewer bits, more false positives, less linkage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blind_index_bits: Option<u16>,
    /// Whether the field is (part of) the primary key, so its value also names cache entries.
    pub in_primary_key: bool,
    /// What `capacitor::pii::mask` shows for this kind.
    pub masked: &'static str,
    /// Where the value is held and in what form.
    pub held_in: Vec<Holding>,
}

/// A tier that holds a PII value, and in what form.
#[derive(Debug, Serialize)]
pub struct Holding {
    /// `l1` (in-process cache), `redis` (shared cache, when the repository is built with one), `store`, or
    /// `blob store` (a claim-checked field's values above its threshold).
    pub tier: &'static str,
    /// `plaintext` or `ciphertext`.
    pub form: &'static str,
    /// How long the tier keeps it: the cache TTL for the caches (`None` in Redis: `RedisOptions::default_ttl`),
    /// `None` for the store (until deleted).
    pub ttl_ms: Option<u64>,
}

/// A policy `--deny` can enforce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Every PII value must be encrypted before it leaves the process.
    UnencryptedPii,
}

impl Policy {
    /// The policy's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Policy::UnencryptedPii => "unencrypted-pii",
        }
    }
}

/// What masking shows of a value of each kind (see `capacitor::pii::mask`).
pub fn mask_description(kind: Pii) -> &'static str {
    match kind {
        Pii::Email => "first character and domain (`a***@example.com`)",
        Pii::Phone => "last 2 digits",
        Pii::Name => "initials",
        Pii::PaymentCard => "last 4 digits",
        Pii::PostalAddress => "city only",
        Pii::IpAddress => "network (/24 for IPv4, /48 for IPv6)",
        Pii::DateOfBirth => "year only",
        Pii::NationalId => "nothing",
        Pii::FreeText | Pii::Geolocation | Pii::Other => "`<redacted>`",
    }
}

impl PiiReport {
    /// The inventory of a checked schema.
    pub fn new(schema: &Schema) -> Self {
        let entities = schema
            .entities()
            .map(|(message, entity)| {
                let ttl_ms = entity
                    .effective_cache()
                    .and_then(|c| c.ttl())
                    .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                let cached = entity.effective_cache().is_some();
                let l1 = cached && entity.consistency() == Consistency::Eventual;
                let primary_key = message.primary_key(entity);
                let indexes = message.resolved_indexes(entity);
                // The kind of the strongest index that covers exactly this field on its own, or the primary key.
                let index_of = |field: &Field| {
                    if primary_key.contains(&field.number) {
                        return Some(IndexKind::Primary);
                    }
                    indexes
                        .iter()
                        .filter(|i| i.fields.contains(&field.number))
                        .map(|i| i.kind)
                        .min_by_key(|k| match k {
                            IndexKind::Primary => 0,
                            IndexKind::Unique => 1,
                            IndexKind::Secondary => 2,
                        })
                };
                let mut pii = Vec::new();
                let mut columns = Vec::new();
                let mut seen_columns = BTreeSet::new();
                for field in &message.fields {
                    let Some(column) = field.stored_in() else {
                        continue;
                    };
                    let found = pii_in_field(schema, field, field.name.clone());
                    let holds_pii = !found.is_empty();
                    for (path, kind, encrypted) in found {
                        pii.push(PiiField {
                            path,
                            column: column.to_string(),
                            kind: kind.short_name(),
                            encrypted,
                            subject_key: encrypted && entity.subject.is_some(),
                            index: index_of(field),
                            blind_index_bits: match index_of(field) {
                                Some(kind) if encrypted => {
                                    Some(blind_index_width(field, kind == IndexKind::Unique))
                                }
                                _ => None,
                            },
                            in_primary_key: primary_key.contains(&field.number),
                            masked: mask_description(kind),
                            held_in: holdings(
                                l1,
                                ttl_ms,
                                encrypted,
                                field.options.claim_check.is_some(),
                            ),
                        });
                    }
                    if seen_columns.insert(column.to_string()) {
                        columns.push(ColumnEntry {
                            column: column.to_string(),
                            ty: if field.oneof.is_some() {
                                "oneof".to_string()
                            } else {
                                type_name(field)
                            },
                            key: index_of(field),
                            pii: holds_pii,
                        });
                    } else if holds_pii {
                        // A oneof column: any member holding PII makes the column hold PII.
                        if let Some(entry) = columns.iter_mut().find(|c| c.column == column) {
                            entry.pii = true;
                        }
                    }
                }
                EntityPii {
                    message: message.full_name.clone(),
                    table: entity.table_name(message),
                    backend: entity.backend().short_name(),
                    consistency: entity.consistency().short_name(),
                    cache_ttl_ms: ttl_ms,
                    cached,
                    columns,
                    pii,
                    subject: entity.subject.as_ref().map(|s| s.value.clone()),
                }
            })
            .collect();
        PiiReport { entities }
    }

    /// Every PII field that breaks `policy`, as `message.path (kind)` lines.
    pub fn violations(&self, policy: Policy) -> Vec<String> {
        match policy {
            Policy::UnencryptedPii => self
                .entities
                .iter()
                .flat_map(|e| {
                    e.pii.iter().filter(|p| !p.encrypted).map(move |p| {
                        format!(
                            "{}.{} ({}) is stored in plaintext in column `{}` of table `{}`",
                            e.message, p.path, p.kind, p.column, e.table
                        )
                    })
                })
                .collect(),
        }
    }

    /// The report as Markdown: a table per entity and a mermaid ER diagram.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        // `write!` into a String cannot fail.
        let _ = self.write_markdown(&mut out);
        out
    }

    fn write_markdown(&self, out: &mut String) -> fmt::Result {
        writeln!(out, "# PII inventory")?;
        writeln!(out)?;
        if self.entities.is_empty() {
            writeln!(out, "No entities.")?;
            return Ok(());
        }
        let fields: usize = self.entities.iter().map(|e| e.pii.len()).sum();
        let plaintext: usize = self
            .entities
            .iter()
            .map(|e| e.pii.iter().filter(|p| !p.encrypted).count())
            .sum();
        writeln!(
            out,
            "{} entit{}, {fields} PII field{}, {plaintext} stored in plaintext.",
            self.entities.len(),
            if self.entities.len() == 1 { "y" } else { "ies" },
            if fields == 1 { "" } else { "s" },
        )?;
        writeln!(out)?;
        writeln!(
            out,
            "Tiers: `l1` is the in-process cache of a cached eventual entity (it holds plaintext), `redis` the \
             shared cache when the repository is built with one, `store` the database, `blob store` where a \
             claim-checked field's big values live. Debug output redacts every PII field."
        )?;
        for entity in &self.entities {
            writeln!(out)?;
            writeln!(out, "## `{}`", entity.message)?;
            writeln!(out)?;
            let cache = if entity.cached {
                match entity.cache_ttl_ms {
                    Some(ms) => format!("cached, TTL {}", duration_text(ms)),
                    None => "cached, no TTL".to_string(),
                }
            } else {
                "not cached".to_string()
            };
            writeln!(
                out,
                "Table `{}` on {}, {} consistency, {cache}.",
                entity.table, entity.backend, entity.consistency
            )?;
            writeln!(out)?;
            if let Some(subject) = &entity.subject {
                writeln!(
                    out,
                    "Crypto-shredding: the encrypted fields are sealed under the data key of the subject in \
                     `{subject}`; `shred_subject` destroys it, leaving every copy (backups included) unreadable. \
                     Blind indexes and Redis key tokens stay linkable until rebuilt."
                )?;
                writeln!(out)?;
            }
            if entity.pii.is_empty() {
                writeln!(out, "No PII.")?;
                continue;
            }
            writeln!(
                out,
                "| Field | Column | PII kind | Encrypted | Index | Masked form | Held in |"
            )?;
            writeln!(out, "|---|---|---|---|---|---|---|")?;
            for p in &entity.pii {
                let index = match (p.index, p.encrypted) {
                    (None, _) => "-".to_string(),
                    (Some(kind), false) => format!("{} (plaintext)", kind_name(kind)),
                    (Some(kind), true) => match p.blind_index_bits {
                        Some(bits) => format!("{} (blind index, {bits} bits)", kind_name(kind)),
                        None => format!("{} (blind index)", kind_name(kind)),
                    },
                };
                let held = p
                    .held_in
                    .iter()
                    .map(|h| match (h.tier, h.ttl_ms) {
                        (_, Some(ms)) => format!("{} {} ({})", h.tier, h.form, duration_text(ms)),
                        ("redis", None) => format!("redis {} (default TTL)", h.form),
                        (_, None) => format!("{} {}", h.tier, h.form),
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                // A PII key names its Redis entries by a keyed token (never its text), which other tools
                // cannot reverse but which is stable: say so, since it links a subject's entries.
                let held = if p.in_primary_key {
                    format!("{held}; a keyed token of the key (not its text) in Redis key names")
                } else {
                    held
                };
                writeln!(
                    out,
                    "| `{}` | `{}` | {} | {} | {index} | {} | {held} |",
                    p.path,
                    p.column,
                    p.kind,
                    match (p.encrypted, p.subject_key) {
                        (true, true) => "yes (subject key)",
                        (true, false) => "yes",
                        (false, _) => "**no**",
                    },
                    p.masked,
                )?;
            }
        }
        writeln!(out)?;
        writeln!(out, "## Tables")?;
        writeln!(out)?;
        writeln!(out, "```mermaid")?;
        writeln!(out, "erDiagram")?;
        for entity in &self.entities {
            writeln!(out, "    {} {{", mermaid_name(&entity.table))?;
            for c in &entity.columns {
                let key = match c.key {
                    Some(IndexKind::Primary) => " PK",
                    Some(IndexKind::Unique) => " UK",
                    _ => "",
                };
                let comment = if c.pii {
                    let encrypted = entity
                        .pii
                        .iter()
                        .filter(|p| p.column == c.column)
                        .all(|p| p.encrypted);
                    let form = if encrypted { "encrypted" } else { "plaintext" };
                    format!(" \"PII {form}\"")
                } else {
                    String::new()
                };
                writeln!(
                    out,
                    "        {} {}{key}{comment}",
                    mermaid_name(&c.ty),
                    mermaid_name(&c.column)
                )?;
            }
            writeln!(out, "    }}")?;
        }
        writeln!(out, "```")?;
        Ok(())
    }
}

/// The tiers that may hold a value of an entity. L1 only for a cached eventual entity (strong entities get
/// none); Redis for every entity whose repository is built with a Redis tier (a runtime choice), for the cache
/// TTL or else `RedisOptions::default_ttl`; the store always; the blob store for a claim-checked field (its
/// values above the threshold, until collected).
fn holdings(l1: bool, ttl_ms: Option<u64>, encrypted: bool, claim_checked: bool) -> Vec<Holding> {
    let outside = if encrypted { "ciphertext" } else { "plaintext" };
    let mut held = Vec::new();
    if l1 {
        held.push(Holding {
            tier: "l1",
            form: "plaintext",
            ttl_ms,
        });
    }
    held.push(Holding {
        tier: "redis",
        form: outside,
        ttl_ms,
    });
    held.push(Holding {
        tier: "store",
        form: outside,
        ttl_ms: None,
    });
    if claim_checked {
        // An encrypted field's blob is sealed as its column is.
        held.push(Holding {
            tier: "blob store",
            form: outside,
            ttl_ms: None,
        });
    }
    held
}

/// The PII a field holds: its own annotation, or the annotated fields of the message it holds (recursively,
/// each message visited once per path so a recursive message type ends).
fn pii_in_field(schema: &Schema, field: &Field, path: String) -> Vec<(String, Pii, bool)> {
    let mut found = Vec::new();
    let mut visiting = Vec::new();
    collect(schema, field, path, &mut visiting, &mut found);
    found
}

fn collect(
    schema: &Schema,
    field: &Field,
    path: String,
    visiting: &mut Vec<String>,
    found: &mut Vec<(String, Pii, bool)>,
) {
    if let Some(kind) = field.options.pii {
        let encrypted = field.options.encrypt.as_ref().is_some_and(|e| e.value);
        found.push((path.clone(), kind, encrypted));
    }
    let FieldType::Message(name) = &field.ty else {
        return;
    };
    let Some(nested) = schema.message(name) else {
        return;
    };
    if visiting.contains(&nested.full_name) {
        return;
    }
    visiting.push(nested.full_name.clone());
    for inner in &nested.fields {
        collect(
            schema,
            inner,
            format!("{path}.{}", inner.name),
            visiting,
            found,
        );
    }
    visiting.pop();
}

fn type_name(field: &Field) -> String {
    let value = match &field.ty {
        FieldType::Scalar(s) => s.proto_name().to_string(),
        FieldType::Enum(_) => "enum".to_string(),
        FieldType::WellKnown(w) => w.name().to_string(),
        FieldType::Message(_) => "message".to_string(),
    };
    match field.label {
        Label::Repeated => format!("repeated_{value}"),
        Label::Map { .. } => "map".to_string(),
        _ => value,
    }
}

fn kind_name(kind: IndexKind) -> &'static str {
    match kind {
        IndexKind::Primary => "primary key",
        IndexKind::Unique => "unique",
        IndexKind::Secondary => "secondary",
    }
}

/// A name mermaid accepts as an entity or attribute name (letters, digits, `_`, `-`).
fn mermaid_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn duration_text(ms: u64) -> String {
    if ms.is_multiple_of(3_600_000) {
        format!("{} h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) {
        format!("{} min", ms / 60_000)
    } else if ms.is_multiple_of(1_000) {
        format!("{} s", ms / 1_000)
    } else {
        format!("{ms} ms")
    }
}
