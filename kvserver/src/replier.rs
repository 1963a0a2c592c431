//! Replies that must wait for the log (`--sync always`) or for the Raft group (`--raft-id`)
//! are sent by one replier thread.
//!
//! A connection thread that ran writes hands its batch's replies here with what they wait
//! for ([`Wait`]: the token of its uncommitted writes, [`kvcore::Batch::take`], or the Raft
//! epoch its commands ran in and where its writes ended) and goes straight back to reading
//! its socket. The replier takes every batch handed off so far, commits them all with one
//! group commit (the highest token covers the others) or settles each with the Raft
//! coordinator (the first waits for the round's commit, the rest find it done), then sends
//! each reply. A connection thread thus blocks once per request (in `read`) instead of twice
//! (in `read`, and asleep through the fdatasync or the Raft round), and one wake-up of the
//! replier replaces one per connection: Redis's "one fsync per event-loop pass", on threads.
//!
//! Order: a connection has at most one batch out at a time and writes nothing itself while
//! one is out ([`Outbox::wait_idle`]), so its replies leave in request order. Its next batch
//! may run before the one out is settled: what it read is settled in its turn (a read
//! settles only once everything it could have seen is committed).
//!
//! Never blocked by a client: the replier sends with `MSG_DONTWAIT`. What a full socket
//! refuses stays in the client's outbox ("stuck"); the replier retries it every
//! [`RETRY`], and the connection thread takes it over with a blocking write (as it writes its
//! own replies) as soon as it has anything else to send or ends.
//!
//! If the commit fails or the batch cannot be settled (leadership lost), nothing of the
//! batch is sent and the connection is closed: the client sees no answer, never a false one.

use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::log::warning;
use crate::registry::ClientHandle;
use crate::wire::Wire;

/// How often replies that a full socket refused are tried again.
const RETRY: Duration = Duration::from_millis(1);
/// A reply buffer larger than this is not kept for reuse.
const KEEP: usize = 1024 * 1024;

/// Where a connection's handed-off reply is.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing out: the connection may write.
    #[default]
    Idle,
    /// With the replier (queued, being committed or being sent).
    Out,
    /// Partly sent; the rest waits in `bytes[sent..]` for the socket to drain.
    Stuck,
    /// The connection thread is writing the rest of a stuck reply.
    TakenOver,
    /// The log failed: the reply was dropped and the connection is being closed.
    Failed,
}

#[derive(Debug, Default)]
struct OutState {
    phase: Phase,
    /// A stuck reply, and how much of it was sent.
    bytes: Vec<u8>,
    sent: usize,
    /// A reply buffer handed back for the connection's next batch.
    spare: Vec<u8>,
}

/// One connection's side of the hand-off; lives in its [`ClientHandle`].
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    state: Mutex<OutState>,
    changed: Condvar,
}

impl Outbox {
    /// Returns once nothing of this connection is out with the replier, writing the rest of a
    /// stuck reply itself (blocking, like any reply it writes). Only the connection's own
    /// thread calls it.
    ///
    /// # Errors
    /// The write's error, or an error if the log failed while a reply was out (the connection
    /// must close).
    pub(crate) fn wait_idle(&self, wire: &Wire) -> io::Result<()> {
        let mut st = self.state.lock();
        loop {
            match st.phase {
                Phase::Idle => return Ok(()),
                Phase::Failed => {
                    return Err(io::Error::other(
                        "persistence failed: replies dropped, connection closed",
                    ));
                }
                Phase::Out | Phase::TakenOver => self.changed.wait(&mut st),
                Phase::Stuck => {
                    st.phase = Phase::TakenOver;
                    let bytes = std::mem::take(&mut st.bytes);
                    let sent = st.sent;
                    drop(st);
                    // For a TLS client this also sends what its session holds encrypted.
                    let res = wire.write_all(&bytes[sent..]);
                    let mut st = self.state.lock();
                    st.phase = Phase::Idle;
                    keep_spare(&mut st, bytes);
                    return res;
                }
            }
        }
    }

    /// Moves `out` into a job for the replier, leaving a recycled buffer in its place. The
    /// caller has waited for [`Outbox::wait_idle`].
    fn take_out(&self, out: &mut Vec<u8>) -> Vec<u8> {
        let mut st = self.state.lock();
        debug_assert_eq!(st.phase, Phase::Idle, "one batch out at a time");
        st.phase = Phase::Out;
        let spare = std::mem::take(&mut st.spare);
        std::mem::replace(out, spare)
    }

    /// The replier is done with a reply: sent (`sent == bytes.len()`), dropped after a send
    /// error, or stuck. Returns whether it is stuck.
    fn finish(&self, bytes: Vec<u8>, sent: usize, stuck: bool) -> bool {
        let mut st = self.state.lock();
        if stuck {
            st.phase = Phase::Stuck;
            st.bytes = bytes;
            st.sent = sent;
        } else {
            st.phase = Phase::Idle;
            keep_spare(&mut st, bytes);
        }
        drop(st);
        self.changed.notify_all();
        stuck
    }

    fn fail(&self, bytes: Vec<u8>) {
        let mut st = self.state.lock();
        st.phase = Phase::Failed;
        keep_spare(&mut st, bytes);
        drop(st);
        self.changed.notify_all();
    }

    /// Takes a stuck reply back for another try; `None` if it is no longer stuck (the
    /// connection took it over).
    fn take_stuck(&self) -> Option<(Vec<u8>, usize)> {
        let mut st = self.state.lock();
        if st.phase != Phase::Stuck {
            return None;
        }
        st.phase = Phase::Out;
        Some((std::mem::take(&mut st.bytes), st.sent))
    }
}

fn keep_spare(st: &mut OutState, mut bytes: Vec<u8>) {
    if bytes.capacity() <= KEEP && bytes.capacity() > st.spare.capacity() {
        bytes.clear();
        st.spare = bytes;
    }
}

/// What a batch's replies wait for: both parts, when both are there.
pub(crate) struct Wait {
    /// The commit that covers its writes to the log.
    pub(crate) log: Option<kvcore::Deferred>,
    /// The Raft coordinator's settle of its commands (`Coordinator::settle`).
    pub(crate) raft: Option<RaftWait>,
}

/// A batch's commands ran under the Raft coordinator in `epoch`; `own_append` is where its
/// last command's effects ended, if it wrote.
pub(crate) struct RaftWait {
    pub(crate) coordinator: Arc<dyn kvcore::Coordinator>,
    pub(crate) epoch: u64,
    pub(crate) own_append: Option<u64>,
}

impl RaftWait {
    /// Waits until the batch's replies may go out (`Coordinator::settle`); the error says
    /// why they must not, for the log line of the connection that is closed instead.
    pub(crate) fn settle(&self) -> Result<(), String> {
        self.coordinator
            .settle(self.epoch, self.own_append)
            .map_err(|e| format!("its replies cannot be confirmed ({e:?})"))
    }
}

impl Wait {
    /// Whether there is nothing to wait for (the replies can go at once).
    pub(crate) fn is_empty(&self) -> bool {
        self.log.is_none() && self.raft.is_none()
    }
}

/// A batch's replies, waiting for what [`Wait`] names.
struct Job {
    wait: Wait,
    client: Arc<ClientHandle>,
    bytes: Vec<u8>,
}

#[derive(Default)]
struct Queue {
    jobs: Vec<Job>,
    stop: bool,
}

struct Inner {
    queue: Mutex<Queue>,
    wake: Condvar,
}

/// The replier thread; stopped (after sending what it was given) by [`Replier::stop`].
pub(crate) struct Replier {
    inner: Arc<Inner>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Replier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replier").finish_non_exhaustive()
    }
}

impl Replier {
    /// Starts the replier for a store whose writes are acknowledged only once synced, or for
    /// a node of a Raft group (`raft`); `None` when connections should commit inline (other
    /// sync modes, where a commit is a cheap `write`, an in-memory store, or a platform
    /// without `MSG_DONTWAIT`).
    ///
    /// # Errors
    /// The thread could not be started.
    pub(crate) fn start(kv: &kvcore::Kv, raft: bool) -> io::Result<Option<Replier>> {
        let synced = kv.sync_mode() == Some(kvcore::SyncMode::Always);
        if !cfg!(target_os = "linux") || !(synced || raft) {
            return Ok(None);
        }
        let inner = Arc::new(Inner {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
        });
        let inner2 = Arc::clone(&inner);
        let thread = std::thread::Builder::new()
            .name("replier".into())
            .spawn(move || run(&inner2))?;
        Ok(Some(Replier {
            inner,
            thread: Mutex::new(Some(thread)),
        }))
    }

    /// Hands a batch's replies (`out`, replaced by a recycled buffer) to the replier, to be sent
    /// once what `wait` names is done. The caller has waited for the client's
    /// [`Outbox::wait_idle`].
    pub(crate) fn hand_off(&self, client: &Arc<ClientHandle>, wait: Wait, out: &mut Vec<u8>) {
        let bytes = client.outbox.take_out(out);
        let job = Job {
            wait,
            client: Arc::clone(client),
            bytes,
        };
        let mut q = self.inner.queue.lock();
        let was_empty = q.jobs.is_empty();
        q.jobs.push(job);
        drop(q);
        if was_empty {
            self.inner.wake.notify_one();
        }
    }

    /// Sends what was handed off so far, then stops the thread.
    pub(crate) fn stop(&self) {
        self.inner.queue.lock().stop = true;
        self.inner.wake.notify_one();
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }
}

fn run(inner: &Inner) {
    let mut jobs: Vec<Job> = Vec::new();
    let mut stuck: Vec<Arc<ClientHandle>> = Vec::new();
    loop {
        {
            let mut q = inner.queue.lock();
            while q.jobs.is_empty() && !q.stop {
                if stuck.is_empty() {
                    inner.wake.wait(&mut q);
                } else if inner.wake.wait_for(&mut q, RETRY).timed_out() {
                    break;
                }
            }
            if q.jobs.is_empty() && q.stop {
                // Stuck replies are left to their connection threads, which take them over.
                return;
            }
            std::mem::swap(&mut jobs, &mut q.jobs);
        }
        // Every token is of this server's store: the highest covers them all.
        let committed = jobs
            .iter()
            .filter_map(|j| j.wait.log.as_ref())
            .max_by_key(|d| d.seq())
            .map(kvcore::Deferred::commit);
        for job in jobs.drain(..) {
            let mut done = match (&committed, &job.wait.log) {
                (Some(Err(e)), Some(_)) => Err(e.to_string()),
                _ => Ok(()),
            };
            // In hand-off order, which is about the order of the writes' ends in the stream:
            // the first settle waits for a round's commit, those after it mostly find it done.
            if let (Ok(()), Some(r)) = (&done, &job.wait.raft) {
                done = r.settle();
            }
            match done {
                Ok(()) => {
                    if send(&job.client, job.bytes, 0) {
                        stuck.push(job.client);
                    }
                }
                Err(e) => {
                    warning!("closing client {}: {e}", job.client.addr);
                    job.client.outbox.fail(job.bytes);
                    job.client.kill();
                }
            }
        }
        stuck.retain(|client| match client.outbox.take_stuck() {
            Some((bytes, sent)) => send(client, bytes, sent),
            None => false,
        });
    }
}

/// Sends `bytes[sent..]` without blocking; returns whether some of it is left (stuck).
fn send(client: &ClientHandle, bytes: Vec<u8>, mut sent: usize) -> bool {
    while sent < bytes.len() {
        match client.socket().send_nowait(&bytes[sent..]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return client.outbox.finish(bytes, sent, true);
            }
            // The peer is gone or the socket broke: the connection thread sees it on its
            // next read; the reply has nobody to go to.
            Err(_) => break,
        }
    }
    // A TLS client's last records may still be held encrypted: stuck until they leave.
    if sent == bytes.len() && matches!(client.socket().flush_nowait(), Ok(true)) {
        return client.outbox.finish(bytes, sent, true);
    }
    client.outbox.finish(bytes, sent, false)
}
