//! `bytes.*` rules: lengths, pattern, affixes and the IP-length formats.

use super::{Gen, Rules, bound};
use crate::ir::RuleValue;
use proc_macro2::{Literal, TokenStream};
use quote::quote;

impl Gen<'_> {
    pub(super) fn bytes(&self, v: &TokenStream, r: &Rules<'_>) -> TokenStream {
        let rt = &self.e.rt;
        let b = quote!(b);
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
        self.byte_lengths(&mut out, &b, r, ["len", "min_len", "max_len"]);
        if let Some(RuleValue::String(p)) = r.get("pattern") {
            let f = self.fail(
                "pattern",
                "pattern",
                &format!("value must match regex pattern `{p}`"),
            );
            // protovalidate matches the pattern against the bytes as text: bytes that are not UTF-8 cannot be
            // matched, a runtime error.
            let at = &self.at;
            let id = format!("{}.pattern", self.member);
            out.push(quote! {
                match ::core::str::from_utf8(#b) {
                    ::core::result::Result::Ok(s) => {
                        static RE: ::std::sync::LazyLock<#rt::validate::support::regex::Regex> =
                            ::std::sync::LazyLock::new(|| #rt::validate::support::regex::Regex::new(#p).expect("checked by capgen"));
                        if !RE.is_match(s) { #f }
                    }
                    ::core::result::Result::Err(_) => {
                        cx.runtime_error(#at, #id, #rt::validate::cel::EvalError::UTF8)?;
                    }
                }
            });
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
            ("uuid", quote!(#b.len() == 16), "value must be a valid UUID"),
        ] {
            if r.flag(name) {
                out.push(self.format_rule(&b, name, name, message, &quote!((#cond))));
            }
        }
        bound("b", &quote!(&#v[..]), &out)
    }
}
