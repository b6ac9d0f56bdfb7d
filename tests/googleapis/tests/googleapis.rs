//! The generated googleapis code works, not only compiles: proto3 JSON both ways (oneofs, nested and repeated
//! messages, enums, well-known types) and the validators (none of these messages has rules).
#![cfg(googleapis)]

use capacitor::Validate;
use capacitor_googleapis_test::google::{api, longrunning, rpc, r#type};
use serde_json::{Value, json};

fn round_trip<M>(message: &M, expected: Value)
where
    M: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let written = serde_json::to_value(message).expect("serializes");
    assert_eq!(written, expected);
    let read: M = serde_json::from_value(written).expect("reads back");
    assert_eq!(&read, message);
}

#[test]
fn an_http_rule_with_its_oneof_and_nested_bindings() {
    let rule = api::HttpRule {
        selector: "google.longrunning.Operations.GetOperation".into(),
        pattern: Some(api::http_rule::Pattern::Get(
            "/v1/{name=operations/**}".into(),
        )),
        additional_bindings: vec![api::HttpRule {
            pattern: Some(api::http_rule::Pattern::Custom(api::CustomHttpPattern {
                kind: "HEAD".into(),
                path: "/v1/{name}".into(),
            })),
            response_body: "op".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    round_trip(
        &rule,
        json!({
            "selector": "google.longrunning.Operations.GetOperation",
            "get": "/v1/{name=operations/**}",
            "additionalBindings": [{
                "custom": {"kind": "HEAD", "path": "/v1/{name}"},
                "responseBody": "op",
            }],
        }),
    );
    assert!(rule.validate().is_ok());
}

#[test]
fn an_operation_holding_an_error_status() {
    let operation = longrunning::Operation {
        name: "operations/42".into(),
        done: true,
        result: Some(longrunning::operation::Result::Error(rpc::Status {
            code: rpc::Code::NotFound as i32,
            message: "no such thing".into(),
            details: Vec::new(),
        })),
        ..Default::default()
    };
    round_trip(
        &operation,
        json!({"name": "operations/42", "done": true, "error": {"code": 5, "message": "no such thing"}}),
    );
    assert!(operation.validate().is_ok());
}

#[test]
fn enums_by_name_and_well_known_types() {
    let interval = r#type::Interval {
        start_time: Some(pbjson_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        }),
        end_time: None,
    };
    round_trip(&interval, json!({"startTime": "2023-11-14T22:13:20Z"}));
    let date = r#type::DateTime {
        year: 2024,
        month: 2,
        day: 29,
        time_offset: Some(r#type::date_time::TimeOffset::TimeZone(r#type::TimeZone {
            id: "Europe/Paris".into(),
            version: String::new(),
        })),
        ..Default::default()
    };
    round_trip(
        &date,
        json!({"year": 2024, "month": 2, "day": 29, "timeZone": {"id": "Europe/Paris"}}),
    );
    let launch = api::LaunchStage::Beta;
    assert_eq!(serde_json::to_value(launch).unwrap(), json!("BETA"));
    let read: r#type::DayOfWeek = serde_json::from_value(json!("MONDAY")).unwrap();
    assert_eq!(read, r#type::DayOfWeek::Monday);
}
