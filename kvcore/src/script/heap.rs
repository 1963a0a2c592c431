//! A cache of freed small blocks in front of an interpreter's allocator.
//!
//! Lua allocates and frees a few small blocks per script call (the KEYS and ARGV tables and
//! their arrays, argument and reply strings), each through mlua's allocator (its memory
//! limit's accounting), Rust's global allocator, kvcore's counting one and the C library's
//! `malloc`: a tenth of a two-command FCALL's instructions. [`Heap`] keeps freed blocks of up
//! to [`LARGEST`] bytes in one list per exact size, and hands them out again for a request of
//! that size, so the steady state of a script that allocates as the last one did never leaves
//! the interpreter.
//!
//! Every block the heap hands out was allocated by the allocator underneath with exactly the
//! size Lua asked for, and every cached block is freed to it with that size, so the heap can
//! be taken out at any time ([`uninstall`]) and mlua's accounting stays true: a cached block
//! still counts as used against the interpreter's memory limit (at most [`CACHED`] bytes of
//! it), and an allocation the limit refuses is retried once with the cache emptied.
//! Only the thread that holds the interpreter calls it (mlua locks the state), as Lua's
//! allocator contract expects.

use std::ffi::c_void;
use std::ptr::{self, NonNull};

use mlua::ffi;

/// The largest block cached: a table, a small array, a short string.
const LARGEST: usize = 256;
/// The smallest: a cached block holds the link to the next one.
const SMALLEST: usize = size_of::<*mut c_void>();
/// How many bytes the cache holds at most; what is freed past it goes to the allocator
/// underneath.
const CACHED: usize = 256 << 10;

/// The cache, and the allocator underneath (mlua's) with its user data.
pub(super) struct Heap {
    inner: ffi::lua_Alloc,
    inner_ud: *mut c_void,
    /// The cached blocks of each size, linked through their first word.
    free: [*mut c_void; LARGEST + 1],
    /// Bytes cached.
    held: usize,
}

impl Heap {
    /// Frees every cached block to the allocator underneath.
    fn flush(&mut self) {
        for size in SMALLEST..=LARGEST {
            let mut block = self.free[size];
            while !block.is_null() {
                // SAFETY: a cached block's first word links the next (see `alloc`), and it
                // was allocated underneath with `size` bytes.
                unsafe {
                    let next = *(block as *mut *mut c_void);
                    (self.inner)(self.inner_ud, block, size, 0);
                    block = next;
                }
            }
            self.free[size] = ptr::null_mut();
        }
        self.held = 0;
    }
}

/// A heap installed in an interpreter: give it back to [`uninstall`] (leaking it otherwise).
pub(super) struct Installed(NonNull<Heap>);

// SAFETY: see `Heap`.
unsafe impl Send for Installed {}

impl Installed {
    /// Bytes cached now.
    #[cfg(test)]
    fn held(&self) -> usize {
        // SAFETY: read between the interpreter's calls, by the thread that holds it.
        unsafe { self.0.as_ref().held }
    }
}

/// Puts a heap in front of the allocator of `state`'s interpreter.
///
/// # Safety
/// `state` is a live interpreter locked by the caller, with no heap installed.
pub(super) unsafe fn install(state: *mut ffi::lua_State) -> Installed {
    let mut inner_ud = ptr::null_mut();
    // SAFETY: the caller's contract.
    let inner = unsafe { ffi::lua_getallocf(state, &mut inner_ud) };
    let heap = NonNull::from(Box::leak(Box::new(Heap {
        inner,
        inner_ud,
        free: [ptr::null_mut(); LARGEST + 1],
        held: 0,
    })));
    // SAFETY: the heap lives until `uninstall` puts the old allocator back.
    unsafe { ffi::lua_setallocf(state, alloc, heap.as_ptr() as *mut c_void) };
    Installed(heap)
}

/// Takes the heap out: its cached blocks go back underneath, and the interpreter allocates
/// underneath again.
///
/// # Safety
/// `state` is the interpreter `heap` was installed in, locked by the caller.
pub(super) unsafe fn uninstall(state: *mut ffi::lua_State, heap: Installed) {
    // SAFETY: leaked by `install`, and no longer reachable from the interpreter once the old
    // allocator is back (every live block was allocated underneath).
    unsafe {
        let mut heap = Box::from_raw(heap.0.as_ptr());
        ffi::lua_setallocf(state, heap.inner, heap.inner_ud);
        heap.flush();
    }
}

/// Lua's allocator function (`lua_Alloc`) with the heap as its user data.
unsafe extern "C" fn alloc(
    ud: *mut c_void,
    block: *mut c_void,
    osize: usize,
    nsize: usize,
) -> *mut c_void {
    // SAFETY: `ud` is the heap `install` set, used by one thread at a time.
    let heap = unsafe { &mut *(ud as *mut Heap) };
    if nsize == 0 {
        if !block.is_null() {
            if (SMALLEST..=LARGEST).contains(&osize) && heap.held + osize <= CACHED {
                // SAFETY: the block has `osize` bytes, room for the link; it is Lua's no more.
                unsafe { *(block as *mut *mut c_void) = heap.free[osize] };
                heap.free[osize] = block;
                heap.held += osize;
            } else {
                // SAFETY: allocated underneath with `osize` bytes.
                unsafe { (heap.inner)(heap.inner_ud, block, osize, 0) };
            }
        }
        return ptr::null_mut();
    }
    if block.is_null() && nsize <= LARGEST {
        let cached = heap.free[nsize];
        if !cached.is_null() {
            // SAFETY: a cached block of `nsize` bytes; its first word links the next.
            heap.free[nsize] = unsafe { *(cached as *mut *mut c_void) };
            heap.held -= nsize;
            return cached;
        }
    }
    // SAFETY: the allocator underneath, with Lua's own arguments.
    let got = unsafe { (heap.inner)(heap.inner_ud, block, osize, nsize) };
    if got.is_null() && heap.held > 0 {
        // The memory limit, counting the cached blocks: free them and try once more.
        heap.flush();
        // SAFETY: as above.
        return unsafe { (heap.inner)(heap.inner_ud, block, osize, nsize) };
    }
    got
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlua::{Lua, LuaOptions, StdLib};

    fn state(lua: &Lua) -> *mut ffi::lua_State {
        lua.exec_raw_lua(|raw| raw.state())
    }

    #[test]
    fn a_freed_block_serves_the_next_request_of_its_size_and_goes_back_underneath_at_the_end() {
        let lua = Lua::new_with(StdLib::NONE, LuaOptions::new()).unwrap();
        lua.set_memory_limit(64 << 20).unwrap();
        let heap = unsafe { install(state(&lua)) };
        assert_eq!(heap.held(), 0);
        // Tables made and collected: their blocks are cached, then reused.
        lua.load("for i = 1, 1000 do local t = {i} end")
            .exec()
            .unwrap();
        lua.gc_collect().unwrap();
        let held = heap.held();
        assert!(held > 0, "collected tables leave cached blocks");
        lua.load("for i = 1, 10 do local t = {i} end")
            .exec()
            .unwrap();
        assert!(heap.held() < held, "new tables take cached blocks");
        unsafe { uninstall(state(&lua), heap) };
        // mlua's allocator is back, with its accounting: its limit can be changed again.
        lua.set_memory_limit(32 << 20).unwrap();
        lua.load("local t = {} for i = 1, 100 do t[i] = tostring(i) end")
            .exec()
            .unwrap();
    }

    /// An allocator underneath with a budget, as mlua's memory limit.
    struct Budget {
        used: usize,
        limit: usize,
    }

    unsafe extern "C" fn budgeted(
        ud: *mut c_void,
        block: *mut c_void,
        osize: usize,
        nsize: usize,
    ) -> *mut c_void {
        let budget = unsafe { &mut *(ud as *mut Budget) };
        let layout = |n| std::alloc::Layout::from_size_align(n, 16).unwrap();
        if nsize == 0 {
            unsafe { std::alloc::dealloc(block as *mut u8, layout(osize)) };
            budget.used -= osize;
            return ptr::null_mut();
        }
        assert!(block.is_null(), "the test allocates only");
        if budget.used + nsize > budget.limit {
            return ptr::null_mut();
        }
        budget.used += nsize;
        unsafe { std::alloc::alloc(layout(nsize)) as *mut c_void }
    }

    #[test]
    fn cached_blocks_are_reused_by_size_and_given_back_when_the_limit_needs_them() {
        let mut budget = Budget {
            used: 0,
            limit: 1000,
        };
        let mut heap = Heap {
            inner: budgeted,
            inner_ud: &mut budget as *mut Budget as *mut c_void,
            free: [ptr::null_mut(); LARGEST + 1],
            held: 0,
        };
        let ud = &mut heap as *mut Heap as *mut c_void;
        unsafe {
            let a = alloc(ud, ptr::null_mut(), 0, 64);
            let b = alloc(ud, ptr::null_mut(), 0, 64);
            assert!(!a.is_null() && !b.is_null());
            alloc(ud, a, 64, 0);
            alloc(ud, b, 64, 0);
            assert_eq!(((*(ud as *mut Heap)).held, budget.used), (128, 128));
            // The same size comes from the cache, another size from underneath.
            assert_eq!(alloc(ud, ptr::null_mut(), 0, 64), b);
            let small = alloc(ud, ptr::null_mut(), 0, 32);
            assert_eq!(budget.used, 160);
            // 900 more bytes fit only once the cached block (`a`) is given back.
            let big = alloc(ud, ptr::null_mut(), 0, 900);
            assert!(
                !big.is_null(),
                "the cache is emptied for an allocation the limit refuses"
            );
            assert_eq!(((*(ud as *mut Heap)).held, budget.used), (0, 996));
            alloc(ud, big, 900, 0);
            alloc(ud, small, 32, 0);
            alloc(ud, b, 64, 0);
            (*(ud as *mut Heap)).flush();
        }
        assert_eq!(budget.used, 0, "every block went back underneath");
    }
}
