//! A software x87 `long double` (64-bit significand, 15-bit exponent), so that INCRBYFLOAT and
//! HINCRBYFLOAT parse, add, round and print exactly as Redis does on x86-64 (`strtold`, `+`,
//! `snprintf("%.17Lf")`). Every operation is correctly rounded to nearest, ties to even, as the
//! x87 unit and glibc are; subnormals (below 2^-16382) are kept, as `strtold` keeps them.

use std::cmp::Ordering;

/// Redis refuses a float text of this many bytes or more (`MAX_LONG_DOUBLE_CHARS`).
const MAX_CHARS: usize = 5 * 1024;
/// The exponent of the lowest significand bit of a subnormal: values are multiples of 2^-16445.
const MIN_EXP: i32 = -16445;
/// The largest `exp` of a finite value (2^16383 is the top bit, so 2^(16383-63) the lowest).
const MAX_EXP: i32 = 16320;
/// Decimal digits kept by `%.17Lf`.
const FRACTION_DIGITS: u32 = 17;

/// An x87 80-bit extended-precision number, the C `long double` Redis computes INCRBYFLOAT in.
///
/// Parse it from the text a client sent (as `strtold` reads it) or convert an `f64` exactly:
/// ```
/// use kvcore::LongDouble;
///
/// let a = LongDouble::parse(b"0.1").unwrap();
/// let b = LongDouble::parse(b"0.2").unwrap();
/// assert_eq!(a.checked_add(b).unwrap().format_human(), "0.3");
/// assert_eq!(LongDouble::from(2.5).format_human(), "2.5");
/// assert!(LongDouble::parse(b"1e5000").is_none()); // out of range, as strtold's ERANGE
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongDouble(Repr);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repr {
    /// `(-1)^neg * sig * 2^exp`. Zero has `sig == 0, exp == 0`; otherwise either the top bit of
    /// `sig` is set (normal) or `exp == MIN_EXP` (subnormal).
    Finite {
        neg: bool,
        sig: u64,
        exp: i32,
    },
    Infinite {
        neg: bool,
    },
    NaN,
}

impl LongDouble {
    /// Reads `text` as Redis's `string2ld` does: the whole of it must be one `strtold` number
    /// (decimal with optional exponent, `0x` hex float, `inf`/`infinity`, each optionally
    /// signed), without spaces, under 5120 bytes; NaN and values that overflow or underflow to
    /// zero are refused. Returns None for anything Redis answers "value is not a valid float".
    pub fn parse(text: &[u8]) -> Option<LongDouble> {
        if text.is_empty() || text.len() >= MAX_CHARS {
            return None;
        }
        let (neg, body) = match text {
            [b'-', rest @ ..] => (true, rest),
            [b'+', rest @ ..] => (false, rest),
            _ => (false, text),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(LongDouble(Repr::Infinite { neg }));
        }
        let v = match body {
            [b'0', b'x' | b'X', hex @ ..] => parse_hex(neg, hex)?,
            _ => parse_decimal(neg, body)?,
        };
        Some(LongDouble(v))
    }

    /// True unless infinite or NaN.
    pub fn is_finite(&self) -> bool {
        matches!(self.0, Repr::Finite { .. })
    }

    /// The sum, rounded to the nearest `long double` (ties to even). None when it is infinite
    /// or NaN (either operand not finite, or the sum overflows): Redis's "increment would
    /// produce NaN or Infinity".
    pub fn checked_add(self, other: LongDouble) -> Option<LongDouble> {
        match (self.0, other.0) {
            (
                Repr::Finite {
                    neg: an,
                    sig: asig,
                    exp: ae,
                },
                Repr::Finite {
                    neg: bn,
                    sig: bsig,
                    exp: be,
                },
            ) => add(an, asig, ae, bn, bsig, be).map(LongDouble),
            _ => None,
        }
    }

    /// The text INCRBYFLOAT stores: `%.17Lf` (fixed notation, the exact value rounded to 17
    /// decimals, ties to even), then trailing zeros and a trailing `.` removed, and `-0` as `0`.
    /// Non-finite values print as `inf`, `-inf` and `nan`, as `printf` does.
    pub fn format_human(&self) -> String {
        let (neg, sig, exp) = match self.0 {
            Repr::Finite { neg, sig, exp } => (neg, sig, exp),
            Repr::Infinite { neg } => return if neg { "-inf" } else { "inf" }.into(),
            Repr::NaN => return "nan".into(),
        };
        let mut out = String::new();
        if neg {
            out.push('-');
        }
        if exp >= 0 {
            // An integer: no fraction digits survive the trimming.
            let mut n = Big::from_u64(sig);
            n.shl(exp as u32);
            out.push_str(&n.to_decimal());
        } else {
            // sig * 10^17 < 2^64 * 2^57 fits; then divide by 2^-exp, rounding half to even.
            let scaled = u128::from(sig) * 10u128.pow(FRACTION_DIGITS);
            let q = shr_round_even(scaled, exp.unsigned_abs());
            let unit = 10u128.pow(FRACTION_DIGITS);
            out.push_str(&(q / unit).to_string());
            let frac = format!("{:017}", q % unit);
            let frac = frac.trim_end_matches('0');
            if !frac.is_empty() {
                out.push('.');
                out.push_str(frac);
            }
        }
        if out == "-0" {
            out.remove(0);
        }
        out
    }
}

impl From<f64> for LongDouble {
    /// Exact: every `f64` is a `long double`.
    fn from(v: f64) -> LongDouble {
        if v.is_nan() {
            return LongDouble(Repr::NaN);
        }
        let neg = v.is_sign_negative();
        if v.is_infinite() {
            return LongDouble(Repr::Infinite { neg });
        }
        let bits = v.to_bits();
        let biased = ((bits >> 52) & 0x7ff) as i32;
        let frac = bits & ((1 << 52) - 1);
        let (m, e) = if biased == 0 {
            (frac, -1074)
        } else {
            (frac | (1 << 52), biased - 1075)
        };
        // Any f64 is far inside the long double's normal range (2^-1074..2^1024 against
        // 2^-16382..2^16384), so rounding is exact and cannot overflow.
        let r = round(neg, u128::from(m), e, false).expect("an f64 never overflows a long double");
        LongDouble(r)
    }
}

/// `x >> n` rounded to nearest, ties to even.
fn shr_round_even(x: u128, n: u32) -> u128 {
    if n == 0 {
        return x;
    }
    if n > 128 {
        return 0;
    }
    let q = if n == 128 { 0 } else { x >> n };
    let rem = if n == 128 { x } else { x & ((1u128 << n) - 1) };
    let half = 1u128 << (n - 1);
    if rem > half || (rem == half && q & 1 == 1) {
        q + 1
    } else {
        q
    }
}

/// Rounds `m * 2^e` (plus something smaller than `2^e` but not zero when `sticky`) to a
/// `long double`: 64 significant bits, or fewer for a subnormal. None on overflow. Callers pass
/// at least 66 significant bits in `m` whenever `sticky` is set, so the sticky part only ever
/// breaks a tie.
fn round(neg: bool, m: u128, e: i32, sticky: bool) -> Option<Repr> {
    if m == 0 {
        return Some(Repr::Finite {
            neg,
            sig: 0,
            exp: 0,
        });
    }
    let lz = m.leading_zeros() as i32;
    let m = m << lz;
    let e = e - lz;
    // m's top bit (127) weighs 2^(e + 127); keep 64 bits down to 2^(e + 64), or fewer below
    // the subnormal floor.
    let ulp = (e + 64).max(MIN_EXP);
    let shift = (ulp - e) as u32; // >= 64
    let (mut q, rem, half_point) = if shift >= 128 {
        (0u128, m, shift == 128)
    } else {
        (m >> shift, m & ((1u128 << shift) - 1), true)
    };
    let mut exp = ulp;
    if half_point {
        let half = 1u128 << (shift.min(128) - 1);
        let above = rem > half || (rem == half && sticky);
        if above || (rem == half && !sticky && q & 1 == 1) {
            q += 1;
        }
    }
    // Carry out of 64 bits: 2^64 * 2^exp == 2^63 * 2^(exp + 1).
    if q == 1u128 << 64 {
        q >>= 1;
        exp += 1;
    }
    if q == 0 {
        return Some(Repr::Finite {
            neg,
            sig: 0,
            exp: 0,
        });
    }
    if exp > MAX_EXP {
        return None;
    }
    Some(Repr::Finite {
        neg,
        sig: q as u64, // q < 2^64 after the carry fix above
        exp,
    })
}

fn add(an: bool, asig: u64, ae: i32, bn: bool, bsig: u64, be: i32) -> Option<Repr> {
    if asig == 0 && bsig == 0 {
        // +0 unless both are -0 (round to nearest).
        return Some(Repr::Finite {
            neg: an && bn,
            sig: 0,
            exp: 0,
        });
    }
    if bsig == 0 {
        return Some(Repr::Finite {
            neg: an,
            sig: asig,
            exp: ae,
        });
    }
    if asig == 0 {
        return Some(Repr::Finite {
            neg: bn,
            sig: bsig,
            exp: be,
        });
    }
    // x has the larger exponent. Both are widened by 63 bits so the sum fits in 128 bits; what
    // falls off y's low end (only when the exponents are more than 63 apart) becomes sticky.
    let ((xn, xs, xe), (yn, ys, ye)) = if ae >= be {
        ((an, asig, ae), (bn, bsig, be))
    } else {
        ((bn, bsig, be), (an, asig, ae))
    };
    let d = (xe - ye) as u32;
    let x = u128::from(xs) << 63;
    let (y, sticky) = if d <= 63 {
        (u128::from(ys) << (63 - d), false)
    } else if d - 63 < 64 {
        let s = d - 63;
        (u128::from(ys) >> s, ys & ((1u64 << s) - 1) != 0)
    } else {
        (0, true)
    };
    let e = xe - 63;
    if xn == yn {
        return round(xn, x + y, e, sticky);
    }
    // Opposite signs. With sticky set, x is normal and at least 2^126 while y < 2^64, so
    // x - y - 1 keeps far more than 66 bits and the sticky remainder stays below its ulp.
    match x.cmp(&y) {
        Ordering::Greater => round(xn, x - y - u128::from(sticky), e, sticky),
        Ordering::Less => round(yn, y - x, e, false),
        // Exactly opposite: +0. (Never with sticky set: then x > y, see above.)
        Ordering::Equal => round(false, 0, e, false),
    }
}

/// Hex floats: `0x` digits with an optional `.` and an optional binary exponent `p[+-]d+`.
/// Exact, like glibc: all digits count, the first 128 significant bits plus a sticky bit.
fn parse_hex(neg: bool, s: &[u8]) -> Option<Repr> {
    let mut i = 0;
    let mut m: u128 = 0;
    let mut sticky = false;
    let mut scale: i64 = 0; // value = m * 2^scale
    let mut digits = 0;
    let mut seen_dot = false;
    while i < s.len() {
        let c = s[i];
        if c == b'.' && !seen_dot {
            seen_dot = true;
        } else if let Some(d) = (c as char).to_digit(16) {
            digits += 1;
            if m >> 124 == 0 {
                m = (m << 4) | u128::from(d);
                if seen_dot {
                    scale -= 4;
                }
            } else {
                sticky |= d != 0;
                if !seen_dot {
                    scale += 4;
                }
            }
        } else {
            break;
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    let rest = &s[i..];
    let p = match rest {
        [] => 0,
        [b'p' | b'P', exp @ ..] => parse_exponent(exp)?,
        _ => return None,
    };
    let e = (scale + p).clamp(-100_000, 100_000) as i32;
    if m == 0 {
        return Some(Repr::Finite {
            neg,
            sig: 0,
            exp: 0,
        });
    }
    finish_range(round(neg, m, e, sticky))
}

/// strtold's ERANGE handling in string2ld: an overflow (None here) or an underflow to zero of a
/// nonzero number is refused.
fn finish_range(r: Option<Repr>) -> Option<Repr> {
    match r? {
        Repr::Finite { sig: 0, .. } => None,
        r => Some(r),
    }
}

/// An exponent `[+-]digits`, saturated far beyond any representable range.
fn parse_exponent(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: i64 = 0;
    for &c in digits {
        n = (n * 10 + i64::from(c - b'0')).min(1_000_000_000);
    }
    Some(if neg { -n } else { n })
}

/// Decimal: digits with an optional `.` (at least one digit), then an optional `e[+-]digits`.
fn parse_decimal(neg: bool, s: &[u8]) -> Option<Repr> {
    let mut i = 0;
    let mut sig: Vec<u8> = Vec::new(); // significant digits, no leading zeros
    let mut point_shift: i64 = 0; // value = sig * 10^(point_shift + exponent)
    let mut digits = 0;
    let mut seen_dot = false;
    while i < s.len() {
        let c = s[i];
        if c == b'.' && !seen_dot {
            seen_dot = true;
        } else if c.is_ascii_digit() {
            digits += 1;
            if !(sig.is_empty() && c == b'0') {
                sig.push(c - b'0');
            }
            if seen_dot {
                point_shift -= 1;
            }
        } else {
            break;
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    let exp = match &s[i..] {
        [] => 0,
        [b'e' | b'E', exp @ ..] => parse_exponent(exp)?,
        _ => return None,
    };
    if sig.is_empty() {
        return Some(Repr::Finite {
            neg,
            sig: 0,
            exp: 0,
        });
    }
    // Trailing zeros only make the big numbers bigger.
    while sig.last() == Some(&0) {
        sig.pop();
        point_shift += 1;
    }
    let e10 = point_shift + exp;
    let n = sig.len() as i64;
    // value is in [10^(n-1+e10), 10^(n+e10)). The largest long double is about 1.19e4932 and
    // half the smallest subnormal about 1.8e-4951.
    if n - 1 + e10 >= 4933 {
        return None;
    }
    if n + e10 <= -4952 {
        return None;
    }
    // 10^e10 = 5^e10 * 2^e10: the power of two goes to the binary exponent, which keeps the
    // big numbers about 30% shorter.
    let mut num = Big::from_digits(&sig);
    let e10 = e10 as i32; // within +-10^4 after the range checks above
    if e10 >= 0 {
        num.mul_pow5(e10 as u32);
        let (m, e, sticky) = num.top_bits();
        return finish_range(round(neg, m, e + e10, sticky));
    }
    let mut den = Big::from_u64(1);
    den.mul_pow5(e10.unsigned_abs());
    let (m, e, sticky) = divide(num, den);
    finish_range(round(neg, m, e + e10, sticky))
}

/// `num / den` as `m * 2^e` with 127 or 128 significant bits in `m`, and whether the division
/// left a remainder (the sticky bit).
fn divide(mut num: Big, mut den: Big) -> (u128, i32, bool) {
    // Scale so that the bit lengths differ by 127: the quotient is then in [2^126, 2^128).
    let k = i64::from(den.bit_len()) + 127 - i64::from(num.bit_len());
    if k > 0 {
        num.shl(k as u32);
    } else {
        den.shl(k.unsigned_abs() as u32);
    }
    let (q, rem) = num.div_rem(&den);
    let m = q
        .iter()
        .rev()
        .fold(0u128, |acc, &l| (acc << 32) | u128::from(l));
    (m, -k as i32, rem)
}

/// A non-negative integer in base 2^32, least significant limb first, no high zero limbs.
#[derive(Debug, Clone)]
struct Big(Vec<u32>);

impl Big {
    fn from_u64(v: u64) -> Big {
        let mut b = Big(vec![v as u32, (v >> 32) as u32]);
        b.trim();
        b
    }

    fn from_digits(digits: &[u8]) -> Big {
        let mut b = Big(Vec::new());
        for chunk in digits.chunks(9) {
            let mut v = 0u32;
            for &d in chunk {
                v = v * 10 + u32::from(d);
            }
            b.mul_add_small(10u32.pow(chunk.len() as u32), v);
        }
        b
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn bit_len(&self) -> u32 {
        match self.0.last() {
            None => 0,
            Some(&top) => 32 * self.0.len() as u32 - top.leading_zeros(),
        }
    }

    /// `self = self * mul + add`.
    fn mul_add_small(&mut self, mul: u32, add: u32) {
        let mut carry = u64::from(add);
        for limb in &mut self.0 {
            let t = u64::from(*limb) * u64::from(mul) + carry;
            *limb = t as u32;
            carry = t >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }

    fn mul_pow5(&mut self, mut n: u32) {
        // 5^13 is the largest power of five below 2^32.
        while n > 0 {
            let k = n.min(13);
            self.mul_add_small(5u32.pow(k), 0);
            n -= k;
        }
    }

    fn shl(&mut self, bits: u32) {
        if self.is_zero() {
            return;
        }
        let limbs = (bits / 32) as usize;
        let bits = bits % 32;
        if bits != 0 {
            let mut carry = 0u32;
            for limb in &mut self.0 {
                let next = *limb >> (32 - bits);
                *limb = (*limb << bits) | carry;
                carry = next;
            }
            if carry != 0 {
                self.0.push(carry);
            }
        }
        if limbs > 0 {
            self.0.splice(0..0, std::iter::repeat_n(0, limbs));
        }
    }

    #[cfg(test)]
    fn cmp_mag(&self, other: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    /// `self -= other`; requires `self >= other`.
    #[cfg(test)]
    fn sub(&mut self, other: &Big) {
        let mut borrow = 0i64;
        for (i, limb) in self.0.iter_mut().enumerate() {
            let o = other.0.get(i).copied().map_or(0, i64::from);
            let mut t = i64::from(*limb) - o - borrow;
            borrow = i64::from(t < 0);
            if t < 0 {
                t += 1 << 32;
            }
            *limb = t as u32;
        }
        debug_assert_eq!(borrow, 0, "subtracted a larger number");
        self.trim();
    }

    /// Long division (Knuth's algorithm D, base 2^32): the quotient's limbs, least significant
    /// first, and whether the remainder is nonzero. Requires `div` nonzero and
    /// `self.0.len() >= div.0.len()`.
    fn div_rem(&self, div: &Big) -> (Vec<u32>, bool) {
        const B: u64 = 1 << 32;
        let n = div.0.len();
        let m = self.0.len() - n;
        if n == 1 {
            let d = u64::from(div.0[0]);
            let mut q = vec![0u32; self.0.len()];
            let mut rem = 0u64;
            for (i, &l) in self.0.iter().enumerate().rev() {
                let cur = (rem << 32) | u64::from(l);
                q[i] = (cur / d) as u32;
                rem = cur % d;
            }
            return (q, rem != 0);
        }
        // Normalize: the divisor's top bit set, so each quotient estimate is off by at most 2.
        let s = div.0[n - 1].leading_zeros();
        let mut v = div.clone();
        v.shl(s);
        let v = v.0;
        let mut u = self.0.clone();
        u.push(0);
        if s > 0 {
            let mut carry = 0u32;
            for limb in &mut u {
                let next = *limb >> (32 - s);
                *limb = (*limb << s) | carry;
                carry = next;
            }
        }
        let mut q = vec![0u32; m + 1];
        for j in (0..=m).rev() {
            let top = (u64::from(u[j + n]) << 32) | u64::from(u[j + n - 1]);
            let mut qhat = top / u64::from(v[n - 1]);
            let mut rhat = top % u64::from(v[n - 1]);
            while qhat >= B || qhat * u64::from(v[n - 2]) > ((rhat << 32) | u64::from(u[j + n - 2]))
            {
                qhat -= 1;
                rhat += u64::from(v[n - 1]);
                if rhat >= B {
                    break;
                }
            }
            // u[j..=j+n] -= qhat * v
            let mut borrow = 0i64;
            for i in 0..n {
                let p = qhat * u64::from(v[i]);
                let t = i64::from(u[i + j]) - borrow - (p & 0xffff_ffff) as i64;
                u[i + j] = t as u32;
                borrow = (p >> 32) as i64 - (t >> 32);
            }
            let t = i64::from(u[j + n]) - borrow;
            u[j + n] = t as u32;
            if t < 0 {
                // qhat was one too large: add the divisor back.
                qhat -= 1;
                let mut carry = 0u64;
                for i in 0..n {
                    let t = u64::from(u[i + j]) + u64::from(v[i]) + carry;
                    u[i + j] = t as u32;
                    carry = t >> 32;
                }
                u[j + n] = u[j + n].wrapping_add(carry as u32);
            }
            q[j] = qhat as u32;
        }
        (q, u[..n].iter().any(|&l| l != 0))
    }

    /// The top 128 bits as `m * 2^e`, and whether any lower bit is set.
    fn top_bits(&self) -> (u128, i32, bool) {
        let len = self.bit_len();
        if len <= 128 {
            let m = self
                .0
                .iter()
                .rev()
                .fold(0u128, |acc, &l| (acc << 32) | u128::from(l));
            return (m, 0, false);
        }
        let drop = len - 128;
        let mut m = 0u128;
        for bit in (drop..len).rev() {
            m = (m << 1) | u128::from(self.bit(bit));
        }
        let sticky = (0..drop).any(|b| self.bit(b));
        (m, drop as i32, sticky)
    }

    fn bit(&self, i: u32) -> bool {
        self.0
            .get((i / 32) as usize)
            .is_some_and(|l| (l >> (i % 32)) & 1 == 1)
    }

    fn to_decimal(&self) -> String {
        if self.is_zero() {
            return "0".into();
        }
        let mut n = self.0.clone();
        let mut chunks = Vec::new(); // base 10^9, least significant first
        while !n.is_empty() {
            let mut rem = 0u64;
            for limb in n.iter_mut().rev() {
                let cur = (rem << 32) | u64::from(*limb);
                *limb = (cur / 1_000_000_000) as u32;
                rem = cur % 1_000_000_000;
            }
            while n.last() == Some(&0) {
                n.pop();
            }
            chunks.push(rem as u32);
        }
        let mut out = chunks.pop().map(|c| c.to_string()).unwrap_or_default();
        for c in chunks.iter().rev() {
            out.push_str(&format!("{c:09}"));
        }
        out
    }
}

#[cfg(test)]
#[path = "long_double_tests.rs"]
mod tests;
