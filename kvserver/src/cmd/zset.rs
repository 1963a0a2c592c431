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
pub(super) fn zadd(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
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

pub(super) fn zincrby(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let delta = score_arg(req.arg(2))?;
    let v = ctx.s.db.zincrby(req.arg(1), delta, req.arg(3))?;
    score(&mut ctx.w(), v);
    Ok(())
}

pub(super) fn zscore(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let v = ctx.s.db.zscore(req.arg(1), req.arg(2))?;
    let mut w = ctx.w();
    match v {
        Some(v) => score(&mut w, v),
        None => w.null(),
    }
    Ok(())
}

pub(super) fn zmscore(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
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

pub(super) fn zcard(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let n = ctx.s.db.zcard(req.arg(1))?;
    ctx.int(n as i64)
}

pub(super) fn zcount(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let range = ScoreRange::parse(req.arg(2), req.arg(3)).ok_or(BAD_SCORE_RANGE)?;
    let n = ctx.s.db.zcount(req.arg(1), &range)?;
    ctx.int(n as i64)
}

pub(super) fn zlexcount(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
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
pub(super) fn zrange(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let spec = range_options(req, 2, By::Rank, false, true, true)?;
    run_range(ctx, req, spec)
}

pub(super) fn zrevrange(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let spec = range_options(req, 2, By::Rank, true, false, true)?;
    run_range(ctx, req, spec)
}

pub(super) fn zrangebyscore(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let spec = range_options(req, 2, By::Score, false, false, true)?;
    run_range(ctx, req, spec)
}

pub(super) fn zrevrangebyscore(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let spec = range_options(req, 2, By::Score, true, false, true)?;
    run_range(ctx, req, spec)
}

pub(super) fn zrangebylex(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let spec = range_options(req, 2, By::Lex, false, false, false)?;
    run_range(ctx, req, spec)
}

pub(super) fn zrevrangebylex(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let spec = range_options(req, 2, By::Lex, true, false, false)?;
    run_range(ctx, req, spec)
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
pub(super) fn zrangestore(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
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

pub(super) fn zrank(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    rank(ctx, req, false)
}

pub(super) fn zrevrank(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    rank(ctx, req, true)
}

pub(super) fn zrem(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let members: Vec<&[u8]> = req.args().skip(2).collect();
    let n = ctx.s.db.zrem(req.arg(1), &members)?;
    ctx.int(n as i64)
}

pub(super) fn zremrangebyrank(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let by = ZRangeBy::Rank(int_arg(req.arg(2))?, int_arg(req.arg(3))?);
    let n = ctx.s.db.zremrange(req.arg(1), &by)?;
    ctx.int(n as i64)
}

pub(super) fn zremrangebyscore(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let by = ZRangeBy::Score(ScoreRange::parse(req.arg(2), req.arg(3)).ok_or(BAD_SCORE_RANGE)?);
    let n = ctx.s.db.zremrange(req.arg(1), &by)?;
    ctx.int(n as i64)
}

pub(super) fn zremrangebylex(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
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

pub(super) fn zpopmin(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    pop(ctx, req, false)
}

pub(super) fn zpopmax(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    pop(ctx, req, true)
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]
pub(super) fn zmpop(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
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
pub(super) fn zrandmember(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
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
pub(super) fn zscan(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
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
