//! Static descriptions of entities, emitted by the code generator and the derive as `'static` constants.
//!
//! These types mirror `capacitor_codegen::ir` for use at run time; they are built only from literals, so an
//! [`EntitySchema`] lives in read-only memory. The field-type and option vocabulary ([`Scalar`], [`FieldType`],
//! [`Label`], [`Pii`]…) is the code generator's own, from `capacitor-schema`, and so is the column layout a
//! field's columns come from ([`columns`]).

pub use capacitor_schema::columns;
pub use capacitor_schema::{Backend, Consistency, IndexKind, Label, Pii, Scalar, WellKnown};

/// The type of a field's value. The static schema does not name enum and message types (`FieldType::Enum(())`):
/// nothing at run time needs the name, and the two front ends spell it differently (proto name, Rust path).
pub type FieldType = capacitor_schema::FieldType<()>;

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
    /// The transactional outbox, when the entity has one (see [`crate::outbox`]).
    pub outbox: Option<OutboxSchema>,
    /// Crypto-shredding (`(capacitor.v1.entity).subject`): the number of the field naming the data subject,
    /// whose own data key seals the entity's encrypted fields (see `docs/pii.md`).
    pub subject: Option<u32>,
}

/// An entity's transactional outbox (`(capacitor.v1.entity).outbox`): every committed write also writes a row
/// to [`outbox_table`](crate::schema::columns::outbox_table) in the same transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxSchema {
    /// Where a relay publishes the entity's changes.
    pub topic: &'static str,
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

    /// The entity's full name: `package.Message`, or the message name alone without a package.
    pub fn full_name(&self) -> String {
        match self.package {
            "" => self.message.to_owned(),
            package => format!("{package}.{}", self.message),
        }
    }

    /// Whether a field of the primary key holds personal data (a `pii` kind, or protobuf's `debug_redact`):
    /// then the key itself is PII and never leaves the process in plaintext (Redis key names, audit events use a
    /// keyed token).
    pub fn key_is_pii(&self) -> bool {
        self.primary_key.iter().any(|n| {
            self.field_by_number(*n)
                .is_some_and(|f| f.pii.is_some() || f.redacted)
        })
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
    /// The width in bits of its blind index when only secondary indexes are on it (the `blind_index_bits`
    /// option); `None` for the default. See [`columns::blind_index_width`].
    pub blind_index_bits: Option<u16>,
    /// For a claim-checked field (the `claim_check` option), the size in bytes above which a value goes to the
    /// repository's blob store, its row and payloads holding a reference (`docs/claim-check.md`).
    pub claim_check: Option<u64>,
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

/// The column layout reads a field through this (`columns::field_columns`), as the code generator's DDL does.
impl capacitor_schema::StoredField for FieldSchema {
    type TypeName = ();
    fn number(&self) -> u32 {
        self.number
    }
    fn name(&self) -> &str {
        self.name
    }
    fn stored_in(&self) -> Option<&str> {
        self.column
    }
    fn oneof(&self) -> Option<&str> {
        self.oneof
    }
    fn field_type(&self) -> &FieldType {
        &self.ty
    }
    fn label(&self) -> Label {
        self.label
    }
    fn encrypted(&self) -> bool {
        self.encrypt
    }
    fn blind_index_bits(&self) -> Option<u16> {
        self.blind_index_bits
    }
    fn claim_check_threshold(&self) -> Option<u64> {
        self.claim_check
    }
}
