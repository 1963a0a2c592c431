//! Sorted-set commands over `kvcore::ZSetStore` (ZUNION, ZINTER, ZDIFF and their STORE forms
//! are in `zcombine.rs`).

use kvcore::{
    LexRange, ScoreRange, ScoredMember, ZAddFlags, ZRange, ZRangeBy, ZSetStore, format_score,
    parse_score,
};
use kvproto::{Request, Version, Writer};

use super::ctx::{
    CmdResult, Ctx, int_arg, is, positive_arg, random_count_arg, random_count_cap,
    random_pairs_range,
};
use super::error::{CmdError, NOT_FLOAT, SYNTAX};
use super::keys::{cursor_arg, scan_options};
use super::list::{mpop_count, numkeys};
use super::spec::{
    Begin::Index,
    Find::{Keynum, Range},
    Group, a, ks,
};
use super::table::Command;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("zadd", -4, "write denyoom fast", zadd)
        .acl("@sortedset").keys(&[ks("RW update", Index(1), Range(0, 1, 0))])
        .doc(Group::SortedSet, "1.2.0", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.")
        .complexity("O(log(N)) for each item added, where N is the number of elements in the sorted set.")
        .history(&[
            ("2.4.0", "Accepts multiple elements."),
            ("3.0.2", "Added the `XX`, `NX`, `CH` and `INCR` options."),
            ("6.2.0", "Added the `GT` and `LT` options."),
        ])
        .args(&[
            a("key", "key").key(0),
            a("condition", "oneof").since("3.0.2").flags("optional").args(&[
                a("nx", "pure-token").token("NX"),
                a("xx", "pure-token").token("XX"),
            ]),
            a("comparison", "oneof").since("6.2.0").flags("optional").args(&[
                a("gt", "pure-token").token("GT"),
                a("lt", "pure-token").token("LT"),
            ]),
            a("change", "pure-token").token("CH").since("3.0.2").flags("optional"),
            a("increment", "pure-token").token("INCR").since("3.0.2").flags("optional"),
            a("score_member", "block").flags("multiple").args(&[a("score", "double"), a("member", "string")]),
        ]),
    Command::new("zcard", 2, "readonly fast", zcard)
        .acl("@sortedset").keys(&[ks("RO", Index(1), Range(0, 1, 0))])
        .doc(Group::SortedSet, "1.2.0", "Returns the number of members in a sorted set.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0)]),
    Command::new("zcount", 4, "readonly fast", zcount)
        .acl("@sortedset").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::SortedSet, "2.0.0", "Returns the count of members in a sorted set that have scores within a range.")
        .complexity("O(log(N)) with N being the number of elements in the sorted set.")
        .args(&[a("key", "key").key(0), a("min", "double"), a("max", "double")]),
    Command::new("zincrby", 4, "write denyoom fast", zincrby)
        .acl("@sortedset").keys(&[ks("RW access update", Index(1), Range(0, 1, 0))])
        .doc(Group::SortedSet, "1.2.0", "Increments the score of a member in a sorted set.")
        .complexity("O(log(N)) where N is the number of elements in the sorted set.")
        .args(&[a("key", "key").key(0), a("increment", "integer"), a("member", "string")]),
    Command::new("zlexcount", 4, "readonly fast", zlexcount)
        .acl("@sortedset").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::SortedSet, "2.8.9", "Returns the number of members in a sorted set within a lexicographical range.")
        .complexity("O(log(N)) with N being the number of elements in the sorted set.")
        .args(&[a("key", "key").key(0), a("min", "string"), a("max", "string")]),
    Command::new("zmpop", -4, "write", zmpop)
        .acl("@sortedset").keys(&[ks("RW access delete", Index(1), Keynum(0, 1, 1))])
        .doc(Group::SortedSet, "7.0.0", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.")
        .complexity("O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.")
        .args(&[
            a("numkeys", "integer"),
            a("key", "key").key(0).flags("multiple"),
            a("where", "oneof").args(&[
                a("min", "pure-token").token("MIN"),
                a("max", "pure-token").token("MAX"),
            ]),
            a("count", "integer").token("COUNT").flags("optional"),
        ]),
    Command::new("zmscore", -3, "readonly fast", zmscore)
        .acl("@sortedset").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::SortedSet, "6.2.0", "Returns the score of one or more members in a sorted set.")
        .complexity("O(N) where N is the number of members being requested.")
        .args(&[a("key", "key").key(0), a("member", "string").flags("multiple")]),
    Command::new("zpopmax", -2, "write fast", zpopmax)
        .acl("@sortedset").keys(&[ks("RW access delete", Index(1), Range(0, 1, 0))])
        .doc(Group::SortedSet, "5.0.0", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.")
        .complexity("O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.")
        .args(&[a("key", "key").key(0), a("count", "integer").flags("optional")]),
    Command::new("zpopmin", -2, "write fast", zpopmin)
        .acl("@sortedset").keys(&[ks("RW access delete", Index(1), Range(0, 1, 0))])
        .doc(Group::SortedSet, "5.0.0", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.")
        .complexity("O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.")
        .args(&[a("key", "key").key(0), a("count", "integer").flags("optional")]),
    Command::new("zrandmember", -2, "readonly", zrandmember)
        .acl("@sortedset").tips(&["nondeterministic_output"]).keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::SortedSet, "6.2.0", "Returns one or more random members from a sorted set.")
        .complexity("O(N) where N is the number of elements returned")
        .args(&[
            a("key", "key").key(0),
            a("options", "block").flags("optional").args(&[
                a("count", "integer"),
                a("withscores", "pure-token").token("WITHSCORES").flags("optional"),
            ]),
        ]),
    Command::new("zrange", -4, "readonly", zrange)
        .acl("@sortedset").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::SortedSet, "1.2.0", "Returns members in a sorted set within a range of indexes.")
        .complexity("O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.")
        .history(&[("6.2.0", "Added the `REV`, `BYSCORE`, `BYLEX` and `LIMIT` options.")])
        .args(&[
            a("key", "key").key(0),
            a("start", "string"),
            a("stop", "string"),
            a("sortby", "oneof").since("6.2.0").flags("optional").args(&[
                a("byscore", "pure-token").token("BYSCORE"),
                a("bylex", "pure-token").token("BYLEX"),
            ]),
            a("rev", "pure-token").token("REV").since("6.2.0").flags("optional"),
            a("offset_count", "block").token("LIMIT").since("6.2.0").flags("optional").args(&[
                a("offset", "integer"),
                a("count", "integer"),
            ]),
            a("withscores", "pure-token").token("WITHSCORES").flags("optional"),
        ]),
    Command::new("zrangebylex", -4, "readonly", zrangebylex)
        .acl("@sortedset").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::SortedSet, "2.8.9", "Returns members in a sorted set within a lexicographical range.")
        .complexity("O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).")
        .deprecated("6.2.0", "`ZRANGE` with the `BYLEX` argument")
        .args(&[
            a("key", "key").key(0),
            a("min", "string"),
            a("max", "string"),
            a("offset_count", "block").token("LIMIT").flags("optional").args(&[
                a("offset", "integer"),
                a("count", "integer"),
            ]),
        ]),
    Command::new("zrangebyscore", -4, "readonly", zrangebyscore)
        .acl("@sortedset").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::SortedSet, "1.0.5", "Returns members in a sorted set within a range of scores.")
        .complexity("O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).")
        .deprecated("6.2.0", "`ZRANGE` with the `BYSCORE` argument")
        .history(&[("2.0.0", "Added the `WITHSCORES` modifier.")])
        .args(&[
            a("key", "key").key(0),
            a("min", "double"),
            a("max", "double"),
            a("withscores", "pure-token").token("WITHSCORES").since("2.0.0").flags("optional"),
            a("offset_count", "block").token("LIMIT").flags("optional").args(&[
                a("offset", "integer"),
                a("count", "integer"),
            ]),
        ]),
    Command::new("zrangestore", -5, "write denyoom", zrangestore)
        .acl("@sortedset").keys(&[ks("OW update", Index(1), Range(0, 1, 0)), ks("RO access", Index(2), Range(0, 1, 0))])
        .doc(Group::SortedSet, "6.2.0", "Stores a range of members from sorted set in a key.")
        .complexity("O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.")
        .args(&[
            a("dst", "key").key(0),
            a("src", "key").key(1),
            a("min", "string"),
            a("max", "string"),
            a("sortby", "oneof").flags("optional").args(&[
                a("byscore", "pure-token").token("BYSCORE"),
                a("bylex", "pure-token").token("BYLEX"),
            ]),
            a("rev", "pure-token").token("REV").flags("optional"),
            a("offset_count", "block").token("LIMIT").flags("optional").args(&[
                a("offset", "integer"),
                a("count", "integer"),
            ]),
        ]),
    Command::new("zrank", -3, "readonly fast", zrank)
        .acl("@sortedset").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::SortedSet, "2.0.0", "Returns the index of a member in a sorted set ordered by ascending scores.")
        .complexity("O(log(N))")
        .history(&[("7.2.0", "Added the optional `WITHSCORE` argument.")])
        .args(&[
            a("key", "key").key(0),
            a("member", "string"),
            // Redis 7.2.
            a("withscore", "pure-token").token("WITHSCORE").since("7.2.0").flags("optional"),
        ]),
    Command::new("zrem", -3, "write fast", zrem)
        .acl("@sortedset").keys(&[ks("RW delete", Index(1), Range(0, 1, 0))])
        .doc(Group::SortedSet, "1.2.0", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.")
        .complexity("O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.")
        .history(&[("2.4.0", "Accepts multiple elements.")])
        .args(&[a("key", "key").key(0), a("member", "string").flags("multiple")]),
    Command::new("zremrangebylex", 4, "write", zremrangebylex)
        .acl("@sortedset").keys(&[ks("RW delete", Index(1), Range(0, 1, 0))])
        .doc(Group::SortedSet, "2.8.9", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.")
        .complexity("O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.")
        .args(&[a("key", "key").key(0), a("min", "string"), a("max", "string")]),
    Command::new("zremrangebyrank", 4, "write", zremrangebyrank)
        .acl("@sortedset").keys(&[ks("RW delete", Index(1), Range(0, 1, 0))])
        .doc(Group::SortedSet, "2.0.0", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.")
        .complexity("O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.")
        .args(&[a("key", "key").key(0), a("start", "integer"), a("stop", "integer")]),
    Command::new("zremrangebyscore", 4, "write", zremrangebyscore)
        .acl("@sortedset").keys(&[ks("RW delete", Index(1), Range(0, 1, 0))])
        .doc(Group::SortedSet, "1.2.0", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.")
        .complexity("O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.")
        .args(&[a("key", "key").key(0), a("min", "double"), a("max", "double")]),
    Command::new("zrevrange", -4, "readonly", zrevrange)
        .acl("@sortedset").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::SortedSet, "1.2.0", "Returns members in a sorted set within a range of indexes in reverse order.")
        .complexity("O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.")
        .deprecated("6.2.0", "`ZRANGE` with the `REV` argument")
        .args(&[
            a("key", "key").key(0),
            a("start", "integer"),
            a("stop", "integer"),
            a("withscores", "pure-token").token("WITHSCORES").flags("optional"),
        ]),
    Command::new("zrevrangebylex", -4, "readonly", zrevrangebylex)
        .acl("@sortedset").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::SortedSet, "2.8.9", "Returns members in a sorted set within a lexicographical range in reverse order.")
        .complexity("O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).")
        .deprecated("6.2.0", "`ZRANGE` with the `REV` and `BYLEX` arguments")
        .args(&[
            a("key", "key").key(0),
            a("max", "string"),
            a("min", "string"),
            a("offset_count", "block").token("LIMIT").flags("optional").args(&[
                a("offset", "integer"),
                a("count", "integer"),
            ]),
        ]),
    Command::new("zrevrangebyscore", -4, "readonly", zrevrangebyscore)
        .acl("@sortedset").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::SortedSet, "2.2.0", "Returns members in a sorted set within a range of scores in reverse order.")
        .complexity("O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).")
        .deprecated("6.2.0", "`ZRANGE` with the `REV` and `BYSCORE` arguments")
        .history(&[("2.1.6", "`min` and `max` can be exclusive.")])
        .args(&[
            a("key", "key").key(0),
            a("max", "double"),
            a("min", "double"),
            a("withscores", "pure-token").token("WITHSCORES").flags("optional"),
            a("offset_count", "block").token("LIMIT").flags("optional").args(&[
                a("offset", "integer"),
                a("count", "integer"),
            ]),
        ]),
    Command::new("zrevrank", -3, "readonly fast", zrevrank)
        .acl("@sortedset").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::SortedSet, "2.0.0", "Returns the index of a member in a sorted set ordered by descending scores.")
        .complexity("O(log(N))")
        .history(&[("7.2.0", "Added the optional `WITHSCORE` argument.")])
        .args(&[
            a("key", "key").key(0),
            a("member", "string"),
            // Redis 7.2.
            a("withscore", "pure-token").token("WITHSCORE").since("7.2.0").flags("optional"),
        ]),
    Command::new("zscan", -3, "readonly", zscan)
        .acl("@sortedset").tips(&["nondeterministic_output"]).keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::SortedSet, "2.8.0", "Iterates over members and scores of a sorted set.")
        .complexity("O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..")
        .args(&[
            a("key", "key").key(0),
            a("cursor", "integer"),
            a("pattern", "pattern").token("MATCH").flags("optional"),
            a("count", "integer").token("COUNT").flags("optional"),
        ]),
    Command::new("zscore", 3, "readonly fast", zscore)
        .acl("@sortedset").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::SortedSet, "1.2.0", "Returns the score of a member in a sorted set.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0), a("member", "string")]),
];

const BAD_SCORE_RANGE: CmdError = CmdError::Msg("ERR min or max is not a float");
const BAD_LEX_RANGE: CmdError = CmdError::Msg("ERR min or max not valid string range item");

/// A score: a double in RESP3, Redis's `%.17g` text as a bulk string in RESP2.
fn score(w: &mut Writer<'_>, v: f64) {
    if w.version() == Version::Resp3 {
        w.double(v);
    } else {
        w.bulk(format_score(v).as_bytes());
    }
}

/// Members, with their scores if asked: a flat list in RESP2, `[member, score]` pairs in RESP3.
pub(super) fn scored(w: &mut Writer<'_>, items: &[ScoredMember], with_scores: bool) {
    if !with_scores {
        w.array_len(items.len());
        for (m, _) in items {
            w.bulk(m);
        }
    } else if w.version() == Version::Resp3 {
        w.array_len(items.len());
        for (m, s) in items {
            w.array_len(2);
            w.bulk(m);
            score(w, *s);
        }
    } else {
        w.array_len(items.len() * 2);
        for (m, s) in items {
            w.bulk(m);
            score(w, *s);
        }
    }
}

fn score_arg(b: &[u8]) -> Result<f64, CmdError> {
    parse_score(b).ok_or(NOT_FLOAT)
}

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
fn zadd(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let mut flags = ZAddFlags::default();
    let mut i = 2;
    while i < req.len() {
        let a = req.arg(i);
        if is(a, "nx") {
            flags.nx = true;
        } else if is(a, "xx") {
            flags.xx = true;
        } else if is(a, "gt") {
            flags.gt = true;
        } else if is(a, "lt") {
            flags.lt = true;
        } else if is(a, "ch") {
            flags.ch = true;
        } else if is(a, "incr") {
            flags.incr = true;
        } else {
            break;
        }
        i += 1;
    }
    let rest = req.len() - i;
    if rest == 0 || !rest.is_multiple_of(2) {
        return Err(SYNTAX);
    }
    if flags.nx && flags.xx {
        return Err(CmdError::Msg(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (flags.gt && flags.lt) || (flags.nx && (flags.gt || flags.lt)) {
        return Err(CmdError::Msg(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if flags.incr && rest > 2 {
        return Err(CmdError::Msg(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let mut pairs = Vec::with_capacity(rest / 2);
    for j in (i..req.len()).step_by(2) {
        pairs.push((score_arg(req.arg(j))?, req.arg(j + 1)));
    }
    if flags.incr {
        let (delta, member) = pairs[0];
        let v = ctx.s.db.zadd_incr(req.arg(1), delta, member, &flags)?;
        let mut w = ctx.w();
        match v {
            Some(v) => score(&mut w, v),
            None => w.null(),
        }
        return Ok(());
    }
    let n = ctx.s.db.zadd(req.arg(1), &pairs, &flags)?;
    ctx.int(n as i64)
}

fn zincrby(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let delta = score_arg(req.arg(2))?;
    let v = ctx.s.db.zincrby(req.arg(1), delta, req.arg(3))?;
    score(&mut ctx.w(), v);
    Ok(())
}

fn zscore(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let v = ctx.s.db.zscore(req.arg(1), req.arg(2))?;
    let mut w = ctx.w();
    match v {
        Some(v) => score(&mut w, v),
        None => w.null(),
    }
    Ok(())
}

fn zmscore(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let members: Vec<&[u8]> = req.args().skip(2).collect();
    let scores = ctx.s.db.zmscore(req.arg(1), &members)?;
    let mut w = ctx.w();
    w.array_len(scores.len());
    for s in scores {
        match s {
            Some(v) => score(&mut w, v),
            None => w.null(),
        }
    }
    Ok(())
}

fn zcard(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let n = ctx.s.db.zcard(req.arg(1))?;
    ctx.int(n as i64)
}

fn zcount(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let range = ScoreRange::parse(req.arg(2), req.arg(3)).ok_or(BAD_SCORE_RANGE)?;
    let n = ctx.s.db.zcount(req.arg(1), &range)?;
    ctx.int(n as i64)
}

fn zlexcount(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let range = LexRange::parse(req.arg(2), req.arg(3)).ok_or(BAD_LEX_RANGE)?;
    let n = ctx.s.db.zlexcount(req.arg(1), &range)?;
    ctx.int(n as i64)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    Rank,
    Score,
    Lex,
}

/// A parsed ZRANGE-family request and whether to reply WITHSCORES.
struct RangeSpec<'r> {
    range: ZRange<'r>,
    with_scores: bool,
}

/// Builds the range from `start`/`stop` as the user wrote them (for REV by score or lex,
/// Redis's argument order is max then min; kvcore always takes min, max).
fn build_range<'r>(
    by: By,
    rev: bool,
    start: &'r [u8],
    stop: &'r [u8],
    limit: Option<(i64, i64)>,
) -> Result<ZRange<'r>, CmdError> {
    let (lo, hi) = if rev && by != By::Rank {
        (stop, start)
    } else {
        (start, stop)
    };
    let sel = match by {
        By::Rank => ZRangeBy::Rank(int_arg(start)?, int_arg(stop)?),
        By::Score => ZRangeBy::Score(ScoreRange::parse(lo, hi).ok_or(BAD_SCORE_RANGE)?),
        By::Lex => ZRangeBy::Lex(LexRange::parse(lo, hi).ok_or(BAD_LEX_RANGE)?),
    };
    let mut range = ZRange::new(sel).rev(rev);
    if let Some((offset, count)) = limit {
        range = range.limit(offset, count);
    }
    Ok(range)
}

/// Options after `start stop`: BYSCORE, BYLEX, REV, LIMIT, WITHSCORES, as each command allows.
fn range_options<'r>(
    req: &'r Request<'_>,
    key_args: usize,
    mut by: By,
    mut rev: bool,
    allow_by_rev: bool,
    allow_withscores: bool,
) -> Result<RangeSpec<'r>, CmdError> {
    let mut limit = None;
    let mut with_scores = false;
    let mut i = key_args + 2;
    while i < req.len() {
        let a = req.arg(i);
        if allow_withscores && is(a, "withscores") {
            with_scores = true;
        } else if allow_by_rev && by == By::Rank && is(a, "byscore") {
            // As in Redis, a second BYSCORE/BYLEX or REV is a syntax error.
            by = By::Score;
        } else if allow_by_rev && by == By::Rank && is(a, "bylex") {
            by = By::Lex;
        } else if allow_by_rev && !rev && is(a, "rev") {
            rev = true;
        } else if is(a, "limit") && i + 2 < req.len() {
            limit = Some((int_arg(req.arg(i + 1))?, int_arg(req.arg(i + 2))?));
            i += 2;
        } else {
            return Err(SYNTAX);
        }
        i += 1;
    }
    if limit.is_some() && by == By::Rank {
        return Err(CmdError::Msg(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if with_scores && by == By::Lex {
        return Err(CmdError::Msg(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let range = build_range(by, rev, req.arg(key_args), req.arg(key_args + 1), limit)?;
    Ok(RangeSpec { range, with_scores })
}

fn run_range(ctx: &mut Ctx<'_>, req: &Request<'_>, spec: RangeSpec<'_>) -> CmdResult {
    let items = ctx.s.db.zrange(req.arg(1), &spec.range)?;
    scored(&mut ctx.w(), &items, spec.with_scores);
    Ok(())
}

/// ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
fn zrange(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let spec = range_options(req, 2, By::Rank, false, true, true)?;
    run_range(ctx, req, spec)
}

fn zrevrange(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let spec = range_options(req, 2, By::Rank, true, false, true)?;
    run_range(ctx, req, spec)
}

fn zrangebyscore(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let spec = range_options(req, 2, By::Score, false, false, true)?;
    run_range(ctx, req, spec)
}

fn zrevrangebyscore(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let spec = range_options(req, 2, By::Score, true, false, true)?;
    run_range(ctx, req, spec)
}

fn zrangebylex(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let spec = range_options(req, 2, By::Lex, false, false, false)?;
    run_range(ctx, req, spec)
}

fn zrevrangebylex(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let spec = range_options(req, 2, By::Lex, true, false, false)?;
    run_range(ctx, req, spec)
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
fn zrangestore(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let spec = range_options(req, 3, By::Rank, false, true, false)?;
    let n = ctx.s.db.zrangestore(req.arg(1), req.arg(2), &spec.range)?;
    ctx.int(n as i64)
}

/// ZRANK/ZREVRANK key member [WITHSCORE]
fn rank(ctx: &mut Ctx<'_>, req: &Request<'_>, rev: bool) -> CmdResult {
    let with_score = match req.len() {
        3 => false,
        4 if is(req.arg(3), "withscore") => true,
        _ => return Err(SYNTAX),
    };
    let found = ctx.s.db.zrank(req.arg(1), req.arg(2), rev)?;
    let mut w = ctx.w();
    match (found, with_score) {
        (Some((r, _)), false) => w.integer(r as i64),
        (Some((r, s)), true) => {
            w.array_len(2);
            w.integer(r as i64);
            score(&mut w, s);
        }
        (None, false) => w.null(),
        (None, true) => w.null_array(),
    }
    Ok(())
}

fn zrank(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    rank(ctx, req, false)
}

fn zrevrank(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    rank(ctx, req, true)
}

fn zrem(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let members: Vec<&[u8]> = req.args().skip(2).collect();
    let n = ctx.s.db.zrem(req.arg(1), &members)?;
    ctx.int(n as i64)
}

fn zremrangebyrank(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let by = ZRangeBy::Rank(int_arg(req.arg(2))?, int_arg(req.arg(3))?);
    let n = ctx.s.db.zremrange(req.arg(1), &by)?;
    ctx.int(n as i64)
}

fn zremrangebyscore(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let by = ZRangeBy::Score(ScoreRange::parse(req.arg(2), req.arg(3)).ok_or(BAD_SCORE_RANGE)?);
    let n = ctx.s.db.zremrange(req.arg(1), &by)?;
    ctx.int(n as i64)
}

fn zremrangebylex(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let by = ZRangeBy::Lex(LexRange::parse(req.arg(2), req.arg(3)).ok_or(BAD_LEX_RANGE)?);
    let n = ctx.s.db.zremrange(req.arg(1), &by)?;
    ctx.int(n as i64)
}

/// ZPOPMIN/ZPOPMAX key [count]: without a count a flat [member, score]; with one, pairs in
/// RESP3.
fn pop(ctx: &mut Ctx<'_>, req: &Request<'_>, max: bool) -> CmdResult {
    let count = match req.len() {
        2 => None,
        3 => Some(positive_arg(req.arg(2))?),
        _ => return Err(SYNTAX),
    };
    let items = ctx.s.db.zpop(req.arg(1), max, count.unwrap_or(1))?;
    let mut w = ctx.w();
    if count.is_none() {
        w.array_len(items.len() * 2);
        for (m, s) in &items {
            w.bulk(m);
            score(&mut w, *s);
        }
    } else {
        scored(&mut w, &items, true);
    }
    Ok(())
}

fn zpopmin(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    pop(ctx, req, false)
}

fn zpopmax(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    pop(ctx, req, true)
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]
fn zmpop(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let (keys, next) = numkeys(req, 1)?;
    let which = req.get(next).ok_or(SYNTAX)?;
    let max = if is(which, "min") {
        false
    } else if is(which, "max") {
        true
    } else {
        return Err(SYNTAX);
    };
    let count = mpop_count(req, next + 1)?;
    let popped = ctx.s.db.zmpop(&keys, max, count)?;
    let mut w = ctx.w();
    match popped {
        Some((key, items)) => {
            w.array_len(2);
            w.bulk(&key);
            w.array_len(items.len());
            for (m, s) in &items {
                w.array_len(2);
                w.bulk(m);
                score(&mut w, *s);
            }
        }
        None => w.null_array(),
    }
    Ok(())
}

/// ZRANDMEMBER key [count [WITHSCORES]]
fn zrandmember(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    if req.len() == 2 {
        let v = ctx.s.db.zrandmember(req.arg(1))?;
        return ctx.bulk_or_null(v.as_deref());
    }
    let count = random_count_arg(req.arg(2))?;
    let with_scores = match req.len() {
        3 => false,
        4 if is(req.arg(3), "withscores") => true,
        _ => return Err(SYNTAX),
    };
    if with_scores {
        random_pairs_range(count)?;
    }
    if random_count_cap(count) && ctx.s.db.zcard(req.arg(1))? > 0 {
        return Err(CmdError::Msg("ERR value is out of range"));
    }
    let count = if random_count_cap(count) { 0 } else { count };
    let items = ctx.s.db.zrandmember_count(req.arg(1), count)?;
    scored(&mut ctx.w(), &items, with_scores);
    Ok(())
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]: members and scores, flat.
fn zscan(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let cursor = cursor_arg(req.arg(2))?;
    let opts = scan_options(req, 3)?;
    let (next, items) = ctx.s.db.zscan(req.arg(1), cursor, &opts)?;
    let mut w = ctx.w();
    w.array_len(2);
    w.bulk(next.to_string().as_bytes());
    w.array_len(items.len() * 2);
    for (m, s) in &items {
        w.bulk(m);
        // ZSCAN replies with scores as bulk strings in both protocols, as Redis does.
        w.bulk(format_score(*s).as_bytes());
    }
    Ok(())
}
