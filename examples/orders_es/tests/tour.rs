//! The README's tour, on a SQLite file in a temp dir.

use orders_es::shop::v1::order::Status;

#[tokio::test]
async fn place_pay_ship_cancel() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("orders.db").display());
    let report = orders_es::run(&url).await.unwrap();
    assert!(report.shipped.status() == Status::Shipped);
    assert_eq!(report.shipped.paid_cents, 5_000);
    assert_eq!(report.shipped.tracking, "TRACK-1");
    assert_eq!(
        (report.shipped_version, report.shipped_from_snapshot),
        (4, Some(3))
    );
    assert_eq!(report.cancelled_status, "STATUS_CANCELLED");
    assert_eq!(report.refused, "only a paid order ships");
    assert!(report.stale_append_conflicted);
    assert!(report.invalid_event_refused);
    let types: Vec<&str> = report.log.iter().map(|(_, _, t)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "OrderPlaced",
            "OrderPaid",
            "OrderPaid",
            "OrderShipped",
            "OrderPlaced",
            "OrderCancelled"
        ]
    );
    // The email is PII: the generated Debug redacts it.
    assert!(!format!("{:?}", report.shipped).contains("ada@example.com"));
}

#[test]
fn the_binary_runs() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_orders_es"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("order-2: STATUS_CANCELLED"), "{stdout}");
    assert!(stdout.contains("conflict = true"), "{stdout}");
}
