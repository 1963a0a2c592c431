//! Number text for `cjson`, as Redis's `fpconv.c` produces and reads it with glibc in the C
//! locale: `printf("%.<precision>g")` and `strtod`.

use std::fmt::Write;

/// `printf("%.<precision>g", x)`: `precision` significant digits (at least 1), trailing zeros
/// dropped, exponent form below 1e-4 or from 10^precision, with glibc's spellings of infinity
/// and NaN.
pub(super) fn format_g(x: f64, precision: usize) -> String {
    if x.is_nan() {
        return if x.is_sign_negative() { "-nan" } else { "nan" }.to_string();
    }
    if x.is_infinite() {
        return if x < 0.0 { "-inf" } else { "inf" }.to_string();
    }
    let p = precision.max(1);
    // Rust rounds the exact binary value to `p` digits, half to even, as glibc does; `{:e}`
    // gives those digits and the exponent of the rounded value, which is what %g decides by.
    let sci = format!("{:.*e}", p - 1, x);
    let (mantissa, exp) = sci.split_once('e').expect("{:e} output has an exponent");
    let exp: i32 = exp.parse().expect("{:e} output has a decimal exponent");
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    let mut out = String::with_capacity(24);
    if x.is_sign_negative() {
        out.push('-');
    }
    let trimmed = |d: &[u8]| -> String {
        let end = d.iter().rposition(|&c| c != b'0').map_or(0, |i| i + 1);
        String::from_utf8_lossy(&d[..end]).into_owned()
    };
    if exp < -4 || exp >= p as i32 {
        out.push(char::from(digits[0]));
        let frac = trimmed(&digits[1..]);
        if !frac.is_empty() {
            out.push('.');
            out.push_str(&frac);
        }
        let _ = write!(
            out,
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.unsigned_abs()
        );
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        out.push_str(&String::from_utf8_lossy(&digits[..int_len]));
        let frac = trimmed(&digits[int_len..]);
        if !frac.is_empty() {
            out.push('.');
            out.push_str(&frac);
        }
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
        out.push_str(&trimmed(&digits));
    }
    out
}

/// C's `isspace` in the C locale.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// glibc's `strtod` on the start of `s`: the value and how many bytes it read, `None` when it
/// reads nothing. Reads what glibc reads: leading white space, a sign, then a decimal number
/// with optional exponent, a hexadecimal one (`0x1.8p3`), `inf`/`infinity` or `nan`/`nan(...)`,
/// any case.
pub(super) fn strtod(s: &[u8]) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut i = 0;
    while is_space(at(i)) {
        i += 1;
    }
    let negative = at(i) == b'-';
    if matches!(at(i), b'+' | b'-') {
        i += 1;
    }
    let sign = |v: f64| if negative { -v } else { v };
    let rest = &s[i.min(s.len())..];
    if starts_with_ignore_case(rest, b"inf") {
        let n = if starts_with_ignore_case(rest, b"infinity") {
            8
        } else {
            3
        };
        return Some((sign(f64::INFINITY), i + n));
    }
    if starts_with_ignore_case(rest, b"nan") {
        let mut n = 3;
        if at(i + 3) == b'(' {
            let mut j = i + 4;
            while at(j).is_ascii_alphanumeric() || at(j) == b'_' {
                j += 1;
            }
            if at(j) == b')' {
                n = j + 1 - i;
            }
        }
        return Some((sign(f64::NAN), i + n));
    }
    if at(i) == b'0' && at(i + 1) | 0x20 == b'x' {
        let digit_after_dot = at(i + 2) == b'.' && at(i + 3).is_ascii_hexdigit();
        if at(i + 2).is_ascii_hexdigit() || digit_after_dot {
            let (v, n) = hex(&s[i + 2..]);
            return Some((sign(v), i + 2 + n));
        }
        // "0x" alone: the 0 is the number.
        return Some((sign(0.0), i + 1));
    }
    let start = i;
    let mut digits = 0;
    while at(i).is_ascii_digit() {
        i += 1;
        digits += 1;
    }
    if at(i) == b'.' {
        i += 1;
        while at(i).is_ascii_digit() {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if at(i) | 0x20 == b'e' {
        let mut j = i + 1;
        if matches!(at(j), b'+' | b'-') {
            j += 1;
        }
        if at(j).is_ascii_digit() {
            while at(j).is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    // Rust's parser rounds correctly, like glibc's; it takes the same digits, dot and exponent.
    let text = std::str::from_utf8(&s[start..i]).expect("digits, dot, e and sign are ASCII");
    let v: f64 = text
        .parse()
        .expect("the text was checked to be a decimal number");
    Some((sign(v), i))
}

/// The hexadecimal significand after `0x` and its optional binary exponent: the value and the
/// bytes read.
fn hex(s: &[u8]) -> (f64, usize) {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut mantissa: u64 = 0;
    let mut exp: i64 = 0;
    let mut sticky = false;
    let mut i = 0;
    let mut seen_dot = false;
    loop {
        let c = at(i);
        if c == b'.' && !seen_dot {
            seen_dot = true;
        } else if let Some(d) = char::from(c).to_digit(16) {
            if mantissa >> 60 == 0 {
                mantissa = (mantissa << 4) | u64::from(d);
                if seen_dot {
                    exp -= 4;
                }
            } else {
                // Past 60 bits only whether anything is left matters for rounding.
                sticky |= d != 0;
                if !seen_dot {
                    exp += 4;
                }
            }
        } else {
            break;
        }
        i += 1;
    }
    if at(i) | 0x20 == b'p' {
        let mut j = i + 1;
        let negative = at(j) == b'-';
        if matches!(at(j), b'+' | b'-') {
            j += 1;
        }
        if at(j).is_ascii_digit() {
            let mut e: i64 = 0;
            while at(j).is_ascii_digit() {
                e = (e * 10 + i64::from(at(j) - b'0')).min(1 << 20);
                j += 1;
            }
            exp += if negative { -e } else { e };
            i = j;
        }
    }
    // The sticky bit sits below the 53 bits a double keeps, so the conversion rounds as if the
    // dropped digits were there (the mantissa has more than 53 bits whenever it is set).
    // Scaled in steps that stay within a double's exponent range until the last one (a
    // subnormal result may still round twice).
    let mut v = (mantissa | u64::from(sticky)) as f64;
    let mut exp = exp.clamp(-3000, 3000) as i32;
    while !(-1000..=1000).contains(&exp) {
        let step = exp.clamp(-1000, 1000);
        v *= 2f64.powi(step);
        exp -= step;
    }
    (v * 2f64.powi(exp), i)
}
