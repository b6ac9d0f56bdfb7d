//! Validating valid input allocates nothing. A test binary of its own, so the counting allocator (which counts
//! only the thread being measured) is installed for this test alone.

use capacitor::Validate;
use capacitor_conformance::shop::v1::{Address, Order, order::Payment};
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
