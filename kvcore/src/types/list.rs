//! Lists: a deque of packed chunks, like Redis's quicklist of listpacks.
//!
//! Elements are packed back to back in chunks of at most [`CHUNK_ENTRIES`] elements and
//! [`CHUNK_BYTES`] bytes (an element larger than that gets a chunk of its own): a chunk is one
//! byte buffer plus a `u32` end offset per element, so an element costs its bytes plus 4, not
//! a separate allocation. Push and pop at either end touch one chunk (O(chunk) = O(1)); LINDEX,
//! LSET and LINSERT find their chunk by walking chunk lengths from the nearer end (O(n / 128)),
//! as Redis's quicklist does.

use std::collections::VecDeque;

use super::inline::{Reader, Writer};
use super::{TypeError, alloc_size, normalize_index, normalize_range};

/// Which end of a list an operation works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The head (index 0): LPUSH, LPOP.
    Left,
    /// The tail (index -1): RPUSH, RPOP.
    Right,
}

/// Most elements in one chunk: bounds the work of a push or pop at the front.
const CHUNK_ENTRIES: usize = 128;
/// Most element bytes in one chunk (unless it holds a single larger element).
const CHUNK_BYTES: usize = 4 * 1024;
/// A list of fewer elements grows its one chunk's buffers exactly (most lists are small, and
/// doubling would leave up to half of each buffer unused); longer ones grow by doubling.
const SMALL: usize = 16;

/// Elements packed back to back in `data[head..]`; `ends[i]` is where element `i` ends (an
/// absolute offset into `data`). Free room before `head` lets LPUSH prepend without moving the
/// chunk, and LPOP just advances `head`, so both ends are O(1) amortized, as in a `VecDeque`.
#[derive(Debug, Clone, Default)]
struct Chunk {
    data: Vec<u8>,
    head: usize,
    ends: VecDeque<u32>,
}

/// An element's end offset; elements are bounded by the 512 MiB bulk limit, so a chunk (at
/// most [`CHUNK_BYTES`] plus one element, plus its front room) stays far below 4 GiB.
fn offset(n: usize) -> u32 {
    u32::try_from(n).expect("list chunk larger than 4 GiB")
}

impl Chunk {
    fn len(&self) -> usize {
        self.ends.len()
    }

    /// Bytes of live elements.
    fn bytes(&self) -> usize {
        self.data.len() - self.head
    }

    fn start(&self, i: usize) -> usize {
        if i == 0 {
            self.head
        } else {
            self.ends[i - 1] as usize
        }
    }

    fn get(&self, i: usize) -> &[u8] {
        &self.data[self.start(i)..self.ends[i] as usize]
    }

    fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// Makes exact room for one more element of `bytes` bytes at the back (where RPUSH puts
    /// it; LPUSH's front room is made by `make_front_room`).
    fn reserve_exact(&mut self, bytes: usize) {
        if self.ends.len() == self.ends.capacity() {
            self.ends.reserve_exact(1);
        }
        if self.data.capacity() - self.data.len() < bytes {
            self.data.reserve_exact(bytes);
        }
    }

    fn has_room(&self, extra: usize) -> bool {
        self.ends.len() < CHUNK_ENTRIES && self.bytes() + extra <= CHUNK_BYTES
    }

    /// Moves the live bytes so that at least `room` free bytes precede them.
    fn make_front_room(&mut self, room: usize) {
        // Leave room for this element and about as many bytes again: amortized O(1).
        let gap = room + self.bytes().max(16);
        let mut data = Vec::with_capacity(gap + self.bytes());
        data.resize(gap, 0);
        data.extend_from_slice(&self.data[self.head..]);
        let shift = gap as isize - self.head as isize;
        for e in &mut self.ends {
            *e = (*e as isize + shift) as u32;
        }
        self.data = data;
        self.head = gap;
    }

    fn push_front(&mut self, v: &[u8]) {
        if self.head < v.len() {
            self.make_front_room(v.len());
        }
        let end = self.head;
        self.head -= v.len();
        self.data[self.head..end].copy_from_slice(v);
        self.ends.push_front(offset(end));
    }

    fn push_back(&mut self, v: &[u8]) {
        self.data.extend_from_slice(v);
        self.ends.push_back(offset(self.data.len()));
    }

    fn pop_front(&mut self) -> Box<[u8]> {
        let v: Box<[u8]> = self.get(0).into();
        self.head = self.ends.pop_front().expect("pop from a non-empty chunk") as usize;
        v
    }

    fn pop_back(&mut self) -> Box<[u8]> {
        let s = self.start(self.len() - 1);
        let v: Box<[u8]> = self.data[s..].into();
        self.data.truncate(s);
        self.ends.pop_back();
        v
    }

    /// Inserts `v` before element `i` (`i == len` appends).
    fn insert(&mut self, i: usize, v: &[u8]) {
        if i == 0 {
            return self.push_front(v);
        }
        if i == self.len() {
            return self.push_back(v);
        }
        let at = self.start(i);
        self.data.splice(at..at, v.iter().copied());
        for e in self.ends.range_mut(i..) {
            *e += offset(v.len());
        }
        self.ends.insert(i, offset(at + v.len()));
    }

    /// Removes element `i`, returning it.
    fn remove(&mut self, i: usize) -> Box<[u8]> {
        if i == 0 {
            return self.pop_front();
        }
        if i + 1 == self.len() {
            return self.pop_back();
        }
        let (s, e) = (self.start(i), self.ends[i] as usize);
        let v: Box<[u8]> = self.data.drain(s..e).collect();
        self.ends.remove(i);
        for end in self.ends.range_mut(i..) {
            *end -= offset(e - s);
        }
        v
    }

    fn replace(&mut self, i: usize, v: &[u8]) {
        let (s, e) = (self.start(i), self.ends[i] as usize);
        self.data.splice(s..e, v.iter().copied());
        let (old, new) = (offset(e - s), offset(v.len()));
        for end in self.ends.range_mut(i..) {
            *end = *end - old + new;
        }
    }

    /// Drops the first `k` elements.
    fn drain_front(&mut self, k: usize) {
        if k > 0 {
            self.head = self.ends[k - 1] as usize;
            self.ends.drain(..k);
        }
    }

    /// Keeps the first `k` elements.
    fn truncate(&mut self, k: usize) {
        self.data.truncate(self.start(k));
        self.ends.truncate(k);
    }

    /// Splits off the elements from `i` on into a new chunk.
    fn split_off(&mut self, i: usize) -> Chunk {
        let mut rest = Chunk::default();
        for j in i..self.len() {
            rest.push_back(self.get(j));
        }
        self.truncate(i);
        rest
    }

    fn heap_bytes(&self) -> usize {
        alloc_size(self.data.capacity()) + alloc_size(self.ends.capacity() * size_of::<u32>())
    }
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

    /// The list [`List::encode_inline`] wrote.
    pub(crate) fn from_inline(bytes: &[u8]) -> List {
        let mut list = List::new();
        let mut r = Reader::new(bytes);
        while !r.is_done() {
            list.push(End::Right, r.item());
        }
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
        match end {
            End::Left => match self.chunks.front_mut() {
                Some(c) if c.has_room(value.len()) => {
                    if self.len < SMALL {
                        c.reserve_exact(0);
                    }
                    c.insert(0, value)
                }
                _ => {
                    let mut c = Chunk::default();
                    c.insert(0, value);
                    // Most lists are small: the first chunk gets a deque of exactly one slot
                    // (later chunks grow it by doubling as usual).
                    if self.chunks.is_empty() {
                        self.chunks.reserve_exact(1);
                    }
                    self.chunks.push_front(c);
                }
            },
            End::Right => match self.chunks.back_mut() {
                Some(c) if c.has_room(value.len()) => {
                    if self.len < SMALL {
                        c.reserve_exact(value.len());
                    }
                    c.insert(c.len(), value)
                }
                _ => {
                    let mut c = Chunk::default();
                    c.push_back(value);
                    if self.chunks.is_empty() {
                        self.chunks.reserve_exact(1);
                    }
                    self.chunks.push_back(c);
                }
            },
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
                let v = c.remove(0);
                if c.len() == 0 {
                    self.chunks.pop_front();
                }
                v
            }
            End::Right => {
                let c = self.chunks.back_mut()?;
                let v = c.remove(c.len() - 1);
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
        for (n, chunk) in self.chunks.range(c..).enumerate() {
            let from = if n == 0 { i } else { 0 };
            for j in from..chunk.len() {
                if out.len() == r.len() {
                    return out;
                }
                out.push(chunk.get(j));
            }
        }
        out
    }

    /// All elements, head first.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + '_ {
        self.chunks.iter().flat_map(Chunk::iter)
    }

    /// LINDEX.
    pub(crate) fn index(&self, index: i64) -> Option<&[u8]> {
        let (c, i) = self.locate(normalize_index(index, self.len)?);
        Some(self.chunks[c].get(i))
    }

    /// LSET.
    ///
    /// # Errors
    /// [`TypeError::IndexOutOfRange`] when `index` is outside the list.
    pub(crate) fn set(&mut self, index: i64, value: &[u8]) -> Result<(), TypeError> {
        let pos = normalize_index(index, self.len).ok_or(TypeError::IndexOutOfRange)?;
        let (c, i) = self.locate(pos);
        let chunk = &mut self.chunks[c];
        chunk.replace(i, value);
        Ok(())
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
        let chunk = &mut self.chunks[c];
        chunk.insert(if before { i } else { i + 1 }, value);
        if chunk.len() > CHUNK_ENTRIES || (chunk.bytes() > CHUNK_BYTES && chunk.len() > 1) {
            let half = chunk.split_off(chunk.len() / 2);
            self.chunks.insert(c + 1, half);
        }
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

    /// Approximate heap bytes (MEMORY USAGE, excluding the key).
    pub(crate) fn memory_usage(&self) -> usize {
        size_of::<Self>()
            + self.chunks.capacity() * size_of::<Chunk>()
            + self.chunks.iter().map(Chunk::heap_bytes).sum::<usize>()
    }

    /// Checks the chunk invariants; for tests.
    #[cfg(test)]
    fn check(&self) {
        assert_eq!(self.chunks.iter().map(Chunk::len).sum::<usize>(), self.len);
        for c in &self.chunks {
            assert!(c.len() > 0, "no empty chunks");
            assert!(c.len() <= CHUNK_ENTRIES);
            assert_eq!(c.ends.back().map_or(c.head, |&e| e as usize), c.data.len());
            assert!(
                c.ends
                    .iter()
                    .zip(c.ends.iter().skip(1))
                    .all(|(a, b)| a <= b)
            );
            assert!(c.ends.front().is_none_or(|&e| e as usize >= c.head));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
            assert_eq!((l.chunks.capacity(), c.ends.capacity()), (1, 5), "{end:?}");
            if end == End::Right {
                assert_eq!(c.data.capacity(), 10);
            }
        }
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
