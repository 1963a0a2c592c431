//! The replication backlog: the newest bytes of the change stream, kept in a ring so a replica
//! that reconnects can continue where it stopped (PSYNC's `+CONTINUE`), and so each replica's
//! feeder reads its stream from one shared copy instead of a per-replica output buffer.
//!
//! Offsets are Redis's: the stream's bytes are numbered from 1, `offset` is the number of the
//! last byte appended (`master_repl_offset`), and the backlog holds the bytes numbered
//! `first..=offset` (`repl_backlog_first_byte_offset`).

use std::collections::{HashMap, VecDeque};

/// The ring and the positions of the readers that still need some of it.
#[derive(Debug)]
pub(crate) struct Backlog {
    buf: VecDeque<u8>,
    /// The number of the last byte appended (Redis's `master_repl_offset`).
    offset: u64,
    /// How many bytes to keep for partial resynchronisation (`repl-backlog-size`).
    size: usize,
    /// How many more bytes than `size` a slow reader may hold back before it is dropped
    /// (Redis's hard `client-output-buffer-limit` of the replica class; 0: no limit).
    reader_limit: usize,
    /// Registered readers: id → the number of the next byte each needs.
    readers: HashMap<u64, u64>,
    next_reader: u64,
}

impl Backlog {
    pub(crate) fn new(size: usize) -> Backlog {
        Backlog {
            buf: VecDeque::new(),
            offset: 0,
            size: size.max(1),
            reader_limit: 256 << 20,
            readers: HashMap::new(),
            next_reader: 1,
        }
    }

    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// The number of the oldest byte held (the next byte's when empty).
    pub(crate) fn first(&self) -> u64 {
        self.offset + 1 - self.buf.len() as u64
    }

    /// How many bytes are held for partial resynchronisation (at most `size`).
    pub(crate) fn histlen(&self) -> u64 {
        self.buf.len().min(self.size) as u64
    }

    pub(crate) fn set_size(&mut self, size: usize) {
        self.size = size.max(1);
        self.trim();
    }

    pub(crate) fn set_reader_limit(&mut self, bytes: usize) {
        self.reader_limit = bytes;
        self.trim();
    }

    /// Starts the stream over at `offset` with nothing held (a replica after a full sync, or
    /// `Replication::reset`); readers are dropped.
    pub(crate) fn reset(&mut self, offset: u64) {
        self.buf.clear();
        self.offset = offset;
        self.readers.clear();
    }

    pub(crate) fn append(&mut self, bytes: &[u8]) {
        self.buf.extend(bytes);
        self.offset += bytes.len() as u64;
        self.trim();
    }

    /// Whether byte `from` onwards is available (`from == offset + 1`: nothing yet, but
    /// nothing missing either).
    pub(crate) fn covers(&self, from: u64) -> bool {
        from >= self.first() && from <= self.offset + 1
    }

    /// Registers a reader that needs byte `from` onwards; `None` if the backlog no longer
    /// holds it.
    pub(crate) fn register(&mut self, from: u64) -> Option<u64> {
        if !self.covers(from) {
            return None;
        }
        let id = self.next_reader;
        self.next_reader += 1;
        self.readers.insert(id, from);
        Some(id)
    }

    pub(crate) fn unregister(&mut self, id: u64) {
        self.readers.remove(&id);
        self.trim();
    }

    /// Copies up to `max` bytes for reader `id` into `out` and advances it; `None` if the
    /// reader was dropped (it fell further behind than the limits allow).
    pub(crate) fn read(&mut self, id: u64, out: &mut Vec<u8>, max: usize) -> Option<usize> {
        let pos = *self.readers.get(&id)?;
        let skip = (pos - self.first()) as usize;
        let n = (self.buf.len() - skip).min(max);
        let (a, b) = self.buf.as_slices();
        let end = skip + n;
        if skip < a.len() {
            out.extend_from_slice(&a[skip..end.min(a.len())]);
        }
        if end > a.len() {
            out.extend_from_slice(&b[skip.saturating_sub(a.len())..end - a.len()]);
        }
        self.readers.insert(id, pos + n as u64);
        if n > 0 {
            self.trim();
        }
        Some(n)
    }

    /// Whether reader `id` has nothing left to read.
    pub(crate) fn caught_up(&self, id: u64) -> bool {
        self.readers.get(&id).is_some_and(|&p| p > self.offset)
    }

    /// Drops the oldest bytes nobody needs: keeps `size` bytes, more while a reader still
    /// needs them, but never more than `size + reader_limit` (a reader further behind is
    /// dropped, as Redis disconnects a replica past its output buffer limit).
    fn trim(&mut self) {
        let mut keep = self.size;
        if let Some(&oldest) = self.readers.values().min() {
            let needed = (self.offset + 1 - oldest) as usize;
            let cap = if self.reader_limit == 0 {
                usize::MAX
            } else {
                self.size.saturating_add(self.reader_limit)
            };
            keep = keep.max(needed.min(cap));
        }
        if self.buf.len() > keep {
            let cut = self.buf.len() - keep;
            self.buf.drain(..cut);
            let first = self.first();
            self.readers.retain(|_, pos| *pos >= first);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Backlog;

    #[test]
    fn keeps_the_newest_bytes_with_redis_offsets() {
        let mut b = Backlog::new(4);
        assert_eq!((b.offset(), b.first(), b.histlen()), (0, 1, 0));
        b.append(b"abc");
        assert_eq!((b.offset(), b.first(), b.histlen()), (3, 1, 3));
        b.append(b"defg");
        assert_eq!((b.offset(), b.first(), b.histlen()), (7, 4, 4));
        assert!(b.covers(4) && b.covers(8) && !b.covers(3) && !b.covers(9));
        let id = b.register(5).unwrap();
        let mut out = Vec::new();
        assert_eq!(b.read(id, &mut out, 2), Some(2));
        assert_eq!(b.read(id, &mut out, 10), Some(1));
        assert_eq!(out, b"efg");
        assert!(b.caught_up(id));
    }

    #[test]
    fn a_slow_reader_holds_bytes_back_up_to_its_limit() {
        let mut b = Backlog::new(2);
        b.set_reader_limit(3);
        let id = b.register(1).unwrap();
        b.append(b"abcd");
        assert_eq!(b.first(), 1, "the reader still needs byte 1");
        let mut out = Vec::new();
        assert_eq!(b.read(id, &mut out, 1), Some(1));
        b.append(b"ef");
        // 6 bytes, the reader needs 2..: 5 bytes, the cap (2 + 3) holds them.
        assert_eq!(b.first(), 2);
        b.append(b"g");
        // It would need 6 bytes now: dropped.
        assert_eq!(b.read(id, &mut out, 10), None);
        assert_eq!(b.histlen(), 2);
    }
}
