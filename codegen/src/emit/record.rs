//! `impl Record` and the typed `<Entity>Repo` of an entity: the row mapping, key extraction and index lookups
//! the runtime's generic repository needs, emitted from the IR.
//!
//! The row is every field with a column ([`Field::stored_in`]), in the IR's field order (by number on the proto
//! path, as prost-reflect lists fields; struct order on the derive path), a oneof once where its
//! first stored member is: the order the runtime builds its statements in from `Entity::SCHEMA` (whose
//! `column`s and `oneof`s the same IR decides; `capacitor::record::stored_columns`) and the order of the DDL's
//! columns. Values go through `capacitor::record::Column`, whose impls are the SQL value codec, so
//! this emitter decides no column representation itself.
//!
//! Stored fields: scalars and enums (any presence; `bytes` as `Vec<u8>` or, with prost's bytes option, `Bytes`),
//! the single-column well-known types (Timestamp, Duration, wrappers), repeated scalars and enums
//! (`capacitor::codec::Repeated`), nested messages, maps and repeated messages as their proto3 JSON
//! (`capacitor::collections`), and oneofs: one JSON column per oneof, where its first stored member is, holding
//! `{"<member>": <value>}` with the member's proto3 JSON name (lowerCamelCase) and value, NULL when no member is
//! set. JSON columns use the DTO's generated serde impls (a oneof's through the containing message's, since
//! prost's oneof enum has none), so they are on the proto path only; elsewhere [`unsupported`] names the field
//! and the generated code carries the reason as `<Type>::NO_REPOSITORY_REASON` (the derive, asked for a
//! repository, reports it as a compile error instead).
//!
//! `Record::clear_unstored` resets the fields that have no column (`ignore`d ones, a oneof set to an `ignore`d
//! member), so the repository caches what the store holds.

use super::tokens::{rust_ident, rust_path};
use crate::ir::{
    EntityOptions, Field, FieldType, IndexKind, Label, Message, Oneof, Scalar, Schema, WellKnown,
};
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::rust::RuntimePath;

/// How the Rust types of an entity's fields were made, which decides how a well-known type is converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeStyle {
    /// prost-build with the runtime's `well_known` (pbjson-types) for `google.protobuf`: wrappers are structs with a
    /// `value` field.
    /// `json`: the DTOs have their proto3 JSON serde impls (not `skip_json`), which JSON columns use.
    Proto { json: bool },
    /// A hand-written struct (`#[derive(Entity)]`): wrappers are plain `Option<T>` (prost's mapping), and there
    /// may be no serde impls.
    Derive,
}

impl TypeStyle {
    fn has_json(self) -> bool {
        matches!(self, TypeStyle::Proto { json: true })
    }
}

/// How a stored field's value reaches its column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Storage {
    /// One value through its own `Column` impl (scalars, enums, single-column well-known types).
    Value,
    /// A repeated scalar or enum: `capacitor::codec::Repeated` (an array on Postgres, JSON on SQLite).
    Repeated,
    /// A nested message, a map or a repeated message: its proto3 JSON (`capacitor::collections`).
    Json,
}

fn storage(field: &Field) -> Storage {
    match (&field.label, &field.ty) {
        (Label::Map { .. }, _) => Storage::Json,
        (Label::Repeated, FieldType::Scalar(_) | FieldType::Enum(_)) => Storage::Repeated,
        (Label::Repeated, _) | (_, FieldType::Message(_)) => Storage::Json,
        _ => Storage::Value,
    }
}

/// Why an entity gets no `Record`, naming the first field that is not supported; `None` when it gets one.
pub fn unsupported(message: &Message, entity: &EntityOptions, style: TypeStyle) -> Option<String> {
    let key = message.primary_key(entity);
    for field in message.fields.iter().filter(|f| f.stored_in().is_some()) {
        let what = if !style.has_json() && field.oneof.is_some() {
            Some(
                "a oneof member (a oneof is stored as one proto3 JSON value, which needs the serde impls capgen \
                 generates: not with `skip_json`)",
            )
        } else if !style.has_json() && storage(field) == Storage::Json {
            Some(
                "a nested message, map, repeated message or prost oneof, stored as proto3 JSON, which needs the \
                 serde impls capgen generates (not on a derived entity, nor with `skip_json`)",
            )
        } else {
            None
        };
        if let Some(what) = what {
            return Some(format!("field `{}` is {what}", field.name));
        }
        if key.contains(&field.number) && key_type(field).is_none() {
            return Some(format!(
                "key field `{}` has no hashable, ordered key type (floats, well-known types and optional \
                 fields cannot be keys of a repository)",
                field.name
            ));
        }
    }
    None
}

/// `impl Record for X` and `pub struct XRepo`, or a comment saying why not (see [`unsupported`]).
///
/// `validates` is whether `X` implements `Validate` (then writes check its rules first).
///
/// `schema` holds the messages `message` may nest, for its encoding fingerprint.
pub fn record_and_repo(
    schema: &Schema,
    message: &Message,
    entity: &EntityOptions,
    runtime: &RuntimePath,
    style: TypeStyle,
    validates: bool,
) -> TokenStream {
    if let Some(reason) = unsupported(message, entity, style) {
        let doc = format!(
            " capgen: {} has no Record impl and no repository yet: {reason}.",
            message.rust_name
        );
        let ty = rust_path(&message.rust_path);
        // A doc comment on a constant of the type makes the reason visible in the generated file and in rustdoc.
        let name = format_ident!("NO_REPOSITORY_REASON");
        return quote! {
            impl #ty {
                #[doc = #doc]
                pub const #name: &'static str = #reason;
            }
        };
    }
    let fingerprint = encoding_fingerprint(schema, message);
    let mut out = record_impl(message, entity, runtime, style, validates, fingerprint);
    out.extend(repo_type(message, entity, runtime));
    out
}

/// A fingerprint of the protobuf encoding of `message`: FNV-1a over every field's number, name, type, label and
/// oneof, of the message and of every message of `schema` it nests, transitively. It goes into Redis keys, so
/// bytes cached under an older shape (a nested message's field changed too) are never decoded as the new one.
pub fn encoding_fingerprint(schema: &Schema, message: &Message) -> u64 {
    use std::fmt::Write as _;
    let mut text = String::new();
    // A set, not a list: an entity can nest thousands of messages transitively (googleapis-sized schemas).
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut pending = vec![message];
    while let Some(m) = pending.pop() {
        if !seen.insert(&m.full_name) {
            continue;
        }
        text.push_str(&m.full_name);
        for f in &m.fields {
            // Writing into a String cannot fail.
            let _ = write!(
                text,
                "|{}:{}:{:?}:{:?}:{:?}",
                f.number, f.name, f.ty, f.label, f.oneof
            );
            if let FieldType::Message(name) = &f.ty
                && let Some(nested) = schema.message(name)
            {
                pending.push(nested);
            }
        }
        text.push('\n');
    }
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    text.bytes()
        .fold(OFFSET, |hash, b| (hash ^ u64::from(b)).wrapping_mul(PRIME))
}

/// The Rust type prost gives a scalar.
fn scalar_type(s: Scalar) -> TokenStream {
    match s {
        Scalar::Double => quote!(f64),
        Scalar::Float => quote!(f32),
        Scalar::Int32 | Scalar::Sint32 | Scalar::Sfixed32 => quote!(i32),
        Scalar::Int64 | Scalar::Sint64 | Scalar::Sfixed64 => quote!(i64),
        Scalar::Uint32 | Scalar::Fixed32 => quote!(u32),
        Scalar::Uint64 | Scalar::Fixed64 => quote!(u64),
        Scalar::Bool => quote!(bool),
        Scalar::String => quote!(::std::string::String),
        Scalar::Bytes => quote!(::std::vec::Vec<u8>),
    }
}

/// The Rust type of a key field (hashable and ordered): a non-float scalar or an enum with no explicit presence.
fn key_type(field: &Field) -> Option<TokenStream> {
    if !matches!(field.label, Label::Implicit | Label::Required) {
        return None;
    }
    match &field.ty {
        FieldType::Scalar(Scalar::Double | Scalar::Float) => None,
        FieldType::Scalar(s) => Some(scalar_type(*s)),
        FieldType::Enum(_) => Some(quote!(i32)),
        _ => None,
    }
}

/// The `Column` type a lookup binds for an index field: the field's own type for a scalar or enum (optional or
/// not), the codec's `Timestamp`/`Duration` for those, the wrapped scalar (optional) for a wrapper.
fn lookup_type(field: &Field, rt: &TokenStream) -> Option<TokenStream> {
    if matches!(field.label, Label::Repeated | Label::Map { .. }) {
        return None;
    }
    let inner = match &field.ty {
        FieldType::Scalar(s) => scalar_type(*s),
        FieldType::Enum(_) => quote!(i32),
        FieldType::WellKnown(WellKnown::Timestamp) => return Some(quote!(#rt::codec::Timestamp)),
        FieldType::WellKnown(WellKnown::Duration) => return Some(quote!(#rt::codec::Duration)),
        FieldType::WellKnown(w) => {
            let scalar = scalar_type(w.wrapped()?);
            return Some(quote!(::core::option::Option<#scalar>));
        }
        FieldType::Message(_) => return None,
    };
    Some(match field.label {
        Label::Optional => quote!(::core::option::Option<#inner>),
        _ => inner,
    })
}

/// The value written for a stored field, as an expression over `self`.
fn write_value(field: &Field, rt: &TokenStream, style: TypeStyle) -> TokenStream {
    let ident = rust_ident(&field.rust_name);
    match storage(field) {
        // `Vec<u8>` or, with prost's bytes option, `Bytes` elements: the column holds `Vec<u8>`s either way.
        Storage::Repeated if field.ty == FieldType::Scalar(Scalar::Bytes) => {
            return quote! {
                #rt::codec::Repeated(
                    self.#ident.iter().map(|b| ::core::convert::AsRef::<[u8]>::as_ref(b).to_vec()).collect(),
                )
            };
        }
        Storage::Repeated => {
            return quote!(#rt::codec::Repeated(::core::clone::Clone::clone(&self.#ident)));
        }
        Storage::Json
            if matches!(
                field.label,
                Label::Optional | Label::Implicit | Label::Required
            ) =>
        {
            return quote!(self.#ident.as_ref().map(#rt::collections::to_json));
        }
        Storage::Json => return quote!(#rt::collections::to_json(&self.#ident)),
        Storage::Value => {}
    }
    match (&field.ty, style) {
        (FieldType::WellKnown(WellKnown::Timestamp), _) => {
            quote!(self.#ident.as_ref().map(|v| #rt::codec::Timestamp { seconds: v.seconds, nanos: v.nanos }))
        }
        (FieldType::WellKnown(WellKnown::Duration), _) => {
            quote!(self.#ident.as_ref().map(|v| #rt::codec::Duration { seconds: v.seconds, nanos: v.nanos }))
        }
        (FieldType::WellKnown(WellKnown::BytesValue), TypeStyle::Proto { .. }) => {
            quote!(self.#ident.as_ref().map(|v| v.value.to_vec()))
        }
        (FieldType::WellKnown(_), TypeStyle::Proto { .. }) => {
            quote!(self.#ident.as_ref().map(|v| ::core::clone::Clone::clone(&v.value)))
        }
        _ => quote!(self.#ident),
    }
}

/// The expression reading a stored field from `columns`.
fn read_value(field: &Field, rt: &TokenStream, style: TypeStyle) -> TokenStream {
    match storage(field) {
        Storage::Repeated => {
            let element = match &field.ty {
                FieldType::Scalar(s) => scalar_type(*s),
                _ => quote!(i32),
            };
            if field.ty == FieldType::Scalar(Scalar::Bytes) {
                // The field's elements are `Vec<u8>` or `Bytes` (prost's bytes option): the runtime converts
                // generically, where an `Into` here would be an identity conversion for `Vec<u8>`.
                return quote!(#rt::collections::repeated_bytes(columns.column()?));
            }
            return quote!(columns.column::<#rt::codec::Repeated<#element>>()?.0);
        }
        Storage::Json
            if matches!(
                field.label,
                Label::Optional | Label::Implicit | Label::Required
            ) =>
        {
            return quote! {
                columns.column::<::core::option::Option<#rt::codec::Json>>()?
                    .map(#rt::collections::from_json)
                    .transpose()?
            };
        }
        Storage::Json => {
            return quote!(#rt::collections::from_json(columns.column::<#rt::codec::Json>()?)?);
        }
        Storage::Value => {}
    }
    match (&field.ty, style) {
        // The entity's own Timestamp/Duration type (pbjson_types, prost_types, an extern_path) is inferred from
        // the field and built through its encoding.
        (FieldType::WellKnown(WellKnown::Timestamp), _) => quote! {
            columns.column::<::core::option::Option<#rt::codec::Timestamp>>()?
                .map(|v| #rt::well_known::seconds_nanos(v.seconds, v.nanos))
                .transpose()?
        },
        (FieldType::WellKnown(WellKnown::Duration), _) => quote! {
            columns.column::<::core::option::Option<#rt::codec::Duration>>()?
                .map(|v| #rt::well_known::seconds_nanos(v.seconds, v.nanos))
                .transpose()?
        },
        (FieldType::WellKnown(w), TypeStyle::Proto { .. }) => {
            let scalar = w
                .wrapped()
                .expect("Timestamp and Duration are matched above");
            let inner = scalar_type(scalar);
            let name = format_ident!("{}", w.name());
            let value = match scalar {
                Scalar::Bytes => quote!(value: ::core::convert::Into::into(value)),
                _ => quote!(value),
            };
            quote! {
                columns.column::<::core::option::Option<#inner>>()?
                    .map(|value| #rt::well_known::#name { #value })
            }
        }
        _ => quote!(columns.column()?),
    }
}

/// One column of an entity's row.
enum RowColumn<'a> {
    /// A field stored in a column of its own.
    Field(&'a Field),
    /// A oneof, stored as one JSON value.
    Oneof(&'a Oneof),
}

/// The columns of a row, in order: every field with a column ([`Field::stored_in`]) in the IR's order, a oneof
/// once, where its first stored member is (the order of the DDL's columns and of the runtime's statements,
/// `capacitor::record::stored_columns`).
fn row_columns(message: &Message) -> Vec<RowColumn<'_>> {
    capacitor_schema::columns::row_fields(&message.fields)
        .map(|field| match field.oneof.as_deref() {
            None => RowColumn::Field(field),
            Some(name) => RowColumn::Oneof(
                message
                    .oneofs
                    .iter()
                    .find(|o| o.name == name)
                    .unwrap_or_else(|| panic!("IR names an undeclared oneof `{name}`")),
            ),
        })
        .collect()
}

/// The enum variants of a oneof's members that are `ignore`d (not stored), as prost names them.
fn ignored_variants<'a>(
    message: &'a Message,
    oneof: &'a Oneof,
) -> impl Iterator<Item = Ident> + 'a {
    message
        .fields
        .iter()
        .filter(|f| f.oneof.as_deref() == Some(oneof.name.as_str()) && f.options.ignore)
        .map(|f| rust_ident(&crate::names::type_name(&f.name)))
}

/// The JSON column of a oneof, as an expression over `self`: NULL when no stored member is set, otherwise the
/// proto3 JSON the message's own serde impls give the oneof (`capacitor::collections::oneof_to_json`).
fn write_oneof(message: &Message, oneof: &Oneof, rt: &TokenStream) -> TokenStream {
    let ident = rust_ident(&oneof.rust_name);
    let enum_ty = rust_path(&oneof.rust_type);
    let ignored: Vec<TokenStream> = ignored_variants(message, oneof)
        .map(|variant| quote!(#enum_ty::#variant(_)))
        .collect();
    let stored = (!ignored.is_empty())
        .then(|| quote!(.filter(|member| !::core::matches!(member, #(#ignored)|*))));
    quote! {
        self.#ident.as_ref()#stored.map(|_| {
            #rt::collections::oneof_to_json(&Self {
                #ident: ::core::clone::Clone::clone(&self.#ident),
                ..::core::default::Default::default()
            })
        })
    }
}

/// `Record::clear_unstored`: resets every `ignore`d field, and every oneof whose set member is `ignore`d, so the
/// caches hold what the store holds; `None` (the trait's no-op) when everything is stored.
fn clear_unstored(message: &Message) -> Option<TokenStream> {
    let mut clears: Vec<TokenStream> = message
        .fields
        .iter()
        .filter(|f| f.oneof.is_none() && f.stored_in().is_none())
        .map(|f| {
            let ident = rust_ident(&f.rust_name);
            quote!(self.#ident = ::core::default::Default::default();)
        })
        .collect();
    for oneof in &message.oneofs {
        let enum_ty = rust_path(&oneof.rust_type);
        let ignored: Vec<TokenStream> = ignored_variants(message, oneof)
            .map(|variant| quote!(::core::option::Option::Some(#enum_ty::#variant(_))))
            .collect();
        if ignored.is_empty() {
            continue;
        }
        let ident = rust_ident(&oneof.rust_name);
        clears.push(quote! {
            if ::core::matches!(self.#ident, #(#ignored)|*) {
                self.#ident = ::core::option::Option::None;
            }
        });
    }
    (!clears.is_empty()).then(|| {
        quote! {
            fn clear_unstored(&mut self) {
                #(#clears)*
            }
        }
    })
}

fn record_impl(
    message: &Message,
    entity: &EntityOptions,
    runtime: &RuntimePath,
    style: TypeStyle,
    validates: bool,
    fingerprint: u64,
) -> TokenStream {
    let rt = runtime.tokens();
    let ty = rust_path(&message.rust_path);
    let key_fields: Vec<&Field> = message
        .primary_key(entity)
        .iter()
        .filter_map(|n| message.fields.iter().find(|f| f.number == *n))
        .collect();
    let key_types: Vec<TokenStream> = key_fields
        .iter()
        .map(|f| key_type(f).expect("checked by `unsupported`"))
        .collect();
    let key_idents: Vec<Ident> = key_fields
        .iter()
        .map(|f| rust_ident(&f.rust_name))
        .collect();
    // A `bytes` key is a `Vec<u8>` whatever the field's type (`Vec<u8>`, or `Bytes` with prost's bytes option).
    let key_values: Vec<TokenStream> = key_fields
        .iter()
        .zip(&key_idents)
        .map(|(f, i)| match f.ty {
            FieldType::Scalar(Scalar::Bytes) => {
                // Deref-coerces from `Vec<u8>` and `Bytes` alike, with no identity conversion.
                quote!(<[u8]>::to_vec(&self.#i))
            }
            _ => quote!(::core::clone::Clone::clone(&self.#i)),
        })
        .collect();
    let (key_type, key_value, write_key, read_key) = if key_fields.len() == 1 {
        let (t, v) = (&key_types[0], &key_values[0]);
        (
            quote!(#t),
            quote!(#v),
            quote!(out.column(key);),
            quote!(columns.column()),
        )
    } else {
        let at = (0..key_fields.len()).map(syn::Index::from);
        let reads = key_fields.iter().map(|_| quote!(columns.column()?));
        (
            quote!((#(#key_types),*)),
            quote!((#(#key_values),*)),
            quote!(#(out.column(&key.#at);)*),
            quote!(::core::result::Result::Ok((#(#reads),*))),
        )
    };
    let columns = row_columns(message);
    let writes = columns.iter().map(|c| {
        let value = match c {
            RowColumn::Field(f) => write_value(f, rt, style),
            RowColumn::Oneof(o) => write_oneof(message, o, rt),
        };
        quote!(out.column(&#value);)
    });
    let reads = columns.iter().map(|c| match c {
        RowColumn::Field(f) => {
            let ident = rust_ident(&f.rust_name);
            let value = read_value(f, rt, style);
            quote!(#ident: #value,)
        }
        RowColumn::Oneof(o) => {
            let ident = rust_ident(&o.rust_name);
            let name = &o.name;
            quote! {
                #ident: #rt::collections::oneof_from_json::<Self, _>(#name, columns.column()?, |m| m.#ident)?,
            }
        }
    });
    // `..Default::default()` fills the fields without a column (`ignore`d ones, oneofs with no stored member);
    // written only when there are some, since a struct update that fills nothing is `clippy::needless_update`.
    // Every Rust field of the struct is in the IR (prost-build's and the derive's alike).
    let rest = (columns.len()
        < message.fields.iter().filter(|f| f.oneof.is_none()).count() + message.oneofs.len())
    .then(|| quote!(..::core::default::Default::default()));
    let clear_unstored = clear_unstored(message);
    let check_rules = validates.then(|| {
        quote! {
            fn check_rules(&self) -> ::core::result::Result<(), #rt::validate::Violations> {
                #rt::validate::Validate::validate(self)
            }
        }
    });
    // An entity with encrypted fields needs the runtime's `encryption` feature: without it this bound is not
    // met and the compiler prints the trait's message, which names the feature.
    let needs_encryption = message
        .fields
        .iter()
        .any(|f| f.options.encrypt.as_ref().is_some_and(|e| e.value))
        .then(|| {
            quote! {
                const _: () = {
                    fn encrypted_fields_need_the_encryption_feature<T: #rt::record::EncryptionEnabled>() {}
                    let _ = encrypted_fields_need_the_encryption_feature::<#ty>;
                };
            }
        });
    quote! {
        #needs_encryption
        impl #rt::Record for #ty {
            type Key = #key_type;

            fn key(&self) -> Self::Key {
                #key_value
            }

            fn write_key<W: #rt::record::ColumnWriter>(key: &Self::Key, out: &mut W) {
                #write_key
            }

            fn read_key<R: #rt::record::ColumnReader>(
                columns: &mut R,
            ) -> ::core::result::Result<Self::Key, #rt::error::DecodeError> {
                #read_key
            }

            fn write_row<W: #rt::record::ColumnWriter>(&self, out: &mut W) {
                #(#writes)*
            }

            fn read_row<R: #rt::record::ColumnReader>(
                columns: &mut R,
            ) -> ::core::result::Result<Self, #rt::error::DecodeError> {
                ::core::result::Result::Ok(Self {
                    #(#reads)*
                    #rest
                })
            }

            #clear_unstored

            #check_rules

            fn fingerprint() -> u64 {
                #fingerprint
            }
        }
    }
}

/// The name of the typed repository of a message (`UserProfileRepo`).
pub fn repo_name(message: &Message) -> Ident {
    format_ident!("{}Repo", message.rust_name)
}

fn repo_type(message: &Message, entity: &EntityOptions, runtime: &RuntimePath) -> TokenStream {
    let rt = runtime.tokens();
    let ty = rust_path(&message.rust_path);
    let repo = repo_name(message);
    let doc = format!(
        " The tiered repository of [`{}`]: L1 memory → Redis → store, as configured.\n\n \
         Every operation of the generic `Repository` is available through `Deref` \
         (`get`, `get_many`, `put`, `insert`, `update`, `delete`, `put_many`, `delete_many`, `scan`, \
         the `*_in` transaction forms, `stats`); this type adds the lookups of the entity's indexes.",
        message.rust_name,
    );
    let lookups = message
        .resolved_indexes(entity)
        .into_iter()
        .enumerate()
        .filter(|(_, i)| i.kind != IndexKind::Primary)
        .filter_map(|(at, index)| {
            let fields: Vec<&Field> = index
                .fields
                .iter()
                .filter_map(|n| message.fields.iter().find(|f| f.number == *n))
                .collect();
            let types: Vec<TokenStream> = fields.iter().map(|f| lookup_type(f, rt)).collect::<Option<_>>()?;
            let names: Vec<String> = fields
                .iter()
                .map(|f| f.rust_name.trim_start_matches("r#").to_string())
                .collect();
            let method = format_ident!("find_by_{}", names.join("_and_"));
            let params: Vec<Ident> = fields.iter().map(|f| rust_ident(&f.rust_name)).collect();
            let index_name = &index.name;
            // The schema's own index (`Entity::SCHEMA.indexes` lists `resolved_indexes` in this order), so the
            // runtime looks no name up.
            let at = proc_macro2::Literal::usize_unsuffixed(at);
            let index_ref = quote!(&<#ty as #rt::Entity>::SCHEMA.indexes[#at]);
            let described = names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(" and ");
            Some(if index.kind == IndexKind::Unique {
                let doc = format!(
                    " The row whose {described} equals the given value (unique index `{index_name}`), read \
                     from the store."
                );
                quote! {
                    #[doc = #doc]
                    pub async fn #method(
                        &self,
                        #(#params: &#types),*
                    ) -> ::core::result::Result<::core::option::Option<#rt::Versioned<#ty>>, #rt::Error> {
                        self.repo.find_unique(#index_ref, &(#(#params,)*)).await
                    }
                }
            } else {
                let doc = format!(
                    " Up to `limit` rows whose {described} equals the given value (index `{index_name}`), in \
                     key order after the cursor `after` (`None` first, then the previous page's `next`), read \
                     from the store."
                );
                quote! {
                    #[doc = #doc]
                    pub async fn #method(
                        &self,
                        #(#params: &#types,)*
                        after: ::core::option::Option<&#rt::Cursor>,
                        limit: usize,
                    ) -> ::core::result::Result<#rt::store::Page<#ty>, #rt::Error> {
                        self.repo.find_by_index(#index_ref, &(#(#params,)*), after, limit).await
                    }
                }
            })
        });
    quote! {
        #[doc = #doc]
        #[derive(Clone)]
        pub struct #repo {
            repo: #rt::Repository<#ty>,
        }

        impl #repo {
            /// The repository on `store`, with L1 as the schema asks and no Redis.
            pub fn new(store: #rt::Store) -> Self {
                Self { repo: #rt::Repository::new(store) }
            }

            /// Opens the store `url` names (`sqlite:…`, `postgres://…`, `memory:`), applies `migrations` for its
            /// dialect (capgen's, embedded with `sqlx::migrate!`) and returns a repository on it.
            pub async fn open(
                url: &str,
                migrations: &#rt::migrate::Migrations,
            ) -> ::core::result::Result<Self, #rt::Error> {
                ::core::result::Result::Ok(Self::new(#rt::Store::open_migrated(url, migrations).await?))
            }

            /// Opens the entity's default store, applying `migrations`: the URL in `CAPACITOR_DATABASE_URL` if
            /// set, else the schema's backend default (a SQLite entity gets `capacitor.db` in the working
            /// directory).
            pub async fn open_default(
                migrations: &#rt::migrate::Migrations,
            ) -> ::core::result::Result<Self, #rt::Error> {
                let backend = <#ty as #rt::Entity>::SCHEMA.backend;
                ::core::result::Result::Ok(Self::new(#rt::Store::open_default(backend, migrations).await?))
            }

            /// Configures the repository (Redis tier, L1 off); finish with `build`, then `From`.
            pub fn builder(store: #rt::Store) -> #rt::repo::RepositoryBuilder<#ty> {
                #rt::Repository::builder(store)
            }

            /// The generic repository underneath.
            pub fn repository(&self) -> &#rt::Repository<#ty> {
                &self.repo
            }

            #(#lookups)*
        }

        impl ::core::convert::From<#rt::Repository<#ty>> for #repo {
            fn from(repo: #rt::Repository<#ty>) -> Self {
                Self { repo }
            }
        }

        impl ::core::ops::Deref for #repo {
            type Target = #rt::Repository<#ty>;
            fn deref(&self) -> &Self::Target {
                &self.repo
            }
        }
    }
}
