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

/// Every message of the input files, entity or not, in declaration order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Schema {
    pub messages: Vec<Message>,
}

impl Schema {
    /// The messages that are entities, with their options.
    pub fn entities(&self) -> impl Iterator<Item = (&Message, &EntityOptions)> {
        self.messages
            .iter()
            .filter_map(|m| m.entity.as_ref().map(|e| (m, e)))
    }

    /// A message by its fully qualified proto name (`app.v1.UserProfile`).
    pub fn message(&self, full_name: &str) -> Option<&Message> {
        self.messages.iter().find(|m| m.full_name == full_name)
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

/// How many values a field holds and whether it tracks presence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    /// proto3 implicit presence: the zero value is "not set".
    Implicit,
    /// Explicit presence: proto2 `optional`, proto3 `optional`, a message field, a oneof member.
    Optional,
    /// proto2 `required`.
    Required,
    Repeated,
    /// `map<K, V>`; [`Field::ty`] is the value type.
    Map {
        key: Scalar,
    },
}

/// The type of a field's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Scalar(Scalar),
    /// An enum, by fully qualified proto name (or Rust path on the derive path).
    Enum(String),
    /// A well-known type that maps to one column.
    WellKnown(WellKnown),
    /// Any other message, by fully qualified proto name (or Rust path on the derive path).
    Message(String),
}

impl FieldType {
    /// Whether a value of this type fits one indexable column: a scalar, an enum or a single-column
    /// well-known type.
    pub fn is_indexable(&self) -> bool {
        !matches!(self, FieldType::Message(_))
    }
}

/// Protobuf scalar types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scalar {
    Double,
    Float,
    Int32,
    Int64,
    Uint32,
    Uint64,
    Sint32,
    Sint64,
    Fixed32,
    Fixed64,
    Sfixed32,
    Sfixed64,
    Bool,
    String,
    Bytes,
}

impl Scalar {
    /// Every scalar, in `descriptor.proto` order.
    pub const ALL: [Scalar; 15] = [
        Scalar::Double,
        Scalar::Float,
        Scalar::Int32,
        Scalar::Int64,
        Scalar::Uint32,
        Scalar::Uint64,
        Scalar::Sint32,
        Scalar::Sint64,
        Scalar::Fixed32,
        Scalar::Fixed64,
        Scalar::Sfixed32,
        Scalar::Sfixed64,
        Scalar::Bool,
        Scalar::String,
        Scalar::Bytes,
    ];

    /// The proto keyword (`int64`), which is also prost's attribute name.
    pub fn proto_name(self) -> &'static str {
        match self {
            Scalar::Double => "double",
            Scalar::Float => "float",
            Scalar::Int32 => "int32",
            Scalar::Int64 => "int64",
            Scalar::Uint32 => "uint32",
            Scalar::Uint64 => "uint64",
            Scalar::Sint32 => "sint32",
            Scalar::Sint64 => "sint64",
            Scalar::Fixed32 => "fixed32",
            Scalar::Fixed64 => "fixed64",
            Scalar::Sfixed32 => "sfixed32",
            Scalar::Sfixed64 => "sfixed64",
            Scalar::Bool => "bool",
            Scalar::String => "string",
            Scalar::Bytes => "bytes",
        }
    }

    /// The scalar a proto keyword names.
    pub fn from_proto_name(name: &str) -> Option<Scalar> {
        Scalar::ALL.into_iter().find(|s| s.proto_name() == name)
    }
}

/// Well-known types that are stored in one column, so they may be indexed or be a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WellKnown {
    Timestamp,
    Duration,
    DoubleValue,
    FloatValue,
    Int64Value,
    Uint64Value,
    Int32Value,
    Uint32Value,
    BoolValue,
    StringValue,
    BytesValue,
}

impl WellKnown {
    const ALL: [WellKnown; 11] = [
        WellKnown::Timestamp,
        WellKnown::Duration,
        WellKnown::DoubleValue,
        WellKnown::FloatValue,
        WellKnown::Int64Value,
        WellKnown::Uint64Value,
        WellKnown::Int32Value,
        WellKnown::Uint32Value,
        WellKnown::BoolValue,
        WellKnown::StringValue,
        WellKnown::BytesValue,
    ];

    /// The message name inside `google.protobuf` (`Timestamp`).
    pub fn name(self) -> &'static str {
        match self {
            WellKnown::Timestamp => "Timestamp",
            WellKnown::Duration => "Duration",
            WellKnown::DoubleValue => "DoubleValue",
            WellKnown::FloatValue => "FloatValue",
            WellKnown::Int64Value => "Int64Value",
            WellKnown::Uint64Value => "UInt64Value",
            WellKnown::Int32Value => "Int32Value",
            WellKnown::Uint32Value => "UInt32Value",
            WellKnown::BoolValue => "BoolValue",
            WellKnown::StringValue => "StringValue",
            WellKnown::BytesValue => "BytesValue",
        }
    }

    /// The single-column well-known type with this message name (`Timestamp`, `UInt64Value`).
    pub fn from_name(name: &str) -> Option<WellKnown> {
        WellKnown::ALL.into_iter().find(|w| w.name() == name)
    }

    /// The single-column well-known type with this fully qualified proto name (`google.protobuf.Timestamp`).
    pub fn from_full_name(full_name: &str) -> Option<WellKnown> {
        full_name
            .strip_prefix("google.protobuf.")
            .and_then(WellKnown::from_name)
    }
}

/// Capacitor's field options, as declared.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FieldOptions {
    pub pii: Option<Pii>,
    pub index: Option<Declared<IndexKind>>,
    pub encrypt: Option<Declared<bool>>,
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

/// A single-field index kind (`capacitor.v1.Index`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexKind {
    Primary,
    Unique,
    Secondary,
}

macro_rules! option_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $proto:literal / $short:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant,)* }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The proto enum value name (`PII_EMAIL`).
            pub fn proto_name(self) -> &'static str {
                match self { $($name::$variant => $proto,)* }
            }

            /// The short lower-case name used by derive attributes and `capgen inspect` (`email`).
            pub fn short_name(self) -> &'static str {
                match self { $($name::$variant => $short,)* }
            }

            /// The value whose short name this is.
            pub fn from_short_name(name: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.short_name() == name)
            }

            /// The value with this proto enum number; `None` for UNSPECIFIED (0) or a number the vocabulary
            /// does not know. Values are numbered from 1 in declaration order.
            pub fn from_number(n: i32) -> Option<$name> {
                usize::try_from(n - 1).ok().and_then(|i| Self::ALL.get(i).copied())
            }

            /// The Rust variant name, as emitted into `::capacitor::schema`.
            pub fn variant_name(self) -> &'static str {
                match self { $($name::$variant => stringify!($variant),)* }
            }
        }
    };
}

option_enum! {
    /// The kind of personal data a field holds (`capacitor.v1.Pii`, without UNSPECIFIED).
    Pii {
        Email = "PII_EMAIL" / "email",
        Name = "PII_NAME" / "name",
        Phone = "PII_PHONE" / "phone",
        PostalAddress = "PII_POSTAL_ADDRESS" / "postal_address",
        NationalId = "PII_NATIONAL_ID" / "national_id",
        DateOfBirth = "PII_DATE_OF_BIRTH" / "date_of_birth",
        IpAddress = "PII_IP_ADDRESS" / "ip_address",
        Geolocation = "PII_GEOLOCATION" / "geolocation",
        PaymentCard = "PII_PAYMENT_CARD" / "payment_card",
        FreeText = "PII_FREE_TEXT" / "free_text",
        Other = "PII_OTHER" / "other",
    }
}

option_enum! {
    /// Where an entity is stored (`capacitor.v1.Backend`, without UNSPECIFIED).
    Backend {
        Sqlite = "BACKEND_SQLITE" / "sqlite",
        Postgres = "BACKEND_POSTGRES" / "postgres",
        Memory = "BACKEND_MEMORY" / "memory",
    }
}

option_enum! {
    /// How fresh reads must be (`capacitor.v1.Consistency`, without UNSPECIFIED).
    Consistency {
        Strong = "CONSISTENCY_STRONG" / "strong",
        Eventual = "CONSISTENCY_EVENTUAL" / "eventual",
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
    /// Where the entity option itself was written.
    pub origin: Origin,
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
pub fn parse_ttl(text: &str) -> Result<Duration, String> {
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let bad = || {
        format!(
            "`{text}` is not a ttl: write a whole number followed by ms, s, m, h or d (\"90s\", \"5m\")"
        )
    };
    let n: u64 = number.parse().map_err(|_| bad())?;
    let millis_per_unit = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad()),
    };
    if n == 0 {
        return Err(format!(
            "ttl `{text}` is zero: leave the ttl out, or disable the cache with `disabled: true`"
        ));
    }
    n.checked_mul(millis_per_unit)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("ttl `{text}` is too long"))
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
