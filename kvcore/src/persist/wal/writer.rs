//! The write-ahead log: size-rolled segment files of framed, sequence-numbered records.
//!
//! Appending only copies a record into a shared buffer under a short lock and hands back its
//! sequence number; making it durable is a separate step ([`Wal::commit`]), so a caller can append
//! while holding its shard lock and wait for the disk after releasing it. Whoever commits first
//! becomes the leader: it writes everything buffered so far and (in [`SyncMode::Always`]) syncs
//! once, covering every record appended by then; the others wait on a condition variable until the
//! durable sequence passes theirs. A failed write or sync is sticky: the log refuses every later
//! append and commit, because after a failed fsync Linux may have dropped the dirty pages and a
//! retry that "succeeds" proves nothing.
//!
//! In [`SyncMode::EverySec`] and [`SyncMode::No`] the log is *mapped*: the active segment's
//! zero-filled space is mapped into memory, shared with the file, and an append copies its frame
//! straight there under the same short lock. Once copied, the record is in the operating system's
//! page cache, as a `write` would have put it, so it survives the process crashing; committing
//! costs nothing, no thread waits for another, and the flusher's `fdatasync` writes the pages
//! out once a second without holding up appends.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use super::super::error::{PersistError, Result};
use super::super::frame::{self, FRAME_HEADER};
use super::super::fs::{FileHandle, FileSystem, WINDOW_ALIGN, Window};
use super::super::record::{self, Record};
use super::{HEADER_LEN, SyncMode, WalOptions, header, segment_name, segments};

/// Appender state behind the short lock.
#[derive(Debug)]
struct State {
    /// The sequence number the next append gets.
    next_seq: u64,
    /// Frames appended but not yet handed to the file.
    buf: Vec<u8>,
    /// Every record up to this one has been written to the file.
    written: u64,
    /// Every record up to this one is durable.
    synced: u64,
    /// A leader is writing or syncing; others wait on the condition variable.
    leader: bool,
    /// Why the log stopped accepting writes.
    failed: Option<String>,
    /// A mapped log's window onto the active segment (`None` until the first append, and after
    /// a roll).
    tail: Option<Tail>,
}

/// Where a mapped log copies its records: a window onto the active segment's zero-filled space.
#[derive(Debug)]
struct Tail {
    window: Box<dyn Window>,
    /// The file offset of the window's first byte.
    base: u64,
    /// Where the next frame goes, from `base`: the segment's logical end.
    pos: usize,
}

/// The file being appended to; touched only by the leader.
#[derive(Debug)]
struct Active {
    file: Box<dyn FileHandle>,
    path: PathBuf,
    /// The logical end: just past the last record written (the next batch goes here).
    len: u64,
    /// The file's length: bytes from `len` to here are zeros written ahead of the records.
    frontier: u64,
}

/// Zeros to fill a segment ahead of its records from (a static, so filling allocates nothing).
static ZEROS: [u8; 64 << 10] = [0; 64 << 10];

#[derive(Debug)]
struct Shared {
    fs: Arc<dyn FileSystem>,
    dir: PathBuf,
    opts: WalOptions,
    state: Mutex<State>,
    cond: Condvar,
    active: Mutex<Active>,
    syncs: AtomicU64,
    /// Mirrors `State::failed` for a lock-free check on every write.
    failed: AtomicBool,
    /// Appends copy into [`State::tail`]; commits wait for nothing (unless the mode was
    /// switched to `always` at run time: then a commit syncs).
    mapped: bool,
    /// The sync mode in effect ([`SyncMode`] as `u8`): it starts as `opts.sync` and the host
    /// may switch it while the log runs ([`Wal::set_sync_mode`]).
    mode: AtomicU8,
    /// Mirrors of `State::next_seq - 1`, `State::written` and `State::synced`, stored under the
    /// state lock, so that [`Wal::unsettled`] can tell without the lock whether a reader may
    /// have seen a record that is not safe yet.
    appended: AtomicU64,
    written: AtomicU64,
    synced: AtomicU64,
}

fn mode_code(m: SyncMode) -> u8 {
    match m {
        SyncMode::Always => 0,
        SyncMode::EverySec => 1,
        SyncMode::No => 2,
    }
}

/// The log, open for appending. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub(crate) struct Wal {
    shared: Arc<Shared>,
}

thread_local! {
    static ENCODE_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// A record's body as [`Wal::append_bodies`] takes it.
pub(crate) fn encode_body(rec: &Record<'_>) -> Vec<u8> {
    let mut body = Vec::new();
    record::encode_into(rec, &mut body);
    body
}

impl Wal {
    /// Every record up to this one is durable (tests watch the group commit).
    #[cfg(test)]
    pub(crate) fn synced_for_tests(&self) -> u64 {
        self.shared.state.lock().synced
    }

    /// Whether appends copy into a mapping of the log.
    #[cfg(test)]
    pub(crate) fn is_mapped(&self) -> bool {
        self.shared.mapped
    }

    /// Opens the log in `dir` for appending; the next record gets `next_seq`.
    ///
    /// The caller has replayed the log (and cut any torn tail) first: `log_last` is the last
    /// record it found and `log_end` the logical end of the last segment ([`Replay::end`]).
    /// Appends continue in the last segment, at `log_end` (any zero tail after it is reused), if
    /// it ends exactly before `next_seq`; otherwise (no segment yet, or the snapshot covers
    /// records the log never got) a new segment starts at `next_seq`.
    ///
    /// # Errors
    /// Io errors creating or opening the segment; [`PersistError::Corrupt`] if `log_end` is
    /// missing or past the end of the segment it should continue.
    pub(crate) fn open(
        fs: Arc<dyn FileSystem>,
        dir: &Path,
        opts: WalOptions,
        next_seq: u64,
        log_last: Option<u64>,
        log_end: Option<u64>,
    ) -> Result<Wal> {
        fs.create_dir_all(dir)
            .map_err(|e| PersistError::io("creating", dir, e))?;
        let segs = segments(&*fs, dir)?;
        let reuse = match (segs.last(), log_last) {
            (Some(seg), Some(last)) => last + 1 == next_seq && seg.first_seq <= next_seq,
            (Some(seg), None) => seg.first_seq == next_seq,
            (None, _) => false,
        };
        let active = if let Some(seg) = segs.last().filter(|_| reuse) {
            let file = fs
                .open(&seg.path)
                .map_err(|e| PersistError::io("opening", &seg.path, e))?;
            let frontier = file
                .len()
                .map_err(|e| PersistError::io("opening", &seg.path, e))?;
            // Appending at the file's length instead would leave the zero tail in the middle
            // of the segment: corruption at the next open.
            let len = log_end
                .filter(|&end| (HEADER_LEN as u64..=frontier).contains(&end))
                .ok_or_else(|| PersistError::Corrupt {
                    file: seg.path.display().to_string(),
                    offset: log_end.unwrap_or(0),
                    reason: format!(
                        "cannot continue the segment: its records end at {log_end:?}, the file \
                         holds {frontier} bytes"
                    ),
                    hint: "the log changed while it was being opened; open the store again".into(),
                })?;
            Active {
                file,
                path: seg.path.clone(),
                len,
                frontier,
            }
        } else {
            create_segment(&*fs, dir, next_seq)?
        };
        let state = State {
            next_seq,
            buf: Vec::new(),
            written: next_seq - 1,
            synced: next_seq - 1,
            leader: false,
            failed: None,
            tail: None,
        };
        let mapped = opts.map_tail && opts.sync != SyncMode::Always && opts.prealloc_bytes > 0;
        let mode = AtomicU8::new(mode_code(opts.sync));
        Ok(Wal {
            shared: Arc::new(Shared {
                mode,
                fs,
                dir: dir.to_path_buf(),
                opts,
                state: Mutex::new(state),
                cond: Condvar::new(),
                active: Mutex::new(active),
                syncs: AtomicU64::new(0),
                failed: AtomicBool::new(false),
                mapped,
                appended: AtomicU64::new(next_seq - 1),
                written: AtomicU64::new(next_seq - 1),
                synced: AtomicU64::new(next_seq - 1),
            }),
        })
    }

    /// Appends a record to the shared buffer and returns its sequence number. Records are
    /// numbered in the order of their appends; nothing is written until a commit.
    ///
    /// # Errors
    /// [`PersistError::Failed`] once an earlier write or sync failed.
    pub(crate) fn append(&self, rec: &Record<'_>) -> Result<u64> {
        ENCODE_BUF.with_borrow_mut(|body| {
            body.clear();
            record::encode_into(rec, body);
            self.append_bodies(std::slice::from_ref(body))
        })
    }

    /// Appends encoded record bodies (see [`encode_body`]) as one log record, and returns its
    /// sequence number: a single body as that plain record, several as one
    /// [`Op::Group`](super::record::Op::Group) holding them in order. One frame, one checksum:
    /// a crash, even one that tears the write, keeps the whole operation or none of it. An
    /// empty slice appends nothing and returns the last sequence number handed out.
    ///
    /// # Errors
    /// [`PersistError::Failed`] once an earlier write or sync failed, or if the record is too
    /// large for a frame: nothing is appended then, and the log fails (see above).
    pub(crate) fn append_bodies(&self, bodies: &[Vec<u8>]) -> Result<u64> {
        // The record's body, piece by piece: produced twice (to checksum it outside the lock,
        // then to copy it in under the lock) instead of being assembled, so an append
        // allocates nothing beyond the shared buffer's growth.
        let pieces = |out: &mut dyn FnMut(&[u8])| match bodies {
            [body] => out(body),
            _ => record::group_pieces(bodies, out),
        };
        if bodies.is_empty() {
            return Ok(self.shared.state.lock().next_seq - 1);
        }
        let mut body_crc = crc32fast::Hasher::new();
        let mut body_len = 0usize;
        pieces(&mut |piece| {
            body_crc.update(piece);
            body_len += piece.len();
        });
        let mut st = self.shared.state.lock();
        if !frame::fits(body_len + 8, self.shared.opts.max_payload) {
            // The store refuses such writes before they change memory; one that got this far
            // changed memory and cannot be logged, so nothing may be acknowledged from now on:
            // the log fails, as after a failed write.
            let e = PersistError::TooLarge {
                what: "a log record".into(),
                bytes: body_len + 8,
                limit: self.shared.opts.max_payload,
            };
            return Err(self.fail(&mut st, e));
        }
        if let Some(why) = &st.failed {
            return Err(PersistError::Failed(why.clone()));
        }
        let seq = st.next_seq;
        let seq_bytes = seq.to_le_bytes();
        let mut crc = crc32fast::Hasher::new();
        crc.update(&seq_bytes);
        crc.combine(&body_crc);
        // `fits` checked the length above.
        let len = (body_len + 8) as u32;
        let mut head = [0u8; FRAME_HEADER + 8];
        head[..4].copy_from_slice(&len.to_le_bytes());
        head[4..8].copy_from_slice(&crc.finalize().to_le_bytes());
        head[8..].copy_from_slice(&seq_bytes);
        let frame_len = head.len() + body_len;
        if self.shared.mapped {
            if let Err(e) = self.room(&mut st, frame_len, seq) {
                return Err(self.fail(&mut st, e));
            }
            let Some(tail) = st.tail.as_mut() else {
                unreachable!("room() maps the tail")
            };
            let mut at = tail.pos;
            tail.window.put(at, &head);
            at += head.len();
            pieces(&mut |piece| {
                tail.window.put(at, piece);
                at += piece.len();
            });
            tail.pos = at;
            st.written = seq;
            self.shared.written.store(seq, Ordering::Release);
        } else {
            st.buf.reserve(frame_len);
            st.buf.extend_from_slice(&head);
            pieces(&mut |piece| st.buf.extend_from_slice(piece));
        }
        st.next_seq += 1;
        self.shared.appended.store(seq, Ordering::Release);
        Ok(seq)
    }

    /// Makes room in a mapped log's window for a `need`-byte frame, the record `seq`: if it does
    /// not fit, the window is dropped, the segment rolled (starting at `seq`) if full, zeros
    /// filled ahead if needed, and a new window mapped from the logical end to the end of the
    /// zeros. Runs under the state lock (which is taken before `active`, never after).
    fn room(&self, st: &mut State, need: usize, seq: u64) -> Result<()> {
        if st
            .tail
            .as_ref()
            .is_some_and(|t| t.pos + need <= t.window.len())
        {
            return Ok(());
        }
        let s = &*self.shared;
        let mut active = s.active.lock();
        if let Some(t) = st.tail.take() {
            active.len = t.base + t.pos as u64;
        }
        if active.len >= s.opts.segment_bytes && active.len > HEADER_LEN as u64 {
            self.roll(&mut active, seq)?;
        }
        self.fill_zeros(&mut active, need as u64)?;
        let base = active.len / WINDOW_ALIGN * WINDOW_ALIGN;
        let len = (active.frontier - base) as usize;
        let window = active
            .file
            .window(base, len)
            .map_err(|e| PersistError::io("mapping", &active.path, e))?;
        st.tail = Some(Tail {
            window,
            base,
            pos: (active.len - base) as usize,
        });
        Ok(())
    }

    /// Makes the log refuse every later write because of `e`, logs it once (error level), and
    /// returns the error to hand to the caller.
    fn fail(&self, st: &mut State, e: PersistError) -> PersistError {
        let why = e.to_string();
        if st.failed.is_none() {
            // Said once, where an operator looks; every later write repeats it to its caller.
            log::error!("persistence failed, refusing writes from now on: {why}");
            st.failed = Some(why.clone());
        }
        self.shared.failed.store(true, Ordering::Release);
        PersistError::Failed(why)
    }

    /// Returns once record `seq` is as safe as the sync mode promises: durable for
    /// [`SyncMode::Always`], handed to the operating system otherwise (so it survives the process
    /// crashing, and the flusher or the OS makes it durable later). Call it after releasing any
    /// lock held while appending.
    ///
    /// # Errors
    /// [`PersistError::Failed`] if the write or sync covering `seq` failed, now or earlier.
    pub(crate) fn commit(&self, seq: u64) -> Result<()> {
        let always = self.sync_mode() == SyncMode::Always;
        if self.shared.mapped {
            // The append copied the record into the page cache already.
            if self.is_failed() {
                return Err(PersistError::Failed(self.failure().unwrap_or_default()));
            }
            // A mapped log switched to `always` at run time: the commit syncs the mapping
            // (one fdatasync covers every record appended before it).
            if always && self.shared.state.lock().synced < seq {
                return self.sync();
            }
            return Ok(());
        }
        self.drive(seq, always)
    }

    /// The last record appended, if it is not yet as safe as the sync mode promises (see
    /// [`Wal::commit`]); `None` when every appended record is. A reader calls it after reading:
    /// whatever it saw was appended before, so committing the answer before replying means
    /// it never shows a client a write that a crash could still take back. Lock-free.
    pub(crate) fn unsettled(&self) -> Option<u64> {
        let s = &*self.shared;
        let appended = s.appended.load(Ordering::Acquire);
        let safe = if self.sync_mode() == SyncMode::Always {
            &s.synced
        } else {
            &s.written
        };
        (safe.load(Ordering::Acquire) < appended).then_some(appended)
    }

    /// The sync mode in effect.
    pub(crate) fn sync_mode(&self) -> SyncMode {
        match self.shared.mode.load(Ordering::Relaxed) {
            0 => SyncMode::Always,
            1 => SyncMode::EverySec,
            _ => SyncMode::No,
        }
    }

    /// Switches the sync mode of the running log (Redis's `CONFIG SET appendfsync`). Commits
    /// after the switch follow the new mode; when leaving `no` or `everysec` for `always`,
    /// the next commit syncs everything appended before it too. Whether the log is mapped
    /// stays as it was opened.
    pub(crate) fn set_sync_mode(&self, mode: SyncMode) {
        self.shared.mode.store(mode_code(mode), Ordering::Relaxed);
    }

    /// Makes every record appended so far durable.
    ///
    /// # Errors
    /// [`PersistError::Failed`] if a write or sync fails, now or earlier.
    pub(crate) fn sync(&self) -> Result<()> {
        let s = &*self.shared;
        if !s.mapped {
            let last = s.state.lock().next_seq - 1;
            return self.drive(last, true);
        }
        let last = {
            let st = s.state.lock();
            if let Some(why) = &st.failed {
                return Err(PersistError::Failed(why.clone()));
            }
            st.next_seq - 1
        };
        // Every record up to `last` is in the active segment's pages, or in a sealed segment
        // that its roll synced. The sync runs on a second handle, so that appends (which may
        // need `active` to map more space) are not held up by it.
        let res = {
            let active = s.active.lock();
            active
                .file
                .try_clone()
                .map_err(|e| PersistError::io("syncing", &active.path, e))
                .map(|file| (file, active.path.clone()))
        }
        .and_then(|(mut file, path)| {
            file.sync_data()
                .map_err(|e| PersistError::io("syncing", &path, e))
        });
        let mut st = s.state.lock();
        match res {
            Ok(()) => {
                if last > 0 {
                    s.syncs.fetch_add(1, Ordering::Relaxed);
                }
                st.synced = st.synced.max(last);
                s.synced.store(st.synced, Ordering::Release);
                Ok(())
            }
            Err(e) => Err(self.fail(&mut st, e)),
        }
    }

    /// The sequence number the next append will get.
    pub(crate) fn next_seq(&self) -> u64 {
        self.shared.state.lock().next_seq
    }

    /// Why the log refuses writes, if it does.
    pub(crate) fn failure(&self) -> Option<String> {
        self.shared.state.lock().failed.clone()
    }

    /// Whether the log refuses writes (a cheap check for every write).
    pub(crate) fn is_failed(&self) -> bool {
        self.shared.failed.load(Ordering::Acquire)
    }

    /// How many fdatasyncs of segments the log has done.
    pub(crate) fn syncs(&self) -> u64 {
        self.shared.syncs.load(Ordering::Relaxed)
    }

    /// Closes the current segment and starts a new one at the next sequence number, so every
    /// record appended so far lies in sealed segments. Does nothing if the current segment holds
    /// no records.
    ///
    /// # Errors
    /// [`PersistError::Failed`] if writing, syncing or creating a segment fails.
    pub(crate) fn rotate(&self) -> Result<()> {
        let s = &*self.shared;
        if s.mapped {
            return self.rotate_mapped();
        }
        let mut st = s.state.lock();
        loop {
            if let Some(why) = &st.failed {
                return Err(PersistError::Failed(why.clone()));
            }
            if !st.leader {
                break;
            }
            s.cond.wait(&mut st);
        }
        st.leader = true;
        let batch = std::mem::take(&mut st.buf);
        let last = st.next_seq - 1;
        drop(st);
        // Rolling syncs the sealed segment, so the batch is durable once this succeeds.
        let res = self.write_batch(&batch, last, false).and_then(|()| {
            let mut active = s.active.lock();
            if active.len > HEADER_LEN as u64 {
                self.roll(&mut active, last + 1)
            } else {
                Ok(())
            }
        });
        self.finish_leading(batch, last, true, res)
    }

    /// [`Wal::rotate`] for a mapped log: appends wait while the segment is sealed, so most of
    /// its pages are synced first, without holding them up.
    fn rotate_mapped(&self) -> Result<()> {
        self.sync()?;
        let s = &*self.shared;
        let mut st = s.state.lock();
        if let Some(why) = &st.failed {
            return Err(PersistError::Failed(why.clone()));
        }
        let last = st.next_seq - 1;
        let mut active = s.active.lock();
        if let Some(t) = st.tail.take() {
            active.len = t.base + t.pos as u64;
        }
        let res = if active.len > HEADER_LEN as u64 {
            self.roll(&mut active, last + 1)
        } else {
            Ok(())
        };
        drop(active);
        match res {
            Ok(()) => {
                st.synced = st.synced.max(last);
                s.synced.store(st.synced, Ordering::Release);
                Ok(())
            }
            Err(e) => Err(self.fail(&mut st, e)),
        }
    }

    /// The leader/follower loop behind `commit` and `sync`.
    fn drive(&self, seq: u64, sync: bool) -> Result<()> {
        let s = &*self.shared;
        let mut st = s.state.lock();
        // A sequence number this log never handed out would wait forever.
        let seq = seq.min(st.next_seq - 1);
        loop {
            if let Some(why) = &st.failed {
                return Err(PersistError::Failed(why.clone()));
            }
            if (if sync { st.synced } else { st.written }) >= seq {
                return Ok(());
            }
            if st.leader {
                s.cond.wait(&mut st);
                continue;
            }
            st.leader = true;
            if sync {
                // Let writers that are about to append (woken by the last sync, or between
                // requests) join this batch: one yield is cheap next to an fdatasync.
                drop(st);
                std::thread::yield_now();
                st = s.state.lock();
            }
            let batch = std::mem::take(&mut st.buf);
            let last = st.next_seq - 1;
            drop(st);
            let res = self.write_batch(&batch, last, sync);
            self.finish_leading(batch, last, sync, res)?;
            st = s.state.lock();
        }
    }

    fn finish_leading(
        &self,
        mut batch: Vec<u8>,
        last: u64,
        synced: bool,
        res: Result<()>,
    ) -> Result<()> {
        let s = &*self.shared;
        let mut st = s.state.lock();
        st.leader = false;
        let out = match res {
            Ok(()) => {
                st.written = last;
                s.written.store(last, Ordering::Release);
                if synced {
                    st.synced = last;
                    s.synced.store(last, Ordering::Release);
                }
                Ok(())
            }
            Err(e) => Err(self.fail(&mut st, e)),
        };
        // Hand the (larger) allocation back for the next batch.
        if st.buf.is_empty() && batch.capacity() > st.buf.capacity() && batch.capacity() <= 4 << 20
        {
            batch.clear();
            st.buf = batch;
        }
        drop(st);
        s.cond.notify_all();
        out
    }

    /// Writes a batch (records up to `last`) to the active segment, rolling first if it is full,
    /// and syncs if asked. Only the leader calls it.
    fn write_batch(&self, batch: &[u8], last: u64, sync: bool) -> Result<()> {
        let s = &*self.shared;
        let mut active = s.active.lock();
        if !batch.is_empty() {
            if active.len >= s.opts.segment_bytes && active.len > HEADER_LEN as u64 {
                let first = frame::u64_at(batch, FRAME_HEADER);
                self.roll(&mut active, first)?;
            }
            let at = active.len;
            let end = at + batch.len() as u64;
            active
                .file
                .write_at(at, batch)
                .map_err(|e| PersistError::io("writing to", &active.path, e))?;
            active.len = end;
            if end > active.frontier {
                active.frontier = end;
                self.fill_zeros(&mut active, 0)?;
            }
        }
        if sync && last > 0 {
            active
                .file
                .sync_data()
                .map_err(|e| PersistError::io("syncing", &active.path, e))?;
            s.syncs.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Extends the active segment past its records with zeros, so that the next writes (and
    /// their fdatasyncs) land in blocks the file already has: one size change per
    /// `prealloc_bytes` of log instead of one per write. The zeros go up to the next multiple
    /// of the step, but not past `segment_bytes` (the segment rolls there), unless the records
    /// already did; and at least `need` bytes past the records (room for a mapped log's next
    /// frame). The next sync makes them durable along with the records.
    ///
    /// A fill that fails (a full disk) is not a failed write of records: the zeros only save
    /// metadata work. The zeros that did get written count, and the error is returned only if
    /// fewer than `need` bytes lie past the records, so the log stops when records no longer
    /// fit, not a step early.
    fn fill_zeros(&self, active: &mut Active, need: u64) -> Result<()> {
        let opts = &self.shared.opts;
        let step = opts.prealloc_bytes;
        if step == 0 {
            return Ok(());
        }
        let target = ((active.len / step + 1) * step)
            .min(opts.segment_bytes.max(active.len))
            .max(active.len + need);
        while active.frontier < target {
            let n = (target - active.frontier).min(ZEROS.len() as u64) as usize;
            if let Err(e) = active.file.write_at(active.frontier, &ZEROS[..n]) {
                // Whatever part of the write landed is zeros too.
                let len = active.file.len().unwrap_or(active.frontier);
                active.frontier = active.frontier.max(len);
                if active.frontier >= active.len + need {
                    return Ok(());
                }
                return Err(PersistError::io("filling with zeros", &active.path, e));
            }
            active.frontier += n as u64;
        }
        Ok(())
    }

    /// Seals the active segment (synced, and cut to its records) and starts a new one whose
    /// first record is `first`.
    fn roll(&self, active: &mut Active, first: u64) -> Result<()> {
        let s = &*self.shared;
        active
            .file
            .sync_data()
            .map_err(|e| PersistError::io("syncing", &active.path, e))?;
        s.syncs.fetch_add(1, Ordering::Relaxed);
        // A sealed segment ends with its last record, so it holds no unused space (recovery
        // would accept a zero tail there too: a crash before this cut leaves one).
        if active.frontier > active.len {
            s.fs.truncate(&active.path, active.len)
                .map_err(|e| PersistError::io("truncating", &active.path, e))?;
            active.frontier = active.len;
        }
        *active = create_segment(&*s.fs, &s.dir, first)?;
        Ok(())
    }

    /// Starts the background flusher that syncs the log every `interval` while the mode is
    /// [`SyncMode::EverySec`]. The host owns the handle; dropping it stops the thread.
    pub(crate) fn start_flusher(&self, interval: Duration) -> Flusher {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let wal = self.clone();
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("kv-wal-flusher".into())
            .spawn(move || {
                let (lock, cond) = &*stop2;
                let mut stopped = lock.lock();
                while !*stopped {
                    cond.wait_for(&mut stopped, interval);
                    if *stopped {
                        break;
                    }
                    drop(stopped);
                    // A failure is sticky inside the log, which reports it on every later write.
                    // The mode may have been switched since the flusher started.
                    if wal.sync_mode() == SyncMode::EverySec {
                        let _ = wal.sync();
                    }
                    stopped = lock.lock();
                }
            })
            .ok();
        Flusher { stop, thread }
    }
}

/// Creates a segment: header written and synced, and the directory synced so its name survives.
fn create_segment(fs: &dyn FileSystem, dir: &Path, first: u64) -> Result<Active> {
    let path = dir.join(segment_name(first));
    let mut file = fs
        .create(&path)
        .map_err(|e| PersistError::io("creating", &path, e))?;
    file.append(&header(first))
        .map_err(|e| PersistError::io("writing", &path, e))?;
    file.sync_data()
        .map_err(|e| PersistError::io("syncing", &path, e))?;
    fs.sync_dir(dir)
        .map_err(|e| PersistError::io("syncing directory", dir, e))?;
    Ok(Active {
        file,
        path,
        len: HEADER_LEN as u64,
        frontier: HEADER_LEN as u64,
    })
}

/// The running everysec flusher; stopping (or dropping) it ends the thread.
#[derive(Debug)]
pub(crate) struct Flusher {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Flusher {
    /// Stops the thread and waits for it.
    pub(crate) fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        *self.stop.0.lock() = true;
        self.stop.1.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.halt();
    }
}
