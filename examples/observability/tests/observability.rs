//! The observability example against a PostgreSQL 15 and a Redis 7 the testkit starts: scrapes `/metrics` and
//! `/health` over HTTP, checks the series of `docs/observability.md` and the spans' semantic-conventions fields,
//! takes Redis down and checks that `/health` says so, and checks that no canary key or value reaches the
//! scrape, the health reports or the captured spans.

use capacitor_testkit::postgres::PostgresServer;
use capacitor_testkit::redis::RedisServer;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The marker of every canary: it is in the carts' ids (the primary key) and their owners' emails (PII).
const CANARY: &str = "canary5e1f";

/// What the `tracing` formatter wrote: every span of the run, with its fields.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// One `GET` over a fresh HTTP/1.1 connection: the status code and the body.
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

/// The sample lines of the series `name` with the labels `entity` and `tier` (any others allowed).
fn samples<'s>(scrape: &'s str, name: &str, entity: &str, tier: &str) -> Vec<&'s str> {
    scrape
        .lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .filter(|line| {
            line.contains(&format!("entity=\"{entity}\""))
                && line.contains(&format!("tier=\"{tier}\""))
        })
        .collect()
}

fn tier<'h>(health: &'h serde_json::Value, name: &str) -> &'h serde_json::Value {
    health["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tier"] == name)
        .unwrap_or_else(|| panic!("no tier {name} in {health}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_health_and_spans_name_tiers_never_values() {
    let spans = Captured::default();
    let writer = spans.clone();
    observability::install_tracing(move || writer.clone());
    let metrics = observability::install_metrics().unwrap();

    let postgres = PostgresServer::shared()
        .create_database("observability_example")
        .expect("creates the database");
    let redis = RedisServer::start().expect("starts redis");
    let carts = observability::open(&postgres, &redis.url(), "observability_test")
        .await
        .unwrap();
    let owner = format!("{CANARY}.owner@example.com");
    observability::exercise(&carts, &format!("{CANARY}-cart"), &owner)
        .await
        .unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = observability::router(carts.clone(), metrics);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // /health: every tier up.
    let (status, body) = get(addr, "/health").await;
    assert_eq!(status, 200, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "up", "{health}");
    let entity = health["entity"].as_str().unwrap().to_owned();
    for (name, system) in [
        ("l1", "memory"),
        ("redis", "redis"),
        ("store", "postgresql"),
    ] {
        let t = tier(&health, name);
        assert_eq!(t["system"], system, "{t}");
        assert_eq!(t["up"], true, "{t}");
        assert!(t["latency_ms"].as_f64().unwrap() >= 0.0, "{t}");
        assert!(t["last_error"].is_null(), "{t}");
    }
    let mut shown = vec![body];

    // Redis goes away: the next read that misses L1 absorbs the failure, and /health reports the cache tier
    // down (the service still answers: degraded, 200) with the error's Display.
    redis.kill().unwrap();
    let never_written = format!("{CANARY}-cart-never");
    assert!(carts.get(&never_written).await.unwrap_err().is_not_found());
    let (status, body) = get(addr, "/health").await;
    assert_eq!(status, 200, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "degraded", "{health}");
    let redis_health = tier(&health, "redis");
    assert_eq!(redis_health["up"], false, "{health}");
    let message = redis_health["last_error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("{entity}: redis ")),
        "{message}"
    );
    assert!(redis_health["last_error"]["at_unix_ms"].as_u64().unwrap() > 1_600_000_000_000);
    assert_eq!(tier(&health, "store")["up"], true, "{health}");
    shown.push(body);

    // /metrics: every series of docs/observability.md, labelled by entity and tier.
    let (status, scrape) = get(addr, "/metrics").await;
    assert_eq!(status, 200, "{scrape}");
    let series: &[(&str, &[&str])] = &[
        ("capacitor_repo_hits_total", &["l1", "redis", "store"]),
        ("capacitor_repo_misses_total", &["l1", "redis", "store"]),
        ("capacitor_repo_errors_total", &["redis", "store"]),
        ("capacitor_repo_promotions_total", &["l1", "redis"]),
        ("capacitor_repo_writes_total", &["store"]),
        ("capacitor_repo_latency_seconds_bucket", &["redis", "store"]),
        ("capacitor_repo_latency_seconds_count", &["redis", "store"]),
        ("capacitor_repo_latency_seconds_sum", &["redis", "store"]),
    ];
    for (name, tiers) in series {
        for tier in *tiers {
            assert!(
                !samples(&scrape, name, &entity, tier).is_empty(),
                "no {name} for tier {tier} in\n{scrape}"
            );
        }
    }
    let count = |name: &str, tier: &str| -> f64 {
        let lines = samples(&scrape, name, &entity, tier);
        lines[0].rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert!(count("capacitor_repo_hits_total", "l1") >= 1.0);
    assert!(count("capacitor_repo_writes_total", "store") >= 5.0);
    assert!(count("capacitor_repo_errors_total", "redis") >= 1.0);
    assert!(count("capacitor_repo_latency_seconds_count", "store") >= 1.0);
    assert!(scrape.contains("# TYPE capacitor_repo_latency_seconds histogram"));
    shown.push(scrape);

    // Spans: one per operation and one per round trip, with the conventions' attributes.
    let spans = spans.text();
    for expected in [
        "capacitor.repo{entity=\"",
        "db.system=\"postgresql\" db.operation.name=\"get\" db.collection.name=\"",
        "db.operation.name=\"put_many\"",
        "db.operation.name=\"find_by_index\"",
        "db.operation.name=\"scan\"",
        "capacitor.tier{capacitor.tier=\"redis\" db.system=\"redis\" db.operation.name=\"EVALSHA\"",
        "capacitor.tier{capacitor.tier=\"store\" db.system=\"postgresql\" db.operation.name=\"SELECT\"",
        "db.operation.name=\"BATCH INSERT\"",
        "db.operation.name=\"DELETE\"",
        "db.operation.name=\"put_in\"",
        "db.operation.name=\"after_commit\"",
        "otel.kind=\"client\"",
    ] {
        assert!(spans.contains(expected), "no `{expected}` in\n{spans}");
    }
    // Every round trip is inside the span of the operation that made it.
    for line in spans.lines().filter(|l| l.contains("capacitor.tier{")) {
        assert!(
            line.contains("capacitor.repo{"),
            "a round trip without its operation: {line}"
        );
    }
    shown.push(spans);

    for text in &shown {
        assert!(
            !text.contains(CANARY),
            "a canary key or value leaked:\n{text}"
        );
    }
}
