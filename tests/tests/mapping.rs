//! The proto3 JSON mapping where it matters, checked value by value, and the Debug output of PII.

mod support;

use capacitor::Entity;
use capacitor_tests::e2e::v1;
use proptest::prelude::*;
use prost::Message;
use serde_json::{Value, json};
use support::*;

fn to_json<M: serde::Serialize>(m: &M) -> Value {
    serde_json::to_value(m).expect("serializes")
}

#[test]
fn names_enums_64_bit_ints_and_bytes() {
    let j = to_json(&scalars());
    assert_eq!(j["fInt64"], json!("-9223372036854775808"));
    assert_eq!(j["fUint64"], json!("18446744073709551615"));
    assert_eq!(j["fInt32"], json!(i32::MIN));
    assert_eq!(j["fBytes"], json!("AAEC+//+"));
    assert_eq!(j["color"], json!("COLOR_BLUE"));
    assert_eq!(j["level"], json!("LEVEL_HIGH"));
    assert_eq!(j, oracle_json("e2e.v1.Scalars", &scalars()));
}

#[test]
fn well_known_types_use_their_special_forms() {
    let message = well_known();
    let j = to_json(&message);
    assert_eq!(j["timestamp"], json!("2023-11-14T22:15:23.456Z"));
    assert_eq!(
        j["timestamps"],
        json!([
            "1970-01-01T00:00:00Z",
            "1969-12-31T23:59:59.999999999Z",
            "9999-12-31T23:59:59.000001Z",
            "0001-01-01T00:00:00.000000001Z"
        ])
    );
    assert_eq!(j["duration"], json!("-90.002456s"));
    assert_eq!(j["int64Value"], json!("-9223372036854775808"));
    assert_eq!(j["uint64Value"], json!("18446744073709551615"));
    assert_eq!(j["stringValue"], json!(""));
    assert_eq!(j["bytesValue"], json!("3q2+7w=="));
    assert_eq!(j["fieldMask"], json!("fDouble,middle.inner.depth"));
    assert_eq!(j["mask"], json!("aB.c"));
    assert_eq!(j["empty"], json!({}));
    assert_eq!(j, oracle_json("e2e.v1.WellKnown", &message));
}

#[test]
fn timestamps_outside_the_mapping_range_do_not_serialize() {
    for (seconds, nanos) in [
        (253_402_300_800, 0),
        (-62_135_596_801, 0),
        (0, -1),
        (0, 1_000_000_000),
    ] {
        let message = v1::WellKnown {
            timestamp: Some(timestamp(seconds, nanos)),
            ..Default::default()
        };
        assert!(
            serde_json::to_string(&message).is_err(),
            "{seconds}s {nanos}ns"
        );
    }
}

#[test]
fn field_mask_paths_without_a_json_form_do_not_serialize() {
    for path in ["fooBar", "foo__bar", "foo_1", "foo_"] {
        let message = v1::WellKnown {
            field_mask: Some(pbjson_types::FieldMask {
                paths: vec![path.into()],
            }),
            ..Default::default()
        };
        assert!(serde_json::to_string(&message).is_err(), "{path}");
    }
}

#[test]
fn non_finite_floats_are_strings() {
    let message = v1::RepeatedScalars {
        r_double: vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY],
        r_float: vec![f32::NAN, f32::INFINITY, f32::NEG_INFINITY],
        ..Default::default()
    };
    let j = to_json(&message);
    assert_eq!(j["rDouble"], json!(["NaN", "Infinity", "-Infinity"]));
    assert_eq!(j, oracle_json("e2e.v1.RepeatedScalars", &message));
    let back: v1::RepeatedScalars = serde_json::from_value(j).unwrap();
    assert!(back.r_double[0].is_nan() && back.r_float[0].is_nan());
    assert_eq!(back.r_double[1..], message.r_double[1..]);
    assert_eq!(back.r_float[1..], message.r_float[1..]);
}

#[test]
fn unknown_enum_numbers_survive_the_wire() {
    let message = v1::Scalars {
        color: 42,
        ..Default::default()
    };
    let decoded = v1::Scalars::decode(message.encode_to_vec().as_slice()).unwrap();
    assert_eq!(decoded.color, 42);
}

#[test]
fn debug_hides_pii_and_debug_redact_values() {
    let order = order();
    let debug = format!("{order:?}");
    assert!(!debug.contains(&order.email), "{debug}");
    assert!(!debug.contains(&order.secret), "{debug}");
    let user_name = &order.user.as_ref().expect("the fixture has a user").name;
    assert!(
        !debug.contains(user_name.as_str()),
        "a nested message's PII is hidden too: {debug}"
    );
    assert!(
        debug.contains(&order.order),
        "non-PII fields stay visible: {debug}"
    );
    let pretty = format!("{order:#?}");
    assert!(!pretty.contains(&order.email) && !pretty.contains(&order.secret));
}

#[test]
fn keyword_named_key_is_the_entity_key() {
    let schema = v1::Order::SCHEMA;
    assert_eq!(schema.table, "orders");
    let key: Vec<&str> = schema
        .primary_key
        .iter()
        .map(|n| schema.field_by_number(*n).unwrap().name)
        .collect();
    assert_eq!(key, ["order"]);
    let pii: Vec<&str> = schema.pii_fields().map(|f| f.name).collect();
    assert_eq!(pii, ["email"]);
}

fn arb_scalars() -> impl Strategy<Value = v1::Scalars> {
    (
        (
            any::<f64>(),
            any::<f32>(),
            any::<i32>(),
            any::<i64>(),
            any::<u32>(),
            any::<u64>(),
        ),
        (
            any::<i32>(),
            any::<i64>(),
            any::<u32>(),
            any::<u64>(),
            any::<i32>(),
            any::<i64>(),
        ),
        (
            any::<bool>(),
            ".*",
            proptest::collection::vec(any::<u8>(), 0..16),
            0..4i32,
            0..3i32,
        ),
    )
        .prop_map(|(a, b, c)| v1::Scalars {
            f_double: a.0,
            f_float: a.1,
            f_int32: a.2,
            f_int64: a.3,
            f_uint32: a.4,
            f_uint64: a.5,
            f_sint32: b.0,
            f_sint64: b.1,
            f_fixed32: b.2,
            f_fixed64: b.3,
            f_sfixed32: b.4,
            f_sfixed64: b.5,
            f_bool: c.0,
            f_string: c.1,
            f_bytes: c.2,
            color: c.3,
            level: c.4,
        })
}

proptest! {
    /// Any value of every scalar type: the same JSON as the oracle, and it reads back to the same bytes.
    #[test]
    fn scalars_match_the_oracle(message in arb_scalars()) {
        let j = to_json(&message);
        prop_assert_eq!(&j, &oracle_json("e2e.v1.Scalars", &message));
        let back: v1::Scalars = serde_json::from_value(j.clone()).unwrap();
        // Compare as JSON: NaN != NaN.
        prop_assert_eq!(to_json(&back), j);
    }

    #[test]
    fn timestamps_match_the_oracle(
        seconds in -62_135_596_800i64..=253_402_300_799,
        nanos in prop_oneof![Just(0i32), 0..1_000_000_000, (0..1_000_000i32).prop_map(|n| n * 1000)],
    ) {
        let message = v1::WellKnown { timestamp: Some(timestamp(seconds, nanos)), ..Default::default() };
        let j = to_json(&message);
        prop_assert_eq!(&j, &oracle_json("e2e.v1.WellKnown", &message));
        let back: v1::WellKnown = serde_json::from_value(j).unwrap();
        prop_assert_eq!(back, message);
    }

    #[test]
    fn field_masks_match_the_oracle(paths in proptest::collection::vec("[a-z]{1,3}(_[a-z][a-z0-9]{0,2}){0,2}(\\.[a-z]{1,3}(_[a-z]{1,2})?){0,2}", 0..4)) {
        let message = v1::WellKnown {
            field_mask: Some(pbjson_types::FieldMask { paths }),
            ..Default::default()
        };
        let j = to_json(&message);
        prop_assert_eq!(&j, &oracle_json("e2e.v1.WellKnown", &message));
        let back: v1::WellKnown = serde_json::from_value(j).unwrap();
        prop_assert_eq!(back, message);
    }
}
