//! The `CREATE TABLE` constants `#[derive(Entity)]` gives a hand-written entity, rendered at expansion time by
//! the same templates as `capgen migrate sql`: `User::CREATE_TABLE_POSTGRES`, `User::CREATE_TABLE_SQLITE`.
//!
//! For tests and prototypes; applications evolve their tables with `capgen migrate diff` instead.

use super::{Dialect, entity_tables, render, subject_keys_table};
use crate::ir::{EntityOptions, Message};
use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

/// An inherent impl with one `CREATE_TABLE_<DIALECT>` constant per dialect (the table and its indexes).
pub fn create_table_constants(message: &Message, entity: &EntityOptions) -> TokenStream {
    let ty = Ident::new(&message.rust_name, Span::call_site());
    let constants = Dialect::ALL.into_iter().map(|dialect| {
        let mut sql: String = entity_tables(message, entity, dialect)
            .iter()
            .map(|t| render::create_table(t, dialect))
            .collect();
        // Every subject entity shares the key table: each constant creates it unless it exists.
        if entity.subject.is_some() {
            sql.push_str(&render::create_table_if_missing(
                &subject_keys_table(dialect),
                dialect,
            ));
        }
        let constant = Ident::new(
            &format!("CREATE_TABLE_{}", dialect.name().to_uppercase()),
            Span::call_site(),
        );
        let doc = format!(
            "`CREATE TABLE` (and its indexes) for this entity on {dialect}, and for its outbox table when it has one, \
             as `capgen migrate sql` renders it; for an entity with a data subject, also the subject key table \
             (`IF NOT EXISTS`: every subject entity shares it)."
        );
        quote! {
            #[doc = #doc]
            pub const #constant: &'static str = #sql;
        }
    });
    quote! {
        #[automatically_derived]
        impl #ty {
            #(#constants)*
        }
    }
}
