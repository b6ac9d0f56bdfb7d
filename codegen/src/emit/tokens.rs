//! Small token helpers every emitter (and the CEL lowering) shares.

use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::{format_ident, quote};

/// Parses a Rust path written relative to the package module (`user_profile::Contact`, `r#type`).
pub(crate) fn rust_path(path: &str) -> TokenStream {
    syn::parse_str::<syn::Path>(path)
        .map(|p| quote!(#p))
        .unwrap_or_else(|e| panic!("IR holds an invalid Rust path `{path}`: {e}"))
}

/// The identifier of a Rust name as the IR spells it, raw prefix included (`r#type`).
pub(crate) fn rust_ident(name: &str) -> Ident {
    match name.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, Span::call_site()),
        None => Ident::new(name, Span::call_site()),
    }
}

/// Whether `tokens` read the identifier `name` anywhere (inside groups too). Bindings are emitted only when
/// the code after them reads them, so that generated code has no unused variables to allow.
pub(crate) fn mentions(tokens: &TokenStream, name: &str) -> bool {
    tokens.clone().into_iter().any(|tree| match tree {
        TokenTree::Ident(ident) => ident == name,
        TokenTree::Group(group) => mentions(&group.stream(), name),
        TokenTree::Punct(_) | TokenTree::Literal(_) => false,
    })
}

/// The pattern binding `name`: the name when `body` reads it, else `_`.
pub(crate) fn pattern(name: &str, body: &TokenStream) -> TokenStream {
    if mentions(body, name) {
        let ident = format_ident!("{name}");
        quote!(#ident)
    } else {
        quote!(_)
    }
}
