//! `Kv`, the whole store, and `Db`, a handle to one numbered database.
//!
//! Keys are hashed once, with a keyed hasher seeded per `Kv` (foldhash's `RandomState`), so
//! keys that arrive from the network cannot be chosen to collide. The hash picks the shard
//! from bits 32.. and is handed to the shard's `HashTable` unchanged: hashbrown uses the low
//! bits for the bucket and the top 7 bits as the tag, so taking the shard from the middle
//! leaves both with full entropy.
//!
//! # Lock order (invariant)
//! Shard locks are taken in ascending `(database, shard)` order, and a thread that holds a
//! shard lock only ever asks for a greater one. Single-key operations hold one lock; multi-key
//! operations (MGET, MSET, MSETNX, DEL, EXISTS, RENAME, COPY across databases, ...) take all of
//! theirs up front, sorted and de-duplicated, through `Db::write_many`/`Db::lock_read`
//! (`access.rs`); FLUSHDB, FLUSHALL and SWAPDB lock their databases' shards in the same order.
//! Read and write locks follow the same order, so no cycle of waiters can form.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::{RwLock, RwLockWriteGuard};

use crate::access::ShardWrite;
use crate::batch::BatchState;
use crate::clock::Clock;
use crate::effect::Effect;
use crate::error::{Error, Result};
use crate::notify::{Class, NotifyFlags, keyevent_channel, keyspace_channel};
use crate::options::Options;
use crate::persist::Logged;
use crate::pubsub::{Kind, PendingFlush};
use crate::shard::Shard;
use crate::tx::TxLocks;

/// A lock on its own cache line pair, so that neighbouring shards do not false-share.
#[repr(align(128))]
pub(crate) struct Padded(pub(crate) RwLock<Shard>);

pub(crate) struct Inner {
    /// Every shard of every database, database-major: shard `s` of database `d` is at
    /// `d << shard_bits | s`.
    shards: Box<[Padded]>,
    databases: usize,
    shard_bits: u32,
    shard_mask: usize,
    pub(crate) hasher: foldhash::fast::RandomState,
    clock: Arc<dyn Clock>,
    rng: AtomicU64,
    /// Keys removed because their time ran out (lazily or actively), for INFO's
    /// `expired_keys`.
    expired_keys: AtomicU64,
    /// The longest key, value or element a write may store (Redis's `proto-max-bulk-len`).
    max_bulk: AtomicUsize,
    /// The largest sparse HyperLogLog before it becomes dense (Redis's
    /// `hll-sparse-max-bytes`).
    hll_sparse_max: AtomicUsize,
    /// The active-expiry thread's pause between cycles, in ms, and whether it runs cycles
    /// (`Kv::start_active_expiry`; Redis's `hz` and DEBUG SET-ACTIVE-EXPIRE).
    pub(crate) expiry_interval_ms: std::sync::atomic::AtomicU64,
    pub(crate) expiry_enabled: std::sync::atomic::AtomicBool,
    /// Keys are never expired by this store itself (a replica's: its primary sends the
    /// deletions): see [`Kv::set_passive_expiry`].
    pub(crate) passive_expiry: std::sync::atomic::AtomicBool,
    /// The keys watched by [`Watch`](crate::Watch)es, which writers mark as they change them.
    pub(crate) watches: crate::tx::Watches,
    /// The keyspace events to publish ([`NotifyFlags`] bits; 0: none, the default).
    notify_flags: AtomicU32,
    /// The host's [`ChangeObserver`](crate::ChangeObserver), told of every changed key.
    observer: crate::notify::Observer,
    /// Every keyspace event, described, so unit tests can check what operations report.
    #[cfg(test)]
    pub(crate) notify_log: parking_lot::Mutex<Vec<String>>,
    /// `maxmemory`, the eviction policy and its state (`evict.rs`).
    pub(crate) evict: crate::evict::Eviction,
    /// The durability engine of a store opened from a directory (set once, after recovery).
    pub(crate) persist: OnceLock<crate::persist::Persist>,
    /// The publish/subscribe bus (`pubsub/`); subscribers hold it, not the store.
    pub(crate) bus: Arc<crate::pubsub::Bus>,
    /// The order gate (Invariant 12): only its holder may wait for a shard lock while it holds
    /// another. Open transactions (scripts) and whole-keyspace lockers (FLUSHALL, FLUSHDB,
    /// SWAPDB, `Scope::Everything`, the snapshot barrier) take it first, with no shard held;
    /// everyone else who needs several shards takes them without waiting while holding any
    /// (`access::lock_all`).
    gate: parking_lot::Mutex<()>,
    /// A thread is waiting for the gate awake (see [`Inner::gate`]).
    gate_spinner: AtomicBool,
    /// Function libraries (FUNCTION LOAD): name → code. Kept, logged and snapshotted here so
    /// they survive a restart; the interpreter that runs them is the host's
    /// (`script::Engine`). Changed under the order gate, as the snapshot barrier reads them
    /// under it.
    pub(crate) functions: parking_lot::Mutex<std::collections::BTreeMap<Vec<u8>, Vec<u8>>>,
    /// Every journaled effect, described, so unit tests can check what mutations report.
    #[cfg(test)]
    pub(crate) journal_log: parking_lot::Mutex<Vec<String>>,
    /// The replication stream and backlog (`repl/`).
    pub(crate) repl: crate::repl::Repl,
}

thread_local! {
    /// The store (the address of its `Inner`, 0 for none) whose transaction runs on this
    /// thread, and the time it started at: see [`FixedTime`].
    static FIXED_TIME: std::cell::Cell<(usize, u64)> = const { std::cell::Cell::new((0, 0)) };
}

/// While alive, the store's time as this thread sees it stands still at the time it was
/// made: a transaction (MULTI/EXEC, a script or function) holds one, so all its commands
/// decide expiry, and compute deadlines, TTLs and stream IDs, at one instant. This is Redis's
/// rule: a key cannot expire in the middle of a script or an EXEC, so what the transaction
/// saw and what it logs and replicates agree (Redis 7.0 fixes the time its expiry checks use;
/// 7.2's `commandTimeSnapshot` fixes it for everything, which this follows). It also saves a
/// clock read per key. Dropping it puts back what the thread saw before.
pub(crate) struct FixedTime {
    before: (usize, u64),
}

impl FixedTime {
    pub(crate) fn new(inner: &Inner) -> FixedTime {
        let at = inner.now();
        FixedTime {
            before: FIXED_TIME.replace((std::ptr::from_ref(inner) as usize, at)),
        }
    }
}

impl Drop for FixedTime {
    fn drop(&mut self) {
        FIXED_TIME.set(self.before);
    }
}

thread_local! {
    /// The subscribers this thread's keyspace notifications reached that still need their
    /// flush (see `Inner::publish_notification`).
    static NOTICES: std::cell::RefCell<Option<PendingFlush>> =
        const { std::cell::RefCell::new(None) };
}

/// The function libraries (FUNCTION LOAD's), open for changes: see [`Kv::function_store`].
/// Each change is applied and logged at once; [`FunctionStore::commit`] releases the order
/// gate and then waits until the changes are as durable as the sync mode promises.
pub struct FunctionStore<'a> {
    kv: &'a Kv,
    gate: Option<parking_lot::MutexGuard<'a, ()>>,
    logged: crate::persist::Logged,
}

impl std::fmt::Debug for FunctionStore<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionStore").finish_non_exhaustive()
    }
}

impl FunctionStore<'_> {
    /// The log-record budget and group of the change: the transaction's inside one.
    fn logged(&self) -> &crate::persist::Logged {
        match self.kv.tx.as_deref().filter(|t| t.active()) {
            Some(tx) => tx.logged(),
            None => &self.logged,
        }
    }

    fn writable(&self) -> Result<()> {
        match self.kv.inner.persist.get() {
            Some(p) => Ok(p.check_writable()?),
            None => Ok(()),
        }
    }

    /// Stores library `name` with `code`, replacing one of that name.
    ///
    /// # Errors
    /// [`Error::StringTooLong`] or [`Error::RecordTooLarge`] for a library too large to log;
    /// [`Error::PersistenceFailed`].
    pub fn set(&self, name: &[u8], code: &[u8]) -> Result<()> {
        self.writable()?;
        let mut admit = self.kv.inner.admit();
        admit.share_with(self.logged());
        admit.arg(name)?.arg(code)?.check()?;
        self.kv
            .inner
            .functions
            .lock()
            .insert(name.to_vec(), code.to_vec());
        self.kv
            .inner
            .journal(Effect::FunctionLoad { name, code }, self.logged());
        Ok(())
    }

    /// Stores several libraries, after deleting every library first when `flush` (FUNCTION
    /// RESTORE), as one log record: after a crash, all of it or none.
    ///
    /// # Errors
    /// As [`FunctionStore::set`], checked for all the libraries before anything changes.
    pub fn restore(&self, flush: bool, libraries: &[(&[u8], &[u8])]) -> Result<()> {
        self.writable()?;
        let mut admit = self.kv.inner.admit();
        admit.share_with(self.logged());
        for (name, code) in libraries {
            admit = admit.arg(name)?.arg(code)?;
        }
        admit.check()?;
        // Inside a transaction its record already holds everything.
        let group = !self.kv.tx_active();
        if group {
            self.kv.inner.begin_group(self.logged());
        }
        let mut functions = self.kv.inner.functions.lock();
        if flush {
            functions.clear();
            self.kv.inner.journal(Effect::FunctionFlush, self.logged());
        }
        for &(name, code) in libraries {
            functions.insert(name.to_vec(), code.to_vec());
            self.kv
                .inner
                .journal(Effect::FunctionLoad { name, code }, self.logged());
        }
        drop(functions);
        if group {
            self.kv.inner.end_group(self.logged());
        }
        Ok(())
    }

    /// Deletes library `name`; false if there was none.
    ///
    /// # Errors
    /// [`Error::PersistenceFailed`].
    pub fn delete(&self, name: &[u8]) -> Result<bool> {
        self.writable()?;
        if self.kv.inner.functions.lock().remove(name).is_none() {
            return Ok(false);
        }
        self.kv
            .inner
            .journal(Effect::FunctionDelete { name }, self.logged());
        Ok(true)
    }

    /// Deletes every library.
    ///
    /// # Errors
    /// [`Error::PersistenceFailed`].
    pub fn flush(&self) -> Result<()> {
        self.writable()?;
        self.kv.inner.functions.lock().clear();
        self.kv.inner.journal(Effect::FunctionFlush, self.logged());
        Ok(())
    }

    /// Releases the order gate, then waits until the changes are durable (inside a
    /// transaction, the transaction acknowledges them).
    ///
    /// # Errors
    /// [`Error::PersistenceFailed`] if the log failed.
    pub fn commit(mut self) -> Result<()> {
        drop(self.gate.take());
        if self.kv.tx_active() {
            return Ok(());
        }
        match self.kv.inner.persist.get() {
            Some(p) => Ok(p.ack(&self.logged, None)?),
            None => Ok(()),
        }
    }
}

/// Flushes the subscribers the keyspace notifications of this thread's last operation reached.
/// The access primitives call it after releasing their locks (a transaction, after it
/// ends); a thread-local check when nothing was published.
pub(crate) fn flush_notifications() {
    // Taken out first: a sink's flush runs with no borrow held.
    let pending = NOTICES.with(|n| n.borrow_mut().take());
    drop(pending); // PendingFlush flushes on drop
}

impl Inner {
    #[inline]
    pub(crate) fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    pub(crate) fn shard_of(&self, hash: u64) -> usize {
        (hash >> 32) as usize & self.shard_mask
    }

    pub(crate) fn shard_count(&self) -> usize {
        self.shard_mask + 1
    }

    pub(crate) fn databases(&self) -> usize {
        self.databases
    }

    /// A shard's lock. Every operation reaches its shards through here, so this is where a
    /// thread's noted stream append is forgotten: an operation that reads after this
    /// thread's last append did not read before it (see `Kv::take_own_append`).
    #[inline]
    pub(crate) fn shard(&self, db: usize, shard: usize) -> &RwLock<Shard> {
        crate::repl::forget_own_append();
        &self.shards[db << self.shard_bits | shard].0
    }

    /// The store's time: its clock's, except inside a transaction (a MULTI/EXEC, a script)
    /// running on this thread, which sees the time it started at (see [`FixedTime`]).
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        let (store, at) = FIXED_TIME.get();
        if store == std::ptr::from_ref(self) as usize {
            at
        } else {
            self.clock.now_ms()
        }
    }

    /// Whether passive expiry is on (`Kv::set_passive_expiry`).
    #[inline]
    pub(crate) fn passive(&self) -> bool {
        self.passive_expiry
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The longest byte string a write may store.
    #[inline]
    pub(crate) fn max_bulk_len(&self) -> usize {
        self.max_bulk.load(Ordering::Relaxed)
    }

    /// The largest sparse HyperLogLog, in bytes, header included.
    #[inline]
    pub(crate) fn hll_sparse_max_bytes(&self) -> usize {
        self.hll_sparse_max.load(Ordering::Relaxed)
    }

    /// Counts a key removed because it expired.
    pub(crate) fn note_expired(&self) {
        self.expired_keys.fetch_add(1, Ordering::Relaxed);
    }

    /// A pseudo-random number (RANDOMKEY, active expiry sampling); not for cryptography.
    pub(crate) fn random(&self) -> u64 {
        // SplitMix64 over an atomic counter. The store's keyed hash of a counter (used
        // before) is built for tables, not as a generator: under some seeds its values
        // `% n` fell unevenly, and eviction's sampling missed keys a whole process long.
        const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut z = self
            .rng
            .fetch_add(GAMMA, Ordering::Relaxed)
            .wrapping_add(GAMMA);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// The durability seam: every mutation reports its effect here while it still holds the
    /// write locks of the shards it changed (see `effect.rs`), so the log's record order is
    /// the order of the changes in memory. An in-memory store has nothing to do.
    /// `logged` is the operation's own record of what it logged (see `Inner::durable`).
    #[inline]
    pub(crate) fn journal(&self, effect: Effect<'_>, logged: &Logged) {
        self.journal_with(effect, logged, || None);
    }

    /// Whether anything takes the journal's effects ([`Inner::journal_with`]): the
    /// replication stream, a watch, an observer or the log.
    #[inline]
    pub(crate) fn journals(&self) -> bool {
        cfg!(test)
            || self.repl.on()
            || self.watches.any()
            || self.observer.any()
            || self.persist.get().is_some()
    }

    /// [`Inner::journal`] by a writer that can say what the key holds after the effect
    /// (`after`, asked only when the replication stream needs it: see `repl/encode.rs`).
    #[inline]
    pub(crate) fn journal_with<'e>(
        &self,
        effect: Effect<'_>,
        logged: &Logged,
        after: impl FnOnce() -> Option<&'e crate::entry::Entry>,
    ) {
        if self.repl.on() {
            self.repl.journal(&effect, after(), logged);
        }
        #[cfg(test)]
        self.journal_log.lock().push(effect.describe());
        if self.watches.any() {
            self.watches.touch(&effect);
        }
        if self.observer.any() {
            self.observer.report(&effect);
        }
        if let Some(p) = self.persist.get() {
            p.journal(&effect, logged);
        }
    }

    /// Reports a keyspace event of `class` about `key` (see `notify.rs`): called by operations
    /// while they hold the key's shard lock, in Redis's order. One relaxed load when the class
    /// is off.
    #[inline]
    pub(crate) fn notify(&self, class: Class, event: &'static str, db: usize, key: &[u8]) {
        let bits = self.notify_flags.load(Ordering::Relaxed);
        if bits & class as u32 != 0 && bits & (Class::Keyspace as u32 | Class::Keyevent as u32) != 0
        {
            self.publish_event(NotifyFlags::from_bits(bits), event, db, key);
        }
    }

    /// Publishes a keyspace notification on the store's bus. The operation holds a shard
    /// lock, so the subscribers' sinks only queue it; they are flushed (a socket write, a
    /// wake-up) by [`flush_notifications`] once the operation released its locks.
    fn publish_notification(&self, channel: &[u8], message: &[u8]) {
        NOTICES.with(|n| {
            let mut n = n.borrow_mut();
            let pending = n.get_or_insert_with(PendingFlush::new);
            self.bus.publish(Kind::Channel, channel, message, pending);
        });
    }

    #[cold]
    fn publish_event(&self, flags: NotifyFlags, event: &'static str, db: usize, key: &[u8]) {
        #[cfg(test)]
        self.notify_log
            .lock()
            .push(format!("{db} {event} {}", key.escape_ascii()));
        if flags.has(Class::Keyspace) {
            self.publish_notification(&keyspace_channel(db, key), event.as_bytes());
        }
        if flags.has(Class::Keyevent) {
            self.publish_notification(&keyevent_channel(db, event), key);
        }
    }

    /// Write-locks a shard. Every writer takes its shard locks through here: a snapshot in
    /// progress dumps the shard first if it has not captured it yet (see `persist/engine.rs`).
    #[inline]
    pub(crate) fn write_shard(&self, db: usize, shard: usize) -> RwLockWriteGuard<'_, Shard> {
        let guard = self.shard(db, shard).write();
        if let Some(p) = self.persist.get() {
            p.before_write(db, shard, &guard);
        }
        self.repl.capture.before_write(db, shard, &guard);
        guard
    }

    /// Write-locks a shard if nobody holds it, as [`Inner::write_shard`] does.
    #[inline]
    pub(crate) fn try_write_shard(
        &self,
        db: usize,
        shard: usize,
    ) -> Option<RwLockWriteGuard<'_, Shard>> {
        let guard = self.shard(db, shard).try_write()?;
        if let Some(p) = self.persist.get() {
            p.before_write(db, shard, &guard);
        }
        self.repl.capture.before_write(db, shard, &guard);
        Some(guard)
    }

    /// Stores a function library read back from the log or a snapshot.
    pub(crate) fn load_function_library(&self, name: &[u8], code: &[u8]) {
        self.functions.lock().insert(name.to_vec(), code.to_vec());
    }

    /// Starts a group: the effects journaled through `logged` until [`Inner::end_group`]
    /// become one log record and one MULTI/EXEC in the replication stream. Called with the
    /// operation's shard locks held.
    pub(crate) fn begin_group(&self, logged: &Logged) {
        if let Some(p) = self.persist.get() {
            p.begin_group(logged);
        }
        self.repl.begin_group(logged);
    }

    /// Ends the group [`Inner::begin_group`] started, before the locks are released.
    pub(crate) fn end_group(&self, logged: &Logged) {
        if let Some(p) = self.persist.get() {
            p.end_group(logged);
        }
        self.repl.end_group(logged);
    }

    /// The order gate if it is free (a caller holding shards may only try).
    pub(crate) fn try_gate(&self) -> Option<parking_lot::MutexGuard<'_, ()>> {
        self.gate.try_lock()
    }

    /// Drops what a group of `logged` holds back instead of appending it: an optimistic
    /// transaction being undone (`tx.rs`).
    pub(crate) fn discard_group(&self, logged: &Logged) {
        if let Some(p) = self.persist.get() {
            p.discard_group(logged);
        }
        logged.repl.borrow_mut().take();
    }

    /// Whether an optimistic transaction's changes can still be undone when it ends: nothing
    /// outside the store sees a change before its transaction ends, as keyspace notifications
    /// (published at once), watches (touched at once) and a change observer would.
    pub(crate) fn undoable(&self) -> bool {
        let bits = self.notify_flags.load(Ordering::Relaxed);
        bits & (Class::Keyspace as u32 | Class::Keyevent as u32) == 0
            && !self.watches.any()
            && !self.observer.any()
    }

    /// Takes the order gate (see the field): the caller may then wait for shards while holding
    /// others. Taken with no shard held.
    ///
    /// One waiter at a time stays awake for up to [`GATE_SPIN`], yielding its CPU between
    /// tries, before it parks like the others. Scripts hold the gate for a few microseconds
    /// each (a pipeline's run of them, tens), and a parked thread takes tens of microseconds
    /// to be woken and scheduled on a busy machine: with every waiter parked, the gate would
    /// stand idle between holders for about as long as it is held.
    pub(crate) fn gate(&self) -> parking_lot::MutexGuard<'_, ()> {
        if let Some(guard) = self.gate.try_lock() {
            return guard;
        }
        if !self.gate_spinner.swap(true, Ordering::Acquire) {
            let deadline = Instant::now() + GATE_SPIN;
            loop {
                std::thread::yield_now();
                if let Some(guard) = self.gate.try_lock() {
                    self.gate_spinner.store(false, Ordering::Release);
                    return guard;
                }
                if Instant::now() >= deadline {
                    break;
                }
            }
            self.gate_spinner.store(false, Ordering::Release);
        }
        self.gate.lock()
    }

    /// Runs a write operation durably: refuses it up front if persistence has failed, and
    /// returns only once what it journaled (through the [`Logged`] handed to `f`) is as
    /// durable as the sync mode promises — or, for a write in a batch, once it is logged and
    /// noted in the batch, whose commit waits instead. `f` must take and release its locks
    /// inside, so that nobody waits for the disk holding a lock.
    ///
    /// # Errors
    /// [`Error::PersistenceFailed`], or `f`'s error.
    #[inline]
    pub(crate) fn durable<R>(
        &self,
        batch: Option<&BatchState>,
        f: impl FnOnce(&Logged) -> Result<R>,
    ) -> Result<R> {
        let logged = Logged::default();
        let Some(p) = self.persist.get() else {
            return f(&logged);
        };
        p.check_writable()?;
        let res = f(&logged);
        p.ack(&logged, batch)?;
        res
    }

    /// Refuses a write whose log record may take `bytes` bytes if that is more than a
    /// persistent store's record limit (see `access::Admit`). With `share`, the bytes are
    /// reserved in that operation's budget: the operations of a transaction share one record,
    /// so their bounds add up.
    ///
    /// # Errors
    /// [`Error::RecordTooLarge`] if the store is persistent and `bytes` (plus what `share`
    /// reserved before) passes its limit.
    pub(crate) fn check_record(&self, bytes: usize, share: Option<&Logged>) -> Result<()> {
        let Some(p) = self.persist.get() else {
            return Ok(());
        };
        let limit = p.max_record();
        let fits = match share {
            Some(logged) => logged.reserve(bytes, limit),
            None => bytes <= limit,
        };
        if fits {
            Ok(())
        } else {
            Err(Error::RecordTooLarge { bytes, limit })
        }
    }
}

/// The whole store: a fixed number of numbered databases, each split into shards.
///
/// `Kv` is a cheap handle (an `Arc` inside); clones share the store. Operations on keys live
/// on [`Db`] through the [`Store`](crate::Store) trait.
#[derive(Clone)]
pub struct Kv {
    pub(crate) inner: Arc<Inner>,
    /// The transaction this handle belongs to, if a [`Tx`](crate::Tx) handed it out.
    tx: Option<Arc<TxLocks>>,
}

impl std::fmt::Debug for Kv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kv")
            .field("databases", &self.inner.databases())
            .field("shards", &self.inner.shard_count())
            .finish_non_exhaustive()
    }
}

impl Kv {
    /// Creates an empty store that lives only in memory.
    pub fn in_memory(opts: Options) -> Kv {
        let hasher = foldhash::fast::RandomState::default();
        let shards = (0..opts.databases * opts.shards)
            .map(|_| Padded(RwLock::new(Shard::new(hasher.clone()))))
            .collect();
        let seed = hasher.hash_one(0x6b76_u64);
        let repl = crate::repl::Repl::new(opts.databases, opts.shards, seed);
        let evict = crate::evict::Eviction::new(&opts);
        Kv {
            inner: Arc::new(Inner {
                shards,
                databases: opts.databases,
                shard_bits: opts.shards.trailing_zeros(),
                shard_mask: opts.shards - 1,
                hasher,
                clock: opts.clock,
                rng: AtomicU64::new(seed),
                expired_keys: AtomicU64::new(0),
                max_bulk: AtomicUsize::new(opts.max_bulk_len),
                hll_sparse_max: AtomicUsize::new(crate::types::hll::DEFAULT_SPARSE_MAX_BYTES),
                expiry_interval_ms: std::sync::atomic::AtomicU64::new(100),
                expiry_enabled: std::sync::atomic::AtomicBool::new(true),
                passive_expiry: std::sync::atomic::AtomicBool::new(false),
                watches: crate::tx::Watches::default(),
                notify_flags: AtomicU32::new(0),
                observer: crate::notify::Observer::default(),
                #[cfg(test)]
                notify_log: parking_lot::Mutex::default(),
                evict,
                persist: OnceLock::new(),
                bus: Arc::default(),
                gate: parking_lot::Mutex::new(()),
                gate_spinner: AtomicBool::new(false),
                functions: parking_lot::Mutex::default(),
                #[cfg(test)]
                journal_log: parking_lot::Mutex::default(),
                repl,
            }),
            tx: None,
        }
    }

    /// A handle of `inner` (no transaction).
    pub(crate) fn from_inner(inner: Arc<Inner>) -> Kv {
        Kv { inner, tx: None }
    }

    /// The handle a transaction hands out.
    pub(crate) fn in_tx(inner: Arc<Inner>, tx: Arc<TxLocks>) -> Kv {
        Kv {
            inner,
            tx: Some(tx),
        }
    }

    /// Whether this handle belongs to a transaction the calling thread is running.
    pub(crate) fn tx_active(&self) -> bool {
        self.tx_locks().is_some()
    }

    /// The transaction this handle belongs to, if the calling thread is running it.
    pub(crate) fn tx_locks(&self) -> Option<&TxLocks> {
        self.tx.as_deref().filter(|t| t.active())
    }

    /// Write access to shard `s` of database `db`: held by the running transaction, or
    /// write-locked.
    fn shard_write(&self, db: usize, s: usize) -> ShardWrite<'_> {
        match self.tx.as_deref().filter(|t| t.active()) {
            // SAFETY: the transaction is active on this thread; the callers take each shard
            // once.
            Some(tx) => ShardWrite::Held(unsafe { tx.shard_mut(&self.inner, db, s) }),
            None => ShardWrite::Locked(self.inner.write_shard(db, s)),
        }
    }

    /// A handle to database `index`.
    ///
    /// # Errors
    /// [`Error::DbIndexOutOfRange`] if `index >= self.databases()`.
    pub fn db(&self, index: usize) -> Result<Db> {
        if index < self.inner.databases() {
            Ok(Db {
                inner: Arc::clone(&self.inner),
                index,
                batch: None,
                tx: self.tx.clone(),
            })
        } else {
            Err(Error::DbIndexOutOfRange)
        }
    }

    /// The number of databases.
    pub fn databases(&self) -> usize {
        self.inner.databases()
    }

    /// The longest key, value, field, member or element a write may store, in bytes
    /// (Redis's `proto-max-bulk-len`; see [`Options::max_bulk_len`]).
    pub fn max_bulk_len(&self) -> usize {
        self.inner.max_bulk_len()
    }

    /// Changes [`Kv::max_bulk_len`] while the store runs (Redis's `CONFIG SET
    /// proto-max-bulk-len`); at least 1. Data already stored is kept whatever its size.
    pub fn set_max_bulk_len(&self, bytes: usize) {
        self.inner.max_bulk.store(bytes.max(1), Ordering::Relaxed);
    }

    /// The size in bytes (header included) past which a sparse HyperLogLog becomes dense
    /// (Redis's `hll-sparse-max-bytes`, 3000 by default).
    pub fn hll_sparse_max_bytes(&self) -> usize {
        self.inner.hll_sparse_max_bytes()
    }

    /// Changes [`Kv::hll_sparse_max_bytes`] while the store runs (Redis's `CONFIG SET
    /// hll-sparse-max-bytes`); values already stored keep their encoding until they change.
    pub fn set_hll_sparse_max_bytes(&self, bytes: usize) {
        self.inner.hll_sparse_max.store(bytes, Ordering::Relaxed);
    }

    /// Which keyspace events the store publishes (Redis's `notify-keyspace-events`; none by
    /// default).
    pub fn notify_keyspace_events(&self) -> NotifyFlags {
        NotifyFlags::from_bits(self.inner.notify_flags.load(Ordering::Relaxed))
    }

    /// Sets which keyspace events the store publishes on its bus (Redis's `CONFIG SET
    /// notify-keyspace-events`): every operation then reports what it did to a key with
    /// Redis's event names, on `__keyspace@<db>__:<key>` (`K`) and `__keyevent@<db>__:<event>`
    /// (`E`). A subscription to those channels is a change feed of the store, in-process or
    /// over the network: each key's events arrive in the order of its changes.
    ///
    /// ```
    /// use kvcore::{Kv, NotifyFlags, Options, Store};
    ///
    /// let kv = Kv::in_memory(Options::default());
    /// kv.set_notify_keyspace_events(NotifyFlags::parse("E$g").unwrap());
    /// let feed = kv.psubscribe(["__keyevent@0__:*"]);
    /// let db = kv.db(0)?;
    /// db.set("user:1", "ann")?;
    /// db.del(&["user:1"])?;
    /// let events: Vec<_> = feed.iter().take(2).map(|m| (m.channel().to_vec(), m.into_payload())).collect();
    /// assert_eq!(events, [
    ///     (b"__keyevent@0__:set".to_vec(), b"user:1".to_vec()),
    ///     (b"__keyevent@0__:del".to_vec(), b"user:1".to_vec()),
    /// ]);
    /// # Ok::<(), kvcore::Error>(())
    /// ```
    pub fn set_notify_keyspace_events(&self, flags: NotifyFlags) {
        self.inner
            .notify_flags
            .store(flags.bits(), Ordering::Relaxed);
    }

    /// Sets (or, with `None`, removes) the observer told of every key a write changes, an
    /// expiry removes or a flush empties, while the change's locks are held (the seam for
    /// Redis's client-side caching invalidations). With none set, a write pays one relaxed
    /// load.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use kvcore::{ChangeObserver, Kv, Options, Store};
    ///
    /// #[derive(Default)]
    /// struct Seen(Mutex<Vec<Vec<u8>>>);
    /// impl ChangeObserver for Seen {
    ///     fn changed(&self, _db: usize, key: &[u8]) {
    ///         self.0.lock().unwrap().push(key.to_vec());
    ///     }
    ///     fn flushed(&self, _db: Option<usize>) {}
    /// }
    ///
    /// let kv = Kv::in_memory(Options::default());
    /// let seen = Arc::new(Seen::default());
    /// kv.set_change_observer(Some(seen.clone()));
    /// kv.db(0)?.set("a", "1")?;
    /// assert_eq!(*seen.0.lock().unwrap(), [b"a".to_vec()]);
    /// # Ok::<(), kvcore::Error>(())
    /// ```
    pub fn set_change_observer(&self, observer: Option<Arc<dyn crate::ChangeObserver>>) {
        self.inner.observer.set(observer);
    }

    /// The store's current time (its clock's), in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        self.inner.now()
    }

    /// Counters over the store's lifetime (INFO's stats section).
    pub fn stats(&self) -> Stats {
        Stats {
            expired_keys: self.inner.expired_keys.load(Ordering::Relaxed),
        }
    }

    /// Empties every database, atomically (FLUSHALL).
    ///
    /// # Errors
    /// [`Error::PersistenceFailed`] if a persistent store refuses writes.
    pub fn flushall(&self) -> Result<()> {
        let inner = &*self.inner;
        self.durable(|logged| {
            let _gate = self.gate_unless_tx();
            let mut guards: Vec<_> = (0..inner.databases())
                .flat_map(|db| (0..inner.shard_count()).map(move |s| (db, s)))
                .map(|(db, s)| (db, self.shard_write(db, s)))
                .collect();
            if inner.watches.any() {
                for db in 0..inner.databases() {
                    let shards = &guards[db * inner.shard_count()..(db + 1) * inner.shard_count()];
                    inner.watches.touch_db(db, |key| live(inner, shards, key));
                }
            }
            for (_, g) in &mut guards {
                g.clear();
            }
            inner.journal(Effect::FlushAll, logged);
            Ok(())
        })
    }

    /// The function libraries (name, code), in name order: what FUNCTION LOAD stored and the
    /// host loads into its interpreter at start-up.
    pub fn function_libraries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.inner
            .functions
            .lock()
            .iter()
            .map(|(n, c)| (n.clone(), c.clone()))
            .collect()
    }

    /// Opens the function libraries for changes: takes the order gate (unless this handle's
    /// transaction holds it), which serializes changes with each other, with scripts and with
    /// snapshots. The host changes its interpreter's libraries while it holds the
    /// [`FunctionStore`], so both change in the same order.
    pub fn function_store(&self) -> FunctionStore<'_> {
        FunctionStore {
            kv: self,
            gate: self.gate_unless_tx(),
            logged: crate::persist::Logged::default(),
        }
    }

    /// The order gate for a whole-keyspace lock, unless this handle's transaction (which
    /// holds or may take every shard) is running.
    fn gate_unless_tx(&self) -> Option<parking_lot::MutexGuard<'_, ()>> {
        (!self.tx_active()).then(|| self.inner.gate())
    }

    /// Runs a whole-store write durably, or inside the running transaction.
    fn durable<R>(&self, f: impl FnOnce(&Logged) -> Result<R>) -> Result<R> {
        match self.tx.as_deref().filter(|t| t.active()) {
            // An optimistic transaction cannot undo a whole-keyspace write: it takes the gate
            // first, or gives up (see `Scope::Optimistic`).
            Some(tx) if !tx.pin(&self.inner) => Err(Error::Conflict),
            Some(tx) => f(tx.logged()),
            None => self.inner.durable(None, f),
        }
    }

    /// Swaps the contents of databases `a` and `b`, atomically (SWAPDB).
    ///
    /// # Errors
    /// [`Error::DbIndexOutOfRange`] if either index is out of range;
    /// [`Error::PersistenceFailed`] if a persistent store refuses writes.
    pub fn swapdb(&self, a: usize, b: usize) -> Result<()> {
        let inner = &*self.inner;
        if a >= inner.databases() || b >= inner.databases() {
            return Err(Error::DbIndexOutOfRange);
        }
        if a == b {
            return Ok(());
        }
        let (lo, hi) = (a.min(b), a.max(b));
        self.durable(|logged| {
            let _gate = self.gate_unless_tx();
            let mut low: Vec<_> = (0..inner.shard_count())
                .map(|s| (lo, self.shard_write(lo, s)))
                .collect();
            let mut high: Vec<_> = (0..inner.shard_count())
                .map(|s| (hi, self.shard_write(hi, s)))
                .collect();
            if inner.watches.any() {
                // A watched key of either database changes if it is live in either.
                for db in [lo, hi] {
                    inner
                        .watches
                        .touch_db(db, |key| live(inner, &low, key) || live(inner, &high, key));
                }
            }
            // Both databases use the same hasher and shard count, so shard i of one is shard
            // i of the other.
            for ((_, l), (_, h)) in low.iter_mut().zip(high.iter_mut()) {
                std::mem::swap(&mut **l, &mut **h);
            }
            inner.journal(Effect::SwapDb { a, b }, logged);
            Ok(())
        })
    }
}

/// Whether `key` is live (present and not expired) in the database whose shards, in order, are
/// `shards`.
fn live(inner: &Inner, shards: &[(usize, ShardWrite<'_>)], key: &[u8]) -> bool {
    let hash = inner.hash(key);
    let shard = &shards[inner.shard_of(hash)].1;
    shard
        .find(hash, key)
        .is_some_and(|i| !shard.get(i).entry.is_expired(inner.now()))
}

/// Counters over a store's lifetime; see [`Kv::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Keys removed because their expiry passed, found by a read or write or by active
    /// expiry (Redis's `expired_keys`). Deleting a key by giving it a past deadline does not
    /// count, as in Redis.
    pub expired_keys: u64,
}

/// A handle to one numbered database; cheap to clone. Its operations are the
/// [`Store`](crate::Store) trait's.
///
/// A handle from [`Kv::db`] acknowledges each write itself (it returns once the write is as
/// durable as the sync mode promises); one from [`Batch::db`](crate::Batch::db) leaves that
/// to its batch's commit.
#[derive(Clone)]
pub struct Db {
    pub(crate) inner: Arc<Inner>,
    pub(crate) index: usize,
    /// The batch whose commit acknowledges this handle's writes, if any.
    batch: Option<Arc<BatchState>>,
    /// The transaction this handle belongs to, if a [`Tx`](crate::Tx) handed it out.
    tx: Option<Arc<TxLocks>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl Db {
    pub(crate) fn in_batch(inner: Arc<Inner>, index: usize, batch: Arc<BatchState>) -> Db {
        Db {
            inner,
            index,
            batch: Some(batch),
            tx: None,
        }
    }

    /// The transaction this handle belongs to, if the calling thread is running it (a handle
    /// that escaped its transaction, or used on another thread, works as a plain one).
    #[inline]
    pub(crate) fn tx(&self) -> Option<&TxLocks> {
        self.tx.as_deref().filter(|t| t.active())
    }

    /// The batch this handle's writes join, if any (see `Inner::durable`).
    pub(crate) fn batch(&self) -> Option<&BatchState> {
        self.batch.as_deref()
    }

    /// This database's number.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The type of `key` (as [`Store::key_type`](crate::Store::key_type)) without counting as
    /// a read: a missing key is no `keymiss` event. For the checks a command makes before its
    /// own access (Redis checks an input's type before it parses the options after it).
    pub fn peek_type(&self, key: impl AsRef<[u8]>) -> Option<crate::KeyType> {
        self.read_entry_with(key.as_ref(), false, |e| e.map(|e| e.value.key_type()))
    }

    /// How many keys carry an expiry (INFO keyspace's `expires`), counting expired keys not
    /// yet reclaimed, as Redis does.
    pub fn expires(&self) -> u64 {
        (0..self.inner.shard_count())
            .map(|s| self.shard_read(self.index, s).volatile().len() as u64)
            .sum()
    }

    /// Whether this handle's writes join a [`Batch`](crate::Batch) instead of being
    /// acknowledged one by one.
    pub fn in_a_batch(&self) -> bool {
        self.batch.is_some()
    }

    /// The store this database belongs to.
    pub fn kv(&self) -> Kv {
        Kv {
            inner: Arc::clone(&self.inner),
            tx: self.tx.clone(),
        }
    }
}

/// How long the one awake waiter for the order gate keeps trying before it parks
/// (`Inner::gate`): a few script runs' worth.
const GATE_SPIN: Duration = Duration::from_micros(300);
