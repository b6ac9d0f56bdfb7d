//! `#[derive(Entity)]`: parse → model → check → emit. The emitter only ever sees a model that passed.

use crate::ctxt::Ctxt;
use crate::model::{self, Derive};
use capacitor_codegen::check;
use capacitor_codegen::ddl::constants::create_table_constants;
use capacitor_codegen::emit::record::{TypeStyle, record_and_repo, unsupported};
use capacitor_codegen::emit::rust::{entity_impl, event_sourced_derive_impl};
use capacitor_codegen::ir::Schema;
use proc_macro2::TokenStream;
use syn::DeriveInput;

pub(crate) fn derive(input: &DeriveInput) -> Result<TokenStream, syn::Error> {
    let mut cx = Ctxt::default();
    let model = model::read(&mut cx, input, Derive::Entity)?;
    // Checks run on a complete model only: a field dropped for a bad attribute would otherwise show up as
    // "no primary key" or "unknown field in index", which is noise on top of the real error.
    cx.check()?;
    let schema = Schema::new(vec![model.message]);
    // `check` runs the entity checks plus the per-field ones (encrypt) that apply to every message.
    for diagnostic in check::check(&schema) {
        cx.diagnostic(&diagnostic, model.ident_span);
    }
    cx.check()?;
    let message = &schema.messages[0];
    let entity = message
        .entity
        .as_ref()
        .expect("the Entity model always has entity options");
    let mut out = entity_impl(message, entity, &model.runtime);
    out.extend(create_table_constants(message, entity));
    if entity.event_sourced.is_some() {
        out.extend(event_sourced_derive_impl(message, entity, &model.runtime));
        return Ok(out);
    }
    if model.repository {
        // The struct asked for a repository: a field the row mapping cannot store is an error here, not the
        // `NO_REPOSITORY_REASON` constant generated code gets (a missing `<Name>Repo` would be a puzzle).
        if let Some(reason) = unsupported(message, entity, TypeStyle::Derive) {
            cx.error_at(
                model.ident_span,
                format!(
                    "`#[capacitor(repository)]` cannot map this struct: {reason}; remove `repository` (the \
                     entity keeps its schema and DDL), or store the field another way"
                ),
            );
            cx.check()?;
        }
        // The rules are `Validate`'s to read and emit; a struct that writes `validate(...)` keys derives it
        // too, so `check_rules` calls its `Validate::validate` and writes refuse invalid values.
        out.extend(record_and_repo(
            &schema,
            message,
            entity,
            &model.runtime,
            TypeStyle::Derive,
            model.validates,
        ));
    }
    Ok(out)
}
