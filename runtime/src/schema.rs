//! Static descriptions of entities, emitted by the code generator and the derive as `'static` constants.
//!
//! These types mirror `capacitor_codegen::ir` for use at run time; they are built only from literals, so an
//! [`EntitySchema`] lives in read-only memory.

/// Everything the schema says about one entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntitySchema {
    /// Proto package (`app.v1`); empty when none (a hand-written struct without `package = "…"`).
    pub package: &'static str,
    /// The message name (`UserProfile`).
    pub message: &'static str,
    /// The table it is stored in.
    pub table: &'static str,
    pub backend: Backend,
    pub consistency: Consistency,
    /// `None` when the entity is not cached.
    pub cache: Option<CacheSchema>,
    /// Field numbers of the primary key, in key order.
    pub primary_key: &'static [u32],
    /// Every field of the message, in declaration order.
    pub fields: &'static [FieldSchema],
    /// Every index, primary key first.
    pub indexes: &'static [IndexSchema],
}

impl EntitySchema {
    /// A field by its proto name.
    pub fn field(&self, name: &str) -> Option<&'static FieldSchema> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// A field by its number.
    pub fn field_by_number(&self, number: u32) -> Option<&'static FieldSchema> {
        self.fields.iter().find(|f| f.number == number)
    }

    /// The fields that hold personal data.
    pub fn pii_fields(&self) -> impl Iterator<Item = &'static FieldSchema> {
        self.fields.iter().filter(|f| f.pii.is_some())
    }
}

/// One field of an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSchema {
    pub number: u32,
    /// The proto field name.
    pub name: &'static str,
    /// The column it is stored in; `None` for an `ignore`d field (kept in the DTO, not stored). The members of a
    /// oneof share one column, named after the oneof.
    pub column: Option<&'static str>,
    /// The oneof this field is a member of (its proto name), whose members are stored together as one JSON
    /// value in [`column`](Self::column); `None` for a field outside a oneof.
    pub oneof: Option<&'static str>,
    pub ty: FieldType,
    pub label: Label,
    pub pii: Option<Pii>,
    /// Whether Debug hides the value (PII or protobuf's `debug_redact`).
    pub redacted: bool,
    pub encrypt: bool,
}

/// An index or key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexSchema {
    pub name: &'static str,
    /// Field numbers, in index order.
    pub fields: &'static [u32],
    pub kind: IndexKind,
}

/// The cache tier configuration of an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSchema {
    /// Time to live in milliseconds; `None` keeps entries until evicted.
    pub ttl_ms: Option<u64>,
    pub max_entries: Option<u64>,
    pub max_bytes: Option<u64>,
}

impl CacheSchema {
    /// The time to live, if any.
    pub fn ttl(&self) -> Option<std::time::Duration> {
        self.ttl_ms.map(std::time::Duration::from_millis)
    }
}

/// The type of a field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Scalar(Scalar),
    Enum,
    WellKnown(WellKnown),
    Message,
}

/// How many values a field holds and whether it tracks presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    Implicit,
    Optional,
    Required,
    Repeated,
    Map { key: Scalar },
}

/// Protobuf scalar types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// Well-known types stored in one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// The kind of personal data a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pii {
    Email,
    Name,
    Phone,
    PostalAddress,
    NationalId,
    DateOfBirth,
    IpAddress,
    Geolocation,
    PaymentCard,
    FreeText,
    Other,
}

/// Index kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IndexKind {
    Primary,
    Unique,
    Secondary,
}

/// Where an entity is stored. With no configuration, SQLite (the embedded default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
    Memory,
}

/// How fresh reads must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Consistency {
    /// A read that starts after a write was acknowledged never returns an older version.
    Strong,
    /// Staleness bounded by the cache ttl.
    Eventual,
}
