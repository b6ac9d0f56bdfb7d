//! The repository's `tracing` spans, with the attributes of OpenTelemetry's database semantic conventions, so a
//! `tracing-opentelemetry` layer exports them as database spans without any OpenTelemetry dependency here.
//!
//! Two kinds, both at `debug`:
//! - `capacitor.repo`, one per repository operation (`get`, `put`, `find_by_index`…), over every tier it touches;
//! - `capacitor.tier`, one per round trip to Redis or the store inside it (`otel.kind = "client"`). An L1 hit
//!   makes neither: its path stays free of span bookkeeping.
//!
//! Fields name the system, the operation and the table, never a key or a value: keys may be personal data
//! (an email as primary key), and spans leave the process. `otel.name` gives exporters the conventions' span name
//! (`{db.operation.name} {db.collection.name}`); it is formatted only when a subscriber enables the span.

use crate::error::Tier;
use crate::schema::EntitySchema;
use tracing::Span;

/// The spans' target (as before they followed the conventions, so existing filters keep matching).
const TARGET: &str = "capacitor::repo";

/// What Redis runs for every tier operation: the repository's Lua scripts, sent by hash.
#[cfg(feature = "redis")]
pub(super) const REDIS_SCRIPT: &str = "EVALSHA";

/// The statement a store read sends.
pub(super) const SELECT: &str = "SELECT";

/// The span of one repository operation `op` on the entity of `schema`, whose store is `store_system`.
pub(super) fn operation(
    schema: &EntitySchema,
    store_system: &'static str,
    op: &'static str,
) -> Span {
    tracing::debug_span!(
        target: TARGET,
        "capacitor.repo",
        entity = schema.message,
        op,
        "db.system" = store_system,
        "db.operation.name" = op,
        "db.collection.name" = schema.table,
        "otel.name" = format_args!("{op} {}", schema.table),
    )
}

/// The span of one round trip to `tier` (Redis or the store, whose system is `system`) sending `operation`.
pub(super) fn round_trip(
    schema: &EntitySchema,
    tier: Tier,
    system: &'static str,
    operation: &'static str,
) -> Span {
    tracing::debug_span!(
        target: TARGET,
        "capacitor.tier",
        "capacitor.tier" = tier.as_str(),
        "db.system" = system,
        "db.operation.name" = operation,
        "db.collection.name" = schema.table,
        "otel.kind" = "client",
        "otel.name" = format_args!("{operation} {}", schema.table),
    )
}
