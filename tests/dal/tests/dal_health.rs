//! `Repository::health()` on real servers: each tier up, then Redis and Postgres cut off (TCP proxies in front
//! of them), and back. The status follows (`up`, `degraded`, `down`), each tier keeps its last error, and no
//! error Display carries a key or a value.

use capacitor::redis::{RedisOptions, RedisTier};
use capacitor::repo::{Health, Status};
use capacitor::{Repository, Store};
use capacitor_dal_tests::{Account, account};
use capacitor_testkit::postgres::PostgresServer;
use capacitor_testkit::proxy::TcpProxy;
use capacitor_testkit::redis::RedisServer;

const CANARY: &str = "canary7c2d";

fn messages(health: &Health) -> Vec<String> {
    health
        .tiers()
        .filter_map(|t| t.last_error.as_ref().map(|e| e.message.clone()))
        .collect()
}

#[tokio::test]
async fn an_in_memory_repository_is_up_with_its_l1() {
    let accounts: Repository<Account> = Repository::new(Store::memory());
    let health = accounts.health().await;
    assert_eq!(health.status(), Status::Up);
    assert_eq!(health.entity, "Account");
    let l1 = health
        .l1
        .as_ref()
        .expect("an eventual entity with a cache has L1");
    assert!(l1.up && l1.system == "memory" && l1.last_error.is_none());
    assert!(health.redis.is_none());
    assert!(health.store.up && health.store.system == "memory");
    assert_eq!(health.tiers().count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tier_reports_its_outage_and_its_last_error() {
    let postgres = PostgresServer::shared();
    postgres.create_database("dal_health").unwrap();
    let pg_proxy = TcpProxy::start(postgres.port()).unwrap();
    let store = Store::open(&format!(
        "postgres://postgres@127.0.0.1:{}/dal_health",
        pg_proxy.port()
    ))
    .await
    .unwrap();
    sqlx::raw_sql(Account::CREATE_TABLE_POSTGRES)
        .execute(store.postgres_pool().unwrap())
        .await
        .unwrap();
    let redis = RedisServer::start().unwrap();
    let redis_proxy = TcpProxy::start(redis.port()).unwrap();
    let tier = RedisTier::connect(
        &redis_proxy.redis_url(),
        RedisOptions {
            prefix: "dal_health".to_owned(),
            ..RedisOptions::default()
        },
    )
    .await
    .unwrap();
    let accounts: Repository<Account> = Repository::builder(store).redis(tier).build();
    accounts.put(account(CANARY, 7)).await.unwrap();

    let health = accounts.health().await;
    assert_eq!(health.status(), Status::Up, "{health:?}");
    let systems: Vec<_> = health
        .tiers()
        .map(|t| (t.tier.as_str(), t.system))
        .collect();
    assert_eq!(
        systems,
        [
            ("l1", "memory"),
            ("redis", "redis"),
            ("store", "postgresql")
        ]
    );
    assert!(messages(&health).is_empty(), "{health:?}");

    // Redis cut off: a read below L1 absorbs the failure; the probe fails too. Degraded, not down.
    redis_proxy.cut();
    let absent = format!("{CANARY}-absent");
    assert!(accounts.get(&absent).await.unwrap_err().is_not_found());
    let health = accounts.health().await;
    assert_eq!(health.status(), Status::Degraded, "{health:?}");
    let l2 = health.redis.as_ref().unwrap();
    assert!(!l2.up);
    let message = &l2.last_error.as_ref().expect("the failure is kept").message;
    assert!(message.starts_with("Account: redis "), "{message}");
    assert!(health.store.up);

    // Postgres cut off too: the store's probe fails within the probe timeout, and the status is down.
    pg_proxy.cut();
    let health = accounts.health().await;
    assert_eq!(health.status(), Status::Down, "{health:?}");
    assert!(!health.store.up);
    assert!(health.store.latency <= capacitor::repo::PROBE_TIMEOUT * 2);
    let message = &health.store.last_error.as_ref().unwrap().message;
    assert!(message.starts_with("Account: store "), "{message}");
    // A failed probe is no operation: it is not counted.
    assert_eq!(accounts.stats().store_errors, 0);

    // Back: every tier answers again; the last errors stay, with their time, for the operator to compare.
    pg_proxy.heal();
    redis_proxy.heal();
    let mut health = accounts.health().await;
    for _ in 0..50 {
        if health.status() == Status::Up {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        health = accounts.health().await;
    }
    assert_eq!(health.status(), Status::Up, "{health:?}");
    assert_eq!(messages(&health).len(), 2, "{health:?}");
    for message in messages(&health) {
        assert!(!message.contains(CANARY), "{message}");
    }
}
