//! Expiry commands: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (with NX/XX/GT/LT), TTL, PTTL,
//! EXPIRETIME, PEXPIRETIME, PERSIST.

use kvcore::{ExpireCondition, Store};
use kvproto::Request;

use super::ctx::{CmdResult, Ctx, int_arg, is};
use super::error::{CmdError, c_str, raw_error};

/// Redis 7's option flags; XX may be combined with GT or LT.
fn condition(req: &Request<'_>) -> Result<ExpireCondition, CmdError> {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in req.args().skip(3) {
        if is(opt, "nx") {
            nx = true;
        } else if is(opt, "xx") {
            xx = true;
        } else if is(opt, "gt") {
            gt = true;
        } else if is(opt, "lt") {
            lt = true;
        } else {
            return Err(raw_error(&[b"ERR Unsupported option ", c_str(opt)]));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CmdError::Msg(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(CmdError::Msg(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    // XX+GT is GT: GT never sets an expiry on a key without one.
    Ok(if nx {
        ExpireCondition::Nx
    } else if gt {
        ExpireCondition::Gt
    } else if lt && xx {
        ExpireCondition::XxLt
    } else if lt {
        ExpireCondition::Lt
    } else if xx {
        ExpireCondition::Xx
    } else {
        ExpireCondition::None
    })
}

#[derive(Clone, Copy)]
enum Unit {
    Secs,
    Ms,
    UnixSecs,
    UnixMs,
}

fn set_expiry(ctx: &mut Ctx<'_>, req: &Request<'_>, unit: Unit) -> CmdResult {
    // Redis checks the options before the time.
    let cond = condition(req)?;
    let value = int_arg(req.arg(2))?;
    let key = req.arg(1);
    let db = &ctx.s.db;
    let done = match unit {
        Unit::Secs => db.expire(key, value, cond)?,
        Unit::Ms => db.pexpire(key, value, cond)?,
        Unit::UnixSecs => db.expireat(key, value, cond)?,
        Unit::UnixMs => db.pexpireat(key, value, cond)?,
    };
    ctx.int(i64::from(done))
}

pub(super) fn expire(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    set_expiry(ctx, req, Unit::Secs)
}

pub(super) fn pexpire(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    set_expiry(ctx, req, Unit::Ms)
}

pub(super) fn expireat(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    set_expiry(ctx, req, Unit::UnixSecs)
}

pub(super) fn pexpireat(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    set_expiry(ctx, req, Unit::UnixMs)
}

pub(super) fn ttl(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let v = ctx.s.db.ttl(req.arg(1));
    ctx.int(v)
}

pub(super) fn pttl(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let v = ctx.s.db.pttl(req.arg(1));
    ctx.int(v)
}

pub(super) fn expiretime(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let v = ctx.s.db.expiretime(req.arg(1));
    ctx.int(v)
}

pub(super) fn pexpiretime(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let v = ctx.s.db.pexpiretime(req.arg(1));
    ctx.int(v)
}

pub(super) fn persist(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let done = ctx.s.db.persist(req.arg(1))?;
    ctx.int(i64::from(done))
}
