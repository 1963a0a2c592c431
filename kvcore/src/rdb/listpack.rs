//! Redis's listpack (the blob inside hash, sorted-set, list and stream values of an RDB), and
//! the two older blobs Redis still loads: the ziplist and the intset.
//!
//! A listpack is `total-bytes u32 LE`, `count u16 LE` (65535 when unknown), the elements,
//! `0xFF`. An element is an encoding byte with its payload (a 7-, 13-, 16-, 24-, 32- or 64-bit
//! integer, or a string of 6-, 12- or 32-bit length), then a *backlen*: the element's size in
//! 1–5 bytes, 7 bits each, for walking backwards. A string that reads as a 64-bit integer is
//! stored as the smallest integer that holds it, so [`Writer::push`] makes Redis's bytes.

use super::Corrupt;

/// One element as read: listpacks and ziplists keep integers apart from strings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Elem<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl Elem<'_> {
    /// The element as Redis hands it to commands: integers as decimal text.
    pub(crate) fn to_vec(self) -> Vec<u8> {
        match self {
            Elem::Int(v) => v.to_string().into_bytes(),
            Elem::Str(s) => s.to_vec(),
        }
    }
}

/// Redis's `lpStringToInt64`: the canonical decimal form of an `i64`, under 21 bytes.
pub(crate) fn parse_int(s: &[u8]) -> Option<i64> {
    if s.len() >= 21 {
        return None;
    }
    kvnum::parse_i64(s)
}

const HEADER: usize = 6;
const EOF: u8 = 0xFF;

/// Builds a listpack, element by element.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    buf: Vec<u8>,
    count: usize,
}

impl Writer {
    pub(crate) fn new() -> Writer {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0; HEADER]);
        Writer { buf, count: 0 }
    }

    /// The size the listpack has now, header and terminator included (`lpBytes`).
    pub(crate) fn bytes(&self) -> usize {
        self.buf.len() + 1
    }

    /// Appends a string, as an integer when it is one (`lpAppend`).
    pub(crate) fn push(&mut self, s: &[u8]) {
        match parse_int(s) {
            Some(v) => self.push_int(v),
            None => {
                let start = self.buf.len();
                let len = s.len();
                if len < 64 {
                    self.buf.push(0x80 | len as u8);
                } else if len < 4096 {
                    self.buf
                        .extend_from_slice(&[0xE0 | (len >> 8) as u8, len as u8]);
                } else {
                    self.buf.push(0xF0);
                    self.buf.extend_from_slice(&(len as u32).to_le_bytes());
                }
                self.buf.extend_from_slice(s);
                self.backlen(start);
            }
        }
    }

    /// Appends an integer in the smallest encoding that holds it (`lpAppendInteger`).
    pub(crate) fn push_int(&mut self, v: i64) {
        let start = self.buf.len();
        let b = &mut self.buf;
        if (0..=127).contains(&v) {
            b.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = (v as u64) & 0x1FFF;
            b.extend_from_slice(&[0xC0 | (u >> 8) as u8, u as u8]);
        } else if (-32768..=32767).contains(&v) {
            b.push(0xF1);
            b.extend_from_slice(&(v as i16).to_le_bytes());
        } else if (-8_388_608..=8_388_607).contains(&v) {
            b.push(0xF2);
            b.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if let Ok(v) = i32::try_from(v) {
            b.push(0xF3);
            b.extend_from_slice(&v.to_le_bytes());
        } else {
            b.push(0xF4);
            b.extend_from_slice(&v.to_le_bytes());
        }
        self.backlen(start);
    }

    fn backlen(&mut self, start: usize) {
        let l = (self.buf.len() - start) as u64;
        let b = &mut self.buf;
        if l <= 127 {
            b.push(l as u8);
        } else if l < 16383 {
            b.extend_from_slice(&[(l >> 7) as u8, (l & 127) as u8 | 128]);
        } else if l < 2_097_151 {
            b.extend_from_slice(&[
                (l >> 14) as u8,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]);
        } else if l < 268_435_455 {
            b.extend_from_slice(&[
                (l >> 21) as u8,
                ((l >> 14) & 127) as u8 | 128,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]);
        } else {
            b.extend_from_slice(&[
                (l >> 28) as u8,
                ((l >> 21) & 127) as u8 | 128,
                ((l >> 14) & 127) as u8 | 128,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]);
        }
        self.count += 1;
    }

    /// Appends every element of `other`.
    pub(crate) fn append(&mut self, other: &Writer) {
        self.buf.extend_from_slice(&other.buf[HEADER..]);
        self.count += other.count;
    }

    /// The finished listpack.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.buf.push(EOF);
        let total = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&total.to_le_bytes());
        let count = u16::try_from(self.count).unwrap_or(u16::MAX);
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

fn le(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rev()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

/// Sign-extends the low `bits` bits of `v`.
fn signed(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// The elements of a listpack, checked as they are read: every element, its backlen, the
/// header's size and the terminator must agree, so a damaged blob is an error, never a panic.
///
/// # Errors
/// [`Corrupt`] for anything that is not a well-formed listpack.
pub(crate) fn elements(lp: &[u8]) -> Result<Vec<Elem<'_>>, Corrupt> {
    if lp.len() < HEADER + 1 || le(&lp[..4]) != lp.len() as u64 || lp[lp.len() - 1] != EOF {
        return Err(Corrupt);
    }
    let declared = le(&lp[4..6]);
    let end = lp.len() - 1;
    let mut pos = HEADER;
    let mut out = Vec::new();
    while pos < end {
        let start = pos;
        let take = |pos: &mut usize, n: usize| -> Result<&[u8], Corrupt> {
            let s = lp.get(*pos..*pos + n).filter(|_| *pos + n <= end);
            *pos += n;
            s.ok_or(Corrupt)
        };
        let b = lp[pos];
        pos += 1;
        let elem = if b & 0x80 == 0 {
            Elem::Int(i64::from(b))
        } else if b & 0xC0 == 0x80 {
            Elem::Str(take(&mut pos, usize::from(b & 0x3F))?)
        } else if b & 0xE0 == 0xC0 {
            let lo = take(&mut pos, 1)?[0];
            Elem::Int(signed((u64::from(b & 0x1F) << 8) | u64::from(lo), 13))
        } else if b & 0xF0 == 0xE0 {
            let lo = take(&mut pos, 1)?[0];
            let n = (usize::from(b & 0x0F) << 8) | usize::from(lo);
            Elem::Str(take(&mut pos, n)?)
        } else {
            match b {
                0xF0 => {
                    let n = le(take(&mut pos, 4)?) as usize;
                    Elem::Str(take(&mut pos, n)?)
                }
                0xF1 => Elem::Int(signed(le(take(&mut pos, 2)?), 16)),
                0xF2 => Elem::Int(signed(le(take(&mut pos, 3)?), 24)),
                0xF3 => Elem::Int(signed(le(take(&mut pos, 4)?), 32)),
                0xF4 => Elem::Int(le(take(&mut pos, 8)?) as i64),
                _ => return Err(Corrupt),
            }
        };
        // The backlen must hold this element's size, in Redis's layout.
        let size = (pos - start) as u64;
        let backlen_len = match size {
            0..=127 => 1,
            128..=16382 => 2,
            16383..=2_097_150 => 3,
            2_097_151..=268_435_454 => 4,
            _ => 5,
        };
        let back = take(&mut pos, backlen_len)?;
        let mut val = 0u64;
        for (i, &byte) in back.iter().rev().enumerate() {
            val |= u64::from(byte & 127) << (7 * i);
        }
        if val != size {
            return Err(Corrupt);
        }
        out.push(elem);
    }
    if pos != end || (declared != u64::from(u16::MAX) && declared != out.len() as u64) {
        return Err(Corrupt);
    }
    Ok(out)
}

/// The elements of a ziplist (Redis before 7.0): `zlbytes u32`, `zltail u32`, `zllen u16`,
/// entries of `prevlen`, encoding and payload, `0xFF`.
///
/// # Errors
/// [`Corrupt`] for anything that is not a well-formed ziplist.
pub(crate) fn ziplist(zl: &[u8]) -> Result<Vec<Elem<'_>>, Corrupt> {
    const ZL_HEADER: usize = 10;
    if zl.len() < ZL_HEADER + 1 || le(&zl[..4]) != zl.len() as u64 || zl[zl.len() - 1] != EOF {
        return Err(Corrupt);
    }
    let end = zl.len() - 1;
    let mut pos = ZL_HEADER;
    let mut prev = 0u64;
    let mut out = Vec::new();
    let take = |pos: &mut usize, n: usize| -> Result<&[u8], Corrupt> {
        let s = zl.get(*pos..*pos + n).filter(|_| *pos + n <= end);
        *pos += n;
        s.ok_or(Corrupt)
    };
    while pos < end {
        let start = pos;
        let p = take(&mut pos, 1)?[0];
        let prevlen = if p < 254 {
            u64::from(p)
        } else if p == 254 {
            le(take(&mut pos, 4)?)
        } else {
            return Err(Corrupt);
        };
        if prevlen != prev {
            return Err(Corrupt);
        }
        let e = take(&mut pos, 1)?[0];
        let be = |s: &[u8]| s.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let elem = match e >> 6 {
            0 => Elem::Str(take(&mut pos, usize::from(e & 0x3F))?),
            1 => {
                let lo = take(&mut pos, 1)?[0];
                Elem::Str(take(
                    &mut pos,
                    (usize::from(e & 0x3F) << 8) | usize::from(lo),
                )?)
            }
            2 if e == 0x80 => {
                let n = be(take(&mut pos, 4)?) as usize;
                Elem::Str(take(&mut pos, n)?)
            }
            2 => return Err(Corrupt),
            _ => match e {
                0xC0 => Elem::Int(signed(le(take(&mut pos, 2)?), 16)),
                0xD0 => Elem::Int(signed(le(take(&mut pos, 4)?), 32)),
                0xE0 => Elem::Int(le(take(&mut pos, 8)?) as i64),
                0xF0 => Elem::Int(signed(le(take(&mut pos, 3)?), 24)),
                0xFE => Elem::Int(signed(le(take(&mut pos, 1)?), 8)),
                0xF1..=0xFD => Elem::Int(i64::from(e & 0x0F) - 1),
                _ => return Err(Corrupt),
            },
        };
        prev = (pos - start) as u64;
        out.push(elem);
    }
    if pos != end {
        return Err(Corrupt);
    }
    Ok(out)
}

/// An intset: `encoding u32` (2, 4 or 8: bytes per integer), `length u32`, the integers
/// ascending, all little-endian.
pub(crate) fn intset(mut ints: Vec<i64>) -> Vec<u8> {
    ints.sort_unstable();
    let width: usize = if ints.iter().all(|&v| i16::try_from(v).is_ok()) {
        2
    } else if ints.iter().all(|&v| i32::try_from(v).is_ok()) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + width * ints.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(ints.len() as u32).to_le_bytes());
    for v in ints {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

/// The integers of an intset, which must be strictly ascending.
///
/// # Errors
/// [`Corrupt`] for a bad width, a wrong length or integers out of order.
pub(crate) fn intset_members(blob: &[u8]) -> Result<Vec<i64>, Corrupt> {
    if blob.len() < 8 {
        return Err(Corrupt);
    }
    let width = le(&blob[..4]) as usize;
    let count = le(&blob[4..8]) as usize;
    if !matches!(width, 2 | 4 | 8) || count.checked_mul(width) != Some(blob.len() - 8) {
        return Err(Corrupt);
    }
    let ints: Vec<i64> = blob[8..]
        .chunks_exact(width)
        .map(|c| signed(le(c), 8 * width as u32))
        .collect();
    if ints.windows(2).any(|w| w[0] >= w[1]) {
        return Err(Corrupt);
    }
    Ok(ints)
}
