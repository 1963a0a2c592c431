//! Blocked clients (BLPOP and friends): a connection thread that must wait for data parks on a
//! condition variable; every successful write command bumps a generation and wakes the parked
//! threads, which retry their pop. With nobody blocked, a write pays one atomic load.
//!
//! Retrying under the store's own atomic operations keeps every element delivered exactly once.
//! Unlike Redis, waiters are not served in strict arrival order: whichever woken thread pops
//! first wins.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

#[derive(Debug, Default)]
pub(crate) struct Blocking {
    waiters: AtomicUsize,
    generation: Mutex<u64>,
    cv: Condvar,
}

/// Counts a blocked client for as long as it lives.
pub(crate) struct Waiting<'a>(&'a Blocking);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiters.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Blocking {
    /// Registers a blocked client. Register before the first attempt: a write that lands after
    /// that attempt then sees the waiter and wakes it.
    pub(crate) fn enter(&self) -> Waiting<'_> {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        Waiting(self)
    }

    /// How many clients are blocked right now (INFO `blocked_clients`).
    pub(crate) fn waiting(&self) -> usize {
        self.waiters.load(Ordering::Relaxed)
    }

    /// Called after every successful write command.
    #[inline]
    pub(crate) fn notify_write(&self) {
        if self.waiters.load(Ordering::SeqCst) > 0 {
            let mut g = self.generation.lock();
            *g = g.wrapping_add(1);
            self.cv.notify_all();
        }
    }

    /// The current generation; read before an attempt, passed to [`wait`](Blocking::wait).
    pub(crate) fn generation(&self) -> u64 {
        *self.generation.lock()
    }

    /// Waits until a write after generation `seen`, or for `timeout`.
    pub(crate) fn wait(&self, seen: u64, timeout: Duration) {
        let mut g = self.generation.lock();
        if *g == seen {
            self.cv.wait_for(&mut g, timeout);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn a_write_wakes_a_waiter() {
        let b = Arc::new(Blocking::default());
        let waiter = {
            let b = Arc::clone(&b);
            std::thread::spawn(move || {
                let _w = b.enter();
                let seen = b.generation();
                let start = Instant::now();
                b.wait(seen, Duration::from_secs(30));
                (
                    b.generation() != seen,
                    start.elapsed() < Duration::from_secs(30),
                )
            })
        };
        // Keep notifying until the waiter has registered and been woken.
        while !waiter.is_finished() {
            b.notify_write();
            std::thread::sleep(Duration::from_millis(5));
        }
        let (advanced, early) = waiter.join().unwrap();
        assert!(advanced && early);
    }

    #[test]
    fn no_waiters_no_generation_change() {
        let b = Blocking::default();
        let g = b.generation();
        b.notify_write();
        assert_eq!(b.generation(), g);
    }
}
