//! Runs every case of protovalidate's conformance dump against the generated validators and compares as the
//! upstream harness does: the result kind, and for validation errors the violations sorted by
//! (rule_id, field path), compared on field path, rule path, rule_id and for_key (not the message).

use capacitor::validate::{WireFieldPath, WireViolation, WireViolations};
use capacitor_conformance::dump::{CaseResult, ResultSet};
use prost::Message as _;
use std::collections::BTreeMap;

fn path_key(p: &Option<WireFieldPath>) -> String {
    p.as_ref()
        .map_or_else(String::new, |p| format!("{:?}", p.elements))
}

fn normalize(v: WireViolations) -> Vec<WireViolation> {
    let mut list: Vec<WireViolation> = v
        .violations
        .into_iter()
        .map(|mut v| {
            v.message = None;
            v.for_key = Some(v.for_key());
            v.rule_id = Some(v.rule_id().to_string());
            v
        })
        .collect();
    list.sort_by_key(|v| (v.rule_id().to_string(), path_key(&v.field)));
    list
}

/// `Ok` when the case passes; otherwise what differed.
fn run(case: &CaseResult) -> Result<(), String> {
    let input = case.input.as_ref().ok_or("case without input")?;
    let wanted = case.wanted.as_ref().ok_or("case without expectation")?;
    let name = input.type_url.rsplit('/').next().unwrap_or_default();
    if capacitor_conformance::REFUSED.contains(&name) {
        return match &wanted.compilation_error {
            Some(_) => Ok(()),
            None => Err("capgen refused the message's rules, the case wants a result".to_string()),
        };
    }
    let got = match capacitor_conformance::validate(&input.type_url, &input.value) {
        Some(result) => result.map_err(|e| format!("decode failed: {e}"))?,
        // A well-known type declares no rules: nothing to check.
        None if input.type_url.contains("/google.protobuf.") => Ok(()),
        None => return Err(format!("no validator generated for {}", input.type_url)),
    };
    // A CEL rule that could not be evaluated: protovalidate's runtime error.
    if let Err(v) = &got
        && let Some(e) = v.runtime_error()
    {
        return match &wanted.runtime_error {
            Some(_) => Ok(()),
            None => Err(format!(
                "got a runtime error ({e}), the case wants another result"
            )),
        };
    }
    if wanted.runtime_error.is_some() {
        return Err(format!(
            "wanted a runtime error, got {}",
            if got.is_ok() { "success" } else { "violations" }
        ));
    }
    if let Some(bytes) = &wanted.validation_error {
        let want = normalize(WireViolations::decode(bytes.as_slice()).map_err(|e| e.to_string())?);
        let got = match got {
            Ok(()) => return Err("wanted violations, got success".to_string()),
            Err(v) => normalize(WireViolations::from(&v)),
        };
        if want != got {
            return Err(format!(
                "violations differ:\n  want {want:?}\n  got  {got:?}"
            ));
        }
        return Ok(());
    }
    if wanted.success {
        return got.map_err(|v| {
            format!(
                "wanted success, got violations: {:?}",
                normalize(WireViolations::from(&v))
            )
        });
    }
    Err(format!(
        "wanted an error capacitor does not produce (compilation {:?}, runtime {:?}, unexpected {:?})",
        wanted.compilation_error, wanted.runtime_error, wanted.unexpected_error
    ))
}

#[test]
fn conformance() {
    assert!(
        capacitor_conformance::DUMP_FOUND,
        "the conformance dump is missing: expected at {} (set CAPACITOR_CONFORMANCE_DUMP)",
        env!("CAPACITOR_CONFORMANCE_DUMP_PATH")
    );
    let bytes = std::fs::read(env!("CAPACITOR_CONFORMANCE_DUMP_PATH")).expect("dump readable");
    let set = ResultSet::decode(bytes.as_slice()).expect("dump is a ResultSet");
    let known: BTreeMap<String, String> = include_str!("../known_failures.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            l.split_once(" -- ")
                .map(|(k, r)| (k.trim().to_string(), r.trim().to_string()))
        })
        .collect();
    let verbose = std::env::var_os("CONFORMANCE_VERBOSE").is_some();
    let (mut passed, mut failed) = (0, 0);
    let mut suites: Vec<_> = set.suites.iter().collect();
    suites.sort_by(|a, b| a.name.cmp(&b.name));
    for suite in suites {
        let (mut ok, mut bad) = (0, 0);
        for case in &suite.cases {
            let id = format!("{}/{}", suite.name, case.name);
            match run(case) {
                Ok(()) => ok += 1,
                Err(why) => {
                    bad += 1;
                    // Unexpected failures always show; known ones with CONFORMANCE_VERBOSE=1.
                    if verbose || !known.contains_key(&id) {
                        let note = known
                            .get(&id)
                            .map_or(String::new(), |r| format!(" (known: {r})"));
                        println!("  FAIL {id}{note}: {why}");
                    }
                }
            }
        }
        passed += ok;
        failed += bad;
        println!("{}: {ok} passed, {bad} failed", suite.name);
    }
    println!("conformance: {passed} passed, {failed} failed");
    let floor: usize = include_str!("../floor.txt")
        .trim()
        .parse()
        .expect("floor.txt holds a number");
    assert!(
        passed >= floor,
        "conformance regressed: {passed} cases pass, the floor (tests/conformance/floor.txt) is {floor}"
    );
}
