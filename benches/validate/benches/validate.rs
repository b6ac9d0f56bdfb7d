//! Validation alone (values decoded and built outside the timed region), valid input, on one message:
//! - `signup/capacitor` vs `signup/prost-protovalidate`: the generated `bench.v1.Signup` validated by
//!   Capacitor's generated code and by prost-protovalidate's cached runtime `Validator`;
//! - `form/capacitor-derive` vs `form/garde`: a hand-written struct with the rules garde supports.

use capacitor::Validate as _;
use capacitor_validate_bench::{CapacitorSignup, GardeSignup, valid_signup};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn signup(c: &mut Criterion) {
    let msg = valid_signup();
    let validator = prost_protovalidate::Validator::new();
    assert!(
        msg.validate().is_ok(),
        "capacitor accepts the valid message"
    );
    assert!(
        validator.validate(&msg).is_ok(),
        "prost-protovalidate accepts the valid message"
    );

    let mut group = c.benchmark_group("signup");
    group.bench_function("capacitor", |b| b.iter(|| black_box(&msg).validate()));
    group.bench_function("prost-protovalidate", |b| {
        b.iter(|| validator.validate(black_box(&msg)))
    });
    group.finish();
}

fn form(c: &mut Criterion) {
    let garde_form = GardeSignup::from_signup(&valid_signup());
    let capacitor_form = CapacitorSignup::from_garde(&garde_form);
    assert!(
        garde::Validate::validate(&garde_form).is_ok(),
        "garde accepts the valid form"
    );
    assert!(
        capacitor_form.validate().is_ok(),
        "capacitor accepts the valid form"
    );

    let mut group = c.benchmark_group("form");
    group.bench_function("capacitor-derive", |b| {
        b.iter(|| black_box(&capacitor_form).validate())
    });
    group.bench_function("garde", |b| {
        b.iter(|| garde::Validate::validate(black_box(&garde_form)))
    });
    group.finish();
}

criterion_group!(benches, signup, form);
criterion_main!(benches);
