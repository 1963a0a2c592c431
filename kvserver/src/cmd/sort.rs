//! SORT and SORT_RO: the elements of a list, set or sorted set, sorted numerically or
//! alphabetically, by themselves or by other keys (`BY weight_*`, `BY h_*->field`), with
//! `LIMIT`, `GET` patterns and `STORE`, as Redis 7.0 does them (cluster-less, so BY and GET
//! patterns are allowed).
//!
//! BY and GET patterns make SORT read keys its arguments do not name, so it runs in an open
//! kvcore transaction (`Scope::Open`, as a script does) that locks each such key's shard when
//! it first reaches it: the sort sees one state of every key it reads, and a STORE lands in
//! the same step. Inside EXEC or a script it runs in theirs.

use std::cmp::Ordering;

use kvcore::{Db, HashStore, ListStore, Scope, SetStore, Store, ZRange, ZRangeBy, ZSetStore};
use kvproto::Request;

use super::ctx::{CmdResult, Ctx, int_arg, is};
use super::error::{CmdError, SYNTAX};
use super::spec::{Begin, Begin::Index, Find, Find::Range, Group, a, ks};
use super::table::Command;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("sort", -2, "write denyoom", sort)
        .acl("@set @sortedset @list @dangerous").keys(&[ks("RO access", Index(1), Range(0, 1, 0)), ks("RO access", Begin::Unknown, Find::Unknown).notes("For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort"), ks("OW update", Begin::Unknown, Find::Unknown).notes("For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array")])
        .doc(Group::Generic, "1.0.0", "Sort the elements in a list, set or sorted set")
        .complexity("O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).")
        .args(&[
            a("key", "key").key(0),
            a("pattern", "pattern").key(1).token("BY").flags("optional"),
            a("offset_count", "block").token("LIMIT").flags("optional").args(&[
                a("offset", "integer"),
                a("count", "integer"),
            ]),
            a("pattern", "pattern").key(1).token("GET").flags("optional multiple multiple_token"),
            a("order", "oneof").flags("optional").args(&[
                a("asc", "pure-token").token("ASC"),
                a("desc", "pure-token").token("DESC"),
            ]),
            a("sorting", "pure-token").token("ALPHA").flags("optional"),
            a("destination", "key").key(2).token("STORE").flags("optional"),
        ]),
    Command::new("sort_ro", -2, "readonly", sort_ro)
        .acl("@set @sortedset @list @dangerous").keys(&[ks("RO access", Index(1), Range(0, 1, 0)), ks("RO access", Begin::Unknown, Find::Unknown).notes("For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort")])
        .doc(Group::Generic, "7.0.0", "Sort the elements in a list, set or sorted set. Read-only variant of SORT.")
        .complexity("O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).")
        .args(&[
            a("key", "key").key(0),
            a("pattern", "pattern").key(1).token("BY").flags("optional"),
            a("offset_count", "block").token("LIMIT").flags("optional").args(&[
                a("offset", "integer"),
                a("count", "integer"),
            ]),
            a("pattern", "pattern").key(1).token("GET").flags("optional multiple multiple_token"),
            a("order", "oneof").flags("optional").args(&[
                a("asc", "pure-token").token("ASC"),
                a("desc", "pure-token").token("DESC"),
            ]),
            a("sorting", "pure-token").token("ALPHA").flags("optional"),
        ]),
];

/// A parsed SORT.
struct Options<'r> {
    desc: bool,
    alpha: bool,
    offset: i64,
    count: i64,
    by: Option<&'r [u8]>,
    gets: Vec<&'r [u8]>,
    store: Option<&'r [u8]>,
}

impl Options<'_> {
    /// `BY` with a constant pattern: nothing to sort by.
    fn dont_sort(&self) -> bool {
        self.by.is_some_and(|p| !p.contains(&b'*'))
    }

    /// Whether the sort reads keys named by patterns (BY with `*`, GET other than `#`).
    fn reads_patterns(&self) -> bool {
        self.by.is_some_and(|p| p.contains(&b'*')) || self.gets.iter().any(|g| g.contains(&b'*'))
    }
}

/// Parses SORT's options; `full_access`: the user may read every key, which BY with a pattern
/// and GET need (Redis refuses them otherwise).
fn parse<'r>(
    req: &'r Request<'_>,
    readonly: bool,
    full_access: bool,
) -> Result<Options<'r>, CmdError> {
    let mut o = Options {
        desc: false,
        alpha: false,
        offset: 0,
        count: -1,
        by: None,
        gets: Vec::new(),
        store: None,
    };
    let mut j = 2;
    while j < req.len() {
        let left = req.len() - j - 1;
        let arg = req.arg(j);
        if is(arg, "asc") {
            o.desc = false;
        } else if is(arg, "desc") {
            o.desc = true;
        } else if is(arg, "alpha") {
            o.alpha = true;
        } else if is(arg, "limit") && left >= 2 {
            o.offset = int_arg(req.arg(j + 1))?;
            o.count = int_arg(req.arg(j + 2))?;
            j += 2;
        } else if !readonly && is(arg, "store") && left >= 1 {
            o.store = Some(req.arg(j + 1));
            j += 1;
        } else if is(arg, "by") && left >= 1 {
            o.by = Some(req.arg(j + 1));
            if !full_access && req.arg(j + 1).contains(&b'*') {
                return Err(CmdError::Msg(
                    "ERR BY option of SORT denied due to insufficient ACL permissions.",
                ));
            }
            j += 1;
        } else if is(arg, "get") && left >= 1 {
            if !full_access {
                return Err(CmdError::Msg(
                    "ERR GET option of SORT denied due to insufficient ACL permissions.",
                ));
            }
            o.gets.push(req.arg(j + 1));
            j += 1;
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    Ok(o)
}

/// The key arguments of a SORT (Redis's `sortGetKeys`): the sorted key, and the last STORE
/// key, found by skipping the arguments of LIMIT, GET and BY. SORT_RO's is only the sorted
/// key (`sortROGetKeys`): a STORE there is a syntax error, not a key.
pub(super) fn keys(args: &[&[u8]]) -> Vec<usize> {
    let mut keys = vec![1];
    if !is(args[0], "sort_ro") {
        keys.extend(store_key(args.len(), |i| args[i]));
    }
    keys
}

/// The position of SORT's STORE destination in a request of `argc` arguments (`arg(i)` is
/// argument `i`): the last STORE's, skipping LIMIT's, BY's and GET's arguments, as Redis's
/// `sortGetKeys` finds it. The source key is always argument 1.
pub(crate) fn store_key<'a>(argc: usize, arg: impl Fn(usize) -> &'a [u8]) -> Option<usize> {
    let mut store = None;
    let mut i = 2;
    while i < argc {
        let a = arg(i);
        if is(a, "limit") {
            i += 2;
        } else if is(a, "get") || is(a, "by") {
            i += 1;
        } else if is(a, "store") && i + 1 < argc {
            store = Some(i + 1);
        }
        i += 1;
    }
    store
}

/// Whether a SORT with these arguments (the command name first) reads keys through BY or
/// GET patterns, so that a transaction running it must be able to reach any key.
pub(super) fn reads_patterns(args: &[&[u8]]) -> bool {
    args.iter().skip(2).any(|a| is(a, "by") || is(a, "get"))
}

/// The bytes C's string functions see: up to the first NUL.
fn c_str(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |n| &b[..n])
}

/// Redis's `lookupKeyByPattern`: `#` is the element itself; otherwise the first `*` is
/// replaced by the element and the key read as a string, or, with `->field` after the `*`,
/// as a hash field. None for a pattern without `*`, a missing key or field, or a key of
/// another type.
fn lookup(db: &Db, pattern: &[u8], element: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(element.to_vec());
    }
    let star = pattern.iter().position(|&c| c == b'*')?;
    let rest = &pattern[star + 1..];
    let (post, field) = match rest.windows(2).position(|w| w == b"->") {
        Some(i) if i + 2 < rest.len() => (&rest[..i], Some(&rest[i + 2..])),
        _ => (rest, None),
    };
    let key = [&pattern[..star], element, post].concat();
    match field {
        Some(f) => db.hget(&key, f).ok().flatten(),
        None => db.get(&key).ok().flatten(),
    }
}

/// C's `isspace`.
fn c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// A sort weight as SORT reads it: `strtod` over the text up to its first NUL, which must
/// consume all of it (leading whitespace allowed; an empty text is 0); NaN, overflow and
/// underflow are refused.
fn weight(text: &[u8]) -> Option<f64> {
    let text = c_str(text);
    if text.is_empty() {
        return Some(0.0);
    }
    let s = &text[text.iter().position(|&c| !c_space(c))?..];
    let (neg, body) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let v = if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
        f64::INFINITY
    } else if body.len() > 2 && body[0] == b'0' && (body[1] | 0x20) == b'x' {
        hex(&body[2..])?
    } else {
        decimal(body)?
    };
    Some(if neg { -v } else { v })
}

/// An unsigned decimal float: digits, an optional fraction, an optional exponent, all of it.
fn decimal(b: &[u8]) -> Option<f64> {
    let digits = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let int = digits(0);
    let mut i = int;
    let mut frac = 0;
    if b.get(i) == Some(&b'.') {
        frac = digits(i + 1);
        i += 1 + frac;
    }
    if int + frac == 0 {
        return None;
    }
    let mut exp = "0";
    if i < b.len() && (b[i] | 0x20) == b'e' {
        let sign = usize::from(matches!(b.get(i + 1), Some(b'+' | b'-')));
        let n = digits(i + 1 + sign);
        if n == 0 {
            return None;
        }
        exp = std::str::from_utf8(&b[i + 1..i + 1 + sign + n]).ok()?;
        i += 1 + sign + n;
    }
    if i != b.len() {
        return None;
    }
    let part = |r: std::ops::Range<usize>| std::str::from_utf8(&b[r]).unwrap_or("");
    let int_part = if int == 0 { "0" } else { part(0..int) };
    let frac_part = if frac == 0 {
        "0"
    } else {
        part(int + 1..int + 1 + frac)
    };
    let v: f64 = format!("{int_part}.{frac_part}e{exp}").parse().ok()?;
    let nonzero = int_part.bytes().chain(frac_part.bytes()).any(|c| c != b'0');
    // strtod reports ERANGE for an overflow to infinity and an underflow to zero.
    if v.is_infinite() || (v == 0.0 && nonzero) {
        return None;
    }
    Some(v)
}

/// An unsigned hexadecimal float after `0x`: hex digits, an optional fraction, an optional
/// binary exponent `p`, all of it.
fn hex(b: &[u8]) -> Option<f64> {
    let mut mant: u64 = 0;
    let mut exp: i64 = 0;
    let mut any = false;
    let mut i = 0;
    let mut seen_dot = false;
    while i < b.len() {
        let c = b[i];
        if c == b'.' && !seen_dot {
            seen_dot = true;
        } else if let Some(d) = (c as char).to_digit(16) {
            any = true;
            if mant < 1 << 56 {
                mant = mant * 16 + u64::from(d);
                if seen_dot {
                    exp -= 4;
                }
            } else if !seen_dot {
                exp += 4;
            }
        } else {
            break;
        }
        i += 1;
    }
    if !any {
        return None;
    }
    if i < b.len() && (b[i] | 0x20) == b'p' {
        let rest = std::str::from_utf8(&b[i + 1..]).ok()?;
        if rest.is_empty()
            || !rest
                .trim_start_matches(['+', '-'])
                .bytes()
                .all(|c| c.is_ascii_digit())
        {
            return None;
        }
        exp += rest.parse::<i64>().ok()?;
    } else if i != b.len() {
        return None;
    }
    let v = mant as f64 * 2f64.powi(exp.clamp(-2000, 2000) as i32);
    if v.is_infinite() || (v == 0.0 && mant != 0) {
        return None;
    }
    Some(v)
}

/// What a SORT produced: the output values (elements, or GET results) or a STORE count.
enum Output {
    Values(Vec<Option<Vec<u8>>>),
    Stored(usize),
}

/// The elements of the sorted key (a sorted set's in score order), and whether it is a set;
/// WRONGTYPE for other types. Each
/// read is atomic on its own: the first that finds the key's type answers.
fn elements(db: &Db, key: &[u8]) -> Result<(Vec<Vec<u8>>, bool), CmdError> {
    match db.lrange(key, 0, -1) {
        Ok(l) => return Ok((l, false)),
        Err(kvcore::Error::WrongType) => {}
        Err(e) => return Err(e.into()),
    }
    match db.smembers(key) {
        Ok(s) => return Ok((s, true)),
        Err(kvcore::Error::WrongType) => {}
        Err(e) => return Err(e.into()),
    }
    let all = db.zrange(key, &ZRange::new(ZRangeBy::Rank(0, -1)))?;
    Ok((all.into_iter().map(|(m, _)| m).collect(), false))
}

/// Redis's LIMIT arithmetic: the first and last output positions (`last < first` for none).
fn window(offset: i64, count: i64, len: usize) -> (i64, i64) {
    let len = len as i64;
    let mut start = offset.max(0).min(len);
    let count = count.max(-1).min(len);
    let mut end = if count < 0 {
        len - 1
    } else {
        start + count - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }
    (start, end)
}

/// One element and what it sorts by.
struct Item {
    element: Vec<u8>,
    score: f64,
    by: Option<Vec<u8>>,
}

fn execute(db: &Db, key: &[u8], o: &Options<'_>, in_script: bool) -> Result<Output, CmdError> {
    let (elems, is_set) = elements(db, key)?;
    let mut dont_sort = o.dont_sort();
    let mut alpha = o.alpha;
    let mut by = o.by;
    // Redis sorts a set anyway when the result is stored or replicated from a script, so it
    // does not depend on the set's internal order.
    if dont_sort && is_set && (o.store.is_some() || in_script) {
        dont_sort = false;
        alpha = true;
        by = None;
    }
    let (start, end) = window(o.offset, o.count, elems.len());
    let mut items: Vec<Item> = elems
        .into_iter()
        .map(|element| Item {
            element,
            score: 0.0,
            by: None,
        })
        .collect();
    if dont_sort && o.desc && !is_set {
        items.reverse();
    }
    let mut bad_score = false;
    if !dont_sort {
        for it in &mut items {
            let value = match by {
                Some(p) => match lookup(db, p, &it.element) {
                    Some(v) => v,
                    None => continue,
                },
                None => it.element.clone(),
            };
            if alpha {
                if by.is_some() {
                    it.by = Some(value);
                }
            } else {
                match weight(&value) {
                    Some(s) => it.score = s,
                    None => bad_score = true,
                }
            }
        }
        let binary = o.store.is_some();
        let text_cmp = |a: &[u8], b: &[u8]| {
            if binary {
                a.cmp(b)
            } else {
                c_str(a).cmp(c_str(b))
            }
        };
        let cmp = |a: &Item, b: &Item| -> Ordering {
            let c = if !alpha {
                if a.score > b.score {
                    Ordering::Greater
                } else if a.score < b.score {
                    Ordering::Less
                } else {
                    a.element.cmp(&b.element)
                }
            } else if by.is_some() {
                match (&a.by, &b.by) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (Some(x), Some(y)) => text_cmp(x, y),
                }
            } else {
                text_cmp(&a.element, &b.element)
            };
            if o.desc { c.reverse() } else { c }
        };
        // Stable, as glibc's qsort (a merge sort) is for Redis.
        items.sort_by(cmp);
    }
    if bad_score {
        return Err(CmdError::Msg(
            "ERR One or more scores can't be converted into double",
        ));
    }
    let chosen = if end >= start {
        &items[start as usize..=end as usize]
    } else {
        &items[..0]
    };
    let mut out: Vec<Option<Vec<u8>>> = Vec::with_capacity(chosen.len() * o.gets.len().max(1));
    for it in chosen {
        if o.gets.is_empty() {
            out.push(Some(it.element.clone()));
        }
        for g in &o.gets {
            out.push(lookup(db, g, &it.element));
        }
    }
    match o.store {
        None => Ok(Output::Values(out)),
        Some(dst) => {
            let values: Vec<Vec<u8>> = out.into_iter().map(Option::unwrap_or_default).collect();
            Ok(Output::Stored(db.sort_store(dst, &values)?))
        }
    }
}

fn run(ctx: &mut Ctx<'_>, req: &Request<'_>, readonly: bool) -> CmdResult {
    let slot = super::table::lookup(req.arg(0)).unwrap_or_default();
    let full_access =
        ctx.s
            .user
            .current(&ctx.s.shared.acl)
            .any_key_access(slot, req, crate::acl::READ);
    let o = parse(req, readonly, full_access)?;
    let key = req.arg(1);
    let in_script = ctx.s.in_script;
    let db = ctx.s.db.clone();
    let output = if ctx.s.in_exec() || !(o.reads_patterns() || o.store.is_some()) {
        execute(&db, key, &o, in_script)?
    } else {
        let d = ctx.s.db_index;
        let mut scope: Vec<(usize, &[u8])> = vec![(d, key)];
        scope.extend(o.store.map(|s| (d, s)));
        let scope = if o.reads_patterns() {
            Scope::Open(&scope)
        } else {
            Scope::Keys(&scope)
        };
        db.transaction(scope, |t| Ok(execute(&t.db(d)?, key, &o, in_script)))??
    };
    match output {
        Output::Stored(n) => ctx.int(n as i64),
        Output::Values(values) => {
            let mut w = ctx.w();
            w.array_len(values.len());
            for v in &values {
                match v {
                    Some(v) => w.bulk(v),
                    None => w.null(),
                }
            }
            Ok(())
        }
    }
}

fn sort(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    run(ctx, req, false)
}

fn sort_ro(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    run(ctx, req, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_as_strtod_reads_them() {
        let cases: &[(&[u8], Option<f64>)] = &[
            (b"1", Some(1.0)),
            (b"-2.5", Some(-2.5)),
            (b" 3", Some(3.0)),
            (b"\t\n4e2", Some(400.0)),
            (b"", Some(0.0)),
            (b"1.", Some(1.0)),
            (b".5", Some(0.5)),
            (b"+7", Some(7.0)),
            (b"inf", Some(f64::INFINITY)),
            (b"-Infinity", Some(f64::NEG_INFINITY)),
            (b"0x10", Some(16.0)),
            (b"0x1p3", Some(8.0)),
            (b"0x.8", Some(0.5)),
            (b"5\0junk", Some(5.0)),
            (b"  ", None),
            (b"3 ", None),
            (b"abc", None),
            (b"nan", None),
            (b"1e", None),
            (b"1e999", None),
            (b"1e-999", None),
            (b"0x", None),
            (b".", None),
            (b"1..2", None),
            (b"0e999", Some(0.0)),
        ];
        for (text, want) in cases {
            assert_eq!(weight(text), *want, "{:?}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn limit_window_as_redis() {
        assert_eq!(window(0, -1, 5), (0, 4));
        assert_eq!(window(1, 2, 5), (1, 2));
        assert_eq!(window(-3, 2, 5), (0, 1));
        assert_eq!(window(4, 10, 5), (4, 4));
        assert_eq!(window(5, 1, 5), (4, 3));
        assert_eq!(window(0, 0, 5), (0, -1));
        assert_eq!(window(0, -1, 0), (-1, -2));
        assert_eq!(window(i64::MAX, i64::MAX, 3), (2, 1));
    }

    #[test]
    fn sort_keys_as_sort_get_keys() {
        let args =
            |s: &str| -> Vec<Vec<u8>> { s.split(' ').map(|a| a.as_bytes().to_vec()).collect() };
        let check = |s: &str, want: &[usize]| {
            let owned = args(s);
            let refs: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
            assert_eq!(keys(&refs), want, "{s}");
        };
        check("sort k", &[1]);
        check("sort k store d", &[1, 3]);
        check("sort k by store store d limit 0 1 store e", &[1, 10]);
        check("sort k get store", &[1]);
        check("sort k store", &[1]);
    }
}
