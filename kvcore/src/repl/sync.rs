//! A full sync's RDB as the store was at one instant, the stream offset `O` that instant
//! corresponds to, without stopping the world (the persistence engine's snapshot barrier,
//! generalized to in-memory stores):
//!
//! 1. *Barrier.* With the order gate, read-lock every shard in order (writers wait only for
//!    this), note each shard's key counts, the function libraries and the clock, mark the
//!    non-empty shards *pending*, and, under the stream's mutex, read `O` and register the
//!    replica's reader at `O + 1`. Release.
//! 2. *Dump.* The sync visits the shards in file order; a pending one it serializes under its
//!    read lock. A writer that write-locks a pending shard first serializes it itself
//!    (`Capture::before_write`, called by `Inner::write_shard`) and leaves the block for the
//!    sync. Either way each shard is captured exactly as it was at `O`, and every change after
//!    `O` is in the stream after `O`: on the replica, each write lands exactly once.
//!
//! Memory: the blocks writers dumped ahead of the sync (at most every shard, typically a few),
//! plus the stream the replica has not read yet.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::{Condvar, Mutex};

use crate::error::Result;
use crate::kv::Inner;
use crate::rdb::{RdbWriter, shard_block};
use crate::shard::Shard;

use super::StreamReader;

/// The capture state (a field of `Repl`).
pub(crate) struct Capture {
    dumping: AtomicBool,
    pending: Box<[AtomicBool]>,
    /// Blocks writers dumped: shard index → (keys serialized, how many).
    blocks: Mutex<HashMap<usize, (Vec<u8>, u64)>>,
    /// The instant of the capture (keys expired by then are left out).
    now: AtomicU64,
    /// A full sync runs; the next waits on `done`.
    busy: Mutex<bool>,
    done: Condvar,
    shards_per_db: AtomicU64,
}

impl Capture {
    pub(crate) fn new(shards: usize) -> Capture {
        Capture {
            dumping: AtomicBool::new(false),
            pending: (0..shards).map(|_| AtomicBool::new(false)).collect(),
            blocks: Mutex::default(),
            now: AtomicU64::new(0),
            busy: Mutex::new(false),
            done: Condvar::new(),
            shards_per_db: AtomicU64::new(1),
        }
    }

    /// Called by every writer right after it write-locked shard `s` of database `db`: dumps
    /// the shard for the full sync in progress first if the sync has not captured it yet.
    #[inline]
    pub(crate) fn before_write(&self, db: usize, s: usize, shard: &Shard) {
        if self.dumping.load(Ordering::Acquire) {
            self.dump_pending(db, s, shard);
        }
    }

    #[cold]
    fn dump_pending(&self, db: usize, s: usize, shard: &Shard) {
        let i = db * self.shards_per_db.load(Ordering::Relaxed) as usize + s;
        if self.pending[i].swap(false, Ordering::AcqRel) {
            let mut block = Vec::new();
            let n = shard_block(shard, self.now.load(Ordering::Relaxed), &mut block);
            self.blocks.lock().insert(i, (block, n));
        }
    }

    /// Ends the capture: nothing pending, no blocks kept; the next full sync may start.
    fn finish(&self) {
        self.dumping.store(false, Ordering::Release);
        for p in &*self.pending {
            p.store(false, Ordering::Relaxed);
        }
        self.blocks.lock().clear();
        *self.busy.lock() = false;
        self.done.notify_one();
    }
}

/// A full sync in progress: the stream offset its RDB corresponds to, the RDB (written once,
/// by [`FullSync::write_rdb`]), and the reader the replica continues with from the next
/// byte. Dropping it ends the capture.
pub struct FullSync {
    inner: Arc<Inner>,
    offset: u64,
    now: u64,
    counts: Vec<(u64, u64)>,
    libraries: Vec<Vec<u8>>,
    reader: Option<StreamReader>,
    finished: bool,
}

impl std::fmt::Debug for FullSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FullSync")
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

pub(super) fn start(inner: &Arc<Inner>) -> FullSync {
    let capture = &inner.repl.capture;
    {
        let mut busy = capture.busy.lock();
        while *busy {
            capture.done.wait(&mut busy);
        }
        *busy = true;
    }
    inner.repl.ensure_backlog();
    let shards = inner.shard_count();
    capture
        .shards_per_db
        .store(shards as u64, Ordering::Relaxed);
    let gate = inner.gate();
    let guards: Vec<_> = (0..inner.databases())
        .flat_map(|db| (0..shards).map(move |s| (db, s)))
        .map(|(db, s)| inner.shard(db, s).read())
        .collect();
    let mut counts = vec![(0u64, 0u64); inner.databases()];
    for (i, g) in guards.iter().enumerate() {
        let c = &mut counts[i / shards];
        c.0 += g.len() as u64;
        c.1 += g.volatile().len() as u64;
        capture.pending[i].store(g.len() > 0, Ordering::Relaxed);
    }
    let libraries = inner.functions.lock().values().cloned().collect();
    let now = inner.now();
    capture.now.store(now, Ordering::Relaxed);
    capture.dumping.store(true, Ordering::Release);
    let (offset, reader) = {
        let mut st = inner.repl.state.lock();
        // The replica starts with no database selected: the next command says its own.
        st.last_db = None;
        let backlog = st.backlog.as_mut().expect("ensure_backlog created it");
        let offset = backlog.offset();
        let id = backlog
            .register(offset + 1)
            .expect("the next byte is always available");
        (offset, id)
    };
    drop(guards);
    drop(gate);
    FullSync {
        inner: Arc::clone(inner),
        offset,
        now,
        counts,
        libraries,
        reader: Some(StreamReader {
            inner: Arc::clone(inner),
            id: reader,
            pos: offset + 1,
        }),
        finished: false,
    }
}

impl FullSync {
    /// The stream offset the RDB corresponds to (`+FULLRESYNC <replid> <offset>`).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Writes the RDB (version 10) of the store as it was at [`FullSync::offset`]; returns
    /// how many keys it holds. No shard lock is held while `w` blocks.
    ///
    /// # Errors
    /// [`crate::Error::Io`] when `w` fails.
    pub fn write_rdb(&mut self, w: impl io::Write) -> Result<u64> {
        let inner = &*self.inner;
        let capture = &inner.repl.capture;
        let shards = inner.shard_count();
        let mut w = RdbWriter::new(w, self.now, 0, &self.libraries)?;
        let mut block = Vec::new();
        for (db, &(keys, expires)) in self.counts.iter().enumerate() {
            if keys == 0 {
                continue;
            }
            w.database(db, keys, expires);
            for s in 0..shards {
                let i = db * shards + s;
                let guard = inner.shard(db, s).read();
                if capture.pending[i].swap(false, Ordering::AcqRel) {
                    block.clear();
                    let n = shard_block(&guard, self.now, &mut block);
                    drop(guard);
                    w.block(&block, n)?;
                } else {
                    // A writer dumped it under its write lock, which it released before this
                    // read lock was granted: the block is there (or the shard was empty).
                    drop(guard);
                    let dumped = capture.blocks.lock().remove(&i);
                    if let Some((b, n)) = dumped {
                        w.block(&b, n)?;
                    }
                }
            }
        }
        let keys = w.finish()?;
        self.end();
        Ok(keys)
    }

    /// The reader of the stream from the byte after [`FullSync::offset`]; ends the capture.
    pub fn into_reader(mut self) -> StreamReader {
        self.end();
        self.reader
            .take()
            .expect("the reader is taken only here, once")
    }

    fn end(&mut self) {
        if !self.finished {
            self.finished = true;
            self.inner.repl.capture.finish();
        }
    }
}

impl Drop for FullSync {
    fn drop(&mut self) {
        self.end();
    }
}
