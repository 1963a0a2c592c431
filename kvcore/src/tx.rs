//! Transactions: several operations run as one atomic, isolated step, logged as one record.
//!
//! [`Kv::transaction`] (or [`Db::transaction`]) write-locks, in the crate's lock order, every
//! shard its [`Scope`] names: the shards of a set of keys, or every shard of every database.
//! Then it runs a closure with a [`Tx`], whose [`Db`] and [`Kv`] handles work on those held
//! shards instead of locking: no other thread observes a state between two of the closure's
//! operations, and the operations' effects go to the log as one group record, so a crash keeps
//! all of them or none. The locks are released after the record is appended; the transaction
//! is then acknowledged as one write (or joins the caller's [`Batch`](crate::Batch)).
//!
//! A transaction on the keys of a few shards stalls only the clients of those shards. Whole-
//! keyspace operations (FLUSHDB, FLUSHALL, SWAPDB, KEYS, SCAN, DBSIZE, RANDOMKEY, and keys in a
//! database the scope does not name) need [`Scope::Everything`]. A closure that cannot name
//! its keys up front (a Lua script) runs with [`Scope::Open`]: it locks more shards as it
//! reaches them, and open transactions run one at a time; or with [`Scope::Optimistic`],
//! which runs side by side with others and is undone (for the caller to run it again as an
//! open one) if it reaches a key it cannot wait for.
//!
//! # How a handle knows it is in a transaction
//! A [`Db`] or [`Kv`] handed out by a [`Tx`] carries the transaction's [`TxLocks`]: pointers to
//! the held shards, valid while the transaction is open. A handle uses them only on the thread
//! running the transaction and only while it is open; a handle that escaped the closure (a
//! clone stored elsewhere) finds the transaction closed and locks as any other handle does.
//!
//! # Watches
//! [`Watch`] is optimistic concurrency: it records a set of keys, and reports whether any of
//! them was changed (written, deleted, renamed onto, flushed, swapped, or expired) since it
//! was taken. Checking it inside a transaction that locks those keys gives check-and-set:
//! nothing can change them between the check and the transaction's writes.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use parking_lot::{Mutex, MutexGuard, RwLockWriteGuard};

use crate::effect::Effect;
use crate::error::{Error, Result};
use crate::kv::{Db, Inner, Kv};
use crate::persist::Logged;
use crate::shard::Shard;

/// The keys a transaction locks.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// These keys, each in its database: the transaction may read and write them (and only
    /// them).
    Keys(&'a [(usize, &'a [u8])]),
    /// These keys, each in its database, locked up front, and any other key the closure
    /// reaches, locked when it first reaches it (waiting for it if another client holds it):
    /// for closures that cannot name every key in advance, such as Lua scripts. Open
    /// transactions run one at a time: each holds the store's order gate, which is what makes
    /// waiting for a shard out of order safe (Invariant 12). Other clients wait only for the
    /// shards the transaction holds.
    Open(&'a [(usize, &'a [u8])]),
    /// As [`Scope::Open`], without the order gate, so that several run at once: the declared
    /// keys are locked up front as [`Scope::Keys`] locks them, and another key the closure
    /// reaches is locked then if it is free. If it is not, the transaction takes the order
    /// gate if that is free and waits for the key as an open transaction does; if the gate is
    /// not free either, waiting could deadlock, so the transaction is *doomed*: what it did
    /// is undone (each changed key is put back as it was before the transaction first
    /// changed it) and [`Kv::transaction`] returns [`Error::Conflict`], for the caller to run
    /// it again with [`Scope::Open`]. A doomed closure keeps running until it returns (its
    /// operations see a shard it could not lock as empty, and what they do is undone):
    /// [`Kv::tx_doomed`] tells it to stop early, and [`Kv::tx_pin`] makes sure what it does
    /// next will not be undone (before an effect outside the store, such as a publish).
    ///
    /// Undoing is possible only while nothing outside the store has seen the changes: with
    /// keyspace notifications on, a [`Watch`] taken or a change observer set, the
    /// transaction runs as [`Scope::Open`] from the start ([`Kv::optimistic_possible`]).
    Optimistic(&'a [(usize, &'a [u8])]),
    /// Every key of every database: what whole-keyspace operations (FLUSHALL, FLUSHDB, SWAPDB,
    /// KEYS, SCAN, DBSIZE, RANDOMKEY, ...) need. Every other client waits while it runs.
    Everything,
}

/// A held shard: its `(database, shard)` id and where it is.
type HeldShard = ((usize, usize), NonNull<Shard>);

/// The shards a running transaction holds, shared by the handles it hands out.
pub(crate) struct TxLocks {
    /// The running thread's [`thread_token`].
    owner: usize,
    open: AtomicBool,
    /// `(database, shard)` → the held shard, sorted by id. The write guards live in
    /// [`run`]'s frame (or, for shards an open transaction locked later, are forgotten and
    /// unlocked when it closes); these pointers are used only while `open`, on `owner`'s
    /// thread (which is why a `RefCell` is enough).
    shards: RefCell<crate::access::Few<HeldShard>>,
    /// The write guards of the shards an open transaction locked after it started, dropped
    /// by [`Running`] when it closes. Their lifetime is not `'static`: see `grow`.
    grown: RefCell<Vec<RwLockWriteGuard<'static, Shard>>>,
    /// How the transaction was scoped: what to do about a shard it does not hold.
    kind: Kind,
    /// A [`Scope::Optimistic`] transaction's state (`None` for the other kinds).
    optimistic: Option<OptimisticLocks>,
    /// What the transaction logged: one group for all its operations.
    pub(crate) logged: Logged,
}

/// How a transaction was scoped, for a shard it does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Keys,
    Open,
    Optimistic,
    Everything,
}

/// What a [`Scope::Optimistic`] transaction keeps besides its shards (its undo record and
/// the order gate, once taken, are in its [`Logged`], which its writes reach).
#[derive(Default)]
struct OptimisticLocks {
    /// It reached a shard it could not lock: it will be undone.
    doomed: Cell<bool>,
    /// The empty shards handed out for the shards it could not lock (one per shard, so two
    /// of them are never the same memory); thrown away with what was written into them.
    /// Boxed: the transaction points at them while the vector grows.
    #[allow(clippy::vec_box)]
    stand_ins: RefCell<Vec<Box<Shard>>>,
}

/// The keys an optimistic transaction changed, as they were before its first change to each
/// (`None`: absent): what undoing it puts back. Kept in the transaction's [`Logged`], which
/// every write of the transaction reaches (`access::WriteSlot`); gone once the transaction
/// took the order gate (it can no longer be undone). Its buffers are reused by the thread's
/// next optimistic transaction ([`Undo::take`], [`Undo::give_back`]): a script's transaction
/// allocates nothing for them in the steady state.
#[derive(Debug, Default)]
pub(crate) struct Undo {
    /// `(database, where the key is in `keys`, the entry before)`.
    saved: Vec<(usize, std::ops::Range<usize>, Option<crate::entry::Entry>)>,
    /// The saved keys, back to back.
    keys: Vec<u8>,
    /// The heap bytes of the entries saved so far (against [`UNDO_COPY_LIMIT`]).
    copied: usize,
    /// Positions in `saved`, by the hash of `(database, key)`: built once more than
    /// [`UNDO_SCAN`] keys are saved (below that a scan is cheaper than hashing).
    index: hashbrown::HashTable<usize>,
}

/// How many saved keys [`Undo::has`] scans before it uses an index.
const UNDO_SCAN: usize = 8;

/// Past this many bytes of copied values a transaction stops copying for undoing: it takes
/// the order gate instead if it can (it then cannot be undone), so a script changing a
/// large list, or many middling ones, does not copy them.
const UNDO_COPY_LIMIT: usize = 64 * 1024;

fn undo_hash(db: usize, key: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::default().hash_one((db, key))
}

thread_local! {
    /// A cleared [`Undo`] kept for the thread's next optimistic transaction.
    static SPARE_UNDO: Cell<Option<Box<Undo>>> = const { Cell::new(None) };
}

impl Undo {
    /// An empty record: the thread's spare one if it has one.
    fn take() -> Box<Undo> {
        SPARE_UNDO.take().unwrap_or_default()
    }

    /// Empties the record and keeps it for the thread's next transaction, unless it grew
    /// large.
    fn give_back(mut self: Box<Undo>) {
        self.saved.clear();
        self.index.clear();
        self.copied = 0;
        if self.keys.capacity() <= 4096 && self.saved.capacity() <= 256 {
            self.keys.clear();
            SPARE_UNDO.set(Some(self));
        }
    }

    fn key(&self, range: &std::ops::Range<usize>) -> &[u8] {
        &self.keys[range.clone()]
    }

    /// Whether `key` of database `db` was saved already.
    fn has(&self, db: usize, key: &[u8]) -> bool {
        if self.saved.len() <= UNDO_SCAN {
            return self
                .saved
                .iter()
                .any(|(d, r, _)| *d == db && self.key(r) == key);
        }
        self.index
            .find(undo_hash(db, key), |&i| {
                let (d, r, _) = &self.saved[i];
                *d == db && self.key(r) == key
            })
            .is_some()
    }

    /// Saves `entry` as `key`'s state before the transaction's first change to it (the
    /// caller checked it is not saved yet).
    fn save(&mut self, db: usize, key: &[u8], entry: Option<crate::entry::Entry>) {
        let start = self.keys.len();
        self.keys.extend_from_slice(key);
        self.saved.push((db, start..self.keys.len(), entry));
        let n = self.saved.len();
        if n == UNDO_SCAN + 1 {
            for i in 0..n {
                self.index_one(i);
            }
        } else if n > UNDO_SCAN + 1 {
            self.index_one(n - 1);
        }
    }

    fn index_one(&mut self, i: usize) {
        let (saved, keys) = (&self.saved, &self.keys);
        let hash_of = |j: &usize| {
            let (d, r, _) = &saved[*j];
            undo_hash(*d, &keys[r.clone()])
        };
        let hash = hash_of(&i);
        self.index.insert_unique(hash, i, hash_of);
    }
}

impl Inner {
    /// Called by a write of an optimistic transaction about to change `key` (see [`Undo`]):
    /// saves the key's current entry (`current` copies it; `size`: its heap bytes) unless it
    /// is saved already or the transaction took the gate. Past [`UNDO_COPY_LIMIT`] bytes
    /// copied, nothing more is copied when the gate can be taken instead.
    pub(crate) fn save_for_undo(
        &self,
        logged: &Logged,
        db: usize,
        key: &[u8],
        size: impl FnOnce() -> usize,
        current: impl FnOnce() -> Option<crate::entry::Entry>,
    ) {
        let mut undo = logged.undo.borrow_mut();
        let Some(u) = undo.as_mut() else {
            return;
        };
        if u.has(db, key) {
            return;
        }
        let size = size();
        if u.copied + size > UNDO_COPY_LIMIT && self.promote(logged) {
            if let Some(u) = undo.take() {
                u.give_back();
            }
            return;
        }
        u.copied += size;
        u.save(db, key, current());
    }

    /// Takes the order gate for an optimistic transaction, if it is free (a try: the caller
    /// holds shards). From then on the transaction waits for shards as an open one does and
    /// is never undone. True if it holds the gate now.
    fn promote(&self, logged: &Logged) -> bool {
        if logged.promoted.borrow().is_some() {
            return true;
        }
        let Some(gate) = self.try_gate() else {
            return false;
        };
        // SAFETY: only the lifetime changes. The guard borrows this `Inner`, which `run`'s
        // caller keeps alive until `run` returns; `Running`'s drop, inside `run`, takes the
        // guard out of `promoted` and drops it.
        let gate =
            unsafe { std::mem::transmute::<MutexGuard<'_, ()>, MutexGuard<'static, ()>>(gate) };
        *logged.promoted.borrow_mut() = Some(gate);
        true
    }
}
// SAFETY: the raw shard pointers (and the `Logged` and `RefCell`s, which are not `Sync`) are used only by
// `active`'s caller, which `active` restricts to the owner thread while the transaction is
// open; the owner thread closes the transaction before the guards behind the pointers are
// dropped. Another thread that holds a clone sees it as inactive and never dereferences.
unsafe impl Send for TxLocks {}
// SAFETY: as for `Send`.
unsafe impl Sync for TxLocks {}

impl std::fmt::Debug for TxLocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxLocks")
            .field("open", &self.open.load(Ordering::Relaxed))
            .field("shards", &self.shards.borrow().len())
            .finish_non_exhaustive()
    }
}

thread_local! {
    static TOKEN: u8 = const { 0 };
}

/// A number that identifies the calling thread among the live threads: the address of one of
/// its thread-locals. Cheaper than `std::thread::current().id()` (no reference count to
/// touch), and enough here: the owner of an open transaction is alive, so no other live
/// thread has its token.
#[inline]
fn thread_token() -> usize {
    TOKEN.with(|t| std::ptr::from_ref(t) as usize)
}

impl TxLocks {
    /// Whether the calling thread is running this transaction right now.
    #[inline]
    pub(crate) fn active(&self) -> bool {
        self.open.load(Ordering::Acquire) && thread_token() == self.owner
    }

    /// The held shard `s` of database `db`; an open transaction locks it now if it does not
    /// hold it yet.
    ///
    /// # Panics
    /// If a [`Scope::Keys`] transaction does not hold it: the operation touched a key outside
    /// the transaction's scope. Locking it now could deadlock (the held locks were taken in
    /// order without the order gate), so this is a programming error in the caller's scope.
    fn held(&self, inner: &Inner, db: usize, s: usize) -> NonNull<Shard> {
        let pos = {
            let shards = self.shards.borrow();
            match shards.binary_search_by(|(id, _)| id.cmp(&(db, s))) {
                Ok(pos) => return shards[pos].1,
                Err(pos) => pos,
            }
        };
        match self.kind {
            Kind::Open => self.grow(inner, db, s, pos),
            Kind::Optimistic => self.reach(inner, db, s, pos),
            Kind::Keys => panic!(
                "a transaction touched database {db} shard {s}, outside its scope \
                 (declare the key, or use Scope::Open or Scope::Everything)"
            ),
            Kind::Everything => {
                panic!("a transaction touched database {db} shard {s}, which does not exist")
            }
        }
    }

    /// One more shard for an optimistic transaction (see [`Scope::Optimistic`]): locked if
    /// it is free; waited for if the order gate can be taken; otherwise an empty stand-in,
    /// and the transaction is doomed. It never waits while holding shards without the gate
    /// (Invariant 12).
    #[cold]
    fn reach(&self, inner: &Inner, db: usize, s: usize, pos: usize) -> NonNull<Shard> {
        if self.logged.promoted.borrow().is_some() {
            return self.grow(inner, db, s, pos);
        }
        if let Some(guard) = inner.try_write_shard(db, s) {
            return self.keep(db, s, pos, guard);
        }
        if inner.promote(&self.logged) {
            // Holding the gate, it is never undone: drop what it saved for that.
            if let Some(u) = self.logged.undo.borrow_mut().take() {
                u.give_back();
            }
            return self.grow(inner, db, s, pos);
        }
        let o = self.optimistic.as_ref().expect("an optimistic transaction");
        o.doomed.set(true);
        let mut stand_in = Box::new(Shard::new(inner.hasher.clone()));
        let shard = NonNull::from(&mut *stand_in);
        o.stand_ins.borrow_mut().push(stand_in);
        self.shards.borrow_mut().insert(pos, ((db, s), shard));
        shard
    }

    /// Whether this optimistic transaction is doomed (see [`Scope::Optimistic`]).
    pub(crate) fn doomed(&self) -> bool {
        self.optimistic.as_ref().is_some_and(|o| o.doomed.get())
    }

    /// Makes sure what the transaction does next is not undone: true for any transaction but
    /// an optimistic one that cannot take the order gate now, which is doomed from then on.
    pub(crate) fn pin(&self, inner: &Inner) -> bool {
        let Some(o) = &self.optimistic else {
            return true;
        };
        if o.doomed.get() {
            return false;
        }
        if inner.promote(&self.logged) {
            if let Some(u) = self.logged.undo.borrow_mut().take() {
                u.give_back();
            }
            return true;
        }
        o.doomed.set(true);
        false
    }

    /// Puts back every key a doomed optimistic transaction changed, in the shards it holds
    /// (a stand-in shard is thrown away instead).
    fn undo(&self, inner: &Inner) {
        let Some(undo) = self.logged.undo.borrow_mut().take() else {
            return;
        };
        let stand_ins: Vec<*const Shard> = self
            .optimistic
            .as_ref()
            .map(|o| {
                o.stand_ins
                    .borrow()
                    .iter()
                    .map(|b| &**b as *const Shard)
                    .collect()
            })
            .unwrap_or_default();
        let shards = self.shards.borrow();
        let mut undo = undo;
        let saved = std::mem::take(&mut undo.saved);
        for (db, range, before) in saved.into_iter().rev() {
            let key = undo.key(&range);
            let hash = inner.hash(key);
            let id = (db, inner.shard_of(hash));
            let Ok(pos) = shards.binary_search_by(|(i, _)| i.cmp(&id)) else {
                unreachable!("a changed key's shard is held");
            };
            let ptr = shards[pos].1;
            if stand_ins.contains(&ptr.as_ptr().cast_const()) {
                continue;
            }
            // SAFETY: the transaction is open on this thread and holds the shard; nothing
            // else references it now (the closure returned).
            unsafe { &mut *ptr.as_ptr() }.restore(hash, key, before);
        }
        undo.give_back();
    }

    /// Locks one more shard for an open transaction. It may wait: the transaction holds the
    /// order gate, so whoever holds the shard is not waiting for one of ours (Invariant 12).
    #[cold]
    fn grow(&self, inner: &Inner, db: usize, s: usize, pos: usize) -> NonNull<Shard> {
        self.keep(db, s, pos, inner.write_shard(db, s))
    }

    /// Holds a shard locked after the transaction started (at `pos` in `shards`) until it
    /// closes.
    fn keep(
        &self,
        db: usize,
        s: usize,
        pos: usize,
        mut guard: RwLockWriteGuard<'_, Shard>,
    ) -> NonNull<Shard> {
        let shard = NonNull::from(&mut *guard);
        // SAFETY: only the lifetime changes. The guard borrows `inner`, which the caller of
        // `run` keeps alive (an `Arc`) until `run` returns; `Running`'s drop, inside `run`,
        // takes the guard out of `grown` and drops it on this thread.
        let guard = unsafe {
            std::mem::transmute::<RwLockWriteGuard<'_, Shard>, RwLockWriteGuard<'static, Shard>>(
                guard,
            )
        };
        self.shards.borrow_mut().insert(pos, ((db, s), shard));
        self.grown.borrow_mut().push(guard);
        shard
    }

    /// Exclusive access to a held shard.
    ///
    /// # Safety
    /// The caller runs the transaction (`active()`), and holds no other reference to the same
    /// shard while the returned one lives (as with a lock, which a second attempt on the same
    /// thread would deadlock on).
    // The shard is not part of `self`: `self` holds a pointer to it, as a lock holds its data.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn shard_mut(&self, inner: &Inner, db: usize, s: usize) -> &mut Shard {
        // SAFETY: the pointer comes from a write guard that `run` holds (or `grow` forgot)
        // while the transaction is open (the caller checked `active()`); exclusivity is the
        // caller's promise.
        unsafe { &mut *self.held(inner, db, s).as_ptr() }
    }

    /// Shared access to a held shard.
    ///
    /// # Safety
    /// As for [`TxLocks::shard_mut`], except that other shared references may coexist.
    pub(crate) unsafe fn shard_ref(&self, inner: &Inner, db: usize, s: usize) -> &Shard {
        // SAFETY: as in `shard_mut`.
        unsafe { &*self.held(inner, db, s).as_ptr() }
    }

    /// The log-record budget the transaction has reserved so far (see `access::Admit`).
    pub(crate) fn logged(&self) -> &Logged {
        &self.logged
    }
}

/// What a transaction's closure works with: handles whose operations run on the shards the
/// transaction holds.
///
/// [`Kv::transaction`] (or [`Db::transaction`]) write-locks, in the store's lock order, every
/// shard its [`Scope`] names, then runs a closure with a `Tx`. The [`Db`] and [`Kv`] handles
/// the `Tx` hands out work on those held shards instead of locking, so no other thread observes
/// a state between two of the closure's operations, and the operations' effects are logged as
/// one record: a crash keeps all of them or none. A transaction over a few keys stalls only
/// the clients of their shards; whole-keyspace operations need [`Scope::Everything`].
///
/// The handles work inside the transaction only on the thread running it and while it runs;
/// one that escapes the closure (a clone kept elsewhere) then works as any other handle.
#[derive(Debug)]
pub struct Tx {
    kv: Kv,
}

impl Tx {
    /// A handle to database `index` inside the transaction.
    ///
    /// # Errors
    /// [`Error::DbIndexOutOfRange`].
    pub fn db(&self, index: usize) -> Result<Db> {
        self.kv.db(index)
    }

    /// The store inside the transaction: its whole-store operations ([`Kv::flushall`],
    /// [`Kv::swapdb`]) run on the held shards (they need [`Scope::Everything`]).
    pub fn kv(&self) -> &Kv {
        &self.kv
    }
}

/// Closes a transaction when its closure returns or unwinds: appends its group record while
/// the locks are still held, marks it closed, then releases the locks (the shards an open
/// transaction took later, then, in field order, the rest and the order gate).
struct Running<'a> {
    inner: &'a Inner,
    locks: Arc<TxLocks>,
    _guards: crate::access::Few<RwLockWriteGuard<'a, Shard>>,
    _gate: Option<MutexGuard<'a, ()>>,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if self.locks.doomed() {
            self.inner.discard_group(&self.locks.logged);
        } else {
            self.inner.end_group(&self.locks.logged);
        }
        self.locks.open.store(false, Ordering::Release);
        // Nothing reaches the shards through the transaction any more (closed above).
        drop(self.locks.grown.take());
        if let Some(o) = &self.locks.optimistic {
            for mut stand_in in o.stand_ins.take() {
                // Its free slots leave the store's vacant count, as a cleared shard's do.
                stand_in.clear();
            }
        }
        if let Some(undo) = self.locks.logged.undo.take() {
            undo.give_back();
        }
        drop(self.locks.logged.promoted.take());
        // `_guards` drop after this: no handle can reach the shards any more.
    }
}

/// Runs `f` as a transaction over `scope` (see the module docs); `batch` is the caller's, if
/// any: the transaction joins it instead of waiting for its own commit.
pub(crate) fn run<R>(
    inner: &Arc<Inner>,
    batch: Option<&crate::batch::BatchState>,
    scope: Scope<'_>,
    f: impl FnOnce(&Tx) -> Result<R>,
) -> Result<R> {
    if let Some(p) = inner.persist.get() {
        p.check_writable()?;
    }
    let (ids, kind) = match scope {
        Scope::Keys(keys) | Scope::Open(keys) | Scope::Optimistic(keys) => {
            for &(db, _) in keys {
                if db >= inner.databases() {
                    return Err(Error::DbIndexOutOfRange);
                }
            }
            let kind = match scope {
                Scope::Open(_) => Kind::Open,
                // With the gate held already (a `GateHold`), or with changes seen outside
                // the store before it ends, it cannot be undone: it runs as an open one.
                Scope::Optimistic(_) if holds_gate(inner) || !inner.undoable() => Kind::Open,
                Scope::Optimistic(_) => Kind::Optimistic,
                _ => Kind::Keys,
            };
            (crate::access::shard_ids(inner, keys), kind)
        }
        Scope::Everything => {
            let ids = (0..inner.databases())
                .flat_map(|db| (0..inner.shard_count()).map(move |s| (db, s)))
                .collect();
            (ids, Kind::Everything)
        }
    };
    // Invariant 12: with the order gate, the shards are taken in order, waiting for each;
    // without it, without waiting while holding any. A thread holding a `GateHold` on this
    // store has the gate already.
    let ordered = matches!(kind, Kind::Keys | Kind::Optimistic);
    let gate = (!ordered && !holds_gate(inner)).then(|| inner.gate());
    let mut guards: crate::access::Few<RwLockWriteGuard<'_, Shard>> = if !ordered {
        ids.iter()
            .map(|&(db, s)| inner.write_shard(db, s))
            .collect()
    } else {
        crate::access::lock_all(
            &ids,
            |(db, s)| inner.write_shard(db, s),
            |(db, s)| inner.try_write_shard(db, s),
        )
        .into_iter()
        .map(|(_, g)| g)
        .collect()
    };
    let shards = ids
        .iter()
        .zip(guards.iter_mut())
        .map(|(&id, g)| (id, NonNull::from(&mut **g)))
        .collect();
    let locks = Arc::new(TxLocks {
        owner: thread_token(),
        open: AtomicBool::new(true),
        shards: RefCell::new(shards),
        grown: RefCell::new(Vec::new()),
        kind,
        optimistic: (kind == Kind::Optimistic).then(OptimisticLocks::default),
        logged: Logged::default(),
    });
    if kind == Kind::Optimistic {
        *locks.logged.undo.borrow_mut() = Some(Undo::take());
    }
    inner.begin_group(&locks.logged);
    let running = Running {
        inner,
        locks: Arc::clone(&locks),
        _guards: guards,
        _gate: gate,
    };
    let tx = Tx {
        kv: Kv::in_tx(Arc::clone(inner), Arc::clone(&locks)),
    };
    let fixed = crate::kv::FixedTime::new(inner);
    let res = f(&tx);
    drop(fixed);
    drop(tx);
    let doomed = locks.doomed();
    if doomed {
        locks.undo(inner);
    }
    drop(running);
    if doomed {
        crate::kv::flush_notifications();
        return Err(Error::Conflict);
    }
    let acked = inner.persist.get().map(|p| p.ack(&locks.logged, batch));
    crate::kv::flush_notifications();
    acked.transpose()?;
    res
}

thread_local! {
    /// The store (the address of its `Inner`) whose order gate this thread holds through a
    /// [`GateHold`], 0 if none.
    static HELD_GATE: Cell<usize> = const { Cell::new(0) };
}

/// Whether the calling thread holds `inner`'s order gate through a [`GateHold`].
#[inline]
fn holds_gate(inner: &Inner) -> bool {
    HELD_GATE.get() == std::ptr::from_ref(inner) as usize
}

/// The store's order gate, held by one thread across several open transactions
/// ([`Scope::Open`], [`Scope::Everything`]) so they do not take it one by one: see
/// [`Kv::hold_gate`]. Dropping it releases the gate.
pub struct GateHold {
    /// Borrows `inner`'s gate; dropped before `inner` (field order).
    _guard: MutexGuard<'static, ()>,
    inner: Arc<Inner>,
}

impl std::fmt::Debug for GateHold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GateHold").finish_non_exhaustive()
    }
}

impl GateHold {
    /// Lets a thread waiting for the gate have it, if one is, then takes it back (parking_lot's
    /// fair hand-off; without a waiter it costs nothing): a long run of transactions under
    /// one hold gives the others their turn.
    pub fn bump(&mut self) {
        MutexGuard::bump(&mut self._guard);
    }
}

impl Drop for GateHold {
    fn drop(&mut self) {
        debug_assert!(holds_gate(&self.inner));
        HELD_GATE.set(0);
        // `_guard` drops after this, releasing the gate.
    }
}

impl Kv {
    /// Takes the store's order gate and keeps it until the returned [`GateHold`] drops: the
    /// open transactions this thread runs meanwhile use it instead of each taking it (a
    /// server running a client's pipelined scripts takes the gate once for all of them,
    /// instead of once per script against every other client's scripts). Other open and
    /// whole-keyspace transactions, FLUSHALL, FLUSHDB, SWAPDB and snapshots wait until it
    /// drops; single-key operations and [`Scope::Keys`] transactions do not.
    ///
    /// While it is held, the thread must not wait for anything another thread does while
    /// waiting for the gate, and must not call what takes the gate outside a transaction
    /// (FLUSHALL, FLUSHDB, SWAPDB, [`Kv::function_store`]): it would wait for itself.
    ///
    /// # Panics
    /// If the calling thread holds the gate already, or runs a transaction of this store.
    pub fn hold_gate(&self) -> GateHold {
        assert!(
            HELD_GATE.get() == 0 && !self.tx_active(),
            "the order gate is held already on this thread"
        );
        let guard = self.inner.gate();
        // SAFETY: only the lifetime changes. The guard borrows the `Inner` that the
        // `GateHold` keeps alive through its `Arc`, and drops before it (field order).
        let guard =
            unsafe { std::mem::transmute::<MutexGuard<'_, ()>, MutexGuard<'static, ()>>(guard) };
        HELD_GATE.set(std::ptr::from_ref(&*self.inner) as usize);
        GateHold {
            _guard: guard,
            inner: Arc::clone(&self.inner),
        }
    }

    /// Inside a [`Scope::Optimistic`] transaction on this thread: whether it is doomed (it
    /// reached a key another client holds, and will be undone): the closure may as well stop.
    /// False outside one.
    pub fn tx_doomed(&self) -> bool {
        self.tx_locks().is_some_and(TxLocks::doomed)
    }

    /// Inside a [`Scope::Optimistic`] transaction on this thread: makes sure it will not be
    /// undone from here on (it takes the order gate, if that is free), before the closure does
    /// something the store cannot take back, like publishing a message. False if that cannot
    /// be done: the transaction is doomed, and the closure must not do it. True outside one.
    pub fn tx_pin(&self) -> bool {
        self.tx_locks().is_none_or(|t| t.pin(&self.inner))
    }

    /// Whether a [`Scope::Optimistic`] transaction started now would run optimistically (no
    /// keyspace notifications, watches or change observer: see [`Scope::Optimistic`]), rather
    /// than as [`Scope::Open`].
    pub fn optimistic_possible(&self) -> bool {
        self.inner.undoable()
    }

    /// Runs `f` as one atomic, isolated step over `scope`'s keys: no other client observes
    /// a state between its operations, and their effects are logged as one record (a crash
    /// keeps all or none). Returns once that record is as durable as the sync mode promises.
    /// See [`Tx`] and [`Scope`].
    ///
    /// An operation's error inside `f` is that operation's: what `f` did before it stays
    /// done (as a failed command inside Redis's EXEC), unless `f` returns the error first.
    ///
    /// Inside `f` the store's time stands still at the moment the transaction started (on
    /// this thread, for this store): a key whose deadline passes while `f` runs is still
    /// there for all of `f`'s operations, and deadlines and TTLs are computed from that
    /// moment, as Redis does for a script or an EXEC.
    ///
    /// ```
    /// use kvcore::{Kv, Options, Scope, Store};
    ///
    /// let kv = Kv::in_memory(Options::default());
    /// kv.db(0)?.set("alice", "100")?;
    /// let keys: &[(usize, &[u8])] = &[(0, b"alice"), (0, b"bob")];
    /// kv.transaction(Scope::Keys(keys), |tx| {
    ///     let db = tx.db(0)?;
    ///     db.decrby("alice", 30)?;
    ///     db.incrby("bob", 30)?;
    ///     Ok(())
    /// })?;
    /// assert_eq!(kv.db(0)?.get("bob")?, Some(b"30".to_vec()));
    /// # Ok::<(), kvcore::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::PersistenceFailed`] (refused up front, or the commit failed),
    /// [`Error::DbIndexOutOfRange`] for a key's database, [`Error::Conflict`] for a
    /// [`Scope::Optimistic`] transaction that was undone, or `f`'s error.
    ///
    /// # Panics
    /// If an operation inside `f` touches a key outside `scope` (a key the closure did not
    /// declare, or a whole-keyspace operation without [`Scope::Everything`]), or if `f` starts
    /// another transaction on the same store.
    pub fn transaction<R>(&self, scope: Scope<'_>, f: impl FnOnce(&Tx) -> Result<R>) -> Result<R> {
        assert!(
            !self.tx_active(),
            "a transaction cannot start inside another transaction of the same store"
        );
        run(&self.inner, None, scope, f)
    }
}

impl Db {
    /// [`Kv::transaction`], acknowledged as this handle's writes are: by itself, or with the
    /// rest of its [`Batch`](crate::Batch).
    ///
    /// # Errors
    /// As [`Kv::transaction`].
    ///
    /// # Panics
    /// As [`Kv::transaction`].
    pub fn transaction<R>(&self, scope: Scope<'_>, f: impl FnOnce(&Tx) -> Result<R>) -> Result<R> {
        assert!(
            self.tx().is_none(),
            "a transaction cannot start inside another transaction of the same store"
        );
        run(&self.inner, self.batch(), scope, f)
    }

    /// Starts watching `keys` of this database (see [`Watch`]).
    pub fn watch<K: AsRef<[u8]>>(&self, keys: &[K]) -> Watch {
        let mut w = self.kv().watch_none();
        for k in keys {
            w.add(self, k.as_ref());
        }
        w
    }
}

/// Optimistic concurrency: a set of watched keys and whether any of them changed.
///
/// A key counts as changed when any operation after [`Watch::add`] modified it, deleted it
/// (expiry included), created it, renamed or copied or moved another key onto it, or emptied or
/// swapped its database while it existed; or when it was live at `add` and its expiry has
/// passed since. Reads never change it. Check it inside a transaction that locks the keys for
/// check-and-set:
///
/// ```
/// use kvcore::{Kv, Options, Scope, Store};
///
/// let kv = Kv::in_memory(Options::default());
/// let db = kv.db(0)?;
/// db.set("counter", "41")?;
/// loop {
///     let watch = db.watch(&["counter"]);
///     let n: i64 = std::str::from_utf8(&db.get("counter")?.unwrap()).unwrap().parse().unwrap();
///     let keys: &[(usize, &[u8])] = &[(0, b"counter")];
///     let done = db.transaction(Scope::Keys(keys), |tx| {
///         if watch.changed() {
///             return Ok(false); // somebody else won: read again and retry
///         }
///         tx.db(0)?.set("counter", (n + 1).to_string())?;
///         Ok(true)
///     })?;
///     if done {
///         break;
///     }
/// }
/// assert_eq!(db.get("counter")?, Some(b"42".to_vec()));
/// # Ok::<(), kvcore::Error>(())
/// ```
#[must_use = "a watch reports changes only while it is held"]
pub struct Watch {
    inner: Arc<Inner>,
    state: Arc<WatchState>,
    /// `(database, key, deadline at add)`.
    keys: Vec<(usize, Vec<u8>, Option<u64>)>,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("keys", &self.keys.len())
            .field("touched", &self.state.touched.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct WatchState {
    touched: AtomicBool,
    /// Threads parked in [`Watch::wait_until`] (the writers' check before they notify).
    parked: AtomicUsize,
    lock: Mutex<()>,
    woken: parking_lot::Condvar,
}

impl WatchState {
    /// Marks the watch changed and wakes a thread parked on it.
    fn touch(&self) {
        self.touched.store(true, Ordering::Release);
        // Pairs with the fence in `wait_until`: either the waiter sees `touched`, or this
        // sees it parked (and then the lock orders the notify after its wait began).
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.parked.load(Ordering::Relaxed) > 0 {
            let _guard = self.lock.lock();
            self.woken.notify_all();
        }
    }
}

impl Kv {
    /// A watch of no keys yet; [`Watch::add`] adds keys of any database.
    pub fn watch_none(&self) -> Watch {
        Watch {
            inner: Arc::clone(&self.inner),
            state: Arc::default(),
            keys: Vec::new(),
        }
    }
}

impl Watch {
    /// Watches `key` of `db`'s database from now on (a key already watched is watched once).
    ///
    /// # Panics
    /// If `db` belongs to another store.
    pub fn add(&mut self, db: &Db, key: &[u8]) {
        assert!(
            Arc::ptr_eq(&self.inner, &db.inner),
            "a watch follows the keys of one store"
        );
        if self.keys.iter().any(|(d, k, _)| *d == db.index && k == key) {
            return;
        }
        // A key already expired is removed first (reading it does that): it is missing, not
        // changed. Then register, then read the deadline: a change between those two is seen.
        db.read_entry_with(key, false, |_| ());
        self.inner.watches.register(db.index, key, &self.state);
        let deadline = db.read_entry_with(key, false, |e| e.and_then(|e| e.expire_at()));
        self.keys.push((db.index, key.to_vec(), deadline));
    }

    /// Whether a watched key changed since it was added (see the type docs).
    pub fn changed(&self) -> bool {
        if self.state.touched.load(Ordering::Acquire) {
            return true;
        }
        let now = self.inner.now();
        self.keys
            .iter()
            .any(|(_, _, deadline)| deadline.is_some_and(|at| at <= now))
    }

    /// Waits until a watched key changes ([`Watch::changed`]) or `deadline` passes (`None`:
    /// no deadline); whether it changed. Any write to a watched key wakes it, from whichever
    /// thread or handle of the store: what blocking reads wait on.
    pub fn wait_until(&self, deadline: Option<std::time::Instant>) -> bool {
        // Expiry changes a key without a write: look again at least this often.
        const RECHECK: std::time::Duration = std::time::Duration::from_millis(100);
        let state = &self.state;
        state.parked.fetch_add(1, Ordering::Relaxed);
        std::sync::atomic::fence(Ordering::SeqCst);
        let mut guard = state.lock.lock();
        let changed = loop {
            if self.changed() {
                break true;
            }
            let now = std::time::Instant::now();
            let slice = match deadline {
                Some(d) if d <= now => break false,
                Some(d) => (d - now).min(RECHECK),
                None => RECHECK,
            };
            state.woken.wait_for(&mut guard, slice);
        };
        drop(guard);
        state.parked.fetch_sub(1, Ordering::Relaxed);
        changed
    }

    /// How many keys it watches.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether it watches no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        for (db, key, _) in &self.keys {
            self.inner.watches.unregister(*db, key, &self.state);
        }
    }
}

/// `(database, key)` → the watches that follow it.
type Watchers = HashMap<(usize, Vec<u8>), Vec<Arc<WatchState>>>;

/// The watched keys of a store: key → the watches that follow it. Writers consult it only
/// when somebody watches (one relaxed load otherwise).
#[derive(Debug, Default)]
pub(crate) struct Watches {
    /// How many (key, watch) registrations exist.
    count: AtomicUsize,
    keys: Mutex<Watchers>,
}

impl Watches {
    fn register(&self, db: usize, key: &[u8], state: &Arc<WatchState>) {
        let mut keys = self.keys.lock();
        keys.entry((db, key.to_vec()))
            .or_default()
            .push(Arc::clone(state));
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn unregister(&self, db: usize, key: &[u8], state: &Arc<WatchState>) {
        let mut keys = self.keys.lock();
        let slot = (db, key.to_vec());
        if let Some(list) = keys.get_mut(&slot) {
            if let Some(pos) = list.iter().position(|s| Arc::ptr_eq(s, state)) {
                list.swap_remove(pos);
                self.count.fetch_sub(1, Ordering::Relaxed);
            }
            if list.is_empty() {
                keys.remove(&slot);
            }
        }
    }

    /// Whether anybody watches anything (the writers' fast path).
    #[inline]
    pub(crate) fn any(&self) -> bool {
        self.count.load(Ordering::Relaxed) != 0
    }

    /// Marks the watches of the keys an effect changed. Called by the journal hook with the
    /// changed shards locked, so a transaction that locks a watched key and then checks its
    /// watch sees every change made before it took the lock.
    pub(crate) fn touch(&self, effect: &Effect<'_>) {
        let keys = self.keys.lock();
        effect.for_each_key(|db, key| {
            if let Some(list) = keys.get(&(db, key.to_vec())) {
                for s in list {
                    s.touch();
                }
            }
        });
    }

    /// Marks the watches of the watched keys of database `db` for which `affected` says yes
    /// (FLUSHDB and FLUSHALL: keys that existed; SWAPDB: keys that exist in either database).
    /// Called with the database's shards locked.
    pub(crate) fn touch_db(&self, db: usize, mut affected: impl FnMut(&[u8]) -> bool) {
        let keys = self.keys.lock();
        for ((d, key), list) in keys.iter() {
            if *d == db && affected(key) {
                for s in list {
                    s.touch();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
