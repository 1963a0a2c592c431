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
use super::spec::{
    Begin::Index,
    Find::{Keynum, Range},
    Group, a, ks,
};
use super::table::Command;
use crate::waiters::{Attempt, UNBLOCKED, Unblock, Wait};

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("blmove", 6, "write denyoom noscript blocking", blmove)
        .acl("@list")
        .keys(&[ks("RW access delete", Index(1), Range(0, 1, 0)), ks("RW insert", Index(2), Range(0, 1, 0))])
        .doc(Group::List, "6.2.0", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.")
        .complexity("O(1)")
        .args(&[
            a("source", "key").key(0),
            a("destination", "key").key(1),
            a("wherefrom", "oneof").args(&[
                a("left", "pure-token").token("LEFT"),
                a("right", "pure-token").token("RIGHT"),
            ]),
            a("whereto", "oneof").args(&[
                a("left", "pure-token").token("LEFT"),
                a("right", "pure-token").token("RIGHT"),
            ]),
            a("timeout", "double"),
        ]),
    Command::new("blmpop", -5, "write blocking", blmpop)
        .acl("@list").keys(&[ks("RW access delete", Index(2), Keynum(0, 1, 1))])
        .doc(Group::List, "7.0.0", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.")
        .complexity("O(N+M) where N is the number of provided keys and M is the number of elements returned.")
        .args(&[
            a("timeout", "double"),
            a("numkeys", "integer"),
            a("key", "key").key(0).flags("multiple"),
            a("where", "oneof").args(&[
                a("left", "pure-token").token("LEFT"),
                a("right", "pure-token").token("RIGHT"),
            ]),
            a("count", "integer").token("COUNT").flags("optional"),
        ]),
    Command::new("blpop", -3, "write noscript blocking", blpop)
        .acl("@list").keys(&[ks("RW access delete", Index(1), Range(-2, 1, 0))])
        .doc(Group::List, "2.0.0", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.")
        .complexity("O(N) where N is the number of provided keys.")
        .history(&[("6.0.0", "`timeout` is interpreted as a double instead of an integer.")])
        .args(&[a("key", "key").key(0).flags("multiple"), a("timeout", "double")]),
    Command::new("brpop", -3, "write noscript blocking", brpop)
        .acl("@list").keys(&[ks("RW access delete", Index(1), Range(-2, 1, 0))])
        .doc(Group::List, "2.0.0", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.")
        .complexity("O(N) where N is the number of provided keys.")
        .history(&[("6.0.0", "`timeout` is interpreted as a double instead of an integer.")])
        .args(&[a("key", "key").key(0).flags("multiple"), a("timeout", "double")]),
    Command::new("brpoplpush", 4, "write denyoom noscript blocking", brpoplpush)
        .acl("@list")
        .keys(&[ks("RW access delete", Index(1), Range(0, 1, 0)), ks("RW insert", Index(2), Range(0, 1, 0))])
        .doc(Group::List, "2.2.0", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.")
        .complexity("O(1)")
        .deprecated("6.2.0", "`BLMOVE` with the `RIGHT` and `LEFT` arguments")
        .history(&[("6.0.0", "`timeout` is interpreted as a double instead of an integer.")])
        .args(&[a("source", "key").key(0), a("destination", "key").key(1), a("timeout", "double")]),
    Command::new("bzmpop", -5, "write blocking", bzmpop)
        .acl("@sortedset").keys(&[ks("RW access delete", Index(2), Keynum(0, 1, 1))])
        .doc(Group::SortedSet, "7.0.0", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.")
        .complexity("O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.")
        .args(&[
            a("timeout", "double"),
            a("numkeys", "integer"),
            a("key", "key").key(0).flags("multiple"),
            a("where", "oneof").args(&[
                a("min", "pure-token").token("MIN"),
                a("max", "pure-token").token("MAX"),
            ]),
            a("count", "integer").token("COUNT").flags("optional"),
        ]),
    Command::new("bzpopmax", -3, "write noscript blocking fast", bzpopmax)
        .acl("@sortedset").keys(&[ks("RW access delete", Index(1), Range(-2, 1, 0))])
        .doc(Group::SortedSet, "5.0.0", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.")
        .complexity("O(log(N)) with N being the number of elements in the sorted set.")
        .history(&[("6.0.0", "`timeout` is interpreted as a double instead of an integer.")])
        .args(&[a("key", "key").key(0).flags("multiple"), a("timeout", "double")]),
    Command::new("bzpopmin", -3, "write noscript blocking fast", bzpopmin)
        .acl("@sortedset").keys(&[ks("RW access delete", Index(1), Range(-2, 1, 0))])
        .doc(Group::SortedSet, "5.0.0", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.")
        .complexity("O(log(N)) with N being the number of elements in the sorted set.")
        .history(&[("6.0.0", "`timeout` is interpreted as a double instead of an integer.")])
        .args(&[a("key", "key").key(0).flags("multiple"), a("timeout", "double")]),
];

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

/// Runs `attempt` now; if it finds nothing, waits (first come, first served) until a writer
/// serves it, the deadline passes (`Ok(None)`), CLIENT UNBLOCK ends the wait (`Ok(None)` for
/// TIMEOUT, the `-UNBLOCKED` error for ERROR), or the client is gone (`Ok(None)`, session
/// marked for closing).
pub(super) fn block_on<T: Send + 'static>(
    ctx: &mut Ctx<'_>,
    req: &Request<'_>,
    deadline: Option<Instant>,
    keys: &[&[u8]],
    mut attempt: Attempt<T>,
) -> Result<Option<T>, CmdError> {
    if ctx.s.in_exec() {
        // Inside EXEC a blocking command is its non-blocking form, as in Redis: nothing to
        // pop is an immediate timeout.
        return Ok(attempt()?);
    }
    let shared = Arc::clone(&ctx.s.shared);
    let handle = Arc::clone(&ctx.s.handle);
    // Messages this batch published, and a queued client's queue, go on while it waits.
    let s = &mut *ctx.s;
    // Redis shows a blocking command when it starts to wait.
    s.feed_monitors(req);
    s.flush_monitors();
    if let Err(e) = s.pubsub.before_wait(&shared, &handle, &s.writes) {
        s.close = true;
        return Err(e.into());
    }
    // Wake up at the deadline, and at least every POLL to notice a vanished client.
    let poll = deadline.map_or(POLL, |d| {
        d.saturating_duration_since(Instant::now())
            .clamp(Duration::from_millis(1), POLL)
    });
    let mut gone = false;
    let outcome = shared.waiters.block(
        handle.id,
        ctx.s.db_index,
        keys,
        attempt,
        poll,
        || handle.mark_blocked(),
        || {
            if handle.is_killed()
                || shared.stopping.load(Ordering::Relaxed)
                || handle.peer_closed()
                || shared.coordinator.get().is_some_and(|c| !c.serving())
            {
                gone = true;
                return true;
            }
            deadline.is_some_and(|d| Instant::now() >= d)
        },
    )?;
    match outcome {
        Wait::Ready(v) => Ok(Some(v)),
        Wait::Stopped => {
            ctx.s.close |= gone;
            Ok(None)
        }
        Wait::Unblocked(how) => unblocked(ctx, how).map(|()| None),
    }
}

/// A command CLIENT UNBLOCK ended: TIMEOUT answers as its timeout would, ERROR with
/// `-UNBLOCKED`. Either way Redis 7.0 counts the call as failed in its `cmdstat_` line.
pub(super) fn unblocked(ctx: &mut Ctx<'_>, how: Unblock) -> Result<(), CmdError> {
    match how {
        Unblock::Timeout => {
            ctx.s.count_failed = true;
            Ok(())
        }
        Unblock::Error => Err(CmdError::Msg(UNBLOCKED)),
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
    let got = block_on(ctx, req, deadline, &keys, attempt)?;
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

fn blpop(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    bpop(ctx, req, End::Left)
}

fn brpop(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    bpop(ctx, req, End::Right)
}

fn bmove(ctx: &mut Ctx<'_>, req: &Request<'_>, from: End, to: End, timeout: &[u8]) -> CmdResult {
    let deadline = deadline_arg(timeout)?;
    let (src, dst) = (req.arg(1).to_vec(), req.arg(2).to_vec());
    let db = ctx.s.db.clone();
    let attempt: Attempt<_> = Box::new(move || db.lmove(&src, &dst, from, to));
    let got = block_on(ctx, req, deadline, &[req.arg(1)], attempt)?;
    let mut w = ctx.w();
    match got {
        Some(v) => w.bulk(&v),
        None => w.null_array(),
    }
    Ok(())
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
fn blmove(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let (from, to) = (end_arg(req.arg(3))?, end_arg(req.arg(4))?);
    bmove(ctx, req, from, to, req.arg(5))
}

/// BRPOPLPUSH source destination timeout
fn brpoplpush(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    bmove(ctx, req, End::Right, End::Left, req.arg(3))
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
fn blmpop(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let deadline = deadline_arg(req.arg(1))?;
    let (keys, next) = numkeys(req, 2)?;
    let end = end_arg(req.get(next).ok_or(SYNTAX)?)?;
    let count = mpop_count(req, next + 1)?;
    let (db, owned_keys) = (ctx.s.db.clone(), owned(&keys));
    let attempt: Attempt<_> = Box::new(move || db.lmpop(&owned_keys, end, count));
    let got = block_on(ctx, req, deadline, &keys, attempt)?;
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
    let got = block_on(ctx, req, deadline, &keys, attempt)?;
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

fn bzpopmin(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    bzpop(ctx, req, false)
}

fn bzpopmax(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    bzpop(ctx, req, true)
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]
fn bzmpop(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
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
    let got = block_on(ctx, req, deadline, &keys, attempt)?;
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
