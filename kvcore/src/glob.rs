//! Redis glob patterns (KEYS, SCAN MATCH) on binary keys, matched with globset.
//!
//! Redis's syntax: `*` any run of bytes, `?` one byte, `[abc]` / `[^abc]` / `[a-c]` classes (a
//! reversed range `[c-a]` is the same range), `\x` the byte `x` (also inside classes; a
//! trailing `\` is itself), an unclosed `[` class runs to the end of the pattern, and `{`, `}`,
//! `/` and `,` are ordinary bytes. A range compares bytes as Redis does, as signed C `char`s:
//! `[a-\xff]` is -1..=97, so it holds 0x00..=0x61 and 0xff. Redis's matcher never matches an
//! empty subject against a non-empty pattern; only `*` itself, which KEYS and SCAN treat as
//! "everything" before matching, takes the empty key. globset speaks a different dialect (alternations,
//! `**`, `[!..]`, literal `\` in classes, errors on unclosed classes), so the Redis pattern is
//! parsed here into tokens and re-emitted in globset's syntax: runs of `*` collapse to one
//! (never a `**`), literals are escaped, classes are re-emitted member by member.
//!
//! globset matches the bytes of a key (`Candidate::from_bytes`, with `(?-u)` regexes), but its
//! patterns are `str`: a pattern with a non-UTF-8 literal or a non-ASCII class member has no
//! globset spelling, and is matched by the small token matcher below instead (a test checks
//! that both agree).

use globset::{Candidate, GlobBuilder, GlobMatcher};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(u8),
    Any,
    Star,
    /// A class: the set of bytes it names (256 bits) and whether it is negated.
    Class {
        negated: bool,
        set: [u64; 4],
    },
}

fn set_has(set: &[u64; 4], b: u8) -> bool {
    set[(b >> 6) as usize] & (1 << (b & 63)) != 0
}

fn set_add(set: &mut [u64; 4], b: u8) {
    set[(b >> 6) as usize] |= 1 << (b & 63);
}

/// Parses a Redis pattern exactly as Redis's `stringmatchlen` reads it.
fn parse(p: &[u8]) -> Vec<Token> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            b'*' => {
                if out.last() != Some(&Token::Star) {
                    out.push(Token::Star);
                }
            }
            b'?' => out.push(Token::Any),
            b'\\' if i + 1 < p.len() => {
                i += 1;
                out.push(Token::Literal(p[i]));
            }
            b'[' => {
                i += 1;
                let negated = p.get(i) == Some(&b'^');
                if negated {
                    i += 1;
                }
                let mut set = [0u64; 4];
                loop {
                    if i >= p.len() {
                        // Unclosed: the class ends with the pattern.
                        break;
                    }
                    if p[i] == b'\\' && i + 1 < p.len() {
                        i += 1;
                        set_add(&mut set, p[i]);
                    } else if p[i] == b']' {
                        break;
                    } else if i + 2 < p.len() && p[i + 1] == b'-' {
                        // Signed, as Redis's `int start = pattern[0]` of a `char`.
                        let (a, b) = (p[i] as i8, p[i + 2] as i8);
                        for c in a.min(b)..=a.max(b) {
                            set_add(&mut set, c as u8);
                        }
                        i += 2;
                    } else {
                        set_add(&mut set, p[i]);
                    }
                    i += 1;
                }
                out.push(Token::Class { negated, set });
            }
            b => out.push(Token::Literal(b)),
        }
        i += 1;
    }
    out
}

/// How a token list is written for globset.
enum Spelling {
    Glob(String),
    /// The pattern contains a class naming no byte: it matches nothing.
    Never,
    /// No globset spelling (see the module docs).
    Unrepresentable,
}

/// The globset spelling of `tokens`.
fn to_globset(tokens: &[Token]) -> Spelling {
    match spell(tokens) {
        Ok(s) => Spelling::Glob(s),
        Err(never) => never,
    }
}

fn spell(tokens: &[Token]) -> Result<String, Spelling> {
    let mut s = String::new();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Star => s.push('*'),
            Token::Any => s.push('?'),
            Token::Literal(b) if b.is_ascii() => {
                if !b.is_ascii_alphanumeric() {
                    s.push('\\');
                }
                s.push(*b as char);
            }
            Token::Literal(_) => {
                // A run of non-ASCII literals must be whole UTF-8 characters.
                let start = i;
                while i < tokens.len() && matches!(tokens[i], Token::Literal(b) if !b.is_ascii()) {
                    i += 1;
                }
                let bytes: Vec<u8> = tokens[start..i]
                    .iter()
                    .map(|t| match t {
                        Token::Literal(b) => *b,
                        _ => unreachable!("the run holds literals only"),
                    })
                    .collect();
                let text = std::str::from_utf8(&bytes).map_err(|_| Spelling::Unrepresentable)?;
                s.push_str(text);
                continue;
            }
            Token::Class { negated, set } => {
                if (128..=255).any(|b| set_has(set, b)) {
                    return Err(Spelling::Unrepresentable);
                }
                let members: Vec<u8> = (0..128u8).filter(|&b| set_has(set, b)).collect();
                match (members.is_empty(), negated) {
                    (true, true) => s.push('?'),
                    (true, false) => return Err(Spelling::Never),
                    _ => push_class(&mut s, *negated, &members),
                }
            }
        }
        i += 1;
    }
    Ok(s)
}

/// Writes a globset class: `]` first, `-` last, never `!`/`^` first unless negated already,
/// never `[:` (POSIX), since globset reads those specially.
fn push_class(s: &mut String, negated: bool, members: &[u8]) {
    let is_bang = |b: &u8| *b == b'!' || *b == b'^';
    if !negated
        && !members.contains(&b']')
        && !members.contains(&b'-')
        && members.iter().all(is_bang)
    {
        // Only `!`/`^`: any first member would read as a negation, so spell it otherwise.
        match members {
            [b] => {
                s.push('\\');
                s.push(*b as char);
            }
            _ => s.push_str("{\\!,\\^}"),
        }
        return;
    }
    s.push('[');
    if negated {
        s.push('!');
    }
    let mut rest: Vec<u8> = members
        .iter()
        .copied()
        .filter(|&b| b != b']' && b != b'-')
        .collect();
    let mut dash_done = false;
    if members.contains(&b']') {
        s.push(']');
    } else if negated {
        // The negation is consumed: any first member is ordinary.
    } else if let Some(pos) = rest.iter().position(|b| !is_bang(b)) {
        let first = rest.remove(pos);
        s.push(first as char);
    } else {
        // Only `!`/`^` and `-`: a leading `-` is literal.
        s.push('-');
        dash_done = true;
    }
    for &b in &rest {
        s.push(b as char);
    }
    if members.contains(&b'-') && !dash_done {
        s.push('-');
    }
    s.push(']');
}

/// Matches `key` against `tokens` directly (backtracking to the last `*`).
fn token_match(tokens: &[Token], key: &[u8]) -> bool {
    let (mut t, mut k) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while k < key.len() {
        let step = match tokens.get(t) {
            Some(Token::Star) => {
                star = Some((t, k));
                t += 1;
                continue;
            }
            Some(Token::Any) => true,
            Some(Token::Literal(b)) => *b == key[k],
            Some(Token::Class { negated, set }) => set_has(set, key[k]) != *negated,
            None => false,
        };
        if step {
            t += 1;
            k += 1;
        } else if let Some((st, sk)) = star {
            t = st + 1;
            k = sk + 1;
            star = Some((st, sk + 1));
        } else {
            return false;
        }
    }
    tokens[t..].iter().all(|tok| *tok == Token::Star)
}

/// A compiled Redis glob pattern (the syntax of KEYS, SCAN MATCH, PSUBSCRIBE, CONFIG GET).
///
/// ```
/// use kvcore::Pattern;
/// let p = Pattern::new(b"user:[0-9]*");
/// assert!(p.matches(b"user:42"));
/// assert!(!p.matches(b"user:x"));
/// ```
#[derive(Debug, Clone)]
pub struct Pattern {
    matcher: Matcher,
    /// Whether the empty subject matches: only for `*` and the empty pattern (see the module
    /// docs).
    empty_matches: bool,
}

impl Pattern {
    /// Compiles `pattern` (bytes, Redis syntax; every input is a valid pattern).
    pub fn new(pattern: impl AsRef<[u8]>) -> Pattern {
        let pattern = pattern.as_ref();
        Pattern {
            matcher: Matcher::new(pattern),
            empty_matches: pattern.is_empty() || pattern == b"*",
        }
    }

    /// Whether `subject` (bytes) matches.
    pub fn matches(&self, subject: impl AsRef<[u8]>) -> bool {
        let subject = subject.as_ref();
        if subject.is_empty() {
            return self.empty_matches;
        }
        self.matcher.matches(subject)
    }
}

#[derive(Debug, Clone)]
enum Matcher {
    /// `*`: everything.
    All,
    /// A class that names no byte: nothing.
    Never,
    Glob(GlobMatcher),
    Tokens(Vec<Token>),
}

impl Matcher {
    fn new(pattern: &[u8]) -> Matcher {
        let tokens = parse(pattern);
        if tokens == [Token::Star] {
            return Matcher::All;
        }
        match to_globset(&tokens) {
            Spelling::Never => Matcher::Never,
            Spelling::Glob(s) => GlobBuilder::new(&s)
                .literal_separator(false)
                .backslash_escape(true)
                .build()
                .map(|g| Matcher::Glob(g.compile_matcher()))
                // The spelling is built to be valid; should globset still refuse it, the token
                // matcher has the same semantics.
                .unwrap_or(Matcher::Tokens(tokens)),
            Spelling::Unrepresentable => Matcher::Tokens(tokens),
        }
    }

    fn matches(&self, key: &[u8]) -> bool {
        match self {
            Matcher::All => true,
            Matcher::Never => false,
            Matcher::Glob(m) => m.is_match_candidate(&Candidate::from_bytes(key)),
            Matcher::Tokens(t) => token_match(t, key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pattern: &[u8], key: &[u8], expected: bool) {
        let p = Pattern::new(pattern);
        assert_eq!(
            p.matches(key),
            expected,
            "pattern {:?} key {:?}",
            pattern.escape_ascii().to_string(),
            key.escape_ascii().to_string()
        );
        // The token matcher is the reference for Redis's semantics (the empty subject is
        // decided before any matcher runs).
        if !key.is_empty() {
            assert_eq!(
                token_match(&parse(pattern), key),
                expected,
                "token matcher on {pattern:?}"
            );
        }
    }

    #[test]
    fn redis_glob_table() {
        let t = true;
        let f = false;
        let cases: &[(&[u8], &[u8], bool)] = &[
            (b"*", b"", t),
            (b"*", b"anything/at:all", t),
            (b"h?llo", b"hello", t),
            (b"h?llo", b"hllo", f),
            (b"h*llo", b"hllo", t),
            (b"h*llo", b"heeeello", t),
            (b"h[ae]llo", b"hallo", t),
            (b"h[ae]llo", b"hillo", f),
            (b"h[^e]llo", b"hallo", t),
            (b"h[^e]llo", b"hello", f),
            (b"h[a-b]llo", b"hbllo", t),
            (b"h[a-b]llo", b"hcllo", f),
            (b"h[b-a]llo", b"hallo", t),
            (b"h\\*llo", b"h*llo", t),
            (b"h\\*llo", b"hello", f),
            (b"a\\", b"a\\", t),
            (b"user:{1}", b"user:{1}", t),
            (b"{a,b}", b"a", f),
            (b"{a,b}", b"{a,b}", t),
            (b"a/*", b"a/b/c", t),
            (b"**/x", b"x", f),
            (b"**/x", b"a/b/x", t),
            (b"*a*", b"bab", t),
            (b"*a*b", b"aaab", t),
            (b"*a*b", b"aaa", f),
            (b"[]]", b"]", f),
            (b"[\\]]", b"]", t),
            // Redis reads `a-]` as a range (`]`..`a`) and the class then runs on unclosed.
            (b"[a-]x", b"_", t),
            (b"[a-]x", b"x", t),
            (b"[a-]x", b"b", f),
            (b"[a-]x", b"ax", f),
            (b"[!]", b"!", t),
            (b"[!]", b"a", f),
            (b"[^]", b"q", t),
            (b"[-]", b"-", t),
            // No POSIX classes in Redis: `[[:alpha:]` is a class, then a literal `]`.
            (b"[[:alpha:]]", b"a]", t),
            (b"[[:alpha:]]", b"[]", t),
            (b"[[:alpha:]]", b"a", f),
            (b"[[:alpha:]]", b"b]", f),
            (b"[abc", b"b", t),
            (b"[abc", b"d", f),
            (b"?", b"\xff", t),
            (b"\xff*", b"\xff\x00", t),
            (b"\xe9t\xe9", b"\xe9t\xe9", t),
            (b"[\xe9]", b"\xe9", t),
            (b"[^\xe9]", b"\xe9", f),
            (b"caf\xc3\xa9*", b"caf\xc3\xa9s", t),
            (b"a\x00b", b"a\x00b", t),
            (b"", b"", t),
            (b"", b"a", f),
            (b"[]", b"a", f),
            // Found by tools/difffuzz_strings.py against redis-server 7.0.15: only `*` (and
            // the empty pattern) take the empty key; ranges compare signed chars.
            (b"**", b"", f),
            (b"*?", b"", f),
            (b"[^a]*", b"", f),
            (b"[\x00-\xc3]*", b"k", f),
            (b"[\x00-\xc3]", b"\xc4", t),
            (b"[\x00-\xc3]", b"\x00", t),
            (b"[a-\xff]", b"a", t),
            (b"[a-\xff]", b"\x01", t),
            (b"[a-\xff]", b"b", f),
            (b"[a-\xff]", b"\xff", t),
            (b"[a-\xff]", b"\xfe", f),
        ];
        for &(p, k, e) in cases {
            check(p, k, e);
        }
    }

    #[test]
    fn globset_is_used_for_representable_patterns() {
        let matcher = |p: &[u8]| Pattern::new(p).matcher;
        assert!(matches!(matcher(b"user:*:[0-9]"), Matcher::Glob(_)));
        assert!(matches!(matcher(b"caf\xc3\xa9*"), Matcher::Glob(_)));
        assert!(matches!(matcher(b"\xff*"), Matcher::Tokens(_)));
        assert!(matches!(matcher(b"**"), Matcher::All));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// globset, configured as above, agrees with the direct token matcher.
        #[test]
        fn globset_agrees_with_tokens(
            pattern in proptest::collection::vec(
                proptest::sample::select(b"ab-^]![:\\*?{},/".to_vec()), 0..8),
            key in proptest::collection::vec(
                proptest::sample::select(b"ab-^]![:\\{},/".to_vec()), 0..8),
        ) {
            // The empty subject never reaches a matcher (see Pattern::matches).
            proptest::prop_assume!(!key.is_empty());
            let p = Pattern::new(&pattern);
            proptest::prop_assert_eq!(p.matches(&key), token_match(&parse(&pattern), &key));
        }
    }
}
