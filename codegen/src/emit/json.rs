//! The proto3 JSON mapping of a package's messages and enums, as tables over the runtime's `json` module.
//!
//! The serde logic lives once in the runtime (`capacitor::json`, see `docs/json.md`); per message this emits
//! only what the schema knows: an `impl json::Message` holding the message's name, its fields' JSON and proto
//! names, and which codec each field's values go through (`Plain`, `Msg`, `Enum::<E>` in the shape `Opt`,
//! `Rep` or `Map`), then one `json::messages!(..)` and one `json::enums!(..)` that implement `Serialize` and
//! `Deserialize` by calling the runtime.
//!
//! Everything is read from the descriptor pool with one pass over each message's fields; Rust paths are
//! spelled as prost-build spells them (`names`, and [`RustPaths`] for types in other modules or crates).

use crate::emit::rust::RuntimePath;
use crate::names;
use proc_macro2::{Ident, Literal, Span, TokenStream};
use prost_reflect::{
    Cardinality, DescriptorPool, EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor,
};
use quote::quote;

/// How Rust names the types of other packages: prost-build's relative paths (`super::other::Kind`) and the
/// extern paths it was given (`.google.protobuf` → `::pbjson_types`).
pub struct RustPaths<'a> {
    /// `(proto path with a leading dot, Rust path)`, as given to prost-build.
    pub extern_paths: &'a [(String, String)],
}

impl RustPaths<'_> {
    /// The Rust path of the message or enum `full_name`, as named from the top of `package`'s module.
    pub fn type_path(&self, package: &str, full_name: &str) -> String {
        let dotted = format!(".{full_name}");
        if let Some(path) = self.extern_path(&dotted) {
            return path;
        }
        let mut local = package.split('.').filter(|s| !s.is_empty()).peekable();
        let mut ident = full_name.split('.');
        let type_name = ident.next_back().unwrap_or_default();
        let mut ident = ident.peekable();
        while local.peek().is_some() && local.peek() == ident.peek() {
            local.next();
            ident.next();
        }
        local
            .map(|_| "super".to_string())
            .chain(ident.map(names::field_name))
            .chain(std::iter::once(names::type_name(type_name)))
            .collect::<Vec<_>>()
            .join("::")
    }

    /// Whether `full_name` is mapped to an existing Rust type (so this build generates nothing for it).
    pub fn is_extern(&self, full_name: &str) -> bool {
        self.extern_path(&format!(".{full_name}")).is_some()
    }

    /// prost-build's `ExternPaths::resolve_ident`: the longest configured prefix, then the rest of the name
    /// as modules and a type.
    fn extern_path(&self, dotted: &str) -> Option<String> {
        let exact = |proto: &str| {
            self.extern_paths
                .iter()
                .rev()
                .find(|(p, _)| p == proto)
                .map(|(_, rust)| rust.clone())
        };
        if let Some(rust) = exact(dotted) {
            return Some(rust);
        }
        for (at, _) in dotted.rmatch_indices('.') {
            if let Some(rust) = exact(&dotted[..at]) {
                let mut rest = dotted[at + 1..].split('.');
                let type_name = rest.next_back().map(names::type_name);
                let path = rust
                    .split("::")
                    .chain(rest)
                    .enumerate()
                    .map(|(i, segment)| {
                        if (i == 0 && segment == "crate") || segment.is_empty() {
                            segment.to_string()
                        } else {
                            names::field_name(segment)
                        }
                    })
                    .chain(type_name)
                    .collect::<Vec<_>>()
                    .join("::");
                return Some(path);
            }
        }
        None
    }
}

/// The JSON items of `package`: the runtime's module under a local name, each message's table, and the
/// macros implementing serde for every message and enum. Empty when the package defines neither.
pub fn package_items(
    pool: &DescriptorPool,
    package: &str,
    paths: &RustPaths<'_>,
    runtime: &RuntimePath,
) -> TokenStream {
    let in_package = |full_name: &str, pkg: &str| pkg == package && !paths.is_extern(full_name);
    let messages: Vec<MessageDescriptor> = pool
        .all_messages()
        .filter(|m| !m.is_map_entry() && in_package(m.full_name(), m.package_name()))
        .collect();
    let enums: Vec<EnumDescriptor> = pool
        .all_enums()
        .filter(|e| in_package(e.full_name(), e.package_name()))
        .collect();
    if messages.is_empty() && enums.is_empty() {
        return TokenStream::new();
    }
    let emitter = Emitter { package, paths };
    let tables = messages.iter().map(|m| emitter.message_table(m));
    let message_paths = messages.iter().map(|m| emitter.path(m.full_name()));
    let enum_paths = enums.iter().map(|e| emitter.path(e.full_name()));
    let runtime = runtime.tokens();
    let messages_macro =
        (!messages.is_empty()).then(|| quote!(__json::messages!(#(#message_paths),*);));
    let enums_macro = (!enums.is_empty()).then(|| quote!(__json::enums!(#(#enum_paths),*);));
    quote! {
        use #runtime::json as __json;
        #(#tables)*
        #messages_macro
        #enums_macro
    }
}

struct Emitter<'a> {
    package: &'a str,
    paths: &'a RustPaths<'a>,
}

impl Emitter<'_> {
    fn path(&self, full_name: &str) -> TokenStream {
        let path = self.paths.type_path(self.package, full_name);
        syn::parse_str::<syn::Path>(&path)
            .map(|p| quote!(#p))
            .unwrap_or_else(|e| panic!("prost-build's path `{path}` does not parse: {e}"))
    }

    /// `impl __json::Message for X`: the table and the two functions that walk it.
    fn message_table(&self, message: &MessageDescriptor) -> TokenStream {
        let path = self.path(message.full_name());
        let name = message.full_name();
        let fields: Vec<FieldDescriptor> = message.fields().collect();
        let table = fields.iter().map(|f| {
            let (json, proto) = (f.json_name(), f.name());
            if json == proto {
                quote!(__json::Field::same(#proto))
            } else {
                quote!(__json::Field::new(#json, #proto))
            }
        });

        let mut writes = Vec::new();
        let mut reads = Vec::new();
        let mut oneofs_written = Vec::new();
        for (index, field) in fields.iter().enumerate() {
            let lit = Literal::usize_unsuffixed(index);
            let codec = self.element_codec(field);
            match field.containing_oneof().filter(|o| !o.is_synthetic()) {
                Some(oneof) => {
                    let slot = ident(&names::field_name(oneof.name()));
                    let oneof_type = self.oneof_type(message, &oneof);
                    let variant = ident(&names::type_name(field.name()));
                    reads.push(
                        quote!(#lit => r.member(#codec, &mut self.#slot, #oneof_type::#variant)),
                    );
                    if oneofs_written.contains(&oneof.name().to_string()) {
                        continue;
                    }
                    oneofs_written.push(oneof.name().to_string());
                    let arms = oneof.fields().map(|member| {
                        let at = Literal::usize_unsuffixed(
                            fields
                                .iter()
                                .position(|f| f.number() == member.number())
                                .unwrap_or(index),
                        );
                        let codec = self.element_codec(&member);
                        let variant = ident(&names::type_name(member.name()));
                        quote!(#oneof_type::#variant(v) => w.member(#at, #codec, v),)
                    });
                    writes.push(quote! {
                        if let ::core::option::Option::Some(v) = &self.#slot {
                            match v { #(#arms)* }?;
                        }
                    });
                }
                None => {
                    let slot = ident(&names::field_name(field.name()));
                    let codec = self.shaped_codec(field, codec);
                    let always = field.cardinality() == Cardinality::Required
                        && !matches!(field.kind(), Kind::Message(_));
                    writes.push(if always {
                        quote!(w.member(#lit, #codec, &self.#slot)?;)
                    } else {
                        quote!(w.field(#lit, #codec, &self.#slot)?;)
                    });
                    reads.push(quote!(#lit => r.field(#codec, &mut self.#slot)));
                }
            }
        }
        let deprecated = fields.iter().any(|f| {
            f.field_descriptor_proto()
                .options
                .as_ref()
                .is_some_and(|o| o.deprecated())
        });
        let allow = deprecated.then(|| quote!(#[allow(deprecated)]));
        let (write_fn, read_fn) = if fields.is_empty() {
            (
                quote! {
                    fn write<W: __json::Writer>(&self, _: &mut W) -> ::core::result::Result<(), W::Error> {
                        ::core::result::Result::Ok(())
                    }
                },
                quote! {
                    fn read<'de, R: __json::Reader<'de>>(&mut self, _: usize, _: R) -> ::core::result::Result<(), R::Error> {
                        ::core::result::Result::Ok(())
                    }
                },
            )
        } else {
            (
                quote! {
                    fn write<W: __json::Writer>(&self, w: &mut W) -> ::core::result::Result<(), W::Error> {
                        #(#writes)*
                        ::core::result::Result::Ok(())
                    }
                },
                quote! {
                    fn read<'de, R: __json::Reader<'de>>(&mut self, index: usize, r: R) -> ::core::result::Result<(), R::Error> {
                        match index {
                            #(#reads,)*
                            _ => ::core::result::Result::Ok(()),
                        }
                    }
                },
            )
        };
        quote! {
            #allow
            impl __json::Message for #path {
                const NAME: &'static str = #name;
                const FIELDS: &'static [__json::Field] = &[#(#table),*];
                #write_fn
                #read_fn
            }
        }
    }

    /// The codec of one value of the field: a map's value, a list's item.
    fn element_codec(&self, field: &FieldDescriptor) -> TokenStream {
        let kind = match field.kind() {
            Kind::Message(entry) if field.is_map() => entry.map_entry_value_field().kind(),
            kind => kind,
        };
        match kind {
            Kind::Enum(e) => {
                let path = self.path(e.full_name());
                quote!(__json::Enum::<#path>::new())
            }
            Kind::Message(m)
                if !matches!(
                    m.full_name(),
                    "google.protobuf.Timestamp" | "google.protobuf.FieldMask"
                ) =>
            {
                quote!(__json::Msg)
            }
            _ => quote!(__json::Plain),
        }
    }

    /// The codec of the whole field, in the shape prost holds it in.
    fn shaped_codec(&self, field: &FieldDescriptor, element: TokenStream) -> TokenStream {
        if field.is_map() {
            quote!(__json::Map(#element))
        } else if field.is_list() {
            quote!(__json::Rep(#element))
        } else if matches!(field.kind(), Kind::Message(_))
            || (field.supports_presence() && field.cardinality() != Cardinality::Required)
        {
            quote!(__json::Opt(#element))
        } else {
            element
        }
    }

    /// The oneof's enum, as prost-build names it: `<message module>::<Oneof>`, with `OneOf` appended when a
    /// nested type has the same name.
    fn oneof_type(
        &self,
        message: &MessageDescriptor,
        oneof: &prost_reflect::OneofDescriptor,
    ) -> TokenStream {
        let message_path = self.paths.type_path(self.package, message.full_name());
        let module = match message_path.rsplit_once("::") {
            Some((parent, _)) => format!("{parent}::{}", names::field_name(message.name())),
            None => names::field_name(message.name()),
        };
        let path = format!(
            "{module}::{}",
            crate::proto::oneof_type_name(message, oneof)
        );
        syn::parse_str::<syn::Path>(&path)
            .map(|p| quote!(#p))
            .unwrap_or_else(|e| panic!("oneof path `{path}` does not parse: {e}"))
    }
}

fn ident(name: &str) -> Ident {
    match name.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, Span::call_site()),
        None => Ident::new(name, Span::call_site()),
    }
}

#[cfg(test)]
mod tests {
    use super::RustPaths;

    #[test]
    fn paths_are_spelled_as_prost_build_spells_them() {
        let extern_paths = [
            (".google.protobuf".to_string(), "::pbjson_types".to_string()),
            (".vendor.v1".to_string(), "::vendor_types::v1".to_string()),
        ];
        let paths = RustPaths {
            extern_paths: &extern_paths,
        };
        assert_eq!(
            paths.type_path("a.b", "a.b.Outer.Inner_kind"),
            "outer::InnerKind"
        );
        assert_eq!(paths.type_path("a.b", "a.c.Color"), "super::c::Color");
        assert_eq!(
            paths.type_path("a.b", "x.type.Color"),
            "super::super::x::r#type::Color"
        );
        assert_eq!(paths.type_path("", "Top"), "Top");
        assert_eq!(
            paths.type_path("a.b", "google.protobuf.NullValue"),
            "::pbjson_types::NullValue"
        );
        assert_eq!(
            paths.type_path("a.b", "vendor.v1.Box.Kind"),
            "::vendor_types::v1::r#box::Kind"
        );
        assert!(paths.is_extern("vendor.v1.Box"));
        assert!(!paths.is_extern("vendor.v10.Box"));
    }
}
