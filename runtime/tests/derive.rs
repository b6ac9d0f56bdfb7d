//! `#[derive(Entity)]` and `#[derive(RedactedDebug)]` on hand-written prost messages: the schema they describe
//! and the Debug they print.

use capacitor::Entity;
use capacitor::schema::{
    Backend, CacheSchema, Consistency, FieldSchema, FieldType, IndexKind, Label, Pii, Scalar,
    WellKnown,
};
use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum Status {
    Unspecified = 0,
    Active = 1,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Address {
    #[prost(string, tag = "1")]
    pub city: String,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Contact {
    #[prost(string, tag = "20")]
    Phone(String),
    #[prost(string, tag = "21")]
    Pager(String),
}

#[derive(Clone, PartialEq, prost::Message, capacitor::Entity, capacitor::RedactedDebug)]
#[prost(skip_debug)]
#[capacitor(
    package = "app.v1",
    table = "user_profiles",
    backend = "postgres",
    consistency = "eventual",
    cache(ttl = "60s", max_entries = 10000, max_bytes = 1048576),
    index(fields("org_id", "created_at")),
    index(name = "profiles_by_org_email", fields("org_id", "email"), unique)
)]
pub struct UserProfile {
    #[prost(string, tag = "1")]
    #[capacitor(primary_key)]
    pub user_id: String,
    #[prost(string, tag = "2")]
    #[capacitor(pii = "email", unique, column = "email_address")]
    pub email: String,
    #[prost(string, tag = "3")]
    #[capacitor(pii = "name")]
    pub name: String,
    #[prost(message, optional, tag = "4")]
    #[capacitor(index)]
    pub created_at: Option<prost_types::Timestamp>,
    /// `google.protobuf.StringValue`, as prost maps it.
    #[prost(message, optional, tag = "5")]
    pub nickname: Option<String>,
    #[prost(enumeration = "Status", tag = "6")]
    pub status: i32,
    #[prost(string, repeated, tag = "7")]
    pub tags: Vec<String>,
    #[prost(map = "string, int32", tag = "8")]
    pub quotas: HashMap<String, i32>,
    #[prost(string, tag = "9")]
    #[capacitor(ignore)]
    pub scratch: String,
    #[prost(string, tag = "10")]
    pub org_id: String,
    #[prost(message, optional, tag = "11")]
    pub address: Option<Address>,
    #[prost(int64, optional, tag = "12")]
    pub login_count: Option<i64>,
    #[prost(btree_map = "string, message", tag = "13")]
    pub addresses: BTreeMap<String, Address>,
    #[prost(string, tag = "14")]
    #[capacitor(redact)]
    pub session_token: String,
    #[prost(oneof = "Contact", tags = "20, 21")]
    pub contact: Option<Contact>,
}

fn field(name: &str) -> &'static FieldSchema {
    UserProfile::SCHEMA
        .field(name)
        .unwrap_or_else(|| panic!("no field `{name}` in the schema"))
}

#[test]
fn container_options_reach_the_schema() {
    let schema = UserProfile::SCHEMA;
    assert_eq!(schema.package, "app.v1");
    assert_eq!(schema.message, "UserProfile");
    assert_eq!(schema.table, "user_profiles");
    assert_eq!(schema.backend, Backend::Postgres);
    assert_eq!(schema.consistency, Consistency::Eventual);
    assert_eq!(
        schema.cache,
        Some(CacheSchema {
            ttl_ms: Some(60_000),
            max_entries: Some(10_000),
            max_bytes: Some(1_048_576),
        })
    );
    assert_eq!(schema.primary_key, &[1]);
}

#[test]
fn fields_keep_prost_numbers_types_and_labels() {
    let expect = [
        (
            "user_id",
            1,
            FieldType::Scalar(Scalar::String),
            Label::Implicit,
        ),
        (
            "email",
            2,
            FieldType::Scalar(Scalar::String),
            Label::Implicit,
        ),
        (
            "created_at",
            4,
            FieldType::WellKnown(WellKnown::Timestamp),
            Label::Optional,
        ),
        (
            "nickname",
            5,
            FieldType::WellKnown(WellKnown::StringValue),
            Label::Optional,
        ),
        ("status", 6, FieldType::Enum(()), Label::Implicit),
        (
            "tags",
            7,
            FieldType::Scalar(Scalar::String),
            Label::Repeated,
        ),
        (
            "quotas",
            8,
            FieldType::Scalar(Scalar::Int32),
            Label::Map {
                key: Scalar::String,
            },
        ),
        ("address", 11, FieldType::Message(()), Label::Optional),
        (
            "login_count",
            12,
            FieldType::Scalar(Scalar::Int64),
            Label::Optional,
        ),
        (
            "addresses",
            13,
            FieldType::Message(()),
            Label::Map {
                key: Scalar::String,
            },
        ),
        // A oneof is one stored value, known by its first tag.
        ("contact", 20, FieldType::Message(()), Label::Optional),
    ];
    for (name, number, ty, label) in expect {
        let f = field(name);
        assert_eq!(
            (f.number, f.ty, f.label),
            (number, ty, label),
            "field `{name}`"
        );
    }
    let names: Vec<&str> = UserProfile::SCHEMA.fields.iter().map(|f| f.name).collect();
    assert_eq!(
        names.len(),
        15,
        "every struct field is in the schema: {names:?}"
    );
}

#[test]
fn columns_pii_and_storage_options() {
    assert_eq!(field("email").column, Some("email_address"));
    assert_eq!(field("email").pii, Some(Pii::Email));
    assert!(field("email").redacted);
    assert_eq!(field("name").pii, Some(Pii::Name));
    assert_eq!(field("user_id").column, Some("user_id"));
    assert_eq!(field("user_id").pii, None);
    assert!(!field("user_id").redacted);
    assert_eq!(
        field("scratch").column,
        None,
        "an ignored field has no column"
    );
    let token = field("session_token");
    assert_eq!(
        (token.pii, token.redacted, token.encrypt),
        (None, true, false)
    );
    let pii: Vec<&str> = UserProfile::SCHEMA.pii_fields().map(|f| f.name).collect();
    assert_eq!(pii, ["email", "name"]);
}

#[test]
fn indexes_primary_first_with_default_names() {
    let indexes: Vec<(&str, &[u32], IndexKind)> = UserProfile::SCHEMA
        .indexes
        .iter()
        .map(|i| (i.name, i.fields, i.kind))
        .collect();
    assert_eq!(
        indexes,
        [
            ("user_profiles_pkey", &[1][..], IndexKind::Primary),
            (
                "user_profiles_email_address_key",
                &[2][..],
                IndexKind::Unique
            ),
            (
                "user_profiles_created_at_idx",
                &[4][..],
                IndexKind::Secondary
            ),
            (
                "user_profiles_org_id_created_at_idx",
                &[10, 4][..],
                IndexKind::Secondary
            ),
            ("profiles_by_org_email", &[10, 2][..], IndexKind::Unique),
        ]
    );
}

const EMAIL: &str = "ada.lovelace@example.com";
const NAME: &str = "Ada Lovelace";
const TOKEN: &str = "tok_9f8e7d6c";

fn profile() -> UserProfile {
    UserProfile {
        user_id: "u-1".into(),
        email: EMAIL.into(),
        name: NAME.into(),
        nickname: Some("countess".into()),
        org_id: "org-7".into(),
        session_token: TOKEN.into(),
        contact: Some(Contact::Pager("p-42".into())),
        ..Default::default()
    }
}

#[test]
fn debug_hides_pii_and_redacted_fields() {
    let printed = format!("{:?}", profile());
    // The assertion messages never print `printed`: it would leak the values on failure.
    assert!(!printed.contains(EMAIL), "Debug shows the email");
    assert!(!printed.contains(NAME), "Debug shows the name");
    assert!(!printed.contains(TOKEN), "Debug shows the redacted token");
    assert!(
        printed
            .starts_with("UserProfile { user_id: \"u-1\", email: <redacted>, name: <redacted>, ")
    );
    assert!(printed.contains("nickname: Some(\"countess\")"));
    assert!(printed.contains("session_token: <redacted>"));
    assert!(printed.contains("contact: Some(Pager(\"p-42\"))"));
    let pretty = format!("{:#?}", profile());
    assert!(
        !pretty.contains(EMAIL) && !pretty.contains(NAME),
        "pretty Debug shows PII"
    );
}

/// Fields named with keywords (prost spells them as raw identifiers).
#[derive(Clone, PartialEq, prost::Message, capacitor::Entity, capacitor::RedactedDebug)]
#[prost(skip_debug)]
pub struct Keywords {
    #[prost(string, tag = "1")]
    #[capacitor(primary_key)]
    pub r#type: String,
    #[prost(string, tag = "2")]
    #[capacitor(pii = "free_text")]
    pub r#match: String,
    #[prost(int32, tag = "3")]
    #[capacitor(index)]
    pub r#gen: i32,
    #[prost(bytes = "vec", tag = "4")]
    pub r#ref: Vec<u8>,
}

#[test]
fn keyword_fields_use_their_proto_names() {
    let schema = Keywords::SCHEMA;
    let names: Vec<(&str, Option<&str>)> =
        schema.fields.iter().map(|f| (f.name, f.column)).collect();
    assert_eq!(
        names,
        [
            ("type", Some("type")),
            ("match", Some("match")),
            ("gen", Some("gen")),
            ("ref", Some("ref"))
        ]
    );
    assert_eq!(
        schema.field("ref").map(|f| f.ty),
        Some(FieldType::Scalar(Scalar::Bytes))
    );
    assert_eq!(schema.indexes[1].name, "keywords_gen_idx");
    let value = Keywords {
        r#type: "t".into(),
        r#match: "secret words".into(),
        r#gen: 7,
        r#ref: vec![1],
    };
    let printed = format!("{value:?}");
    assert!(!printed.contains("secret words"), "Debug shows a PII field");
    assert!(
        printed == "Keywords { type: \"t\", match: <redacted>, gen: 7, ref: [1] }",
        "unexpected Debug output"
    );
}

/// With no container options: snake_case table, SQLite, strong consistency, no cache, no package.
#[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
pub struct AuditEvent {
    #[prost(uint64, tag = "1")]
    #[capacitor(primary_key)]
    pub id: u64,
    #[prost(message, optional, tag = "2")]
    pub took: Option<prost_types::Duration>,
    #[prost(message, optional, tag = "3")]
    pub attempts: Option<i64>,
    #[prost(message, optional, tag = "4")]
    pub payload: Option<Vec<u8>>,
}

#[test]
fn defaults_without_container_options() {
    let schema = AuditEvent::SCHEMA;
    assert_eq!(schema.package, "");
    assert_eq!(schema.message, "AuditEvent");
    assert_eq!(schema.table, "audit_event");
    assert_eq!(schema.backend, Backend::Sqlite);
    assert_eq!(schema.consistency, Consistency::Strong);
    assert_eq!(schema.cache, None);
    assert_eq!(schema.indexes.len(), 1);
    assert_eq!(schema.indexes[0].name, "audit_event_pkey");
    let types: Vec<FieldType> = schema.fields.iter().map(|f| f.ty).collect();
    assert_eq!(
        types,
        [
            FieldType::Scalar(Scalar::Uint64),
            FieldType::WellKnown(WellKnown::Duration),
            FieldType::WellKnown(WellKnown::Int64Value),
            FieldType::WellKnown(WellKnown::BytesValue),
        ]
    );
}

/// A composite primary key, a disabled cache, and the runtime named through a re-export.
mod reexported {
    pub use capacitor as rt;
}

#[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
#[capacitor(
    crate = "crate::reexported::rt",
    backend = "memory",
    cache(ttl = "1h", disabled),
    index(fields("tenant", "key"), primary)
)]
pub struct Setting {
    #[prost(string, tag = "1")]
    pub tenant: String,
    #[prost(string, tag = "2")]
    pub key: String,
    #[prost(string, tag = "3")]
    pub value: String,
}

#[test]
fn composite_primary_key_and_disabled_cache() {
    let schema = Setting::SCHEMA;
    assert_eq!(schema.primary_key, &[1, 2]);
    assert_eq!(schema.indexes[0].name, "setting_pkey");
    assert_eq!(schema.indexes[0].kind, IndexKind::Primary);
    assert_eq!(schema.backend, Backend::Memory);
    assert_eq!(schema.cache, None, "a disabled cache is no cache");
}

/// RedactedDebug on a struct that is not a prost message.
#[derive(capacitor::RedactedDebug)]
pub struct Credentials {
    pub user: &'static str,
    #[capacitor(redact)]
    pub password: &'static str,
}

#[test]
fn redacted_debug_on_a_plain_struct() {
    let printed = format!(
        "{:?}",
        Credentials {
            user: "ada",
            password: "hunter2"
        }
    );
    // `assert!`, not `assert_eq!`: a failure must not print the secret.
    assert!(
        printed == "Credentials { user: \"ada\", password: <redacted> }",
        "unexpected Debug output"
    );
}
