//! Memory accounting across every dataset of the process (in the browser: of the wasm
//! module, whose memory is at most 4 GiB and never shrinks).
//!
//! A wasm allocation that cannot grow memory aborts the module (`unreachable`), killing
//! the component with every dataset in it. So the engine never relies on allocation
//! failing: [`Counting`] (installed as the global allocator by the wasm edge) counts the
//! bytes live, and `Dataset::push` refuses a batch that would take the module past
//! [`module_limit`] with a clear error, leaving headroom for queries; column growth
//! itself reserves with `try_reserve`, so memory the browser refuses is an error too.
//! Natively nothing is installed by default and only each dataset's budget applies.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

static LIVE: AtomicUsize = AtomicUsize::new(0);
static COUNTING: AtomicBool = AtomicBool::new(false);
static LIMIT: AtomicU64 = AtomicU64::new(u64::MAX);

/// A global allocator that counts the bytes it has handed out and not taken back.
pub struct Counting<A>(pub A);

unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { self.0.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
            COUNTING.store(true, Ordering::Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { self.0.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
            COUNTING.store(true, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { self.0.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { self.0.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(new_size, Ordering::Relaxed);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
}

/// Bytes live through [`Counting`], if it is the global allocator.
pub fn live_bytes() -> Option<u64> {
    COUNTING.load(Ordering::Relaxed).then(|| LIVE.load(Ordering::Relaxed) as u64)
}

/// Most bytes all datasets together may take (default: no limit).
pub fn module_limit() -> u64 {
    LIMIT.load(Ordering::Relaxed)
}

/// Sets [`module_limit`].
pub fn set_module_limit(bytes: u64) {
    LIMIT.store(bytes, Ordering::Relaxed);
}

/// Bytes that may still be taken before [`module_limit`] (`u64::MAX` when not counting).
pub fn available() -> u64 {
    match live_bytes() {
        Some(live) => module_limit().saturating_sub(live),
        None => u64::MAX,
    }
}
