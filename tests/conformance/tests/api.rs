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
