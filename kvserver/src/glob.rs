//! Redis's glob-style pattern matching, for the server's own lists (`CONFIG GET`,
//! `COMMAND LIST FILTERBY PATTERN`). Keys are matched inside kvcore.
//!
//! `*` any run of bytes, `?` one byte, `[abc]`, `[^a]`, `[a-z]` classes, `\x` a literal `x`.
//! Matching works on bytes, so a pattern never fails to compile: like Redis, a malformed class
//! (an unclosed `[`) matches as far as it goes.

/// Whether `text` matches `pattern`; `nocase` folds ASCII case as `CONFIG GET` does.
pub(crate) fn matches(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    let eq = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    // Iterative matcher with one backtrack point for the last `*`: linear in practice and
    // without recursion, so a hostile pattern cannot blow the stack.
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    while p < pattern.len() && pattern[p] == b'*' {
                        p += 1;
                    }
                    if p == pattern.len() {
                        return true;
                    }
                    star = Some((p, t));
                    continue;
                }
                b'?' => {
                    p += 1;
                    t += 1;
                    continue;
                }
                b'[' => {
                    let (hit, next) = class(pattern, p + 1, text[t], nocase);
                    if hit {
                        p = next;
                        t += 1;
                        continue;
                    }
                }
                b'\\' if p + 1 < pattern.len() => {
                    if eq(pattern[p + 1], text[t]) {
                        p += 2;
                        t += 1;
                        continue;
                    }
                }
                c => {
                    if eq(c, text[t]) {
                        p += 1;
                        t += 1;
                        continue;
                    }
                }
            }
        }
        // Mismatch: let the last `*` swallow one more byte, or fail.
        match star {
            Some((sp, st)) => {
                p = sp;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Matches `c` against the class starting at `pattern[start]` (just after `[`). Returns whether it
/// matched and the index just past the closing `]` (or the pattern's end if it is unclosed).
fn class(pattern: &[u8], start: usize, c: u8, nocase: bool) -> (bool, usize) {
    let fold = |b: u8| if nocase { b.to_ascii_lowercase() } else { b };
    let c = fold(c);
    let mut i = start;
    let negate = pattern.get(i) == Some(&b'^');
    if negate {
        i += 1;
    }
    let mut hit = false;
    while i < pattern.len() && pattern[i] != b']' {
        if pattern[i] == b'\\' && i + 1 < pattern.len() {
            hit |= fold(pattern[i + 1]) == c;
            i += 2;
        } else if i + 2 < pattern.len() && pattern[i + 1] == b'-' && pattern[i + 2] != b']' {
            let (mut lo, mut hi) = (fold(pattern[i]), fold(pattern[i + 2]));
            if lo > hi {
                std::mem::swap(&mut lo, &mut hi);
            }
            hit |= (lo..=hi).contains(&c);
            i += 3;
        } else {
            hit |= fold(pattern[i]) == c;
            i += 1;
        }
    }
    let next = if i < pattern.len() { i + 1 } else { i };
    (hit != negate, next)
}

#[cfg(test)]
mod tests {
    use super::matches;

    fn check(pattern: &str, text: &str, expected: bool) {
        assert_eq!(
            matches(pattern.as_bytes(), text.as_bytes(), false),
            expected,
            "{pattern:?} vs {text:?}"
        );
    }

    #[test]
    fn redis_glob_cases() {
        check("*", "", true);
        check("*", "anything", true);
        check("h?llo", "hello", true);
        check("h?llo", "hllo", false);
        check("h*llo", "heeeello", true);
        check("h[ae]llo", "hallo", true);
        check("h[ae]llo", "hillo", false);
        check("h[^e]llo", "hallo", true);
        check("h[^e]llo", "hello", false);
        check("h[a-b]llo", "hbllo", true);
        check("h[a-b]llo", "hcllo", false);
        check("h\\*llo", "h*llo", true);
        check("h\\*llo", "hello", false);
        check("*max*", "maxclients", true);
        check("*max*", "port", false);
        check("a*b*c", "aXbYc", true);
        check("a*b*c", "aXbY", false);
        check("", "", true);
        check("", "a", false);
    }

    #[test]
    fn nocase_folds_ascii() {
        assert!(matches(b"MAX*", b"maxclients", true));
        assert!(!matches(b"MAX*", b"maxclients", false));
        assert!(matches(b"[A-C]", b"b", true));
    }
}
