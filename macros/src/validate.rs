//! `#[derive(Validate)]`: the struct read into the IR (its fields' rules by [`crate::rule_attrs`]), then the
//! shared checks and the shared validator emitter.

use crate::ctxt::Ctxt;
use crate::model::{self, Derive};
use capacitor_codegen::check;
use capacitor_codegen::emit::validate::{ValidateContext, validate_impl};
use capacitor_codegen::ir::{FieldType, Message, Schema};
use capacitor_codegen::rules;
use proc_macro2::TokenStream;
use std::collections::{BTreeMap, BTreeSet};
use syn::DeriveInput;

/// `#[derive(Validate)]`: parse → model (the IR, rules included) → the shared checks → the shared emitter.
pub(crate) fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let mut cx = Ctxt::default();
    let model = model::read(&mut cx, input, Derive::Validate)?;
    cx.check()?;
    // The emitter recurses into a message-typed field when the schema holds the message. A derive sees one
    // struct, so each nested type it names stands in the schema as an empty message: its own `Validate` impl
    // (derived, or generated from a proto) does the rest, and a type without one is a compile error there.
    let nested: BTreeSet<String> = model
        .message
        .fields
        .iter()
        .filter_map(|f| match &f.ty {
            // A FieldMask takes `field_mask` rules and has no `Validate` impl to recurse into.
            FieldType::Message(m) if !rules::is_field_mask(m) => Some(m.clone()),
            _ => None,
        })
        .collect();
    let stubs: Vec<Message> = nested
        .into_iter()
        .map(|name| Message {
            full_name: name.clone(),
            rust_name: name.clone(),
            rust_path: name,
            fields: Vec::new(),
            oneofs: Vec::new(),
            rules: Vec::new(),
            entity: None,
            ..model.message.clone()
        })
        .collect();
    let mut messages = vec![model.message];
    messages.extend(stubs);
    let schema = Schema::new(messages);
    let mut rule_report = check::validate::RuleReport::default();
    check::validate::check_message(&schema.messages[0], false, &mut rule_report);
    for diagnostic in check::check(&schema).iter().chain(&rule_report.errors) {
        cx.diagnostic(diagnostic, model.ident_span);
    }
    cx.check()?;
    let no_enums = BTreeMap::new();
    let none = BTreeSet::new();
    let context = ValidateContext {
        runtime: &model.runtime,
        schema: &schema,
        enum_values: &no_enums,
        implicit_presence: &none,
        groups: &none,
    };
    Ok(validate_impl(&schema.messages[0], context))
}

#[cfg(test)]
mod tests {
    use super::*;
    use capacitor_codegen::ir::{Origin, RuleValue};
    use syn::parse_quote;

    /// Each field as (name, number, rules).
    type ReadFields = Vec<(String, u32, Vec<(String, RuleValue)>)>;

    /// The fields of a struct read for `Validate`, or every error message.
    fn read(input: DeriveInput) -> Result<ReadFields, Vec<String>> {
        let mut cx = Ctxt::default();
        let model =
            model::read(&mut cx, &input, Derive::Validate).map_err(|e| vec![e.to_string()])?;
        cx.check()
            .map_err(|e| e.into_iter().map(|e| e.to_string()).collect::<Vec<_>>())?;
        Ok(model
            .message
            .fields
            .iter()
            .map(|f| {
                assert!(
                    f.rules
                        .iter()
                        .all(|r| matches!(r.origin, Origin::Derive(_)))
                );
                let rules = f
                    .rules
                    .iter()
                    .map(|r| (r.path.clone(), r.value.clone()))
                    .collect();
                (f.name.clone(), f.number, rules)
            })
            .collect())
    }

    fn rules_of(input: DeriveInput) -> Vec<Vec<(String, RuleValue)>> {
        read(input)
            .unwrap()
            .into_iter()
            .map(|(_, _, rules)| rules)
            .collect()
    }

    fn errors(input: DeriveInput) -> Vec<String> {
        read(input).expect_err("the input has errors")
    }

    fn rule(path: &str, value: RuleValue) -> (String, RuleValue) {
        (path.to_string(), value)
    }

    #[test]
    fn keys_map_to_the_rules_the_proto_front_end_reads_in_its_order() {
        let rules = rules_of(parse_quote! {
            struct Signup {
                #[capacitor(validate(email, max_len = 254))]
                email: String,
                #[capacitor(validate(gt = 0, lte = 150))]
                age: i32,
                #[capacitor(validate(items(min_len = 1), unique))]
                tags: Vec<String>,
                #[capacitor(validate(required, in = ["free", "pro"]))]
                plan: String,
                #[capacitor(validate(lt = "30s"))]
                timeout: prost_types::Duration,
            }
        });
        // The same rules as `codegen/tests/rules_ir.rs` reads from the proto twin of this struct.
        assert_eq!(
            rules,
            [
                vec![
                    rule("string.max_len", RuleValue::Uint(254)),
                    rule("string.email", RuleValue::Bool(true))
                ],
                vec![
                    rule("int32.lte", RuleValue::Int(150)),
                    rule("int32.gt", RuleValue::Int(0))
                ],
                vec![
                    rule("repeated.unique", RuleValue::Bool(true)),
                    rule("repeated.items.string.min_len", RuleValue::Uint(1))
                ],
                vec![
                    rule(
                        "string.in",
                        RuleValue::List(vec![
                            RuleValue::String("free".into()),
                            RuleValue::String("pro".into())
                        ])
                    ),
                    rule("required", RuleValue::Bool(true)),
                ],
                vec![rule(
                    "duration.lt",
                    RuleValue::Time {
                        seconds: 30,
                        nanos: 0
                    }
                )],
            ]
        );
    }

    #[test]
    fn values_take_the_rule_types_of_the_catalog() {
        let rules = rules_of(parse_quote! {
            struct Values {
                #[capacitor(validate(gt = 1.1, not_in = [-2, 3.5]))]
                ratio: f32,
                #[capacitor(validate(const = -7))]
                delta: i64,
                #[capacitor(validate(prefix = b"\x01", len = 4))]
                raw: Vec<u8>,
                #[capacitor(validate(email = false, well_known_regex = "http_header_value", strict = false))]
                header: String,
                #[capacitor(validate(ignore = "if_zero_value", gte = "2024-01-01T00:00:00Z"))]
                at: Option<prost_types::Timestamp>,
                #[capacitor(validate(enumeration = "Plan", in = [1, 2]))]
                plan: i32,
                #[capacitor(validate(keys(min_len = 1), values(gte = 0), max_pairs = 3))]
                scores: std::collections::HashMap<String, u64>,
            }
        });
        assert_eq!(
            rules,
            [
                vec![
                    rule("float.gt", RuleValue::Float(f64::from(1.1f32))),
                    rule(
                        "float.not_in",
                        RuleValue::List(vec![RuleValue::Float(-2.0), RuleValue::Float(3.5)])
                    ),
                ],
                vec![rule("int64.const", RuleValue::Int(-7))],
                vec![
                    rule("bytes.prefix", RuleValue::Bytes(vec![1])),
                    rule("bytes.len", RuleValue::Uint(4))
                ],
                vec![
                    rule("string.email", RuleValue::Bool(false)),
                    rule("string.well_known_regex", RuleValue::Enum(2)),
                    rule("string.strict", RuleValue::Bool(false)),
                ],
                vec![
                    rule(
                        "timestamp.gte",
                        RuleValue::Time {
                            seconds: 1_704_067_200,
                            nanos: 0
                        }
                    ),
                    rule("ignore", RuleValue::Enum(1)),
                ],
                vec![rule(
                    "enum.in",
                    RuleValue::List(vec![RuleValue::Int(1), RuleValue::Int(2)])
                )],
                vec![
                    rule("map.max_pairs", RuleValue::Uint(3)),
                    rule("map.keys.string.min_len", RuleValue::Uint(1)),
                    rule("map.values.uint64.gte", RuleValue::Uint(0)),
                ],
            ]
        );
    }

    #[test]
    fn struct_level_oneof_is_the_message_oneof_rule() {
        let input: DeriveInput = parse_quote! {
            #[capacitor(validate(oneof(fields = ["a", "b"], required), oneof(fields = ["c"])))]
            struct Choice { a: String, b: String, c: String }
        };
        let mut cx = Ctxt::default();
        let model = model::read(&mut cx, &input, Derive::Validate).unwrap();
        cx.check().unwrap();
        let names = |n: &[&str]| {
            RuleValue::List(n.iter().map(|s| RuleValue::String(s.to_string())).collect())
        };
        assert_eq!(model.message.rules.len(), 1);
        assert_eq!(model.message.rules[0].path, "oneof");
        assert_eq!(
            model.message.rules[0].value,
            RuleValue::List(vec![
                RuleValue::Message(vec![
                    ("fields".into(), names(&["a", "b"])),
                    ("required".into(), RuleValue::Bool(true)),
                ]),
                RuleValue::Message(vec![("fields".into(), names(&["c"]))]),
            ])
        );

        let errors = errors(parse_quote! {
            #[capacitor(validate(oneof(required), min_len = 1))]
            struct Wrong { a: String }
        });
        assert_eq!(errors.len(), 2, "{errors:#?}");
        assert!(
            errors[0].starts_with("`oneof` needs the fields it spans"),
            "{}",
            errors[0]
        );
        assert!(
            errors[1].starts_with("`min_len` is not a message rule"),
            "{}",
            errors[1]
        );
    }

    #[test]
    fn cel_rules_are_read_like_buf_validate_rule_messages() {
        let rules = rules_of(parse_quote! {
            struct Credits {
                #[capacitor(validate(
                    cel(id = "a", expression = "this > 0"),
                    lt = 10,
                    cel(id = "b", message = "m", expression = "this != 5")
                ))]
                credits: i64,
            }
        });
        let s = |v: &str| RuleValue::String(v.into());
        assert_eq!(
            rules,
            [vec![
                rule("int64.lt", RuleValue::Int(10)),
                rule(
                    "cel",
                    RuleValue::List(vec![
                        RuleValue::Message(vec![
                            ("id".into(), s("a")),
                            ("expression".into(), s("this > 0"))
                        ]),
                        RuleValue::Message(vec![
                            ("id".into(), s("b")),
                            ("message".into(), s("m")),
                            ("expression".into(), s("this != 5"))
                        ]),
                    ])
                ),
            ]]
        );
    }

    #[test]
    fn numbers_come_from_prost_tags_else_count_on_from_the_previous_field() {
        let fields = read(parse_quote! {
            struct Numbered {
                a: String,
                #[prost(string, tag = "5")]
                b: String,
                c: String,
            }
        })
        .unwrap();
        let numbers: Vec<(String, u32)> =
            fields.into_iter().map(|(name, n, _)| (name, n)).collect();
        assert_eq!(numbers, [("a".into(), 1), ("b".into(), 5), ("c".into(), 6)]);
    }

    #[test]
    fn a_key_outside_the_fields_family_lists_the_valid_ones() {
        let errors = errors(parse_quote! {
            struct Wrong {
                #[capacitor(validate(email))]
                age: i32,
                #[capacitor(validate(min_len = 1))]
                tags: Vec<String>,
                #[capacitor(validate(emial))]
                email: String,
            }
        });
        assert_eq!(errors.len(), 3, "{errors:#?}");
        assert!(errors[0].starts_with("`email` is not a rule for a `int32` value in validate(...); expected one of: const, lt, lte, gt, gte, in, not_in, example, required, ignore"), "{}", errors[0]);
        assert!(errors[1].starts_with("`min_len` is not a rule for a repeated field (rules on its items go inside `items(...)`)"), "{}", errors[1]);
        assert!(
            errors[2].contains("`emial` is not a rule for a `string` value"),
            "{}",
            errors[2]
        );
    }

    #[test]
    fn malformed_values_are_reported_with_an_example() {
        let errors = errors(parse_quote! {
            struct Wrong {
                #[capacitor(validate(min_len = -1, max_len = "3", pattern = 5, in = "a", ignore = "never"))]
                name: String,
                #[capacitor(validate(gt = 3000000000))]
                small: i32,
                #[capacitor(validate(lt = "soon"))]
                timeout: prost_types::Duration,
                #[capacitor(validate(min_len = 1, min_len = 2))]
                twice: String,
                #[capacitor(validate(min_len = 1))]
                byte: u8,
            }
        });
        let expected = [
            "`min_len` takes a number from 0 that fits the field: write `min_len = 10`",
            "`max_len` takes a whole number: write `max_len = 10`",
            "`pattern` takes a string: write `pattern = \"abc\"`",
            "`in` takes a list: write `in = [\"abc\", ...]`",
            "unknown ignore mode `never`; expected one of: if_zero_value, always",
            "`gt` takes a number that fits i32: write `gt = 10`",
            "`lt` takes a duration such as \"30s\", \"1.5s\", \"250ms\", \"5m\" or \"2h\": write `lt = \"30s\"`",
            "duplicate rule `min_len` in validate(...): write it once",
            "`u8` has no proto counterpart: use u32 or u64",
        ];
        assert_eq!(errors, expected);
    }
}
