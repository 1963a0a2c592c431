//! The engine's interpreters: a pool of Lua states, each behind its own lock, so several
//! scripts run at once, and what other clients see of the script each one runs (BUSY
//! replies, SCRIPT KILL, FUNCTION STATS).

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use parking_lot::{Mutex, MutexGuard};

use super::engine::{KillOutcome, now_ms};
use super::function::Running;

/// The state of the script one interpreter runs, read by other threads without its lock.
pub(super) struct RunState {
    /// When the running script started (ms since the Unix epoch); 0 when none runs.
    pub(super) started: AtomicU64,
    /// SCRIPT KILL (or FUNCTION KILL) asked the running script to stop: the interpreter's
    /// count hook reads it.
    pub(super) kill: Arc<AtomicBool>,
    /// The running script wrote, so it may not be killed (set by `redis.call`).
    pub(super) wrote: Arc<AtomicBool>,
    /// The running function and the command that called it (functions interpreters only).
    pub(super) function: Mutex<Running>,
}

impl RunState {
    fn new() -> RunState {
        RunState {
            started: AtomicU64::new(0),
            kill: Arc::new(AtomicBool::new(false)),
            wrote: Arc::new(AtomicBool::new(false)),
            function: Mutex::new(Running::default()),
        }
    }
}

/// One interpreter of a pool and the state of the script it runs.
pub(super) struct Slot<T> {
    pub(super) vm: Mutex<T>,
    pub(super) run: RunState,
}

/// Interpreters that run scripts side by side: a script takes whichever is free.
pub(super) struct Pool<T> {
    slots: Box<[Slot<T>]>,
}

thread_local! {
    /// The slot this thread tries first (modulo the pool's size): spread over the slots, so
    /// connections' threads do not all start at the same one, and stable, so a thread keeps
    /// finding the scripts it compiled.
    static PREFERRED: Cell<usize> = const { Cell::new(usize::MAX) };
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

/// Makes this thread try slot `i` first (tests: a free slot `i` is then the one picked).
#[cfg(test)]
pub(super) fn prefer(i: usize) {
    PREFERRED.with(|p| p.set(i));
}

impl<T> Pool<T> {
    /// `n` interpreters (at least one), each built by `make` with its run state.
    pub(super) fn new<E>(
        n: usize,
        mut make: impl FnMut(&RunState) -> Result<T, E>,
    ) -> Result<Pool<T>, E> {
        let slots = (0..n.max(1))
            .map(|_| {
                let run = RunState::new();
                let vm = make(&run)?;
                Ok(Slot {
                    vm: Mutex::new(vm),
                    run,
                })
            })
            .collect::<Result<Vec<_>, E>>()?;
        Ok(Pool {
            slots: slots.into_boxed_slice(),
        })
    }

    /// A free interpreter, locked: the thread's preferred one if it is free, else the next
    /// free one; if none is, waits for the preferred one. No allocation, and no lock but the
    /// interpreter's.
    pub(super) fn pick(&self) -> (&Slot<T>, MutexGuard<'_, T>) {
        let n = self.slots.len();
        let first = preferred() % n;
        let mut i = first;
        loop {
            let slot = &self.slots[i];
            if let Some(vm) = slot.vm.try_lock() {
                return (slot, vm);
            }
            i += 1;
            if i == n {
                i = 0;
            }
            if i == first {
                let slot = &self.slots[first];
                return (slot, slot.vm.lock());
            }
        }
    }

    pub(super) fn slots(&self) -> &[Slot<T>] {
        &self.slots
    }

    /// When the longest-running script of this pool started (ms since the Unix epoch).
    pub(super) fn oldest(&self) -> Option<u64> {
        self.slots
            .iter()
            .map(|s| s.run.started.load(Ordering::Acquire))
            .filter(|&t| t != 0)
            .min()
    }

    /// Asks every running script of this pool that has not written to stop: `Killed` if
    /// one was asked, `Unkillable` if every running one wrote, `NotBusy` if none runs.
    pub(super) fn kill(&self) -> KillOutcome {
        let mut outcome = KillOutcome::NotBusy;
        for slot in self.slots.iter() {
            let run = &slot.run;
            if run.started.load(Ordering::Acquire) == 0 {
                continue;
            }
            if run.wrote.load(Ordering::Relaxed) {
                if outcome == KillOutcome::NotBusy {
                    outcome = KillOutcome::Unkillable;
                }
                continue;
            }
            run.kill.store(true, Ordering::Relaxed);
            outcome = KillOutcome::Killed;
        }
        outcome
    }
}

/// How long ago `started` (ms since the Unix epoch) was, in ms.
pub(super) fn since(started: u64) -> u64 {
    now_ms().saturating_sub(started)
}

/// The default pool size: the machine's parallelism, 1 to 8.
pub(super) fn default_size() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 8))
}
