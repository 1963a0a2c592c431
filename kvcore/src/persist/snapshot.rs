//! Snapshots: a point-in-time image of every database plus the log sequence it covers.
//!
//! A snapshot is written to `snap-<seq>.kvs.tmp`, synced, renamed to `snap-<seq>.kvs` and the
//! directory synced, so a crash leaves either the old set of snapshots or the new one, never a
//! half-written file under a real name. Entries are streamed in ([`SnapshotWriter::entry`], or
//! pre-framed blocks from [`encode_entry`]) so the store can dump shard by shard without a second
//! copy of the data. Reading maps the file (memmap2), checks header, footer and whole-file CRC
//! before handing out a single entry, and borrows keys and values from the map.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::{PersistError, Result};
use super::frame;
use super::fs::{FileHandle, FileSystem, Mapped};
use super::record::{self, Entry};

/// The first eight bytes of a snapshot.
pub(crate) const MAGIC: [u8; 8] = *b"KVSNAPSH";
/// The first eight bytes of its footer.
pub(crate) const FOOTER_MAGIC: [u8; 8] = *b"KVSNAPND";
/// The format version this code writes. Version 2 may split a container too large for one
/// frame over consecutive frames of the same key (see [`Snapshot::for_each`]); version 1, which
/// never does, is still read.
pub(crate) const VERSION: u32 = 2;
/// The oldest format version this code reads.
const OLDEST_VERSION: u32 = 1;
/// Bytes of the header.
pub(crate) const HEADER_LEN: usize = 40;
/// Bytes of the footer.
pub(crate) const FOOTER_LEN: usize = 24;
/// The writer hands its buffer to the file once it holds this much.
const FLUSH_AT: usize = 1 << 20;

/// The file name of the snapshot covering the log up to `seq`.
pub(crate) fn snapshot_name(seq: u64) -> String {
    format!("snap-{seq:020}.kvs")
}

/// The sequence number encoded in a snapshot file name.
pub(crate) fn parse_snapshot_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("snap-")?.strip_suffix(".kvs")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The snapshots in `dir`, newest first.
pub(crate) fn snapshots(fs: &dyn FileSystem, dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let names = fs
        .list(dir)
        .map_err(|e| PersistError::io("listing", dir, e))?;
    let mut snaps: Vec<(u64, PathBuf)> = names
        .iter()
        .filter_map(|n| Some((parse_snapshot_name(n)?, dir.join(n))))
        .collect();
    snaps.sort_by_key(|s| std::cmp::Reverse(s.0));
    Ok(snaps)
}

/// Appends one framed snapshot entry to `out` (for dumping a shard into a private buffer).
///
/// # Errors
/// [`PersistError::TooLarge`] if the encoded entry is larger than `limit` (or than a frame can
/// hold); `out` is left as it was.
pub(crate) fn encode_entry(
    e: &Entry<'_>,
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
    limit: usize,
) -> Result<()> {
    scratch.clear();
    record::encode_into(e, scratch);
    if !frame::fits(scratch.len(), limit) {
        return Err(PersistError::TooLarge {
            what: format!(
                "the snapshot entry of key {:?} in database {}",
                String::from_utf8_lossy(&e.key.as_slice()[..e.key.as_slice().len().min(64)]),
                e.db
            ),
            bytes: scratch.len(),
            limit: limit.min(frame::MAX_PAYLOAD),
        });
    }
    frame::put(out, scratch);
    Ok(())
}

/// A snapshot being written.
#[derive(Debug)]
pub(crate) struct SnapshotWriter {
    fs: Arc<dyn FileSystem>,
    dir: PathBuf,
    tmp: PathBuf,
    file: Box<dyn FileHandle>,
    buf: Vec<u8>,
    crc: crc32fast::Hasher,
    entries: u64,
    bytes: u64,
    seq: u64,
}

/// A finished snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Written {
    /// Its path.
    pub(crate) path: PathBuf,
    /// The log sequence it covers.
    pub(crate) seq: u64,
    /// Entries (keys) in it.
    pub(crate) entries: u64,
    /// Its size in bytes.
    pub(crate) bytes: u64,
}

impl SnapshotWriter {
    /// Starts a snapshot of `databases` databases covering the log up to `seq`.
    ///
    /// # Errors
    /// Io errors creating the temporary file.
    pub(crate) fn create(
        fs: Arc<dyn FileSystem>,
        dir: &Path,
        seq: u64,
        databases: u32,
        created_ms: u64,
    ) -> Result<SnapshotWriter> {
        let tmp = dir.join(format!("{}.tmp", snapshot_name(seq)));
        let file = fs
            .create(&tmp)
            .map_err(|e| PersistError::io("creating", &tmp, e))?;
        let mut h = [0u8; HEADER_LEN];
        h[0..8].copy_from_slice(&MAGIC);
        h[8..12].copy_from_slice(&VERSION.to_le_bytes());
        h[12..16].copy_from_slice(&databases.to_le_bytes());
        h[16..24].copy_from_slice(&seq.to_le_bytes());
        h[24..32].copy_from_slice(&created_ms.to_le_bytes());
        let hcrc = crc32fast::hash(&h[0..32]);
        h[32..36].copy_from_slice(&hcrc.to_le_bytes());
        let mut w = SnapshotWriter {
            fs,
            dir: dir.to_path_buf(),
            tmp,
            file,
            buf: Vec::with_capacity(FLUSH_AT + (64 << 10)),
            crc: crc32fast::Hasher::new(),
            entries: 0,
            bytes: 0,
            seq,
        };
        w.push(&h, 0)?;
        Ok(w)
    }

    /// Adds one entry (the store adds whole shard blocks; tests add entries one by one).
    ///
    /// # Errors
    /// Io errors writing the file.
    #[cfg(test)]
    pub(crate) fn entry(&mut self, e: &Entry<'_>) -> Result<()> {
        let mut block = Vec::new();
        encode_entry(e, &mut Vec::new(), &mut block, frame::MAX_PAYLOAD)?;
        self.push(&block, 1)
    }

    /// Adds `count` entries already framed by [`encode_entry`].
    ///
    /// # Errors
    /// Io errors writing the file.
    pub(crate) fn block(&mut self, framed: &[u8], count: u64) -> Result<()> {
        self.push(framed, count)
    }

    fn push(&mut self, bytes: &[u8], count: u64) -> Result<()> {
        self.buf.extend_from_slice(bytes);
        self.entries += count;
        if self.buf.len() >= FLUSH_AT {
            self.flush()
        } else {
            Ok(())
        }
    }

    fn flush(&mut self) -> Result<()> {
        self.crc.update(&self.buf);
        self.bytes += self.buf.len() as u64;
        let res = self
            .file
            .append(&self.buf)
            .map_err(|e| PersistError::io("writing", &self.tmp, e));
        self.buf.clear();
        res
    }

    /// Writes the footer, syncs, renames into place and syncs the directory.
    ///
    /// # Errors
    /// Io errors; the temporary file is removed then, and no snapshot is left behind.
    pub(crate) fn finish(mut self) -> Result<Written> {
        let res = self.finish_inner();
        if res.is_err() {
            let _ = self.fs.remove(&self.tmp);
        }
        res
    }

    fn finish_inner(&mut self) -> Result<Written> {
        self.flush()?;
        let mut f = [0u8; FOOTER_LEN];
        f[0..8].copy_from_slice(&FOOTER_MAGIC);
        f[8..16].copy_from_slice(&self.entries.to_le_bytes());
        f[16..20].copy_from_slice(&self.crc.clone().finalize().to_le_bytes());
        let fcrc = crc32fast::hash(&f[0..20]);
        f[20..24].copy_from_slice(&fcrc.to_le_bytes());
        self.file
            .append(&f)
            .map_err(|e| PersistError::io("writing", &self.tmp, e))?;
        self.bytes += FOOTER_LEN as u64;
        self.file
            .sync_data()
            .map_err(|e| PersistError::io("syncing", &self.tmp, e))?;
        let path = self.dir.join(snapshot_name(self.seq));
        self.fs
            .rename(&self.tmp, &path)
            .map_err(|e| PersistError::io("renaming", &self.tmp, e))?;
        self.fs
            .sync_dir(&self.dir)
            .map_err(|e| PersistError::io("syncing directory", &self.dir, e))?;
        Ok(Written {
            path,
            seq: self.seq,
            entries: self.entries,
            bytes: self.bytes,
        })
    }

    /// Abandons the snapshot and removes its temporary file.
    pub(crate) fn abort(self) {
        let _ = self.fs.remove(&self.tmp);
    }
}

/// A snapshot opened for reading, checked end to end.
#[derive(Debug)]
pub(crate) struct Snapshot {
    path: PathBuf,
    map: Mapped,
    seq: u64,
    databases: u32,
    created_ms: u64,
    entries: u64,
}

impl Snapshot {
    /// Maps the snapshot at `path` and checks its header, footer and CRC.
    ///
    /// # Errors
    /// [`PersistError::Corrupt`] naming what is wrong; Io errors reading it.
    pub(crate) fn open(fs: &dyn FileSystem, path: &Path) -> Result<Snapshot> {
        let map = fs
            .map(path)
            .map_err(|e| PersistError::io("reading", path, e))?;
        let corrupt = |offset: usize, reason: String| PersistError::Corrupt {
            file: path.display().to_string(),
            offset: offset as u64,
            reason,
            hint: "an older snapshot and the log are used instead if they cover it; otherwise \
                   restore this file from a backup"
                .into(),
        };
        let d = &map[..];
        if d.len() < HEADER_LEN + FOOTER_LEN {
            return Err(corrupt(
                d.len(),
                format!("snapshot is truncated ({} bytes)", d.len()),
            ));
        }
        if d[0..8] != MAGIC {
            return Err(corrupt(
                0,
                "snapshot does not start with the magic \"KVSNAPSH\"".into(),
            ));
        }
        if crc32fast::hash(&d[0..32]) != frame::u32_at(d, 32) {
            return Err(corrupt(0, "snapshot header failed its checksum".into()));
        }
        let version = frame::u32_at(d, 8);
        if !(OLDEST_VERSION..=VERSION).contains(&version) {
            return Err(corrupt(
                8,
                format!(
                    "snapshot format version {version} is not supported (this build reads \
                     {OLDEST_VERSION} to {VERSION})"
                ),
            ));
        }
        let foot = d.len() - FOOTER_LEN;
        if d[foot..foot + 8] != FOOTER_MAGIC {
            return Err(corrupt(
                foot,
                "snapshot footer is missing (truncated file?)".into(),
            ));
        }
        if crc32fast::hash(&d[foot..foot + 20]) != frame::u32_at(d, foot + 20) {
            return Err(corrupt(foot, "snapshot footer failed its checksum".into()));
        }
        if crc32fast::hash(&d[..foot]) != frame::u32_at(d, foot + 16) {
            let bad = first_bad_entry(&d[..foot]).unwrap_or(0);
            return Err(corrupt(
                bad,
                "snapshot contents failed their checksum".into(),
            ));
        }
        let snap = Snapshot {
            path: path.to_path_buf(),
            seq: frame::u64_at(d, 16),
            databases: frame::u32_at(d, 12),
            created_ms: frame::u64_at(d, 24),
            entries: frame::u64_at(d, foot + 8),
            map,
        };
        Ok(snap)
    }

    /// The log sequence the snapshot covers.
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }
    /// How many databases the store had.
    pub(crate) fn databases(&self) -> u32 {
        self.databases
    }
    /// When it was taken (unix ms).
    pub(crate) fn created_ms(&self) -> u64 {
        self.created_ms
    }
    /// How many entries it holds.
    pub(crate) fn entries(&self) -> u64 {
        self.entries
    }
    /// Its path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Visits every entry frame in file order. `f`'s second argument says whether the frame
    /// continues the previous one's key: a container too large for one frame is written as
    /// several consecutive frames of the same database and key, the first with the expiry, each
    /// holding some of the elements, to be added to what the earlier ones loaded. (Within one
    /// snapshot a key otherwise appears once, so a repeated key is never anything else.)
    ///
    /// # Errors
    /// [`PersistError::Corrupt`] if an entry does not decode or the number of keys disagrees
    /// with the footer (a file written by an incompatible version), and whatever `f` returns.
    pub(crate) fn for_each(&self, mut f: impl FnMut(Entry<'_>, bool) -> Result<()>) -> Result<()> {
        let d = &self.map[..];
        let end = d.len() - FOOTER_LEN;
        let mut pos = HEADER_LEN;
        let mut n = 0;
        let corrupt = |offset: usize, reason: String| PersistError::Corrupt {
            file: self.path.display().to_string(),
            offset: offset as u64,
            reason,
            hint: "the snapshot was written by an incompatible version".into(),
        };
        // The previous frame's database and key (one buffer, reused).
        let (mut prev_db, mut prev_key) = (None, Vec::new());
        while pos < end {
            let (payload, next) = frame::read(&d[..end], pos, 1)
                .map_err(|bad| corrupt(pos, format!("entry {n}: {bad}")))?;
            let entry: Entry<'_> = record::decode(payload)
                .map_err(|e| corrupt(pos, format!("entry {n} does not decode: {e}")))?;
            let continued = prev_db == Some(entry.db) && prev_key == entry.key.as_slice();
            if !continued {
                n += 1;
                prev_db = Some(entry.db);
                prev_key.clear();
                prev_key.extend_from_slice(entry.key.as_slice());
            }
            f(entry, continued)?;
            pos = next;
        }
        if n != self.entries {
            return Err(corrupt(
                end,
                format!("footer says {} entries, found {n}", self.entries),
            ));
        }
        Ok(())
    }
}

/// The offset of the first entry frame that fails its own checksum, for error messages.
fn first_bad_entry(body: &[u8]) -> Option<usize> {
    let mut pos = HEADER_LEN;
    while pos < body.len() {
        match frame::read(body, pos, 1) {
            Ok((_, next)) => pos = next,
            Err(_) => return Some(pos),
        }
    }
    None
}

/// Opens the newest snapshot that checks out, falling back to older ones; each damaged one
/// skipped is described in the returned warnings.
///
/// # Errors
/// Io errors listing the directory.
pub(crate) fn newest_valid(
    fs: &dyn FileSystem,
    dir: &Path,
) -> Result<(Option<Snapshot>, Vec<String>)> {
    let mut warnings = Vec::new();
    for (_, path) in snapshots(fs, dir)? {
        match Snapshot::open(fs, &path) {
            Ok(s) => return Ok((Some(s), warnings)),
            Err(e) => warnings.push(format!("skipping damaged snapshot: {e}")),
        }
    }
    Ok((None, warnings))
}

/// Keeps the newest `keep` snapshots, removes older ones and leftover temporary files, and
/// returns the sequence covered by the oldest snapshot kept once `keep` of them exist (the log
/// before it may go: every snapshot kept can still be completed from the log).
///
/// # Errors
/// Io errors listing or removing files.
pub(crate) fn prune(fs: &dyn FileSystem, dir: &Path, keep: usize) -> Result<Option<u64>> {
    let snaps = snapshots(fs, dir)?;
    let mut removed = false;
    for (_, path) in snaps.iter().skip(keep) {
        fs.remove(path)
            .map_err(|e| PersistError::io("removing", path, e))?;
        removed = true;
    }
    let names = fs
        .list(dir)
        .map_err(|e| PersistError::io("listing", dir, e))?;
    for n in names
        .iter()
        .filter(|n| n.starts_with("snap-") && n.ends_with(".kvs.tmp"))
    {
        let path = dir.join(n);
        fs.remove(&path)
            .map_err(|e| PersistError::io("removing", &path, e))?;
        removed = true;
    }
    if removed {
        fs.sync_dir(dir)
            .map_err(|e| PersistError::io("syncing directory", dir, e))?;
    }
    Ok(if snaps.len() >= keep && keep > 0 {
        Some(snaps[keep - 1].0)
    } else {
        None
    })
}

#[cfg(test)]
mod tests;
