//! Rules of the well-known types: Duration and Timestamp bounds (and `*_now`, `within`), `any.in`,
//! `field_mask.*`.

use super::{Gen, Rules, bound};
use crate::ir::RuleValue;
use proc_macro2::TokenStream;
use quote::quote;

impl Gen<'_> {
    pub(super) fn time(&self, timestamp: bool, v: &TokenStream, r: &Rules<'_>) -> TokenStream {
        let rt = &self.e.rt;
        let val = quote!((#v.seconds, #v.nanos));
        let lit = |value: &RuleValue| match value {
            RuleValue::Time { seconds, nanos } => Some(quote!((#seconds, #nanos))),
            _ => None,
        };
        let mut out = Vec::new();
        self.equal_const(&mut out, &val, r, &lit);
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

    pub(super) fn any(&self, v: &TokenStream, r: &Rules<'_>) -> TokenStream {
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
    pub(super) fn field_mask(&self, v: &TokenStream, r: &Rules<'_>) -> TokenStream {
        let support = {
            let rt = &self.e.rt;
            quote!(#rt::validate::support)
        };
        let paths = quote!(paths);
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
        bound("paths", &quote!(&#v.paths[..]), &out)
    }
}
