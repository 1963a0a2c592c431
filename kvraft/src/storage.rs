//! TEMPORARY stand-in with the durable store's API, over raft-rs's MemStorage (not durable);
//! replaced by the real log store.

use std::path::Path;

use raft::prelude::*;
use raft::storage::MemStorage;

use crate::error::Result;

/// Options of the log store.
#[derive(Clone, Debug, Default)]
pub struct LogOptions {}

impl LogOptions {
    /// The defaults.
    pub fn new() -> LogOptions {
        LogOptions {}
    }
}

/// The Raft log.
#[derive(Clone)]
pub struct LogStore {
    mem: MemStorage,
    snap: std::sync::Arc<parking_lot::Mutex<Option<Snapshot>>>,
}

impl LogStore {
    /// Opens the log in `dir`.
    pub fn open(_dir: &Path, _opts: LogOptions) -> Result<LogStore> {
        Ok(LogStore {
            mem: MemStorage::new(),
            snap: Default::default(),
        })
    }
    /// True for a new node.
    pub fn is_new(&self) -> bool {
        true
    }
    /// Sets the configuration.
    pub fn set_conf_state(&self, cs: ConfState) -> Result<()> {
        self.mem.wl().set_conf_state(cs);
        Ok(())
    }
    /// Appends entries.
    pub fn append(&self, entries: &[Entry]) -> Result<()> {
        self.mem.wl().append(entries)?;
        Ok(())
    }
    /// Sets the hard state.
    pub fn set_hard_state(&self, hs: &HardState) -> Result<()> {
        self.mem.wl().set_hardstate(hs.clone());
        Ok(())
    }
    /// Sets the commit index.
    pub fn set_commit(&self, commit: u64) -> Result<()> {
        self.mem.wl().mut_hard_state().commit = commit;
        Ok(())
    }
    /// Syncs.
    pub fn sync(&self) -> Result<()> {
        Ok(())
    }
    /// Applies a received snapshot.
    pub fn apply_snapshot(&self, snap: &Snapshot) -> Result<()> {
        self.mem.wl().apply_snapshot(snap.clone())?;
        *self.snap.lock() = Some(snap.clone());
        Ok(())
    }
    /// Compacts after a local snapshot.
    pub fn compact(&self, index: u64, conf_state: ConfState, data: Vec<u8>) -> Result<()> {
        let term = raft::Storage::term(&self.mem, index)?;
        let mut w = self.mem.wl();
        let mut snap = Snapshot {
            data: data.into(),
            ..Snapshot::default()
        };
        snap.mut_metadata().index = index;
        snap.mut_metadata().term = term;
        snap.mut_metadata().set_conf_state(conf_state);
        w.compact(index)?;
        drop(w);
        *self.snap.lock() = Some(snap);
        Ok(())
    }
    /// The newest snapshot.
    pub fn snapshot(&self) -> Option<Snapshot> {
        self.snap.lock().clone()
    }
    /// The hard state.
    pub fn hard_state(&self) -> HardState {
        self.mem.rl().hard_state().clone()
    }
    /// The configuration.
    pub fn conf_state(&self) -> ConfState {
        self.mem
            .initial_state()
            .map(|s| s.conf_state)
            .unwrap_or_default()
    }
    /// First index.
    pub fn first_index(&self) -> u64 {
        raft::Storage::first_index(&self.mem).unwrap_or(1)
    }
    /// Last index.
    pub fn last_index(&self) -> u64 {
        raft::Storage::last_index(&self.mem).unwrap_or(0)
    }
    /// Bytes of log.
    pub fn log_bytes(&self) -> u64 {
        0
    }
    /// Entries since the snapshot.
    pub fn entry_count(&self) -> u64 {
        self.last_index() + 1 - self.first_index()
    }
}

impl raft::Storage for LogStore {
    fn initial_state(&self) -> raft::Result<RaftState> {
        self.mem.initial_state()
    }
    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        context: raft::GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        self.mem.entries(low, high, max_size, context)
    }
    fn term(&self, idx: u64) -> raft::Result<u64> {
        self.mem.term(idx)
    }
    fn first_index(&self) -> raft::Result<u64> {
        self.mem.first_index()
    }
    fn last_index(&self) -> raft::Result<u64> {
        self.mem.last_index()
    }
    fn snapshot(&self, _request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        self.snap.lock().clone().ok_or(raft::Error::Store(
            raft::StorageError::SnapshotTemporarilyUnavailable,
        ))
    }
}
