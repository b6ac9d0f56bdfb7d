//! The generated `impl Record` and `<Entity>Repo` for the repository test schema (`tests/proto/repo`): every
//! stored column kind, a unique and a secondary finder, a composite key and a composite index. Only the
//! record/repository items are snapshotted, so validator or DTO changes do not churn this file.
#![cfg(feature = "proto")]

use capacitor_codegen::emit::record::TypeStyle;
use capacitor_codegen::emit::record::record_and_repo;
use capacitor_codegen::emit::rust::RuntimePath;
use capacitor_codegen::proto::Input;
use std::path::Path;

#[test]
fn record_and_repo_of_the_repository_schema() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/proto");
    let input = Input::Files {
        files: vec![root.join("repo/v1/repo.proto")],
        includes: vec![root],
    };
    let (_, schema) = capacitor_codegen::generate::load_schema(&input).expect("schema loads");
    let mut code = proc_macro2::TokenStream::new();
    for (message, entity) in schema.entities() {
        code.extend(record_and_repo(
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
