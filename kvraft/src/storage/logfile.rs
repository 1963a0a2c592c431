//! The log file: appending records to it, writing a new generation of it, and reading it back
//! at open (docs/format.md, *The Raft log*).

use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use super::file;
use super::record::{self, Record};
use super::state::State;
use crate::error::{Error, Result};

/// The zeros the log file gains past its records whenever a write passes its end (see
/// `Writer::fill_zeros`): one file size change per MiB of log instead of one per write.
pub(crate) const ZERO_STEP: u64 = 1 << 20;

/// The log file being appended to.
#[derive(Debug)]
pub(crate) struct Writer {
    pub(crate) file: File,
    pub(crate) path: PathBuf,
    pub(crate) generation: u64,
    /// The offset after the last record: where the next one goes.
    pub(crate) len: u64,
    /// The file's length: `len`, or more when zeros follow the records ([`ZERO_STEP`]).
    pub(crate) frontier: u64,
    pub(crate) next_seq: u64,
    /// Records were written since the last sync.
    pub(crate) pending: bool,
    /// A write or sync failed: the file's state is unknown, so nothing more is written.
    pub(crate) failed: bool,
    pub(crate) buf: Vec<u8>,
}

impl Writer {
    /// Writes `records` at the end of the file (one write), not synced.
    pub(crate) fn write(&mut self, records: impl IntoIterator<Item = Record>) -> Result<()> {
        if self.failed {
            return Err(Error::Failed);
        }
        self.buf.clear();
        let mut seq = self.next_seq;
        for r in records {
            record::put(&mut self.buf, seq, &r)?;
            seq += 1;
        }
        if self.buf.is_empty() {
            return Ok(());
        }
        let written = file::fault(file::Fault::Write)
            .and_then(|()| self.file.write_all_at(&self.buf, self.len));
        if let Err(e) = written {
            self.failed = true;
            return Err(Error::io(format!("writing {}", self.path.display()), e));
        }
        self.len += self.buf.len() as u64;
        self.frontier = self.frontier.max(self.len);
        self.next_seq = seq;
        self.pending = true;
        if self.buf.capacity() > 4 << 20 {
            self.buf = Vec::new();
        }
        if self.frontier == self.len {
            self.fill_zeros();
        }
        Ok(())
    }

    /// Extends the file past its records with zeros up to the next multiple of
    /// [`ZERO_STEP`], so that the next writes land in blocks the file already has: their
    /// fdatasyncs then write data only, where an append must also commit the file's new
    /// size and blocks through the file system's journal, which at times takes tens of
    /// milliseconds on a busy disk (the tail of every write's latency). The next sync makes
    /// the zeros durable with the records; recovery reads them as the end of the log
    /// (docs/format.md, *The Raft log*).
    ///
    /// A fill that fails (a full disk) is not a failed write: the zeros only save the
    /// journal's work, and whatever part of them landed is zeros too.
    fn fill_zeros(&mut self) {
        static ZEROS: [u8; 64 << 10] = [0; 64 << 10];
        let target = (self.len / ZERO_STEP + 1) * ZERO_STEP;
        while self.frontier < target {
            let n = (target - self.frontier).min(ZEROS.len() as u64) as usize;
            let filled = file::fault(file::Fault::Write)
                .and_then(|()| self.file.write_all_at(&ZEROS[..n], self.frontier));
            if let Err(e) = filled {
                log::debug!(
                    "raft log {}: zeros ahead of the records not written: {e}",
                    self.path.display()
                );
                let len = self.file.metadata().map_or(self.frontier, |m| m.len());
                self.frontier = self.frontier.max(len);
                return;
            }
            self.frontier += n as u64;
        }
    }

    pub(crate) fn sync(&mut self) -> Result<bool> {
        if self.failed {
            return Err(Error::Failed);
        }
        if !self.pending {
            return Ok(false);
        }
        let synced = file::fault(file::Fault::Sync).and_then(|()| self.file.sync_data());
        if let Err(e) = synced {
            self.failed = true;
            return Err(Error::io(format!("syncing {}", self.path.display()), e));
        }
        self.pending = false;
        Ok(true)
    }
}

/// Writes `state` as the log file of `generation`, crash-safely (see `file::create_atomically`).
pub(crate) fn write_log(dir: &Path, generation: u64, state: &State) -> Result<Writer> {
    let mut len = record::HEADER_LEN as u64;
    let mut seq = 1;
    let file = file::create_atomically(dir, &file::log_name(generation), |f| {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        w.write_all(&record::header(generation))?;
        let mut buf = Vec::new();
        for r in state.records() {
            buf.clear();
            record::put(&mut buf, seq, &r).map_err(std::io::Error::other)?;
            w.write_all(&buf)?;
            len += buf.len() as u64;
            seq += 1;
        }
        w.flush()
    })?;
    Ok(Writer {
        file,
        path: dir.join(file::log_name(generation)),
        generation,
        len,
        frontier: len,
        next_seq: seq,
        pending: false,
        failed: false,
        buf: Vec::new(),
    })
}

/// Reads back the log of `generation` and checks the snapshot it names.
pub(crate) fn recover(dir: &Path, generation: u64) -> Result<(State, Writer)> {
    let path = dir.join(file::log_name(generation));
    let corrupt = |(offset, reason)| Error::Corrupt {
        file: path.clone(),
        offset,
        reason,
    };
    let io = |what: &str, e| Error::io(format!("{what} {}", path.display()), e);
    let data = std::fs::read(&path).map_err(|e| io("reading", e))?;
    let r = record::replay(&data, generation).map_err(corrupt)?;
    let mut frontier = data.len() as u64;
    drop(data);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| io("opening", e))?;
    if let Some(reason) = &r.torn {
        log::warn!(
            "raft log {}: cutting a torn tail at offset {} ({reason})",
            path.display(),
            r.end
        );
        file.set_len(r.end as u64)
            .map_err(|e| io("truncating", e))?;
        file.sync_all().map_err(|e| io("syncing", e))?;
        frontier = r.end as u64;
    }
    let (index, term) = r.state.snap;
    if index != 0 {
        let snap_path = dir.join(file::snap_name(index));
        let (meta, _) = file::read_snapshot(&snap_path, false)?;
        if (meta.index, meta.term) != (index, term) {
            return Err(Error::Corrupt {
                file: snap_path,
                offset: 0,
                reason: format!(
                    "it holds index {} term {}, the log names index {index} term {term}",
                    meta.index, meta.term
                ),
            });
        }
    }
    let writer = Writer {
        file,
        path: path.clone(),
        generation,
        len: r.end as u64,
        frontier,
        next_seq: r.next_seq,
        pending: false,
        failed: false,
        buf: Vec::new(),
    };
    Ok((r.state, writer))
}

pub(crate) fn remove_stale(
    dir: &Path,
    listing: &file::Listing,
    generation: u64,
    snap: u64,
) -> Result<()> {
    for &g in listing.logs.iter().filter(|&&g| g != generation) {
        file::remove(&file::path(dir, &file::log_name(g)))?;
    }
    for &i in listing.snaps.iter().filter(|&&i| i != snap) {
        file::remove(&file::path(dir, &file::snap_name(i)))?;
    }
    Ok(())
}
