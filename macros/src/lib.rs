//! Derives for Capacitor, re-exported by the `capacitor` crate: [`Entity`](macro@Entity),
//! [`RedactedDebug`](macro@RedactedDebug) and [`Validate`](macro@Validate).
//!
//! This is the derive front end of Capacitor's one IR: it reads a hand-written prost message and its
//! `#[capacitor(...)]` attributes into a `capacitor_codegen::ir::Message`, runs the same checks
//! (`capacitor_codegen::check`) and the same Rust emitter (`capacitor_codegen::emit::rust`) as the proto front
//! end, and reports every problem at once, each at the span it was written at.
//!
//! The stages follow serde_derive: parse (`#[capacitor]` and `#[prost]` attributes) → model (the IR) → check →
//! emit; the emitter never sees a model that failed.

mod attr;
mod attribute_spelling;
mod ctxt;
mod entity;
mod migrations;
mod model;
mod prost_attr;
mod redacted_debug;
mod rule_attrs;
mod rust_type;
mod validate;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Implements `capacitor::Entity` for a prost message: a `'static` schema (table, key, columns, indexes, PII,
/// cache, consistency) that the runtime's stores and repositories read.
///
/// Field numbers and proto types come from prost's own `#[prost(...)]` attributes, so every field needs an
/// explicit `tag = "N"` (columns are keyed by number, so the derive does not infer numbers from field order).
/// A field's proto name is its Rust name without a raw prefix (`r#type` is `type`).
///
/// # Struct attributes: `#[capacitor(...)]`
///
/// | attribute | meaning | default |
/// |---|---|---|
/// | `table = "users"` | the table name | the struct name in snake_case |
/// | `backend = "sqlite"` | `sqlite`, `postgres` or `memory` | `sqlite` |
/// | `consistency = "strong"` | `strong` or `eventual` | `strong` |
/// | `cache(ttl = "60s", max_entries = 10000, max_bytes = 1048576)` | cache the entity; a ttl is a whole number followed by `ms`, `s`, `m`, `h` or `d` | not cached |
/// | `cache(disabled)` | declare the cache but turn it off | |
/// | `index(name = "...", fields("a", "b"), unique)` | a composite index, repeatable; `primary` makes it the key | name derived from the table and columns |
/// | `outbox(topic = "orders")` | a transactional outbox: each committed write also writes `<table>_outbox` in its transaction (change feed, relays, L1 invalidation; see `docs/changes.md`) | no outbox; topic: the full name |
/// | `event_sourced(events = "OrderEvent", snapshot_every = 100)` | stored as its events: `<table>_events` and `<table>_snapshots`, `impl EventSourced` and `<Name>Stream` (the events type implements `capacitor::events::EventKind`; see `docs/event-sourcing.md`) | not event-sourced; snapshot_every: 100 |
/// | `subject = "user_id"` | crypto-shredding: the entity's `encrypt` fields are sealed under the data key of the subject this field names (a string, integer or bytes field, not `encrypt`; needs an `encrypt` field and a SQL backend), and `shred_subject` destroys that key (see `docs/pii.md`) | ring keys |
/// | `package = "app.v1"` | the proto package, for the schema's full name | none |
/// | `crate = "my_app::capacitor"` | where the runtime crate is, when it is re-exported | `::capacitor` |
///
/// # Field attributes: `#[capacitor(...)]`
///
/// | attribute | meaning |
/// |---|---|
/// | `primary_key` | the entity's key (exactly one, or one composite `index(..., primary)`) |
/// | `unique` | a unique index on this field |
/// | `index` | a secondary index on this field |
/// | `pii = "email"` | personal data of this kind: `email`, `name`, `phone`, `postal_address`, `national_id`, `date_of_birth`, `ip_address`, `geolocation`, `payment_card`, `free_text`, `other`; `RedactedDebug` hides it |
/// | `redact` | hide the value from Debug without calling it personal data (protobuf's `debug_redact`) |
/// | `encrypt` | store the value encrypted (a single string or bytes field, not the primary key; a `unique` or `index` on it is served by a blind index, see `docs/pii.md`) |
/// | `blind_index_bits = 24` | how many bits the blind index of an `encrypt` field with a secondary (not unique) index keeps: 1 to 256, 16 when unset (see `docs/pii.md`) |
/// | `claim_check(threshold = "256KiB")` | store a value above the threshold in the repository's blob store, the row, Redis and the outbox holding its SHA-256 reference (a single string or bytes field, not a key, not indexed; with `encrypt`, the blob and the stored reference are sealed too; see `docs/claim-check.md`) |
/// | `column = "email_address"` | the column name | the field name |
/// | `ignore` | keep the field in the message but do not store it |
///
/// Indexes and keys fit one comparable value per row: not a repeated field, a map or a message (a oneof is
/// stored as one message-typed value). `Timestamp`, `Duration` and the wrapper types (`Option<String>` for
/// `StringValue`, ...) count as one value.
///
/// # Example
///
/// ```
/// use capacitor::Entity;
/// use capacitor::schema::{Backend, Consistency, IndexKind, Pii};
///
/// #[derive(Clone, PartialEq, prost::Message, capacitor::Entity, capacitor::RedactedDebug)]
/// #[prost(skip_debug)]
/// #[capacitor(
///     table = "accounts",
///     backend = "postgres",
///     consistency = "eventual",
///     cache(ttl = "5m", max_entries = 1000),
///     package = "bank.v1",
///     index(fields("owner", "opened_at")),
/// )]
/// pub struct Account {
///     #[prost(string, tag = "1")]
///     #[capacitor(primary_key)]
///     pub id: String,
///     #[prost(string, tag = "2")]
///     #[capacitor(pii = "name", column = "owner_name")]
///     pub owner: String,
///     #[prost(string, tag = "3")]
///     #[capacitor(pii = "national_id", encrypt)]
///     pub tax_id: String,
///     #[prost(int64, tag = "4")]
///     pub opened_at: i64,
///     #[prost(string, tag = "5")]
///     #[capacitor(ignore)]
///     pub scratch: String,
/// }
///
/// let schema = Account::SCHEMA;
/// assert_eq!(schema.table, "accounts");
/// assert_eq!(schema.backend, Backend::Postgres);
/// assert_eq!(schema.consistency, Consistency::Eventual);
/// assert_eq!(schema.cache.unwrap().ttl_ms, Some(300_000));
/// assert_eq!(schema.primary_key, &[1]);
/// assert_eq!(schema.field("owner").unwrap().column, Some("owner_name"));
/// assert_eq!(schema.field("tax_id").unwrap().pii, Some(Pii::NationalId));
/// assert!(schema.field("tax_id").unwrap().encrypt);
/// assert_eq!(schema.field("scratch").unwrap().column, None);
/// assert_eq!(schema.indexes[1].name, "accounts_owner_name_opened_at_idx");
/// assert_eq!(schema.indexes[1].kind, IndexKind::Secondary);
/// ```
///
/// # With `Validate` and `repository`
///
/// [`Validate`](macro@Validate) derives on the same struct: `Entity` reads the storage keys and skips
/// `validate(...)`, `Validate` reads `validate(...)` and skips the storage keys (each still rejects a key that
/// neither knows). With `repository`, a struct that writes any `validate(...)` key gets a `Record::check_rules`
/// that returns `Validate::validate`, so the repository's `put`, `insert`, `update` and `put_many` refuse an
/// invalid value before touching any tier; such a struct must derive (or implement) `Validate`.
///
/// ```
/// use capacitor::Record;
///
/// #[derive(Clone, PartialEq, prost::Message, capacitor::Entity, capacitor::Validate)]
/// #[capacitor(table = "users", repository)]
/// pub struct User {
///     #[prost(string, tag = "1")]
///     #[capacitor(primary_key, validate(uuid))]
///     pub id: String,
///     #[prost(string, tag = "2")]
///     #[capacitor(unique, validate(email))]
///     pub email: String,
/// }
///
/// let user = User { id: "7c4a0d5e-6f0b-4a8e-9d3c-2b1f0e9a8c7d".into(), email: "ada@example.com".into() };
/// assert!(user.check_rules().is_ok());
/// let bad = User { id: "7".into(), ..user };
/// let violations = bad.check_rules().unwrap_err();
/// assert_eq!(&*violations.iter().next().unwrap().rule_id, "string.uuid");
/// ```
///
/// Mistakes are compile errors at the attribute that caused them, all at once:
///
/// ```compile_fail
/// #[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
/// pub struct Tagged {
///     #[prost(string, repeated, tag = "1")]
///     #[capacitor(primary_key)] // error: a primary key cannot be on a repeated field
///     pub tags: Vec<String>,
/// }
/// ```
#[proc_macro_derive(Entity, attributes(capacitor))]
pub fn derive_entity(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    entity::derive(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Implements `Debug` printing `<redacted>` in place of every `#[capacitor(pii = "...")]` and
/// `#[capacitor(redact)]` field, and the other fields as a derived Debug would.
///
/// Works on any struct with named fields. On a prost message, add `#[prost(skip_debug)]` so that prost does not
/// derive its own Debug. A prost oneof field prints with its enum's own Debug (or `<redacted>` when marked).
///
/// It reads the same `#[capacitor(...)]` attributes as [`Entity`](macro@Entity) (it uses `pii` and `redact`),
/// so an unknown or malformed attribute is an error here too.
///
/// ```
/// #[derive(capacitor::RedactedDebug)]
/// pub struct Login {
///     pub user: String,
///     #[capacitor(redact)]
///     pub password: String,
///     #[capacitor(pii = "ip_address")]
///     pub from: String,
/// }
///
/// let login = Login { user: "u1".into(), password: "hunter2".into(), from: "192.0.2.1".into() };
/// let printed = format!("{login:?}");
/// assert!(printed == r#"Login { user: "u1", password: <redacted>, from: <redacted> }"#);
/// ```
#[proc_macro_derive(RedactedDebug, attributes(capacitor))]
pub fn derive_redacted_debug(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    redacted_debug::derive(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Implements `capacitor::Validate` for any struct with named fields, from `buf.validate` rules written as
/// `#[capacitor(validate(...))]` field attributes: the same rules, rule ids, violation paths and generated checks
/// as a proto message declaring them with `(buf.validate.field)`.
///
/// ```
/// use capacitor::Validate;
///
/// #[derive(capacitor::Validate)]
/// pub struct Signup {
///     #[capacitor(validate(email, max_len = 254))]
///     pub email: String,
///     #[capacitor(validate(gt = 0, lte = 150))]
///     pub age: i32,
///     #[capacitor(validate(unique, max_items = 5, items(min_len = 1)))]
///     pub tags: Vec<String>,
/// }
///
/// let ok = Signup { email: "ada@example.com".into(), age: 36, tags: vec!["math".into()] };
/// assert!(ok.validate().is_ok());
/// let bad = Signup { email: "ada".into(), age: 0, tags: vec![String::new()] };
/// let violations = bad.validate().unwrap_err();
/// let ids: Vec<&str> = violations.iter().map(|v| &*v.rule_id).collect();
/// assert_eq!(ids, ["string.email", "int32.gt_lte", "string.min_len"]);
/// ```
///
/// # Rule families
///
/// A key names a rule of the field's family, which the field's type decides: `String` → `string`,
/// `Vec<u8>`/`Bytes` → `bytes`, `i32` → `int32`, `i64` → `int64`, `u32` → `uint32`, `u64` → `uint64`,
/// `f32` → `float`, `f64` → `double`, `bool` → `bool`, an enum → `enum`, `Timestamp` → `timestamp`,
/// `Duration` → `duration`. On a prost message the field's `#[prost(...)]` type wins (`sint32`, `fixed64`, a
/// wrapper type, `enumeration = "Status"`); elsewhere, `validate(enumeration = "Status", defined_only)` says
/// that an `i32` holds a prost enum (`defined_only` asks the enum's `TryFrom<i32>`, which prost derives). A
/// `prost_types::FieldMask` → `field_mask` (`in = ["name", "address"]`, `const = ["name"]`).
/// `Option<T>` has explicit presence (rules apply when it is `Some`).
///
/// | written | rule |
/// |---|---|
/// | `email`, `uuid`, `hostname`, `ip`, … (a flag) | `string.email = true`, … |
/// | `min_len = 3`, `gt = -5`, `pattern = "^[a-z]+$"`, `prefix = b"\x01"` | the family's rule with that value |
/// | `in = [1, 2]`, `not_in = ["a"]` | list rules |
/// | `well_known_regex = "http_header_name"`, `strict = false` | `string.well_known_regex` |
/// | `within = "1h"`, `lt = "30s"` (durations), `gt = "2024-01-01T00:00:00Z"` (timestamps) | time rules |
/// | `min_items`, `max_items`, `unique`, `items(...)` on a `Vec<T>` | `repeated.*`; `items` takes `T`'s rules |
/// | `min_pairs`, `max_pairs`, `keys(...)`, `values(...)` on a `HashMap`/`BTreeMap` | `map.*` |
/// | `cel(id = "...", message = "...", expression = "...")`, repeatable | `cel`, compiled to Rust by capgen's CEL compiler (`docs/validation.md`); an expression that does not compile is a compile error at the attribute |
/// | `required` | `required` |
/// | `ignore = "if_zero_value"` / `ignore = "always"` | `ignore` |
///
/// On the struct, `#[capacitor(validate(oneof(fields = ["email", "phone"], required)))]` is the message rule
/// `(buf.validate.message).oneof`: at most one of the fields is set (exactly one with `required`); repeatable.
///
/// A field of any other type is a nested message: its own `Validate` impl runs, and its violations carry this
/// field in their path. `ignore = "always"` leaves a field out entirely (do that for a type that does not
/// implement `Validate`).
///
/// Field numbers in violation paths come from `#[prost(tag = "N")]`; without one a field gets the previous
/// field's number + 1, as prost numbers fields (so 1-based declaration order when no field has a tag).
///
/// Storage keys (`primary_key`, `index`, `column`, ...) are [`Entity`](macro@Entity)'s: this derive skips them, so
/// both derive on one struct (see "With `Validate` and `repository`" there).
///
/// A key that does not fit the field's type, a malformed value and every check the proto path runs (a
/// `min_len` above `max_len`, a pattern that is not a valid regex, ...) are compile errors at the attribute.
#[proc_macro_derive(Validate, attributes(capacitor))]
pub fn derive_validate(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    validate::derive(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Embeds a folder of sqlx migrations through the runtime crate; called by `capacitor::migrations!`, which
/// passes its own path (`$crate`) first. Use that macro, not this one.
#[doc(hidden)]
#[proc_macro]
pub fn embed_migrations(input: TokenStream) -> TokenStream {
    migrations::expand(input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
