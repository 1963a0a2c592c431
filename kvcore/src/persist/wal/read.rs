//! Reading the log: walking segments, replay at open, `check`/`repair`, cutting a torn tail
//! and removing the segments a snapshot covers.

use std::path::{Path, PathBuf};

use super::super::error::{PersistError, Result};
use super::super::frame::{self, FRAME_HEADER};
use super::super::fs::FileSystem;
use super::super::record::{self, Op, Record};
use super::{HEADER_LEN, MAGIC, MIN_PAYLOAD, Segment, VERSION, header, segments};

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
