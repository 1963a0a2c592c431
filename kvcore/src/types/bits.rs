//! Bitmap arithmetic on byte strings, numbered as Redis numbers bits: bit 0 is the most
//! significant bit of the first byte. BITCOUNT's and BITPOS's ranges, BITFIELD's integers of
//! 1 to 64 bits at any bit offset with Redis's overflow rules (`bitops.c`).

/// How BITFIELD's SET and INCRBY treat a result that does not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overflow {
    /// Keep the low bits (two's complement for signed fields); Redis's default.
    #[default]
    Wrap,
    /// Clamp to the field's minimum or maximum.
    Sat,
    /// Change nothing and answer nil.
    Fail,
}

/// A BITFIELD integer type: `i1`..`i64` or `u1`..`u63`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitfieldType {
    signed: bool,
    bits: u8,
}

impl BitfieldType {
    /// `i<bits>`, for 1..=64 bits.
    pub fn signed(bits: u8) -> Option<BitfieldType> {
        (1..=64)
            .contains(&bits)
            .then_some(BitfieldType { signed: true, bits })
    }

    /// `u<bits>`, for 1..=63 bits (a u64 could not be answered as a RESP integer).
    pub fn unsigned(bits: u8) -> Option<BitfieldType> {
        (1..=63).contains(&bits).then_some(BitfieldType {
            signed: false,
            bits,
        })
    }

    /// Parses `i8`, `u16`, ... as Redis does (`i` or `u`, then a strict integer).
    pub fn parse(text: &[u8]) -> Option<BitfieldType> {
        let (&sign, digits) = text.split_first()?;
        let bits = crate::number::parse_i64(digits)?;
        let bits = u8::try_from(bits).ok()?;
        match sign {
            b'i' => BitfieldType::signed(bits),
            b'u' => BitfieldType::unsigned(bits),
            _ => None,
        }
    }

    /// The width in bits.
    pub fn bits(self) -> u8 {
        self.bits
    }

    /// Whether the type is signed.
    pub fn is_signed(self) -> bool {
        self.signed
    }
}

/// One BITFIELD operation; offsets are in bits (a `#n` offset is `n` times the width).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitfieldOp {
    /// GET: the field's value.
    Get {
        /// The integer type.
        ty: BitfieldType,
        /// The offset of its first bit.
        offset: u64,
    },
    /// SET: stores `value`, answers the previous value.
    Set {
        /// The integer type.
        ty: BitfieldType,
        /// The offset of its first bit.
        offset: u64,
        /// The value to store.
        value: i64,
        /// What to do when it does not fit.
        overflow: Overflow,
    },
    /// INCRBY: adds `by`, answers the new value.
    IncrBy {
        /// The integer type.
        ty: BitfieldType,
        /// The offset of its first bit.
        offset: u64,
        /// The increment.
        by: i64,
        /// What to do when the result does not fit.
        overflow: Overflow,
    },
}

impl BitfieldOp {
    /// The field's type and offset.
    pub(crate) fn field(self) -> (BitfieldType, u64) {
        match self {
            BitfieldOp::Get { ty, offset }
            | BitfieldOp::Set { ty, offset, .. }
            | BitfieldOp::IncrBy { ty, offset, .. } => (ty, offset),
        }
    }
}

/// Whether BITCOUNT's and BITPOS's range counts bytes or bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BitUnit {
    /// Byte indexes (the default).
    #[default]
    Byte,
    /// Bit indexes.
    Bit,
}

/// A BITCOUNT or BITPOS range: inclusive indexes, negative ones counting from the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitRange {
    start: i64,
    end: Option<i64>,
    unit: BitUnit,
}

impl BitRange {
    /// `start end` in bytes.
    pub fn bytes(start: i64, end: i64) -> BitRange {
        BitRange {
            start,
            end: Some(end),
            unit: BitUnit::Byte,
        }
    }

    /// `start end BIT`.
    pub fn bits(start: i64, end: i64) -> BitRange {
        BitRange {
            start,
            end: Some(end),
            unit: BitUnit::Bit,
        }
    }

    /// BITPOS's `start` alone: up to the end of the string.
    pub fn from(start: i64) -> BitRange {
        BitRange {
            start,
            end: None,
            unit: BitUnit::Byte,
        }
    }

    /// The range with another unit.
    pub fn unit(self, unit: BitUnit) -> BitRange {
        BitRange { unit, ..self }
    }
}

/// A normalized range: whole bytes `start..=end` of the string, with masks of the bits of the
/// first and last byte that lie outside a bit range.
struct Span {
    start: usize,
    end: usize,
    first_out: u8,
    last_out: u8,
}

/// Redis's range arithmetic of BITCOUNT and BITPOS; None for an empty range. `default_end`
/// is the end when none is given.
fn span(len: usize, r: BitRange) -> Option<Span> {
    let bit = r.unit == BitUnit::Bit;
    let mut total = len as i64;
    let mut end = r
        .end
        .unwrap_or(if bit { (total << 3) + 7 } else { total - 1 });
    let mut start = r.start;
    if bit {
        total <<= 3;
    }
    if start < 0 {
        start = start.saturating_add(total);
    }
    if end < 0 {
        end = end.saturating_add(total);
    }
    start = start.max(0);
    end = end.max(0);
    if end >= total {
        end = total - 1;
    }
    if start > end {
        return None;
    }
    let (mut first_out, mut last_out) = (0, 0);
    if bit {
        first_out = !((1u16 << (8 - (start & 7))) - 1) as u8;
        last_out = ((1u16 << (7 - (end & 7))) - 1) as u8;
        start >>= 3;
        end >>= 3;
    }
    Some(Span {
        start: start as usize,
        end: end as usize,
        first_out,
        last_out,
    })
}

/// BITCOUNT of `s` over `range` (the whole string when None).
pub(crate) fn count(s: &[u8], range: Option<BitRange>) -> u64 {
    let Some(r) = range else {
        return popcount(s);
    };
    // Both negative and in the wrong order: nothing, before the unit is even looked at.
    if let Some(end) = r.end
        && r.start < 0
        && end < 0
        && r.start > end
    {
        return 0;
    }
    let Some(sp) = span(s.len(), r) else {
        return 0;
    };
    let mut n = popcount(&s[sp.start..=sp.end]);
    n -= u64::from((s[sp.start] & sp.first_out).count_ones());
    n -= u64::from((s[sp.end] & sp.last_out).count_ones());
    n
}

fn popcount(s: &[u8]) -> u64 {
    let mut chunks = s.chunks_exact(8);
    let mut n: u64 = 0;
    for c in &mut chunks {
        n += u64::from(u64::from_ne_bytes(c.try_into().expect("8 bytes")).count_ones());
    }
    n + chunks
        .remainder()
        .iter()
        .map(|b| u64::from(b.count_ones()))
        .sum::<u64>()
}

/// The position of the first `bit` in `s`, past the end for a clear bit (the string reads as
/// followed by zeros); -1 for a set bit that is not there (Redis's `redisBitpos`).
fn first_bit(s: &[u8], bit: bool) -> i64 {
    let skip = if bit { 0 } else { 0xff };
    match s.iter().position(|&b| b != skip) {
        Some(i) => {
            let b = if bit { s[i] } else { !s[i] };
            (i as i64) * 8 + i64::from(b.leading_zeros())
        }
        None if bit => -1,
        None => s.len() as i64 * 8,
    }
}

/// BITPOS of `s` (a string that exists) for `bit` within `range` (the whole string when
/// None).
pub(crate) fn pos(s: &[u8], bit: bool, range: Option<BitRange>) -> i64 {
    let end_given = range.is_some_and(|r| r.end.is_some());
    let sp = match range {
        None if s.is_empty() => None,
        None => Some(Span {
            start: 0,
            end: s.len() - 1,
            first_out: 0,
            last_out: 0,
        }),
        Some(r) => span(s.len(), r),
    };
    let Some(sp) = sp else {
        return -1;
    };
    // Look at the range as bytes whose outside bits read as "not the bit we want".
    let fix = |b: u8, out: u8| if bit { b & !out } else { b | out };
    let mut start = sp.start;
    let mut bytes = sp.end - sp.start + 1;
    let found = 'search: {
        if sp.first_out != 0 {
            let mut b = fix(s[start], sp.first_out);
            if sp.last_out != 0 && bytes == 1 {
                b = fix(b, sp.last_out);
            }
            let p = first_bit(&[b], bit);
            if bytes == 1 || (p != -1 && p != 8) {
                break 'search p;
            }
            start += 1;
            bytes -= 1;
        }
        let whole = bytes - usize::from(sp.last_out != 0);
        if whole > 0 {
            let p = first_bit(&s[start..start + whole], bit);
            if bytes == whole || (p != -1 && p != (whole as i64) << 3) {
                break 'search p;
            }
            start += whole;
            bytes -= whole;
        }
        first_bit(&[fix(s[sp.end], sp.last_out)], bit)
    };
    // With an explicit end, a clear bit "after the range" is not in it.
    if end_given && !bit && found == (bytes as i64) << 3 {
        return -1;
    }
    if found == -1 {
        -1
    } else {
        found + ((start as i64) << 3)
    }
}

/// The unsigned value of `bits` bits at bit `offset` of `s` (bits past the end read 0).
pub(crate) fn get_unsigned(s: &[u8], offset: u64, bits: u8) -> u64 {
    let mut v = 0u64;
    for j in 0..u64::from(bits) {
        let at = offset + j;
        let byte = s.get((at >> 3) as usize).copied().unwrap_or(0);
        v = v << 1 | u64::from((byte >> (7 - (at & 7))) & 1);
    }
    v
}

/// The signed value of `bits` bits at bit `offset` (two's complement).
pub(crate) fn get_signed(s: &[u8], offset: u64, bits: u8) -> i64 {
    let v = get_unsigned(s, offset, bits);
    if bits < 64 && v & (1 << (bits - 1)) != 0 {
        (v | (u64::MAX << bits)) as i64
    } else {
        v as i64
    }
}

/// Writes the low `bits` bits of `value` at bit `offset`; `s` must reach that far.
pub(crate) fn set_bits(s: &mut [u8], offset: u64, bits: u8, value: u64) {
    for j in 0..u64::from(bits) {
        let bit = (value >> (u64::from(bits) - 1 - j)) & 1;
        let at = offset + j;
        let byte = &mut s[(at >> 3) as usize];
        let shift = 7 - (at & 7);
        *byte = (*byte & !(1 << shift)) | ((bit as u8) << shift);
    }
}

/// Redis's `checkUnsignedBitfieldOverflow`: None when `value + incr` fits in `bits` bits,
/// else what to store under `owtype` (None again for FAIL, which stores nothing).
fn unsigned_overflow(value: u64, incr: i64, bits: u8, ow: Overflow) -> Result<(), Option<u64>> {
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = value.wrapping_neg() as i64;
    let limit = |sat: u64| match ow {
        Overflow::Wrap => Some(
            value.wrapping_add(incr as u64) & !(u64::MAX.checked_shl(u32::from(bits)).unwrap_or(0)),
        ),
        Overflow::Sat => Some(sat),
        Overflow::Fail => None,
    };
    if value > max || (incr > 0 && incr > maxincr) {
        Err(limit(max))
    } else if incr < 0 && incr < minincr {
        Err(limit(0))
    } else {
        Ok(())
    }
}

/// Redis's `checkSignedBitfieldOverflow`, with its exact (wrapping) arithmetic.
fn signed_overflow(value: i64, incr: i64, bits: u8, ow: Overflow) -> Result<(), Option<i64>> {
    let max: i64 = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrap = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1 << (bits - 1)) != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    let limit = |sat: i64| match ow {
        Overflow::Wrap => Some(wrap()),
        Overflow::Sat => Some(sat),
        Overflow::Fail => None,
    };
    if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        Err(limit(max))
    } else if value < min
        || (bits != 64 && incr < minincr)
        || (value < 0 && incr < 0 && incr < minincr)
    {
        Err(limit(min))
    } else {
        Ok(())
    }
}

/// Runs a SET or INCRBY on `s` (long enough for the field). Returns the reply (None: FAIL
/// refused it) and whether the stored bits changed.
pub(crate) fn write_field(s: &mut [u8], op: BitfieldOp) -> (Option<i64>, bool) {
    let (ty, offset, arg, ow, incr) = match op {
        BitfieldOp::Set {
            ty,
            offset,
            value,
            overflow,
        } => (ty, offset, value, overflow, false),
        BitfieldOp::IncrBy {
            ty,
            offset,
            by,
            overflow,
        } => (ty, offset, by, overflow, true),
        BitfieldOp::Get { ty, offset } => {
            return (Some(read_field(s, ty, offset)), false);
        }
    };
    let bits = ty.bits;
    if ty.signed {
        let old = get_signed(s, offset, bits);
        let (new, reply) = if incr {
            let new = match signed_overflow(old, arg, bits, ow) {
                Ok(()) => old.wrapping_add(arg),
                Err(Some(v)) => v,
                Err(None) => return (None, false),
            };
            (new, new)
        } else {
            let new = match signed_overflow(arg, 0, bits, ow) {
                Ok(()) => arg,
                Err(Some(v)) => v,
                Err(None) => return (None, false),
            };
            (new, old)
        };
        set_bits(s, offset, bits, new as u64);
        (Some(reply), old != new)
    } else {
        let old = get_unsigned(s, offset, bits);
        let (new, reply) = if incr {
            let new = match unsigned_overflow(old, arg, bits, ow) {
                Ok(()) => old.wrapping_add(arg as u64),
                Err(Some(v)) => v,
                Err(None) => return (None, false),
            };
            (new, new)
        } else {
            let new = match unsigned_overflow(arg as u64, 0, bits, ow) {
                Ok(()) => arg as u64,
                Err(Some(v)) => v,
                Err(None) => return (None, false),
            };
            (new, old)
        };
        set_bits(s, offset, bits, new);
        (Some(reply as i64), old != new)
    }
}

/// A GET: the field's value, bits past the end reading 0.
pub(crate) fn read_field(s: &[u8], ty: BitfieldType, offset: u64) -> i64 {
    if ty.signed {
        get_signed(s, offset, ty.bits)
    } else {
        get_unsigned(s, offset, ty.bits) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_ranges_as_redis() {
        let s = b"foobar";
        let cases: &[(Option<BitRange>, u64)] = &[
            (None, 26),
            (Some(BitRange::bytes(0, 0)), 4),
            (Some(BitRange::bytes(1, 1)), 6),
            (Some(BitRange::bytes(1, -1)), 22),
            (Some(BitRange::bytes(-2, -3)), 0),
            (Some(BitRange::bits(5, 30)), 17),
            (Some(BitRange::bits(0, -1)), 26),
            (Some(BitRange::bytes(100, 200)), 0),
        ];
        for &(r, n) in cases {
            assert_eq!(count(s, r), n, "{r:?}");
        }
    }

    #[test]
    fn positions_as_redis() {
        let cases: &[(&[u8], bool, Option<BitRange>, i64)] = &[
            (b"\xff\xf0\x00", false, None, 12),
            (b"\x00\xff\xf0", true, Some(BitRange::from(0)), 8),
            (b"\x00\xff\xf0", true, Some(BitRange::from(2)), 16),
            (b"\x00\x00\x00", true, None, -1),
            (b"\xff\xff\xff", false, None, 24),
            (b"\xff\xff\xff", false, Some(BitRange::bytes(0, -1)), -1),
            (b"\x00\xff\xf0", true, Some(BitRange::bits(7, 15)), 8),
            (b"\x00\xff\xf0", true, Some(BitRange::bits(7, 7)), -1),
            (b"\xff\xff", false, Some(BitRange::bits(3, 5)), -1),
        ];
        for &(s, bit, r, p) in cases {
            assert_eq!(pos(s, bit, r), p, "{s:?} {bit} {r:?}");
        }
    }

    #[test]
    fn fields_read_and_write_across_bytes() {
        let mut s = [0u8; 2];
        set_bits(&mut s, 7, 5, 23);
        assert_eq!(s, [0b0000_0001, 0b0111_0000]);
        assert_eq!(get_unsigned(&s, 7, 5), 23);
        assert_eq!(get_signed(&s, 7, 5), 23 - 32);
        assert_eq!(get_unsigned(&s, 12, 64), 0, "past the end reads zeros");
    }

    #[test]
    fn overflow_rules() {
        let u8t = BitfieldType::unsigned(8).unwrap();
        let i8t = BitfieldType::signed(8).unwrap();
        let run = |ty, by, ow, start: u8| {
            let mut s = [start];
            let r = write_field(
                &mut s,
                BitfieldOp::IncrBy {
                    ty,
                    offset: 0,
                    by,
                    overflow: ow,
                },
            );
            (r.0, s[0])
        };
        assert_eq!(run(u8t, 10, Overflow::Wrap, 250), (Some(4), 4));
        assert_eq!(run(u8t, 10, Overflow::Sat, 250), (Some(255), 255));
        assert_eq!(run(u8t, 10, Overflow::Fail, 250), (None, 250));
        assert_eq!(run(u8t, -10, Overflow::Sat, 5), (Some(0), 0));
        assert_eq!(run(i8t, 10, Overflow::Wrap, 120), (Some(-126), 130));
        assert_eq!(run(i8t, 10, Overflow::Sat, 120), (Some(127), 127));
        assert_eq!(run(i8t, -10, Overflow::Sat, 0x80), (Some(-128), 0x80));
        let i64t = BitfieldType::signed(64).unwrap();
        let mut s = [0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        let op = BitfieldOp::IncrBy {
            ty: i64t,
            offset: 0,
            by: 1,
            overflow: Overflow::Wrap,
        };
        assert_eq!(write_field(&mut s, op).0, Some(i64::MIN));
        assert_eq!(BitfieldType::parse(b"u64"), None);
        assert_eq!(BitfieldType::parse(b"i64"), BitfieldType::signed(64));
        assert_eq!(BitfieldType::parse(b"i0"), None);
        assert_eq!(BitfieldType::parse(b"x8"), None);
    }
}
