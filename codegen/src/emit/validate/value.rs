//! The typed rules of one value (`string.*`, `int32.*`, …): the emitter of their checks and the pieces
//! every type shares (a violation of one rule, `in` / `not_in`, how a rule value is shown in a message).

use super::Emitter;
use super::rule_set::Rules;
use crate::ir::{RuleValue, Scalar};
use crate::rules::{self, RuleField, RuleType};
use proc_macro2::TokenStream;
use quote::quote;

/// Emits the typed rules of one value.
pub(super) struct Gen<'a> {
    pub(super) e: &'a Emitter<'a>,
    /// The rule path down to the typed rules message (`repeated`, `items`, `string`).
    pub(super) path: Vec<RuleField>,
    pub(super) member: &'static str,
    pub(super) at: TokenStream,
    pub(super) for_key: bool,
}

impl Gen<'_> {
    pub(super) fn fail(&self, rule: &str, id_suffix: &str, message: &str) -> TokenStream {
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

    pub(super) fn scalar(&self, s: Scalar, v: &TokenStream, r: &Rules<'_>) -> TokenStream {
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
    pub(super) fn show(value: &RuleValue) -> String {
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
    /// [`Gen::show`] does.
    pub(super) fn equal_const(
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
    pub(super) fn byte_lengths(
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
    pub(super) fn format_rule(
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

    pub(super) fn in_not_in(
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

pub(super) fn r_list(value: Option<&RuleValue>) -> Vec<String> {
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
