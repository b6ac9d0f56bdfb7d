//! Wake-ups for change feeds: on Postgres every outbox write notifies [`WAKE_CHANNEL`] with its outbox table's
//! name (in the write's own statement, so the notification goes out at commit, once per transaction, and never
//! for a rollback); each store keeps one `LISTEN` connection, started by the first feed that waits, and wakes
//! the feeds of that table. A wake-up is only a hint: the outbox table stays the source of truth, and a feed
//! still reads every poll interval, so a notification lost while the connection was down (Postgres does not
//! queue them for a listener that is gone) delays a change by one interval at most. SQLite has no such channel
//! between processes: its feeds poll.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::watch;

/// The notification channel outbox writes signal on; the payload is the outbox table's name.
pub const WAKE_CHANNEL: &str = "capacitor_outbox";

/// One store's wake-ups: a sender per outbox table and the task that listens for them.
#[derive(Default)]
pub(crate) struct Wakeups {
    tables: Arc<Tables>,
    listener: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

#[derive(Default)]
pub(crate) struct Tables(Mutex<HashMap<String, watch::Sender<u64>>>);

#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
impl Tables {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<u64>>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Wakes the feeds of `table`.
    fn wake(&self, table: &str) {
        if let Some(sender) = self.lock().get(table) {
            sender.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// Wakes every feed (after the listening connection was lost: notifications may have been missed).
    fn wake_all(&self) {
        for sender in self.lock().values() {
            sender.send_modify(|n| *n = n.wrapping_add(1));
        }
    }
}

#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
impl Wakeups {
    /// A receiver that changes when `table` is written, starting the listener with `start` (in the current
    /// Tokio runtime) if it is not running. `None` outside a runtime: the feed polls.
    pub(crate) fn subscribe<F>(
        &self,
        table: &str,
        start: impl FnOnce(Weak<Tables>) -> F,
    ) -> Option<watch::Receiver<u64>>
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let receiver = self
            .tables
            .lock()
            .entry(table.to_owned())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe();
        let mut listener = self.listener.lock().unwrap_or_else(|p| p.into_inner());
        // A listener whose runtime shut down is gone: start another in this one.
        if listener.as_ref().is_none_or(|task| task.is_finished()) {
            *listener = Some(runtime.spawn(start(Arc::downgrade(&self.tables))));
        }
        Some(receiver)
    }
}

impl Drop for Wakeups {
    fn drop(&mut self) {
        if let Some(task) = self
            .listener
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            task.abort();
        }
    }
}

/// Listens on [`WAKE_CHANNEL`] with a connection of `pool` and wakes the feeds of each table named, until the
/// store is dropped; reconnects after a failure (with a backoff) and then wakes every feed.
#[cfg(feature = "postgres")]
pub(crate) async fn listen(pool: sqlx::PgPool, tables: Weak<Tables>) {
    use std::time::Duration;
    let mut backoff = Duration::from_millis(10);
    loop {
        let listener = async {
            let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
            listener.listen(WAKE_CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        let mut listener = match listener.await {
            Ok(listener) => listener,
            Err(e) => {
                tracing::debug!(error = %crate::driver_error::DriverError::from(e),
                    "change feed wake-ups: cannot listen, feeds poll meanwhile");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        backoff = Duration::from_millis(10);
        let Some(shared) = tables.upgrade() else {
            return;
        };
        shared.wake_all();
        drop(shared);
        loop {
            let next = listener.try_recv().await;
            let Some(shared) = tables.upgrade() else {
                return;
            };
            match next {
                Ok(Some(notification)) => shared.wake(notification.payload()),
                // The connection was lost and made again: what was sent meanwhile is lost.
                Ok(None) => shared.wake_all(),
                Err(_) => break,
            }
        }
    }
}
