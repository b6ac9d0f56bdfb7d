//! `enum.*` rules: `const`, `defined_only`, `in` / `not_in`.

use super::{Gen, Rules, bound, rust_path};
use crate::ir::{RuleValue, Scalar};
use proc_macro2::TokenStream;
use quote::quote;

impl Gen<'_> {
    pub(super) fn enumeration(&self, name: &str, v: &TokenStream, r: &Rules<'_>) -> TokenStream {
        let val = quote!(val);
        let mut out = Vec::new();
        let lit = |value: &RuleValue| Self::literal(Scalar::Int32, value);
        self.equal_const(&mut out, &val, r, &lit);
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
        bound("val", &quote!(*#v), &out)
    }
}
