//! Capacitor's observability example: the multi-tier example's `CartRepo` (L1 → Redis → PostgreSQL) with its
//! `metrics` series rendered for Prometheus by `metrics-exporter-prometheus`, its `tracing` spans (OpenTelemetry's
//! database semantic conventions) printed by a `tracing-subscriber` formatter, and its
//! [`Repository::health`](capacitor::Repository::health) served as JSON.
//!
//! [`router`] serves `GET /metrics` (the Prometheus text format) and `GET /health` (200 while the store
//! answers, 503 when it does not); `src/main.rs` runs it against the servers named by environment variables,
//! `tests/observability.rs` against servers the test starts, scraping both endpoints over HTTP.

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use capacitor::Store;
use capacitor::repo::{Health, Status, TierHealth};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use multi_tier::shop::v1::{Cart, CartRepo};
use std::time::{Duration, UNIX_EPOCH};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Bucket bounds of `capacitor_repo_latency_seconds`, in seconds: from an L2 hit on loopback (~100 µs) to a
/// store round trip that waited for a pooled connection. With buckets, the exporter renders the histogram as a
/// Prometheus histogram (`_bucket`, `_sum`, `_count`) rather than a summary.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// Installs the Prometheus recorder as the process's `metrics` recorder and returns the handle that renders
/// a scrape. Call it before building repositories: they register their series when built.
///
/// The recorder's upkeep (draining histogram samples) runs at each render and every few seconds on a task of the
/// current Tokio runtime.
pub fn install_metrics() -> Result<PrometheusHandle, BuildError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("capacitor_repo_latency_seconds".to_owned()),
            LATENCY_BUCKETS,
        )?
        .install_recorder()?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// Installs a `tracing` subscriber that prints every span of the `capacitor` targets (debug and above) when
/// it closes, with its fields, to `writer` (e.g. `std::io::stdout`). Other targets print warnings only (sqlx
/// logs each statement at info).
///
/// With OpenTelemetry, put `tracing_opentelemetry::layer().with_tracer(…)` in the registry instead of (or
/// beside) the formatter: it reads the same `db.*` fields, and `otel.name` / `otel.kind` for the span's name
/// and kind.
pub fn install_tracing<W>(writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let spans = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(false)
        .with_span_events(FmtSpan::CLOSE);
    let targets = Targets::new()
        .with_target("capacitor", LevelFilter::DEBUG)
        .with_default(LevelFilter::WARN);
    tracing_subscriber::registry()
        .with(spans)
        .with(targets)
        .init();
}

/// Opens the cart repository on the Postgres database `postgres_url` (migrated) and the Redis server
/// `redis_url`, keeping Redis keys under `prefix`.
pub async fn open(
    postgres_url: &str,
    redis_url: &str,
    prefix: &str,
) -> Result<CartRepo, capacitor::Error> {
    let store = Store::open_migrated(postgres_url, &multi_tier::MIGRATIONS).await?;
    multi_tier::process(&store, redis_url, prefix).await
}

/// Some traffic for the series and spans: writes, reads through every tier, an index lookup, a scan, a miss,
/// a delete and a write in a transaction, on carts owned by `owner_email` with ids starting `cart_prefix`.
pub async fn exercise(
    carts: &CartRepo,
    cart_prefix: &str,
    owner_email: &str,
) -> Result<(), capacitor::Error> {
    let cart = |n: i64| Cart {
        cart_id: format!("{cart_prefix}-{n}"),
        owner_email: owner_email.to_owned(),
        item_count: n,
        total_cents: 1_999 * n as u64,
        updated_at: None,
    };
    carts.put_many(vec![cart(1), cart(2), cart(3)]).await?;
    carts.put(cart(4)).await?;
    let first = format!("{cart_prefix}-1");
    // Written through to L1, so an L1 hit; then an L1 miss on a key written by no one: Redis, then the store.
    carts.get(&first).await?;
    let absent = format!("{cart_prefix}-absent");
    assert!(carts.get(&absent).await.unwrap_err().is_not_found());
    carts
        .get_many(&[first.clone(), format!("{cart_prefix}-2")])
        .await?;
    carts
        .find_by_owner_email(&owner_email.to_owned(), None, 10)
        .await?;
    carts.scan(None, 10).await?;
    carts.delete(&format!("{cart_prefix}-4")).await?;
    // A write inside a transaction: its own span, and the cache write-through after the commit in another.
    carts
        .store()
        .transaction(async |tx| carts.put_in(tx, cart(5)).await)
        .await?;
    Ok(())
}

/// The HTTP endpoints: `GET /metrics` renders `metrics` for a Prometheus scrape; `GET /health` reports
/// `carts.health()` as JSON ([`health_json`]), with status 503 when the store is down.
pub fn router(carts: CartRepo, metrics: PrometheusHandle) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move {
                    metrics.run_upkeep();
                    (
                        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                        metrics.render(),
                    )
                }
            }),
        )
        .route(
            "/health",
            get(move || {
                let carts = carts.clone();
                async move {
                    let health = carts.health().await;
                    let code = match health.status() {
                        Status::Down => StatusCode::SERVICE_UNAVAILABLE,
                        Status::Up | Status::Degraded => StatusCode::OK,
                    };
                    (
                        code,
                        [(header::CONTENT_TYPE, "application/json")],
                        health_json(&health).to_string(),
                    )
                        .into_response()
                }
            }),
        )
}

/// `health` as JSON: `{"entity", "status", "tiers": [{"tier", "system", "up", "latency_ms", "last_error":
/// {"message", "at_unix_ms"} | null}]}`.
pub fn health_json(health: &Health) -> serde_json::Value {
    let tier = |t: &TierHealth| {
        serde_json::json!({
            "tier": t.tier.as_str(),
            "system": t.system,
            "up": t.up,
            "latency_ms": t.latency.as_secs_f64() * 1e3,
            "last_error": t.last_error.as_ref().map(|e| serde_json::json!({
                "message": e.message,
                "at_unix_ms": e.at.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0),
            })),
        })
    };
    serde_json::json!({
        "entity": health.entity,
        "status": health.status().as_str(),
        "tiers": health.tiers().map(tier).collect::<Vec<_>>(),
    })
}
