//! `outbox-example orders <db> <count>`: the orders service; prints `EXPECTED <report>`.
//! `outbox-example report <db> <count>`: the reporting service; prints `REPORT <report>` once it has seen every
//! order reach its final status (or after 60 s).
//! `outbox-example demo [count]`: both, as two processes on a new SQLite file; exits 1 unless the report
//! matches what the orders service did.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

fn usage() -> ! {
    eprintln!("usage: outbox-example orders <db> <count> | report <db> <count> | demo [count]");
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let count = |at: usize, default: usize| -> usize {
        args.get(at)
            .map_or(Ok(default), |c| c.parse())
            .unwrap_or_else(|_| usage())
    };
    match args.first().map(String::as_str) {
        Some("orders") => {
            let db = PathBuf::from(args.get(1).unwrap_or_else(|| usage()));
            let store = outbox_example::open(&db).await.unwrap_or_else(|e| fail(e));
            let expected = outbox_example::run_orders(&store, count(2, 100))
                .await
                .unwrap_or_else(|e| fail(e));
            println!("EXPECTED {expected}");
        }
        Some("report") => {
            let db = PathBuf::from(args.get(1).unwrap_or_else(|| usage()));
            let store = outbox_example::open(&db).await.unwrap_or_else(|e| fail(e));
            let report =
                outbox_example::run_report(&store, count(2, 100) as u64, Duration::from_secs(60))
                    .await
                    .unwrap_or_else(|e| fail(e));
            println!("REPORT {report}");
        }
        Some("demo") => demo(count(1, 300)),
        _ => usage(),
    }
}

fn fail(e: capacitor::Error) -> ! {
    eprintln!("outbox-example: {e}");
    std::process::exit(1)
}

/// Runs the reporting service and then the orders service as child processes on a new database.
fn demo(count: usize) {
    let dir = std::env::temp_dir().join(format!("capacitor-outbox-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let db = dir.join("shop.db");
    let exe = std::env::current_exe().expect("this binary");
    // The database exists before either service opens it (both migrate; the first creates it).
    let created = Command::new(&exe)
        .args(["orders", &db.display().to_string(), "0"])
        .output()
        .expect("runs the orders service");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let service = |role: &str| {
        Command::new(&exe)
            .args([role, &db.display().to_string(), &count.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("starts a service")
    };
    let report = service("report");
    let orders = service("orders");
    let line = |child: std::process::Child, prefix: &str| {
        let out = child.wait_with_output().expect("a service finishes");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            eprintln!("a service failed:\n{stdout}");
            std::process::exit(1);
        }
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix).map(str::to_owned))
            .unwrap_or_default()
    };
    let expected = line(orders, "EXPECTED ");
    let got = line(report, "REPORT ");
    let _ = std::fs::remove_dir_all(&dir);
    println!("orders service:    {expected}");
    println!("reporting service: {got}");
    if expected != got || expected.is_empty() {
        eprintln!("the projection does not match the orders written");
        std::process::exit(1);
    }
}
