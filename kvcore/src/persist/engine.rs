//! The durability engine a persistent store carries: it turns journaled effects into log
//! records, acknowledges writes by the sync mode's rules, takes snapshots without stopping the
//! world, and recovers a store from its directory.
//!
//! # Invariants
//! - **Record order is memory order.** `journal` is called by every mutation while it still
//!   holds the write locks of the shards it changed, and appending assigns the sequence number
//!   under the log's own short lock. Two mutations that touch a common key hold a common shard
//!   lock, so the one that applied first also appended first. Mutations on disjoint shards may
//!   interleave in the log in any order, which is harmless: they commute.
//! - **Acknowledged means durable (per mode).** A write returns only after `ack`, which runs
//!   after the operation released its locks and waits for the group commit covering its
//!   record (`always`), or for the record to reach the OS (`everysec`, `no`).
//! - **A snapshot is exactly the state at its sequence number S.** Starting one takes every
//!   shard write lock for a moment (in lock order), reads S and marks every shard pending. A
//!   pending shard is dumped before anything changes it: by the snapshot thread under the
//!   shard's read lock, or by the first writer that takes its write lock (`before_write`). So
//!   every shard is captured with exactly the records up to S applied.

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use parking_lot::{Mutex, RwLock};

use crate::effect::Effect;
use crate::kv::{Inner, Kv};
use crate::shard::Shard;

use super::apply::{self, ApplyError, RecoveryClock};
use super::convert::{disk_groups, disk_value, record};
use super::error::{PersistError, Result};
use super::fs::FileSystem;
use super::record::{Bytes, Entry, Value};
use super::snapshot::{self, SnapshotWriter, encode_entry};
use super::wal::{self, SyncMode, Wal, WalOptions};
use crate::access::{RECORD_OVERHEAD, SCORE_BYTES, STREAM_ENTRY_BYTES, item_bound};
use crate::entry::Value as MemValue;

/// Persistence settings (behind [`PersistOptions`](crate::PersistOptions)).
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// When writes are made durable.
    pub(crate) sync: SyncMode,
    /// Snapshot after `secs` seconds if at least `changes` writes happened (Redis's `save`).
    pub(crate) save: Vec<(u64, u64)>,
    /// Log segment size.
    pub(crate) segment_bytes: u64,
    /// Whether `everysec` and `no` copy records into a shared mapping of the log.
    pub(crate) map_log: bool,
    /// The largest log record or snapshot entry (frame payload), in bytes.
    pub(crate) max_record: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sync: SyncMode::EverySec,
            save: vec![(3600, 1), (300, 100), (60, 10_000)],
            segment_bytes: WalOptions::default().segment_bytes,
            map_log: WalOptions::default().map_tail,
            max_record: WalOptions::default().max_payload,
        }
    }
}

/// How many snapshots are kept: the newest, and one to fall back to if it is damaged.
const KEEP_SNAPSHOTS: usize = 2;

/// After a failed snapshot, the save rules wait this long before trying again (Redis's
/// `CONFIG_BGSAVE_RETRY_DELAY`), so a snapshot that cannot succeed (a full disk, an entry too
/// large for a frame) is not retried back to back.
const RETRY_DELAY_MS: u64 = 5_000;

/// What one write operation logged, carried by the operation itself (never by its thread):
/// the sequence number it must be acknowledged at, and, while a multi-key operation holds its
/// shard locks, the records it collects to append as one group record.
///
/// [`Inner::durable`](crate::kv::Inner::durable) creates one per operation and hands it down
/// to the `WriteSlot`s and `MultiWrite` the operation journals through, so two stores used
/// from one thread can never acknowledge each other's writes.
#[derive(Debug, Default)]
pub(crate) struct Logged {
    /// The highest sequence number appended for this operation (0: none).
    seq: Cell<u64>,
    /// The encoded records of a multi-key operation, held back until it ends (see
    /// `Persist::begin_group`).
    group: RefCell<Option<Vec<Vec<u8>>>>,
    /// The record bytes admitted so far (see `access::Admit`): a transaction's operations
    /// share one record, so their bounds add up against the record limit.
    reserved: Cell<usize>,
    /// The replication commands of a group, held back until it ends (`repl/`).
    pub(crate) repl: RefCell<Option<crate::repl::Cmds>>,
    /// An optimistic transaction's undo record (`tx.rs`), while it can be undone.
    pub(crate) undo: RefCell<Option<Box<crate::tx::Undo>>>,
    /// The order gate, once an optimistic transaction took it (`tx.rs`).
    pub(crate) promoted: RefCell<Option<parking_lot::MutexGuard<'static, ()>>>,
}

impl Logged {
    /// The highest sequence number this operation appended, if any.
    pub(crate) fn seq(&self) -> Option<u64> {
        Some(self.seq.get()).filter(|&s| s > 0)
    }

    fn note(&self, seq: u64) {
        self.seq.set(self.seq.get().max(seq));
    }

    /// Reserves `bytes` of the record limit `limit`; false (nothing reserved) if the total
    /// would pass it.
    pub(crate) fn reserve(&self, bytes: usize, limit: usize) -> bool {
        let total = self.reserved.get().saturating_add(bytes);
        if total > limit {
            return false;
        }
        self.reserved.set(total);
        true
    }
}

/// What a finished snapshot cost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SaveStats {
    /// The log sequence it covers.
    pub(crate) seq: u64,
    /// Keys written.
    pub(crate) entries: u64,
    /// File size.
    pub(crate) bytes: u64,
    /// Wall time from start to rename, in milliseconds.
    pub(crate) millis: u64,
    /// How long writers were held back by the start barrier, in microseconds.
    pub(crate) barrier_micros: u64,
    /// The largest shard dump held in memory at once (the snapshot's extra memory, beside the
    /// writer's 1 MiB buffer).
    pub(crate) peak_block: usize,
}

#[derive(Debug, Default)]
struct Sink {
    writer: Option<SnapshotWriter>,
    error: Option<PersistError>,
    peak_block: usize,
}

/// The durability state of one persistent store.
#[derive(Debug)]
pub(crate) struct Persist {
    fs: Arc<dyn FileSystem>,
    dir: PathBuf,
    wal: Wal,
    config: Config,
    /// The snapshot rules in effect: `config.save` at open, replaced by
    /// [`Persist::set_save_rules`] (Redis's `CONFIG SET save`).
    save_rules: RwLock<Vec<(u64, u64)>>,
    clock: Arc<RecoveryClock>,
    databases: usize,
    shards: usize,
    /// Writes since the last snapshot began.
    dirty: AtomicU64,
    /// When the last successful snapshot began (clock ms; 0: never).
    last_save_ms: AtomicU64,
    /// Where the save rules count from (clock ms): the open, then each successful snapshot's
    /// start. Like Redis, which considers the data saved at startup, so `save 3600 1` does not
    /// snapshot a freshly opened store on its first write.
    rules_since_ms: AtomicU64,
    /// When the last snapshot attempt failed (clock ms; 0: the last one succeeded, or none).
    last_failed_ms: AtomicU64,
    last_save: Mutex<Option<std::result::Result<SaveStats, String>>>,
    last_good_save: Mutex<Option<SaveStats>>,
    recovery: Mutex<Recovery>,
    /// The data directory's lock file, held while the store is open.
    dir_lock: Mutex<Option<std::fs::File>>,
    /// Held while a snapshot is taken: one at a time.
    saving: Mutex<()>,
    /// A snapshot is dumping shards; `pending` says which are still to do.
    dumping: AtomicBool,
    pending: Box<[AtomicBool]>,
    sink: Mutex<Sink>,
}

impl Persist {
    /// The log.
    pub(crate) fn wal(&self) -> &Wal {
        &self.wal
    }

    /// Logs an effect of the operation `logged` belongs to. Called with the shard write
    /// lock(s) held; only copies into the log's buffer. A record the log refuses (a failed log,
    /// or a record too large for a frame, which fails the log) is dropped: the operation is
    /// not acknowledged, because the log refuses its commit.
    pub(crate) fn journal(&self, effect: &Effect<'_>, logged: &Logged) {
        if let Some(group) = logged.group.borrow_mut().as_mut() {
            group.push(wal::encode_body(&record(effect)));
            return;
        }
        if let Ok(seq) = self.wal.append(&record(effect)) {
            logged.note(seq);
            self.dirty.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Starts holding the operation's records back: a multi-key operation (LMOVE's pop and
    /// push, SMOVE, the STORE forms) calls it once it holds its shard locks, and `end_group`
    /// before it releases them. Appended one by one, a group commit run by another writer in
    /// between could make the first record durable without the second; appended as separate
    /// frames, a torn write could keep the first frame; either way a crash would keep half of
    /// the operation.
    pub(crate) fn begin_group(&self, logged: &Logged) {
        *logged.group.borrow_mut() = Some(Vec::new());
    }

    /// Appends the records held since `begin_group` as one log record (a group record if
    /// there are several), still under the operation's locks, so record order stays memory
    /// order.
    pub(crate) fn end_group(&self, logged: &Logged) {
        let Some(bodies) = logged.group.borrow_mut().take() else {
            return;
        };
        if bodies.is_empty() {
            return;
        }
        if let Ok(seq) = self.wal.append_bodies(&bodies) {
            logged.note(seq);
            self.dirty.fetch_add(bodies.len() as u64, Ordering::Relaxed);
        }
    }

    /// Drops the records held since `begin_group` (an undone transaction's).
    pub(crate) fn discard_group(&self, logged: &Logged) {
        logged.group.borrow_mut().take();
    }

    /// Refuses writes once the log has failed (checked before an operation changes anything).
    ///
    /// # Errors
    /// [`PersistError::Failed`] saying why.
    pub(crate) fn check_writable(&self) -> Result<()> {
        if self.wal.is_failed() {
            return Err(PersistError::Failed(self.wal.failure().unwrap_or_default()));
        }
        Ok(())
    }

    /// Acknowledges an operation that released its locks: waits until what it logged is as
    /// durable as the sync mode promises, or, for a write in a batch, hands its sequence
    /// number to the batch (whose commit waits instead) after checking the log still works.
    ///
    /// # Errors
    /// [`PersistError::Failed`] if the log failed (now or before).
    pub(crate) fn ack(
        &self,
        logged: &Logged,
        batch: Option<&crate::batch::BatchState>,
    ) -> Result<()> {
        match (logged.seq(), batch) {
            (None, _) => self.check_writable(),
            (Some(seq), Some(batch)) => {
                batch.note(seq);
                self.check_writable()
            }
            (Some(seq), None) => self.wal.commit(seq),
        }
    }

    /// The largest record the log takes, in bytes (checked before a write changes memory).
    pub(crate) fn max_record(&self) -> usize {
        self.config.max_record
    }

    /// Called by every writer right after it takes a shard's write lock: dumps the shard into
    /// the running snapshot first if the snapshot has not captured it yet.
    #[inline]
    pub(crate) fn before_write(&self, db: usize, s: usize, shard: &Shard) {
        if self.dumping.load(Ordering::Acquire) {
            self.dump_if_pending(db, s, shard);
        }
    }

    #[cold]
    fn dump_if_pending(&self, db: usize, s: usize, shard: &Shard) {
        if let Some(dumped) = self.take_dump(db, s, shard) {
            self.sink(dumped);
        }
    }

    /// Serializes shard `s` of database `db` for the running snapshot if it is still pending
    /// (called by the snapshot thread under the shard's read lock, or by the first writer to
    /// take its write lock); `None` if it was dumped already or the snapshot failed already.
    fn take_dump(&self, db: usize, s: usize, shard: &Shard) -> Option<Result<(Vec<u8>, u64)>> {
        if !self.pending[db * self.shards + s].swap(false, Ordering::AcqRel) {
            return None;
        }
        if self.sink.lock().error.is_some() {
            // No point serializing more of a snapshot that will be abandoned.
            return None;
        }
        Some(dump(db, shard, self.config.max_record))
    }

    /// Writes a dumped shard into the snapshot. A shard that could not be dumped (an entry
    /// too large for a frame) or written fails the snapshot, never the caller: a writer goes
    /// on with its write, and the snapshot is abandoned at the end, leaving the previous one
    /// in place.
    fn sink(&self, dumped: Result<(Vec<u8>, u64)>) {
        let mut sink = self.sink.lock();
        if sink.error.is_some() {
            return;
        }
        let written = dumped.and_then(|(block, n)| {
            sink.peak_block = sink.peak_block.max(block.len());
            match sink.writer.as_mut() {
                Some(w) => w.block(&block, n),
                None => Ok(()),
            }
        });
        if let Err(e) = written {
            sink.error = Some(e);
        }
    }

    /// Whether a save rule says it is time for a snapshot (and, after a failed one, the retry
    /// delay has passed).
    pub(crate) fn save_due(&self, now_ms: u64) -> bool {
        let failed = self.last_failed_ms.load(Ordering::Relaxed);
        if failed > 0 && now_ms.saturating_sub(failed) < RETRY_DELAY_MS {
            return false;
        }
        let dirty = self.dirty.load(Ordering::Relaxed);
        let since = now_ms.saturating_sub(self.rules_since_ms.load(Ordering::Relaxed));
        self.save_rules
            .read()
            .iter()
            .any(|&(secs, changes)| dirty >= changes.max(1) && since >= secs * 1000)
    }

    /// The snapshot rules in effect.
    pub(crate) fn save_rules(&self) -> Vec<(u64, u64)> {
        self.save_rules.read().clone()
    }

    /// Replaces the snapshot rules.
    pub(crate) fn set_save_rules(&self, rules: &[(u64, u64)]) {
        *self.save_rules.write() = rules.to_vec();
    }

    /// Writes since the last snapshot began.
    pub(crate) fn dirty(&self) -> u64 {
        self.dirty.load(Ordering::Relaxed)
    }

    /// When the last successful snapshot began (clock ms), if any.
    pub(crate) fn last_save_ms(&self) -> Option<u64> {
        Some(self.last_save_ms.load(Ordering::Relaxed)).filter(|&t| t > 0)
    }

    /// The outcome of the last snapshot attempt.
    pub(crate) fn last_save(&self) -> Option<std::result::Result<SaveStats, String>> {
        self.last_save.lock().clone()
    }

    /// The last successful snapshot of this run.
    pub(crate) fn last_good_save(&self) -> Option<SaveStats> {
        self.last_good_save.lock().clone()
    }

    /// What recovery found when the store opened.
    pub(crate) fn recovery(&self) -> Recovery {
        self.recovery.lock().clone()
    }

    /// Keeps the data directory locked for as long as the store lives.
    pub(crate) fn hold_dir_lock(&self, lock: std::fs::File) {
        *self.dir_lock.lock() = Some(lock);
    }

    /// Records what recovery found.
    pub(crate) fn set_recovery(&self, r: Recovery) {
        *self.recovery.lock() = r;
    }

    /// Holds the one-snapshot-at-a-time lock (tests of "already in progress").
    #[cfg(test)]
    pub(crate) fn saving_lock_for_tests(&self) -> parking_lot::MutexGuard<'_, ()> {
        self.saving.lock()
    }

    /// Whether a snapshot is being taken.
    pub(crate) fn saving(&self) -> bool {
        self.saving.is_locked()
    }

    /// Takes a snapshot of `inner` (this engine's store) and trims the log it covers.
    ///
    /// # Errors
    /// `None` if another snapshot is in progress; `Some(error)` if this one failed (nothing
    /// is left behind then, and the store keeps working).
    pub(crate) fn snapshot(
        &self,
        inner: &Inner,
    ) -> std::result::Result<SaveStats, Option<PersistError>> {
        let Some(_one) = self.saving.try_lock() else {
            return Err(None);
        };
        let res = self.take_snapshot(inner, || {});
        *self.last_save.lock() = Some(res.as_ref().map(Clone::clone).map_err(ToString::to_string));
        match &res {
            Ok(stats) => {
                *self.last_good_save.lock() = Some(stats.clone());
                self.last_failed_ms.store(0, Ordering::Relaxed);
            }
            Err(_) => self
                .last_failed_ms
                .store(self.clock.real_now().max(1), Ordering::Relaxed),
        }
        res.map_err(Some)
    }

    /// Like [`Persist::snapshot`], running `between` after the barrier and before the dump
    /// (tests use it to write while the snapshot is pending).
    #[cfg(test)]
    pub(crate) fn snapshot_with(&self, inner: &Inner, between: impl FnOnce()) -> Result<SaveStats> {
        let _one = self.saving.lock();
        self.take_snapshot(inner, between)
    }

    fn take_snapshot(&self, inner: &Inner, between: impl FnOnce()) -> Result<SaveStats> {
        let started = Instant::now();
        let (seq, created, dirty_at, barrier) = {
            // The barrier: no write is in flight while every lock is held, so every record up
            // to `seq` is applied in memory and none after it.
            // Every shard in order: the order gate first (Invariant 12).
            let _gate = inner.gate();
            let mut guards = Vec::with_capacity(self.databases * self.shards);
            for db in 0..self.databases {
                for s in 0..self.shards {
                    guards.push(inner.shard(db, s).write());
                }
            }
            let seq = self.wal.next_seq() - 1;
            let created = self.clock.real_now();
            let mut writer = SnapshotWriter::create(
                self.fs.clone(),
                &self.dir,
                seq,
                self.databases as u32,
                created,
            )?;
            // The function libraries, as of `seq`: they change under the order gate, which
            // the barrier holds.
            let mut block = Vec::new();
            let mut scratch = Vec::new();
            let libraries = inner.functions.lock();
            for (name, code) in libraries.iter() {
                let e = super::record::Entry {
                    db: super::record::LIBRARY_DB,
                    key: super::record::Bytes::from_slice(name),
                    value: super::record::Value::Library(super::record::Bytes::from_slice(code)),
                    expire_at: None,
                };
                super::snapshot::encode_entry(
                    &e,
                    &mut scratch,
                    &mut block,
                    self.config.max_record,
                )?;
            }
            writer.block(&block, libraries.len() as u64)?;
            drop(libraries);
            *self.sink.lock() = Sink {
                writer: Some(writer),
                error: None,
                peak_block: 0,
            };
            for p in &self.pending[..] {
                p.store(true, Ordering::Relaxed);
            }
            self.dumping.store(true, Ordering::Release);
            let dirty_at = self.dirty.load(Ordering::Relaxed);
            (seq, created, dirty_at, started.elapsed())
        };
        between();
        for db in 0..self.databases {
            for s in 0..self.shards {
                // Serialized under the read lock, written after it is released.
                let dumped = self.take_dump(db, s, &inner.shard(db, s).read());
                if let Some(dumped) = dumped {
                    self.sink(dumped);
                }
            }
        }
        self.dumping.store(false, Ordering::Release);
        let sink = std::mem::take(&mut *self.sink.lock());
        // The writer was installed above and only this function takes it out.
        let writer = sink
            .writer
            .expect("the snapshot writer is installed while dumping");
        if let Some(e) = sink.error {
            writer.abort();
            return Err(e);
        }
        let written = writer.finish()?;
        // Seal the log's current segment so the segments before the snapshot can go.
        self.wal.rotate()?;
        if let Some(oldest) = snapshot::prune(&*self.fs, &self.dir, KEEP_SNAPSHOTS)? {
            wal::remove_covered(&*self.fs, &self.dir, oldest)?;
        }
        self.dirty.fetch_sub(dirty_at, Ordering::Relaxed);
        self.last_save_ms.store(created.max(1), Ordering::Relaxed);
        self.rules_since_ms.store(created, Ordering::Relaxed);
        Ok(SaveStats {
            seq,
            entries: written.entries,
            bytes: written.bytes,
            millis: started.elapsed().as_millis() as u64,
            barrier_micros: barrier.as_micros() as u64,
            peak_block: sink.peak_block,
        })
    }
}

impl Drop for Persist {
    fn drop(&mut self) {
        // A store closed normally leaves nothing unsynced, whatever its mode. A failed log
        // stays failed; there is nothing more to do then.
        let _ = self.wal.sync();
    }
}

/// Serializes every entry of a shard into one block of snapshot frames; returns the block and
/// the number of keys in it. A container too large for one frame is split over consecutive
/// frames of its key (see `Snapshot::for_each`).
///
/// # Errors
/// [`PersistError::TooLarge`] if a string, or a single element, is larger than `limit`.
fn dump(db: usize, shard: &Shard, limit: usize) -> Result<(Vec<u8>, u64)> {
    let mut block = Vec::new();
    let mut scratch = Vec::new();
    let mut n = 0;
    for (_, slot) in shard.iter() {
        let key = slot.key.as_slice();
        let value = &slot.entry.value;
        let whole = matches!(value, MemValue::String(_)) || value.record_bound(key.len()) <= limit;
        let budget = limit.saturating_sub(item_bound(key.len()) + RECORD_OVERHEAD);
        let mut parts = if whole {
            vec![disk_value(value)]
        } else {
            split(disk_value(value), budget)
        };
        // A stream's consumer groups follow its entries, as later parts of the same key.
        if let MemValue::Stream(s) = value {
            parts.extend(disk_groups(s, budget));
        }
        for part in parts {
            let e = Entry {
                db: db as u32,
                key: Bytes::from_slice(key),
                value: part,
                expire_at: slot.entry.expire_at(),
            };
            encode_entry(&e, &mut scratch, &mut block, limit)?;
        }
        n += 1;
    }
    Ok((block, n))
}

/// Splits a container's elements into parts of at most about `budget` encoded bytes each (at
/// least one element per part), in order.
fn split(value: Value<'_>, budget: usize) -> Vec<Value<'_>> {
    fn chunks<T>(items: Vec<T>, size: impl Fn(&T) -> usize, budget: usize) -> Vec<Vec<T>> {
        let mut parts = vec![Vec::new()];
        let mut used = 0usize;
        for item in items {
            let s = size(&item);
            let last = parts.last_mut().expect("parts starts with one");
            if !last.is_empty() && used.saturating_add(s) > budget {
                parts.push(Vec::new());
                used = 0;
            }
            used = used.saturating_add(s);
            parts.last_mut().expect("parts is not empty").push(item);
        }
        parts
    }
    let len = |b: &Bytes<'_>| item_bound(b.as_slice().len());
    match value {
        Value::Str(_) | Value::Library(_) | Value::StreamGroups(_) => vec![value],
        Value::List(items) => chunks(items, len, budget)
            .into_iter()
            .map(Value::List)
            .collect(),
        Value::Set(items) => chunks(items, len, budget)
            .into_iter()
            .map(Value::Set)
            .collect(),
        Value::Hash(pairs) => chunks(pairs, |(f, v)| len(f) + len(v), budget)
            .into_iter()
            .map(Value::Hash)
            .collect(),
        Value::ZSet(pairs) => chunks(pairs, |(_, m)| len(m) + SCORE_BYTES, budget)
            .into_iter()
            .map(Value::ZSet)
            .collect(),
        // Every part carries the stream's counters; its entries are added in order.
        Value::Stream(s) => {
            let (last_id, entries_added, max_deleted_id) =
                (s.last_id, s.entries_added, s.max_deleted_id);
            let size = |e: &super::record::StreamEntry<'_>| {
                STREAM_ENTRY_BYTES + e.pairs.iter().map(|(f, v)| len(f) + len(v)).sum::<usize>()
            };
            chunks(s.entries, size, budget)
                .into_iter()
                .map(|entries| {
                    Value::Stream(super::record::Stream {
                        last_id,
                        entries_added,
                        max_deleted_id,
                        entries,
                    })
                })
                .collect()
        }
    }
}

/// What recovery found and did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Recovery {
    /// The snapshot loaded: (sequence, keys loaded, keys dropped as expired).
    pub(crate) snapshot: Option<(u64, u64, u64)>,
    /// Log records replayed.
    pub(crate) replayed: u64,
    /// Warnings (damaged snapshots skipped, torn tail cut, inconsistent records).
    pub(crate) warnings: Vec<String>,
}

/// Recovers `kv` (an empty store whose clock is `clock`, still pinned) from `dir`, then opens
/// the log for appending. `progress` receives progress lines for large recoveries.
///
/// # Errors
/// Corruption that is not a torn tail, records this build cannot apply, and io errors.
pub(crate) fn recover(
    fs: Arc<dyn FileSystem>,
    dir: &Path,
    kv: &Kv,
    clock: Arc<RecoveryClock>,
    config: Config,
    progress: &mut dyn FnMut(&str),
) -> Result<(Persist, Recovery)> {
    fs.create_dir_all(dir)
        .map_err(|e| PersistError::io("creating", dir, e))?;
    let mut report = Recovery::default();
    let (snap, warnings) = snapshot::newest_valid(&*fs, dir)?;
    report.warnings.extend(warnings);
    let unsupported = |file: &Path, reason: String| PersistError::Corrupt {
        file: file.display().to_string(),
        offset: 0,
        reason,
        hint: "open it with a build and configuration that support it".into(),
    };
    let mut snap_seq = 0;
    if let Some(snap) = &snap {
        if snap.databases() as usize > kv.databases() {
            return Err(unsupported(
                snap.path(),
                format!(
                    "the snapshot holds {} databases but the store is configured with {}",
                    snap.databases(),
                    kv.databases()
                ),
            ));
        }
        let now = clock.real_now();
        let (mut loaded, mut expired) = (0, 0);
        snap.for_each(|e, continued| {
            // Every part of a split container carries the key's expiry.
            if e.expire_at.is_some_and(|at| at <= now) {
                if !continued {
                    expired += 1;
                }
                return Ok(());
            }
            let applied = if continued {
                apply::extend_entry(kv, e)
            } else {
                apply::load_entry(kv, e)
            };
            match applied {
                Ok(()) if continued => {}
                Ok(()) => loaded += 1,
                Err(ApplyError::Unsupported(why)) => return Err(unsupported(snap.path(), why)),
                Err(ApplyError::Inconsistent(why)) => report.warnings.push(why),
            }
            Ok(())
        })?;
        snap_seq = snap.seq();
        report.snapshot = Some((snap_seq, loaded, expired));
    }
    let started = Instant::now();
    let mut last_report = Instant::now();
    let replay = wal::replay(&*fs, dir, snap_seq, |seq, rec, done| {
        match apply::apply(kv, rec) {
            Ok(()) => {}
            Err(ApplyError::Unsupported(why)) => {
                return Err(unsupported(dir, format!("log record {seq}: {why}")));
            }
            Err(ApplyError::Inconsistent(why)) => {
                report
                    .warnings
                    .push(format!("log record {seq} did not apply cleanly ({why})"));
            }
        }
        // Sequence numbers after the snapshot are consecutive (a group's inner records share
        // one), so this counts records, not changes.
        let replayed = seq - snap_seq;
        if replayed.is_multiple_of(4096) && last_report.elapsed().as_secs() >= 2 {
            last_report = Instant::now();
            let rate = replayed as f64 / started.elapsed().as_secs_f64().max(1e-9);
            progress(&format!(
                "recovery: {replayed} log records replayed ({:.0}%, {rate:.0} records/s)",
                done * 100.0
            ));
        }
        Ok(())
    })?;
    report.replayed = replay.applied;
    if let Some(torn) = &replay.torn {
        report.warnings.push(format!(
            "cut a torn tail off the log: {} at offset {} ({}); the write it held was never acknowledged",
            torn.path.display(),
            torn.offset,
            torn.reason
        ));
        wal::cut_torn_tail(&*fs, dir, torn)?;
    }
    let next_seq = snap_seq.max(replay.last_seq.unwrap_or(0)) + 1;
    let wal_opts = WalOptions {
        sync: config.sync,
        segment_bytes: config.segment_bytes,
        map_tail: config.map_log,
        max_payload: config.max_record,
        ..WalOptions::default()
    };
    let wal = Wal::open(
        fs.clone(),
        dir,
        wal_opts,
        next_seq,
        replay.last_seq,
        replay.end,
    )?;
    let databases = kv.databases();
    let shards = kv.inner.shard_count();
    let persist = Persist {
        fs,
        dir: dir.to_path_buf(),
        wal,
        save_rules: RwLock::new(config.save.clone()),
        config,
        databases,
        shards,
        dirty: AtomicU64::new(replay.applied),
        last_save_ms: AtomicU64::new(snap.as_ref().map_or(0, |s| s.created_ms().max(1))),
        rules_since_ms: AtomicU64::new(clock.real_now()),
        last_failed_ms: AtomicU64::new(0),
        last_save: Mutex::new(None),
        last_good_save: Mutex::new(None),
        recovery: Mutex::new(Recovery::default()),
        dir_lock: Mutex::new(None),
        saving: Mutex::new(()),
        dumping: AtomicBool::new(false),
        pending: (0..databases * shards)
            .map(|_| AtomicBool::new(false))
            .collect(),
        sink: Mutex::new(Sink::default()),
        clock: clock.clone(),
    };
    clock.finish();
    Ok((persist, report))
}

#[cfg(test)]
mod tests;
