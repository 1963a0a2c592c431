//! Numbers stored as strings: Redis's strict integer parsing, and the `long double` that
//! INCRBYFLOAT and HINCRBYFLOAT compute in.

mod long_double;

pub use long_double::LongDouble;

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
}
