//! Blocking list and sorted-set pops: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN,
//! BZPOPMAX, BZMPOP. Each tries its non-blocking form; if nothing is there it waits in line
//! (see `crate::waiters`) until a writer serves it, its timeout, or the client going away.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use kvcore::{End, ListStore, ZSetStore, format_score};
use kvproto::{Request, Version, Writer};

use super::ctx::{CmdResult, Ctx, is};
use super::error::{CmdError, SYNTAX};
use super::list::{end_arg, mpop_count, numkeys};
use crate::waiters::{Attempt, Wait};

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
struct BlockedFlag(Arc<crate::registry::ClientHandle>);

impl BlockedFlag {
    fn set(handle: &Arc<crate::registry::ClientHandle>) -> BlockedFlag {
        handle.blocked.store(true, Ordering::Relaxed);
        BlockedFlag(Arc::clone(handle))
    }
}

impl Drop for BlockedFlag {
    fn drop(&mut self) {
        self.0.blocked.store(false, Ordering::Relaxed);
    }
}

/// Runs `attempt` now; if it finds nothing, waits (first come, first served) until a writer
/// serves it, the deadline passes (`Ok(None)`), or the client is gone (`Ok(None)`, session
/// marked for closing).
fn block_on<T: Send + 'static>(
    ctx: &mut Ctx<'_>,
    deadline: Option<Instant>,
    keys: &[&[u8]],
    attempt: Attempt<T>,
) -> Result<Option<T>, CmdError> {
    let shared = Arc::clone(&ctx.s.shared);
    let handle = Arc::clone(&ctx.s.handle);
    let _flag = BlockedFlag::set(&handle);
    // Wake up at the deadline, and at least every POLL to notice a vanished client.
    let poll = deadline.map_or(POLL, |d| {
        d.saturating_duration_since(Instant::now())
            .clamp(Duration::from_millis(1), POLL)
    });
    let mut gone = false;
    let outcome = shared
        .waiters
        .block(ctx.s.db_index, keys, attempt, poll, || {
            if handle.is_killed() || shared.stopping.load(Ordering::Relaxed) || handle.peer_closed()
            {
                gone = true;
                return true;
            }
            deadline.is_some_and(|d| Instant::now() >= d)
        })?;
    match outcome {
        Wait::Ready(v) => Ok(Some(v)),
        Wait::Stopped => {
            ctx.s.close |= gone;
            Ok(None)
        }
    }
}

fn owned(keys: &[&[u8]]) -> Vec<Vec<u8>> {
    keys.iter().map(|k| k.to_vec()).collect()
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
    let (db, owned_keys) = (ctx.s.db.clone(), owned(&keys));
    let attempt: Attempt<_> = Box::new(move || db.lmpop(&owned_keys, end, 1));
    let got = block_on(ctx, deadline, &keys, attempt)?;
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
    let (src, dst) = (req.arg(1).to_vec(), req.arg(2).to_vec());
    let db = ctx.s.db.clone();
    let attempt: Attempt<_> = Box::new(move || db.lmove(&src, &dst, from, to));
    let got = block_on(ctx, deadline, &[req.arg(1)], attempt)?;
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
    let (db, owned_keys) = (ctx.s.db.clone(), owned(&keys));
    let attempt: Attempt<_> = Box::new(move || db.lmpop(&owned_keys, end, count));
    let got = block_on(ctx, deadline, &keys, attempt)?;
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
    let (db, owned_keys) = (ctx.s.db.clone(), owned(&keys));
    let attempt: Attempt<_> = Box::new(move || db.zmpop(&owned_keys, max, 1));
    let got = block_on(ctx, deadline, &keys, attempt)?;
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
    let (db, owned_keys) = (ctx.s.db.clone(), owned(&keys));
    let attempt: Attempt<_> = Box::new(move || db.zmpop(&owned_keys, max, count));
    let got = block_on(ctx, deadline, &keys, attempt)?;
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
