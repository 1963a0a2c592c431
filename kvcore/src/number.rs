//! Numbers stored as strings: Redis's strict integer parsing and its float formatting.

/// Parses a canonical `i64` the way Redis's `string2ll` does: an optional `-`, then digits with
/// no leading zero (except "0" itself), no sign `+`, no spaces, no `-0`.
pub(crate) fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    match digits {
        [] => return None,
        [b'0'] => return (!neg).then_some(0),
        [b'0', ..] => return None,
        _ => {}
    }
    let mut n: i64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        let d = i64::from(b - b'0');
        // Accumulate negatively so that i64::MIN parses.
        n = n.checked_mul(10)?.checked_sub(d)?;
    }
    if neg { Some(n) } else { n.checked_neg() }
}

/// Room for the longest `i64` in decimal: `-9223372036854775808`.
pub(crate) const I64_LEN: usize = 20;

/// Formats `n` in decimal into `buf` without allocating (INCR runs this on every call);
/// returns the digits.
pub(crate) fn format_i64(n: i64, buf: &mut [u8; I64_LEN]) -> &[u8] {
    let mut v = n.unsigned_abs();
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    &buf[at..]
}

/// Parses a float as INCRBYFLOAT reads a stored value: no surrounding spaces, no NaN.
pub(crate) fn parse_f64(s: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(s).ok()?;
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_whitespace()) {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    (!v.is_nan()).then_some(v)
}

/// Formats a finite float as INCRBYFLOAT stores it: plain decimal notation, no exponent, no
/// trailing zeros, and the fewest digits (at most 17 significant) that read back as the same
/// `f64`. Redis computes in `long double`, so a sum like 0.1 + 0.2 that `f64` cannot hold
/// exactly shows its last digit here ("0.30000000000000004") where Redis prints "0.3".
pub(crate) fn format_f64(v: f64) -> Vec<u8> {
    if v == 0.0 {
        return b"0".to_vec();
    }
    // Rust's `Display` for f64 is the shortest round-trip form and never uses an exponent.
    v.to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_int(input: &str, expected: Option<i64>) {
        assert_eq!(parse_i64(input.as_bytes()), expected, "{input:?}");
    }

    #[test]
    fn integers_parse_like_redis() {
        check_int("0", Some(0));
        check_int("1", Some(1));
        check_int("-1", Some(-1));
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
        check_int("  1", None);
        check_int("1.0", None);
        check_int("1e3", None);
        check_int("abc", None);
    }

    #[test]
    fn integers_format_like_to_string() {
        for n in [
            0,
            1,
            -1,
            9,
            10,
            -10,
            12345,
            i64::MAX,
            i64::MIN,
            i64::MIN + 1,
        ] {
            let mut buf = [0u8; I64_LEN];
            assert_eq!(format_i64(n, &mut buf), n.to_string().as_bytes(), "{n}");
        }
    }

    fn check_float(input: &str, expected: Option<f64>) {
        assert_eq!(parse_f64(input.as_bytes()), expected, "{input:?}");
    }

    #[test]
    fn floats_parse_like_redis() {
        check_float("1.5", Some(1.5));
        check_float("-2", Some(-2.0));
        check_float("1e3", Some(1000.0));
        check_float(".5", Some(0.5));
        check_float("", None);
        check_float(" 1", None);
        check_float("1 ", None);
        check_float("nan", None);
        check_float("abc", None);
        check_float("inf", Some(f64::INFINITY));
    }

    fn check_format(v: f64, expected: &str) {
        assert_eq!(format_f64(v), expected.as_bytes(), "{v}");
    }

    #[test]
    fn floats_format_like_redis() {
        check_format(10.5, "10.5");
        check_format(10.5 + 0.1, "10.6");
        check_format(3.0, "3");
        check_format(5.0e3, "5000");
        check_format(-0.0, "0");
        check_format(1e20, "100000000000000000000");
        check_format(1.5e-7, "0.00000015");
        check_format(-3.25, "-3.25");
    }
}
