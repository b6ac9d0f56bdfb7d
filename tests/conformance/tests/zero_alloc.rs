//! Validating valid input allocates nothing. A test binary of its own, so the counting allocator (which counts
//! only the thread being measured) is installed for this test alone.

use capacitor::Validate;
use capacitor_conformance::shop::v1::{Address, Checkout, Line, Order, order::Payment};
use capacitor_testkit::alloc::{Counting, allocations_during};

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn validating_valid_input_allocates_nothing() {
    let order = Order {
        id: "6f1c1a52-5a53-4c39-9a3c-1d0b3c1f0a11".into(),
        email: "ada@example.com".into(),
        note: "leave at the door".into(),
        quantity: 3,
        tags: vec!["red".into(), "blue".into(), "green".into()],
        status: 1,
        address: Some(Address {
            country: "DE".into(),
        }),
        stock: [("apples".to_string(), 4), ("pears".to_string(), 0)]
            .into_iter()
            .collect(),
        placed_at: Some(pbjson_types::Timestamp {
            seconds: 1_600_000_000,
            nanos: 0,
        }),
        payment: Some(Payment::CardToken("tok_12345678".into())),
        discount: Some(0.25),
        update_mask: Some(pbjson_types::FieldMask {
            paths: vec!["email".into(), "address.city".into()],
        }),
        view_mask: Some(pbjson_types::FieldMask {
            paths: vec!["id".into(), "status".into()],
        }),
        ..Default::default()
    };
    // The first call compiles the regexes (once per process, in a LazyLock).
    assert_eq!(order.validate(), Ok(()));
    let allocations = allocations_during(|| {
        for _ in 0..100 {
            assert!(order.validate().is_ok());
            assert!(order.validate_fail_fast().is_ok());
        }
    });
    assert_eq!(
        allocations, 0,
        "validating valid input allocated {allocations} times"
    );
}

#[test]
fn valid_input_to_cel_rules_allocates_nothing() {
    let at = |seconds| Some(pbjson_types::Timestamp { seconds, nanos: 0 });
    let line = |sku: &str, quantity, unit_price_cents| Line {
        sku: sku.into(),
        quantity,
        unit_price_cents,
    };
    // Every CEL rule of the checkout runs: cross-field, arithmetic, times and `now`, `all`, `map(...).unique()`,
    // `matches`, a predefined rule, a rule returning its message.
    let checkout = Checkout {
        lines: vec![line("SKU-1", 2, 500), line("SKU-2", 1, 250)],
        total_cents: 1250,
        email: "ada@example.com".into(),
        window_start: at(1_700_000_000),
        window_end: at(1_700_000_000 + 86_400),
        placed_at: at(1_699_000_000),
        pack_size: 12,
        stock: [("SKU-1".to_string(), 4)].into_iter().collect(),
        coupons: vec!["WELCOME10".into()],
        loyalty_points: 10,
        ..Default::default()
    };
    assert_eq!(checkout.validate(), Ok(()));
    let allocations = allocations_during(|| {
        for _ in 0..100 {
            assert!(checkout.validate().is_ok());
            assert!(checkout.validate_fail_fast().is_ok());
        }
    });
    assert_eq!(
        allocations, 0,
        "validating valid input to CEL rules allocated {allocations} times"
    );
}
