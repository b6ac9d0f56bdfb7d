//! The walk over a message: its fields (singular, repeated, map), its oneofs and message-level rules,
//! down to the typed checks of each value.

use super::{
    Emitter, Gen, IGNORE_ALWAYS, IGNORE_IF_ZERO_VALUE, Kind, Rules, bind_if_read, bound,
    descriptor_type, kind_of, mentions, pattern, rules_member, rust_ident, rust_path,
};
use crate::cel::Binding;
use crate::ir::{Field, FieldType, Label, Oneof, RuleValue, Scalar};
use crate::rules::{self, RuleField};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

impl Emitter<'_> {
    /// `(buf.validate.message).oneof`: at most one (exactly one when required) of the listed fields is set.
    pub(super) fn message_oneof_rules(&self) -> TokenStream {
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
            let counts: Vec<TokenStream> = names
                .iter()
                .filter_map(|n| self.message.field(n))
                .map(|f| {
                    let set = self.is_set(f);
                    quote!(usize::from(#set))
                })
                .collect();
            let sum = if counts.is_empty() {
                quote!(0)
            } else {
                quote!(#(#counts)+*)
            };
            let id = "message.oneof";
            let many = format!("only one of {} can be set", names.join(", "));
            let none = format!("one of {} must be set", names.join(", "));
            let at = quote!(parent);
            let many = self.violation(&at, &[], id, &many, false);
            let none = if required {
                let none = self.violation(&at, &[], id, &none, false);
                quote!(if set == 0 { #none })
            } else {
                quote!()
            };
            out.push(quote! {{
                let set: usize = #sum;
                if set > 1 { #many }
                #none
            }});
        }
        quote!(#(#out)*)
    }

    pub(super) fn in_message_oneof(&self, field: &Field) -> bool {
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
    pub(super) fn message_cel_rules(&self) -> TokenStream {
        let rules = Rules::of(&self.message.rules);
        if rules.get("cel").is_none() && rules.get("cel_expression").is_none() {
            return quote!();
        }
        let ty = FieldType::Message(self.message.full_name.clone());
        let checks = self.cel_checks(
            Binding::Value(ty),
            &quote!(v),
            &rules,
            "MessageRules",
            &[],
            &quote!(parent),
            false,
        );
        let v = bind_if_read("v", &quote!(self), &checks);
        quote! {{
            #v
            #checks
        }}
    }

    /// Whether a field is populated, as an expression on `self`.
    pub(super) fn is_set(&self, field: &Field) -> TokenStream {
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
                let set = self.is_nonzero(&kind_of(&field.ty), &quote!(v));
                quote!(self.#ident.as_ref().is_some_and(|v| #set))
            }
            Label::Optional => quote!(self.#ident.is_some()),
            Label::Implicit => {
                let set = self.is_nonzero(&kind_of(&field.ty), &quote!(v));
                quote!({
                    let v = &self.#ident;
                    #set
                })
            }
        }
    }

    pub(super) fn lowered_implicit(&self, field: &Field) -> bool {
        self.cx
            .implicit_presence
            .contains(&format!("{}.{}", self.message.full_name, field.name))
    }

    /// `(buf.validate.oneof).required`.
    pub(super) fn oneof_rules(&self, oneof: &Oneof) -> TokenStream {
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

    pub(super) fn field_segment(&self, field: &Field) -> TokenStream {
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

    pub(super) fn field(&self, field: &Field) -> TokenStream {
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
        let segment = self.field_segment(field);
        let at = quote!(::core::option::Option::Some(&node));
        let body = match &field.label {
            Label::Repeated => self.repeated(field, &kind, &rules, &at),
            Label::Map { key } => self.map(field, *key, &kind, &rules, &at),
            _ => self.singular(field, &kind, &rules, &at),
        };
        if body.is_empty() {
            return quote!();
        }
        if !mentions(&body, "node") {
            return quote!({ #body });
        }
        quote! {{
            static F: #rt::validate::Segment = #segment;
            let node = #rt::validate::PathNode::new(parent, &F);
            #body
        }}
    }

    pub(super) fn required_violation(&self, at: &TokenStream) -> TokenStream {
        let rule = rules::resolve_field_rule("required").unwrap_or_default();
        self.violation(at, &rule, "required", "value is required", false)
    }

    pub(super) fn singular(
        &self,
        field: &Field,
        kind: &Kind,
        rules: &Rules<'_>,
        at: &TokenStream,
    ) -> TokenStream {
        let ident = rust_ident(&field.rust_name);
        let typed = self.value_checks(kind, &quote!(v), rules, &[], at, false);
        let cel = self.field_cel_checks(
            Binding::Value(field.ty.clone()),
            &quote!(v),
            rules,
            rules_member(kind),
            &[],
            at,
            false,
        );
        let checks = quote!(#typed #cel);
        let recurse = self.recurse(kind, &quote!(v), at);
        let required = rules.flag("required");
        let if_zero = rules.ignore() == IGNORE_IF_ZERO_VALUE;
        let zero = self.is_zero(kind, &quote!(v));
        let nonzero = self.is_nonzero(kind, &quote!(v));
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
            let v = pattern("v", &quote!(#on_value #recurse));
            return quote! {
                match &self.#oident {
                    ::core::option::Option::Some(#ety::#variant(#v)) => { #on_value #recurse }
                    _ => { #missing }
                }
            };
        }
        match &field.label {
            Label::Optional if self.lowered_implicit(field) => {
                // Declared implicit: `None` is the zero value, and the rules apply to it too.
                let apply = if required || if_zero {
                    zero_guard(&zero, &nonzero, &missing, &checks)
                } else {
                    quote!(#checks)
                };
                if !mentions(&apply, "v") {
                    return apply;
                }
                quote! {
                    let d = ::core::default::Default::default();
                    let v = self.#ident.as_ref().unwrap_or(&d);
                    #apply
                }
            }
            Label::Optional => {
                let v = pattern("v", &quote!(#on_value #recurse));
                quote! {
                match &self.#ident {
                    ::core::option::Option::Some(#v) => { #on_value #recurse }
                    ::core::option::Option::None => { #missing }
                }
                }
            }
            Label::Required => {
                let rest = quote!(#on_value #recurse);
                let v = bind_if_read("v", &quote!(&self.#ident), &rest);
                quote!(#v #rest)
            }
            _ => {
                // Implicit presence: the zero value means "not set".
                let apply = if required || if_zero {
                    zero_guard(&zero, &nonzero, &missing, &checks)
                } else {
                    quote!(#checks)
                };
                let v = bind_if_read("v", &quote!(&self.#ident), &apply);
                quote!(#v #apply)
            }
        }
    }

    pub(super) fn recurse(&self, kind: &Kind, v: &TokenStream, at: &TokenStream) -> TokenStream {
        match kind {
            Kind::Message(m) if self.cx.schema.message(m).is_some() => {
                let rt = &self.rt;
                quote!(#rt::validate::Validate::validate_into(#v, cx, #at)?;)
            }
            _ => quote!(),
        }
    }

    pub(super) fn repeated(
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
        self.count_bounds(
            &mut checks,
            rules,
            at,
            &quote!(list),
            [
                (
                    "repeated.min_items",
                    "value must contain at least",
                    "item(s)",
                ),
                (
                    "repeated.max_items",
                    "value must contain no more than",
                    "item(s)",
                ),
            ],
        );
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
        checks.push(self.field_cel_checks(
            Binding::List(field.ty.clone()),
            &quote!(list),
            rules,
            Some("repeated"),
            &[],
            at,
            false,
        ));
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
        let v = pattern("v", &quote!(#item_checks #recurse));
        let per_item = if item_checks.is_empty() && recurse.is_empty() {
            quote!()
        } else {
            quote! {
                for (i, #v) in list.iter().enumerate() {
                    let item = node.with_key(#rt::validate::Key::Index(i));
                    #item_checks
                    #recurse
                }
            }
        };
        let body = quote!(#(#checks)* #per_item);
        self.collection(rules, at, "list", &quote!(&self.#ident[..]), &body)
    }

    /// A repeated or map field bound as `name` (when read) around `body`, and the `required` violation when
    /// it is empty.
    fn collection(
        &self,
        rules: &Rules<'_>,
        at: &TokenStream,
        name: &str,
        value: &TokenStream,
        body: &TokenStream,
    ) -> TokenStream {
        let ident = format_ident!("{name}");
        if rules.flag("required") {
            let missing = self.required_violation(at);
            let guard = zero_guard(
                &quote!(#ident.is_empty()),
                &quote!(!#ident.is_empty()),
                &missing,
                body,
            );
            quote! {
                let #ident = #value;
                #guard
            }
        } else {
            let bind = bind_if_read(name, value, body);
            quote!(#bind #body)
        }
    }

    /// The lower and upper bound on a repeated field's items or a map's entries (`repeated.min_items`,
    /// `map.max_pairs`): each bound is (rule id, message before the number, message after it).
    ///
    /// `IGNORE_IF_ZERO_VALUE` skips an empty list or map. Of its checks only a lower bound can fail on an
    /// empty one (the others are an upper bound, `unique` and per-item checks), so the skip is a condition
    /// on that bound rather than an `if` around all of them (which, holding one check, clippy would collapse).
    fn count_bounds(
        &self,
        checks: &mut Vec<TokenStream>,
        rules: &Rules<'_>,
        at: &TokenStream,
        value: &TokenStream,
        bounds: [(&str, &str, &str); 2],
    ) {
        let skip_empty = rules.ignore() == IGNORE_IF_ZERO_VALUE && !rules.flag("required");
        for ((id, before, after), (cmp, lower)) in bounds
            .into_iter()
            .zip([(quote!(<), true), (quote!(>), false)])
        {
            if let Some(RuleValue::Uint(n)) = rules.get(id) {
                let n = *n as usize;
                let path = rules::resolve_field_rule(id).unwrap_or_default();
                let v = self.violation(at, &path, id, &format!("{before} {n} {after}"), false);
                let out_of_bounds = quote!(#value.len() #cmp #n);
                let cond = if skip_empty && lower {
                    quote!(!#value.is_empty() && #out_of_bounds)
                } else {
                    out_of_bounds
                };
                checks.push(quote!(if #cond { #v }));
            }
        }
    }

    /// The checks on one item of a repeated field or one key or value of a map, honoring the item rules'
    /// own `ignore`.
    pub(super) fn item_checks(
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
        let cel = self.field_cel_checks(
            Binding::Value(ty.clone()),
            &quote!(v),
            rules,
            rules_member(kind),
            prefix,
            at,
            for_key,
        );
        let checks = quote!(#typed #cel);
        if checks.is_empty() {
            return quote!();
        }
        if rules.ignore() == IGNORE_IF_ZERO_VALUE {
            let nonzero = self.is_nonzero(kind, &quote!(v));
            quote!(if #nonzero { #checks })
        } else {
            checks
        }
    }

    pub(super) fn map(
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
        self.count_bounds(
            &mut checks,
            rules,
            at,
            &quote!(map),
            [
                ("map.min_pairs", "map must be at least", "entries"),
                ("map.max_pairs", "map must be at most", "entries"),
            ],
        );
        checks.push(self.field_cel_checks(
            Binding::Map(key, field.ty.clone()),
            &quote!(map),
            rules,
            Some("map"),
            &[],
            at,
            false,
        ));
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
            // 64-bit keys are the key's own type: a `from` would be a conversion to itself.
            Scalar::Uint64 | Scalar::Fixed64 => quote!(#rt::validate::Key::Uint(*k)),
            Scalar::Uint32 | Scalar::Fixed32 => quote!(#rt::validate::Key::Uint(u64::from(*k))),
            Scalar::Int64 | Scalar::Sint64 | Scalar::Sfixed64 => {
                quote!(#rt::validate::Key::Int(*k))
            }
            _ => quote!(#rt::validate::Key::Int(i64::from(*k))),
        };
        // The runtime walks the entries and, when one breaks a rule, reports in key order (HashMap order
        // differs run to run, and fail-fast must name the same first violation every time).
        let k = pattern("k", &quote!(#key_checks #key_expr));
        let v = pattern("v", &quote!(#value_checks #recurse));
        let per_entry = if key_checks.is_empty() && value_checks.is_empty() && recurse.is_empty() {
            quote!()
        } else {
            quote! {
                cx.map_entries(map, |cx, #k, #v| {
                    let entry = node.with_key(#key_expr);
                    #key_checks
                    #value_checks
                    #recurse
                    ::core::ops::ControlFlow::Continue(())
                })?;
            }
        };
        let body = quote!(#(#checks)* #per_entry);
        self.collection(rules, at, "map", &quote!(&self.#ident), &body)
    }

    /// Whether the value `v` (a reference) is the zero value of its kind.
    pub(super) fn is_zero(&self, kind: &Kind, v: &TokenStream) -> TokenStream {
        match kind {
            Kind::Scalar(Scalar::String | Scalar::Bytes) => quote!(#v.is_empty()),
            Kind::Scalar(Scalar::Bool) => quote!(!*#v),
            Kind::Scalar(Scalar::Float | Scalar::Double) => quote!(*#v == 0.0),
            Kind::Scalar(_) | Kind::Enum(_) => quote!(*#v == 0),
            _ => quote!(*#v == ::core::default::Default::default()),
        }
    }

    /// The negation of [`Self::is_zero`], written out (`!v.is_empty()`, `*v != 0`) rather than as `!(…)`;
    /// `!=` is `!(==)` for floats too, so NaN is not zero either way.
    pub(super) fn is_nonzero(&self, kind: &Kind, v: &TokenStream) -> TokenStream {
        match kind {
            Kind::Scalar(Scalar::String | Scalar::Bytes) => quote!(!#v.is_empty()),
            Kind::Scalar(Scalar::Bool) => quote!(*#v),
            Kind::Scalar(Scalar::Float | Scalar::Double) => quote!(*#v != 0.0),
            Kind::Scalar(_) | Kind::Enum(_) => quote!(*#v != 0),
            _ => quote!(*#v != ::core::default::Default::default()),
        }
    }

    /// The typed rules (`string.*`, `int32.*`, …) applied to the value `v` (a reference).
    pub(super) fn value_checks(
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
            // The wrapped value is bound once so the scalar checks read `*v`, not `*(&v.value)`.
            Kind::Wrapper(s) => bound("v", &quote!(&#v.value), &[g.scalar(*s, &quote!(v), &typed)]),
            Kind::Enum(name) => g.enumeration(name, v, &typed),
            Kind::Duration | Kind::Timestamp => g.time(kind == &Kind::Timestamp, v, &typed),
            Kind::Any => g.any(v, &typed),
            Kind::FieldMask => g.field_mask(v, &typed),
            Kind::Message(_) => quote!(),
        }
    }
}

/// `if zero { missing } else { checks }` for a field that is required or skipped when zero, without the
/// empty branches clippy flags (`missing` is empty unless required, `checks` when no rule applies);
/// `nonzero` is `zero` negated.
fn zero_guard(
    zero: &TokenStream,
    nonzero: &TokenStream,
    missing: &TokenStream,
    checks: &TokenStream,
) -> TokenStream {
    match (missing.is_empty(), checks.is_empty()) {
        (true, true) => quote!(),
        (false, true) => quote!(if #zero { #missing }),
        (true, false) => quote!(if #nonzero { #checks }),
        (false, false) => quote!(if #zero { #missing } else { #checks }),
    }
}
