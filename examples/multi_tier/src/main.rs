//! Runs the multi-tier tour against the servers named by `CAPACITOR_POSTGRES_URL` and `CAPACITOR_REDIS_URL`
//! (see this example's README for starting them).

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let postgres = std::env::var("CAPACITOR_POSTGRES_URL").map_err(
        |_| "set CAPACITOR_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres)",
    )?;
    let redis = std::env::var("CAPACITOR_REDIS_URL")
        .map_err(|_| "set CAPACITOR_REDIS_URL (e.g. redis://127.0.0.1:6379)")?;
    let report = multi_tier::run(&postgres, &redis, "multi_tier_example").await?;
    println!("first process:  {:?}", report.first);
    println!("second process: {:?}", report.second);
    println!("carts found by owner email: {}", report.carts_of_owner);
    Ok(())
}
