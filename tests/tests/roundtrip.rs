//! Every generated message survives the wire format and proto3 JSON, and its JSON is what an independent
//! implementation of the mapping (prost-reflect's `DynamicMessage`) writes and reads.

mod support;

use prost::Message;
use serde::{Serialize, de::DeserializeOwned};
use std::fmt::Debug;
use support::*;

/// Binary and JSON round trips, then our JSON against the oracle's, then the oracle reading our JSON back to the
/// same bytes.
fn check<M>(full_name: &str, message: &M)
where
    M: Message + Default + PartialEq + Debug + Serialize + DeserializeOwned,
{
    let bytes = message.encode_to_vec();
    let decoded = M::decode(bytes.as_slice()).expect("decodes");
    assert_eq!(&decoded, message, "{full_name}: binary round trip");

    let json = serde_json::to_string(message).expect("serializes");
    let parsed: M =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{full_name}: {e}: {json}"));
    assert_eq!(&parsed, message, "{full_name}: JSON round trip of {json}");

    let ours: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        ours,
        oracle_json(full_name, message),
        "{full_name}: JSON differs from the mapping"
    );

    let reread = M::decode(oracle_parse(full_name, &json).as_slice()).unwrap();
    assert_eq!(
        &reread, message,
        "{full_name}: the oracle reads our JSON differently"
    );
}

#[test]
fn scalars() {
    check("e2e.v1.Scalars", &support::scalars());
    check(
        "e2e.v1.Scalars",
        &capacitor_tests::e2e::v1::Scalars::default(),
    );
}

#[test]
fn repeated_scalars() {
    check("e2e.v1.RepeatedScalars", &support::repeated_scalars());
}

#[test]
fn optional_scalars() {
    check("e2e.v1.OptionalScalars", &support::optional_scalars());
    check(
        "e2e.v1.OptionalScalars",
        &capacitor_tests::e2e::v1::OptionalScalars::default(),
    );
}

#[test]
fn nested_messages_and_enums() {
    check("e2e.v1.Outer", &support::outer());
}

#[test]
fn maps_with_every_key_type() {
    check("e2e.v1.Maps", &support::maps());
}

#[test]
fn oneofs() {
    for choice in support::choices() {
        check("e2e.v1.Choice", &choice);
    }
}

#[test]
fn well_known_types() {
    check("e2e.v1.WellKnown", &support::well_known());
    let stamped = capacitor_tests::e2e::v1::Stamped {
        id: "s-1".into(),
        at: Some(pbjson_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 123_456_789,
        }),
    };
    check("e2e.v1.Stamped", &stamped);
    use capacitor_tests::e2e::v1::well_known::When;
    for when in [
        When::At(timestamp(1, 5_000_000)),
        When::Scalars(support::scalars()),
    ] {
        let mut message = support::well_known();
        message.when = Some(when);
        check("e2e.v1.WellKnown", &message);
    }
}

#[test]
fn keyword_names() {
    check("e2e.v1.Order", &support::order());
    check("e2e.v1.User", &support::user());
}

#[test]
fn proto2() {
    check("e2e.legacy.Account", &support::account());
    let minimal = capacitor_tests::e2e::legacy::Account {
        id: String::new(),
        created: 0,
        ..Default::default()
    };
    check("e2e.legacy.Account", &minimal);
}
