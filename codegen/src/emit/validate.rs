//! `impl Validate` for every message: the `buf.validate` rules of the IR turned into plain Rust checks.
//!
//! The generated code allocates nothing on valid input: field paths are a stack-linked chain of `'static`
//! segments (`PathNode`), rule paths are `static` arrays, messages are string literals, and regexes are compiled
//! once in a `LazyLock`. Only a recorded violation materializes anything.
//!
//! Shared by the proto path and the derive path; rules the emitter cannot check (CEL, a rule that does not fit
//! its field) are reported by [`crate::check`] before emission and skipped here.

use crate::cel;
use crate::emit::rust::RuntimePath;
use crate::ir::{
    Field, FieldType, Label, Message, Oneof, Rule, RuleValue, Scalar, Schema, WellKnown,
};
use crate::rules::{self, RuleField, RuleType};
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote};
use std::collections::{BTreeMap, BTreeSet};

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
            WellKnown::DoubleValue => Kind::Wrapper(Scalar::Double),
            WellKnown::FloatValue => Kind::Wrapper(Scalar::Float),
            WellKnown::Int64Value => Kind::Wrapper(Scalar::Int64),
            WellKnown::Uint64Value => Kind::Wrapper(Scalar::Uint64),
            WellKnown::Int32Value => Kind::Wrapper(Scalar::Int32),
            WellKnown::Uint32Value => Kind::Wrapper(Scalar::Uint32),
            WellKnown::BoolValue => Kind::Wrapper(Scalar::Bool),
            WellKnown::StringValue => Kind::Wrapper(Scalar::String),
            WellKnown::BytesValue => Kind::Wrapper(Scalar::Bytes),
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
        FieldType::Scalar(s) => match s {
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
        },
        FieldType::Enum(_) => "Enum",
        FieldType::WellKnown(_) | FieldType::Message(_) => "Message",
    }
}

fn rule_type_variant(ty: RuleType) -> &'static str {
    match ty {
        RuleType::Bool => "Bool",
        RuleType::Int32 => "Int32",
        RuleType::Int64 => "Int64",
        RuleType::Uint32 => "Uint32",
        RuleType::Uint64 => "Uint64",
        RuleType::Sint32 => "Sint32",
        RuleType::Sint64 => "Sint64",
        RuleType::Fixed32 => "Fixed32",
        RuleType::Fixed64 => "Fixed64",
        RuleType::Sfixed32 => "Sfixed32",
        RuleType::Sfixed64 => "Sfixed64",
        RuleType::Float => "Float",
        RuleType::Double => "Double",
        RuleType::String => "String",
        RuleType::Bytes => "Bytes",
        RuleType::Enum => "Enum",
        RuleType::Message(_) | RuleType::Duration | RuleType::Timestamp | RuleType::FieldMask => {
            "Message"
        }
    }
}

fn rust_path(path: &str) -> TokenStream {
    syn::parse_str::<syn::Path>(path)
        .map(|p| quote!(#p))
        .unwrap_or_else(|e| panic!("IR holds an invalid Rust path `{path}`: {e}"))
}

fn rust_ident(name: &str) -> Ident {
    match name.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, Span::call_site()),
        None => Ident::new(name, Span::call_site()),
    }
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
    quote! {
        #[allow(clippy::all, clippy::pedantic, unused_variables, unused_mut, unused_parens, non_upper_case_globals)]
        impl #rt::validate::Validate for #ty {
            fn validate_into(
                &self,
                cx: &mut #rt::validate::Cx,
                parent: ::core::option::Option<&#rt::validate::PathNode<'_>>,
            ) -> ::core::ops::ControlFlow<()> {
                #(#body)*
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
        let method = if for_key {
            quote!(key_violation)
        } else {
            quote!(violation)
        };
        quote! {{
            static R: [#rt::validate::Segment; #n] = [#(#segments),*];
            cx.#method(#at, &R, #id, #message)?;
        }}
    }

    /// `(buf.validate.message).oneof`: at most one (exactly one when required) of the listed fields is set.
    fn message_oneof_rules(&self) -> TokenStream {
        let mut out = Vec::new();
        let Some(RuleValue::List(items)) = Rules::of(&self.message.rules).get("oneof") else {
            return quote!();
        };
        for item in items {
            let RuleValue::Message(entries) = item else {
                continue;
            };
            let mut required = false;
            let mut names = Vec::new();
            for (name, value) in entries {
                match (name.as_str(), value) {
                    ("required", RuleValue::Bool(b)) => required = *b,
                    ("fields", RuleValue::List(list)) => {
                        names.extend(list.iter().filter_map(|v| match v {
                            RuleValue::String(s) => Some(s.clone()),
                            _ => None,
                        }))
                    }
                    _ => {}
                }
            }
            let counts = names.iter().filter_map(|n| self.message.field(n)).map(|f| {
                let set = self.is_set(f);
                quote!(usize::from(#set))
            });
            let id = "message.oneof";
            let many = format!("only one of {} can be set", names.join(", "));
            let none = format!("one of {} must be set", names.join(", "));
            let at = quote!(parent);
            let many = self.violation(&at, &[], id, &many, false);
            let none = if required {
                self.violation(&at, &[], id, &none, false)
            } else {
                quote!()
            };
            out.push(quote! {{
                let set: usize = 0 #(+ #counts)*;
                if set > 1 { #many }
                if set == 0 { #none }
            }});
        }
        quote!(#(#out)*)
    }

    fn in_message_oneof(&self, field: &Field) -> bool {
        let Some(RuleValue::List(items)) = Rules::of(&self.message.rules).get("oneof") else {
            return false;
        };
        items.iter().any(|item| match item {
            RuleValue::Message(entries) => entries.iter().any(|(name, value)| {
                name == "fields"
                    && matches!(value, RuleValue::List(l) if l.iter().any(|v| matches!(v, RuleValue::String(s) if *s == field.name)))
            }),
            _ => false,
        })
    }

    /// `(buf.validate.message).cel` rules in the compiled subset, with `this` the message itself.
    fn message_cel_rules(&self) -> TokenStream {
        let rules = Rules::of(&self.message.rules);
        if rules.get("cel").is_none() {
            return quote!();
        }
        let ty = FieldType::Message(self.message.full_name.clone());
        let Some(cel) = rules::resolve("MessageRules", "cel") else {
            return quote!();
        };
        let checks = self.cel_checks_at(&ty, &quote!(v), &rules, &cel, &quote!(parent), false);
        quote! {{
            let v = self;
            #checks
        }}
    }

    /// Whether a field is populated, as an expression on `self`.
    fn is_set(&self, field: &Field) -> TokenStream {
        let ident = rust_ident(&field.rust_name);
        if let Some(oneof) = &field.oneof {
            let o = self.message.oneofs.iter().find(|o| &o.name == oneof);
            if let Some(o) = o {
                let oident = rust_ident(&o.rust_name);
                let ety = rust_path(&o.rust_type);
                let variant = format_ident!("{}", crate::names::type_name(&field.name));
                return quote!(
                    ::core::matches!(&self.#oident, ::core::option::Option::Some(#ety::#variant(_)))
                );
            }
        }
        match &field.label {
            Label::Repeated | Label::Map { .. } => quote!(!self.#ident.is_empty()),
            Label::Required => quote!(true),
            Label::Optional if self.lowered_implicit(field) => {
                let zero = self.is_zero(&kind_of(&field.ty), &quote!(v));
                quote!(self.#ident.as_ref().is_some_and(|v| !(#zero)))
            }
            Label::Optional => quote!(self.#ident.is_some()),
            Label::Implicit => {
                let zero = self.is_zero(&kind_of(&field.ty), &quote!((&self.#ident)));
                quote!(!(#zero))
            }
        }
    }

    fn lowered_implicit(&self, field: &Field) -> bool {
        self.cx
            .implicit_presence
            .contains(&format!("{}.{}", self.message.full_name, field.name))
    }

    /// `(buf.validate.oneof).required`.
    fn oneof_rules(&self, oneof: &Oneof) -> TokenStream {
        if !Rules::of(&oneof.rules).flag("required") {
            return quote!();
        }
        let rt = &self.rt;
        let ident = rust_ident(&oneof.rust_name);
        let name = &oneof.name;
        let v = self.violation(
            &quote!(::core::option::Option::Some(&node)),
            &[],
            "required",
            "exactly one field is required in oneof",
            false,
        );
        quote! {
            if self.#ident.is_none() {
                static F: #rt::validate::Segment = #rt::validate::Segment::new(0, #name, #rt::validate::FieldType::Message);
                let node = #rt::validate::PathNode::new(parent, &F);
                #v
            }
        }
    }

    fn field_segment(&self, field: &Field) -> TokenStream {
        let rt = &self.rt;
        let number = field.number as i32;
        let name = &field.name;
        let full = format!("{}.{}", self.message.full_name, field.name);
        match &field.label {
            Label::Map { key } => {
                let k = format_ident!("{}", descriptor_type(&FieldType::Scalar(*key)));
                let v = format_ident!("{}", descriptor_type(&field.ty));
                quote!(#rt::validate::Segment::map(#number, #name, #rt::validate::FieldType::#k, #rt::validate::FieldType::#v))
            }
            _ if self.cx.groups.contains(&full) => self.segment_tokens(number, name, "Group"),
            _ => self.segment_tokens(number, name, descriptor_type(&field.ty)),
        }
    }

    fn field(&self, field: &Field) -> TokenStream {
        let mut rules = Rules::of(&field.rules);
        // A field named by a `(buf.validate.message).oneof` rule is implicitly IGNORE_IF_ZERO_VALUE.
        static IF_ZERO: RuleValue = RuleValue::Enum(IGNORE_IF_ZERO_VALUE);
        if rules.get("ignore").is_none() && self.in_message_oneof(field) {
            rules.entries.push(("ignore", &IF_ZERO));
        }
        let kind = kind_of(&field.ty);
        let recurses = matches!(&kind, Kind::Message(m) if self.cx.schema.message(m).is_some());
        if rules.ignore() == IGNORE_ALWAYS || (rules.is_empty() && !recurses) {
            return quote!();
        }
        let rt = &self.rt;
        let ident = rust_ident(&field.rust_name);
        let segment = self.field_segment(field);
        let at = quote!(::core::option::Option::Some(&node));
        let body = match &field.label {
            Label::Repeated => self.repeated(field, &kind, &rules, &at),
            Label::Map { key } => self.map(field, *key, &kind, &rules, &at),
            _ => self.singular(field, &kind, &rules, &at),
        };
        let _ = ident;
        quote! {{
            static F: #rt::validate::Segment = #segment;
            let node = #rt::validate::PathNode::new(parent, &F);
            #body
        }}
    }

    fn required_violation(&self, at: &TokenStream) -> TokenStream {
        let rule = rules::resolve_field_rule("required").unwrap_or_default();
        self.violation(at, &rule, "required", "value is required", false)
    }

    fn singular(
        &self,
        field: &Field,
        kind: &Kind,
        rules: &Rules<'_>,
        at: &TokenStream,
    ) -> TokenStream {
        let ident = rust_ident(&field.rust_name);
        let typed = self.value_checks(kind, &quote!(v), rules, &[], at, false);
        let cel = self.cel_checks(&field.ty, &quote!(v), rules, &[], at, false);
        let checks = quote!(#typed #cel);
        let recurse = self.recurse(kind, &quote!(v), at);
        let required = rules.flag("required");
        let if_zero = rules.ignore() == IGNORE_IF_ZERO_VALUE;
        let zero = self.is_zero(kind, &quote!(v));
        let missing = if required {
            self.required_violation(at)
        } else {
            quote!()
        };
        // A field with presence is validated whenever it is set, zero or not: `IGNORE_IF_ZERO_VALUE` only
        // skips unset fields there (protovalidate's semantics).
        let on_value = checks.clone();
        if let Some(oneof) = &field.oneof
            && let Some(o) = self.message.oneofs.iter().find(|o| &o.name == oneof)
        {
            let oident = rust_ident(&o.rust_name);
            let ety = rust_path(&o.rust_type);
            let variant = format_ident!("{}", crate::names::type_name(&field.name));
            return quote! {
                match &self.#oident {
                    ::core::option::Option::Some(#ety::#variant(v)) => { #on_value #recurse }
                    _ => { #missing }
                }
            };
        }
        match &field.label {
            Label::Optional if self.lowered_implicit(field) => {
                // Declared implicit: `None` is the zero value, and the rules apply to it too.
                let apply = if required || if_zero {
                    quote!(if #zero { #missing } else { #checks })
                } else {
                    quote!(#checks)
                };
                quote! {
                    let d = ::core::default::Default::default();
                    let v = self.#ident.as_ref().unwrap_or(&d);
                    #apply
                }
            }
            Label::Optional => quote! {
                match &self.#ident {
                    ::core::option::Option::Some(v) => { #on_value #recurse }
                    ::core::option::Option::None => { #missing }
                }
            },
            Label::Required => quote! {
                let v = &self.#ident;
                #on_value
                #recurse
            },
            _ => {
                // Implicit presence: the zero value means "not set".
                let apply = if required || if_zero {
                    quote!(if #zero { #missing } else { #checks })
                } else {
                    quote!(#checks)
                };
                quote! {
                    let v = &self.#ident;
                    #apply
                }
            }
        }
    }

    fn recurse(&self, kind: &Kind, v: &TokenStream, at: &TokenStream) -> TokenStream {
        match kind {
            Kind::Message(m) if self.cx.schema.message(m).is_some() => {
                let rt = &self.rt;
                quote!(#rt::validate::Validate::validate_into(#v, cx, #at)?;)
            }
            _ => quote!(),
        }
    }

    fn repeated(
        &self,
        field: &Field,
        kind: &Kind,
        rules: &Rules<'_>,
        at: &TokenStream,
    ) -> TokenStream {
        let rt = &self.rt;
        let ident = rust_ident(&field.rust_name);
        let mut checks = Vec::new();
        let path =
            |name: &str| rules::resolve_field_rule(&format!("repeated.{name}")).unwrap_or_default();
        if let Some(RuleValue::Uint(n)) = rules.get("repeated.min_items") {
            let n = *n as usize;
            let v = self.violation(
                at,
                &path("min_items"),
                "repeated.min_items",
                &format!("value must contain at least {n} item(s)"),
                false,
            );
            checks.push(quote!(if list.len() < #n { #v }));
        }
        if let Some(RuleValue::Uint(n)) = rules.get("repeated.max_items") {
            let n = *n as usize;
            let v = self.violation(
                at,
                &path("max_items"),
                "repeated.max_items",
                &format!("value must contain no more than {n} item(s)"),
                false,
            );
            checks.push(quote!(if list.len() > #n { #v }));
        }
        if rules.flag("repeated.unique")
            && !matches!(
                kind,
                Kind::Message(_)
                    | Kind::Any
                    | Kind::FieldMask
                    | Kind::Duration
                    | Kind::Timestamp
                    | Kind::Wrapper(_)
            )
        {
            let v = self.violation(
                at,
                &path("unique"),
                "repeated.unique",
                "repeated value must contain unique items",
                false,
            );
            checks.push(quote!(if !#rt::validate::support::is_unique(list) { #v }));
        }
        let items = rules.sub("repeated.items");
        let item_prefix = path("items");
        let item_checks = self.item_checks(
            &field.ty,
            kind,
            &items,
            &item_prefix,
            &quote!(::core::option::Option::Some(&item)),
            false,
        );
        let recurse = if items.ignore() == IGNORE_ALWAYS {
            quote!()
        } else {
            self.recurse(
                kind,
                &quote!(v),
                &quote!(::core::option::Option::Some(&item)),
            )
        };
        let per_item = if item_checks.is_empty() && recurse.is_empty() {
            quote!()
        } else {
            quote! {
                for (i, v) in list.iter().enumerate() {
                    let item = node.with_key(#rt::validate::Key::Index(i));
                    #item_checks
                    #recurse
                }
            }
        };
        let body = quote!(#(#checks)* #per_item);
        let if_zero = rules.ignore() == IGNORE_IF_ZERO_VALUE;
        if rules.flag("required") {
            let missing = self.required_violation(at);
            quote! {
                let list = &self.#ident[..];
                if list.is_empty() { #missing } else { #body }
            }
        } else if if_zero {
            quote! {
                let list = &self.#ident[..];
                if !list.is_empty() { #body }
            }
        } else {
            quote! {
                let list = &self.#ident[..];
                #body
            }
        }
    }

    /// The checks on one item of a repeated field or one key or value of a map, honoring the item rules'
    /// own `ignore`.
    fn item_checks(
        &self,
        ty: &FieldType,
        kind: &Kind,
        rules: &Rules<'_>,
        prefix: &[RuleField],
        at: &TokenStream,
        for_key: bool,
    ) -> TokenStream {
        if rules.is_empty() || rules.ignore() == IGNORE_ALWAYS {
            return quote!();
        }
        let typed = self.value_checks(kind, &quote!(v), rules, prefix, at, for_key);
        let cel = self.cel_checks(ty, &quote!(v), rules, prefix, at, for_key);
        let checks = quote!(#typed #cel);
        if checks.is_empty() {
            return quote!();
        }
        if rules.ignore() == IGNORE_IF_ZERO_VALUE {
            let zero = self.is_zero(kind, &quote!(v));
            quote!(if !(#zero) { #checks })
        } else {
            checks
        }
    }

    fn map(
        &self,
        field: &Field,
        key: Scalar,
        kind: &Kind,
        rules: &Rules<'_>,
        at: &TokenStream,
    ) -> TokenStream {
        let rt = &self.rt;
        let ident = rust_ident(&field.rust_name);
        let path =
            |name: &str| rules::resolve_field_rule(&format!("map.{name}")).unwrap_or_default();
        let mut checks = Vec::new();
        if let Some(RuleValue::Uint(n)) = rules.get("map.min_pairs") {
            let n = *n as usize;
            let v = self.violation(
                at,
                &path("min_pairs"),
                "map.min_pairs",
                &format!("map must be at least {n} entries"),
                false,
            );
            checks.push(quote!(if map.len() < #n { #v }));
        }
        if let Some(RuleValue::Uint(n)) = rules.get("map.max_pairs") {
            let n = *n as usize;
            let v = self.violation(
                at,
                &path("max_pairs"),
                "map.max_pairs",
                &format!("map must be at most {n} entries"),
                false,
            );
            checks.push(quote!(if map.len() > #n { #v }));
        }
        let entry_at = quote!(::core::option::Option::Some(&entry));
        let key_checks = {
            let checks = self.item_checks(
                &FieldType::Scalar(key),
                &Kind::Scalar(key),
                &rules.sub("map.keys"),
                &path("keys"),
                &entry_at,
                true,
            );
            if checks.is_empty() {
                quote!()
            } else {
                quote!({ let v = k; #checks })
            }
        };
        let value_checks = self.item_checks(
            &field.ty,
            kind,
            &rules.sub("map.values"),
            &path("values"),
            &entry_at,
            false,
        );
        let recurse = if rules.sub("map.values").ignore() == IGNORE_ALWAYS {
            quote!()
        } else {
            self.recurse(kind, &quote!(v), &entry_at)
        };
        let key_expr = match key {
            Scalar::String => quote!(#rt::validate::Key::String(k.as_str())),
            Scalar::Bool => quote!(#rt::validate::Key::Bool(*k)),
            Scalar::Uint32 | Scalar::Uint64 | Scalar::Fixed32 | Scalar::Fixed64 => {
                quote!(#rt::validate::Key::Uint(u64::from(*k)))
            }
            _ => quote!(#rt::validate::Key::Int(i64::from(*k))),
        };
        // The runtime walks the entries and, when one breaks a rule, reports in key order (HashMap order
        // differs run to run, and fail-fast must name the same first violation every time).
        let per_entry = if key_checks.is_empty() && value_checks.is_empty() && recurse.is_empty() {
            quote!()
        } else {
            quote! {
                cx.map_entries(map, |cx, k, v| {
                    let entry = node.with_key(#key_expr);
                    #key_checks
                    #value_checks
                    #recurse
                    ::core::ops::ControlFlow::Continue(())
                })?;
            }
        };
        let body = quote!(#(#checks)* #per_entry);
        if rules.flag("required") {
            let missing = self.required_violation(at);
            quote! {
                let map = &self.#ident;
                if map.is_empty() { #missing } else { #body }
            }
        } else if rules.ignore() == IGNORE_IF_ZERO_VALUE {
            quote! {
                let map = &self.#ident;
                if !map.is_empty() { #body }
            }
        } else {
            quote! {
                let map = &self.#ident;
                #body
            }
        }
    }

    /// Field rules written in CEL that capgen compiles (see [`crate::cel`]); others were reported by the
    /// checks and are skipped here.
    fn cel_checks(
        &self,
        ty: &FieldType,
        v: &TokenStream,
        rules: &Rules<'_>,
        prefix: &[RuleField],
        at: &TokenStream,
        for_key: bool,
    ) -> TokenStream {
        let mut path = prefix.to_vec();
        path.extend(rules::resolve_field_rule("cel").unwrap_or_default());
        self.cel_checks_at(ty, v, rules, &path, at, for_key)
    }

    /// The CEL checks of `rules.cel`, whose rule path is `path` (ending at the `cel` field).
    fn cel_checks_at(
        &self,
        ty: &FieldType,
        v: &TokenStream,
        rules: &Rules<'_>,
        path: &[RuleField],
        at: &TokenStream,
        for_key: bool,
    ) -> TokenStream {
        let Some(RuleValue::List(items)) = rules.get("cel") else {
            return quote!();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let RuleValue::Message(entries) = item else {
                continue;
            };
            let text = |name: &str| {
                entries.iter().find_map(|(n, v)| match v {
                    RuleValue::String(s) if n == name => Some(s.clone()),
                    _ => None,
                })
            };
            let (Some(expression), id) = (text("expression"), text("id").unwrap_or_default())
            else {
                continue;
            };
            let Ok(expr) = cel::parse(&expression) else {
                continue;
            };
            if cel::fits(&expr, ty, self.cx.schema).is_err() {
                continue;
            }
            let message =
                text("message").unwrap_or_else(|| format!("`{expression}` returned false"));
            let ok = self.cel_condition(ty, v, &expr);
            let fail = self.violation_at(at, path, Some(i as u64), &id, &message, for_key);
            out.push(quote!(if !(#ok) { #fail }));
        }
        quote!(#(#out)*)
    }

    fn cel_condition(&self, ty: &FieldType, v: &TokenStream, expr: &cel::Expr) -> TokenStream {
        let rt = &self.rt;
        let op = |op: cel::CmpOp| match op {
            cel::CmpOp::Eq => quote!(==),
            cel::CmpOp::Ne => quote!(!=),
            cel::CmpOp::Lt => quote!(<),
            cel::CmpOp::Le => quote!(<=),
            cel::CmpOp::Gt => quote!(>),
            cel::CmpOp::Ge => quote!(>=),
        };
        let compare =
            |value: TokenStream, ty: &FieldType, o: cel::CmpOp, literal: &cel::Literal| {
                let o = op(o);
                match (ty, literal) {
                    (_, cel::Literal::String(s)) => quote!(#value #o #s),
                    (_, cel::Literal::Bool(b)) => quote!(#value #o #b),
                    (FieldType::Scalar(Scalar::Float | Scalar::Double), cel::Literal::Int(i)) => {
                        quote!((#value as f64) #o (#i as f64))
                    }
                    (_, cel::Literal::Int(i)) => {
                        let i = i128::from(*i);
                        quote!(i128::from(#value) #o #i)
                    }
                }
            };
        match expr {
            cel::Expr::Format { format, negated } => {
                let s = quote!((&#v[..]));
                let fmt = quote!(#rt::validate::format);
                let call = match format {
                    cel::Format::Email => quote!(#fmt::is_email(#s)),
                    cel::Format::Hostname => quote!(#fmt::is_hostname(#s)),
                    cel::Format::Ip(n) => quote!(#fmt::is_ip(#s, #n)),
                    cel::Format::IpPrefix(n, strict) => quote!(#fmt::is_ip_prefix(#s, #n, #strict)),
                    cel::Format::Uri => quote!(#fmt::is_uri(#s)),
                    cel::Format::UriRef => quote!(#fmt::is_uri_ref(#s)),
                    cel::Format::HostAndPort(port) => quote!(#fmt::is_host_and_port(#s, #port)),
                };
                if *negated { quote!(!#call) } else { call }
            }
            cel::Expr::Compare {
                subject: cel::Subject::This,
                op: o,
                literal,
            } => {
                let value = match ty {
                    FieldType::Scalar(Scalar::String) => quote!((&#v[..])),
                    _ => quote!((*#v)),
                };
                compare(value, ty, *o, literal)
            }
            cel::Expr::Compare {
                subject: cel::Subject::Field(name),
                op: o,
                literal,
            } => {
                let FieldType::Message(m) = ty else {
                    return quote!(true);
                };
                let Some(field) = self.cx.schema.message(m).and_then(|m| m.field(name)) else {
                    return quote!(true);
                };
                let ident = rust_ident(&field.rust_name);
                // An unset field reads as its default, as in CEL.
                let value = match (&field.ty, &field.label) {
                    (FieldType::Scalar(Scalar::String), Label::Optional) => {
                        quote!(#v.#ident.as_deref().unwrap_or(""))
                    }
                    (FieldType::Scalar(Scalar::String), _) => quote!((&#v.#ident[..])),
                    (_, Label::Optional) => quote!(#v.#ident.unwrap_or_default()),
                    _ => quote!(#v.#ident),
                };
                compare(value, &field.ty, *o, literal)
            }
        }
    }

    /// Whether the value `v` (a reference) is the zero value of its kind.
    fn is_zero(&self, kind: &Kind, v: &TokenStream) -> TokenStream {
        match kind {
            Kind::Scalar(Scalar::String | Scalar::Bytes) => quote!(#v.is_empty()),
            Kind::Scalar(Scalar::Bool) => quote!(!*#v),
            Kind::Scalar(Scalar::Float | Scalar::Double) => quote!(*#v == 0.0),
            Kind::Scalar(_) | Kind::Enum(_) => quote!(*#v == 0),
            _ => quote!(*#v == ::core::default::Default::default()),
        }
    }

    /// The typed rules (`string.*`, `int32.*`, …) applied to the value `v` (a reference).
    fn value_checks(
        &self,
        kind: &Kind,
        v: &TokenStream,
        rules: &Rules<'_>,
        prefix: &[RuleField],
        at: &TokenStream,
        for_key: bool,
    ) -> TokenStream {
        let Some(member) = rules_member(kind) else {
            return quote!();
        };
        let typed = rules.sub(member);
        if typed.is_empty() {
            return quote!();
        }
        let mut path = prefix.to_vec();
        path.extend(rules::resolve_field_rule(member).unwrap_or_default());
        let g = Gen {
            e: self,
            path,
            member,
            at: at.clone(),
            for_key,
        };
        match kind {
            Kind::Scalar(s) => g.scalar(*s, v, &typed),
            Kind::Wrapper(s) => g.scalar(*s, &quote!((&#v.value)), &typed),
            Kind::Enum(name) => g.enumeration(name, v, &typed),
            Kind::Duration | Kind::Timestamp => g.time(kind == &Kind::Timestamp, v, &typed),
            Kind::Any => g.any(v, &typed),
            Kind::FieldMask => g.field_mask(v, &typed),
            Kind::Message(_) => quote!(),
        }
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
                    out.push(quote!(if *#v != #c { #f }));
                }
                quote!(#(#out)*)
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

    fn number(&self, s: Scalar, v: &TokenStream, r: &Rules<'_>) -> TokenStream {
        let lit = |value: &RuleValue| Self::literal(s, value);
        let mut out = Vec::new();
        let val = quote!((*#v));
        if let Some(c) = r.get("const").and_then(lit) {
            let f = self.fail(
                "const",
                "const",
                &format!(
                    "value must equal {}",
                    Self::show(r.get("const").unwrap_or(&RuleValue::Int(0)))
                ),
            );
            out.push(quote!(if !(#val == #c) { #f }));
        }
        out.push(self.range(&val, r, &lit));
        self.in_not_in(&mut out, &val, r, &lit);
        if r.flag("finite") && matches!(s, Scalar::Float | Scalar::Double) {
            let f = self.fail("finite", "finite", "value must be finite");
            out.push(quote!(if !#val.is_finite() { #f }));
        }
        quote!(#(#out)*)
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

    /// lt / lte / gt / gte and their combinations, with protovalidate's rule ids (`gt_lt`,
    /// `gte_lte_exclusive`, …). Comparisons are negated so that NaN fails every bound.
    fn range(
        &self,
        val: &TokenStream,
        r: &Rules<'_>,
        lit: &dyn Fn(&RuleValue) -> Option<TokenStream>,
    ) -> TokenStream {
        let lower = ["gt", "gte"]
            .into_iter()
            .find_map(|n| r.get(n).and_then(|v| lit(v).map(|l| (n, v, l))));
        let upper = ["lt", "lte"]
            .into_iter()
            .find_map(|n| r.get(n).and_then(|v| lit(v).map(|l| (n, v, l))));
        let op = |n: &str, l: &TokenStream| match n {
            "gt" => quote!(#val > #l),
            "gte" => quote!(#val >= #l),
            "lt" => quote!(#val < #l),
            _ => quote!(#val <= #l),
        };
        let words = |n: &str| match n {
            "gt" => "greater than",
            "gte" => "greater than or equal to",
            "lt" => "less than",
            _ => "less than or equal to",
        };
        match (lower, upper) {
            (None, None) => quote!(),
            (Some((n, rv, l)), None) | (None, Some((n, rv, l))) => {
                let cond = op(n, &l);
                let f = self.fail(
                    n,
                    n,
                    &format!("value must be {} {}", words(n), Self::show(rv)),
                );
                quote!(if !(#cond) { #f })
            }
            (Some((ln, lv, ll)), Some((un, uv, ul))) => {
                let lc = op(ln, &ll);
                let uc = op(un, &ul);
                // Exclusive when the upper bound is not above the lower one: the value lies outside.
                // protovalidate: the range is exclusive when the upper bound is below the lower one.
                let exclusive = match (value_f64(uv), value_f64(lv)) {
                    (Some(u), Some(l)) => u < l,
                    _ => false,
                };
                let exclusive = exclusive || time_exclusive(uv, lv);
                let base = format!("{ln}_{un}");
                if exclusive {
                    let f = self.fail(
                        ln,
                        &format!("{base}_exclusive"),
                        &format!(
                            "value must be {} {} or {} {}",
                            words(un),
                            Self::show(uv),
                            words(ln),
                            Self::show(lv)
                        ),
                    );
                    quote!(if !(#lc || #uc) { #f })
                } else {
                    let f = self.fail(
                        ln,
                        &base,
                        &format!(
                            "value must be {} {} and {} {}",
                            words(ln),
                            Self::show(lv),
                            words(un),
                            Self::show(uv)
                        ),
                    );
                    quote!(if !(#lc && #uc) { #f })
                }
            }
        }
    }

    fn string(&self, v: &TokenStream, r: &Rules<'_>) -> TokenStream {
        let rt = &self.e.rt;
        let s = quote!((&#v[..]));
        let mut out = Vec::new();
        let str_lit = |value: &RuleValue| match value {
            RuleValue::String(s) => Some(quote!(#s)),
            _ => None,
        };
        if let Some(RuleValue::String(c)) = r.get("const") {
            let f = self.fail("const", "const", &format!("value must equal `{c}`"));
            out.push(quote!(if #s != #c { #f }));
        }
        let chars = quote!(#rt::validate::support::char_len(#s));
        for (name, cmp, words) in [
            ("len", quote!(!=), "exactly"),
            ("min_len", quote!(<), "at least"),
            ("max_len", quote!(>), "at most"),
        ] {
            if let Some(RuleValue::Uint(n)) = r.get(name) {
                let n = *n as usize;
                let f = self.fail(
                    name,
                    name,
                    &format!("value length must be {words} {n} characters"),
                );
                // A string has at most as many code points as bytes, and at least a quarter as many:
                // decide from the byte length when it settles the question, count otherwise.
                let cond = match name {
                    "min_len" => quote!(#s.len() < #n || #chars < #n),
                    "max_len" => quote!(#s.len() > #n && #chars > #n),
                    _ => quote!(#s.len() < #n || #chars #cmp #n),
                };
                out.push(quote!(if #cond { #f }));
            }
        }
        for (name, cmp, words) in [
            ("len_bytes", quote!(!=), "exactly"),
            ("min_bytes", quote!(<), "at least"),
            ("max_bytes", quote!(>), "at most"),
        ] {
            if let Some(RuleValue::Uint(n)) = r.get(name) {
                let n = *n as usize;
                let f = self.fail(
                    name,
                    name,
                    &format!("value length must be {words} {n} bytes"),
                );
                out.push(quote!(if #s.len() #cmp #n { #f }));
            }
        }
        if let Some(RuleValue::String(p)) = r.get("pattern") {
            let f = self.fail(
                "pattern",
                "pattern",
                &format!("value does not match regex pattern `{p}`"),
            );
            out.push(quote! {{
                static RE: ::std::sync::LazyLock<#rt::validate::support::regex::Regex> =
                    ::std::sync::LazyLock::new(|| #rt::validate::support::regex::Regex::new(#p).expect("checked by capgen"));
                if !RE.is_match(#s) { #f }
            }});
        }
        for (name, method, words) in [
            ("prefix", quote!(starts_with), "have prefix"),
            ("suffix", quote!(ends_with), "have suffix"),
            ("contains", quote!(contains), "contain substring"),
        ] {
            if let Some(RuleValue::String(p)) = r.get(name) {
                let f = self.fail(name, name, &format!("value does not {words} `{p}`"));
                out.push(quote!(if !#s.#method(#p) { #f }));
            }
        }
        if let Some(RuleValue::String(p)) = r.get("not_contains") {
            let f = self.fail(
                "not_contains",
                "not_contains",
                &format!("value contains substring `{p}`"),
            );
            out.push(quote!(if #s.contains(#p) { #f }));
        }
        self.in_not_in(&mut out, &s, r, &str_lit);
        let fmt = quote!(#rt::validate::format);
        let formats: [(&str, TokenStream, &str); 17] = [
            (
                "email",
                quote!(#fmt::is_email(#s)),
                "value must be a valid email address",
            ),
            (
                "hostname",
                quote!(#fmt::is_hostname(#s)),
                "value must be a valid hostname",
            ),
            (
                "ip",
                quote!(#fmt::is_ip(#s, 0)),
                "value must be a valid IP address",
            ),
            (
                "ipv4",
                quote!(#fmt::is_ip(#s, 4)),
                "value must be a valid IPv4 address",
            ),
            (
                "ipv6",
                quote!(#fmt::is_ip(#s, 6)),
                "value must be a valid IPv6 address",
            ),
            ("uri", quote!(#fmt::is_uri(#s)), "value must be a valid URI"),
            (
                "uri_ref",
                quote!(#fmt::is_uri_ref(#s)),
                "value must be a valid URI Reference",
            ),
            (
                "address",
                quote!((#fmt::is_hostname(#s) || #fmt::is_ip(#s, 0))),
                "value must be a valid hostname, or ip address",
            ),
            (
                "uuid",
                quote!(#fmt::is_uuid(#s)),
                "value must be a valid UUID",
            ),
            (
                "tuuid",
                quote!(#fmt::is_tuuid(#s)),
                "value must be a valid trimmed UUID",
            ),
            (
                "ip_with_prefixlen",
                quote!(#fmt::is_ip_prefix(#s, 0, false)),
                "value must be a valid IP prefix",
            ),
            (
                "ipv4_with_prefixlen",
                quote!(#fmt::is_ip_prefix(#s, 4, false)),
                "value must be a valid IPv4 address with prefix length",
            ),
            (
                "ipv6_with_prefixlen",
                quote!(#fmt::is_ip_prefix(#s, 6, false)),
                "value must be a valid IPv6 address with prefix length",
            ),
            (
                "ip_prefix",
                quote!(#fmt::is_ip_prefix(#s, 0, true)),
                "value must be a valid IP prefix",
            ),
            (
                "ipv4_prefix",
                quote!(#fmt::is_ip_prefix(#s, 4, true)),
                "value must be a valid IPv4 prefix",
            ),
            (
                "ipv6_prefix",
                quote!(#fmt::is_ip_prefix(#s, 6, true)),
                "value must be a valid IPv6 prefix",
            ),
            (
                "host_and_port",
                quote!(#fmt::is_host_and_port(#s, true)),
                "value must be a valid host (hostname or IP address) and port pair",
            ),
        ];
        for (name, ok, message) in &formats {
            if !r.flag(name) {
                continue;
            }
            let fail = self.fail(name, name, message);
            if *name == "uri_ref" {
                out.push(quote!(if !#ok { #fail }));
                continue;
            }
            let empty = self.fail(
                name,
                &format!("{name}_empty"),
                &format!("{message} (value is empty)"),
            );
            out.push(quote!(if #s.is_empty() { #empty } else if !#ok { #fail }));
        }
        if let Some(RuleValue::Enum(n)) = r.get("well_known_regex") {
            let strict = !matches!(r.get("strict"), Some(RuleValue::Bool(false)));
            match n {
                1 => {
                    let fail = self.fail(
                        "well_known_regex",
                        "well_known_regex.header_name",
                        "value must be a valid HTTP header name",
                    );
                    let empty = self.fail(
                        "well_known_regex",
                        "well_known_regex.header_name_empty",
                        "value must be a valid HTTP header name (value is empty)",
                    );
                    out.push(quote!(if #s.is_empty() { #empty } else if !#fmt::is_http_header_name(#s, #strict) { #fail }));
                }
                2 => {
                    let fail = self.fail(
                        "well_known_regex",
                        "well_known_regex.header_value",
                        "value must be a valid HTTP header value",
                    );
                    out.push(quote!(if !#fmt::is_http_header_value(#s, #strict) { #fail }));
                }
                _ => {}
            }
        }
        quote!(#(#out)*)
    }

    fn bytes(&self, v: &TokenStream, r: &Rules<'_>) -> TokenStream {
        let rt = &self.e.rt;
        let b = quote!((&#v[..]));
        let mut out = Vec::new();
        let bytes_lit = |value: &RuleValue| match value {
            RuleValue::Bytes(bytes) => {
                let l = Literal::byte_string(bytes);
                Some(quote!(&#l[..]))
            }
            _ => None,
        };
        if let Some(c) = r.get("const").and_then(bytes_lit) {
            let f = self.fail("const", "const", "value must equal the expected bytes");
            out.push(quote!(if #b != #c { #f }));
        }
        for (name, cmp, words) in [
            ("len", quote!(!=), "exactly"),
            ("min_len", quote!(<), "at least"),
            ("max_len", quote!(>), "at most"),
        ] {
            if let Some(RuleValue::Uint(n)) = r.get(name) {
                let n = *n as usize;
                let f = self.fail(
                    name,
                    name,
                    &format!("value length must be {words} {n} bytes"),
                );
                out.push(quote!(if #b.len() #cmp #n { #f }));
            }
        }
        if let Some(RuleValue::String(p)) = r.get("pattern") {
            let f = self.fail(
                "pattern",
                "pattern",
                &format!("value must match regex pattern `{p}`"),
            );
            out.push(quote! {{
                static RE: ::std::sync::LazyLock<#rt::validate::support::regex::bytes::Regex> =
                    ::std::sync::LazyLock::new(|| #rt::validate::support::regex::bytes::Regex::new(#p).expect("checked by capgen"));
                if !RE.is_match(#b) { #f }
            }});
        }
        if let Some(p) = r.get("prefix").and_then(bytes_lit) {
            let f = self.fail(
                "prefix",
                "prefix",
                "value does not have the expected prefix",
            );
            out.push(quote!(if !#b.starts_with(#p) { #f }));
        }
        if let Some(p) = r.get("suffix").and_then(bytes_lit) {
            let f = self.fail(
                "suffix",
                "suffix",
                "value does not have the expected suffix",
            );
            out.push(quote!(if !#b.ends_with(#p) { #f }));
        }
        if let Some(p) = r.get("contains").and_then(bytes_lit) {
            let f = self.fail(
                "contains",
                "contains",
                "value does not contain the expected bytes",
            );
            out.push(quote! {{
                let needle: &[u8] = #p;
                if !needle.is_empty() && !#b.windows(needle.len()).any(|w| w == needle) { #f }
            }});
        }
        self.in_not_in(&mut out, &b, r, &bytes_lit);
        for (name, cond, message) in [
            (
                "ip",
                quote!(#b.len() == 4 || #b.len() == 16),
                "value must be a valid IP address",
            ),
            (
                "ipv4",
                quote!(#b.len() == 4),
                "value must be a valid IPv4 address",
            ),
            (
                "ipv6",
                quote!(#b.len() == 16),
                "value must be a valid IPv6 address",
            ),
        ] {
            if r.flag(name) {
                let fail = self.fail(name, name, message);
                let empty = self.fail(
                    name,
                    &format!("{name}_empty"),
                    &format!("{message} (value is empty)"),
                );
                out.push(quote!(if #b.is_empty() { #empty } else if !(#cond) { #fail }));
            }
        }
        quote!(#(#out)*)
    }

    fn enumeration(&self, name: &str, v: &TokenStream, r: &Rules<'_>) -> TokenStream {
        let val = quote!((*#v));
        let mut out = Vec::new();
        let lit = |value: &RuleValue| Self::literal(Scalar::Int32, value);
        if let Some(c) = r.get("const").and_then(lit) {
            let f = self.fail(
                "const",
                "const",
                &format!(
                    "value must equal {}",
                    Self::show(r.get("const").unwrap_or(&RuleValue::Int(0)))
                ),
            );
            out.push(quote!(if #val != #c { #f }));
        }
        if r.flag("defined_only") {
            let f = self.fail(
                "defined_only",
                "defined_only",
                "value must be one of the defined enum values",
            );
            let defined = match self.e.cx.enum_values.get(name) {
                Some(values) => quote!([#(#values),*].contains(&#val)),
                // The derive names the enum by its Rust path and cannot see its numbers: ask the prost enum,
                // whose `TryFrom<i32>` accepts exactly the defined ones.
                None => {
                    let ty = rust_path(name);
                    quote!(<#ty as ::core::convert::TryFrom<i32>>::try_from(#val).is_ok())
                }
            };
            out.push(quote!(if !#defined { #f }));
        }
        self.in_not_in(&mut out, &val, r, &lit);
        quote!(#(#out)*)
    }

    fn time(&self, timestamp: bool, v: &TokenStream, r: &Rules<'_>) -> TokenStream {
        let rt = &self.e.rt;
        let val = quote!((#v.seconds, #v.nanos));
        let lit = |value: &RuleValue| match value {
            RuleValue::Time { seconds, nanos } => Some(quote!((#seconds, #nanos))),
            _ => None,
        };
        let mut out = Vec::new();
        if let Some(c) = r.get("const").and_then(lit) {
            let f = self.fail(
                "const",
                "const",
                &format!(
                    "value must equal {}",
                    Self::show(r.get("const").unwrap_or(&RuleValue::Int(0)))
                ),
            );
            out.push(quote!(if #val != #c { #f }));
        }
        out.push(self.range(&val, r, &lit));
        self.in_not_in(&mut out, &val, r, &lit);
        if timestamp {
            let now = quote!(#rt::validate::support::now());
            if r.flag("lt_now") {
                let f = self.fail("lt_now", "lt_now", "value must be less than now");
                out.push(quote!(if !(#val < #now) { #f }));
            }
            if r.flag("gt_now") {
                let f = self.fail("gt_now", "gt_now", "value must be greater than now");
                out.push(quote!(if !(#val > #now) { #f }));
            }
            if let Some(RuleValue::Time { seconds, nanos }) = r.get("within") {
                let f = self.fail(
                    "within",
                    "within",
                    &format!(
                        "value must be within {} of now",
                        Self::show(r.get("within").unwrap_or(&RuleValue::Int(0)))
                    ),
                );
                out.push(quote! {{
                    let now = #now;
                    let lo = #rt::validate::support::time_add(now, (#seconds, #nanos), -1);
                    let hi = #rt::validate::support::time_add(now, (#seconds, #nanos), 1);
                    if !(#val >= lo && #val <= hi) { #f }
                }});
            }
        }
        quote!(#(#out)*)
    }

    fn any(&self, v: &TokenStream, r: &Rules<'_>) -> TokenStream {
        let url = quote!(#v.type_url.as_str());
        let mut out = Vec::new();
        let str_lit = |value: &RuleValue| match value {
            RuleValue::String(s) => Some(quote!(#s)),
            _ => None,
        };
        self.in_not_in(&mut out, &url, r, &str_lit);
        quote!(#(#out)*)
    }

    /// `field_mask.const`, `field_mask.in`, `field_mask.not_in` on the mask's paths (upstream semantics: a
    /// path below a listed one, `a.b` below `a`, counts as listed for `in` and `not_in`).
    fn field_mask(&self, v: &TokenStream, r: &Rules<'_>) -> TokenStream {
        let support = {
            let rt = &self.e.rt;
            quote!(#rt::validate::support)
        };
        let paths = quote!((&#v.paths[..]));
        let strings = |value: Option<&RuleValue>| -> Option<Vec<String>> {
            match value? {
                RuleValue::List(items) => Some(
                    items
                        .iter()
                        .filter_map(|i| match i {
                            RuleValue::String(s) => Some(s.clone()),
                            _ => None,
                        })
                        .collect(),
                ),
                _ => None,
            }
        };
        let mut out = Vec::new();
        for (rule, test, message) in [
            ("const", quote!(field_mask_equals), "value must equal paths"),
            (
                "in",
                quote!(field_mask_in),
                "value must only contain paths in",
            ),
            (
                "not_in",
                quote!(field_mask_not_in),
                "value must not contain any paths in",
            ),
        ] {
            let Some(list) = strings(r.get(rule)) else {
                continue;
            };
            let f = self.fail(rule, rule, &format!("{message} [{}]", list.join(", ")));
            out.push(quote!(if !#support::#test(#paths, &[#(#list),*]) { #f }));
        }
        quote!(#(#out)*)
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

/// A numeric rule value, ordered exactly (integers as i128, floats as f64).
#[derive(PartialEq, PartialOrd)]
enum Num {
    Int(i128),
    Float(f64),
}

fn value_f64(v: &RuleValue) -> Option<Num> {
    match v {
        RuleValue::Float(f) => Some(Num::Float(*f)),
        RuleValue::Int(i) => Some(Num::Int(i128::from(*i))),
        RuleValue::Uint(u) => Some(Num::Int(i128::from(*u))),
        _ => None,
    }
}

/// Exclusive ranges of Duration and Timestamp bounds, compared as (seconds, nanos).
fn time_exclusive(uv: &RuleValue, lv: &RuleValue) -> bool {
    match (uv, lv) {
        (
            RuleValue::Time {
                seconds: us,
                nanos: un,
            },
            RuleValue::Time {
                seconds: ls,
                nanos: ln,
            },
        ) => (*us, *un) < (*ls, *ln),
        _ => false,
    }
}
