//! `Delegate`: a store that runs each operation on a [`Db`] of its choosing, and through it
//! every store trait ([`Store`], [`ListStore`], [`HashStore`], ...), each method once, here.

use crate::entry::{EntryMeta, KeyType};
use crate::error::Result;
use crate::kv::Db;
use crate::number::LongDouble;
use crate::ops::bitmap::{BitOp, BitmapStore};
use crate::ops::expire::{ExpireTime, Ttl};
use crate::ops::hll::{HllDebug, HllDebugInfo, HllStore};
use crate::options::{ExpireCondition, GetExOption, ScanOptions, SetOptions, SetOutcome};
use crate::store::Store;
use crate::types::{BitRange, BitfieldOp};

/// A store that serves each operation by running it on a [`Db`] it chooses, or refuses it.
///
/// Implementing [`delegate`](Delegate::delegate) gives the type every store trait: each
/// method is `self.delegate(|db| db.method(...))`. A replicated store (kvraft's
/// `ReplicatedStore`) runs the operation on its group's leader and answers once it is
/// committed; a wrapper may check, count or refuse calls.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use kvcore::{Db, Delegate, Error, Kv, ListStore, Options, Result, Store, End};
///
/// /// A store an operator can switch off for maintenance.
/// struct Switchable {
///     db: Db,
///     on: AtomicBool,
/// }
///
/// impl Delegate for Switchable {
///     fn delegate<R>(&self, op: impl FnOnce(&Db) -> Result<R>) -> Result<R> {
///         if !self.on.load(Ordering::SeqCst) {
///             let reason = "switched off for maintenance".to_string();
///             return Err(Error::Unavailable { reason, retry_at: None });
///         }
///         op(&self.db)
///     }
/// }
///
/// let s = Switchable { db: Kv::in_memory(Options::default()).db(0)?, on: AtomicBool::new(true) };
/// s.set("k", "v")?;
/// s.push("jobs", End::Right, &["a"])?;
/// s.on.store(false, Ordering::SeqCst);
/// assert!(matches!(s.get("k"), Err(Error::Unavailable { .. })));
/// assert!(matches!(s.llen("jobs"), Err(Error::Unavailable { .. })));
/// # Ok::<(), kvcore::Error>(())
/// ```
pub trait Delegate {
    /// Runs `op` at most once on a [`Db`] and returns its result.
    ///
    /// # Errors
    /// `op`'s, or the implementation's own when it cannot serve the call now
    /// ([`Error::Unavailable`](crate::Error::Unavailable)). An implementation that ran `op`
    /// but cannot vouch for its effects (a replicated write that was not confirmed) must say
    /// so in its error: the caller cannot tell whether a write took place.
    fn delegate<R>(&self, op: impl FnOnce(&Db) -> Result<R>) -> Result<R>;
}

mod collections;

// Every method below is `self.delegate(move |db| db.<method>(<its arguments>))`.

impl<S: Delegate> Store for S {
    fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        self.delegate(move |db| db.get(key))
    }
    fn get_with<R>(&self, key: impl AsRef<[u8]>, f: impl FnOnce(Option<&[u8]>) -> R) -> Result<R> {
        self.delegate(move |db| db.get_with(key, f))
    }
    fn set(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        self.delegate(move |db| db.set(key, value))
    }
    fn set_with(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        opts: &SetOptions,
    ) -> Result<SetOutcome> {
        self.delegate(move |db| db.set_with(key, value, opts))
    }
    fn getset(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        self.delegate(move |db| db.getset(key, value))
    }
    fn getdel(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        self.delegate(move |db| db.getdel(key))
    }
    fn getex(&self, key: impl AsRef<[u8]>, opt: GetExOption) -> Result<Option<Vec<u8>>> {
        self.delegate(move |db| db.getex(key, opt))
    }
    fn setnx(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<bool> {
        self.delegate(move |db| db.setnx(key, value))
    }
    fn setex(&self, key: impl AsRef<[u8]>, secs: i64, value: impl AsRef<[u8]>) -> Result<()> {
        self.delegate(move |db| db.setex(key, secs, value))
    }
    fn psetex(&self, key: impl AsRef<[u8]>, ms: i64, value: impl AsRef<[u8]>) -> Result<()> {
        self.delegate(move |db| db.psetex(key, ms, value))
    }
    fn mget<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Vec<u8>>>> {
        self.delegate(move |db| db.mget(keys))
    }
    fn get_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Vec<u8>>>> {
        self.delegate(move |db| db.get_many(keys))
    }
    fn mset<K: AsRef<[u8]>, V: AsRef<[u8]>>(&self, pairs: &[(K, V)]) -> Result<()> {
        self.delegate(move |db| db.mset(pairs))
    }
    fn msetnx<K: AsRef<[u8]>, V: AsRef<[u8]>>(&self, pairs: &[(K, V)]) -> Result<bool> {
        self.delegate(move |db| db.msetnx(pairs))
    }
    fn append(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<usize> {
        self.delegate(move |db| db.append(key, value))
    }
    fn strlen(&self, key: impl AsRef<[u8]>) -> Result<usize> {
        self.delegate(move |db| db.strlen(key))
    }
    fn getrange(&self, key: impl AsRef<[u8]>, start: i64, end: i64) -> Result<Vec<u8>> {
        self.delegate(move |db| db.getrange(key, start, end))
    }
    fn setrange(
        &self,
        key: impl AsRef<[u8]>,
        offset: u64,
        value: impl AsRef<[u8]>,
    ) -> Result<usize> {
        self.delegate(move |db| db.setrange(key, offset, value))
    }
    fn incr(&self, key: impl AsRef<[u8]>) -> Result<i64> {
        self.delegate(move |db| db.incr(key))
    }
    fn decr(&self, key: impl AsRef<[u8]>) -> Result<i64> {
        self.delegate(move |db| db.decr(key))
    }
    fn incrby(&self, key: impl AsRef<[u8]>, by: i64) -> Result<i64> {
        self.delegate(move |db| db.incrby(key, by))
    }
    fn decrby(&self, key: impl AsRef<[u8]>, by: i64) -> Result<i64> {
        self.delegate(move |db| db.decrby(key, by))
    }
    fn incrbyfloat(&self, key: impl AsRef<[u8]>, by: impl Into<LongDouble>) -> Result<Vec<u8>> {
        self.delegate(move |db| db.incrbyfloat(key, by))
    }
    fn del<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<u64> {
        self.delegate(move |db| db.del(keys))
    }
    fn exists<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<u64> {
        self.delegate(move |db| db.exists(keys))
    }
    fn keys(&self, pattern: impl AsRef<[u8]>) -> Result<Vec<Vec<u8>>> {
        self.delegate(move |db| db.keys(pattern))
    }
    fn key_type(&self, key: impl AsRef<[u8]>) -> Result<Option<KeyType>> {
        self.delegate(move |db| db.key_type(key))
    }
    fn expire(&self, key: impl AsRef<[u8]>, secs: i64, cond: ExpireCondition) -> Result<bool> {
        self.delegate(move |db| db.expire(key, secs, cond))
    }
    fn pexpire(&self, key: impl AsRef<[u8]>, ms: i64, cond: ExpireCondition) -> Result<bool> {
        self.delegate(move |db| db.pexpire(key, ms, cond))
    }
    fn expireat(&self, key: impl AsRef<[u8]>, unix_s: i64, cond: ExpireCondition) -> Result<bool> {
        self.delegate(move |db| db.expireat(key, unix_s, cond))
    }
    fn pexpireat(
        &self,
        key: impl AsRef<[u8]>,
        unix_ms: i64,
        cond: ExpireCondition,
    ) -> Result<bool> {
        self.delegate(move |db| db.pexpireat(key, unix_ms, cond))
    }
    fn ttl(&self, key: impl AsRef<[u8]>) -> Result<Ttl> {
        self.delegate(move |db| db.ttl(key))
    }
    fn pttl(&self, key: impl AsRef<[u8]>) -> Result<Ttl> {
        self.delegate(move |db| db.pttl(key))
    }
    fn expiretime(&self, key: impl AsRef<[u8]>) -> Result<ExpireTime> {
        self.delegate(move |db| db.expiretime(key))
    }
    fn pexpiretime(&self, key: impl AsRef<[u8]>) -> Result<ExpireTime> {
        self.delegate(move |db| db.pexpiretime(key))
    }
    fn persist(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        self.delegate(move |db| db.persist(key))
    }
    fn rename(&self, src: impl AsRef<[u8]>, dst: impl AsRef<[u8]>) -> Result<()> {
        self.delegate(move |db| db.rename(src, dst))
    }
    fn renamenx(&self, src: impl AsRef<[u8]>, dst: impl AsRef<[u8]>) -> Result<bool> {
        self.delegate(move |db| db.renamenx(src, dst))
    }
    fn copy(
        &self,
        src: impl AsRef<[u8]>,
        dst: impl AsRef<[u8]>,
        dst_db: Option<usize>,
        replace: bool,
    ) -> Result<bool> {
        self.delegate(move |db| db.copy(src, dst, dst_db, replace))
    }
    fn move_key(&self, key: impl AsRef<[u8]>, dst_db: usize) -> Result<bool> {
        self.delegate(move |db| db.move_key(key, dst_db))
    }
    fn dbsize(&self) -> Result<u64> {
        self.delegate(move |db| db.dbsize())
    }
    fn flushdb(&self) -> Result<()> {
        self.delegate(move |db| db.flushdb())
    }
    fn randomkey(&self) -> Result<Option<Vec<u8>>> {
        self.delegate(move |db| db.randomkey())
    }
    fn scan(&self, cursor: u64, opts: &ScanOptions) -> Result<(u64, Vec<Vec<u8>>)> {
        self.delegate(move |db| db.scan(cursor, opts))
    }
    fn meta(&self, key: impl AsRef<[u8]>) -> Result<Option<EntryMeta>> {
        self.delegate(move |db| db.meta(key))
    }
    fn memory_usage(&self, key: impl AsRef<[u8]>) -> Result<Option<usize>> {
        self.delegate(move |db| db.memory_usage(key))
    }
    fn object_encoding(&self, key: impl AsRef<[u8]>) -> Result<Option<&'static str>> {
        self.delegate(move |db| db.object_encoding(key))
    }
}

impl<S: Delegate> BitmapStore for S {
    fn setbit(&self, key: impl AsRef<[u8]>, offset: u64, value: bool) -> Result<bool> {
        self.delegate(move |db| db.setbit(key, offset, value))
    }
    fn getbit(&self, key: impl AsRef<[u8]>, offset: u64) -> Result<bool> {
        self.delegate(move |db| db.getbit(key, offset))
    }
    fn bitcount(&self, key: impl AsRef<[u8]>, range: Option<BitRange>) -> Result<u64> {
        self.delegate(move |db| db.bitcount(key, range))
    }
    fn bitpos(&self, key: impl AsRef<[u8]>, bit: bool, range: Option<BitRange>) -> Result<i64> {
        self.delegate(move |db| db.bitpos(key, bit, range))
    }
    fn bitop<K: AsRef<[u8]>>(
        &self,
        op: BitOp,
        dest: impl AsRef<[u8]>,
        keys: &[K],
    ) -> Result<usize> {
        self.delegate(move |db| db.bitop(op, dest, keys))
    }
    fn bitfield(&self, key: impl AsRef<[u8]>, ops: &[BitfieldOp]) -> Result<Vec<Option<i64>>> {
        self.delegate(move |db| db.bitfield(key, ops))
    }
}

impl<S: Delegate> HllStore for S {
    fn pfadd<E: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, elements: &[E]) -> Result<bool> {
        self.delegate(move |db| db.pfadd(key, elements))
    }
    fn pfcount<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<u64> {
        self.delegate(move |db| db.pfcount(keys))
    }
    fn pfmerge<K: AsRef<[u8]>>(&self, dest: impl AsRef<[u8]>, sources: &[K]) -> Result<()> {
        self.delegate(move |db| db.pfmerge(dest, sources))
    }
    fn pfdebug(&self, key: impl AsRef<[u8]>, what: HllDebug) -> Result<Option<HllDebugInfo>> {
        self.delegate(move |db| db.pfdebug(key, what))
    }
}
