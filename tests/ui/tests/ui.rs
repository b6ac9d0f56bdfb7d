//! Every error the derives report, pinned with the span it points at (`tests/ui/*.stderr`), plus inputs that
//! must compile: the derives' (`tests/pass/`) and every test schema's generated code (`nofeatures.rs`, written by
//! `build.rs`), all against the runtime with no cargo features. Regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test -p capacitor-ui-tests`, then read the diff.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
    cases.pass("tests/pass/*.rs");
    cases.pass(concat!(env!("OUT_DIR"), "/nofeatures.rs"));
}
