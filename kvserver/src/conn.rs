//! One connection: read, decode every complete request, execute in order, one write per batch.
//! A request split over many reads is decoded incrementally (`kvproto::RequestDecoder`).
//!
//! Hot path invariants: the read buffer and the reply buffer are reused for the life of the
//! connection; a request's arguments borrow the read buffer; command lookup and dispatch
//! allocate nothing; all replies of a batch go out in one `write`, except that a batch whose
//! replies pass [`FLUSH_AT`] bytes is flushed early so one pipeline cannot pin unbounded memory.

use std::any::Any;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kvproto::{Limits, Request, RequestDecoder, Status, Version, Writer};

use crate::cmd::Ctx;
use crate::cmd::table::{self, Flags, Handler, TABLE};
use crate::log::{verbose, warning};
use crate::registry::ClientHandle;
use crate::shared::Shared;
use crate::stats::Counter;
use crate::wire::Wire;

/// The size the read buffer grows to while reads fill it; past it, it grows only for a request
/// that does not fit, and gives the excess back once its requests are done.
const READ_CHUNK: usize = 16 * 1024;
/// The read buffer's starting size: an idle connection holds this much, not [`READ_CHUNK`]
/// (ARCHITECTURE.md, "What an idle connection costs").
const FIRST_READ: usize = 1024;
/// A batch's replies are written out early once they pass this size.
const FLUSH_AT: usize = 64 * 1024;
/// A reply buffer that grew past this is given back after its batch.
const KEEP_OUT: usize = 1024 * 1024;

/// What CLIENT REPLY asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReplyMode {
    On,
    Off,
    /// CLIENT REPLY SKIP was just run: drop its own reply, then the next command's.
    SkipThis,
    SkipNext,
}

/// A connection's state that commands read and change.
pub(crate) struct Session {
    pub(crate) shared: Arc<Shared>,
    pub(crate) handle: Arc<ClientHandle>,
    pub(crate) db_index: usize,
    /// The connection's batch: its writes are committed once per request batch, right before
    /// the replies go out (see `Conn::end_batch`).
    pub(crate) writes: kvcore::Batch,
    /// The selected database, a handle of `writes`.
    pub(crate) db: kvcore::Db,
    pub(crate) version: Version,
    pub(crate) authenticated: bool,
    /// The ACL user this connection runs as (`acl/mod.rs`).
    pub(crate) user: crate::acl::SessionUser,
    pub(crate) reply: ReplyMode,
    /// Close the connection once the replies so far are written (QUIT, a killed client).
    pub(crate) close: bool,
    /// The transaction MULTI opened, until EXEC or DISCARD.
    pub(crate) multi: Option<crate::cmd::Transaction>,
    /// The last transaction's allocations, for the next MULTI.
    pub(crate) spare_transaction: crate::cmd::Transaction,
    /// The keys WATCH registered, until EXEC, DISCARD, UNWATCH or RESET.
    pub(crate) watch: Option<kvcore::Watch>,
    /// While EXEC runs: the store as the transaction sees it (SELECT takes its handles).
    pub(crate) exec: Option<kvcore::Kv>,
    /// While EXEC runs: the `db` handle it replaced, which it gets back after (each handle
    /// made or dropped is a write to the store's shared reference count).
    outside: Option<kvcore::Db>,
    /// Subscriptions, and whether this client's output goes through its queue (`pubsub.rs`).
    pub(crate) pubsub: crate::pubsub::ClientPubsub,
    /// Table indexes of the commands run in the current batch, for their share of its time.
    batch: Vec<u16>,
    /// The running command is still to be shown to the monitors (`monitor.rs`).
    monitor_pending: bool,
    /// A script is running this session's commands (Redis's `CLIENT_SCRIPT`): MONITOR shows
    /// them as `lua`'s, and XREAD refuses BLOCK, as Redis does.
    pub(crate) in_script: bool,
    /// This batch showed commands to the monitors: flush them at its end.
    monitor_flush: bool,
    /// A monitor's own command, shown once its reply is queued (Redis shows it after).
    own_line: Option<Vec<u8>>,
    /// CLIENT TRACKING's mode while on (`tracking.rs`).
    pub(crate) tracking: Option<crate::tracking::Mode>,
    /// CLIENT CACHING yes/no was given for the next command.
    pub(crate) caching: bool,
    /// CLIENT NO-TOUCH: this client's reads leave the keys' access clocks alone.
    pub(crate) no_touch: bool,
    /// The running command ended in a way Redis counts as a failed call although it answers no
    /// error (a wait ended by `CLIENT UNBLOCK id TIMEOUT`: `cmd/blocking.rs`).
    pub(crate) count_failed: bool,
    /// Memory was over `maxmemory` when the running command started (Redis's
    /// `pre_command_oom_state`; a script checks it at its first write).
    pub(crate) oom: bool,
    /// This session applies a primary's replication stream (Redis's `CLIENT_MASTER`): it
    /// bypasses the read-only, ACL, OOM and busy-script checks (`replica/link.rs`).
    pub(crate) master: bool,
    /// What REPLCONF said before PSYNC (`repl/`).
    pub(crate) handshake: crate::repl::Handshake,
    /// PSYNC or SYNC succeeded: the connection becomes a replica's stream feeder after this
    /// batch (`repl::serve`).
    pub(crate) replica_start: Option<crate::repl::Start>,
    /// A replicated store (`Shared::coordinator`, the Raft mode): the epoch the first command
    /// of this batch ran in on the leader (the batch's replies wait for it to settle), the
    /// connection to the leader a follower forwards this client's commands over, and whether
    /// a transaction or watch went over it.
    pub(crate) raft_epoch: Option<u64>,
    /// Where the stream ended after the batch's last leader-run data command appended its
    /// effects (`None`: that command wrote nothing), for `Coordinator::settle`.
    pub(crate) raft_own_append: Option<u64>,
    pub(crate) upstream: Option<Box<crate::raft::Upstream>>,
    pub(crate) forwarded_state: bool,
    /// Raft mode: the user and password this client authenticated with, which a follower
    /// replays on its link to the leader so that forwarded commands (and the scripts among
    /// them) run there as this client's user.
    pub(crate) forward_creds: Option<Box<crate::raft::Creds>>,
}

impl Session {
    pub(crate) fn new(shared: Arc<Shared>, handle: Arc<ClientHandle>) -> Session {
        let writes = shared.kv.batch();
        // Database 0 always exists: the config check refuses `databases 0`.
        let db = writes.db(0).expect("database 0 exists");
        Session {
            writes,
            authenticated: !shared.requires_auth(),
            user: crate::acl::SessionUser::new(&shared.acl),
            shared,
            handle,
            db_index: 0,
            db,
            version: Version::Resp2,
            reply: ReplyMode::On,
            close: false,
            multi: None,
            spare_transaction: crate::cmd::Transaction::default(),
            watch: None,
            exec: None,
            outside: None,
            pubsub: crate::pubsub::ClientPubsub::default(),
            batch: Vec::with_capacity(64),
            monitor_pending: false,
            in_script: false,
            monitor_flush: false,
            own_line: None,
            tracking: None,
            caching: false,
            no_touch: false,
            count_failed: false,
            oom: false,
            master: false,
            handshake: crate::repl::Handshake::default(),
            replica_start: None,
            raft_epoch: None,
            raft_own_append: None,
            upstream: None,
            forwarded_state: false,
            forward_creds: None,
        }
    }

    /// Whether this client must still authenticate (Redis's `authRequired`): it has not, and
    /// the server has a password right now. A password removed by `CONFIG SET requirepass ""`
    /// lets clients that never authenticated through at once, as in Redis; one set later
    /// applies to them again.
    #[inline]
    pub(crate) fn auth_required(&self) -> bool {
        !self.authenticated && self.shared.requires_auth()
    }

    /// A handle to database `index` for this connection: of its batch, or, while EXEC runs,
    /// of the transaction.
    pub(crate) fn select_db(&self, index: usize) -> kvcore::Result<kvcore::Db> {
        match &self.exec {
            Some(kv) => kv.db(index),
            None => self.writes.db(index),
        }
    }

    /// Whether EXEC is running this connection's queued commands (blocking commands do not
    /// block then).
    pub(crate) fn in_exec(&self) -> bool {
        self.exec.is_some()
    }

    /// Starts running queued commands inside the transaction whose store handle is `kv`.
    pub(crate) fn enter_exec(&mut self, kv: kvcore::Kv) -> kvcore::Result<()> {
        let inside = kv.db(self.db_index)?;
        self.outside = Some(std::mem::replace(&mut self.db, inside));
        self.exec = Some(kv);
        Ok(())
    }

    /// Back from EXEC: the selected database (a queued SELECT applies) as a handle of the
    /// connection's batch again.
    pub(crate) fn leave_exec(&mut self) {
        self.exec = None;
        self.db = match self.outside.take() {
            Some(db) if db.index() == self.db_index => db,
            // A queued SELECT chose another database.
            // The index came from a successful SELECT (or the start): it exists.
            _ => self
                .writes
                .db(self.db_index)
                .expect("the selected database exists"),
        };
    }

    /// Forgets every watched key.
    pub(crate) fn unwatch(&mut self) {
        self.watch = None;
        self.handle.set_watched(0);
    }

    /// Remembers that a command was rejected while a transaction is open (EXEC then answers
    /// EXECABORT, as in Redis).
    pub(crate) fn fail_transaction(&mut self) {
        if let Some(tx) = &mut self.multi {
            tx.fail();
        }
        if let Some(up) = &mut self.upstream {
            up.fail();
        }
    }

    /// Executes one request, appending its reply (if any) to `out`.
    pub(crate) fn execute(&mut self, req: &Request<'_>, out: &mut Vec<u8>) {
        // Only consecutive scripts keep the order gate a script took (see `cmd::script`).
        if crate::cmd::gate_held() && !crate::cmd::keeps_gate(req) {
            crate::cmd::release_gate();
        }
        let mark = out.len();
        self.run(req, out);
        // CLIENT REPLY: errors, unknown commands and arity errors included, as in Redis.
        match self.reply {
            ReplyMode::On => {}
            ReplyMode::Off => out.truncate(mark),
            ReplyMode::SkipThis => {
                out.truncate(mark);
                self.reply = ReplyMode::SkipNext;
            }
            ReplyMode::SkipNext => {
                out.truncate(mark);
                self.reply = ReplyMode::On;
            }
        }
        // A queued client's reply joins its queue now, behind the messages that arrived before
        // it and ahead of those that arrive after (see `pubsub.rs`).
        if self.pubsub.queued && !self.pubsub.queue_reply(&self.shared, &self.handle, out) {
            self.close = true;
        }
        if let Some(line) = self.own_line.take() {
            self.shared.monitors.feed(&self.shared, &line);
        }
        if self.shared.tracking.active() {
            self.shared.tracking.after_command(&self.shared);
            // CLIENT CACHING lasts for the next command (any CLIENT subcommand and a
            // transaction's queueing keep it), as Redis's `resetClient`.
            if self.multi.is_none() && !req.arg(0).eq_ignore_ascii_case(b"client") {
                self.caching = false;
            }
        }
    }

    fn run(&mut self, req: &Request<'_>, out: &mut Vec<u8>) {
        let Some(idx) = table::lookup(req.arg(0)) else {
            let msg = crate::cmd::unknown_command(req);
            self.refuse_unknown(&msg, out);
            return;
        };
        let cmd = &TABLE[idx];
        // A container named with a subcommand it lacks is no command at all, as Redis's
        // `commandCheckExistence` finds before anything else: answered before NOAUTH, ACL
        // and the subscriber's restrictions, never queued, counted in no `cmdstat` line.
        let Some(slot) = table::known_slot(idx, req) else {
            let msg = crate::cmd::unknown_subcommand(cmd.name, req.arg(1));
            self.refuse_unknown(&msg, out);
            return;
        };
        // A subcommand's arity too is checked here, so its errors count as rejected calls of
        // `config|get`, as in Redis.
        let checked = table::stat_command(slot);
        if !cmd.arity_ok(req.len()) || !checked.arity_ok(req.len()) {
            let name = if cmd.arity_ok(req.len()) {
                checked.name
            } else {
                cmd.name
            };
            self.reject(slot, req, out, crate::cmd::arity_error(name).as_bytes());
            self.fail_transaction();
            return;
        }
        if let Some(msg) = crate::cmd::protected_refusal(self, cmd) {
            self.reject(slot, req, out, msg.as_bytes());
            self.fail_transaction();
            return;
        }
        if !cmd.flags.has(Flags::NO_AUTH) && self.auth_required() {
            self.reject(slot, req, out, b"NOAUTH Authentication required.");
            self.fail_transaction();
            return;
        }
        if !self.master && !crate::acl::permit(self, slot, req, out) {
            return;
        }
        // A replicated store (the Raft mode): the coordinator says where data commands run;
        // a follower forwards them. (The handle is cloned only in that mode: a shared count
        // touched by every command of every connection would cost the others.)
        let coordinated = (self.shared.coordinator.get().is_some() && !self.master)
            .then(|| Arc::clone(&self.shared));
        let mut forward = coordinated.is_some() && crate::raft::forwards(table::stat_command(slot));
        if coordinated.is_some() && !forward && self.upstream.as_ref().is_some_and(|u| u.in_multi())
        {
            match crate::raft::in_forwarded_multi(cmd) {
                Some(to_leader) => forward = to_leader,
                None => {
                    self.reject(slot, req, out, crate::raft::NOT_IN_FORWARDED_MULTI);
                    self.fail_transaction();
                    return;
                }
            }
        }
        let mut _serving = None;
        if let Some(shared) = &coordinated
            && let Some(coordinator) = shared.coordinator.get()
            && forward
        {
            match coordinator.route() {
                kvcore::Route::Local(serve) => {
                    if self.forwarded_state {
                        // A transaction begun on another leader cannot go on here.
                        self.close = true;
                        return;
                    }
                    self.upstream = None;
                    self.raft_epoch.get_or_insert(serve.epoch());
                    self.shared.kv.take_own_append();
                    _serving = Some(serve);
                }
                kvcore::Route::Forward(to) => {
                    if self.multi.is_some() || self.watch.is_some() {
                        // Begun while this node led: it no longer does.
                        self.close = true;
                        return;
                    }
                    self.handle.counters.add(Counter::Commands, 1);
                    crate::raft::forward(self, &to, req, out);
                    return;
                }
                kvcore::Route::Unavailable => {
                    self.reject(slot, req, out, crate::raft::TRYAGAIN);
                    self.fail_transaction();
                    return;
                }
            }
        }
        // After the routing: a follower never evicts (its store follows the log); the leader
        // checks the commands it runs, forwarded ones included.
        let follower = coordinated
            .as_ref()
            .is_some_and(|s| s.coordinator.get().is_some_and(|c| !c.serving()));
        if !self.master && !follower && self.refused_for_memory(idx, slot) {
            self.reject(slot, req, out, crate::memory::OOM);
            self.fail_transaction();
            return;
        }
        // min-replicas-to-write (one relaxed load when it is off), then a read-only replica:
        // both refuse clients' writes in Redis's order; a primary's stream goes through.
        let write = table::stat_command(slot).flags.has(Flags::WRITE);
        if !self.master && write && self.shared.repl.refuses_writes() {
            self.reject(slot, req, out, crate::repl::NOREPLICAS);
            self.fail_transaction();
            return;
        }
        if !self.master && crate::replica::refuses_write(&self.shared, write) {
            self.reject(slot, req, out, crate::replica::READONLY);
            self.fail_transaction();
            return;
        }
        if self.pubsub.subscribed
            && self.version == Version::Resp2
            && !crate::cmd::allowed_when_subscribed(cmd.name)
        {
            let msg = crate::cmd::refused_when_subscribed(table::stat_command(slot).name);
            self.reject(slot, req, out, msg.as_bytes());
            return;
        }
        // A replica whose link is down (replica-serve-stale-data no) or that is loading its
        // primary's data refuses the commands that need the data.
        if !self.master && self.shared.replica.enabled() {
            let flags = table::stat_command(slot).flags;
            if let Some(msg) = crate::replica::refuses_data(
                &self.shared,
                flags.has(Flags::STALE),
                flags.has(Flags::LOADING),
            ) {
                self.reject(slot, req, out, msg);
                self.fail_transaction();
                return;
            }
        }
        // A monitor counts as a replica in Redis: it may not touch the keyspace.
        if self.pubsub.monitor && table::stat_command(slot).flags.any(Flags::KEYSPACE) {
            self.reject(
                slot,
                req,
                out,
                b"ERR Replica can't interact with the keyspace",
            );
            self.fail_transaction();
            return;
        }
        // A script that has run past busy-reply-threshold holds the others off, as in
        // Redis, except for what ends it (SCRIPT KILL, SHUTDOWN NOSAVE) and transactions.
        // `overdue` is one load; `running_for` looks at every interpreter and the clock.
        if !self.master
            && self.shared.scripts.overdue()
            && let Some(ms) = self.shared.scripts.running_for()
        {
            let limit = self.shared.scripts.busy_threshold();
            if limit > 0
                && ms >= limit
                && !cmd.flags.has(Flags::ALLOW_BUSY)
                && !table::stat_command(slot).flags.has(Flags::ALLOW_BUSY)
            {
                let busy = crate::cmd::busy(&self.shared.scripts);
                self.reject(slot, req, out, busy.as_bytes());
                self.fail_transaction();
                return;
            }
        }
        // CLIENT PAUSE: the command waits here, before it is queued or run, as Redis
        // postpones it in `processCommand`.
        if self.shared.pause.active() && !self.master {
            if !self.wait_for_pause(idx, slot) {
                self.close = true;
                return;
            }
            // A FAILOVER may have made this server a replica meanwhile: the held command is
            // checked again, as Redis processes a postponed command anew.
            let writes =
                write || (cmd.name == "exec" && self.multi.as_ref().is_some_and(|tx| tx.writes()));
            if crate::replica::refuses_write(&self.shared, writes) {
                self.reject(slot, req, out, crate::replica::READONLY);
                self.fail_transaction();
                return;
            }
        }
        if self.multi.is_some() && self.queue(idx, slot, req, out) {
            return;
        }
        self.call(idx, slot, req, out);
        if _serving.is_some() {
            // Where the stream ended after the command's reads, if its last operation wrote.
            self.raft_own_append = self.shared.kv.take_own_append();
        }
    }

    /// Waits while CLIENT PAUSE holds this command (ALL: any; WRITE: `write`/`may_replicate`
    /// ones, EXEC by its queued commands); false if the client was killed meanwhile. The
    /// replies of the batch so far are sent at its end, after the wait.
    #[cold]
    fn wait_for_pause(&mut self, idx: usize, slot: usize) -> bool {
        crate::cmd::release_gate();
        let flags = table::stat_command(slot).flags;
        let writes = if TABLE[idx].name == "exec" {
            self.multi.as_ref().is_some_and(|tx| tx.writes())
        } else {
            flags.any(Flags::PAUSED_BY_WRITE)
        };
        let _waiting = Waiting::enter();
        let handle = Arc::clone(&self.handle);
        self.shared.pause.wait(
            writes,
            || {
                // As Redis shows a postponed client: blocked, in the command it holds.
                handle.last_cmd.store(slot, Ordering::Relaxed);
                handle.mark_blocked()
            },
            || handle.is_killed() || handle.peer_closed(),
        )
    }

    /// Inside MULTI: queues the command (answering `+QUEUED`) or rejects it, as Redis does;
    /// false for the commands that run at once (EXEC, DISCARD, MULTI, WATCH, QUIT, RESET).
    fn queue(&mut self, idx: usize, slot: usize, req: &Request<'_>, out: &mut Vec<u8>) -> bool {
        let cmd = &TABLE[idx];
        if matches!(
            cmd.name,
            "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
        ) {
            return false;
        }
        if table::stat_command(slot).flags.has(Flags::NO_MULTI) {
            self.reject(
                slot,
                req,
                out,
                b"ERR Command not allowed inside a transaction",
            );
            self.fail_transaction();
            return true;
        }
        let limit = self.shared.live.query_buffer_limit.load(Ordering::Relaxed);
        let Some(tx) = &mut self.multi else {
            return false;
        };
        if !tx.queue(idx, slot, req, limit) {
            let msg: &[u8] = b"ERR transaction discarded: its queued commands passed the client \
                               query buffer limit";
            self.reject(slot, req, out, msg);
            return true;
        }
        let queued = tx.len() as i64;
        self.handle.set_multi(queued);
        Writer::new(out, self.version).simple(b"QUEUED");
        true
    }

    /// Runs a command that passed the dispatcher's checks: its handler, then (for a write)
    /// the blocked clients it may serve, its error reply and its statistics. EXEC runs its
    /// queued commands through here.
    pub(crate) fn call(&mut self, idx: usize, slot: usize, req: &Request<'_>, out: &mut Vec<u8>) {
        let cmd = &TABLE[idx];
        let mark = out.len();
        // CLIENT LIST's `cmd`: the client's own command (EXEC, EVAL), not those it runs.
        if !self.in_exec() {
            self.handle.last_cmd.store(slot, Ordering::Relaxed);
        }
        let handler = self.handler(slot);
        // EXEC's own line waits while the commands it runs show theirs.
        let outer = std::mem::replace(
            &mut self.monitor_pending,
            self.shared.monitors.active()
                && !table::stat_command(slot).flags.any(Flags::UNMONITORED),
        );
        // One clock read pair, only when the slow log or the latency monitor wants it: the
        // time-stamp counter's (quanta), a third of the cost of the OS clock's.
        let timed = (self.shared.slowlog.enabled() || self.shared.latency.enabled()).then(|| {
            (
                quanta::Instant::now(),
                self.handle.blocked_usec.load(Ordering::Relaxed),
            )
        });
        // A panicking command answers an error to its own client, which stays connected; other
        // clients never notice (see `answer_panic`). Free when nothing panics.
        // CLIENT NO-TOUCH: reads do not count as accesses, except TOUCH's.
        let no_touch = self.no_touch && cmd.name != "touch";
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            if no_touch {
                kvcore::no_touch(|| handler(&mut Ctx { s: self, out }, req))
            } else {
                handler(&mut Ctx { s: self, out }, req)
            }
        }));
        if let Some((started, blocked_before)) = timed {
            self.record_duration(slot, req, started, blocked_before);
        }
        // A write command that panicked may still have changed a key someone waits on. Inside
        // EXEC, EXEC serves them once the transaction's locks are released.
        // A container's subcommand decides (XGROUP DESTROY is a write that wakes readers).
        let write = table::stat_command(slot).flags.has(Flags::WRITE);
        if write && !matches!(outcome, Ok(Err(_))) && !self.in_exec() {
            self.shared.waiters.serve();
        }
        let failed = match outcome {
            Ok(Ok(())) => false,
            Ok(Err(e)) => {
                // A handler that failed part-way must not leave half a reply behind.
                out.truncate(mark);
                crate::cmd::write_error(&mut Writer::new(out, self.version), cmd.name, e);
                self.handle.counters.add(Counter::Errors, 1);
                self.shared.errors.record(&out[mark..]);
                true
            }
            Err(payload) => {
                #[cfg(test)]
                if payload.is::<tests::EscapeHandler>() {
                    panic::resume_unwind(payload);
                }
                out.truncate(mark);
                self.answer_panic(table::stat_command(slot).name, &*payload, out);
                true
            }
        };
        if let Some(mode) = self.tracking
            && !mode.bcast
        {
            self.remember_keys(mode, slot, req);
        }
        self.feed_monitors(req);
        self.monitor_pending = outer;
        let failed = failed | std::mem::take(&mut self.count_failed);
        self.handle.stats.record(slot, failed);
        // There are far fewer than 65 536 statistics slots (a unit test checks it).
        self.batch.push(slot as u16);
    }

    /// After a read-only command of a tracking client: remembers the keys it named (by the
    /// key specifications, as Redis's `trackingRememberKeys`), unless OPTIN/OPTOUT say no.
    fn remember_keys(&mut self, mode: crate::tracking::Mode, slot: usize, req: &Request<'_>) {
        let cmd = table::stat_command(slot);
        if !cmd.flags.has(Flags::READONLY)
            || cmd.flags.has(Flags::PUBSUB)
            || matches!(cmd.name, "eval_ro" | "evalsha_ro" | "fcall_ro")
            || mode.optin && !self.caching
            || mode.optout && self.caching
        {
            return;
        }
        let args: Vec<&[u8]> = req.args().collect();
        let Some(positions) = crate::cmd::key_positions(cmd, &args) else {
            return;
        };
        let keys: Vec<&[u8]> = positions.into_iter().map(|i| args[i]).collect();
        if !keys.is_empty() {
            self.shared
                .tracking
                .remember(&self.shared, self.handle.id, &keys);
        }
    }

    /// Hands a timed command to the latency monitor and, if it was slow enough, to the slow
    /// log (Redis's `call()`): its time without what it spent blocked (BLPOP's wait).
    fn record_duration(
        &mut self,
        slot: usize,
        req: &Request<'_>,
        started: quanta::Instant,
        blocked_before: u64,
    ) {
        let blocked = self
            .handle
            .blocked_usec
            .load(Ordering::Relaxed)
            .wrapping_sub(blocked_before);
        let usec = (started.elapsed().as_micros() as u64).saturating_sub(blocked);
        let flags = table::stat_command(slot).flags;
        self.shared
            .latency
            .record_command(slot, flags.has(Flags::FAST), usec);
        if !flags.has(Flags::SKIP_SLOWLOG) && self.shared.slowlog.is_slow(usec) {
            let peer = if self.in_script {
                "lua".to_string()
            } else {
                self.handle.addr.to_string()
            };
            let name = self.handle.name.lock().clone();
            self.shared.slowlog.push(req, usec, peer, name);
        }
    }

    /// The handler of the command or subcommand statistics slot `slot` counts. Unit tests may
    /// put their own in place of one command's
    /// handler, for their server only (`Shared::test_handler`): that is how they make a command
    /// panic without a crash command in the binary.
    #[inline]
    fn handler(&self, slot: usize) -> Handler {
        // The statistics slot is the subcommand's when the request names one the container
        // has: its handler runs directly (the container's own handles a missing or unknown
        // subcommand).
        let cmd = table::stat_command(slot);
        #[cfg(test)]
        if let Some((name, handler)) = self.shared.test_handler
            && cmd.name == name
        {
            return handler;
        }
        cmd.handler
    }

    /// Answers a command that panicked: `-ERR internal error in '<command>' command (see the
    /// server log)`, logged at warning level with the panic's message. The caller has dropped
    /// the partial reply. The store and the session stay as the command left them: its shard
    /// locks were released by unwinding, writes it made before panicking stay and are committed
    /// with the batch, a blocked-client registration is withdrawn by its guard (`waiters.rs`).
    #[cold]
    fn answer_panic(&mut self, name: &str, payload: &(dyn Any + Send), out: &mut Vec<u8>) {
        let why = panic_message(payload);
        warning!(
            "command '{name}' from client {} (id={}) panicked: {why}; answered with an error, \
             connection kept",
            self.handle.addr,
            self.handle.id
        );
        let mark = out.len();
        let msg = format!("ERR internal error in '{name}' command (see the server log)");
        Writer::new(out, self.version).error(msg.as_bytes());
        self.handle.counters.add(Counter::Errors, 1);
        self.shared.errors.record(&out[mark..]);
    }

    /// Splits a batch's elapsed time evenly between the commands it ran (exact for a batch of
    /// one; for a pipeline, two clock reads per batch instead of two per command).
    ///
    /// Returns when the batch ended (`started` for a read that completed no request).
    fn account_batch(&mut self, started: Instant) -> Instant {
        if self.batch.is_empty() {
            return started;
        }
        let ended = Instant::now();
        let uptime = ended
            .saturating_duration_since(self.shared.started)
            .as_millis() as u64;
        self.handle.last_ms.store(uptime, Ordering::Relaxed);
        let usec = ended.saturating_duration_since(started).as_micros() as u64;
        self.handle
            .counters
            .add(Counter::Commands, self.batch.len() as u64);
        let share = usec / self.batch.len() as u64;
        let first_extra = usec % self.batch.len() as u64;
        for (i, &idx) in self.batch.iter().enumerate() {
            let extra = if i == 0 { first_extra } else { 0 };
            self.handle.stats.add_usec(usize::from(idx), share + extra);
        }
        self.batch.clear();
        if self.batch.capacity() > 64 * 1024 {
            self.batch.shrink_to(64);
        }
        ended
    }

    /// Answers a request that names no command (an unknown command, or a subcommand its
    /// container lacks): an error reply that no statistics slot counts, and a failed
    /// transaction, as Redis's `rejectCommand` with no command found.
    fn refuse_unknown(&mut self, msg: &[u8], out: &mut Vec<u8>) {
        self.handle.counters.add(Counter::Errors, 1);
        let mark = out.len();
        Writer::new(out, self.version).error(msg);
        self.shared.errors.record(&out[mark..]);
        self.fail_transaction();
    }

    /// Refuses command `idx` (a statistics slot) before it runs, as Redis's `rejectCommand`:
    /// a refused EXEC discards the transaction and says why in an EXECABORT error.
    pub(crate) fn reject(&mut self, idx: usize, req: &Request<'_>, out: &mut Vec<u8>, msg: &[u8]) {
        self.handle.stats.reject(idx);
        self.handle.counters.add(Counter::Errors, 1);
        let abort;
        let exec = table::stat_command(idx).name == "exec";
        let msg = if exec {
            self.discard_transaction();
            let why = msg.strip_prefix(b"ERR ").unwrap_or(msg);
            abort = [&b"EXECABORT Transaction discarded because of: "[..], why].concat();
            &abort[..]
        } else {
            msg
        };
        self.shared.errors.record(msg);
        Writer::new(out, self.version).error(msg);
        if exec && self.shared.monitors.active() {
            // Redis shows the refused EXEC, so the MULTI it showed has an end.
            self.monitor_pending = true;
            self.feed_monitors(req);
        }
    }

    /// Shows the running command to the monitors, once (a blocking command calls this before
    /// it waits, `call` after the handler returns): the database is the one selected after it.
    /// Shows a command that the table marks `skip_monitor` because it shows itself at a
    /// moment of its own choosing (EVAL and FCALL, before the commands they run).
    pub(crate) fn show_on_monitors(&mut self, req: &Request<'_>) {
        if self.shared.monitors.active() {
            self.monitor_pending = true;
            self.feed_monitors(req);
        }
    }

    pub(crate) fn feed_monitors(&mut self, req: &Request<'_>) {
        if !std::mem::take(&mut self.monitor_pending) {
            return;
        }
        let addr = if self.in_script {
            "lua".to_string()
        } else {
            self.handle.addr.to_string()
        };
        let line = crate::monitor::line(
            std::time::SystemTime::now(),
            self.db_index,
            &addr,
            req.args(),
        );
        self.monitor_flush = true;
        if self.pubsub.monitor && !self.in_exec() {
            self.own_line = Some(line);
        } else {
            self.shared.monitors.feed(&self.shared, &line);
        }
    }

    /// Sends what this batch showed the monitors (at the batch's end, or before blocking).
    pub(crate) fn flush_monitors(&mut self) {
        if std::mem::take(&mut self.monitor_flush) {
            self.shared.monitors.flush(&self.shared);
        }
    }

    /// Stops monitoring (RESET, the connection's end).
    pub(crate) fn stop_monitoring(&mut self) {
        if self.pubsub.monitor {
            self.pubsub.monitor = false;
            self.handle.monitoring.store(false, Ordering::Relaxed);
            self.shared.monitors.remove(self.handle.id);
        }
    }

    /// Drops the transaction in progress, if any, and every watched key (DISCARD, RESET, a
    /// refused EXEC).
    pub(crate) fn discard_transaction(&mut self) {
        self.multi = None;
        self.unwatch();
        self.handle.set_multi(-1);
    }
}

/// The bounds on a client's requests: Redis's defaults, and while the client must still
/// authenticate ([`Session::auth_required`]), Redis's pre-authentication bounds too (at most 10
/// arguments, bulks of at most 16 KiB), so an unknown peer cannot make the server buffer a
/// gigabyte-long request or a million arguments before it is refused.
fn request_limits(unauthenticated: bool, max_bulk: u64) -> Limits {
    Limits::default()
        .with_unauthenticated(unauthenticated)
        .with_max_bulk_len(usize::try_from(max_bulk).unwrap_or(usize::MAX))
}

/// A panic's message, if it has one (`panic!` with a literal or with formatting).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// Connection threads that are not waiting for their client: between a read's return and the
/// next read, except while blocked in BLPOP & co. (see [`Waiting`]).
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
/// One connection at a time may poll for its next request instead of sleeping.
static SPINNING: AtomicBool = AtomicBool::new(false);
/// How long a connection polls for its next request before it blocks.
const SPIN: Duration = Duration::from_micros(100);

/// Counts its thread in [`ACTIVE`] while held.
struct Busy(&'static AtomicUsize);

impl Busy {
    fn enter() -> Busy {
        Busy::on(&ACTIVE)
    }

    fn on(count: &'static AtomicUsize) -> Busy {
        count.fetch_add(1, Ordering::Relaxed);
        Busy(count)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Held by a connection thread while its client is blocked (BLPOP & co.): it waits for other
/// clients' writes, not working, so it does not keep a lone client elsewhere from being polled.
/// It undoes the thread's [`Busy`] for that time (elsewhere, e.g. in unit tests that block
/// without a connection, the count only dips while it is held).
pub(crate) struct Waiting(&'static AtomicUsize);

impl Waiting {
    pub(crate) fn enter() -> Waiting {
        Waiting::on(&ACTIVE)
    }

    fn on(count: &'static AtomicUsize) -> Waiting {
        count.fetch_sub(1, Ordering::Relaxed);
        Waiting(count)
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// When no other connection is working, polls the socket for up to [`SPIN`] before the
/// caller blocks in `read`: a lone client's next request usually arrives within that, and
/// catching it saves a sleep and a wake-up of this thread (tens of microseconds on a VM).
/// Yields the CPU between polls and stops as soon as another connection has work, so under
/// load nobody spins; the caller polls only for a client whose last request came within the
/// window, so a client that talks now and then costs no polling. `None`: nothing arrived,
/// block.
fn spin_read(wire: &Wire, buf: &mut [u8]) -> Option<io::Result<usize>> {
    if ACTIVE.load(Ordering::Relaxed) != 0 || SPINNING.swap(true, Ordering::Acquire) {
        return None;
    }
    let started = Instant::now();
    let got = loop {
        match wire.read_nowait(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::Unsupported => break None,
            r => break Some(r),
        }
        if ACTIVE.load(Ordering::Relaxed) != 0 || started.elapsed() > SPIN {
            break None;
        }
        std::thread::yield_now();
    };
    SPINNING.store(false, Ordering::Release);
    got
}

/// A connection being served.
pub(crate) struct Conn {
    s: Session,
    /// The socket's send timeout is on (a `normal` output limit is set; see `write_out`).
    send_timeout: bool,
}

/// Bytes written for the client that its peer has not yet taken (the socket's send queue,
/// and what a TLS session holds encrypted), 0 if unknown.
fn unsent(wire: &Wire) -> u64 {
    use std::os::fd::AsRawFd;
    let mut n: libc::c_int = 0;
    // SAFETY: TIOCOUTQ (SIOCOUTQ) writes one int through the pointer, which is valid.
    let r = unsafe { libc::ioctl(wire.tcp().as_raw_fd(), libc::TIOCOUTQ, &mut n) };
    let queued = if r == 0 { n.max(0) as u64 } else { 0 };
    queued + wire.unsent_bytes() as u64
}

impl Conn {
    pub(crate) fn new(shared: Arc<Shared>, handle: Arc<ClientHandle>) -> Conn {
        Conn {
            s: Session::new(shared, handle),
            send_timeout: false,
        }
    }

    /// Serves the connection until the client leaves, is killed, or breaks the protocol.
    ///
    /// # Errors
    /// The I/O error that ended the connection.
    pub(crate) fn run(mut self) -> io::Result<()> {
        crate::tracking::set_current(self.s.handle.id);
        let handle = Arc::clone(&self.s.handle);
        let wire = handle.socket();
        let served = self.serve(wire);
        if self.s.tracking.take().is_some() {
            self.s
                .shared
                .tracking
                .disable(&self.s.shared, self.s.handle.id);
        }
        // A reply still out with the replier is finished before the connection ends.
        let finished = self.s.handle.outbox.wait_idle(wire);
        // Subscriptions end; a queued client's last replies (QUIT's) are written.
        self.s.stop_monitoring();
        let drain = served.is_ok() && self.s.close;
        self.s.pubsub.finish(&self.s.handle, wire, drain);
        wire.finish();
        served.and(finished)
    }

    fn serve(&mut self, wire: &Wire) -> io::Result<()> {
        // Resumes a request that arrives over many reads where it stopped, instead of
        // re-reading its headers on every read (quadratic for a huge MSET arriving in pieces).
        // Its positions are relative to `rbuf[start..]`, so moving the unread bytes to the
        // front of the buffer, or growing it, does not disturb it.
        let max_bulk = &self.s.shared.live.proto_max_bulk_len;
        let mut decoder = RequestDecoder::new(request_limits(
            self.s.auth_required(),
            max_bulk.load(Ordering::Relaxed),
        ));
        let mut rbuf = vec![0u8; FIRST_READ];
        let (mut start, mut end) = (0usize, 0usize);
        // Whether the last read filled all the space it was offered (a pipeline: grow).
        let mut filled = false;
        // Allocated by the first reply, grown by the batches that need it.
        let mut out: Vec<u8> = Vec::new();
        let mut timeout_secs = 0u64;
        // When this connection last ran out of input, and how long its client then took to send
        // more: a client that takes longer than a polling window is not polled for.
        let mut idle_since = Instant::now();
        let mut last_gap = Duration::ZERO;
        loop {
            let want_timeout = self.s.shared.live.idle_timeout_secs.load(Ordering::Relaxed);
            if want_timeout != timeout_secs {
                timeout_secs = want_timeout;
                let t = (timeout_secs > 0).then(|| Duration::from_secs(timeout_secs));
                wire.tcp().set_read_timeout(t)?;
            }
            // Offer each read at least a quarter of the buffer (of READ_CHUNK once larger).
            let least = rbuf.len().min(READ_CHUNK) / 4;
            let outgrown = filled && rbuf.len() < READ_CHUNK;
            if rbuf.len() - end < least || outgrown {
                if start > 0 {
                    rbuf.copy_within(start..end, 0);
                    end -= start;
                    start = 0;
                }
                if rbuf.len() - end < least || outgrown {
                    let limit = self
                        .s
                        .shared
                        .live
                        .query_buffer_limit
                        .load(Ordering::Relaxed);
                    if rbuf.len() as u64 >= limit {
                        warning!(
                            "closing client {} that reached the max query buffer length ({limit} \
                             bytes)",
                            self.s.handle.addr
                        );
                        return Ok(());
                    }
                    let grown = (rbuf.len() * 2).min(limit as usize + READ_CHUNK);
                    rbuf.resize(grown, 0);
                }
            }
            let got = if self.s.pubsub.queued {
                // A queued client's thread waits for its request while sending its queue.
                self.read_queued(wire, &mut rbuf[end..])
            } else {
                let polled = if last_gap <= SPIN {
                    spin_read(wire, &mut rbuf[end..])
                } else {
                    None
                };
                match polled {
                    Some(r) => r,
                    None => wire.read(&mut rbuf[end..]),
                }
            };
            let _busy = Busy::enter();
            let batch_start = Instant::now();
            last_gap = batch_start.saturating_duration_since(idle_since);
            let n = match got {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    verbose!(
                        "closing idle client {} (timeout {timeout_secs}s)",
                        self.s.handle.addr
                    );
                    return Ok(());
                }
                Err(e) => return Err(e),
            };
            if self.s.handle.is_killed() {
                return Ok(());
            }
            filled = n == rbuf.len() - end;
            end += n;
            self.s.handle.counters.add(Counter::NetIn, n as u64);

            let mut broken = false;
            while start < end {
                // AUTH or HELLO AUTH lifts the pre-authentication limits from the next request
                // on, even within this read; RESET or a new password may put them back, and
                // CONFIG SET proto-max-bulk-len changes the bulk limit. A fresh decoder is
                // always correct: at worst it re-reads a partial request.
                let unauthenticated = self.s.auth_required();
                let bulk = self
                    .s
                    .shared
                    .live
                    .proto_max_bulk_len
                    .load(Ordering::Relaxed);
                if decoder.limits().unauthenticated != unauthenticated
                    || decoder.limits().max_bulk_len as u64 != bulk
                {
                    decoder = RequestDecoder::new(request_limits(unauthenticated, bulk));
                }
                match decoder.decode(&rbuf[start..end]) {
                    Ok(Status::Complete((req, used))) => {
                        start += used;
                        if req.is_empty() {
                            continue;
                        }
                        self.s.execute(&req, &mut out);
                        if self.s.close {
                            break;
                        }
                        if out.len() >= FLUSH_AT
                            || self.s.pubsub.queued && self.s.handle.pubsub.pending() >= FLUSH_AT
                        {
                            self.flush(wire, &mut out)?;
                        }
                    }
                    Ok(Status::Incomplete) => break,
                    Err(e) => {
                        let msg = format!("ERR {e}");
                        Writer::new(&mut out, self.s.version).error(msg.as_bytes());
                        verbose!("protocol error from {}: {e}", self.s.handle.addr);
                        broken = true;
                        self.s.close = true;
                        break;
                    }
                }
            }
            idle_since = self.s.account_batch(batch_start);
            self.end_batch(wire, &mut out)?;
            if broken || self.s.close {
                return Ok(());
            }
            if let Some(start) = self.s.replica_start.take() {
                let handshake = std::mem::take(&mut self.s.handshake);
                return crate::repl::serve(&mut self.s, wire, start, &handshake);
            }
            if start == end {
                start = 0;
                end = 0;
                if rbuf.len() > 4 * READ_CHUNK {
                    rbuf.truncate(READ_CHUNK);
                    rbuf.shrink_to_fit();
                }
            }
            self.s.handle.qbuf.store(end - start, Ordering::Relaxed);
        }
    }

    /// A queued client's read: waits for its request in `poll` while sending its queue, then
    /// reads without blocking (a TLS client's partial record sends it back to waiting, so a
    /// client that stalls mid-record does not stop its queue).
    fn read_queued(&mut self, wire: &Wire, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if !wire.has_input() {
                self.s
                    .pubsub
                    .wait_readable(&self.s.shared, &self.s.handle, wire)?;
            }
            match wire.read_nowait(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if self.s.handle.is_killed() {
                        return Ok(0);
                    }
                }
                // Off Linux (no pub/sub there, but a tracking client may be queued).
                Err(e) if e.kind() == io::ErrorKind::Unsupported => return wire.read(buf),
                r => return r,
            }
        }
    }

    /// Sends a batch's replies once its writes are durable: through the replier when the sync
    /// mode makes that wait long (`always`), by `flush` otherwise.
    fn end_batch(&mut self, wire: &Wire, out: &mut Vec<u8>) -> io::Result<()> {
        crate::cmd::release_gate();
        // What this batch published goes out to its subscribers (and showed to the monitors)
        // before this client's own replies, which may block on its socket.
        if self.s.shared.tracking.active() {
            self.s.shared.tracking.end_batch(&self.s.shared);
        }
        self.s.pubsub.pending.flush();
        self.s.flush_monitors();
        if self.s.pubsub.queued {
            // Replies still with the replier go first; a queued client commits inline.
            self.s.handle.outbox.wait_idle(wire)?;
            self.commit()?;
            let (shared, handle) = (&self.s.shared, &self.s.handle);
            return self.s.pubsub.end_batch(shared, handle, wire, out);
        }
        if self.s.shared.replier.is_some() {
            let wait = self.take_wait();
            if !wait.is_empty() {
                self.s.handle.outbox.wait_idle(wire)?;
                self.check_output_limit(out)?;
                self.s
                    .handle
                    .counters
                    .add(Counter::NetOut, out.len() as u64);
                if let Some(replier) = &self.s.shared.replier {
                    replier.hand_off(&self.s.handle, wait, out);
                }
                return Ok(());
            }
        }
        if out.is_empty() {
            // Nothing to send (CLIENT REPLY OFF), but the batch's writes are still committed.
            return self.commit();
        }
        self.flush(wire, out)
    }

    /// What the batch's replies wait for, taken for the replier: its uncommitted writes and
    /// the Raft epoch its commands ran in (the same two `commit` waits for inline).
    fn take_wait(&mut self) -> crate::replier::Wait {
        crate::replier::Wait {
            log: self.s.writes.take(),
            raft: self.take_raft_wait(),
        }
    }

    /// The Raft epoch the batch's commands ran in and where its writes ended, if they ran
    /// under a coordinator.
    fn take_raft_wait(&mut self) -> Option<crate::replier::RaftWait> {
        let epoch = self.s.raft_epoch.take()?;
        Some(crate::replier::RaftWait {
            coordinator: Arc::clone(self.s.shared.coordinator.get()?),
            epoch,
            own_append: self.s.raft_own_append.take(),
        })
    }

    /// Commits the connection's batch: every write since the last commit, one group commit.
    /// Nothing is acknowledged before it is durable: if the commit fails, the connection is
    /// closed and its replies dropped (the client sees no answer, not a false one).
    fn commit(&mut self) -> io::Result<()> {
        if let Some(raft) = self.take_raft_wait()
            && let Err(e) = raft.settle()
        {
            warning!("closing client {}: {e}", self.s.handle.addr);
            self.s.close = true;
            return Err(io::Error::other(format!("raft: {e}")));
        }
        if let Err(e) = self.s.writes.commit() {
            warning!("closing client {}: {e}", self.s.handle.addr);
            self.s.close = true;
            return Err(io::Error::other(e.to_string()));
        }
        Ok(())
    }

    fn check_output_limit(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        let limit = self.s.shared.live.output_limits.normal.get().hard;
        if limit > 0 && out.len() as u64 > limit {
            warning!(
                "closing client {}: a reply of {} bytes passed the output buffer limit ({limit})",
                self.s.handle.addr,
                out.len()
            );
            self.s
                .shared
                .output_limit_disconnections
                .fetch_add(1, Ordering::Relaxed);
            self.s.close = true;
            out.clear();
            return Err(io::Error::other("output buffer limit reached"));
        }
        Ok(())
    }

    /// Writes a batch's replies. With a `normal` class limit set, a write that makes no
    /// progress for a second looks at the client's pending output (what is left of the batch
    /// plus what sits unsent in the socket's send queue): past the hard limit, or past the
    /// soft limit for its seconds, the client is closed, as Redis does. Without limits (Redis's
    /// default) the write blocks this connection's thread only, which stops reading the client's
    /// requests, so its output never grows past one batch.
    fn write_out(&mut self, wire: &Wire, out: &[u8]) -> io::Result<()> {
        let limit = self.s.shared.live.output_limits.normal.get();
        let limited = limit.hard > 0 || (limit.soft > 0 && limit.secs > 0);
        if !limited && !self.send_timeout {
            return wire.write_all(out);
        }
        self.write_limited(wire, out, limit, limited)
    }

    /// [`Conn::write_out`] under a limit. Out of line: the connection loop's stack frame stays
    /// as small as before (its deepest page is part of what an idle connection costs).
    #[cold]
    #[inline(never)]
    fn write_limited(
        &mut self,
        wire: &Wire,
        out: &[u8],
        limit: crate::settings::ClassLimit,
        limited: bool,
    ) -> io::Result<()> {
        if limited != self.send_timeout {
            wire.tcp()
                .set_write_timeout(limited.then_some(Duration::from_secs(1)))?;
            self.send_timeout = limited;
        }
        if !limited {
            return wire.write_all(out);
        }
        let mut sent = 0;
        let mut over_since: Option<Instant> = None;
        // A TLS client's last records may still be held encrypted once all of `out` is taken.
        while sent < out.len() || wire.unsent() {
            let wrote = if sent < out.len() {
                wire.write(&out[sent..])
            } else {
                wire.flush_wait(Some(Duration::from_secs(1))).map(|()| 0)
            };
            match wrote {
                Ok(0) if sent < out.len() => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(e),
            }
            if sent == out.len() && !wire.unsent() {
                break;
            }
            // A second without the whole batch going out: the client is not keeping up.
            let pending = (out.len() - sent) as u64 + unsent(wire);
            let soft_for = (limit.soft > 0 && pending > limit.soft).then(|| {
                let since = *over_since.get_or_insert_with(Instant::now);
                since.elapsed()
            });
            if soft_for.is_none() {
                over_since = None;
            }
            let why = if limit.hard > 0 && pending > limit.hard {
                format!("hard limit ({})", limit.hard)
            } else if soft_for.is_some_and(|d| d >= Duration::from_secs(limit.secs)) {
                format!("soft limit ({}) for {}s", limit.soft, limit.secs)
            } else {
                continue;
            };
            warning!(
                "closing client {}: {pending} bytes of unread replies passed the output buffer \
                 {why}",
                self.s.handle.addr
            );
            self.s
                .shared
                .output_limit_disconnections
                .fetch_add(1, Ordering::Relaxed);
            self.s.close = true;
            return Err(io::Error::other("output buffer limit reached"));
        }
        Ok(())
    }

    fn flush(&mut self, wire: &Wire, out: &mut Vec<u8>) -> io::Result<()> {
        crate::cmd::release_gate();
        if self.s.pubsub.queued {
            // A long pipeline of a queued client: send what is queued, and wait (on this
            // client's socket only) until most of it is gone, as a direct write would.
            self.end_batch(wire, out)?;
            return self.s.pubsub.drain(&self.s.handle, wire, FLUSH_AT);
        }
        if let Err(e) = self.commit() {
            out.clear();
            return Err(e);
        }
        self.check_output_limit(out)?;
        // Replies go out in request order: first whatever is still with the replier.
        if self.s.shared.replier.is_some() {
            self.s.handle.outbox.wait_idle(wire)?;
        }
        let written = self.write_out(wire, out);
        if written.is_err() {
            out.clear();
        }
        written?;
        self.s
            .handle
            .counters
            .add(Counter::NetOut, out.len() as u64);
        out.clear();
        if out.capacity() > KEEP_OUT {
            out.shrink_to(READ_CHUNK);
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A panic payload that the handler's `catch_unwind` passes on (unit tests only): it stands
    /// for a panic in the connection loop itself, outside any handler.
    pub(crate) struct EscapeHandler;

    /// Stands in for ECHO in unit-test servers (`Shared::test_handler`): `ECHO panic` writes
    /// half a reply and the key `written-before-panic`, then panics; `ECHO escape` panics past
    /// the handler's guard; anything else is echoed.
    pub(crate) const MISBEHAVING_ECHO: Handler = |ctx, req| match req.arg(1) {
        b"panic" => {
            use kvcore::Store;
            ctx.w().array_len(2);
            ctx.w().bulk(b"half");
            ctx.s.db.set(b"written-before-panic", b"1")?;
            panic!("test: a command panicked");
        }
        b"escape" => panic::panic_any(EscapeHandler),
        other => {
            ctx.w().bulk(other);
            Ok(())
        }
    };

    #[test]
    fn a_blocked_client_does_not_count_as_working() {
        // A count of its own: other tests block clients on the real one concurrently.
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let busy = Busy::on(&COUNT);
        assert_eq!(COUNT.load(Ordering::Relaxed), 1);
        {
            let _blocked = Waiting::on(&COUNT);
            assert_eq!(COUNT.load(Ordering::Relaxed), 0);
        }
        assert_eq!(COUNT.load(Ordering::Relaxed), 1);
        drop(busy);
        assert_eq!(COUNT.load(Ordering::Relaxed), 0);
    }
}
