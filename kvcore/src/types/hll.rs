//! HyperLogLog in Redis's own string layout, byte for byte, so a value copied between Redis and
//! kvcore (GET/SET, DUMP/RESTORE) keeps working and counts the same.
//!
//! The layout (Redis's `hyperloglog.c`, 7.0): a 16-byte header, `HYLL`, the encoding byte
//! (0 dense, 1 sparse), three unused bytes, and the cached cardinality as a little-endian u64
//! whose top bit marks it stale. 16384 registers follow:
//!
//! - dense: 6 bits each, packed from the least significant bit of each byte up (12288 bytes);
//! - sparse: a run-length code of opcodes, `00xxxxxx` ZERO (1..=64 zero registers),
//!   `01xxxxxx yyyyyyyy` XZERO (1..=16384 zero registers), `1vvvvvxx` VAL (1..=4 registers of
//!   value 1..=32).
//!
//! An element goes to register `hash & 16383` of its 64-bit MurmurHash64A (seed `0xadc83b19`)
//! with the length of the run of zeros, plus one, in the remaining 50 bits. A sparse value is
//! changed in place as Redis changes it (the same splits and merges of opcodes), and becomes
//! dense when a register passes 32 or the value would pass `hll-sparse-max-bytes`; the
//! estimate is Ertl's improved estimator on the register histogram, computed as Redis
//! computes it. Reading past the end of the value reads 0, as Redis reads the NUL that ends
//! every sds string. A sparse code is valid when its opcodes cover exactly 16384 registers,
//! the rule of Redis's fix for CVE-2025-32023 (see [`walk`]).

/// The header's size.
pub(crate) const HDR: usize = 16;
/// The number of registers (`2^14`).
pub(crate) const REGISTERS: usize = 1 << 14;
/// A dense value's size: the header and 16384 six-bit registers.
pub(crate) const DENSE_SIZE: usize = HDR + REGISTERS * 6 / 8;
/// Redis's default `hll-sparse-max-bytes`.
pub(crate) const DEFAULT_SPARSE_MAX_BYTES: usize = 3000;

const DENSE: u8 = 0;
const SPARSE: u8 = 1;
/// The bits of a hash left after the register index.
const Q: usize = 64 - 14;
const SEED: u64 = 0xadc8_3b19;
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// Why a value cannot be used as a HyperLogLog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HllError {
    /// Not an HLL at all (Redis: `WRONGTYPE Key is not a valid HyperLogLog string value.`).
    NotHll,
    /// An HLL whose sparse code does not add up (Redis: `INVALIDOBJ Corrupted HLL object
    /// detected`).
    Corrupt,
}

/// Redis's `isHLLObjectOrReply`: the magic, a known encoding, and a dense value's exact size.
pub(crate) fn validate(v: &[u8]) -> Result<(), HllError> {
    if v.len() < HDR || &v[..4] != b"HYLL" || v[4] > SPARSE {
        return Err(HllError::NotHll);
    }
    if v[4] == DENSE && v.len() != DENSE_SIZE {
        return Err(HllError::NotHll);
    }
    Ok(())
}

/// Whether a (validated) value is sparse.
pub(crate) fn is_sparse(v: &[u8]) -> bool {
    v[4] == SPARSE
}

/// An empty HLL: sparse, one XZERO opcode covering every register, cache 0.
pub(crate) fn new_sparse() -> Vec<u8> {
    let mut v = Vec::with_capacity(64);
    v.extend_from_slice(b"HYLL");
    v.extend_from_slice(&[SPARSE, 0, 0, 0]);
    v.extend_from_slice(&[0; 8]);
    push_xzero(&mut v, REGISTERS);
    v
}

/// The cached cardinality, if it is not marked stale.
pub(crate) fn cached(v: &[u8]) -> Option<u64> {
    let card = u64::from_le_bytes(v[8..16].try_into().expect("8 bytes"));
    (v[15] & 0x80 == 0).then_some(card)
}

/// Stores `card` as the cached cardinality.
pub(crate) fn set_cached(v: &mut [u8], card: u64) {
    v[8..16].copy_from_slice(&card.to_le_bytes());
}

/// Marks the cached cardinality stale (only its top bit changes, as in Redis).
pub(crate) fn invalidate(v: &mut [u8]) {
    v[15] |= 0x80;
}

/// MurmurHash64A as Redis uses it (little-endian words on every platform).
pub(crate) fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut k = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        for (i, &b) in rest.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element goes to and the value it offers it (Redis's `hllPatLen`).
pub(crate) fn pat_len(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, SEED);
    let index = (hash as usize) & (REGISTERS - 1);
    // The top bit guarantees a 1 within Q bits, so the count is at most Q + 1.
    let rest = (hash >> 14) | (1 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

fn byte_at(v: &[u8], i: usize) -> u8 {
    v.get(i).copied().unwrap_or(0)
}

/// Register `i` of dense registers `regs`.
pub(crate) fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let b0 = u16::from(byte_at(regs, byte));
    let b1 = u16::from(byte_at(regs, byte + 1));
    (((b0 >> fb) | (b1 << (8 - fb))) & 63) as u8
}

/// Sets register `i` of dense registers `regs` to `val` (below 64).
pub(crate) fn dense_put(regs: &mut [u8], i: usize, val: u8) {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let v = u16::from(val);
    regs[byte] = (u16::from(regs[byte]) & !(63 << fb) | (v << fb)) as u8;
    if let Some(b1) = regs.get_mut(byte + 1) {
        let fb8 = 8 - fb;
        *b1 = (u16::from(*b1) & !(63 >> fb8) | (v >> fb8)) as u8;
    }
}

/// Raises register `i` to `count` if it is lower; true if it changed.
pub(crate) fn dense_set(regs: &mut [u8], i: usize, count: u8) -> bool {
    if count > dense_get(regs, i) {
        dense_put(regs, i, count);
        true
    } else {
        false
    }
}

/// One sparse opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Zero(usize),
    XZero(usize),
    Val(u8, usize),
}

impl Op {
    /// The opcode at `p`, and its length in bytes.
    fn at(v: &[u8], p: usize) -> (Op, usize) {
        let b = v[p];
        if b & 0xc0 == 0 {
            (Op::Zero(usize::from(b & 0x3f) + 1), 1)
        } else if b & 0x80 != 0 {
            (Op::Val(((b >> 2) & 0x1f) + 1, usize::from(b & 3) + 1), 1)
        } else {
            let n = (usize::from(b & 0x3f) << 8 | usize::from(byte_at(v, p + 1))) + 1;
            (Op::XZero(n), 2)
        }
    }

    fn span(self) -> usize {
        match self {
            Op::Zero(n) | Op::XZero(n) | Op::Val(_, n) => n,
        }
    }
}

fn val_byte(val: u8, len: usize) -> u8 {
    0x80 | (val - 1) << 2 | (len as u8 - 1)
}

fn push_xzero(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(&xzero(len));
}

fn xzero(len: usize) -> [u8; 2] {
    let l = len - 1;
    [0x40 | (l >> 8) as u8, (l & 0xff) as u8]
}

/// The up to five bytes an opcode splits into (XZERO, VAL, XZERO at most).
#[derive(Default)]
struct Seq {
    buf: [u8; 5],
    len: usize,
}

impl Seq {
    fn push(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    /// Zero registers as ZERO (up to 64) or XZERO.
    fn zeros(&mut self, len: usize) {
        if len > 64 {
            let [a, b] = xzero(len);
            self.push(a);
            self.push(b);
        } else {
            self.push(len as u8 - 1);
        }
    }

    fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Walks a sparse code, calling `f(first_register, op)` for each opcode, as long as the
/// opcodes stay within the 16384 registers.
///
/// # Errors
/// [`HllError::Corrupt`] unless the opcodes cover exactly 16384 registers. This is the check
/// of Redis's fix for CVE-2025-32023 (in the redis-server 7.0.15 this project compares with):
/// an opcode that would pass the last register, of any kind, makes the code corrupt, where
/// the original 7.0.15 let ZERO and XZERO runs overflow and stopped quietly at a VAL.
fn walk(v: &[u8], mut f: impl FnMut(usize, Op)) -> Result<(), HllError> {
    let mut p = HDR;
    let mut idx = 0;
    while p < v.len() {
        let (op, len) = Op::at(v, p);
        if idx + op.span() > REGISTERS {
            return Err(HllError::Corrupt);
        }
        f(idx, op);
        idx += op.span();
        p += len;
    }
    if idx == REGISTERS {
        Ok(())
    } else {
        Err(HllError::Corrupt)
    }
}

/// Redis's `hllSparseToDense` (a dense value is left as it is).
///
/// # Errors
/// [`HllError::Corrupt`] when the code does not cover exactly 16384 registers; `v` is then
/// unchanged.
pub(crate) fn to_dense(v: &mut Vec<u8>) -> Result<(), HllError> {
    if v[4] == DENSE {
        return Ok(());
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HDR].copy_from_slice(&v[..HDR]);
    dense[4] = DENSE;
    let regs = &mut dense[HDR..];
    walk(v, |first, op| {
        if let Op::Val(val, n) = op {
            for i in first..first + n {
                dense_put(regs, i, val);
            }
        }
    })?;
    *v = dense;
    Ok(())
}

/// Redis's `hllSparseSet`: raises register `index` of a sparse value to `count`, splitting
/// and merging opcodes in place, or makes the value dense when the register needs more than
/// a VAL can hold or the value would pass `max_bytes`. Returns whether anything changed.
///
/// # Errors
/// [`HllError::Corrupt`] for a code that does not reach `index`.
pub(crate) fn sparse_set(
    v: &mut Vec<u8>,
    index: usize,
    count: u8,
    max_bytes: usize,
) -> Result<bool, HllError> {
    if count > 32 {
        return promote(v, index, count);
    }
    // Step 1: find the opcode that covers `index`.
    let end = v.len();
    let mut p = HDR;
    let mut first = 0;
    let mut prev = None;
    let mut found = None;
    while p < end {
        let (op, len) = Op::at(v, p);
        if index < first + op.span() {
            found = Some((op, len));
            break;
        }
        prev = Some(p);
        p += len;
        first += op.span();
    }
    let Some((op, oplen)) = found else {
        return Err(HllError::Corrupt);
    };
    let last = first + op.span() - 1;
    // Step 2: the cases that change one byte in place.
    match op {
        Op::Val(old, _) if old >= count => return Ok(false),
        Op::Val(_, 1) | Op::Zero(1) => {
            v[p] = val_byte(count, 1);
            merge_vals(v, prev.unwrap_or(HDR));
            return Ok(true);
        }
        _ => {}
    }
    // The general case: the opcode splits into up to three.
    let mut seq = Seq::default();
    match op {
        Op::Val(cur, _) => {
            if index != first {
                seq.push(val_byte(cur, index - first));
            }
            seq.push(val_byte(count, 1));
            if index != last {
                seq.push(val_byte(cur, last - index));
            }
        }
        Op::Zero(_) | Op::XZero(_) => {
            if index != first {
                seq.zeros(index - first);
            }
            seq.push(val_byte(count, 1));
            if index != last {
                seq.zeros(last - index);
            }
        }
    }
    let seq = seq.as_slice();
    // Step 3: put the new sequence in place of the old opcode.
    let new_len = (end + seq.len()).saturating_sub(oplen);
    if seq.len() > oplen && new_len > max_bytes {
        return promote(v, index, count);
    }
    if p + oplen <= end {
        v.splice(p..p + oplen, seq.iter().copied());
    } else {
        // An XZERO cut short by the end of a damaged value: Redis's length arithmetic.
        v.truncate(p);
        v.extend_from_slice(seq);
        v.truncate(new_len);
    }
    merge_vals(v, prev.unwrap_or(HDR));
    Ok(true)
}

/// Step 4 of Redis's `hllSparseSet`: merges adjacent VALs of the same value within the five
/// opcodes from `p`, then marks the cache stale.
fn merge_vals(v: &mut Vec<u8>, mut p: usize) {
    let mut budget = 5;
    while p < v.len() && budget > 0 {
        budget -= 1;
        let (op, len) = Op::at(v, p);
        let Op::Val(v1, l1) = op else {
            p += len;
            continue;
        };
        if p + 1 < v.len()
            && let (Op::Val(v2, l2), _) = Op::at(v, p + 1)
            && v1 == v2
            && l1 + l2 <= 4
        {
            v[p + 1] = val_byte(v1, l1 + l2);
            v.remove(p);
            continue;
        }
        p += 1;
    }
    invalidate(v);
}

fn promote(v: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, HllError> {
    to_dense(v)?;
    let changed = dense_set(&mut v[HDR..], index, count);
    debug_assert!(changed, "a promotion always raises the register");
    Ok(changed)
}

/// What [`add`] changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Added {
    /// Nothing.
    Unchanged,
    /// Dense registers within `bytes` (offsets into the value) changed; the header did not.
    Dense { lo: usize, hi: usize },
    /// The value changed in some other way (a sparse code, or a promotion).
    Rewritten,
}

/// Adds one element (Redis's `hllAdd`). Does not touch the cache: the caller invalidates it
/// once per command, as PFADD does.
///
/// # Errors
/// [`HllError::Corrupt`] for a sparse code that does not reach the element's register.
pub(crate) fn add(v: &mut Vec<u8>, ele: &[u8], max_bytes: usize) -> Result<Added, HllError> {
    let (index, count) = pat_len(ele);
    if v[4] == DENSE {
        if dense_set(&mut v[HDR..], index, count) {
            let byte = HDR + index * 6 / 8;
            return Ok(Added::Dense {
                lo: byte,
                hi: (byte + 1).min(v.len() - 1),
            });
        }
        return Ok(Added::Unchanged);
    }
    Ok(if sparse_set(v, index, count, max_bytes)? {
        Added::Rewritten
    } else {
        Added::Unchanged
    })
}

/// Raises `max[i]` to register `i` of `v` for every register (Redis's `hllMerge`).
///
/// # Errors
/// [`HllError::Corrupt`] for a sparse code that does not cover exactly 16384 registers
/// (`max` may then be partly updated).
pub(crate) fn merge_into(max: &mut [u8; REGISTERS], v: &[u8]) -> Result<(), HllError> {
    if v[4] == DENSE {
        let regs = &v[HDR..];
        for (i, m) in max.iter_mut().enumerate() {
            *m = (*m).max(dense_get(regs, i));
        }
        return Ok(());
    }
    walk(v, |first, op| {
        if let Op::Val(val, n) = op {
            for m in &mut max[first..first + n] {
                *m = (*m).max(val);
            }
        }
    })
}

/// The estimate of a value (Redis's `hllCount` on a dense or sparse HLL).
///
/// # Errors
/// [`HllError::Corrupt`] for a sparse code that does not cover exactly 16384 registers.
pub(crate) fn count(v: &[u8]) -> Result<u64, HllError> {
    let mut histo = [0u32; 64];
    if v[4] == DENSE {
        let regs = &v[HDR..];
        for i in 0..REGISTERS {
            histo[usize::from(dense_get(regs, i))] += 1;
        }
    } else {
        walk(v, |_, op| match op {
            Op::Zero(n) | Op::XZero(n) => histo[0] += n as u32,
            Op::Val(val, n) => histo[usize::from(val)] += n as u32,
        })?;
    }
    Ok(estimate(&histo))
}

/// The estimate of registers held one per byte (PFCOUNT of several keys).
pub(crate) fn count_raw(regs: &[u8; REGISTERS]) -> u64 {
    let mut histo = [0u32; 64];
    for &r in regs {
        histo[usize::from(r & 63)] += 1;
    }
    estimate(&histo)
}

/// Ertl's estimator ("New cardinality estimation algorithms for HyperLogLog sketches",
/// arXiv:1702.01284) on a register histogram, in Redis's order of operations.
fn estimate(histo: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - f64::from(histo[Q + 1])) / m);
    for j in (1..=Q).rev() {
        z += f64::from(histo[j]);
        z *= 0.5;
    }
    z += m * sigma(f64::from(histo[0]) / m);
    (ALPHA_INF * m * m / z).round() as u64
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        // Redis writes pow(1 - x, 2), which its compiler turns into this product.
        let d = 1.0 - x;
        z -= d * d * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

/// PFDEBUG DECODE's text of a sparse code (`Z:16384`, `v:3,1 z:12 ...`).
pub(crate) fn decode(v: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let mut p = HDR;
    while p < v.len() {
        let (op, len) = Op::at(v, p);
        let _ = match op {
            Op::Zero(n) => write!(out, "z:{n} "),
            Op::XZero(n) => write!(out, "Z:{n} "),
            Op::Val(val, n) => write!(out, "v:{val},{n} "),
        };
        p += len;
    }
    out.truncate(out.trim_end_matches(' ').len());
    out
}

/// Every register of a valid value (PFDEBUG GETREG reads them after making it dense).
pub(crate) fn registers(v: &[u8]) -> Vec<u8> {
    (0..REGISTERS).map(|i| dense_get(&v[HDR..], i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add_all(v: &mut Vec<u8>, n: u64, max_bytes: usize) {
        for i in 0..n {
            add(v, format!("ele:{i}").as_bytes(), max_bytes).unwrap();
        }
        invalidate(v);
    }

    #[test]
    fn murmur_matches_reference_values() {
        // MurmurHash64A's own reference outputs (seed 0) and one with Redis's seed.
        assert_eq!(murmur64a(b"", 0), 0);
        assert_eq!(murmur64a(b"", SEED), murmur64a(b"", SEED));
        // Every tail length takes its own branch.
        let hashes: Vec<u64> = (0..=16)
            .map(|n| murmur64a(&b"abcdefghijklmnop"[..n], SEED))
            .collect();
        let unique: std::collections::HashSet<_> = hashes.iter().collect();
        assert_eq!(unique.len(), hashes.len());
    }

    #[test]
    fn an_empty_hll_is_one_xzero() {
        let v = new_sparse();
        assert_eq!(&v[..], b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff");
        assert_eq!(validate(&v), Ok(()));
        assert_eq!(decode(&v), "Z:16384");
        assert_eq!(count(&v), Ok(0));
        assert_eq!(cached(&v), Some(0));
    }

    #[test]
    fn dense_registers_do_not_disturb_their_neighbours() {
        let mut regs = vec![0u8; DENSE_SIZE - HDR];
        let mut expect = vec![0u8; REGISTERS];
        let mut x = 12345u64;
        for round in 0..3 {
            for (i, e) in expect.iter_mut().enumerate() {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let r = ((x >> 33) % 64) as u8;
                *e = r;
                dense_put(&mut regs, i, r);
            }
            for (i, e) in expect.iter().enumerate() {
                assert_eq!(dense_get(&regs, i), *e, "round {round} register {i}");
            }
        }
    }

    #[test]
    fn splits_and_merges_sparse_opcodes() {
        let mut v = new_sparse();
        assert!(sparse_set(&mut v, 1000, 2, 3000).unwrap());
        assert_eq!(decode(&v), "Z:1000 v:2,1 Z:15383");
        assert!(sparse_set(&mut v, 1020, 3, 3000).unwrap());
        assert!(sparse_set(&mut v, 1021, 3, 3000).unwrap());
        assert_eq!(decode(&v), "Z:1000 v:2,1 z:19 v:3,2 Z:15362");
        // A lower value changes nothing.
        assert!(!sparse_set(&mut v, 1020, 1, 3000).unwrap());
        // Filling the gap merges runs of the same value, up to four.
        assert!(sparse_set(&mut v, 1001, 2, 3000).unwrap());
        assert_eq!(decode(&v), "Z:1000 v:2,2 z:18 v:3,2 Z:15362");
        assert!(sparse_set(&mut v, 0, 1, 3000).unwrap());
        assert_eq!(decode(&v), "v:1,1 Z:999 v:2,2 z:18 v:3,2 Z:15362");
        assert_eq!(cached(&v), None, "a change marks the cache stale");
        // A value over 32 makes it dense, with the same registers.
        assert!(sparse_set(&mut v, 5, 40, 3000).unwrap());
        assert!(!is_sparse(&v));
        assert_eq!(v.len(), DENSE_SIZE);
        let regs = registers(&v);
        assert_eq!(
            (regs[0], regs[5], regs[1000], regs[1001], regs[1002]),
            (1, 40, 2, 2, 0)
        );
        assert_eq!((regs[1020], regs[1021]), (3, 3));
    }

    #[test]
    fn sparse_and_dense_count_the_same() {
        for n in [0, 1, 10, 100, 1000, 5000] {
            let mut sparse = new_sparse();
            add_all(&mut sparse, n, usize::MAX);
            assert!(is_sparse(&sparse), "{n}");
            let mut dense = sparse.clone();
            to_dense(&mut dense).unwrap();
            assert_eq!(count(&sparse), count(&dense), "{n}");
            let mut max = [0u8; REGISTERS];
            merge_into(&mut max, &sparse).unwrap();
            assert_eq!(registers(&dense), max.to_vec());
            assert_eq!(count_raw(&max), count(&dense).unwrap());
        }
    }

    #[test]
    fn promotes_at_the_sparse_limit() {
        let mut v = new_sparse();
        let mut i = 0;
        while is_sparse(&v) {
            assert!(v.len() <= 3000);
            add(&mut v, format!("{i}").as_bytes(), 3000).unwrap();
            i += 1;
        }
        assert_eq!(v.len(), DENSE_SIZE);
        assert!(i > 500, "promoted after {i} elements");
    }

    #[test]
    fn the_standard_error_is_redis_s() {
        // The root mean square of the relative error over independent samples is the
        // standard error: 1.04 / sqrt(16384) = 0.81%. 16 samples of 50 000 distinct
        // elements (deterministic: fixed seeds); the RMS of 16 samples is itself within
        // about 18% of the true value (one standard deviation), hence the margin.
        let n = 50_000u64;
        let mut sum_sq = 0.0;
        for seed in 0..16u64 {
            let mut v = new_sparse();
            let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            for _ in 0..n {
                // xorshift64*: distinct outputs for distinct states, so distinct elements.
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                add(&mut v, &x.to_le_bytes(), DEFAULT_SPARSE_MAX_BYTES).unwrap();
            }
            let err = (count(&v).unwrap() as f64 - n as f64) / n as f64;
            sum_sq += err * err;
        }
        let rms = (sum_sq / 16.0).sqrt();
        eprintln!("RMS relative error over 16 samples: {:.3}%", rms * 100.0);
        assert!(rms < 0.0081 * 1.36, "RMS error {:.3}%", rms * 100.0);
        assert!(rms > 0.0081 * 0.64, "RMS error {:.3}%", rms * 100.0);
    }

    #[test]
    fn damaged_sparse_codes_are_corrupt() {
        let mut v = new_sparse();
        v.truncate(HDR + 1); // an XZERO cut short
        assert_eq!(validate(&v), Ok(()));
        assert_eq!(count(&v), Err(HllError::Corrupt));
        let mut w = v.clone();
        assert_eq!(to_dense(&mut w), Err(HllError::Corrupt));
        assert_eq!(w, v, "a failed conversion changes nothing");
        let mut max = [0u8; REGISTERS];
        assert_eq!(merge_into(&mut max, &v), Err(HllError::Corrupt));
        let mut short = new_sparse();
        short.truncate(HDR);
        assert_eq!(sparse_set(&mut short, 3, 1, 3000), Err(HllError::Corrupt));
        assert_eq!(validate(b"HYLL\x00"), Err(HllError::NotHll));
        assert_eq!(
            validate(b"HYLL\x00\0\0\0\0\0\0\0\0\0\0\0"),
            Err(HllError::NotHll)
        );
        assert_eq!(
            validate(b"HYLL\x02\0\0\0\0\0\0\0\0\0\0\0"),
            Err(HllError::NotHll)
        );
    }
}
