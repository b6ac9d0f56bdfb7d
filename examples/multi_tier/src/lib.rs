//! Capacitor's multi-tier example: the generated `CartRepo` over L1 memory → Redis → PostgreSQL.
//!
//! [`run`] applies the checked-in Postgres migrations (`capgen migrate diff`), then shows a read travelling down
//! the tiers and being promoted back up, as two "processes" (two repositories with their own L1) sharing one
//! Redis and one database would see it. `src/main.rs` runs it against the servers named by environment
//! variables; `tests/multi_tier.rs` runs it against servers the test starts.

pub mod shop {
    pub mod v1 {
        capacitor::include_proto!("shop.v1");
    }
}

use capacitor::Store;
use capacitor::migrate::Migrations;
use capacitor::redis::{RedisOptions, RedisTier};
use capacitor::repo::Stats;
use shop::v1::{Cart, CartRepo};

/// The Postgres migrations `capgen migrate diff` wrote, embedded in the binary.
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Every dialect's migrations this application may open (only Postgres here).
pub const MIGRATIONS: Migrations = Migrations::new().postgres(&POSTGRES_MIGRATIONS);

/// What one run observed, for the caller to print or check.
#[derive(Debug)]
pub struct Report {
    /// The first process's counters.
    pub first: Stats,
    /// The second process's counters.
    pub second: Stats,
    /// Carts the owner lookup found.
    pub carts_of_owner: usize,
}

/// The cart repository of one process: its own L1, the Redis server `redis_url` (keys under `prefix`) and
/// `store`.
pub async fn process(
    store: &Store,
    redis_url: &str,
    prefix: &str,
) -> Result<CartRepo, capacitor::Error> {
    let redis = RedisTier::connect(
        redis_url,
        RedisOptions {
            prefix: prefix.to_owned(),
            ..RedisOptions::default()
        },
    )
    .await?;
    Ok(CartRepo::builder(store.clone()).redis(redis).build().into())
}

/// Runs the tour on the Postgres database `postgres_url` and the Redis server `redis_url`, keeping Redis keys
/// under `prefix`.
pub async fn run(
    postgres_url: &str,
    redis_url: &str,
    prefix: &str,
) -> Result<Report, Box<dyn std::error::Error>> {
    let store = Store::open_migrated(postgres_url, &MIGRATIONS).await?;

    // Two repositories, each with its own L1: two processes sharing Redis and the database.
    let first = process(&store, redis_url, prefix).await?;
    let second = process(&store, redis_url, prefix).await?;

    let cart = |id: &str, items: i64| Cart {
        cart_id: id.to_owned(),
        owner_email: "ada@example.com".to_owned(),
        item_count: items,
        total_cents: 1_999 * items as u64,
        updated_at: Some(pbjson_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        }),
    };
    // The write commits to Postgres, then writes through to Redis and the first process's L1.
    first.put_many(vec![cart("c1", 2), cart("c2", 5)]).await?;
    // L1 hit in the first process.
    first.get(&"c1".to_owned()).await?;
    // The second process misses its L1 and finds the cart in Redis (then promotes it into its L1)…
    second.get(&"c1".to_owned()).await?;
    // …so its next read is an L1 hit.
    second.get(&"c1".to_owned()).await?;
    // A secondary lookup reads Postgres, the source of truth.
    let owned = second
        .find_by_owner_email(&"ada@example.com".to_owned(), None, 10)
        .await?;
    first
        .delete_many(&["c1".to_owned(), "c2".to_owned()])
        .await?;
    Ok(Report {
        first: first.stats(),
        second: second.stats(),
        carts_of_owner: owned.items.len(),
    })
}
