//! `string.*` rules: lengths, pattern, affixes, and the well-known formats (email, hostname, IP, URI, …).

use super::{Gen, Rules, bound};
use crate::ir::RuleValue;
use proc_macro2::TokenStream;
use quote::quote;

impl Gen<'_> {
    pub(super) fn string(&self, v: &TokenStream, r: &Rules<'_>) -> TokenStream {
        let rt = &self.e.rt;
        let s = quote!(s);
        let mut out = Vec::new();
        let str_lit = |value: &RuleValue| match value {
            RuleValue::String(s) => Some(quote!(#s)),
            _ => None,
        };
        if let Some(RuleValue::String(c)) = r.get("const") {
            let f = self.fail("const", "const", &format!("value must equal `{c}`"));
            if c.is_empty() {
                out.push(quote!(if !#s.is_empty() { #f }));
            } else {
                out.push(quote!(if #s != #c { #f }));
            }
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
        self.byte_lengths(&mut out, &s, r, ["len_bytes", "min_bytes", "max_bytes"]);
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
        let formats: [(&str, TokenStream, &str); 20] = [
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
                "ulid",
                quote!(#fmt::is_ulid(#s)),
                "value must be a valid ULID",
            ),
            (
                "protobuf_fqn",
                quote!(#fmt::is_protobuf_fqn(#s, false)),
                "value must be a valid fully-qualified Protobuf name",
            ),
            (
                "protobuf_dot_fqn",
                quote!(#fmt::is_protobuf_fqn(#s, true)),
                "value must be a valid fully-qualified Protobuf name with a leading dot",
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
            if *name == "uri_ref" {
                // An empty string is a valid relative reference: no `uri_ref_empty`.
                let fail = self.fail(name, name, message);
                out.push(quote!(if !#ok { #fail }));
            } else {
                out.push(self.format_rule(&s, name, name, message, ok));
            }
        }
        if let Some(RuleValue::Enum(n)) = r.get("well_known_regex") {
            let strict = !matches!(r.get("strict"), Some(RuleValue::Bool(false)));
            match n {
                1 => {
                    out.push(self.format_rule(
                        &s,
                        "well_known_regex",
                        "well_known_regex.header_name",
                        "value must be a valid HTTP header name",
                        &quote!(#fmt::is_http_header_name(#s, #strict)),
                    ));
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
        bound("s", &quote!(&#v[..]), &out)
    }
}
