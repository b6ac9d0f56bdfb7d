//! Field rules written in CEL that capgen compiles to Rust (see [`crate::cel`]).

use super::{Emitter, Rules, rust_ident};
use crate::cel;
use crate::ir::{FieldType, Label, RuleValue, Scalar};
use crate::rules::{self, RuleField};
use proc_macro2::TokenStream;
use quote::quote;

impl Emitter<'_> {
    /// Field rules written in CEL that capgen compiles (see [`crate::cel`]); others were reported by the
    /// checks and are skipped here.
    pub(super) fn cel_checks(
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
    pub(super) fn cel_checks_at(
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

    pub(super) fn cel_condition(
        &self,
        ty: &FieldType,
        v: &TokenStream,
        expr: &cel::Expr,
    ) -> TokenStream {
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
                let s = quote!(&#v[..]);
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
                    // Unary `&` and `*` bind tighter than the comparison and `as` they end up in.
                    FieldType::Scalar(Scalar::String) => quote!(&#v[..]),
                    _ => quote!(*#v),
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
}
