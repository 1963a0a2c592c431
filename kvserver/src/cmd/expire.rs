//! Expiry commands: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (with NX/XX/GT/LT), TTL, PTTL,
//! EXPIRETIME, PEXPIRETIME, PERSIST.

use std::time::Duration;

use kvcore::{ExpireCondition, ExpireTime, Store, Ttl};
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
    ctx.int(ttl_reply(v, Duration::as_secs))
}

pub(super) fn pttl(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let v = ctx.s.db.pttl(req.arg(1));
    ctx.int(ttl_reply(v, as_millis))
}

pub(super) fn expiretime(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let v = ctx.s.db.expiretime(req.arg(1));
    ctx.int(expire_time_reply(v, Duration::as_secs))
}

pub(super) fn pexpiretime(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let v = ctx.s.db.pexpiretime(req.arg(1));
    ctx.int(expire_time_reply(v, as_millis))
}

/// Redis's integer for TTL/PTTL: `-2` for a missing key, `-1` for one without expiry,
/// otherwise the time left in the command's unit (kvcore already rounded TTL's seconds).
fn ttl_reply(t: Ttl, unit: fn(&Duration) -> u64) -> i64 {
    match t {
        Ttl::Missing => -2,
        Ttl::Persistent => -1,
        Ttl::ExpiresIn(left) => saturate(unit(&left)),
    }
}

/// Redis's integer for EXPIRETIME/PEXPIRETIME, with `-2` and `-1` as for TTL.
fn expire_time_reply(t: ExpireTime, unit: fn(&Duration) -> u64) -> i64 {
    match t {
        ExpireTime::Missing => -2,
        ExpireTime::Persistent => -1,
        ExpireTime::ExpiresAt(since_epoch) => saturate(unit(&since_epoch)),
    }
}

fn as_millis(d: &Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Deadlines are at most `i64::MAX` ms (EXPIRE's arithmetic checks that), so this never clips.
fn saturate(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(super) fn persist(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let done = ctx.s.db.persist(req.arg(1))?;
    ctx.int(i64::from(done))
}
