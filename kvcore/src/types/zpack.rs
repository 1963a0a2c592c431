//! Small sorted sets packed in one buffer, like Redis's listpack encoding: entries sorted by
//! (score, member), each `score (f64, little-endian) ++ LEB128 length ++ member`. Every
//! operation is a linear walk over at most 128 short entries.

use super::inline::{Reader, Writer, put_score, score};
use super::rng::{Rng, pick};

/// (score, member) orders before (score2, member2).
pub(crate) fn less(score: f64, member: &[u8], score2: f64, member2: &[u8]) -> bool {
    score < score2 || (score == score2 && member < member2)
}

/// A small sorted set; see the module docs.
#[derive(Debug, Clone, Default)]
pub(crate) struct ZPack {
    data: Vec<u8>,
    count: usize,
}

impl ZPack {
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    pub(crate) fn capacity(&self) -> usize {
        self.data.capacity()
    }

    /// The inline form: each entry as a compact score (one byte for a small integer, see
    /// `inline.rs`), then the member with its length; None if it does not fit `out`.
    pub(crate) fn encode_inline(&self, out: &mut [u8]) -> Option<usize> {
        let mut w = Writer::new(out);
        for (_, s, m) in self.entries() {
            put_score(&mut w, s)?;
            w.item(m)?;
        }
        Some(w.len())
    }

    /// The sorted set [`ZPack::encode_inline`] wrote, in an exact buffer.
    pub(crate) fn from_inline(bytes: &[u8]) -> ZPack {
        let mut r = Reader::new(bytes);
        let mut entries = Vec::new();
        while !r.is_done() {
            let s = score(&mut r);
            entries.push((s, r.item()));
        }
        let varint_len = |n: usize| (usize::BITS - n.leading_zeros()).max(1).div_ceil(7) as usize;
        let size = entries
            .iter()
            .map(|(_, m)| 8 + varint_len(m.len()) + m.len())
            .sum();
        let mut data = Vec::with_capacity(size);
        for (s, m) in &entries {
            data.extend_from_slice(&s.to_le_bytes());
            let mut n = m.len();
            loop {
                let byte = (n & 0x7f) as u8;
                n >>= 7;
                if n == 0 {
                    data.push(byte);
                    break;
                }
                data.push(byte | 0x80);
            }
            data.extend_from_slice(m);
        }
        ZPack {
            data,
            count: entries.len(),
        }
    }

    /// The entry at byte position `pos`: score, member, position of the next entry.
    fn read(&self, pos: usize) -> (f64, &[u8], usize) {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(&self.data[pos..pos + 8]);
        let (mut n, mut shift, mut p) = (0usize, 0, pos + 8);
        loop {
            let b = self.data[p];
            p += 1;
            n |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        (f64::from_le_bytes(raw), &self.data[p..p + n], p + n)
    }

    /// Entries in ascending order with their byte positions.
    fn entries(&self) -> impl Iterator<Item = (usize, f64, &[u8])> + '_ {
        let mut pos = 0;
        std::iter::from_fn(move || {
            if pos >= self.data.len() {
                return None;
            }
            let (s, m, next) = self.read(pos);
            let here = pos;
            pos = next;
            Some((here, s, m))
        })
    }

    /// Members in ascending order.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = (&[u8], f64)> + '_ {
        // Entries have no back links; small sets are collected for reverse walks.
        let all: Vec<(&[u8], f64)> = self.entries().map(|(_, s, m)| (m, s)).collect();
        all.into_iter()
    }

    fn find(&self, member: &[u8]) -> Option<(usize, f64)> {
        self.entries()
            .find(|(_, _, m)| *m == member)
            .map(|(pos, s, _)| (pos, s))
    }

    pub(crate) fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|(_, s)| s)
    }

    /// Adds a member that is not present yet, keeping the order.
    pub(crate) fn insert_new(&mut self, member: &[u8], score: f64) {
        let at = self
            .entries()
            .find(|&(_, s, m)| less(score, member, s, m))
            .map_or(self.data.len(), |(pos, _, _)| pos);
        let mut entry = Vec::with_capacity(member.len() + 10);
        entry.extend_from_slice(&score.to_le_bytes());
        let mut n = member.len();
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                entry.push(byte);
                break;
            }
            entry.push(byte | 0x80);
        }
        entry.extend_from_slice(member);
        super::pack::grow(&mut self.data, entry.len());
        self.data.splice(at..at, entry);
        self.count += 1;
    }

    /// Removes a member, returning its score.
    pub(crate) fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (pos, score) = self.find(member)?;
        let (_, _, end) = self.read(pos);
        self.data.drain(pos..end);
        self.count -= 1;
        Some(score)
    }

    /// Changes the score of a present member.
    pub(crate) fn set_score(&mut self, member: &[u8], score: f64) {
        self.remove(member);
        self.insert_new(member, score);
    }

    /// How many leading entries satisfy `pred` (true on a prefix).
    pub(crate) fn count_while(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        self.entries().take_while(|&(_, s, m)| pred(s, m)).count()
    }

    /// The entries at ascending positions `range`, ascending or (when `rev`) descending.
    pub(crate) fn collect(&self, range: std::ops::Range<usize>, rev: bool) -> Vec<(&[u8], f64)> {
        let mut out: Vec<(&[u8], f64)> = self
            .entries()
            .skip(range.start)
            .take(range.len())
            .map(|(_, s, m)| (m, s))
            .collect();
        if rev {
            out.reverse();
        }
        out
    }

    /// Removes up to `count` members from the low end (or the high end when `max`).
    pub(crate) fn pop(&mut self, max: bool, count: usize) -> Vec<(Box<[u8]>, f64)> {
        let n = count.min(self.count);
        let range = if max {
            self.count - n..self.count
        } else {
            0..n
        };
        let out: Vec<(Box<[u8]>, f64)> = self
            .collect(range, max)
            .into_iter()
            .map(|(m, s)| (Box::from(m), s))
            .collect();
        for (m, _) in &out {
            self.remove(m);
        }
        out
    }

    /// Random members with Redis's count rules.
    pub(crate) fn random_members(&self, rng: &mut Rng, count: i64) -> Vec<(&[u8], f64)> {
        let all: Vec<(&[u8], f64)> = self.iter().collect();
        pick(rng, all.len(), count)
            .into_iter()
            .map(|i| all[i])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_through_inserts_updates_and_removals() {
        let mut z = ZPack::default();
        for (s, m) in [(2.0, "b"), (1.0, "z"), (2.0, "a"), (f64::NEG_INFINITY, "n")] {
            z.insert_new(m.as_bytes(), s);
        }
        let order: Vec<(&[u8], f64)> = z.iter().collect();
        assert_eq!(
            order,
            vec![
                (&b"n"[..], f64::NEG_INFINITY),
                (b"z", 1.0),
                (b"a", 2.0),
                (b"b", 2.0)
            ]
        );
        z.set_score(b"n", 5.0);
        assert_eq!(z.score(b"n"), Some(5.0));
        assert_eq!(z.collect(2..4, true), vec![(&b"n"[..], 5.0), (b"b", 2.0)]);
        assert_eq!(z.count_while(|s, _| s < 2.0), 1);
        assert_eq!(z.remove(b"a"), Some(2.0));
        assert_eq!(z.remove(b"a"), None);
        assert_eq!(z.pop(true, 1), vec![(Box::from(&b"n"[..]), 5.0)]);
        assert_eq!(z.len(), 2);
        let long = vec![b'q'; 200];
        z.insert_new(&long, 0.0);
        assert_eq!(z.score(&long), Some(0.0));
        assert_eq!(z.iter().next(), Some((&long[..], 0.0)));
    }
}
