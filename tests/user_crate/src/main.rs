//! A crate written from the README alone: generated DTOs and repository, embedded migrations, a validator.

pub mod shop {
    pub mod v1 {
        capacitor::include_proto!("shop.v1");
    }
}

use capacitor::Validate;
use capacitor::migrate::{Migrations, Migrator};
use shop::v1::{Item, ItemRepo};

static SQLITE: Migrator = capacitor::migrations!("migrations/sqlite");
const MIGRATIONS: Migrations = Migrations::new().sqlite(&SQLITE);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = std::env::temp_dir().join(format!("capacitor-user-crate-{}.db", std::process::id()));
    let items = ItemRepo::open(&format!("sqlite:{}?mode=rwc", db.display()), &MIGRATIONS).await?;

    let item = Item {
        sku: "tea-001".into(),
        name: "Assam".into(),
        price_cents: 450,
        listed_at: Some(capacitor::well_known::Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        }),
    };
    assert!(item.validate().is_ok());
    items.insert(item.clone()).await?;
    let read = items.get(&item.sku).await?;
    assert_eq!(read.value, item);
    let by_name = items
        .find_by_name(&item.name)
        .await?
        .expect("found by the unique name");
    assert_eq!(by_name.value.sku, "tea-001");

    let bad = Item {
        sku: "x".into(),
        price_cents: -1,
        ..item
    };
    let violations = bad
        .validate()
        .expect_err("a short sku and a negative price are invalid");
    let rules: Vec<&str> = violations.iter().map(|v| &*v.rule_id).collect();
    assert_eq!(rules, ["string.min_len", "int64.gte"]);
    assert!(
        matches!(items.put(bad).await, Err(capacitor::Error::Validation(_))),
        "the repository validates before writing"
    );

    drop(items);
    // The database and its WAL companions (`-wal`, `-shm`), which outlive a pool closed in the background.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    println!("user crate: ok");
    Ok(())
}
