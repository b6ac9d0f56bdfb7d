//! The repository's counters and latencies reach the `metrics` facade, labelled by entity and tier.

use capacitor::{Repository, Store};
use capacitor_dal_tests::{Account, account};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Counts every counter increment and histogram sample by its full key.
#[derive(Default)]
struct Capture {
    counters: Mutex<HashMap<String, Arc<AtomicU64>>>,
    samples: Mutex<HashMap<String, Arc<AtomicU64>>>,
}

fn key_text(key: &Key) -> String {
    let mut labels: Vec<String> = key
        .labels()
        .map(|l| format!("{}={}", l.key(), l.value()))
        .collect();
    labels.sort();
    format!("{}{{{}}}", key.name(), labels.join(","))
}

struct SampleCount(Arc<AtomicU64>);

impl metrics::HistogramFn for SampleCount {
    fn record(&self, _value: f64) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

impl Recorder for Capture {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let mut counters = self.counters.lock().unwrap();
        Counter::from_arc(counters.entry(key_text(key)).or_default().clone())
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        let mut samples = self.samples.lock().unwrap();
        Histogram::from_arc(Arc::new(SampleCount(
            samples.entry(key_text(key)).or_default().clone(),
        )))
    }
}

impl Capture {
    fn counter(&self, key: &str) -> u64 {
        self.counters.lock().unwrap()[key].load(Ordering::Relaxed)
    }

    fn samples(&self, key: &str) -> u64 {
        self.samples.lock().unwrap()[key].load(Ordering::Relaxed)
    }
}

#[tokio::test]
async fn counters_and_latencies_are_labelled_by_entity_and_tier() {
    let capture = Capture::default();
    let repo: Repository<Account> =
        metrics::with_local_recorder(&capture, || Repository::new(Store::memory()));
    repo.put(account("a", 1)).await.unwrap();
    repo.get(&"a".to_owned()).await.unwrap();
    repo.get(&"missing".to_owned()).await.unwrap_err();

    assert_eq!(
        capture.counter("capacitor_repo_hits_total{entity=Account,tier=l1}"),
        1
    );
    assert_eq!(
        capture.counter("capacitor_repo_misses_total{entity=Account,tier=l1}"),
        1
    );
    assert_eq!(
        capture.counter("capacitor_repo_misses_total{entity=Account,tier=store}"),
        1
    );
    assert_eq!(
        capture.counter("capacitor_repo_writes_total{entity=Account,tier=store}"),
        1
    );
    // One write and one store read were timed; the L1 hit was not.
    assert_eq!(
        capture.samples("capacitor_repo_latency_seconds{entity=Account,tier=store}"),
        2
    );
    assert_eq!(repo.stats().l1_hits, 1);
}
