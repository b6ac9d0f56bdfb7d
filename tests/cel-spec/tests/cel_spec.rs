//! Runs cel-spec's conformance cases that the CEL compiler compiles (see build.rs) and prints, per section,
//! `passed / failed / unsupported`. Every compiled case of a section in `claimed.txt` must pass, and the total
//! passing must reach `floor.txt`. Without the data (`scripts/test.sh` fetches it) the test is skipped, except
//! under `CI=true`, where it fails.

use capacitor_cel_spec::{Case, Run, Unsupported, Want, matches};
use std::collections::BTreeMap;

#[allow(
    // Lowered CEL expressions are one Rust expression each, written for any operand; in a constant-only case
    // some parentheses, closures and comparisons are redundant.
    unused_parens,
    // A comprehension whose body does not read its variable (`[1].all(x, true)`) binds it unused.
    unused_variables,
    // `1u >= 0u` and the like: a constant comparison of an unsigned value with zero.
    unused_comparisons,
    // cel-spec's cases are constant expressions, many on purpose (`0.0 / 0.0`, `x == x`, `1 < 1`, `!!true`,
    // `2.718281828`), lowered by code written for any operand: clippy's lint groups for hand-written code
    // (always-true comparisons, needless borrows and derefs, identical branches, …) fire throughout.
    clippy::correctness,
    clippy::suspicious,
    clippy::complexity,
    clippy::style
)]
mod generated {
    use capacitor_cel_spec::*;
    include!(concat!(env!("OUT_DIR"), "/cel_spec.rs"));
}

/// What a case gave, against what it wants: `Ok` when they agree.
fn judge(case: &Case) -> Result<(), String> {
    let got = match case.run {
        Run::CompileError(_) => {
            return match case.want {
                Want::Error => Ok(()),
                _ => Err("refused at build time".into()),
            };
        }
        Run::RustError => return Err("the lowered Rust does not compile (rust_errors.txt)".into()),
        Run::Eval(f) => std::panic::catch_unwind(f).map_err(|_| "panicked".to_string())?,
    };
    match (&case.want, got) {
        (Want::Error, Err(_)) => Ok(()),
        (Want::Error, Ok(v)) => Err(format!("wanted an error, got {v:?}")),
        (w, Err(e)) => Err(format!("wanted {w:?}, got the error {e}")),
        (w, Ok(v)) if matches(w, &v) => Ok(()),
        (w, Ok(v)) => Err(format!("wanted {w:?}, got {v:?}")),
    }
}

fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty())
}

#[test]
fn cel_spec() {
    if !generated::DATA_FOUND {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{} is missing: scripts/test.sh fetches @bufbuild/cel-spec@{} (npm) and writes it",
            generated::DATA_PATH,
            generated::VERSION
        );
        eprintln!(
            "skipped: no {} (scripts/test.sh makes it)",
            generated::DATA_PATH
        );
        return;
    }
    let claimed: Vec<&str> = lines(include_str!("../claimed.txt"))
        .map(|l| l.split_whitespace().next().unwrap_or_default())
        .collect();
    let floor: usize = lines(include_str!("../floor.txt"))
        .next()
        .and_then(|l| l.parse().ok())
        .expect("floor.txt holds a number");
    #[derive(Default)]
    struct Counts {
        passed: usize,
        /// Of `passed`: an expected error the compiler reports at build time.
        at_build: usize,
        failed: usize,
        unsupported: BTreeMap<&'static str, usize>,
    }
    let mut sections: BTreeMap<&str, Counts> = BTreeMap::new();
    let mut failures = Vec::new();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for case in generated::CASES {
        let c = sections.entry(case.section).or_default();
        match judge(case) {
            Ok(()) => {
                c.passed += 1;
                c.at_build += usize::from(matches!(case.run, Run::CompileError(_)));
            }
            Err(why) => {
                c.failed += 1;
                failures.push(format!(
                    "{} {}: `{}`: {why}",
                    case.section, case.name, case.expr
                ));
            }
        }
    }
    std::panic::set_hook(hook);
    for Unsupported {
        section, reason, ..
    } in generated::UNSUPPORTED
    {
        *sections
            .entry(section)
            .or_default()
            .unsupported
            .entry(reason)
            .or_default() += 1;
    }
    let (mut passed, mut failed, mut unsupported) = (0, 0, 0);
    for (name, c) in &sections {
        let u: usize = c.unsupported.values().sum();
        let mark = if claimed.contains(name) {
            "claimed"
        } else {
            ""
        };
        let at_build = match c.at_build {
            0 => String::new(),
            n => format!(" ({n} passed as build-time type errors)"),
        };
        eprintln!("{name}: {} / {} / {u}{at_build} {mark}", c.passed, c.failed);
        for (reason, n) in &c.unsupported {
            eprintln!("    {n} {reason}");
        }
        (passed, failed, unsupported) = (passed + c.passed, failed + c.failed, unsupported + u);
    }
    for f in &failures {
        eprintln!("FAILED {f}");
    }
    eprintln!(
        "cel-spec {}: {passed} passed, {failed} failed, {unsupported} unsupported",
        generated::VERSION
    );
    let bad: Vec<&String> = failures
        .iter()
        .filter(|f| claimed.iter().any(|c| f.starts_with(&format!("{c} "))))
        .collect();
    assert!(bad.is_empty(), "claimed sections fail: {bad:#?}");
    for c in &claimed {
        assert!(sections.contains_key(c), "claimed section {c} has no cases");
    }
    assert!(
        passed >= floor,
        "{passed} cases pass, below the floor of {floor} (floor.txt)"
    );
}
