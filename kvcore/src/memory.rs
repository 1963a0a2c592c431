//! Memory accounting: a counting global allocator a host installs, and the figure the store's
//! `maxmemory` eviction compares with its limit.
//!
//! The count is what the program asked the allocator for (`Layout::size`), net of what it gave
//! back: Redis's `used_memory` (which counts the allocator's usable sizes, a little more).
//! Each thread adds to a counter of its own and folds it into the shared total once it has
//! moved by [`CHUNK`] bytes either way, and when the thread ends, so an allocation costs a
//! thread-local add and compare, never a contended atomic. The total is therefore exact to
//! within `CHUNK` bytes per running thread; [`used`] adds the calling thread's own unfolded
//! part, so a thread that frees memory sees its effect at once (eviction relies on it).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

/// How far a thread's own counter moves before it is folded into the shared total.
pub(crate) const CHUNK: isize = 32 * 1024;

/// The folded total of every thread's counter.
static ALLOCATED: AtomicI64 = AtomicI64::new(0);
/// The highest folded total seen.
static PEAK: AtomicU64 = AtomicU64::new(0);
/// Bytes of the slots on the shards' free lists (vacated by a removal, kept for the next
/// key), folded from the threads' counters as [`ALLOCATED`] is. The memory eviction compares
/// with the limit leaves them out (`evict.rs`), or evicting a key whose value lives in its slot
/// would seem to free nothing. A slab's never-used capacity (it grows by doubling) still counts, so
/// `used_memory` stays near `maxmemory`.
static VACANT: AtomicI64 = AtomicI64::new(0);
/// Set by the first allocation through a [`CountingAlloc`].
static INSTALLED: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// This thread's bytes not yet folded into [`ALLOCATED`]. Const and without a destructor,
    /// so reading it never allocates and works while the thread is being torn down.
    static LOCAL: Cell<isize> = const { Cell::new(0) };
    /// Whether this thread registered [`EXIT`] (touched once, outside any re-entry).
    static REGISTERED: Cell<bool> = const { Cell::new(false) };
    /// This thread's change to [`VACANT`] not yet folded into it.
    static VACANT_LOCAL: Cell<isize> = const { Cell::new(0) };
    /// Folds the thread's counter into the total when the thread ends.
    static EXIT: ExitFold = const { ExitFold };
}

struct ExitFold;

impl Drop for ExitFold {
    fn drop(&mut self) {
        let v = LOCAL.with(|c| c.replace(0));
        if v != 0 {
            ALLOCATED.fetch_add(v as i64, Ordering::Relaxed);
        }
        let v = VACANT_LOCAL.with(|c| c.replace(0));
        if v != 0 {
            VACANT.fetch_add(v as i64, Ordering::Relaxed);
        }
    }
}

/// A global allocator that counts the bytes the program holds, over an inner allocator
/// (the system's by default). Install it in a binary to give the store a memory figure
/// (INFO's `used_memory`, and what a [`max_memory`](crate::Options::max_memory) limit is
/// compared with):
///
/// ```
/// #[global_allocator]
/// static ALLOC: kvcore::CountingAlloc = kvcore::CountingAlloc::new(std::alloc::System);
///
/// let v = vec![0u8; 1 << 20];
/// assert!(kvcore::allocated().expect("installed").used >= 1 << 20);
/// # drop(v);
/// ```
#[derive(Debug, Default)]
pub struct CountingAlloc<A = System> {
    inner: A,
}

impl<A> CountingAlloc<A> {
    /// Counts the allocations of `inner`.
    pub const fn new(inner: A) -> Self {
        CountingAlloc { inner }
    }
}

#[inline]
fn note(delta: isize) {
    LOCAL.with(|c| {
        let v = c.get() + delta;
        if v.unsigned_abs() >= CHUNK as usize {
            c.set(0);
            fold(v);
        } else {
            c.set(v);
        }
    });
}

#[cold]
fn fold(v: isize) {
    let now = ALLOCATED.fetch_add(v as i64, Ordering::Relaxed) + v as i64;
    if v > 0 {
        PEAK.fetch_max(now.max(0) as u64, Ordering::Relaxed);
    }
    if !REGISTERED.with(|r| r.replace(true)) {
        // Registering the destructor may allocate; REGISTERED is already set, so that
        // allocation cannot come back here.
        EXIT.with(|_| {});
        INSTALLED.store(true, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to `inner`, which upholds the contract; the
// counting only touches a const thread-local cell and atomics, and never allocates.
unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAlloc<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is the inner allocator's.
        let p = unsafe { self.inner.alloc(layout) };
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        let p = unsafe { self.inner.alloc_zeroed(layout) };
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as `alloc`.
        unsafe { self.inner.dealloc(ptr, layout) };
        note(-(layout.size() as isize));
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as `alloc`.
        let p = unsafe { self.inner.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            note(new_size as isize - layout.size() as isize);
        }
        p
    }
}

/// What a [`CountingAlloc`] counted; see [`allocated`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Allocated {
    /// Bytes the program holds now (Redis's `used_memory`).
    pub used: u64,
    /// The most it held at once (Redis's `used_memory_peak`).
    pub peak: u64,
}

/// The counts of the installed [`CountingAlloc`], or `None` when the program does not use one
/// (before it has allocated its first 32 KiB through it).
pub fn allocated() -> Option<Allocated> {
    if !INSTALLED.load(Ordering::Relaxed) {
        return None;
    }
    let used = used();
    let peak = PEAK.load(Ordering::Relaxed).max(used);
    Some(Allocated { used, peak })
}

/// The bytes held now: the folded total plus this thread's own unfolded part.
pub(crate) fn used() -> u64 {
    let local = LOCAL.with(Cell::get) as i64;
    (ALLOCATED.load(Ordering::Relaxed) + local).max(0) as u64
}

/// Folds this thread's counter into the total now (a host calls it where a thread is about to
/// stop allocating for long, so that the total does not lag by its part).
pub fn fold_thread_allocations() {
    let v = LOCAL.with(|c| c.replace(0));
    if v != 0 {
        fold(v);
    }
}

/// Bytes of slots that joined a shard's free list (negative: reused, or dropped with the slab).
#[inline]
pub(crate) fn note_vacant(bytes: isize) {
    VACANT_LOCAL.with(|c| {
        let v = c.get() + bytes;
        if v.unsigned_abs() >= CHUNK as usize {
            c.set(0);
            VACANT.fetch_add(v as i64, Ordering::Relaxed);
        } else {
            c.set(v);
        }
    });
}

/// Bytes of free-list slots, this thread's unfolded part included.
pub(crate) fn vacant_bytes() -> u64 {
    let local = VACANT_LOCAL.with(Cell::get) as i64;
    (VACANT.load(Ordering::Relaxed) + local).max(0) as u64
}
