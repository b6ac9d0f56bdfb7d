//! Re-roots the crates generated code names besides the runtime — `serde`, `pbjson`, `pbjson_types`, which
//! pbjson-build's impls and the well-known types' `extern_path` name — at the runtime's re-exports
//! (`::capacitor::__private::serde`, …), so that a crate including generated code depends on `capacitor` and
//! `prost` only, and always gets the versions the runtime was built with.
//!
//! It runs once on each whole generated file rather than in each emitter because most of these paths are
//! written by prost-build and pbjson-build, which take no crate path for them.

use crate::emit::rust::RuntimePath;
use proc_macro2::{Group, TokenStream, TokenTree};
use syn::visit_mut::VisitMut;

/// The crates reached through `<runtime>::__private`.
const REEXPORTED: [&str; 3] = ["serde", "pbjson", "pbjson_types"];

/// Rewrites every path whose first segment is one of the re-exported crates to go through `runtime`.
pub fn reroot(file: &mut syn::File, runtime: &RuntimePath) {
    // A relative `serde::…` could name a module the file defines (a message `Serde` with nested types):
    // such names are left alone; `::serde::…` always names the crate.
    let mut modules = ModuleNames(Vec::new());
    syn::visit::Visit::visit_file(&mut modules, file);
    let mut rerooter = Rerooter {
        runtime,
        shadowed: modules.0,
    };
    rerooter.visit_file_mut(file);
}

struct ModuleNames(Vec<String>);

impl<'ast> syn::visit::Visit<'ast> for ModuleNames {
    fn visit_item_mod(&mut self, module: &'ast syn::ItemMod) {
        self.0.push(module.ident.to_string());
        syn::visit::visit_item_mod(self, module);
    }
}

struct Rerooter<'a> {
    runtime: &'a RuntimePath,
    shadowed: Vec<String>,
}

impl Rerooter<'_> {
    fn reexported(&self, first: &syn::Ident, absolute: bool) -> bool {
        REEXPORTED.iter().any(|name| first == name)
            && (absolute || !self.shadowed.iter().any(|m| first == m))
    }
}

impl VisitMut for Rerooter<'_> {
    fn visit_path_mut(&mut self, path: &mut syn::Path) {
        syn::visit_mut::visit_path_mut(self, path);
        let Some(first) = path.segments.first() else {
            return;
        };
        if !self.reexported(&first.ident, path.leading_colon.is_some()) {
            return;
        }
        let runtime = self.runtime.tokens();
        let segments = &path.segments;
        *path = syn::parse_quote!(#runtime::__private::#segments);
    }

    // `<String as serde::Deserialize>::deserialize`: the trait's segments grow, so `position` (how many of the
    // path's segments belong to the trait) grows with them.
    fn visit_expr_path_mut(&mut self, expr: &mut syn::ExprPath) {
        let before = expr.path.segments.len();
        syn::visit_mut::visit_expr_path_mut(self, expr);
        grow_qself(&mut expr.qself, expr.path.segments.len() - before);
    }

    fn visit_type_path_mut(&mut self, ty: &mut syn::TypePath) {
        let before = ty.path.segments.len();
        syn::visit_mut::visit_type_path_mut(self, ty);
        grow_qself(&mut ty.qself, ty.path.segments.len() - before);
    }

    fn visit_item_use_mut(&mut self, item: &mut syn::ItemUse) {
        let syn::UseTree::Path(tree) = &item.tree else {
            return;
        };
        if !self.reexported(&tree.ident, item.leading_colon.is_some()) {
            return;
        }
        let runtime = self.runtime.tokens();
        let tree = &item.tree;
        let (attrs, vis) = (&item.attrs, &item.vis);
        *item = syn::parse_quote!(#(#attrs)* #vis use #runtime::__private::#tree;);
    }

    /// A macro's body is tokens, not paths (the JSON support's `macro_rules!` name `serde::…` and
    /// `::pbjson_types::…`): a re-exported crate's name that starts a path there is re-rooted the same way.
    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        syn::visit_mut::visit_macro_mut(self, mac);
        mac.tokens = self.reroot_tokens(std::mem::take(&mut mac.tokens));
    }
}

fn grow_qself(qself: &mut Option<syn::QSelf>, added: usize) {
    if let Some(qself) = qself
        && qself.position > 0
    {
        qself.position += added;
    }
}

impl Rerooter<'_> {
    fn reroot_tokens(&self, tokens: TokenStream) -> TokenStream {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let is_colon =
            |i: usize| matches!(tokens.get(i), Some(TokenTree::Punct(p)) if p.as_char() == ':');
        let mut out = TokenStream::new();
        for (i, token) in tokens.iter().enumerate() {
            match token {
                TokenTree::Group(group) => {
                    let mut rerooted =
                        Group::new(group.delimiter(), self.reroot_tokens(group.stream()));
                    rerooted.set_span(group.span());
                    out.extend([TokenTree::Group(rerooted)]);
                }
                TokenTree::Ident(ident) if is_colon(i + 1) && is_colon(i + 2) => {
                    // `a::serde::…` is a later segment (an identifier before the `::`); `::serde::…` and
                    // `serde::…` start a path.
                    let after_sep = i >= 2 && is_colon(i - 1) && is_colon(i - 2);
                    let later_segment =
                        after_sep && i >= 3 && matches!(tokens[i - 3], TokenTree::Ident(_));
                    if !later_segment && self.reexported(ident, after_sep) {
                        let runtime = self.runtime.tokens();
                        if after_sep {
                            // The leading `::` is already out; the runtime path brings its own.
                            let kept = out.into_iter().collect::<Vec<_>>();
                            out = kept[..kept.len() - 2].iter().cloned().collect();
                        }
                        out.extend(quote::quote!(#runtime::__private::#ident));
                        continue;
                    }
                    out.extend([token.clone()]);
                }
                other => out.extend([other.clone()]),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn rerooted(code: &str) -> String {
        let mut file = syn::parse_file(code).unwrap();
        reroot(&mut file, &RuntimePath::default());
        let file = &file;
        quote!(#file).to_string()
    }

    #[test]
    fn crate_paths_go_through_the_runtime() {
        let out = rerooted(
            "impl serde::Serialize for A { fn f() { use serde::ser::SerializeStruct; \
             let t: ::pbjson_types::Timestamp = ::pbjson::private::x(); \
             let s = <String as serde::Deserialize>::deserialize(d); } }",
        );
        assert_eq!(
            out,
            quote!(impl ::capacitor::__private::serde::Serialize for A { fn f() {
                use ::capacitor::__private::serde::ser::SerializeStruct;
                let t: ::capacitor::__private::pbjson_types::Timestamp = ::capacitor::__private::pbjson::private::x();
                let s = <String as ::capacitor::__private::serde::Deserialize>::deserialize(d);
            } })
            .to_string()
        );
    }

    #[test]
    fn macro_bodies_are_rerooted_too() {
        let out = rerooted(
            "macro_rules! m { ($t:ty) => { impl serde::Serialize for S<$t> {} \
             fn f(x: ::pbjson_types::FieldMask, y: a::serde::X) {} }; }",
        );
        assert!(
            out.contains("impl :: capacitor :: __private :: serde :: Serialize"),
            "{out}"
        );
        assert!(
            out.contains("x : :: capacitor :: __private :: pbjson_types :: FieldMask"),
            "{out}"
        );
        assert!(out.contains("y : a :: serde :: X"), "{out}");
    }

    #[test]
    fn a_module_of_the_same_name_is_left_alone() {
        let out =
            rerooted("pub mod serde { pub struct Inner; } pub struct A { pub i: serde::Inner }");
        assert!(out.contains("i : serde :: Inner"), "{out}");
    }
}
