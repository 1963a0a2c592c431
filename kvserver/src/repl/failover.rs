//! FAILOVER, Redis 6.2's coordinated switch of a primary with one of its replicas:
//!
//! 1. FAILOVER pauses clients' writes (its own pause, not CLIENT PAUSE's) and waits.
//! 2. Every 100 ms (the replication ping thread, `Primary::start_pinger`) [`tick`] looks for
//!    the target replica, or any replica, whose last ACK equals the stream's offset; with
//!    TIMEOUT, past it the failover aborts, or with FORCE goes ahead anyway.
//! 3. With one found, this server becomes a replica of it (`replica::follow`), offering its
//!    own replication ID and offset, and its link sends `PSYNC <id> <offset+1> FAILOVER`.
//! 4. The target, still a replica of this server with the same ID, promotes itself on that
//!    PSYNC (`cmd/replication.rs`) and answers `+CONTINUE <new id>`: the failover is done and
//!    the pause lifted ([`psync_answered`]). A refusal, or a link that fails before the answer,
//!    aborts: this server is a primary again.
//!
//! FAILOVER ABORT ends it by hand. INFO's `master_failover_state` reports the state.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::log::notice;
use crate::shared::Shared;

/// Where a failover is (Redis's `failover_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    None,
    WaitForSync,
    InProgress,
}

#[derive(Debug)]
struct State {
    phase: Phase,
    /// TO host port, or the replica found caught up.
    target: Option<(String, u16)>,
    deadline: Option<Instant>,
    force: bool,
}

/// The failover state of a primary (a field of `Primary`).
#[derive(Debug)]
pub(crate) struct Failover {
    state: Mutex<State>,
}

impl Default for Failover {
    fn default() -> Failover {
        Failover {
            state: Mutex::new(State {
                phase: Phase::None,
                target: None,
                deadline: None,
                force: false,
            }),
        }
    }
}

impl Failover {
    pub(crate) fn phase(&self) -> Phase {
        self.state.lock().phase
    }

    /// INFO's `master_failover_state`.
    pub(crate) fn describe(&self) -> &'static str {
        match self.phase() {
            Phase::None => "no-failover",
            Phase::WaitForSync => "waiting-for-sync",
            Phase::InProgress => "failover-in-progress",
        }
    }
}

/// What FAILOVER asked for.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) to: Option<(String, u16)>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) force: bool,
}

/// FAILOVER's checks in Redis's order, then the start (the pause); the error text otherwise.
pub(crate) fn start(shared: &Arc<Shared>, req: Request) -> Result<(), &'static str> {
    let f = &shared.repl.failover;
    let mut st = f.state.lock();
    if st.phase != Phase::None {
        return Err("ERR FAILOVER already in progress.");
    }
    if shared.replica.enabled() {
        return Err("ERR FAILOVER is not valid when server is a replica.");
    }
    if shared.repl.count() == 0 {
        return Err("ERR FAILOVER requires connected replicas.");
    }
    if req.force && (req.timeout.is_none() || req.to.is_none()) {
        return Err(
            "ERR FAILOVER with force option requires both a timeout and target HOST and IP.",
        );
    }
    if let Some((host, port)) = &req.to {
        match shared.repl.replica_state(host, *port) {
            None => return Err("ERR FAILOVER target HOST and PORT is not a replica."),
            Some(false) => return Err("ERR FAILOVER target replica is not online."),
            Some(true) => notice!("FAILOVER requested to {host}:{port}."),
        }
    } else {
        notice!("FAILOVER requested to any replica.");
    }
    st.phase = Phase::WaitForSync;
    st.target = req.to;
    // A timeout past what Instant holds is as good as none.
    st.deadline = req.timeout.and_then(|t| Instant::now().checked_add(t));
    st.force = req.force;
    drop(st);
    shared.pause.set_failover(true);
    shared.repl.start_pinger(shared);
    Ok(())
}

/// FAILOVER ABORT: false if none is in progress.
pub(crate) fn abort_by_hand(shared: &Arc<Shared>) -> bool {
    if shared.repl.failover.phase() == Phase::None {
        return false;
    }
    abort(shared, "Failover manually aborted");
    true
}

/// Ends a failover that did not happen: a primary again (if it had started following the
/// target), the pause lifted.
pub(crate) fn abort(shared: &Arc<Shared>, why: &str) {
    let f = &shared.repl.failover;
    let st = f.state.lock();
    if st.phase == Phase::None {
        return;
    }
    match &st.target {
        Some((h, p)) => notice!("FAILOVER to {h}:{p} aborted: {why}"),
        None => notice!("FAILOVER to any replica aborted: {why}"),
    }
    let following = st.phase == Phase::InProgress;
    drop(st);
    if following {
        crate::replica::promote(shared, "failover aborted");
    }
    clear(shared);
}

fn clear(shared: &Shared) {
    let mut st = shared.repl.failover.state.lock();
    st.phase = Phase::None;
    st.target = None;
    st.deadline = None;
    st.force = false;
    drop(st);
    shared.pause.set_failover(false);
}

/// The replica link's PSYNC got its answer while a failover is in progress: accepted
/// (`+CONTINUE`, or a full resync) ends the failover; anything else aborts it.
pub(crate) fn psync_answered(shared: &Arc<Shared>, accepted: bool) {
    if shared.repl.failover.phase() != Phase::InProgress {
        return;
    }
    if accepted {
        clear(shared);
    } else {
        abort(shared, "Failover target rejected psync request");
    }
}

/// Whether a failover is under way (REPLICAOF is refused, PSYNC gets `-NOMASTERLINK`).
pub(crate) fn phase_of(shared: &Shared) -> bool {
    shared.repl.failover.phase() != Phase::None
}

/// Whether the replica link is to send PSYNC ... FAILOVER.
pub(crate) fn in_progress(shared: &Shared) -> bool {
    shared.repl.failover.phase() == Phase::InProgress
}

/// Every 100 ms while a failover waits: the timeout, then a caught-up replica to switch to.
pub(crate) fn tick(shared: &Arc<Shared>) {
    let f = &shared.repl.failover;
    let mut st = f.state.lock();
    if st.phase != Phase::WaitForSync {
        return;
    }
    if st.deadline.is_some_and(|d| Instant::now() >= d) {
        if st.force {
            let (host, port) = st.target.clone().expect("FORCE needs TO");
            notice!("FAILOVER to {host}:{port} time out exceeded, failing over.");
            st.phase = Phase::InProgress;
            drop(st);
            crate::replica::follow(shared, host, port);
        } else {
            drop(st);
            abort(shared, "Replica never caught up before timeout");
        }
        return;
    }
    let offset = shared.kv.replication().offset();
    let found = match &st.target {
        Some((host, port)) => shared
            .repl
            .ack_of(host, *port)
            .is_some_and(|ack| ack == offset)
            .then(|| (host.clone(), *port)),
        None => shared.repl.caught_up(offset),
    };
    if let Some((host, port)) = found {
        notice!("Failover target {host}:{port} is synced, failing over.");
        st.phase = Phase::InProgress;
        st.target = Some((host.clone(), port));
        drop(st);
        crate::replica::follow(shared, host, port);
    }
}

/// Whether the ping thread should feed its PING: not while a failover waits for a replica
/// to acknowledge the whole stream (a PING would move the offset it waits for).
pub(crate) fn quiet(shared: &Shared) -> bool {
    shared.repl.failover.phase() != Phase::None
}
