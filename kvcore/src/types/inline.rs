//! The inline form of a small container: the bytes a 64-byte container slot keeps next to its
//! key (see `shard.rs`). Lists, hashes, sets and sorted sets write themselves into a bounded
//! buffer with [`Writer`] and read themselves back with [`Reader`]; a container whose form
//! does not fit stays in a full slot. Lengths are LEB128, as in [`super::pack`].

/// Writes into a fixed buffer; every write fails (None) once the buffer is full.
pub(crate) struct Writer<'a> {
    out: &'a mut [u8],
    len: usize,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(out: &'a mut [u8]) -> Self {
        Writer { out, len: 0 }
    }

    /// Bytes written so far.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) -> Option<()> {
        let end = self.len.checked_add(b.len())?;
        self.out.get_mut(self.len..end)?.copy_from_slice(b);
        self.len = end;
        Some(())
    }

    /// An unsigned LEB128 number.
    pub(crate) fn varint(&mut self, mut n: u64) -> Option<()> {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                return self.bytes(&[byte]);
            }
            self.bytes(&[byte | 0x80])?;
        }
    }

    /// A length-prefixed byte string.
    pub(crate) fn item(&mut self, b: &[u8]) -> Option<()> {
        self.varint(b.len() as u64)?;
        self.bytes(b)
    }
}

/// Reads what a [`Writer`] wrote. The bytes come from the store's own slot, so a short read
/// is a bug, and panics.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub(crate) fn bytes(&mut self, n: usize) -> &'a [u8] {
        let b = &self.data[self.pos..self.pos + n];
        self.pos += n;
        b
    }

    pub(crate) fn varint(&mut self) -> u64 {
        let (mut n, mut shift) = (0u64, 0);
        loop {
            let b = self.bytes(1)[0];
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return n;
            }
            shift += 7;
        }
    }

    pub(crate) fn item(&mut self) -> &'a [u8] {
        let n = self.varint() as usize;
        self.bytes(n)
    }
}

/// Largest integer score kept as a varint: every integer up to 2^53 is an exact `f64`.
const INT_SCORE: f64 = 9_007_199_254_740_992.0;

/// A score: an integral one (not -0) as `zigzag(i) << 1`, any other as `1` then its 8 bytes,
/// so the scores 0..63 of a small leaderboard take one byte each.
pub(crate) fn put_score(w: &mut Writer<'_>, score: f64) -> Option<()> {
    let integral = score.fract() == 0.0 && score.abs() <= INT_SCORE;
    if integral && !(score == 0.0 && score.is_sign_negative()) {
        let i = score as i64;
        let zigzag = ((i << 1) ^ (i >> 63)) as u64;
        w.varint(zigzag << 1)
    } else {
        w.varint(1)?;
        w.bytes(&score.to_le_bytes())
    }
}

pub(crate) fn score(r: &mut Reader<'_>) -> f64 {
    let head = r.varint();
    if head & 1 == 1 {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(r.bytes(8));
        return f64::from_le_bytes(raw);
    }
    let zigzag = head >> 1;
    let i = ((zigzag >> 1) as i64) ^ -((zigzag & 1) as i64);
    i as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_round_trip_bit_for_bit() {
        let cases = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            4.0,
            63.0,
            -64.0,
            1e15,
            INT_SCORE,
            -INT_SCORE,
            INT_SCORE * 2.0,
            0.5,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            1e300,
        ];
        for s in cases {
            let mut buf = [0u8; 16];
            let mut w = Writer::new(&mut buf);
            put_score(&mut w, s).unwrap();
            let n = w.len();
            let mut r = Reader::new(&buf[..n]);
            assert_eq!(score(&mut r).to_bits(), s.to_bits(), "{s}");
            assert!(r.is_done());
        }
        let mut buf = [0u8; 16];
        let mut w = Writer::new(&mut buf);
        put_score(&mut w, 4.0).unwrap();
        assert_eq!(w.len(), 1, "small integers take one byte");
    }

    #[test]
    fn a_full_writer_refuses() {
        let mut buf = [0u8; 4];
        let mut w = Writer::new(&mut buf);
        assert!(w.item(b"abc").is_some());
        assert!(w.item(b"").is_none());
        assert!(w.bytes(b"x").is_none());
    }
}
