//! Integers: Redis's strict parser (`string2ll`) and allocation-free decimal formatting.

/// Bytes of the longest decimal `i64` or `u64` (`-9223372036854775808`,
/// `18446744073709551615`): the size of the buffer [`format_i64`] and [`format_u64`] fill.
pub const I64_LEN: usize = 20;

/// Parses a signed 64-bit integer exactly as Redis's `string2ll` does.
///
/// Accepted: an optional `-`, then decimal digits without a leading zero (`0` itself is
/// fine), in `i64` range. Refused: `+`, spaces anywhere, `-0`, leading zeros, an empty string,
/// anything longer than [`I64_LEN`] bytes, overflow. Every integer therefore has exactly one
/// accepted spelling, the one [`format_i64`] prints, which is what lets Redis store a value
/// that parses as an integer as that integer.
///
/// ```
/// assert_eq!(kvnum::parse_i64(b"-9223372036854775808"), Some(i64::MIN));
/// assert_eq!(kvnum::parse_i64(b"-0"), None);
/// assert_eq!(kvnum::parse_i64(b" 1"), None);
/// ```
#[inline]
pub fn parse_i64(text: &[u8]) -> Option<i64> {
    // Anything longer cannot be canonical; refusing it first bounds the work on hostile input.
    if text.len() > I64_LEN {
        return None;
    }
    let (negative, digits) = match text {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, text),
    };
    match digits {
        [b'0'] if !negative => return Some(0),
        [b'1'..=b'9', ..] => {}
        // Empty, `-`, `-0`, a leading zero, `+` or any other first byte.
        _ => return None,
    }
    let mut magnitude: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        magnitude = magnitude
            .checked_mul(10)?
            .checked_add(u64::from(b - b'0'))?;
    }
    if negative {
        // `0 - magnitude` in i64 terms: fine down to 2^63, which is i64::MIN.
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Parses an unsigned 64-bit integer exactly as Redis's `string2ull` does (stream IDs).
///
/// First [`parse_i64`]'s strict grammar (a negative number is refused); failing that, C's
/// `strtoull` on the text up to its first NUL byte: leading white space, an optional `+` or
/// `-` (which negates modulo 2^64, as `strtoull` does), then decimal digits (leading zeros
/// allowed) to the end, without overflow.
///
/// ```
/// assert_eq!(kvnum::parse_u64(b"18446744073709551615"), Some(u64::MAX));
/// assert_eq!(kvnum::parse_u64(b"007"), Some(7));
/// assert_eq!(kvnum::parse_u64(b"-1"), None);
/// assert_eq!(kvnum::parse_u64(b"-0"), Some(0));
/// ```
pub fn parse_u64(text: &[u8]) -> Option<u64> {
    if let Some(n) = parse_i64(text) {
        return u64::try_from(n).ok();
    }
    // C sees the text only up to its first NUL.
    let text = text
        .iter()
        .position(|&b| b == 0)
        .map_or(text, |n| &text[..n]);
    let start = text
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .unwrap_or(text.len());
    let (negative, digits) = match &text[start..] {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        rest => (false, rest),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: u64 = 0;
    for &b in digits {
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(if negative { n.wrapping_neg() } else { n })
}

/// Formats `n` in decimal into the tail of `buf` and returns the digits, without allocating.
///
/// ```
/// let mut buf = [0u8; kvnum::I64_LEN];
/// assert_eq!(kvnum::format_u64(u64::MAX, &mut buf), b"18446744073709551615");
/// ```
#[inline]
pub fn format_u64(mut n: u64, buf: &mut [u8; I64_LEN]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[at..]
}

/// Formats `n` in decimal into the tail of `buf` and returns the text, without allocating:
/// what `n.to_string()` prints, and the one spelling [`parse_i64`] accepts.
#[inline]
pub fn format_i64(n: i64, buf: &mut [u8; I64_LEN]) -> &[u8] {
    let digits = format_u64(n.unsigned_abs(), buf).len();
    if n < 0 {
        // |i64::MIN| has 19 digits, so a 20-byte buffer always has room for the sign.
        let at = buf.len() - digits - 1;
        buf[at] = b'-';
        &buf[at..]
    } else {
        &buf[buf.len() - digits..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Option<i64>) {
        assert_eq!(parse_i64(input.as_bytes()), expected, "{input:?}");
    }

    /// The union of the tables the four former copies (kvcore's two, kvproto's, kvserver's)
    /// were tested with.
    #[test]
    fn parses_like_string2ll() {
        check("0", Some(0));
        check("1", Some(1));
        check("7", Some(7));
        check("-1", Some(-1));
        check("123", Some(123));
        check("-42", Some(-42));
        check("9223372036854775807", Some(i64::MAX));
        check("-9223372036854775808", Some(i64::MIN));
        check("-9223372036854775807", Some(i64::MIN + 1));
        check("9223372036854775808", None);
        check("-9223372036854775809", None);
        check("18446744073709551616", None);
        check("123456789012345678901", None);
        check("99999999999999999999999", None);
        check("", None);
        check("-", None);
        check("-0", None);
        check("00", None);
        check("01", None);
        check("-01", None);
        check("+1", None);
        check("+0", None);
        check("--1", None);
        check(" 1", None);
        check("1 ", None);
        check("  1", None);
        check("1a", None);
        check("1.0", None);
        check("1.5", None);
        check("1e3", None);
        check("abc", None);
        check("1\0", None);
    }

    #[test]
    fn parses_like_string2ull() {
        let cases: &[(&str, Option<u64>)] = &[
            ("0", Some(0)),
            ("18446744073709551615", Some(u64::MAX)),
            ("18446744073709551616", None),
            ("9223372036854775808", Some(1 << 63)),
            ("-1", None),
            ("-0", Some(0)),
            ("-18446744073709551615", Some(1)),
            ("+5", Some(5)),
            (" 5", Some(5)),
            ("\t\n 5", Some(5)),
            ("5 ", None),
            ("007", Some(7)),
            ("", None),
            ("+", None),
            ("-", None),
            ("1a", None),
            ("5\0junk", Some(5)),
            ("\0", None),
        ];
        for &(input, expected) in cases {
            assert_eq!(parse_u64(input.as_bytes()), expected, "{input:?}");
        }
    }

    #[test]
    fn formats_like_to_string() {
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
            let text = format_i64(n, &mut buf);
            assert_eq!(text, n.to_string().as_bytes(), "{n}");
            assert_eq!(parse_i64(text), Some(n), "{n} round-trips");
        }
        for n in [0, 9, 10, u64::MAX] {
            let mut buf = [0u8; I64_LEN];
            assert_eq!(format_u64(n, &mut buf), n.to_string().as_bytes(), "{n}");
        }
    }
}
