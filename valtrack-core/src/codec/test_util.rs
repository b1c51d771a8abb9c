//! Test helpers for the codecs: captured bytes, a variable-size test type and an allocation
//! probe that proves hostile lengths are rejected without allocating them.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use crate::constants::MAX_PAYLOAD_SIZE;
use crate::ssz::SszError;
use crate::ssz::SszMessage;

/// Decodes one of the `testdata/*.hex` files (a hex string, surrounding whitespace ignored).
pub(crate) fn hex_file(text: &str) -> Vec<u8> {
    hex::decode(text.trim()).expect("testdata holds valid hex")
}

/// Opaque bytes of any length up to `MAX_PAYLOAD_SIZE`: exercises multi-chunk frames and the
/// read limits, which the small fixed-size messages cannot reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawBytes(pub(crate) Vec<u8>);

impl SszMessage for RawBytes {
    const TYPE_NAME: &'static str = "RawBytes";
    const SSZ_MIN_LEN: usize = 0;
    const SSZ_MAX_LEN: usize = MAX_PAYLOAD_SIZE;

    fn to_ssz_bytes(&self) -> Vec<u8> {
        self.0.clone()
    }

    fn from_ssz_bytes(bytes: &[u8]) -> Result<Self, SszError> {
        Ok(Self(bytes.to_vec()))
    }
}

thread_local! {
    /// Largest allocation seen on this thread while a probe runs (`None` when none runs).
    static LARGEST: Cell<Option<usize>> = const { Cell::new(None) };
}

fn record(size: usize) {
    // `try_with` fails only while the thread is being torn down; nothing to record then.
    let _ = LARGEST.try_with(|largest| {
        if let Some(max) = largest.get() {
            largest.set(Some(max.max(size)));
        }
    });
}

/// The system allocator, recording allocation sizes for [`largest_allocation`].
struct ProbeAllocator;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// recording touches only a `Cell<Option<usize>>` thread local, which never allocates.
unsafe impl GlobalAlloc for ProbeAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above; `ptr` came from `System` through this allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: ProbeAllocator = ProbeAllocator;

/// Runs `f` and returns its result with the largest single allocation (in bytes) it made on
/// this thread.
pub(crate) fn largest_allocation<R>(f: impl FnOnce() -> R) -> (R, usize) {
    LARGEST.with(|l| l.set(Some(0)));
    let out = f();
    let largest = LARGEST.with(|l| l.replace(None)).unwrap_or(0);
    (out, largest)
}
