//! `capacitor::migrations!`: sqlx's migration embedding, reached through the runtime's re-export of sqlx.
//!
//! sqlx's own `migrate!` expands to `::sqlx::migrate::Migrator { … }`, which only resolves in a crate that
//! depends on `sqlx` itself. This macro runs the same expansion (sqlx-macros-core, so file naming, checksums,
//! `-- no-transaction` and the `include_str!` that rebuilds on an edited file are sqlx's) and re-roots every
//! `::sqlx` path at the runtime crate the caller names, so a user crate needs no sqlx dependency of its own.

use proc_macro2::{Group, Punct, Spacing, TokenStream, TokenTree};
use syn::LitStr;

/// Expands `<runtime path>, "dir"` (the runtime's `migrations!` passes `$crate`) into a `Migrator`.
pub fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let tokens: Vec<TokenTree> = input.into_iter().collect();
    let comma = tokens
        .iter()
        .rposition(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ','))
        .ok_or_else(|| {
            syn::Error::new(
                proc_macro2::Span::call_site(),
                "expected `runtime path, \"migrations/dir\"`",
            )
        })?;
    let runtime: TokenStream = tokens[..comma].iter().cloned().collect();
    let dir: LitStr = syn::parse2(tokens[comma + 1..].iter().cloned().collect())?;
    let migrator = sqlx_macros_core::migrate::expand_migrator_from_lit_dir(dir.clone())
        .map_err(|e| syn::Error::new(dir.span(), e.to_string()))?;
    Ok(reroot_sqlx(migrator, &runtime))
}

/// Replaces each `::sqlx` with `<runtime>::__private::sqlx`, inside groups too.
fn reroot_sqlx(tokens: TokenStream, runtime: &TokenStream) -> TokenStream {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = TokenStream::new();
    let mut i = 0;
    while i < tokens.len() {
        let is_sqlx_root = matches!(
            (&tokens[i], tokens.get(i + 1), tokens.get(i + 2)),
            (TokenTree::Punct(a), Some(TokenTree::Punct(b)), Some(TokenTree::Ident(name)))
                if a.as_char() == ':' && a.spacing() == Spacing::Joint && b.as_char() == ':' && name == "sqlx"
        );
        if is_sqlx_root {
            out.extend(runtime.clone());
            out.extend(path_sep());
            out.extend([TokenTree::Ident(proc_macro2::Ident::new(
                "__private",
                proc_macro2::Span::call_site(),
            ))]);
            out.extend(path_sep());
            out.extend([tokens[i + 2].clone()]);
            i += 3;
            continue;
        }
        match &tokens[i] {
            TokenTree::Group(group) => {
                let mut rerooted =
                    Group::new(group.delimiter(), reroot_sqlx(group.stream(), runtime));
                rerooted.set_span(group.span());
                out.extend([TokenTree::Group(rerooted)]);
            }
            other => out.extend([other.clone()]),
        }
        i += 1;
    }
    out
}

fn path_sep() -> [TokenTree; 2] {
    [
        TokenTree::Punct(Punct::new(':', Spacing::Joint)),
        TokenTree::Punct(Punct::new(':', Spacing::Alone)),
    ]
}
