//! Small containers packed into one buffer, like Redis's listpack: byte strings back to back,
//! each behind a LEB128 length. A hash or set of at most 128 short elements lives in one
//! allocation and is searched linearly (128 short compares cost less than hashing plus the
//! cache misses of a table), which is what makes millions of small hashes affordable.

/// Byte strings packed back to back. Positions are byte offsets of an entry's length prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Pack {
    data: Vec<u8>,
    count: usize,
}

fn put_len(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// `put_len` into a stack buffer (a `usize` takes at most 10 bytes); returns the prefix.
fn len_prefix(mut n: usize, buf: &mut [u8; 10]) -> &[u8] {
    let mut i = 0;
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            buf[i] = byte;
            return &buf[..=i];
        }
        buf[i] = byte | 0x80;
        i += 1;
    }
}

/// Buffers up to this many bytes grow to the exact size they need, as Redis's listpacks are
/// reallocated on every insert: a small container then wastes only the allocator's rounding,
/// not up to half of a doubled buffer. Past it, growth is amortized (doubling).
const EXACT_GROWTH: usize = 256;

/// Makes room for `extra` more bytes in `buf`, exactly while it stays small.
pub(crate) fn grow(buf: &mut Vec<u8>, extra: usize) {
    if buf.capacity() - buf.len() < extra {
        if buf.len() + extra <= EXACT_GROWTH {
            buf.reserve_exact(extra);
        } else {
            buf.reserve(extra);
        }
    }
}

impl Pack {
    /// Number of entries.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Bytes used by the buffer.
    pub(crate) fn capacity(&self) -> usize {
        self.data.capacity()
    }

    /// The encoded entries (what a container slot keeps inline, see `inline.rs`).
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// The pack whose encoded entries are `bytes` (from [`Pack::bytes`]), in an exact buffer.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Pack {
        let mut p = Pack {
            data: bytes.to_vec(),
            count: 0,
        };
        p.count = p.iter().count();
        p
    }

    /// The entry at `pos` and the position after it.
    pub(crate) fn at(&self, pos: usize) -> (&[u8], usize) {
        let (mut n, mut shift, mut p) = (0usize, 0, pos);
        loop {
            let b = self.data[p];
            p += 1;
            n |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        (&self.data[p..p + n], p + n)
    }

    /// Entries with their positions, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, &[u8])> + '_ {
        let mut pos = 0;
        std::iter::from_fn(move || {
            if pos >= self.data.len() {
                return None;
            }
            let (v, next) = self.at(pos);
            let here = pos;
            pos = next;
            Some((here, v))
        })
    }

    /// Appends an entry.
    pub(crate) fn push(&mut self, v: &[u8]) {
        let mut buf = [0u8; 10];
        grow(
            &mut self.data,
            len_prefix(v.len(), &mut buf).len() + v.len(),
        );
        put_len(&mut self.data, v.len());
        self.data.extend_from_slice(v);
        self.count += 1;
    }

    /// Inserts an entry before the one at `pos` (`pos` = buffer length appends).
    pub(crate) fn insert(&mut self, pos: usize, v: &[u8]) {
        let mut buf = [0u8; 10];
        let head = len_prefix(v.len(), &mut buf);
        grow(&mut self.data, head.len() + v.len());
        self.data.splice(pos..pos, head.iter().chain(v).copied());
        self.count += 1;
    }

    /// Byte length of the buffer: the position after the last entry.
    pub(crate) fn end(&self) -> usize {
        self.data.len()
    }

    /// Replaces the entry at `pos`.
    pub(crate) fn replace(&mut self, pos: usize, v: &[u8]) {
        let (_, end) = self.at(pos);
        // The length prefix is built on the stack: HSET on an existing field runs this, and
        // an entry of the same encoded size is overwritten in place without moving the rest.
        let mut buf = [0u8; 10];
        let head = len_prefix(v.len(), &mut buf);
        if end - pos == head.len() + v.len() {
            let (h, rest) = self.data[pos..end].split_at_mut(head.len());
            h.copy_from_slice(head);
            rest.copy_from_slice(v);
        } else {
            grow(
                &mut self.data,
                (head.len() + v.len()).saturating_sub(end - pos),
            );
            self.data.splice(pos..end, head.iter().chain(v).copied());
        }
    }

    /// Removes the `n` entries starting at `pos`.
    pub(crate) fn remove(&mut self, pos: usize, n: usize) {
        let mut end = pos;
        for _ in 0..n {
            end = self.at(end).1;
        }
        self.data.drain(pos..end);
        self.count -= n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_buffers_grow_exactly_and_large_ones_by_doubling() {
        let mut p = Pack::default();
        for i in 0..10 {
            p.push(format!("f{i}").as_bytes());
            assert_eq!(p.capacity(), p.end(), "exact after {} entries", i + 1);
        }
        p.insert(0, b"first");
        p.replace(0, b"longer first");
        assert_eq!(p.capacity(), p.end());
        while p.end() <= EXACT_GROWTH {
            p.push(b"0123456789");
        }
        // The push that crossed the limit doubled the buffer.
        assert!(
            p.capacity() >= 2 * (p.end() - 11),
            "amortized past {EXACT_GROWTH} bytes"
        );
    }

    #[test]
    fn push_iter_replace_remove() {
        let mut p = Pack::default();
        let long = vec![b'x'; 300]; // two-byte length prefix
        for v in [&b"a"[..], b"", &long, b"\x00\xff"] {
            p.push(v);
        }
        assert_eq!(p.count(), 4);
        let all: Vec<&[u8]> = p.iter().map(|(_, v)| v).collect();
        assert_eq!(all, vec![&b"a"[..], b"", &long[..], b"\x00\xff"]);
        let pos: Vec<usize> = p.iter().map(|(pos, _)| pos).collect();
        p.replace(pos[2], b"short");
        p.replace(pos[0], &long);
        // Same encoded size: overwritten in place, the neighbours untouched.
        let pos: Vec<usize> = p.iter().map(|(pos, _)| pos).collect();
        p.replace(pos[3], b"\x01\x02");
        assert_eq!(p.iter().nth(3).map(|(_, v)| v), Some(&b"\x01\x02"[..]));
        p.replace(pos[3], b"\x00\xff");
        let all: Vec<Vec<u8>> = p.iter().map(|(_, v)| v.to_vec()).collect();
        assert_eq!(
            all,
            vec![
                long.clone(),
                vec![],
                b"short".to_vec(),
                b"\x00\xff".to_vec()
            ]
        );
        let pos: Vec<usize> = p.iter().map(|(pos, _)| pos).collect();
        p.remove(pos[1], 2);
        let all: Vec<Vec<u8>> = p.iter().map(|(_, v)| v.to_vec()).collect();
        assert_eq!(all, vec![long, b"\x00\xff".to_vec()]);
        assert_eq!(p.count(), 2);
        p.remove(0, 2);
        assert_eq!(p.iter().count(), 0);
    }
}
