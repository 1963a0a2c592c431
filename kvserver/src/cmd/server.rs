//! Server commands: DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, TIME, SHUTDOWN.

use std::time::{SystemTime, UNIX_EPOCH};

use kvcore::Store;
use kvproto::Request;

use super::ctx::{CmdResult, Ctx, i32_arg, is};
use super::error::{CmdError, OUT_OF_RANGE_DB, SYNTAX};
use crate::log::notice;

pub(super) fn dbsize(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let n = ctx.s.db.dbsize();
    ctx.int(n as i64)
}

/// FLUSHDB/FLUSHALL take an optional ASYNC or SYNC; both are done before replying.
fn flush_mode(req: &Request<'_>) -> CmdResult {
    match req.len() {
        1 => Ok(()),
        2 if is(req.arg(1), "async") || is(req.arg(1), "sync") => Ok(()),
        _ => Err(SYNTAX),
    }
}

pub(super) fn flushdb(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    flush_mode(req)?;
    ctx.s.db.flushdb()?;
    ctx.ok()
}

pub(super) fn flushall(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    flush_mode(req)?;
    ctx.s.shared.kv.flushall()?;
    ctx.ok()
}

pub(super) fn swapdb(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    // Both indexes are parsed before either is range-checked, as in Redis.
    let a = i32_arg(req.arg(1), Some("ERR invalid first DB index"))?;
    let b = i32_arg(req.arg(2), Some("ERR invalid second DB index"))?;
    let (Ok(a), Ok(b)) = (usize::try_from(a), usize::try_from(b)) else {
        return Err(OUT_OF_RANGE_DB);
    };
    ctx.s.shared.kv.swapdb(a, b).map_err(|_| OUT_OF_RANGE_DB)?;
    ctx.ok()
}

/// SAVE: a snapshot now (other clients keep being served).
pub(super) fn save(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    ctx.s.shared.kv.save()?;
    ctx.ok()
}

/// BGSAVE [SCHEDULE]: a snapshot in the background.
pub(super) fn bgsave(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    match req.len() {
        1 => {}
        2 if is(req.arg(1), "schedule") => {}
        _ => return Err(SYNTAX),
    }
    ctx.s.shared.kv.bgsave()?;
    ctx.w().simple(b"Background saving started");
    Ok(())
}

/// LASTSAVE: Unix time of the last successful snapshot (of the server's start before any).
pub(super) fn lastsave(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let shared = &ctx.s.shared;
    let ms = shared.kv.last_save_ms().unwrap_or(shared.started_unix_ms);
    ctx.int((ms / 1000) as i64)
}

pub(super) fn time(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut w = ctx.w();
    w.array_len(2);
    w.bulk(now.as_secs().to_string().as_bytes());
    w.bulk(now.subsec_micros().to_string().as_bytes());
    Ok(())
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: stops the server gracefully. As in Redis, a
/// successful SHUTDOWN sends no reply: the connection closes.
pub(super) fn shutdown(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let (mut save, mut nosave, mut abort) = (false, false, false);
    for opt in req.args().skip(1) {
        if is(opt, "save") {
            save = true;
        } else if is(opt, "nosave") {
            nosave = true;
        } else if is(opt, "abort") {
            abort = true;
        } else if !(is(opt, "now") || is(opt, "force")) {
            return Err(SYNTAX);
        }
    }
    if (save && nosave) || (abort && req.len() > 2) {
        return Err(SYNTAX);
    }
    if abort {
        return Err(CmdError::Msg("ERR No shutdown in progress."));
    }
    // As Redis with save points: a snapshot on the way out unless NOSAVE.
    let save_on_exit = !nosave;
    ctx.s
        .shared
        .save_on_shutdown
        .store(save_on_exit, std::sync::atomic::Ordering::SeqCst);
    notice!("user requested shutdown (client {})", ctx.s.handle.addr);
    crate::signal::request_stop();
    ctx.s.close = true;
    Ok(())
}
