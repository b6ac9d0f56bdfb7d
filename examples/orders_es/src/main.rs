//! `cargo run -p orders_es [sqlite:<file>]`: the order tour on an event store (a temp SQLite file by default).

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("orders_es_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| format!("sqlite:{}", dir.join("orders.db").display()));
    let report = orders_es::run(&url).await.expect("the tour runs");
    println!(
        "order-1: {:?} at version {} (loaded from snapshot {:?})",
        report.shipped, report.shipped_version, report.shipped_from_snapshot
    );
    println!("order-2: {}", report.cancelled_status);
    println!("ship a cancelled order: refused ({})", report.refused);
    println!(
        "append with a stale version: conflict = {}",
        report.stale_append_conflicted
    );
    println!(
        "place with total 0: validation error = {}",
        report.invalid_event_refused
    );
    for (stream, version, event_type) in &report.log {
        println!("  {stream} v{version} {event_type}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
