//! A list chunk: elements packed back to back in one byte buffer, walkable from both ends.
//!
//! Between two neighbouring elements sits one *link*: the XOR of their two lengths, in a
//! variable-length form that reads the same forwards and backwards. The chunk header keeps the
//! lengths of its first and last element, so a walk from the head knows the length of the
//! element it stands on and the next link gives the next one's (`len ^ link`); a walk from the
//! tail does the same backwards. Elements of similar length (the usual case: ids, keys,
//! members of one format) cost their bytes plus one link byte, where Redis's listpack entry
//! costs a header byte plus a back-length byte; push and pop at either end are O(1), and
//! finding element `i` walks from the nearer end of the chunk.
//!
//! A link `v` (the XOR of two `u32` lengths) is written as:
//!
//! | `v` | bytes |
//! |---|---|
//! | `< 0x80` | `0vvvvvvv` |
//! | `< 0x1000` | `10hhhhhh 10llllll` (the high and low six bits) |
//! | otherwise | `11kkkkkk`, `k` (2..=4) bytes of `v` little-endian, `11kkkkkk` again |
//!
//! so the last byte of a link tells its size as well as the first does.

use super::alloc_size;

/// Where a chunk's free room goes when it must move or grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    Front,
    Back,
}

/// Bytes of the link for `v`.
fn link_len(v: u32) -> usize {
    if v < 0x80 {
        1
    } else if v < 0x1000 {
        2
    } else {
        2 + (32 - v.leading_zeros() as usize).div_ceil(8)
    }
}

/// Writes the link for `v` into `out`, which is exactly [`link_len`]`(v)` bytes long.
fn write_link(out: &mut [u8], v: u32) {
    match out.len() {
        1 => out[0] = v as u8,
        2 => {
            out[0] = 0x80 | (v >> 6) as u8;
            out[1] = 0x80 | (v & 0x3f) as u8;
        }
        n => {
            let k = n - 2;
            out[0] = 0xc0 | k as u8;
            out[1..=k].copy_from_slice(&v.to_le_bytes()[..k]);
            out[n - 1] = 0xc0 | k as u8;
        }
    }
}

fn le(bytes: &[u8]) -> u32 {
    let mut b = [0u8; 4];
    b[..bytes.len()].copy_from_slice(bytes);
    u32::from_le_bytes(b)
}

/// The link starting at `at`: its value and size.
fn read_link(buf: &[u8], at: usize) -> (u32, usize) {
    let b = buf[at];
    if b < 0x80 {
        (u32::from(b), 1)
    } else if b < 0xc0 {
        let v = (u32::from(b & 0x3f) << 6) | u32::from(buf[at + 1] & 0x3f);
        (v, 2)
    } else {
        let k = usize::from(b & 0x3f);
        (le(&buf[at + 1..at + 1 + k]), k + 2)
    }
}

/// The link ending just before `end`: its value and size.
fn read_link_back(buf: &[u8], end: usize) -> (u32, usize) {
    let b = buf[end - 1];
    if b < 0x80 {
        (u32::from(b), 1)
    } else if b < 0xc0 {
        let v = (u32::from(buf[end - 2] & 0x3f) << 6) | u32::from(b & 0x3f);
        (v, 2)
    } else {
        let k = usize::from(b & 0x3f);
        (le(&buf[end - 1 - k..end - 1]), k + 2)
    }
}

/// An element's length as stored; elements are bounded by the 512 MiB bulk limit and a chunk
/// by its byte limit plus one element, far below 4 GiB.
fn len32(n: usize) -> u32 {
    u32::try_from(n).expect("list element larger than 4 GiB")
}

/// Where an element starts in the buffer and how long it is.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cursor {
    at: usize,
    len: usize,
}

/// Elements packed in `buf[head..tail]`, each followed by a link to the next (see the module
/// docs). The free room before `head` and after `tail` lets pushes at either end write in
/// place, so both ends are O(1) amortized, as in a `VecDeque`.
#[derive(Debug, Clone, Default)]
pub(super) struct Chunk {
    buf: Box<[u8]>,
    head: u32,
    tail: u32,
    count: u32,
    /// The first element's length (0 when empty).
    head_len: u32,
    /// The last element's length (0 when empty).
    tail_len: u32,
}

impl Chunk {
    /// An empty chunk whose `capacity` bytes of free room are all at `side`.
    pub(super) fn with_capacity(capacity: usize, side: Side) -> Chunk {
        let at = match side {
            Side::Front => len32(capacity),
            Side::Back => 0,
        };
        Chunk {
            buf: vec![0; capacity].into_boxed_slice(),
            head: at,
            tail: at,
            ..Chunk::default()
        }
    }

    /// A chunk of exactly these elements, without free room.
    pub(super) fn from_elements<'a>(elements: impl Iterator<Item = &'a [u8]> + Clone) -> Chunk {
        let mut size = 0;
        let mut prev = None;
        for e in elements.clone() {
            size += Self::cost(e.len(), prev);
            prev = Some(e.len());
        }
        let mut c = Chunk::with_capacity(size, Side::Back);
        for e in elements {
            c.push_back(e);
        }
        debug_assert_eq!(c.tail as usize, size);
        c
    }

    pub(super) fn len(&self) -> usize {
        self.count as usize
    }

    /// Bytes of elements and links.
    pub(super) fn bytes(&self) -> usize {
        (self.tail - self.head) as usize
    }

    /// Bytes an element of `len` bytes takes next to a neighbour of `neighbour` bytes.
    pub(super) fn cost(len: usize, neighbour: Option<usize>) -> usize {
        len + neighbour.map_or(0, |n| link_len(len32(len) ^ len32(n)))
    }

    /// Bytes pushing an element of `len` bytes at `side` would add.
    pub(super) fn push_cost(&self, len: usize, side: Side) -> usize {
        let neighbour = match (self.count, side) {
            (0, _) => None,
            (_, Side::Front) => Some(self.head_len as usize),
            (_, Side::Back) => Some(self.tail_len as usize),
        };
        Self::cost(len, neighbour)
    }

    pub(super) fn first(&self) -> Cursor {
        Cursor {
            at: self.head as usize,
            len: self.head_len as usize,
        }
    }

    pub(super) fn last(&self) -> Cursor {
        Cursor {
            at: (self.tail - self.tail_len) as usize,
            len: self.tail_len as usize,
        }
    }

    /// The element after `c` (which must not be the last).
    fn next(&self, c: Cursor) -> Cursor {
        let end = c.at + c.len;
        let (v, n) = read_link(&self.buf, end);
        Cursor {
            at: end + n,
            len: c.len ^ v as usize,
        }
    }

    /// The element before `c` (which must not be the first).
    fn prev(&self, c: Cursor) -> Cursor {
        let (v, n) = read_link_back(&self.buf, c.at);
        let len = c.len ^ v as usize;
        Cursor {
            at: c.at - n - len,
            len,
        }
    }

    pub(super) fn get(&self, c: Cursor) -> &[u8] {
        &self.buf[c.at..c.at + c.len]
    }

    /// Element `i` (< len), walking from the nearer end.
    pub(super) fn cursor(&self, i: usize) -> Cursor {
        let n = self.len();
        debug_assert!(i < n);
        if i <= n / 2 {
            (0..i).fold(self.first(), |c, _| self.next(c))
        } else {
            (i + 1..n).fold(self.last(), |c, _| self.prev(c))
        }
    }

    pub(super) fn iter(&self) -> Iter<'_> {
        Iter {
            chunk: self,
            front: self.first(),
            back: self.last(),
            left: self.len(),
        }
    }

    /// The elements from `i` (< len) on.
    pub(super) fn iter_from(&self, i: usize) -> Iter<'_> {
        Iter {
            chunk: self,
            front: self.cursor(i),
            back: self.last(),
            left: self.len() - i,
        }
    }

    /// Free bytes at `side`.
    fn room(&self, side: Side) -> usize {
        match side {
            Side::Front => self.head as usize,
            Side::Back => self.buf.len() - self.tail as usize,
        }
    }

    /// Makes `need` free bytes at `side`. The live bytes move when the buffer has the room
    /// elsewhere (the rest of the free room split evenly, so pushes that alternate ends move
    /// them rarely); otherwise the buffer grows to exactly what is needed when `exact`, else
    /// to twice its size, capped at `cap` (if that is enough), all new room at `side`.
    pub(super) fn reserve(&mut self, side: Side, need: usize, exact: bool, cap: usize) {
        if self.room(side) >= need {
            return;
        }
        let bytes = self.bytes();
        let want = bytes + need;
        if self.buf.len() >= want {
            let spare = (self.buf.len() - want) / 2;
            let head = match side {
                Side::Front => self.buf.len() - spare - bytes,
                Side::Back => spare,
            };
            self.buf
                .copy_within(self.head as usize..self.tail as usize, head);
            self.head = len32(head);
            self.tail = len32(head + bytes);
            return;
        }
        let size = if exact {
            want
        } else {
            (self.buf.len() * 2).min(cap).max(want)
        };
        if side == Side::Back && self.head == 0 {
            // Grow in place where the allocator can (`realloc`).
            let mut v = Vec::from(std::mem::take(&mut self.buf));
            v.reserve_exact(size - v.len());
            v.resize(size, 0);
            self.buf = v.into_boxed_slice();
            return;
        }
        let head = match side {
            Side::Front => size - bytes,
            Side::Back => 0,
        };
        let mut buf = vec![0; size].into_boxed_slice();
        buf[head..head + bytes].copy_from_slice(&self.buf[self.head as usize..self.tail as usize]);
        self.buf = buf;
        self.head = len32(head);
        self.tail = len32(head + bytes);
    }

    /// Prepends `v`; the room must be there ([`Chunk::reserve`]).
    pub(super) fn push_front(&mut self, v: &[u8]) {
        let len = len32(v.len());
        let at = if self.count == 0 {
            self.tail_len = len;
            self.head as usize - v.len()
        } else {
            let link = len ^ self.head_len;
            let n = link_len(link);
            let end = self.head as usize;
            write_link(&mut self.buf[end - n..end], link);
            end - n - v.len()
        };
        self.buf[at..at + v.len()].copy_from_slice(v);
        self.head = len32(at);
        self.head_len = len;
        self.count += 1;
    }

    /// Appends `v`; the room must be there ([`Chunk::reserve`]).
    pub(super) fn push_back(&mut self, v: &[u8]) {
        let len = len32(v.len());
        let mut at = self.tail as usize;
        if self.count == 0 {
            self.head_len = len;
        } else {
            let link = len ^ self.tail_len;
            let n = link_len(link);
            write_link(&mut self.buf[at..at + n], link);
            at += n;
        }
        self.buf[at..at + v.len()].copy_from_slice(v);
        self.tail = len32(at + v.len());
        self.tail_len = len;
        self.count += 1;
    }

    pub(super) fn pop_front(&mut self) -> Box<[u8]> {
        let c = self.first();
        let v: Box<[u8]> = self.get(c).into();
        self.drain_front(1);
        v
    }

    pub(super) fn pop_back(&mut self) -> Box<[u8]> {
        let c = self.last();
        let v: Box<[u8]> = self.get(c).into();
        self.truncate(self.len() - 1);
        v
    }

    /// Drops the first `k` (<= len) elements.
    pub(super) fn drain_front(&mut self, k: usize) {
        if k == 0 {
            return;
        }
        if k == self.len() {
            self.clear();
            return;
        }
        let c = self.next(self.cursor(k - 1));
        self.head = len32(c.at);
        self.head_len = len32(c.len);
        self.count -= len32(k);
    }

    /// Keeps the first `k` (<= len) elements.
    pub(super) fn truncate(&mut self, k: usize) {
        if k == self.len() {
            return;
        }
        if k == 0 {
            self.clear();
            return;
        }
        let c = self.prev(self.cursor(k));
        self.tail = len32(c.at + c.len);
        self.tail_len = len32(c.len);
        self.count = len32(k);
    }

    fn clear(&mut self) {
        self.tail = self.head;
        self.count = 0;
        self.head_len = 0;
        self.tail_len = 0;
    }

    /// Overwrites element `c` with `v` of the same length.
    pub(super) fn overwrite(&mut self, c: Cursor, v: &[u8]) {
        self.buf[c.at..c.at + c.len].copy_from_slice(v);
    }

    /// Bytes of the buffer, free room included.
    #[cfg(test)]
    pub(super) fn capacity(&self) -> usize {
        self.buf.len()
    }

    pub(super) fn heap_bytes(&self) -> usize {
        if self.buf.is_empty() {
            0
        } else {
            alloc_size(self.buf.len())
        }
    }

    /// Checks the layout by walking it both ways; for tests.
    #[cfg(test)]
    pub(super) fn check(&self) {
        assert!(self.head <= self.tail && self.tail as usize <= self.buf.len());
        if self.count == 0 {
            assert_eq!((self.bytes(), self.head_len, self.tail_len), (0, 0, 0));
            return;
        }
        let forward: Vec<&[u8]> = self.iter().collect();
        let mut backward: Vec<&[u8]> = self.iter().rev().collect();
        backward.reverse();
        assert_eq!(forward, backward);
        assert_eq!(forward.len(), self.len());
        let mut size = 0;
        let mut prev = None;
        for e in &forward {
            size += Self::cost(e.len(), prev);
            prev = Some(e.len());
        }
        assert_eq!(size, self.bytes(), "the elements and links fill head..tail");
        let c = self.last();
        assert_eq!(c.at + c.len, self.tail as usize);
    }
}

/// The elements of a chunk (or of its elements from some index on), from either end.
pub(super) struct Iter<'a> {
    chunk: &'a Chunk,
    front: Cursor,
    back: Cursor,
    left: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let c = self.front;
        self.left -= 1;
        if self.left > 0 {
            self.front = self.chunk.next(c);
        }
        Some(self.chunk.get(c))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let c = self.back;
        self.left -= 1;
        if self.left > 0 {
            self.back = self.chunk.prev(c);
        }
        Some(self.chunk.get(c))
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_read_the_same_both_ways() {
        let cases: &[(u32, usize)] = &[
            (0, 1),
            (1, 1),
            (0x7f, 1),
            (0x80, 2),
            (127 ^ 128, 2),
            (0xfff, 2),
            (0x1000, 4),
            (16383, 4),
            (16384, 4),
            (0xffff, 4),
            (0x1_0000, 5),
            (0xff_ffff, 5),
            (0x100_0000, 6),
            (u32::MAX, 6),
        ];
        for &(v, size) in cases {
            assert_eq!(link_len(v), size, "{v:#x}");
            // Surround the link with bytes that look like links, as element bytes may.
            let mut buf = vec![0xc2; 3 + size + 3];
            write_link(&mut buf[3..3 + size], v);
            assert_eq!(read_link(&buf, 3), (v, size), "{v:#x}");
            assert_eq!(read_link_back(&buf, 3 + size), (v, size), "{v:#x}");
        }
    }

    fn chunk_of(elements: &[&[u8]]) -> Chunk {
        Chunk::from_elements(elements.iter().copied())
    }

    #[test]
    fn built_chunks_are_exact_and_walk_both_ways() {
        let big = vec![b'b'; 16384];
        let mid = vec![b'm'; 127];
        let mid2 = vec![b'n'; 128];
        let huge = vec![b'h'; 16383];
        let table: &[&[&[u8]]] = &[
            &[],
            &[b""],
            &[b"", b"", b""],
            &[b"a", b"", b"member:00000001"],
            &[&mid, &mid2, &mid, b"", &huge, &big, b"x", &big],
        ];
        for elements in table {
            let c = chunk_of(elements);
            c.check();
            assert_eq!(c.capacity(), c.bytes());
            assert_eq!(c.iter().collect::<Vec<_>>(), *elements);
            for (i, e) in elements.iter().enumerate() {
                assert_eq!(c.get(c.cursor(i)), *e);
                assert_eq!(c.iter_from(i).collect::<Vec<_>>(), elements[i..]);
            }
        }
        // 15-byte members cost 16 bytes each: their lengths are equal, so every link is 0.
        let m: Vec<Vec<u8>> = (0..100)
            .map(|i| format!("member:{i:08}").into_bytes())
            .collect();
        let c = Chunk::from_elements(m.iter().map(Vec::as_slice));
        assert_eq!(c.bytes(), 100 * 16 - 1);
    }

    #[test]
    fn pushes_and_pops_at_both_ends() {
        let sizes = [0usize, 1, 15, 127, 128, 4095, 4096, 16383, 16384, 0, 3];
        let mut c = Chunk::default();
        let mut model = std::collections::VecDeque::new();
        for (k, &n) in sizes.iter().enumerate() {
            let v = vec![k as u8; n];
            let side = if k % 2 == 0 { Side::Front } else { Side::Back };
            c.reserve(side, c.push_cost(n, side), k % 3 == 0, 8192);
            match side {
                Side::Front => {
                    c.push_front(&v);
                    model.push_front(v);
                }
                Side::Back => {
                    c.push_back(&v);
                    model.push_back(v);
                }
            }
            c.check();
            assert!(c.iter().eq(model.iter().map(Vec::as_slice)));
        }
        while !model.is_empty() {
            if model.len() % 2 == 0 {
                assert_eq!(&*c.pop_front(), model.pop_front().unwrap().as_slice());
            } else {
                assert_eq!(&*c.pop_back(), model.pop_back().unwrap().as_slice());
            }
            c.check();
            assert!(c.iter().eq(model.iter().map(Vec::as_slice)));
        }
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn reserve_moves_before_it_grows() {
        let mut c = Chunk::with_capacity(64, Side::Back);
        for _ in 0..3 {
            c.reserve(Side::Back, c.push_cost(15, Side::Back), false, 64);
            c.push_back(&[7; 15]);
        }
        assert_eq!(
            (c.bytes(), c.room(Side::Front), c.room(Side::Back)),
            (47, 0, 17)
        );
        // Front room is made by moving the elements, half of what is left over staying
        // behind them.
        c.reserve(Side::Front, c.push_cost(3, Side::Front), false, 64);
        assert_eq!(c.capacity(), 64);
        assert_eq!((c.room(Side::Front), c.room(Side::Back)), (11, 6));
        c.push_front(b"abc");
        c.check();
        // Past the buffer, it doubles, but not beyond the cap.
        c.reserve(Side::Front, c.push_cost(20, Side::Front), false, 100);
        assert_eq!(c.capacity(), 100);
        c.push_front(&[1; 20]);
        c.check();
        assert_eq!(c.iter().next(), Some(&[1u8; 20][..]));
        assert_eq!(c.iter().next_back(), Some(&[7u8; 15][..]));
    }

    #[test]
    fn drain_and_truncate_cut_at_every_index() {
        let elements: Vec<Vec<u8>> = (0..9).map(|i| vec![b'e'; i * 40]).collect();
        for k in 0..=elements.len() {
            let mut c = Chunk::from_elements(elements.iter().map(Vec::as_slice));
            c.drain_front(k);
            c.check();
            assert!(c.iter().eq(elements[k..].iter().map(Vec::as_slice)));
            let mut c = Chunk::from_elements(elements.iter().map(Vec::as_slice));
            c.truncate(k);
            c.check();
            assert!(c.iter().eq(elements[..k].iter().map(Vec::as_slice)));
        }
    }
}
