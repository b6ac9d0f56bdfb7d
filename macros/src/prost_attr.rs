//! What prost's own attributes say about a field: its number, proto type and label.
//!
//! The derive reads numbers and types from `#[prost(...)]` rather than asking for them again, so the two front
//! ends agree on them by construction. prost-derive validates its attributes itself; this reader only reports
//! what it needs and cannot find, and skips keys it has no use for (`packed`, `default`, ...).

use crate::ctxt::{Ctxt, SpanRange};
use capacitor_codegen::ir::{FieldType, Label, Scalar, WellKnown};
use quote::ToTokens;
use syn::punctuated::Punctuated;
use syn::{
    Attribute, Expr, ExprLit, GenericArgument, Lit, LitInt, Meta, Path, PathArguments, Token, Type,
};

/// A field's `#[prost(...)]` attributes, read.
pub(crate) struct ProstField {
    /// The field number (`tag`), or the first of a oneof's `tags`.
    pub(crate) number: Option<u32>,
    pub(crate) kind: ProstKind,
    pub(crate) label: Option<ProstLabel>,
    /// Where the attributes were written, for errors.
    pub(crate) span: SpanRange,
}

/// The proto type prost was told.
pub(crate) enum ProstKind {
    Scalar(Scalar),
    /// `enumeration = "Path"`.
    Enumeration(String),
    /// `message` or `group`.
    Message,
    /// `map = "k, v"`, `hash_map`, `btree_map`.
    Map {
        key: Scalar,
        value: MapValue,
    },
    /// `oneof = "Path"`.
    Oneof(String),
}

pub(crate) enum MapValue {
    Scalar(Scalar),
    Enumeration(String),
    Message,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProstLabel {
    Optional,
    Repeated,
    Required,
}

/// Whether the struct turns off prost's derived Debug (`#[prost(skip_debug)]`).
pub(crate) fn skips_debug(attrs: &[Attribute]) -> bool {
    prost_metas(attrs).any(|m| m.path().is_ident("skip_debug"))
}

fn prost_metas(attrs: &[Attribute]) -> impl Iterator<Item = Meta> + '_ {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("prost"))
        .filter_map(|a| {
            a.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
                .ok()
        })
        .flatten()
}

impl ProstField {
    /// Reads a field's `#[prost(...)]` attributes; `None` when it has none.
    pub(crate) fn from_attrs(cx: &mut Ctxt, attrs: &[Attribute]) -> Option<ProstField> {
        let prost_attrs: Vec<&Attribute> = attrs
            .iter()
            .filter(|a| a.path().is_ident("prost"))
            .collect();
        if prost_attrs.is_empty() {
            return None;
        }
        let span = SpanRange::of(
            &prost_attrs
                .iter()
                .map(|a| a.to_token_stream())
                .collect::<proc_macro2::TokenStream>(),
        );
        let mut number = None;
        let mut kind = None;
        let mut label = None;
        for attr in prost_attrs {
            let metas = match attr.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
            {
                Ok(metas) => metas,
                Err(e) => {
                    cx.syn_error(e);
                    continue;
                }
            };
            for meta in metas {
                let name = meta
                    .path()
                    .get_ident()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                match (name.as_str(), &meta) {
                    ("optional", Meta::Path(_)) => label = Some(ProstLabel::Optional),
                    ("repeated", Meta::Path(_)) => label = Some(ProstLabel::Repeated),
                    ("required", Meta::Path(_)) => label = Some(ProstLabel::Required),
                    ("message" | "group", Meta::Path(_)) => kind = Some(ProstKind::Message),
                    ("bytes", _) => kind = Some(ProstKind::Scalar(Scalar::Bytes)),
                    ("tag", _) => number = tag(cx, &meta),
                    ("tags", _) => number = first_tag(cx, &meta),
                    ("enumeration", _) => kind = enumeration(cx, &meta).map(ProstKind::Enumeration),
                    ("oneof", _) => kind = string(&meta).map(ProstKind::Oneof),
                    ("map" | "hash_map" | "btree_map", _) => kind = map(cx, &meta),
                    (other, Meta::Path(_)) => {
                        if let Some(scalar) = Scalar::from_proto_name(other) {
                            kind = Some(ProstKind::Scalar(scalar));
                        }
                    }
                    _ => {}
                }
            }
        }
        let Some(kind) = kind else {
            cx.error_at(
                span,
                "cannot tell this field's proto type from #[prost(...)]: expected a type such as `string`, \
                 `message`, `enumeration = \"Kind\"`, `map = \"string, int32\"` or `oneof = \"Kind\"`",
            );
            return None;
        };
        Some(ProstField {
            number,
            kind,
            label,
            span,
        })
    }

    /// The IR type and label of a field with this Rust type.
    pub(crate) fn ir_type(&self, rust_ty: &Type) -> (FieldType, Label) {
        let repeated = self.label == Some(ProstLabel::Repeated);
        let label = match self.label {
            Some(ProstLabel::Optional) => Label::Optional,
            Some(ProstLabel::Repeated) => Label::Repeated,
            Some(ProstLabel::Required) => Label::Required,
            None => Label::Implicit,
        };
        match &self.kind {
            ProstKind::Scalar(s) => (FieldType::Scalar(*s), label),
            ProstKind::Enumeration(path) => (FieldType::Enum(path.clone()), label),
            ProstKind::Message => {
                // A message has explicit presence unless it is repeated or required.
                let label = if label == Label::Implicit {
                    Label::Optional
                } else {
                    label
                };
                let inner = strip(rust_ty, if repeated { "Vec" } else { "Option" });
                (message_type(strip(inner, "Box")), label)
            }
            ProstKind::Map { key, value } => {
                let ty = match value {
                    MapValue::Scalar(s) => FieldType::Scalar(*s),
                    MapValue::Enumeration(path) => FieldType::Enum(path.clone()),
                    MapValue::Message => message_type(last_generic_arg(rust_ty).unwrap_or(rust_ty)),
                };
                (ty, Label::Map { key: *key })
            }
            // A oneof is stored as one value (not a column per member): a message-typed field.
            ProstKind::Oneof(path) => (FieldType::Message(path.clone()), Label::Optional),
        }
    }
}

/// A message-typed value: a one-column well-known type when the Rust type is one, else a message.
///
/// prost maps `google.protobuf.Timestamp`/`Duration` to types with that name, and the wrapper types
/// (`StringValue`, `Int64Value`, ...) to the plain Rust type (`Option<String>`, `Option<i64>`).
fn message_type(ty: &Type) -> FieldType {
    let Some(last) = last_segment(ty) else {
        return FieldType::Message(type_string(ty));
    };
    let name = last.ident.to_string();
    let wrapper = match name.as_str() {
        "String" => Some(WellKnown::StringValue),
        "i64" => Some(WellKnown::Int64Value),
        "u64" => Some(WellKnown::Uint64Value),
        "i32" => Some(WellKnown::Int32Value),
        "u32" => Some(WellKnown::Uint32Value),
        "bool" => Some(WellKnown::BoolValue),
        "f64" => Some(WellKnown::DoubleValue),
        "f32" => Some(WellKnown::FloatValue),
        "Bytes" => Some(WellKnown::BytesValue),
        "Vec"
            if last_generic_arg(ty)
                .and_then(last_segment)
                .is_some_and(|s| s.ident == "u8") =>
        {
            Some(WellKnown::BytesValue)
        }
        _ => WellKnown::from_name(&name),
    };
    match wrapper {
        Some(w) => FieldType::WellKnown(w),
        None => FieldType::Message(type_string(ty)),
    }
}

fn type_string(ty: &Type) -> String {
    ty.to_token_stream().to_string().replace(' ', "")
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) => p.path.segments.last(),
        _ => None,
    }
}

fn last_generic_arg(ty: &Type) -> Option<&Type> {
    match &last_segment(ty)?.arguments {
        PathArguments::AngleBracketed(args) => args.args.iter().rev().find_map(|a| match a {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    }
}

/// `Wrapper<T>` → `T` when the outer type's last segment is `wrapper`; otherwise the type itself.
fn strip<'a>(ty: &'a Type, wrapper: &str) -> &'a Type {
    match last_segment(ty) {
        Some(seg) if seg.ident == wrapper => last_generic_arg(ty).unwrap_or(ty),
        _ => ty,
    }
}

fn string(meta: &Meta) -> Option<String> {
    match meta {
        Meta::NameValue(nv) => match &nv.value {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    }
}

/// `tag = "3"`, `tag = 3` or `tag(3)`, as prost accepts them.
fn tag(cx: &mut Ctxt, meta: &Meta) -> Option<u32> {
    let parsed = match meta {
        Meta::NameValue(nv) => match &nv.value {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => s.value().trim().parse().ok(),
            Expr::Lit(ExprLit {
                lit: Lit::Int(i), ..
            }) => i.base10_parse().ok(),
            _ => None,
        },
        Meta::List(list) => list
            .parse_args::<LitInt>()
            .ok()
            .and_then(|i| i.base10_parse().ok()),
        Meta::Path(_) => None,
    };
    if parsed.is_none() {
        cx.error(meta, "a prost `tag` must be a field number: `tag = \"1\"`");
    }
    parsed
}

/// The first of a oneof's `tags = "3, 4"`: the number its stored value is known by.
fn first_tag(cx: &mut Ctxt, meta: &Meta) -> Option<u32> {
    let first = match meta {
        Meta::NameValue(_) => {
            string(meta).and_then(|s| s.split(',').next().and_then(|t| t.trim().parse().ok()))
        }
        Meta::List(list) => list
            .parse_args_with(Punctuated::<LitInt, Token![,]>::parse_terminated)
            .ok()
            .and_then(|tags| tags.first().and_then(|t| t.base10_parse().ok())),
        Meta::Path(_) => None,
    };
    if first.is_none() {
        cx.error(
            meta,
            "prost `tags` must list field numbers: `tags = \"3, 4\"`",
        );
    }
    first
}

/// `enumeration = "Path"` or `enumeration(Path)`.
fn enumeration(cx: &mut Ctxt, meta: &Meta) -> Option<String> {
    let path = match meta {
        Meta::NameValue(_) => string(meta).and_then(|s| syn::parse_str::<Path>(&s).ok()),
        Meta::List(list) => list.parse_args::<Path>().ok(),
        Meta::Path(_) => None,
    };
    if path.is_none() {
        cx.error(
            meta,
            "prost `enumeration` must name an enum: `enumeration = \"Status\"`",
        );
    }
    path.map(|p| p.to_token_stream().to_string().replace(' ', ""))
}

/// `map = "string, int32"`, `map = "string, message"`, `map = "string, enumeration(Kind)"`.
fn map(cx: &mut Ctxt, meta: &Meta) -> Option<ProstKind> {
    let text = string(meta).unwrap_or_default();
    let parsed = text.split_once(',').and_then(|(key, value)| {
        let key = Scalar::from_proto_name(key.trim())?;
        let value = value.trim();
        let value = if value == "message" {
            MapValue::Message
        } else if let Some(inner) = value.strip_prefix("enumeration") {
            let inner = inner
                .trim()
                .trim_start_matches(['(', '<'])
                .trim_end_matches([')', '>']);
            let path = syn::parse_str::<Path>(inner.trim()).ok()?;
            MapValue::Enumeration(path.to_token_stream().to_string().replace(' ', ""))
        } else {
            MapValue::Scalar(Scalar::from_proto_name(value)?)
        };
        Some(ProstKind::Map { key, value })
    });
    if parsed.is_none() {
        cx.error(meta, "cannot read this prost map: expected `map = \"<key scalar>, <value>\"`, e.g. `map = \"string, int32\"`");
    }
    parsed
}
