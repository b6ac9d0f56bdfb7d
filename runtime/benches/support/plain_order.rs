//! A small strong entity (`int64` key, a `string`, an `int64`; no cache tier, so a put is the store write alone):
//! the outbox bench's entity without an outbox, and the concurrent-writers example's. Included with `#[path]` by
//! `benches/outbox.rs` and `examples/concurrent_writers.rs`.

/// An order, without an outbox.
#[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
#[capacitor(table = "plain_orders", repository)]
pub struct Plain {
    #[prost(int64, tag = "1")]
    #[capacitor(primary_key)]
    pub id: i64,
    #[prost(string, tag = "2")]
    pub customer: String,
    #[prost(int64, tag = "3")]
    pub total: i64,
}
