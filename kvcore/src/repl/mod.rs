//! The replication stream: every effect, once a backlog exists, encoded as the Redis commands
//! a replica applies (`encode.rs`), appended in memory order to a ring with Redis's offsets
//! (`backlog.rs`), read by each replica's feeder from its own position; and the point-in-time
//! RDB a full sync starts from (`sync.rs`).
//!
//! Order: `Inner::journal` calls [`Repl::journal`] while the operation still holds its shard
//! write locks, and the bytes go into the backlog under one short mutex (as the log's append
//! does), so the stream's order on every key is the order of the changes in memory. A group
//! (a multi-key operation, EXEC, a script) is held in its `Logged` and appended at its end as
//! one `MULTI` ... `EXEC`, still under its locks. With no backlog, the cost is one relaxed
//! load per effect.

mod apply;
mod backlog;
mod encode;
mod sync;

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::effect::Effect;
use crate::entry::Entry;
use crate::error::{Error, Result};
use crate::kv::{Inner, Kv};
use crate::persist::Logged;

pub use apply::{Follower, StreamApplier};
use backlog::Backlog;
pub(crate) use encode::Cmds;
pub(crate) use sync::Capture;
pub use sync::FullSync;

/// Redis's default `repl-backlog-size`: 1 MiB.
pub const DEFAULT_BACKLOG_SIZE: usize = 1 << 20;

/// The replication state of a store (a field of `Inner`).
pub(crate) struct Repl {
    /// Effects are encoded: a backlog exists and this store generates its own stream (a
    /// replica does not: it feeds its primary's stream verbatim).
    on: AtomicBool,
    state: Mutex<State>,
    /// Readers waiting for bytes.
    data: Condvar,
    /// The point-in-time capture of a full sync in progress.
    pub(crate) capture: Capture,
}

struct State {
    backlog: Option<Backlog>,
    generating: bool,
    /// The size a backlog gets (and has).
    size: usize,
    /// The hard limit of a slow reader (see `Backlog::set_reader_limit`).
    reader_limit: usize,
    replid: [u8; 40],
    replid2: [u8; 40],
    /// The first offset replid2 is no longer valid for (-1: none).
    second_offset: i64,
    /// The database the stream's last SELECT chose (`None`: the next command needs one).
    last_db: Option<usize>,
    /// Readers asleep in `StreamReader::read`.
    waiting: usize,
    /// Called after every append (`Replication::set_on_append`).
    on_append: Option<OnAppend>,
}

/// A host's callback for appends to the stream (see [`Replication::set_on_append`]).
pub type OnAppend = Arc<dyn Fn() + Send + Sync>;

impl State {
    fn update_on(&self, on: &AtomicBool) {
        on.store(self.backlog.is_some() && self.generating, Ordering::Relaxed);
    }
}

thread_local! {
    /// The encoding buffer of single effects, reused.
    static SCRATCH: RefCell<Cmds> = RefCell::new(Cmds::default());
    /// This thread's latest append to a stream its store generates: the `Repl` it went to
    /// and the stream's offset just after it (0: none since it was last taken). See
    /// [`Replication::take_own_append`].
    static OWN_APPEND: Cell<(usize, u64)> = const { Cell::new((0, 0)) };
}

/// Forgets this thread's noted append: it is about to reach a shard, so whatever it reads
/// now comes after that append (see [`Kv::take_own_append`]).
#[inline]
pub(crate) fn forget_own_append() {
    OWN_APPEND.set((0, 0));
}

const NO_ID: [u8; 40] = [b'0'; 40];

impl Repl {
    pub(crate) fn new(databases: usize, shards: usize, seed: u64) -> Repl {
        Repl {
            on: AtomicBool::new(false),
            state: Mutex::new(State {
                backlog: None,
                generating: true,
                size: DEFAULT_BACKLOG_SIZE,
                reader_limit: 256 << 20,
                replid: random_id(seed),
                replid2: NO_ID,
                second_offset: -1,
                last_db: None,
                waiting: 0,
                on_append: None,
            }),
            data: Condvar::new(),
            capture: Capture::new(databases * shards),
        }
    }

    /// Whether effects are being encoded (one relaxed load: the cost without replicas).
    #[inline]
    pub(crate) fn on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// Appends a PUBLISH or SPUBLISH to the stream when this store generates one (a Redis
    /// primary propagates PUBLISH to its replicas; a replica's own publishes stay its own),
    /// or to the group of the transaction `logged` belongs to, in its place among the
    /// transaction's effects (a script that writes and then publishes reaches a replica as
    /// one MULTI ... EXEC, as Redis propagates it).
    pub(crate) fn publish(
        &self,
        shard: bool,
        channel: &[u8],
        message: &[u8],
        logged: Option<&Logged>,
    ) {
        if !self.on() {
            return;
        }
        let args: [&[u8]; 3] = [
            if shard { b"SPUBLISH" } else { b"PUBLISH" },
            channel,
            message,
        ];
        if let Some(logged) = logged
            && let Some(group) = logged.repl.borrow_mut().as_mut()
        {
            group.push(None, &args);
            return;
        }
        SCRATCH.with(|c| {
            let mut c = c.borrow_mut();
            c.clear();
            c.push(None, &args);
            self.append(&c);
        });
    }

    /// Notes that this thread's latest append ended the stream at `offset`.
    fn note_own_append(&self, offset: u64) {
        OWN_APPEND.set((std::ptr::from_ref(self) as usize, offset));
    }

    /// Encodes an effect into the stream, or into the operation's group. `after` is the key's
    /// entry as the operation left it, when known (see `encode::encode`).
    pub(crate) fn journal(&self, effect: &Effect<'_>, after: Option<&Entry>, logged: &Logged) {
        if let Some(group) = logged.repl.borrow_mut().as_mut() {
            encode::encode(effect, after, group);
            return;
        }
        SCRATCH.with(|c| {
            let mut c = c.borrow_mut();
            c.clear();
            encode::encode(effect, after, &mut c);
            self.append(&c);
        });
    }

    /// Starts holding the operation's commands back (see `Persist::begin_group`).
    pub(crate) fn begin_group(&self, logged: &Logged) {
        if self.on() {
            *logged.repl.borrow_mut() = Some(Cmds::default());
        }
    }

    /// Appends the commands held since `begin_group`, as one MULTI/EXEC when there are
    /// several, still under the operation's locks.
    pub(crate) fn end_group(&self, logged: &Logged) {
        let group = logged.repl.borrow_mut().take();
        if let Some(cmds) = group {
            self.append(&cmds);
        }
    }

    /// Appends commands to the backlog, with the SELECTs they need, wrapped in MULTI/EXEC
    /// when there are several.
    fn append(&self, cmds: &Cmds) {
        if cmds.len() == 0 {
            return;
        }
        let mut st = self.state.lock();
        if !st.generating {
            return;
        }
        let State {
            backlog, last_db, ..
        } = &mut *st;
        let Some(backlog) = backlog.as_mut() else {
            return;
        };
        let mut select = |backlog: &mut Backlog, db: Option<usize>| {
            if let Some(db) = db
                && *last_db != Some(db)
            {
                let mut out = Vec::with_capacity(32);
                encode::push_command(&mut out, &[b"SELECT", db.to_string().as_bytes()]);
                backlog.append(&out);
                *last_db = Some(db);
            }
        };
        let wrap = cmds.len() > 1;
        if wrap {
            select(backlog, cmds.iter().find_map(|(db, _)| db));
            backlog.append(b"*1\r\n$5\r\nMULTI\r\n");
        }
        for (db, cmd) in cmds.iter() {
            select(backlog, db);
            backlog.append(cmd);
        }
        if wrap {
            backlog.append(b"*1\r\n$4\r\nEXEC\r\n");
        }
        self.note_own_append(backlog.offset());
        if st.waiting > 0 {
            self.data.notify_all();
        }
        if let Some(f) = &st.on_append {
            f();
        }
    }

    /// Appends raw bytes (an already encoded command, or a primary's stream).
    fn append_raw(&self, bytes: &[u8]) -> bool {
        let mut st = self.state.lock();
        let Some(backlog) = st.backlog.as_mut() else {
            return false;
        };
        backlog.append(bytes);
        if st.waiting > 0 {
            self.data.notify_all();
        }
        if let Some(f) = &st.on_append {
            f();
        }
        true
    }

    fn ensure_backlog(&self) {
        let mut st = self.state.lock();
        if st.backlog.is_none() {
            let mut b = Backlog::new(st.size);
            b.set_reader_limit(st.reader_limit);
            st.backlog = Some(b);
            st.last_db = None;
        }
        st.update_on(&self.on);
    }
}

/// A replication ID as given (40 characters).
fn parse_id(replid: &str) -> Result<[u8; 40]> {
    replid
        .as_bytes()
        .try_into()
        .map_err(|_| Error::Corrupt(format!("replication id {replid:?} is not 40 bytes")))
}

/// 40 hex digits from the store's seeded generator and the time (Redis's replication IDs are
/// 40 random hex characters).
fn random_id(seed: u64) -> [u8; 40] {
    use std::hash::{BuildHasher, Hasher};
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let state = std::collections::hash_map::RandomState::new();
    let mut id = [0u8; 40];
    for (i, chunk) in id.chunks_mut(16).enumerate() {
        let mut h = state.build_hasher();
        h.write_u64(seed);
        h.write_u64(t);
        h.write_usize(i);
        let v = h.finish();
        for (j, c) in chunk.iter_mut().enumerate() {
            *c = b"0123456789abcdef"[(v >> (4 * j) & 15) as usize];
        }
    }
    id
}

/// A handle to a store's replication stream: its IDs and offsets, its backlog, readers of it
/// from an offset, and the point-in-time RDB of a full sync. Cheap to clone.
///
/// The stream is Redis's: the commands a Redis replica applies, with `SELECT` when the
/// database changes and multi-key operations, transactions and scripts as `MULTI` ... `EXEC`.
/// Nothing is generated until [`Replication::enable`] (or a full sync) creates the backlog.
///
/// ```
/// use kvcore::{Kv, Options, Store};
///
/// let kv = Kv::in_memory(Options::default());
/// let repl = kv.replication();
/// repl.enable();
/// let mut reader = repl.reader(repl.offset() + 1).unwrap();
/// kv.db(0)?.set("k", "v")?;
/// let mut bytes = Vec::new();
/// reader.read(&mut bytes, 1 << 20, std::time::Duration::ZERO)?;
/// assert_eq!(bytes, b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
/// # Ok::<(), kvcore::Error>(())
/// ```
#[derive(Clone)]
pub struct Replication {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Replication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replication")
            .field("offset", &self.offset())
            .finish_non_exhaustive()
    }
}

impl Kv {
    /// The store's replication stream (see [`Replication`]).
    pub fn replication(&self) -> Replication {
        Replication {
            inner: Arc::clone(&self.inner),
        }
    }

    /// The stream offset just after this thread's latest append to this store's stream,
    /// if the thread has reached no shard since (`None`: its last operation wrote nothing or
    /// read something afterwards), and forgets it. An operation appends its effects after
    /// its reads, under its shard locks, and any operation that reaches a shard forgets the
    /// append noted before; so `Some(offset)` after a command means that everything the
    /// command read, it read before the stream reached `offset` (kvraft's leader settles a
    /// batch that ends so by the commit of that offset alone: the entry holding it was
    /// proposed after the reads). Effects this thread appends for another client (a blocked
    /// pop it serves) count as its own: they too came after its reads.
    pub fn take_own_append(&self) -> Option<u64> {
        let (repl, offset) = OWN_APPEND.replace((0, 0));
        (repl == std::ptr::from_ref(&self.inner.repl) as usize && offset > 0).then_some(offset)
    }
}

impl Replication {
    fn repl(&self) -> &Repl {
        &self.inner.repl
    }

    /// Creates the backlog if there is none: from now on every write is encoded into the
    /// stream (Redis creates its backlog when the first replica attaches, and keeps it).
    pub fn enable(&self) {
        self.repl().ensure_backlog();
    }

    /// Whether a backlog exists (INFO's `repl_backlog_active`).
    pub fn is_active(&self) -> bool {
        self.repl().state.lock().backlog.is_some()
    }

    /// Whether this store's own writes generate stream (true unless a replica turned it
    /// off: a replica's applied effects must not, it feeds its primary's bytes instead).
    pub fn set_generating(&self, generating: bool) {
        let mut st = self.repl().state.lock();
        st.generating = generating;
        st.update_on(&self.repl().on);
    }

    /// The number of the last byte of the stream (Redis's `master_repl_offset`).
    pub fn offset(&self) -> u64 {
        let st = self.repl().state.lock();
        st.backlog.as_ref().map_or(0, Backlog::offset)
    }

    /// The database the stream's last SELECT chose, `None` when the next command it
    /// generates will say SELECT again (after a reset, a full sync or fed bytes). A host that
    /// hands the stream over mid-way (kvraft's leader stepping down) tells the next applier.
    pub fn selected_db(&self) -> Option<usize> {
        self.repl().state.lock().last_db
    }

    /// The replication ID (40 hex characters).
    pub fn replid(&self) -> String {
        String::from_utf8_lossy(&self.repl().state.lock().replid).into_owned()
    }

    /// The previous replication ID (all zeros: none).
    pub fn replid2(&self) -> String {
        String::from_utf8_lossy(&self.repl().state.lock().replid2).into_owned()
    }

    /// The first offset for which `replid2` is no longer valid (-1: none).
    pub fn second_offset(&self) -> i64 {
        self.repl().state.lock().second_offset
    }

    /// `repl-backlog-size`.
    pub fn backlog_size(&self) -> usize {
        self.repl().state.lock().size
    }

    /// Changes `repl-backlog-size` (at least 1 byte), now if a backlog exists.
    pub fn set_backlog_size(&self, bytes: usize) {
        let mut st = self.repl().state.lock();
        st.size = bytes.max(1);
        let size = st.size;
        if let Some(b) = st.backlog.as_mut() {
            b.set_size(size);
        }
    }

    /// Calls `f` after every append to the stream (`None`: no more), under the stream's
    /// lock, on the appending thread: keep it short (set a flag, wake a thread). A host that
    /// reads the stream on a thread that waits for other things too (kvraft's Raft thread)
    /// learns this way that there is something to read, without a thread of its own blocked
    /// in [`StreamReader::read`].
    pub fn set_on_append(&self, f: Option<OnAppend>) {
        self.repl().state.lock().on_append = f;
    }

    /// How far a reader may fall behind beyond the backlog size before it is dropped (the
    /// hard `client-output-buffer-limit` of replicas; 0: no limit; 256 MiB by default).
    pub fn set_reader_limit(&self, bytes: usize) {
        let mut st = self.repl().state.lock();
        st.reader_limit = bytes;
        if let Some(b) = st.backlog.as_mut() {
            b.set_reader_limit(bytes);
        }
    }

    /// The number of the oldest byte the backlog holds (`repl_backlog_first_byte_offset`).
    pub fn backlog_first_byte_offset(&self) -> u64 {
        let st = self.repl().state.lock();
        st.backlog.as_ref().map_or(0, Backlog::first)
    }

    /// How many bytes the backlog holds (`repl_backlog_histlen`).
    pub fn backlog_histlen(&self) -> u64 {
        let st = self.repl().state.lock();
        st.backlog.as_ref().map_or(0, Backlog::histlen)
    }

    /// Appends `args` as one command (PING, `REPLCONF GETACK *`), database-independent;
    /// false if there is no backlog.
    pub fn feed_command(&self, args: &[&[u8]]) -> bool {
        let mut out = Vec::new();
        encode::push_command(&mut out, args);
        self.repl().append_raw(&out)
    }

    /// Appends bytes verbatim: a replica feeds its primary's stream, so that its own replicas
    /// and PSYNC see the same bytes at the same offsets. Creates the backlog if needed.
    pub fn feed_raw(&self, bytes: &[u8]) {
        self.repl().ensure_backlog();
        let mut st = self.repl().state.lock();
        // The primary's SELECTs are in the bytes: whatever this store generates next says
        // its database again.
        st.last_db = None;
        drop(st);
        self.repl().append_raw(bytes);
    }

    /// Promotion (REPLICAOF NO ONE): the current ID becomes `replid2`, valid up to this
    /// offset, and a new random ID starts, so former siblings can still continue partially.
    pub fn shift_replid(&self) {
        let mut st = self.repl().state.lock();
        let offset = st.backlog.as_ref().map_or(0, Backlog::offset);
        st.replid2 = st.replid;
        st.second_offset = offset as i64 + 1;
        st.replid = random_id(self.inner.random());
        st.last_db = None;
    }

    /// A replica's primary continued its stream under a new ID (`+CONTINUE <id>` after the
    /// primary was promoted): the current ID becomes `replid2`, valid up to this offset, and
    /// `replid` is the primary's, so this store's own replicas can continue either way.
    ///
    /// # Errors
    /// [`Error::Corrupt`] if `replid` is not 40 characters.
    pub fn adopt_replid(&self, replid: &str) -> Result<()> {
        let id = parse_id(replid)?;
        let mut st = self.repl().state.lock();
        let offset = st.backlog.as_ref().map_or(0, Backlog::offset);
        st.replid2 = st.replid;
        st.second_offset = offset as i64 + 1;
        st.replid = id;
        Ok(())
    }

    /// Starts the stream over at `offset` under `replid` with an empty backlog (a replica
    /// after loading its primary's RDB); readers are dropped, `replid2` cleared.
    ///
    /// # Errors
    /// [`Error::Corrupt`] if `replid` is not 40 characters.
    pub fn reset(&self, replid: &str, offset: u64) -> Result<()> {
        let id = parse_id(replid)?;
        self.repl().ensure_backlog();
        let mut st = self.repl().state.lock();
        st.replid = id;
        st.replid2 = NO_ID;
        st.second_offset = -1;
        st.last_db = None;
        if let Some(b) = st.backlog.as_mut() {
            b.reset(offset);
        }
        drop(st);
        self.repl().data.notify_all();
        Ok(())
    }

    /// A reader of the stream from byte `from` on (the offset after the last one the caller
    /// has); `None` if the backlog does not hold it (or there is none).
    pub fn reader(&self, from: u64) -> Option<StreamReader> {
        let mut st = self.repl().state.lock();
        let id = st.backlog.as_mut()?.register(from)?;
        Some(StreamReader {
            inner: Arc::clone(&self.inner),
            id,
            pos: from,
        })
    }

    /// PSYNC's partial resynchronisation: a reader from `from` if `replid` is this stream's
    /// ID, or its previous one and `from` is not past where that one ended, and the backlog
    /// still holds `from`.
    pub fn continue_from(&self, replid: &str, from: u64) -> Option<StreamReader> {
        {
            let st = self.repl().state.lock();
            let id = replid.as_bytes();
            let ours = id == st.replid;
            let previous =
                id == st.replid2 && st.second_offset >= 0 && from <= st.second_offset as u64;
            if !ours && !previous {
                return None;
            }
        }
        self.reader(from)
    }

    /// Starts a full sync: creates the backlog if needed and, at one instant, captures the
    /// store's state and the stream offset it corresponds to, without stopping writers for
    /// longer than it takes to lock every shard once (see [`FullSync`]). One full sync runs
    /// at a time; a second call waits for the first to finish.
    pub fn full_sync(&self) -> FullSync {
        sync::start(&self.inner)
    }
}

/// A reader of the replication stream from some offset on (see [`Replication::reader`]); it
/// holds the backlog's bytes it has not read yet, up to the reader limit.
pub struct StreamReader {
    inner: Arc<Inner>,
    id: u64,
    pos: u64,
}

impl std::fmt::Debug for StreamReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamReader")
            .field("position", &self.pos)
            .finish_non_exhaustive()
    }
}

impl StreamReader {
    /// The number of the next byte this reader returns.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Appends up to `max` bytes of the stream to `out`, waiting up to `timeout` for some
    /// to arrive; returns how many (0: none arrived in time).
    ///
    /// # Errors
    /// [`Error::BacklogOverrun`] if the bytes this reader needs are gone (it fell behind
    /// past its limit, or the stream was reset).
    pub fn read(&mut self, out: &mut Vec<u8>, max: usize, timeout: Duration) -> Result<usize> {
        let repl = &self.inner.repl;
        let deadline = Instant::now() + timeout;
        let mut st = repl.state.lock();
        loop {
            let n = st
                .backlog
                .as_mut()
                .and_then(|b| b.read(self.id, out, max))
                .ok_or(Error::BacklogOverrun)?;
            if n > 0 || Instant::now() >= deadline {
                self.pos += n as u64;
                return Ok(n);
            }
            st.waiting += 1;
            repl.data.wait_until(&mut st, deadline);
            st.waiting -= 1;
        }
    }

    /// Whether this reader has read everything appended so far.
    pub fn caught_up(&self) -> bool {
        let st = self.inner.repl.state.lock();
        st.backlog.as_ref().is_some_and(|b| b.caught_up(self.id))
    }
}

impl Drop for StreamReader {
    fn drop(&mut self) {
        let mut st = self.inner.repl.state.lock();
        if let Some(b) = st.backlog.as_mut() {
            b.unregister(self.id);
        }
    }
}

#[cfg(test)]
mod tests;
