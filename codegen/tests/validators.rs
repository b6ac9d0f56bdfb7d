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
fn cel_rules_compile_and_a_rule_that_does_not_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let proto = |expression: &str| {
        format!(
            r#"syntax = "proto3";
package cel.v1;
import "buf/validate/validate.proto";
message M {{
  string name = 1 [(buf.validate.field).cel = {{ id: "name.long", expression: "{expression}" }}, (buf.validate.field).string.max_len = 3];
}}
"#
        )
    };
    let input = Input::Files {
        files: vec![dir.path().join("cel.proto")],
        includes: vec![dir.path().to_path_buf()],
    };
    // A rule that compiles becomes Rust, next to the standard rules.
    std::fs::write(dir.path().join("cel.proto"), proto("size(this) > 1")).unwrap();
    let generated = capacitor_codegen::configure().generate(&input).unwrap();
    assert!(generated.warnings.is_empty(), "{:?}", generated.warnings);
    let code = &generated.files[0].contents;
    assert!(
        code.contains("\"name.long\"") && code.contains("char_len"),
        "{code}"
    );
    assert!(code.contains("string.max_len"));
    // One that does not is an error at the rule, naming the sub-expression, and never skipped: not even
    // with `allow_unsupported_rules`.
    std::fs::write(dir.path().join("cel.proto"), proto("this > 1")).unwrap();
    for allow in [false, true] {
        let refused = capacitor_codegen::configure()
            .allow_unsupported_rules(allow)
            .generate(&input)
            .unwrap_err()
            .to_string();
        assert!(refused.contains("cel.proto:5:"), "{refused}");
        assert!(
            refused.contains("(buf.validate.field).cel[0] (id `name.long`) does not compile: no `>` for a string and a int, in `this > 1`"),
            "{refused}"
        );
    }
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
    // `cel_expression` compiles; its id is the expression.
    let generated = capacitor_codegen::configure().generate(&input).unwrap();
    assert!(
        generated.files[0].contents.contains("\"this > 1\""),
        "{}",
        generated.files[0].contents
    );
}
