//! Rust emission shared by the proto path (`capgen`, build.rs) and the derive path (`capacitor-macros`).
//!
//! Everything here returns tokens; the proto path formats them with prettyplease, the derive path hands them to
//! the compiler. Generated code names the runtime by a path (`::capacitor` unless the user re-exports it), the
//! way prost-build names `::prost`, so this crate never depends on the runtime.

use super::tokens::{rust_ident, rust_path};
use crate::ir::{EntityOptions, Field, FieldType, Label, Message, Pii, Scalar};
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

/// The path generated code uses for the runtime crate (`::capacitor` by default).
#[derive(Debug, Clone)]
pub struct RuntimePath(TokenStream);

impl Default for RuntimePath {
    fn default() -> Self {
        RuntimePath(quote!(::capacitor))
    }
}

impl RuntimePath {
    /// Parses a path such as `::capacitor` or `my_app::reexports::capacitor`.
    pub fn parse(path: &str) -> Result<Self, String> {
        syn::parse_str::<syn::Path>(path)
            .map(|p| RuntimePath(quote!(#p)))
            .map_err(|e| format!("`{path}` is not a Rust path: {e}"))
    }

    /// The runtime path as tokens.
    pub fn tokens(&self) -> &TokenStream {
        &self.0
    }

    /// The Rust path of the well-known types (`google.protobuf`) in generated code: the runtime's re-export of
    /// pbjson-types (`::capacitor::well_known`), so a user crate needs no pbjson-types dependency of its own and
    /// always gets the version the runtime's JSON adapters were built with. (Not a `__private` module:
    /// prost-build drops the leading underscores of an `extern_path` segment.)
    pub fn well_known_types(&self) -> String {
        // A path's tokens print with spaces around `::`; none of them belong in a path.
        format!("{}::well_known", self.0).replace(' ', "")
    }
}

/// `impl Entity for X { const SCHEMA … }`: what the schema says about one entity, as a `'static` constant.
///
/// `message_name` is the name recorded in the schema (the proto name relative to its package).
pub fn entity_impl(
    message: &Message,
    entity: &EntityOptions,
    runtime: &RuntimePath,
) -> TokenStream {
    let rt = runtime.tokens();
    let ty = rust_path(&message.rust_path);
    let package = &message.package;
    let name = message
        .full_name
        .strip_prefix(&format!("{package}."))
        .unwrap_or(&message.full_name);
    let table = entity.table_name(message);
    let backend = format_ident!("{}", entity.backend().variant_name());
    let consistency = format_ident!("{}", entity.consistency().variant_name());
    let cache = match entity.effective_cache() {
        None => quote!(::core::option::Option::None),
        Some(cache) => {
            let ttl = option_u64(cache.ttl().map(|d| d.as_millis() as u64));
            let entries = option_u64(cache.max_entries);
            let bytes = option_u64(cache.max_bytes);
            quote!(::core::option::Option::Some(#rt::schema::CacheSchema {
                ttl_ms: #ttl, max_entries: #entries, max_bytes: #bytes,
            }))
        }
    };
    let outbox = match &entity.outbox {
        None => quote!(::core::option::Option::None),
        Some(outbox) => {
            let topic = outbox.topic_for(message);
            quote!(::core::option::Option::Some(#rt::schema::OutboxSchema { topic: #topic }))
        }
    };
    let subject = match entity
        .subject
        .as_ref()
        .and_then(|s| message.fields.iter().find(|f| f.name == s.value))
    {
        None => quote!(::core::option::Option::None),
        Some(field) => {
            let number = field.number;
            quote!(::core::option::Option::Some(#number))
        }
    };
    let primary_key = message.primary_key(entity);
    let fields = message.fields.iter().map(|f| field_schema(f, rt));
    let indexes = message.resolved_indexes(entity).into_iter().map(|i| {
        let name = &i.name;
        let numbers = &i.fields;
        let kind = format_ident!("{}", i.kind.variant_name());
        quote!(#rt::schema::IndexSchema { name: #name, fields: &[#(#numbers),*], kind: #rt::schema::IndexKind::#kind })
    });
    quote! {
        impl #rt::Entity for #ty {
            const SCHEMA: &'static #rt::schema::EntitySchema = &#rt::schema::EntitySchema {
                package: #package,
                message: #name,
                table: #table,
                backend: #rt::schema::Backend::#backend,
                consistency: #rt::schema::Consistency::#consistency,
                cache: #cache,
                primary_key: &[#(#primary_key),*],
                fields: &[#(#fields),*],
                indexes: &[#(#indexes),*],
                outbox: #outbox,
                subject: #subject,
            };
        }
    }
}

/// `impl EventSourced for X` and `pub type XStream`, for an entity with `event_sourced` (checked: its events
/// message is in the schema, in the same package, with one oneof of messages).
pub fn event_sourced_impl(
    schema: &crate::ir::Schema,
    message: &Message,
    entity: &EntityOptions,
    runtime: &RuntimePath,
) -> TokenStream {
    let Some(options) = &entity.event_sourced else {
        return TokenStream::new();
    };
    let Some(events) = schema.message(&options.events_full_name(message)) else {
        return TokenStream::new();
    };
    let Some(oneof) = events.oneofs.first() else {
        return TokenStream::new();
    };
    let events_ty = rust_path(&events.rust_path);
    let enum_ty = rust_path(&oneof.rust_type);
    let oneof_field = rust_ident(&oneof.rust_name);
    let arms = events
        .fields
        .iter()
        .filter(|f| f.oneof.as_deref() == Some(oneof.name.as_str()))
        .map(|f| {
            let variant = format_ident!("{}", oneof_variant_name(&f.name));
            let event_type = match &f.ty {
                FieldType::Message(name) => name.rsplit('.').next().unwrap_or(name).to_string(),
                _ => f.name.clone(),
            };
            quote!(::core::option::Option::Some(#enum_ty::#variant(_)) => #event_type)
        });
    let doc = format!(
        " The event stream of `{}`: append its `{}` events, load it through its `capacitor::events::Aggregate` impl.",
        message.rust_name, events.rust_name
    );
    let event_type = quote! {
        match &event.#oneof_field {
            #(#arms,)*
            ::core::option::Option::None => "",
        }
    };
    event_sourced_tokens(
        message, entity, options, runtime, events_ty, event_type, &doc,
    )
}

/// The `impl EventSourced` and the `XStream` alias both front ends emit: `events_ty` is the events type and
/// `event_type` the body of `EventSourced::event_type` (which reads `event`).
fn event_sourced_tokens(
    message: &Message,
    entity: &EntityOptions,
    options: &crate::ir::EventSourcedOptions,
    runtime: &RuntimePath,
    events_ty: TokenStream,
    event_type: TokenStream,
    doc: &str,
) -> TokenStream {
    let rt = runtime.tokens();
    let ty = rust_path(&message.rust_path);
    let table = entity.table_name(message);
    let events_table = capacitor_schema::columns::events_table(&table);
    let snapshots_table = capacitor_schema::columns::snapshots_table(&table);
    let every = options.snapshot_every();
    let entity_name = &message.rust_name;
    let stream = format_ident!("{}Stream", message.rust_name);
    quote! {
        impl #rt::events::EventSourced for #ty {
            type Event = #events_ty;
            const STREAM: &'static #rt::events::StreamSchema = &#rt::events::StreamSchema {
                entity: #entity_name,
                events_table: #events_table,
                snapshots_table: #snapshots_table,
                snapshot_every: #every,
            };
            fn event_type(event: &#events_ty) -> &'static str {
                #event_type
            }
        }
        #[doc = #doc]
        pub type #stream = #rt::events::Stream<#ty>;
    }
}

/// `impl EventSourced for X` and `pub type XStream` for a derived entity with `event_sourced(events = "E")`:
/// `E` is a Rust path, and its case names come from its `capacitor::events::EventKind` impl.
pub fn event_sourced_derive_impl(
    message: &Message,
    entity: &EntityOptions,
    runtime: &RuntimePath,
) -> TokenStream {
    let Some(options) = &entity.event_sourced else {
        return TokenStream::new();
    };
    let rt = runtime.tokens();
    let Ok(events_ty) = syn::parse_str::<syn::Type>(&options.events) else {
        let text = format!(
            "`event_sourced(events = ...)` is not a Rust type: `{}`",
            options.events
        );
        return quote!(::core::compile_error!(#text););
    };
    let doc = format!(" The event stream of `{}`.", message.rust_name);
    let event_type = quote!(#rt::events::EventKind::event_type(event));
    event_sourced_tokens(
        message,
        entity,
        options,
        runtime,
        quote!(#events_ty),
        event_type,
        &doc,
    )
}

fn option_u64(value: Option<u64>) -> TokenStream {
    match value {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

fn scalar_tokens(scalar: Scalar, rt: &TokenStream) -> TokenStream {
    let variant = format_ident!(
        "{}",
        heck::ToUpperCamelCase::to_upper_camel_case(scalar.proto_name())
    );
    quote!(#rt::schema::Scalar::#variant)
}

fn field_schema(field: &Field, rt: &TokenStream) -> TokenStream {
    let number = field.number;
    let name = &field.name;
    let column = match field.stored_in() {
        Some(c) => quote!(::core::option::Option::Some(#c)),
        None => quote!(::core::option::Option::None),
    };
    let oneof = match &field.oneof {
        Some(o) => quote!(::core::option::Option::Some(#o)),
        None => quote!(::core::option::Option::None),
    };
    let ty = match &field.ty {
        FieldType::Scalar(s) => {
            let s = scalar_tokens(*s, rt);
            quote!(#rt::schema::FieldType::Scalar(#s))
        }
        FieldType::Enum(_) => quote!(#rt::schema::FieldType::Enum(())),
        FieldType::Message(_) => quote!(#rt::schema::FieldType::Message(())),
        FieldType::WellKnown(w) => {
            let variant = format_ident!("{}", w.variant_name());
            quote!(#rt::schema::FieldType::WellKnown(#rt::schema::WellKnown::#variant))
        }
    };
    let label = match &field.label {
        Label::Implicit => quote!(#rt::schema::Label::Implicit),
        Label::Optional => quote!(#rt::schema::Label::Optional),
        Label::Required => quote!(#rt::schema::Label::Required),
        Label::Repeated => quote!(#rt::schema::Label::Repeated),
        Label::Map { key } => {
            let key = scalar_tokens(*key, rt);
            quote!(#rt::schema::Label::Map { key: #key })
        }
    };
    let pii = match field.options.pii {
        Some(p) => {
            let variant = pii_variant(p);
            quote!(::core::option::Option::Some(#rt::schema::Pii::#variant))
        }
        None => quote!(::core::option::Option::None),
    };
    let redacted = field.is_redacted();
    let encrypt = field.options.encrypt.as_ref().is_some_and(|e| e.value);
    let blind_index_bits = match capacitor_schema::StoredField::blind_index_bits(field) {
        Some(bits) => quote!(::core::option::Option::Some(#bits)),
        None => quote!(::core::option::Option::None),
    };
    let claim_check = match capacitor_schema::StoredField::claim_check_threshold(field) {
        Some(bytes) => quote!(::core::option::Option::Some(#bytes)),
        None => quote!(::core::option::Option::None),
    };
    quote! {
        #rt::schema::FieldSchema {
            number: #number, name: #name, column: #column, oneof: #oneof, ty: #ty, label: #label,
            pii: #pii, redacted: #redacted, encrypt: #encrypt, blind_index_bits: #blind_index_bits,
            claim_check: #claim_check,
        }
    }
}

fn pii_variant(p: Pii) -> Ident {
    format_ident!("{}", p.variant_name())
}

/// `impl Debug` for an enum nested in a redacted message (prost-build's `skip_debug` drops its derived Debug):
/// the value's proto name (`STATUS_ACTIVE`). An enum value is a schema constant, never personal data.
pub fn enum_debug_impl(rust_path: &str) -> TokenStream {
    let ty = self::rust_path(rust_path);
    quote! {
        impl ::core::fmt::Debug for #ty {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.as_str_name())
            }
        }
    }
}

/// `impl Debug` that prints `<redacted>` for every PII or `debug_redact` field, and the same for the message's
/// oneof enums (prost-build's `skip_debug` drops Debug from both).
///
/// Unredacted fields print as prost's derived Debug prints them, except that enum fields print their number.
pub fn debug_impls(message: &Message) -> TokenStream {
    let ty = rust_path(&message.rust_path);
    let display_name = &message.rust_name;
    let mut entries = Vec::new();
    for field in message.fields.iter().filter(|f| f.oneof.is_none()) {
        let name = field.rust_name.trim_start_matches("r#");
        let ident = rust_ident(&field.rust_name);
        entries.push(if field.is_redacted() {
            quote!(.field(#name, &::core::format_args!("<redacted>")))
        } else {
            quote!(.field(#name, &self.#ident))
        });
    }
    let mut oneof_impls = Vec::new();
    for oneof in &message.oneofs {
        let name = oneof.rust_name.trim_start_matches("r#");
        let ident = rust_ident(&oneof.rust_name);
        entries.push(quote!(.field(#name, &self.#ident)));
        let enum_ty = rust_path(&oneof.rust_type);
        let arms = message
            .fields
            .iter()
            .filter(|f| f.oneof.as_deref() == Some(oneof.name.as_str()))
            .map(|f| {
                let variant = format_ident!("{}", oneof_variant_name(&f.name));
                let variant_name = variant.to_string();
                if f.is_redacted() {
                    quote!(#enum_ty::#variant(_) => f.debug_tuple(#variant_name).field(&::core::format_args!("<redacted>")).finish())
                } else {
                    quote!(#enum_ty::#variant(value) => f.debug_tuple(#variant_name).field(value).finish())
                }
            });
        oneof_impls.push(quote! {
            impl ::core::fmt::Debug for #enum_ty {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    match self { #(#arms,)* }
                }
            }
        });
    }
    quote! {
        impl ::core::fmt::Debug for #ty {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#display_name) #(#entries)* .finish()
            }
        }
        #(#oneof_impls)*
    }
}

/// `impl MaskFields` and an inherent `fn masked(&self)` for a message with PII or `debug_redact` fields: the
/// view `capacitor::pii::MaskedView` shows PII strings masked by kind, other redacted fields as `<redacted>`,
/// the rest as their Debug (oneofs through their redacting Debug).
pub fn masked_impls(message: &Message, runtime: &RuntimePath) -> TokenStream {
    let rt = runtime.tokens();
    let ty = rust_path(&message.rust_path);
    let display_name = &message.rust_name;
    let mut entries = Vec::new();
    for field in message.fields.iter().filter(|f| f.oneof.is_none()) {
        let name = &field.name;
        let ident = rust_ident(&field.rust_name);
        let string = matches!(field.ty, FieldType::Scalar(Scalar::String));
        entries.push(match (field.options.pii, string, &field.label) {
            (Some(kind), true, Label::Implicit | Label::Required) => {
                let kind = pii_variant(kind);
                quote!(out.masked(#name, #rt::schema::Pii::#kind, &self.#ident);)
            }
            (Some(kind), true, Label::Optional) => {
                let kind = pii_variant(kind);
                quote!(out.masked_option(#name, #rt::schema::Pii::#kind, self.#ident.as_deref());)
            }
            _ if field.is_redacted() => quote!(out.redacted(#name);),
            _ => quote!(out.plain(#name, &self.#ident);),
        });
    }
    for oneof in &message.oneofs {
        let name = &oneof.name;
        let ident = rust_ident(&oneof.rust_name);
        entries.push(quote!(out.plain(#name, &self.#ident);));
    }
    quote! {
        impl #rt::pii::MaskFields for #ty {
            const MESSAGE: &'static str = #display_name;
            fn mask_fields<'a>(&'a self, out: &mut #rt::pii::MaskedFields<'a>) {
                #(#entries)*
            }
        }
        impl #ty {
            /// This value with its PII masked by kind, for logs and support UIs (`Display` and `serde`).
            pub fn masked(&self) -> #rt::pii::MaskedView<'_, Self> {
                #rt::pii::MaskedView::new(self)
            }
        }
    }
}

/// prost's name for a oneof variant: the field name in UpperCamelCase.
fn oneof_variant_name(field_name: &str) -> String {
    crate::names::type_name(field_name)
}
