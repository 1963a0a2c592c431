//! Snapshots that travel as files: the descriptor raft-rs carries in place of a snapshot's
//! data ([`SnapshotRef`]), the file a receiver writes chunk by chunk ([`Incoming`]), and a
//! reader over a snapshot's data ([`SnapshotReader`]). The formats are in docs/format.md,
//! *The Raft log*.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use raft::eraftpb::SnapshotMetadata;

use super::file::{self, SNAP_FOOTER, SNAP_HEADER};
use crate::error::{Error, Result};

const REF_MAGIC: &[u8; 8] = b"KVSNAPRF";
const REF_VERSION: u32 = 1;
/// The descriptor's length without the file name.
const REF_LEN: usize = 8 + 4 + 8 + 8 + 8 + 4 + 2;

/// What a snapshot's `data` holds inside raft-rs (its messages, `Storage::snapshot`, `Ready`):
/// not the bytes but a descriptor of the snapshot file. On the sender `file` is empty (the
/// file is `snap-<index>.raftsnap` in its log directory); on the receiver it names the file
/// the chunks were written to, in the receiver's log directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SnapshotRef {
    pub(crate) index: u64,
    pub(crate) term: u64,
    /// The whole file's length in bytes.
    pub(crate) len: u64,
    /// The file footer's CRC of its metadata and data.
    pub(crate) crc: u32,
    pub(crate) file: String,
}

impl SnapshotRef {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(REF_LEN + self.file.len());
        out.extend_from_slice(REF_MAGIC);
        out.extend_from_slice(&REF_VERSION.to_le_bytes());
        out.extend_from_slice(&self.index.to_le_bytes());
        out.extend_from_slice(&self.term.to_le_bytes());
        out.extend_from_slice(&self.len.to_le_bytes());
        out.extend_from_slice(&self.crc.to_le_bytes());
        // A received file's name is ours (`file::recv_name`): short.
        out.extend_from_slice(&(self.file.len() as u16).to_le_bytes());
        out.extend_from_slice(self.file.as_bytes());
        out
    }

    /// Decodes a descriptor; `None` if `data` is not one, or names a file that is not a
    /// received snapshot's (a peer's message cannot point the store at any other file).
    pub(crate) fn decode(data: &[u8]) -> Option<SnapshotRef> {
        if data.len() < REF_LEN || &data[..8] != REF_MAGIC {
            return None;
        }
        let u64_at = |at: usize| u64::from_le_bytes(data[at..at + 8].try_into().expect("8"));
        let u32_at = |at: usize| u32::from_le_bytes(data[at..at + 4].try_into().expect("4"));
        if u32_at(8) != REF_VERSION {
            return None;
        }
        let name_len = u16::from_le_bytes(data[REF_LEN - 2..REF_LEN].try_into().expect("2"));
        if data.len() != REF_LEN + usize::from(name_len) {
            return None;
        }
        let file = std::str::from_utf8(&data[REF_LEN..]).ok()?.to_string();
        if !file.is_empty() && !file::is_recv_name(&file) {
            return None;
        }
        let len = u64_at(28);
        if len < SNAP_HEADER + SNAP_FOOTER {
            return None;
        }
        Some(SnapshotRef {
            index: u64_at(12),
            term: u64_at(20),
            len,
            crc: u32_at(36),
            file,
        })
    }
}

/// A snapshot file being received: chunks are written to `recv-<index>-<n>.raftsnap.tmp`
/// as they arrive (never held together in memory), and [`Incoming::finish`] checks the
/// whole file against the sender's descriptor. Dropped unfinished, the file is removed.
#[derive(Debug)]
pub(crate) struct Incoming {
    _claim: Claim,
    file: File,
    path: PathBuf,
    want: SnapshotRef,
    local: String,
    got: u64,
    header: [u8; SNAP_HEADER as usize],
    footer: [u8; SNAP_FOOTER as usize],
    body: crc32fast::Hasher,
    done: bool,
}

impl Incoming {
    /// Creates the file `name` in `dir` for a snapshot described by `want`, holding `claim`
    /// on the disk space it needs until the transfer ends.
    pub(crate) fn create(
        dir: &Path,
        name: String,
        want: SnapshotRef,
        claim: Claim,
    ) -> Result<Incoming> {
        let path = dir.join(&name);
        let file = std::fs::OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
        Ok(Incoming {
            _claim: claim,
            file,
            path,
            want,
            local: name,
            got: 0,
            header: [0; SNAP_HEADER as usize],
            footer: [0; SNAP_FOOTER as usize],
            body: crc32fast::Hasher::new(),
            done: false,
        })
    }

    /// Bytes still expected.
    pub(crate) fn left(&self) -> u64 {
        self.want.len - self.got
    }

    /// Writes the next bytes of the file.
    ///
    /// # Errors
    /// [`Error::Invalid`] for bytes past the announced length; [`Error::Io`].
    pub(crate) fn write(&mut self, chunk: &[u8]) -> Result<()> {
        let (start, len) = (self.got, self.want.len);
        let end = start + chunk.len() as u64;
        if end > len {
            return Err(Error::Invalid(format!(
                "a snapshot of {len} bytes was sent {} more",
                end - len
            )));
        }
        // The header and footer are kept aside to be checked; the CRC covers what is between.
        let body = (SNAP_HEADER, len - SNAP_FOOTER);
        for (i, b) in (start..end.min(body.0)).zip(chunk) {
            self.header[i as usize] = *b;
        }
        let (from, to) = (start.max(body.0), end.min(body.1));
        if from < to {
            self.body
                .update(&chunk[(from - start) as usize..(to - start) as usize]);
        }
        for i in start.max(body.1)..end {
            self.footer[(i - body.1) as usize] = chunk[(i - start) as usize];
        }
        self.file
            .write_all(chunk)
            .map_err(|e| Error::io(format!("writing {}", self.path.display()), e))?;
        self.got = end;
        Ok(())
    }

    /// Checks the whole file (length, header, the CRC of every metadata and data byte against
    /// its footer and the sender's descriptor) and syncs it; returns the descriptor naming
    /// it, for the store to adopt ([`super::LogStore::apply_snapshot`]).
    ///
    /// # Errors
    /// [`Error::Corrupt`] for a file that is short or fails a check (removed); [`Error::Io`].
    pub(crate) fn finish(mut self) -> Result<SnapshotRef> {
        let corrupt = |(offset, reason): (u64, String)| Error::Corrupt {
            file: self.path.clone(),
            offset,
            reason,
        };
        if self.got != self.want.len {
            return Err(corrupt((
                self.got,
                format!("cut short: {} of {} bytes", self.got, self.want.len),
            )));
        }
        file::check_header(&self.header, self.want.len).map_err(corrupt)?;
        let crc = file::check_footer(&self.footer, self.want.len).map_err(corrupt)?;
        let body = self.body.clone().finalize();
        if crc != body || crc != self.want.crc {
            return Err(corrupt((
                self.want.len - SNAP_FOOTER,
                format!(
                    "the metadata and data failed their checksum (computed {body:08x}, the \
                     footer says {crc:08x}, the sender {:08x})",
                    self.want.crc
                ),
            )));
        }
        self.file
            .sync_all()
            .map_err(|e| Error::io(format!("syncing {}", self.path.display()), e))?;
        self.done = true;
        Ok(SnapshotRef {
            file: self.local.clone(),
            ..self.want.clone()
        })
    }
}

/// Disk space promised to a snapshot transfer in progress, given back when it ends.
#[derive(Debug)]
pub(crate) struct Claim {
    pending: Arc<AtomicU64>,
    bytes: u64,
}

impl Claim {
    /// Adds `bytes` to `pending`; returns the claim and what was pending before it.
    pub(crate) fn take(pending: &Arc<AtomicU64>, bytes: u64) -> (Claim, u64) {
        let before = pending.fetch_add(bytes, Ordering::SeqCst);
        let claim = Claim {
            pending: Arc::clone(pending),
            bytes,
        };
        (claim, before)
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.pending.fetch_sub(self.bytes, Ordering::SeqCst);
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The data of a snapshot file, read in pieces, its CRC checked by
/// [`SnapshotReader::finish`] (what a host loads its state machine from).
#[derive(Debug)]
pub struct SnapshotReader {
    file: io::Take<File>,
    path: PathBuf,
    meta: SnapshotMetadata,
    crc: u32,
    body: crc32fast::Hasher,
    size: u64,
}

impl SnapshotReader {
    pub(crate) fn new(s: file::SnapFile) -> SnapshotReader {
        SnapshotReader {
            file: s.file.take(s.data_len),
            path: s.path,
            meta: s.meta,
            crc: s.crc,
            body: s.body,
            size: s.size,
        }
    }

    /// The snapshot's metadata (index, term, configuration state).
    pub fn metadata(&self) -> &SnapshotMetadata {
        &self.meta
    }

    /// Reads what is left of the data and checks the CRC of the whole.
    ///
    /// # Errors
    /// [`Error::Corrupt`] if the data fails its checksum; [`Error::Io`].
    pub fn finish(mut self) -> Result<()> {
        let mut buf = vec![0; 64 << 10];
        loop {
            match self.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return Err(Error::io(format!("reading {}", self.path.display()), e)),
            }
        }
        if self.body.clone().finalize() != self.crc {
            return Err(Error::Corrupt {
                file: self.path,
                offset: self.size - SNAP_FOOTER,
                reason: "the metadata and data failed their checksum".into(),
            });
        }
        Ok(())
    }
}

impl SnapshotReader {
    /// The data mapped into memory (the file's pages, not a copy), its CRC checked over the
    /// mapping first: what a host parses in place instead of reading the whole into a buffer.
    ///
    /// # Errors
    /// [`Error::Corrupt`] if the data fails its checksum; [`Error::Io`].
    pub fn map(self) -> Result<MappedSnapshot> {
        use std::io::Seek as _;
        let io = |e| Error::io(format!("mapping {}", self.path.display()), e);
        let len = usize::try_from(self.file.limit()).map_err(|_| Error::TooLarge {
            what: "snapshot",
            len: usize::MAX,
        })?;
        let mut file = self.file.into_inner();
        let start = file.stream_position().map_err(io)?;
        let map = if len == 0 {
            None
        } else {
            // SAFETY: a snapshot file is written whole, synced and renamed into place before
            // anything reads it, and never written or truncated afterwards (a newer snapshot is
            // a new file; removing this one leaves the mapping valid), so the mapped bytes do
            // not change under the reader.
            Some(
                unsafe {
                    memmap2::MmapOptions::new()
                        .offset(start)
                        .len(len)
                        .map(&file)
                }
                .map_err(io)?,
            )
        };
        let mut body = self.body;
        body.update(map.as_deref().unwrap_or_default());
        if body.finalize() != self.crc {
            return Err(Error::Corrupt {
                file: self.path,
                offset: self.size - SNAP_FOOTER,
                reason: "the metadata and data failed their checksum".into(),
            });
        }
        Ok(MappedSnapshot {
            map,
            meta: self.meta,
        })
    }
}

/// A snapshot's data mapped into memory, its CRC checked ([`SnapshotReader::map`]).
#[derive(Debug)]
pub struct MappedSnapshot {
    map: Option<memmap2::Mmap>,
    meta: SnapshotMetadata,
}

impl MappedSnapshot {
    /// The snapshot's metadata (index, term, configuration state).
    pub fn metadata(&self) -> &SnapshotMetadata {
        &self.meta
    }

    /// The snapshot's data.
    pub fn data(&self) -> &[u8] {
        self.map.as_deref().unwrap_or_default()
    }
}

impl Read for SnapshotReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        self.body.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_descriptor_round_trips_and_names_only_received_files() {
        let sent = SnapshotRef {
            index: 7,
            term: 3,
            len: 1 << 40,
            crc: 0xdead_beef,
            file: String::new(),
        };
        let bytes = sent.encode();
        assert_eq!(bytes.len(), REF_LEN);
        assert_eq!(SnapshotRef::decode(&bytes), Some(sent.clone()));
        let local = SnapshotRef {
            file: file::recv_name(7, 12),
            ..sent.clone()
        };
        assert_eq!(SnapshotRef::decode(&local.encode()), Some(local));
        for name in [
            "../LOCK",
            "log-00000000000000000001.raftlog",
            "recv-7-1.raftsnap.tmp",
        ] {
            let bad = SnapshotRef {
                file: name.into(),
                ..sent.clone()
            };
            assert_eq!(SnapshotRef::decode(&bad.encode()), None, "{name}");
        }
        // Snapshot bytes (what the data held before descriptors) are not a descriptor.
        assert_eq!(
            SnapshotRef::decode(b"KVRAFTSN and more bytes than that"),
            None
        );
        assert_eq!(SnapshotRef::decode(&bytes[..bytes.len() - 1]), None);
    }
}
