//! List commands over `kvcore::ListStore`.

use kvcore::{End, ListStore};
use kvproto::Request;

use super::ctx::{CmdResult, Ctx, int_arg, is, positive_arg};
use super::error::{CmdError, SYNTAX};

fn values<'r>(req: &'r Request<'_>, from: usize) -> Vec<&'r [u8]> {
    req.args().skip(from).collect()
}

pub(super) fn end_arg(b: &[u8]) -> Result<End, CmdError> {
    if is(b, "left") {
        Ok(End::Left)
    } else if is(b, "right") {
        Ok(End::Right)
    } else {
        Err(SYNTAX)
    }
}

fn push(ctx: &mut Ctx<'_>, req: &Request<'_>, end: End, existing: bool) -> CmdResult {
    if req.len() == 3 && !existing {
        // One element (the usual LPUSH/RPUSH): no Vec for the values.
        let n = ctx.s.db.push(req.arg(1), end, &[req.arg(2)])?;
        return ctx.int(n as i64);
    }
    let vals = values(req, 2);
    let n = if existing {
        ctx.s.db.push_existing(req.arg(1), end, &vals)?
    } else {
        ctx.s.db.push(req.arg(1), end, &vals)?
    };
    ctx.int(n as i64)
}

pub(super) fn lpush(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    push(ctx, req, End::Left, false)
}

pub(super) fn rpush(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    push(ctx, req, End::Right, false)
}

pub(super) fn lpushx(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    push(ctx, req, End::Left, true)
}

pub(super) fn rpushx(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    push(ctx, req, End::Right, true)
}

/// LPOP/RPOP key [count]
fn pop(ctx: &mut Ctx<'_>, req: &Request<'_>, end: End, name: &str) -> CmdResult {
    match req.len() {
        2 => {
            let v = ctx.s.db.pop(req.arg(1), end)?;
            ctx.bulk_or_null(v.as_deref())
        }
        3 => {
            let count = positive_arg(req.arg(2))?;
            match ctx.s.db.pop_count(req.arg(1), end, count)? {
                Some(items) => ctx.bulks(&items),
                None => {
                    ctx.w().null_array();
                    Ok(())
                }
            }
        }
        _ => Err(CmdError::Text(super::arity_error(name))),
    }
}

pub(super) fn lpop(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    pop(ctx, req, End::Left, "lpop")
}

pub(super) fn rpop(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    pop(ctx, req, End::Right, "rpop")
}

pub(super) fn llen(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let n = ctx.s.db.llen(req.arg(1))?;
    ctx.int(n as i64)
}

pub(super) fn lrange(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let (start, stop) = (int_arg(req.arg(2))?, int_arg(req.arg(3))?);
    let items = ctx.s.db.lrange(req.arg(1), start, stop)?;
    ctx.bulks(&items)
}

pub(super) fn lindex(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    // Redis looks the key up (null if missing, WRONGTYPE) before it parses the index.
    if ctx.s.db.llen(req.arg(1))? == 0 {
        return ctx.bulk_or_null(None);
    }
    let index = int_arg(req.arg(2))?;
    let v = ctx.s.db.lindex(req.arg(1), index)?;
    ctx.bulk_or_null(v.as_deref())
}

pub(super) fn lset(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    // Redis looks the key up ("no such key", WRONGTYPE) before it parses the index.
    if ctx.s.db.llen(req.arg(1))? == 0 {
        return Err(CmdError::Msg("ERR no such key"));
    }
    let index = int_arg(req.arg(2))?;
    ctx.s.db.lset(req.arg(1), index, req.arg(3))?;
    ctx.ok()
}

pub(super) fn lrem(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let count = int_arg(req.arg(2))?;
    let n = ctx.s.db.lrem(req.arg(1), count, req.arg(3))?;
    ctx.int(n as i64)
}

pub(super) fn ltrim(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let (start, stop) = (int_arg(req.arg(2))?, int_arg(req.arg(3))?);
    ctx.s.db.ltrim(req.arg(1), start, stop)?;
    ctx.ok()
}

/// LINSERT key BEFORE|AFTER pivot element
pub(super) fn linsert(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let before = if is(req.arg(2), "before") {
        true
    } else if is(req.arg(2), "after") {
        false
    } else {
        return Err(SYNTAX);
    };
    let n = ctx
        .s
        .db
        .linsert(req.arg(1), before, req.arg(3), req.arg(4))?;
    ctx.int(n)
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
pub(super) fn lpos(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let (mut rank, mut count, mut maxlen) = (1i64, None, 0usize);
    let mut i = 3;
    while i < req.len() {
        let Some(value) = req.get(i + 1) else {
            return Err(SYNTAX);
        };
        let opt = req.arg(i);
        if is(opt, "rank") {
            rank = int_arg(value)?;
            if rank == 0 {
                return Err(CmdError::Msg(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the \
                     second ... or use negative to start from the end of the list",
                ));
            }
            if rank == i64::MIN {
                return Err(CmdError::Msg(
                    "ERR value is out of range, value must between -9223372036854775807 and \
                     9223372036854775807",
                ));
            }
        } else if is(opt, "count") {
            // Redis answers a non-integer COUNT or MAXLEN with the "negative" text too.
            let n = int_arg(value).map_err(|_| CmdError::Msg("ERR COUNT can't be negative"))?;
            count =
                Some(usize::try_from(n).map_err(|_| CmdError::Msg("ERR COUNT can't be negative"))?);
        } else if is(opt, "maxlen") {
            let n = int_arg(value).map_err(|_| CmdError::Msg("ERR MAXLEN can't be negative"))?;
            maxlen =
                usize::try_from(n).map_err(|_| CmdError::Msg("ERR MAXLEN can't be negative"))?;
        } else {
            return Err(SYNTAX);
        }
        i += 2;
    }
    let found = ctx
        .s
        .db
        .lpos(req.arg(1), req.arg(2), rank, count.unwrap_or(1), maxlen)?;
    match count {
        Some(_) => {
            let mut w = ctx.w();
            w.array_len(found.len());
            for p in found {
                w.integer(p as i64);
            }
            Ok(())
        }
        None => match found.first() {
            Some(&p) => ctx.int(p as i64),
            None => ctx.bulk_or_null(None),
        },
    }
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
pub(super) fn lmove(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let (from, to) = (end_arg(req.arg(3))?, end_arg(req.arg(4))?);
    let v = ctx.s.db.lmove(req.arg(1), req.arg(2), from, to)?;
    ctx.bulk_or_null(v.as_deref())
}

pub(super) fn rpoplpush(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let v = ctx
        .s
        .db
        .lmove(req.arg(1), req.arg(2), End::Right, End::Left)?;
    ctx.bulk_or_null(v.as_deref())
}

/// `numkeys key [key ...]` starting at `req.arg(at)` of LMPOP/BLMPOP/ZMPOP/BZMPOP: the keys and
/// the index after them. As in Redis, a non-integer count is "not greater than 0" and too many
/// keys is a syntax error.
pub(super) fn numkeys<'r>(
    req: &'r Request<'_>,
    at: usize,
) -> Result<(Vec<&'r [u8]>, usize), CmdError> {
    numkeys_or(req, at, SYNTAX)
}

/// [`numkeys`] with the error for more keys than arguments (SINTERCARD has its own text).
pub(super) fn numkeys_or<'r>(
    req: &'r Request<'_>,
    at: usize,
    too_many: CmdError,
) -> Result<(Vec<&'r [u8]>, usize), CmdError> {
    const NOT_POSITIVE: CmdError = CmdError::Msg("ERR numkeys should be greater than 0");
    let n = int_arg(req.arg(at)).map_err(|_| NOT_POSITIVE)?;
    if n <= 0 {
        return Err(NOT_POSITIVE);
    }
    let n = n as usize;
    if n > req.len() - at - 1 {
        return Err(too_many);
    }
    Ok((req.args().skip(at + 1).take(n).collect(), at + 1 + n))
}

/// `[COUNT count]` at the end of LMPOP/ZMPOP: 1 without it.
pub(super) fn mpop_count(req: &Request<'_>, at: usize) -> Result<usize, CmdError> {
    match req.len() - at {
        0 => Ok(1),
        2 if is(req.arg(at), "count") => {
            let n = int_arg(req.arg(at + 1))
                .map_err(|_| CmdError::Msg("ERR count should be greater than 0"))?;
            if n <= 0 {
                return Err(CmdError::Msg("ERR count should be greater than 0"));
            }
            Ok(n as usize)
        }
        _ => Err(SYNTAX),
    }
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
pub(super) fn lmpop(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let (keys, next) = numkeys(req, 1)?;
    let end = end_arg(req.get(next).ok_or(SYNTAX)?)?;
    let count = mpop_count(req, next + 1)?;
    match ctx.s.db.lmpop(&keys, end, count)? {
        Some((key, items)) => {
            let mut w = ctx.w();
            w.array_len(2);
            w.bulk(&key);
            w.array_len(items.len());
            for i in &items {
                w.bulk(i);
            }
            Ok(())
        }
        None => {
            ctx.w().null_array();
            Ok(())
        }
    }
}
