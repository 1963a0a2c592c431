//! `RaftNode`: one member of a group, its public face (what a host's connection threads call)
//! and the state they share with the Raft thread (`kvraft/src/driver.rs`).
//!
//! The leader runs commands on its store as a single server does; what they changed comes
//! out of the store's replication stream, which the Raft thread reads (woken by each append)
//! and proposes as log entries. A reply waits ([`RaftNode::settle`]) until every change the
//! command could have seen is committed (a majority has it in its durable log) and a round of
//! heartbeats that started after the command has confirmed this node still leads (ReadIndex):
//! then no other leader can have committed anything the command did not see. Followers apply
//! committed entries to their stores; their clients' commands are forwarded to the leader by
//! the host (see [`Route`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

use kvcore::{Coordinator, Forward, Kv, Permit, Refused, Route, Unsettled};
use parking_lot::{Condvar, Mutex};
use raft::prelude::Message;

use crate::error::{Error, Result};
use crate::storage::{LogOptions, LogStore};
use crate::transport::{Hello, LinkSecurity, Links, Security, Transport};

/// How a node is set up. Times are in ticks of [`RaftOptions::tick`].
#[derive(Clone, Debug)]
pub struct RaftOptions {
    pub(crate) id: u64,
    pub(crate) peers: Vec<(u64, String)>,
    pub(crate) dir: PathBuf,
    pub(crate) client_port: u16,
    pub(crate) tls_client_port: u16,
    pub(crate) security: Option<Security>,
    pub(crate) tick: Duration,
    pub(crate) election_ticks: usize,
    pub(crate) heartbeat_ticks: usize,
    pub(crate) snapshot_entries: u64,
    pub(crate) keep_entries: u64,
    pub(crate) snapshot_chunk: usize,
    pub(crate) settle_timeout: Duration,
    pub(crate) route_wait: Duration,
    pub(crate) join: bool,
    pub(crate) batch_wait: Duration,
}

impl RaftOptions {
    /// Node `id` of the group `peers` (every member's ID and Raft address; this node's own
    /// entry is the address it listens on, the others where it connects to reach them),
    /// keeping its log in `dir`. Defaults: a tick of 100 ms, an election timeout of 10 ticks
    /// (randomized up to 20 by raft-rs), a heartbeat every 2 ticks, a snapshot every 10 000
    /// entries keeping the 1024 before it in the log, snapshots sent in chunks of 1 MiB,
    /// replies given up after 10 s without a commit.
    pub fn new(id: u64, peers: Vec<(u64, String)>, dir: impl AsRef<Path>) -> RaftOptions {
        RaftOptions {
            id,
            peers,
            dir: dir.as_ref().to_path_buf(),
            client_port: 0,
            tls_client_port: 0,
            security: None,
            tick: Duration::from_millis(100),
            election_ticks: 10,
            heartbeat_ticks: 2,
            snapshot_entries: 10_000,
            keep_entries: 1024,
            snapshot_chunk: 1 << 20,
            settle_timeout: Duration::from_secs(10),
            route_wait: Duration::from_secs(2),
            join: false,
            batch_wait: Duration::from_millis(2),
        }
    }

    /// The port this node's clients connect to, announced to the peers so that they can
    /// forward their clients' commands here.
    pub fn client_port(mut self, port: u16) -> RaftOptions {
        self.client_port = port;
        self
    }

    /// The port this node's TLS clients connect to (0, the default: none), announced to the
    /// peers beside [`RaftOptions::client_port`]; see [`RaftNode::tls_client_addr`].
    pub fn tls_client_port(mut self, port: u16) -> RaftOptions {
        self.tls_client_port = port;
        self
    }

    /// Secures every link between nodes with `hook` (kvserver's TLS, or a shared secret:
    /// [`crate::SecretLinks`]): each link this node accepts or opens goes through it before
    /// the first frame, on the link's thread, and a link it refuses is dropped and logged.
    /// Default: none, links are plain TCP and anyone who reaches the Raft port can send raft
    /// messages.
    pub fn security(mut self, hook: Arc<dyn LinkSecurity>) -> RaftOptions {
        self.security = Some(Security::new(hook));
        self
    }

    /// A node joining a running group (added with [`RaftNode::add_node`] on its leader):
    /// it starts with no members and waits for the leader's snapshot, instead of starting a
    /// new group of `peers` (only its own entry is used: the address it listens on).
    pub fn join(mut self, join: bool) -> RaftOptions {
        self.join = join;
        self
    }

    /// How long the leader may hold its clients' writes for the rest of their cohort before
    /// proposing them (default 2 ms; zero proposes every write as soon as the Raft thread
    /// sees it). Clients that wait for each reply come back together once their entry
    /// commits; holding until they all wrote again makes one entry, one log write and one
    /// fdatasync per node of what would otherwise be several. A lone writer is never held;
    /// writers who do not all come back cost this wait once, after which fewer are expected.
    pub fn batch_wait(mut self, wait: Duration) -> RaftOptions {
        self.batch_wait = wait;
        self
    }

    /// The length of a tick.
    pub fn tick(mut self, tick: Duration) -> RaftOptions {
        self.tick = tick;
        self
    }

    /// The election timeout and heartbeat interval, in ticks.
    pub fn election(mut self, election_ticks: usize, heartbeat_ticks: usize) -> RaftOptions {
        self.election_ticks = election_ticks;
        self.heartbeat_ticks = heartbeat_ticks;
        self
    }

    /// Take a snapshot and compact the log once it holds this many entries.
    pub fn snapshot_entries(mut self, entries: u64) -> RaftOptions {
        self.snapshot_entries = entries.max(16);
        self
    }

    /// How many entries before a snapshot's index stay in the log (default 1024): a follower
    /// lagging by fewer catches up from the log, one lagging by more is sent the snapshot
    /// (see [`LogOptions::keep_entries`]).
    pub fn keep_entries(mut self, entries: u64) -> RaftOptions {
        self.keep_entries = entries;
        self
    }

    /// The size of the pieces a snapshot file is streamed to a peer in (default 1 MiB,
    /// between 1 byte and 16 MiB): the most snapshot bytes either side holds in memory.
    pub fn snapshot_chunk(mut self, bytes: usize) -> RaftOptions {
        self.snapshot_chunk = bytes.clamp(1, crate::transport::MAX_CHUNK);
        self
    }
}

/// The role of a node, as Raft names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Follows a leader (or waits for one).
    Follower,
    /// Asking whether it could win an election (PreVote).
    PreCandidate,
    /// Standing for election.
    Candidate,
    /// Leads the group.
    Leader,
}

impl Role {
    /// The role's name in `INFO raft`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Follower => "follower",
            Role::PreCandidate => "pre-candidate",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        }
    }

    fn from_u8(v: u8) -> Role {
        match v {
            1 => Role::PreCandidate,
            2 => Role::Candidate,
            3 => Role::Leader,
            _ => Role::Follower,
        }
    }
}

/// A peer as the leader sees it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PeerStatus {
    /// Its node ID.
    pub id: u64,
    /// Where this node reaches it.
    pub addr: String,
    /// The highest log index known to be on it (leader only; 0 elsewhere).
    pub matched: u64,
    /// Whether it votes (a learner does not).
    pub voter: bool,
}

/// What `INFO raft` shows.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Status {
    /// This node's ID.
    pub id: u64,
    /// Its role.
    pub role: Role,
    /// Whether it leads and serves commands (a new leader first applies its whole log).
    pub serving: bool,
    /// The current term.
    pub term: u64,
    /// The leader's ID (0: none known).
    pub leader: u64,
    /// The commit index.
    pub commit: u64,
    /// The last index applied to the store.
    pub applied: u64,
    /// The first and last index of the log.
    pub first_index: u64,
    /// The last index of the log.
    pub last_index: u64,
    /// The replication stream offset the store reflects (committed).
    pub committed_offset: u64,
    /// How many batches waited for a read confirmation (those that ended with a read; a
    /// batch that ended with a write settles by its own commit).
    pub read_tickets: u64,
    /// How many ReadIndex rounds this node started (one serves every ticket waiting).
    pub read_rounds: u64,
    /// Snapshots this node sent whole (the receiver confirmed them).
    pub snapshots_sent: u64,
    /// Snapshot sends that failed (raft-rs is told, and sends again).
    pub snapshots_send_failed: u64,
    /// Snapshot files this node received whole and handed to raft.
    pub snapshots_received: u64,
    /// fdatasyncs of the Raft log (each round with new entries, a snapshot or a new term or
    /// vote makes one; a round that only learns a commit index makes none).
    pub log_syncs: u64,
    /// The members.
    pub peers: Vec<PeerStatus>,
}

/// An administrative change of the group.
#[derive(Clone, Debug)]
pub(crate) enum Admin {
    AddNode(u64, String),
    AddLearner(u64, String),
    RemoveNode(u64),
    TransferLeader(u64),
}

/// What the Raft thread receives.
pub(crate) enum Event {
    /// A peer's message.
    Message(Box<Message>),
    /// The leader's commands appended to the stream (sent by the append hook, once until
    /// handled): the Raft thread reads and proposes what is new.
    StreamReady,
    /// A client waits for a read confirmation.
    Read,
    /// A membership change or leader transfer, answered when proposed.
    Admin(Admin, Sender<Result<()>>),
    /// A snapshot's transfer to peer `to` ended: sent whole and checked by the peer (`ok`),
    /// or failed (raft-rs sends it again).
    SnapshotSent { to: u64, ok: bool },
    /// A snapshot the leader's background thread made at a stream offset: its data (the
    /// snapshot header and the RDB) is in `file`, which the Raft thread then owns.
    Snapshot {
        offset: u64,
        file: std::path::PathBuf,
    },
    /// A background snapshot or compaction ended (another may start).
    Snapshotted,
    /// Shut down.
    Stop,
}

/// Read confirmations: tickets handed to waiting clients and how far confirmed.
#[derive(Default)]
pub(crate) struct Reads {
    /// The last ticket taken (also how many were).
    pub(crate) next: u64,
    pub(crate) requested: u64,
    pub(crate) confirmed: u64,
    /// How many ReadIndex rounds the Raft thread started.
    pub(crate) rounds: u64,
    /// The connection threads parked in `settle`, by what may settle them.
    pub(crate) settling: Settling,
}

/// The threads waiting in `settle`, each parked until what it waits for may have happened:
/// the commit of a stream offset (`by_offset`), or for a read also the confirmation of its
/// ReadIndex ticket (`by_ticket`); keys are (that offset or ticket, the waiter's number).
///
/// With a condition variable every commit woke every waiter: parking_lot moves them onto
/// the mutex and each unlock then wakes the next, so with 50 clients waiting and a commit
/// every two writes or so a quarter of the leader's CPU went to threads that woke, found
/// their offset not yet committed and slept again (docs/benchmarks.md, *Waking only the
/// settled*).
#[derive(Default)]
pub(crate) struct Settling {
    /// The last waiter's number.
    last_id: u64,
    by_offset: BTreeMap<(u64, u64), Thread>,
    by_ticket: BTreeMap<(u64, u64), Thread>,
}

impl Settling {
    /// Wakes the waiters for offsets up to `committed`.
    pub(crate) fn committed(&mut self, committed: u64) {
        wake_up_to(&mut self.by_offset, committed);
    }

    /// Wakes the waiters for tickets up to `confirmed`.
    pub(crate) fn confirmed(&mut self, confirmed: u64) {
        wake_up_to(&mut self.by_ticket, confirmed);
    }

    /// Wakes every waiter (leadership changed: they fail).
    fn all(&mut self) {
        for t in self.by_offset.values().chain(self.by_ticket.values()) {
            t.unpark();
        }
        self.by_offset.clear();
        self.by_ticket.clear();
    }
}

/// Unparks and removes the waiters of `map` whose key is at most `upto`.
fn wake_up_to(map: &mut BTreeMap<(u64, u64), Thread>, upto: u64) {
    let later = match upto.checked_add(1) {
        Some(next) => map.split_off(&(next, 0)),
        None => BTreeMap::new(),
    };
    for t in std::mem::replace(map, later).into_values() {
        t.unpark();
    }
}

type Hook = Box<dyn Fn() + Send + Sync>;

/// What connection threads and the Raft thread share.
pub(crate) struct Shared {
    pub(crate) id: u64,
    pub(crate) kv: Kv,
    pub(crate) store: LogStore,
    pub(crate) transport: Transport,
    pub(crate) events: Mutex<Sender<Event>>,
    pub(crate) opts: RaftOptions,
    /// True while this node leads and serves commands.
    pub(crate) serving: AtomicBool,
    /// Changes whenever serving starts or stops: a reply settles only in the epoch its
    /// command ran in.
    pub(crate) epoch: AtomicU64,
    /// Commands running on this node's store now.
    pub(crate) inflight: AtomicUsize,
    pub(crate) committed_offset: AtomicU64,
    pub(crate) reads: Mutex<Reads>,
    /// Wakes waiters (settles, routes) on commits, confirmations and role changes.
    pub(crate) changed: Condvar,
    pub(crate) role: AtomicU8,
    pub(crate) leader: AtomicU64,
    pub(crate) term: AtomicU64,
    pub(crate) commit: AtomicU64,
    pub(crate) applied: AtomicU64,
    pub(crate) peers: Mutex<Vec<PeerStatus>>,
    pub(crate) failed: AtomicBool,
    pub(crate) on_step_down: Mutex<Vec<Hook>>,
    pub(crate) on_leading: Mutex<Vec<Hook>>,
}

impl Shared {
    pub(crate) fn set_role(&self, role: Role) {
        let v = match role {
            Role::Follower => 0,
            Role::PreCandidate => 1,
            Role::Candidate => 2,
            Role::Leader => 3,
        };
        self.role.store(v, Ordering::Relaxed);
    }

    pub(crate) fn send(&self, ev: Event) {
        let _ = self.events.lock().send(ev);
    }

    /// Wakes every waiter (they recheck what they wait for).
    pub(crate) fn wake(&self) {
        let mut r = self.reads.lock();
        r.settling.all();
        self.changed.notify_all();
    }
}

/// A member of a Raft group serving a kvcore store.
pub struct RaftNode {
    shared: Arc<Shared>,
    driver: Mutex<Option<JoinHandle<()>>>,
}

impl RaftNode {
    /// Starts node `opts.id` over `kv`, an empty in-memory store: opens (or creates) its log,
    /// loads its newest snapshot into `kv`, joins the links to the peers and starts the Raft
    /// thread, which replays the committed log and takes part in elections.
    ///
    /// # Errors
    /// The log's (damage, I/O), a snapshot that does not load, or a listen address that cannot
    /// be bound.
    pub fn start(kv: Kv, opts: RaftOptions) -> Result<RaftNode> {
        if !opts.peers.iter().any(|(id, _)| *id == opts.id) {
            return Err(Error::Invalid(format!(
                "node {} is not in its own list of peers",
                opts.id
            )));
        }
        let store = LogStore::open(&opts.dir, LogOptions::new().keep_entries(opts.keep_entries))?;
        let (tx, rx) = mpsc::channel();
        let listen = opts
            .peers
            .iter()
            .find(|(id, _)| *id == opts.id)
            .map(|(_, a)| a.clone())
            .expect("checked above");
        let hello = Hello {
            id: opts.id,
            client_port: opts.client_port,
            tls_client_port: opts.tls_client_port,
        };
        let links = Links {
            hello,
            inbox: tx.clone(),
            security: opts.security.clone(),
            store: store.clone(),
            chunk: opts.snapshot_chunk,
        };
        let transport = Transport::start(links, &listen, &opts.peers)
            .map_err(|e| Error::io(format!("listening for raft peers on {listen}"), e))?;
        let shared = Arc::new(Shared {
            id: opts.id,
            kv,
            store,
            transport,
            events: Mutex::new(tx),
            opts,
            serving: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            inflight: AtomicUsize::new(0),
            committed_offset: AtomicU64::new(0),
            reads: Mutex::new(Reads::default()),
            changed: Condvar::new(),
            role: AtomicU8::new(0),
            leader: AtomicU64::new(0),
            term: AtomicU64::new(0),
            commit: AtomicU64::new(0),
            applied: AtomicU64::new(0),
            peers: Mutex::new(Vec::new()),
            failed: AtomicBool::new(false),
            on_step_down: Mutex::new(Vec::new()),
            on_leading: Mutex::new(Vec::new()),
        });
        let driver = crate::driver::Driver::new(Arc::clone(&shared), rx)?;
        let watched = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("raft".into())
            .spawn(move || {
                // raft-rs panics on a broken invariant (a peer claiming entries this node's
                // log lost, say): the node then stops serving and says so, rather than
                // keeping a dead thread behind a live listener.
                let run = std::panic::AssertUnwindSafe(move || driver.run());
                if std::panic::catch_unwind(run).is_err() {
                    log::error!(
                        "raft node {}: the raft thread panicked; this node no longer takes part",
                        watched.id
                    );
                    watched.failed.store(true, Ordering::SeqCst);
                    watched.serving.store(false, Ordering::SeqCst);
                    watched.epoch.fetch_add(1, Ordering::SeqCst);
                    watched.wake();
                }
            })
            .map_err(|e| Error::io("starting the raft thread", e))?;
        Ok(RaftNode {
            shared,
            driver: Mutex::new(Some(handle)),
        })
    }

    /// What this node's snapshot transfers did (`status`, tests).
    pub(crate) fn transfers(&self) -> &crate::transport::Transfers {
        self.shared.transport.transfers()
    }

    /// This node's ID.
    pub fn id(&self) -> u64 {
        self.shared.id
    }

    /// The address this node listens on for its peers.
    pub fn listen_addr(&self) -> std::net::SocketAddr {
        self.shared.transport.listen_addr()
    }

    fn try_route(&self) -> Option<Route<'_>> {
        let s = &*self.shared;
        if s.failed.load(Ordering::Relaxed) {
            return Some(Route::Unavailable);
        }
        // Counted before the check, and the Raft thread clears `serving` before it waits for
        // the count to reach zero: a command either sees `serving` cleared or is waited for.
        s.inflight.fetch_add(1, Ordering::SeqCst);
        if s.serving.load(Ordering::SeqCst) {
            let epoch = s.epoch.load(Ordering::SeqCst);
            return Some(Route::Local(Permit::counted(&s.inflight, epoch)));
        }
        s.inflight.fetch_sub(1, Ordering::SeqCst);
        let leader = s.leader.load(Ordering::Relaxed);
        if leader != 0 && leader != s.id {
            let (addr, tls_addr) = s.transport.client_addrs(leader)?;
            return Some(Route::Forward(Forward::new(leader, addr, tls_addr)));
        }
        None
    }

    /// The leader's ID as this node knows it (0: none).
    pub fn leader(&self) -> u64 {
        self.shared.leader.load(Ordering::Relaxed)
    }

    /// Runs `f` on the store as the leader and returns its result once it is safe to use:
    /// everything `f` changed or saw is committed and the leadership confirmed (what a
    /// server does for each batch of a client's commands, for a program embedding the
    /// group). On a follower, `Err(NotLeader)` names nothing: ask [`RaftNode::leader`] and
    /// [`RaftNode::client_addr`] where to go.
    ///
    /// # Errors
    /// [`Error::NotLeader`] when this node does not serve (no command ran);
    /// [`Error::Unsettled`] when it stopped leading or timed out after `f` ran (its changes
    /// may or may not survive).
    pub fn run<R>(&self, f: impl FnOnce(&Kv) -> R) -> Result<R> {
        Coordinator::run(self, &self.shared.kv, f).map_err(|e| match e {
            Refused::Elsewhere(_) | Refused::Unavailable => Error::NotLeader,
            Refused::Unsettled(u) => Error::Unsettled(u),
        })
    }

    /// The node's state for `INFO raft`.
    pub fn status(&self) -> Status {
        let s = &*self.shared;
        let (read_tickets, read_rounds) = {
            let r = s.reads.lock();
            (r.next, r.rounds)
        };
        Status {
            id: s.id,
            role: Role::from_u8(s.role.load(Ordering::Relaxed)),
            serving: s.serving.load(Ordering::Relaxed),
            term: s.term.load(Ordering::Relaxed),
            leader: s.leader.load(Ordering::Relaxed),
            commit: s.commit.load(Ordering::Relaxed),
            applied: s.applied.load(Ordering::Relaxed),
            first_index: s.store.first_index(),
            last_index: s.store.last_index(),
            committed_offset: s.committed_offset.load(Ordering::Relaxed),
            read_tickets,
            read_rounds,
            snapshots_sent: self.transfers().sent.load(Ordering::Relaxed),
            snapshots_send_failed: self.transfers().failed.load(Ordering::Relaxed),
            snapshots_received: self.transfers().received.load(Ordering::Relaxed),
            log_syncs: s.store.syncs(),
            peers: s.peers.lock().clone(),
        }
    }

    /// The address clients of node `id` connect to, once its links said.
    pub fn client_addr(&self, id: u64) -> Option<String> {
        self.shared.transport.client_addr(id, false)
    }

    /// The address TLS clients of node `id` connect to, once its links said (`None` while
    /// they have not, or if it announced no [`RaftOptions::tls_client_port`]).
    pub fn tls_client_addr(&self, id: u64) -> Option<String> {
        self.shared.transport.client_addr(id, true)
    }

    /// Adds a voting member (its Raft address) through Raft's configuration change; answered
    /// when the change is proposed (call on the leader).
    ///
    /// # Errors
    /// raft-rs's refusal (not the leader, a change already pending).
    pub fn add_node(&self, id: u64, addr: &str) -> Result<()> {
        self.admin(Admin::AddNode(id, addr.to_string()))
    }

    /// Adds a non-voting member that receives the log (to catch up before it votes).
    ///
    /// # Errors
    /// As for [`RaftNode::add_node`].
    pub fn add_learner(&self, id: u64, addr: &str) -> Result<()> {
        self.admin(Admin::AddLearner(id, addr.to_string()))
    }

    /// Removes a member.
    ///
    /// # Errors
    /// As for [`RaftNode::add_node`].
    pub fn remove_node(&self, id: u64) -> Result<()> {
        self.admin(Admin::RemoveNode(id))
    }

    /// Asks the leader to hand leadership to `id`.
    ///
    /// # Errors
    /// When this node does not lead.
    pub fn transfer_leader(&self, id: u64) -> Result<()> {
        self.admin(Admin::TransferLeader(id))
    }

    fn admin(&self, a: Admin) -> Result<()> {
        let (tx, rx) = mpsc::channel();
        self.shared.send(Event::Admin(a, tx));
        rx.recv_timeout(Duration::from_secs(5))
            .map_err(|_| Error::Invalid("the raft thread did not answer".into()))?
    }

    /// Runs `f` on the Raft thread whenever this node stops serving as leader, before it
    /// waits for the commands still running (a host unblocks its blocked clients there).
    pub fn on_step_down(&self, f: impl Fn() + Send + Sync + 'static) {
        self.shared.on_step_down.lock().push(Box::new(f));
    }

    /// Runs `f` on the Raft thread whenever this node starts serving as leader (its store now
    /// holds the whole committed log: a host reloads what it derives from the store).
    pub fn on_leading(&self, f: impl Fn() + Send + Sync + 'static) {
        self.shared.on_leading.lock().push(Box::new(f));
    }

    /// Stops the Raft thread and the links.
    pub fn stop(&self) {
        self.shared.send(Event::Stop);
        if let Some(h) = self.driver.lock().take() {
            let _ = h.join();
        }
        self.shared.transport.stop();
    }
}

/// The server's seam (kvserver asks it around every data command, `RaftNode::run` for a
/// program): commands run here while this node leads, go to the leader otherwise, and a
/// batch's results wait for the commit of what it wrote or read.
impl Coordinator for RaftNode {
    /// Where a client's command goes now. While there is no leader, or this node has just
    /// become leader and is still applying its log, waits for that to change (up to 2 s).
    fn route(&self) -> Route<'_> {
        let deadline = Instant::now() + self.shared.opts.route_wait;
        loop {
            if let Some(route) = self.try_route() {
                return route;
            }
            let mut r = self.shared.reads.lock();
            if self.shared.changed.wait_until(&mut r, deadline).timed_out() {
                drop(r);
                return self.try_route().unwrap_or(Route::Unavailable);
            }
        }
    }

    /// Waits until what the commands of a batch that ran in `epoch` could have seen is
    /// committed and this node is known to have led after they read it: then their replies
    /// may go out. `own_append` is where the stream ended just after the batch's last
    /// command appended its effects, when that command wrote
    /// ([`kvcore::Kv::take_own_append`] after it ran), `None` otherwise.
    ///
    /// A committed entry proposed after the batch's reads proves the leadership (a majority
    /// accepted it in this node's term, so no other leader had been elected by then), so a
    /// write settles by the commit of its own entry, one round; a batch that ends with a
    /// read settles by the commit of any byte appended after it (another client's write),
    /// or else by a ReadIndex heartbeat round started after it, whichever comes first.
    fn settle(&self, epoch: u64, own_append: Option<u64>) -> std::result::Result<(), Unsettled> {
        let s = &*self.shared;
        // The stream as the batch left it: its last command's own end, or the whole stream
        // now (everything the batch could have read is before it).
        let (target, ticket) = match own_append {
            Some(end) => (end, None),
            None => {
                let target = s.kv.replication().offset();
                let ticket = {
                    let mut r = s.reads.lock();
                    r.next += 1;
                    r.next
                };
                s.send(Event::Read);
                (target, Some(ticket))
            }
        };
        let deadline = Instant::now() + s.opts.settle_timeout;
        let me = std::thread::current();
        let mut r = s.reads.lock();
        r.settling.last_id += 1;
        let id = r.settling.last_id;
        loop {
            // Checked under the lock the Raft thread takes to wake waiters after it changed
            // any of these: a change is either seen here or followed by this thread's wake-up.
            if s.epoch.load(Ordering::SeqCst) != epoch || !s.serving.load(Ordering::SeqCst) {
                return Err(Unsettled::LostLeadership);
            }
            let committed = s.committed_offset.load(Ordering::SeqCst);
            let settled = match ticket {
                // A byte at `target` or later was appended after the reads: its entry's
                // commit is the proof, as is the read round's.
                Some(ticket) => {
                    committed > target || (r.confirmed >= ticket && committed >= target)
                }
                None => committed >= target,
            };
            if settled {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Unsettled::TimedOut);
            }
            // What may settle it next: the commit of `target` (for a read already committed
            // that far, of one more byte), or the read round's confirmation.
            let need = if ticket.is_some() && committed >= target {
                target + 1
            } else {
                target
            };
            r.settling.by_offset.insert((need, id), me.clone());
            if let Some(t) = ticket.filter(|&t| r.confirmed < t) {
                r.settling.by_ticket.insert((t, id), me.clone());
            }
            drop(r);
            std::thread::park_timeout(deadline - now);
            r = s.reads.lock();
            // Woken (its entries removed), timed out or woken spuriously: no entry stays.
            r.settling.by_offset.remove(&(need, id));
            if let Some(t) = ticket {
                r.settling.by_ticket.remove(&(t, id));
            }
        }
    }

    /// Whether this node leads and serves commands.
    fn serving(&self) -> bool {
        self.shared.serving.load(Ordering::SeqCst)
    }

    fn leader_node(&self) -> Option<u64> {
        Some(self.leader()).filter(|&id| id != 0)
    }
}

impl std::fmt::Debug for RaftNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftNode")
            .field("id", &self.shared.id)
            .finish_non_exhaustive()
    }
}

impl Drop for RaftNode {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A commit or a confirmation wakes exactly the waiters it may settle, and removes them;
    /// a change of leadership wakes everyone.
    #[test]
    fn settling_wakes_only_the_waiters_whose_offset_or_ticket_was_reached() {
        let waiter = |name: &str| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(std::thread::park)
                .unwrap()
        };
        let (a, b, c) = (waiter("a"), waiter("b"), waiter("c"));
        let mut s = Settling::default();
        s.by_offset.insert((5, 1), a.thread().clone());
        s.by_offset.insert((9, 2), b.thread().clone());
        s.by_ticket.insert((3, 3), c.thread().clone());
        let names = |m: &BTreeMap<(u64, u64), Thread>| -> Vec<String> {
            m.values().map(|t| t.name().unwrap().to_string()).collect()
        };
        s.committed(8);
        assert_eq!(names(&s.by_offset), ["b"]);
        a.join().unwrap();
        s.confirmed(2);
        assert_eq!(names(&s.by_ticket), ["c"]);
        s.confirmed(3);
        assert!(s.by_ticket.is_empty());
        c.join().unwrap();
        s.committed(u64::MAX);
        assert!(s.by_offset.is_empty());
        b.join().unwrap();
        s.by_offset.insert((1, 4), std::thread::current());
        s.by_ticket.insert((1, 4), std::thread::current());
        s.all();
        assert!(s.by_offset.is_empty() && s.by_ticket.is_empty());
    }
}
