//! `maxmemory` and eviction: the access clock every key carries, the eight policies of Redis,
//! and the approximated LRU/LFU that picks victims by sampling into a small pool, as Redis's
//! `evict.c` does, so no per-key list costs memory or a write on every read.
//!
//! - Each entry's [`Access`] holds Redis's `lru` field: the 24-bit LRU clock (seconds) of its
//!   last access, or, under an LFU policy, the minute of its last decrement (16 bits) and an
//!   8-bit logarithmic counter. Reads update it with a relaxed store under the shard's read
//!   lock (and only when the value changes, so a hot key's cache line stays shared).
//! - [`Inner::make_room`] evicts until the memory figure is under the limit: random policies
//!   take a random key; the others sample `maxmemory-samples` keys of every database into a
//!   pool of the 16 best candidates and evict the best one that still exists. An eviction is a
//!   deletion: journaled (`Del`), reported as an `evicted` keyspace event and to the host's
//!   [`EvictionListener`].
//! - The memory figure is the host's gauge ([`Options::memory_gauge`](crate::Options)) or
//!   the installed [`CountingAlloc`](crate::CountingAlloc)'s count.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::effect::Effect;
use crate::kv::Inner;
use crate::notify::Class;
use crate::persist::Logged;
use crate::shard::{Shard, Slot};

/// Which keys go when memory is over the limit (Redis's `maxmemory-policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum EvictionPolicy {
    /// Evict nothing: the host refuses writes that would add memory.
    #[default]
    NoEviction,
    /// The least recently used key of all.
    AllKeysLru,
    /// The least recently used key among those with an expiry.
    VolatileLru,
    /// The least frequently used key of all.
    AllKeysLfu,
    /// The least frequently used key among those with an expiry.
    VolatileLfu,
    /// Any key.
    AllKeysRandom,
    /// Any key with an expiry.
    VolatileRandom,
    /// The key with an expiry nearest in time.
    VolatileTtl,
}

const POLICIES: [(EvictionPolicy, &str); 8] = [
    (EvictionPolicy::NoEviction, "noeviction"),
    (EvictionPolicy::AllKeysLru, "allkeys-lru"),
    (EvictionPolicy::VolatileLru, "volatile-lru"),
    (EvictionPolicy::AllKeysLfu, "allkeys-lfu"),
    (EvictionPolicy::VolatileLfu, "volatile-lfu"),
    (EvictionPolicy::AllKeysRandom, "allkeys-random"),
    (EvictionPolicy::VolatileRandom, "volatile-random"),
    (EvictionPolicy::VolatileTtl, "volatile-ttl"),
];

impl EvictionPolicy {
    /// Redis's name (`allkeys-lru`, ...), ASCII case-insensitive.
    pub fn parse(name: &str) -> Option<EvictionPolicy> {
        POLICIES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|&(p, _)| p)
    }

    /// Redis's name of the policy.
    pub fn as_str(self) -> &'static str {
        POLICIES[self as usize].1
    }

    /// Whether only keys with an expiry may go.
    pub fn volatile_only(self) -> bool {
        matches!(
            self,
            EvictionPolicy::VolatileLru
                | EvictionPolicy::VolatileLfu
                | EvictionPolicy::VolatileRandom
                | EvictionPolicy::VolatileTtl
        )
    }

    /// Whether keys count their accesses (OBJECT FREQ) rather than their last access time.
    pub fn is_lfu(self) -> bool {
        matches!(
            self,
            EvictionPolicy::AllKeysLfu | EvictionPolicy::VolatileLfu
        )
    }

    fn from_u8(v: u8) -> EvictionPolicy {
        POLICIES
            .get(v as usize)
            .map_or(EvictionPolicy::NoEviction, |p| p.0)
    }
}

/// Told of every key evicted for memory, after its shard lock is released (the embedded
/// cache's removal listener).
pub trait EvictionListener: Send + Sync {
    /// `key` of database `db` was evicted.
    fn evicted(&self, db: usize, key: &[u8]);
}

/// Where the store reads how much memory it uses, in bytes.
pub type MemoryGauge = Arc<dyn Fn() -> u64 + Send + Sync>;

/// An entry's access clock: Redis's 24-bit `lru` field (see the module docs). Atomic so that a
/// read can update it under the shard's read lock; a clone copies the value.
#[derive(Default)]
pub(crate) struct Access(AtomicU32);

impl Clone for Access {
    fn clone(&self) -> Self {
        Access(AtomicU32::new(self.get()))
    }
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.get())
    }
}

impl Access {
    /// A key created at `now_ms` (LRU form; [`Eviction::init`] gives the LFU form).
    pub(crate) fn new(now_ms: u64) -> Access {
        Access(AtomicU32::new(lru_clock(now_ms)))
    }

    #[inline]
    pub(crate) fn get(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }

    #[inline]
    pub(crate) fn set(&self, v: u32) {
        if self.get() != v {
            self.0.store(v, Ordering::Relaxed);
        }
    }
}

/// Redis's LRU clock: seconds, in 24 bits.
const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;
/// A new key's LFU counter, so that it is not evicted before it had a chance to be read.
const LFU_INIT_VAL: u32 = 5;
/// The eviction pool's size (Redis's `EVPOOL_SIZE`).
const POOL_SIZE: usize = 16;

fn lru_clock(now_ms: u64) -> u32 {
    (now_ms / 1000) as u32 & LRU_CLOCK_MAX
}

fn lfu_minutes(now_ms: u64) -> u32 {
    (now_ms / 60_000) as u32 & 0xffff
}

/// Milliseconds since the access stamped `lru` (LRU form), the clock wrapping as Redis's does.
fn idle_ms(lru: u32, now_ms: u64) -> u64 {
    let clock = lru_clock(now_ms);
    let secs = if clock >= lru {
        clock - lru
    } else if lru - clock <= 2 {
        // Stamped from the clock itself a moment before the cached copy caught up (a key
        // created outside the access paths, see `Eviction::access_ms`): just accessed.
        0
    } else {
        clock + (LRU_CLOCK_MAX - lru)
    };
    u64::from(secs) * 1000
}

thread_local! {
    /// Reads on this thread leave access clocks alone (CLIENT NO-TOUCH; see [`no_touch`]).
    static NO_TOUCH: Cell<bool> = const { Cell::new(false) };
    /// This thread's generator for the LFU counter's coin flips (xorshift64*).
    static COIN: Cell<u64> = const { Cell::new(0) };
}

/// Runs `f` with reads that do not count as accesses: the access clocks (OBJECT IDLETIME,
/// OBJECT FREQ, and what LRU/LFU eviction compares) stay as they were (Redis's CLIENT
/// NO-TOUCH). Writes still count.
pub fn no_touch<R>(f: impl FnOnce() -> R) -> R {
    let before = NO_TOUCH.with(|t| t.replace(true));
    let r = f();
    NO_TOUCH.with(|t| t.set(before));
    r
}

/// A number in `0..1` for the LFU counter's coin flip.
fn coin() -> f64 {
    COIN.with(|c| {
        let mut x = c.get();
        if x == 0 {
            // Seeded per thread from the cell's address and the time.
            x = (c as *const Cell<u64> as u64)
                ^ std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
                | 1;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        c.set(x);
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    })
}

/// The eviction settings and state of one store (a field of `Inner`).
pub(crate) struct Eviction {
    max_memory: AtomicU64,
    policy: AtomicU8,
    samples: AtomicU32,
    tenacity: AtomicU32,
    lfu_log_factor: AtomicU32,
    lfu_decay_time: AtomicU32,
    evicted: AtomicU64,
    gauge: Option<MemoryGauge>,
    listener: parking_lot::RwLock<Option<Arc<dyn EvictionListener>>>,
    /// The candidates and the databases worth sampling; its lock also lets one thread evict
    /// at a time.
    pool: parking_lot::Mutex<Pool>,
    /// The database a random policy takes its next key from (round robin, as Redis).
    next_db: AtomicUsize,
    /// The access clocks' time while the active-expiry thread keeps it (ms; 0: none), as
    /// Redis's cached `lruclock`; see [`Eviction::access_ms`].
    coarse_ms: AtomicU64,
}

/// What eviction keeps between rounds.
#[derive(Default)]
struct Pool {
    /// The best candidates seen, ascending by score.
    candidates: Vec<Candidate>,
    /// Which databases held keys when last looked at (sampling an empty database would
    /// lock each of its shards for nothing).
    live: Vec<bool>,
    /// When `live` was taken.
    live_at: Option<Instant>,
}

/// How long the list of databases holding keys is trusted before it is taken again.
const LIVE_DBS_TTL: Duration = Duration::from_millis(100);

struct Candidate {
    /// Larger is a better victim: idle time, 255 minus the LFU counter, or the expiry's
    /// distance from the end of time.
    score: u64,
    db: usize,
    key: Vec<u8>,
}

/// What [`Inner::make_room`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Room {
    /// Under the limit (or no limit), possibly after evicting.
    Ok,
    /// Over the limit and nothing (more) may be evicted: refuse writes that add memory.
    Full,
}

impl Eviction {
    pub(crate) fn new(opts: &crate::Options) -> Eviction {
        Eviction {
            max_memory: AtomicU64::new(opts.max_memory),
            policy: AtomicU8::new(opts.eviction_policy as u8),
            samples: AtomicU32::new(5),
            tenacity: AtomicU32::new(10),
            lfu_log_factor: AtomicU32::new(10),
            lfu_decay_time: AtomicU32::new(1),
            evicted: AtomicU64::new(0),
            gauge: opts.memory_gauge.clone(),
            listener: parking_lot::RwLock::new(opts.eviction_listener.clone()),
            pool: parking_lot::Mutex::new(Pool::default()),
            next_db: AtomicUsize::new(0),
            coarse_ms: AtomicU64::new(0),
        }
    }

    /// The time access clocks are stamped and read with: the copy the active-expiry thread
    /// refreshes every cycle while its cycles are at most a second apart (Redis's cached LRU
    /// clock, one resolution step), else `now()`. A read then costs no clock call. Every
    /// stamp and reading goes through here, so they never disagree.
    #[inline]
    pub(crate) fn access_ms(&self, now: impl FnOnce() -> u64) -> u64 {
        match self.coarse_ms.load(Ordering::Relaxed) {
            0 => now(),
            t => t,
        }
    }

    /// Refreshes [`Eviction::access_ms`]'s copy (`None`: stop keeping one).
    pub(crate) fn tick(&self, now_ms: Option<u64>) {
        self.coarse_ms
            .store(now_ms.map_or(0, |t| t.max(1)), Ordering::Relaxed);
    }

    pub(crate) fn policy(&self) -> EvictionPolicy {
        EvictionPolicy::from_u8(self.policy.load(Ordering::Relaxed))
    }

    pub(crate) fn max_memory(&self) -> u64 {
        self.max_memory.load(Ordering::Relaxed)
    }

    pub(crate) fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// The memory figure eviction compares with the limit: the gauge's, or the counted
    /// allocations less the slab slots removals vacated (kept for the next key).
    pub(crate) fn used_memory(&self) -> u64 {
        match &self.gauge {
            Some(g) => g(),
            None => crate::memory::used().saturating_sub(crate::memory::vacant_bytes()),
        }
    }

    /// Stamps a new key's clock in the current policy's form.
    #[inline]
    pub(crate) fn init(&self, access: &Access, now_ms: u64) {
        if self.policy().is_lfu() {
            let now_ms = self.access_ms(|| now_ms);
            access.set(lfu_minutes(now_ms) << 8 | LFU_INIT_VAL);
        }
    }

    /// Counts an access to the key (a read or a write found it), unless [`no_touch`] holds.
    #[inline]
    pub(crate) fn touch(&self, access: &Access, now_ms: u64) {
        if NO_TOUCH.with(Cell::get) {
            return;
        }
        let now_ms = self.access_ms(|| now_ms);
        if self.policy().is_lfu() {
            let counter = self.lfu_decayed(access.get(), now_ms);
            access.set(lfu_minutes(now_ms) << 8 | self.lfu_incr(counter));
        } else {
            access.set(lru_clock(now_ms));
        }
    }

    /// The LFU counter of `v` after its decay (Redis's `LFUDecrAndReturn`).
    fn lfu_decayed(&self, v: u32, now_ms: u64) -> u32 {
        let (ldt, counter) = (v >> 8 & 0xffff, v & 0xff);
        let now = lfu_minutes(now_ms);
        let elapsed = if now >= ldt {
            now - ldt
        } else {
            0xffff - ldt + now
        };
        let decay = self.lfu_decay_time.load(Ordering::Relaxed);
        let periods = elapsed.checked_div(decay).unwrap_or(0);
        counter.saturating_sub(periods)
    }

    /// The logarithmic increment of Redis's `LFULogIncr`: the higher the counter, the less
    /// likely an access raises it.
    fn lfu_incr(&self, counter: u32) -> u32 {
        if counter >= 255 {
            return 255;
        }
        let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
        let factor = self.lfu_log_factor.load(Ordering::Relaxed) as f64;
        if coin() < 1.0 / (base * factor + 1.0) {
            counter + 1
        } else {
            counter
        }
    }

    /// RESTORE's IDLETIME and FREQ (Redis's `objectSetLRUOrLFU`): under an LFU policy `freq`
    /// becomes the counter, stamped now; otherwise the clock is set `idle_secs` back (an idle
    /// time past the 24-bit clock's reach gives Redis's "half the clock away").
    pub(crate) fn restore_access(
        &self,
        access: &Access,
        now_ms: u64,
        idle_secs: Option<u64>,
        freq: Option<u8>,
    ) {
        let now_ms = self.access_ms(|| now_ms);
        if self.policy().is_lfu() {
            if let Some(f) = freq {
                access.set(lfu_minutes(now_ms) << 8 | u32::from(f));
            }
        } else if let Some(idle) = idle_secs {
            let clock = i64::from(lru_clock(now_ms));
            let mut at = clock - i64::try_from(idle).unwrap_or(i64::MAX);
            if at < 0 {
                at = (clock + i64::from(LRU_CLOCK_MAX / 2)) % i64::from(LRU_CLOCK_MAX);
            }
            access.set(at as u32);
        }
    }

    /// OBJECT FREQ: the key's counter after decay.
    pub(crate) fn frequency(&self, access: &Access, now_ms: u64) -> u32 {
        self.lfu_decayed(access.get(), self.access_ms(|| now_ms))
    }

    /// The time limit of one eviction round (Redis's `evictionTimeLimitUs`).
    fn time_limit(&self) -> Option<Duration> {
        let t = self.tenacity.load(Ordering::Relaxed);
        match t {
            0..=10 => Some(Duration::from_micros(50 * u64::from(t))),
            11..=99 => Some(Duration::from_micros(
                (500.0 * 1.15f64.powi(t as i32 - 10)) as u64,
            )),
            _ => None,
        }
    }
}

impl Shard {
    /// Up to `n` distinct occupied slot indexes (with an expiry, if `volatile`) taken at
    /// random, as Redis's `dictGetSomeKeys`: all of them when the shard holds no more.
    fn sample(&self, n: usize, volatile: bool, mut random: impl FnMut() -> u64) -> Vec<u32> {
        let volatile_slots = self.volatile();
        let len = if volatile {
            volatile_slots.len()
        } else {
            self.len()
        };
        if len <= n {
            return if volatile {
                volatile_slots.to_vec()
            } else {
                self.iter().map(|(i, _)| i).collect()
            };
        }
        let mut out: Vec<u32> = Vec::with_capacity(n);
        let count = self.slot_count() as u64;
        // Vacant slots and repeats are skipped; more than half of a slab is occupied in
        // practice, so a few probes per sample find one.
        for _ in 0..n * 8 {
            if out.len() == n {
                break;
            }
            let idx = if volatile {
                volatile_slots[(random() % len as u64) as usize]
            } else {
                let idx = self.id_at((random() % count) as usize);
                if self.slot(idx).is_none() {
                    continue;
                }
                idx
            };
            if !out.contains(&idx) {
                out.push(idx);
            }
        }
        out
    }
}

impl Inner {
    /// Counts a read of the entry as an access (see [`Eviction::touch`]); reads the clock
    /// only when it counts.
    #[inline]
    pub(crate) fn touch(&self, access: &Access) {
        if !NO_TOUCH.with(Cell::get) {
            self.evict
                .touch(access, self.evict.access_ms(|| self.now()));
        }
    }

    /// Evicts keys until the memory figure is under `maxmemory`, under the policy; `Full`
    /// when over the limit with nothing to evict (or under `noeviction`). Called with no
    /// shard lock held, before a write. One relaxed load when there is no limit.
    pub(crate) fn make_room(&self, batch: Option<&crate::batch::BatchState>) -> Room {
        let ev = &self.evict;
        let max = ev.max_memory();
        if max == 0 || ev.used_memory() <= max {
            return Room::Ok;
        }
        let policy = ev.policy();
        if policy == EvictionPolicy::NoEviction {
            return Room::Full;
        }
        let mut pool = ev.pool.lock();
        let started = Instant::now();
        if pool.live_at.is_none_or(|at| started - at > LIVE_DBS_TTL) {
            self.find_live_dbs(&mut pool);
        }
        let mut refreshed = false;
        let logged = Logged::default();
        let limit = ev.time_limit();
        let mut evicted = 0u64;
        let mut listened = Vec::new();
        let room = loop {
            if ev.used_memory() <= ev.max_memory() {
                break Room::Ok;
            }
            let victim = match policy {
                EvictionPolicy::AllKeysRandom | EvictionPolicy::VolatileRandom => {
                    self.random_victim(&pool.live, policy.volatile_only())
                }
                _ => self.pool_victim(&mut pool, policy),
            };
            let Some((db, key)) = victim else {
                if refreshed {
                    break Room::Full;
                }
                // A database may have gained keys since they were counted.
                self.find_live_dbs(&mut pool);
                refreshed = true;
                continue;
            };
            if self.evict_key(db, &key, policy.volatile_only(), &logged) {
                evicted += 1;
                listened.push((db, key));
            }
            // Past the time limit the write goes ahead (Redis's EVICT_RUNNING): the next
            // write continues where this one stopped.
            if evicted.is_multiple_of(16) && limit.is_some_and(|l| started.elapsed() > l) {
                break Room::Ok;
            }
        };
        drop(pool);
        crate::kv::flush_notifications();
        // The deletions are as durable as the sync mode promises before the write that
        // needed the room is acknowledged (a read that evicted has no commit of its own to
        // cover them): waited for here, or, for a handle in a batch, by the batch's commit.
        // A failed log shows in that write's own refusal.
        if evicted > 0
            && let Some(p) = self.persist.get()
        {
            let _ = p.ack(&logged, batch);
        }
        if !listened.is_empty() {
            let listener = ev.listener.read().clone();
            if let Some(l) = listener {
                for (db, key) in &listened {
                    l.evicted(*db, key);
                }
            }
        }
        room
    }

    /// Removes `key` of database `db` for memory (under a volatile policy, only if it has an
    /// expiry): journaled as a deletion into `logged` (acknowledged by the caller) and
    /// reported as an `evicted` event. False if it was gone.
    fn evict_key(&self, db: usize, key: &[u8], volatile: bool, logged: &Logged) -> bool {
        let hash = self.hash(key);
        let mut shard = self.write_shard(db, self.shard_of(hash));
        let Some(idx) = shard.find(hash, key) else {
            return false;
        };
        if volatile && shard.expire_at(idx).is_none() {
            return false;
        }
        self.journal(Effect::Del { db, key }, logged);
        let slot = shard.remove(idx);
        self.evict.evicted.fetch_add(1, Ordering::Relaxed);
        self.notify(Class::Evicted, "evicted", db, key);
        drop(shard);
        // The value is freed here, outside the lock.
        drop(slot);
        true
    }

    /// Notes which databases hold keys.
    fn find_live_dbs(&self, pool: &mut Pool) {
        pool.live = (0..self.databases())
            .map(|db| (0..self.shard_count()).any(|s| self.shard(db, s).read().len() > 0))
            .collect();
        pool.live_at = Some(Instant::now());
    }

    /// A random key (with an expiry, if `volatile`) of the next database that has one.
    fn random_victim(&self, live: &[bool], volatile: bool) -> Option<(usize, Vec<u8>)> {
        let dbs = self.databases();
        for _ in 0..dbs {
            let db = self.evict.next_db.fetch_add(1, Ordering::Relaxed) % dbs;
            if !live[db] {
                continue;
            }
            if let Some(found) = self.sample_db(db, 1, volatile).pop() {
                return Some((db, found.1.key));
            }
        }
        None
    }

    /// The best candidate of the pool after sampling every database into it.
    fn pool_victim(&self, pool: &mut Pool, policy: EvictionPolicy) -> Option<(usize, Vec<u8>)> {
        let n = self.evict.samples.load(Ordering::Relaxed).max(1) as usize;
        let now = self.evict.access_ms(|| self.now());
        for db in 0..self.databases() {
            if !pool.live[db] {
                continue;
            }
            for (_, slot) in self.sample_db(db, n, policy.volatile_only()) {
                let score = self.score(policy, &slot, now);
                insert(&mut pool.candidates, score, db, &slot.key);
            }
        }
        // The best candidate that still exists (it may have been deleted since it was
        // sampled) and, for a volatile policy, still has an expiry (as Redis looks it up in
        // its expires dictionary).
        while let Some(c) = pool.candidates.pop() {
            let hash = self.hash(&c.key);
            let shard = self.shard(c.db, self.shard_of(hash)).read();
            let eligible = shard
                .find(hash, &c.key)
                .is_some_and(|i| !policy.volatile_only() || shard.expire_at(i).is_some());
            if eligible {
                return Some((c.db, c.key));
            }
        }
        None
    }

    /// How good a victim the entry is under `policy` (larger is better).
    fn score(&self, policy: EvictionPolicy, slot: &SampledSlot, now: u64) -> u64 {
        match policy {
            EvictionPolicy::VolatileTtl => u64::MAX - slot.expire_at.unwrap_or(u64::MAX),
            p if p.is_lfu() => 255 - u64::from(self.evict.frequency(&slot.access, now)),
            _ => idle_ms(slot.access.get(), now),
        }
    }

    /// Up to `n` sampled keys of database `db`, from shards taken at random.
    fn sample_db(&self, db: usize, n: usize, volatile: bool) -> Vec<(u32, SampledSlot)> {
        let shards = self.shard_count();
        let start = (self.random() % shards as u64) as usize;
        let mut out = Vec::with_capacity(n);
        for i in 0..shards {
            if out.len() >= n {
                break;
            }
            let shard = self.shard(db, (start + i) % shards).read();
            for idx in shard.sample(n - out.len(), volatile, || self.random()) {
                out.push((idx, SampledSlot::of(&shard.get(idx))));
            }
        }
        out
    }
}

/// What sampling copies out of a slot before its lock is released.
struct SampledSlot {
    key: Vec<u8>,
    access: Access,
    expire_at: Option<u64>,
}

impl SampledSlot {
    fn of(slot: &Slot) -> SampledSlot {
        SampledSlot {
            key: slot.key.as_slice().to_vec(),
            access: slot.entry.access.clone(),
            expire_at: slot.entry.expire_at(),
        }
    }
}

/// Puts a candidate into the pool (ascending by score, at most [`POOL_SIZE`]), unless it is
/// worse than all of a full pool or already there.
fn insert(pool: &mut Vec<Candidate>, score: u64, db: usize, key: &[u8]) {
    if pool.len() >= POOL_SIZE && pool.first().is_some_and(|c| score <= c.score) {
        return;
    }
    if pool.iter().any(|c| c.db == db && c.key == key) {
        return;
    }
    let at = pool.partition_point(|c| c.score <= score);
    pool.insert(
        at,
        Candidate {
            score,
            db,
            key: key.to_vec(),
        },
    );
    if pool.len() > POOL_SIZE {
        pool.remove(0);
    }
}

/// The eviction settings of a store, changeable while it runs.
impl crate::Kv {
    /// The memory limit in bytes (0: none; Redis's `maxmemory`).
    pub fn max_memory(&self) -> u64 {
        self.inner.evict.max_memory()
    }

    /// Sets the memory limit in bytes (0: none). Over it, writes first evict keys under the
    /// [`EvictionPolicy`]; see [`Options::max_memory`](crate::Options::max_memory).
    pub fn set_max_memory(&self, bytes: u64) {
        self.inner.evict.max_memory.store(bytes, Ordering::Relaxed);
    }

    /// The eviction policy (Redis's `maxmemory-policy`).
    pub fn eviction_policy(&self) -> EvictionPolicy {
        self.inner.evict.policy()
    }

    /// Sets the eviction policy.
    pub fn set_eviction_policy(&self, policy: EvictionPolicy) {
        self.inner
            .evict
            .policy
            .store(policy as u8, Ordering::Relaxed);
    }

    /// Sets how many keys per database one eviction samples (Redis's `maxmemory-samples`,
    /// 5 by default; at least 1): more is closer to true LRU/LFU and slower.
    pub fn set_eviction_samples(&self, n: u32) {
        self.inner.evict.samples.store(n.max(1), Ordering::Relaxed);
    }

    /// Sets how long one write may spend evicting (Redis's `maxmemory-eviction-tenacity`,
    /// 0..=100, 10 by default: 500 µs; 100: no limit).
    pub fn set_eviction_tenacity(&self, tenacity: u32) {
        self.inner
            .evict
            .tenacity
            .store(tenacity.min(100), Ordering::Relaxed);
    }

    /// Sets the LFU counter's logarithm factor (Redis's `lfu-log-factor`, 10 by default).
    pub fn set_lfu_log_factor(&self, factor: u32) {
        self.inner
            .evict
            .lfu_log_factor
            .store(factor, Ordering::Relaxed);
    }

    /// Sets the minutes after which an LFU counter decays by one (Redis's `lfu-decay-time`,
    /// 1 by default; 0: never).
    pub fn set_lfu_decay_time(&self, minutes: u32) {
        self.inner
            .evict
            .lfu_decay_time
            .store(minutes, Ordering::Relaxed);
    }

    /// Sets (or removes) the listener told of every evicted key.
    pub fn set_eviction_listener(&self, listener: Option<Arc<dyn EvictionListener>>) {
        *self.inner.evict.listener.write() = listener;
    }

    /// The memory figure the limit is compared with, in bytes: the
    /// [`memory_gauge`](crate::Options::memory_gauge), or the installed
    /// [`CountingAlloc`](crate::CountingAlloc)'s count (0 without either).
    pub fn used_memory(&self) -> u64 {
        self.inner.evict.used_memory()
    }

    /// Keys evicted for memory since the store started (Redis's `evicted_keys`).
    pub fn evicted_keys(&self) -> u64 {
        self.inner.evict.evicted()
    }

    /// Evicts keys until the memory figure is under the limit, as a write does first; false
    /// when it stays over it (the policy is `noeviction`, or nothing it may evict is left):
    /// a host then refuses commands that add memory (Redis's `-OOM` reply).
    pub fn make_room(&self) -> bool {
        self.inner.make_room(None) == Room::Ok
    }
}

impl crate::Db {
    /// [`Kv::make_room`](crate::Kv::make_room) through this handle: in a batch, the
    /// evictions' log records are acknowledged by the batch's commit.
    pub fn make_room(&self) -> bool {
        self.inner.make_room(self.batch()) == Room::Ok
    }

    /// MEMORY USAGE: the bytes `key` holds: its share of its shard's slab and index (their
    /// capacity over their keys, as a new key costs that much on average), its key and its
    /// value's heap, `None` if it does not exist. Does not count as an access.
    pub(crate) fn footprint(&self, key: &[u8]) -> Option<usize> {
        let hash = self.inner.hash(key);
        let shard = self.shard_read(self.index, self.inner.shard_of(hash));
        let idx = shard.find(hash, key)?;
        let slot = shard.get(idx);
        let entry = &slot.entry;
        if entry.is_expired(self.inner.now()) {
            return None;
        }
        let (slots, indexed) = shard.capacities();
        let keys = shard.len().max(1);
        // hashbrown keeps 1/8 of its buckets free; each holds a u32 and a control byte.
        let buckets = if indexed < 7 {
            indexed + 1
        } else {
            indexed * 8 / 7
        };
        let shared = slots + buckets * 5;
        // A key stored outside its slot owns that many heap bytes (whatever the slot's layout).
        let start = &*slot as *const Slot as usize;
        let stored = slot.key.as_slice().as_ptr() as usize;
        let inline = (start..start + std::mem::size_of::<Slot>()).contains(&stored);
        let key_heap = if inline { 0 } else { key.len() };
        // A packed slot's value is inline (unpacking it above allocated a copy).
        let value_heap = match shard.stored(idx) {
            Some(_) => entry.value.heap_size(),
            None => 0,
        };
        Some(shared / keys + key_heap + shard.boxed_size(idx) + value_heap)
    }

    /// Seconds since `key` was last read or written (OBJECT IDLETIME), `None` if it does
    /// not exist. Does not count as an access.
    pub fn idle_time(&self, key: impl AsRef<[u8]>) -> Option<u64> {
        let now = self.inner.evict.access_ms(|| self.inner.now());
        self.read_entry_with(key.as_ref(), false, |e| {
            e.map(|e| idle_ms(e.access.get(), now) / 1000)
        })
    }

    /// The LFU access counter of `key` after its decay (OBJECT FREQ; meaningful under an
    /// LFU policy), `None` if it does not exist. Does not count as an access.
    pub fn access_frequency(&self, key: impl AsRef<[u8]>) -> Option<u32> {
        let now = self.inner.now();
        self.read_entry_with(key.as_ref(), false, |e| {
            e.map(|e| self.inner.evict.frequency(&e.access, now))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, OnceLock};

    use super::*;
    use crate::{Clock, Kv, ManualClock, NotifyFlags, Options, SetExpiry, SetOptions, Store};

    /// A store of one database whose memory figure is 1000 bytes a key, limited to
    /// `max_keys` keys' worth, on a manual clock.
    fn bounded(policy: EvictionPolicy, max_keys: u64) -> (Kv, ManualClock) {
        let clock = ManualClock::new(1_700_000_000_000);
        let cell = Arc::new(OnceLock::<Kv>::new());
        let seen = Arc::clone(&cell);
        let kv = Kv::in_memory(
            Options::new()
                .databases(2)
                .clock(Arc::new(clock.clone()))
                .max_memory(max_keys * 1000)
                .eviction_policy(policy)
                .memory_gauge(Arc::new(move || {
                    let kv = seen.get().expect("set below");
                    (0..2)
                        .map(|i| kv.db(i).unwrap().dbsize().unwrap())
                        .sum::<u64>()
                        * 1000
                })),
        );
        cell.set(kv.clone()).unwrap();
        (kv, clock)
    }

    fn exists(kv: &Kv, key: &str) -> bool {
        no_touch(|| kv.db(0).unwrap().exists(&[key]).unwrap() == 1)
    }

    #[test]
    fn policies_parse_and_print_as_redis_names() {
        for (p, name) in POLICIES {
            assert_eq!(EvictionPolicy::parse(name), Some(p));
            assert_eq!(p.as_str(), name);
        }
        assert_eq!(
            EvictionPolicy::parse("ALLKEYS-LRU"),
            Some(EvictionPolicy::AllKeysLru)
        );
        assert_eq!(EvictionPolicy::parse("lru"), None);
    }

    #[test]
    fn noeviction_keeps_every_key_and_reports_full() {
        let (kv, _) = bounded(EvictionPolicy::NoEviction, 10);
        let db = kv.db(0).unwrap();
        for i in 0..20 {
            db.set(format!("k{i}"), "v").unwrap();
        }
        assert_eq!(db.dbsize().unwrap(), 20);
        assert!(!kv.make_room());
        assert_eq!(kv.evicted_keys(), 0);
        kv.set_max_memory(0);
        assert!(kv.make_room());
    }

    #[test]
    fn every_evicting_policy_stays_under_the_limit_and_logs_deletions() {
        for (policy, _) in &POLICIES[1..] {
            let (kv, _) = bounded(*policy, 50);
            let db = kv.db(0).unwrap();
            let ttl = SetOptions::new().expiry(SetExpiry::Ex(100));
            for i in 0..200 {
                db.set_with(format!("k{i}"), "v", &ttl).unwrap();
            }
            assert!(
                db.dbsize().unwrap() <= 51,
                "{policy:?}: {}",
                db.dbsize().unwrap()
            );
            assert_eq!(kv.evicted_keys(), 200 - db.dbsize().unwrap(), "{policy:?}");
            let dels = kv
                .inner
                .journal_log
                .lock()
                .iter()
                .filter(|e| e.starts_with("del 0 k"))
                .count() as u64;
            assert_eq!(
                dels,
                kv.evicted_keys(),
                "{policy:?}: each eviction is logged"
            );
        }
    }

    #[test]
    fn volatile_policies_never_evict_persistent_keys() {
        for policy in [
            EvictionPolicy::VolatileLru,
            EvictionPolicy::VolatileLfu,
            EvictionPolicy::VolatileRandom,
            EvictionPolicy::VolatileTtl,
        ] {
            let (kv, _) = bounded(policy, 50);
            let db = kv.db(0).unwrap();
            for i in 0..40 {
                db.set(format!("p{i}"), "v").unwrap();
            }
            let ttl = SetOptions::new().expiry(SetExpiry::Ex(100));
            for i in 0..100 {
                db.set_with(format!("v{i}"), "v", &ttl).unwrap();
            }
            for i in 0..40 {
                assert!(exists(&kv, &format!("p{i}")), "{policy:?} evicted p{i}");
            }
            // Only persistent keys left and still over: nothing more may go.
            kv.set_max_memory(10 * 1000);
            assert!(!kv.make_room(), "{policy:?}");
            assert_eq!(db.dbsize().unwrap(), 40, "{policy:?}");
        }
    }

    #[test]
    fn volatile_ttl_evicts_the_nearest_expiry_first() {
        let (kv, _) = bounded(EvictionPolicy::VolatileTtl, 100);
        kv.set_eviction_samples(64);
        kv.set_eviction_tenacity(100);
        let db = kv.db(0).unwrap();
        for i in 0..100 {
            let ttl = SetOptions::new().expiry(SetExpiry::Ex(1000 + i));
            db.set_with(format!("k{i}"), "v", &ttl).unwrap();
        }
        // Room for half of them: the 50 farthest from expiring should stay.
        kv.set_max_memory(50 * 1000);
        assert!(kv.make_room());
        assert_eq!(db.dbsize().unwrap(), 50);
        let near_gone = (0..25).filter(|i| !exists(&kv, &format!("k{i}"))).count();
        let far_kept = (75..100).filter(|i| exists(&kv, &format!("k{i}"))).count();
        assert!(near_gone >= 22, "{near_gone} of the 25 nearest evicted");
        assert!(far_kept >= 22, "{far_kept} of the 25 farthest kept");
    }

    /// Keys 0..20 are read every round while new keys push the store over its limit: how
    /// many of them survive.
    fn hot_survivors(policy: EvictionPolicy) -> usize {
        let (kv, clock) = bounded(policy, 100);
        kv.set_eviction_samples(10);
        // No time limit: under a loaded machine a command's 500 µs would cut the sampling
        // short and leave the quality of the choice to the scheduler.
        kv.set_eviction_tenacity(100);
        let db = kv.db(0).unwrap();
        for i in 0..100 {
            db.set(format!("k{i}"), "v").unwrap();
        }
        for round in 0..20 {
            clock.advance(10_000);
            for i in 0..20 {
                db.get(format!("k{i}")).unwrap();
            }
            clock.advance(10_000);
            for j in 0..20 {
                db.set(format!("new{round}:{j}"), "v").unwrap();
            }
        }
        (0..20).filter(|i| exists(&kv, &format!("k{i}"))).count()
    }

    #[test]
    fn lru_keeps_a_hot_working_set_far_better_than_random() {
        let lru = hot_survivors(EvictionPolicy::AllKeysLru);
        let lfu = hot_survivors(EvictionPolicy::AllKeysLfu);
        let random = hot_survivors(EvictionPolicy::AllKeysRandom);
        assert!(lru >= 18, "LRU kept {lru} of 20 hot keys");
        assert!(lfu >= 18, "LFU kept {lfu} of 20 hot keys");
        assert!(random <= 10, "random kept {random} of 20 hot keys");
    }

    #[test]
    fn reads_update_the_access_clock_unless_no_touch() {
        let (kv, clock) = bounded(EvictionPolicy::NoEviction, 100);
        let db = kv.db(0).unwrap();
        db.set("k", "v").unwrap();
        clock.advance(5_000);
        assert_eq!(
            db.idle_time("k"),
            Some(5),
            "idle_time itself does not touch"
        );
        db.get("k").unwrap();
        assert_eq!(db.idle_time("k"), Some(0), "a read counts");
        clock.advance(3_000);
        no_touch(|| db.get("k").unwrap());
        assert_eq!(db.idle_time("k"), Some(3), "a no-touch read does not");
        assert_eq!(db.idle_time("missing"), None);
    }

    #[test]
    fn access_clocks_read_the_cached_time_while_the_expiry_thread_keeps_it() {
        let (kv, clock) = bounded(EvictionPolicy::NoEviction, 100);
        let db = kv.db(0).unwrap();
        db.set("k", "v").unwrap();
        // Cycles an hour apart: no cached copy, the clock itself is read.
        let task = kv.start_active_expiry(Duration::from_secs(3600));
        clock.advance(5_000);
        assert_eq!(db.idle_time("k"), Some(5));
        drop(task);
        // Cycles up to a second apart keep a copy: stamps and readings use it until the
        // next cycle, so they agree with each other whatever the clock did meanwhile.
        let inner = &kv.inner;
        inner.evict.tick(Some(clock.now_ms()));
        clock.advance(7_000);
        assert_eq!(db.idle_time("k"), Some(5), "read with the cached time");
        db.get("k").unwrap();
        assert_eq!(db.idle_time("k"), Some(0), "stamped with the cached time");
        inner.evict.tick(Some(clock.now_ms()));
        assert_eq!(db.idle_time("k"), Some(7));
        // A stamp taken from the clock a moment ahead of the copy reads as just accessed.
        let access = Access::new(clock.now_ms() + 1_500);
        assert_eq!(idle_ms(access.get(), clock.now_ms()), 0);
        inner.evict.tick(None);
        clock.advance(2_000);
        assert_eq!(db.idle_time("k"), Some(9), "the clock again");
    }

    #[test]
    fn lfu_counts_accesses_logarithmically_and_decays() {
        let (kv, clock) = bounded(EvictionPolicy::AllKeysLfu, 100);
        let db = kv.db(0).unwrap();
        db.set("k", "v").unwrap();
        assert_eq!(db.access_frequency("k"), Some(LFU_INIT_VAL));
        for _ in 0..1000 {
            db.get("k").unwrap();
        }
        let hot = db.access_frequency("k").unwrap();
        assert!(hot > 8 && hot < 40, "{hot}");
        clock.advance(3 * 60_000);
        assert_eq!(db.access_frequency("k"), Some(hot - 3), "one a minute");
        kv.set_lfu_decay_time(0);
        assert_eq!(db.access_frequency("k"), Some(hot), "no decay");
    }

    #[test]
    fn an_eviction_is_an_evicted_event_and_reaches_the_listener() {
        #[derive(Default)]
        struct Seen(parking_lot::Mutex<Vec<(usize, Vec<u8>)>>);
        impl EvictionListener for Seen {
            fn evicted(&self, db: usize, key: &[u8]) {
                self.0.lock().push((db, key.to_vec()));
            }
        }
        let (kv, _) = bounded(EvictionPolicy::AllKeysRandom, 3);
        let seen = Arc::new(Seen::default());
        kv.set_eviction_listener(Some(seen.clone()));
        kv.set_notify_keyspace_events(NotifyFlags::parse("Ee").unwrap());
        let db = kv.db(1).unwrap();
        for k in ["a", "b", "c", "d"] {
            db.set(k, "v").unwrap();
        }
        db.set("e", "v").unwrap();
        let seen = seen.0.lock().clone();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].0, 1);
        let events = kv.inner.notify_log.lock().clone();
        assert_eq!(
            events,
            [format!("1 evicted {}", seen[0].1.escape_ascii())],
            "only the eviction is in the enabled classes"
        );
    }
}
