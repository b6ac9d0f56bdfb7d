//! The validation API on generated code: every violation or only the first, field paths with subscripts,
//! the wire form, and messages that never carry a field's value.

use capacitor::Validate;
use capacitor::validate::{Subscript, Violations, WireViolations};
use capacitor_conformance::shop::v1::{Address, Order, order::Payment};
use prost::Message as _;

fn valid_order() -> Order {
    Order {
        id: "6f1c1a52-5a53-4c39-9a3c-1d0b3c1f0a11".into(),
        email: "ada@example.com".into(),
        quantity: 3,
        tags: vec!["red".into(), "blue".into()],
        status: 1,
        address: Some(Address {
            country: "DE".into(),
        }),
        stock: [("apples".to_string(), 4)].into_iter().collect(),
        placed_at: Some(pbjson_types::Timestamp {
            seconds: 1_600_000_000,
            nanos: 0,
        }),
        payment: Some(Payment::CardToken("tok_12345678".into())),
        discount: Some(0.25),
        ..Default::default()
    }
}

fn ids(v: &Violations) -> Vec<String> {
    let mut ids: Vec<String> = v
        .iter()
        .map(|v| format!("{} {}", v.field, v.rule_id))
        .collect();
    ids.sort();
    ids
}

#[test]
fn a_valid_message_passes() {
    assert_eq!(valid_order().validate(), Ok(()));
    assert_eq!(valid_order().validate_fail_fast(), Ok(()));
}

#[test]
fn every_violation_is_reported_with_its_path_and_rule() {
    let mut order = valid_order();
    order.email = "not-an-email".into();
    order.quantity = 0;
    order.tags = vec!["red".into(), "Red!".into(), "red".into()];
    order.status = 7;
    order.address = Some(Address {
        country: "XX".into(),
    });
    order.stock.insert(String::new(), -1);
    order.payment = None;
    order.coupon = "c".into();
    order.gift_card = "g".into();
    order.discount = Some(f64::NAN);
    let err = order.validate().unwrap_err();
    assert_eq!(
        ids(&err),
        [
            " message.oneof",
            "address.country string.in",
            "discount double.finite",
            "discount double.gte_lt",
            "email string.email",
            "payment required",
            "quantity int32.gt_lte",
            "status enum.defined_only",
            "stock[<key>] int64.gte",
            "stock[<key>] string.min_len",
            "tags repeated.unique",
            "tags[1] string.pattern",
        ]
    );
    let key = err.iter().find(|v| v.rule_id == "string.min_len").unwrap();
    assert!(key.for_key);
    assert_eq!(
        key.field.elements[0].subscript,
        Some(Subscript::String(String::new()))
    );
    let item = err.iter().find(|v| v.rule_id == "string.pattern").unwrap();
    assert_eq!(item.field.elements[0].subscript, Some(Subscript::Index(1)));
    assert_eq!(
        item.rule.to_string(),
        "repeated.items.string.pattern",
        "the rule path names the rule inside FieldRules"
    );

    let first = order.validate_fail_fast().unwrap_err();
    assert_eq!(first.len(), 1);
}

#[test]
fn a_cel_rule_in_the_supported_subset_is_checked() {
    let mut order = valid_order();
    order.address = Some(Address {
        country: "AQ".into(),
    });
    let err = order.validate().unwrap_err();
    assert_eq!(
        ids(&err),
        ["address address.no_antarctica", "address.country string.in"]
    );
    let cel = err
        .iter()
        .find(|v| v.rule_id == "address.no_antarctica")
        .unwrap();
    assert_eq!(cel.rule.elements[0].subscript, Some(Subscript::Index(0)));
    assert_eq!(cel.message, "we do not ship to Antarctica");
}

#[test]
fn violations_round_trip_through_the_wire_form() {
    let mut order = valid_order();
    order.quantity = 500;
    order.stock.insert("pears".into(), -3);
    let err = order.validate().unwrap_err();
    let bytes = WireViolations::from(&err).encode_to_vec();
    let back = Violations::try_from(WireViolations::decode(bytes.as_slice()).unwrap()).unwrap();
    assert_eq!(back, err);
}

#[test]
fn no_value_leaks_into_messages_display_or_debug() {
    let secret = "s3cret-v4lue@nowhere";
    let mut order = valid_order();
    order.email = secret.into();
    order.stock.insert(secret.into(), -1);
    let err = order.validate().unwrap_err();
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains(secret), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}

fn mask(paths: &[&str]) -> Option<pbjson_types::FieldMask> {
    Some(pbjson_types::FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

#[test]
fn field_mask_rules_compare_paths_and_the_paths_below_them() {
    let mut order = valid_order();
    order.update_mask = mask(&["email", "address.city", "note"]);
    order.view_mask = mask(&["id", "status"]);
    assert_eq!(order.validate(), Ok(()));
    order.update_mask = mask(&[]);
    assert_eq!(order.validate(), Ok(()), "an empty mask is in every list");

    // `in`: `emails` is not `email` nor below it; `not_in`: `address.country` and what lies below it.
    order.update_mask = mask(&["emails", "address.country.code"]);
    // `const`: the same paths in the same order (CEL list equality).
    order.view_mask = mask(&["status", "id"]);
    let err = order.validate().unwrap_err();
    assert_eq!(
        ids(&err),
        [
            "update_mask field_mask.in",
            "update_mask field_mask.not_in",
            "view_mask field_mask.const",
        ]
    );
    let rules: Vec<String> = err.iter().map(|v| v.rule.to_string()).collect();
    assert_eq!(
        rules,
        ["field_mask.in", "field_mask.not_in", "field_mask.const"]
    );
    let messages: Vec<&str> = err.iter().map(|v| &*v.message).collect();
    assert_eq!(
        messages,
        [
            "value must only contain paths in [email, note, address]",
            "value must not contain any paths in [address.country]",
            "value must equal paths [id, status]",
        ]
    );
    order.view_mask = mask(&["id"]);
    order.update_mask = None;
    assert_eq!(
        ids(&order.validate().unwrap_err()),
        ["view_mask field_mask.const"]
    );
}

#[test]
fn map_violations_come_in_key_order_on_every_run() {
    // Every fresh HashMap has its own random iteration order; the report must not follow it.
    for _ in 0..32 {
        let mut order = valid_order();
        for (key, value) in [("pears", -3), ("apples", -1), ("kiwis", -2), ("figs", 5)] {
            order.stock.insert(key.into(), value);
        }
        order.stock.insert(String::new(), -4);
        let keys = |v: &Violations| -> Vec<(String, bool)> {
            v.iter()
                .map(|v| match &v.field.elements[0].subscript {
                    Some(Subscript::String(k)) => (k.clone(), v.for_key),
                    other => panic!("a map entry's subscript, not {other:?}"),
                })
                .collect()
        };
        let first = order.validate_fail_fast().unwrap_err();
        assert_eq!(keys(&first), [(String::new(), true)]);
        let all = order.validate().unwrap_err();
        assert_eq!(
            keys(&all),
            [
                (String::new(), true),
                (String::new(), false),
                ("apples".to_string(), false),
                ("kiwis".to_string(), false),
                ("pears".to_string(), false),
            ]
        );
    }
}
