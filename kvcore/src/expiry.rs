//! Active expiry: reclaiming keys that expired and that nobody reads again.
//!
//! Each shard keeps an index of the slots whose entry has an expiry (`Shard::volatile`), so a
//! cycle samples only keys that can expire, never the whole key space. Per shard, as Redis
//! does: take the write lock, test up to 20 random volatile keys, delete the expired ones,
//! release the lock; repeat while more than a quarter of the sample had expired and the
//! shard's budget lasts. The pause a cycle causes is bounded by one sample of 20 per lock hold.
//!
//! [`Kv::active_expire_cycle`] is that pass, deterministic given the clock; the host calls it,
//! or [`Kv::start_active_expiry`] runs it on a background thread.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::effect::Effect;
use crate::kv::{Inner, Kv};
use crate::notify::Class;
use crate::persist::Logged;

/// Keys tested per lock hold.
const SAMPLE: usize = 20;

/// What one active-expiry cycle did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExpireStats {
    /// Keys with an expiry that were tested.
    pub sampled: u64,
    /// Keys found expired and deleted.
    pub expired: u64,
}

impl Kv {
    /// Runs one active-expiry cycle over every shard of every database, testing at most
    /// `budget` keys per shard (at least one sample). Time comes from the store's clock.
    pub fn active_expire_cycle(&self, budget: usize) -> ExpireStats {
        cycle(&self.inner, budget)
    }

    /// Starts a background thread that runs [`Kv::active_expire_cycle`] every `interval`
    /// (with a budget of 200 keys per shard), until the returned task is stopped or dropped,
    /// or the store is dropped. [`Kv::set_active_expiry_interval`] and
    /// [`Kv::set_active_expiry_enabled`] change it while it runs. While its cycles are at
    /// most a second apart it also keeps the time the keys' access clocks (eviction, OBJECT
    /// IDLETIME and FREQ) are stamped and read with, refreshed every cycle as Redis caches its
    /// LRU clock, so reads make no clock call.
    pub fn start_active_expiry(&self, interval: Duration) -> ExpiryTask {
        self.set_active_expiry_interval(interval);
        tick(&self.inner);
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let signal = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("kv-expiry".into())
            .spawn(move || {
                loop {
                    let Some(interval) = weak.upgrade().map(|inner| {
                        Duration::from_millis(inner.expiry_interval_ms.load(Ordering::Relaxed))
                    }) else {
                        return;
                    };
                    {
                        let mut stopped = signal.0.lock();
                        if !*stopped {
                            signal.1.wait_for(&mut stopped, interval);
                        }
                        if *stopped {
                            if let Some(inner) = weak.upgrade() {
                                inner.evict.tick(None);
                            }
                            return;
                        }
                    }
                    let Some(inner) = weak.upgrade() else { return };
                    tick(&inner);
                    if inner.expiry_enabled.load(Ordering::Relaxed) {
                        cycle(&inner, 200);
                    }
                }
            })
            // Failing to spawn a thread means the process is out of resources; no store
            // could run either.
            .expect("spawn the active expiry thread");
        ExpiryTask {
            stop,
            thread: Some(thread),
        }
    }
}

/// Refreshes the access clocks' cached time (`Eviction::access_ms`) while cycles are at most
/// a second apart (Redis caches its LRU clock only for `hz` of 1 or more).
fn tick(inner: &Inner) {
    let cached = || inner.expiry_interval_ms.load(Ordering::Relaxed) <= 1000;
    if cached() {
        inner.evict.tick(Some(inner.now()));
    }
    // Looked at again: a slower interval set meanwhile must not leave a copy that would go
    // stale until the next cycle.
    if !cached() {
        inner.evict.tick(None);
    }
}

impl Kv {
    /// Changes the pause between the active-expiry thread's cycles (Redis's `hz`: 1000 / hz
    /// ms); it applies from the next cycle on. At least 1 ms.
    pub fn set_active_expiry_interval(&self, interval: Duration) {
        let ms = u64::try_from(interval.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        self.inner.expiry_interval_ms.store(ms, Ordering::Relaxed);
        if ms > 1000 {
            self.inner.evict.tick(None);
        }
    }

    /// Pauses (`false`) or resumes the active-expiry thread's cycles (Redis's DEBUG
    /// SET-ACTIVE-EXPIRE); expired keys are still removed when they are read.
    pub fn set_active_expiry_enabled(&self, enabled: bool) {
        self.inner.expiry_enabled.store(enabled, Ordering::Relaxed);
    }

    /// Switches passive expiry on or off: while on, the store never removes a key because its
    /// time passed, as a Redis replica leaves that to its primary (which sends a DEL). A
    /// read of an expired key answers as if it were absent but deletes and journals nothing;
    /// a write sees the key as it is (the primary's commands find what the primary had);
    /// active-expiry cycles do nothing. Switched off (a promoted replica), expired keys are
    /// removed as usual again, on access and by the cycles.
    pub fn set_passive_expiry(&self, on: bool) {
        self.inner.passive_expiry.store(on, Ordering::Relaxed);
    }

    /// Whether passive expiry is on ([`Kv::set_passive_expiry`]).
    pub fn passive_expiry(&self) -> bool {
        self.inner.passive_expiry.load(Ordering::Relaxed)
    }
}

fn cycle(inner: &Inner, budget: usize) -> ExpireStats {
    let mut stats = ExpireStats::default();
    if inner.passive_expiry.load(Ordering::Relaxed) {
        return stats;
    }
    let now = inner.now();
    for db in 0..inner.databases() {
        for s in 0..inner.shard_count() {
            let mut left = budget.max(1);
            loop {
                let mut shard = inner.write_shard(db, s);
                // Checked again under each shard's lock: a host that switches passive expiry
                // on and then takes every shard lock once knows no cycle removes a key after.
                if inner.passive_expiry.load(Ordering::Relaxed) {
                    return stats;
                }
                if shard.volatile().is_empty() {
                    break;
                }
                let n = SAMPLE.min(left).min(shard.volatile().len());
                let mut expired = 0;
                for _ in 0..n {
                    let vol = shard.volatile();
                    if vol.is_empty() {
                        break;
                    }
                    let idx = vol[inner.random() as usize % vol.len()];
                    if shard.get(idx).entry.is_expired(now) {
                        let slot = shard.remove(idx);
                        inner.note_expired();
                        // Not acknowledged: nobody waits for a reclaimed key; the next
                        // commit of any write covers the record.
                        let logged = Logged::default();
                        inner.journal(Effect::Del { db, key: &slot.key }, &logged);
                        inner.notify(Class::Expired, "expired", db, &slot.key);
                        expired += 1;
                    }
                }
                drop(shard);
                crate::kv::flush_notifications();
                left -= n;
                stats.sampled += n as u64;
                stats.expired += expired as u64;
                if left == 0 || expired * 4 <= n {
                    break;
                }
            }
        }
    }
    stats
}

/// The background active-expiry thread; stops when stopped or dropped.
#[derive(Debug)]
pub struct ExpiryTask {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl ExpiryTask {
    /// Stops the thread and waits for it to finish its current cycle.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        *self.stop.0.lock() = true;
        self.stop.1.notify_all();
        if let Some(t) = self.thread.take() {
            // A panic in the expiry thread is a bug already reported on stderr; nothing to add.
            let _ = t.join();
        }
    }
}

impl Drop for ExpiryTask {
    fn drop(&mut self) {
        self.shutdown();
    }
}
