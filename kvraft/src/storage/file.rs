//! Files of the raft directory: names, the lock, crash-safe replacement (temp, fsync, rename,
//! fsync the directory), and the snapshot file (docs/format.md, *The Raft log*).

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use protobuf::Message as _;
use raft::eraftpb::{Snapshot, SnapshotMetadata};

use crate::error::{Error, Result};

const SNAP_MAGIC: &[u8; 8] = b"KVRAFTSN";
const SNAP_VERSION: u32 = 1;
pub(crate) const SNAP_HEADER: u64 = 32;
pub(crate) const SNAP_FOOTER: u64 = 8;

/// `log-<generation>.raftlog`.
pub(crate) fn log_name(generation: u64) -> String {
    format!("log-{generation:020}.raftlog")
}

/// `snap-<index>.raftsnap`.
pub(crate) fn snap_name(index: u64) -> String {
    format!("snap-{index:020}.raftsnap")
}

/// `recv-<index>-<n>.raftsnap.tmp`: a snapshot being received from the leader (or received
/// whole and waiting to be adopted); `n` tells apart transfers of one process.
pub(crate) fn recv_name(index: u64, n: u64) -> String {
    format!("recv-{index:020}-{n}.raftsnap.tmp")
}

/// Whether `name` is one [`recv_name`] makes (a name a peer's message may not choose freely).
pub(crate) fn is_recv_name(name: &str) -> bool {
    let Some(rest) = name
        .strip_prefix("recv-")
        .and_then(|r| r.strip_suffix(".raftsnap.tmp"))
    else {
        return false;
    };
    let Some((index, n)) = rest.split_once('-') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    index.len() == 20 && digits(index) && digits(n)
}

/// What the directory holds: log generations and snapshot indexes, each sorted.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    pub(crate) logs: Vec<u64>,
    pub(crate) snaps: Vec<u64>,
}

/// Lists the directory, removing leftover `*.tmp` files (never read: a temp file becomes a
/// real one only by its rename).
pub(crate) fn list(dir: &Path) -> Result<Listing> {
    let io = |e| Error::io(format!("listing {}", dir.display()), e);
    let mut l = Listing::default();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let name = entry.map_err(io)?.file_name();
        let Some(name) = name.to_str() else { continue };
        let number = |prefix: &str, suffix: &str| {
            let digits = name.strip_prefix(prefix)?.strip_suffix(suffix)?;
            (digits.len() == 20).then(|| digits.parse::<u64>().ok())?
        };
        let ours = ["log-", "snap-", "recv-"]
            .iter()
            .any(|p| name.starts_with(p));
        if name.ends_with(".tmp") && ours {
            remove(&dir.join(name))?;
        } else if let Some(g) = number("log-", ".raftlog") {
            l.logs.push(g);
        } else if let Some(i) = number("snap-", ".raftsnap") {
            l.snaps.push(i);
        }
    }
    l.logs.sort_unstable();
    l.snaps.sort_unstable();
    Ok(l)
}

pub(crate) fn remove(path: &Path) -> Result<()> {
    std::fs::remove_file(path).map_err(|e| Error::io(format!("removing {}", path.display()), e))
}

/// Takes the directory's `LOCK` file (an advisory lock the OS drops when the process dies),
/// creating the directory first.
pub(crate) fn lock_dir(dir: &Path) -> Result<File> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let path = dir.join("LOCK");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    // As in kvcore: a child another thread forked holds a copy of every descriptor until its
    // exec closes it, so a held lock is retried for up to a second before it means another
    // store has the directory.
    for _ in 0..50 {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::io(format!("locking {}", path.display()), e));
            }
        }
    }
    Err(Error::Locked(dir.to_path_buf()))
}

pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    let io = |e| Error::io(format!("syncing the directory {}", dir.display()), e);
    fault(Fault::DirSync).map_err(io)?;
    File::open(dir).map_err(io)?.sync_all().map_err(io)
}

/// A file operation that tests can make fail (see [`fault`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Writing records to the log.
    Write,
    /// Syncing the log.
    Sync,
    /// Syncing the directory (after a rename).
    DirSync,
}

#[cfg(test)]
thread_local! {
    /// The operation that fails on this thread, after how many more of its kind succeed.
    pub(crate) static FAULT: std::cell::Cell<Option<(Fault, u32)>> =
        const { std::cell::Cell::new(None) };
}

/// Fails if a test armed [`FAULT`] for `at` and its count is used up (then disarms it);
/// always `Ok` outside tests.
pub(crate) fn fault(at: Fault) -> std::io::Result<()> {
    #[cfg(test)]
    if let Some((f, n)) = FAULT.with(|c| c.get())
        && f == at
    {
        FAULT.with(|c| c.set(n.checked_sub(1).map(|n| (f, n))));
        if n == 0 {
            return Err(std::io::Error::other("injected fault"));
        }
    }
    let _ = at;
    Ok(())
}

/// Creates `dir/name` crash-safely: `write` fills `name.tmp`, which is fsynced and renamed to
/// `name`, and the directory is fsynced. Returns the file, open for writing.
pub(crate) fn create_atomically(
    dir: &Path,
    name: &str,
    write: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> Result<File> {
    let tmp = dir.join(format!("{name}.tmp"));
    let path = dir.join(name);
    let io = |what: &str, p: &Path, e| Error::io(format!("{what} {}", p.display()), e);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&tmp)
        .map_err(|e| io("creating", &tmp, e))?;
    write(&mut file).map_err(|e| io("writing", &tmp, e))?;
    file.sync_all().map_err(|e| io("syncing", &tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| io("renaming to", &path, e))?;
    sync_dir(dir)?;
    Ok(file)
}

/// A snapshot file's header for metadata and data of these lengths.
fn snap_header(meta_len: u32, data_len: u64) -> [u8; SNAP_HEADER as usize] {
    let mut header = [0u8; SNAP_HEADER as usize];
    header[..8].copy_from_slice(SNAP_MAGIC);
    header[8..12].copy_from_slice(&SNAP_VERSION.to_le_bytes());
    header[12..16].copy_from_slice(&meta_len.to_le_bytes());
    header[16..24].copy_from_slice(&data_len.to_le_bytes());
    let crc = crc32fast::hash(&header[..24]);
    header[24..28].copy_from_slice(&crc.to_le_bytes());
    header
}

fn encode_meta(meta: &SnapshotMetadata) -> Result<(Vec<u8>, u32)> {
    let meta_bytes = meta
        .write_to_bytes()
        .map_err(|e| Error::io("encoding snapshot metadata", std::io::Error::other(e)))?;
    let meta_len = u32::try_from(meta_bytes.len()).map_err(|_| Error::TooLarge {
        what: "snapshot metadata",
        len: meta_bytes.len(),
    })?;
    Ok((meta_bytes, meta_len))
}

/// Writes the snapshot file for `meta` and `data` (streamed, never copied whole), durably.
pub(crate) fn write_snapshot(dir: &Path, meta: &SnapshotMetadata, data: &[u8]) -> Result<()> {
    write_snapshot_with(dir, meta, |w| w.write_all(data))
}

/// Writes the snapshot file for `meta` durably, its data whatever `data` writes (through a
/// buffer of 1 MiB: the data is never held whole). The header, which holds the data's
/// length, is written again once that is known, before the file is synced and renamed.
pub(crate) fn write_snapshot_with(
    dir: &Path,
    meta: &SnapshotMetadata,
    data: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    use std::io::{Seek, SeekFrom};
    let (meta_bytes, meta_len) = encode_meta(meta)?;
    create_atomically(dir, &snap_name(meta.index), |file| {
        let mut w = BufWriter::with_capacity(1 << 20, &mut *file);
        w.write_all(&snap_header(meta_len, 0))?;
        w.write_all(&meta_bytes)?;
        let mut body = Hashing {
            inner: &mut w,
            crc: crc32fast::Hasher::new(),
            len: 0,
        };
        body.crc.update(&meta_bytes);
        data(&mut body)?;
        let (crc, data_len) = (body.crc.finalize(), body.len);
        w.write_all(&crc.to_le_bytes())?;
        w.write_all(&[0; 4])?;
        w.flush()?;
        drop(w);
        file.seek(SeekFrom::Start(0))?;
        file.write_all(&snap_header(meta_len, data_len))
    })?;
    Ok(())
}

/// A writer that counts and CRCs what goes through it.
struct Hashing<W> {
    inner: W,
    crc: crc32fast::Hasher,
    len: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The bytes of a snapshot file for `meta` and `data`, in memory (tests build what a peer
/// would send with it).
#[cfg(test)]
pub(crate) fn snapshot_bytes(meta: &SnapshotMetadata, data: &[u8]) -> Vec<u8> {
    let (meta_bytes, meta_len) = encode_meta(meta).expect("small metadata");
    let mut out = snap_header(meta_len, data.len() as u64).to_vec();
    out.extend_from_slice(&meta_bytes);
    out.extend_from_slice(data);
    let mut body = crc32fast::Hasher::new();
    body.update(&meta_bytes);
    body.update(data);
    out.extend_from_slice(&body.finalize().to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out
}

/// Checks a snapshot file's 32-byte header against the file's `size`: magic, header CRC,
/// reserved bytes, version, and lengths that add up to the size. Returns `meta_len` and
/// `data_len`, or the offset and reason of the first check that fails.
pub(crate) fn check_header(
    header: &[u8; SNAP_HEADER as usize],
    size: u64,
) -> std::result::Result<(u64, u64), (u64, String)> {
    if &header[..8] != SNAP_MAGIC {
        return Err((0, "not a raft snapshot file (bad magic)".into()));
    }
    let word = |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().expect("4 bytes"));
    if word(24) != crc32fast::hash(&header[..24]) {
        return Err((24, "the header failed its checksum".into()));
    }
    if word(28) != 0 {
        return Err((28, "the header's reserved bytes are not zero".into()));
    }
    if word(8) != SNAP_VERSION {
        return Err((8, format!("unsupported version {}", word(8))));
    }
    let meta_len = u64::from(word(12));
    let data_len = u64::from_le_bytes(header[16..24].try_into().expect("8 bytes"));
    let expected = SNAP_HEADER
        .checked_add(meta_len)
        .and_then(|n| n.checked_add(data_len))
        .and_then(|n| n.checked_add(SNAP_FOOTER));
    if expected != Some(size) {
        return Err((12, format!("the lengths do not add up to the size {size}")));
    }
    Ok((meta_len, data_len))
}

/// Checks a snapshot file's 8-byte footer; returns its CRC of the metadata and data.
pub(crate) fn check_footer(
    footer: &[u8; SNAP_FOOTER as usize],
    size: u64,
) -> std::result::Result<u32, (u64, String)> {
    if footer[4..] != [0; 4] {
        return Err((size - 4, "the footer's reserved bytes are not zero".into()));
    }
    Ok(u32::from_le_bytes(footer[..4].try_into().expect("4 bytes")))
}

/// A snapshot file whose size, header, footer and metadata passed their checks, positioned
/// at its first data byte. The CRC of the data is checked by whoever reads it on.
pub(crate) struct SnapFile {
    pub(crate) file: File,
    pub(crate) path: PathBuf,
    pub(crate) meta: SnapshotMetadata,
    pub(crate) data_len: u64,
    /// The whole file's length.
    pub(crate) size: u64,
    /// The footer's CRC of the metadata and data.
    pub(crate) crc: u32,
    /// The CRC of the metadata bytes, which the data's continues.
    pub(crate) body: crc32fast::Hasher,
}

/// Opens the snapshot file at `path` and checks everything but the data's CRC, reading only
/// the header, the metadata and the footer.
///
/// # Errors
/// [`Error::Corrupt`] naming the offset of the first check that fails; [`Error::Io`].
pub(crate) fn open_snapshot(path: &Path) -> Result<SnapFile> {
    use std::os::unix::fs::FileExt as _;
    let corrupt = |(offset, reason): (u64, String)| Error::Corrupt {
        file: path.to_path_buf(),
        offset,
        reason,
    };
    let io = |e| Error::io(format!("reading {}", path.display()), e);
    let mut file = File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size < SNAP_HEADER + SNAP_FOOTER {
        return Err(corrupt((0, format!("the file is only {size} bytes long"))));
    }
    let mut header = [0u8; SNAP_HEADER as usize];
    file.read_exact(&mut header).map_err(io)?;
    let (meta_len, data_len) = check_header(&header, size).map_err(corrupt)?;
    let mut footer = [0u8; SNAP_FOOTER as usize];
    file.read_exact_at(&mut footer, size - SNAP_FOOTER)
        .map_err(io)?;
    let crc = check_footer(&footer, size).map_err(corrupt)?;
    let mut body = crc32fast::Hasher::new();
    let mut meta_bytes = vec![0; meta_len as usize];
    file.read_exact(&mut meta_bytes).map_err(io)?;
    body.update(&meta_bytes);
    let meta = SnapshotMetadata::parse_from_bytes(&meta_bytes)
        .map_err(|e| corrupt((SNAP_HEADER, format!("bad metadata: {e}"))))?;
    Ok(SnapFile {
        file,
        path: path.to_path_buf(),
        meta,
        data_len,
        size,
        crc,
        body,
    })
}

/// Reads (`load`) or only checks the snapshot file at `path`: header, metadata, every data
/// byte against the footer's CRC. Returns the metadata and, when loading, the data.
///
/// # Errors
/// [`Error::Corrupt`] naming the offset of the first check that fails; [`Error::Io`].
pub(crate) fn read_snapshot(path: &Path, load: bool) -> Result<(SnapshotMetadata, Vec<u8>)> {
    let mut s = open_snapshot(path)?;
    let io = |e| Error::io(format!("reading {}", path.display()), e);
    let mut data = Vec::new();
    if load {
        let len = usize::try_from(s.data_len).map_err(|_| Error::TooLarge {
            what: "snapshot",
            len: usize::MAX,
        })?;
        data.try_reserve_exact(len)
            .map_err(|e| Error::io("reading a snapshot", std::io::Error::other(e)))?;
    }
    let mut chunk = vec![0; (1 << 20).min(s.data_len as usize)];
    let mut left = s.data_len;
    while left > 0 {
        let n = chunk.len().min(left as usize);
        s.file.read_exact(&mut chunk[..n]).map_err(io)?;
        s.body.update(&chunk[..n]);
        if load {
            data.extend_from_slice(&chunk[..n]);
        }
        left -= n as u64;
    }
    if s.crc != s.body.finalize() {
        return Err(Error::Corrupt {
            file: path.to_path_buf(),
            offset: s.size - SNAP_FOOTER,
            reason: "the metadata and data failed their checksum".into(),
        });
    }
    Ok((s.meta, data))
}

/// The snapshot at `index` in `dir`, loaded whole (its data in one buffer, moved into the
/// `Snapshot` without a copy).
pub(crate) fn load_snapshot(dir: &Path, index: u64) -> Result<Snapshot> {
    let (meta, data) = read_snapshot(&dir.join(snap_name(index)), true)?;
    let mut snap = Snapshot::default();
    snap.set_metadata(meta);
    snap.set_data(data.into());
    Ok(snap)
}

/// The path of `name` in `dir`.
pub(crate) fn path(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

/// The bytes an unprivileged process may still write on the file system that holds `dir`.
///
/// # Errors
/// [`Error::Io`] if the file system cannot say.
#[cfg(unix)]
pub(crate) fn free_space(dir: &Path) -> Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let failed = |e| Error::io(format!("reading the free space of {}", dir.display()), e);
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|e| failed(std::io::Error::other(e)))?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a NUL-terminated string and `st` points to writable memory of the
    // type statvfs fills.
    if unsafe { libc::statvfs(path.as_ptr(), st.as_mut_ptr()) } != 0 {
        return Err(failed(std::io::Error::last_os_error()));
    }
    // SAFETY: statvfs returned 0, so it filled `st`.
    let st = unsafe { st.assume_init() };
    #[allow(clippy::useless_conversion)] // The fields' widths differ between targets.
    Ok(u64::from(st.f_bavail).saturating_mul(u64::from(st.f_frsize)))
}

/// Elsewhere the free space is not checked.
#[cfg(not(unix))]
pub(crate) fn free_space(_dir: &Path) -> Result<u64> {
    Ok(u64::MAX)
}
