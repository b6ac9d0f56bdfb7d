//! `#[derive(RedactedDebug)]`: a Debug that prints `<redacted>` for `pii` and `redact` fields, and the masked
//! view (`value.masked()`) of a struct with such fields.

use crate::ctxt::Ctxt;
use crate::model::{self, Derive};
use capacitor_codegen::emit::rust::{debug_impls, masked_impls};
use proc_macro2::TokenStream;
use syn::DeriveInput;

pub(crate) fn derive(input: &DeriveInput) -> Result<TokenStream, syn::Error> {
    let mut cx = Ctxt::default();
    let model = model::read(&mut cx, input, Derive::RedactedDebug)?;
    if model.prost_fields && !model.prost_skip_debug {
        cx.error_at(
            model.ident_span,
            "prost derives Debug too: add #[prost(skip_debug)] to the struct so that this redacting Debug \
             is the only one",
        );
    }
    cx.check()?;
    let mut code = debug_impls(&model.message);
    // A message without PII or `redact` fields has nothing to mask: no view, as on the proto path.
    if model.message.needs_redaction() {
        code.extend(masked_impls(&model.message, &model.runtime));
    }
    Ok(code)
}
