//! The generated `impl Record` and `<Entity>Repo` for the repository test schema (`tests/proto/repo`): every
//! stored column kind, a unique and a secondary finder, a composite key and a composite index. Only the
//! record/repository items are snapshotted, so validator or DTO changes do not churn this file.
#![cfg(feature = "proto")]

use capacitor_codegen::emit::record::record_and_repo;
use capacitor_codegen::emit::record::{TypeStyle, unsupported};
use capacitor_codegen::emit::rust::RuntimePath;
use capacitor_codegen::proto::Input;
use std::path::Path;

fn schema() -> capacitor_codegen::ir::Schema {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/proto");
    let input = Input::Files {
        files: vec![root.join("repo/v1/repo.proto")],
        includes: vec![root],
    };
    capacitor_codegen::generate::load_schema(&input)
        .expect("schema loads")
        .1
}

#[test]
fn json_columns_need_the_serde_impls() {
    let schema = schema();
    let (profile, entity) = schema
        .entities()
        .find(|(m, _)| m.rust_name == "Profile")
        .unwrap();
    assert_eq!(
        unsupported(profile, entity, TypeStyle::Proto { json: true }),
        None
    );
    for style in [TypeStyle::Proto { json: false }, TypeStyle::Derive] {
        let reason = unsupported(profile, entity, style).expect("refused");
        assert!(
            reason.starts_with("field `home` is a nested message"),
            "{reason}"
        );
    }
    // A oneof is one proto3 JSON column, written and read through the containing message's serde impls.
    let (contact, entity) = schema
        .entities()
        .find(|(m, _)| m.rust_name == "Contact")
        .unwrap();
    assert_eq!(
        unsupported(contact, entity, TypeStyle::Proto { json: true }),
        None
    );
    let reason = unsupported(contact, entity, TypeStyle::Proto { json: false }).unwrap();
    assert!(
        reason.starts_with("field `since` is a oneof member"),
        "{reason}"
    );
}

#[test]
fn record_and_repo_of_the_repository_schema() {
    let schema = schema();
    let mut code = proc_macro2::TokenStream::new();
    for (message, entity) in schema.entities() {
        code.extend(record_and_repo(
            &schema,
            message,
            entity,
            &RuntimePath::default(),
            TypeStyle::Proto { json: true },
            true,
        ));
    }
    let file = syn::parse2::<syn::File>(code).expect("generated code parses");
    insta::assert_snapshot!(prettyplease::unparse(&file));
}

#[test]
fn fingerprint_follows_nested_messages() {
    use capacitor_codegen::emit::record::encoding_fingerprint;
    let schema = schema();
    let profile = |s: &capacitor_codegen::ir::Schema| {
        encoding_fingerprint(s, s.message("repo.v1.Profile").unwrap())
    };
    let before = profile(&schema);
    assert_eq!(before, profile(&schema.clone()), "stable");
    // Address is nested in Profile: changing one of its fields changes Profile's fingerprint.
    let mut changed = schema.clone();
    let address = changed
        .messages
        .iter_mut()
        .find(|m| m.full_name == "repo.v1.Address")
        .unwrap();
    address.fields[2].number = 30;
    assert_ne!(before, profile(&changed));
    // Post nests nothing: Address does not affect it.
    let post = |s: &capacitor_codegen::ir::Schema| {
        encoding_fingerprint(s, s.message("repo.v1.Post").unwrap())
    };
    assert_eq!(post(&schema), post(&changed));
}
