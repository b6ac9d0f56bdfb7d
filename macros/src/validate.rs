//! `#[derive(Validate)]`: `#[capacitor(validate(...))]` field attributes read into the same IR rules the proto
//! front end reads from `(buf.validate.field)`, then the shared checks and the shared validator emitter.
//!
//! A key names a rule of the field's *rule family*, which the field's type decides (`String` → `string`,
//! `i64` → `int64`, an enum → `enum`, `Vec<T>` → `repeated`, a map → `map`), so `min_len = 3` on a `String` is
//! the rule `string.min_len`. `items(...)`, `keys(...)` and `values(...)` open the family of a repeated field's
//! items and a map's keys and values. `required` and `ignore` fit every field. Names, numbers and value types
//! come from the rules catalog (`capacitor_codegen::rules`), the one description of `buf/validate/validate.proto`
//! that the emitter also reads.

use crate::ctxt::{Ctxt, SpanRange};
use crate::model::{self, Derive};
use crate::prost_attr::{ProstField, ProstKind};
use crate::rust_type::{self, Unsupported};
use capacitor_codegen::check;
use capacitor_codegen::emit::validate::{ValidateContext, validate_impl};
use capacitor_codegen::ir::{FieldType, Label, Rule, RuleValue, Scalar, WellKnown};
use capacitor_codegen::ir::{Message, Schema};
use capacitor_codegen::rules::{self, RuleField, RuleType};
use capacitor_schema::civil::days_from_civil;
use proc_macro2::TokenStream;
use quote::ToTokens;
use std::collections::{BTreeMap, BTreeSet};
use syn::DeriveInput;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, ExprUnary, Ident, Lit, Token, UnOp, token};

/// The `ignore` values a derive user writes, with their `buf.validate.Ignore` numbers.
const IGNORE: &[(&str, i32)] = &[("if_zero_value", 1), ("always", 3)];

/// The `well_known_regex` values, with their `buf.validate.KnownRegex` numbers.
const KNOWN_REGEX: &[(&str, i32)] = &[("http_header_name", 1), ("http_header_value", 2)];

/// Where in the rules a list of keys is read: the field itself, a repeated field's items, a map's keys or values.
struct Scope<'a> {
    /// The rule path prefix (`""`, `"repeated.items."`, `"map.keys."`).
    prefix: String,
    /// The value type and label the keys apply to.
    ty: &'a FieldType,
    label: Label,
    /// How the scope is written, for errors (`validate(...)`, `items(...)`).
    written: &'static str,
}

/// `#[derive(Validate)]`: parse → model (the IR, rules included) → the shared checks → the shared emitter.
pub(crate) fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let mut cx = Ctxt::default();
    let model = model::read(&mut cx, input, Derive::Validate)?;
    cx.check()?;
    // The emitter recurses into a message-typed field when the schema holds the message. A derive sees one
    // struct, so each nested type it names stands in the schema as an empty message: its own `Validate` impl
    // (derived, or generated from a proto) does the rest, and a type without one is a compile error there.
    let nested: BTreeSet<String> = model
        .message
        .fields
        .iter()
        .filter_map(|f| match &f.ty {
            // A FieldMask takes `field_mask` rules and has no `Validate` impl to recurse into.
            FieldType::Message(m) if !rules::is_field_mask(m) => Some(m.clone()),
            _ => None,
        })
        .collect();
    let stubs: Vec<Message> = nested
        .into_iter()
        .map(|name| Message {
            full_name: name.clone(),
            rust_name: name.clone(),
            rust_path: name,
            fields: Vec::new(),
            oneofs: Vec::new(),
            rules: Vec::new(),
            entity: None,
            ..model.message.clone()
        })
        .collect();
    let mut messages = vec![model.message];
    messages.extend(stubs);
    let schema = Schema::new(messages);
    let mut rule_report = check::validate::RuleReport::default();
    check::validate::check_message(&schema.messages[0], false, &mut rule_report);
    for diagnostic in check::check(&schema).iter().chain(&rule_report.errors) {
        cx.diagnostic(diagnostic, model.ident_span);
    }
    cx.check()?;
    let no_enums = BTreeMap::new();
    let none = BTreeSet::new();
    let context = ValidateContext {
        runtime: &model.runtime,
        schema: &schema,
        enum_values: &no_enums,
        implicit_presence: &none,
        groups: &none,
    };
    Ok(validate_impl(&schema.messages[0], context))
}

/// A field of a `Validate` struct, read: its number, proto type, label and rules.
pub(crate) struct ReadField {
    pub(crate) number: u32,
    pub(crate) ty: FieldType,
    pub(crate) label: Label,
    pub(crate) rules: Vec<Rule>,
}

/// Reads one field for `#[derive(Validate)]`; `None` for a field that takes no part in validation (a prost
/// oneof, a Rust type with no proto counterpart and no rules) or that could not be read (errors are in `cx`).
///
/// The proto type comes from `#[prost(...)]` when present, else from the Rust type (see
/// [`crate::rust_type::ir_type`]); the field number from the prost tag, else the previous field's number + 1,
/// as prost infers it (so 1-based declaration order when no field has a tag).
pub(crate) fn read_field(
    cx: &mut Ctxt,
    field: &syn::Field,
    prost: Option<&ProstField>,
    lists: &[syn::MetaList],
    next_number: &mut u32,
) -> Option<ReadField> {
    let mut items = parse_lists(cx, lists);
    let enumeration = enumeration(cx, &mut items);
    let (ty, label, tag) = match prost {
        Some(p) if matches!(p.kind, ProstKind::Oneof(_)) => {
            if let Some(first) = items.first() {
                cx.error(
                    first,
                    "rules on a oneof are not supported by the derive: validate the oneof's members in the \
                     proto schema (`(buf.validate.field)` on each member), or in a hand-written `Validate`",
                );
            }
            return None;
        }
        Some(p) => {
            let (ty, label) = p.ir_type(&field.ty);
            (plain_wrapper(ty, &field.ty), label, p.number)
        }
        None => match rust_type::ir_type(&field.ty) {
            Ok((ty, label)) => (ty, label, None),
            Err(Unsupported(reason)) => {
                if !items.is_empty() || enumeration.is_some() {
                    cx.error(&field.ty, reason);
                }
                return None;
            }
        },
    };
    let ty = match (enumeration, ty) {
        (None, ty) => ty,
        (Some((path, _)), FieldType::Scalar(Scalar::Int32)) => FieldType::Enum(path),
        (Some((_, span)), ty) => {
            cx.error_at(span, "`enumeration` fits an i32 field (or a Vec, Option or map value of i32): prost holds enums as i32");
            ty
        }
    };
    let number = tag.unwrap_or(*next_number);
    *next_number = number + 1;
    let rules = field_rules(cx, &ty, &label, &items);
    Some(ReadField {
        number,
        ty,
        label,
        rules,
    })
}

/// Reads the struct's `validate(...)` into message rules: `oneof(fields = ["a", "b"], required)`, repeatable,
/// is `(buf.validate.message).oneof` — at most one (with `required`, exactly one) of the fields is set;
/// `cel(id = ..., message = ..., expression = ...)` is `(buf.validate.message).cel`.
pub(crate) fn message_rules(cx: &mut Ctxt, lists: &[syn::MetaList]) -> Vec<Rule> {
    let mut oneofs = Vec::new();
    let mut first_span = None;
    let mut cel = Vec::new();
    let mut cel_span = None;
    for item in parse_lists(cx, lists) {
        match (key_name(&item).as_str(), &item) {
            ("oneof", Item::List { items, .. }) => {
                if let Some(oneof) = message_oneof(cx, &item, items) {
                    first_span.get_or_insert(SpanRange::of(&item));
                    oneofs.push(oneof);
                }
            }
            ("cel", _) => {
                if let Some(rule) = cel_rule(cx, &item) {
                    cel.push(rule);
                    cel_span.get_or_insert(SpanRange::of(&item));
                }
            }
            (key, _) => cx.error(
                item.key(),
                format!(
                    "`{key}` is not a message rule; expected `oneof(fields = [\"a\", \"b\"], required)` or \
                     `cel(...)` (field rules go in `#[capacitor(validate(...))]` on the field)"
                ),
            ),
        }
    }
    // In `MessageRules` field order: `cel` (3) before `oneof` (4).
    let mut rules = Vec::new();
    if let Some(span) = cel_span {
        rules.push(Rule {
            path: "cel".to_string(),
            value: RuleValue::List(cel),
            origin: cx.origin(span),
        });
    }
    if let Some(span) = first_span {
        rules.push(Rule {
            path: "oneof".to_string(),
            value: RuleValue::List(oneofs),
            origin: cx.origin(span),
        });
    }
    rules
}

/// One `oneof(fields = [...], required)` as the proto front end reads a `MessageOneofRule`.
fn message_oneof(cx: &mut Ctxt, whole: &Item, items: &[Item]) -> Option<RuleValue> {
    let mut fields = None;
    let mut required = false;
    for item in items {
        match (key_name(item).as_str(), item) {
            (
                "fields",
                Item::NameValue {
                    value: Expr::Array(array),
                    ..
                },
            ) => {
                let names: Option<Vec<RuleValue>> = array
                    .elems
                    .iter()
                    .map(|e| match lit(e) {
                        Some(Lit::Str(s)) => Some(RuleValue::String(s.value())),
                        _ => None,
                    })
                    .collect();
                match names {
                    Some(names) => fields = Some(names),
                    None => cx.error(
                        item,
                        "`fields` lists field names: write `fields = [\"email\", \"phone\"]`",
                    ),
                }
            }
            ("required", Item::Path(_)) => required = true,
            ("required", Item::NameValue { value, .. }) => match lit(value) {
                Some(Lit::Bool(b)) => required = b.value,
                _ => cx.error(value, "`required` takes true or false: write `required`"),
            },
            _ => cx.error(
                item,
                "a message oneof takes `fields = [\"a\", \"b\"]` and optionally `required`",
            ),
        }
    }
    let Some(fields) = fields else {
        cx.error(
            whole,
            "`oneof` needs the fields it spans: write `oneof(fields = [\"email\", \"phone\"])`",
        );
        return None;
    };
    let mut entries = vec![("fields".to_string(), RuleValue::List(fields))];
    if required {
        entries.push(("required".to_string(), RuleValue::Bool(true)));
    }
    Some(RuleValue::Message(entries))
}

/// prost's default mapping holds a wrapper message (`google.protobuf.StringValue`) as the plain Rust value
/// (`Option<String>`), which has no `.value` to read: validate it as the scalar it wraps. (The path element of a
/// violation then says the scalar's type where the proto path says `message`.)
fn plain_wrapper(ty: FieldType, rust_ty: &syn::Type) -> FieldType {
    let FieldType::WellKnown(w) = ty else {
        return ty;
    };
    if matches!(w, WellKnown::Timestamp | WellKnown::Duration) {
        return ty;
    }
    match rust_type::ir_type(rust_ty) {
        Ok((FieldType::Scalar(s), _)) => FieldType::Scalar(s),
        _ => FieldType::WellKnown(w),
    }
}

/// Pulls `enumeration = "Path"` out of a field's `validate(...)` items: it is not a rule but says that an
/// `i32` field holds a prost enum, which makes its rule family `enum`.
fn enumeration(cx: &mut Ctxt, items: &mut Vec<Item>) -> Option<(String, SpanRange)> {
    let position = items.iter().position(|m| m.key() == "enumeration")?;
    let meta = items.remove(position);
    let span = SpanRange::of(&meta);
    match string_lit(&meta).and_then(|s| syn::parse_str::<syn::Path>(&s).ok()) {
        Some(path) => Some((quote::quote!(#path).to_string().replace(' ', ""), span)),
        None => {
            cx.error(&meta, "`enumeration` names the prost enum an i32 field holds: write `enumeration = \"Status\"`");
            None
        }
    }
}

/// Reads one field's `validate(...)` items into IR rules, in the order the proto front end lists them (by rule
/// field numbers), recording every problem in `cx`.
fn field_rules(cx: &mut Ctxt, ty: &FieldType, label: &Label, items: &[Item]) -> Vec<Rule> {
    let scope = Scope {
        prefix: String::new(),
        ty,
        label: *label,
        written: "validate(...)",
    };
    let mut out = Vec::new();
    read_scope(cx, &scope, items, &mut out);
    out.sort_by_cached_key(|rule| {
        rules::resolve_field_rule(&rule.path)
            .map(|fields| fields.iter().map(|f| f.number).collect::<Vec<_>>())
            .unwrap_or_default()
    });
    out
}

fn read_scope(cx: &mut Ctxt, scope: &Scope<'_>, items: &[Item], out: &mut Vec<Rule>) {
    let family = family(scope);
    // `cel(...)` is repeatable: every one is an entry of the one `cel` rule, as in `FieldRules.cel`.
    let mut cel = Vec::new();
    let mut cel_span = None;
    for meta in items {
        let key = key_name(meta);
        let nested = match (key.as_str(), &scope.label) {
            ("items", Label::Repeated) => Some((
                "repeated.items.",
                Label::Implicit,
                scope.ty.clone(),
                "items(...)",
            )),
            ("keys", Label::Map { key }) => Some((
                "map.keys.",
                Label::Implicit,
                FieldType::Scalar(*key),
                "keys(...)",
            )),
            ("values", Label::Map { .. }) => Some((
                "map.values.",
                Label::Implicit,
                scope.ty.clone(),
                "values(...)",
            )),
            _ => None,
        };
        if let Some((prefix, label, ty, written)) = nested {
            let Item::List { items: inner, .. } = meta else {
                cx.error(
                    meta,
                    format!("`{key}` takes the rules of each one: write `{key}(min_len = 1)`"),
                );
                continue;
            };
            let scope = Scope {
                prefix: format!("{}{prefix}", scope.prefix),
                ty: &ty,
                label,
                written,
            };
            read_scope(cx, &scope, inner, out);
            continue;
        }
        if key == "cel" {
            if let Some(rule) = cel_rule(cx, meta) {
                cel.push(rule);
                cel_span.get_or_insert(SpanRange::of(meta));
            }
            continue;
        }
        // `required` and `ignore` are FieldRules members; every other key belongs to the family.
        let path = match key.as_str() {
            "required" | "ignore" => format!("{}{key}", scope.prefix),
            _ => match &family {
                Some(family) => format!("{}{family}.{key}", scope.prefix),
                None => {
                    unknown_key(cx, meta, scope, &family);
                    continue;
                }
            },
        };
        let Some(fields) = rules::resolve_field_rule(&path) else {
            unknown_key(cx, meta, scope, &family);
            continue;
        };
        let field = *fields.last().expect("a resolved path has a field");
        if matches!(field.ty, RuleType::Message(_)) {
            unknown_key(cx, meta, scope, &family);
            continue;
        }
        let Some(value) = rule_value(cx, meta, &key, &field) else {
            continue;
        };
        if out.iter().any(|r| r.path == path) {
            cx.error(
                meta,
                format!("duplicate rule `{key}` in {}: write it once", scope.written),
            );
            continue;
        }
        out.push(Rule {
            path,
            value,
            origin: cx.origin(SpanRange::of(meta)),
        });
    }
    if let Some(span) = cel_span {
        out.push(Rule {
            path: format!("{}cel", scope.prefix),
            value: RuleValue::List(cel),
            origin: cx.origin(span),
        });
    }
}

/// `cel(id = "...", message = "...", expression = "...")` as the proto front end reads a `buf.validate.Rule`:
/// its set fields in field-number order. Whether CEL can be checked is for the shared rule checks to say.
fn cel_rule(cx: &mut Ctxt, item: &Item) -> Option<RuleValue> {
    const FIELDS: [&str; 3] = ["id", "message", "expression"];
    let example =
        "cel(id = \"age.adult\", message = \"must be an adult\", expression = \"this >= 18\")";
    let Item::List { items, .. } = item else {
        cx.error(item, format!("`cel` takes a rule: write `{example}`"));
        return None;
    };
    let mut values: [Option<String>; 3] = Default::default();
    for entry in items {
        let key = key_name(entry);
        match (FIELDS.iter().position(|f| *f == key), string_lit(entry)) {
            (Some(i), Some(value)) => values[i] = Some(value),
            _ => cx.error(
                entry,
                format!("`cel` takes `id`, `message` and `expression` strings: write `{example}`"),
            ),
        }
    }
    Some(RuleValue::Message(
        FIELDS
            .iter()
            .zip(values)
            .filter_map(|(name, value)| value.map(|v| (name.to_string(), RuleValue::String(v))))
            .collect(),
    ))
}

/// The rules member for values of the scope's type (`string`, `int64`, `enum`, `repeated`, `map`), or `None`
/// for a message, which takes only `required` and `ignore`.
fn family(scope: &Scope<'_>) -> Option<&'static str> {
    match scope.label {
        Label::Repeated => return Some("repeated"),
        Label::Map { .. } => return Some("map"),
        _ => {}
    }
    Some(match scope.ty {
        FieldType::Scalar(s) => rules::type_rules_name(*s),
        FieldType::Enum(_) => "enum",
        FieldType::WellKnown(WellKnown::Timestamp) => "timestamp",
        FieldType::WellKnown(WellKnown::Duration) => "duration",
        FieldType::WellKnown(w) => rules::type_rules_name(wrapped(*w)),
        FieldType::Message(m) if rules::is_field_mask(m) => "field_mask",
        FieldType::Message(_) => return None,
    })
}

fn wrapped(w: WellKnown) -> Scalar {
    match w {
        WellKnown::DoubleValue => Scalar::Double,
        WellKnown::FloatValue => Scalar::Float,
        WellKnown::Int64Value => Scalar::Int64,
        WellKnown::Uint64Value => Scalar::Uint64,
        WellKnown::Int32Value => Scalar::Int32,
        WellKnown::Uint32Value => Scalar::Uint32,
        WellKnown::BoolValue => Scalar::Bool,
        WellKnown::StringValue => Scalar::String,
        WellKnown::BytesValue | WellKnown::Timestamp | WellKnown::Duration => Scalar::Bytes,
    }
}

/// An unknown key, reported with the keys the scope does accept.
fn unknown_key(cx: &mut Ctxt, meta: &Item, scope: &Scope<'_>, family: &Option<&'static str>) {
    let key = key_name(meta);
    let mut valid: Vec<&str> = family
        .and_then(|f| {
            let message = rules::FIELD_RULES.iter().find(|r| r.name == f)?;
            match message.ty {
                RuleType::Message(m) => rules::rules_message(m),
                _ => None,
            }
        })
        .map(|fields| {
            fields
                .iter()
                .filter(|f| !matches!(f.ty, RuleType::Message(_)))
                .map(|f| f.name)
                .collect()
        })
        .unwrap_or_default();
    match scope.label {
        Label::Repeated => valid.push("items(...)"),
        Label::Map { .. } => valid.extend(["keys(...)", "values(...)"]),
        _ => {}
    }
    valid.extend(["required", "ignore"]);
    let what = match (family, &scope.label) {
        (Some("repeated"), _) => {
            "a repeated field (rules on its items go inside `items(...)`)".to_string()
        }
        (Some("map"), _) => {
            "a map (rules on keys and values go inside `keys(...)` and `values(...)`)".to_string()
        }
        (Some(family), _) => format!("a `{family}` value"),
        (None, _) => "a message field".to_string(),
    };
    cx.error(
        meta.key(),
        format!(
            "`{key}` is not a rule for {what} in {}; expected one of: {}",
            scope.written,
            valid.join(", ")
        ),
    );
}

/// The rule's value, as the rules catalog types it.
fn rule_value(cx: &mut Ctxt, meta: &Item, key: &str, field: &RuleField) -> Option<RuleValue> {
    let example = example(key, field);
    if field.repeated {
        let Item::NameValue { value, .. } = meta else {
            cx.error(meta, format!("`{key}` takes a list: write `{example}`"));
            return None;
        };
        let Expr::Array(array) = value else {
            cx.error(value, format!("`{key}` takes a list: write `{example}`"));
            return None;
        };
        let values: Vec<Option<RuleValue>> = array
            .elems
            .iter()
            .map(|e| scalar_value(cx, e, key, field.ty, &example))
            .collect();
        return values
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .map(RuleValue::List);
    }
    match (field.ty, meta) {
        (RuleType::Bool, Item::Path(_)) => Some(RuleValue::Bool(true)),
        (_, Item::NameValue { value, .. }) => scalar_value(cx, value, key, field.ty, &example),
        _ => {
            cx.error(meta, format!("`{key}` takes a value: write `{example}`"));
            None
        }
    }
}

fn example(key: &str, field: &RuleField) -> String {
    let one = match (key, field.ty) {
        ("ignore", _) => "\"if_zero_value\"".to_string(),
        ("well_known_regex", _) => "\"http_header_name\"".to_string(),
        (_, RuleType::Bool) => return format!("{key}` or `{key} = false"),
        (_, RuleType::String) => "\"abc\"".to_string(),
        (_, RuleType::Bytes) => "b\"abc\"".to_string(),
        (_, RuleType::Float | RuleType::Double) => "1.5".to_string(),
        (_, RuleType::Duration) => "\"30s\"".to_string(),
        (_, RuleType::Timestamp) => "\"2024-01-01T00:00:00Z\"".to_string(),
        (_, RuleType::FieldMask) => "[\"name\", \"address.city\"]".to_string(),
        _ => "10".to_string(),
    };
    if field.repeated {
        format!("{key} = [{one}, ...]")
    } else {
        format!("{key} = {one}")
    }
}

/// One value of rule type `rule_ty` written as the expression `expr`.
fn scalar_value(
    cx: &mut Ctxt,
    expr: &Expr,
    key: &str,
    rule_ty: RuleType,
    example: &str,
) -> Option<RuleValue> {
    let wrong = |cx: &mut Ctxt, what: &str| {
        cx.error(expr, format!("`{key}` takes {what}: write `{example}`"));
        None
    };
    match rule_ty {
        RuleType::Bool => match lit(expr) {
            Some(Lit::Bool(b)) => Some(RuleValue::Bool(b.value)),
            _ => wrong(cx, "true or false"),
        },
        RuleType::String => match lit(expr) {
            Some(Lit::Str(s)) => Some(RuleValue::String(s.value())),
            _ => wrong(cx, "a string"),
        },
        RuleType::Bytes => match lit(expr) {
            Some(Lit::ByteStr(b)) => Some(RuleValue::Bytes(b.value())),
            Some(Lit::Str(s)) => Some(RuleValue::Bytes(s.value().into_bytes())),
            _ => wrong(cx, "a byte string"),
        },
        RuleType::Int32
        | RuleType::Sint32
        | RuleType::Sfixed32
        | RuleType::Int64
        | RuleType::Sint64
        | RuleType::Sfixed64 => {
            let wide = matches!(
                rule_ty,
                RuleType::Int64 | RuleType::Sint64 | RuleType::Sfixed64
            );
            let range = if wide {
                i128::from(i64::MIN)..=i128::from(i64::MAX)
            } else {
                i128::from(i32::MIN)..=i128::from(i32::MAX)
            };
            match integer(expr) {
                Some(n) if range.contains(&n) => Some(RuleValue::Int(n as i64)),
                Some(_) => wrong(
                    cx,
                    if wide {
                        "a number that fits i64"
                    } else {
                        "a number that fits i32"
                    },
                ),
                None => wrong(cx, "a whole number"),
            }
        }
        RuleType::Uint32 | RuleType::Fixed32 | RuleType::Uint64 | RuleType::Fixed64 => {
            let max = if matches!(rule_ty, RuleType::Uint64 | RuleType::Fixed64) {
                i128::from(u64::MAX)
            } else {
                i128::from(u32::MAX)
            };
            match integer(expr) {
                Some(n) if (0..=max).contains(&n) => Some(RuleValue::Uint(n as u64)),
                Some(_) => wrong(cx, "a number from 0 that fits the field"),
                None => wrong(cx, "a whole number"),
            }
        }
        RuleType::Float | RuleType::Double => match float(expr) {
            // A `float` rule holds an f32, as the proto front end reads it.
            Some(x) if rule_ty == RuleType::Float => Some(RuleValue::Float(f64::from(x as f32))),
            Some(x) => Some(RuleValue::Float(x)),
            None => wrong(cx, "a number"),
        },
        RuleType::Enum => {
            let (names, what) = match key {
                "ignore" => (IGNORE, "ignore mode"),
                "well_known_regex" => (KNOWN_REGEX, "well-known regex"),
                _ => return wrong(cx, "a value the derive does not know"),
            };
            let Some(Lit::Str(s)) = lit(expr) else {
                return wrong(cx, "a name in quotes");
            };
            match names.iter().find(|(n, _)| *n == s.value()) {
                Some((_, number)) => Some(RuleValue::Enum(*number)),
                None => {
                    let valid: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
                    cx.error(
                        &s,
                        format!(
                            "unknown {what} `{}`; expected one of: {}",
                            s.value(),
                            valid.join(", ")
                        ),
                    );
                    None
                }
            }
        }
        RuleType::Duration => match lit(expr) {
            Some(Lit::Str(s)) => match parse_duration(&s.value()) {
                Some((seconds, nanos)) => Some(RuleValue::Time { seconds, nanos }),
                None => wrong(
                    cx,
                    "a duration such as \"30s\", \"1.5s\", \"250ms\", \"5m\" or \"2h\"",
                ),
            },
            _ => wrong(cx, "a duration in quotes"),
        },
        RuleType::Timestamp => match lit(expr) {
            Some(Lit::Str(s)) => match parse_timestamp(&s.value()) {
                Some((seconds, nanos)) => Some(RuleValue::Time { seconds, nanos }),
                None => wrong(cx, "an RFC 3339 time such as \"2024-01-01T00:00:00Z\""),
            },
            _ => wrong(cx, "an RFC 3339 time in quotes"),
        },
        RuleType::FieldMask => {
            let Expr::Array(array) = expr else {
                return wrong(cx, "a list of paths");
            };
            let paths: Option<Vec<RuleValue>> = array
                .elems
                .iter()
                .map(|e| match lit(e) {
                    Some(Lit::Str(s)) => Some(RuleValue::String(s.value())),
                    _ => None,
                })
                .collect();
            match paths {
                Some(paths) => Some(RuleValue::List(paths)),
                None => wrong(cx, "a list of paths in quotes"),
            }
        }
        RuleType::Message(_) => wrong(cx, "a list of rules"),
    }
}

fn lit(expr: &Expr) -> Option<Lit> {
    match expr {
        Expr::Lit(ExprLit { lit, .. }) => Some(lit.clone()),
        Expr::Group(g) => lit(&g.expr),
        Expr::Paren(p) => lit(&p.expr),
        _ => None,
    }
}

/// A whole number, possibly negative (`-5` is a unary minus on a literal).
fn integer(expr: &Expr) -> Option<i128> {
    match expr {
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => integer(expr).map(|n| -n),
        _ => match lit(expr)? {
            Lit::Int(i) => i.base10_parse().ok(),
            _ => None,
        },
    }
}

/// A number, possibly negative; whole numbers are accepted too.
fn float(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => float(expr).map(|n| -n),
        _ => match lit(expr)? {
            Lit::Float(f) => f.base10_parse().ok(),
            Lit::Int(i) => i.base10_parse::<i64>().ok().map(|n| n as f64),
            _ => None,
        },
    }
}

fn string_lit(item: &Item) -> Option<String> {
    match item {
        Item::NameValue { value, .. } => match lit(value)? {
            Lit::Str(s) => Some(s.value()),
            _ => None,
        },
        _ => None,
    }
}

fn key_name(item: &Item) -> String {
    item.key().to_string()
}

/// One item of `validate(...)`: `email`, `min_len = 3`, `in = [1, 2]`, `items(min_len = 1)`.
///
/// Like `syn::Meta`, except that a key may be a keyword (`in`, `const`): rule names are protobuf field names.
enum Item {
    Path(Ident),
    NameValue {
        key: Ident,
        eq: Token![=],
        value: Expr,
    },
    List {
        key: Ident,
        paren: token::Paren,
        items: Vec<Item>,
    },
}

impl Item {
    fn key(&self) -> &Ident {
        match self {
            Item::Path(key) | Item::NameValue { key, .. } | Item::List { key, .. } => key,
        }
    }
}

impl Parse for Item {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key = Ident::parse_any(input)?;
        if input.peek(Token![=]) {
            Ok(Item::NameValue {
                key,
                eq: input.parse()?,
                value: input.parse()?,
            })
        } else if input.peek(token::Paren) {
            let content;
            let paren = syn::parenthesized!(content in input);
            let items = Punctuated::<Item, Token![,]>::parse_terminated(&content)?;
            Ok(Item::List {
                key,
                paren,
                items: items.into_iter().collect(),
            })
        } else {
            Ok(Item::Path(key))
        }
    }
}

impl ToTokens for Item {
    fn to_tokens(&self, out: &mut TokenStream) {
        match self {
            Item::Path(key) => key.to_tokens(out),
            Item::NameValue { key, eq, value } => {
                key.to_tokens(out);
                eq.to_tokens(out);
                value.to_tokens(out);
            }
            Item::List { key, paren, items } => {
                key.to_tokens(out);
                paren.surround(out, |out| {
                    for item in items {
                        item.to_tokens(out);
                        <Token![,]>::default().to_tokens(out);
                    }
                });
            }
        }
    }
}

/// The items of every `validate(...)` of a field, in order.
fn parse_lists(cx: &mut Ctxt, lists: &[syn::MetaList]) -> Vec<Item> {
    let mut out = Vec::new();
    for list in lists {
        match list.parse_args_with(Punctuated::<Item, Token![,]>::parse_terminated) {
            Ok(items) => out.extend(items),
            Err(e) => cx.syn_error(e),
        }
    }
    out
}

/// `"30s"`, `"-1.5s"`, `"250ms"`, `"5m"`, `"2h"` → seconds and nanoseconds (both with the sign of the whole).
fn parse_duration(text: &str) -> Option<(i64, i32)> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (number, nanos_per_unit): (&str, i128) = if let Some(n) = body.strip_suffix("ms") {
        (n, 1_000_000)
    } else if let Some(n) = body.strip_suffix('s') {
        (n, 1_000_000_000)
    } else if let Some(n) = body.strip_suffix('m') {
        (n, 60_000_000_000)
    } else if let Some(n) = body.strip_suffix('h') {
        (n, 3_600_000_000_000)
    } else {
        return None;
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    if fraction.len() > 9 {
        return None;
    }
    let whole: i128 = whole.parse().ok()?;
    let fraction_nanos: i128 = format!("{fraction:0<9}").parse().ok()?;
    let total = whole * nanos_per_unit + fraction_nanos * nanos_per_unit / 1_000_000_000;
    let total = if negative { -total } else { total };
    let seconds = i64::try_from(total / 1_000_000_000).ok()?;
    Some((seconds, (total % 1_000_000_000) as i32))
}

/// An RFC 3339 time (`2024-01-01T00:00:00Z`, `2024-01-01T01:00:00.5+01:00`) → seconds and nanoseconds since
/// the Unix epoch.
fn parse_timestamp(text: &str) -> Option<(i64, i32)> {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut at = 19;
    let mut nanos = 0i64;
    if b[at] == b'.' {
        let start = at + 1;
        at = start;
        while at < b.len() && b[at].is_ascii_digit() {
            at += 1;
        }
        let fraction = &text[start..at];
        if fraction.is_empty() || fraction.len() > 9 {
            return None;
        }
        nanos = format!("{fraction:0<9}").parse().ok()?;
    }
    let offset = match &b[at..] {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let hours = digits(at + 1..at + 3)?;
            let minutes = digits(at + 4..at + 6)?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = hours * 3600 + minutes * 60;
            if *sign == b'-' { -offset } else { offset }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some((seconds, nanos as i32))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capacitor_codegen::ir::Origin;
    use syn::parse_quote;

    /// Each field as (name, number, rules).
    type ReadFields = Vec<(String, u32, Vec<(String, RuleValue)>)>;

    /// The fields of a struct read for `Validate`, or every error message.
    fn read(input: DeriveInput) -> Result<ReadFields, Vec<String>> {
        let mut cx = Ctxt::default();
        let model =
            model::read(&mut cx, &input, Derive::Validate).map_err(|e| vec![e.to_string()])?;
        cx.check()
            .map_err(|e| e.into_iter().map(|e| e.to_string()).collect::<Vec<_>>())?;
        Ok(model
            .message
            .fields
            .iter()
            .map(|f| {
                assert!(
                    f.rules
                        .iter()
                        .all(|r| matches!(r.origin, Origin::Derive(_)))
                );
                let rules = f
                    .rules
                    .iter()
                    .map(|r| (r.path.clone(), r.value.clone()))
                    .collect();
                (f.name.clone(), f.number, rules)
            })
            .collect())
    }

    fn rules_of(input: DeriveInput) -> Vec<Vec<(String, RuleValue)>> {
        read(input)
            .unwrap()
            .into_iter()
            .map(|(_, _, rules)| rules)
            .collect()
    }

    fn errors(input: DeriveInput) -> Vec<String> {
        read(input).expect_err("the input has errors")
    }

    fn rule(path: &str, value: RuleValue) -> (String, RuleValue) {
        (path.to_string(), value)
    }

    #[test]
    fn keys_map_to_the_rules_the_proto_front_end_reads_in_its_order() {
        let rules = rules_of(parse_quote! {
            struct Signup {
                #[capacitor(validate(email, max_len = 254))]
                email: String,
                #[capacitor(validate(gt = 0, lte = 150))]
                age: i32,
                #[capacitor(validate(items(min_len = 1), unique))]
                tags: Vec<String>,
                #[capacitor(validate(required, in = ["free", "pro"]))]
                plan: String,
                #[capacitor(validate(lt = "30s"))]
                timeout: prost_types::Duration,
            }
        });
        // The same rules as `codegen/tests/rules_ir.rs` reads from the proto twin of this struct.
        assert_eq!(
            rules,
            [
                vec![
                    rule("string.max_len", RuleValue::Uint(254)),
                    rule("string.email", RuleValue::Bool(true))
                ],
                vec![
                    rule("int32.lte", RuleValue::Int(150)),
                    rule("int32.gt", RuleValue::Int(0))
                ],
                vec![
                    rule("repeated.unique", RuleValue::Bool(true)),
                    rule("repeated.items.string.min_len", RuleValue::Uint(1))
                ],
                vec![
                    rule(
                        "string.in",
                        RuleValue::List(vec![
                            RuleValue::String("free".into()),
                            RuleValue::String("pro".into())
                        ])
                    ),
                    rule("required", RuleValue::Bool(true)),
                ],
                vec![rule(
                    "duration.lt",
                    RuleValue::Time {
                        seconds: 30,
                        nanos: 0
                    }
                )],
            ]
        );
    }

    #[test]
    fn values_take_the_rule_types_of_the_catalog() {
        let rules = rules_of(parse_quote! {
            struct Values {
                #[capacitor(validate(gt = 1.1, not_in = [-2, 3.5]))]
                ratio: f32,
                #[capacitor(validate(const = -7))]
                delta: i64,
                #[capacitor(validate(prefix = b"\x01", len = 4))]
                raw: Vec<u8>,
                #[capacitor(validate(email = false, well_known_regex = "http_header_value", strict = false))]
                header: String,
                #[capacitor(validate(ignore = "if_zero_value", gte = "2024-01-01T00:00:00Z"))]
                at: Option<prost_types::Timestamp>,
                #[capacitor(validate(enumeration = "Plan", in = [1, 2]))]
                plan: i32,
                #[capacitor(validate(keys(min_len = 1), values(gte = 0), max_pairs = 3))]
                scores: std::collections::HashMap<String, u64>,
            }
        });
        assert_eq!(
            rules,
            [
                vec![
                    rule("float.gt", RuleValue::Float(f64::from(1.1f32))),
                    rule(
                        "float.not_in",
                        RuleValue::List(vec![RuleValue::Float(-2.0), RuleValue::Float(3.5)])
                    ),
                ],
                vec![rule("int64.const", RuleValue::Int(-7))],
                vec![
                    rule("bytes.prefix", RuleValue::Bytes(vec![1])),
                    rule("bytes.len", RuleValue::Uint(4))
                ],
                vec![
                    rule("string.email", RuleValue::Bool(false)),
                    rule("string.well_known_regex", RuleValue::Enum(2)),
                    rule("string.strict", RuleValue::Bool(false)),
                ],
                vec![
                    rule(
                        "timestamp.gte",
                        RuleValue::Time {
                            seconds: 1_704_067_200,
                            nanos: 0
                        }
                    ),
                    rule("ignore", RuleValue::Enum(1)),
                ],
                vec![rule(
                    "enum.in",
                    RuleValue::List(vec![RuleValue::Int(1), RuleValue::Int(2)])
                )],
                vec![
                    rule("map.max_pairs", RuleValue::Uint(3)),
                    rule("map.keys.string.min_len", RuleValue::Uint(1)),
                    rule("map.values.uint64.gte", RuleValue::Uint(0)),
                ],
            ]
        );
    }

    #[test]
    fn struct_level_oneof_is_the_message_oneof_rule() {
        let input: DeriveInput = parse_quote! {
            #[capacitor(validate(oneof(fields = ["a", "b"], required), oneof(fields = ["c"])))]
            struct Choice { a: String, b: String, c: String }
        };
        let mut cx = Ctxt::default();
        let model = model::read(&mut cx, &input, Derive::Validate).unwrap();
        cx.check().unwrap();
        let names = |n: &[&str]| {
            RuleValue::List(n.iter().map(|s| RuleValue::String(s.to_string())).collect())
        };
        assert_eq!(model.message.rules.len(), 1);
        assert_eq!(model.message.rules[0].path, "oneof");
        assert_eq!(
            model.message.rules[0].value,
            RuleValue::List(vec![
                RuleValue::Message(vec![
                    ("fields".into(), names(&["a", "b"])),
                    ("required".into(), RuleValue::Bool(true)),
                ]),
                RuleValue::Message(vec![("fields".into(), names(&["c"]))]),
            ])
        );

        let errors = errors(parse_quote! {
            #[capacitor(validate(oneof(required), min_len = 1))]
            struct Wrong { a: String }
        });
        assert_eq!(errors.len(), 2, "{errors:#?}");
        assert!(
            errors[0].starts_with("`oneof` needs the fields it spans"),
            "{}",
            errors[0]
        );
        assert!(
            errors[1].starts_with("`min_len` is not a message rule"),
            "{}",
            errors[1]
        );
    }

    #[test]
    fn cel_rules_are_read_like_buf_validate_rule_messages() {
        let rules = rules_of(parse_quote! {
            struct Credits {
                #[capacitor(validate(
                    cel(id = "a", expression = "this > 0"),
                    lt = 10,
                    cel(id = "b", message = "m", expression = "this != 5")
                ))]
                credits: i64,
            }
        });
        let s = |v: &str| RuleValue::String(v.into());
        assert_eq!(
            rules,
            [vec![
                rule("int64.lt", RuleValue::Int(10)),
                rule(
                    "cel",
                    RuleValue::List(vec![
                        RuleValue::Message(vec![
                            ("id".into(), s("a")),
                            ("expression".into(), s("this > 0"))
                        ]),
                        RuleValue::Message(vec![
                            ("id".into(), s("b")),
                            ("message".into(), s("m")),
                            ("expression".into(), s("this != 5"))
                        ]),
                    ])
                ),
            ]]
        );
    }

    #[test]
    fn numbers_come_from_prost_tags_else_count_on_from_the_previous_field() {
        let fields = read(parse_quote! {
            struct Numbered {
                a: String,
                #[prost(string, tag = "5")]
                b: String,
                c: String,
            }
        })
        .unwrap();
        let numbers: Vec<(String, u32)> =
            fields.into_iter().map(|(name, n, _)| (name, n)).collect();
        assert_eq!(numbers, [("a".into(), 1), ("b".into(), 5), ("c".into(), 6)]);
    }

    #[test]
    fn a_key_outside_the_fields_family_lists_the_valid_ones() {
        let errors = errors(parse_quote! {
            struct Wrong {
                #[capacitor(validate(email))]
                age: i32,
                #[capacitor(validate(min_len = 1))]
                tags: Vec<String>,
                #[capacitor(validate(emial))]
                email: String,
            }
        });
        assert_eq!(errors.len(), 3, "{errors:#?}");
        assert!(errors[0].starts_with("`email` is not a rule for a `int32` value in validate(...); expected one of: const, lt, lte, gt, gte, in, not_in, example, required, ignore"), "{}", errors[0]);
        assert!(errors[1].starts_with("`min_len` is not a rule for a repeated field (rules on its items go inside `items(...)`)"), "{}", errors[1]);
        assert!(
            errors[2].contains("`emial` is not a rule for a `string` value"),
            "{}",
            errors[2]
        );
    }

    #[test]
    fn malformed_values_are_reported_with_an_example() {
        let errors = errors(parse_quote! {
            struct Wrong {
                #[capacitor(validate(min_len = -1, max_len = "3", pattern = 5, in = "a", ignore = "never"))]
                name: String,
                #[capacitor(validate(gt = 3000000000))]
                small: i32,
                #[capacitor(validate(lt = "soon"))]
                timeout: prost_types::Duration,
                #[capacitor(validate(min_len = 1, min_len = 2))]
                twice: String,
                #[capacitor(validate(min_len = 1))]
                byte: u8,
            }
        });
        let expected = [
            "`min_len` takes a number from 0 that fits the field: write `min_len = 10`",
            "`max_len` takes a whole number: write `max_len = 10`",
            "`pattern` takes a string: write `pattern = \"abc\"`",
            "`in` takes a list: write `in = [\"abc\", ...]`",
            "unknown ignore mode `never`; expected one of: if_zero_value, always",
            "`gt` takes a number that fits i32: write `gt = 10`",
            "`lt` takes a duration such as \"30s\", \"1.5s\", \"250ms\", \"5m\" or \"2h\": write `lt = \"30s\"`",
            "duplicate rule `min_len` in validate(...): write it once",
            "`u8` has no proto counterpart: use u32 or u64",
        ];
        assert_eq!(errors, expected);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Some((30, 0)));
        assert_eq!(parse_duration("1.5s"), Some((1, 500_000_000)));
        assert_eq!(parse_duration("-1.5s"), Some((-1, -500_000_000)));
        assert_eq!(parse_duration("250ms"), Some((0, 250_000_000)));
        assert_eq!(parse_duration("5m"), Some((300, 0)));
        assert_eq!(parse_duration("2h"), Some((7200, 0)));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("s"), None);
        assert_eq!(parse_duration("1.0000000001s"), None);
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(
            parse_timestamp("2024-01-01T00:00:00Z"),
            Some((1_704_067_200, 0))
        );
        assert_eq!(
            parse_timestamp("2024-01-01T01:00:00.25+01:00"),
            Some((1_704_067_200, 250_000_000))
        );
        assert_eq!(parse_timestamp("1969-12-31T23:59:59Z"), Some((-1, 0)));
        assert_eq!(parse_timestamp("2023-02-29T00:00:00Z"), None);
        assert_eq!(parse_timestamp("2024-01-01 00:00:00"), None);
    }
}
