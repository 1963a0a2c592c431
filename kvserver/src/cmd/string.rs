//! String commands: GET, SET and friends, counters, ranges.

use kvcore::{GetExOption, KeyType, SetCondition, SetExpiry, SetOptions, Store};
use kvproto::Request;

use super::ctx::{CmdResult, Ctx, float_arg, int_arg, is};
use super::error::{CmdError, SYNTAX, arity_error};
use super::spec::{Begin::Index, Find::Range, Group, a, ks};
use super::table::Command;
use crate::stats::Counter;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("append", 3, "write denyoom fast", append)
        .acl("@string").keys(&[ks("RW insert", Index(1), Range(0, 1, 0))])
        .doc(Group::String, "2.0.0", "Appends a string to the value of a key. Creates the key if it doesn't exist.")
        .complexity("O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.")
        .args(&[a("key", "key").key(0), a("value", "string")]),
    Command::new("decr", 2, "write denyoom fast", decr)
        .acl("@string").keys(&[ks("RW access update", Index(1), Range(0, 1, 0))])
        .doc(Group::String, "1.0.0", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0)]),
    Command::new("decrby", 3, "write denyoom fast", decrby)
        .acl("@string").keys(&[ks("RW access update", Index(1), Range(0, 1, 0))])
        .doc(Group::String, "1.0.0", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0), a("decrement", "integer")]),
    Command::new("get", 2, "readonly fast", get)
        .acl("@string").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::String, "1.0.0", "Returns the string value of a key.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0)]),
    Command::new("getdel", 2, "write fast", getdel)
        .acl("@string").keys(&[ks("RW access delete", Index(1), Range(0, 1, 0))])
        .doc(Group::String, "6.2.0", "Returns the string value of a key after deleting the key.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0)]),
    Command::new("getex", -2, "write fast", getex)
        .acl("@string")
        .keys(&[ks("RW access update", Index(1), Range(0, 1, 0)).notes("RW and UPDATE because it changes the TTL")])
        .doc(Group::String, "6.2.0", "Returns the string value of a key after setting its expiration time.")
        .complexity("O(1)")
        .args(&[
            a("key", "key").key(0),
            a("expiration", "oneof").flags("optional").args(&[
                a("seconds", "integer").token("EX"),
                a("milliseconds", "integer").token("PX"),
                a("unix-time-seconds", "unix-time").token("EXAT"),
                a("unix-time-milliseconds", "unix-time").token("PXAT"),
                a("persist", "pure-token").token("PERSIST"),
            ]),
        ]),
    Command::new("getrange", 4, "readonly", getrange)
        .acl("@string").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::String, "2.4.0", "Returns a substring of the string stored at a key.")
        .complexity("O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.")
        .args(&[a("key", "key").key(0), a("start", "integer"), a("end", "integer")]),
    Command::new("getset", 3, "write denyoom fast", getset)
        .acl("@string").keys(&[ks("RW access update", Index(1), Range(0, 1, 0))])
        .doc(Group::String, "1.0.0", "Returns the previous string value of a key after setting it to a new value.")
        .complexity("O(1)")
        .deprecated("6.2.0", "`SET` with the `!GET` argument")
        .args(&[a("key", "key").key(0), a("value", "string")]),
    Command::new("incr", 2, "write denyoom fast", incr)
        .acl("@string").keys(&[ks("RW access update", Index(1), Range(0, 1, 0))])
        .doc(Group::String, "1.0.0", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0)]),
    Command::new("incrby", 3, "write denyoom fast", incrby)
        .acl("@string").keys(&[ks("RW access update", Index(1), Range(0, 1, 0))])
        .doc(Group::String, "1.0.0", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0), a("increment", "integer")]),
    Command::new("incrbyfloat", 3, "write denyoom fast", incrbyfloat)
        .acl("@string").keys(&[ks("RW access update", Index(1), Range(0, 1, 0))])
        .doc(Group::String, "2.6.0", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0), a("increment", "double")]),
    Command::new("mget", -2, "readonly fast", mget)
        .acl("@string").tips(&["request_policy:multi_shard"]).keys(&[ks("RO access", Index(1), Range(-1, 1, 0))])
        .doc(Group::String, "1.0.0", "Atomically returns the string values of one or more keys.")
        .complexity("O(N) where N is the number of keys to retrieve.")
        .args(&[a("key", "key").key(0).flags("multiple")]),
    Command::new("mset", -3, "write denyoom", mset)
        .acl("@string")
        .tips(&["request_policy:multi_shard", "response_policy:all_succeeded"])
        .keys(&[ks("OW update", Index(1), Range(-1, 2, 0))])
        .doc(Group::String, "1.0.1", "Atomically creates or modifies the string values of one or more keys.")
        .complexity("O(N) where N is the number of keys to set.")
        .args(&[
            a("key_value", "block").flags("multiple").args(&[a("key", "key").key(0), a("value", "string")]),
        ]),
    Command::new("msetnx", -3, "write denyoom", msetnx)
        .acl("@string")
        .tips(&["request_policy:multi_shard", "response_policy:agg_min"])
        .keys(&[ks("OW insert", Index(1), Range(-1, 2, 0))])
        .doc(Group::String, "1.0.1", "Atomically modifies the string values of one or more keys only when all keys don't exist.")
        .complexity("O(N) where N is the number of keys to set.")
        .args(&[
            a("key_value", "block").flags("multiple").args(&[a("key", "key").key(0), a("value", "string")]),
        ]),
    Command::new("psetex", 4, "write denyoom", psetex)
        .acl("@string").keys(&[ks("OW update", Index(1), Range(0, 1, 0))])
        .doc(Group::String, "2.6.0", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0), a("milliseconds", "integer"), a("value", "string")]),
    Command::new("set", -3, "write denyoom", set)
        .acl("@string")
        .keys(&[ks("RW access update variable_flags", Index(1), Range(0, 1, 0)).notes("RW and ACCESS due to the optional `GET` argument")])
        .doc(Group::String, "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.")
        .complexity("O(1)")
        .history(&[
            ("2.6.12", "Added the `EX`, `PX`, `NX` and `XX` options."),
            ("6.0.0", "Added the `KEEPTTL` option."),
            ("6.2.0", "Added the `GET`, `EXAT` and `PXAT` option."),
            ("7.0.0", "Allowed the `NX` and `GET` options to be used together."),
        ])
        .args(&[
            a("key", "key").key(0),
            a("value", "string"),
            a("condition", "oneof").since("2.6.12").flags("optional").args(&[
                a("nx", "pure-token").token("NX"),
                a("xx", "pure-token").token("XX"),
            ]),
            a("get", "pure-token").token("GET").since("6.2.0").flags("optional"),
            a("expiration", "oneof").flags("optional").args(&[
                a("seconds", "integer").token("EX").since("2.6.12"),
                a("milliseconds", "integer").token("PX").since("2.6.12"),
                a("unix-time-seconds", "unix-time").token("EXAT").since("6.2.0"),
                a("unix-time-milliseconds", "unix-time").token("PXAT").since("6.2.0"),
                a("keepttl", "pure-token").token("KEEPTTL").since("6.0.0"),
            ]),
        ]),
    Command::new("setex", 4, "write denyoom", setex)
        .acl("@string").keys(&[ks("OW update", Index(1), Range(0, 1, 0))])
        .doc(Group::String, "2.0.0", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0), a("seconds", "integer"), a("value", "string")]),
    Command::new("setnx", 3, "write denyoom fast", setnx)
        .acl("@string").keys(&[ks("OW insert", Index(1), Range(0, 1, 0))])
        .doc(Group::String, "1.0.0", "Set the string value of a key only when the key doesn't exist.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0), a("value", "string")]),
    Command::new("setrange", 4, "write denyoom", setrange)
        .acl("@string").keys(&[ks("RW update", Index(1), Range(0, 1, 0))])
        .doc(Group::String, "2.2.0", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.")
        .complexity("O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.")
        .args(&[a("key", "key").key(0), a("offset", "integer"), a("value", "string")]),
    Command::new("strlen", 2, "readonly fast", strlen)
        .acl("@string").keys(&[ks("RO", Index(1), Range(0, 1, 0))])
        .doc(Group::String, "2.2.0", "Returns the length of a string value.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0)]),
    Command::new("substr", 4, "readonly", getrange)
        .acl("@string").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::String, "1.0.0", "Returns a substring from a string value.")
        .complexity("O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.")
        .deprecated("2.0.0", "`GETRANGE`")
        .args(&[a("key", "key").key(0), a("start", "integer"), a("end", "integer")]),
];

fn get(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
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

fn set(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
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

fn getex(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
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

fn getset(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let v = ctx.s.db.getset(req.arg(1), req.arg(2))?;
    ctx.bulk_or_null(v.as_deref())
}

fn getdel(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let v = ctx.s.db.getdel(req.arg(1))?;
    ctx.bulk_or_null(v.as_deref())
}

fn setnx(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let done = ctx.s.db.setnx(req.arg(1), req.arg(2))?;
    ctx.int(i64::from(done))
}

fn setex(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let secs = int_arg(req.arg(2))?;
    ctx.s.db.setex(req.arg(1), secs, req.arg(3))?;
    ctx.ok()
}

fn psetex(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let ms = int_arg(req.arg(2))?;
    ctx.s.db.psetex(req.arg(1), ms, req.arg(3))?;
    ctx.ok()
}

fn mget(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let keys: Vec<&[u8]> = req.args().skip(1).collect();
    let values = ctx.s.db.mget(&keys)?;
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

fn mset(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let pairs = pairs(req, "mset")?;
    ctx.s.db.mset(&pairs)?;
    ctx.ok()
}

fn msetnx(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let pairs = pairs(req, "msetnx")?;
    let done = ctx.s.db.msetnx(&pairs)?;
    ctx.int(i64::from(done))
}

fn append(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let len = ctx.s.db.append(req.arg(1), req.arg(2))?;
    ctx.int(len as i64)
}

fn strlen(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let len = ctx.s.db.strlen(req.arg(1))?;
    ctx.int(len as i64)
}

/// GETRANGE and its old name SUBSTR.
fn getrange(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let start = int_arg(req.arg(2))?;
    let end = int_arg(req.arg(3))?;
    let v = ctx.s.db.getrange(req.arg(1), start, end)?;
    ctx.w().bulk(&v);
    Ok(())
}

fn setrange(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let offset = int_arg(req.arg(2))?;
    let offset = u64::try_from(offset).map_err(|_| CmdError::Msg("ERR offset is out of range"))?;
    let len = ctx.s.db.setrange(req.arg(1), offset, req.arg(3))?;
    ctx.int(len as i64)
}

fn incr(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let v = ctx.s.db.incr(req.arg(1))?;
    ctx.int(v)
}

fn decr(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let v = ctx.s.db.decr(req.arg(1))?;
    ctx.int(v)
}

fn incrby(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let by = int_arg(req.arg(2))?;
    let v = ctx.s.db.incrby(req.arg(1), by)?;
    ctx.int(v)
}

fn decrby(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let by = int_arg(req.arg(2))?;
    if by == i64::MIN {
        return Err(CmdError::Msg("ERR decrement would overflow"));
    }
    let v = ctx.s.db.decrby(req.arg(1), by)?;
    ctx.int(v)
}

/// Adds in x87 `long double` (kvcore's [`LongDouble`](kvcore::LongDouble)), parsed from the
/// argument's text, so replies are Redis's digit for digit.
fn incrbyfloat(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let by = match float_arg(req.arg(2)) {
        Ok(by) => by,
        // Redis looks the key up before it reads the increment: WRONGTYPE wins over a bad
        // number (HINCRBYFLOAT reads its increment first, as Redis does).
        Err(e) => match ctx.s.db.peek_type(req.arg(1)) {
            Some(t) if t != KeyType::String => return Err(kvcore::Error::WrongType.into()),
            _ => return Err(e),
        },
    };
    let v = ctx.s.db.incrbyfloat(req.arg(1), by)?;
    ctx.w().bulk(&v);
    Ok(())
}
