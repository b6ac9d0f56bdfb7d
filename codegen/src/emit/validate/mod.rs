//! `impl Validate` for every message: the `buf.validate` rules of the IR turned into plain Rust checks.
//!
//! The generated code allocates nothing on valid input: field paths are a stack-linked chain of `'static`
//! segments (`PathNode`), rule paths are `static` arrays, messages are string literals, and regexes are compiled
//! once in a `LazyLock`. Only a recorded violation materializes anything.
//!
//! Shared by the proto path and the derive path; rules the emitter cannot check (CEL, a rule that does not fit
//! its field) are reported by [`crate::check`] before emission and skipped here.

use super::tokens::{mentions, pattern, rust_ident, rust_path};
use crate::emit::rust::RuntimePath;
use crate::ir::{FieldType, Message, Rule, RuleValue, Scalar, Schema, WellKnown};
use crate::rules::{self, RuleField, RuleType};
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};
use std::collections::{BTreeMap, BTreeSet};

mod bytes;
mod cel_rules;
mod enumeration;
mod numeric;
mod string;
mod walk;
mod well_known;

/// What the emitter needs to know beyond one message.
#[derive(Debug, Clone, Copy)]
pub struct ValidateContext<'a> {
    /// How generated code names the runtime crate.
    pub runtime: &'a RuntimePath,
    /// Every message that gets an `impl Validate` (nested messages are validated through it).
    pub schema: &'a Schema,
    /// The defined numbers of each enum, by fully qualified name (`enum.defined_only`).
    pub enum_values: &'a BTreeMap<String, Vec<i32>>,
    /// Fields (`pkg.Message.field`) declared with implicit presence that Rust holds as `Option<T>` (editions
    /// files lowered to proto2): the rules treat `None` as the zero value.
    pub implicit_presence: &'a BTreeSet<String>,
    /// Fields (`pkg.Message.field`) encoded as groups (`TYPE_GROUP` in field paths).
    pub groups: &'a BTreeSet<String>,
}

/// The `Ignore` enum of `buf.validate`.
const IGNORE_IF_ZERO_VALUE: i32 = 1;
const IGNORE_ALWAYS: i32 = 3;

/// A set of rules relative to some rules message (`FieldRules` of a field, of its items, …).
#[derive(Debug, Clone, Default)]
struct Rules<'r> {
    entries: Vec<(&'r str, &'r RuleValue)>,
}

impl<'r> Rules<'r> {
    fn of(rules: &'r [Rule]) -> Self {
        Rules {
            entries: rules.iter().map(|r| (r.path.as_str(), &r.value)).collect(),
        }
    }

    fn get(&self, name: &str) -> Option<&'r RuleValue> {
        self.entries
            .iter()
            .find(|(p, _)| *p == name)
            .map(|(_, v)| *v)
    }

    fn sub(&self, prefix: &str) -> Rules<'r> {
        Rules {
            entries: self
                .entries
                .iter()
                .filter_map(|(p, v)| {
                    p.strip_prefix(prefix)
                        .and_then(|rest| rest.strip_prefix('.'))
                        .map(|rest| (rest, *v))
                })
                .collect(),
        }
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some(RuleValue::Bool(true)))
    }

    fn ignore(&self) -> i32 {
        match self.get("ignore") {
            Some(RuleValue::Enum(n)) => *n,
            _ => 0,
        }
    }
}

/// How a value of a field is held and checked.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Scalar(Scalar),
    Enum(String),
    Duration,
    Timestamp,
    Any,
    /// `google.protobuf.FieldMask`.
    FieldMask,
    /// A wrapper: the inner scalar.
    Wrapper(Scalar),
    /// A message with its own `impl Validate` when it is in the schema.
    Message(String),
}

fn kind_of(ty: &FieldType) -> Kind {
    match ty {
        FieldType::Scalar(s) => Kind::Scalar(*s),
        FieldType::Enum(e) => Kind::Enum(e.clone()),
        FieldType::WellKnown(w) => match w {
            WellKnown::Timestamp => Kind::Timestamp,
            WellKnown::Duration => Kind::Duration,
            wrapper => Kind::Wrapper(wrapper.wrapped().expect("a wrapper type")),
        },
        FieldType::Message(m) if m == "google.protobuf.Any" => Kind::Any,
        FieldType::Message(m) if rules::is_field_mask(m) => Kind::FieldMask,
        FieldType::Message(m) => Kind::Message(m.clone()),
    }
}

/// The `FieldRules` member whose rules fit a value of this kind (`string`, `int32`, `timestamp`).
fn rules_member(kind: &Kind) -> Option<&'static str> {
    match kind {
        Kind::Scalar(s) | Kind::Wrapper(s) => Some(s.proto_name()),
        Kind::Enum(_) => Some("enum"),
        Kind::Duration => Some("duration"),
        Kind::Timestamp => Some("timestamp"),
        Kind::Any => Some("any"),
        Kind::FieldMask => Some("field_mask"),
        Kind::Message(_) => None,
    }
}

/// The `FieldDescriptorProto.Type` variant name of a value of this type.
fn descriptor_type(ty: &FieldType) -> &'static str {
    match ty {
        FieldType::Scalar(s) => scalar_variant(*s),
        FieldType::Enum(_) => "Enum",
        FieldType::WellKnown(_) | FieldType::Message(_) => "Message",
    }
}

/// The `FieldDescriptorProto.Type` variant name of a field of a rules message.
fn rule_type_variant(ty: RuleType) -> &'static str {
    match ty {
        RuleType::Scalar(s) => scalar_variant(s),
        RuleType::Enum => "Enum",
        RuleType::Message(_) | RuleType::Duration | RuleType::Timestamp | RuleType::FieldMask => {
            "Message"
        }
    }
}

/// The runtime's `FieldType` variant of a scalar.
fn scalar_variant(scalar: Scalar) -> &'static str {
    match scalar {
        Scalar::Double => "Double",
        Scalar::Float => "Float",
        Scalar::Int32 => "Int32",
        Scalar::Int64 => "Int64",
        Scalar::Uint32 => "Uint32",
        Scalar::Uint64 => "Uint64",
        Scalar::Sint32 => "Sint32",
        Scalar::Sint64 => "Sint64",
        Scalar::Fixed32 => "Fixed32",
        Scalar::Fixed64 => "Fixed64",
        Scalar::Sfixed32 => "Sfixed32",
        Scalar::Sfixed64 => "Sfixed64",
        Scalar::Bool => "Bool",
        Scalar::String => "String",
        Scalar::Bytes => "Bytes",
    }
}

/// `let name = value;` when `body` reads `name`, else nothing.
fn bind_if_read(name: &str, value: &TokenStream, body: &TokenStream) -> TokenStream {
    if mentions(body, name) {
        let ident = format_ident!("{name}");
        quote!(let #ident = #value;)
    } else {
        quote!()
    }
}

/// The checks `out` on a value bound once as `name` (`let s = &v[..];`), in a block; nothing when there are
/// no checks.
fn bound(name: &str, value: &TokenStream, out: &[TokenStream]) -> TokenStream {
    let checks = quote!(#(#out)*);
    if checks.is_empty() {
        return checks;
    }
    let bind = bind_if_read(name, value, &checks);
    quote!({ #bind #checks })
}

/// Whether the message or one of its fields has a CEL rule (custom or predefined).
fn has_cel_rules(message: &Message) -> bool {
    let cel = |r: &Rule| crate::cel::is_cel_path(&r.path) || r.path.contains('[');
    message.rules.iter().any(cel) || message.fields.iter().any(|f| f.rules.iter().any(cel))
}

struct Emitter<'a> {
    cx: ValidateContext<'a>,
    rt: TokenStream,
    message: &'a Message,
}

/// `impl Validate for X`: every rule of the message, its fields, its oneofs, and recursion into nested
/// messages of the schema.
pub fn validate_impl(message: &Message, cx: ValidateContext<'_>) -> TokenStream {
    let e = Emitter {
        rt: cx.runtime.tokens().clone(),
        cx,
        message,
    };
    let rt = &e.rt;
    let ty = rust_path(&message.rust_path);
    let mut body = Vec::new();
    body.push(e.message_oneof_rules());
    body.push(e.message_cel_rules());
    for oneof in &message.oneofs {
        body.push(e.oneof_rules(oneof));
    }
    for field in &message.fields {
        body.push(e.field(field));
    }
    let body = quote!(#(#body)*);
    let cx_pattern = pattern("cx", &body);
    let parent_pattern = pattern("parent", &body);
    let cel_lints = if has_cel_rules(message) {
        // CEL rules are lowered by one template per operator whatever the operands (see `cel_rules.rs`):
        // `&*(x)` reads a string whether it is borrowed or computed, operands are parenthesized, field reads go
        // through `Option` combinators. On particular operands clippy finds parts of that needless.
        quote!(
            clippy::borrow_deref_ref,
            clippy::deref_addrof,
            clippy::double_parens,
            clippy::explicit_auto_deref,
            clippy::needless_borrow,
            clippy::op_ref,
            clippy::unnecessary_map_or,
            clippy::redundant_closure,
            clippy::redundant_slicing,
            clippy::map_clone,
            clippy::needless_question_mark,
            clippy::blocks_in_conditions,
        )
    } else {
        quote!()
    };
    quote! {
        // Each rule is emitted by the same template whatever its bounds, so a few shapes read as clumsy to
        // clippy on particular values: bounds are negated comparisons so that NaN fails every bound
        // (`!(v >= 1.0)`, also for integers, and `!(v >= a && v <= b)`), `min_len = 1` is `len() < 1`, an
        // optional field is a `match` whose arms are filled independently, and a message that only holds
        // itself passes `cx` to nothing but its own validator.
        #[allow(
            clippy::neg_cmp_op_on_partial_ord,
            clippy::nonminimal_bool,
            clippy::manual_range_contains,
            clippy::len_zero,
            clippy::single_match,
            clippy::collapsible_match,
            #cel_lints
            clippy::only_used_in_recursion
        )]
        impl #rt::validate::Validate for #ty {
            fn validate_into(
                &self,
                #cx_pattern: &mut #rt::validate::Cx,
                #parent_pattern: ::core::option::Option<&#rt::validate::PathNode<'_>>,
            ) -> ::core::ops::ControlFlow<()> {
                #body
                ::core::ops::ControlFlow::Continue(())
            }
        }
    }
}

impl Emitter<'_> {
    fn segment_tokens(&self, number: i32, name: &str, ty: &str) -> TokenStream {
        let rt = &self.rt;
        let ty = format_ident!("{ty}");
        quote!(#rt::validate::Segment::new(#number, #name, #rt::validate::FieldType::#ty))
    }

    /// `{ static R: [Segment; n] = […]; cx.violation(at, &R, id, message)?; }`
    fn violation(
        &self,
        at: &TokenStream,
        rule: &[RuleField],
        id: &str,
        message: &str,
        for_key: bool,
    ) -> TokenStream {
        self.violation_at(at, rule, None, id, message, for_key)
    }

    /// A violation whose rule path ends in one entry of a repeated rules field (`cel[index]`).
    fn violation_at(
        &self,
        at: &TokenStream,
        rule: &[RuleField],
        last_index: Option<u64>,
        id: &str,
        message: &str,
        for_key: bool,
    ) -> TokenStream {
        let segments = self.rule_static(rule, last_index);
        let method = if for_key {
            quote!(key_violation)
        } else {
            quote!(violation)
        };
        quote! {{
            #segments
            cx.#method(#at, &R, #id, #message)?;
        }}
    }

    /// `static R: [Segment; n] = [...];`: the rule path of a violation, its last element indexed when
    /// `last_index` is given.
    fn rule_static(&self, rule: &[RuleField], last_index: Option<u64>) -> TokenStream {
        let rt = &self.rt;
        let last = rule.len().saturating_sub(1);
        let segments = rule.iter().enumerate().map(|(i, f)| match last_index {
            Some(index) if i == last => {
                let ty = format_ident!("{}", rule_type_variant(f.ty));
                let (number, name) = (f.number, f.name);
                quote!(#rt::validate::Segment::indexed(#number, #name, #rt::validate::FieldType::#ty, #index))
            }
            _ => self.segment_tokens(f.number, f.name, rule_type_variant(f.ty)),
        });
        let n = rule.len();
        quote!(static R: [#rt::validate::Segment; #n] = [#(#segments),*];)
    }
}

/// Emits the typed rules of one value.
struct Gen<'a> {
    e: &'a Emitter<'a>,
    /// The rule path down to the typed rules message (`repeated`, `items`, `string`).
    path: Vec<RuleField>,
    member: &'static str,
    at: TokenStream,
    for_key: bool,
}

impl Gen<'_> {
    fn fail(&self, rule: &str, id_suffix: &str, message: &str) -> TokenStream {
        let mut path = self.path.clone();
        let rules_message = match self.path.last().map(|f| f.ty) {
            Some(RuleType::Message(m)) => m,
            _ => "",
        };
        if let Some(f) =
            rules::rules_message(rules_message).and_then(|fs| fs.iter().find(|f| f.name == rule))
        {
            path.push(*f);
        }
        let id = format!("{}.{}", self.member, id_suffix);
        self.e
            .violation(&self.at, &path, &id, message, self.for_key)
    }

    fn scalar(&self, s: Scalar, v: &TokenStream, r: &Rules<'_>) -> TokenStream {
        match s {
            Scalar::String => self.string(v, r),
            Scalar::Bytes => self.bytes(v, r),
            Scalar::Bool => {
                let mut out = Vec::new();
                if let Some(RuleValue::Bool(c)) = r.get("const") {
                    let f = self.fail("const", "const", &format!("value must equal {c}"));
                    let differs = if *c { quote!(!val) } else { quote!(val) };
                    out.push(quote!(if #differs { #f }));
                }
                // Bound in a block as the numbers are, so that a zero guard around it is not an `if`
                // directly holding an `if` (which clippy would collapse).
                bound("val", &quote!(*#v), &out)
            }
            _ => self.number(s, v, r),
        }
    }

    fn literal(s: Scalar, value: &RuleValue) -> Option<TokenStream> {
        Some(match (s, value) {
            (Scalar::Float, RuleValue::Float(f)) => {
                let bits = (*f as f32).to_bits();
                quote!(f32::from_bits(#bits))
            }
            (Scalar::Double, RuleValue::Float(f)) => {
                let bits = f.to_bits();
                quote!(f64::from_bits(#bits))
            }
            (Scalar::Int32 | Scalar::Sint32 | Scalar::Sfixed32, RuleValue::Int(i)) => {
                let l = Literal::i32_suffixed(*i as i32);
                quote!(#l)
            }
            (Scalar::Int64 | Scalar::Sint64 | Scalar::Sfixed64, RuleValue::Int(i)) => {
                let l = Literal::i64_suffixed(*i);
                quote!(#l)
            }
            (Scalar::Uint32 | Scalar::Fixed32, RuleValue::Uint(u)) => {
                let l = Literal::u32_suffixed(*u as u32);
                quote!(#l)
            }
            (Scalar::Uint64 | Scalar::Fixed64, RuleValue::Uint(u)) => {
                let l = Literal::u64_suffixed(*u);
                quote!(#l)
            }
            _ => return None,
        })
    }

    fn show(value: &RuleValue) -> String {
        match value {
            RuleValue::Float(f) => format!("{f}"),
            RuleValue::Int(i) => i.to_string(),
            RuleValue::Uint(u) => u.to_string(),
            RuleValue::Time { seconds, nanos } => {
                if *nanos == 0 {
                    format!("{seconds}s")
                } else {
                    format!("{seconds}.{:09}s", nanos.unsigned_abs())
                }
            }
            other => format!("{other:?}"),
        }
    }

    /// `const` on a value compared with `==` (numbers, enums, Duration and Timestamp), shown as
    /// [`Gen::show`] does. `!=` is `!(==)` for floats too, so NaN differs from every constant.
    fn equal_const(
        &self,
        out: &mut Vec<TokenStream>,
        val: &TokenStream,
        r: &Rules<'_>,
        lit: &dyn Fn(&RuleValue) -> Option<TokenStream>,
    ) {
        let Some(value) = r.get("const") else {
            return;
        };
        if let Some(c) = lit(value) {
            let f = self.fail(
                "const",
                "const",
                &format!("value must equal {}", Self::show(value)),
            );
            out.push(quote!(if #val != #c { #f }));
        }
    }

    /// Length rules counted in bytes: `names` are the rules for exactly, at least and at most (`len`,
    /// `min_len`, `max_len` of `bytes`; `len_bytes`, `min_bytes`, `max_bytes` of `string`).
    fn byte_lengths(
        &self,
        out: &mut Vec<TokenStream>,
        value: &TokenStream,
        r: &Rules<'_>,
        names: [&str; 3],
    ) {
        for (name, (cmp, words)) in names.into_iter().zip([
            (quote!(!=), "exactly"),
            (quote!(<), "at least"),
            (quote!(>), "at most"),
        ]) {
            if let Some(RuleValue::Uint(n)) = r.get(name) {
                let n = *n as usize;
                let f = self.fail(
                    name,
                    name,
                    &format!("value length must be {words} {n} bytes"),
                );
                out.push(quote!(if #value.len() #cmp #n { #f }));
            }
        }
    }

    /// A format rule whose empty value is its own violation (`email` → `string.email_empty`): `id` is the
    /// rule id after the member, `ok` the test of a non-empty value.
    fn format_rule(
        &self,
        value: &TokenStream,
        rule: &str,
        id: &str,
        message: &str,
        ok: &TokenStream,
    ) -> TokenStream {
        let fail = self.fail(rule, id, message);
        let empty = self.fail(
            rule,
            &format!("{id}_empty"),
            &format!("{message} (value is empty)"),
        );
        quote!(if #value.is_empty() { #empty } else if !#ok { #fail })
    }

    fn in_not_in(
        &self,
        out: &mut Vec<TokenStream>,
        val: &TokenStream,
        r: &Rules<'_>,
        lit: &dyn Fn(&RuleValue) -> Option<TokenStream>,
    ) {
        if let Some(RuleValue::List(items)) = r.get("in") {
            let items: Vec<TokenStream> = items.iter().filter_map(lit).collect();
            let shown: Vec<String> = r_list(r.get("in"));
            let f = self.fail(
                "in",
                "in",
                &format!("value must be in list [{}]", shown.join(", ")),
            );
            out.push(quote!(if ![#(#items),*].contains(&#val) { #f }));
        }
        if let Some(RuleValue::List(items)) = r.get("not_in") {
            let items: Vec<TokenStream> = items.iter().filter_map(lit).collect();
            let shown: Vec<String> = r_list(r.get("not_in"));
            let f = self.fail(
                "not_in",
                "not_in",
                &format!("value must not be in list [{}]", shown.join(", ")),
            );
            out.push(quote!(if [#(#items),*].contains(&#val) { #f }));
        }
    }
}

fn r_list(value: Option<&RuleValue>) -> Vec<String> {
    match value {
        Some(RuleValue::List(items)) => items
            .iter()
            .map(|v| match v {
                RuleValue::String(s) => format!("`{s}`"),
                RuleValue::Bytes(_) => "<bytes>".to_string(),
                other => Gen::show(other),
            })
            .collect(),
        _ => Vec::new(),
    }
}
