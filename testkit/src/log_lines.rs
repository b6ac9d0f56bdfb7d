//! A real `tracing` subscriber that keeps the `message` of every event of one target, for tests that check what
//! a component logs (the audit trail's JSON lines, say).

use std::fmt;
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Keeps the messages of the events whose target is `target`; clones share the lines.
///
/// ```
/// use capacitor_testkit::log_lines::MessageLines;
/// let lines = MessageLines::new("app::audit");
/// tracing::subscriber::with_default(lines.clone(), || {
///     tracing::info!(target: "app::audit", "one");
///     tracing::info!(target: "elsewhere", "two");
/// });
/// assert_eq!(lines.take(), ["one"]);
/// ```
#[derive(Clone)]
pub struct MessageLines {
    target: &'static str,
    lines: Arc<Mutex<Vec<String>>>,
}

impl MessageLines {
    /// A subscriber keeping the messages of `target`'s events.
    pub fn new(target: &'static str) -> Self {
        MessageLines {
            target,
            lines: Arc::default(),
        }
    }

    /// The messages kept so far, in order.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// The messages kept so far, removed.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.lines.lock().unwrap())
    }
}

impl Subscriber for MessageLines {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == self.target
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        struct Message<'a>(&'a mut String);
        impl Visit for Message<'_> {
            fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
                if field.name() == "message" {
                    *self.0 = format!("{value:?}");
                }
            }
        }
        let mut line = String::new();
        event.record(&mut Message(&mut line));
        self.lines.lock().unwrap().push(line);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}
