//! Derives for Capacitor (re-exported by the `capacitor` crate).
use proc_macro::TokenStream;

/// Placeholder replaced by the derive front end.
#[proc_macro_derive(Entity, attributes(capacitor))]
pub fn derive_entity(_input: TokenStream) -> TokenStream {
    TokenStream::new()
}

/// Placeholder replaced by the derive front end.
#[proc_macro_derive(RedactedDebug, attributes(capacitor))]
pub fn derive_redacted_debug(_input: TokenStream) -> TokenStream {
    TokenStream::new()
}
