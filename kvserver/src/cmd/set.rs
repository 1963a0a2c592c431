//! Set commands over `kvcore::SetStore`.

use kvcore::{SetOp, SetStore};
use kvproto::Request;

use super::ctx::{CmdResult, Ctx, int_arg, is, positive_arg, random_count_arg, random_count_cap};
use super::error::{CmdError, SYNTAX};
use super::keys::{cursor_arg, scan_options, scan_reply};
use super::list::numkeys_or;

fn from<'r>(req: &'r Request<'_>, at: usize) -> Vec<&'r [u8]> {
    req.args().skip(at).collect()
}

pub(super) fn sadd(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    if req.len() == 3 {
        // One member (the usual SADD): no Vec for the members.
        let n = ctx.s.db.sadd(req.arg(1), &[req.arg(2)])?;
        return ctx.int(n as i64);
    }
    let n = ctx.s.db.sadd(req.arg(1), &from(req, 2))?;
    ctx.int(n as i64)
}

pub(super) fn srem(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let n = ctx.s.db.srem(req.arg(1), &from(req, 2))?;
    ctx.int(n as i64)
}

pub(super) fn sismember(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let found = ctx.s.db.sismember(req.arg(1), req.arg(2))?;
    ctx.int(i64::from(found))
}

pub(super) fn smismember(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let found = ctx.s.db.smismember(req.arg(1), &from(req, 2))?;
    let mut w = ctx.w();
    w.array_len(found.len());
    for f in found {
        w.integer(i64::from(f));
    }
    Ok(())
}

pub(super) fn scard(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let n = ctx.s.db.scard(req.arg(1))?;
    ctx.int(n as i64)
}

pub(super) fn smembers(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let items = ctx.s.db.smembers(req.arg(1))?;
    ctx.bulk_set(&items)
}

/// SPOP key [count]
pub(super) fn spop(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    match req.len() {
        2 => {
            let v = ctx.s.db.spop(req.arg(1))?;
            ctx.bulk_or_null(v.as_deref())
        }
        3 => {
            let count = positive_arg(req.arg(2))?;
            let items = ctx.s.db.spop_count(req.arg(1), count)?;
            ctx.bulk_set(&items)
        }
        _ => Err(SYNTAX),
    }
}

/// SRANDMEMBER key [count]
pub(super) fn srandmember(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    match req.len() {
        2 => {
            let v = ctx.s.db.srandmember(req.arg(1))?;
            ctx.bulk_or_null(v.as_deref())
        }
        3 => {
            let count = random_count_arg(req.arg(2))?;
            if random_count_cap(count) && ctx.s.db.scard(req.arg(1))? > 0 {
                return Err(CmdError::Msg("ERR value is out of range"));
            }
            let count = if random_count_cap(count) { 0 } else { count };
            let items = ctx.s.db.srandmember_count(req.arg(1), count)?;
            ctx.bulks(&items)
        }
        _ => Err(SYNTAX),
    }
}

pub(super) fn smove(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let moved = ctx.s.db.smove(req.arg(1), req.arg(2), req.arg(3))?;
    ctx.int(i64::from(moved))
}

pub(super) fn sinter(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let items = ctx.s.db.sinter(&from(req, 1))?;
    ctx.bulk_set(&items)
}

pub(super) fn sunion(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let items = ctx.s.db.sunion(&from(req, 1))?;
    ctx.bulk_set(&items)
}

pub(super) fn sdiff(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let items = ctx.s.db.sdiff(&from(req, 1))?;
    ctx.bulk_set(&items)
}

fn store(ctx: &mut Ctx<'_>, req: &Request<'_>, op: SetOp) -> CmdResult {
    let n = ctx.s.db.sstore(op, req.arg(1), &from(req, 2))?;
    ctx.int(n as i64)
}

pub(super) fn sinterstore(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    store(ctx, req, SetOp::Inter)
}

pub(super) fn sunionstore(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    store(ctx, req, SetOp::Union)
}

pub(super) fn sdiffstore(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    store(ctx, req, SetOp::Diff)
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
pub(super) fn sintercard(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let (keys, next) = numkeys_or(
        req,
        1,
        CmdError::Msg("ERR Number of keys can't be greater than number of args"),
    )?;
    let limit = limit_arg(req, next)?;
    let n = ctx.s.db.sintercard(&keys, limit)?;
    ctx.int(n as i64)
}

/// `[LIMIT limit]` of SINTERCARD/ZINTERCARD: 0 (none) without it.
pub(super) fn limit_arg(req: &Request<'_>, at: usize) -> Result<usize, CmdError> {
    match req.len() - at {
        0 => Ok(0),
        2 if is(req.arg(at), "limit") => {
            let n = int_arg(req.arg(at + 1))?;
            usize::try_from(n).map_err(|_| CmdError::Msg("ERR LIMIT can't be negative"))
        }
        _ => Err(SYNTAX),
    }
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
pub(super) fn sscan(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let cursor = cursor_arg(req.arg(2))?;
    let opts = scan_options(req, 3)?;
    let (next, items) = ctx.s.db.sscan(req.arg(1), cursor, &opts)?;
    scan_reply(ctx, next, &items)
}
