//! An event-sourced order: `Order`'s state is the fold of its `OrderEvent`s. capgen generated the types, the
//! validators, `impl EventSourced for Order`, `OrderStream` and the events and snapshots tables (migrations in
//! `migrations/`); this file adds the fold ([`Aggregate`]) and the commands (place, pay, ship, cancel), which
//! decide on the loaded state and append with the version they loaded, so a concurrent command is a conflict.

#[allow(clippy::all)]
pub mod shop {
    pub mod v1 {
        capacitor::include_proto!("shop.v1");
    }
}

use capacitor::Error;
use capacitor::events::{Aggregate, EventStore};
use capacitor::migrate::{Migrations, Migrator};
use shop::v1::order::Status;
use shop::v1::order_event::Event;
use shop::v1::{
    Order, OrderCancelled, OrderEvent, OrderPaid, OrderPlaced, OrderShipped, OrderStream,
};

static SQLITE_MIGRATIONS: Migrator = capacitor::migrations!("migrations/sqlite");
/// The example's migrations (SQLite: the entity uses the default backend).
pub const MIGRATIONS: Migrations = Migrations::new().sqlite(&SQLITE_MIGRATIONS);

impl Aggregate for Order {
    fn apply(&mut self, event: &OrderEvent) {
        match &event.event {
            Some(Event::Placed(e)) => {
                self.status = Status::Placed as i32;
                self.customer_email = e.customer_email.clone();
                self.total_cents = e.total_cents;
            }
            Some(Event::Paid(e)) => {
                self.paid_cents += e.amount_cents;
                if self.paid_cents >= self.total_cents {
                    self.status = Status::Paid as i32;
                }
            }
            Some(Event::Shipped(e)) => {
                self.status = Status::Shipped as i32;
                self.tracking = e.tracking.clone();
            }
            Some(Event::Cancelled(_)) => self.status = Status::Cancelled as i32,
            None => {}
        }
    }
}

/// Why a command was refused.
#[derive(Debug)]
pub enum CommandError {
    /// The order is not in a state that allows the command.
    Rejected(&'static str),
    /// The store refused or failed (a conflict: another command won; reload and decide again).
    Store(Error),
}

impl From<Error> for CommandError {
    fn from(e: Error) -> Self {
        CommandError::Store(e)
    }
}

fn event(e: Event) -> OrderEvent {
    OrderEvent { event: Some(e) }
}

/// Runs one command on order `id`: loads it, decides, appends with the loaded version. Returns the new version.
async fn command(
    orders: &OrderStream,
    id: &str,
    decide: impl FnOnce(&Order) -> Result<Event, &'static str>,
) -> Result<u64, CommandError> {
    let loaded = orders.load(id).await?;
    let e = decide(&loaded.state).map_err(CommandError::Rejected)?;
    Ok(orders.append(id, loaded.version, &[event(e)]).await?)
}

/// Places order `id`.
pub async fn place(
    orders: &OrderStream,
    id: &str,
    email: &str,
    total_cents: i64,
) -> Result<u64, CommandError> {
    command(orders, id, |o| match o.status() {
        Status::Unspecified => Ok(Event::Placed(OrderPlaced {
            customer_email: email.to_string(),
            total_cents,
        })),
        _ => Err("already placed"),
    })
    .await
}

/// Records a payment on order `id`.
pub async fn pay(orders: &OrderStream, id: &str, amount_cents: i64) -> Result<u64, CommandError> {
    command(orders, id, |o| match o.status() {
        Status::Placed => Ok(Event::Paid(OrderPaid { amount_cents })),
        _ => Err("only a placed, unpaid order takes a payment"),
    })
    .await
}

/// Ships order `id`.
pub async fn ship(orders: &OrderStream, id: &str, tracking: &str) -> Result<u64, CommandError> {
    command(orders, id, |o| match o.status() {
        Status::Paid => Ok(Event::Shipped(OrderShipped {
            tracking: tracking.to_string(),
        })),
        _ => Err("only a paid order ships"),
    })
    .await
}

/// Cancels order `id`.
pub async fn cancel(orders: &OrderStream, id: &str, reason: &str) -> Result<u64, CommandError> {
    command(orders, id, |o| match o.status() {
        Status::Placed | Status::Paid => Ok(Event::Cancelled(OrderCancelled {
            reason: reason.to_string(),
        })),
        _ => Err("only a placed or paid order can be cancelled"),
    })
    .await
}

/// What [`run`] observed.
#[derive(Debug)]
pub struct Report {
    /// The first order after place, two payments and ship.
    pub shipped: Order,
    /// Its version (5) and the snapshot its load started from (3: `snapshot_every: 3`).
    pub shipped_version: u64,
    /// The snapshot version the load of the shipped order used.
    pub shipped_from_snapshot: Option<u64>,
    /// The second order's status after cancel, by its proto name.
    pub cancelled_status: &'static str,
    /// A command refused by the aggregate (ship a cancelled order).
    pub refused: &'static str,
    /// An append with a stale version: `Error::Conflict`.
    pub stale_append_conflicted: bool,
    /// An event breaking its `buf.validate` rules (`total_cents > 0`): `Error::Validation`.
    pub invalid_event_refused: bool,
    /// Every event of the store in global order: `(stream, version, event type)`.
    pub log: Vec<(String, u64, String)>,
}

/// Place, pay, ship and cancel on the event store at `url` (migrated first).
pub async fn run(url: &str) -> Result<Report, CommandError> {
    let store = EventStore::open_migrated(url, &MIGRATIONS).await?;
    let orders: OrderStream = store.stream();
    place(&orders, "order-1", "ada@example.com", 5_000).await?;
    pay(&orders, "order-1", 2_000).await?;
    pay(&orders, "order-1", 3_000).await?;
    ship(&orders, "order-1", "TRACK-1").await?;
    place(&orders, "order-2", "bob@example.com", 1_200).await?;
    cancel(&orders, "order-2", "changed my mind").await?;
    let refused = match ship(&orders, "order-2", "TRACK-2").await {
        Err(CommandError::Rejected(why)) => why,
        other => panic!("shipping a cancelled order must be refused: {other:?}"),
    };
    let stale = orders
        .append(
            "order-1",
            1,
            &[event(Event::Cancelled(OrderCancelled::default()))],
        )
        .await;
    let invalid = orders
        .append(
            "order-3",
            0,
            &[event(Event::Placed(OrderPlaced {
                customer_email: "carol@example.com".into(),
                total_cents: 0,
            }))],
        )
        .await;
    let shipped = orders.load("order-1").await?;
    let cancelled = orders.load("order-2").await?;
    let log = orders
        .read_all(0, 100)
        .await?
        .into_iter()
        .map(|e| (e.stream_id, e.version, e.event_type))
        .collect();
    Ok(Report {
        shipped_version: shipped.version,
        shipped_from_snapshot: shipped.from_snapshot,
        shipped: shipped.state,
        cancelled_status: cancelled.state.status().as_str_name(),
        refused,
        stale_append_conflicted: matches!(stale, Err(Error::Conflict { .. })),
        invalid_event_refused: matches!(invalid, Err(Error::Validation(_))),
        log,
    })
}
