//! Error accumulation and the side table of Rust spans that the IR refers to by [`Origin::Derive`] id.
//!
//! Like serde_derive's `Ctxt`, every stage records its errors here instead of returning early, so one
//! compilation shows the user every problem at once.

use crate::attribute_spelling::AttributeSpelling;
use capacitor_codegen::diagnostic::Diagnostic;
use capacitor_codegen::ir::Origin;
use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::ToTokens;
use std::fmt::Display;

/// A source range: the first and last token of some syntax.
///
/// `proc_macro::Span::join` is nightly-only, so a range is kept as its two ends; `syn::Error::new_spanned`
/// turns them back into one underlined range on stable.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SpanRange {
    first: Span,
    last: Span,
}

impl SpanRange {
    /// The range covering `tokens`.
    pub(crate) fn of(tokens: &impl ToTokens) -> SpanRange {
        let mut iter = tokens.to_token_stream().into_iter();
        let first = iter.next().map_or_else(Span::call_site, |t| t.span());
        let last = iter.last().map_or(first, |t| t.span());
        SpanRange { first, last }
    }

    fn error(self, message: impl Display) -> syn::Error {
        let ends: TokenStream = [
            TokenTree::Ident(Ident::new("first", self.first)),
            TokenTree::Ident(Ident::new("last", self.last)),
        ]
        .into_iter()
        .collect();
        syn::Error::new_spanned(ends, message)
    }
}

/// The errors found so far, and the spans the IR points at.
#[derive(Default)]
pub(crate) struct Ctxt {
    errors: Vec<syn::Error>,
    spans: Vec<SpanRange>,
}

impl Ctxt {
    /// An error over `tokens`.
    pub(crate) fn error(&mut self, tokens: &impl ToTokens, message: impl Display) {
        self.error_at(SpanRange::of(tokens), message);
    }

    /// An error over a recorded range.
    pub(crate) fn error_at(&mut self, span: SpanRange, message: impl Display) {
        self.errors.push(span.error(message));
    }

    /// An error syn already built (a malformed attribute).
    pub(crate) fn syn_error(&mut self, error: syn::Error) {
        self.errors.push(error);
    }

    /// Records `span` and returns the IR origin that refers to it.
    pub(crate) fn origin(&mut self, span: SpanRange) -> Origin {
        self.spans.push(span);
        Origin::Derive(self.spans.len() - 1)
    }

    /// Reports a check's diagnostic at the span its origin refers to (`fallback` for origins from nowhere).
    pub(crate) fn diagnostic(&mut self, diagnostic: &Diagnostic, fallback: SpanRange) {
        let span = match diagnostic.origin {
            Origin::Derive(id) => self.spans.get(id).copied().unwrap_or(fallback),
            Origin::Proto(_) | Origin::Unknown => fallback,
        };
        let mut text = diagnostic.message.spelled(&AttributeSpelling);
        if let Some(help) = &diagnostic.help {
            text.push_str("\nhelp: ");
            text.push_str(&help.spelled(&AttributeSpelling));
        }
        self.error_at(span, text);
    }

    /// All errors so far combined into one (and cleared), or `Ok` when there were none: the gate between
    /// stages.
    pub(crate) fn check(&mut self) -> syn::Result<()> {
        let mut errors = std::mem::take(&mut self.errors).into_iter();
        match errors.next() {
            None => Ok(()),
            Some(mut first) => {
                first.extend(errors);
                Err(first)
            }
        }
    }
}
