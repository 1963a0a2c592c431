//! `FaultFs`: an in-memory file system for tests that keeps what a process wrote apart from
//! what is durable (file data and directory entries), and injects faults.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{FileHandle, FileSystem, Mapped, WINDOW_ALIGN, Window};

/// One file of the fault model: what the process sees and what would survive a crash.
#[derive(Debug, Default)]
struct Node {
    data: Vec<u8>,
    durable: Vec<u8>,
    /// The byte range written since the last sync (a page cache's dirty pages).
    dirty: Option<(usize, usize)>,
    /// After a failed fsync the kernel may mark dirty pages clean without writing them: bytes in
    /// `lost` never reach the disk, even if a later fsync "succeeds"; the disk keeps what it
    /// held there before (zeros past its old end).
    lost: Option<(usize, usize)>,
}

fn union(a: Option<(usize, usize)>, from: usize, to: usize) -> (usize, usize) {
    match a {
        Some((x, y)) => (x.min(from), y.max(to)),
        None => (from, to),
    }
}

impl Node {
    fn sync(&mut self) {
        let mut durable = self.data.clone();
        if let Some((from, to)) = self.lost {
            let to = to.min(durable.len());
            for (i, b) in durable.iter_mut().enumerate().take(to).skip(from) {
                *b = self.durable.get(i).copied().unwrap_or(0);
            }
        }
        self.durable = durable;
        self.dirty = None;
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
                dirty: None,
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
            dirty: None,
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
    /// Writes `buf` at `start` (the end for an append). Only growth of the file takes space,
    /// so overwriting existing bytes succeeds on a full disk; a write that needs more space
    /// than is left writes what fits and fails with `ENOSPC` (a torn write).
    fn write(&mut self, start: Option<usize>, buf: &[u8]) -> io::Result<()> {
        let mut s = self.fs.state.lock();
        s.writes += 1;
        if s.fail_write_at == Some(s.writes) {
            s.fail_write_at = None;
            return Err(injected("write"));
        }
        let len = self.node.lock().data.len();
        let start = start.unwrap_or(len);
        let end = start + buf.len();
        let growth = end.saturating_sub(len) as u64;
        let (fits, full) = match s.capacity {
            Some(cap) => {
                let free = cap.saturating_sub(s.used());
                if growth > free {
                    let room = (len as u64 + free).saturating_sub(start as u64) as usize;
                    (room.min(buf.len()), true)
                } else {
                    (buf.len(), false)
                }
            }
            None => (buf.len(), false),
        };
        if fits > 0 {
            let mut node = self.node.lock();
            if node.data.len() < start + fits {
                // A gap between the old end and `start` reads as zeros, like a sparse file.
                node.data.resize(start + fits, 0);
            }
            node.data[start..start + fits].copy_from_slice(&buf[..fits]);
            let from = start.min(len);
            node.dirty = Some(union(node.dirty, from, start + fits));
        }
        if full { Err(enospc()) } else { Ok(()) }
    }
}

impl FileHandle for FaultFile {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        self.write(None, buf)
    }
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| enospc())?;
        self.write(Some(start), buf)
    }
    fn sync_data(&mut self) -> io::Result<()> {
        let mut s = self.fs.state.lock();
        let mut node = self.node.lock();
        if s.fail_next_syncs > 0 {
            s.fail_next_syncs -= 1;
            // Linux marks the dirty pages clean and forgets them: the file keeps its new
            // length, but what was written since the last good sync never reaches the disk.
            if let Some((from, to)) = node.dirty.take() {
                node.lost = Some(union(node.lost, from, to));
            }
            return Err(injected("fsync"));
        }
        s.syncs += 1;
        node.sync();
        Ok(())
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.node.lock().data.len() as u64)
    }
    fn try_clone(&self) -> io::Result<Box<dyn FileHandle>> {
        Ok(Box::new(FaultFile {
            fs: self.fs.clone(),
            node: self.node.clone(),
        }))
    }
    fn window(&mut self, offset: u64, len: usize) -> io::Result<Box<dyn Window>> {
        let start = usize::try_from(offset).map_err(|_| enospc())?;
        let in_file = start
            .checked_add(len)
            .is_some_and(|end| end <= self.node.lock().data.len());
        if !offset.is_multiple_of(WINDOW_ALIGN) || !in_file {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "window unaligned or past the end",
            ));
        }
        Ok(Box::new(FaultWindow {
            node: self.node.clone(),
            start,
            len,
        }))
    }
}

/// A [`Window`] of the fault model: what is put there is written at once (the process's view,
/// like a shared mapping's page cache) but durable only after a sync. It takes no space and
/// never fails, as stores into a mapping of already allocated blocks do not.
#[derive(Debug)]
struct FaultWindow {
    node: Arc<Mutex<Node>>,
    start: usize,
    len: usize,
}

impl Window for FaultWindow {
    fn len(&self) -> usize {
        self.len
    }
    fn put(&mut self, at: usize, buf: &[u8]) {
        assert!(at + buf.len() <= self.len, "put past the window's end");
        let mut node = self.node.lock();
        let from = self.start + at;
        node.data[from..from + buf.len()].copy_from_slice(buf);
        node.dirty = Some(union(node.dirty, from, from + buf.len()));
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
    fn map(&self, path: &Path) -> io::Result<Mapped> {
        Ok(Mapped::Owned(self.node(path)?.lock().data.clone()))
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
