//! Blocked clients (BLPOP and friends), served in Redis's order.
//!
//! A client whose pop finds nothing registers a [`Waiter`] in the queue of each key it waits on
//! and parks on its own condition variable. After every successful write command (when anyone
//! is waiting: otherwise one atomic load), the writing connection calls [`Waiters::serve`]:
//! for each waited key, in order, it runs the front waiter's pop *on the waiter's behalf* (the
//! store's ordinary atomic operation, on the waiter's database), hands the result over and wakes
//! it, and continues with the next waiter until the key is empty or nobody waits. So waiters of
//! a key are served first-come-first-served, and an element pushed for one waiter wakes exactly
//! that one.
//!
//! Registration (a last attempt plus enqueueing) and serving both run under the registry lock,
//! and a writer serves only after its write: a push can never slip between a waiter's last
//! attempt and its enqueueing. Lock order: registry, then store shards.

use std::collections::{HashMap, VecDeque};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::log::warning;

/// The pop a waiter wants, run by whoever serves it. `None`: nothing to pop yet.
pub(crate) type Attempt<T> = Box<dyn FnMut() -> kvcore::Result<Option<T>> + Send>;

/// What a served waiter receives: its pop's outcome, or `None` if its pop panicked in the
/// writer that ran it (the waiter then panics on its own thread, so its command is answered as
/// any panicking command is, and the writer's client never notices).
type Outcome<T> = Option<kvcore::Result<T>>;

/// One blocked client.
pub(crate) struct Waiter<T> {
    attempt: Mutex<Attempt<T>>,
    result: Mutex<Option<Outcome<T>>>,
    cv: Condvar,
}

/// Type-erased waiter, as the queues hold it.
trait Pending: Send + Sync {
    /// Runs the pop; true if the waiter got a result (or an error) and is done.
    fn try_serve(&self) -> bool;
    /// Wakes a served waiter.
    fn wake(&self);
    /// Tells the waiter its pop panicked and wakes it.
    fn fail(&self);
    fn id(&self) -> usize;
}

impl<T: Send + 'static> Pending for Waiter<T> {
    fn try_serve(&self) -> bool {
        let outcome = (self.attempt.lock())();
        let done = match outcome {
            Ok(None) => return false,
            Ok(Some(v)) => Ok(v),
            Err(e) => Err(e),
        };
        *self.result.lock() = Some(Some(done));
        true
    }

    fn wake(&self) {
        self.cv.notify_one();
    }

    fn fail(&self) {
        *self.result.lock() = Some(None);
        self.cv.notify_one();
    }

    fn id(&self) -> usize {
        self as *const Self as *const () as usize
    }
}

/// (database, key) → waiters in arrival order.
type Queues = HashMap<(usize, Vec<u8>), VecDeque<Arc<dyn Pending>>>;

#[derive(Default)]
pub(crate) struct Waiters {
    waiting: AtomicUsize,
    queues: Mutex<Queues>,
}

impl std::fmt::Debug for Waiters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiters")
            .field("waiting", &self.waiting())
            .finish()
    }
}

/// How a blocking call ended.
pub(crate) enum Wait<T> {
    /// Served (right away or by a writer).
    Ready(T),
    /// `check` asked to stop (timeout, client gone, server stopping).
    Stopped,
}

impl Waiters {
    /// How many clients are blocked right now (INFO `blocked_clients`).
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Tries `attempt`; if it finds nothing, blocks on `keys` of database `db` until a writer
    /// serves this client, or `check` (called every `poll`) returns true.
    ///
    /// # Errors
    /// The error of the attempt (WRONGTYPE, ...), whether it ran here or in a writer.
    pub(crate) fn block<T: Send + 'static>(
        &self,
        db: usize,
        keys: &[&[u8]],
        mut attempt: Attempt<T>,
        poll: Duration,
        mut check: impl FnMut() -> bool,
    ) -> kvcore::Result<Wait<T>> {
        let waiter = {
            let mut queues = self.queues.lock();
            if let Some(v) = attempt()? {
                return Ok(Wait::Ready(v));
            }
            let waiter = Arc::new(Waiter {
                attempt: Mutex::new(attempt),
                result: Mutex::new(None),
                cv: Condvar::new(),
            });
            for k in keys {
                let pending: Arc<dyn Pending> = waiter.clone();
                queues
                    .entry((db, k.to_vec()))
                    .or_default()
                    .push_back(pending);
            }
            self.waiting.fetch_add(1, Ordering::SeqCst);
            waiter
        };
        let _enqueued = Enqueued {
            waiters: self,
            db,
            keys,
            id: Pending::id(&*waiter),
        };
        let idle = crate::conn::Waiting::enter();
        let outcome = loop {
            {
                let mut result = waiter.result.lock();
                if result.is_none() {
                    waiter.cv.wait_for(&mut result, poll);
                }
                if let Some(r) = result.take() {
                    break Some(r);
                }
            }
            if check() {
                // Leave the queues; a writer may have served us meanwhile (under this lock).
                let mut queues = self.queues.lock();
                if let Some(r) = waiter.result.lock().take() {
                    break Some(r);
                }
                let id = Pending::id(&*waiter);
                Self::remove(&mut queues, db, keys, id);
                break None;
            }
        };
        drop(idle);
        match outcome {
            Some(Some(Ok(v))) => Ok(Wait::Ready(v)),
            Some(Some(Err(e))) => Err(e),
            Some(None) => panic!("{SERVE_PANICKED}"),
            None => Ok(Wait::Stopped),
        }
    }

    fn remove(queues: &mut Queues, db: usize, keys: &[&[u8]], id: usize) {
        for k in keys {
            let slot = (db, k.to_vec());
            if let Some(q) = queues.get_mut(&slot) {
                q.retain(|w| w.id() != id);
                if q.is_empty() {
                    queues.remove(&slot);
                }
            }
        }
    }

    /// Whether any client is blocked on a key (`serve` then has work).
    #[inline]
    pub(crate) fn any(&self) -> bool {
        self.waiting.load(Ordering::SeqCst) != 0
    }

    /// Called after every successful write command: serves waiters whose keys now have data,
    /// first come first served, until no queue makes progress (a served BLMOVE may feed another
    /// key's waiters). The pops run on the caller's thread, through each waiter's own database
    /// handle: they join the waiter's batch, which its connection commits before it answers,
    /// so no client is answered with a pop that a crash could undo.
    #[inline]
    pub(crate) fn serve(&self) {
        if self.waiting.load(Ordering::SeqCst) == 0 {
            return;
        }
        let mut queues = self.queues.lock();
        let mut served: Vec<Arc<dyn Pending>> = Vec::new();
        self.serve_locked(&mut queues, &mut served);
        for w in &served {
            w.wake();
        }
    }

    fn serve_locked(&self, queues: &mut Queues, served: &mut Vec<Arc<dyn Pending>>) {
        loop {
            let mut progress = false;
            let mut slots: Vec<(usize, Vec<u8>)> = queues.keys().cloned().collect();
            // Deterministic order between keys: by database, then key.
            slots.sort();
            for slot in slots {
                while let Some(front) = queues.get(&slot).and_then(|q| q.front()).cloned() {
                    // The pop is the waiter's command, run on this thread: if it panics, that
                    // waiter (not this writer's client) gets the error and leaves the queues,
                    // and the waiters served before it still get their results.
                    let done = match panic::catch_unwind(AssertUnwindSafe(|| front.try_serve())) {
                        Ok(false) => break,
                        Ok(true) => true,
                        Err(payload) => {
                            warning!(
                                "a blocked client's pop panicked while being served: {}; \
                                 answered with an error",
                                crate::conn::panic_message(&*payload)
                            );
                            front.fail();
                            false
                        }
                    };
                    progress = true;
                    // The served (or failed) waiter leaves every queue it was in.
                    Self::forget(queues, front.id());
                    if done {
                        served.push(front);
                    }
                }
            }
            if !progress {
                return;
            }
        }
    }

    fn forget(queues: &mut Queues, id: usize) {
        queues.retain(|_, q| {
            q.retain(|w| w.id() != id);
            !q.is_empty()
        });
    }
}

/// The panic a blocked client's thread raises when its pop panicked in a writer's thread.
const SERVE_PANICKED: &str = "this blocked command's pop panicked while a writer served it";

/// A waiter's place in the queues, from its enqueueing to the end of `block`. Dropping it
/// counts the client as no longer waiting; if `block` is left by a panic, it also withdraws the
/// waiter from every queue, so no writer later pops an element for a client nobody answers.
/// (Served and stopped waiters have already left the queues.)
struct Enqueued<'a> {
    waiters: &'a Waiters,
    db: usize,
    keys: &'a [&'a [u8]],
    id: usize,
}

impl Drop for Enqueued<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut queues = self.waiters.queues.lock();
            Waiters::remove(&mut queues, self.db, self.keys, self.id);
        }
        self.waiters.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    #[test]
    fn served_in_arrival_order() {
        let b = Arc::new(Waiters::default());
        let stock = Arc::new(Mutex::new(Vec::<u32>::new()));
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut threads = Vec::new();
        for id in 0..3u32 {
            let (b2, stock, order) = (b.clone(), stock.clone(), order.clone());
            threads.push(std::thread::spawn(move || {
                let s = stock.clone();
                let got = b2
                    .block(
                        0,
                        &[b"k"],
                        Box::new(move || Ok(s.lock().pop())),
                        Duration::from_millis(10),
                        || false,
                    )
                    .unwrap();
                match got {
                    Wait::Ready(v) => order.lock().push((id, v)),
                    Wait::Stopped => unreachable!("check never stops"),
                }
            }));
            // Let this thread enqueue before the next one starts.
            while b.waiting() <= id as usize {
                std::thread::yield_now();
            }
        }
        for v in [10, 20, 30] {
            stock.lock().push(v);
            b.serve();
        }
        for t in threads {
            t.join().unwrap();
        }
        // Who got what (the threads record it in whatever order they wake up).
        let mut got = order.lock().clone();
        got.sort();
        assert_eq!(got, vec![(0, 10), (1, 20), (2, 30)]);
        assert_eq!(b.waiting(), 0);
    }

    #[test]
    fn a_stopped_waiter_leaves_its_queues() {
        let b = Waiters::default();
        let stop = AtomicBool::new(false);
        let got = b
            .block(
                0,
                &[b"a", b"b"],
                Box::new(|| Ok(None::<u8>)),
                Duration::from_millis(1),
                || stop.swap(true, Ordering::SeqCst),
            )
            .unwrap();
        assert!(matches!(got, Wait::Stopped));
        assert!(b.queues.lock().is_empty());
        assert_eq!(b.waiting(), 0);
    }

    #[test]
    fn a_pop_that_panics_in_a_writer_fails_its_own_waiter_only() {
        let b = Arc::new(Waiters::default());
        let stock = Arc::new(Mutex::new(Vec::<u32>::new()));
        let mut threads = Vec::new();
        for id in 0..2u32 {
            let (b2, stock) = (b.clone(), stock.clone());
            threads.push(std::thread::spawn(move || {
                let attempt: Attempt<u32> = Box::new(move || {
                    let mut s = stock.lock();
                    if id == 0 && !s.is_empty() {
                        panic!("test: the first waiter's pop panics");
                    }
                    Ok(s.pop())
                });
                panic::catch_unwind(AssertUnwindSafe(|| {
                    b2.block(0, &[b"k"], attempt, Duration::from_millis(10), || false)
                        .map(|w| match w {
                            Wait::Ready(v) => v,
                            Wait::Stopped => unreachable!("check never stops"),
                        })
                }))
                .map_err(|payload| crate::conn::panic_message(&*payload).to_string())
            }));
            while b.waiting() <= id as usize {
                std::thread::yield_now();
            }
        }
        stock.lock().push(7);
        // The writer's own call returns normally.
        b.serve();
        let got: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(
            got,
            vec![Err(SERVE_PANICKED.to_string()), Ok(Ok(7))],
            "the failed waiter's command panics on its own thread (and is answered as a \
             panicking command), the next one in line gets the element"
        );
        assert!(b.queues.lock().is_empty());
        assert_eq!(b.waiting(), 0);
    }

    #[test]
    fn a_waiter_that_panics_while_blocked_leaves_its_queues() {
        let b = Waiters::default();
        let unwound = panic::catch_unwind(AssertUnwindSafe(|| {
            b.block(
                0,
                &[b"a", b"b"],
                Box::new(|| Ok(None::<u8>)),
                Duration::from_millis(1),
                || panic!("test: a blocked command panics"),
            )
        }));
        assert!(unwound.is_err());
        assert!(b.queues.lock().is_empty(), "no writer may pop for it later");
        assert_eq!(b.waiting(), 0);
    }
}
