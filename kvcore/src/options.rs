//! Option types: the store's configuration and the per-command options of SET, GETEX, EXPIRE
//! and SCAN.

use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::entry::KeyType;
use crate::evict::{EvictionListener, EvictionPolicy, MemoryGauge};

/// What every [`Kv`](crate::Kv) is built with, in memory ([`Kv::in_memory`](crate::Kv::in_memory))
/// or persistent ([`Kv::open`](crate::Kv::open), which also takes
/// [`PersistOptions`](crate::PersistOptions)).
///
/// | setting | default | meaning |
/// |---|---|---|
/// | [`shards`](Options::shards) | 64 | independently locked shards per database (rounded up to a power of two, at most 65 536) |
/// | [`databases`](Options::databases) | 16 | numbered databases, as Redis's `databases` setting |
/// | [`clock`](Options::clock) | [`SystemClock`] | where "now" comes from |
/// | [`max_bulk_len`](Options::max_bulk_len) | 512 MiB | the longest key, value or element a write may store (Redis's `proto-max-bulk-len`) |
/// | [`max_memory`](Options::max_memory) | 0 (none) | the memory limit writes evict keys to stay under (Redis's `maxmemory`) |
/// | [`eviction_policy`](Options::eviction_policy) | `NoEviction` | which keys go (Redis's `maxmemory-policy`) |
/// | [`memory_gauge`](Options::memory_gauge) | the [`CountingAlloc`](crate::CountingAlloc) count | where the memory figure comes from |
/// | [`eviction_listener`](Options::eviction_listener) | none | told of every evicted key |
#[derive(Clone)]
pub struct Options {
    pub(crate) shards: usize,
    pub(crate) databases: usize,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) max_bulk_len: usize,
    pub(crate) max_memory: u64,
    pub(crate) eviction_policy: EvictionPolicy,
    pub(crate) memory_gauge: Option<MemoryGauge>,
    pub(crate) eviction_listener: Option<Arc<dyn EvictionListener>>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("shards", &self.shards)
            .field("databases", &self.databases)
            .field("clock", &self.clock)
            .field("max_bulk_len", &self.max_bulk_len)
            .field("max_memory", &self.max_memory)
            .field("eviction_policy", &self.eviction_policy)
            .finish_non_exhaustive()
    }
}

/// Redis's default `proto-max-bulk-len`: 512 MiB.
pub(crate) const DEFAULT_MAX_BULK_LEN: usize = 512 * 1024 * 1024;

/// The most shards a database can have: the SCAN cursor gives the shard 16 bits.
pub(crate) const MAX_SHARDS: usize = 1 << 16;

impl Default for Options {
    fn default() -> Self {
        Options {
            shards: 64,
            databases: 16,
            clock: Arc::new(SystemClock),
            max_bulk_len: DEFAULT_MAX_BULK_LEN,
            max_memory: 0,
            eviction_policy: EvictionPolicy::NoEviction,
            memory_gauge: None,
            eviction_listener: None,
        }
    }
}

impl Options {
    /// The defaults (see the table above).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the number of shards per database: rounded up to a power of two, clamped to
    /// 1..=65 536. More shards mean less lock contention and a little more fixed memory.
    pub fn shards(mut self, n: usize) -> Self {
        self.shards = n.clamp(1, MAX_SHARDS).next_power_of_two();
        self
    }

    /// Sets the number of numbered databases (at least 1).
    pub fn databases(mut self, n: usize) -> Self {
        self.databases = n.max(1);
        self
    }

    /// Sets the clock every expiry decision reads.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sets the longest key, value, field, member or element a write may store, in bytes
    /// (default 512 MiB, Redis's `proto-max-bulk-len`; at least 1). A longer one is refused
    /// with [`Error::StringTooLong`](crate::Error::StringTooLong), as is a string that APPEND
    /// or SETRANGE would grow past it. Changeable later with
    /// [`Kv::set_max_bulk_len`](crate::Kv::set_max_bulk_len).
    pub fn max_bulk_len(mut self, bytes: usize) -> Self {
        self.max_bulk_len = bytes.max(1);
        self
    }

    /// Sets the memory limit in bytes (default 0: none; Redis's `maxmemory`). Over it, every
    /// write first evicts keys under the [`eviction_policy`](Options::eviction_policy) until
    /// the memory figure is under it again, so the store is a bounded cache. The figure is
    /// the [`memory_gauge`](Options::memory_gauge), or, without one, the count of the
    /// [`CountingAlloc`](crate::CountingAlloc) the program installed (without either, the
    /// figure is 0 and nothing is evicted). Changeable later with
    /// [`Kv::set_max_memory`](crate::Kv::set_max_memory).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use kvcore::{EvictionListener, EvictionPolicy, Kv, Options, Store};
    ///
    /// #[derive(Default)]
    /// struct Gone(Mutex<Vec<Vec<u8>>>);
    /// impl EvictionListener for Gone {
    ///     fn evicted(&self, _db: usize, key: &[u8]) {
    ///         self.0.lock().unwrap().push(key.to_vec());
    ///     }
    /// }
    ///
    /// // A gauge that charges 1 KiB per key of database 0, for the example; a program
    /// // would install `kvcore::CountingAlloc` instead and leave the gauge out.
    /// let store = Arc::new(std::sync::OnceLock::<Kv>::new());
    /// let seen = Arc::clone(&store);
    /// let gone = Arc::new(Gone::default());
    /// let kv = Kv::in_memory(
    ///     Options::new()
    ///         .max_memory(10 * 1024)
    ///         .eviction_policy(EvictionPolicy::AllKeysLru)
    ///         .memory_gauge(Arc::new(move || {
    ///             let keys = seen.get().and_then(|kv| kv.db(0).ok()?.dbsize().ok());
    ///             keys.map_or(0, |n| n * 1024)
    ///         }))
    ///         .eviction_listener(gone.clone()),
    /// );
    /// store.set(kv.clone()).unwrap();
    /// let db = kv.db(0)?;
    /// for i in 0..20 {
    ///     db.set(format!("user:{i}"), "profile")?;
    /// }
    /// assert!(db.dbsize()? <= 11);
    /// assert_eq!(gone.0.lock().unwrap().len() as u64, kv.evicted_keys());
    /// # Ok::<(), kvcore::Error>(())
    /// ```
    pub fn max_memory(mut self, bytes: u64) -> Self {
        self.max_memory = bytes;
        self
    }

    /// Sets which keys go when memory is over the limit (default
    /// [`EvictionPolicy::NoEviction`]: none; the host refuses writes instead, see
    /// [`Kv::make_room`](crate::Kv::make_room)).
    pub fn eviction_policy(mut self, policy: EvictionPolicy) -> Self {
        self.eviction_policy = policy;
        self
    }

    /// Sets where the store reads its memory figure (default: the installed
    /// [`CountingAlloc`](crate::CountingAlloc)'s count). Called once per eviction step, with
    /// no lock of the store held.
    pub fn memory_gauge(mut self, gauge: MemoryGauge) -> Self {
        self.memory_gauge = Some(gauge);
        self
    }

    /// Sets the listener told of every key evicted for memory.
    pub fn eviction_listener(mut self, listener: Arc<dyn EvictionListener>) -> Self {
        self.eviction_listener = Some(listener);
        self
    }
}

/// When SET writes: always, only if the key is absent (NX) or only if it exists (XX).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SetCondition {
    /// Write unconditionally.
    #[default]
    Always,
    /// Write only if the key does not exist.
    Nx,
    /// Write only if the key exists.
    Xx,
}

/// The expiry SET gives the key it writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SetExpiry {
    /// No expiry: any previous TTL is dropped (plain SET).
    #[default]
    None,
    /// Expire after this many seconds (EX); must be positive.
    Ex(i64),
    /// Expire after this many milliseconds (PX); must be positive.
    Px(i64),
    /// Expire at this Unix time in seconds (EXAT); must be positive.
    ExAt(i64),
    /// Expire at this Unix time in milliseconds (PXAT); must be positive.
    PxAt(i64),
    /// Keep the key's current expiry (KEEPTTL).
    KeepTtl,
}

/// The options of SET: condition (NX/XX), expiry (EX/PX/EXAT/PXAT/KEEPTTL) and GET.
///
/// ```
/// use kvcore::{SetExpiry, SetOptions};
/// let opts = SetOptions::new().nx().expiry(SetExpiry::Ex(10)).get();
/// # let _ = opts;
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetOptions {
    pub(crate) condition: SetCondition,
    pub(crate) expiry: SetExpiry,
    pub(crate) get: bool,
}

impl SetOptions {
    /// A plain SET: always write, no expiry, no GET.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the write condition.
    pub fn condition(mut self, c: SetCondition) -> Self {
        self.condition = c;
        self
    }
    /// Write only if the key does not exist (NX).
    pub fn nx(self) -> Self {
        self.condition(SetCondition::Nx)
    }
    /// Write only if the key exists (XX).
    pub fn xx(self) -> Self {
        self.condition(SetCondition::Xx)
    }
    /// Sets the expiry of the written key.
    pub fn expiry(mut self, e: SetExpiry) -> Self {
        self.expiry = e;
        self
    }
    /// Also return the previous string value (GET).
    pub fn get(mut self) -> Self {
        self.get = true;
        self
    }
}

/// What [`Store::set_with`](crate::Store::set_with) did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SetOutcome {
    /// Whether the value was written (false when NX/XX refused).
    pub written: bool,
    /// With GET: the previous string value, `None` if the key did not exist. Always `None`
    /// without GET.
    pub previous: Option<Vec<u8>>,
}

/// What GETEX does to the key's expiry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GetExOption {
    /// Leave the expiry as it is.
    #[default]
    Keep,
    /// Expire after this many seconds (EX); must be positive.
    Ex(i64),
    /// Expire after this many milliseconds (PX); must be positive.
    Px(i64),
    /// Expire at this Unix time in seconds (EXAT); must be positive.
    ExAt(i64),
    /// Expire at this Unix time in milliseconds (PXAT); must be positive.
    PxAt(i64),
    /// Remove the expiry (PERSIST).
    Persist,
}

/// The condition of EXPIRE and its siblings (Redis 7's NX/XX/GT/LT).
///
/// A key without expiry counts as an infinite TTL: GT never sets one on it, LT always does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExpireCondition {
    /// Set unconditionally.
    #[default]
    None,
    /// Only if the key has no expiry.
    Nx,
    /// Only if the key has an expiry.
    Xx,
    /// Only if the new expiry is later than the current one.
    Gt,
    /// Only if the new expiry is earlier than the current one (no expiry counts as infinite,
    /// so a key without one gets it).
    Lt,
    /// Only if the key has an expiry and the new one is earlier (Redis's `XX LT`). There is no
    /// `XxGt`: `Gt` already never sets an expiry on a key without one.
    XxLt,
}

/// The options of SCAN: MATCH pattern, COUNT hint and TYPE filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanOptions {
    pub(crate) pattern: Option<Vec<u8>>,
    pub(crate) count: usize,
    pub(crate) key_type: Option<KeyType>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            pattern: None,
            count: 10,
            key_type: None,
        }
    }
}

impl ScanOptions {
    /// No filter, COUNT 10 (Redis's default).
    pub fn new() -> Self {
        Self::default()
    }
    /// Only return keys matching this glob pattern (MATCH).
    pub fn pattern(mut self, pattern: impl AsRef<[u8]>) -> Self {
        self.pattern = Some(pattern.as_ref().to_vec());
        self
    }
    /// How much work one call does (COUNT): about this many keys are visited; at least 1.
    pub fn count(mut self, count: usize) -> Self {
        self.count = count.max(1);
        self
    }
    /// Only return keys of this type (TYPE).
    pub fn key_type(mut self, t: KeyType) -> Self {
        self.key_type = Some(t);
        self
    }
}
