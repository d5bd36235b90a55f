//! Memory of one registered user agent (issue: Performance, item 3), native: the
//! inline size of `UserAgent` and the heap it keeps after REGISTER → 401 →
//! REGISTER → 200 against the tests' fake core, counted by a counting allocator.
//! Native pointers are 8 bytes against wasm's 4, so the wasm figure is smaller;
//! the per-client total in a browser is measured by benches/js/clients.mjs.
//!
//! `cargo run --release --example ua_memory`
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

#[path = "../tests/common/mod.rs"]
mod common;

/// The system allocator, counting live bytes and blocks.
struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);
static BLOCKS: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call unchanged to `System`; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        BLOCKS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        BLOCKS.fetch_sub(1, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn main() {
    let h = common::registered();
    // The harness's fake core and records stay alive; only the user agent is dropped.
    let common::Harness { ua, .. } = h;
    let (live, blocks) = (LIVE.load(Ordering::Relaxed), BLOCKS.load(Ordering::Relaxed));
    drop(ua);
    let freed = live - LIVE.load(Ordering::Relaxed);
    let freed_blocks = blocks - BLOCKS.load(Ordering::Relaxed);
    println!(
        "size_of::<UserAgent>() = {} B",
        std::mem::size_of::<imsip::ua::UserAgent>()
    );
    println!("heap kept by one registered UserAgent: {freed} B in {freed_blocks} blocks");
}
