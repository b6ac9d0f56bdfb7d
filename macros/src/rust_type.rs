//! The proto type of a field that has no `#[prost(...)]` attribute, read from its Rust type.
//!
//! `#[derive(Validate)]` works on any struct, so a field's proto type (which decides the rule family:
//! `String` → `string.*`, `Vec<T>` → `repeated.*`) may have to come from the Rust type alone. The mapping is the
//! one prost uses in the other direction, so a hand-written struct and the prost struct of the same schema end
//! up with the same IR.

use capacitor_codegen::ir::{FieldType, Label, Scalar, WellKnown};
use quote::ToTokens;
use syn::{GenericArgument, PathArguments, Type};

/// A Rust type that has no proto counterpart, with what to write instead.
pub(crate) struct Unsupported(pub(crate) String);

/// The IR type and label of a field of Rust type `ty`.
///
/// | Rust | IR |
/// |---|---|
/// | `String`, `bool`, `i32`, `i64`, `u32`, `u64`, `f32`, `f64` | that scalar, implicit presence |
/// | `Vec<u8>`, `Bytes` | `bytes` |
/// | `Option<T>` | `T` with explicit presence |
/// | `Vec<T>` | repeated `T` |
/// | `HashMap<K, V>`, `BTreeMap<K, V>` | `map<K, V>` |
/// | `Box<T>` | `T` |
/// | `Timestamp`, `Duration` (bare, or from `prost_types`/`pbjson_types`) | the well-known type |
/// | any other type | a message (its `Validate` impl is called) |
///
/// A message held directly (not in an `Option`) is always present: [`Label::Required`], which is how the
/// validator emitter reads a message it can borrow without unwrapping.
pub(crate) fn ir_type(ty: &Type) -> Result<(FieldType, Label), Unsupported> {
    if let Some(inner) = generic("Option", ty) {
        let (ty, label) = ir_type(inner)?;
        return match label {
            Label::Implicit | Label::Required => Ok((ty, Label::Optional)),
            _ => Err(Unsupported(format!(
                "`{}` has no proto counterpart: a repeated field or map is never absent; drop the `Option`",
                type_string(inner)
            ))),
        };
    }
    if let Some(inner) = generic("Box", ty) {
        return ir_type(inner);
    }
    if is_bytes(ty) {
        return Ok((FieldType::Scalar(Scalar::Bytes), Label::Implicit));
    }
    if let Some(item) = generic("Vec", ty) {
        return match ir_type(item)? {
            (ty, Label::Implicit | Label::Required) => Ok((ty, Label::Repeated)),
            _ => Err(Unsupported(format!(
                "`{}` has no proto counterpart: items of a repeated field are single values; wrap the inner \
                 collection in a struct",
                type_string(ty)
            ))),
        };
    }
    if let Some((key, value)) = map_args(ty) {
        let key = match ir_type(key)? {
            (FieldType::Scalar(s), Label::Implicit) if is_map_key(s) => s,
            _ => {
                return Err(Unsupported(format!(
                    "`{}` cannot be a map key: proto map keys are integers, bool or String",
                    type_string(key)
                )));
            }
        };
        return match ir_type(value)? {
            (ty, Label::Implicit | Label::Required) => Ok((ty, Label::Map { key })),
            _ => Err(Unsupported(format!(
                "`{}` cannot be a map value: proto map values are single values (no Option, Vec or map)",
                type_string(value)
            ))),
        };
    }
    if let Some(scalar) = scalar(ty) {
        return Ok((FieldType::Scalar(scalar), Label::Implicit));
    }
    if let Some(name) = last_ident(ty)
        && let Some(hint) = unsupported_primitive(&name)
    {
        return Err(Unsupported(format!(
            "`{name}` has no proto counterpart: {hint}"
        )));
    }
    // prost's (and pbjson's) `Timestamp` and `Duration`: the well-known types with rules of their own.
    if let Some(name) = last_ident(ty)
        && let Some(w @ (WellKnown::Timestamp | WellKnown::Duration)) = WellKnown::from_name(&name)
        && is_protobuf_path(ty)
    {
        return Ok((FieldType::WellKnown(w), Label::Required));
    }
    Ok((FieldType::Message(type_string(ty)), Label::Required))
}

/// `Timestamp`, or a path through `prost_types`, `pbjson_types` or `protobuf` (not `std::time::Duration`).
fn is_protobuf_path(ty: &Type) -> bool {
    let Type::Path(path) = ty else {
        return false;
    };
    let segments: Vec<String> = path
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    match segments.len() {
        1 => true,
        n => matches!(
            segments[n - 2].as_str(),
            "prost_types" | "pbjson_types" | "protobuf"
        ),
    }
}

fn scalar(ty: &Type) -> Option<Scalar> {
    Some(match last_ident(ty)?.as_str() {
        "String" => Scalar::String,
        "bool" => Scalar::Bool,
        "i32" => Scalar::Int32,
        "i64" => Scalar::Int64,
        "u32" => Scalar::Uint32,
        "u64" => Scalar::Uint64,
        "f32" => Scalar::Float,
        "f64" => Scalar::Double,
        _ => return None,
    })
}

fn unsupported_primitive(name: &str) -> Option<&'static str> {
    Some(match name {
        "i8" | "i16" | "isize" => "use i32 or i64",
        "u8" | "u16" | "usize" => "use u32 or u64",
        "i128" | "u128" => "use i64 or u64, or bytes",
        "char" | "str" => "use String",
        _ => return None,
    })
}

fn is_map_key(s: Scalar) -> bool {
    !matches!(s, Scalar::Float | Scalar::Double | Scalar::Bytes)
}

/// `Vec<u8>` or `Bytes` (`bytes::Bytes`, `prost::bytes::Bytes`).
fn is_bytes(ty: &Type) -> bool {
    match last_ident(ty).as_deref() {
        Some("Bytes") => true,
        Some("Vec") => generic("Vec", ty)
            .and_then(last_ident)
            .is_some_and(|i| i == "u8"),
        _ => false,
    }
}

/// `Wrapper<T>` → `T` when the type's last path segment is `wrapper` with one type argument.
fn generic<'a>(wrapper: &str, ty: &'a Type) -> Option<&'a Type> {
    let segment = last_segment(ty)?;
    if segment.ident != wrapper {
        return None;
    }
    let mut args = type_args(segment);
    let first = args.next()?;
    args.next().is_none().then_some(first)
}

/// `HashMap<K, V>` / `BTreeMap<K, V>` → `(K, V)` (a hasher argument may follow).
fn map_args(ty: &Type) -> Option<(&Type, &Type)> {
    let segment = last_segment(ty)?;
    if segment.ident != "HashMap" && segment.ident != "BTreeMap" {
        return None;
    }
    let mut args = type_args(segment);
    Some((args.next()?, args.next()?))
}

fn type_args(segment: &syn::PathSegment) -> impl Iterator<Item = &Type> {
    let args = match &segment.arguments {
        PathArguments::AngleBracketed(args) => Some(args.args.iter()),
        _ => None,
    };
    args.into_iter().flatten().filter_map(|a| match a {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    })
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        Type::Group(g) => last_segment(&g.elem),
        Type::Paren(p) => last_segment(&p.elem),
        _ => None,
    }
}

fn last_ident(ty: &Type) -> Option<String> {
    last_segment(ty).map(|s| s.ident.to_string())
}

fn type_string(ty: &Type) -> String {
    ty.to_token_stream().to_string().replace(' ', "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn of(ty: Type) -> (FieldType, Label) {
        ir_type(&ty).unwrap_or_else(|e| panic!("{}", e.0))
    }

    #[test]
    fn maps_rust_types_as_prost_does() {
        let string = FieldType::Scalar(Scalar::String);
        assert_eq!(of(parse_quote!(String)), (string.clone(), Label::Implicit));
        assert_eq!(
            of(parse_quote!(Option<String>)),
            (string.clone(), Label::Optional)
        );
        assert_eq!(
            of(parse_quote!(Vec<String>)),
            (string.clone(), Label::Repeated)
        );
        assert_eq!(
            of(parse_quote!(Vec<u8>)),
            (FieldType::Scalar(Scalar::Bytes), Label::Implicit)
        );
        assert_eq!(
            of(parse_quote!(Vec<Vec<u8>>)),
            (FieldType::Scalar(Scalar::Bytes), Label::Repeated)
        );
        assert_eq!(
            of(parse_quote!(std::collections::HashMap<String, i64>)),
            (
                FieldType::Scalar(Scalar::Int64),
                Label::Map {
                    key: Scalar::String
                }
            )
        );
        assert_eq!(
            of(parse_quote!(BTreeMap<u32, Address>)),
            (
                FieldType::Message("Address".into()),
                Label::Map {
                    key: Scalar::Uint32
                }
            )
        );
        assert_eq!(
            of(parse_quote!(Box<Address>)),
            (FieldType::Message("Address".into()), Label::Required)
        );
        assert_eq!(
            of(parse_quote!(Option<Box<Address>>)),
            (FieldType::Message("Address".into()), Label::Optional)
        );
        assert_eq!(
            of(parse_quote!(prost_types::Duration)),
            (FieldType::WellKnown(WellKnown::Duration), Label::Required)
        );
        assert_eq!(
            of(parse_quote!(std::time::Duration)),
            (
                FieldType::Message("std::time::Duration".into()),
                Label::Required
            )
        );
        assert_eq!(
            of(parse_quote!(f32)),
            (FieldType::Scalar(Scalar::Float), Label::Implicit)
        );
    }

    #[test]
    fn refuses_types_without_a_proto_counterpart() {
        for ty in [
            parse_quote!(u8),
            parse_quote!(Option<Vec<String>>),
            parse_quote!(Vec<Vec<String>>),
            parse_quote!(HashMap<f64, String>),
            parse_quote!(HashMap<String, Vec<String>>),
        ] {
            let ty: Type = ty;
            assert!(ir_type(&ty).is_err(), "{}", type_string(&ty));
        }
    }
}
