//! The primitives every operation is written with. Operation files (`ops/*.rs`) never touch
//! shards or locks directly; they go through these:
//!
//! - [`Db::read_entry`]`(key, |Option<&Entry>| ..)`: runs a closure on the live entry under the
//!   shard's read lock. An expired entry is never shown; finding one removes it (under the
//!   write lock, journaling a `Del`).
//! - [`Db::write_entry`]`(key, |&mut WriteSlot| ..)`: runs a closure with the shard's write
//!   lock held. The `WriteSlot` shows the live entry (an expired one was already removed and
//!   journaled), and offers `put`, `value_mut` (stamps `updated_ms`), `set_expiry`, `remove`
//!   and `journal`. Afterwards a container that became empty is deleted and journaled, as in
//!   Redis. WRONGTYPE checks are `Value::as_string()?` (and its container siblings) inside the
//!   closure; a closure that returns `Err` must not have changed anything.
//! - [`Db::write_many`] / [`Db::lock_read`]: lock the shards of several keys (possibly in
//!   several databases) at once, in the crate's lock order (see `kv.rs`), for atomic
//!   multi-key operations; `MultiWrite::slot` gives a `WriteSlot` per key.
//!
//! Every mutation journals its effect (see `effect.rs`) through `WriteSlot::journal` while the
//! lock is held.

use parking_lot::{RwLockReadGuard, RwLockWriteGuard};

use crate::effect::Effect;
use crate::entry::{Entry, Value};
use crate::kv::{Db, Inner};
use crate::notify::Class;
use crate::persist::Logged;
use crate::shard::Shard;

/// A shard a writer works on: write-locked by it, or held by the transaction it runs in.
pub(crate) enum ShardWrite<'a> {
    Locked(RwLockWriteGuard<'a, Shard>),
    Held(&'a mut Shard),
}

impl std::ops::Deref for ShardWrite<'_> {
    type Target = Shard;
    fn deref(&self) -> &Shard {
        match self {
            ShardWrite::Locked(g) => g,
            ShardWrite::Held(s) => s,
        }
    }
}

impl std::ops::DerefMut for ShardWrite<'_> {
    fn deref_mut(&mut self) -> &mut Shard {
        match self {
            ShardWrite::Locked(g) => g,
            ShardWrite::Held(s) => s,
        }
    }
}

/// A shard a reader looks at: read-locked by it, or held by the transaction it runs in.
pub(crate) enum ShardRead<'a> {
    Locked(RwLockReadGuard<'a, Shard>),
    Held(&'a Shard),
}

impl std::ops::Deref for ShardRead<'_> {
    type Target = Shard;
    fn deref(&self) -> &Shard {
        match self {
            ShardRead::Locked(g) => g,
            ShardRead::Held(s) => s,
        }
    }
}

impl Db {
    /// Read access to shard `s` of database `db`: the running transaction's, or a read lock.
    pub(crate) fn shard_read(&self, db: usize, s: usize) -> ShardRead<'_> {
        match self.tx() {
            // SAFETY: the transaction is active on this thread (`tx()`); a shared reference
            // to a shard it holds exclusively cannot conflict with another operation's.
            Some(tx) => ShardRead::Held(unsafe { tx.shard_ref(&self.inner, db, s) }),
            None => ShardRead::Locked(self.inner.shard(db, s).read()),
        }
    }

    /// Write access to shard `s` of database `db`: the running transaction's, or the write
    /// lock. Callers take a shard at most once at a time, as they would a lock.
    pub(crate) fn shard_write(&self, db: usize, s: usize) -> ShardWrite<'_> {
        match self.tx() {
            // SAFETY: the transaction is active on this thread (`tx()`), and the caller holds
            // no other reference to this shard (taking its lock twice would deadlock).
            Some(tx) => ShardWrite::Held(unsafe { tx.shard_mut(&self.inner, db, s) }),
            None => ShardWrite::Locked(self.inner.write_shard(db, s)),
        }
    }

    /// Runs `f` on `key`'s live entry (or `None`) under the shard's read lock. A missing key
    /// is a `keymiss` event (a read found nothing).
    pub(crate) fn read_entry<R>(&self, key: &[u8], f: impl FnOnce(Option<&Entry>) -> R) -> R {
        self.read_entry_with(key, true, f)
    }

    /// [`Db::read_entry`], reporting a miss as a `keymiss` event or not (`notify_miss`: false
    /// for lookups that are not a client's read, like WATCH's).
    pub(crate) fn read_entry_with<R>(
        &self,
        key: &[u8],
        notify_miss: bool,
        f: impl FnOnce(Option<&Entry>) -> R,
    ) -> R {
        let r = self.read_entry_locked(key, notify_miss, false, |seen| {
            f(seen.map(|s| match s {
                Seen::Entry(e) => e,
                Seen::PackedString(_) => unreachable!("asked for entries only"),
            }))
        });
        if self.tx().is_none() {
            crate::kv::flush_notifications();
        }
        r
    }

    /// GET's read of `key`'s string: as [`Db::read_entry`], but a string held in a packed
    /// slot is read in place, where `read_entry` would unpack a copy of the slot to show an
    /// `Entry`.
    ///
    /// # Errors
    /// [`Error::WrongType`](crate::Error::WrongType) if the key holds another type.
    pub(crate) fn read_string<R>(
        &self,
        key: &[u8],
        f: impl FnOnce(Option<&[u8]>) -> R,
    ) -> crate::Result<R> {
        let r = self.read_entry_locked(key, true, true, |seen| match seen {
            None => Ok(f(None)),
            Some(Seen::PackedString(s)) => Ok(f(Some(s))),
            Some(Seen::Entry(e)) => Ok(f(Some(e.value.as_string()?))),
        });
        if self.tx().is_none() {
            crate::kv::flush_notifications();
        }
        r
    }

    /// [`Db::read_entry_with`] up to releasing the lock. `packed`: a string held packed is
    /// shown as [`Seen::PackedString`] (read in place) instead of unpacked into an entry.
    fn read_entry_locked<R>(
        &self,
        key: &[u8],
        notify_miss: bool,
        packed: bool,
        f: impl FnOnce(Option<Seen<'_>>) -> R,
    ) -> R {
        let inner = &*self.inner;
        let hash = inner.hash(key);
        let shard_index = inner.shard_of(hash);
        if let Some(tx) = self.tx() {
            // Inside a transaction the shard is held for writing: an expired key is removed
            // (and logged with the transaction) at once.
            // SAFETY: active on this thread; no other reference to the shard exists here.
            let shard = unsafe { tx.shard_mut(&self.inner, self.index, shard_index) };
            let now = inner.now();
            let slot = WriteSlot::new(shard, inner, tx.logged(), self.index, hash, key, now);
            // A packed string has no expiry: it is live.
            if packed && let Some(s) = slot.packed_string() {
                return f(Some(Seen::PackedString(s)));
            }
            // Under passive expiry the slot keeps an expired entry: a read does not see it.
            let entry = slot
                .entry()
                .filter(|e| !inner.passive() || !e.is_expired(now));
            if notify_miss && entry.is_none() {
                inner.notify(Class::KeyMiss, "keymiss", self.index, key);
            }
            return f(entry.map(Seen::Entry));
        }
        let lock = inner.shard(self.index, shard_index);
        {
            let shard = lock.read();
            let Some(idx) = shard.find(hash, key) else {
                if notify_miss {
                    inner.notify(Class::KeyMiss, "keymiss", self.index, key);
                }
                return f(None);
            };
            if packed && let Some(s) = shard.packed_string(idx) {
                if notify_miss {
                    inner.touch(shard.access(idx));
                }
                return f(Some(Seen::PackedString(s)));
            }
            let slot = shard.get(idx);
            let entry = &slot.entry;
            // The clock is read only for keys that can expire: most reads never pay for it.
            if entry.expire_at().is_none() || !entry.is_expired(inner.now()) {
                if notify_miss {
                    inner.touch(shard.access(idx));
                }
                return f(Some(Seen::Entry(entry)));
            }
            // Passive expiry: absent to the reader, left in place for the primary's DEL.
            if inner.passive() {
                if notify_miss {
                    inner.notify(Class::KeyMiss, "keymiss", self.index, key);
                }
                return f(None);
            }
        }
        // Found expired: remove it under the write lock (it may have changed meanwhile). The
        // removal is logged but not waited for: the read did not change what a client can
        // observe, and the next commit of any write covers the record.
        let mut shard = inner.write_shard(self.index, shard_index);
        let logged = Logged::default();
        let slot = WriteSlot::new(
            &mut shard,
            inner,
            &logged,
            self.index,
            hash,
            key,
            inner.now(),
        );
        if notify_miss && slot.entry().is_none() {
            inner.notify(Class::KeyMiss, "keymiss", self.index, key);
        }
        f(slot.entry().map(Seen::Entry))
    }

    /// Runs `f` with `key`'s slot under the shard's write lock (see the module docs). In a
    /// persistent store it is durable (`Inner::durable`): refused up front once persistence
    /// failed, and returning only after the lock is released and the journaled effects are
    /// as durable as the sync mode promises.
    pub(crate) fn write_entry<R>(
        &self,
        key: &[u8],
        f: impl FnOnce(&mut WriteSlot<'_>) -> crate::Result<R>,
    ) -> crate::Result<R> {
        let inner = &*self.inner;
        self.durable(|logged| {
            let hash = inner.hash(key);
            let mut shard = self.shard_write(self.index, inner.shard_of(hash));
            let now = inner.now();
            let mut slot = WriteSlot::new(&mut shard, inner, logged, self.index, hash, key, now);
            // Dropping the slot deletes a container the closure emptied.
            f(&mut slot)
        })
    }

    /// Runs a multi-key write durably (see `Inner::durable`): write-locks the shards of
    /// `keys` (`(database, key)` pairs) in the crate's lock order, runs `f` on them, and
    /// appends what `f` journaled as one log record before the locks are released.
    ///
    /// # Errors
    /// [`crate::Error::PersistenceFailed`], or `f`'s error.
    pub(crate) fn write_many<R>(
        &self,
        keys: &[(usize, &[u8])],
        f: impl FnOnce(&mut MultiWrite<'_>) -> crate::Result<R>,
    ) -> crate::Result<R> {
        let inner = &*self.inner;
        self.durable(|logged| {
            let ids = shard_ids(inner, keys);
            let guards = if self.tx().is_some() {
                ids.into_iter()
                    .map(|id| (id, self.shard_write(id.0, id.1)))
                    .collect()
            } else {
                lock_all(
                    &ids,
                    |(db, s)| ShardWrite::Locked(inner.write_shard(db, s)),
                    |(db, s)| inner.try_write_shard(db, s).map(ShardWrite::Locked),
                )
            };
            // The log gets the operation's effects as one record, before the locks are
            // released (`MultiWrite`'s drop); inside a transaction they join its group.
            let own_group = self.tx().is_none();
            if own_group {
                inner.begin_group(logged);
            }
            let mut locked = MultiWrite {
                inner,
                logged,
                guards,
                unpacked: Default::default(),
                own_group,
                now: inner.now(),
            };
            f(&mut locked)
        })
    }

    /// Runs a write that locks shards itself (FLUSHDB) durably; see `Inner::durable`. Inside
    /// a transaction, the write joins the transaction's record and is acknowledged with it.
    ///
    /// # Errors
    /// [`crate::Error::PersistenceFailed`], or `f`'s error.
    pub(crate) fn durable<R>(
        &self,
        f: impl FnOnce(&Logged) -> crate::Result<R>,
    ) -> crate::Result<R> {
        match self.tx() {
            Some(tx) => f(tx.logged()),
            None => {
                // Over `maxmemory`, a write evicts first (`evict.rs`); one load without one.
                self.inner.make_room(self.batch());
                let r = self.inner.durable(self.batch(), f);
                crate::kv::flush_notifications();
                r
            }
        }
    }

    /// Starts checking a write's arguments (see [`Admit`]); inside a transaction the record
    /// bounds of its operations add up.
    pub(crate) fn admit(&self) -> Admit<'_> {
        let mut a = self.inner.admit();
        a.share = self.tx().map(crate::tx::TxLocks::logged);
        a
    }

    /// Read-locks the shards of `keys` (`(database, key)` pairs) in the crate's lock order.
    pub(crate) fn lock_read<'a>(&'a self, keys: &[(usize, &[u8])]) -> MultiRead<'a> {
        let inner = &*self.inner;
        let ids = shard_ids(inner, keys);
        let guards = if self.tx().is_some() {
            ids.into_iter()
                .map(|id| (id, self.shard_read(id.0, id.1)))
                .collect()
        } else {
            lock_all(
                &ids,
                |(db, s)| ShardRead::Locked(inner.shard(db, s).read()),
                |(db, s)| inner.shard(db, s).try_read().map(ShardRead::Locked),
            )
        };
        MultiRead {
            inner,
            guards,
            unpacked: Default::default(),
            now: std::cell::OnceCell::new(),
            in_tx: self.tx().is_some(),
        }
    }
}

/// What a byte string of `len` bytes takes in a log record: its bytes and their length, a
/// varint (7 bits a byte).
pub(crate) fn item_bound(len: usize) -> usize {
    let prefix = (usize::BITS - len.leading_zeros()).div_ceil(7).max(1) as usize;
    len.saturating_add(prefix)
}

/// What a sorted-set member's score adds to a log record.
pub(crate) const SCORE_BYTES: usize = 8;
/// What a stream entry adds to a log record besides its fields and values: its ID (two
/// varints) and its pair count.
pub(crate) const STREAM_ENTRY_BYTES: usize = 30;
/// Per record beyond its byte strings and scores: sequence number, database, operation tag,
/// expiry, offsets and counts, and a group record's framing of its parts, generously.
pub(crate) const RECORD_OVERHEAD: usize = 256;

/// What a write is about to store and log, checked before it changes anything: every byte
/// string (key, value, field, member, element) against the store's bulk limit (Redis's
/// `proto-max-bulk-len`), and an upper bound on the log record the write will append against
/// the record limit of a persistent store. So a write that could not be logged is refused with
/// an error instead of being applied and never acknowledged.
///
/// ```text
/// db.inner.admit().key(key)?.arg(value)?.check()?;
/// ```
pub(crate) struct Admit<'a> {
    inner: &'a Inner,
    max_bulk: usize,
    record: usize,
    /// The transaction whose record budget this write shares, if it runs in one.
    share: Option<&'a Logged>,
}

impl Inner {
    /// Starts checking a write's arguments (see [`Admit`]).
    pub(crate) fn admit(&self) -> Admit<'_> {
        Admit {
            inner: self,
            max_bulk: self.max_bulk_len(),
            record: RECORD_OVERHEAD,
            share: None,
        }
    }
}

impl<'a> Admit<'a> {
    /// Reserves the write's record bytes in `logged`'s budget (a transaction's).
    pub(crate) fn share_with(&mut self, logged: &'a Logged) {
        self.share = Some(logged);
    }

    /// A byte string the write stores or logs.
    ///
    /// # Errors
    /// [`crate::Error::StringTooLong`] if it is longer than the bulk limit.
    #[inline]
    pub(crate) fn arg(mut self, bytes: &[u8]) -> crate::Result<Self> {
        if bytes.len() > self.max_bulk {
            return Err(crate::Error::StringTooLong);
        }
        self.record = self.record.saturating_add(item_bound(bytes.len()));
        Ok(self)
    }

    /// The scores of `n` sorted-set members the record holds.
    pub(crate) fn scores(mut self, n: usize) -> Self {
        self.record = self.record.saturating_add(n.saturating_mul(SCORE_BYTES));
        self
    }

    /// A key (the same check as [`Admit::arg`]).
    ///
    /// # Errors
    /// As [`Admit::arg`].
    #[inline]
    pub(crate) fn key(self, key: &[u8]) -> crate::Result<Self> {
        self.arg(key)
    }

    /// Several keys.
    ///
    /// # Errors
    /// As [`Admit::arg`].
    pub(crate) fn keys(self, keys: &[&[u8]]) -> crate::Result<Self> {
        self.args(keys.iter().copied())
    }

    /// Several byte strings.
    ///
    /// # Errors
    /// As [`Admit::arg`].
    pub(crate) fn args<'b>(
        mut self,
        items: impl IntoIterator<Item = &'b [u8]>,
    ) -> crate::Result<Self> {
        for item in items {
            self = self.arg(item)?;
        }
        Ok(self)
    }

    /// Key/value or field/value pairs.
    ///
    /// # Errors
    /// As [`Admit::arg`].
    pub(crate) fn pairs(mut self, pairs: &[(&[u8], &[u8])]) -> crate::Result<Self> {
        for &(a, b) in pairs {
            self = self.arg(a)?.arg(b)?;
        }
        Ok(self)
    }

    /// The bound so far (tests check it against the records actually written).
    #[cfg(test)]
    pub(crate) fn bound_for_tests(&self) -> usize {
        self.record
    }

    /// Ends the check: the bound on the write's log record against the store's record limit.
    ///
    /// # Errors
    /// [`crate::Error::RecordTooLarge`].
    #[inline]
    pub(crate) fn check(self) -> crate::Result<()> {
        self.inner.check_record(self.record, self.share)
    }
}

/// The shards (or their guards) of one operation or transaction: inline up to four, the
/// usual count, so locking them allocates nothing.
pub(crate) type Few<T> = smallvec::SmallVec<[T; 4]>;

/// The distinct `(database, shard)` pairs of `keys`, ascending: the lock order.
pub(crate) fn shard_ids(inner: &Inner, keys: &[(usize, &[u8])]) -> Few<(usize, usize)> {
    let mut ids: Few<_> = keys
        .iter()
        .map(|&(db, k)| (db, inner.shard_of(inner.hash(k))))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Locks every shard of `ids` (distinct, ascending) and returns their guards in that order,
/// without ever waiting for one while holding another (Invariant 12): it waits for one shard
/// with nothing held, then tries the others; if one is taken, it lets everything go and waits
/// for that one first (the algorithm of C++'s `std::lock`). So a holder of the order gate,
/// which may wait for a shard out of order while holding others, can never be waiting on a
/// multi-key operation that waits on it.
pub(crate) fn lock_all<G>(
    ids: &[(usize, usize)],
    lock: impl Fn((usize, usize)) -> G,
    try_lock: impl Fn((usize, usize)) -> Option<G>,
) -> Few<((usize, usize), G)> {
    if let [id] = ids {
        return smallvec::smallvec![(*id, lock(*id))];
    }
    // Uncontended, the usual case: in order, straight into the result.
    let mut fast = Few::with_capacity(ids.len());
    let Some(&first) = ids.first() else {
        return fast;
    };
    fast.push((first, lock(first)));
    for (i, &id) in ids.iter().enumerate().skip(1) {
        match try_lock(id) {
            Some(g) => fast.push((id, g)),
            None => {
                drop(fast);
                return lock_all_from(ids, i, lock, try_lock);
            }
        }
    }
    fast
}

/// [`lock_all`] after a miss: waits for shard `first` with nothing held, then tries the rest.
fn lock_all_from<G>(
    ids: &[(usize, usize)],
    mut first: usize,
    lock: impl Fn((usize, usize)) -> G,
    try_lock: impl Fn((usize, usize)) -> Option<G>,
) -> Few<((usize, usize), G)> {
    let n = ids.len();
    'retry: loop {
        let mut guards: Few<Option<G>> = std::iter::repeat_with(|| None).take(n).collect();
        guards[first] = Some(lock(ids[first]));
        for i in (first + 1..n).chain(0..first) {
            match try_lock(ids[i]) {
                Some(g) => guards[i] = Some(g),
                None => {
                    drop(guards);
                    first = i;
                    continue 'retry;
                }
            }
        }
        return ids
            .iter()
            .zip(guards)
            // Every slot was filled: the loop above reached the end without a miss.
            .map(|(&id, g)| (id, g.expect("every shard is locked")))
            .collect();
    }
}

/// What a read found under its lock (`Db::read_entry_locked`).
enum Seen<'a> {
    Entry(&'a Entry),
    /// A string held in a packed slot, read in place (only when asked for).
    PackedString(&'a [u8]),
}

/// One key's place in a write-locked shard: what a write operation works on.
pub(crate) struct WriteSlot<'a> {
    shard: &'a mut Shard,
    inner: &'a Inner,
    /// The operation's record of what it logged.
    logged: &'a Logged,
    db: usize,
    hash: u64,
    key: &'a [u8],
    idx: Option<u32>,
    now: u64,
    /// The entry of a packed slot, unpacked for [`WriteSlot::entry`]; emptied by every change.
    unpacked: std::cell::OnceCell<crate::shard::Slot>,
}

impl<'a> WriteSlot<'a> {
    /// Looks `key` up, removing (and journaling) it if it has expired.
    fn new(
        shard: &'a mut Shard,
        inner: &'a Inner,
        logged: &'a Logged,
        db: usize,
        hash: u64,
        key: &'a [u8],
        now: u64,
    ) -> Self {
        let mut idx = shard.find(hash, key);
        // Under passive expiry a writer (a replica's primary) sees an expired key as it is.
        if let Some(i) = idx
            && shard.expire_at(i).is_some_and(|at| at <= now)
            && !inner.passive()
        {
            save(shard, inner, logged, db, key, idx);
            shard.remove(i);
            inner.note_expired();
            inner.journal(Effect::Del { db, key }, logged);
            inner.notify(Class::Expired, "expired", db, key);
            idx = None;
        } else if let Some(i) = idx {
            inner.evict.touch(shard.access(i), now);
        }
        WriteSlot {
            shard,
            inner,
            logged,
            db,
            hash,
            key,
            idx,
            now,
            unpacked: std::cell::OnceCell::new(),
        }
    }

    pub(crate) fn now(&self) -> u64 {
        self.now
    }

    /// Before a change: an optimistic transaction saves the key as it is, to put it back if
    /// it is undone (see `tx::Undo`). One borrow check anywhere else.
    #[inline]
    fn save(&self) {
        save(
            self.shard,
            self.inner,
            self.logged,
            self.db,
            self.key,
            self.idx,
        );
    }

    pub(crate) fn db(&self) -> usize {
        self.db
    }

    pub(crate) fn key(&self) -> &'a [u8] {
        self.key
    }

    /// The live entry, if the key exists.
    pub(crate) fn entry(&self) -> Option<&Entry> {
        let i = self.idx?;
        let slot = match self.shard.stored(i) {
            Some(slot) => slot,
            None => self.unpacked.get_or_init(|| self.shard.get(i).into_owned()),
        };
        Some(&slot.entry)
    }

    /// Whether the key exists (a packed slot is not decoded).
    pub(crate) fn exists(&self) -> bool {
        self.idx.is_some()
    }

    /// Overwrites a string held in a packed slot with `value`, in the slot (no unpacking,
    /// no spill), when `value` fits it; stamps `updated_ms`. `false`: nothing changed (not a
    /// packed string, or `value` does not fit), and the caller writes it another way.
    pub(crate) fn overwrite_packed_string(&mut self, value: &[u8]) -> bool {
        let Some(idx) = self.idx else {
            return false;
        };
        if value.len() > crate::shard::PACKED_BYTES {
            return false;
        }
        self.save();
        self.unpacked.take();
        self.shard.put_packed(idx, &Value::string(value), self.now)
    }

    /// The live value if it is a string held in a packed slot, read in place (no copy); a
    /// packed string has no expiry. `None` for any other entry or none.
    pub(crate) fn packed_string(&self) -> Option<&[u8]> {
        self.shard.packed_string(self.idx?)
    }

    /// Whether [`WriteSlot::entry`] unpacked a packed slot (and holds the copy).
    #[cfg(test)]
    pub(crate) fn unpacked(&self) -> bool {
        self.unpacked.get().is_some()
    }

    /// The type of the live entry, if the key exists (a packed slot is not decoded).
    pub(crate) fn key_type(&self) -> Option<crate::KeyType> {
        self.idx.map(|i| self.shard.key_type(i))
    }

    /// The live value for changing in place; stamps `updated_ms`.
    pub(crate) fn value_mut(&mut self) -> Option<&mut Value> {
        let idx = self.idx?;
        self.save();
        self.unpacked.take();
        let entry = self.shard.entry_mut(idx);
        entry.touch(self.now);
        Some(&mut entry.value)
    }

    /// Stores `value` with expiry `expire_at`, creating the key or replacing its value (the
    /// creation time of an existing key is kept).
    pub(crate) fn put(&mut self, value: Value, expire_at: Option<u64>) {
        self.save();
        self.unpacked.take();
        match self.idx {
            Some(idx) if expire_at.is_none() && self.shard.put_packed(idx, &value, self.now) => {}
            Some(idx) => {
                let entry = self.shard.entry_mut(idx);
                entry.value = value;
                entry.touch(self.now);
                self.shard.set_expiry(idx, expire_at);
            }
            None => {
                let entry = Entry::with_expiry(value, self.now, expire_at);
                self.inner.evict.init(&entry.access, self.now);
                self.idx = Some(self.shard.insert(self.hash, self.key, entry));
                self.notify(Class::New, "new");
            }
        }
    }

    /// Inserts a whole entry (RENAME, COPY, MOVE), replacing any existing one: as Redis
    /// deletes the old key and adds the new one, a `new` event either way.
    pub(crate) fn put_entry(&mut self, entry: Entry) {
        self.save();
        self.unpacked.take();
        if let Some(idx) = self.idx.take() {
            self.shard.remove(idx);
        }
        self.idx = Some(self.shard.insert(self.hash, self.key, entry));
        self.notify(Class::New, "new");
    }

    /// Reports a keyspace event about this key (see `notify.rs`), in Redis's order: after
    /// the change, with the lock held.
    pub(crate) fn notify(&self, class: Class, event: &'static str) {
        self.inner.notify(class, event, self.db, self.key);
    }

    /// Sets or clears the expiry of the existing key; stamps `updated_ms`.
    pub(crate) fn set_expiry(&mut self, at: Option<u64>) {
        self.save();
        self.unpacked.take();
        if let Some(idx) = self.idx {
            self.shard.set_expiry(idx, at);
            self.shard.entry_mut(idx).touch(self.now);
        }
    }

    /// Removes the key, returning its entry.
    pub(crate) fn remove(&mut self) -> Option<Entry> {
        self.save();
        self.unpacked.take();
        let idx = self.idx.take()?;
        Some(self.shard.remove(idx).entry)
    }

    /// Reports an effect to the journal (see `effect.rs`).
    pub(crate) fn journal(&self, effect: Effect<'_>) {
        self.inner
            .journal_with(effect, self.logged, || self.entry());
    }

    /// Journals `Put` of the current entry (the common effect of a whole-value write). When
    /// nothing takes the journal's effects (no log, stream, watch or observer), the entry is
    /// not even looked at: a packed slot is not unpacked for nobody.
    pub(crate) fn journal_put(&self) {
        if !self.inner.journals() {
            return;
        }
        if let Some(entry) = self.entry() {
            self.inner.journal(
                Effect::Put {
                    db: self.db,
                    key: self.key,
                    entry,
                },
                self.logged,
            );
        }
    }

    /// Stores a computed value (the result of a STORE form) and journals it, after checking
    /// that its log record fits (see [`Inner::check_record`]): a result too large to log is
    /// refused before anything changes.
    ///
    /// # Errors
    /// [`crate::Error::RecordTooLarge`].
    pub(crate) fn store(&mut self, value: Value, expire_at: Option<u64>) -> crate::Result<()> {
        if self.inner.persist.get().is_some() {
            self.inner
                .check_record(value.record_bound(self.key.len()), Some(self.logged))?;
        }
        self.put(value, expire_at);
        self.journal_put();
        Ok(())
    }

    /// Deletes a container that an operation emptied (a string is never one: a packed string
    /// is not unpacked to ask).
    fn finish(&mut self) {
        if self.key_type() == Some(crate::KeyType::String) {
            return;
        }
        if self.entry().is_some_and(|e| e.value.is_empty_container()) {
            self.remove();
            self.notify(Class::Generic, "del");
            self.inner.journal(
                Effect::Del {
                    db: self.db,
                    key: self.key,
                },
                self.logged,
            );
        }
    }
}

/// [`WriteSlot::save`], also for [`WriteSlot::new`]'s removal of an expired key.
#[inline]
fn save(shard: &Shard, inner: &Inner, logged: &Logged, db: usize, key: &[u8], idx: Option<u32>) {
    if logged.undo.borrow().is_none() {
        return;
    }
    inner.save_for_undo(
        logged,
        db,
        key,
        // A packed slot (not `stored`) holds a small value by construction.
        || {
            idx.and_then(|i| shard.stored(i))
                .map_or(0, |slot| slot.entry.value.heap_size())
        },
        || idx.map(|i| shard.get(i).into_owned().entry),
    );
}

impl Drop for WriteSlot<'_> {
    fn drop(&mut self) {
        self.finish();
        if let Some(idx) = self.idx {
            // A packed slot the operation spilled packs again if it still fits.
            self.shard.settle(idx);
        }
    }
}

/// Several shards write-locked at once; see [`Db::write_many`].
pub(crate) struct MultiWrite<'a> {
    inner: &'a Inner,
    logged: &'a Logged,
    guards: Few<((usize, usize), ShardWrite<'a>)>,
    /// Packed entries unpacked by [`MultiWrite::entry`].
    unpacked: crate::shard::Unpacked,
    /// It began the group its effects go into (outside a transaction, which has its own).
    own_group: bool,
    now: u64,
}

impl Drop for MultiWrite<'_> {
    fn drop(&mut self) {
        // Runs before the guards are dropped: the records go in while the locks are held.
        if self.own_group {
            self.inner.end_group(self.logged);
        }
    }
}

impl MultiWrite<'_> {
    /// The slot of `key` in database `db`; the key must have been passed to `write_many`.
    pub(crate) fn slot<'s>(&'s mut self, db: usize, key: &'s [u8]) -> WriteSlot<'s> {
        let inner = self.inner;
        let hash = inner.hash(key);
        let id = (db, inner.shard_of(hash));
        let pos = self
            .guards
            .binary_search_by(|(g, _)| g.cmp(&id))
            .expect("key was passed to write_many");
        let (logged, now) = (self.logged, self.now);
        WriteSlot::new(&mut self.guards[pos].1, inner, logged, db, hash, key, now)
    }

    /// The live entry of `key` in database `db`, read without taking the slot (for commands
    /// that read several sources while holding the write locks, like SINTERSTORE). Expired
    /// entries read as absent; the key must have been passed to `write_many`.
    pub(crate) fn entry(&self, db: usize, key: &[u8]) -> Option<&Entry> {
        let inner = self.inner;
        let hash = inner.hash(key);
        let id = (db, inner.shard_of(hash));
        let pos = self
            .guards
            .binary_search_by(|(g, _)| g.cmp(&id))
            .expect("key was passed to write_many");
        let shard = &self.guards[pos].1;
        let idx = shard.find(hash, key)?;
        if shard.expire_at(idx).is_some_and(|at| at <= self.now) {
            return None;
        }
        inner.evict.touch(shard.access(idx), self.now);
        Some(&self.unpacked.keep(shard.get(idx)).entry)
    }

    /// [`MultiWrite::entry`] for a key the operation reads its input from (the sources of
    /// SINTERSTORE, ZUNIONSTORE, ZRANGESTORE): a missing one is a `keymiss` event, as for a
    /// read.
    pub(crate) fn source(&self, db: usize, key: &[u8]) -> Option<&Entry> {
        let e = self.entry(db, key);
        if e.is_none() {
            self.inner.notify(Class::KeyMiss, "keymiss", db, key);
        }
        e
    }

    pub(crate) fn journal(&self, effect: Effect<'_>) {
        self.inner.journal(effect, self.logged);
    }

    /// Reports a keyspace event about `key` of database `db` (see `notify.rs`).
    pub(crate) fn notify(&self, class: Class, event: &'static str, db: usize, key: &[u8]) {
        self.inner.notify(class, event, db, key);
    }
}

/// Several shards read-locked at once; see [`Db::lock_read`].
pub(crate) struct MultiRead<'a> {
    inner: &'a Inner,
    guards: Few<((usize, usize), ShardRead<'a>)>,
    /// Packed entries unpacked by [`MultiRead::entry`].
    unpacked: crate::shard::Unpacked,
    now: std::cell::OnceCell<u64>,
    /// Inside a transaction, whose end flushes the keyspace notifications.
    in_tx: bool,
}

impl Drop for MultiRead<'_> {
    fn drop(&mut self) {
        self.guards.clear(); // the locks go first
        if !self.in_tx {
            crate::kv::flush_notifications();
        }
    }
}

impl MultiRead<'_> {
    /// The live entry of `key` in database `db`; the key must have been passed to
    /// `lock_read`. Expired entries read as absent (they are left for active expiry: a read
    /// lock cannot remove them).
    pub(crate) fn entry(&self, db: usize, key: &[u8]) -> Option<&Entry> {
        let inner = self.inner;
        let hash = inner.hash(key);
        let id = (db, inner.shard_of(hash));
        let pos = self
            .guards
            .binary_search_by(|(g, _)| g.cmp(&id))
            .expect("key was passed to lock_read");
        let shard = &self.guards[pos].1;
        let live = shard.find(hash, key).filter(|&i| {
            shard
                .expire_at(i)
                .is_none_or(|at| at > *self.now.get_or_init(|| inner.now()))
        });
        let Some(idx) = live else {
            inner.notify(Class::KeyMiss, "keymiss", db, key);
            return None;
        };
        inner.touch(shard.access(idx));
        Some(&self.unpacked.keep(shard.get(idx)).entry)
    }
}
