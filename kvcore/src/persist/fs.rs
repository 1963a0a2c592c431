//! The narrow file-system seam beneath the log and the snapshots.
//!
//! Everything persistent goes through [`FileSystem`] and [`FileHandle`], so tests can swap the real
//! disk ([`RealFs`]) for [`FaultFs`], an in-memory model that separates what a process has written
//! from what is durable, and that can fail the Nth write, fail an fsync, run out of space halfway
//! through a write, or "crash" (forget everything not yet synced).

use std::collections::HashMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::ops::Deref;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

/// The file operations the log and snapshots need, and no more.
pub(crate) trait FileSystem: Send + Sync + fmt::Debug {
    /// Creates (or truncates) a file for writing.
    fn create(&self, path: &Path) -> io::Result<Box<dyn FileHandle>>;
    /// Opens an existing file for writing; appends go to its end.
    fn open(&self, path: &Path) -> io::Result<Box<dyn FileHandle>>;
    /// Reads a whole file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Maps a whole file read-only (a copy where there is no real file to map).
    fn map(&self, path: &Path) -> io::Result<Mapped>;
    /// Renames a file; durable only after [`FileSystem::sync_dir`] of its directory.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes the directory's entries (creations, renames, removals) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Lists the plain file names in a directory.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Removes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Cuts a file to `len` bytes and syncs it.
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()>;
    /// Creates a directory and its parents.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
}

/// An open file that the log or a snapshot writer writes into.
pub(crate) trait FileHandle: Send + fmt::Debug {
    /// Writes all of `buf` at the end of the file.
    fn append(&mut self, buf: &[u8]) -> io::Result<()>;
    /// Writes all of `buf` at `offset`.
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()>;
    /// Makes the file's data durable (`fdatasync`).
    fn sync_data(&mut self) -> io::Result<()>;
    /// The file's current length.
    fn len(&self) -> io::Result<u64>;
}

/// A read-only view of a whole file: a memory map on the real file system.
pub(crate) enum Mapped {
    /// A memory-mapped file.
    Map(memmap2::Mmap),
    /// A copy (empty files, and file systems without real files).
    Owned(Vec<u8>),
}

impl Deref for Mapped {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Mapped::Map(m) => m,
            Mapped::Owned(v) => v,
        }
    }
}

impl fmt::Debug for Mapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mapped({} bytes)", self.len())
    }
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RealFs;

#[derive(Debug)]
struct RealFile(File);

impl FileHandle for RealFile {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf)
    }
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()> {
        self.0.write_all_at(buf, offset)
    }
    fn sync_data(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
}

impl FileSystem for RealFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn FileHandle>> {
        let f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(path)?;
        Ok(Box::new(RealFile(f)))
    }
    fn open(&self, path: &Path) -> io::Result<Box<dyn FileHandle>> {
        let f = OpenOptions::new().append(true).open(path)?;
        Ok(Box::new(RealFile(f)))
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }
    fn map(&self, path: &Path) -> io::Result<Mapped> {
        let f = File::open(path)?;
        if f.metadata()?.len() == 0 {
            return Ok(Mapped::Owned(Vec::new()));
        }
        // SAFETY: the map is read-only and the files we map (snapshots, sealed or recovering log
        // segments) are never written while mapped: snapshots are immutable once renamed into
        // place, and the log is only read before the store opens it for appending (recovery,
        // `check`). Truncation of a mapped file by another process would be outside our contract
        // (the data directory belongs to one store).
        let map = unsafe { memmap2::Mmap::map(&f)? };
        Ok(Mapped::Map(map))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file()
                && let Ok(name) = entry.file_name().into_string()
            {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let f = OpenOptions::new().write(true).open(path)?;
        f.set_len(len)?;
        f.sync_all()
    }
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }
}

/// One file of the fault model: what the process sees and what would survive a crash.
#[derive(Debug, Default)]
struct Node {
    data: Vec<u8>,
    durable: Vec<u8>,
    /// After a failed fsync the kernel may mark dirty pages clean without writing them: bytes in
    /// `lost` never reach the disk, even if a later fsync "succeeds".
    lost: Option<(usize, usize)>,
}

impl Node {
    fn sync(&mut self) {
        let mut durable = self.data.clone();
        if let Some((from, to)) = self.lost {
            let to = to.min(durable.len());
            for b in durable.iter_mut().take(to).skip(from) {
                *b = 0;
            }
        }
        self.durable = durable;
    }
}

#[derive(Debug, Default)]
struct FaultState {
    /// The namespace the process sees.
    names: HashMap<PathBuf, Arc<Mutex<Node>>>,
    /// The namespace that would survive a crash (as of the last directory sync).
    durable_names: HashMap<PathBuf, Arc<Mutex<Node>>>,
    writes: u64,
    syncs: u64,
    fail_write_at: Option<u64>,
    fail_next_syncs: u32,
    capacity: Option<u64>,
}

impl FaultState {
    fn used(&self) -> u64 {
        self.names
            .values()
            .map(|n| n.lock().data.len() as u64)
            .sum()
    }
}

/// An in-memory file system with injectable faults, for tests.
///
/// Clones share the same files. Data written is visible at once but is durable only after
/// `sync_data` (file contents) and `sync_dir` (names); [`FaultFs::crash`] throws away everything
/// else, as a power cut would.
#[derive(Debug, Default, Clone)]
pub(crate) struct FaultFs {
    state: Arc<Mutex<FaultState>>,
}

fn enospc() -> io::Error {
    io::Error::from_raw_os_error(28)
}

fn injected(what: &str) -> io::Error {
    io::Error::other(format!("injected {what} failure"))
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{} not found", path.display()),
    )
}

impl FaultFs {
    /// A new, empty file system.
    pub(crate) fn new() -> FaultFs {
        FaultFs::default()
    }

    /// Makes the `n`th write from now (1 = the next one) fail without writing anything.
    pub(crate) fn fail_nth_write(&self, n: u64) {
        let mut s = self.state.lock();
        s.fail_write_at = Some(s.writes + n);
    }

    /// Makes the next `n` file syncs fail; the data they should have made durable is lost.
    pub(crate) fn fail_syncs(&self, n: u32) {
        self.state.lock().fail_next_syncs = n;
    }

    /// Limits the total bytes of all files; a write that crosses the limit writes what fits (a
    /// torn write) and fails with `ENOSPC`.
    pub(crate) fn set_capacity(&self, bytes: Option<u64>) {
        self.state.lock().capacity = bytes;
    }

    /// How many file syncs (`sync_data`) have succeeded so far.
    pub(crate) fn syncs(&self) -> u64 {
        self.state.lock().syncs
    }

    /// Simulates a power cut: every file and name goes back to its last synced state. Handles
    /// opened before the crash keep writing into files nobody can see any more.
    pub(crate) fn crash(&self) {
        let mut s = self.state.lock();
        let mut names = HashMap::new();
        for (path, node) in &s.durable_names {
            let durable = node.lock().durable.clone();
            let fresh = Node {
                data: durable.clone(),
                durable,
                lost: None,
            };
            names.insert(path.clone(), Arc::new(Mutex::new(fresh)));
        }
        s.durable_names = names.clone();
        s.names = names;
    }

    /// The visible contents of a file (tests inspect and damage files through this).
    pub(crate) fn contents(&self, path: &Path) -> Option<Vec<u8>> {
        self.state
            .lock()
            .names
            .get(path)
            .map(|n| n.lock().data.clone())
    }

    /// Replaces a file's contents, durably (tests use it to plant corruption).
    pub(crate) fn put(&self, path: &Path, data: Vec<u8>) {
        let mut s = self.state.lock();
        let node = Arc::new(Mutex::new(Node {
            durable: data.clone(),
            data,
            lost: None,
        }));
        s.names.insert(path.to_path_buf(), node.clone());
        s.durable_names.insert(path.to_path_buf(), node);
    }

    fn node(&self, path: &Path) -> io::Result<Arc<Mutex<Node>>> {
        self.state
            .lock()
            .names
            .get(path)
            .cloned()
            .ok_or_else(|| not_found(path))
    }
}

#[derive(Debug)]
struct FaultFile {
    fs: FaultFs,
    node: Arc<Mutex<Node>>,
}

impl FaultFile {
    fn write(&mut self, offset: Option<u64>, buf: &[u8]) -> io::Result<()> {
        let mut s = self.fs.state.lock();
        s.writes += 1;
        if s.fail_write_at == Some(s.writes) {
            s.fail_write_at = None;
            return Err(injected("write"));
        }
        let node = self.node.lock();
        let start = offset.map_or(node.data.len(), |o| o as usize);
        let end = start + buf.len();
        let growth = end.saturating_sub(node.data.len()) as u64;
        drop(node);
        let (fits, full) = match s.capacity {
            Some(cap) => {
                let free = cap.saturating_sub(s.used());
                if growth > free {
                    ((buf.len() as u64 - (growth - free)) as usize, true)
                } else {
                    (buf.len(), false)
                }
            }
            None => (buf.len(), false),
        };
        let mut node = self.node.lock();
        if node.data.len() < start + fits {
            node.data.resize(start + fits, 0);
        }
        node.data[start..start + fits].copy_from_slice(&buf[..fits]);
        if full { Err(enospc()) } else { Ok(()) }
    }
}

impl FileHandle for FaultFile {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        self.write(None, buf)
    }
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()> {
        self.write(Some(offset), buf)
    }
    fn sync_data(&mut self) -> io::Result<()> {
        let mut s = self.fs.state.lock();
        let mut node = self.node.lock();
        if s.fail_next_syncs > 0 {
            s.fail_next_syncs -= 1;
            let from = node.durable.len();
            let to = node.data.len();
            node.lost = Some(match node.lost {
                Some((a, b)) => (a.min(from), b.max(to)),
                None => (from, to),
            });
            return Err(injected("fsync"));
        }
        s.syncs += 1;
        node.sync();
        Ok(())
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.node.lock().data.len() as u64)
    }
}

impl FileSystem for FaultFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn FileHandle>> {
        let node = Arc::new(Mutex::new(Node::default()));
        self.state
            .lock()
            .names
            .insert(path.to_path_buf(), node.clone());
        Ok(Box::new(FaultFile {
            fs: self.clone(),
            node,
        }))
    }
    fn open(&self, path: &Path) -> io::Result<Box<dyn FileHandle>> {
        let node = self.node(path)?;
        Ok(Box::new(FaultFile {
            fs: self.clone(),
            node,
        }))
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        Ok(self.node(path)?.lock().data.clone())
    }
    fn map(&self, path: &Path) -> io::Result<Mapped> {
        self.read(path).map(Mapped::Owned)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut s = self.state.lock();
        let node = s.names.remove(from).ok_or_else(|| not_found(from))?;
        s.names.insert(to.to_path_buf(), node);
        Ok(())
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.state.lock();
        if s.fail_next_syncs > 0 {
            s.fail_next_syncs -= 1;
            return Err(injected("directory fsync"));
        }
        s.durable_names.retain(|p, _| p.parent() != Some(dir));
        let in_dir: Vec<_> = s
            .names
            .iter()
            .filter(|(p, _)| p.parent() == Some(dir))
            .map(|(p, n)| (p.clone(), n.clone()))
            .collect();
        s.durable_names.extend(in_dir);
        Ok(())
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let s = self.state.lock();
        let mut names: Vec<String> = s
            .names
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
            .collect();
        names.sort();
        Ok(names)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        self.state
            .lock()
            .names
            .remove(path)
            .map(|_| ())
            .ok_or_else(|| not_found(path))
    }
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let node = self.node(path)?;
        let mut node = node.lock();
        node.data.truncate(len as usize);
        node.sync();
        Ok(())
    }
    fn create_dir_all(&self, _dir: &Path) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PathBuf {
        PathBuf::from("/d").join(s)
    }

    #[test]
    fn unsynced_data_and_names_vanish_in_a_crash() {
        let fs = FaultFs::new();
        let mut f = fs.create(&p("a")).unwrap();
        f.append(b"hello").unwrap();
        f.sync_data().unwrap();
        fs.sync_dir(Path::new("/d")).unwrap();
        f.append(b" world").unwrap();
        let mut g = fs.create(&p("b")).unwrap();
        g.append(b"x").unwrap();
        g.sync_data().unwrap(); // synced data, but the name was never made durable
        fs.crash();
        assert_eq!(fs.contents(&p("a")).unwrap(), b"hello");
        assert_eq!(fs.contents(&p("b")), None);
        assert_eq!(fs.list(Path::new("/d")).unwrap(), vec!["a".to_string()]);
    }

    #[test]
    fn nth_write_fails_and_writes_nothing() {
        let fs = FaultFs::new();
        let mut f = fs.create(&p("a")).unwrap();
        fs.fail_nth_write(2);
        f.append(b"one").unwrap();
        assert!(f.append(b"two").is_err());
        f.append(b"three").unwrap();
        assert_eq!(fs.contents(&p("a")).unwrap(), b"onethree");
    }

    #[test]
    fn full_disk_tears_the_write() {
        let fs = FaultFs::new();
        fs.set_capacity(Some(6));
        let mut f = fs.create(&p("a")).unwrap();
        f.append(b"abcd").unwrap();
        let err = f.append(b"efgh").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(28));
        assert_eq!(fs.contents(&p("a")).unwrap(), b"abcdef");
    }

    #[test]
    fn failed_fsync_loses_the_data_even_after_a_later_successful_one() {
        let fs = FaultFs::new();
        let mut f = fs.create(&p("a")).unwrap();
        fs.sync_dir(Path::new("/d")).unwrap();
        f.append(b"safe").unwrap();
        f.sync_data().unwrap();
        f.append(b"gone").unwrap();
        fs.fail_syncs(1);
        assert!(f.sync_data().is_err());
        f.sync_data().unwrap();
        fs.crash();
        assert_eq!(fs.contents(&p("a")).unwrap(), b"safe\0\0\0\0");
    }

    #[test]
    fn real_fs_round_trip_and_map() {
        let dir = std::env::temp_dir().join(format!("kv-fs-test-{}", std::process::id()));
        let fs = RealFs;
        fs.create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        let mut f = fs.create(&path).unwrap();
        f.append(b"abc").unwrap();
        f.write_at(1, b"X").unwrap();
        f.sync_data().unwrap();
        assert_eq!(f.len().unwrap(), 3);
        assert_eq!(&*fs.map(&path).unwrap(), b"aXc");
        fs.truncate(&path, 1).unwrap();
        assert_eq!(fs.read(&path).unwrap(), b"a");
        fs.rename(&path, &dir.join("g")).unwrap();
        fs.sync_dir(&dir).unwrap();
        assert_eq!(fs.list(&dir).unwrap(), vec!["g".to_string()]);
        fs.remove(&dir.join("g")).unwrap();
        std::fs::remove_dir(&dir).unwrap();
    }
}
