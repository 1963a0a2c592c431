//! The narrow file-system seam beneath the log and the snapshots.
//!
//! Everything persistent goes through [`FileSystem`] and [`FileHandle`], so tests can swap the real
//! disk ([`RealFs`]) for [`FaultFs`], an in-memory model that separates what a process has written
//! from what is durable, and that can fail the Nth write, fail an fsync, run out of space halfway
//! through a write, or "crash" (forget everything not yet synced).

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::ops::Deref;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The file operations the log and snapshots need, and no more.
pub(crate) trait FileSystem: Send + Sync + fmt::Debug {
    /// Creates (or truncates) a file for writing.
    fn create(&self, path: &Path) -> io::Result<Box<dyn FileHandle>>;
    /// Opens an existing file for writing; appends go to its end, and positioned writes
    /// ([`FileHandle::write_at`]) wherever they say.
    fn open(&self, path: &Path) -> io::Result<Box<dyn FileHandle>>;
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
    /// Writes all of `buf` at byte `offset` (`pwrite`): over existing bytes, or past the end,
    /// growing the file (a gap before `offset` reads as zeros).
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()>;
    /// Makes the file's data durable (`fdatasync`).
    fn sync_data(&mut self) -> io::Result<()>;
    /// The file's current length.
    fn len(&self) -> io::Result<u64>;
    /// A second handle on the same open file (so one thread can sync it while another holds
    /// the first).
    fn try_clone(&self) -> io::Result<Box<dyn FileHandle>>;
    /// A writable [`Window`] onto `len` bytes of the file from `offset`, a multiple of
    /// [`WINDOW_ALIGN`]. The range must already be part of the file (written, as the log's
    /// zero-filled space is), and the file must not be cut short while the window exists.
    fn window(&mut self, offset: u64, len: usize) -> io::Result<Box<dyn Window>>;
}

/// Where a [`Window`] may start: a multiple of every page size Linux uses (4, 16 and 64 KiB).
pub(crate) const WINDOW_ALIGN: u64 = 64 << 10;

/// A writable view of part of a file, shared with it: what is put there is the file's content at
/// once for every process (the page cache on a real file system), so it survives this process
/// crashing without a system call; it is durable after the file's next
/// [`FileHandle::sync_data`].
pub(crate) trait Window: Send + fmt::Debug {
    /// The window's length.
    fn len(&self) -> usize;
    /// Copies `buf` to `at` bytes from the window's start.
    ///
    /// # Panics
    /// If `at + buf.len()` is past the window's end.
    fn put(&mut self, at: usize, buf: &[u8]);
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
        // Positioned writes do not move the cursor; the end is where an append goes. (Not
        // O_APPEND: Linux's pwrite ignores the offset on such a file.)
        self.0.seek(SeekFrom::End(0))?;
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
    fn try_clone(&self) -> io::Result<Box<dyn FileHandle>> {
        Ok(Box::new(RealFile(self.0.try_clone()?)))
    }
    fn window(&mut self, offset: u64, len: usize) -> io::Result<Box<dyn Window>> {
        let file_len = self.len()?;
        let end = offset.checked_add(len as u64);
        if !offset.is_multiple_of(WINDOW_ALIGN) || end.is_none_or(|end| end > file_len) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot map {len} bytes at {offset}: unaligned or past the end"),
            ));
        }
        // SAFETY: a shared writable mapping of bytes the file already holds. The log (the only
        // user) never cuts a file short while a window onto it exists, and the data directory
        // belongs to one store (it holds the directory's lock), so no other writer changes the
        // file's size under the mapping; writes through it are plain stores into page-cache
        // pages, which other handles and processes see as file content.
        let map = unsafe {
            memmap2::MmapOptions::new()
                .offset(offset)
                .len(len)
                .map_mut(&self.0)?
        };
        Ok(Box::new(RealWindow(map)))
    }
}

/// A [`Window`] on the real file system: a shared memory mapping.
#[derive(Debug)]
struct RealWindow(memmap2::MmapMut);

impl Window for RealWindow {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn put(&mut self, at: usize, buf: &[u8]) {
        self.0[at..at + buf.len()].copy_from_slice(buf);
    }
}

impl FileSystem for RealFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn FileHandle>> {
        // Readable too: a shared writable mapping needs a descriptor open for reading.
        let f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(path)?;
        Ok(Box::new(RealFile(f)))
    }
    fn open(&self, path: &Path) -> io::Result<Box<dyn FileHandle>> {
        let f = OpenOptions::new().read(true).write(true).open(path)?;
        Ok(Box::new(RealFile(f)))
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

#[cfg(test)]
mod fault;
#[cfg(test)]
pub(crate) use fault::FaultFs;

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

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
    fn positioned_writes_overwrite_and_only_growth_takes_space() {
        let fs = FaultFs::new();
        let mut f = fs.create(&p("a")).unwrap();
        fs.sync_dir(Path::new("/d")).unwrap();
        f.append(&[0; 8]).unwrap();
        f.sync_data().unwrap();
        fs.set_capacity(Some(10));
        // Over existing bytes: no space needed.
        f.write_at(2, b"abc").unwrap();
        // Past the end: the gap reads as zeros, and what does not fit is torn off.
        let err = f.write_at(9, b"xyz").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(28));
        assert_eq!(fs.contents(&p("a")).unwrap(), b"\0\0abc\0\0\0\0x");
        // Unsynced overwrites vanish in a crash: the disk still holds the zeros.
        fs.crash();
        assert_eq!(fs.contents(&p("a")).unwrap(), [0; 8]);
    }

    #[test]
    fn a_failed_fsync_of_an_overwrite_keeps_the_old_bytes() {
        let fs = FaultFs::new();
        let mut f = fs.create(&p("a")).unwrap();
        fs.sync_dir(Path::new("/d")).unwrap();
        f.append(b"old-old-").unwrap();
        f.sync_data().unwrap();
        f.write_at(4, b"new!").unwrap();
        fs.fail_syncs(1);
        assert!(f.sync_data().is_err());
        f.append(b"more").unwrap();
        f.sync_data().unwrap();
        fs.crash();
        assert_eq!(fs.contents(&p("a")).unwrap(), b"old-old-more");
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
        f.append(b"ab").unwrap();
        f.append(b"c").unwrap();
        f.sync_data().unwrap();
        assert_eq!(f.len().unwrap(), 3);
        assert_eq!(&*fs.map(&path).unwrap(), b"abc");
        drop(f);
        // Reopened: positioned writes go where they say (the file is not O_APPEND), appends to
        // the end, past any positioned write.
        let mut f = fs.open(&path).unwrap();
        f.write_at(1, b"X").unwrap();
        f.write_at(5, b"yz").unwrap();
        f.append(b"!").unwrap();
        f.write_at(0, b"A").unwrap();
        f.sync_data().unwrap();
        assert_eq!(&*fs.map(&path).unwrap(), b"AXc\0\0yz!");
        fs.truncate(&path, 1).unwrap();
        assert_eq!(&*fs.map(&path).unwrap(), b"A");
        fs.rename(&path, &dir.join("g")).unwrap();
        fs.sync_dir(&dir).unwrap();
        assert_eq!(fs.list(&dir).unwrap(), vec!["g".to_string()]);
        fs.remove(&dir.join("g")).unwrap();
        std::fs::remove_dir(&dir).unwrap();
    }
}
