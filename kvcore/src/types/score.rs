//! Parsing and printing of scores, score ranges and lex ranges, as Redis does them.

use std::cmp::Ordering;

/// Parses a score the way Redis parses a ZADD score or a WEIGHTS value (`strtod` on the whole
/// argument): `inf`, `+inf`, `-inf` and exponents are accepted; NaN, empty input, leading or
/// trailing garbage and values that overflow to infinity or underflow to zero are rejected.
pub fn parse_score(text: &[u8]) -> Option<f64> {
    let v = parse_float_lenient(text)?;
    if v.is_nan() {
        return None;
    }
    if v.is_infinite() && !is_inf_literal(text) {
        return None; // strtod reports ERANGE for overflow; Redis refuses it
    }
    if v == 0.0 && mantissa_has_nonzero_digit(text) {
        return None; // underflow to zero, also ERANGE
    }
    Some(v)
}

/// `strtod` without range checks; used for range bounds, where Redis accepts `(1e999`.
fn parse_float_lenient(text: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(text).ok()?;
    // Rust's parser already rejects whitespace, empty input and trailing garbage.
    s.parse::<f64>().ok()
}

fn is_inf_literal(text: &[u8]) -> bool {
    let t = text
        .strip_prefix(b"+")
        .or_else(|| text.strip_prefix(b"-"))
        .unwrap_or(text);
    t.eq_ignore_ascii_case(b"inf") || t.eq_ignore_ascii_case(b"infinity")
}

fn mantissa_has_nonzero_digit(text: &[u8]) -> bool {
    text.iter()
        .take_while(|&&c| c != b'e' && c != b'E')
        .any(|&c| (b'1'..=b'9').contains(&c))
}

/// Prints a score as Redis replies with it: shortest round-trip digits, `%.17g` layout
/// (exponent form below 1e-4 and from 1e17 up), `inf`/`-inf` for infinities.
pub fn format_score(v: f64) -> String {
    let mut out = Vec::with_capacity(24);
    kvnum::push_double(&mut out, v);
    // Invariant: push_double writes only ASCII digits, signs, '.', 'e', "inf" and "nan".
    String::from_utf8(out).expect("a formatted double is ASCII")
}

/// An inclusive-or-exclusive score interval, as given to ZCOUNT / ZRANGEBYSCORE.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    pub(crate) min: f64,
    pub(crate) max: f64,
    pub(crate) min_exclusive: bool,
    pub(crate) max_exclusive: bool,
}

impl ScoreRange {
    /// Parses `min` and `max` (`(1.5`, `-inf`, `+inf`, `3`); None is "ERR min or max is not a float".
    pub fn parse(min: &[u8], max: &[u8]) -> Option<Self> {
        let (min, min_exclusive) = parse_score_bound(min)?;
        let (max, max_exclusive) = parse_score_bound(max)?;
        Some(ScoreRange {
            min,
            max,
            min_exclusive,
            max_exclusive,
        })
    }

    /// An inclusive range.
    pub fn inclusive(min: f64, max: f64) -> Self {
        ScoreRange {
            min,
            max,
            min_exclusive: false,
            max_exclusive: false,
        }
    }

    /// A range with each end inclusive or exclusive.
    pub fn new(min: f64, min_exclusive: bool, max: f64, max_exclusive: bool) -> Self {
        ScoreRange {
            min,
            max,
            min_exclusive,
            max_exclusive,
        }
    }

    /// True when no score can lie in the range.
    pub fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.min_exclusive || self.max_exclusive))
    }

    /// `v` is at or above the lower bound.
    pub fn above_min(&self, v: f64) -> bool {
        if self.min_exclusive {
            v > self.min
        } else {
            v >= self.min
        }
    }

    /// `v` is at or below the upper bound.
    pub fn below_max(&self, v: f64) -> bool {
        if self.max_exclusive {
            v < self.max
        } else {
            v <= self.max
        }
    }

    /// `v` lies in the range.
    pub fn contains(&self, v: f64) -> bool {
        self.above_min(v) && self.below_max(v)
    }
}

fn parse_score_bound(text: &[u8]) -> Option<(f64, bool)> {
    let (text, exclusive) = match text.strip_prefix(b"(") {
        Some(rest) => (rest, true),
        None => (text, false),
    };
    let v = parse_float_lenient(text)?;
    if v.is_nan() {
        None
    } else {
        Some((v, exclusive))
    }
}

/// One end of a ZRANGEBYLEX interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LexBound<'a> {
    /// `-`: below every member.
    Min,
    /// `+`: above every member.
    Max,
    /// `[member`
    Inclusive(&'a [u8]),
    /// `(member`
    Exclusive(&'a [u8]),
}

impl<'a> LexBound<'a> {
    /// Parses `-`, `+`, `[x` or `(x`; None is "ERR min or max not valid string range item".
    pub fn parse(text: &'a [u8]) -> Option<Self> {
        match text.split_first()? {
            (b'-', []) => Some(LexBound::Min),
            (b'+', []) => Some(LexBound::Max),
            (b'[', rest) => Some(LexBound::Inclusive(rest)),
            (b'(', rest) => Some(LexBound::Exclusive(rest)),
            _ => None,
        }
    }

    fn exclusive(&self) -> bool {
        matches!(self, LexBound::Exclusive(_))
    }

    fn cmp_bound(&self, other: &LexBound<'_>) -> Ordering {
        use LexBound::*;
        match (self, other) {
            (Min, Min) | (Max, Max) => Ordering::Equal,
            (Min, _) | (_, Max) => Ordering::Less,
            (Max, _) | (_, Min) => Ordering::Greater,
            (Inclusive(a) | Exclusive(a), Inclusive(b) | Exclusive(b)) => a.cmp(b),
        }
    }
}

/// A ZRANGEBYLEX interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LexRange<'a> {
    pub(crate) min: LexBound<'a>,
    pub(crate) max: LexBound<'a>,
}

impl<'a> LexRange<'a> {
    /// A range from two bounds.
    pub fn new(min: LexBound<'a>, max: LexBound<'a>) -> Self {
        LexRange { min, max }
    }

    /// Parses both bounds; None is "ERR min or max not valid string range item".
    pub fn parse(min: &'a [u8], max: &'a [u8]) -> Option<Self> {
        Some(LexRange {
            min: LexBound::parse(min)?,
            max: LexBound::parse(max)?,
        })
    }

    /// True when no member can lie in the range.
    pub fn is_empty(&self) -> bool {
        match self.min.cmp_bound(&self.max) {
            Ordering::Greater => true,
            Ordering::Equal => self.min.exclusive() || self.max.exclusive(),
            Ordering::Less => false,
        }
    }

    /// `m` is at or above the lower bound.
    pub fn above_min(&self, m: &[u8]) -> bool {
        match self.min {
            LexBound::Min => true,
            LexBound::Max => false,
            LexBound::Inclusive(b) => m >= b,
            LexBound::Exclusive(b) => m > b,
        }
    }

    /// `m` is at or below the upper bound.
    pub fn below_max(&self, m: &[u8]) -> bool {
        match self.max {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Inclusive(b) => m <= b,
            LexBound::Exclusive(b) => m < b,
        }
    }

    /// `m` lies in the range.
    pub fn contains(&self, m: &[u8]) -> bool {
        self.above_min(m) && self.below_max(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_score_table() {
        let cases: &[(&str, Option<f64>)] = &[
            ("1", Some(1.0)),
            ("-1.5", Some(-1.5)),
            ("+2", Some(2.0)),
            (".5", Some(0.5)),
            ("1e3", Some(1000.0)),
            ("inf", Some(f64::INFINITY)),
            ("+inf", Some(f64::INFINITY)),
            ("-inf", Some(f64::NEG_INFINITY)),
            ("-Infinity", Some(f64::NEG_INFINITY)),
            ("0", Some(0.0)),
            ("0e5", Some(0.0)),
            ("nan", None),
            ("-nan", None),
            ("", None),
            (" 1", None),
            ("1 ", None),
            ("1x", None),
            ("1e400", None),
            ("1e-400", None),
            ("abc", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_score(text.as_bytes()), *want, "{text:?}");
        }
    }

    #[test]
    fn format_score_round_trips() {
        for v in [
            0.1,
            1.0 / 3.0,
            12345.678,
            -9.87e-12,
            6.02e23,
            f64::MAX,
            f64::MIN_POSITIVE,
        ] {
            let s = format_score(v);
            assert_eq!(parse_score(s.as_bytes()), Some(v), "{s}");
        }
    }

    #[test]
    fn score_range_table() {
        let r = ScoreRange::parse(b"(1", b"3").unwrap();
        assert!(!r.contains(1.0));
        assert!(r.contains(1.5));
        assert!(r.contains(3.0));
        let r = ScoreRange::parse(b"-inf", b"+inf").unwrap();
        assert!(r.contains(f64::NEG_INFINITY) && r.contains(f64::INFINITY));
        assert!(ScoreRange::parse(b"(1e999", b"inf").is_some());
        assert!(ScoreRange::parse(b"nan", b"1").is_none());
        assert!(ScoreRange::parse(b"(", b"1").is_none());
        assert!(ScoreRange::parse(b"x", b"1").is_none());
        assert!(ScoreRange::parse(b"2", b"1").unwrap().is_empty());
        assert!(ScoreRange::parse(b"(1", b"1").unwrap().is_empty());
        assert!(!ScoreRange::parse(b"1", b"1").unwrap().is_empty());
    }

    #[test]
    fn lex_range_table() {
        assert!(LexRange::parse(b"a", b"b").is_none());
        assert!(LexRange::parse(b"", b"+").is_none());
        assert!(LexRange::parse(b"--", b"+").is_none());
        let r = LexRange::parse(b"[b", b"(d").unwrap();
        assert!(!r.contains(b"a") && r.contains(b"b") && r.contains(b"c") && !r.contains(b"d"));
        let all = LexRange::parse(b"-", b"+").unwrap();
        assert!(all.contains(b"") && all.contains(b"\xff") && !all.is_empty());
        assert!(LexRange::parse(b"+", b"-").unwrap().is_empty());
        assert!(LexRange::parse(b"[b", b"[a").unwrap().is_empty());
        assert!(LexRange::parse(b"(a", b"[a").unwrap().is_empty());
        assert!(!LexRange::parse(b"[a", b"[a").unwrap().is_empty());
        assert!(LexRange::parse(b"[a", b"-").unwrap().is_empty());
        // "[" alone is the empty string, inclusive.
        assert!(LexRange::parse(b"[", b"[").unwrap().contains(b""));
    }
}
