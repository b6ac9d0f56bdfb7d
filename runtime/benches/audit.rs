//! The cost of auditing a cached read: `audit/l1_hit_unaudited` (an entity with a PII field, no sink) vs
//! `audit/l1_hit_tracing_sink` (the same repository with the batched `TracingAuditSink`), on an L1 hit;
//! `audit/l1_hit_tracing_sink_actor` (the same, inside an `Actor` scope, as a service's reads are); and
//! `audit/l1_hit_discarding_sink` (a sink that is not a `TracingAuditSink` and drops each event: the cost of
//! building a full `AuditEvent`, the path every other sink takes).
//!
//! No `tracing` subscriber is installed, so the sink's background task formats nothing: the figure is what the
//! caller pays (a compact record — the key, the actor, the coarse clock — pushed into its thread's lane of the
//! buffer). With a subscriber, naming the key, coalescing, formatting and writing run on the sink's task, off the
//! caller's path, unless a lane fills (`Overflow`).
//!
//! `cargo bench -p capacitor --bench audit -- --warm-up-time 1 --measurement-time 3`.

use capacitor::pii::audit::Overflow;
use capacitor::pii::{Actor, TracingAuditSink};
use capacitor::{Repository, Store};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;

#[path = "support/ready.rs"]
mod support_ready;
use support_ready::ready;

#[path = "support/audit_user.rs"]
mod audit_user;
use audit_user::User;

const ROWS: i64 = 1000;

/// A sink that drops every event: what building a full event costs (any sink but a `TracingAuditSink` gets
/// one), without handing it to a writer.
struct Discard;

impl capacitor::pii::AuditSink for Discard {
    fn record(&self, event: capacitor::pii::AuditEvent) {
        black_box(event);
    }
}

fn audit(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _entered = rt.enter();
    let plain: Repository<User> = Repository::new(Store::memory());
    let sink = TracingAuditSink::with_capacity(TracingAuditSink::DEFAULT_CAPACITY, Overflow::Drop);
    let audited: Repository<User> = Repository::builder(Store::memory())
        .audit(Arc::new(sink.clone()))
        .build();
    let discarding: Repository<User> = Repository::builder(Store::memory())
        .audit(Arc::new(Discard))
        .build();
    rt.block_on(async {
        for id in 0..ROWS {
            let user = User {
                id,
                email: format!("user{id}@example.com"),
            };
            plain.put(user.clone()).await.unwrap();
            discarding.put(user.clone()).await.unwrap();
            audited.put(user).await.unwrap();
        }
    });
    let mut group = c.benchmark_group("audit");
    let mut id = 0;
    group.bench_function("l1_hit_unaudited", |b| {
        b.iter(|| {
            id = (id + 7) % ROWS;
            black_box(ready(plain.get(black_box(&id))).unwrap())
        })
    });
    group.bench_function("l1_hit_discarding_sink", |b| {
        b.iter(|| {
            id = (id + 7) % ROWS;
            black_box(ready(discarding.get(black_box(&id))).unwrap())
        })
    });
    group.bench_function("l1_hit_tracing_sink", |b| {
        b.iter(|| {
            id = (id + 7) % ROWS;
            black_box(ready(audited.get(black_box(&id))).unwrap())
        })
    });
    Actor::new("svc:bench").sync_scope(|| {
        group.bench_function("l1_hit_tracing_sink_actor", |b| {
            b.iter(|| {
                id = (id + 7) % ROWS;
                black_box(ready(audited.get(black_box(&id))).unwrap())
            })
        });
    });
    group.finish();
    println!("audit events dropped (buffer full): {}", sink.dropped());
}

criterion_group!(benches, audit);
criterion_main!(benches);
