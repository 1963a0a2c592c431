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

/// The expiry options SET and GETEX share (Redis's `parseExtendedStringArgumentsOrReply`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum ExpiryKind {
    None,
    Ex,
    Px,
    ExAt,
    PxAt,
    KeepTtl,
    Persist,
}

/// An expiry option and its still unparsed value: as in Redis, the options are checked for
/// syntax first and only the value that wins is parsed, so `EX abc EX 10` sets a 10 s expiry
/// and `EX abc PX 10` is a syntax error.
#[derive(Clone, Copy)]
struct Expiry<'r> {
    kind: ExpiryKind,
    value: &'r [u8],
}

impl<'r> Expiry<'r> {
    const NONE: Expiry<'static> = Expiry {
        kind: ExpiryKind::None,
        value: b"",
    };

    /// Takes the option at `args[*i]` (and its value) if it is one this command accepts;
    /// returns false if it is not. A later option of the same kind wins; a different kind
    /// after the first is a syntax error.
    fn take(
        &mut self,
        args: &'r Request<'_>,
        i: &mut usize,
        allow_keepttl: bool,
        allow_persist: bool,
    ) -> Result<bool, CmdError> {
        let opt = args.arg(*i);
        let kind = if is(opt, "ex") {
            ExpiryKind::Ex
        } else if is(opt, "px") {
            ExpiryKind::Px
        } else if is(opt, "exat") {
            ExpiryKind::ExAt
        } else if is(opt, "pxat") {
            ExpiryKind::PxAt
        } else if allow_keepttl && is(opt, "keepttl") {
            ExpiryKind::KeepTtl
        } else if allow_persist && is(opt, "persist") {
            ExpiryKind::Persist
        } else {
            return Ok(false);
        };
        if self.kind != ExpiryKind::None && self.kind != kind {
            return Err(SYNTAX);
        }
        self.kind = kind;
        if matches!(kind, ExpiryKind::KeepTtl | ExpiryKind::Persist) {
            return Ok(true);
        }
        // A timed option without a value is a syntax error.
        self.value = args.get(*i + 1).ok_or(SYNTAX)?;
        *i += 1;
        Ok(true)
    }

    /// The value of a timed option, parsed.
    fn amount(&self) -> Result<i64, CmdError> {
        match self.kind {
            ExpiryKind::Ex | ExpiryKind::Px | ExpiryKind::ExAt | ExpiryKind::PxAt => {
                int_arg(self.value)
            }
            _ => Ok(0),
        }
    }
}

pub(super) fn set(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let mut cond = SetCondition::Always;
    let mut get = false;
    let mut expiry = Expiry::NONE;
    let mut i = 3;
    while i < req.len() {
        let opt = req.arg(i);
        if is(opt, "nx") && cond != SetCondition::Xx {
            cond = SetCondition::Nx;
        } else if is(opt, "xx") && cond != SetCondition::Nx {
            cond = SetCondition::Xx;
        } else if is(opt, "get") {
            get = true;
        } else if !expiry.take(req, &mut i, true, false)? {
            return Err(SYNTAX);
        }
        i += 1;
    }
    let key = req.arg(1);
    let value = req.arg(2);
    if cond == SetCondition::Always && !get && expiry.kind == ExpiryKind::None {
        ctx.s.db.set(key, value)?;
        return ctx.ok();
    }
    let n = expiry.amount()?;
    let mut opts = SetOptions::new().condition(cond).expiry(match expiry.kind {
        ExpiryKind::Ex => SetExpiry::Ex(n),
        ExpiryKind::Px => SetExpiry::Px(n),
        ExpiryKind::ExAt => SetExpiry::ExAt(n),
        ExpiryKind::PxAt => SetExpiry::PxAt(n),
        ExpiryKind::KeepTtl => SetExpiry::KeepTtl,
        ExpiryKind::None | ExpiryKind::Persist => SetExpiry::None,
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
    let mut expiry = Expiry::NONE;
    let mut i = 2;
    while i < req.len() {
        if !expiry.take(req, &mut i, false, true)? {
            return Err(SYNTAX);
        }
        i += 1;
    }
    let key = req.arg(1);
    let n = match expiry.amount() {
        Ok(n) => n,
        // Redis answers a missing key (nil) and a wrong type before it parses the value.
        Err(e) => {
            return match ctx.s.db.getex(key, GetExOption::Keep)? {
                None => ctx.bulk_or_null(None),
                Some(_) => Err(e),
            };
        }
    };
    let opt = match expiry.kind {
        ExpiryKind::Ex => GetExOption::Ex(n),
        ExpiryKind::Px => GetExOption::Px(n),
        ExpiryKind::ExAt => GetExOption::ExAt(n),
        ExpiryKind::PxAt => GetExOption::PxAt(n),
        ExpiryKind::Persist => GetExOption::Persist,
        ExpiryKind::None | ExpiryKind::KeepTtl => GetExOption::Keep,
    };
    let v = ctx.s.db.getex(key, opt)?;
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
