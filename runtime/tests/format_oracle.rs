//! The string-format predicates against the upstream protovalidate conformance cases.
//!
//! The dump (`../shared/conformance/protovalidate-v1.0-dump.pbbin` beside the workspace, or the file named by
//! `CAPACITOR_CONFORMANCE_DUMP`) holds every upstream case with its input message and expected result. The
//! `library/*` suites test the CEL functions (`isEmail`, `isIp`, …) on a string carried in the input; the
//! `standard_rules/string` suite tests the format rules (`string.uuid`, `string.ip_prefix`, …) on a message's
//! one string field. Either way the case's input gives the string and its result says whether the string is
//! valid, which makes the cases an exact oracle for the predicates. A missing dump fails the test.

use capacitor::validate::format::*;
use prost::Message;
use std::path::PathBuf;

/// `buf.validate.conformance.harness.ResultSet`, the fields this test reads.
#[derive(Clone, PartialEq, Message)]
struct ResultSet {
    #[prost(message, repeated, tag = "3")]
    suites: Vec<SuiteResults>,
}

#[derive(Clone, PartialEq, Message)]
struct SuiteResults {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, repeated, tag = "4")]
    cases: Vec<CaseResult>,
}

#[derive(Clone, PartialEq, Message)]
struct CaseResult {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "3")]
    wanted: Option<TestResult>,
    #[prost(message, optional, tag = "5")]
    input: Option<prost_types::Any>,
}

#[derive(Clone, PartialEq, Message)]
struct TestResult {
    #[prost(bool, tag = "1")]
    success: bool,
    #[prost(message, optional, tag = "2")]
    validation_error: Option<Violations>,
}

#[derive(Clone, PartialEq, Message)]
struct Violations {
    #[prost(message, repeated, tag = "1")]
    violations: Vec<Violation>,
}

#[derive(Clone, PartialEq, Message)]
struct Violation {
    #[prost(string, tag = "2")]
    rule_id: String,
}

/// The `library` case messages (`buf.validate.conformance.cases.Is*`) and the `String*` rule messages: a
/// string in field 1, the function's other arguments after it.
#[derive(Clone, PartialEq, Message)]
struct Input {
    #[prost(string, tag = "1")]
    val: String,
    /// `IsHostAndPort.port_required`.
    #[prost(bool, tag = "2")]
    port_required: bool,
}

#[derive(Clone, PartialEq, Message)]
struct VersionedInput {
    #[prost(string, tag = "1")]
    val: String,
    #[prost(int32, optional, tag = "2")]
    version: Option<i32>,
    /// `IsIpPrefix.strict`.
    #[prost(bool, optional, tag = "3")]
    strict: Option<bool>,
}

/// The IP version argument as the predicates take it: out-of-range versions stay invalid.
fn version(v: Option<i32>) -> u8 {
    v.map_or(0, |v| u8::try_from(v).unwrap_or(u8::MAX))
}

/// What the predicates say about a case's input, or `None` when the message is not one this test covers.
fn predicate(type_name: &str, bytes: &[u8]) -> Option<bool> {
    let input = || Input::decode(bytes).expect("case input decodes");
    let versioned = || VersionedInput::decode(bytes).expect("case input decodes");
    let s = |f: fn(&str) -> bool| Some(f(&input().val));
    match type_name {
        // library/*: the CEL functions.
        "IsEmail" => s(is_email),
        "IsHostname" => s(is_hostname),
        "IsUri" => s(is_uri),
        "IsUriRef" => s(is_uri_ref),
        "IsHostAndPort" => {
            let i = input();
            Some(is_host_and_port(&i.val, i.port_required))
        }
        "IsIp" => {
            let i = versioned();
            Some(is_ip(&i.val, version(i.version)))
        }
        "IsIpPrefix" => {
            let i = versioned();
            Some(is_ip_prefix(
                &i.val,
                version(i.version),
                i.strict.unwrap_or(false),
            ))
        }
        // standard_rules/string: one format rule on field 1.
        "StringEmail" => s(is_email),
        "StringHostname" => s(is_hostname),
        "StringAddress" => s(|v| is_hostname(v) || is_ip(v, 0)),
        "StringIP" => s(|v| is_ip(v, 0)),
        "StringIPv4" => s(|v| is_ip(v, 4)),
        "StringIPv6" => s(|v| is_ip(v, 6)),
        "StringIPWithPrefixLen" => s(|v| is_ip_prefix(v, 0, false)),
        "StringIPv4WithPrefixLen" => s(|v| is_ip_prefix(v, 4, false)),
        "StringIPv6WithPrefixLen" => s(|v| is_ip_prefix(v, 6, false)),
        "StringIPPrefix" => s(|v| is_ip_prefix(v, 0, true)),
        "StringIPv4Prefix" => s(|v| is_ip_prefix(v, 4, true)),
        "StringIPv6Prefix" => s(|v| is_ip_prefix(v, 6, true)),
        "StringURI" => s(is_uri),
        "StringURIRef" => s(is_uri_ref),
        "StringUUID" => s(is_uuid),
        "StringTUUID" => s(is_tuuid),
        "StringULID" => s(is_ulid),
        "StringHostAndPort" => s(|v| is_host_and_port(v, true)),
        "StringHostAndOptionalPort" => s(|v| is_host_and_port(v, false)),
        "StringHttpHeaderName" => s(|v| is_http_header_name(v, true)),
        "StringHttpHeaderNameLoose" => s(|v| is_http_header_name(v, false)),
        "StringHttpHeaderValue" => s(|v| is_http_header_value(v, true)),
        "StringHttpHeaderValueLoose" => s(|v| is_http_header_value(v, false)),
        _ => None,
    }
}

fn dump_path() -> PathBuf {
    std::env::var_os("CAPACITOR_CONFORMANCE_DUMP").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../shared/conformance/protovalidate-v1.0-dump.pbbin")
        },
        PathBuf::from,
    )
}

#[test]
fn format_predicates_agree_with_the_upstream_conformance_cases() {
    let path = dump_path();
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "the conformance dump is required: cannot read {} ({e}); set CAPACITOR_CONFORMANCE_DUMP",
            path.display()
        )
    });
    let dump = ResultSet::decode(bytes.as_slice()).expect("the dump is a ResultSet");

    let mut checked = 0;
    let mut library_cases = 0;
    let mut disagreements = Vec::new();
    for suite in &dump.suites {
        let is_library = suite.name.starts_with("library/");
        let is_strings = suite.name == "standard_rules/string";
        if !is_library && !is_strings {
            continue;
        }
        for case in &suite.cases {
            let input = case.input.as_ref().expect("every case has an input");
            let type_name = input.type_url.rsplit('.').next().unwrap_or_default();
            let Some(actual) = predicate(type_name, &input.value) else {
                assert!(
                    !is_library,
                    "{}: unknown library message {}",
                    case.name, input.type_url
                );
                continue;
            };
            let wanted = case
                .wanted
                .as_ref()
                .expect("every case has a wanted result");
            let expected = match (&wanted.validation_error, wanted.success) {
                (None, true) => true,
                (Some(errors), _) => {
                    // A format case fails on its format rule only (or the rule's `_empty` twin).
                    assert_eq!(
                        errors.violations.len(),
                        1,
                        "{}: one violation expected",
                        case.name
                    );
                    false
                }
                (None, false) => panic!("{}: neither success nor a validation error", case.name),
            };
            checked += 1;
            library_cases += usize::from(is_library);
            if actual != expected {
                let value = Input::decode(input.value.as_slice())
                    .map(|i| i.val)
                    .unwrap_or_default();
                disagreements.push(format!(
                    "{} / {}: {value:?} expected {expected}, got {actual}",
                    suite.name, case.name
                ));
            }
        }
    }
    println!(
        "format oracle: {checked} cases ({library_cases} library/*), {} disagreements",
        disagreements.len()
    );
    assert!(
        library_cases >= 635,
        "only {library_cases} library/* cases found in the dump"
    );
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}
