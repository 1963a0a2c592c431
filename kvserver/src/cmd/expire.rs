//! Expiry commands: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (with NX/XX/GT/LT), TTL, PTTL,
//! EXPIRETIME, PEXPIRETIME, PERSIST.

use std::time::Duration;

use kvcore::{ExpireCondition, ExpireTime, Store, Ttl};
use kvproto::Request;

use super::ctx::{CmdResult, Ctx, int_arg, is};
use super::error::{CmdError, c_str, raw_error};
use super::spec::{Begin::Index, Find::Range, Group, a, ks};
use super::table::Command;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("expire", -3, "write fast", expire)
        .acl("@keyspace").keys(&[ks("RW update", Index(1), Range(0, 1, 0))])
        .doc(Group::Generic, "1.0.0", "Sets the expiration time of a key in seconds.")
        .complexity("O(1)")
        .history(&[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")])
        .args(&[
            a("key", "key").key(0),
            a("seconds", "integer"),
            a("condition", "oneof").since("7.0.0").flags("optional").args(&[
                a("nx", "pure-token").token("NX"),
                a("xx", "pure-token").token("XX"),
                a("gt", "pure-token").token("GT"),
                a("lt", "pure-token").token("LT"),
            ]),
        ]),
    Command::new("expireat", -3, "write fast", expireat)
        .acl("@keyspace").keys(&[ks("RW update", Index(1), Range(0, 1, 0))])
        .doc(Group::Generic, "1.2.0", "Sets the expiration time of a key to a Unix timestamp.")
        .complexity("O(1)")
        .history(&[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")])
        .args(&[
            a("key", "key").key(0),
            a("unix-time-seconds", "unix-time"),
            a("condition", "oneof").since("7.0.0").flags("optional").args(&[
                a("nx", "pure-token").token("NX"),
                a("xx", "pure-token").token("XX"),
                a("gt", "pure-token").token("GT"),
                a("lt", "pure-token").token("LT"),
            ]),
        ]),
    Command::new("expiretime", 2, "readonly fast", expiretime)
        .acl("@keyspace").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::Generic, "7.0.0", "Returns the expiration time of a key as a Unix timestamp.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0)]),
    Command::new("persist", 2, "write fast", persist)
        .acl("@keyspace").keys(&[ks("RW update", Index(1), Range(0, 1, 0))])
        .doc(Group::Generic, "2.2.0", "Removes the expiration time of a key.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0)]),
    Command::new("pexpire", -3, "write fast", pexpire)
        .acl("@keyspace").keys(&[ks("RW update", Index(1), Range(0, 1, 0))])
        .doc(Group::Generic, "2.6.0", "Sets the expiration time of a key in milliseconds.")
        .complexity("O(1)")
        .history(&[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")])
        .args(&[
            a("key", "key").key(0),
            a("milliseconds", "integer"),
            a("condition", "oneof").since("7.0.0").flags("optional").args(&[
                a("nx", "pure-token").token("NX"),
                a("xx", "pure-token").token("XX"),
                a("gt", "pure-token").token("GT"),
                a("lt", "pure-token").token("LT"),
            ]),
        ]),
    Command::new("pexpireat", -3, "write fast", pexpireat)
        .acl("@keyspace").keys(&[ks("RW update", Index(1), Range(0, 1, 0))])
        .doc(Group::Generic, "2.6.0", "Sets the expiration time of a key to a Unix milliseconds timestamp.")
        .complexity("O(1)")
        .history(&[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")])
        .args(&[
            a("key", "key").key(0),
            a("unix-time-milliseconds", "unix-time"),
            a("condition", "oneof").since("7.0.0").flags("optional").args(&[
                a("nx", "pure-token").token("NX"),
                a("xx", "pure-token").token("XX"),
                a("gt", "pure-token").token("GT"),
                a("lt", "pure-token").token("LT"),
            ]),
        ]),
    Command::new("pexpiretime", 2, "readonly fast", pexpiretime)
        .acl("@keyspace").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::Generic, "7.0.0", "Returns the expiration time of a key as a Unix milliseconds timestamp.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0)]),
    Command::new("pttl", 2, "readonly fast", pttl)
        .acl("@keyspace").tips(&["nondeterministic_output"]).keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::Generic, "2.6.0", "Returns the expiration time in milliseconds of a key.")
        .complexity("O(1)")
        .history(&[("2.8.0", "Added the -2 reply.")])
        .args(&[a("key", "key").key(0)]),
    Command::new("ttl", 2, "readonly fast", ttl)
        .acl("@keyspace").tips(&["nondeterministic_output"]).keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::Generic, "1.0.0", "Returns the expiration time in seconds of a key.")
        .complexity("O(1)")
        .history(&[("2.8.0", "Added the -2 reply.")])
        .args(&[a("key", "key").key(0)]),
];

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

fn expire(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    set_expiry(ctx, req, Unit::Secs)
}

fn pexpire(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    set_expiry(ctx, req, Unit::Ms)
}

fn expireat(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    set_expiry(ctx, req, Unit::UnixSecs)
}

fn pexpireat(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    set_expiry(ctx, req, Unit::UnixMs)
}

fn ttl(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let v = ctx.s.db.ttl(req.arg(1))?;
    ctx.int(ttl_reply(v, Duration::as_secs))
}

fn pttl(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let v = ctx.s.db.pttl(req.arg(1))?;
    ctx.int(ttl_reply(v, as_millis))
}

fn expiretime(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let v = ctx.s.db.expiretime(req.arg(1))?;
    ctx.int(expire_time_reply(v, Duration::as_secs))
}

fn pexpiretime(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let v = ctx.s.db.pexpiretime(req.arg(1))?;
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

fn persist(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let done = ctx.s.db.persist(req.arg(1))?;
    ctx.int(i64::from(done))
}
