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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use super::error::{PersistError, Result};
use super::frame::{self, FRAME_HEADER};
use super::fs::{FileHandle, FileSystem, WINDOW_ALIGN, Window};
use super::record::{self, Op, Record};

/// The first eight bytes of every segment.
pub(crate) const MAGIC: [u8; 8] = *b"KVWALSEG";
/// The segment format version this code writes and reads.
pub(crate) const VERSION: u32 = 1;
/// Bytes of the segment header.
pub(crate) const HEADER_LEN: usize = 32;
/// A record payload holds at least its sequence number.
const MIN_PAYLOAD: usize = 8;

/// When a write to a persistent store is made durable (Redis's `appendfsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncMode {
    /// A write is acknowledged only once its log record is on disk (fdatasync); concurrent
    /// writers share one fdatasync (group commit).
    Always,
    /// A write is acknowledged once its record reached the operating system; a background
    /// flusher syncs once a second, so a machine crash loses at most about a second (a
    /// process crash loses nothing).
    #[default]
    EverySec,
    /// A write is acknowledged once its record reached the operating system, which decides
    /// when to write it to disk.
    No,
}

impl SyncMode {
    /// The name Redis's `appendfsync` uses: `always`, `everysec` or `no`.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncMode::Always => "always",
            SyncMode::EverySec => "everysec",
            SyncMode::No => "no",
        }
    }

    /// Parses `always`, `everysec` or `no` (ASCII case-insensitive).
    pub fn parse(name: &str) -> Option<SyncMode> {
        [SyncMode::Always, SyncMode::EverySec, SyncMode::No]
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(name))
    }
}

/// How the log is written.
#[derive(Debug, Clone)]
pub(crate) struct WalOptions {
    /// The sync mode.
    pub(crate) sync: SyncMode,
    /// A segment is closed and a new one started once it holds this many bytes of records.
    pub(crate) segment_bytes: u64,
    /// How far ahead of its records the active segment is filled with zeros, so that the
    /// fdatasync after a write overwrites allocated blocks instead of growing the file (0: no
    /// zero-filling, every write appends).
    pub(crate) prealloc_bytes: u64,
    /// Whether [`SyncMode::EverySec`] and [`SyncMode::No`] copy records into a shared mapping
    /// of the zero-filled space instead of writing them (needs `prealloc_bytes > 0`).
    pub(crate) map_tail: bool,
}

/// The default zero-fill step: the zeros a segment gains whenever a write would pass its end.
pub(crate) const PREALLOC_BYTES: u64 = 1 << 20;

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            sync: SyncMode::default(),
            segment_bytes: 64 << 20,
            prealloc_bytes: PREALLOC_BYTES,
            map_tail: true,
        }
    }
}

/// The file name of the segment whose first record has sequence `first_seq`.
pub(crate) fn segment_name(first_seq: u64) -> String {
    format!("wal-{first_seq:020}.log")
}

/// The first sequence number encoded in a segment file name.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("wal-")?.strip_suffix(".log")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The header of a segment whose first record is `first_seq`.
pub(crate) fn header(first_seq: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    // 12..16: flags, zero.
    h[16..24].copy_from_slice(&first_seq.to_le_bytes());
    let crc = crc32fast::hash(&h[0..24]);
    h[24..28].copy_from_slice(&crc.to_le_bytes());
    // 28..32: reserved, zero.
    h
}

/// A segment file found in the data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segment {
    /// The sequence number of its first record (from its name).
    pub(crate) first_seq: u64,
    /// Its path.
    pub(crate) path: PathBuf,
}

/// The segments in `dir`, oldest first.
pub(crate) fn segments(fs: &dyn FileSystem, dir: &Path) -> Result<Vec<Segment>> {
    let names = fs
        .list(dir)
        .map_err(|e| PersistError::io("listing", dir, e))?;
    let mut segs: Vec<Segment> = names
        .iter()
        .filter_map(|n| {
            Some(Segment {
                first_seq: parse_segment_name(n)?,
                path: dir.join(n),
            })
        })
        .collect();
    segs.sort_by_key(|s| s.first_seq);
    Ok(segs)
}

/// What a reader found wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// The file.
    pub(crate) path: PathBuf,
    /// Index of the file among the segments.
    pub(crate) segment: usize,
    /// Byte offset of the first bad byte (0 for a bad header).
    pub(crate) offset: u64,
    /// What is wrong.
    pub(crate) reason: String,
    /// It is an incomplete or checksum-failing end of the last segment with nothing valid after
    /// it: the remains of a write interrupted by a crash, safe to cut off.
    pub(crate) torn: bool,
}

/// What walking the log found.
#[derive(Debug, Default)]
struct Walk {
    records: u64,
    last_seq: Option<u64>,
    problem: Option<Problem>,
    /// For each segment whose header is valid, in order: the offset just past its last valid
    /// record (its logical end; for the segment with the problem, the problem's offset).
    ends: Vec<u64>,
}

/// Whether `data[from..]` is a zero tail: at least one byte, and every byte zero. Space the
/// writer filled with zeros ahead of its records ends a segment cleanly.
fn zero_tail(data: &[u8], from: usize) -> bool {
    from < data.len() && data[from..].iter().all(|&b| b == 0)
}

/// Whether any valid record with a sequence number after `last_seq` starts after `from`: if so,
/// damage at `from` is not a torn tail but corruption in the middle of the log.
fn valid_record_after(data: &[u8], from: usize, last_seq: u64) -> bool {
    let mut pos = from + 1;
    while pos + FRAME_HEADER + MIN_PAYLOAD <= data.len() {
        let seq = frame::u64_at(data, pos + FRAME_HEADER);
        if seq > last_seq
            && seq - last_seq < (1 << 32)
            && frame::read(data, pos, MIN_PAYLOAD).is_ok()
        {
            return true;
        }
        pos += 1;
    }
    false
}

/// The offset just past the last valid record of a segment's bytes (tests find the records of
/// a file that may end in a zero tail with it).
#[cfg(test)]
pub(crate) fn records_end(data: &[u8]) -> usize {
    let mut pos = HEADER_LEN;
    while let Ok((_, next)) = frame::read(data, pos, MIN_PAYLOAD) {
        pos = next;
    }
    pos
}

/// Counts the valid records after damage at `from` (what a repair there would drop).
fn count_records_after(data: &[u8], from: usize, last_seq: u64) -> u64 {
    let mut n = 0;
    let mut pos = from + 1;
    let mut last = last_seq;
    while pos + FRAME_HEADER + MIN_PAYLOAD <= data.len() {
        let seq = frame::u64_at(data, pos + FRAME_HEADER);
        if seq > last
            && seq - last < (1 << 32)
            && let Ok((_, end)) = frame::read(data, pos, MIN_PAYLOAD)
        {
            n += 1;
            last = seq;
            pos = end;
            continue;
        }
        pos += 1;
    }
    n
}

fn check_header(data: &[u8], first_seq: u64) -> std::result::Result<(), String> {
    if data.len() < HEADER_LEN {
        return Err(format!(
            "segment header is incomplete ({} of {HEADER_LEN} bytes)",
            data.len()
        ));
    }
    if data[0..8] != MAGIC {
        return Err("segment does not start with the magic \"KVWALSEG\"".into());
    }
    if crc32fast::hash(&data[0..24]) != frame::u32_at(data, 24) {
        return Err("segment header failed its checksum".into());
    }
    let version = frame::u32_at(data, 8);
    if version != VERSION {
        return Err(format!(
            "segment format version {version} is not supported (expected {VERSION})"
        ));
    }
    let seq = frame::u64_at(data, 16);
    if seq != first_seq {
        return Err(format!(
            "header says first record {seq}, file name says {first_seq}"
        ));
    }
    Ok(())
}

/// Walks every record of `segs` in order, handing `(seq, offset, body)` to `visit`; stops at the
/// first problem, which it classifies as torn tail or corruption.
///
/// A segment may start after a gap only if a snapshot covers the gap (`first_seq <= after + 1`):
/// in everysec or no mode a crash can lose the log's unsynced tail after a snapshot was written.
fn walk(
    fs: &dyn FileSystem,
    segs: &[Segment],
    after: u64,
    mut visit: impl FnMut(u64, &Path, u64, &[u8], f64) -> Result<()>,
) -> Result<Walk> {
    let mut w = Walk::default();
    // The sequence number the previous segment ended at (for an empty one: just before its start).
    let mut prev_end: Option<u64> = None;
    for (i, seg) in segs.iter().enumerate() {
        let is_last = i + 1 == segs.len();
        let data = fs
            .map(&seg.path)
            .map_err(|e| PersistError::io("reading", &seg.path, e))?;
        let problem = |offset: usize, reason: String, torn: bool| Problem {
            path: seg.path.clone(),
            segment: i,
            offset: offset as u64,
            reason,
            torn,
        };
        if let Err(reason) = check_header(&data, seg.first_seq) {
            // A crash while creating the last segment leaves a short or zero-filled header; any
            // other bad header is damage.
            let torn = is_last
                && data.len() <= HEADER_LEN
                && header(seg.first_seq)
                    .iter()
                    .zip(data.iter())
                    .all(|(h, d)| d == h || *d == 0);
            w.problem = Some(problem(0, reason, torn));
            return Ok(w);
        }
        if let Some(last) = prev_end
            && seg.first_seq != last + 1
            && !(seg.first_seq > last && seg.first_seq <= after + 1)
        {
            let reason = format!(
                "segment starts at record {} but the previous one ended at {last}",
                seg.first_seq
            );
            w.problem = Some(problem(0, reason, false));
            return Ok(w);
        }
        let mut pos = HEADER_LEN;
        let mut expected = seg.first_seq;
        // Stops at the end of the file or at a zero tail (preallocated space never written).
        while pos < data.len() {
            match frame::read(&data, pos, MIN_PAYLOAD) {
                Ok((payload, end)) => {
                    let seq = frame::u64_at(payload, 0);
                    if seq != expected {
                        let reason =
                            format!("record {seq} found where record {expected} was expected");
                        w.problem = Some(problem(pos, reason, false));
                        w.ends.push(pos as u64);
                        return Ok(w);
                    }
                    // How far through the log this record is, for progress reports.
                    let done = (i as f64 + pos as f64 / data.len() as f64) / segs.len() as f64;
                    visit(seq, &seg.path, pos as u64, &payload[8..], done)?;
                    w.records += 1;
                    w.last_seq = Some(seq);
                    expected = seq + 1;
                    pos = end;
                }
                Err(_) if zero_tail(&data, pos) => break,
                Err(bad) => {
                    let torn = is_last && !valid_record_after(&data, pos, expected - 1);
                    w.problem = Some(problem(pos, format!("record {expected}: {bad}"), torn));
                    w.ends.push(pos as u64);
                    return Ok(w);
                }
            }
        }
        w.ends.push(pos as u64);
        prev_end = Some(expected - 1);
    }
    Ok(w)
}

/// What replaying the log found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Replay {
    /// Log records replayed (those after the snapshot; a group counts once).
    pub(crate) applied: u64,
    /// The last sequence number in the log (intact part), if it holds any record.
    pub(crate) last_seq: Option<u64>,
    /// A torn tail the caller should cut off with [`cut_torn_tail`] (after warning about it).
    pub(crate) torn: Option<Problem>,
    /// The logical end of the segment that is the last one once `torn` is cut (the offset just
    /// past its last record; a zero tail may follow), or `None` if no segment is left. Appends
    /// continue there ([`Wal::open`]).
    pub(crate) end: Option<u64>,
}

/// Replays every record after `after` (the sequence a snapshot covers, 0 for none), in order.
/// A group record is handed over as its inner records, in order, each with the group's
/// sequence number. `apply` also gets the fraction of the log read so far (for progress
/// reports).
///
/// # Errors
/// [`PersistError::Corrupt`] for damage that is not a torn tail, a gap between the snapshot and
/// the log, or a record that does not decode; [`PersistError::Io`] if a file cannot be read; and
/// whatever `apply` returns.
pub(crate) fn replay(
    fs: &dyn FileSystem,
    dir: &Path,
    after: u64,
    mut apply: impl FnMut(u64, Record<'_>, f64) -> Result<()>,
) -> Result<Replay> {
    let segs = segments(fs, dir)?;
    if let Some(first) = segs.first()
        && first.first_seq > after + 1
    {
        return Err(PersistError::Corrupt {
            file: first.path.display().to_string(),
            offset: 0,
            reason: format!(
                "the log starts at record {} but the snapshot covers records up to {after} only",
                first.first_seq
            ),
            hint:
                "records in between are missing; restore the missing segments or the newer snapshot"
                    .into(),
        });
    }
    let mut applied = 0;
    let walk = walk(fs, &segs, after, |seq, path, offset, body, done| {
        if seq <= after {
            return Ok(());
        }
        let corrupt = |reason: String| PersistError::Corrupt {
            file: path.display().to_string(),
            offset,
            reason,
            hint: "this log was written by an incompatible version".into(),
        };
        let rec: Record<'_> = record::decode(body).map_err(|e| {
            corrupt(format!(
                "record {seq} has a valid checksum but does not decode: {e}"
            ))
        })?;
        applied += 1;
        let Op::Group { records } = &rec.op else {
            return apply(seq, rec, done);
        };
        // Every inner record is decoded before the first is applied: a group applies whole
        // or the recovery stops before touching the store.
        let mut inner = Vec::with_capacity(records.len());
        for (i, body) in records.iter().enumerate() {
            let r: Record<'_> = record::decode(body.as_slice()).map_err(|e| {
                corrupt(format!(
                    "record {seq} has a valid checksum but its inner record {i} does not \
                     decode: {e}"
                ))
            })?;
            if matches!(r.op, Op::Group { .. }) {
                return Err(corrupt(format!(
                    "record {seq} is a group holding another group (inner record {i}); \
                     groups never nest"
                )));
            }
            inner.push(r);
        }
        inner.into_iter().try_for_each(|r| apply(seq, r, done))
    })?;
    match walk.problem {
        Some(p) if !p.torn => {
            let dropped = records_dropped_by_repair(fs, &segs, &p)?;
            Err(PersistError::Corrupt {
                file: p.path.display().to_string(),
                offset: p.offset,
                reason: p.reason,
                hint: format!(
                    "refusing to skip it; `kvserver check --data-dir {} --repair` truncates the log \
                     there, dropping {dropped} later record(s)",
                    dir.display()
                ),
            })
        }
        torn => {
            // A torn header (offset 0) removes its segment, which has no entry in `ends`: the
            // last entry is the previous segment's end. A torn record is cut at its offset,
            // which is the entry of its segment.
            let end = walk.ends.last().copied();
            Ok(Replay {
                applied,
                last_seq: walk.last_seq,
                torn,
                end,
            })
        }
    }
}

fn records_dropped_by_repair(fs: &dyn FileSystem, segs: &[Segment], p: &Problem) -> Result<u64> {
    let data = fs
        .map(&p.path)
        .map_err(|e| PersistError::io("reading", &p.path, e))?;
    let mut n = 0;
    if p.offset as usize >= HEADER_LEN {
        n += count_records_after(&data, p.offset as usize, 0);
    }
    for seg in &segs[p.segment + 1..] {
        let w = walk(fs, std::slice::from_ref(seg), 0, |_, _, _, _, _| Ok(()))?;
        n += w.records;
    }
    Ok(n)
}

/// Cuts a torn tail off: truncates the segment at the problem's offset, or removes a segment
/// whose header never made it to disk.
pub(crate) fn cut_torn_tail(fs: &dyn FileSystem, dir: &Path, p: &Problem) -> Result<()> {
    if p.offset == 0 {
        fs.remove(&p.path)
            .map_err(|e| PersistError::io("removing", &p.path, e))?;
        fs.sync_dir(dir)
            .map_err(|e| PersistError::io("syncing directory", dir, e))
    } else {
        fs.truncate(&p.path, p.offset)
            .map_err(|e| PersistError::io("truncating", &p.path, e))
    }
}

/// What `check` found in a data directory's log.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Check {
    /// Segment files.
    pub(crate) segments: usize,
    /// Valid records before the first problem.
    pub(crate) records: u64,
    /// The first and last sequence numbers of those.
    pub(crate) seq_range: Option<(u64, u64)>,
    /// The first problem, if any.
    pub(crate) problem: Option<Problem>,
    /// How many valid-looking records lie after the problem (what a repair drops).
    pub(crate) dropped: u64,
    /// Whether the log was repaired (truncated at the problem).
    pub(crate) repaired: bool,
}

/// Checks the whole log (`after`: the sequence the newest valid snapshot covers, 0 for none);
/// with `repair`, truncates it at the first bad record and removes every later segment.
///
/// # Errors
/// Io errors reading or repairing the files.
pub(crate) fn check(fs: &dyn FileSystem, dir: &Path, after: u64, repair: bool) -> Result<Check> {
    let segs = segments(fs, dir)?;
    let mut first = None;
    let w = walk(fs, &segs, after, |seq, _, _, _, _| {
        first.get_or_insert(seq);
        Ok(())
    })?;
    let mut c = Check {
        segments: segs.len(),
        records: w.records,
        seq_range: first.zip(w.last_seq),
        ..Check::default()
    };
    if let Some(p) = w.problem {
        c.dropped = records_dropped_by_repair(fs, &segs, &p)?;
        if repair {
            if p.offset == 0 {
                fs.remove(&p.path)
                    .map_err(|e| PersistError::io("removing", &p.path, e))?;
            } else {
                fs.truncate(&p.path, p.offset)
                    .map_err(|e| PersistError::io("truncating", &p.path, e))?;
            }
            for seg in &segs[p.segment + 1..] {
                fs.remove(&seg.path)
                    .map_err(|e| PersistError::io("removing", &seg.path, e))?;
            }
            fs.sync_dir(dir)
                .map_err(|e| PersistError::io("syncing directory", dir, e))?;
            c.repaired = true;
        }
        c.problem = Some(p);
    }
    Ok(c)
}

/// Removes the segments whose records all have sequence numbers `<= seq` (never the newest).
pub(crate) fn remove_covered(fs: &dyn FileSystem, dir: &Path, seq: u64) -> Result<usize> {
    let segs = segments(fs, dir)?;
    let mut removed = 0;
    for pair in segs.windows(2) {
        if pair[1].first_seq <= seq + 1 {
            fs.remove(&pair[0].path)
                .map_err(|e| PersistError::io("removing", &pair[0].path, e))?;
            removed += 1;
        }
    }
    if removed > 0 {
        fs.sync_dir(dir)
            .map_err(|e| PersistError::io("syncing directory", dir, e))?;
    }
    Ok(removed)
}

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
    /// Appends copy into [`State::tail`]; commits wait for nothing.
    mapped: bool,
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
        Ok(Wal {
            shared: Arc::new(Shared {
                fs,
                dir: dir.to_path_buf(),
                opts,
                state: Mutex::new(state),
                cond: Condvar::new(),
                active: Mutex::new(active),
                syncs: AtomicU64::new(0),
                failed: AtomicBool::new(false),
                mapped,
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
    /// large to log (then nothing is appended).
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
        if !frame::fits(body_len + 8) {
            return Err(PersistError::Failed(format!(
                "a {body_len}-byte record is too large to log"
            )));
        }
        let mut st = self.shared.state.lock();
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
        } else {
            st.buf.reserve(frame_len);
            st.buf.extend_from_slice(&head);
            pieces(&mut |piece| st.buf.extend_from_slice(piece));
        }
        st.next_seq += 1;
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

    /// Makes the log refuse every later write because of `e`, says so once on stderr, and
    /// returns the error to hand to the caller.
    fn fail(&self, st: &mut State, e: PersistError) -> PersistError {
        let why = e.to_string();
        if st.failed.is_none() {
            // Said once, where an operator looks; every later write repeats it to its caller.
            eprintln!("kvcore: persistence failed, refusing writes from now on: {why}");
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
        if self.shared.mapped {
            // The append copied the record into the page cache already.
            if self.is_failed() {
                return Err(PersistError::Failed(self.failure().unwrap_or_default()));
            }
            return Ok(());
        }
        self.drive(seq, self.shared.opts.sync == SyncMode::Always)
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
                if synced {
                    st.synced = last;
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

    /// Starts the background flusher that syncs the log every `interval` (for
    /// [`SyncMode::EverySec`]). The host owns the handle; dropping it stops the thread.
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
                    let _ = wal.sync();
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

#[cfg(test)]
mod tests;
