//! The durable Raft log and snapshot store: [`LogStore`], raft-rs's [`raft::Storage`] over a
//! directory holding one append-only log file and the newest snapshot.
//!
//! Entries, the hard state and the configuration state live in memory (bounded by
//! compaction) and in the log file as CRC'd records; a compaction or an installed snapshot
//! writes the kept state to a new log file (next generation) and renames it into place, which
//! is the one commit point of the change. The formats are in docs/format.md, *The Raft log*.

mod file;
mod logfile;
mod record;
mod state;
#[cfg(test)]
mod tests;
mod transfer;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{RwLock, RwLockWriteGuard};
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use raft::{GetEntriesContext, RaftState, StorageError};

use crate::error::{Error, Result};
use logfile::{Writer, recover, remove_stale, write_log};
use record::Record;
use state::State;
pub(crate) use transfer::{Incoming, SnapshotRef};
pub use transfer::{MappedSnapshot, SnapshotReader};

/// Settings of a [`LogStore`].
#[derive(Debug, Clone)]
pub struct LogOptions {
    keep_entries: u64,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions::new()
    }
}

impl LogOptions {
    /// The defaults: `keep_entries` 1024.
    pub fn new() -> Self {
        LogOptions { keep_entries: 1024 }
    }

    /// How many entries up to a compaction's index stay in the log (default 1024), so a
    /// follower that lags by fewer catches up from the log instead of a snapshot.
    pub fn keep_entries(mut self, n: u64) -> Self {
        self.keep_entries = n;
        self
    }
}

struct Core {
    state: State,
    writer: Writer,
}

struct Inner {
    dir: PathBuf,
    opts: LogOptions,
    is_new: bool,
    core: RwLock<Core>,
    /// Snapshot transfers started into this directory (numbers their files).
    received: AtomicU64,
    /// The bytes of the snapshot files being received (`Claim`s).
    receiving: Arc<AtomicU64>,
    /// fdatasyncs of the log (`LogStore::syncs`).
    syncs: AtomicU64,
    /// Held for the store's life: the OS drops the advisory lock with the descriptor.
    _lock: File,
}

/// The disk space a received snapshot must leave free for the log's own writes (a log that
/// cannot append stops the node).
pub(crate) const SNAPSHOT_DISK_RESERVE: u64 = 64 << 20;

/// The durable Raft log of one node: entries, hard state, configuration state and the newest
/// snapshot, in one directory. Cheap to clone (an `Arc` inside); `Send + Sync`.
#[derive(Clone)]
pub struct LogStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for LogStore {
    /// The directory and the indexes, not the entries.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let core = self.inner.core.read();
        f.debug_struct("LogStore")
            .field("dir", &self.inner.dir)
            .field("first_index", &core.state.first_index())
            .field("last_index", &core.state.last_index())
            .field("snapshot", &core.state.snap)
            .field("generation", &core.writer.generation)
            .finish()
    }
}

impl LogStore {
    /// Opens or creates the log in `dir` (creating the directory). Recovers the newest log
    /// file and the snapshot it names; a torn tail of the log file (a write cut short by a
    /// crash) is cut off with a `log::warn!` naming file and offset. Holds an advisory lock
    /// on `dir/LOCK` for the store's life.
    ///
    /// # Errors
    /// [`Error::Corrupt`] naming file and offset for any other damage (including a snapshot
    /// the log needs that is missing or fails its checks), [`Error::Locked`] if another store
    /// has the directory, [`Error::Io`].
    pub fn open(dir: &Path, opts: LogOptions) -> Result<LogStore> {
        let lock = file::lock_dir(dir)?;
        let listing = file::list(dir)?;
        let (state, writer, is_new) = match listing.logs.last() {
            None => {
                if let Some(&i) = listing.snaps.last() {
                    return Err(Error::Corrupt {
                        file: dir.join(file::snap_name(i)),
                        offset: 0,
                        reason: "a snapshot without any log file".into(),
                    });
                }
                let state = State::default();
                let writer = write_log(dir, 1, &state)?;
                (state, writer, true)
            }
            Some(&generation) => {
                let (state, writer) = recover(dir, generation)?;
                (state, writer, false)
            }
        };
        // Older generations and unused snapshots are what a crash left between a new log's
        // rename and their removal (or a snapshot whose log never committed).
        remove_stale(dir, &listing, writer.generation, state.snap.0)?;
        Ok(LogStore {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                opts,
                is_new,
                core: RwLock::new(Core { state, writer }),
                received: AtomicU64::new(0),
                receiving: Arc::new(AtomicU64::new(0)),
                syncs: AtomicU64::new(0),
                _lock: lock,
            }),
        })
    }

    /// True when the directory held no log (a new node): the host then calls
    /// [`LogStore::set_conf_state`].
    pub fn is_new(&self) -> bool {
        self.inner.is_new
    }

    fn core(&self) -> RwLockWriteGuard<'_, Core> {
        self.inner.core.write()
    }

    /// Records the configuration state; durable at the next [`LogStore::sync`].
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Failed`]: the store then refuses further writes.
    pub fn set_conf_state(&self, cs: ConfState) -> Result<()> {
        let mut core = self.core();
        core.writer.write([Record::ConfState(cs.clone())])?;
        core.state.conf_state = cs;
        Ok(())
    }

    /// Appends entries, replacing the entries from `entries[0].index` on if the log holds
    /// them; written, durable at the next [`LogStore::sync`].
    ///
    /// # Errors
    /// [`Error::BadAppend`] if the entries are not consecutive, start at or below the first
    /// index minus one (compacted) or past the last index plus one (a gap); [`Error::Io`] or
    /// [`Error::Failed`].
    pub fn append(&self, entries: &[Entry]) -> Result<()> {
        let mut core = self.core();
        core.state.check_append(entries)?;
        core.writer
            .write(entries.iter().cloned().map(Record::Entry))?;
        core.state.append(entries);
        Ok(())
    }

    /// Records the hard state; durable at the next [`LogStore::sync`].
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Failed`].
    pub fn set_hard_state(&self, hs: &HardState) -> Result<()> {
        let mut core = self.core();
        core.writer.write([Record::HardState(hs.clone())])?;
        core.state.hard_state = hs.clone();
        Ok(())
    }

    /// Records the commit index alone (raft-rs's `LightReady::commit_index`); durable at the
    /// next [`LogStore::sync`].
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Failed`].
    pub fn set_commit(&self, commit: u64) -> Result<()> {
        let mut core = self.core();
        core.writer.write([Record::Commit(commit)])?;
        core.state.hard_state.commit = commit;
        Ok(())
    }

    /// Makes everything written since the last sync durable with one fdatasync (nothing if
    /// nothing was written).
    ///
    /// # Errors
    /// [`Error::Io`] if the fdatasync fails, and [`Error::Failed`] for every write after.
    pub fn sync(&self) -> Result<()> {
        if self.core().writer.sync()? {
            self.inner.syncs.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// How many fdatasyncs [`LogStore::sync`] made (calls with nothing to sync not counted).
    pub fn syncs(&self) -> u64 {
        self.inner.syncs.load(Ordering::Relaxed)
    }

    /// Installs a snapshot received from the leader (`Ready::snapshot`), whose data is the
    /// descriptor of the file its chunks were written to ([`LogStore::receive_snapshot`]):
    /// that file is renamed into place as the newest snapshot, every entry up to its index is
    /// dropped (the whole log if the log does not hold that index with that term), and the
    /// configuration state and commit index come from its metadata. Durable when it returns;
    /// older snapshots are removed.
    ///
    /// # Errors
    /// [`Error::SnapshotOutOfDate`] if its index is below the first index or not after the
    /// newest snapshot; [`Error::Invalid`] if its data does not name a received file of this
    /// index and term; [`Error::Corrupt`] if that file fails its checks; [`Error::Io`] if the
    /// file could not be renamed (nothing changed) or the log could not be rewritten (the
    /// store then refuses writes until reopened, which finds the old state or the new one),
    /// or if the old files could not be removed (the change is made).
    pub fn apply_snapshot(&self, snap: &Snapshot) -> Result<()> {
        let meta = snap.get_metadata();
        let (index, term) = (meta.index, meta.term);
        let r = SnapshotRef::decode(snap.get_data())
            .filter(|r| !r.file.is_empty() && (r.index, r.term) == (index, term))
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "the snapshot at index {index} term {term} does not name a received file"
                ))
            })?;
        check_snapshot_index(&self.inner.core.read().state, index)?;
        let dir = &self.inner.dir;
        let from = dir.join(&r.file);
        // Its every byte was checked as it arrived (`Incoming::finish`); what it says it is
        // must be what raft was told.
        let got = file::open_snapshot(&from)?;
        if got.size != r.len || (got.meta.index, got.meta.term) != (index, term) {
            return Err(Error::Corrupt {
                file: from,
                offset: 0,
                reason: format!(
                    "it holds index {} term {} in {} bytes, the message said index {index} \
                     term {term} in {}",
                    got.meta.index, got.meta.term, got.size, r.len
                ),
            });
        }
        drop(got);
        let to = dir.join(file::snap_name(index));
        std::fs::rename(&from, &to).map_err(|e| {
            Error::io(
                format!("renaming {} to {}", from.display(), to.display()),
                e,
            )
        })?;
        file::sync_dir(dir)?;
        self.install(meta)
    }

    /// Installs a snapshot whose data is the bytes themselves (a host's own first snapshot
    /// of a new group: small), as [`LogStore::apply_snapshot`] installs a received one.
    ///
    /// # Errors
    /// As [`LogStore::apply_snapshot`].
    pub fn apply_snapshot_data(&self, snap: &Snapshot) -> Result<()> {
        let meta = snap.get_metadata();
        check_snapshot_index(&self.inner.core.read().state, meta.index)?;
        file::write_snapshot(&self.inner.dir, meta, snap.get_data())?;
        self.install(meta)
    }

    /// Moves the log past the snapshot `meta` names, whose file is in place.
    fn install(&self, meta: &SnapshotMetadata) -> Result<()> {
        let (index, term) = (meta.index, meta.term);
        let mut core = self.core();
        check_snapshot_index(&core.state, index)?;
        let mut next = core.state.clone();
        next.rebase(index, term);
        next.snap = (index, term);
        next.conf_state = meta.get_conf_state().clone();
        next.hard_state.term = next.hard_state.term.max(term);
        next.hard_state.commit = index;
        self.commit_state(&mut core, next)
    }

    /// Starts receiving the snapshot a peer described with `r`: a new file in this store's
    /// directory (`recv-<index>-<n>.raftsnap.tmp`, removed if the transfer does not finish,
    /// and at the next open if it is never adopted).
    ///
    /// # Errors
    /// [`Error::NoSpace`] if the file would not fit on the disk beside the snapshots being
    /// received and [`SNAPSHOT_DISK_RESERVE`]; [`Error::Io`] if the file cannot be created.
    pub(crate) fn receive_snapshot(&self, r: &SnapshotRef) -> Result<Incoming> {
        // Refused before a byte is written if it would not fit beside the transfers in
        // progress and the log's reserve: a full disk would stop the log itself.
        let free = file::free_space(&self.inner.dir)?;
        let (claim, pending) = transfer::Claim::take(&self.inner.receiving, r.len);
        if pending
            .saturating_add(r.len)
            .saturating_add(SNAPSHOT_DISK_RESERVE)
            > free
        {
            return Err(Error::NoSpace {
                len: r.len,
                free,
                pending,
                reserve: SNAPSHOT_DISK_RESERVE,
                dir: self.inner.dir.clone(),
            });
        }
        let n = self.inner.received.fetch_add(1, Ordering::Relaxed);
        let want = SnapshotRef {
            file: String::new(),
            ..r.clone()
        };
        Incoming::create(&self.inner.dir, file::recv_name(r.index, n), want, claim)
    }

    /// Removes a received snapshot file that was not adopted (raft did not take it, or took
    /// a newer one); nothing if it is gone (adopted: renamed).
    pub(crate) fn discard_received(&self, name: &str) {
        if !file::is_recv_name(name) {
            return;
        }
        let path = self.inner.dir.join(name);
        match std::fs::remove_file(&path) {
            Ok(()) => log::debug!("raft: removed {}, not adopted", path.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => log::warn!("raft: cannot remove {}: {e}", path.display()),
        }
    }

    /// Opens this store's snapshot `r` describes, to send it: the file, at its start.
    ///
    /// # Errors
    /// [`Error::Invalid`] if the newest snapshot is no longer that one (a newer one replaced
    /// it; raft will send that); [`Error::Io`].
    pub(crate) fn snapshot_file(&self, r: &SnapshotRef) -> Result<File> {
        // The read lock keeps a compaction from removing the file while it is opened; once
        // open, it stays readable.
        let core = self.inner.core.read();
        if core.state.snap != (r.index, r.term) {
            return Err(Error::Invalid(format!(
                "snapshot {} is no longer the newest",
                r.index
            )));
        }
        let path = self.inner.dir.join(file::snap_name(r.index));
        let f =
            File::open(&path).map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        drop(core);
        let len = f
            .metadata()
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?
            .len();
        if len != r.len {
            return Err(Error::Invalid(format!(
                "{} is {len} bytes long, its descriptor says {}",
                path.display(),
                r.len
            )));
        }
        Ok(f)
    }

    /// The newest snapshot's metadata and a reader over its data (never read whole into
    /// memory); `None` if there is none. Call [`SnapshotReader::finish`] after reading to
    /// check the data's CRC.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Corrupt`] if its file cannot be opened or fails the checks
    /// of its header, metadata and footer.
    pub fn open_snapshot(&self) -> Result<Option<SnapshotReader>> {
        let core = self.inner.core.read();
        match core.state.snap.0 {
            0 => Ok(None),
            index => {
                let path = self.inner.dir.join(file::snap_name(index));
                Ok(Some(SnapshotReader::new(file::open_snapshot(&path)?)))
            }
        }
    }

    /// The newest snapshot with its metadata, its data the descriptor raft-rs carries
    /// ([`SnapshotRef`]); `None` if there is none.
    fn snapshot_ref(&self) -> Result<Option<Snapshot>> {
        let core = self.inner.core.read();
        let (index, term) = core.state.snap;
        if index == 0 {
            return Ok(None);
        }
        let s = file::open_snapshot(&self.inner.dir.join(file::snap_name(index)))?;
        drop(core);
        let r = SnapshotRef {
            index,
            term,
            len: s.size,
            crc: s.crc,
            file: String::new(),
        };
        let mut snap = Snapshot::default();
        snap.set_metadata(s.meta);
        snap.set_data(r.encode().into());
        Ok(Some(snap))
    }
}

fn check_snapshot_index(s: &State, index: u64) -> Result<()> {
    if index < s.first_index() || index <= s.snap.0 {
        return Err(Error::SnapshotOutOfDate {
            index,
            first: s.first_index(),
            snapshot: s.snap.0,
        });
    }
    Ok(())
}

impl LogStore {
    /// Writes `next` as the next log generation, then drops the old log and every snapshot
    /// but `next`'s.
    fn commit_state(&self, core: &mut Core, next: State) -> Result<()> {
        if core.writer.failed {
            return Err(Error::Failed);
        }
        let dir = &self.inner.dir;
        let old = core.writer.generation;
        let old_snap = core.state.snap.0;
        core.writer = match write_log(dir, old + 1, &next) {
            Ok(w) => w,
            Err(e) => {
                // The new generation may have been renamed into place (a failed directory
                // sync): later records in the old file would then be lost at the next open,
                // so nothing more is written until the store is reopened.
                core.writer.failed = true;
                return Err(e);
            }
        };
        core.state = next;
        file::remove(&dir.join(file::log_name(old)))?;
        if old_snap != 0 && old_snap != core.state.snap.0 {
            file::remove(&dir.join(file::snap_name(old_snap)))?;
        }
        Ok(())
    }

    /// Stores a snapshot this node made of its own applied state at `index` (an index the log
    /// holds, after the newest snapshot): written and synced as the newest snapshot, then the
    /// log is compacted, keeping the entries after `index - keep_entries` (see
    /// [`LogOptions::keep_entries`]). The older snapshot file is removed once the new one is
    /// durable. `data` is written as it is and dropped.
    ///
    /// # Errors
    /// [`Error::CompactOutOfRange`] if `index` is not after the newest snapshot or past the
    /// last entry; [`Error::Io`] as in [`LogStore::apply_snapshot`].
    pub fn compact(&self, index: u64, conf_state: ConfState, data: Vec<u8>) -> Result<()> {
        self.compact_with(index, conf_state, |w| w.write_all(&data))
    }

    /// As [`LogStore::compact`], the snapshot's data being what `data` writes, streamed to
    /// the file (never held whole in memory).
    ///
    /// # Errors
    /// As [`LogStore::compact`]; [`Error::Io`] if `data` fails (nothing changed).
    pub fn compact_with(
        &self,
        index: u64,
        conf_state: ConfState,
        data: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
    ) -> Result<()> {
        let term = compactable(&self.inner.core.read().state, index)?;
        let mut meta = SnapshotMetadata {
            index,
            term,
            ..SnapshotMetadata::default()
        };
        meta.set_conf_state(conf_state);
        file::write_snapshot_with(&self.inner.dir, &meta, data)?;
        let mut core = self.core();
        if compactable(&core.state, index)? != term {
            // The entry at `index` was replaced while the snapshot was written: the host
            // snapshotted an entry that was never committed, which raft does not allow.
            return Err(Error::CompactOutOfRange {
                index,
                snapshot: core.state.snap.0,
                last: core.state.last_index(),
            });
        }
        let mut next = core.state.clone();
        next.snap = (index, term);
        let base = index.saturating_sub(self.inner.opts.keep_entries);
        if base > next.base.0 {
            // `base` is between the old base and `index`, so the log holds its term.
            let base_term = next
                .term(base)
                .expect("the log holds every index up to index");
            next.rebase(base, base_term);
        }
        self.commit_state(&mut core, next)
    }
}

/// The term of `index` if the log can be compacted at it.
fn compactable(s: &State, index: u64) -> Result<u64> {
    match s.term(index) {
        Some(term) if index > s.snap.0 => Ok(term),
        _ => Err(Error::CompactOutOfRange {
            index,
            snapshot: s.snap.0,
            last: s.last_index(),
        }),
    }
}

impl LogStore {
    /// The newest snapshot, metadata and data, read whole from its file (tests and small
    /// snapshots: a node reads it with [`LogStore::open_snapshot`]); `None` if there is none.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Corrupt`] if its file cannot be read back or fails its checks.
    pub fn load_snapshot(&self) -> Result<Option<Snapshot>> {
        // The read lock keeps a compaction from removing the file while it is read.
        let core = self.inner.core.read();
        match core.state.snap.0 {
            0 => Ok(None),
            index => file::load_snapshot(&self.inner.dir, index).map(Some),
        }
    }

    /// The hard state (term, vote, commit).
    pub fn hard_state(&self) -> HardState {
        self.inner.core.read().state.hard_state.clone()
    }

    /// The configuration state.
    pub fn conf_state(&self) -> ConfState {
        self.inner.core.read().state.conf_state.clone()
    }

    /// The first index `entries` can return: one after the log's truncation point.
    pub fn first_index(&self) -> u64 {
        self.inner.core.read().state.first_index()
    }

    /// The last entry's index (the truncation point if no entry is held).
    pub fn last_index(&self) -> u64 {
        self.inner.core.read().state.last_index()
    }

    /// Bytes of the log file's header and records (the file may be longer: zeros after them).
    pub fn log_bytes(&self) -> u64 {
        self.inner.core.read().writer.len
    }

    /// Entries held after the newest snapshot's index (the host's trigger for compaction).
    pub fn entry_count(&self) -> u64 {
        let core = self.inner.core.read();
        core.state.last_index().saturating_sub(core.state.snap.0)
    }

    /// The newest snapshot's `(index, term)`, `(0, 0)` if there is none.
    pub fn snapshot_index_term(&self) -> (u64, u64) {
        self.inner.core.read().state.snap
    }
}

fn store_err(e: StorageError) -> raft::Error {
    raft::Error::Store(e)
}

impl raft::Storage for LogStore {
    fn initial_state(&self) -> raft::Result<RaftState> {
        let core = self.inner.core.read();
        Ok(RaftState::new(
            core.state.hard_state.clone(),
            core.state.conf_state.clone(),
        ))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        let core = self.inner.core.read();
        let s = &core.state;
        if low < s.first_index() {
            return Err(store_err(StorageError::Compacted));
        }
        if high > s.last_index() + 1 {
            return Err(store_err(StorageError::Unavailable));
        }
        if low >= high {
            return Ok(Vec::new());
        }
        let at = |i: u64| (i - s.first_index()) as usize;
        let mut entries = s.entries[at(low)..at(high)].to_vec();
        raft::util::limit_size(&mut entries, max_size.into());
        Ok(entries)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        let core = self.inner.core.read();
        let s = &core.state;
        match s.term(idx) {
            Some(t) => Ok(t),
            None if idx < s.base.0 => Err(store_err(StorageError::Compacted)),
            None => Err(store_err(StorageError::Unavailable)),
        }
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(LogStore::first_index(self))
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(LogStore::last_index(self))
    }

    /// The newest snapshot, its data a descriptor of its file (what the transport streams);
    /// `SnapshotTemporarilyUnavailable` if there is none at or after `request_index` (raft
    /// asks again later), or if the file cannot be opened (logged as an error). Reads only
    /// the file's header, metadata and footer.
    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        match self.snapshot_ref() {
            Ok(Some(s)) if s.get_metadata().index >= request_index => Ok(s),
            Ok(_) => Err(store_err(StorageError::SnapshotTemporarilyUnavailable)),
            Err(e) => {
                log::error!("cannot read the raft snapshot to send: {e}");
                Err(store_err(StorageError::SnapshotTemporarilyUnavailable))
            }
        }
    }
}
