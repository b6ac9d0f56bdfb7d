//! `impl Validate` for every message: the `buf.validate` rules of the IR turned into plain Rust checks.
//!
//! The generated code allocates nothing on valid input: field paths are a stack-linked chain of `'static`
//! segments (`PathNode`), rule paths are `static` arrays, messages are string literals, and regexes are compiled
//! once in a `LazyLock`. Only a recorded violation materializes anything.
//!
//! Shared by the proto path and the derive path; rules the emitter cannot check (CEL, a rule that does not fit
//! its field) are reported by [`crate::check`] before emission and skipped here.

mod bytes;
mod cel;
mod kind;
mod numeric;
mod rule_set;
mod string;
mod value;
mod walk;
mod well_known;

use crate::emit::rust::RuntimePath;
use crate::ir::{FieldType, Message, Scalar, Schema};
use crate::rules::{RuleField, RuleType};
use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};
use std::collections::{BTreeMap, BTreeSet};

/// What the emitter needs to know beyond one message.
#[derive(Debug, Clone, Copy)]
pub struct ValidateContext<'a> {
    /// How generated code names the runtime crate.
    pub runtime: &'a RuntimePath,
    /// Every message that gets an `impl Validate` (nested messages are validated through it).
    pub schema: &'a Schema,
    /// The defined numbers of each enum, by fully qualified name (`enum.defined_only`).
    pub enum_values: &'a BTreeMap<String, Vec<i32>>,
    /// Fields (`pkg.Message.field`) declared with implicit presence that Rust holds as `Option<T>` (editions
    /// files lowered to proto2): the rules treat `None` as the zero value.
    pub implicit_presence: &'a BTreeSet<String>,
    /// Fields (`pkg.Message.field`) encoded as groups (`TYPE_GROUP` in field paths).
    pub groups: &'a BTreeSet<String>,
}

/// The `Ignore` enum of `buf.validate`.
const IGNORE_IF_ZERO_VALUE: i32 = 1;
const IGNORE_ALWAYS: i32 = 3;

/// The runtime's `validate::FieldType` variant of a scalar: it names its variants as [`Scalar`] does
/// (`Double`, `Uint32`, `Sfixed64`), so the IR's variant name is the runtime's.
fn scalar_variant(s: Scalar) -> String {
    format!("{s:?}")
}

/// The `FieldDescriptorProto.Type` variant name of a value of this type.
fn descriptor_type(ty: &FieldType) -> String {
    match ty {
        FieldType::Scalar(s) => scalar_variant(*s),
        FieldType::Enum(_) => "Enum".to_string(),
        FieldType::WellKnown(_) | FieldType::Message(_) => "Message".to_string(),
    }
}

/// The `FieldDescriptorProto.Type` variant name of a field of a rules message.
fn rule_type_variant(ty: RuleType) -> String {
    match ty {
        RuleType::Scalar(s) => scalar_variant(s),
        RuleType::Enum => "Enum".to_string(),
        RuleType::Message(_) | RuleType::Duration | RuleType::Timestamp | RuleType::FieldMask => {
            "Message".to_string()
        }
    }
}

fn rust_path(path: &str) -> TokenStream {
    syn::parse_str::<syn::Path>(path)
        .map(|p| quote!(#p))
        .unwrap_or_else(|e| panic!("IR holds an invalid Rust path `{path}`: {e}"))
}

fn rust_ident(name: &str) -> Ident {
    match name.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, Span::call_site()),
        None => Ident::new(name, Span::call_site()),
    }
}

struct Emitter<'a> {
    cx: ValidateContext<'a>,
    rt: TokenStream,
    message: &'a Message,
}

/// `impl Validate for X`: every rule of the message, its fields, its oneofs, and recursion into nested
/// messages of the schema.
pub fn validate_impl(message: &Message, cx: ValidateContext<'_>) -> TokenStream {
    let e = Emitter {
        rt: cx.runtime.tokens().clone(),
        cx,
        message,
    };
    let rt = &e.rt;
    let ty = rust_path(&message.rust_path);
    let mut body = Vec::new();
    body.push(e.message_oneof_rules());
    body.push(e.message_cel_rules());
    for oneof in &message.oneofs {
        body.push(e.oneof_rules(oneof));
    }
    for field in &message.fields {
        body.push(e.field(field));
    }
    quote! {
        #[allow(clippy::all, clippy::pedantic, unused_variables, unused_mut, unused_parens, non_upper_case_globals)]
        impl #rt::validate::Validate for #ty {
            fn validate_into(
                &self,
                cx: &mut #rt::validate::Cx,
                parent: ::core::option::Option<&#rt::validate::PathNode<'_>>,
            ) -> ::core::ops::ControlFlow<()> {
                #(#body)*
                ::core::ops::ControlFlow::Continue(())
            }
        }
    }
}

impl Emitter<'_> {
    fn segment_tokens(&self, number: i32, name: &str, ty: &str) -> TokenStream {
        let rt = &self.rt;
        let ty = format_ident!("{ty}");
        quote!(#rt::validate::Segment::new(#number, #name, #rt::validate::FieldType::#ty))
    }

    /// `{ static R: [Segment; n] = […]; cx.violation(at, &R, id, message)?; }`
    fn violation(
        &self,
        at: &TokenStream,
        rule: &[RuleField],
        id: &str,
        message: &str,
        for_key: bool,
    ) -> TokenStream {
        self.violation_at(at, rule, None, id, message, for_key)
    }

    /// A violation whose rule path ends in one entry of a repeated rules field (`cel[index]`).
    fn violation_at(
        &self,
        at: &TokenStream,
        rule: &[RuleField],
        last_index: Option<u64>,
        id: &str,
        message: &str,
        for_key: bool,
    ) -> TokenStream {
        let rt = &self.rt;
        let last = rule.len().saturating_sub(1);
        let segments = rule.iter().enumerate().map(|(i, f)| match last_index {
            Some(index) if i == last => {
                let ty = format_ident!("{}", rule_type_variant(f.ty));
                let (number, name) = (f.number, f.name);
                quote!(#rt::validate::Segment::indexed(#number, #name, #rt::validate::FieldType::#ty, #index))
            }
            _ => self.segment_tokens(f.number, f.name, &rule_type_variant(f.ty)),
        });
        let n = rule.len();
        let method = if for_key {
            quote!(key_violation)
        } else {
            quote!(violation)
        };
        quote! {{
            static R: [#rt::validate::Segment; #n] = [#(#segments),*];
            cx.#method(#at, &R, #id, #message)?;
        }}
    }
}
