//! Number parsing and formatting without allocation: Redis's `string2ll` rules for lengths and
//! integers, itoa-style integer formatting, and Redis's double formatting.

use std::fmt::Write as _;

/// The longest decimal `i64` or `u64` (`-9223372036854775808` is 20 bytes).
pub(crate) const MAX_INT_LEN: usize = 20;

/// Parses `s` with the rules of Redis's `string2ll`: an optional `-`, then digits with no leading
/// zero (except `0` itself), no `+`, no spaces, at most 20 bytes, in `i64` range.
pub(crate) fn parse_redis_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > MAX_INT_LEN {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    if negative {
        if v > i64::MAX as u64 + 1 {
            return None;
        }
        // v <= 2^63, so the wrapping negation lands exactly on the i64 value (i64::MIN included).
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// Parses a RESP3 integer as a client would accept it: an optional sign, then ASCII digits.
pub(crate) fn parse_lenient_int(s: &[u8]) -> Option<i64> {
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: i64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        let d = i64::from(b - b'0');
        // Accumulate towards the sign so i64::MIN parses without overflow.
        v = v.checked_mul(10)?;
        v = if negative {
            v.checked_sub(d)?
        } else {
            v.checked_add(d)?
        };
    }
    Some(v)
}

/// Formats `n` into the tail of `buf` and returns the used tail.
#[inline]
pub(crate) fn format_u64(mut n: u64, buf: &mut [u8; MAX_INT_LEN]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

/// Appends the decimal form of `n` to `out`.
#[inline]
pub(crate) fn push_i64(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    let mut buf = [0u8; MAX_INT_LEN];
    out.extend_from_slice(format_u64(n.unsigned_abs(), &mut buf));
}

/// Appends the decimal form of `n` to `out`.
#[inline]
pub(crate) fn push_usize(out: &mut Vec<u8>, n: usize) {
    let mut buf = [0u8; MAX_INT_LEN];
    out.extend_from_slice(format_u64(n as u64, &mut buf));
}

/// A fixed buffer that `core::fmt` can write into, so a double is formatted without allocating.
struct StackBuf {
    buf: [u8; 40],
    len: usize,
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Appends `d` formatted as Redis (7.2+ `d2string`) formats a double reply: `nan`, `inf`, `-inf`,
/// `0`/`-0`; an integral value within ±2^62 as an integer; anything else with the shortest digits
/// that round-trip, laid out like `%.17g` (fixed notation for decimal exponents -4..17,
/// otherwise `d.ddde±XX`).
pub(crate) fn push_double(out: &mut Vec<u8>, d: f64) {
    if d.is_nan() {
        out.extend_from_slice(b"nan");
        return;
    }
    if d.is_infinite() {
        out.extend_from_slice(if d < 0.0 { b"-inf" } else { b"inf" });
        return;
    }
    if d == 0.0 {
        out.extend_from_slice(if d.is_sign_negative() { b"-0" } else { b"0" });
        return;
    }
    const LIMIT: f64 = (1u64 << 62) as f64;
    if (-LIMIT..=LIMIT).contains(&d) && d.fract() == 0.0 {
        // Integral and within ±2^62, so the cast is exact.
        push_i64(out, d as i64);
        return;
    }
    // `{:e}` yields the shortest round-trip digits: "-1.2345e-7", "1e300".
    let mut sci = StackBuf {
        buf: [0; 40],
        len: 0,
    };
    // Invariant: a finite f64 in `{:e}` form is at most 24 bytes, so the 40-byte buffer fits it.
    write!(sci, "{d:e}").expect("a finite f64 in {:e} form fits in 40 bytes");
    let s = &sci.buf[..sci.len];
    let (neg, s) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let e_at = s.iter().position(|&b| b == b'e').unwrap_or(s.len());
    let (mantissa, exp_part) = (&s[..e_at], s.get(e_at + 1..).unwrap_or(b"0"));
    let exp = parse_lenient_int(exp_part).unwrap_or(0);
    let mut digits = [0u8; 20];
    let mut nd = 0;
    for &b in mantissa {
        if b.is_ascii_digit() && nd < digits.len() {
            digits[nd] = b;
            nd += 1;
        }
    }
    let digits = &digits[..nd];
    if neg {
        out.push(b'-');
    }
    if (-4..17).contains(&exp) {
        if exp < 0 {
            out.extend_from_slice(b"0.");
            for _ in 0..(-exp - 1) {
                out.push(b'0');
            }
            out.extend_from_slice(digits);
        } else {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                out.extend_from_slice(digits);
                for _ in digits.len()..int_len {
                    out.push(b'0');
                }
            } else {
                out.extend_from_slice(&digits[..int_len]);
                out.push(b'.');
                out.extend_from_slice(&digits[int_len..]);
            }
        }
    } else {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        if exp.unsigned_abs() < 10 {
            out.push(b'0');
        }
        let mut buf = [0u8; MAX_INT_LEN];
        out.extend_from_slice(format_u64(exp.unsigned_abs(), &mut buf));
    }
}

/// Parses a RESP3 double: `inf`, `-inf`, `nan` (any case) or a decimal/scientific number.
pub(crate) fn parse_double(s: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(s).ok()?;
    // Rust also accepts "infinity" and a leading '+', which clients tolerate as well.
    text.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_int(input: &str, expected: Option<i64>) {
        assert_eq!(
            parse_redis_int(input.as_bytes()),
            expected,
            "input {input:?}"
        );
    }

    #[test]
    fn redis_int_rules() {
        check_int("0", Some(0));
        check_int("7", Some(7));
        check_int("-7", Some(-7));
        check_int("9223372036854775807", Some(i64::MAX));
        check_int("-9223372036854775808", Some(i64::MIN));
        check_int("9223372036854775808", None);
        check_int("-9223372036854775809", None);
        check_int("", None);
        check_int("-", None);
        check_int("-0", None);
        check_int("01", None);
        check_int("+1", None);
        check_int(" 1", None);
        check_int("1 ", None);
        check_int("1a", None);
        check_int("123456789012345678901", None);
    }

    #[test]
    fn lenient_int_rules() {
        assert_eq!(parse_lenient_int(b"+12"), Some(12));
        assert_eq!(parse_lenient_int(b"-0"), Some(0));
        assert_eq!(parse_lenient_int(b"007"), Some(7));
        assert_eq!(parse_lenient_int(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_lenient_int(b"9223372036854775808"), None);
        assert_eq!(parse_lenient_int(b"-"), None);
        assert_eq!(parse_lenient_int(b""), None);
        assert_eq!(parse_lenient_int(b"1.0"), None);
    }

    fn check_double(d: f64, expected: &str) {
        let mut out = Vec::new();
        push_double(&mut out, d);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            expected,
            "formatting {d:?}"
        );
    }

    #[test]
    fn doubles_like_redis() {
        check_double(1.5, "1.5");
        check_double(3.0, "3");
        check_double(-3.0, "-3");
        check_double(0.0, "0");
        check_double(-0.0, "-0");
        check_double(f64::INFINITY, "inf");
        check_double(f64::NEG_INFINITY, "-inf");
        check_double(f64::NAN, "nan");
        check_double(0.1, "0.1");
        check_double(-2.5e-3, "-0.0025");
        check_double(1.0e-4, "0.0001");
        check_double(1.5e-5, "1.5e-05");
        check_double(1e300, "1e+300");
        check_double(1.0e18, "1000000000000000000");
        check_double(1.0e19, "1e+19");
        check_double(123456.789, "123456.789");
        check_double(42.4242, "42.4242");
        check_double(1.0 / 3.0, "0.3333333333333333");
        check_double(f64::MAX, "1.7976931348623157e+308");
        check_double(f64::MIN_POSITIVE, "2.2250738585072014e-308");
        check_double(12345678901234567.5, "12345678901234568");
    }

    #[test]
    fn formatted_doubles_round_trip() {
        for d in [
            0.1,
            1.0 / 3.0,
            2.0f64.sqrt(),
            1e-300,
            6.02214076e23,
            -7.5e-9,
            4.7e18 + 1024.0,
        ] {
            let mut out = Vec::new();
            push_double(&mut out, d);
            assert_eq!(
                parse_double(&out),
                Some(d),
                "{}",
                String::from_utf8_lossy(&out)
            );
        }
    }

    #[test]
    fn integers_format() {
        let mut out = Vec::new();
        push_i64(&mut out, i64::MIN);
        out.push(b' ');
        push_i64(&mut out, 0);
        out.push(b' ');
        push_usize(&mut out, 1234);
        assert_eq!(out, b"-9223372036854775808 0 1234");
    }
}
