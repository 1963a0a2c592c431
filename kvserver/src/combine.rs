//! Scripts run by the order gate's holder on behalf of the clients waiting for it.
//!
//! Scripts take turns at the store's order gate (Invariant 12, `cmd/script.rs`). When every
//! thread waits for the gate itself, each turn costs a thread wake-up between two holders,
//! during which no script runs. Instead, a connection thread that finds the gate taken queues
//! its run of pipelined scripts here as a [`Job`] and parks; the holder, before it lets the
//! gate go ([`crate::cmd::end_scripts`]), runs the queued jobs on its own thread, each on its
//! own client's session and output buffer, and wakes their threads, which then send the
//! replies. The gate so passes from one client's scripts to the next without a wake-up in
//! between (flat combining), while the wake-ups and the socket writes happen beside it.
//!
//! Nothing here is needed for correctness: a job's scripts take the gate as they always do
//! (the holder has it already), and a client whose job waits too long takes it back and runs
//! it itself. Only scripts queue, and only when their session has nothing that is tied to its
//! own thread (see `Session::combinable`).

use std::any::Any;
use std::cell::{Cell, UnsafeCell};
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::Thread;
use std::time::Duration;

/// How many queued jobs one holder runs before it lets the gate go: enough for every client of
/// a busy server's round, few enough that the holder's own client is not kept waiting long.
const MAX_JOBS: usize = 64;

/// How many scripts one holder runs for others before it lets the gate go (its own client's
/// replies wait meanwhile): 64 jobs of a 16-deep pipeline.
const MAX_SCRIPTS: usize = 1024;

/// The most scripts one job runs ([`Combiner::submit`]'s caller stops there and queues the
/// rest as another job): a client's long pipeline takes its turns behind the others, as a
/// gate held across 64 scripts is handed on (`GateHold::bump`).
pub(crate) const JOB_SCRIPTS: usize = 64;

/// How often a queued client looks whether the gate is free with its job still queued (a
/// holder that does not serve the queue, such as a transaction or a snapshot, must not strand
/// it): it then takes the gate and runs the job itself.
const RECHECK_AFTER: Duration = Duration::from_millis(10);

/// The queue of script runs waiting for the gate's holder (in `Shared`).
#[derive(Debug, Default)]
pub(crate) struct Combiner {
    queue: parking_lot::Mutex<VecDeque<JobPtr>>,
    /// The queue's length, read without its lock.
    queued: AtomicUsize,
    /// How many jobs a holder ran for another client (INFO's `kv_script_batches_combined`).
    served: AtomicU64,
}

/// A client's run of scripts, on its thread's stack while that thread waits for it.
struct Job {
    /// The run, which returns how many scripts it ran; its lifetime erased (see
    /// [`Combiner::submit`]).
    run: *mut (dyn FnMut() -> usize + Send + 'static),
    /// The client's thread, woken when the job is done.
    thread: Thread,
    /// The client's ID (client-side caching tells a client's own invalidations by it).
    client: u64,
    /// Set (Release) once the run is over; the job is then its thread's again.
    done: AtomicBool,
    /// The run's panic, if it panicked, raised again on the client's thread.
    panic: UnsafeCell<Option<Box<dyn Any + Send>>>,
}

/// A queued job. The thread that takes it out of the queue owns it until it sets `done`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct JobPtr(*const Job);

// SAFETY: the job is reached through its pointer by one thread at a time: whoever took it out
// of the queue (under the queue's lock). Its run is `Send`, and its owner thread waits, without
// touching it, until `done` is set or it has taken the job back itself.
unsafe impl Send for JobPtr {}

thread_local! {
    /// This thread is running queued jobs ([`Combiner::serve`] does not nest).
    static SERVING: Cell<bool> = const { Cell::new(false) };
}

impl Combiner {
    /// Runs `run` (the calling client's scripts) on the gate's holder when it lets the gate go,
    /// or on this thread if the gate turns out free or the job waits too long. Returns when
    /// `run` has returned, wherever it ran; a panic in it is raised again here.
    pub(crate) fn submit(
        &self,
        kv: &kvcore::Kv,
        client: u64,
        run: &mut (dyn FnMut() -> usize + Send),
    ) {
        let erased: *mut (dyn FnMut() -> usize + Send + '_) = run;
        // SAFETY: only the lifetime is erased. This function returns only once the job is done
        // (its runner set `done` after its last use of the pointer) or taken back out of the
        // queue (no other thread can reach it), so the pointer never outlives `run`.
        let erased = unsafe {
            std::mem::transmute::<
                *mut (dyn FnMut() -> usize + Send + '_),
                *mut (dyn FnMut() -> usize + Send + 'static),
            >(erased)
        };
        let job = Job {
            run: erased,
            thread: std::thread::current(),
            client,
            done: AtomicBool::new(false),
            panic: UnsafeCell::new(None),
        };
        let ptr = JobPtr(&job);
        {
            let mut q = self.queue.lock();
            q.push_back(ptr);
            self.queued.store(q.len(), Ordering::Relaxed);
        }
        // The holder may have served the queue and let the gate go before the job was queued.
        if crate::cmd::try_hold_gate(kv) {
            if self.take_back(ptr) {
                run();
                return;
            }
            // Another thread is running the job; its scripts need the gate.
            crate::cmd::release_gate(self);
        }
        loop {
            if job.done.load(Ordering::Acquire) {
                break;
            }
            std::thread::park_timeout(RECHECK_AFTER);
            if job.done.load(Ordering::Acquire) {
                break;
            }
            // Woken to take the gate (`hand_off`), or the holder has not served the queue
            // yet: while it holds the gate, wait on (it serves the queue when it lets go,
            // unless it is not a script's holder); once the gate is free, take it and run the
            // job here, unless a holder is running it already.
            if crate::cmd::try_hold_gate(kv) {
                if self.take_back(ptr) {
                    run();
                    return;
                }
                crate::cmd::release_gate(self);
            }
        }
        // SAFETY: `done` was read with Acquire after the runner's last write to `panic`.
        if let Some(payload) = unsafe { (*job.panic.get()).take() } {
            resume_unwind(payload);
        }
    }

    /// Removes the job from the queue if it is still there: it is then the caller's alone.
    fn take_back(&self, ptr: JobPtr) -> bool {
        let mut q = self.queue.lock();
        let Some(at) = q.iter().position(|&p| p == ptr) else {
            return false;
        };
        q.remove(at);
        self.queued.store(q.len(), Ordering::Relaxed);
        true
    }

    /// The holder of the gate, before it lets the gate go: runs queued jobs (up to
    /// [`MAX_JOBS`] of them or [`MAX_SCRIPTS`] scripts) while it still holds the gate, and adds each job's thread to `woken`,
    /// for the caller to wake once it has let the gate go. (Woken at once, each would
    /// preempt the holder on its CPU, the gate held meanwhile.)
    pub(crate) fn serve(&self, woken: &mut Vec<Thread>) {
        if self.queued.load(Ordering::Relaxed) == 0 || SERVING.get() {
            return;
        }
        SERVING.set(true);
        let me = crate::tracking::current();
        let mut scripts = 0;
        for _ in 0..MAX_JOBS {
            if scripts >= MAX_SCRIPTS {
                break;
            }
            // A job may let the gate go (serving blocked clients): the others then take it
            // themselves.
            if !crate::cmd::gate_held() {
                break;
            }
            let next = {
                let mut q = self.queue.lock();
                let next = q.pop_front();
                self.queued.store(q.len(), Ordering::Relaxed);
                next
            };
            let Some(JobPtr(ptr)) = next else {
                break;
            };
            // SAFETY: taken out of the queue, so this thread owns the job until `done` is set;
            // its thread waits for that without touching it.
            let job = unsafe { &*ptr };
            crate::tracking::set_current(job.client);
            // SAFETY: as above; the run's borrows are alive while its thread waits.
            let ran = catch_unwind(AssertUnwindSafe(|| unsafe { (*job.run)() }));
            crate::tracking::set_current(me);
            match ran {
                Ok(n) => scripts += n,
                // SAFETY: owned until `done` is set, below.
                Err(payload) => unsafe { *job.panic.get() = Some(payload) },
            }
            self.served.fetch_add(1, Ordering::Relaxed);
            let thread = job.thread.clone();
            // The job is its thread's again from here: `job` is not touched after this.
            job.done.store(true, Ordering::Release);
            woken.push(thread);
        }
        SERVING.set(false);
    }

    /// How many jobs holders have run for other clients since the server started.
    pub(crate) fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// After the gate was let go: wakes the first queued client, which takes the gate and
    /// serves the rest, so that the queue does not wait for its clients to give up on it.
    pub(crate) fn hand_off(&self) {
        if self.queued.load(Ordering::Relaxed) == 0 {
            return;
        }
        let q = self.queue.lock();
        if let Some(&JobPtr(ptr)) = q.front() {
            // SAFETY: a queued job's thread waits until it is taken out of the queue, which
            // needs the lock held here.
            unsafe { &*ptr }.thread.unpark();
        }
    }
}
