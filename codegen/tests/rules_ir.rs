//! `buf.validate` rules reach the IR exactly as declared, with their positions.

use capacitor_codegen::generate::load_schema;
use capacitor_codegen::ir::{Origin, Rule, RuleValue};
use capacitor_codegen::proto::Input;
use std::path::PathBuf;

fn rules_of(rules: &[Rule]) -> Vec<(&str, &RuleValue)> {
    rules.iter().map(|r| (r.path.as_str(), &r.value)).collect()
}

#[test]
fn field_message_and_oneof_rules_are_read_into_the_ir() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let input = Input::Files {
        includes: vec![fixtures.clone()],
        files: vec![fixtures.join("rules/v1/rules.proto")],
    };
    let (_, schema) = load_schema(&input).unwrap();
    let signup = schema.message("rules.v1.Signup").unwrap();
    let field = |name: &str| signup.field(name).unwrap();

    assert_eq!(
        rules_of(&field("email").rules),
        [
            ("string.max_len", &RuleValue::Uint(254)),
            ("string.email", &RuleValue::Bool(true))
        ]
    );
    assert_eq!(
        rules_of(&field("age").rules),
        [
            ("int32.lte", &RuleValue::Int(150)),
            ("int32.gt", &RuleValue::Int(0))
        ]
    );
    assert_eq!(
        rules_of(&field("tags").rules),
        [
            ("repeated.unique", &RuleValue::Bool(true)),
            ("repeated.items.string.min_len", &RuleValue::Uint(1))
        ]
    );
    assert_eq!(
        rules_of(&field("plan").rules),
        [
            (
                "string.in",
                &RuleValue::List(vec![
                    RuleValue::String("free".into()),
                    RuleValue::String("pro".into())
                ])
            ),
            ("required", &RuleValue::Bool(true)),
        ]
    );
    assert_eq!(
        rules_of(&field("timeout").rules),
        [(
            "duration.lt",
            &RuleValue::Time {
                seconds: 30,
                nanos: 0
            }
        )]
    );
    assert_eq!(
        rules_of(&signup.rules),
        [(
            "oneof",
            &RuleValue::List(vec![RuleValue::Message(vec![
                (
                    "fields".into(),
                    RuleValue::List(vec![
                        RuleValue::String("email".into()),
                        RuleValue::String("age".into())
                    ])
                ),
                ("required".into(), RuleValue::Bool(true)),
            ])])
        )]
    );
    assert_eq!(
        rules_of(&signup.oneofs[0].rules),
        [("required", &RuleValue::Bool(true))]
    );
    assert!(field("phone").rules.is_empty());

    // Each rule points into the source: `max_len` at its own option, on line 8.
    let max_len = field("email")
        .rules
        .iter()
        .find(|r| r.path == "string.max_len")
        .unwrap();
    match &max_len.origin {
        Origin::Proto(span) => {
            assert_eq!((span.file.as_str(), span.line), ("rules/v1/rules.proto", 8))
        }
        other => panic!("no source position: {other:?}"),
    }
}
