//! The Raft thread: ticks raft-rs's `RawNode`, feeds it the peers' messages and the leader's
//! stream bytes, persists and sends what each `Ready` holds, applies committed entries, and
//! moves the node between following and serving as leader.
//!
//! Serving starts only once a new leader has applied its whole log (everything up to the
//! empty entry of its term, which commits everything before it); the stream then continues at
//! the offset the log reached. Serving stops when Raft says another node leads (or this one
//! cannot keep proposing): connection threads see `serving` cleared and forward from then on,
//! the thread waits for commands still running here, and if they changed the store past what
//! is committed, the store is rebuilt from the newest snapshot and the committed log (those
//! changes may never commit; the next leader's log decides).

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SendError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use protobuf::Message as _;
use raft::prelude::*;
use raft::{GetEntriesContext, RawNode, StateRole, Storage};

use crate::batch::{Arrivals, Cohort, Decision};
use crate::error::{Error, Result};
use crate::machine::{Machine, decode_entry, encode_entry, snapshot_header};
use crate::node::{Admin, Event, PeerStatus, Role, Shared};
use crate::storage::{LogStore, SnapshotRef};

/// Where this node stands as a leader.
enum Lead {
    /// Not leading.
    No,
    /// Elected; applying the log up to `until` before serving.
    Starting { until: u64 },
    /// Serving: commands run here. `db` is the database the stream had selected when serving
    /// began; `reader` reads the stream this node's commands append to, and `next` is the
    /// stream offset the next proposal must start at.
    Serving {
        db: usize,
        reader: kvcore::StreamReader,
        next: u64,
        term: u64,
    },
}

/// The log as raft-rs reads it: the store, except that a snapshot for a peer the newest
/// snapshot does not name as a member (one that joined after it) is not offered; the
/// leader makes a new one instead (raft-rs retries).
pub(crate) struct Log {
    store: LogStore,
    wanted: Arc<AtomicBool>,
}

impl Storage for Log {
    fn initial_state(&self) -> raft::Result<RaftState> {
        self.store.initial_state()
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        self.store.entries(low, high, max_size, context)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        self.store.term(idx)
    }

    fn first_index(&self) -> raft::Result<u64> {
        Storage::first_index(&self.store)
    }

    fn last_index(&self) -> raft::Result<u64> {
        Storage::last_index(&self.store)
    }

    fn snapshot(&self, request_index: u64, to: u64) -> raft::Result<Snapshot> {
        let snap = Storage::snapshot(&self.store, request_index, to)?;
        let cs = snap.get_metadata().get_conf_state();
        let member = cs.voters.contains(&to) || cs.learners.contains(&to);
        if !member || snap.get_metadata().index < request_index {
            self.wanted.store(true, Ordering::SeqCst);
            return Err(raft::Error::Store(
                raft::StorageError::SnapshotTemporarilyUnavailable,
            ));
        }
        Ok(snap)
    }
}

pub(crate) struct Driver {
    shared: Arc<Shared>,
    raw: RawNode<Log>,
    /// A peer needs a newer snapshot than the store has.
    wanted: Arc<AtomicBool>,
    machine: Machine,
    rx: Receiver<Event>,
    lead: Lead,
    /// The stream offset each recent committed entry ends at (for labelling the leader's
    /// snapshots with the entry they cover).
    ends: VecDeque<(u64, u64)>,
    /// A leader's snapshot waiting for its offset to commit: the offset, and the file in the
    /// log directory that holds its data.
    pending_snapshot: Option<(u64, PathBuf)>,
    snapshotting: bool,
    /// Membership changes waiting to be applied, answered then.
    admin: HashMap<u64, Vec<Sender<Result<()>>>>,
    stopping: bool,
    /// Set by the stream's append hook while an `Event::StreamReady` is queued and not yet
    /// handled (one event for any number of appends); while the cohort holds, the hook sets
    /// it (and sends the event) only once the cohort is in.
    stream_pending: Arc<AtomicBool>,
    /// The writes in flight, which decide when the stream's new writes are proposed.
    cohort: Cohort,
    /// Counted by the stream's append hook for `cohort`.
    arrivals: Arc<Arrivals>,
    /// While the cohort holds the stream's writes: until when at most.
    hold_until: Option<Instant>,
    /// Snapshot files received from peers this round: what raft did not take (or replaced
    /// with a newer one) is removed once the round's `Ready` is handled.
    received: Vec<String>,
}

impl Driver {
    pub(crate) fn new(shared: Arc<Shared>, rx: Receiver<Event>) -> Result<Driver> {
        let store = shared.store.clone();
        let mut machine = Machine::new(shared.kv.clone());
        if store.is_new() && !shared.opts.join {
            // A new group starts from a snapshot of the empty store that names the members,
            // so the log begins after it: a node that joins later gets the snapshot (and the
            // members with it) rather than a log whose first configuration it never saw.
            let mut snap = Snapshot {
                data: machine.snapshot()?.into(),
                ..Snapshot::default()
            };
            let meta = snap.mut_metadata();
            meta.index = 1;
            meta.term = 1;
            meta.set_conf_state(ConfState {
                voters: shared.opts.peers.iter().map(|(id, _)| *id).collect(),
                ..ConfState::default()
            });
            store.apply_snapshot_data(&snap)?;
            store.sync()?;
        }
        let applied = load_newest(&store, &mut machine)?.unwrap_or(0);
        shared
            .committed_offset
            .store(machine.offset(), Ordering::SeqCst);
        let cfg = Config {
            id: shared.id,
            election_tick: shared.opts.election_ticks,
            heartbeat_tick: shared.opts.heartbeat_ticks,
            applied,
            max_size_per_msg: 1 << 20,
            max_inflight_msgs: 256,
            check_quorum: true,
            pre_vote: true,
            max_committed_size_per_ready: 16 << 20,
            ..Config::default()
        };
        cfg.validate()?;
        let wanted = Arc::new(AtomicBool::new(false));
        let log = Log {
            store,
            wanted: Arc::clone(&wanted),
        };
        let raw = RawNode::new(&cfg, log, &crate::logger::logger())?;
        let arrivals = Arc::new(Arrivals::default());
        let cohort = Cohort::new(Arc::clone(&arrivals), shared.opts.batch_wait);
        Ok(Driver {
            shared,
            raw,
            wanted,
            machine,
            rx,
            lead: Lead::No,
            ends: VecDeque::new(),
            pending_snapshot: None,
            snapshotting: false,
            admin: HashMap::new(),
            stopping: false,
            stream_pending: Arc::new(AtomicBool::new(false)),
            cohort,
            arrivals,
            hold_until: None,
            received: Vec::new(),
        })
    }

    pub(crate) fn run(mut self) {
        let tick = self.shared.opts.tick;
        let mut next_tick = Instant::now() + tick;
        while !self.stopping {
            let until = self.hold_until.map_or(next_tick, |h| h.min(next_tick));
            let wait = until.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(wait) {
                Ok(ev) => {
                    self.handle(ev);
                    // Everything already queued joins this round: one Ready, one sync.
                    for _ in 0..4096 {
                        match self.rx.try_recv() {
                            Ok(ev) => self.handle(ev),
                            Err(_) => break,
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if Instant::now() >= next_tick {
                self.raw.tick();
                next_tick = Instant::now() + tick;
            }
            let mut round = self.round();
            if round.is_ok() && self.hold_until.is_some() {
                // The round's commits and the time passed may end the hold.
                self.stream_ready();
                if self.hold_until.is_none() {
                    round = self.round();
                }
            }
            if let Err(e) = round {
                log::error!("raft node {} stops: {e}", self.shared.id);
                self.shared.failed.store(true, Ordering::SeqCst);
                self.stop_serving();
                self.shared.wake();
                break;
            }
        }
        if matches!(self.lead, Lead::Serving { .. }) {
            self.stop_serving();
        }
    }

    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Message(m) => {
                if m.get_msg_type() == MessageType::MsgSnapshot
                    && let Some(r) = SnapshotRef::decode(m.get_snapshot().get_data())
                {
                    self.received.push(r.file);
                }
                let _ = self.raw.step(*m);
            }
            Event::SnapshotSent { to, ok } => {
                let status = if ok {
                    SnapshotStatus::Finish
                } else {
                    SnapshotStatus::Failure
                };
                self.raw.report_snapshot(to, status);
            }
            Event::StreamReady => self.stream_ready(),
            Event::Read => {
                if self.raw.raft.state == StateRole::Leader {
                    let mut r = self.shared.reads.lock();
                    if r.next > r.requested {
                        r.requested = r.next;
                        r.rounds += 1;
                        let ctx = r.next.to_le_bytes().to_vec();
                        drop(r);
                        self.raw.read_index(ctx);
                    }
                }
            }
            Event::Admin(a, reply) => self.admin(a, reply),
            Event::Snapshot { offset, file } => {
                self.pending_snapshot = Some((offset, file));
            }
            Event::Snapshotted => self.snapshotting = false,
            Event::Stop => self.stopping = true,
        }
    }

    fn admin(&mut self, a: Admin, reply: Sender<Result<()>>) {
        let change = |t: ConfChangeType, id: u64, addr: Option<String>| {
            let mut cc = ConfChange::default();
            cc.set_change_type(t);
            cc.node_id = id;
            if let Some(a) = addr {
                cc.context = a.into_bytes().into();
            }
            cc
        };
        let (cc, id) = match a {
            Admin::TransferLeader(id) => {
                let res = if self.raw.raft.state == StateRole::Leader {
                    self.raw.transfer_leader(id);
                    Ok(())
                } else {
                    Err(Error::NotLeader)
                };
                let _ = reply.send(res);
                return;
            }
            Admin::AddNode(id, addr) => (change(ConfChangeType::AddNode, id, Some(addr)), id),
            Admin::AddLearner(id, addr) => {
                (change(ConfChangeType::AddLearnerNode, id, Some(addr)), id)
            }
            Admin::RemoveNode(id) => (change(ConfChangeType::RemoveNode, id, None), id),
        };
        if self.raw.raft.state != StateRole::Leader {
            let _ = reply.send(Err(Error::NotLeader));
            return;
        }
        match self.raw.propose_conf_change(vec![], cc) {
            Ok(()) => self.admin.entry(id).or_default().push(reply),
            Err(e) => {
                let _ = reply.send(Err(e.into()));
            }
        }
    }

    /// One round: the Ready, then role changes, the status and compaction.
    fn round(&mut self) -> Result<()> {
        self.on_ready()?;
        for name in std::mem::take(&mut self.received) {
            self.shared.store.discard_received(&name);
        }
        self.transitions()?;
        self.publish();
        self.maybe_snapshot()?;
        Ok(())
    }

    fn send_all(&self, msgs: Vec<Message>) {
        if !msgs.is_empty() {
            self.shared.transport.send_all(msgs);
        }
    }

    fn on_ready(&mut self) -> Result<()> {
        if !self.raw.has_ready() {
            return Ok(());
        }
        let store = self.shared.store.clone();
        let mut ready = self.raw.ready();
        // Leadership lost in this round (a newer leader's append, a failed check-quorum):
        // serving stops before anything is applied, so that the new leader's entries are
        // applied to the store rather than taken for this node's own.
        if let Lead::Serving { term, .. } = self.lead
            && (self.raw.raft.state != StateRole::Leader || self.raw.raft.term != term)
        {
            self.stop_serving();
        }
        self.send_all(ready.take_messages());
        if !ready.snapshot().is_empty() {
            let snap = ready.snapshot().clone();
            // Adopts the file the transport received (renamed: not discarded below).
            store.apply_snapshot(&snap)?;
            if let Lead::Serving { .. } = self.lead {
                self.stop_serving();
            }
            load_newest(&store, &mut self.machine)?;
            self.ends.clear();
            self.shared
                .committed_offset
                .store(self.machine.offset(), Ordering::SeqCst);
        }
        let reads = ready.take_read_states();
        self.apply_committed(ready.take_committed_entries())?;
        if !ready.entries().is_empty() {
            store.append(ready.entries())?;
        }
        if let Some(hs) = ready.hs() {
            store.set_hard_state(hs)?;
        }
        // Only new entries, a snapshot, or a new term or vote must be durable before the
        // messages go out (raft-rs's `must_sync`). A commit index alone may be lost in a crash:
        // the node learns it again from the leader. A follower's every other round is one
        // (the leader's append that advances its commit index): it skips an fdatasync.
        if ready.must_sync() {
            store.sync()?;
        }
        self.send_all(ready.take_persisted_messages());
        let mut light = self.raw.advance(ready);
        if let Some(commit) = light.commit_index() {
            store.set_commit(commit)?;
        }
        self.send_all(light.take_messages());
        self.apply_committed(light.take_committed_entries())?;
        self.raw.advance_apply();
        if !reads.is_empty() {
            let mut r = self.shared.reads.lock();
            for rs in reads {
                if rs.request_ctx.len() == 8 {
                    let t = u64::from_le_bytes(rs.request_ctx[..].try_into().expect("8 bytes"));
                    r.confirmed = r.confirmed.max(t);
                }
            }
            let confirmed = r.confirmed;
            r.settling.confirmed(confirmed);
        }
        Ok(())
    }

    fn apply_committed(&mut self, entries: Vec<Entry>) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let serving = match self.lead {
            Lead::Serving { term, .. } => Some(term),
            _ => None,
        };
        for e in entries {
            match e.get_entry_type() {
                EntryType::EntryNormal => {
                    // The leader ran its own entries' commands already (those of its term:
                    // everything before was applied before it began serving).
                    let end = if serving == Some(e.term) {
                        decode_entry(&e.data)?.and_then(|(start, b)| {
                            (!b.is_empty()).then(|| start + b.len() as u64 - 1)
                        })
                    } else {
                        self.machine.apply(&e.data).map_err(|err| {
                            self.log_entries_before(e.index);
                            let start = decode_entry(&e.data).ok().flatten().map(|(s, _)| s);
                            Error::Invalid(format!(
                                "applying entry {} of term {} (stream offset {start:?}, the \
                                 store at {}): {err}",
                                e.index,
                                e.term,
                                self.machine.offset()
                            ))
                        })?
                    };
                    if let Some(end) = end {
                        self.ends.push_back((e.index, end));
                        self.shared
                            .committed_offset
                            .fetch_max(end, Ordering::SeqCst);
                    }
                }
                EntryType::EntryConfChange => {
                    let mut cc = ConfChange::default();
                    cc.merge_from_bytes(&e.data)
                        .map_err(|err| Error::Invalid(format!("a conf change entry: {err}")))?;
                    self.conf_change(&cc)?;
                }
                EntryType::EntryConfChangeV2 => {
                    let mut cc = ConfChangeV2::default();
                    cc.merge_from_bytes(&e.data)
                        .map_err(|err| Error::Invalid(format!("a conf change entry: {err}")))?;
                    let cs = self.raw.apply_conf_change(&cc)?;
                    self.shared.store.set_conf_state(cs)?;
                }
            }
            self.shared.applied.store(e.index, Ordering::Relaxed);
        }
        while self.ends.len() > 100_000 {
            self.ends.pop_front();
        }
        let committed = self.shared.committed_offset.load(Ordering::SeqCst);
        self.shared.reads.lock().settling.committed(committed);
        Ok(())
    }

    /// Logs the entries just before a bad one: their terms, stream offsets and first bytes.
    fn log_entries_before(&self, index: u64) {
        let from = index.saturating_sub(4).max(self.shared.store.first_index());
        let Ok(entries) =
            self.shared
                .store
                .entries(from, index + 1, None, GetEntriesContext::empty(false))
        else {
            return;
        };
        for e in entries {
            let desc = match decode_entry(&e.data) {
                Ok(Some((start, b))) => format!(
                    "stream {start}..={} {:?}",
                    start + b.len() as u64 - 1,
                    String::from_utf8_lossy(&b[..b.len().min(80)])
                ),
                Ok(None) => "empty".to_string(),
                Err(_) => format!("{:?}", e.get_entry_type()),
            };
            log::error!("raft entry {} term {}: {desc}", e.index, e.term);
        }
    }

    fn conf_change(&mut self, cc: &ConfChange) -> Result<()> {
        let cs = self.raw.apply_conf_change(cc)?;
        self.shared.store.set_conf_state(cs)?;
        let id = cc.node_id;
        match cc.get_change_type() {
            ConfChangeType::AddNode | ConfChangeType::AddLearnerNode => {
                if id != self.shared.id {
                    let addr = String::from_utf8_lossy(&cc.context).into_owned();
                    self.shared.transport.add_peer(id, &addr);
                }
            }
            ConfChangeType::RemoveNode => {
                if id != self.shared.id {
                    self.shared.transport.remove_peer(id);
                }
            }
        }
        for r in self.admin.remove(&id).unwrap_or_default() {
            let _ = r.send(Ok(()));
        }
        Ok(())
    }

    /// Moves between following, starting and serving as Raft's state says.
    fn transitions(&mut self) -> Result<()> {
        let leader = self.raw.raft.state == StateRole::Leader;
        match (&self.lead, leader) {
            (Lead::No, true) => {
                self.lead = Lead::Starting {
                    until: self.raw.raft.raft_log.last_index(),
                };
            }
            (Lead::Starting { .. }, false) => self.lead = Lead::No,
            (Lead::Serving { .. }, false) => self.stop_serving(),
            _ => {}
        }
        if let Lead::Starting { until } = self.lead
            && self.raw.raft.raft_log.applied >= until
        {
            self.start_serving();
        }
        Ok(())
    }

    /// The stream has new writes: propose them now, or hold them for the rest of their cohort
    /// (`batch.rs`).
    fn stream_ready(&mut self) {
        if matches!(self.lead, Lead::Serving { .. }) {
            let committed = self.raw.raft.raft_log.committed;
            if let Decision::Hold(until) = self.cohort.decide(committed, Instant::now()) {
                // The hook speaks again once the cohort is in; an append before this store
                // found the flag set and said nothing, so look again after it.
                self.stream_pending.store(false, Ordering::SeqCst);
                if !self.cohort.recheck() {
                    self.hold_until = Some(until);
                    return;
                }
            }
        }
        self.hold_until = None;
        self.propose_stream();
    }

    /// Proposes what the stream holds that is not proposed yet, as one entry (the Raft
    /// thread reads it when an append woke it: everything appended since joins one
    /// proposal).
    fn propose_stream(&mut self) {
        self.stream_pending.store(false, Ordering::SeqCst);
        let leading = self.raw.raft.state == StateRole::Leader;
        let now = self.raw.raft.term;
        let Lead::Serving {
            reader, next, term, ..
        } = &mut self.lead
        else {
            return;
        };
        if !leading || now != *term {
            // Leadership went: what the stream holds must not be proposed (a follower's
            // raft-rs forwards a proposal to the leader, whose stream this is not).
            self.stop_serving();
            return;
        }
        let start = reader.position();
        let mark = self.cohort.mark();
        let mut bytes = Vec::new();
        match reader.read(&mut bytes, usize::MAX, Duration::ZERO) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) => {
                log::error!(
                    "raft node {}: cannot read the stream ({e}); rebuilding",
                    self.shared.id
                );
                self.stop_serving();
                return;
            }
        }
        if start != *next {
            log::error!(
                "raft node {}: the stream jumped from offset {} to {start}; rebuilding",
                self.shared.id,
                *next
            );
            self.stop_serving();
            return;
        }
        *next = start + bytes.len() as u64;
        if self
            .raw
            .propose(vec![], encode_entry(start, &bytes))
            .is_err()
        {
            // Executed here but not in the log: serving must stop and the store be
            // rebuilt (the leader may then start serving again).
            log::warn!("raft proposal refused; rebuilding the store");
            self.stop_serving();
            return;
        }
        self.cohort
            .proposed(self.raw.raft.raft_log.last_index(), mark);
    }

    fn start_serving(&mut self) {
        let s = &*self.shared;
        let offset = self.machine.offset();
        let db = self.machine.selected_db();
        let repl = s.kv.replication();
        // The stream continues where the log is, under a new ID; its first command selects.
        if let Err(e) = repl.reset(&replid(s.id, self.raw.raft.term), offset) {
            log::error!("raft node {}: cannot start the stream: {e}", s.id);
            return;
        }
        repl.set_reader_limit(0);
        let Some(reader) = repl.reader(offset + 1) else {
            log::error!("raft node {}: cannot read the stream", s.id);
            return;
        };
        s.committed_offset.fetch_max(offset, Ordering::SeqCst);
        // Appends wake the Raft thread, which reads the stream itself (no thread of its own
        // in between: one wake-up less per round on the write path). Hooked before anything
        // is generated, so that no append goes unannounced.
        let pending = Arc::clone(&self.stream_pending);
        let arrivals = Arc::clone(&self.arrivals);
        self.cohort.reset();
        let events = s.events.lock().clone();
        repl.set_on_append(Some(Arc::new(move || {
            if arrivals.arrived() && !pending.swap(true, Ordering::SeqCst) {
                let _ = events.send(Event::StreamReady);
            }
        })));
        // Generating before expiring: every deletion from now on is in the stream.
        repl.set_generating(true);
        s.kv.set_passive_expiry(false);
        self.lead = Lead::Serving {
            db,
            reader,
            next: offset + 1,
            term: self.raw.raft.term,
        };
        s.epoch.fetch_add(1, Ordering::SeqCst);
        s.serving.store(true, Ordering::SeqCst);
        log::info!(
            "raft node {} leads term {} from stream offset {offset}",
            s.id,
            self.raw.raft.term
        );
        for h in s.on_leading.lock().iter() {
            h();
        }
        s.wake();
    }

    /// Stops serving: no new command runs here, the running ones finish, and the store goes
    /// back to what the committed log says.
    fn stop_serving(&mut self) {
        let Lead::Serving { db, reader, .. } = std::mem::replace(&mut self.lead, Lead::No) else {
            self.lead = Lead::No;
            return;
        };
        let shared = Arc::clone(&self.shared);
        let s = &*shared;
        s.serving.store(false, Ordering::SeqCst);
        s.epoch.fetch_add(1, Ordering::SeqCst);
        s.wake();
        // Nothing appended from now on is proposed.
        s.kv.replication().set_on_append(None);
        self.hold_until = None;
        self.cohort.reset();
        drop(reader);
        for h in s.on_step_down.lock().iter() {
            h();
        }
        let mut waited = Instant::now();
        while s.inflight.load(Ordering::SeqCst) > 0 {
            thread::sleep(Duration::from_millis(1));
            if waited.elapsed() > Duration::from_secs(5) {
                log::warn!("raft node {}: still waiting for commands to finish", s.id);
                waited = Instant::now();
            }
        }
        // No key expires here from now on: passive expiry, then every shard locked once so
        // that an active-expiry cycle already past its check has finished (its deletions are
        // in the stream, still generating, and so counted in `executed`).
        s.kv.set_passive_expiry(true);
        let barrier = s.kv.transaction(kvcore::Scope::Everything, |_| Ok(()));
        if let Err(e) = barrier {
            log::warn!("raft node {}: the expiry barrier failed: {e}", s.id);
        }
        let repl = s.kv.replication();
        repl.set_generating(false);
        let executed = repl.offset();
        let committed = s.committed_offset.load(Ordering::SeqCst);
        log::info!(
            "raft node {} stops leading (stream at {executed}, committed {committed})",
            s.id
        );
        if executed > committed {
            if let Err(e) = self.rebuild() {
                log::error!("raft node {}: rebuilding the store failed: {e}", s.id);
                s.failed.store(true, Ordering::SeqCst);
            }
        } else {
            let db = repl.selected_db().unwrap_or(db);
            self.machine.continue_at(executed, db);
        }
    }

    /// The store from the newest snapshot and the committed log.
    fn rebuild(&mut self) -> Result<()> {
        let store = self.shared.store.clone();
        self.machine.clear()?;
        let mut from = store.first_index();
        if let Some(index) = load_newest(&store, &mut self.machine)? {
            from = index + 1;
        }
        let to = self.raw.raft.raft_log.applied;
        let mut next = from;
        while next <= to {
            let batch = store.entries(
                next,
                to + 1,
                Some(16 << 20),
                GetEntriesContext::empty(false),
            )?;
            if batch.is_empty() {
                break;
            }
            for e in &batch {
                if e.get_entry_type() == EntryType::EntryNormal {
                    self.machine.apply(&e.data)?;
                }
                next = e.index + 1;
            }
        }
        self.shared
            .committed_offset
            .store(self.machine.offset(), Ordering::SeqCst);
        log::info!(
            "raft node {} rebuilt its store up to index {to} (stream offset {})",
            self.shared.id,
            self.machine.offset()
        );
        Ok(())
    }

    /// Publishes Raft's state for `status` and wakes waiters when the leader changed.
    fn publish(&mut self) {
        let s = &*self.shared;
        let r = &self.raw.raft;
        let role = match r.state {
            StateRole::Follower => Role::Follower,
            StateRole::PreCandidate => Role::PreCandidate,
            StateRole::Candidate => Role::Candidate,
            StateRole::Leader => Role::Leader,
        };
        s.set_role(role);
        s.term.store(r.term, Ordering::Relaxed);
        s.commit.store(r.raft_log.committed, Ordering::Relaxed);
        let old = s.leader.swap(r.leader_id, Ordering::Relaxed);
        if old != r.leader_id {
            s.wake();
        }
        let cs = s.store.conf_state();
        let mut peers = Vec::with_capacity(cs.voters.len() + cs.learners.len());
        for (ids, voter) in [(&cs.voters, true), (&cs.learners, false)] {
            for &id in ids {
                let matched = if r.state == StateRole::Leader {
                    r.prs().get(id).map_or(0, |p| p.matched)
                } else {
                    0
                };
                peers.push(PeerStatus {
                    id,
                    addr: s.transport.peer_addr(id).unwrap_or_default(),
                    matched,
                    voter,
                });
            }
        }
        *s.peers.lock() = peers;
    }

    /// Compacts the log once it holds enough entries: a follower snapshots its store between
    /// two entries; a serving leader has a thread take a point-in-time copy (the full sync's
    /// capture), labelled with the last entry it covers once that one is committed.
    fn maybe_snapshot(&mut self) -> Result<()> {
        let s = &*self.shared;
        if let Some((offset, _)) = &self.pending_snapshot
            && s.committed_offset.load(Ordering::SeqCst) >= *offset
        {
            let (offset, file) = self.pending_snapshot.take().expect("checked above");
            // The last entry it covers whole: the one before the first that ends past it, or
            // everything applied when none does.
            let index = match self.ends.iter().find(|(_, end)| *end > offset) {
                Some((i, _)) => i - 1,
                None => self.raw.raft.raft_log.applied,
            };
            // Past the newest snapshot (the log keeps some entries before it, so its first
            // index says nothing about that).
            if index > s.store.snapshot_index_term().0 {
                self.compact_in_background(index, file);
            } else {
                let _ = std::fs::remove_file(&file);
                self.snapshotting = false;
            }
            return Ok(());
        }
        let wanted = self.wanted.load(Ordering::SeqCst);
        if self.snapshotting
            || self.pending_snapshot.is_some()
            || !wanted && s.store.entry_count() < s.opts.snapshot_entries
        {
            return Ok(());
        }
        self.wanted.store(false, Ordering::SeqCst);
        // The copy is taken here, at one instant (the full sync's barrier: every shard
        // locked once), and written out on a thread (writers meanwhile dump a shard before
        // changing it), so the Raft thread never stops for the size of the store.
        match self.lead {
            Lead::Serving { .. } => {
                let mut sync = s.kv.replication().full_sync();
                let offset = sync.offset();
                // Its label is not known yet, and the label comes first in a snapshot file:
                // the data waits in a file of its own (a `snap-*.tmp`, removed at open).
                let file = s
                    .opts
                    .dir
                    .join(format!("snap-capture-{offset}.raftsnap.tmp"));
                self.background("raft-snapshot", move |events| {
                    let written = std::fs::File::create(&file).and_then(|f| {
                        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
                        // The stream selects again right after a full sync's offset.
                        w.write_all(&snapshot_header(offset, 0))?;
                        sync.write_rdb(&mut w).map_err(std::io::Error::other)?;
                        w.flush()
                    });
                    match written {
                        // Labelled by the Raft thread once its offset is committed.
                        Ok(()) => events.send(Event::Snapshot { offset, file }),
                        Err(e) => {
                            log::error!("raft snapshot failed: {e}");
                            let _ = std::fs::remove_file(&file);
                            events.send(Event::Snapshotted)
                        }
                    }
                });
            }
            Lead::No | Lead::Starting { .. } => {
                let index = self.raw.raft.raft_log.applied;
                if index > s.store.snapshot_index_term().0 && !self.machine.has_pending() {
                    // Only this thread writes a follower's store: the copy is exactly the
                    // applied log.
                    let mut sync = s.kv.replication().full_sync();
                    let header = snapshot_header(self.machine.offset(), self.machine.selected_db());
                    let store = s.store.clone();
                    let cs = store.conf_state();
                    self.background("raft-snapshot", move |events| {
                        // Streamed into the snapshot file as the RDB is written.
                        compact(&store, index, cs, |w| {
                            w.write_all(&header)?;
                            sync.write_rdb(w).map_err(std::io::Error::other)?;
                            Ok(())
                        });
                        events.send(Event::Snapshotted)
                    });
                }
            }
        }
        Ok(())
    }

    /// Writes a snapshot labelled `index` from the data in `file` (copied in pieces) and
    /// compacts the log, on a thread; then removes `file`.
    fn compact_in_background(&mut self, index: u64, file: PathBuf) {
        let store = self.shared.store.clone();
        let cs = store.conf_state();
        self.background("raft-compact", move |events| {
            compact(&store, index, cs, |w| {
                let mut data = std::fs::File::open(&file)?;
                std::io::copy(&mut data, w).map(|_| ())
            });
            let _ = std::fs::remove_file(&file);
            events.send(Event::Snapshotted)
        });
    }

    /// Runs `work` on a thread of its own, one snapshot at a time: it reports to the Raft
    /// thread through the sender it gets, and `Event::Snapshotted` lets the next one start.
    fn background(
        &mut self,
        name: &str,
        work: impl FnOnce(&Sender<Event>) -> std::result::Result<(), SendError<Event>> + Send + 'static,
    ) {
        let events = self.shared.events.lock().clone();
        self.snapshotting = true;
        let spawned = thread::Builder::new().name(name.into()).spawn(move || {
            // A send fails only when the node has stopped: nothing waits for it then.
            let _ = work(&events);
        });
        if spawned.is_err() {
            self.snapshotting = false;
        }
    }
}

/// `LogStore::compact`, its failures logged: a snapshot overtaken by a newer one (the
/// leader's, installed meanwhile) is simply not needed; anything else leaves the store
/// refusing writes, which stops the node at its next round.
fn compact(
    store: &LogStore,
    index: u64,
    cs: ConfState,
    data: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) {
    match store.compact_with(index, cs, data) {
        Ok(()) => {}
        Err(Error::CompactOutOfRange { .. }) => {}
        Err(e) => log::error!("raft log compaction at index {index} failed: {e}"),
    }
}

/// Loads the store's newest snapshot into the machine, parsed in place from its file mapped
/// into memory (its CRC checked first); returns its index (`None`: no snapshot).
fn load_newest(store: &LogStore, machine: &mut Machine) -> Result<Option<u64>> {
    let Some(reader) = store.open_snapshot()? else {
        return Ok(None);
    };
    let snap = reader.map()?;
    machine.load(snap.data())?;
    Ok(Some(snap.metadata().index))
}

/// A replication ID for this node's term as leader (40 hex digits).
fn replid(id: u64, term: u64) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(id);
    h.write_u64(term);
    let a = h.finish();
    h.write_u64(a);
    let b = h.finish();
    format!("{a:016x}{b:016x}{:08x}", (id ^ term) as u32)
}
