//! Closes the gaps between pbjson-build 0.9's output (with pbjson-types 0.9 for the well-known types) and the
//! proto3 JSON mapping, on the token stream pbjson-build writes.
//!
//! - **Rust 2024 keywords.** pbjson-build escapes identifiers with the keyword list of Rust 2018, so a field
//!   named `gen` becomes `self.gen`, which an edition-2024 crate rejects. prost-build writes `r#gen`; so do we.
//! - **Values pbjson-types writes wrong.** `Timestamp` ends in `+00:00` (the mapping wants `Z`) and prints years
//!   outside 0001–9999; `FieldMask` is written as `{"paths": [...]}` (the mapping wants one comma-separated
//!   string of lowerCamel paths); non-finite `double`/`float` values come out as `null` (the mapping wants
//!   `"NaN"`, `"Infinity"`, `"-Infinity"`). Each such field's value is wrapped in the runtime's
//!   `json::Ser` (named through the configured runtime path), which writes the mapping's form and forwards
//!   containers (`Vec`, maps) element by element.
//! - **Values pbjson-types reads wrong.** `FieldMask` is read back from the mapping's string through the
//!   runtime's `json::De`.
//!
//! The adapters live in the runtime crate (`capacitor::json`), not in the generated files: generated code only
//! names them.
//!
//! Fields are found by the names pbjson-build writes into its code: `serialize_struct("pkg.Msg", ..)` and
//! `deserialize_struct("pkg.Msg", ..)` name the message, `serialize_field("jsonName", ..)` and
//! `duplicate_field("jsonName")` name the field, and the descriptor pool says what the field holds.

use crate::emit::rust::RuntimePath;
use proc_macro2::{Group, Ident, TokenStream, TokenTree};
use prost_reflect::{DescriptorPool, FieldDescriptor, Kind, MessageDescriptor};
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Expr, ExprMethodCall, GenericArgument, Lit, parse_quote};

/// Identifiers that are keywords in Rust 2024 but that pbjson-build 0.9 leaves bare.
const UNESCAPED_KEYWORDS: &[&str] = &["gen"];

/// Rewrites pbjson-build's output for one package. `code` is what pbjson-build wrote; the result is its items,
/// for the caller to place in the package's file. `runtime` is the path generated code names the runtime by.
pub fn postprocess(
    code: &str,
    pool: &DescriptorPool,
    runtime: &RuntimePath,
) -> Result<Vec<syn::Item>, String> {
    let tokens: TokenStream = code
        .parse()
        .map_err(|e| format!("pbjson output does not tokenize: {e}"))?;
    // Rebuilding every token took a tenth as long as tokenizing and parsing (a 2,200-message schema), and
    // most schemas have no such field.
    let tokens = if mentions_unescaped_keyword(code) {
        escape_keywords(tokens)
    } else {
        tokens
    };
    let mut file: syn::File =
        syn::parse2(tokens).map_err(|e| format!("pbjson output does not parse: {e}"))?;
    let mut rewriter = Rewriter {
        message: None,
        json: json_module(runtime),
    };
    for item in &mut file.items {
        let syn::Item::Impl(item) = item else {
            continue;
        };
        let Some((_, trait_path, _)) = &item.trait_ else {
            continue;
        };
        let Some(last) = trait_path.segments.last() else {
            continue;
        };
        let direction = match last.ident.to_string().as_str() {
            "Serialize" => Direction::Serialize,
            "Deserialize" => Direction::Deserialize,
            _ => continue,
        };
        let Some(message) = message_of(item, direction).and_then(|n| pool.get_message_by_name(&n))
        else {
            // Enums, and messages pbjson-build names in a way we do not recognize: left as written.
            continue;
        };
        rewriter.message = Some((message, direction));
        rewriter.visit_item_impl_mut(item);
    }
    Ok(file.items)
}

/// The runtime's JSON module, `<runtime>::json`, as generated code names it.
fn json_module(runtime: &RuntimePath) -> syn::Path {
    let runtime = runtime.tokens();
    parse_quote!(#runtime::json)
}

/// Whether one of [`UNESCAPED_KEYWORDS`] occurs in `code` as a whole word. It may be inside a string or a
/// comment, or already raw (`r#gen`): then [`escape_keywords`] runs and changes nothing.
fn mentions_unescaped_keyword(code: &str) -> bool {
    let continues_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    UNESCAPED_KEYWORDS.iter().any(|keyword| {
        code.match_indices(keyword).any(|(at, _)| {
            !continues_word(code[..at].chars().next_back())
                && !continues_word(code[at + keyword.len()..].chars().next())
        })
    })
}

/// Replaces bare identifiers that are keywords in Rust 2024 by raw identifiers, everywhere. Such an identifier
/// cannot be anything but a name in edition-2024 code, so the rewrite never changes meaning.
fn escape_keywords(tokens: TokenStream) -> TokenStream {
    tokens
        .into_iter()
        .map(|tree| match tree {
            // `Ident == &str` compares without building a String per identifier; a raw `r#gen` is not `gen`.
            TokenTree::Ident(ident) if UNESCAPED_KEYWORDS.iter().any(|k| ident == k) => {
                TokenTree::Ident(Ident::new_raw(&ident.to_string(), ident.span()))
            }
            TokenTree::Group(group) => {
                let mut escaped = Group::new(group.delimiter(), escape_keywords(group.stream()));
                escaped.set_span(group.span());
                TokenTree::Group(escaped)
            }
            other => other,
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Serialize,
    Deserialize,
}

/// The proto name pbjson-build passes to `serialize_struct` / `deserialize_struct` in this impl.
fn message_of(item: &syn::ItemImpl, direction: Direction) -> Option<String> {
    struct Finder<'a> {
        method: &'a str,
        found: Option<String>,
    }
    impl<'ast> Visit<'ast> for Finder<'_> {
        fn visit_expr_method_call(&mut self, call: &'ast ExprMethodCall) {
            if call.method == self.method
                && let Some(name) = call.args.first().and_then(string_literal)
            {
                self.found.get_or_insert(name);
            }
            syn::visit::visit_expr_method_call(self, call);
        }
    }
    let mut finder = Finder {
        method: match direction {
            Direction::Serialize => "serialize_struct",
            Direction::Deserialize => "deserialize_struct",
        },
        found: None,
    };
    finder.visit_item_impl(item);
    finder.found
}

fn string_literal(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s.value()),
        _ => None,
    }
}

/// A field by the name pbjson-build writes: its JSON name, or its proto name when names are preserved.
fn field_by_json_name(message: &MessageDescriptor, name: &str) -> Option<FieldDescriptor> {
    message
        .fields()
        .find(|f| f.json_name() == name)
        .or_else(|| message.get_field_by_name(name))
}

/// The kind of one element: the map value for a map, the item for a list.
fn element_kind(field: &FieldDescriptor) -> Kind {
    match field.kind() {
        Kind::Message(entry) if field.is_map() => entry.map_entry_value_field().kind(),
        kind => kind,
    }
}

/// Whether pbjson's serializer writes this field's values differently from the mapping.
fn needs_serialize_fix(field: &FieldDescriptor) -> bool {
    match element_kind(field) {
        Kind::Double | Kind::Float => true,
        Kind::Message(m) => matches!(
            m.full_name(),
            "google.protobuf.Timestamp" | "google.protobuf.FieldMask"
        ),
        _ => false,
    }
}

/// Whether pbjson's deserializer reads this field's values differently from the mapping.
fn needs_deserialize_fix(field: &FieldDescriptor) -> bool {
    matches!(element_kind(field), Kind::Message(m) if m.full_name() == "google.protobuf.FieldMask")
}

struct Rewriter {
    message: Option<(MessageDescriptor, Direction)>,
    /// `<runtime>::json`, where the adapters are.
    json: syn::Path,
}

impl VisitMut for Rewriter {
    fn visit_expr_method_call_mut(&mut self, call: &mut ExprMethodCall) {
        syn::visit_mut::visit_expr_method_call_mut(self, call);
        let Some((message, Direction::Serialize)) = &self.message else {
            return;
        };
        if call.method != "serialize_field" || call.args.len() != 2 {
            return;
        }
        let Some(field) = call
            .args
            .first()
            .and_then(string_literal)
            .and_then(|name| field_by_json_name(message, &name))
        else {
            return;
        };
        if needs_serialize_fix(&field) {
            let json = &self.json;
            let value = &call.args[1];
            call.args[1] = parse_quote!(&#json::Ser(#value));
        }
    }

    fn visit_arm_mut(&mut self, arm: &mut syn::Arm) {
        syn::visit_mut::visit_arm_mut(self, arm);
        let Some((message, Direction::Deserialize)) = &self.message else {
            return;
        };
        let Some(field) =
            duplicate_field_name(&arm.body).and_then(|name| field_by_json_name(message, &name))
        else {
            return;
        };
        if needs_deserialize_fix(&field) {
            let mut wrap = WrapNextValue { json: &self.json };
            wrap.visit_expr_mut(&mut arm.body);
        }
    }
}

/// The JSON name in the `duplicate_field("…")` call pbjson-build writes at the start of each field's arm.
fn duplicate_field_name(body: &Expr) -> Option<String> {
    struct Finder(Option<String>);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
            if let Expr::Path(path) = &*call.func
                && path
                    .path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "duplicate_field")
                && let Some(name) = call.args.first().and_then(string_literal)
            {
                self.0.get_or_insert(name);
            }
            syn::visit::visit_expr_call(self, call);
        }
    }
    let mut finder = Finder(None);
    finder.visit_expr(body);
    finder.0
}

/// Turns `map_.next_value::<T>()?` (or `map_.next_value()?`) into
/// `map_.next_value::<<runtime>::json::De<T>>()?.0`, so the value is read through the mapping's form.
struct WrapNextValue<'a> {
    json: &'a syn::Path,
}

impl VisitMut for WrapNextValue<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        if let Expr::Try(attempt) = expr
            && let Expr::MethodCall(call) = &*attempt.expr
            && call.method == "next_value"
            && call.args.is_empty()
        {
            let receiver = &call.receiver;
            let inner: syn::Type = match call.turbofish.as_ref().map(|t| t.args.first()) {
                Some(Some(GenericArgument::Type(ty))) => ty.clone(),
                _ => parse_quote!(_),
            };
            let json = self.json;
            *expr = parse_quote!(#receiver.next_value::<#json::De<#inner>>()?.0);
            return;
        }
        syn::visit_mut::visit_expr_mut(self, expr);
    }
}

#[cfg(test)]
mod tests {
    use super::mentions_unescaped_keyword;

    #[test]
    fn a_keyword_counts_only_as_a_whole_word() {
        assert!(mentions_unescaped_keyword("self.gen"));
        assert!(mentions_unescaped_keyword("gen"));
        assert!(mentions_unescaped_keyword("\"gen\" => GeneratedField::Gen"));
        assert!(!mentions_unescaped_keyword(
            "// @generated\nGeneratedField::Gen, gen_id, regen"
        ));
    }
}
