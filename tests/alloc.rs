//! The forwarding path allocates nothing: a counting global allocator watches 100,000 frames
//! go through a warmed-up router (parse, validate, route lookup, ARP cache hit, TTL and
//! checksum update, MAC rewrite, transmit action).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use shoal::rig::ForwardRig;

struct Counting;

thread_local! {
    /// Set on the forwarding thread only. Counting every thread's allocations failed this test
    /// now and then under heavy machine load (4 allocations, never in a single-threaded run),
    /// most likely libtest's main thread finishing the spawn of the test thread.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: defers to the system allocator; only adds a counter.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if counting() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if counting() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn counting() -> bool {
    COUNTING.try_with(Cell::get).unwrap_or(false)
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn forwarding_100k_frames_allocates_nothing() {
    let mut rig = ForwardRig::new(10, 32);
    // Warm up: action and batch buffers reach their working size.
    for _ in 0..10 {
        rig.round();
    }
    let before = rig.router().counters().forwarded;
    COUNTING.set(true);
    let mut sent = 0;
    while sent < 100_000 {
        sent += rig.round();
    }
    COUNTING.set(false);
    assert_eq!(rig.router().counters().forwarded - before, sent as u64);
    assert!(sent >= 100_000);
    assert_eq!(
        ALLOCATIONS.load(Ordering::SeqCst),
        0,
        "heap allocations while forwarding"
    );
}
