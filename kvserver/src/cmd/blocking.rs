//! Blocking list and sorted-set pops: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN,
//! BZPOPMAX, BZMPOP. Each tries its non-blocking form; if nothing is there it waits (see
//! `crate::blocking`) until a write, its timeout, or the client going away.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use kvcore::{End, ListStore, ZSetStore, format_score};
use kvproto::{Request, Version, Writer};

use super::ctx::{CmdResult, Ctx, is};
use super::error::{CmdError, SYNTAX};
use super::list::{end_arg, mpop_count, numkeys};

/// How often a blocked client checks whether it was killed, the server is stopping, or its
/// peer hung up.
const POLL: Duration = Duration::from_millis(100);

/// Redis's timeout argument: seconds as a float; 0 waits forever.
fn deadline_arg(b: &[u8]) -> Result<Option<Instant>, CmdError> {
    const BAD: CmdError = CmdError::Msg("ERR timeout is not a float or out of range");
    let secs: f64 = std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(BAD)?;
    if !secs.is_finite() {
        return Err(BAD);
    }
    if secs < 0.0 {
        return Err(CmdError::Msg("ERR timeout is negative"));
    }
    if secs == 0.0 {
        return Ok(None);
    }
    let d = Duration::try_from_secs_f64(secs).map_err(|_| BAD)?;
    Ok(Instant::now().checked_add(d))
}

/// Shows the client as blocked in CLIENT LIST for as long as it lives.
struct BlockedFlag(Arc<crate::client::ClientHandle>);

impl BlockedFlag {
    fn set(handle: &Arc<crate::client::ClientHandle>) -> BlockedFlag {
        handle.blocked.store(true, Ordering::Relaxed);
        BlockedFlag(Arc::clone(handle))
    }
}

impl Drop for BlockedFlag {
    fn drop(&mut self) {
        self.0.blocked.store(false, Ordering::Relaxed);
    }
}

/// Runs `attempt` until it yields a value, the deadline passes (`Ok(None)`), or the client is
/// gone (`Ok(None)` with the session marked for closing).
fn block_on<T>(
    ctx: &mut Ctx<'_>,
    deadline: Option<Instant>,
    mut attempt: impl FnMut(&kvcore::Db) -> kvcore::Result<Option<T>>,
) -> Result<Option<T>, CmdError> {
    let shared = Arc::clone(&ctx.s.shared);
    let _waiting = shared.blocking.enter();
    let _flag = BlockedFlag::set(&ctx.s.handle);
    loop {
        let seen = shared.blocking.generation();
        if let Some(v) = attempt(&ctx.s.db)? {
            return Ok(Some(v));
        }
        let now = Instant::now();
        let wait = match deadline {
            Some(d) if d <= now => return Ok(None),
            Some(d) => (d - now).min(POLL),
            None => POLL,
        };
        shared.blocking.wait(seen, wait);
        let h = &ctx.s.handle;
        if h.is_killed() || shared.stopping.load(Ordering::Relaxed) || h.peer_closed() {
            ctx.s.close = true;
            return Ok(None);
        }
    }
}

fn keys_and_deadline<'r>(
    req: &'r Request<'_>,
) -> Result<(Vec<&'r [u8]>, Option<Instant>), CmdError> {
    let deadline = deadline_arg(req.arg(req.len() - 1))?;
    Ok((req.args().skip(1).take(req.len() - 2).collect(), deadline))
}

/// BLPOP/BRPOP key [key ...] timeout: `[key, element]`.
fn bpop(ctx: &mut Ctx<'_>, req: &Request<'_>, end: End) -> CmdResult {
    let (keys, deadline) = keys_and_deadline(req)?;
    let got = block_on(ctx, deadline, |db| db.lmpop(&keys, end, 1))?;
    let mut w = ctx.w();
    match got {
        Some((key, mut items)) => {
            w.array_len(2);
            w.bulk(&key);
            w.bulk(&items.pop().unwrap_or_default());
        }
        None => w.null_array(),
    }
    Ok(())
}

pub(super) fn blpop(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    bpop(ctx, req, End::Left)
}

pub(super) fn brpop(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    bpop(ctx, req, End::Right)
}

fn bmove(ctx: &mut Ctx<'_>, req: &Request<'_>, from: End, to: End, timeout: &[u8]) -> CmdResult {
    let deadline = deadline_arg(timeout)?;
    let (src, dst) = (req.arg(1), req.arg(2));
    let got = block_on(ctx, deadline, |db| db.lmove(src, dst, from, to))?;
    let mut w = ctx.w();
    match got {
        Some(v) => w.bulk(&v),
        None => w.null_array(),
    }
    Ok(())
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
pub(super) fn blmove(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let (from, to) = (end_arg(req.arg(3))?, end_arg(req.arg(4))?);
    bmove(ctx, req, from, to, req.arg(5))
}

/// BRPOPLPUSH source destination timeout
pub(super) fn brpoplpush(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    bmove(ctx, req, End::Right, End::Left, req.arg(3))
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
pub(super) fn blmpop(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let deadline = deadline_arg(req.arg(1))?;
    let (keys, next) = numkeys(req, 2)?;
    let end = end_arg(req.get(next).ok_or(SYNTAX)?)?;
    let count = mpop_count(req, next + 1)?;
    let got = block_on(ctx, deadline, |db| db.lmpop(&keys, end, count))?;
    let mut w = ctx.w();
    match got {
        Some((key, items)) => {
            w.array_len(2);
            w.bulk(&key);
            w.array_len(items.len());
            for i in &items {
                w.bulk(i);
            }
        }
        None => w.null_array(),
    }
    Ok(())
}

fn score(w: &mut Writer<'_>, v: f64) {
    if w.version() == Version::Resp3 {
        w.double(v);
    } else {
        w.bulk(format_score(v).as_bytes());
    }
}

/// BZPOPMIN/BZPOPMAX key [key ...] timeout: `[key, member, score]`.
fn bzpop(ctx: &mut Ctx<'_>, req: &Request<'_>, max: bool) -> CmdResult {
    let (keys, deadline) = keys_and_deadline(req)?;
    let got = block_on(ctx, deadline, |db| db.zmpop(&keys, max, 1))?;
    let mut w = ctx.w();
    match got.and_then(|(key, mut items)| items.pop().map(|i| (key, i))) {
        Some((key, (member, s))) => {
            w.array_len(3);
            w.bulk(&key);
            w.bulk(&member);
            score(&mut w, s);
        }
        None => w.null_array(),
    }
    Ok(())
}

pub(super) fn bzpopmin(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    bzpop(ctx, req, false)
}

pub(super) fn bzpopmax(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    bzpop(ctx, req, true)
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]
pub(super) fn bzmpop(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let deadline = deadline_arg(req.arg(1))?;
    let (keys, next) = numkeys(req, 2)?;
    let which = req.get(next).ok_or(SYNTAX)?;
    let max = if is(which, "min") {
        false
    } else if is(which, "max") {
        true
    } else {
        return Err(SYNTAX);
    };
    let count = mpop_count(req, next + 1)?;
    let got = block_on(ctx, deadline, |db| db.zmpop(&keys, max, count))?;
    let mut w = ctx.w();
    match got {
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

#[cfg(test)]
mod tests {
    use super::deadline_arg;

    #[test]
    fn timeouts() {
        assert_eq!(deadline_arg(b"0").unwrap(), None);
        assert!(deadline_arg(b"0.5").unwrap().is_some());
        assert!(deadline_arg(b"-1").is_err());
        assert!(deadline_arg(b"x").is_err());
        assert!(deadline_arg(b"inf").is_err());
    }
}
