//! Serves the cart repository's `/metrics` and `/health` on `CAPACITOR_OBSERVE_ADDR` (default
//! `127.0.0.1:9898`) after some traffic, printing its spans to stdout, against the servers named by
//! `CAPACITOR_POSTGRES_URL` and `CAPACITOR_REDIS_URL` (see the multi_tier example's README for starting them).

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let postgres = std::env::var("CAPACITOR_POSTGRES_URL").map_err(
        |_| "set CAPACITOR_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres)",
    )?;
    let redis = std::env::var("CAPACITOR_REDIS_URL")
        .map_err(|_| "set CAPACITOR_REDIS_URL (e.g. redis://127.0.0.1:6379)")?;
    let addr =
        std::env::var("CAPACITOR_OBSERVE_ADDR").unwrap_or_else(|_| "127.0.0.1:9898".to_owned());

    observability::install_tracing(std::io::stdout);
    // Before the repository is built: it registers its series then.
    let metrics = observability::install_metrics()?;
    let carts = observability::open(&postgres, &redis, "observability_example").await?;
    observability::exercise(&carts, "example-cart", "ada@example.com").await?;

    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("serving http://{addr}/metrics and http://{addr}/health (Ctrl-C stops)");
    axum::serve(listener, observability::router(carts, metrics)).await?;
    Ok(())
}
