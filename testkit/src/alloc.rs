//! A counting global allocator, for tests that assert a path allocates nothing (or only what it returns).
//!
//! It counts the allocations of the thread that runs [`allocations_during`], and only while it runs, so
//! background threads (a runtime's workers, a clock thread starting up, libtest's own) never add to a count:
//!
//! ```
//! #[global_allocator]
//! static GLOBAL: capacitor_testkit::alloc::Counting = capacitor_testkit::alloc::Counting;
//!
//! fn main() {
//!     let total: u64 = (1..=10).sum();
//!     assert_eq!(capacitor_testkit::alloc::allocations_during(|| assert_eq!(total, 55)), 0);
//!     assert!(capacitor_testkit::alloc::allocations_during(|| drop(vec![1u8; 64])) > 0);
//! }
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Forwards to the system allocator and counts allocations and reallocations.
pub struct Counting;

thread_local! {
    /// Allocations this thread made inside `allocations_during`; `None` outside it. Const-initialized with no
    /// destructor, so touching it never allocates.
    static COUNT: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Counts one allocation if this thread is being measured (a no-op while its thread-locals are torn down).
fn count() {
    let _ = COUNT.try_with(|c| c.set(c.get().map(|n| n + 1)));
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// How many allocations (and reallocations) `f` made on this thread, counted by [`Counting`] when it is the
/// global allocator.
pub fn allocations_during(f: impl FnOnce()) -> usize {
    let outer = COUNT.replace(Some(0));
    f();
    let n = COUNT.replace(outer).unwrap_or(0);
    // A nested measurement's allocations count in the outer one too.
    COUNT.set(outer.map(|m| m + n));
    n
}
