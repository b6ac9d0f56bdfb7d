//! Validating a valid message allocates nothing.
//!
//! A counting global allocator (`capacitor_testkit::alloc`, which counts only the thread being measured) in a
//! binary of its own (`harness = false`), so the allocator is installed for this test alone.

use capacitor::Validate as _;
use capacitor_testkit::alloc::{Counting, allocations_during};
use capacitor_tests::bench::v1::{Address, Plan, Signup};
use std::collections::HashMap;

#[global_allocator]
static GLOBAL: Counting = Counting;

fn valid_signup() -> Signup {
    Signup {
        id: "8f14e45f-ceea-467f-a8f5-3b8d1c2e9a10".into(),
        email: "ada.lovelace@example.com".into(),
        name: "Ada Lovelace".into(),
        password: "correct horse battery".into(),
        age: 36,
        tags: vec!["math".into(), "engines".into(), "poetry".into()],
        plan: Plan::Pro as i32,
        address: Some(Address {
            city: "London".into(),
            country: "GB".into(),
        }),
        labels: HashMap::from([
            ("team".to_string(), "analytical".to_string()),
            ("tier".to_string(), "gold".to_string()),
        ]),
        referrals: 12,
    }
}

fn main() {
    let valid = valid_signup();
    // The first call builds the lazily compiled regexes and statics; that happens once per process.
    assert!(valid.validate().is_ok(), "the message is valid");

    let n = allocations_during(|| {
        for _ in 0..1000 {
            assert!(std::hint::black_box(&valid).validate().is_ok());
            assert!(std::hint::black_box(&valid).validate_fail_fast().is_ok());
        }
    });
    assert_eq!(
        n, 0,
        "validating a valid Signup allocated {n} times in 2000 calls"
    );

    // The counter works: an invalid message allocates its violations.
    let mut invalid = valid_signup();
    invalid.age = 7;
    let n = allocations_during(|| assert!(invalid.validate().is_err()));
    assert!(
        n > 0,
        "an invalid message must build its violations on the heap"
    );
    println!("zero_alloc: ok (2000 validations of a valid Signup, 0 allocations)");
}
