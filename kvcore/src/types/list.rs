//! Lists: a deque of packed chunks, like Redis's quicklist of listpacks.
//!
//! Elements are packed in chunks (`chunk.rs`) of at most [`CHUNK_BYTES`] bytes and
//! [`CHUNK_ENTRIES`] elements (an element larger than that gets a chunk of its own). In a chunk
//! an element costs its bytes plus one link byte to its neighbour when their lengths are
//! close, not a separate allocation. Push and pop at either end touch one chunk (O(1)
//! amortized); LINDEX, LSET and LINSERT find their chunk by walking chunk lengths from the
//! nearer end (O(n / chunk)) and their element by walking the chunk from its nearer end, as
//! Redis's quicklist does.

use std::collections::VecDeque;

use super::chunk::{Chunk, Side};
use super::inline::{Reader, Writer};
use super::{TypeError, normalize_index, normalize_range};

/// Which end of a list an operation works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The head (index 0): LPUSH, LPOP.
    Left,
    /// The tail (index -1): RPUSH, RPOP.
    Right,
}

impl End {
    fn side(self) -> Side {
        match self {
            End::Left => Side::Front,
            End::Right => Side::Back,
        }
    }
}

/// Most bytes of elements and links in one chunk (unless it holds a single larger element):
/// Redis's `list-max-listpack-size -2`.
const CHUNK_BYTES: usize = 8 * 1024;
/// Most elements in one chunk: bounds the walk to an element inside a chunk of tiny ones.
const CHUNK_ENTRIES: usize = 1024;
/// A list of fewer elements grows its one chunk's buffer exactly (most lists are small, and
/// doubling would leave up to half of it unused); longer ones grow by doubling.
const SMALL: usize = 16;
/// The first buffer of a chunk opened next to a full one: big enough that a few doublings
/// reach [`CHUNK_BYTES`], small enough not to matter for a list that stops growing.
const FIRST_BYTES: usize = 256;

/// Whether a chunk of `len` elements and `bytes` bytes may take `cost` more bytes.
fn fits(len: usize, bytes: usize, cost: usize) -> bool {
    len == 0 || (len < CHUNK_ENTRIES && bytes + cost <= CHUNK_BYTES)
}

/// Packs `elements` greedily into exact-size chunks within the limits.
fn pack(elements: &[&[u8]]) -> Vec<Chunk> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < elements.len() {
        let mut end = start + 1;
        let mut bytes = elements[start].len();
        while end < elements.len() {
            let cost = Chunk::cost(elements[end].len(), Some(elements[end - 1].len()));
            if !fits(end - start, bytes, cost) {
                break;
            }
            bytes += cost;
            end += 1;
        }
        out.push(Chunk::from_elements(elements[start..end].iter().copied()));
        start = end;
    }
    out
}

/// A Redis list.
#[derive(Debug, Clone, Default)]
pub(crate) struct List {
    chunks: VecDeque<Chunk>,
    len: usize,
}

/// Equal when the elements are (chunking and encoding are layout details).
impl PartialEq for List {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl List {
    /// An empty list.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// LLEN.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// True when the list has no elements (the store then deletes the key).
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes the inline form (each element with its length) into `out`; None if it does not
    /// fit (see `inline.rs`).
    pub(crate) fn encode_inline(&self, out: &mut [u8]) -> Option<usize> {
        if self.len > out.len() {
            return None;
        }
        let mut w = Writer::new(out);
        for e in self.iter() {
            w.item(e)?;
        }
        Some(w.len())
    }

    /// The list [`List::encode_inline`] wrote: one chunk of exactly its elements.
    pub(crate) fn from_inline(bytes: &[u8]) -> List {
        let mut r = Reader::new(bytes);
        let mut elements = Vec::new();
        while !r.is_done() {
            elements.push(r.item());
        }
        let mut list = List::new();
        list.len = elements.len();
        let chunks = pack(&elements);
        list.chunks.reserve_exact(chunks.len());
        list.chunks.extend(chunks);
        list
    }

    /// The chunk holding position `pos` (< len) and the position inside it, walking from the
    /// nearer end.
    fn locate(&self, pos: usize) -> (usize, usize) {
        if pos < self.len / 2 {
            let mut left = pos;
            for (c, chunk) in self.chunks.iter().enumerate() {
                if left < chunk.len() {
                    return (c, left);
                }
                left -= chunk.len();
            }
        } else {
            let mut from_end = self.len - pos; // >= 1
            for (c, chunk) in self.chunks.iter().enumerate().rev() {
                if from_end <= chunk.len() {
                    return (c, chunk.len() - from_end);
                }
                from_end -= chunk.len();
            }
        }
        unreachable!("position {pos} is below the length {}", self.len)
    }

    /// Pushes one element at `end`.
    pub(crate) fn push(&mut self, end: End, value: &[u8]) {
        let side = end.side();
        let small = self.len < SMALL;
        let open = self.chunks.len();
        let chunk = match end {
            End::Left => self.chunks.front_mut(),
            End::Right => self.chunks.back_mut(),
        };
        match chunk {
            Some(c) if fits(c.len(), c.bytes(), c.push_cost(value.len(), side)) => {
                c.reserve(side, c.push_cost(value.len(), side), small, CHUNK_BYTES);
                match end {
                    End::Left => c.push_front(value),
                    End::Right => c.push_back(value),
                }
            }
            _ => {
                // The first chunk of a list is sized exactly (most lists are small); one
                // opened next to a full chunk starts bigger and doubles.
                let size = if open == 0 {
                    value.len()
                } else {
                    value.len().max(FIRST_BYTES)
                };
                let mut c = Chunk::with_capacity(size, side);
                match end {
                    End::Left => c.push_front(value),
                    End::Right => c.push_back(value),
                }
                if open == 0 {
                    self.chunks.reserve_exact(1);
                }
                match end {
                    End::Left => self.chunks.push_front(c),
                    End::Right => self.chunks.push_back(c),
                }
            }
        }
        self.len += 1;
    }

    /// LPUSH/RPUSH: pushes each value in turn (so LPUSH a b c leaves c first); returns the length.
    pub(crate) fn push_all<V: AsRef<[u8]>>(&mut self, end: End, values: &[V]) -> usize {
        for v in values {
            self.push(end, v.as_ref());
        }
        self.len()
    }

    /// Pops one element from `end`.
    pub(crate) fn pop(&mut self, end: End) -> Option<Box<[u8]>> {
        let v = match end {
            End::Left => {
                let c = self.chunks.front_mut()?;
                let v = c.pop_front();
                if c.len() == 0 {
                    self.chunks.pop_front();
                }
                v
            }
            End::Right => {
                let c = self.chunks.back_mut()?;
                let v = c.pop_back();
                if c.len() == 0 {
                    self.chunks.pop_back();
                }
                v
            }
        };
        self.len -= 1;
        Some(v)
    }

    /// LPOP/RPOP with a count: up to `count` elements, in pop order.
    pub(crate) fn pop_many(&mut self, end: End, count: usize) -> Vec<Box<[u8]>> {
        let n = count.min(self.len);
        (0..n).filter_map(|_| self.pop(end)).collect()
    }

    /// LRANGE: elements `start..=stop` with Redis's index rules.
    pub(crate) fn range(&self, start: i64, stop: i64) -> Vec<&[u8]> {
        let Some(r) = normalize_range(start, stop, self.len) else {
            return Vec::new();
        };
        let (c, i) = self.locate(r.start);
        let mut out = Vec::with_capacity(r.len());
        let first = self.chunks[c].iter_from(i);
        let rest = self.chunks.range(c + 1..).flat_map(Chunk::iter);
        out.extend(first.chain(rest).take(r.len()));
        out
    }

    /// All elements, head first.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + '_ {
        self.chunks.iter().flat_map(Chunk::iter)
    }

    /// LINDEX.
    pub(crate) fn index(&self, index: i64) -> Option<&[u8]> {
        let (c, i) = self.locate(normalize_index(index, self.len)?);
        let chunk = &self.chunks[c];
        Some(chunk.get(chunk.cursor(i)))
    }

    /// LSET.
    ///
    /// # Errors
    /// [`TypeError::IndexOutOfRange`] when `index` is outside the list.
    pub(crate) fn set(&mut self, index: i64, value: &[u8]) -> Result<(), TypeError> {
        let pos = normalize_index(index, self.len).ok_or(TypeError::IndexOutOfRange)?;
        let (c, i) = self.locate(pos);
        let chunk = &mut self.chunks[c];
        let at = chunk.cursor(i);
        if chunk.get(at).len() == value.len() {
            chunk.overwrite(at, value);
        } else {
            self.rewrite(c, i, 1, Some(value));
        }
        Ok(())
    }

    /// Replaces chunk `c` by chunks of its elements with `remove` of them from `at` on replaced
    /// by `insert`: O(chunk), for edits inside a chunk (the length is the caller's to fix).
    fn rewrite(&mut self, c: usize, at: usize, remove: usize, insert: Option<&[u8]>) {
        let pieces = {
            let mut elements: Vec<&[u8]> = self.chunks[c].iter().collect();
            elements.splice(at..at + remove, insert);
            pack(&elements)
        };
        self.chunks.remove(c);
        for (k, piece) in pieces.into_iter().enumerate() {
            self.chunks.insert(c + k, piece);
        }
    }

    /// Rebuilds the list from the elements `keep` says yes to (in order); one O(n) pass.
    fn retain(&mut self, mut keep: impl FnMut(&[u8]) -> bool) {
        let old = std::mem::take(self);
        for v in old.iter() {
            if keep(v) {
                self.push(End::Right, v);
            }
        }
    }
    /// LREM: removes up to |count| occurrences of `value`, from the head when `count > 0`, from
    /// the tail when `count < 0`, all of them when 0. Returns how many were removed.
    pub(crate) fn remove(&mut self, count: i64, value: &[u8]) -> usize {
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs() as usize
        };
        let total = self.iter().filter(|v| *v == value).count();
        if total == 0 {
            return 0;
        }
        // Scanning from the tail for the last k matches is the same as skipping the first
        // (total - k) matches from the head.
        let skip = if count < 0 {
            total.saturating_sub(limit)
        } else {
            0
        };
        let mut seen = 0;
        let mut removed = 0;
        self.retain(|v| {
            if v != value {
                return true;
            }
            seen += 1;
            if seen > skip && removed < limit {
                removed += 1;
                false
            } else {
                true
            }
        });
        removed
    }

    /// LTRIM: keeps only `start..=stop` (Redis index rules); an empty selection empties the list.
    pub(crate) fn trim(&mut self, start: i64, stop: i64) {
        let Some(r) = normalize_range(start, stop, self.len) else {
            *self = List::default();
            return;
        };
        // Drop whole chunks, then cut into the edge chunks: O(chunks dropped + chunk).
        let mut drop_front = r.start;
        while let Some(c) = self.chunks.front_mut() {
            if c.len() <= drop_front {
                drop_front -= c.len();
                self.chunks.pop_front();
            } else {
                c.drain_front(drop_front);
                break;
            }
        }
        let mut drop_back = self.len - r.end;
        while let Some(c) = self.chunks.back_mut() {
            if c.len() <= drop_back {
                drop_back -= c.len();
                self.chunks.pop_back();
            } else {
                c.truncate(c.len() - drop_back);
                break;
            }
        }
        self.len = r.len();
    }

    /// LINSERT: inserts `value` before (or after) the first occurrence of `pivot`. Returns the
    /// new length, or None when the pivot is absent (Redis replies -1).
    pub(crate) fn insert(&mut self, before: bool, pivot: &[u8], value: &[u8]) -> Option<usize> {
        let (c, i) = self
            .chunks
            .iter()
            .enumerate()
            .find_map(|(c, chunk)| chunk.iter().position(|v| v == pivot).map(|i| (c, i)))?;
        self.rewrite(c, if before { i } else { i + 1 }, 0, Some(value));
        self.len += 1;
        Some(self.len)
    }
    /// LPOS: positions (always counted from the head) of matches of `value`.
    ///
    /// `rank` (non-zero) picks the first match to report: 1 the first from the head, -1 the
    /// first from the tail, 2 the second... `count` is how many to report (0 means all);
    /// `maxlen` bounds how many elements are compared (0 means no bound).
    pub(crate) fn positions(
        &self,
        value: &[u8],
        rank: i64,
        count: usize,
        maxlen: usize,
    ) -> Vec<usize> {
        debug_assert!(rank != 0, "the server rejects RANK 0");
        let want = if count == 0 { usize::MAX } else { count };
        let maxlen = if maxlen == 0 { usize::MAX } else { maxlen };
        let skip = rank.unsigned_abs().saturating_sub(1);
        let mut skipped = 0u64;
        let mut out = Vec::new();
        let mut visit = |i: usize, v: &[u8]| {
            if v == value {
                if skipped < skip {
                    skipped += 1;
                } else {
                    out.push(i);
                }
            }
            out.len() < want
        };
        if rank > 0 {
            for (i, v) in self.iter().enumerate().take(maxlen) {
                if !visit(i, v) {
                    break;
                }
            }
        } else {
            let len = self.len;
            for (k, v) in self.iter().rev().enumerate().take(maxlen) {
                if !visit(len - 1 - k, v) {
                    break;
                }
            }
        }
        out
    }

    /// OBJECT ENCODING as Redis 7.0 reports it: every list is a quicklist (the listpack
    /// encoding of small lists came with Redis 7.2).
    pub(crate) fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Approximate heap bytes (MEMORY USAGE, excluding the key): the header, the deque of
    /// chunk headers and each chunk's buffer, free room included.
    pub(crate) fn memory_usage(&self) -> usize {
        size_of::<Self>()
            + super::alloc_size(self.chunks.capacity() * size_of::<Chunk>())
            + self.chunks.iter().map(Chunk::heap_bytes).sum::<usize>()
    }

    /// Checks the chunk invariants; for tests.
    #[cfg(test)]
    fn check(&self) {
        assert_eq!(self.chunks.iter().map(Chunk::len).sum::<usize>(), self.len);
        for c in &self.chunks {
            assert!(c.len() > 0, "no empty chunks");
            assert!(c.len() <= CHUNK_ENTRIES);
            assert!(c.len() == 1 || c.bytes() <= CHUNK_BYTES, "{}", c.bytes());
            c.check();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Rng;
    use proptest::prelude::*;

    #[test]
    fn a_small_list_holds_no_spare_room() {
        for end in [End::Right, End::Left] {
            let mut l = List::new();
            for i in 0..5 {
                l.push(end, format!("e{i}").as_bytes());
            }
            l.check();
            let c = &l.chunks[0];
            // Five 2-byte elements and four 1-byte links.
            assert_eq!((l.chunks.capacity(), c.capacity()), (1, 14), "{end:?}");
            assert_eq!(
                l.memory_usage(),
                size_of::<List>() + size_of::<Chunk>() + 14
            );
        }
        let l = List::from_inline(&[2, b'e', b'0', 0, 3, b'a', b'b', b'c']);
        l.check();
        assert_eq!(strs(l.iter().collect()), ["e0", "", "abc"]);
        assert_eq!((l.chunks.capacity(), l.chunks[0].capacity()), (1, 7));
    }

    fn list(items: &[&str]) -> List {
        let mut l = List::new();
        l.push_all(End::Right, items);
        l
    }

    fn strs(v: Vec<&[u8]>) -> Vec<String> {
        v.into_iter()
            .map(|b| String::from_utf8(b.to_vec()).unwrap())
            .collect()
    }

    fn contents(l: &List) -> Vec<String> {
        strs(l.iter().collect())
    }

    #[test]
    fn push_order_matches_redis() {
        assert_eq!(list(&["a", "b"]), list(&["a", "b"]));
        assert_ne!(list(&["a", "b"]), list(&["b", "a"]));
        let mut l = List::new();
        assert_eq!(l.push_all(End::Left, &["a", "b", "c"]), 3);
        assert_eq!(contents(&l), ["c", "b", "a"]);
        assert_eq!(l.push_all(End::Right, &["x", "y"]), 5);
        assert_eq!(contents(&l), ["c", "b", "a", "x", "y"]);
    }

    #[test]
    fn pop_table() {
        let mut l = list(&["a", "b", "c", "d"]);
        assert_eq!(l.pop(End::Left).as_deref(), Some(&b"a"[..]));
        assert_eq!(l.pop(End::Right).as_deref(), Some(&b"d"[..]));
        let cases: &[(End, usize, &[&str], &[&str])] = &[
            (End::Left, 0, &[], &["b", "c"]),
            (End::Right, 1, &["c"], &["b"]),
            (End::Left, 10, &["b"], &[]),
            (End::Left, 3, &[], &[]),
        ];
        for (end, count, popped, rest) in cases {
            let got: Vec<String> = l
                .pop_many(*end, *count)
                .iter()
                .map(|v| String::from_utf8(v.to_vec()).unwrap())
                .collect();
            assert_eq!(got, *popped);
            assert_eq!(contents(&l), *rest);
        }
        assert_eq!(l.pop(End::Right), None);
        let mut l = list(&["a", "b", "c"]);
        let got = l.pop_many(End::Right, 2);
        assert_eq!(got, vec![Box::from(&b"c"[..]), Box::from(&b"b"[..])]);
    }

    #[test]
    fn range_table() {
        let l = list(&["a", "b", "c", "d", "e"]);
        let cases: &[(i64, i64, &[&str])] = &[
            (0, -1, &["a", "b", "c", "d", "e"]),
            (0, 0, &["a"]),
            (-3, 2, &["c"]),
            (-100, 1, &["a", "b"]),
            (3, 100, &["d", "e"]),
            (5, 10, &[]),
            (2, 1, &[]),
            (-1, -2, &[]),
            (-1, -1, &["e"]),
        ];
        for (start, stop, want) in cases {
            assert_eq!(strs(l.range(*start, *stop)), *want, "{start} {stop}");
        }
        assert!(List::new().range(0, -1).is_empty());
    }

    #[test]
    fn index_and_set_table() {
        let mut l = list(&["a", "b", "c"]);
        assert_eq!(l.index(0), Some(&b"a"[..]));
        assert_eq!(l.index(-1), Some(&b"c"[..]));
        assert_eq!(l.index(3), None);
        assert_eq!(l.index(-4), None);
        assert_eq!(l.set(-1, b"z"), Ok(()));
        assert_eq!(l.set(1, b"y"), Ok(()));
        assert_eq!(l.set(3, b"q"), Err(TypeError::IndexOutOfRange));
        assert_eq!(l.set(-4, b"q"), Err(TypeError::IndexOutOfRange));
        assert_eq!(contents(&l), ["a", "y", "z"]);
    }

    #[test]
    fn remove_table() {
        let base = ["a", "x", "b", "x", "c", "x"];
        let cases: &[(i64, &str, usize, &[&str])] = &[
            (0, "x", 3, &["a", "b", "c"]),
            (1, "x", 1, &["a", "b", "x", "c", "x"]),
            (2, "x", 2, &["a", "b", "c", "x"]),
            (-1, "x", 1, &["a", "x", "b", "x", "c"]),
            (-2, "x", 2, &["a", "x", "b", "c"]),
            (-10, "x", 3, &["a", "b", "c"]),
            (0, "nope", 0, &["a", "x", "b", "x", "c", "x"]),
        ];
        for (count, value, removed, rest) in cases {
            let mut l = list(&base);
            assert_eq!(
                l.remove(*count, value.as_bytes()),
                *removed,
                "{count} {value}"
            );
            assert_eq!(contents(&l), *rest, "{count} {value}");
        }
    }

    #[test]
    fn trim_table() {
        let base = ["a", "b", "c", "d", "e"];
        let cases: &[(i64, i64, &[&str])] = &[
            (1, -1, &["b", "c", "d", "e"]),
            (0, 0, &["a"]),
            (-2, -1, &["d", "e"]),
            (2, 1, &[]),
            (10, 20, &[]),
            (-100, 100, &["a", "b", "c", "d", "e"]),
        ];
        for (start, stop, want) in cases {
            let mut l = list(&base);
            l.trim(*start, *stop);
            assert_eq!(contents(&l), *want, "{start} {stop}");
        }
    }

    #[test]
    fn insert_table() {
        let mut l = list(&["a", "b", "a"]);
        assert_eq!(l.insert(true, b"a", b"x"), Some(4));
        assert_eq!(l.insert(false, b"a", b"y"), Some(5));
        assert_eq!(l.insert(false, b"missing", b"z"), None);
        assert_eq!(contents(&l), ["x", "a", "y", "b", "a"]);
        assert_eq!(l.insert(false, b"a", b"end"), Some(6));
        let mut l = list(&["p"]);
        assert_eq!(l.insert(false, b"p", b"q"), Some(2));
        assert_eq!(contents(&l), ["p", "q"]);
    }

    #[test]
    fn positions_table() {
        // Redis docs: RPUSH mylist a b c d 1 2 3 4 3 3 3
        let l = list(&["a", "b", "c", "d", "1", "2", "3", "4", "3", "3", "3"]);
        let cases: &[(&str, i64, usize, usize, &[usize])] = &[
            ("3", 1, 1, 0, &[6]),
            ("3", 1, 0, 0, &[6, 8, 9, 10]),
            ("3", 2, 1, 0, &[8]),
            ("3", -1, 1, 0, &[10]),
            ("3", -1, 2, 0, &[10, 9]),
            ("3", -2, 0, 0, &[9, 8, 6]),
            ("3", 1, 0, 7, &[6]),
            ("3", 1, 0, 6, &[]),
            ("3", -1, 0, 3, &[10, 9, 8]),
            ("3", 5, 1, 0, &[]),
            ("z", 1, 0, 0, &[]),
            ("a", i64::MIN, 1, 0, &[]),
        ];
        for (v, rank, count, maxlen, want) in cases {
            assert_eq!(
                l.positions(v.as_bytes(), *rank, *count, *maxlen),
                *want,
                "{v} {rank} {count} {maxlen}"
            );
        }
    }

    #[test]
    fn binary_elements_are_kept_verbatim() {
        let mut l = List::new();
        l.push(End::Right, b"\x00\xff\r\n");
        l.push(End::Right, b"");
        assert_eq!(l.index(0), Some(&b"\x00\xff\r\n"[..]));
        assert_eq!(l.index(1), Some(&b""[..]));
    }

    #[test]
    fn every_list_is_a_quicklist() {
        let mut l = List::new();
        assert_eq!(l.encoding(), "quicklist");
        l.push(End::Right, &[b'x'; 10_000]);
        assert_eq!(l.encoding(), "quicklist");
        assert!(l.memory_usage() >= size_of::<List>());
    }

    /// Element `k` of a test list: `size` bytes, distinct per `k` (unless `size` is tiny).
    fn sized(k: usize, size: usize) -> Vec<u8> {
        let tag = k.to_le_bytes();
        (0..size).map(|i| tag[i % 4] ^ (i as u8)).collect()
    }

    fn same(l: &List, m: &VecDeque<Vec<u8>>) {
        l.check();
        assert_eq!(l.len(), m.len());
        assert!(l.iter().eq(m.iter().map(Vec::as_slice)));
        assert!(l.iter().rev().eq(m.iter().rev().map(Vec::as_slice)));
    }

    #[test]
    fn edge_sizes_cross_chunks_from_both_ends() {
        let sizes = [
            0, 0, 1, 15, 127, 128, 16383, 16384, 0, 8192, 8193, 4095, 4096, 3,
        ];
        for (round, end) in [End::Right, End::Left, End::Right].into_iter().enumerate() {
            let mut l = List::new();
            let mut m = VecDeque::new();
            // Enough elements for several chunks; every size meets every neighbour size.
            for k in 0..600 {
                let v = sized(k, sizes[(k * (round + 1)) % sizes.len()]);
                l.push(end, &v);
                match end {
                    End::Left => m.push_front(v),
                    End::Right => m.push_back(v),
                }
            }
            same(&l, &m);
            assert!(l.chunks.len() > 3);
            for i in [0usize, 1, 127, 128, 299, 300, 598, 599] {
                assert_eq!(l.index(i as i64), Some(m[i].as_slice()), "{i}");
                assert_eq!(
                    l.index(-(i as i64) - 1),
                    Some(m[599 - i].as_slice()),
                    "-{i}"
                );
            }
            // Pop from the other end first, then alternate, across every chunk boundary.
            let mut k = 0;
            while !m.is_empty() {
                let left = (k / 7) % 2 == round % 2;
                let (got, want) = if left {
                    (l.pop(End::Left), m.pop_front())
                } else {
                    (l.pop(End::Right), m.pop_back())
                };
                assert_eq!(got.map(Vec::from), want);
                k += 1;
                if k % 50 == 0 {
                    same(&l, &m);
                }
            }
            same(&l, &m);
            assert!(l.chunks.is_empty());
        }
    }

    #[test]
    fn a_large_list_of_short_members_costs_16_bytes_each() {
        for end in [End::Right, End::Left] {
            let mut l = List::new();
            let n = 100_000;
            for i in 0..n {
                l.push(end, format!("member:{i:08}").as_bytes());
            }
            l.check();
            // 15 bytes, one link byte, and the chunk headers and doubling slack.
            let per = l.memory_usage() as f64 / n as f64;
            assert!((16.0..16.2).contains(&per), "{end:?}: {per}");
            // Every chunk but the one at the pushing end is full.
            let full = match end {
                End::Right => l.chunks.range(..l.chunks.len() - 1),
                End::Left => l.chunks.range(1..),
            };
            assert!(full.into_iter().all(|c| c.bytes() > CHUNK_BYTES - 16));
        }
    }

    /// A list of `n` 15-byte members in full chunks.
    fn members(n: usize) -> (List, VecDeque<Vec<u8>>) {
        let m: VecDeque<Vec<u8>> = (0..n)
            .map(|i| format!("member:{i:08}").into_bytes())
            .collect();
        let mut l = List::new();
        for v in &m {
            l.push(End::Right, v);
        }
        (l, m)
    }

    #[test]
    fn lset_grows_and_shrinks_inside_a_full_chunk() {
        let (mut l, mut m) = members(2000);
        let full = l.chunks[1].len();
        let middle = (l.chunks[0].len() + full / 2) as i64;
        let cases: &[(i64, usize)] = &[
            (middle, 15),
            (middle, 0),
            (middle, 200),
            (middle + 1, 9000),
            (middle - 1, 16384),
            (middle, 3),
            (0, 128),
            (-1, 127),
            (-1, 0),
            (1999, 20),
        ];
        for &(i, size) in cases {
            let v = sized(i.unsigned_abs() as usize + size, size);
            assert_eq!(l.set(i, &v), Ok(()));
            let pos = normalize_index(i, m.len()).unwrap();
            m[pos] = v;
            same(&l, &m);
        }
        assert!(
            l.chunks.len() > 4,
            "the 9000- and 16384-byte elements split the chunk"
        );
    }

    #[test]
    fn linsert_and_lrem_in_the_middle_of_a_full_chunk() {
        let (mut l, mut m) = members(1500);
        let pivot = m[700].clone();
        let chunks = l.chunks.len();
        for (k, before) in [true, false, true, true, false].into_iter().enumerate() {
            let v = sized(k, [15, 0, 128, 16384, 40][k]);
            let at = m.iter().position(|x| *x == pivot).unwrap() + usize::from(!before);
            m.insert(at, v.clone());
            assert_eq!(l.insert(before, &pivot, &v), Some(m.len()));
            same(&l, &m);
        }
        assert!(l.chunks.len() > chunks, "the full chunk split");
        assert_eq!(l.remove(0, &pivot), 1);
        m.retain(|x| *x != pivot);
        same(&l, &m);
        let v = m[300].clone();
        assert_eq!(l.remove(-1, &v), 1);
        m.retain(|x| *x != v);
        same(&l, &m);
    }

    #[test]
    fn every_operation_matches_a_deque_model() {
        let sizes = [0usize, 1, 1, 2, 15, 15, 15, 127, 128, 600, 9000, 16384];
        for seed in 1..=6u64 {
            let mut rng = Rng::new(seed);
            let mut l = List::new();
            let mut m: VecDeque<Vec<u8>> = VecDeque::new();
            for step in 0..3000 {
                // Few distinct short values, so LREM, LINSERT and LPOS find matches.
                let value = |rng: &mut Rng| {
                    let size = sizes[rng.below(sizes.len())];
                    if size <= 2 {
                        vec![b'a' + rng.below(3) as u8; size]
                    } else {
                        sized(rng.below(1000), size)
                    }
                };
                let len = m.len() as i64;
                let index = |rng: &mut Rng| rng.below(2 * len as usize + 3) as i64 - len - 1;
                match rng.below(12) {
                    0..=2 => {
                        let end = if rng.below(2) == 0 {
                            End::Left
                        } else {
                            End::Right
                        };
                        for _ in 0..1 + rng.below(40) {
                            let v = value(&mut rng);
                            l.push(end, &v);
                            match end {
                                End::Left => m.push_front(v),
                                End::Right => m.push_back(v),
                            }
                        }
                    }
                    3 | 4 => {
                        let n = rng.below(30);
                        if rng.below(2) == 0 {
                            let want: Vec<_> = (0..n).map_while(|_| m.pop_front()).collect();
                            assert_eq!(
                                l.pop_many(End::Left, n),
                                want.iter()
                                    .map(|v| v.as_slice().into())
                                    .collect::<Vec<Box<[u8]>>>()
                            );
                        } else {
                            let want: Vec<_> = (0..n).map_while(|_| m.pop_back()).collect();
                            assert_eq!(
                                l.pop_many(End::Right, n),
                                want.iter()
                                    .map(|v| v.as_slice().into())
                                    .collect::<Vec<Box<[u8]>>>()
                            );
                        }
                    }
                    5 => {
                        let (i, v) = (index(&mut rng), value(&mut rng));
                        let pos = normalize_index(i, m.len());
                        assert_eq!(l.set(i, &v).is_ok(), pos.is_some());
                        if let Some(p) = pos {
                            m[p] = v;
                        }
                    }
                    6 => {
                        let count = rng.below(5) as i64 - 2;
                        let v = vec![b'a' + rng.below(3) as u8; 1 + rng.below(2)];
                        let mut at: Vec<usize> = (0..m.len()).filter(|&i| m[i] == v).collect();
                        if count < 0 {
                            at.reverse();
                        }
                        if count != 0 {
                            at.truncate(count.unsigned_abs() as usize);
                        }
                        assert_eq!(l.remove(count, &v), at.len());
                        at.sort_unstable();
                        for i in at.into_iter().rev() {
                            m.remove(i);
                        }
                    }
                    7 => {
                        if rng.below(4) == 0 {
                            let (a, b) = (index(&mut rng), index(&mut rng));
                            l.trim(a, b);
                            m = model_range(m.make_contiguous(), a, b).into();
                        }
                    }
                    8 => {
                        let before = rng.below(2) == 0;
                        let pivot = vec![b'a' + rng.below(3) as u8; 1 + rng.below(2)];
                        let v = value(&mut rng);
                        let want = m.iter().position(|x| *x == pivot).map(|i| {
                            m.insert(if before { i } else { i + 1 }, v.clone());
                            m.len()
                        });
                        assert_eq!(l.insert(before, &pivot, &v), want);
                    }
                    9 => {
                        let i = index(&mut rng);
                        let want = normalize_index(i, m.len()).map(|p| m[p].as_slice());
                        assert_eq!(l.index(i), want);
                    }
                    10 => {
                        let (a, b) = (index(&mut rng), index(&mut rng));
                        let got: Vec<Vec<u8>> =
                            l.range(a, b).into_iter().map(<[u8]>::to_vec).collect();
                        assert_eq!(got, model_range(m.make_contiguous(), a, b));
                    }
                    _ => {
                        let v = vec![b'a' + rng.below(3) as u8; 1 + rng.below(2)];
                        let rank = [1i64, 2, -1, -2][rng.below(4)];
                        let (count, maxlen) = (rng.below(3), rng.below(3) * 50);
                        let limit = if maxlen == 0 {
                            m.len()
                        } else {
                            maxlen.min(m.len())
                        };
                        let mut want: Vec<usize> = if rank > 0 {
                            (0..limit).filter(|&i| m[i] == v).collect()
                        } else {
                            (m.len() - limit..m.len())
                                .rev()
                                .filter(|&i| m[i] == v)
                                .collect()
                        };
                        want.drain(..(rank.unsigned_abs() as usize - 1).min(want.len()));
                        if count > 0 {
                            want.truncate(count);
                        }
                        assert_eq!(l.positions(&v, rank, count, maxlen), want);
                    }
                }
                if step % 16 == 0 {
                    same(&l, &m);
                }
            }
            same(&l, &m);
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(bool, u8, usize, usize),
        Pop(bool, usize),
        Set(i64, u8, usize),
        Remove(i64, u8),
        Trim(i64, i64),
        Insert(bool, u8, u8, usize),
    }

    /// Element `v` repeated `size` times: sizes cross the chunk byte limit sometimes.
    fn elem(v: u8, size: usize) -> Vec<u8> {
        vec![v; size]
    }

    fn size() -> impl Strategy<Value = usize> {
        prop_oneof![8 => 1usize..3, 1 => 1000usize..5000]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (any::<bool>(), 0u8..4, 1usize..200, size()).prop_map(|(l, v, n, s)| Op::Push(l, v, n, s)),
            2 => (any::<bool>(), 0usize..150).prop_map(|(l, n)| Op::Pop(l, n)),
            1 => (-300i64..300, 0u8..4, size()).prop_map(|(i, v, s)| Op::Set(i, v, s)),
            1 => (-3i64..3, 0u8..4).prop_map(|(c, v)| Op::Remove(c, v)),
            1 => (-400i64..400, -400i64..400).prop_map(|(a, b)| Op::Trim(a, b)),
            1 => (any::<bool>(), 0u8..4, 0u8..4, size()).prop_map(|(b, p, v, s)| Op::Insert(b, p, v, s)),
        ]
    }

    /// The model: a Vec with Redis's rules written out the slow, obvious way.
    fn model_range(m: &[Vec<u8>], start: i64, stop: i64) -> Vec<Vec<u8>> {
        let n = m.len() as i64;
        let s = if start < 0 { (start + n).max(0) } else { start };
        let e = if stop < 0 { stop + n } else { stop };
        (0..n)
            .filter(|&i| i >= s && i <= e)
            .map(|i| m[i as usize].clone())
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn matches_vec_model(ops in proptest::collection::vec(op(), 0..25)) {
            let mut l = List::new();
            let mut m: Vec<Vec<u8>> = Vec::new();
            for op in ops {
                match op {
                    Op::Push(left, v, n, size) => {
                        for _ in 0..n {
                            l.push(if left { End::Left } else { End::Right }, &elem(v, size));
                            if left { m.insert(0, elem(v, size)) } else { m.push(elem(v, size)) }
                        }
                    }
                    Op::Pop(left, n) => {
                        let got = l.pop_many(if left { End::Left } else { End::Right }, n);
                        let k = n.min(m.len());
                        let want: Vec<Vec<u8>> = if left { m.drain(..k).collect() }
                            else { m.drain(m.len() - k..).rev().collect() };
                        prop_assert_eq!(got.into_iter().map(Vec::from).collect::<Vec<_>>(), want);
                    }
                    Op::Set(i, v, size) => {
                        let pos = if i < 0 { i + m.len() as i64 } else { i };
                        let ok = l.set(i, &elem(v, size)).is_ok();
                        prop_assert_eq!(ok, pos >= 0 && pos < m.len() as i64);
                        if ok { m[pos as usize] = elem(v, size); }
                    }
                    Op::Remove(c, v) => {
                        let target = elem(v, 1);
                        let mut idx: Vec<usize> = (0..m.len()).filter(|&i| m[i] == target).collect();
                        if c < 0 { idx.reverse(); }
                        if c != 0 { idx.truncate(c.unsigned_abs() as usize); }
                        prop_assert_eq!(l.remove(c, &target), idx.len());
                        idx.sort_unstable();
                        for i in idx.into_iter().rev() { m.remove(i); }
                    }
                    Op::Trim(a, b) => {
                        l.trim(a, b);
                        m = model_range(&m, a, b);
                    }
                    Op::Insert(before, p, v, size) => {
                        let pivot = elem(p, 1);
                        let want = m.iter().position(|x| *x == pivot).map(|i| {
                            m.insert(if before { i } else { i + 1 }, elem(v, size));
                            m.len()
                        });
                        prop_assert_eq!(l.insert(before, &pivot, &elem(v, size)), want);
                    }
                }
                l.check();
                prop_assert_eq!(l.len(), m.len());
                prop_assert!(l.iter().eq(m.iter().map(Vec::as_slice)));
                prop_assert!(l.iter().rev().eq(m.iter().rev().map(Vec::as_slice)));
            }
            for (a, b) in [(0, -1), (-3, 2), (1, 1), (-1, -3), (100, 250), (-200, -100)] {
                let got: Vec<Vec<u8>> = l.range(a, b).into_iter().map(<[u8]>::to_vec).collect();
                prop_assert_eq!(got, model_range(&m, a, b));
            }
            for i in [0i64, 1, 127, 128, 129, -1, -129, 300] {
                let want = crate::types::normalize_index(i, m.len()).map(|p| m[p].as_slice());
                prop_assert_eq!(l.index(i), want);
            }
            for rank in [1i64, 2, -1, -3] {
                let target = elem(1, 1);
                let mut want: Vec<usize> = (0..m.len()).filter(|&i| m[i] == target).collect();
                if rank < 0 { want.reverse(); }
                let want: Vec<usize> = want.into_iter().skip(rank.unsigned_abs() as usize - 1).collect();
                prop_assert_eq!(l.positions(&target, rank, 0, 0), want);
            }
        }
    }
}
