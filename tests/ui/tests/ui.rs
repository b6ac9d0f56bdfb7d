//! Every error the derives report, pinned with the span it points at (`tests/ui/*.stderr`), plus one input that
//! must compile. Regenerate with `TRYBUILD=overwrite cargo test -p capacitor-ui-tests`, then read the diff.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
    cases.pass("tests/pass/*.rs");
}
