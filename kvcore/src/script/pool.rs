//! The engine's interpreters: a pool of Lua states, each behind its own lock, so several
//! scripts run at once, and what other clients see of the script each one runs (BUSY
//! replies, SCRIPT KILL, FUNCTION STATS).

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use parking_lot::{Mutex, MutexGuard};

use super::engine::{KillOutcome, now_ms};
use super::function::Running;

/// Whether a script has run past busy-reply-threshold, for every command of every client to
/// read: one load of a count that changes only when a script passes the threshold or ends
/// after passing it, not when each script starts and ends (which would move its cache line
/// between the cores on every script, and make every command scan the interpreters and read
/// the clock while any script ran).
#[derive(Debug, Default)]
pub(super) struct Overdue {
    /// busy-reply-threshold in ms (0: never), set by the host.
    pub(super) after_ms: AtomicU64,
    /// How many running scripts have run past it, as their interpreters' count hooks found.
    pub(super) count: AtomicUsize,
}

/// What an interpreter's count hook (every 100 000 instructions) and other threads read of
/// the script it runs: when it started, whether SCRIPT KILL asked it to stop, and whether the
/// hook counted it in [`Overdue`].
pub(super) struct Watched {
    /// When the running script started (ms since the Unix epoch); 0 when none runs.
    pub(super) started: AtomicU64,
    /// SCRIPT KILL (or FUNCTION KILL) asked the running script to stop.
    pub(super) kill: AtomicBool,
    /// The hook counted the running script in `overdue` (written by the script's thread only).
    counted: AtomicBool,
    overdue: Arc<Overdue>,
}

impl Watched {
    pub(super) fn new(overdue: Arc<Overdue>) -> Watched {
        Watched {
            started: AtomicU64::new(0),
            kill: AtomicBool::new(false),
            counted: AtomicBool::new(false),
            overdue,
        }
    }

    /// A script starts.
    pub(super) fn start(&self) {
        self.started.store(now_ms().max(1), Ordering::Release);
    }

    /// The script ends (or unwinds): it no longer runs, nor counts as overdue.
    pub(super) fn end(&self) {
        self.started.store(0, Ordering::Release);
        if self.counted.load(Ordering::Relaxed) {
            self.counted.store(false, Ordering::Relaxed);
            self.overdue.count.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// From the count hook, on the script's thread: counts the running script in `overdue`
    /// once it has run past the threshold (a clock read per hook call, not per script).
    pub(super) fn check(&self) {
        if self.counted.load(Ordering::Relaxed) {
            return;
        }
        let after = self.overdue.after_ms.load(Ordering::Relaxed);
        let started = self.started.load(Ordering::Relaxed);
        if after > 0 && started != 0 && since(started) >= after {
            self.counted.store(true, Ordering::Relaxed);
            self.overdue.count.fetch_add(1, Ordering::AcqRel);
        }
    }
}

/// The state of the script one interpreter runs, read by other threads without its lock.
pub(super) struct RunState {
    /// What its count hook and SCRIPT KILL share.
    pub(super) watched: Arc<Watched>,
    /// The running script wrote, so it may not be killed (set by `redis.call`).
    pub(super) wrote: Arc<AtomicBool>,
    /// The running function and the command that called it (functions interpreters only).
    pub(super) function: Mutex<Running>,
}

impl RunState {
    fn new(overdue: &Arc<Overdue>) -> RunState {
        RunState {
            watched: Arc::new(Watched::new(Arc::clone(overdue))),
            wrote: Arc::new(AtomicBool::new(false)),
            function: Mutex::new(Running::default()),
        }
    }
}

/// One interpreter of a pool and the state of the script it runs.
pub(super) struct Slot<T> {
    pub(super) vm: Mutex<T>,
    pub(super) run: RunState,
    /// Held by the thread that reserved this interpreter (see [`Pool::reserve`]).
    taken: Mutex<()>,
}

/// Interpreters that run scripts side by side.
///
/// A caller about to lock a script's keys first reserves an interpreter ([`Pool::reserve`],
/// waiting with nothing held if every one is reserved), and its script then runs there. A
/// caller without a reservation runs in the pool's shared interpreter (the last slot), one at
/// a time: callers that hold the store's order gate (an open transaction, EXEC) and callers
/// holding no key (SCRIPT LOAD). So no thread waits for an interpreter while it holds keys,
/// except the gate's holder for the shared one, which no thread holding keys waits for: the
/// order gate's rule (Invariant 12) holds with interpreters in it.
pub(super) struct Pool<T> {
    slots: Box<[Slot<T>]>,
}

/// An interpreter of a pool reserved by the calling thread until it drops: the scripts the
/// thread runs meanwhile run there (see [`Pool`]).
pub(crate) struct Reservation<'p> {
    _taken: MutexGuard<'p, ()>,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        RESERVED.set((0, 0));
    }
}

thread_local! {
    /// The slot this thread tries first (modulo the pool's size): spread over the slots, so
    /// connections' threads do not all start at the same one, and stable, so a thread keeps
    /// finding the scripts it compiled.
    static PREFERRED: Cell<usize> = const { Cell::new(usize::MAX) };
}

thread_local! {
    /// The pool (its address) and slot this thread reserved, `(0, 0)` if none.
    static RESERVED: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

/// The next thread's preferred slot.
static NEXT: AtomicUsize = AtomicUsize::new(0);

fn preferred() -> usize {
    PREFERRED.with(|p| {
        let mut i = p.get();
        if i == usize::MAX {
            i = NEXT.fetch_add(1, Ordering::Relaxed) & (usize::MAX >> 1);
            p.set(i);
        }
        i
    })
}

impl<T> Pool<T> {
    /// `n` interpreters (at least one), each built by `make` with its run state, their
    /// overdue scripts counted in `overdue`.
    pub(super) fn new<E>(
        n: usize,
        overdue: &Arc<Overdue>,
        mut make: impl FnMut(&RunState) -> Result<T, E>,
    ) -> Result<Pool<T>, E> {
        // The `n` slots scripts reserve, and the shared one after them.
        let slots = (0..=n.max(1))
            .map(|_| {
                let run = RunState::new(overdue);
                let vm = make(&run)?;
                Ok(Slot {
                    vm: Mutex::new(vm),
                    run,
                    taken: Mutex::new(()),
                })
            })
            .collect::<Result<Vec<_>, E>>()?;
        Ok(Pool {
            slots: slots.into_boxed_slice(),
        })
    }

    /// Reserves an interpreter for the calling thread's scripts until the reservation drops:
    /// the thread's preferred one if it is free, else the next free one; if none is, waits
    /// for the preferred one. Call it holding no key (see [`Pool`]).
    ///
    /// # Panics
    /// If the thread holds a reservation of this pool already.
    pub(crate) fn reserve(&self) -> Reservation<'_> {
        let me = std::ptr::from_ref(self) as usize;
        assert!(RESERVED.get().0 != me, "an interpreter is reserved already");
        let n = self.slots.len() - 1;
        let first = preferred() % n;
        let mut i = first;
        let taken = loop {
            if let Some(taken) = self.slots[i].taken.try_lock() {
                break taken;
            }
            i += 1;
            if i == n {
                i = 0;
            }
            if i == first {
                break self.slots[first].taken.lock();
            }
        };
        RESERVED.set((me, i));
        Reservation { _taken: taken }
    }

    /// Reserves interpreter `i` (tests; `i` is the shared one when it equals the pool's
    /// size: then nothing is reserved).
    #[cfg(test)]
    pub(super) fn reserve_at(&self, i: usize) -> Option<Reservation<'_>> {
        if i == self.slots.len() - 1 {
            return None;
        }
        let taken = self.slots[i].taken.lock();
        RESERVED.set((std::ptr::from_ref(self) as usize, i));
        Some(Reservation { _taken: taken })
    }

    /// The interpreter the calling thread's script runs in, locked: the one it reserved, or
    /// the shared one (see [`Pool`]). No allocation, and no lock but the interpreter's.
    pub(super) fn pick(&self) -> (&Slot<T>, MutexGuard<'_, T>) {
        let (pool, i) = RESERVED.get();
        let slot = if pool == std::ptr::from_ref(self) as usize {
            &self.slots[i]
        } else {
            &self.slots[self.slots.len() - 1]
        };
        (slot, slot.vm.lock())
    }

    pub(super) fn slots(&self) -> &[Slot<T>] {
        &self.slots
    }

    /// When the longest-running script of this pool started (ms since the Unix epoch).
    pub(super) fn oldest(&self) -> Option<u64> {
        self.slots
            .iter()
            .map(|s| s.run.watched.started.load(Ordering::Acquire))
            .filter(|&t| t != 0)
            .min()
    }

    /// How many scripts run in this pool now.
    pub(super) fn running(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.run.watched.started.load(Ordering::Acquire) != 0)
            .count()
    }

    /// Asks every running script of this pool that has not written to stop: `Killed` if
    /// one was asked, `Unkillable` if every running one wrote, `NotBusy` if none runs.
    pub(super) fn kill(&self) -> KillOutcome {
        let mut outcome = KillOutcome::NotBusy;
        for slot in self.slots.iter() {
            let run = &slot.run;
            if run.watched.started.load(Ordering::Acquire) == 0 {
                continue;
            }
            if run.wrote.load(Ordering::Relaxed) {
                if outcome == KillOutcome::NotBusy {
                    outcome = KillOutcome::Unkillable;
                }
                continue;
            }
            run.watched.kill.store(true, Ordering::Relaxed);
            outcome = KillOutcome::Killed;
        }
        outcome
    }
}

/// How long ago `started` (ms since the Unix epoch) was, in ms.
pub(super) fn since(started: u64) -> u64 {
    now_ms().saturating_sub(started)
}

/// The default pool size: four per core, 4 to 16. More interpreters than cores, because a
/// script's thread can lose its core mid-script (the server has a thread per connection) and
/// keeps its interpreter meanwhile: with one per core, the other threads wanting one then
/// queue (spinning and yielding) until it runs again. An interpreter costs about 80 KB.
pub(super) fn default_size() -> usize {
    std::thread::available_parallelism().map_or(4, |n| (n.get() * 4).clamp(4, 16))
}
