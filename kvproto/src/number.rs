//! Numbers on the wire. Redis's strict integer rules (lengths, integers) and decimal and
//! double formatting come from `kvnum`, which kvcore shares; what is only the protocol's lives
//! here: the lenient integer and double a RESP3 reply may carry, and Redis's `d2string` choice
//! of printing integral doubles as integers.

pub(crate) use kvnum::parse_i64;
use kvnum::{I64_LEN, format_i64, format_u64};

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

/// Appends the decimal form of `n` to `out`.
#[inline]
pub(crate) fn push_i64(out: &mut Vec<u8>, n: i64) {
    let mut buf = [0u8; I64_LEN];
    out.extend_from_slice(format_i64(n, &mut buf));
}

/// Appends the decimal form of `n` to `out`.
#[inline]
pub(crate) fn push_usize(out: &mut Vec<u8>, n: usize) {
    let mut buf = [0u8; I64_LEN];
    out.extend_from_slice(format_u64(n as u64, &mut buf));
}

/// Appends `d` as Redis 7.2's `d2string` formats a double reply: an integral value within
/// ±2^62 as an integer (`3`, `1000000000000000000`), anything else as [`kvnum::push_double`]
/// does (shortest round-trip digits in `%.17g` layout, `nan`, `inf`, `-inf`, `-0`).
pub(crate) fn push_d2string(out: &mut Vec<u8>, d: f64) {
    const LIMIT: f64 = (1u64 << 62) as f64;
    if d != 0.0 && (-LIMIT..=LIMIT).contains(&d) && d.fract() == 0.0 {
        // Integral and within ±2^62, so the cast is exact.
        push_i64(out, d as i64);
    } else {
        kvnum::push_double(out, d);
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
        push_d2string(&mut out, d);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            expected,
            "formatting {d:?}"
        );
    }

    /// The integral shortcut; the layout of everything else is kvnum's (tested there).
    #[test]
    fn doubles_like_d2string() {
        check_double(3.0, "3");
        check_double(-3.0, "-3");
        check_double(0.0, "0");
        check_double(-0.0, "-0");
        check_double(1.0e18, "1000000000000000000");
        check_double(-4611686018427387904.0, "-4611686018427387904");
        check_double(1.0e19, "1e+19");
        check_double(12345678901234567.5, "12345678901234568");
        check_double(1.5, "1.5");
        check_double(1.5e-5, "1.5e-05");
        check_double(f64::NEG_INFINITY, "-inf");
        check_double(f64::NAN, "nan");
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
            push_d2string(&mut out, d);
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
