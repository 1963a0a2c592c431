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
//! Registration (a last attempt plus enqueueing), serving and CLIENT UNBLOCK ([`Waiters::unblock`])
//! all run under the one lock of the queues, and a writer serves only after its write: a push
//! can never slip between a waiter's last attempt and its enqueueing, and a waiter leaves the
//! queues either served (its pop ran) or unblocked (it never will), never both. Lock order:
//! the queues, then store shards.

use std::collections::{HashMap, VecDeque};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::log::warning;

/// The pop a waiter wants, run by whoever serves it. `None`: nothing to pop yet.
pub(crate) type Attempt<T> = Box<dyn FnMut() -> kvcore::Result<Option<T>> + Send>;

/// How CLIENT UNBLOCK ends a blocked client's wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unblock {
    /// As if its timeout had passed: the command answers what it answers then.
    Timeout,
    /// The command answers [`UNBLOCKED`].
    Error,
}

/// What a command ended by `CLIENT UNBLOCK id ERROR` answers (Redis's text).
pub(crate) const UNBLOCKED: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";

/// How a waiter's wait ended, other than by its own check.
enum Outcome<T> {
    /// A writer ran its pop: the pop's result.
    Served(kvcore::Result<T>),
    /// Its pop panicked in the writer that ran it: the waiter then panics on its own thread,
    /// so its command is answered as any panicking command is, and the writer's client never
    /// notices.
    Panicked,
    /// CLIENT UNBLOCK took it out of the queues.
    Unblocked(Unblock),
}

/// One blocked client.
pub(crate) struct Waiter<T> {
    /// The client's id (CLIENT UNBLOCK names it).
    client: u64,
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
    /// Tells the waiter CLIENT UNBLOCK ended its wait and wakes it.
    fn unblock(&self, how: Unblock);
    fn id(&self) -> usize;
    fn client(&self) -> u64;
}

impl<T: Send + 'static> Waiter<T> {
    fn finish(&self, outcome: Outcome<T>) {
        *self.result.lock() = Some(outcome);
        self.cv.notify_one();
    }
}

impl<T: Send + 'static> Pending for Waiter<T> {
    fn try_serve(&self) -> bool {
        let outcome = (self.attempt.lock())();
        let done = match outcome {
            Ok(None) => return false,
            Ok(Some(v)) => Ok(v),
            Err(e) => Err(e),
        };
        *self.result.lock() = Some(Outcome::Served(done));
        true
    }

    fn wake(&self) {
        self.cv.notify_one();
    }

    fn fail(&self) {
        self.finish(Outcome::Panicked);
    }

    fn unblock(&self, how: Unblock) {
        self.finish(Outcome::Unblocked(how));
    }

    fn id(&self) -> usize {
        self as *const Self as *const () as usize
    }

    fn client(&self) -> u64 {
        self.client
    }
}

/// (database, key) → waiters in arrival order.
type Queues = HashMap<(usize, Vec<u8>), VecDeque<Arc<dyn Pending>>>;

/// The waiters, under one lock.
#[derive(Default)]
struct Lines {
    queues: Queues,
    /// Client id → its waiter, for as long as it is in the queues.
    clients: HashMap<u64, Arc<dyn Pending>>,
}

impl Lines {
    /// Takes the waiter `id` of `client` out of the queues of `keys`.
    fn remove(&mut self, db: usize, keys: &[&[u8]], id: usize, client: u64) {
        for k in keys {
            let slot = (db, k.to_vec());
            if let Some(q) = self.queues.get_mut(&slot) {
                q.retain(|w| w.id() != id);
                if q.is_empty() {
                    self.queues.remove(&slot);
                }
            }
        }
        self.clients.remove(&client);
    }

    /// Takes a waiter out of every queue it is in.
    fn forget(&mut self, w: &dyn Pending) {
        let id = w.id();
        self.queues.retain(|_, q| {
            q.retain(|w| w.id() != id);
            !q.is_empty()
        });
        self.clients.remove(&w.client());
    }
}

#[derive(Default)]
pub(crate) struct Waiters {
    waiting: AtomicUsize,
    lines: Mutex<Lines>,
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
    /// CLIENT UNBLOCK ended the wait; nothing was popped for it.
    Unblocked(Unblock),
}

impl Waiters {
    /// How many clients are blocked right now (INFO `blocked_clients`).
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Tries `attempt`; if it finds nothing, blocks client `client` on `keys` of database `db`
    /// until a writer serves it, CLIENT UNBLOCK ends its wait, or `check` (called every
    /// `poll`) returns true. `shown` runs once the client is in line, and what it returns is
    /// kept until the wait ends: CLIENT LIST's `b` flag, so a client shown as blocked is one
    /// CLIENT UNBLOCK finds.
    ///
    /// # Errors
    /// The error of the attempt (WRONGTYPE, ...), whether it ran here or in a writer.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn block<T: Send + 'static, G>(
        &self,
        client: u64,
        db: usize,
        keys: &[&[u8]],
        mut attempt: Attempt<T>,
        poll: Duration,
        shown: impl FnOnce() -> G,
        mut check: impl FnMut() -> bool,
    ) -> kvcore::Result<Wait<T>> {
        let waiter = {
            let mut lines = self.lines.lock();
            if let Some(v) = attempt()? {
                return Ok(Wait::Ready(v));
            }
            let waiter = Arc::new(Waiter {
                client,
                attempt: Mutex::new(attempt),
                result: Mutex::new(None),
                cv: Condvar::new(),
            });
            for k in keys {
                let pending: Arc<dyn Pending> = waiter.clone();
                lines
                    .queues
                    .entry((db, k.to_vec()))
                    .or_default()
                    .push_back(pending);
            }
            // A connection blocks in one command at a time.
            let previous = lines.clients.insert(client, waiter.clone());
            debug_assert!(previous.is_none(), "client {client} blocked twice");
            self.waiting.fetch_add(1, Ordering::SeqCst);
            waiter
        };
        let _enqueued = Enqueued {
            waiters: self,
            db,
            keys,
            id: Pending::id(&*waiter),
            client,
        };
        let _shown = shown();
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
                // Leave the queues; a writer or CLIENT UNBLOCK may have ended the wait
                // meanwhile (under this lock), and that outcome stands.
                let mut lines = self.lines.lock();
                if let Some(r) = waiter.result.lock().take() {
                    break Some(r);
                }
                lines.remove(db, keys, Pending::id(&*waiter), client);
                break None;
            }
        };
        drop(idle);
        match outcome {
            Some(Outcome::Served(Ok(v))) => Ok(Wait::Ready(v)),
            Some(Outcome::Served(Err(e))) => Err(e),
            Some(Outcome::Panicked) => panic!("{SERVE_PANICKED}"),
            Some(Outcome::Unblocked(how)) => Ok(Wait::Unblocked(how)),
            None => Ok(Wait::Stopped),
        }
    }

    /// CLIENT UNBLOCK: ends the wait of `client` if it is blocked here and no writer has
    /// served it yet; true if it did. Its pop will not run, so nothing is taken for it.
    pub(crate) fn unblock(&self, client: u64, how: Unblock) -> bool {
        let mut lines = self.lines.lock();
        let Some(waiter) = lines.clients.get(&client).cloned() else {
            return false;
        };
        lines.forget(&*waiter);
        waiter.unblock(how);
        true
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
        let mut lines = self.lines.lock();
        let mut served: Vec<Arc<dyn Pending>> = Vec::new();
        Self::serve_locked(&mut lines, &mut served);
        for w in &served {
            w.wake();
        }
    }

    fn serve_locked(lines: &mut Lines, served: &mut Vec<Arc<dyn Pending>>) {
        loop {
            let mut progress = false;
            let mut slots: Vec<(usize, Vec<u8>)> = lines.queues.keys().cloned().collect();
            // Deterministic order between keys: by database, then key.
            slots.sort();
            for slot in slots {
                while let Some(front) = lines.queues.get(&slot).and_then(|q| q.front()).cloned() {
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
                    lines.forget(&*front);
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
}

/// The panic a blocked client's thread raises when its pop panicked in a writer's thread.
const SERVE_PANICKED: &str = "this blocked command's pop panicked while a writer served it";

/// A waiter's place in the queues, from its enqueueing to the end of `block`. Dropping it
/// counts the client as no longer waiting; if `block` is left by a panic, it also withdraws the
/// waiter from every queue, so no writer later pops an element for a client nobody answers.
/// (Served, unblocked and stopped waiters have already left the queues.)
struct Enqueued<'a> {
    waiters: &'a Waiters,
    db: usize,
    keys: &'a [&'a [u8]],
    id: usize,
    client: u64,
}

impl Drop for Enqueued<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut lines = self.waiters.lines.lock();
            lines.remove(self.db, self.keys, self.id, self.client);
        }
        self.waiters.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    impl Waiters {
        /// No waiter left in any queue, nor under its client's id.
        fn is_empty(&self) -> bool {
            let lines = self.lines.lock();
            lines.queues.is_empty() && lines.clients.is_empty()
        }
    }

    /// Blocks client `client` on key `k` of a shared stock on a new thread; returns the thread
    /// once the waiter is in line.
    fn blocked_on(
        b: &Arc<Waiters>,
        stock: &Arc<Mutex<Vec<u32>>>,
        client: u64,
    ) -> std::thread::JoinHandle<Wait<u32>> {
        let before = b.waiting();
        let (b2, s) = (b.clone(), stock.clone());
        let t = std::thread::spawn(move || {
            b2.block(
                client,
                0,
                &[b"k"],
                Box::new(move || Ok(s.lock().pop())),
                Duration::from_millis(10),
                || (),
                || false,
            )
            .unwrap()
        });
        while b.waiting() == before {
            std::thread::yield_now();
        }
        t
    }

    #[test]
    fn an_unblocked_waiter_leaves_its_queues_and_pops_nothing() {
        for how in [Unblock::Timeout, Unblock::Error] {
            let b = Arc::new(Waiters::default());
            let stock = Arc::new(Mutex::new(Vec::new()));
            let t = blocked_on(&b, &stock, 7);
            assert!(!b.unblock(8, how), "another client is not blocked");
            assert!(b.unblock(7, how));
            assert!(matches!(t.join().unwrap(), Wait::Unblocked(h) if h == how));
            assert!(!b.unblock(7, how), "no longer blocked");
            assert!(b.is_empty());
            assert_eq!(b.waiting(), 0);
            stock.lock().push(1);
            b.serve();
            assert_eq!(
                *stock.lock(),
                vec![1],
                "nobody popped for the unblocked client"
            );
        }
    }

    #[test]
    fn unblocking_the_first_in_line_hands_the_element_to_the_next() {
        let b = Arc::new(Waiters::default());
        let stock = Arc::new(Mutex::new(Vec::new()));
        let first = blocked_on(&b, &stock, 1);
        let second = blocked_on(&b, &stock, 2);
        assert!(b.unblock(1, Unblock::Timeout));
        stock.lock().push(5);
        b.serve();
        assert!(matches!(
            first.join().unwrap(),
            Wait::Unblocked(Unblock::Timeout)
        ));
        assert!(matches!(second.join().unwrap(), Wait::Ready(5)));
        assert!(b.is_empty());
    }

    /// A writer serving the waiter races CLIENT UNBLOCK for it: either the waiter gets the
    /// element and the unblock finds nobody, or the unblock wins and the element stays.
    #[test]
    fn unblock_racing_a_writer_loses_no_element() {
        let b = Arc::new(Waiters::default());
        let stock = Arc::new(Mutex::new(Vec::new()));
        let (mut got, mut unblocked) = (0, 0);
        let rounds = 300;
        for round in 0..rounds {
            let t = blocked_on(&b, &stock, round);
            let go = Arc::new(std::sync::Barrier::new(2));
            let writer = {
                let (b, stock, go) = (b.clone(), stock.clone(), go.clone());
                std::thread::spawn(move || {
                    go.wait();
                    stock.lock().push(round as u32);
                    b.serve();
                })
            };
            go.wait();
            let won = b.unblock(round, Unblock::Timeout);
            writer.join().unwrap();
            match t.join().unwrap() {
                Wait::Ready(v) => {
                    assert!(!won, "round {round}: served and unblocked");
                    assert_eq!(v, round as u32);
                    got += 1;
                }
                Wait::Unblocked(_) => {
                    assert!(won);
                    unblocked += 1;
                    assert_eq!(
                        stock.lock().pop(),
                        Some(round as u32),
                        "round {round}: lost"
                    );
                }
                Wait::Stopped => unreachable!("check never stops"),
            }
            assert!(stock.lock().is_empty());
            assert!(b.is_empty());
        }
        assert_eq!(got + unblocked, rounds);
    }

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
                        u64::from(id),
                        0,
                        &[b"k"],
                        Box::new(move || Ok(s.lock().pop())),
                        Duration::from_millis(10),
                        || (),
                        || false,
                    )
                    .unwrap();
                match got {
                    Wait::Ready(v) => order.lock().push((id, v)),
                    _ => unreachable!("check never stops, nobody unblocks"),
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
                1,
                0,
                &[b"a", b"b"],
                Box::new(|| Ok(None::<u8>)),
                Duration::from_millis(1),
                || (),
                || stop.swap(true, Ordering::SeqCst),
            )
            .unwrap();
        assert!(matches!(got, Wait::Stopped));
        assert!(b.is_empty());
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
                    b2.block(
                        u64::from(id),
                        0,
                        &[b"k"],
                        attempt,
                        Duration::from_millis(10),
                        || (),
                        || false,
                    )
                    .map(|w| match w {
                        Wait::Ready(v) => v,
                        _ => unreachable!("check never stops, nobody unblocks"),
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
        assert!(b.is_empty());
        assert_eq!(b.waiting(), 0);
    }

    #[test]
    fn a_waiter_that_panics_while_blocked_leaves_its_queues() {
        let b = Waiters::default();
        let unwound = panic::catch_unwind(AssertUnwindSafe(|| {
            b.block(
                1,
                0,
                &[b"a", b"b"],
                Box::new(|| Ok(None::<u8>)),
                Duration::from_millis(1),
                || (),
                || panic!("test: a blocked command panics"),
            )
        }));
        assert!(unwound.is_err());
        assert!(b.is_empty(), "no writer may pop for it later");
        assert_eq!(b.waiting(), 0);
    }
}
