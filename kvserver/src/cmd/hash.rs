//! Hash commands over `kvcore::HashStore`.

use kvcore::HashStore;
use kvproto::Request;

use super::ctx::{
    CmdResult, Ctx, float_arg, int_arg, is, random_count_arg, random_count_cap, random_pairs_range,
};
use super::error::{CmdError, SYNTAX, arity_error};
use super::keys::{cursor_arg, scan_options};

/// Field/value pairs from `req.arg(2)` on.
type Pairs<'r> = Vec<(&'r [u8], &'r [u8])>;

fn pairs<'r>(req: &'r Request<'_>, name: &str) -> Result<Pairs<'r>, CmdError> {
    if !req.len().is_multiple_of(2) {
        return Err(CmdError::Text(arity_error(name)));
    }
    Ok((2..req.len())
        .step_by(2)
        .map(|i| (req.arg(i), req.arg(i + 1)))
        .collect())
}

pub(super) fn hset(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    if req.len() == 4 {
        // One field (the usual HSET): no Vec for the pairs.
        let n = ctx.s.db.hset(req.arg(1), &[(req.arg(2), req.arg(3))])?;
        return ctx.int(n as i64);
    }
    let pairs = pairs(req, "hset")?;
    let n = ctx.s.db.hset(req.arg(1), &pairs)?;
    ctx.int(n as i64)
}

pub(super) fn hmset(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let pairs = pairs(req, "hmset")?;
    ctx.s.db.hset(req.arg(1), &pairs)?;
    ctx.ok()
}

pub(super) fn hsetnx(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let done = ctx.s.db.hsetnx(req.arg(1), req.arg(2), req.arg(3))?;
    ctx.int(i64::from(done))
}

pub(super) fn hget(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let v = ctx.s.db.hget(req.arg(1), req.arg(2))?;
    ctx.bulk_or_null(v.as_deref())
}

pub(super) fn hmget(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let fields: Vec<&[u8]> = req.args().skip(2).collect();
    let values = ctx.s.db.hmget(req.arg(1), &fields)?;
    let mut w = ctx.w();
    w.array_len(values.len());
    for v in &values {
        match v {
            Some(b) => w.bulk(b),
            None => w.null(),
        }
    }
    Ok(())
}

pub(super) fn hdel(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let fields: Vec<&[u8]> = req.args().skip(2).collect();
    let n = ctx.s.db.hdel(req.arg(1), &fields)?;
    ctx.int(n as i64)
}

pub(super) fn hlen(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let n = ctx.s.db.hlen(req.arg(1))?;
    ctx.int(n as i64)
}

pub(super) fn hstrlen(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let n = ctx.s.db.hstrlen(req.arg(1), req.arg(2))?;
    ctx.int(n as i64)
}

pub(super) fn hexists(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let found = ctx.s.db.hexists(req.arg(1), req.arg(2))?;
    ctx.int(i64::from(found))
}

pub(super) fn hkeys(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let items = ctx.s.db.hkeys(req.arg(1))?;
    ctx.bulks(&items)
}

pub(super) fn hvals(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let items = ctx.s.db.hvals(req.arg(1))?;
    ctx.bulks(&items)
}

/// HGETALL: a map in RESP3, a flat field/value array in RESP2.
pub(super) fn hgetall(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let items = ctx.s.db.hgetall(req.arg(1))?;
    let mut w = ctx.w();
    w.map_len(items.len());
    for (f, v) in &items {
        w.bulk(f);
        w.bulk(v);
    }
    Ok(())
}

pub(super) fn hincrby(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let delta = int_arg(req.arg(3))?;
    let n = ctx.s.db.hincrby(req.arg(1), req.arg(2), delta)?;
    ctx.int(n)
}

pub(super) fn hincrbyfloat(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let delta = float_arg(req.arg(3))?;
    if !delta.is_finite() {
        return Err(CmdError::Msg("ERR value is NaN or Infinity"));
    }
    let v = ctx.s.db.hincrbyfloat(req.arg(1), req.arg(2), delta)?;
    ctx.w().bulk(&v);
    Ok(())
}

/// HRANDFIELD key [count [WITHVALUES]]
pub(super) fn hrandfield(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    if req.len() == 2 {
        let v = ctx.s.db.hrandfield(req.arg(1))?;
        return ctx.bulk_or_null(v.as_deref());
    }
    let count = random_count_arg(req.arg(2))?;
    let with_values = match req.len() {
        3 => false,
        4 if is(req.arg(3), "withvalues") => true,
        _ => return Err(SYNTAX),
    };
    if with_values {
        random_pairs_range(count)?;
    }
    if random_count_cap(count) && ctx.s.db.hlen(req.arg(1))? > 0 {
        return Err(CmdError::Msg("ERR value is out of range"));
    }
    let count = if random_count_cap(count) { 0 } else { count };
    let items = ctx.s.db.hrandfield_count(req.arg(1), count)?;
    let mut w = ctx.w();
    if !with_values {
        w.array_len(items.len());
        for (f, _) in &items {
            w.bulk(f);
        }
    } else if w.version() == kvproto::Version::Resp3 {
        // RESP3: one [field, value] pair per entry, as Redis 7 replies.
        w.array_len(items.len());
        for (f, v) in &items {
            w.array_len(2);
            w.bulk(f);
            w.bulk(v);
        }
    } else {
        w.array_len(items.len() * 2);
        for (f, v) in &items {
            w.bulk(f);
            w.bulk(v);
        }
    }
    Ok(())
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]
pub(super) fn hscan(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let cursor = cursor_arg(req.arg(2))?;
    let opts = scan_options(req, 3)?;
    let (next, items) = ctx.s.db.hscan(req.arg(1), cursor, &opts)?;
    let mut w = ctx.w();
    w.array_len(2);
    w.bulk(next.to_string().as_bytes());
    w.array_len(items.len() * 2);
    for (f, v) in &items {
        w.bulk(f);
        w.bulk(v);
    }
    Ok(())
}
