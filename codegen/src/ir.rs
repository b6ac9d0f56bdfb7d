//! The intermediate representation: the one source of truth every check and emitter reads.
//!
//! Both front ends (the proto front end in [`crate::proto`] and the derive front end in `capacitor-macros`)
//! produce a [`Schema`]. The IR records what the user *declared*, with the [`Origin`] each declaration came from,
//! so that [`crate::check`] can point at it; derived decisions (the primary key, the resolved table name, the
//! effective cache) are computed by methods, never stored twice.
//!
//! The IR holds no `syn` types: the derive front end keeps its Rust spans in a side table and refers to them by
//! [`Origin::Derive`] id, so the proto path never builds a proc-macro toolchain.

use serde::Serialize;
use std::time::Duration;

// The field-type and option vocabulary is shared with the runtime (`capacitor::schema`), from `capacitor-schema`.
pub use capacitor_schema::{Backend, Consistency, IndexKind, Label, Pii, Scalar, WellKnown};

/// The type of a field's value: enums and messages by fully qualified proto name (or Rust path on the derive
/// path).
pub type FieldType = capacitor_schema::FieldType<String>;

/// Every message of the input files, entity or not, in declaration order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Schema {
    pub messages: Vec<Message>,
    /// protovalidate's predefined rules the schema can see (extensions of the `buf.validate` rules messages).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub predefined: Vec<PredefinedRule>,
    /// [`Schema::message`]'s index by full name, built on the first lookup.
    #[serde(skip)]
    by_name: MessageIndex,
}

impl Schema {
    /// A schema of these messages.
    pub fn new(messages: Vec<Message>) -> Self {
        Schema {
            messages,
            predefined: Vec::new(),
            by_name: MessageIndex::default(),
        }
    }

    /// The predefined rule declared by the extension `full_name`.
    pub fn predefined_rule(&self, full_name: &str) -> Option<&PredefinedRule> {
        self.predefined.iter().find(|p| p.full_name == full_name)
    }

    /// The messages that are entities, with their options.
    pub fn entities(&self) -> impl Iterator<Item = (&Message, &EntityOptions)> {
        self.messages
            .iter()
            .filter_map(|m| m.entity.as_ref().map(|e| (m, e)))
    }

    /// A message by its fully qualified proto name (`app.v1.UserProfile`); the first one if two share it.
    ///
    /// Emitters look up every message-typed field's message, so a linear search made generation quadratic in
    /// the number of messages. The index is built once, on the first lookup, from the messages as they are
    /// then: add, remove or rename messages before it (both front ends build the list first), or start over
    /// with [`Schema::new`]. Editing a message's other parts afterwards is fine, and a message moved since is
    /// still found.
    pub fn message(&self, full_name: &str) -> Option<&Message> {
        let positions = self
            .by_name
            .0
            .get_or_init(|| MessageIndex::positions(&self.messages));
        match positions.get(full_name).map(|&at| self.messages.get(at)) {
            Some(Some(message)) if message.full_name == full_name => Some(message),
            // Moved or removed since the index was built: never answer with another message.
            Some(_) => self.messages.iter().find(|m| m.full_name == full_name),
            None => None,
        }
    }
}

/// The position of each message by full name, as of when it was built. A cache of `messages`: it takes no
/// part in equality, `Debug` or serialization.
#[derive(Clone, Default)]
struct MessageIndex(std::sync::OnceLock<std::collections::HashMap<String, usize>>);

impl MessageIndex {
    fn positions(messages: &[Message]) -> std::collections::HashMap<String, usize> {
        let mut positions = std::collections::HashMap::with_capacity(messages.len());
        for (at, message) in messages.iter().enumerate() {
            positions.entry(message.full_name.clone()).or_insert(at);
        }
        positions
    }
}

impl PartialEq for MessageIndex {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for MessageIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MessageIndex")
    }
}

/// Where a declaration came from, for diagnostics.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum Origin {
    /// A span in a `.proto` file: 1-based line and column, and the span's length in bytes when it is on one line.
    Proto(ProtoSpan),
    /// An index into the derive front end's table of Rust spans.
    Derive(usize),
    /// Nowhere in particular (a descriptor set without source info).
    Unknown,
}

/// A 1-based line:column position in a proto file, as protoc and protox report it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ProtoSpan {
    /// The file's name as imported (`app/v1/user.proto`).
    pub file: String,
    pub line: u32,
    pub column: u32,
    /// Where the span ends (1-based, exclusive column).
    pub end_line: u32,
    pub end_column: u32,
}

impl std::fmt::Display for ProtoSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A protobuf message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    /// Proto package (`app.v1`); empty for none.
    pub package: String,
    /// Fully qualified name without a leading dot (`app.v1.UserProfile`, `app.v1.Outer.Inner`).
    pub full_name: String,
    /// The Rust type name as prost names it (`UserProfile`).
    pub rust_name: String,
    /// Path of the Rust type relative to the package module (`UserProfile`, `outer::Inner`).
    pub rust_path: String,
    /// Every field: by field number on the proto path (the order prost-reflect lists them in), in struct order
    /// on the derive path. The DDL, the runtime's statements and the row mapping all follow this order.
    pub fields: Vec<Field>,
    /// Real oneofs (not proto3 `optional` synthetics), in declaration order.
    pub oneofs: Vec<Oneof>,
    /// `(buf.validate.message)` rules.
    pub rules: Vec<Rule>,
    /// `Some` when the message carries `(capacitor.v1.entity)` (or `#[derive(Entity)]`).
    pub entity: Option<EntityOptions>,
    /// Reserved field numbers (`reserved 4, 9 to 11;`), as half-open ranges. A stored field may only be
    /// deleted once its number is reserved (the migration differ enforces it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reserved: Vec<std::ops::Range<u32>>,
    pub origin: Origin,
}

impl Message {
    /// A field by its proto name.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Whether field number `number` is reserved.
    pub fn is_reserved(&self, number: u32) -> bool {
        self.reserved.iter().any(|r| r.contains(&number))
    }

    /// Whether the Debug output must hide something: a PII field or a `debug_redact` field.
    pub fn needs_redaction(&self) -> bool {
        self.fields.iter().any(Field::is_redacted)
    }
}

/// A oneof: prost stores it as one `Option<Enum>` field of the struct.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Oneof {
    /// The proto name (`contact`).
    pub name: String,
    /// The struct field holding it (`contact`).
    pub rust_name: String,
    /// The enum's path relative to the package module (`user_profile::Contact`).
    pub rust_type: String,
    /// `(buf.validate.oneof)` rules.
    pub rules: Vec<Rule>,
}

impl Oneof {
    /// The column the oneof is stored in, as one value (JSON in the proto3 mapping, NULL when no member is
    /// set): the oneof's name.
    pub fn column(&self) -> &str {
        &self.name
    }
}

/// One field of a message. Fields are identified by number; names may change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Field {
    pub number: u32,
    /// The proto name (`user_id`).
    pub name: String,
    /// The Rust field identifier as the struct spells it, raw prefix included (`r#type`).
    pub rust_name: String,
    pub ty: FieldType,
    pub label: Label,
    /// The oneof this field belongs to (a real oneof; proto3 `optional` is [`Label::Optional`]).
    pub oneof: Option<String>,
    pub options: FieldOptions,
    /// protobuf's standard `debug_redact` field option.
    pub debug_redact: bool,
    /// `(buf.validate.field)` rules.
    pub rules: Vec<Rule>,
    pub origin: Origin,
}

impl Field {
    /// Whether Debug prints `<redacted>` for this field.
    pub fn is_redacted(&self) -> bool {
        self.debug_redact || self.options.pii.is_some()
    }

    /// Whether the field is stored in a column of its own: not `ignore`d and not a oneof member (a oneof is
    /// stored as one value, in its [`Oneof::column`]).
    pub fn is_stored(&self) -> bool {
        !self.options.ignore && self.oneof.is_none()
    }

    /// The column holding the field's value: its own [`Field::column`], its oneof's column for a oneof member,
    /// `None` for an `ignore`d field.
    pub fn stored_in(&self) -> Option<&str> {
        match (&self.oneof, self.options.ignore) {
            (_, true) => None,
            (Some(oneof), false) => Some(oneof),
            (None, false) => Some(self.column()),
        }
    }

    /// The column name: the `column` option, or the field name.
    pub fn column(&self) -> &str {
        self.options.column.as_deref().unwrap_or(&self.name)
    }
}

/// Capacitor's field options, as declared.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FieldOptions {
    pub pii: Option<Pii>,
    pub index: Option<Declared<IndexKind>>,
    pub encrypt: Option<Declared<bool>>,
    /// The width of an encrypted field's secondary blind index, when declared (checked to be 1..=256).
    pub blind_index_bits: Option<Declared<u32>>,
    /// The `claim_check` threshold as written (`"256KiB"`; `check` parses it with [`parse_size`]).
    pub claim_check: Option<Declared<String>>,
    pub column: Option<String>,
    pub ignore: bool,
}

/// A declared value with the origin of its declaration (for options that checks may reject).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Declared<T> {
    pub value: T,
    pub origin: Origin,
}

impl<T> Declared<T> {
    pub fn new(value: T, origin: Origin) -> Self {
        Declared { value, origin }
    }
}

/// An entity's options as declared on the message, with the file's defaults already applied where the message
/// is silent (file options only supply defaults).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntityOptions {
    pub table: Option<Declared<String>>,
    pub backend: Option<Backend>,
    pub cache: Option<CacheOptions>,
    pub consistency: Option<Consistency>,
    pub indexes: Vec<CompositeIndex>,
    /// The transactional outbox, when the entity has one.
    pub outbox: Option<OutboxOptions>,
    /// Event sourcing, when the entity's state is the fold of its events.
    pub event_sourced: Option<EventSourcedOptions>,
    /// Crypto-shredding: the name of the field naming the data subject, whose data key seals the entity's
    /// `encrypt` fields (checked: a singular scalar, not encrypted, on a SQL entity with `encrypt` fields).
    pub subject: Option<Declared<String>>,
    /// Where the entity option itself was written.
    pub origin: Origin,
}

/// `capacitor.v1.OutboxOptions`: the entity's writes also go to its outbox table, in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxOptions {
    /// Where a relay publishes the changes; `None` for the entity's full name.
    pub topic: Option<String>,
    /// Where the `outbox` option was written.
    pub origin: Origin,
}

/// `capacitor.v1.EventSourcedOptions`: the entity is stored as a stream of events (its events and snapshots
/// tables) instead of rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventSourcedOptions {
    /// The events message as written: a name in the entity's package, or a full name.
    pub events: String,
    /// Write a snapshot every this many events; `None` when not written (the default, 100, applies).
    pub snapshot_every: Option<u64>,
    /// Where the `event_sourced` option was written.
    pub origin: Origin,
}

impl EventSourcedOptions {
    /// The snapshot interval when `snapshot_every` is not written.
    pub const DEFAULT_SNAPSHOT_EVERY: u64 = 100;

    /// The full name of the events message: `events` if it has a dot, else `events` in `message`'s package.
    pub fn events_full_name(&self, message: &Message) -> String {
        let name = self.events.trim_start_matches('.');
        if name.contains('.') || message.package.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", message.package)
        }
    }

    /// The snapshot interval.
    pub fn snapshot_every(&self) -> u64 {
        self.snapshot_every.unwrap_or(Self::DEFAULT_SNAPSHOT_EVERY)
    }
}

impl OutboxOptions {
    /// The topic changes are published to: the `topic` option, or the entity's full name.
    pub fn topic_for(&self, message: &Message) -> String {
        self.topic
            .clone()
            .unwrap_or_else(|| message.full_name.clone())
    }
}

impl EntityOptions {
    /// The table name the entity maps to: the `table` option, or the message name in snake_case.
    pub fn table_name(&self, message: &Message) -> String {
        match &self.table {
            Some(t) => t.value.clone(),
            None => heck::ToSnakeCase::to_snake_case(message.rust_name.as_str()),
        }
    }

    /// Unspecified backend means SQLite, the embedded default.
    pub fn backend(&self) -> Backend {
        self.backend.unwrap_or(Backend::Sqlite)
    }

    /// Unspecified consistency means STRONG, the safe default.
    pub fn consistency(&self) -> Consistency {
        self.consistency.unwrap_or(Consistency::Strong)
    }

    /// The cache configuration when the entity is cached (a `cache` option is present and not `disabled`).
    pub fn effective_cache(&self) -> Option<&CacheOptions> {
        self.cache.as_ref().filter(|c| !c.disabled)
    }
}

/// `capacitor.v1.CacheOptions`, with the ttl kept as written (checked by [`crate::check`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheOptions {
    pub disabled: bool,
    pub ttl: Option<Declared<String>>,
    pub max_entries: Option<u64>,
    pub max_bytes: Option<u64>,
}

impl CacheOptions {
    /// The ttl as a duration; `None` when absent or malformed (the checks report malformed ones).
    pub fn ttl(&self) -> Option<Duration> {
        self.ttl.as_ref().and_then(|t| parse_ttl(&t.value).ok())
    }
}

/// A composite index or key (`capacitor.v1.IndexOptions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CompositeIndex {
    pub name: Option<String>,
    /// Field names, in index order.
    pub fields: Vec<String>,
    pub unique: bool,
    pub primary: bool,
    pub origin: Origin,
}

/// Parses a ttl: a whole number followed by `ms`, `s`, `m`, `h` or `d` (`"90s"`, `"5m"`, `"1h"`).
///
/// ```
/// use capacitor_codegen::ir::parse_ttl;
/// use std::time::Duration;
/// assert_eq!(parse_ttl("90s"), Ok(Duration::from_secs(90)));
/// assert_eq!(parse_ttl("250ms"), Ok(Duration::from_millis(250)));
/// assert!(parse_ttl("5 minutes").is_err());
/// ```
pub fn parse_ttl(text: &str) -> Result<Duration, TtlError> {
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let n: u64 = number.parse().map_err(|_| TtlError::NotATtl)?;
    let millis_per_unit = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(TtlError::NotATtl),
    };
    if n == 0 {
        return Err(TtlError::Zero);
    }
    n.checked_mul(millis_per_unit)
        .map(Duration::from_millis)
        .ok_or(TtlError::TooLong)
}

/// Parses a size (a `claim_check` threshold): a whole number followed by `B`, `KiB`, `MiB`, `GiB` (powers of
/// 1024) or `KB`, `MB`, `GB` (powers of 1000); `None` when `text` is not one or it overflows.
///
/// ```
/// use capacitor_codegen::ir::parse_size;
/// assert_eq!(parse_size("256KiB"), Some(262_144));
/// assert_eq!(parse_size("1MB"), Some(1_000_000));
/// assert_eq!(parse_size("512B"), Some(512));
/// assert_eq!(parse_size("256 KiB"), None);
/// assert_eq!(parse_size("1.5MiB"), None);
/// ```
pub fn parse_size(text: &str) -> Option<u64> {
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let n: u64 = number.parse().ok()?;
    let unit_bytes: u64 = match unit {
        "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return None,
    };
    n.checked_mul(unit_bytes)
}

/// Why [`parse_ttl`] refused a ttl; the check words it, naming the option to use in the user's syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtlError {
    /// Not a whole number followed by a unit.
    NotATtl,
    /// Zero: a cache that keeps nothing.
    Zero,
    /// More milliseconds than fit in a `u64`.
    TooLong,
}

/// The resolved key and indexes of an entity, computed from field and composite declarations.
///
/// Only meaningful on a schema that passed [`crate::check`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedIndex {
    pub name: String,
    /// Field numbers, in index order.
    pub fields: Vec<u32>,
    pub kind: IndexKind,
}

impl Message {
    /// Every index of the entity (primary key first), each with its resolved name.
    ///
    /// Default names follow Postgres' own conventions: `<table>_pkey`, `<table>_<cols>_key` for unique and
    /// `<table>_<cols>_idx` for secondary indexes.
    pub fn resolved_indexes(&self, entity: &EntityOptions) -> Vec<ResolvedIndex> {
        let table = entity.table_name(self);
        let mut out = Vec::new();
        let single = self.fields.iter().filter_map(|f| {
            f.options
                .index
                .as_ref()
                .map(|i| (i.value, None, vec![f.number]))
        });
        let composite = entity.indexes.iter().map(|c| {
            let kind = if c.primary {
                IndexKind::Primary
            } else if c.unique {
                IndexKind::Unique
            } else {
                IndexKind::Secondary
            };
            let numbers = c
                .fields
                .iter()
                .filter_map(|n| self.field(n).map(|f| f.number))
                .collect();
            (kind, c.name.clone(), numbers)
        });
        for (kind, name, fields) in single.chain(composite) {
            let name = name.unwrap_or_else(|| {
                let columns: Vec<&str> = fields
                    .iter()
                    .filter_map(|n| self.fields.iter().find(|f| f.number == *n))
                    .map(Field::column)
                    .collect();
                match kind {
                    IndexKind::Primary => format!("{table}_pkey"),
                    IndexKind::Unique => format!("{table}_{}_key", columns.join("_")),
                    IndexKind::Secondary => format!("{table}_{}_idx", columns.join("_")),
                }
            });
            out.push(ResolvedIndex { name, fields, kind });
        }
        out.sort_by_key(|i| i.kind != IndexKind::Primary);
        out
    }

    /// The primary key's field numbers (one field, or a composite primary index).
    pub fn primary_key(&self, entity: &EntityOptions) -> Vec<u32> {
        self.resolved_indexes(entity)
            .into_iter()
            .find(|i| i.kind == IndexKind::Primary)
            .map(|i| i.fields)
            .unwrap_or_default()
    }
}

/// A predefined rule: an extension of a `buf.validate` rules message whose `(buf.validate.predefined).cel`
/// holds its expressions, set on a field like a standard rule (`float.[acme.abs_range] = 5.0`).
///
/// ```proto
/// extend buf.validate.StringRules {
///   bool valid_path = 1161 [(buf.validate.predefined).cel = { id: "string.valid_path", expression: "..." }];
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredefinedRule {
    /// The extension's full name (`acme.valid_path`).
    pub full_name: String,
    /// The extension's field number.
    pub number: u32,
    /// The rules message it extends, inside `buf.validate` (`StringRules`).
    pub extends: String,
    /// The extension's value type (`rule` in its expressions).
    pub ty: FieldType,
    /// Whether the extension is repeated (`rule` is then a list).
    pub repeated: bool,
    /// Its `(buf.validate.predefined).cel`, as a rule with path `cel`.
    pub cel: Option<Rule>,
    pub origin: Origin,
}

/// One `buf.validate` rule as declared: its path inside the rules message and its value
/// (`string.max_len = 200`, `required = true`, `repeated.items.string.uuid = true`).
///
/// The IR keeps rules exactly as written, in the field-number order of the rules message; the validator
/// emitter decides what they mean.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    /// Dotted field names inside `buf.validate.FieldRules` / `MessageRules` / `OneofRules`.
    pub path: String,
    pub value: RuleValue,
    pub origin: Origin,
    /// For a list rule written one item at a time (each `option (buf.validate.message).cel = {…}`, each
    /// `cel(...)` attribute): where each item is. Empty when the items have no positions of their own; then
    /// diagnostics about an item point at `origin` (see [`Rule::item_origin`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub item_origins: Vec<Origin>,
}

impl Rule {
    /// A rule that has one position for all of it.
    pub fn new(path: String, value: RuleValue, origin: Origin) -> Rule {
        Rule {
            path,
            value,
            origin,
            item_origins: Vec::new(),
        }
    }

    /// Where item `index` of a list rule is: its own position, else the rule's.
    pub fn item_origin(&self, index: usize) -> &Origin {
        self.item_origins.get(index).unwrap_or(&self.origin)
    }
}

/// The value of a [`Rule`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleValue {
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    String(String),
    Bytes(Vec<u8>),
    /// An enum value by number (e.g. `ignore`, `well_known_regex`).
    Enum(i32),
    /// A `google.protobuf.Duration` or `Timestamp` (`duration.lt`, `timestamp.within`).
    Time {
        seconds: i64,
        nanos: i32,
    },
    /// A repeated rule (`string.in`, `int32.not_in`).
    List(Vec<RuleValue>),
    /// A message-valued entry of a repeated rule (`cel`: id, message, expression).
    Message(Vec<(String, RuleValue)>),
}

/// The column layout reads a field through this: `capacitor_schema::columns::field_columns` decides its columns.
impl capacitor_schema::StoredField for Field {
    type TypeName = String;
    fn number(&self) -> u32 {
        self.number
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn stored_in(&self) -> Option<&str> {
        Field::stored_in(self)
    }
    fn oneof(&self) -> Option<&str> {
        self.oneof.as_deref()
    }
    fn field_type(&self) -> &FieldType {
        &self.ty
    }
    fn label(&self) -> Label {
        self.label
    }
    fn encrypted(&self) -> bool {
        self.options.encrypt.as_ref().is_some_and(|e| e.value)
    }
    fn blind_index_bits(&self) -> Option<u16> {
        // `check` refuses widths outside 1..=256 before any layout is asked for.
        self.options
            .blind_index_bits
            .as_ref()
            .and_then(|b| u16::try_from(b.value).ok())
    }
    fn claim_check_threshold(&self) -> Option<u64> {
        // `check` refuses thresholds that do not parse, or are 0, before any layout is asked for.
        self.options
            .claim_check
            .as_ref()
            .and_then(|c| parse_size(&c.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(full_name: &str) -> Message {
        Message {
            package: "app.v1".into(),
            full_name: full_name.into(),
            rust_name: full_name.rsplit('.').next().unwrap_or_default().into(),
            rust_path: full_name.rsplit('.').next().unwrap_or_default().into(),
            fields: Vec::new(),
            oneofs: Vec::new(),
            rules: Vec::new(),
            entity: None,
            reserved: Vec::new(),
            origin: Origin::Unknown,
        }
    }

    fn found(schema: &Schema, full_name: &str) -> bool {
        schema
            .message(full_name)
            .is_some_and(|m| m.full_name == full_name)
    }

    #[test]
    fn lookup_finds_each_message_and_no_other() {
        let schema = Schema::new(vec![message("app.v1.A"), message("app.v1.B")]);
        assert!(found(&schema, "app.v1.A"));
        assert!(found(&schema, "app.v1.B"));
        assert!(schema.message("app.v1.Missing").is_none());
    }

    #[test]
    fn lookup_finds_messages_moved_or_removed_after_the_first_lookup() {
        let mut schema = Schema::new(vec![message("app.v1.A"), message("app.v1.B")]);
        assert!(found(&schema, "app.v1.A"));
        schema.messages.swap(0, 1);
        assert!(found(&schema, "app.v1.A"));
        assert!(found(&schema, "app.v1.B"));
        schema.messages.remove(0);
        assert!(found(&schema, "app.v1.A"));
        assert!(schema.message("app.v1.B").is_none());
    }

    #[test]
    fn lookup_returns_the_first_of_two_messages_with_one_name() {
        let mut second = message("app.v1.A");
        second.rust_name = "Second".into();
        let schema = Schema::new(vec![message("app.v1.A"), second]);
        assert_eq!(
            schema.message("app.v1.A").map(|m| m.rust_name.as_str()),
            Some("A")
        );
    }
}
