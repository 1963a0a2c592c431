//! The registry of connected clients, for `CLIENT LIST/KILL/INFO`, `INFO clients` and shutdown.
//!
//! A connection thread owns its session; what other threads may look at or act on
//! lives in its [`ClientHandle`], shared through the registry: atomics the connection updates once
//! per batch, and the socket (`wire.rs`) that `CLIENT KILL` and shutdown use to end its reads.

use std::collections::HashMap;
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use parking_lot::Mutex;

use crate::replier::Outbox;
use crate::stats::{CmdStats, CmdTotals, ConnCounters, CounterTotals};

/// `last_cmd` when the client has run nothing yet.
pub(crate) const NO_COMMAND: usize = usize::MAX;

/// What other threads can see of one connection.
#[derive(Debug)]
pub(crate) struct ClientHandle {
    pub(crate) id: u64,
    pub(crate) addr: SocketAddr,
    pub(crate) laddr: SocketAddr,
    pub(crate) fd: i32,
    /// Server uptime (ms) when the client connected.
    pub(crate) created_ms: u64,
    /// Server uptime (ms) at the end of the client's last batch.
    pub(crate) last_ms: AtomicU64,
    pub(crate) db: AtomicUsize,
    /// 2 or 3.
    pub(crate) resp: AtomicU8,
    /// Index into the command table of the last command run.
    pub(crate) last_cmd: AtomicUsize,
    pub(crate) qbuf: AtomicUsize,
    pub(crate) name: Mutex<Vec<u8>>,
    pub(crate) lib_name: Mutex<Vec<u8>>,
    pub(crate) lib_ver: Mutex<Vec<u8>>,
    /// The ACL user the connection is authenticated as (CLIENT LIST's `user=`).
    pub(crate) user: Mutex<Vec<u8>>,
    pub(crate) killed: AtomicBool,
    /// Waiting in a blocking command or WAIT (CLIENT LIST flag `b`; see `mark_blocked`).
    pub(crate) blocked: AtomicBool,
    /// Microseconds spent blocked so far (single writer: the connection's thread), which the
    /// slow log and latency figures leave out, as Redis times a blocked command without its wait.
    pub(crate) blocked_usec: AtomicU64,
    /// Monitoring (MONITOR; CLIENT LIST flag `O`).
    pub(crate) monitoring: AtomicBool,
    /// The connection is a replica's stream (`repl/`): CLIENT LIST flag `S`, TYPE replica.
    pub(crate) replica: AtomicBool,
    /// CLIENT NO-EVICT on (CLIENT LIST flag `e`; kv never evicts clients).
    pub(crate) no_evict: AtomicBool,
    /// CLIENT NO-TOUCH on (CLIENT LIST flag `T`; the session keeps its own copy for reads).
    pub(crate) no_touch: AtomicBool,
    /// The client is this replica's primary (`replica/link.rs`; CLIENT LIST flag `M`).
    pub(crate) master: AtomicBool,
    /// Commands queued by an open MULTI, -1 outside one (CLIENT LIST `multi=`, flag `x`).
    multi: AtomicI64,
    /// Keys it watches (CLIENT LIST `watch=`).
    watched: AtomicUsize,
    pub(crate) stats: CmdStats,
    pub(crate) counters: ConnCounters,
    /// The batch replies handed to the replier (`--sync always`).
    pub(crate) outbox: Outbox,
    /// Pub/sub: the output queue other threads append messages to, its subscription counts.
    pub(crate) pubsub: crate::pubsub::Output,
    /// The connection's socket (and TLS session): its thread reads and writes through it, the
    /// replier and publishers send through it, CLIENT KILL and shutdown end it.
    wire: crate::wire::Wire,
}

impl ClientHandle {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        id: u64,
        wire: crate::wire::Wire,
        addr: SocketAddr,
        laddr: SocketAddr,
        fd: i32,
        now_ms: u64,
        commands: usize,
    ) -> ClientHandle {
        ClientHandle {
            id,
            addr,
            laddr,
            fd,
            created_ms: now_ms,
            last_ms: AtomicU64::new(now_ms),
            db: AtomicUsize::new(0),
            resp: AtomicU8::new(2),
            last_cmd: AtomicUsize::new(NO_COMMAND),
            qbuf: AtomicUsize::new(0),
            name: Mutex::new(Vec::new()),
            lib_name: Mutex::new(Vec::new()),
            lib_ver: Mutex::new(Vec::new()),
            user: Mutex::new(b"default".to_vec()),
            monitoring: AtomicBool::new(false),
            replica: AtomicBool::new(false),
            no_evict: AtomicBool::new(false),
            no_touch: AtomicBool::new(false),
            master: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            blocked: AtomicBool::new(false),
            blocked_usec: AtomicU64::new(0),
            multi: AtomicI64::new(-1),
            watched: AtomicUsize::new(0),
            stats: CmdStats::new(commands),
            counters: ConnCounters::default(),
            outbox: Outbox::default(),
            pubsub: crate::pubsub::Output::default(),
            wire,
        }
    }

    /// Ends the connection: marks it killed and shuts its socket, which wakes its blocked read.
    /// Records the length of the client's open transaction (-1: none).
    pub(crate) fn set_multi(&self, queued: i64) {
        self.multi.store(queued, Ordering::Relaxed);
    }

    /// Commands queued by an open transaction, -1 outside one.
    pub(crate) fn multi(&self) -> i64 {
        self.multi.load(Ordering::Relaxed)
    }

    /// Records how many keys the client watches.
    pub(crate) fn set_watched(&self, keys: usize) {
        self.watched.store(keys, Ordering::Relaxed);
    }

    /// How many keys the client watches.
    pub(crate) fn watched(&self) -> usize {
        self.watched.load(Ordering::Relaxed)
    }

    pub(crate) fn kill(&self) {
        self.killed.store(true, Ordering::Relaxed);
        let _ = self.wire.tcp().shutdown(Shutdown::Both);
    }

    /// Stops the connection's reads only: it finishes the requests it already has, writes their
    /// replies, then sees end-of-file and exits (graceful shutdown).
    pub(crate) fn stop_reading(&self) {
        let _ = self.wire.tcp().shutdown(Shutdown::Read);
    }

    /// Whether the peer has closed the connection (or it failed), without consuming input.
    /// For blocked clients, whose thread is not reading. Only the connection's own thread may
    /// call it: it flips the socket to non-blocking for the peek.
    pub(crate) fn peer_closed(&self) -> bool {
        self.wire.peer_closed()
    }

    /// The connection's socket (and TLS session), for its own thread's reads and writes and
    /// the replier's and publishers' sends.
    pub(crate) fn socket(&self) -> &crate::wire::Wire {
        &self.wire
    }

    pub(crate) fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Relaxed)
    }

    /// Shows the client as blocked (CLIENT LIST flag `b`) until the guard drops, which adds
    /// the time blocked to `blocked_usec`. Only the connection's own thread may hold one.
    pub(crate) fn mark_blocked(&self) -> Blocked<'_> {
        self.blocked.store(true, Ordering::Relaxed);
        Blocked(self, Instant::now())
    }
}

/// A client shown as blocked, from [`ClientHandle::mark_blocked`].
pub(crate) struct Blocked<'a>(&'a ClientHandle, Instant);

impl Drop for Blocked<'_> {
    fn drop(&mut self) {
        self.0.blocked.store(false, Ordering::Relaxed);
        let waited = self.1.elapsed().as_micros() as u64;
        let total = &self.0.blocked_usec;
        total.store(
            total.load(Ordering::Relaxed).wrapping_add(waited),
            Ordering::Relaxed,
        );
    }
}

/// All connected clients, plus the totals of the ones that left.
#[derive(Debug)]
pub(crate) struct Registry {
    live: Mutex<HashMap<u64, Arc<ClientHandle>>>,
    next_id: AtomicU64,
    retired_stats: CmdStats,
    retired_counters: ConnCounters,
    connected: AtomicUsize,
}

impl Registry {
    pub(crate) fn new(commands: usize) -> Registry {
        Registry {
            live: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            retired_stats: CmdStats::new(commands),
            retired_counters: ConnCounters::default(),
            connected: AtomicUsize::new(0),
        }
    }

    /// Reserves a slot for a new connection unless `max` are connected; returns its client id.
    pub(crate) fn try_reserve(&self, max: usize) -> Option<u64> {
        let mut n = self.connected.load(Ordering::Relaxed);
        loop {
            if n >= max {
                return None;
            }
            match self.connected.compare_exchange_weak(
                n,
                n + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(self.next_id.fetch_add(1, Ordering::Relaxed)),
                Err(cur) => n = cur,
            }
        }
    }

    pub(crate) fn register(&self, handle: Arc<ClientHandle>) {
        self.live.lock().insert(handle.id, handle);
    }

    /// Frees the slot `try_reserve` gave connection `id` and, if it registered, removes it,
    /// folding its counters into the retired totals (under the registry lock, so a concurrent
    /// INFO counts them exactly once). Called exactly once per reserved id, by the guard that
    /// owns it (`listener::Seat`), whichever way the connection ended.
    pub(crate) fn release(&self, id: u64) {
        let mut live = self.live.lock();
        if let Some(h) = live.remove(&id) {
            self.retired_stats.absorb(&h.stats);
            self.retired_counters.absorb(&h.counters);
        }
        drop(live);
        self.connected.fetch_sub(1, Ordering::AcqRel);
    }

    /// The live client `id`, if connected.
    pub(crate) fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.live.lock().get(&id).cloned()
    }

    /// How many connections hold a slot.
    pub(crate) fn connected(&self) -> usize {
        self.connected.load(Ordering::Acquire)
    }

    /// A snapshot of the live clients, in id order.
    pub(crate) fn list(&self) -> Vec<Arc<ClientHandle>> {
        let mut v: Vec<_> = self.live.lock().values().cloned().collect();
        v.sort_by_key(|c| c.id);
        v
    }

    /// Per-command totals of every client, live or gone.
    pub(crate) fn cmd_totals(&self) -> Vec<CmdTotals> {
        let live = self.live.lock();
        let n = self.retired_stats.len();
        crate::stats::sum(
            n,
            std::iter::once(&self.retired_stats).chain(live.values().map(|c| &c.stats)),
        )
    }

    /// Connection counters of every client, live or gone.
    pub(crate) fn counter_totals(&self) -> CounterTotals {
        let live = self.live.lock();
        let mut t = self.retired_counters.totals();
        for c in live.values() {
            t.add(c.counters.totals());
        }
        t
    }

    /// Stops every connection's reads (graceful shutdown).
    pub(crate) fn stop_reading_all(&self) {
        for c in self.live.lock().values() {
            c.stop_reading();
        }
    }
}
