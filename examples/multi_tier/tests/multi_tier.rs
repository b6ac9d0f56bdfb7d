//! The multi-tier tour against a PostgreSQL 15 and a Redis 7 the testkit starts on loopback ports.

use capacitor_testkit::postgres::PostgresServer;
use capacitor_testkit::redis::RedisServer;

#[tokio::test]
async fn the_tour_uses_every_tier() {
    let postgres = PostgresServer::shared()
        .create_database("multi_tier_example")
        .expect("creates the database");
    let redis = RedisServer::start().expect("starts redis");
    let report = multi_tier::run(&postgres, &redis.url(), "multi_tier_test")
        .await
        .unwrap();
    assert_eq!(report.carts_of_owner, 2);
    // First process: its own write made its L1 hit.
    assert_eq!(report.first.l1_hits, 1);
    // Second process: L1 miss, Redis hit (promoted), then an L1 hit.
    assert_eq!(report.second.l1_misses, 1);
    assert_eq!(report.second.redis_hits, 1);
    assert_eq!(report.second.l1_hits, 1);
    assert!(report.second.promotions >= 1);
}
