//! `#[derive(Validate)]`: `#[capacitor(validate(...))]` field attributes read into the same IR rules the proto
//! front end reads from `(buf.validate.field)`, then the shared checks and the shared validator emitter.
//!
//! A key names a rule of the field's *rule family*, which the field's type decides (`String` → `string`,
//! `i64` → `int64`, an enum → `enum`, `Vec<T>` → `repeated`, a map → `map`), so `min_len = 3` on a `String` is
//! the rule `string.min_len`. `items(...)`, `keys(...)` and `values(...)` open the family of a repeated field's
//! items and a map's keys and values. `required` and `ignore` fit every field. Names, numbers and value types
//! come from the rules catalog (`capacitor_codegen::rules`), the one description of `buf/validate/validate.proto`
//! that the emitter also reads.

mod item;
mod time_literal;
mod value;

use crate::ctxt::{Ctxt, SpanRange};
use crate::prost_attr::{ProstField, ProstKind};
use crate::rust_type::{self, Unsupported};
use capacitor_codegen::ir::{FieldType, Label, Rule, RuleValue, Scalar, WellKnown};
use capacitor_codegen::rules::{self, RuleType};
use item::{Item, parse_lists};
use syn::{Expr, Lit};
use value::{key_name, lit, rule_value, string_list, string_lit};

/// The `ignore` values a derive user writes, with their `buf.validate.Ignore` numbers.
pub(super) const IGNORE: &[(&str, i32)] = &[("if_zero_value", 1), ("always", 3)];

/// The `well_known_regex` values, with their `buf.validate.KnownRegex` numbers.
pub(super) const KNOWN_REGEX: &[(&str, i32)] = &[("http_header_name", 1), ("http_header_value", 2)];

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
    let mut cel_spans = Vec::new();
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
                    cel_spans.push(SpanRange::of(&item));
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
    if let Some(rule) = cel_list(cx, "cel".to_string(), cel, &cel_spans) {
        rules.push(rule);
    }
    if let Some(span) = first_span {
        rules.push(Rule::new(
            "oneof".to_string(),
            RuleValue::List(oneofs),
            cx.origin(span),
        ));
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
            ) => match string_list(array) {
                Some(names) => fields = Some(names),
                None => cx.error(
                    item,
                    "`fields` lists field names: write `fields = [\"email\", \"phone\"]`",
                ),
            },
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
    let mut cel_spans = Vec::new();
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
                cel_spans.push(SpanRange::of(meta));
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
        out.push(Rule::new(path, value, cx.origin(SpanRange::of(meta))));
    }
    if let Some(rule) = cel_list(cx, format!("{}cel", scope.prefix), cel, &cel_spans) {
        out.push(rule);
    }
}

/// The `cel` rule of the `cel(...)` entries read (none without one): at the first entry, each entry at its own
/// attribute.
fn cel_list(
    cx: &mut Ctxt,
    path: String,
    entries: Vec<RuleValue>,
    spans: &[SpanRange],
) -> Option<Rule> {
    let first = *spans.first()?;
    Some(Rule {
        path,
        value: RuleValue::List(entries),
        origin: cx.origin(first),
        item_origins: spans.iter().map(|&s| cx.origin(s)).collect(),
    })
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
        FieldType::WellKnown(w) => rules::type_rules_name(w.wrapped()?),
        FieldType::Message(m) if rules::is_field_mask(m) => "field_mask",
        FieldType::Message(_) => return None,
    })
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
