//! A counting global allocator, for tests that assert a path allocates nothing.
//!
//! It counts every allocation of the process, so install it in a test binary whose only thread is the one
//! measuring (`harness = false`, or a binary with a single test):
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
use std::sync::atomic::{AtomicUsize, Ordering};

/// Forwards to the system allocator and counts allocations and reallocations.
pub struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// How many allocations (and reallocations) `f` made, counted by [`Counting`] when it is the global allocator.
pub fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    f();
    ALLOCATIONS.load(Ordering::SeqCst) - before
}
