//! An L1 hit allocates nothing beyond the clone of the value it returns (the target for the hit path).
//!
//! A counting global allocator (`capacitor_testkit::alloc`, which counts only the thread being measured, so the
//! L1 clock thread and the runtime never add to it) in a binary of its own (`harness = false`). The hit is
//! polled by hand with a no-op waker, so no executor's bookkeeping is counted: an L1 hit completes on its first
//! poll.

use capacitor::{Repository, Store, Versioned};
use capacitor_dal_tests::Account;
use capacitor_testkit::alloc::{Counting, allocations_during};
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Polls `future` once; an L1 hit must be ready at once.
fn ready<T>(future: impl Future<Output = T>) -> T {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("an L1 hit suspended"),
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let repo: Repository<Account> = Repository::new(Store::memory());
    assert!(repo.has_l1(), "Account is an eventual entity with a cache");
    let account = Account {
        id: "acct-1".into(),
        email: "someone@example.com".into(),
        balance: 42,
    };
    let key = account.id.clone();
    runtime
        .block_on(repo.put(account.clone()))
        .expect("put on the memory store");

    // Warm up: the first hit may initialise lazily built statics.
    let first: Versioned<Account> = ready(repo.get(&key)).expect("an L1 hit");
    assert_eq!(first.value, account);
    assert_eq!(repo.stats().l1_hits, 1);

    const CALLS: usize = 1000;
    let per_clone = allocations_during(|| drop(black_box(black_box(&account).clone())));
    assert!(
        per_clone > 0,
        "the counter works: the value's two strings are cloned on the heap"
    );
    let mut hits = Vec::with_capacity(CALLS);
    let during = allocations_during(|| {
        for _ in 0..CALLS {
            hits.push(ready(repo.get(black_box(&key))).expect("an L1 hit"));
        }
    });
    assert_eq!(
        repo.stats().l1_hits,
        1 + CALLS as u64,
        "every get was an L1 hit"
    );
    assert!(
        hits.iter()
            .all(|hit| hit.value == account && hit.version == first.version)
    );
    assert_eq!(
        during,
        CALLS * per_clone,
        "{CALLS} L1 hits allocated {during} times; cloning the value allocates {per_clone} times per call"
    );
    println!("dal_l1_alloc: ok ({CALLS} L1 hits, {per_clone} allocations each: the value's clone)");
}
