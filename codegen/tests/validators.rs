//! The generated `impl Validate` for a schema that uses each rule family, as a snapshot
//! (`cargo insta review` to accept changes). The conformance runner (`tests/conformance`) checks behavior.

use capacitor_codegen::proto::Input;
use std::path::Path;

#[test]
fn validators_for_every_rule_family() {
    let include = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/validate");
    let input = Input::Files {
        files: vec![include.join("shop/v1/order.proto")],
        includes: vec![include],
    };
    let generated = capacitor_codegen::configure()
        .skip_json(true)
        .generate(&input)
        .unwrap_or_else(|e| panic!("generates: {e}"));
    assert_eq!(generated.files.len(), 1);
    assert!(generated.warnings.is_empty(), "{:?}", generated.warnings);
    insta::assert_snapshot!("shop.v1.validate.rs", generated.files[0].contents);
}

#[test]
fn cel_rules_are_skipped_with_a_warning_only_when_allowed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cel.proto"),
        r#"syntax = "proto3";
package cel.v1;
import "buf/validate/validate.proto";
message M {
  string name = 1 [(buf.validate.field).cel = { id: "x", expression: "size(this) > 1" }, (buf.validate.field).string.max_len = 3];
}
"#,
    )
    .unwrap();
    let input = Input::Files {
        files: vec![dir.path().join("cel.proto")],
        includes: vec![dir.path().to_path_buf()],
    };
    let refused = capacitor_codegen::configure().generate(&input).unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("(buf.validate.field).cel is a CEL rule"),
        "{refused}"
    );
    let generated = capacitor_codegen::configure()
        .allow_unsupported_rules(true)
        .generate(&input)
        .unwrap();
    assert_eq!(generated.warnings.len(), 1, "{:?}", generated.warnings);
    assert!(
        generated.warnings[0].contains("cel.proto:5:"),
        "{:?}",
        generated.warnings
    );
    assert!(generated.files[0].contents.contains("string.max_len"));
}

/// A user's own copy of upstream's current `validate.proto` on the include path wins over the embedded one, and
/// the rules added since v1.0 (`string.ulid`, `string.protobuf_fqn`, `string.protobuf_dot_fqn`, `bytes.uuid`)
/// are emitted; `cel_expression` is refused by name.
#[test]
fn upstream_validate_proto_on_the_include_path_and_its_newer_rules() {
    let dir = tempfile::tempdir().unwrap();
    let validate_dir = dir.path().join("buf/validate");
    std::fs::create_dir_all(&validate_dir).unwrap();
    std::fs::write(
        validate_dir.join("validate.proto"),
        include_str!("../schemas/buf/validate/validate.proto"),
    )
    .unwrap();
    let write = |name: &str, body: &str| {
        std::fs::write(dir.path().join(name), body).unwrap();
        Input::Files {
            files: vec![dir.path().join(name)],
            includes: vec![dir.path().to_path_buf()],
        }
    };
    let input = write(
        "ids.proto",
        r#"syntax = "proto3";
package ids.v1;
import "buf/validate/validate.proto";
message Ids {
  string ulid = 1 [(buf.validate.field).string.ulid = true];
  string fqn = 2 [(buf.validate.field).string.protobuf_fqn = true];
  string dot_fqn = 3 [(buf.validate.field).string.protobuf_dot_fqn = true];
  bytes uuid = 4 [(buf.validate.field).bytes.uuid = true];
}
"#,
    );
    let generated = capacitor_codegen::configure()
        .skip_json(true)
        .generate(&input)
        .unwrap_or_else(|e| panic!("generates: {e}"));
    let code = &generated.files[0].contents;
    for id in [
        "string.ulid",
        "string.ulid_empty",
        "is_ulid",
        "string.protobuf_fqn",
        "string.protobuf_dot_fqn_empty",
        "is_protobuf_fqn",
        "bytes.uuid",
        "bytes.uuid_empty",
    ] {
        assert!(code.contains(id), "{id} missing from:\n{code}");
    }
    let input = write(
        "expr.proto",
        r#"syntax = "proto3";
package expr.v1;
import "buf/validate/validate.proto";
message M {
  int32 n = 1 [(buf.validate.field).cel_expression = "this > 1"];
}
"#,
    );
    let refused = capacitor_codegen::configure().generate(&input).unwrap_err();
    assert!(refused.to_string().contains("cel_expression"), "{refused}");
}
