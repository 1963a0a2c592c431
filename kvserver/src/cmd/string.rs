//! String commands: GET, SET and friends, counters, ranges.

use kvcore::{GetExOption, KeyType, SetCondition, SetExpiry, SetOptions, Store};
use kvproto::Request;

use super::ctx::{CmdResult, Ctx, float_arg, int_arg, is};
use super::error::{CmdError, SYNTAX, arity_error};
use crate::stats::Counter;

pub(super) fn get(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let (s, mut w) = ctx.split();
    // Zero copy: the reply is written straight from the stored value under the shard lock.
    let found = s.db.get_with(req.arg(1), |v| match v {
        Some(b) => {
            w.bulk(b);
            true
        }
        None => {
            w.null();
            false
        }
    })?;
    s.handle.counters.add(
        if found {
            Counter::Hits
        } else {
            Counter::Misses
        },
        1,
    );
    Ok(())
}

/// The expiry options SET and GETEX share (Redis's `parseExtendedStringArgumentsOrReply`): a
/// later option of the same kind wins, two different kinds are a syntax error.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expiry {
    None,
    Ex(i64),
    Px(i64),
    ExAt(i64),
    PxAt(i64),
    KeepTtl,
    Persist,
}

impl Expiry {
    fn same_kind(self, other: Expiry) -> bool {
        std::mem::discriminant(&self) == std::mem::discriminant(&other)
    }
}

/// Parses one expiry option at `args[*i]`; returns `None` if it is not one.
fn expiry_option(
    args: &Request<'_>,
    i: &mut usize,
    current: Expiry,
    allow_keepttl: bool,
    allow_persist: bool,
) -> Result<Option<Expiry>, CmdError> {
    let opt = args.arg(*i);
    let timed: Option<fn(i64) -> Expiry> = if is(opt, "ex") {
        Some(Expiry::Ex)
    } else if is(opt, "px") {
        Some(Expiry::Px)
    } else if is(opt, "exat") {
        Some(Expiry::ExAt)
    } else if is(opt, "pxat") {
        Some(Expiry::PxAt)
    } else {
        None
    };
    let new = if let Some(make) = timed {
        let Some(value) = args.get(*i + 1) else {
            return Err(SYNTAX);
        };
        // A conflicting kind is a syntax error even when its value is bad, as in Redis.
        if current != Expiry::None && !current.same_kind(make(0)) {
            return Err(SYNTAX);
        }
        *i += 1;
        make(int_arg(value)?)
    } else if allow_keepttl && is(opt, "keepttl") {
        Expiry::KeepTtl
    } else if allow_persist && is(opt, "persist") {
        Expiry::Persist
    } else {
        return Ok(None);
    };
    if current != Expiry::None && !current.same_kind(new) {
        return Err(SYNTAX);
    }
    Ok(Some(new))
}

pub(super) fn set(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let mut cond = SetCondition::Always;
    let mut get = false;
    let mut expiry = Expiry::None;
    let mut i = 3;
    while i < req.len() {
        let opt = req.arg(i);
        if is(opt, "nx") && cond != SetCondition::Xx {
            cond = SetCondition::Nx;
        } else if is(opt, "xx") && cond != SetCondition::Nx {
            cond = SetCondition::Xx;
        } else if is(opt, "get") {
            get = true;
        } else if let Some(e) = expiry_option(req, &mut i, expiry, true, false)? {
            expiry = e;
        } else {
            return Err(SYNTAX);
        }
        i += 1;
    }
    let key = req.arg(1);
    let value = req.arg(2);
    if cond == SetCondition::Always && !get && expiry == Expiry::None {
        ctx.s.db.set(key, value)?;
        return ctx.ok();
    }
    let mut opts = SetOptions::new().condition(cond).expiry(match expiry {
        Expiry::Ex(v) => SetExpiry::Ex(v),
        Expiry::Px(v) => SetExpiry::Px(v),
        Expiry::ExAt(v) => SetExpiry::ExAt(v),
        Expiry::PxAt(v) => SetExpiry::PxAt(v),
        Expiry::KeepTtl => SetExpiry::KeepTtl,
        Expiry::None | Expiry::Persist => SetExpiry::None,
    });
    if get {
        opts = opts.get();
    }
    let outcome = ctx.s.db.set_with(key, value, &opts)?;
    if get {
        ctx.bulk_or_null(outcome.previous.as_deref())
    } else if outcome.written {
        ctx.ok()
    } else {
        ctx.bulk_or_null(None)
    }
}

pub(super) fn getex(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let mut expiry = Expiry::None;
    let mut i = 2;
    while i < req.len() {
        match expiry_option(req, &mut i, expiry, false, true)? {
            Some(e) => expiry = e,
            None => return Err(SYNTAX),
        }
        i += 1;
    }
    let opt = match expiry {
        Expiry::Ex(v) => GetExOption::Ex(v),
        Expiry::Px(v) => GetExOption::Px(v),
        Expiry::ExAt(v) => GetExOption::ExAt(v),
        Expiry::PxAt(v) => GetExOption::PxAt(v),
        Expiry::Persist => GetExOption::Persist,
        Expiry::None | Expiry::KeepTtl => GetExOption::Keep,
    };
    let v = ctx.s.db.getex(req.arg(1), opt)?;
    ctx.bulk_or_null(v.as_deref())
}

pub(super) fn getset(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let v = ctx.s.db.getset(req.arg(1), req.arg(2))?;
    ctx.bulk_or_null(v.as_deref())
}

pub(super) fn getdel(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let v = ctx.s.db.getdel(req.arg(1))?;
    ctx.bulk_or_null(v.as_deref())
}

pub(super) fn setnx(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let done = ctx.s.db.setnx(req.arg(1), req.arg(2))?;
    ctx.int(i64::from(done))
}

pub(super) fn setex(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let secs = int_arg(req.arg(2))?;
    ctx.s.db.setex(req.arg(1), secs, req.arg(3))?;
    ctx.ok()
}

pub(super) fn psetex(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let ms = int_arg(req.arg(2))?;
    ctx.s.db.psetex(req.arg(1), ms, req.arg(3))?;
    ctx.ok()
}

pub(super) fn mget(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let keys: Vec<&[u8]> = req.args().skip(1).collect();
    let values = ctx.s.db.mget(&keys);
    let (s, mut w) = ctx.split();
    w.array_len(values.len());
    let mut hits = 0;
    for v in &values {
        match v {
            Some(b) => {
                hits += 1;
                w.bulk(b);
            }
            None => w.null(),
        }
    }
    s.handle.counters.add(Counter::Hits, hits);
    s.handle
        .counters
        .add(Counter::Misses, values.len() as u64 - hits);
    Ok(())
}

/// Key/value pairs of MSET and MSETNX.
type Pairs<'r> = Vec<(&'r [u8], &'r [u8])>;

fn pairs<'r>(req: &'r Request<'_>, name: &str) -> Result<Pairs<'r>, CmdError> {
    if req.len().is_multiple_of(2) {
        return Err(CmdError::Text(arity_error(name)));
    }
    Ok((1..req.len())
        .step_by(2)
        .map(|i| (req.arg(i), req.arg(i + 1)))
        .collect())
}

pub(super) fn mset(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let pairs = pairs(req, "mset")?;
    ctx.s.db.mset(&pairs)?;
    ctx.ok()
}

pub(super) fn msetnx(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let pairs = pairs(req, "msetnx")?;
    let done = ctx.s.db.msetnx(&pairs)?;
    ctx.int(i64::from(done))
}

pub(super) fn append(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let len = ctx.s.db.append(req.arg(1), req.arg(2))?;
    ctx.int(len as i64)
}

pub(super) fn strlen(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let len = ctx.s.db.strlen(req.arg(1))?;
    ctx.int(len as i64)
}

/// GETRANGE and its old name SUBSTR.
pub(super) fn getrange(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let start = int_arg(req.arg(2))?;
    let end = int_arg(req.arg(3))?;
    let v = ctx.s.db.getrange(req.arg(1), start, end)?;
    ctx.w().bulk(&v);
    Ok(())
}

pub(super) fn setrange(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let offset = int_arg(req.arg(2))?;
    let offset = u64::try_from(offset).map_err(|_| CmdError::Msg("ERR offset is out of range"))?;
    let len = ctx.s.db.setrange(req.arg(1), offset, req.arg(3))?;
    ctx.int(len as i64)
}

pub(super) fn incr(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let v = ctx.s.db.incr(req.arg(1))?;
    ctx.int(v)
}

pub(super) fn decr(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let v = ctx.s.db.decr(req.arg(1))?;
    ctx.int(v)
}

pub(super) fn incrby(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let by = int_arg(req.arg(2))?;
    let v = ctx.s.db.incrby(req.arg(1), by)?;
    ctx.int(v)
}

pub(super) fn decrby(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let by = int_arg(req.arg(2))?;
    if by == i64::MIN {
        return Err(CmdError::Msg("ERR decrement would overflow"));
    }
    let v = ctx.s.db.decrby(req.arg(1), by)?;
    ctx.int(v)
}

/// Adds in x87 `long double` (kvcore's [`LongDouble`](kvcore::LongDouble)), parsed from the
/// argument's text, so replies are Redis's digit for digit.
pub(super) fn incrbyfloat(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let by = match float_arg(req.arg(2)) {
        Ok(by) => by,
        // Redis looks the key up before it reads the increment: WRONGTYPE wins over a bad
        // number (HINCRBYFLOAT reads its increment first, as Redis does).
        Err(e) => match ctx.s.db.key_type(req.arg(1)) {
            Some(t) if t != KeyType::String => return Err(kvcore::Error::WrongType.into()),
            _ => return Err(e),
        },
    };
    let v = ctx.s.db.incrbyfloat(req.arg(1), by)?;
    ctx.w().bulk(&v);
    Ok(())
}
