//! The generated Rust, file by file, for the end-to-end schemas (`tests/proto`) and the quickstart's schema.
//! Review changes with `cargo insta review`.

use capacitor_codegen::proto::Input;
use std::path::{Path, PathBuf};

fn generate(include: &str, files: &[&str]) -> Vec<capacitor_codegen::GeneratedFile> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let include = root.join(include);
    let input = Input::Files {
        files: files
            .iter()
            .map(|f| include.join(f))
            .collect::<Vec<PathBuf>>(),
        includes: vec![include],
    };
    capacitor_codegen::configure()
        .generate(&input)
        .unwrap_or_else(|e| panic!("generates: {e}"))
        .files
}

#[test]
fn end_to_end_schemas() {
    let files = generate(
        "tests/proto",
        &[
            "e2e/v1/scalars.proto",
            "e2e/v1/collections.proto",
            "e2e/v1/wkt.proto",
            "e2e/v1/keywords.proto",
            "e2e/legacy/legacy.proto",
        ],
    );
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["e2e.legacy.rs", "e2e.v1.rs"]);
    for file in &files {
        insta::assert_snapshot!(file.name.clone(), file.contents);
    }
}

#[test]
fn quickstart() {
    let files = generate("examples/quickstart/proto", &["app/v1/user.proto"]);
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["app.v1.rs"]);
    insta::assert_snapshot!("app.v1.rs", files[0].contents);
}

#[test]
fn event_sourced_orders() {
    let files = generate("examples/orders_es/proto", &["shop/v1/orders.proto"]);
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["shop.v1.rs"]);
    insta::assert_snapshot!("shop.v1.rs", files[0].contents);
}
