//! The `Store` trait: every key-space operation, binary-safe.

use crate::entry::{EntryMeta, KeyType};
use crate::error::Result;
use crate::kv::Db;
use crate::number::LongDouble;
use crate::ops::expire::{self, ExpireTime, Ttl};
use crate::ops::{keys, string};
use crate::options::{ExpireCondition, GetExOption, ScanOptions, SetOptions, SetOutcome};

/// The operations of a Redis-like key space: strings, keys and expiry.
///
/// Keys and values are bytes; anything that is `AsRef<[u8]>` (`&str`, `&[u8]`, `Vec<u8>`,
/// `String`, byte arrays) works as an argument. Each method documents the Redis command it
/// follows; edge cases behave as in Redis. Expired keys are never returned.
///
/// Errors common to all value-reading methods: [`Error::WrongType`](crate::Error::WrongType)
/// when the key holds another type than the method works on.
pub trait Store {
    /// GET: the string at `key`.
    fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>>;
    /// GET without a copy: runs `f` on the string while the shard is read-locked. Keep `f`
    /// short, it holds up writers of that shard.
    fn get_with<R>(&self, key: impl AsRef<[u8]>, f: impl FnOnce(Option<&[u8]>) -> R) -> Result<R>;
    /// SET: stores a string, replacing any value of any type and dropping any expiry.
    fn set(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()>;
    /// SET with NX/XX, GET and EX/PX/EXAT/PXAT/KEEPTTL.
    ///
    /// # Errors
    /// [`InvalidExpireTime`](crate::Error::InvalidExpireTime) if the expiry is not positive or
    /// overflows; with GET, `WrongType` if the old value is not a string (nothing is written).
    fn set_with(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        opts: &SetOptions,
    ) -> Result<SetOutcome>;
    /// GETSET: sets the string and returns the previous one (drops any expiry).
    fn getset(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>>;
    /// GETDEL: returns the string and deletes the key.
    fn getdel(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>>;
    /// GETEX: returns the string and changes its expiry as `opt` says.
    ///
    /// # Errors
    /// `InvalidExpireTime` as for [`set_with`](Store::set_with).
    fn getex(&self, key: impl AsRef<[u8]>, opt: GetExOption) -> Result<Option<Vec<u8>>>;
    /// SETNX: sets the string only if the key does not exist; true if it did.
    fn setnx(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<bool>;
    /// SETEX: sets the string with an expiry in seconds (positive).
    fn setex(&self, key: impl AsRef<[u8]>, secs: i64, value: impl AsRef<[u8]>) -> Result<()>;
    /// PSETEX: sets the string with an expiry in milliseconds (positive).
    fn psetex(&self, key: impl AsRef<[u8]>, ms: i64, value: impl AsRef<[u8]>) -> Result<()>;
    /// MGET: the strings at `keys`, `None` for missing keys and non-strings. Atomic: all keys
    /// are read at one instant.
    fn mget<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Vec<u8>>>>;
    /// The strings at `keys`, `None` for missing keys, all read at one instant (LCS's input).
    ///
    /// # Errors
    /// [`WrongType`](crate::Error::WrongType) if a key holds another type.
    fn get_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Vec<u8>>>>;
    /// MSET: sets all pairs atomically (a later pair wins over an earlier one with the same key).
    fn mset<K: AsRef<[u8]>, V: AsRef<[u8]>>(&self, pairs: &[(K, V)]) -> Result<()>;
    /// MSETNX: sets all pairs only if none of the keys exists; atomic, all or nothing.
    fn msetnx<K: AsRef<[u8]>, V: AsRef<[u8]>>(&self, pairs: &[(K, V)]) -> Result<bool>;
    /// APPEND: appends to the string (creating it); returns the new length.
    ///
    /// # Errors
    /// [`StringTooLong`](crate::Error::StringTooLong) past 512 MiB.
    fn append(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<usize>;
    /// STRLEN: the string's length, 0 for a missing key.
    fn strlen(&self, key: impl AsRef<[u8]>) -> Result<usize>;
    /// GETRANGE: the substring from `start` to `end` inclusive; negative indexes count from
    /// the end.
    fn getrange(&self, key: impl AsRef<[u8]>, start: i64, end: i64) -> Result<Vec<u8>>;
    /// SETRANGE: overwrites the string from `offset`, zero-padding; returns the new length.
    /// An empty `value` creates nothing and returns the current length.
    ///
    /// # Errors
    /// `StringTooLong` if `offset + value.len()` passes 512 MiB.
    fn setrange(
        &self,
        key: impl AsRef<[u8]>,
        offset: u64,
        value: impl AsRef<[u8]>,
    ) -> Result<usize>;
    /// INCR: adds 1 to the integer at `key` (0 if missing).
    ///
    /// # Errors
    /// [`NotInteger`](crate::Error::NotInteger) if the value is not a canonical integer;
    /// [`Overflow`](crate::Error::Overflow) if the result leaves `i64`.
    fn incr(&self, key: impl AsRef<[u8]>) -> Result<i64>;
    /// DECR: subtracts 1; errors as [`incr`](Store::incr).
    fn decr(&self, key: impl AsRef<[u8]>) -> Result<i64>;
    /// INCRBY: adds `by`; errors as [`incr`](Store::incr).
    fn incrby(&self, key: impl AsRef<[u8]>, by: i64) -> Result<i64>;
    /// DECRBY: subtracts `by`; errors as [`incr`](Store::incr) (also `Overflow` for `i64::MIN`).
    fn decrby(&self, key: impl AsRef<[u8]>, by: i64) -> Result<i64>;
    /// INCRBYFLOAT: adds `by` to the number at `key` in x87 `long double`, as Redis does;
    /// returns the stored text (Redis's `%.17Lf` with trailing zeros trimmed: `0.1` + `0.2` is
    /// `0.3`). `by` is an `f64` (converted exactly) or a [`LongDouble`](crate::LongDouble)
    /// parsed from a client's text, which keeps digits an `f64` would lose.
    ///
    /// # Errors
    /// [`NotFloat`](crate::Error::NotFloat) if the value is not a number;
    /// [`NanOrInfinity`](crate::Error::NanOrInfinity) if `by` or the result is not finite.
    fn incrbyfloat(&self, key: impl AsRef<[u8]>, by: impl Into<LongDouble>) -> Result<Vec<u8>>;

    /// DEL: removes the keys; returns how many existed.
    fn del<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<u64>;
    /// EXISTS: how many of `keys` exist, counting a key as often as it is named.
    fn exists<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<u64>;
    /// KEYS: every key matching the glob `pattern` (Redis's syntax: `*`, `?`, `[abc]`, `[^a]`,
    /// `[a-c]`, `\` escapes). Visits the whole database, one shard at a time.
    fn keys(&self, pattern: impl AsRef<[u8]>) -> Result<Vec<Vec<u8>>>;
    /// TYPE: the key's type, `None` if it does not exist.
    fn key_type(&self, key: impl AsRef<[u8]>) -> Result<Option<KeyType>>;
    /// EXPIRE: sets a TTL in seconds; true if set. A missing key gives false; a TTL that is
    /// not positive deletes the key (and gives true).
    ///
    /// # Errors
    /// `InvalidExpireTime` if the deadline overflows.
    fn expire(&self, key: impl AsRef<[u8]>, secs: i64, cond: ExpireCondition) -> Result<bool>;
    /// PEXPIRE: [`expire`](Store::expire) in milliseconds.
    fn pexpire(&self, key: impl AsRef<[u8]>, ms: i64, cond: ExpireCondition) -> Result<bool>;
    /// EXPIREAT: [`expire`](Store::expire) to a Unix time in seconds (past: deletes).
    fn expireat(&self, key: impl AsRef<[u8]>, unix_s: i64, cond: ExpireCondition) -> Result<bool>;
    /// PEXPIREAT: [`expire`](Store::expire) to a Unix time in milliseconds (past: deletes).
    fn pexpireat(&self, key: impl AsRef<[u8]>, unix_ms: i64, cond: ExpireCondition)
    -> Result<bool>;
    /// TTL: the time left, in whole seconds rounded to the nearest as Redis rounds.
    fn ttl(&self, key: impl AsRef<[u8]>) -> Result<Ttl>;
    /// PTTL: the time left, in milliseconds.
    fn pttl(&self, key: impl AsRef<[u8]>) -> Result<Ttl>;
    /// EXPIRETIME: the deadline since the Unix epoch, in whole seconds rounded to the nearest
    /// as Redis rounds.
    fn expiretime(&self, key: impl AsRef<[u8]>) -> Result<ExpireTime>;
    /// PEXPIRETIME: the deadline since the Unix epoch, in milliseconds.
    fn pexpiretime(&self, key: impl AsRef<[u8]>) -> Result<ExpireTime>;
    /// PERSIST: removes the expiry; true if there was one.
    fn persist(&self, key: impl AsRef<[u8]>) -> Result<bool>;
    /// RENAME: moves `src` to `dst` (replacing it), with its expiry. Renaming a key to itself
    /// succeeds if it exists.
    ///
    /// # Errors
    /// [`NoSuchKey`](crate::Error::NoSuchKey) if `src` does not exist.
    fn rename(&self, src: impl AsRef<[u8]>, dst: impl AsRef<[u8]>) -> Result<()>;
    /// RENAMENX: RENAME only if `dst` does not exist; true if renamed.
    ///
    /// # Errors
    /// `NoSuchKey` if `src` does not exist.
    fn renamenx(&self, src: impl AsRef<[u8]>, dst: impl AsRef<[u8]>) -> Result<bool>;
    /// COPY: copies `src` (value and expiry) to `dst` in database `dst_db` (this one if
    /// `None`); without `replace`, refuses if `dst` exists. True if copied.
    ///
    /// # Errors
    /// [`SameObject`](crate::Error::SameObject) when source and destination are the same key;
    /// [`DbIndexOutOfRange`](crate::Error::DbIndexOutOfRange) for a bad `dst_db`.
    fn copy(
        &self,
        src: impl AsRef<[u8]>,
        dst: impl AsRef<[u8]>,
        dst_db: Option<usize>,
        replace: bool,
    ) -> Result<bool>;
    /// MOVE: moves `key` (value and expiry) to database `dst_db`; false, and nothing moves,
    /// if the key is missing here or exists there.
    ///
    /// # Errors
    /// `SameObject` when `dst_db` is this database; `DbIndexOutOfRange` for a bad `dst_db`.
    fn move_key(&self, key: impl AsRef<[u8]>, dst_db: usize) -> Result<bool>;
    /// DBSIZE: the number of keys (keys that expired but were not yet reclaimed included, as
    /// in Redis).
    fn dbsize(&self) -> Result<u64>;
    /// FLUSHDB: removes every key of this database, atomically.
    fn flushdb(&self) -> Result<()>;
    /// RANDOMKEY: a random live key, `None` if the database is empty.
    fn randomkey(&self) -> Result<Option<Vec<u8>>>;
    /// SCAN: one step of a cursor walk over the keys; start with 0, stop when 0 comes back.
    /// Every key that exists for the whole walk is returned at least once; keys added or
    /// removed meanwhile may or may not be, and a key may be returned more than once.
    fn scan(&self, cursor: u64, opts: &ScanOptions) -> Result<(u64, Vec<Vec<u8>>)>;
    /// The key's type, times and expiry (OBJECT, TYPE, TTL in one look-up).
    fn meta(&self, key: impl AsRef<[u8]>) -> Result<Option<EntryMeta>>;
    /// MEMORY USAGE: an estimate of the bytes the key uses, `None` if missing.
    fn memory_usage(&self, key: impl AsRef<[u8]>) -> Result<Option<usize>>;
    /// OBJECT ENCODING: Redis's name for how the value is stored (`int`, `embstr`, `raw`,
    /// `listpack`, `quicklist`, `hashtable`, `intset`, `skiplist`), `None` if missing.
    fn object_encoding(&self, key: impl AsRef<[u8]>) -> Result<Option<&'static str>>;
}

impl Store for Db {
    fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        string::get_with(self, key.as_ref(), |v| v.map(<[u8]>::to_vec))
    }
    fn get_with<R>(&self, key: impl AsRef<[u8]>, f: impl FnOnce(Option<&[u8]>) -> R) -> Result<R> {
        string::get_with(self, key.as_ref(), f)
    }
    fn set(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        string::set(self, key.as_ref(), value.as_ref(), &SetOptions::new()).map(drop)
    }
    fn set_with(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        opts: &SetOptions,
    ) -> Result<SetOutcome> {
        string::set(self, key.as_ref(), value.as_ref(), opts)
    }
    fn getset(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        string::set(self, key.as_ref(), value.as_ref(), &SetOptions::new().get())
            .map(|o| o.previous)
    }
    fn getdel(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        string::getdel(self, key.as_ref())
    }
    fn getex(&self, key: impl AsRef<[u8]>, opt: GetExOption) -> Result<Option<Vec<u8>>> {
        string::getex(self, key.as_ref(), opt)
    }
    fn setnx(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<bool> {
        string::set(self, key.as_ref(), value.as_ref(), &SetOptions::new().nx()).map(|o| o.written)
    }
    fn setex(&self, key: impl AsRef<[u8]>, secs: i64, value: impl AsRef<[u8]>) -> Result<()> {
        let opts = SetOptions::new().expiry(crate::SetExpiry::Ex(secs));
        string::set(self, key.as_ref(), value.as_ref(), &opts).map(drop)
    }
    fn psetex(&self, key: impl AsRef<[u8]>, ms: i64, value: impl AsRef<[u8]>) -> Result<()> {
        let opts = SetOptions::new().expiry(crate::SetExpiry::Px(ms));
        string::set(self, key.as_ref(), value.as_ref(), &opts).map(drop)
    }
    fn mget<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Vec<u8>>>> {
        let keys: Vec<&[u8]> = keys.iter().map(AsRef::as_ref).collect();
        Ok(string::mget(self, &keys))
    }
    fn get_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Vec<u8>>>> {
        let keys: Vec<&[u8]> = keys.iter().map(AsRef::as_ref).collect();
        string::get_many(self, &keys)
    }
    fn mset<K: AsRef<[u8]>, V: AsRef<[u8]>>(&self, pairs: &[(K, V)]) -> Result<()> {
        let pairs: Vec<_> = pairs
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_ref()))
            .collect();
        string::mset(self, &pairs, false).map(drop)
    }
    fn msetnx<K: AsRef<[u8]>, V: AsRef<[u8]>>(&self, pairs: &[(K, V)]) -> Result<bool> {
        let pairs: Vec<_> = pairs
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_ref()))
            .collect();
        string::mset(self, &pairs, true)
    }
    fn append(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<usize> {
        string::append(self, key.as_ref(), value.as_ref())
    }
    fn strlen(&self, key: impl AsRef<[u8]>) -> Result<usize> {
        string::get_with(self, key.as_ref(), |v| v.map_or(0, <[u8]>::len))
    }
    fn getrange(&self, key: impl AsRef<[u8]>, start: i64, end: i64) -> Result<Vec<u8>> {
        string::get_with(self, key.as_ref(), |v| {
            string::range(v.unwrap_or_default(), start, end)
        })
    }
    fn setrange(
        &self,
        key: impl AsRef<[u8]>,
        offset: u64,
        value: impl AsRef<[u8]>,
    ) -> Result<usize> {
        string::setrange(self, key.as_ref(), offset, value.as_ref())
    }
    fn incr(&self, key: impl AsRef<[u8]>) -> Result<i64> {
        string::incrby(self, key.as_ref(), 1)
    }
    fn decr(&self, key: impl AsRef<[u8]>) -> Result<i64> {
        string::incrby(self, key.as_ref(), -1)
    }
    fn incrby(&self, key: impl AsRef<[u8]>, by: i64) -> Result<i64> {
        string::incrby(self, key.as_ref(), by)
    }
    fn decrby(&self, key: impl AsRef<[u8]>, by: i64) -> Result<i64> {
        let by = by.checked_neg().ok_or(crate::Error::Overflow)?;
        string::incrby(self, key.as_ref(), by)
    }
    fn incrbyfloat(&self, key: impl AsRef<[u8]>, by: impl Into<LongDouble>) -> Result<Vec<u8>> {
        string::incrbyfloat(self, key.as_ref(), by.into())
    }

    fn del<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<u64> {
        let keys: Vec<&[u8]> = keys.iter().map(AsRef::as_ref).collect();
        keys::del(self, &keys)
    }
    fn exists<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<u64> {
        let keys: Vec<&[u8]> = keys.iter().map(AsRef::as_ref).collect();
        Ok(keys::exists(self, &keys))
    }
    fn keys(&self, pattern: impl AsRef<[u8]>) -> Result<Vec<Vec<u8>>> {
        Ok(keys::keys(self, pattern.as_ref()))
    }
    fn key_type(&self, key: impl AsRef<[u8]>) -> Result<Option<KeyType>> {
        Ok(self.read_entry(key.as_ref(), |e| e.map(|e| e.value.key_type())))
    }
    fn expire(&self, key: impl AsRef<[u8]>, secs: i64, cond: ExpireCondition) -> Result<bool> {
        expire::expire(self, key.as_ref(), expire::When::RelativeSecs(secs), cond)
    }
    fn pexpire(&self, key: impl AsRef<[u8]>, ms: i64, cond: ExpireCondition) -> Result<bool> {
        expire::expire(self, key.as_ref(), expire::When::RelativeMs(ms), cond)
    }
    fn expireat(&self, key: impl AsRef<[u8]>, unix_s: i64, cond: ExpireCondition) -> Result<bool> {
        expire::expire(self, key.as_ref(), expire::When::AbsoluteSecs(unix_s), cond)
    }
    fn pexpireat(
        &self,
        key: impl AsRef<[u8]>,
        unix_ms: i64,
        cond: ExpireCondition,
    ) -> Result<bool> {
        expire::expire(self, key.as_ref(), expire::When::AbsoluteMs(unix_ms), cond)
    }
    fn ttl(&self, key: impl AsRef<[u8]>) -> Result<Ttl> {
        Ok(expire::ttl(self, key.as_ref(), expire::Unit::Secs))
    }
    fn pttl(&self, key: impl AsRef<[u8]>) -> Result<Ttl> {
        Ok(expire::ttl(self, key.as_ref(), expire::Unit::Ms))
    }
    fn expiretime(&self, key: impl AsRef<[u8]>) -> Result<ExpireTime> {
        Ok(expire::expire_time(self, key.as_ref(), expire::Unit::Secs))
    }
    fn pexpiretime(&self, key: impl AsRef<[u8]>) -> Result<ExpireTime> {
        Ok(expire::expire_time(self, key.as_ref(), expire::Unit::Ms))
    }
    fn persist(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        expire::persist(self, key.as_ref())
    }
    fn rename(&self, src: impl AsRef<[u8]>, dst: impl AsRef<[u8]>) -> Result<()> {
        keys::rename(self, src.as_ref(), dst.as_ref(), false).map(drop)
    }
    fn renamenx(&self, src: impl AsRef<[u8]>, dst: impl AsRef<[u8]>) -> Result<bool> {
        keys::rename(self, src.as_ref(), dst.as_ref(), true)
    }
    fn copy(
        &self,
        src: impl AsRef<[u8]>,
        dst: impl AsRef<[u8]>,
        dst_db: Option<usize>,
        replace: bool,
    ) -> Result<bool> {
        keys::copy(self, src.as_ref(), dst.as_ref(), dst_db, replace)
    }
    fn move_key(&self, key: impl AsRef<[u8]>, dst_db: usize) -> Result<bool> {
        keys::move_key(self, key.as_ref(), dst_db)
    }
    fn dbsize(&self) -> Result<u64> {
        Ok(keys::dbsize(self))
    }
    fn flushdb(&self) -> Result<()> {
        keys::flushdb(self)
    }
    fn randomkey(&self) -> Result<Option<Vec<u8>>> {
        Ok(crate::scan::randomkey(self))
    }
    fn scan(&self, cursor: u64, opts: &ScanOptions) -> Result<(u64, Vec<Vec<u8>>)> {
        Ok(crate::scan::scan(self, cursor, opts))
    }
    fn meta(&self, key: impl AsRef<[u8]>) -> Result<Option<EntryMeta>> {
        // Introspection, not a read: no keymiss event (Redis's OBJECT looks up quietly).
        Ok(self.read_entry_with(key.as_ref(), false, |e| e.map(crate::entry::Entry::meta)))
    }
    fn memory_usage(&self, key: impl AsRef<[u8]>) -> Result<Option<usize>> {
        Ok(self.footprint(key.as_ref()))
    }
    fn object_encoding(&self, key: impl AsRef<[u8]>) -> Result<Option<&'static str>> {
        Ok(self.read_entry_with(key.as_ref(), false, |e| e.map(|e| keys::encoding(&e.value))))
    }
}
