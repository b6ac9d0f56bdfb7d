//! The derive front end and the proto front end build the same IR, so the same entity gets the same schema.

use capacitor::Entity;
use capacitor_tests::e2e::v1;

/// The hand-written twin of `e2e.v1.Order` in `tests/proto/e2e/v1/keywords.proto`.
mod hand_written {
    use capacitor_tests::e2e::v1::User;

    #[derive(Clone, PartialEq, prost::Message, capacitor::Entity, capacitor::RedactedDebug)]
    #[prost(skip_debug)]
    #[capacitor(
        package = "e2e.v1",
        table = "orders",
        cache(ttl = "5m", max_entries = 1000)
    )]
    pub struct Order {
        #[prost(string, tag = "1")]
        #[capacitor(primary_key)]
        pub order: String,
        #[prost(string, tag = "2")]
        #[capacitor(index)]
        pub r#type: String,
        #[prost(message, optional, tag = "3")]
        pub user: Option<User>,
        #[prost(string, tag = "4")]
        #[capacitor(pii = "email", unique)]
        pub email: String,
        #[prost(string, tag = "5")]
        #[capacitor(redact)]
        pub secret: String,
        #[prost(int64, tag = "6")]
        pub r#gen: i64,
    }
}

#[test]
fn derive_and_proto_yield_the_same_entity_schema() {
    assert_eq!(hand_written::Order::SCHEMA, v1::Order::SCHEMA);
}

#[test]
fn derive_and_proto_redact_the_same_fields() {
    let generated = v1::Order {
        order: "o-1".into(),
        r#type: "retail".into(),
        email: "ada@example.com".into(),
        secret: "s3cr3t".into(),
        ..Default::default()
    };
    let derived = hand_written::Order {
        order: generated.order.clone(),
        r#type: generated.r#type.clone(),
        user: None,
        email: generated.email.clone(),
        secret: generated.secret.clone(),
        r#gen: 0,
    };
    assert_eq!(format!("{derived:?}"), format!("{generated:?}"));
    assert!(!format!("{derived:?}").contains("ada@"));
}
