//! Server commands: DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, TIME, SHUTDOWN, MONITOR (whose feed is
//! `monitor.rs`).

use std::time::{SystemTime, UNIX_EPOCH};

use kvcore::Store;
use kvproto::Request;

use super::ctx::{CmdResult, Ctx, i32_arg, is};
use super::error::{CmdError, OUT_OF_RANGE_DB, SYNTAX};
use super::spec::{Group, a};
use super::table::Command;
use crate::log::notice;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("dbsize", 1, "readonly fast", dbsize)
        .acl("@keyspace").tips(&["request_policy:all_shards", "response_policy:agg_sum"])
        .doc(Group::Server, "1.0.0", "Returns the number of keys in the database.")
        .complexity("O(1)"),
    Command::new("flushall", -1, "write", flushall)
        .acl("@keyspace @dangerous").tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(Group::Server, "1.0.0", "Removes all keys from all databases.")
        .complexity("O(N) where N is the total number of keys in all databases")
        .history(&[
            ("4.0.0", "Added the `ASYNC` flushing mode modifier."),
            ("6.2.0", "Added the `SYNC` flushing mode modifier."),
        ])
        .args(&[
            a("async", "oneof").flags("optional").args(&[
                a("async", "pure-token").token("ASYNC").since("4.0.0"),
                a("sync", "pure-token").token("SYNC").since("6.2.0"),
            ]),
        ]),
    Command::new("flushdb", -1, "write", flushdb)
        .acl("@keyspace @dangerous").tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(Group::Server, "1.0.0", "Remove all keys from the current database.")
        .complexity("O(N) where N is the number of keys in the selected database")
        .history(&[
            ("4.0.0", "Added the `ASYNC` flushing mode modifier."),
            ("6.2.0", "Added the `SYNC` flushing mode modifier."),
        ])
        .args(&[
            a("async", "oneof").flags("optional").args(&[
                a("async", "pure-token").token("ASYNC").since("4.0.0"),
                a("sync", "pure-token").token("SYNC").since("6.2.0"),
            ]),
        ]),
    Command::new("bgsave", -1, "admin noscript no_async_loading", bgsave)
        .doc(Group::Server, "1.0.0", "Asynchronously saves the database(s) to disk.")
        .complexity("O(1)")
        .history(&[("3.2.2", "Added the `SCHEDULE` option.")])
        .args(&[a("schedule", "pure-token").token("SCHEDULE").since("3.2.2").flags("optional")]),
    Command::new("lastsave", 1, "loading stale fast", lastsave)
        .acl("@admin @dangerous").tips(&["nondeterministic_output"])
        .doc(Group::Server, "1.0.0", "Returns the Unix timestamp of the last successful save to disk.")
        .complexity("O(1)"),
    Command::new("monitor", 1, "admin noscript loading stale", monitor)
        .doc(Group::Server, "1.0.0", "Listen for all requests received by the server in real time"),
    Command::new("save", 1, "admin noscript no_async_loading no_multi", save)
        .doc(Group::Server, "1.0.0", "Synchronously saves the database(s) to disk.")
        .complexity("O(N) where N is the total number of keys in all databases"),
    Command::new("shutdown", -1, "admin noscript loading stale no_multi allow_busy", shutdown)
        .doc(Group::Server, "1.0.0", "Synchronously saves the database(s) to disk and shuts down the Redis server.")
        .complexity("O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)")
        .history(&[("7.0.0", "Added the `NOW`, `FORCE` and `ABORT` modifiers.")])
        .args(&[
            a("nosave_save", "oneof").flags("optional").args(&[
                a("nosave", "pure-token").token("NOSAVE"),
                a("save", "pure-token").token("SAVE"),
            ]),
            a("now", "pure-token").token("NOW").since("7.0.0").flags("optional"),
            a("force", "pure-token").token("FORCE").since("7.0.0").flags("optional"),
            a("abort", "pure-token").token("ABORT").since("7.0.0").flags("optional"),
        ]),
    Command::new("swapdb", 3, "write fast", swapdb)
        .acl("@keyspace @dangerous")
        .doc(Group::Server, "4.0.0", "Swaps two Redis databases.")
        .complexity("O(N) where N is the count of clients watching or blocking on keys from both databases.")
        .args(&[a("index1", "integer"), a("index2", "integer")]),
    Command::new("time", 1, "loading stale fast", time)
        .tips(&["nondeterministic_output"])
        .doc(Group::Server, "2.6.0", "Returns the server time.")
        .complexity("O(1)"),
];

fn dbsize(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let n = ctx.s.db.dbsize()?;
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

fn flushdb(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    flush_mode(req)?;
    ctx.s.db.flushdb()?;
    ctx.ok()
}

fn flushall(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    flush_mode(req)?;
    // The session's handle: inside EXEC, FLUSHALL runs on the transaction's locks.
    ctx.s.db.kv().flushall()?;
    ctx.ok()
}

fn swapdb(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    // Both indexes are parsed before either is range-checked, as in Redis.
    let a = i32_arg(req.arg(1), Some("ERR invalid first DB index"))?;
    let b = i32_arg(req.arg(2), Some("ERR invalid second DB index"))?;
    let (Ok(a), Ok(b)) = (usize::try_from(a), usize::try_from(b)) else {
        return Err(OUT_OF_RANGE_DB);
    };
    ctx.s.db.kv().swapdb(a, b).map_err(|_| OUT_OF_RANGE_DB)?;
    ctx.ok()
}

/// SAVE: a snapshot now (other clients keep being served).
fn save(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    ctx.s.shared.kv.save()?;
    ctx.ok()
}

/// BGSAVE [SCHEDULE]: a snapshot in the background.
fn bgsave(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    match req.len() {
        1 => {}
        2 if is(req.arg(1), "schedule") => {}
        _ => return Err(SYNTAX),
    }
    ctx.s.shared.kv.bgsave()?;
    ctx.w().simple(b"Background saving started");
    Ok(())
}

/// MONITOR: from now on the client is shown every command the server runs (`monitor.rs`).
fn monitor(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let s = &mut *ctx.s;
    if s.in_exec() {
        // Redis refuses it to a client that expects one reply per command.
        return Err(CmdError::Msg(
            "ERR MONITOR isn't allowed for DENY BLOCKING client",
        ));
    }
    if s.pubsub.monitor {
        // Already monitoring: Redis ignores it, without a reply.
        return Ok(());
    }
    s.pubsub
        .enter_queue(&s.shared, &s.handle, ctx.out, "monitor")?;
    s.pubsub.monitor = true;
    s.handle
        .monitoring
        .store(true, std::sync::atomic::Ordering::Relaxed);
    s.shared.monitors.add(std::sync::Arc::clone(&s.handle));
    ctx.ok()
}

/// LASTSAVE: Unix time of the last successful snapshot (of the server's start before any).
fn lastsave(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let shared = &ctx.s.shared;
    let ms = shared.kv.last_save_ms().unwrap_or(shared.started_unix_ms);
    ctx.int((ms / 1000) as i64)
}

fn time(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
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
fn shutdown(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
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
    // A running script holds its keys: only SHUTDOWN NOSAVE stops the server under it, as
    // Redis allows only that during a busy script.
    if !nosave && ctx.s.shared.scripts.running_for().is_some() {
        return Err(CmdError::Msg(super::script::busy(&ctx.s.shared.scripts)));
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
