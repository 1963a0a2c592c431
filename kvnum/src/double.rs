//! Doubles: the shortest digits that read back as the same `f64`, in `%.17g`'s layout.

use std::fmt::Write as _;

use crate::int::{I64_LEN, format_u64};

/// Appends `v` as the shortest decimal that parses back to exactly `v`, laid out as C's
/// `printf("%.17g")` lays a number out: fixed notation when the decimal exponent is in
/// `-4..17` (`0.0001`, `1.5`, `10000000000000000`), otherwise one digit, the rest after a point,
/// and a signed exponent of at least two digits (`1e-05`, `1.5e+20`). `inf`, `-inf` and `nan`
/// for the non-finite values; `-0` for negative zero.
///
/// This is the layout of Redis's score and double replies; Redis 7.2's `d2string` also prints
/// integral values up to 2^62 as integers, which is the caller's choice (kvproto makes it, a
/// sorted-set score does not).
///
/// ```
/// let text = |v: f64| {
///     let mut out = Vec::new();
///     kvnum::push_double(&mut out, v);
///     String::from_utf8(out).unwrap()
/// };
/// assert_eq!(text(0.1), "0.1");
/// assert_eq!(text(1e17), "1e+17");
/// assert_eq!(text(-2.5e-3), "-0.0025");
/// assert_eq!(text(f64::NEG_INFINITY), "-inf");
/// ```
pub fn push_double(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"nan");
        return;
    }
    if v.is_infinite() {
        out.extend_from_slice(if v < 0.0 { b"-inf" } else { b"inf" });
        return;
    }
    // Rust's `{:e}` prints the shortest round-trip digits: "-1.2345e-7", "1e300", "-0e0".
    let mut sci = StackBuf::default();
    // Invariant: a finite f64 in `{:e}` form is at most 24 bytes ("-2.2250738585072014e-308").
    write!(sci, "{v:e}").expect("a finite f64 in `{:e}` form fits in 40 bytes");
    let text = sci.as_bytes();
    let (negative, text) = match text {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, text),
    };
    let e_at = text.iter().position(|&b| b == b'e').unwrap_or(text.len());
    let (mantissa, exponent) = text.split_at(e_at);
    let exponent = parse_exponent(exponent.get(1..).unwrap_or_default());
    // At most 17 significant digits, so 20 bytes are plenty.
    let mut digit_buf = [0u8; I64_LEN];
    let mut n = 0;
    for &b in mantissa.iter().filter(|b| b.is_ascii_digit()) {
        if n < digit_buf.len() {
            digit_buf[n] = b;
            n += 1;
        }
    }
    let digits = &digit_buf[..n];
    if negative {
        out.push(b'-');
    }
    if (-4..17).contains(&exponent) {
        if exponent < 0 {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', (-exponent - 1) as usize));
            out.extend_from_slice(digits);
        } else {
            let int_len = exponent as usize + 1;
            if digits.len() <= int_len {
                out.extend_from_slice(digits);
                out.extend(std::iter::repeat_n(b'0', int_len - digits.len()));
            } else {
                out.extend_from_slice(&digits[..int_len]);
                out.push(b'.');
                out.extend_from_slice(&digits[int_len..]);
            }
        }
    } else {
        out.extend_from_slice(&digits[..1]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if exponent < 0 { b'-' } else { b'+' });
        if exponent.unsigned_abs() < 10 {
            out.push(b'0');
        }
        let mut buf = [0u8; I64_LEN];
        out.extend_from_slice(format_u64(u64::from(exponent.unsigned_abs()), &mut buf));
    }
}

/// The exponent `{:e}` printed: an optional `-` and at most three digits.
fn parse_exponent(text: &[u8]) -> i32 {
    let (negative, digits) = match text {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, text),
    };
    let magnitude = digits
        .iter()
        .fold(0i32, |acc, &d| acc * 10 + i32::from(d - b'0'));
    if negative { -magnitude } else { magnitude }
}

/// A fixed buffer that `core::fmt` writes into, so formatting a double never allocates.
struct StackBuf {
    buf: [u8; 40],
    len: usize,
}

impl Default for StackBuf {
    fn default() -> Self {
        StackBuf {
            buf: [0; 40],
            len: 0,
        }
    }
}

impl StackBuf {
    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn check(v: f64, expected: &str) {
        let mut out = Vec::new();
        push_double(&mut out, v);
        assert_eq!(String::from_utf8(out).unwrap(), expected, "{v:?}");
    }

    /// The union of the tables kvcore's `format_score` and kvproto's `push_double` were tested
    /// with, minus kvproto's integral shortcut (tested there).
    #[test]
    fn lays_out_like_g17() {
        check(1.0, "1");
        check(3.0, "3");
        check(-3.0, "-3");
        check(1.5, "1.5");
        check(-1.5, "-1.5");
        check(0.0, "0");
        check(-0.0, "-0");
        check(0.1, "0.1");
        check(100.0, "100");
        check(123.456, "123.456");
        check(123456.789, "123456.789");
        check(42.4242, "42.4242");
        check(-2.5e-3, "-0.0025");
        check(1e16, "10000000000000000");
        check(1e17, "1e+17");
        check(1e20, "1e+20");
        check(1.5e20, "1.5e+20");
        check(1e300, "1e+300");
        check(0.0001, "0.0001");
        check(0.00001, "1e-05");
        check(1.5e-5, "1.5e-05");
        check(1.25e-7, "1.25e-07");
        check(1e-100, "1e-100");
        check(1.0 / 3.0, "0.3333333333333333");
        check(3.0000000000000004, "3.0000000000000004");
        check(f64::MAX, "1.7976931348623157e+308");
        check(f64::MIN_POSITIVE, "2.2250738585072014e-308");
        check(-f64::MIN_POSITIVE, "-2.2250738585072014e-308");
        check(5e-324, "5e-324");
        check(f64::INFINITY, "inf");
        check(f64::NEG_INFINITY, "-inf");
        check(f64::NAN, "nan");
    }

    #[test]
    fn round_trips() {
        for v in [
            0.1,
            1.0 / 3.0,
            2.0f64.sqrt(),
            12345.678,
            -9.87e-12,
            1e-300,
            6.02214076e23,
            -7.5e-9,
            4.7e18 + 1024.0,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
        ] {
            let mut out = Vec::new();
            push_double(&mut out, v);
            let text = std::str::from_utf8(&out).unwrap();
            assert_eq!(text.parse::<f64>(), Ok(v), "{text}");
        }
    }
}
