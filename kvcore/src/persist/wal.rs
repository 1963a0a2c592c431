//! The write-ahead log: size-rolled segment files of framed, sequence-numbered records.
//!
//! This file holds what both sides share (the segment header and file names, the sync modes,
//! the writer's options); `read` walks segments (replay at open, `check`/`repair`, cutting a
//! torn tail, removing covered segments) and `writer` appends and commits (group commit, the
//! mapped tail, rolling, the everysec flusher). Byte layout: docs/format.md.

use std::path::{Path, PathBuf};

use super::error::{PersistError, Result};
use super::fs::FileSystem;

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
    /// The largest record payload (sequence number and body) the log takes; at most
    /// [`frame::MAX_PAYLOAD`](super::frame::MAX_PAYLOAD).
    pub(crate) max_payload: usize,
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
            max_payload: super::frame::MAX_PAYLOAD,
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

mod read;
mod writer;

#[cfg(test)]
pub(crate) use read::records_end;
pub(crate) use read::{check, cut_torn_tail, remove_covered, replay};
pub(crate) use writer::{Flusher, Wal, encode_body};

#[cfg(test)]
mod tests;
