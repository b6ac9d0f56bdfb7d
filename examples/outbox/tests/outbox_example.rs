//! Runs `outbox-example demo`: the orders service and the reporting service as two processes on one SQLite file.

use std::process::Command;

#[test]
fn the_projection_matches_what_the_orders_service_wrote() {
    let out = Command::new(env!("CARGO_BIN_EXE_outbox-example"))
        .args(["demo", "120"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 120 orders: 40 cancelled, 40 paid, 40 shipped.
    assert!(
        stdout.contains("reporting service: placed=0 paid=40 shipped=40 cancelled=40"),
        "{stdout}"
    );
}
