//! Inline commands (`SET k "a b"\r\n`), split with the rules of Redis's `sdssplitargs`.

use std::borrow::Cow;

/// C's `isspace` in the "C" locale: the blanks skipped between arguments.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Splits one inline line (without its line terminator) into arguments.
///
/// Returns `None` for unbalanced quotes. The rules are Redis's `sdssplitargs`:
/// - arguments are separated by blanks (`isspace`); unquoted, an argument ends at a space, tab,
///   CR or LF (so `\v` and `\f` inside an argument are kept, as in Redis);
/// - `"..."` understands `\n \r \t \b \a \xHH` and `\<any>` for that byte;
/// - `'...'` understands only `\'`;
/// - a quote may open in the middle of an argument (`a"b c"` is `ab c`), and a closing quote must be
///   followed by a blank or the end of the line;
/// - a NUL byte ends the line, because Redis parses it as a C string.
///
/// Unquoted arguments borrow from `line`; quoted ones are unescaped into owned bytes.
pub fn split_args(line: &[u8]) -> Option<Vec<Cow<'_, [u8]>>> {
    let line = match line.iter().position(|&b| b == 0) {
        Some(nul) => &line[..nul],
        None => line,
    };
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && is_c_space(line[i]) {
            i += 1;
        }
        if i == line.len() {
            return Some(args);
        }
        let start = i;
        loop {
            match line.get(i) {
                None => {
                    args.push(Cow::Borrowed(&line[start..i]));
                    break;
                }
                Some(b' ' | b'\n' | b'\r' | b'\t') => {
                    args.push(Cow::Borrowed(&line[start..i]));
                    i += 1;
                    break;
                }
                Some(&q @ (b'"' | b'\'')) => {
                    let mut owned = line[start..i].to_vec();
                    i = if q == b'"' {
                        double_quoted(line, i + 1, &mut owned)?
                    } else {
                        single_quoted(line, i + 1, &mut owned)?
                    };
                    args.push(Cow::Owned(owned));
                    break;
                }
                Some(_) => i += 1,
            }
        }
    }
}

/// The closing quote at `i` must be followed by a blank or the end; returns the index after it.
fn close_quote(line: &[u8], i: usize) -> Option<usize> {
    match line.get(i + 1) {
        Some(&b) if !is_c_space(b) => None,
        _ => Some(i + 1),
    }
}

fn double_quoted(line: &[u8], mut i: usize, out: &mut Vec<u8>) -> Option<usize> {
    loop {
        match *line.get(i)? {
            b'\\' if line.get(i + 1) == Some(&b'x') => {
                let hi = line.get(i + 2).copied().and_then(hex_value);
                let lo = line.get(i + 3).copied().and_then(hex_value);
                if let (Some(hi), Some(lo)) = (hi, lo) {
                    out.push(hi * 16 + lo);
                    i += 4;
                } else {
                    // Not a valid \xHH: Redis keeps the escaped byte itself ('x').
                    out.push(b'x');
                    i += 2;
                }
            }
            b'\\' if i + 1 < line.len() => {
                out.push(match line[i + 1] {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'b' => 0x08,
                    b'a' => 0x07,
                    other => other,
                });
                i += 2;
            }
            b'"' => return close_quote(line, i),
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
}

fn single_quoted(line: &[u8], mut i: usize, out: &mut Vec<u8>) -> Option<usize> {
    loop {
        match *line.get(i)? {
            b'\\' if line.get(i + 1) == Some(&b'\'') => {
                out.push(b'\'');
                i += 2;
            }
            b'\'' => return close_quote(line, i),
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &[u8], expected: Option<&[&[u8]]>) {
        let got = split_args(input);
        let got: Option<Vec<&[u8]>> = got.as_ref().map(|v| v.iter().map(|c| c.as_ref()).collect());
        assert_eq!(
            got.as_deref(),
            expected,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }

    #[test]
    fn splitting() {
        check(b"", Some(&[]));
        check(b"   \t ", Some(&[]));
        check(b"PING", Some(&[b"PING"]));
        check(b"  SET  k   v  ", Some(&[b"SET", b"k", b"v"]));
        check(
            b"SET k \"hello world\"",
            Some(&[b"SET", b"k", b"hello world"]),
        );
        check(b"a\"b c\"", Some(&[b"ab c"]));
        check(b"\"\"", Some(&[b""]));
        check(b"''", Some(&[b""]));
        check(
            b"\"\\n\\r\\t\\b\\a\\\\\\\"\\q\"",
            Some(&[b"\n\r\t\x08\x07\\\"q"]),
        );
        check(b"\"\\x41\\x7a\\xff\"", Some(&[b"Az\xff"]));
        check(b"\"\\x4\"", Some(&[b"x4"]));
        check(b"\"\\xZZ\"", Some(&[b"xZZ"]));
        check(b"'it\\'s' 'a\\nb'", Some(&[b"it's", b"a\\nb"]));
        check(b"\"a\"\x0bb", Some(&[b"a", b"b"]));
        check(b"a\x0bb", Some(&[b"a\x0bb"]));
        check(b"a\rb", Some(&[b"a", b"b"]));
        check(b"a\0b c", Some(&[b"a"]));
    }

    #[test]
    fn unbalanced() {
        check(b"\"abc", None);
        check(b"'abc", None);
        check(b"\"abc\"def", None);
        check(b"'abc'def", None);
        check(b"\"abc\\\"", None);
        check(b"\"a\0\"", None);
        check(b"\"a\\", None);
    }
}
