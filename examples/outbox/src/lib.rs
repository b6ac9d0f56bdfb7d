//! Capacitor's outbox example: an **orders service** writes orders through the generated `OrderRepo`, and
//! every committed write also lands in `orders_outbox` in the same transaction (the `outbox` option in
//! `proto/shop/v1/order.proto`); a **reporting service**, another process, keeps a projection (orders per status
//! and revenue) from the change feed (`Repository::changes`). Both open the same SQLite file, migrated with
//! the checked-in `migrations/sqlite/` (written by `capgen migrate diff`).
//!
//! `src/main.rs` runs either service, or `demo`, which runs both as child processes and compares the
//! projection with what the orders service says it did; `tests/outbox_example.rs` runs `demo`.

pub mod shop {
    pub mod v1 {
        capacitor::include_proto!("shop.v1");
    }
}

use capacitor::Store;
use capacitor::migrate::Migrations;
use capacitor::outbox::{Change, ChangeCursor};
use shop::v1::{Order, OrderRepo, Status};
use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

/// The SQLite migrations `capgen migrate diff` wrote, embedded in the binary.
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// Every dialect's migrations this application may open (only SQLite here).
pub const MIGRATIONS: Migrations = Migrations::new().sqlite(&SQLITE_MIGRATIONS);

/// Opens (creating and migrating) the SQLite database at `path`.
pub async fn open(path: &Path) -> Result<Store, capacitor::Error> {
    Store::open_migrated(&format!("sqlite:{}", path.display()), &MIGRATIONS).await
}

/// Orders per status and the revenue of the paid and shipped ones: what the reporting service shows.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Orders placed and not yet paid or cancelled.
    pub placed: u64,
    /// Orders paid, not shipped.
    pub paid: u64,
    /// Orders shipped.
    pub shipped: u64,
    /// Orders cancelled.
    pub cancelled: u64,
    /// The total of the paid and shipped orders, in cents.
    pub revenue_cents: u64,
}

impl Report {
    /// Every order counted.
    pub fn orders(&self) -> u64 {
        self.placed + self.paid + self.shipped + self.cancelled
    }

    fn count(&mut self, status: Status, total_cents: u64) {
        match status {
            Status::Placed | Status::Unspecified => self.placed += 1,
            Status::Paid => self.paid += 1,
            Status::Shipped => self.shipped += 1,
            Status::Cancelled => self.cancelled += 1,
        }
        if matches!(status, Status::Paid | Status::Shipped) {
            self.revenue_cents += total_cents;
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "placed={} paid={} shipped={} cancelled={} revenue_cents={}",
            self.placed, self.paid, self.shipped, self.cancelled, self.revenue_cents
        )
    }
}

/// The orders service: places `count` orders, then pays two in three and ships half of those, and cancels the
/// others; each step is a compare-and-set `update` of the version it read. Returns what it did, as the report
/// should show it.
pub async fn run_orders(store: &Store, count: usize) -> Result<Report, capacitor::Error> {
    let orders = OrderRepo::new(store.clone());
    let mut expected = Report::default();
    for i in 0..count {
        let order = Order {
            order_id: format!("order-{i:05}"),
            customer_email: format!("customer{}@example.com", i % 7),
            total_cents: 1_000 + (i as u64 % 13) * 250,
            status: Status::Placed as i32,
        };
        let total = order.total_cents;
        let mut version = orders.insert(order.clone()).await?;
        let (status, steps): (Status, &[Status]) = match i % 3 {
            0 => (Status::Cancelled, &[Status::Cancelled]),
            1 => (Status::Paid, &[Status::Paid]),
            _ => (Status::Shipped, &[Status::Paid, Status::Shipped]),
        };
        for step in steps {
            let next = Order {
                status: *step as i32,
                ..order.clone()
            };
            version = orders.update(next, version).await?;
        }
        expected.count(status, total);
    }
    Ok(expected)
}

/// The reporting service's projection: the last status and total of each order, applied by version (a change
/// seen twice, or an older one, changes nothing), and the cursor after the last change applied.
#[derive(Debug)]
pub struct Projection {
    orders: HashMap<String, (u64, Status, u64)>,
    /// Resume after this change (store it with the projection in a real service).
    pub cursor: ChangeCursor,
}

impl Default for Projection {
    fn default() -> Self {
        Projection {
            orders: HashMap::new(),
            cursor: ChangeCursor::beginning(),
        }
    }
}

impl Projection {
    /// Applies one change.
    pub fn apply(&mut self, change: Change<Order>) {
        match change {
            Change::Put { value, version } => {
                let known = self.orders.get(&value.order_id).map_or(0, |o| o.0);
                if version > known {
                    let status = Status::try_from(value.status).unwrap_or(Status::Unspecified);
                    self.orders
                        .insert(value.order_id, (version, status, value.total_cents));
                }
            }
            Change::Delete { key, .. } => {
                self.orders.remove(&key);
            }
        }
    }

    /// The report over every order applied so far.
    pub fn report(&self) -> Report {
        let mut report = Report::default();
        for (_, status, total) in self.orders.values() {
            report.count(*status, *total);
        }
        report
    }
}

/// The reporting service: follows the change feed from the beginning until `count` orders are known and none
/// is still only placed (every order reached its final status), or `timeout` passes.
pub async fn run_report(
    store: &Store,
    count: u64,
    timeout: Duration,
) -> Result<Report, capacitor::Error> {
    let orders = OrderRepo::new(store.clone());
    let mut projection = Projection::default();
    let mut feed = orders.changes(projection.cursor)?;
    let deadline = Instant::now() + timeout;
    loop {
        for event in feed.poll().await? {
            projection.cursor = event.cursor;
            projection.apply(event.change);
        }
        let report = projection.report();
        if (report.orders() == count && report.placed == 0) || Instant::now() > deadline {
            return Ok(report);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
