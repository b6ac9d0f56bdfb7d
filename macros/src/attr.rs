//! The `#[capacitor(...)]` attributes, parsed once into a model that every derive reads.
//!
//! One parser serves `Entity`, `RedactedDebug` and `Validate`: each derive takes the options it needs,
//! and a key no derive knows is an error in all of them, so a typo never passes silently. Keys are dispatched
//! from one table per place an attribute can be written ([`CONTAINER_KEYS`], [`FIELD_KEYS`], [`CACHE_KEYS`],
//! [`OUTBOX_KEYS`], [`INDEX_KEYS`]); each entry carries an example that error messages quote.
//!
//! Values are checked here only for their shape and for being one of a closed set (`pii = "emial"` lists the
//! valid names); rules that relate options to each other or to the field's type live in
//! `capacitor_codegen::check`, which the proto front end shares.

use crate::ctxt::{Ctxt, SpanRange};
use capacitor_codegen::emit::rust::RuntimePath;
use capacitor_codegen::ir::{Backend, Consistency, Pii};
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, ExprLit, Lit, LitStr, Meta, Token};

/// A value with the span it was written at.
#[derive(Debug, Clone)]
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    pub(crate) span: SpanRange,
}

/// An option that may be written once.
#[derive(Debug, Clone)]
pub(crate) struct Attr<T>(Option<Spanned<T>>);

impl<T> Default for Attr<T> {
    fn default() -> Self {
        Attr(None)
    }
}

impl<T> Attr<T> {
    /// Records the value; a second one is reported at its own span.
    fn set(&mut self, cx: &mut Ctxt, meta: &Meta, value: T) {
        let span = SpanRange::of(meta);
        if self.0.is_some() {
            let key = key_name(meta);
            cx.error_at(
                span,
                format!("duplicate capacitor attribute `{key}`: write it once"),
            );
        } else {
            self.0 = Some(Spanned { value, span });
        }
    }

    pub(crate) fn get(&self) -> Option<&Spanned<T>> {
        self.0.as_ref()
    }

    pub(crate) fn into_inner(self) -> Option<Spanned<T>> {
        self.0
    }
}

/// A flag (`unique`): present or not, with the span it was written at.
pub(crate) type Flag = Attr<()>;

impl Flag {
    pub(crate) fn is_set(&self) -> bool {
        self.0.is_some()
    }
}

/// `#[capacitor(...)]` on the struct.
#[derive(Default)]
pub(crate) struct ContainerAttrs {
    pub(crate) table: Attr<String>,
    pub(crate) backend: Attr<Backend>,
    pub(crate) cache: Attr<CacheAttrs>,
    pub(crate) consistency: Attr<Consistency>,
    pub(crate) package: Attr<String>,
    pub(crate) runtime: Attr<RuntimePath>,
    /// `index(...)`, once per composite index.
    pub(crate) indexes: Vec<Spanned<IndexAttrs>>,
    /// Every `validate(...)` (message rules such as `oneof(...)`), its items unparsed (see [`FieldAttrs`]).
    pub(crate) validate: Vec<syn::MetaList>,
    /// `repository`: `#[derive(Entity)]` also implements `Record` and emits `<Name>Repo`.
    pub(crate) repository: Flag,
    /// `outbox(...)`: the transactional outbox.
    pub(crate) outbox: Attr<OutboxAttrs>,
    /// `event_sourced(...)`: the entity is stored as its events.
    pub(crate) event_sourced: Attr<EventSourcedAttrs>,
    /// `subject = "user_id"`: the field naming the data subject, for crypto-shredding.
    pub(crate) subject: Attr<String>,
}

/// `event_sourced(...)` on the struct.
#[derive(Debug, Default)]
pub(crate) struct EventSourcedAttrs {
    /// The events type, a Rust path (`OrderEvent`).
    pub(crate) events: Attr<String>,
    pub(crate) snapshot_every: Attr<u64>,
}

/// `outbox(...)` on the struct.
#[derive(Debug, Default)]
pub(crate) struct OutboxAttrs {
    pub(crate) topic: Attr<String>,
}

/// `cache(...)` on the struct.
#[derive(Debug, Default)]
pub(crate) struct CacheAttrs {
    pub(crate) ttl: Attr<String>,
    pub(crate) max_entries: Attr<u64>,
    pub(crate) max_bytes: Attr<u64>,
    pub(crate) disabled: Flag,
}

/// `claim_check(...)` on a field.
#[derive(Debug, Default)]
pub(crate) struct ClaimCheckAttrs {
    pub(crate) threshold: Attr<String>,
}

/// `index(...)` on the struct: a composite index or key.
#[derive(Debug, Default)]
pub(crate) struct IndexAttrs {
    pub(crate) name: Attr<String>,
    pub(crate) fields: Attr<Vec<String>>,
    pub(crate) unique: Flag,
    pub(crate) primary: Flag,
}

/// `#[capacitor(...)]` on a field.
#[derive(Default)]
pub(crate) struct FieldAttrs {
    pub(crate) primary_key: Flag,
    pub(crate) index: Flag,
    pub(crate) unique: Flag,
    pub(crate) pii: Attr<Pii>,
    pub(crate) encrypt: Flag,
    pub(crate) blind_index_bits: Attr<u64>,
    pub(crate) claim_check: Attr<ClaimCheckAttrs>,
    pub(crate) column: Attr<String>,
    pub(crate) ignore: Flag,
    pub(crate) redact: Flag,
    /// Every `validate(...)`, in order, its items unparsed: rule names include keywords (`in`, `const`) that
    /// `syn::Meta` refuses, so `crate::validate` parses them.
    pub(crate) validate: Vec<syn::MetaList>,
}

/// One key of the attribute language: its name, an example of its use, and what it does to the model.
struct Key<M> {
    name: &'static str,
    example: &'static str,
    apply: fn(&mut Ctxt, &mut M, &Meta, &'static str),
}

const CONTAINER_KEYS: &[Key<ContainerAttrs>] = &[
    Key {
        name: "table",
        example: "table = \"users\"",
        apply: |cx, m, meta, ex| set_string(cx, &mut m.table, meta, ex),
    },
    Key {
        name: "backend",
        example: "backend = \"postgres\"",
        apply: |cx, m, meta, ex| {
            if let Some(lit) = string(cx, meta, ex) {
                let names = Backend::ALL.iter().map(|b| b.short_name());
                if let Some(b) = choice(cx, &lit, "backend", Backend::from_short_name, names) {
                    m.backend.set(cx, meta, b);
                }
            }
        },
    },
    Key {
        name: "cache",
        example: "cache(ttl = \"60s\", max_entries = 10000, max_bytes = 1048576, disabled)",
        apply: |cx, m, meta, ex| {
            if let Some(items) = list(cx, meta, ex) {
                let cache = apply_keys(cx, items, CACHE_KEYS, "inside `cache(...)`");
                m.cache.set(cx, meta, cache);
            }
        },
    },
    Key {
        name: "event_sourced",
        example: "event_sourced(events = \"OrderEvent\", snapshot_every = 100)",
        apply: |cx, m, meta, ex| {
            if let Some(items) = list(cx, meta, ex) {
                let es = apply_keys(cx, items, EVENT_SOURCED_KEYS, "inside `event_sourced(...)`");
                m.event_sourced.set(cx, meta, es);
            }
        },
    },
    Key {
        name: "subject",
        example: "subject = \"user_id\"",
        apply: |cx, m, meta, ex| set_string(cx, &mut m.subject, meta, ex),
    },
    Key {
        name: "outbox",
        example: "outbox(topic = \"users\")",
        apply: |cx, m, meta, ex| {
            if let Some(items) = list(cx, meta, ex) {
                let outbox = apply_keys(cx, items, OUTBOX_KEYS, "inside `outbox(...)`");
                m.outbox.set(cx, meta, outbox);
            }
        },
    },
    Key {
        name: "consistency",
        example: "consistency = \"strong\"",
        apply: |cx, m, meta, ex| {
            if let Some(lit) = string(cx, meta, ex) {
                let names = Consistency::ALL.iter().map(|c| c.short_name());
                if let Some(c) =
                    choice(cx, &lit, "consistency", Consistency::from_short_name, names)
                {
                    m.consistency.set(cx, meta, c);
                }
            }
        },
    },
    Key {
        name: "repository",
        example: "repository",
        apply: |cx, m, meta, ex| set_flag(cx, &mut m.repository, meta, ex),
    },
    Key {
        name: "package",
        example: "package = \"app.v1\"",
        apply: |cx, m, meta, ex| set_string(cx, &mut m.package, meta, ex),
    },
    Key {
        name: "crate",
        example: "crate = \"my_app::capacitor\"",
        apply: |cx, m, meta, ex| {
            if let Some(lit) = string(cx, meta, ex) {
                match RuntimePath::parse(&lit.value()) {
                    Ok(path) => m.runtime.set(cx, meta, path),
                    Err(reason) => cx.error(&lit, reason),
                }
            }
        },
    },
    Key {
        name: "index",
        example: "index(name = \"users_by_org\", fields(\"org_id\", \"created_at\"), unique)",
        apply: |cx, m, meta, ex| {
            if let Some(items) = list(cx, meta, ex) {
                let index = apply_keys(cx, items, INDEX_KEYS, "inside `index(...)`");
                m.indexes.push(Spanned {
                    value: index,
                    span: SpanRange::of(meta),
                });
            }
        },
    },
    Key {
        name: "validate",
        example: "validate(oneof(fields = [\"email\", \"phone\"], required))",
        apply: |cx, m, meta, ex| match meta {
            Meta::List(list) => m.validate.push(list.clone()),
            _ => wrong_shape(cx, meta, "a list of message rules", ex),
        },
    },
];

const CLAIM_CHECK_KEYS: &[Key<ClaimCheckAttrs>] = &[Key {
    name: "threshold",
    example: "threshold = \"256KiB\"",
    apply: |cx, m, meta, ex| set_string(cx, &mut m.threshold, meta, ex),
}];

const CACHE_KEYS: &[Key<CacheAttrs>] = &[
    Key {
        name: "ttl",
        example: "ttl = \"60s\"",
        apply: |cx, m, meta, ex| set_string(cx, &mut m.ttl, meta, ex),
    },
    Key {
        name: "max_entries",
        example: "max_entries = 10000",
        apply: |cx, m, meta, ex| set_int(cx, &mut m.max_entries, meta, ex),
    },
    Key {
        name: "max_bytes",
        example: "max_bytes = 1048576",
        apply: |cx, m, meta, ex| set_int(cx, &mut m.max_bytes, meta, ex),
    },
    Key {
        name: "disabled",
        example: "disabled",
        apply: |cx, m, meta, ex| set_flag(cx, &mut m.disabled, meta, ex),
    },
];

const EVENT_SOURCED_KEYS: &[Key<EventSourcedAttrs>] = &[
    Key {
        name: "events",
        example: "events = \"OrderEvent\"",
        apply: |cx, m, meta, ex| set_string(cx, &mut m.events, meta, ex),
    },
    Key {
        name: "snapshot_every",
        example: "snapshot_every = 100",
        apply: |cx, m, meta, ex| set_int(cx, &mut m.snapshot_every, meta, ex),
    },
];

const OUTBOX_KEYS: &[Key<OutboxAttrs>] = &[Key {
    name: "topic",
    example: "topic = \"users\"",
    apply: |cx, m, meta, ex| set_string(cx, &mut m.topic, meta, ex),
}];

const INDEX_KEYS: &[Key<IndexAttrs>] = &[
    Key {
        name: "name",
        example: "name = \"users_by_org\"",
        apply: |cx, m, meta, ex| set_string(cx, &mut m.name, meta, ex),
    },
    Key {
        name: "fields",
        example: "fields(\"org_id\", \"created_at\")",
        apply: |cx, m, meta, ex| {
            let Meta::List(list) = meta else {
                return wrong_shape(cx, meta, "a list of field names", ex);
            };
            match list.parse_args_with(Punctuated::<LitStr, Token![,]>::parse_terminated) {
                Ok(names) => m
                    .fields
                    .set(cx, meta, names.iter().map(LitStr::value).collect()),
                Err(e) => cx.syn_error(e),
            }
        },
    },
    Key {
        name: "unique",
        example: "unique",
        apply: |cx, m, meta, ex| set_flag(cx, &mut m.unique, meta, ex),
    },
    Key {
        name: "primary",
        example: "primary",
        apply: |cx, m, meta, ex| set_flag(cx, &mut m.primary, meta, ex),
    },
];

const FIELD_KEYS: &[Key<FieldAttrs>] = &[
    Key {
        name: "primary_key",
        example: "primary_key",
        apply: |cx, m, meta, ex| set_flag(cx, &mut m.primary_key, meta, ex),
    },
    Key {
        name: "pii",
        example: "pii = \"email\"",
        apply: |cx, m, meta, ex| {
            if let Some(lit) = string(cx, meta, ex) {
                let names = Pii::ALL.iter().map(|p| p.short_name());
                if let Some(p) = choice(cx, &lit, "pii kind", Pii::from_short_name, names) {
                    m.pii.set(cx, meta, p);
                }
            }
        },
    },
    Key {
        name: "index",
        example: "index",
        apply: |cx, m, meta, ex| set_flag(cx, &mut m.index, meta, ex),
    },
    Key {
        name: "unique",
        example: "unique",
        apply: |cx, m, meta, ex| set_flag(cx, &mut m.unique, meta, ex),
    },
    Key {
        name: "encrypt",
        example: "encrypt",
        apply: |cx, m, meta, ex| set_flag(cx, &mut m.encrypt, meta, ex),
    },
    Key {
        name: "blind_index_bits",
        example: "blind_index_bits = 24",
        apply: |cx, m, meta, ex| set_int(cx, &mut m.blind_index_bits, meta, ex),
    },
    Key {
        name: "claim_check",
        example: "claim_check(threshold = \"256KiB\")",
        apply: |cx, m, meta, ex| {
            if let Some(items) = list(cx, meta, ex) {
                let claim = apply_keys(cx, items, CLAIM_CHECK_KEYS, "inside `claim_check(...)`");
                m.claim_check.set(cx, meta, claim);
            }
        },
    },
    Key {
        name: "column",
        example: "column = \"email_address\"",
        apply: |cx, m, meta, ex| set_string(cx, &mut m.column, meta, ex),
    },
    Key {
        name: "ignore",
        example: "ignore",
        apply: |cx, m, meta, ex| set_flag(cx, &mut m.ignore, meta, ex),
    },
    Key {
        name: "redact",
        example: "redact",
        apply: |cx, m, meta, ex| set_flag(cx, &mut m.redact, meta, ex),
    },
    Key {
        name: "validate",
        example: "validate(min_len = 1, max_len = 254, email)",
        apply: |cx, m, meta, ex| match meta {
            Meta::List(list) => m.validate.push(list.clone()),
            _ => wrong_shape(cx, meta, "a list of rules", ex),
        },
    },
];

impl ContainerAttrs {
    /// Reads every `#[capacitor(...)]` on the struct.
    pub(crate) fn from_attrs(cx: &mut Ctxt, attrs: &[Attribute]) -> ContainerAttrs {
        parse_attrs(
            cx,
            attrs,
            CONTAINER_KEYS,
            FIELD_KEYS,
            "on a struct",
            "a field",
        )
    }
}

impl FieldAttrs {
    /// Reads every `#[capacitor(...)]` on a field.
    pub(crate) fn from_attrs(cx: &mut Ctxt, attrs: &[Attribute]) -> FieldAttrs {
        parse_attrs(
            cx,
            attrs,
            FIELD_KEYS,
            CONTAINER_KEYS,
            "on a field",
            "the struct",
        )
    }
}

fn parse_attrs<M: Default, O>(
    cx: &mut Ctxt,
    attrs: &[Attribute],
    keys: &[Key<M>],
    other_place_keys: &[Key<O>],
    place: &str,
    other_place: &str,
) -> M {
    let mut model = M::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("capacitor")) {
        let items = match attr.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) {
            Ok(items) => items,
            Err(e) => {
                cx.syn_error(e);
                continue;
            }
        };
        for meta in items {
            let name = key_name(&meta);
            match keys.iter().find(|k| k.name == name) {
                Some(key) => (key.apply)(cx, &mut model, &meta, key.example),
                None if other_place_keys.iter().any(|k| k.name == name) => cx.error(
                    meta.path(),
                    format!("`{name}` is not valid {place}: it belongs in `#[capacitor(...)]` on {other_place}"),
                ),
                None => unknown_key(cx, &meta, keys, place),
            }
        }
    }
    model
}

/// Applies the keys of a nested list (`cache(...)`, `index(...)`).
fn apply_keys<M: Default>(
    cx: &mut Ctxt,
    items: Punctuated<Meta, Token![,]>,
    keys: &[Key<M>],
    place: &str,
) -> M {
    let mut model = M::default();
    for meta in items {
        let name = key_name(&meta);
        match keys.iter().find(|k| k.name == name) {
            Some(key) => (key.apply)(cx, &mut model, &meta, key.example),
            None => unknown_key(cx, &meta, keys, place),
        }
    }
    model
}

fn unknown_key<M>(cx: &mut Ctxt, meta: &Meta, keys: &[Key<M>], place: &str) {
    let valid: Vec<&str> = keys.iter().map(|k| k.name).collect();
    cx.error(
        meta.path(),
        format!(
            "unknown capacitor attribute `{}` {place}; expected one of: {}",
            key_name(meta),
            valid.join(", ")
        ),
    );
}

fn key_name(meta: &Meta) -> String {
    let path = meta.path();
    match path.get_ident() {
        Some(ident) => ident.to_string(),
        None => quote::quote!(#path).to_string().replace(' ', ""),
    }
}

fn wrong_shape(cx: &mut Ctxt, meta: &Meta, expected: &str, example: &str) {
    let key = key_name(meta);
    cx.error(meta, format!("`{key}` takes {expected}: write `{example}`"));
}

fn set_flag(cx: &mut Ctxt, attr: &mut Flag, meta: &Meta, example: &str) {
    match meta {
        Meta::Path(_) => attr.set(cx, meta, ()),
        _ => wrong_shape(cx, meta, "no value", example),
    }
}

/// The literal an attribute's value is, seen through the invisible group a `macro_rules!` fragment
/// (`$table:literal`, `$n:expr`) wraps it in.
fn literal(value: &Expr) -> Option<&Lit> {
    match value {
        Expr::Lit(ExprLit { lit, .. }) => Some(lit),
        Expr::Group(group) => literal(&group.expr),
        _ => None,
    }
}

fn string(cx: &mut Ctxt, meta: &Meta, example: &str) -> Option<LitStr> {
    if let Meta::NameValue(nv) = meta
        && let Some(Lit::Str(lit)) = literal(&nv.value)
    {
        return Some(lit.clone());
    }
    wrong_shape(cx, meta, "a string", example);
    None
}

fn set_string(cx: &mut Ctxt, attr: &mut Attr<String>, meta: &Meta, example: &str) {
    if let Some(lit) = string(cx, meta, example) {
        attr.set(cx, meta, lit.value());
    }
}

fn set_int(cx: &mut Ctxt, attr: &mut Attr<u64>, meta: &Meta, example: &str) {
    if let Meta::NameValue(nv) = meta
        && let Some(Lit::Int(lit)) = literal(&nv.value)
    {
        match lit.base10_parse::<u64>() {
            Ok(n) => attr.set(cx, meta, n),
            Err(e) => cx.syn_error(e),
        }
    } else {
        wrong_shape(cx, meta, "a whole number", example);
    }
}

fn list(cx: &mut Ctxt, meta: &Meta, example: &str) -> Option<Punctuated<Meta, Token![,]>> {
    let Meta::List(list) = meta else {
        wrong_shape(cx, meta, "a list", example);
        return None;
    };
    list.parse_args_with(Punctuated::parse_terminated)
        .map_err(|e| cx.syn_error(e))
        .ok()
}

/// One of a closed set of names; an unknown one is reported with the valid names.
fn choice<T>(
    cx: &mut Ctxt,
    lit: &LitStr,
    what: &str,
    parse: fn(&str) -> Option<T>,
    names: impl Iterator<Item = &'static str>,
) -> Option<T> {
    let value = lit.value();
    let parsed = parse(&value);
    if parsed.is_none() {
        let names: Vec<&str> = names.collect();
        cx.error(
            lit,
            format!(
                "unknown {what} `{value}`; expected one of: {}",
                names.join(", ")
            ),
        );
    }
    parsed
}
