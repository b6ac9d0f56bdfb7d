//! Closes the gaps between pbjson-build 0.9's output (with pbjson-types 0.9 for the well-known types) and the
//! proto3 JSON mapping, on the token stream pbjson-build writes.
//!
//! - **Rust 2024 keywords.** pbjson-build escapes identifiers with the keyword list of Rust 2018, so a field
//!   named `gen` becomes `self.gen`, which an edition-2024 crate rejects. prost-build writes `r#gen`; so do we.
//! - **Values pbjson-types writes wrong.** `Timestamp` ends in `+00:00` (the mapping wants `Z`) and prints years
//!   outside 0001–9999; `FieldMask` is written as `{"paths": [...]}` (the mapping wants one comma-separated
//!   string of lowerCamel paths); non-finite `double`/`float` values come out as `null` (the mapping wants
//!   `"NaN"`, `"Infinity"`, `"-Infinity"`). Each such field's value is wrapped in the `Ser` of the generated
//!   `__capacitor_json` module, which writes the mapping's form and forwards containers (`Vec`, maps) element by
//!   element.
//! - **Values pbjson-types reads wrong.** `FieldMask` is read back from the mapping's string through `De`.
//!
//! Fields are found by the names pbjson-build writes into its code: `serialize_struct("pkg.Msg", ..)` and
//! `deserialize_struct("pkg.Msg", ..)` name the message, `serialize_field("jsonName", ..)` and
//! `duplicate_field("jsonName")` name the field, and the descriptor pool says what the field holds.

use proc_macro2::{Group, Ident, TokenStream, TokenTree};
use prost_reflect::{DescriptorPool, FieldDescriptor, Kind, MessageDescriptor};
use quote::{ToTokens, quote};
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Expr, ExprMethodCall, GenericArgument, Lit, parse_quote};

/// Identifiers that are keywords in Rust 2024 but that pbjson-build 0.9 leaves bare.
const UNESCAPED_KEYWORDS: &[&str] = &["gen"];

/// The module every generated package file carries, named by the rewritten code as `__capacitor_json`.
const SUPPORT_MODULE: &str = "__capacitor_json";

/// Rewrites pbjson-build's output for one package. `code` is what pbjson-build wrote; the result is Rust source
/// text (unformatted: the caller formats the whole file).
pub fn postprocess(code: &str, pool: &DescriptorPool) -> Result<String, String> {
    let tokens: TokenStream = code
        .parse()
        .map_err(|e| format!("pbjson output does not tokenize: {e}"))?;
    let mut file: syn::File = syn::parse2(escape_keywords(tokens))
        .map_err(|e| format!("pbjson output does not parse: {e}"))?;
    let mut rewriter = Rewriter {
        message: None,
        used: false,
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
    let mut out = file.into_token_stream();
    if rewriter.used {
        out.extend(support());
    }
    Ok(out.to_string())
}

/// Replaces bare identifiers that are keywords in Rust 2024 by raw identifiers, everywhere. Such an identifier
/// cannot be anything but a name in edition-2024 code, so the rewrite never changes meaning.
fn escape_keywords(tokens: TokenStream) -> TokenStream {
    tokens
        .into_iter()
        .map(|tree| match tree {
            TokenTree::Ident(ident) if UNESCAPED_KEYWORDS.contains(&ident.to_string().as_str()) => {
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
    /// Whether any rewrite refers to the support module.
    used: bool,
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
            let support = support_ident();
            let value = &call.args[1];
            call.args[1] = parse_quote!(&#support::Ser(#value));
            self.used = true;
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
            let mut wrap = WrapNextValue { wrapped: false };
            wrap.visit_expr_mut(&mut arm.body);
            self.used |= wrap.wrapped;
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
/// `map_.next_value::<__capacitor_json::De<T>>()?.0`, so the value is read through the mapping's form.
struct WrapNextValue {
    wrapped: bool,
}

impl VisitMut for WrapNextValue {
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
            let support = support_ident();
            *expr = parse_quote!(#receiver.next_value::<#support::De<#inner>>()?.0);
            self.wrapped = true;
            return;
        }
        syn::visit_mut::visit_expr_mut(self, expr);
    }
}

fn support_ident() -> Ident {
    Ident::new(SUPPORT_MODULE, proc_macro2::Span::call_site())
}

/// Serde adapters for the values pbjson-types maps wrong, emitted once into every package file that needs them.
/// They depend only on `serde` and `pbjson_types`, which the generated code already needs.
fn support() -> TokenStream {
    let module = support_ident();
    quote! {
        /// proto3 JSON mapping adapters for values `pbjson-types` writes differently (capgen).
        #[doc(hidden)]
        #[allow(dead_code, clippy::all)]
        mod #module {
            /// Serializes the borrowed value in the proto3 JSON mapping.
            pub struct Ser<'a, T: ?Sized>(pub &'a T);

            impl serde::Serialize for Ser<'_, f64> {
                fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    let v = *self.0;
                    if v.is_nan() {
                        s.serialize_str("NaN")
                    } else if v == f64::INFINITY {
                        s.serialize_str("Infinity")
                    } else if v == f64::NEG_INFINITY {
                        s.serialize_str("-Infinity")
                    } else {
                        s.serialize_f64(v)
                    }
                }
            }

            impl serde::Serialize for Ser<'_, f32> {
                fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    let v = *self.0;
                    if v.is_nan() {
                        s.serialize_str("NaN")
                    } else if v == f32::INFINITY {
                        s.serialize_str("Infinity")
                    } else if v == f32::NEG_INFINITY {
                        s.serialize_str("-Infinity")
                    } else {
                        s.serialize_f32(v)
                    }
                }
            }

            impl serde::Serialize for Ser<'_, ::pbjson_types::Timestamp> {
                fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    timestamp(self.0)
                        .map_err(serde::ser::Error::custom)
                        .and_then(|text| s.serialize_str(&text))
                }
            }

            impl serde::Serialize for Ser<'_, ::pbjson_types::FieldMask> {
                fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    let mut out = String::new();
                    for (i, path) in self.0.paths.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        let mut upper = false;
                        for c in path.chars() {
                            if c.is_ascii_uppercase() {
                                return Err(serde::ser::Error::custom(format!(
                                    "FieldMask path `{path}` has an upper-case letter: no JSON form"
                                )));
                            }
                            if c == '_' {
                                if upper {
                                    return Err(serde::ser::Error::custom(format!(
                                        "FieldMask path `{path}` has `__`: no JSON form"
                                    )));
                                }
                                upper = true;
                            } else if upper {
                                if !c.is_ascii_lowercase() {
                                    return Err(serde::ser::Error::custom(format!(
                                        "FieldMask path `{path}` has `_` before a non-letter: no JSON form"
                                    )));
                                }
                                out.push(c.to_ascii_uppercase());
                                upper = false;
                            } else {
                                out.push(c);
                            }
                        }
                        if upper {
                            return Err(serde::ser::Error::custom(format!(
                                "FieldMask path `{path}` ends in `_`: no JSON form"
                            )));
                        }
                    }
                    s.serialize_str(&out)
                }
            }

            impl<T> serde::Serialize for Ser<'_, Vec<T>>
            where
                for<'b> Ser<'b, T>: serde::Serialize,
            {
                fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    s.collect_seq(self.0.iter().map(Ser))
                }
            }

            impl<K: serde::Serialize, V, H> serde::Serialize for Ser<'_, ::std::collections::HashMap<K, V, H>>
            where
                for<'b> Ser<'b, V>: serde::Serialize,
            {
                fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    s.collect_map(self.0.iter().map(|(k, v)| (k, Ser(v))))
                }
            }

            impl<K: serde::Serialize, V> serde::Serialize for Ser<'_, ::std::collections::BTreeMap<K, V>>
            where
                for<'b> Ser<'b, V>: serde::Serialize,
            {
                fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    s.collect_map(self.0.iter().map(|(k, v)| (k, Ser(v))))
                }
            }

            /// RFC 3339 in UTC with a `Z` suffix and 0, 3, 6 or 9 fractional digits, years 0001–9999 only.
            pub fn timestamp(t: &::pbjson_types::Timestamp) -> Result<String, String> {
                // 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
                const MIN: i64 = -62_135_596_800;
                const MAX: i64 = 253_402_300_799;
                if !(MIN..=MAX).contains(&t.seconds) || !(0..1_000_000_000).contains(&t.nanos) {
                    return Err(format!(
                        "Timestamp {{ seconds: {}, nanos: {} }} is outside 0001-01-01T00:00:00Z..=9999-12-31T23:59:59.999999999Z",
                        t.seconds, t.nanos
                    ));
                }
                let days = t.seconds.div_euclid(86_400);
                let secs = t.seconds.rem_euclid(86_400);
                // Civil date from days since 1970-01-01 (proleptic Gregorian), in 400-year eras.
                let z = days + 719_468;
                let era = z.div_euclid(146_097);
                let doe = z.rem_euclid(146_097);
                let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
                let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
                let mp = (5 * doy + 2) / 153;
                let day = doy - (153 * mp + 2) / 5 + 1;
                let month = if mp < 10 { mp + 3 } else { mp - 9 };
                let year = yoe + era * 400 + i64::from(month <= 2);
                let mut out = format!(
                    "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
                    secs / 3_600,
                    secs / 60 % 60,
                    secs % 60
                );
                let nanos = t.nanos;
                if nanos != 0 {
                    if nanos % 1_000_000 == 0 {
                        out.push_str(&format!(".{:03}", nanos / 1_000_000));
                    } else if nanos % 1_000 == 0 {
                        out.push_str(&format!(".{:06}", nanos / 1_000));
                    } else {
                        out.push_str(&format!(".{nanos:09}"));
                    }
                }
                out.push('Z');
                Ok(out)
            }

            /// Deserializes a value from the proto3 JSON mapping into `T`.
            pub struct De<T>(pub T);

            impl<'de> serde::Deserialize<'de> for De<::pbjson_types::FieldMask> {
                fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                    let text = <String as serde::Deserialize>::deserialize(d)?;
                    let mut paths = Vec::new();
                    for path in text.split(',').filter(|p| !p.is_empty()) {
                        let mut snake = String::with_capacity(path.len() + 4);
                        for c in path.chars() {
                            if c == '_' {
                                return Err(serde::de::Error::custom(format!(
                                    "FieldMask path `{path}` is not lowerCamelCase"
                                )));
                            }
                            if c.is_ascii_uppercase() {
                                snake.push('_');
                                snake.push(c.to_ascii_lowercase());
                            } else {
                                snake.push(c);
                            }
                        }
                        paths.push(snake);
                    }
                    Ok(De(::pbjson_types::FieldMask { paths }))
                }
            }

            // Concrete containers rather than `impl<T> … for De<Option<T>> where De<T>: …`: pbjson-build often
            // leaves the type to inference (`field__ = map_.next_value()?`), and a recursive impl sends the
            // trait solver into `Option<Option<…>>` before the variable's type is known.
            macro_rules! containers {
                ($ty:ty) => {
                    impl<'de> serde::Deserialize<'de> for De<Option<$ty>> {
                        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                            Ok(De(<Option<De<$ty>> as serde::Deserialize>::deserialize(d)?.map(|v| v.0)))
                        }
                    }

                    impl<'de> serde::Deserialize<'de> for De<Vec<$ty>> {
                        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                            let items = <Vec<De<$ty>> as serde::Deserialize>::deserialize(d)?;
                            Ok(De(items.into_iter().map(|v| v.0).collect()))
                        }
                    }

                    impl<'de, K> serde::Deserialize<'de> for De<::std::collections::HashMap<K, $ty>>
                    where
                        K: serde::Deserialize<'de> + Eq + ::std::hash::Hash,
                    {
                        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                            let items = <::std::collections::HashMap<K, De<$ty>> as serde::Deserialize>::deserialize(d)?;
                            Ok(De(items.into_iter().map(|(k, v)| (k, v.0)).collect()))
                        }
                    }

                    impl<'de, K> serde::Deserialize<'de> for De<::std::collections::BTreeMap<K, $ty>>
                    where
                        K: serde::Deserialize<'de> + Ord,
                    {
                        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                            let items = <::std::collections::BTreeMap<K, De<$ty>> as serde::Deserialize>::deserialize(d)?;
                            Ok(De(items.into_iter().map(|(k, v)| (k, v.0)).collect()))
                        }
                    }
                };
            }
            containers!(::pbjson_types::FieldMask);
        }
    }
}
