//! The public face of persistence: opening a store from a directory, the sync and snapshot
//! settings, SAVE / BGSAVE / LASTSAVE, INFO's persistence section and the `check` tool.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::error::{Error, IoError, Result};
use crate::kv::{Inner, Kv};
use crate::options::Options;

use super::options::PersistOptions;

use super::apply::RecoveryClock;
use super::engine::{Recovery, SaveStats, recover};
use super::error::PersistError;
use super::fs::{FileSystem, RealFs};
use super::snapshot;
use super::wal::{self, Flusher, SyncMode};

impl From<PersistError> for Error {
    fn from(e: PersistError) -> Self {
        match e {
            PersistError::Failed(why) => Error::PersistenceFailed(why),
            e @ PersistError::Corrupt { .. } => Error::Corrupt(e.to_string()),
            PersistError::Io { context, source } => {
                Error::Io(IoError::new(format!("io error while {context}"), source))
            }
            PersistError::TooLarge { bytes, limit, .. } => Error::RecordTooLarge { bytes, limit },
        }
    }
}

/// What a snapshot cost.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SaveInfo {
    /// The log sequence number it covers.
    pub seq: u64,
    /// Keys written.
    pub keys: u64,
    /// File size in bytes.
    pub bytes: u64,
    /// Wall time, in milliseconds.
    pub millis: u64,
    /// How long writers were held at its start, in microseconds.
    pub barrier_micros: u64,
    /// Its extra memory: the largest shard dump held at once, in bytes (plus a 1 MiB buffer).
    pub peak_dump_bytes: usize,
}

impl From<SaveStats> for SaveInfo {
    fn from(s: SaveStats) -> Self {
        SaveInfo {
            seq: s.seq,
            keys: s.entries,
            bytes: s.bytes,
            millis: s.millis,
            barrier_micros: s.barrier_micros,
            peak_dump_bytes: s.peak_block,
        }
    }
}

/// The state of a persistent store, for INFO's persistence section.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PersistenceInfo {
    /// The sync mode.
    pub sync: SyncMode,
    /// Writes since the last snapshot began (`rdb_changes_since_last_save`).
    pub changes_since_save: u64,
    /// When the last successful snapshot began (Unix ms), if any (LASTSAVE).
    pub last_save_ms: Option<u64>,
    /// Whether the last snapshot attempt succeeded (`rdb_last_bgsave_status`); `None` if none
    /// was attempted since the store opened.
    pub last_save_ok: Option<bool>,
    /// The last successful snapshot of this run.
    pub last_save: Option<SaveInfo>,
    /// A snapshot is being taken (`rdb_bgsave_in_progress`).
    pub saving: bool,
    /// The sequence number of the last record logged.
    pub log_seq: u64,
    /// fdatasyncs of the log so far.
    pub log_syncs: u64,
    /// Why writes are refused, if they are (`MISCONF`).
    pub write_failure: Option<String>,
    /// What opening the store found.
    pub recovery: RecoveryInfo,
}

/// What opening a persistent store found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveryInfo {
    /// The snapshot loaded: its sequence number, if any.
    pub snapshot_seq: Option<u64>,
    /// Keys loaded from it.
    pub keys_loaded: u64,
    /// Log records replayed after it.
    pub records_replayed: u64,
    /// Warnings (each also logged at warn level when the store opened).
    pub warnings: Vec<String>,
}

impl From<&Recovery> for RecoveryInfo {
    fn from(r: &Recovery) -> Self {
        RecoveryInfo {
            snapshot_seq: r.snapshot.map(|s| s.0),
            keys_loaded: r.snapshot.map_or(0, |s| s.1),
            records_replayed: r.replayed,
            warnings: r.warnings.clone(),
        }
    }
}

impl Kv {
    /// Opens (or creates) a persistent store in directory `dir`: loads the newest valid
    /// snapshot, replays the log after it, and logs every later write before acknowledging
    /// it, by `persist`'s sync mode. `opts` are the settings every store has (shards,
    /// databases, clock), `persist` those of its directory (see [`PersistOptions`] for the
    /// defaults). Warnings (a torn log tail cut, a damaged snapshot skipped) are kept in
    /// [`Kv::persistence`] and logged (see the crate docs, *Logging*), as is the progress of a
    /// long recovery.
    ///
    /// Call [`Kv::start_persistence`] to run the everysec flusher and the snapshot rules.
    ///
    /// ```
    /// use kvcore::{Kv, Options, PersistOptions, Store, SyncMode};
    ///
    /// let dir = std::env::temp_dir().join(format!("kv-doc-open-{}", std::process::id()));
    /// let always = PersistOptions::new().sync(SyncMode::Always);
    /// let kv = Kv::open(&dir, Options::new(), always)?;
    /// kv.db(0)?.set("greeting", "hello")?; // on disk when this returns
    /// drop(kv);
    ///
    /// let kv = Kv::open(&dir, Options::new(), PersistOptions::new())?;
    /// assert_eq!(kv.db(0)?.get("greeting")?, Some(b"hello".to_vec()));
    /// # drop(kv);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), kvcore::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Corrupt`] if the directory holds damage that must not be skipped (the message
    /// names the file, the offset and how to repair it); [`Error::Io`] if it cannot be read
    /// or written.
    pub fn open(dir: impl AsRef<Path>, opts: Options, persist: PersistOptions) -> Result<Kv> {
        let dir = dir.as_ref();
        let lock = lock_dir(dir)?;
        let kv = Kv::open_with(Arc::new(RealFs), dir, opts, persist)?;
        if let Some(p) = kv.inner.persist.get() {
            p.hold_dir_lock(lock);
        }
        Ok(kv)
    }

    pub(crate) fn open_with(
        fs: Arc<dyn FileSystem>,
        dir: &Path,
        opts: Options,
        persist: PersistOptions,
    ) -> Result<Kv> {
        let clock = Arc::new(RecoveryClock::new(opts.clock.clone()));
        let config = persist.config;
        let max_bulk = opts.max_bulk_len;
        // Replay applies what was logged under whatever bulk limit held then: no limit until
        // the store opens.
        let kv = Kv::in_memory(opts.clock(clock.clone()).max_bulk_len(usize::MAX));
        let mut progress = |line: &str| log::info!("{line}");
        let (persist, report) = recover(fs, dir, &kv, clock, config, &mut progress)?;
        for w in &report.warnings {
            log::warn!("recovery: {w}");
        }
        persist.set_recovery(report);
        // `kv` was created just above; nothing else can have set its engine.
        kv.inner
            .persist
            .set(persist)
            .map_err(|_| ())
            .expect("a new store has no engine yet");
        kv.set_max_bulk_len(max_bulk);
        Ok(kv)
    }

    /// Whether the store persists to a directory.
    pub fn is_persistent(&self) -> bool {
        self.inner.persist.get().is_some()
    }

    fn engine(&self) -> Result<&super::engine::Persist> {
        self.inner.persist.get().ok_or(Error::NotPersistent)
    }

    /// SAVE: takes a snapshot now, in this thread. Other clients are not stopped: writers wait
    /// only for a brief barrier and, at most once, for their shard to be dumped.
    ///
    /// # Errors
    /// [`Error::SaveInProgress`] if a snapshot is already running; [`Error::Io`] if writing
    /// it failed (nothing is left behind; the store keeps working); [`Error::NotPersistent`].
    pub fn save(&self) -> Result<SaveInfo> {
        snapshot_now(&self.inner)
    }

    /// BGSAVE: starts a snapshot on a background thread and returns at once.
    ///
    /// # Errors
    /// [`Error::SaveInProgress`] if one is already running; [`Error::NotPersistent`].
    pub fn bgsave(&self) -> Result<()> {
        if self.engine()?.saving() {
            return Err(Error::SaveInProgress);
        }
        let inner = Arc::clone(&self.inner);
        std::thread::Builder::new()
            .name("kv-bgsave".into())
            .spawn(move || {
                // The outcome is recorded for INFO / LASTSAVE; a lost race with another
                // snapshot is not an error worth reporting.
                let _ = snapshot_now(&inner);
            })
            .map_err(|e| Error::Io(IoError::new("cannot start the snapshot thread", e)))?;
        Ok(())
    }

    /// LASTSAVE: when the last successful snapshot began (Unix ms), if there is one.
    pub fn last_save_ms(&self) -> Option<u64> {
        self.inner.persist.get()?.last_save_ms()
    }

    /// Makes every logged write durable now (fdatasync), whatever the sync mode.
    ///
    /// # Errors
    /// [`Error::PersistenceFailed`] if the log cannot be written or synced.
    pub fn sync_log(&self) -> Result<()> {
        Ok(self.engine()?.wal().sync()?)
    }

    /// The sync mode of a persistent store; `None` for an in-memory one.
    pub fn sync_mode(&self) -> Option<SyncMode> {
        self.inner.persist.get().map(|p| p.wal().sync_mode())
    }

    /// Switches the sync mode of a running persistent store (Redis's `CONFIG SET appendfsync`):
    /// writes acknowledged after the switch follow the new mode, and switching to
    /// [`SyncMode::Always`] makes the next commit sync everything logged before it. Nothing
    /// for an in-memory store.
    pub fn set_sync_mode(&self, mode: SyncMode) {
        if let Some(p) = self.inner.persist.get() {
            p.wal().set_sync_mode(mode);
        }
    }

    /// Replaces the snapshot rules of a running persistent store (Redis's `CONFIG SET save`),
    /// as [`PersistOptions::save_rules`](crate::PersistOptions::save_rules) sets them at open;
    /// empty disables them. Nothing for an in-memory store.
    pub fn set_save_rules(&self, rules: &[(u64, u64)]) {
        if let Some(p) = self.inner.persist.get() {
            p.set_save_rules(rules);
        }
    }

    /// The snapshot rules in effect (`(seconds, changes)` pairs); `None` for an in-memory store.
    pub fn save_rules(&self) -> Option<Vec<(u64, u64)>> {
        self.inner.persist.get().map(|p| p.save_rules())
    }

    /// The persistence state, for INFO; `None` for an in-memory store.
    pub fn persistence(&self) -> Option<PersistenceInfo> {
        let p = self.inner.persist.get()?;
        let last = p.last_save();
        Some(PersistenceInfo {
            sync: p.wal().sync_mode(),
            changes_since_save: p.dirty(),
            last_save_ms: p.last_save_ms(),
            last_save_ok: last.as_ref().map(|r| r.is_ok()),
            last_save: p.last_good_save().map(SaveInfo::from),
            saving: p.saving(),
            log_seq: p.wal().next_seq() - 1,
            log_syncs: p.wal().syncs(),
            write_failure: p.wal().failure(),
            recovery: RecoveryInfo::from(&p.recovery()),
        })
    }

    /// Starts the background persistence work the host owns: the everysec flusher (in
    /// [`SyncMode::EverySec`]) and the snapshot rules, checked every 100 ms. Stop it (or drop
    /// it) before shutting down; a final [`Kv::save`] is the host's choice.
    pub fn start_persistence(&self) -> PersistenceTask {
        let Some(p) = self.inner.persist.get() else {
            return PersistenceTask {
                flusher: None,
                stop: Arc::default(),
                thread: None,
            };
        };
        // Started whatever the mode, since the mode may be switched to everysec later; it
        // syncs only while the mode is everysec.
        let flusher = Some(p.wal().start_flusher(Duration::from_secs(1)));
        let stop: Arc<(Mutex<bool>, Condvar)> = Arc::default();
        let signal = Arc::clone(&stop);
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let thread = std::thread::Builder::new()
            .name("kv-save-rules".into())
            .spawn(move || {
                loop {
                    {
                        let mut stopped = signal.0.lock();
                        if !*stopped {
                            signal.1.wait_for(&mut stopped, Duration::from_millis(100));
                        }
                        if *stopped {
                            return;
                        }
                    }
                    let Some(inner) = weak.upgrade() else { return };
                    if let Some(p) = inner.persist.get()
                        && p.save_due(inner.now())
                    {
                        let _ = snapshot_now(&inner);
                    }
                }
            })
            .ok();
        PersistenceTask {
            flusher,
            stop,
            thread,
        }
    }
}

/// Takes the data directory's `LOCK` file (an advisory lock the OS drops when the process
/// dies), so two stores never write the same directory.
fn lock_dir(dir: &Path) -> Result<std::fs::File> {
    let io = |what: &str, e| Error::Io(IoError::new(format!("{what} {}", dir.display()), e));
    std::fs::create_dir_all(dir).map_err(|e| io("cannot create", e))?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("LOCK"))
        .map_err(|e| io("cannot open the lock file in", e))?;
    // A lock can be held for a moment by a process that is not a store at all: a child that
    // another thread of this process forked holds a copy of every descriptor, the previous
    // store's LOCK included, until its exec closes it. So a held lock is retried for up to a
    // second before it is taken to mean that another store has the directory.
    for _ in 0..50 {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io("cannot lock", e)),
        }
    }
    Err(Error::Io(IoError::new(
        format!(
            "data directory {} is in use by another store (its LOCK file is held)",
            dir.display()
        ),
        std::io::ErrorKind::ResourceBusy.into(),
    )))
}

fn snapshot_now(inner: &Inner) -> Result<SaveInfo> {
    let p = inner.persist.get().ok_or(Error::NotPersistent)?;
    match p.snapshot(inner) {
        Ok(stats) => Ok(stats.into()),
        Err(None) => Err(Error::SaveInProgress),
        Err(Some(PersistError::Io { context, source })) => Err(Error::Io(IoError::new(
            format!("snapshot failed: io error while {context}"),
            source,
        ))),
        Err(Some(e)) => Err(e.into()),
    }
}

/// The background persistence work of a store (see [`Kv::start_persistence`]); stops when
/// stopped or dropped.
#[derive(Debug)]
pub struct PersistenceTask {
    flusher: Option<Flusher>,
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl PersistenceTask {
    /// Stops the flusher and the rules thread and waits for them.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(f) = self.flusher.take() {
            f.stop();
        }
        *self.stop.0.lock() = true;
        self.stop.1.notify_all();
        if let Some(t) = self.thread.take() {
            // A panicked rules thread already reported itself on stderr.
            let _ = t.join();
        }
    }
}

impl Drop for PersistenceTask {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// What [`check_data_dir`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckReport {
    /// Every snapshot file, newest first.
    pub snapshots: Vec<SnapshotCheck>,
    /// Log segment files.
    pub segments: usize,
    /// Valid log records before the first problem.
    pub records: u64,
    /// Their first and last sequence numbers.
    pub seq_range: Option<(u64, u64)>,
    /// The first damage in the log, if any.
    pub problem: Option<LogProblem>,
    /// Records a repair at the problem drops.
    pub dropped: u64,
    /// Whether the log was repaired.
    pub repaired: bool,
}

/// One snapshot file, as [`check_data_dir`] found it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SnapshotCheck {
    /// The file.
    pub path: PathBuf,
    /// How many keys it holds if every check passed (header, every block's checksum, the
    /// footer); otherwise what is wrong with it. Opening the store skips a damaged snapshot
    /// for an older one, with a warning.
    pub keys: std::result::Result<u64, String>,
}

/// The first damage [`check_data_dir`] found in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogProblem {
    /// The segment file.
    pub path: PathBuf,
    /// The byte offset of the first bad byte in it (0 for a bad header).
    pub offset: u64,
    /// What is wrong there.
    pub reason: String,
    /// Whether it is only a torn tail: an incomplete or checksum-failing end of the last
    /// segment with nothing valid after it, the remains of a write a crash interrupted, which
    /// opening the store cuts off by itself. Otherwise the store refuses to open until the log
    /// is repaired.
    pub torn_tail: bool,
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for snap in &self.snapshots {
            let name = snap.path.file_name().unwrap_or(snap.path.as_os_str());
            let name = name.to_string_lossy();
            match &snap.keys {
                Ok(keys) => writeln!(f, "snapshot {name}: ok, {keys} keys")?,
                Err(why) => writeln!(f, "snapshot {name}: DAMAGED: {why}")?,
            }
        }
        write!(
            f,
            "log: {} segment(s), {} valid record(s)",
            self.segments, self.records
        )?;
        if let Some((a, b)) = self.seq_range {
            write!(f, " (sequence {a}..={b})")?;
        }
        writeln!(f)?;
        match &self.problem {
            None => writeln!(f, "log: ok"),
            Some(problem) => {
                let kind = if problem.torn_tail {
                    "torn tail (cut automatically on open)"
                } else {
                    "CORRUPT"
                };
                writeln!(
                    f,
                    "log: {kind}: {} at offset {}: {}",
                    problem.path.display(),
                    problem.offset,
                    problem.reason
                )?;
                if self.repaired {
                    writeln!(
                        f,
                        "repaired: truncated there, dropping {} later record(s)",
                        self.dropped
                    )
                } else {
                    writeln!(
                        f,
                        "--repair would truncate there, dropping {} later record(s)",
                        self.dropped
                    )
                }
            }
        }
    }
}

/// `kvserver check --data-dir DIR [--repair]`: reports the snapshots and the log of a data
/// directory; with `repair`, truncates the log at its first bad record (and removes later
/// segments), dropping the records reported. Repairing takes the directory's lock, so it
/// refuses while a store has the directory open.
///
/// # Errors
/// [`Error::Io`] if the directory cannot be read, is in use (with `repair`), or cannot be
/// repaired.
pub fn check_data_dir(dir: impl AsRef<Path>, repair: bool) -> Result<CheckReport> {
    let dir = dir.as_ref();
    // Repairing changes files: never under an open store.
    let _lock = if repair { Some(lock_dir(dir)?) } else { None };
    check_with(&RealFs, dir, repair)
}

pub(crate) fn check_with(fs: &dyn FileSystem, dir: &Path, repair: bool) -> Result<CheckReport> {
    let mut snapshots = Vec::new();
    let mut newest_valid = 0;
    for (seq, path) in snapshot::snapshots(fs, dir)? {
        let keys = match snapshot::Snapshot::open(fs, &path) {
            Ok(s) => {
                newest_valid = newest_valid.max(seq);
                Ok(s.entries())
            }
            Err(e) => Err(e.to_string()),
        };
        snapshots.push(SnapshotCheck { path, keys });
    }
    let c = wal::check(fs, dir, newest_valid, repair)?;
    Ok(CheckReport {
        snapshots,
        segments: c.segments,
        records: c.records,
        seq_range: c.seq_range,
        problem: c.problem.map(|p| LogProblem {
            path: p.path,
            offset: p.offset,
            reason: p.reason,
            torn_tail: p.torn,
        }),
        dropped: c.dropped,
        repaired: c.repaired,
    })
}

#[cfg(test)]
mod tests;
