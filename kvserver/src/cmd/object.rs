//! Introspection of single keys: OBJECT (ENCODING, FREQ, IDLETIME, REFCOUNT, HELP) and MEMORY
//! (USAGE, HELP).

use kvcore::Store;
use kvproto::Request;

use super::ctx::{CmdResult, Ctx, int_arg, is};
use super::error::{CmdError, SYNTAX};
use super::table::{Command, Flags, dispatch_sub, fl};

#[rustfmt::skip]
pub(crate) static OBJECT_SUBCOMMANDS: &[Command] = &[
    sub("object|encoding", 3, fl("readonly"), (2, 2, 1), "generic", "2.2.3", "Returns the internal encoding of a Redis object.", encoding),
    sub("object|freq", 3, fl("readonly"), (2, 2, 1), "generic", "4.0.0", "Returns the logarithmic access frequency counter of a Redis object.", freq),
    sub("object|help", 2, fl("loading stale"), (0, 0, 0), "generic", "6.2.0", "Returns helpful text about the different subcommands.", object_help),
    sub("object|idletime", 3, fl("readonly"), (2, 2, 1), "generic", "2.2.3", "Returns the time since the last write to a Redis object.", idletime),
    sub("object|refcount", 3, fl("readonly"), (2, 2, 1), "generic", "2.2.3", "Returns the reference count of a value of a key.", refcount),
];

#[rustfmt::skip]
pub(crate) static MEMORY_SUBCOMMANDS: &[Command] = &[
    sub("memory|help", 2, fl("loading stale"), (0, 0, 0), "server", "4.0.0", "Returns helpful text about the different subcommands.", memory_help),
    sub("memory|usage", -3, fl("readonly"), (2, 2, 1), "server", "4.0.0", "Estimates the memory usage of a key.", usage),
];

#[allow(clippy::too_many_arguments)]
const fn sub(
    name: &'static str,
    arity: i32,
    flags: Flags,
    keys: (i32, i32, i32),
    group: &'static str,
    since: &'static str,
    summary: &'static str,
    handler: super::table::Handler,
) -> Command {
    Command {
        name,
        arity,
        flags,
        keys,
        group,
        since,
        summary,
        handler,
    }
}

pub(super) fn object(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    dispatch_sub("object", OBJECT_SUBCOMMANDS, ctx, req)
}

pub(super) fn memory(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    dispatch_sub("memory", MEMORY_SUBCOMMANDS, ctx, req)
}

fn encoding(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let enc = ctx.s.db.object_encoding(req.arg(2));
    ctx.bulk_or_null(enc.map(str::as_bytes))
}

fn freq(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    if ctx.s.db.meta(req.arg(2)).is_none() {
        return ctx.bulk_or_null(None);
    }
    // Redis answers this under its default `maxmemory-policy noeviction`, which is ours too.
    Err(CmdError::Msg(
        "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note \
         that when switching between policies at runtime LRU and LFU data will take some time to \
         adjust.",
    ))
}

fn idletime(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let Some(meta) = ctx.s.db.meta(req.arg(2)) else {
        return ctx.bulk_or_null(None);
    };
    // Seconds since the value was last written: kvcore does not track reads.
    let now = ctx.s.shared.kv.now_ms();
    ctx.int((now.saturating_sub(meta.updated_ms) / 1000) as i64)
}

fn refcount(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    if ctx.s.db.meta(req.arg(2)).is_none() {
        return ctx.bulk_or_null(None);
    }
    // Values are never shared between keys.
    ctx.int(1)
}

fn help(ctx: &mut Ctx<'_>, lines: &[&str]) -> CmdResult {
    let mut w = ctx.w();
    w.array_len(lines.len());
    for l in lines {
        w.simple(l.as_bytes());
    }
    Ok(())
}

fn object_help(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    help(
        ctx,
        &[
            "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last write to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
            "HELP",
            "    Print this help.",
        ],
    )
}

fn memory_help(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    help(
        ctx,
        &[
            "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
            "HELP",
            "    Print this help.",
        ],
    )
}

/// MEMORY USAGE key [SAMPLES count]
fn usage(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let mut i = 3;
    while i < req.len() {
        if is(req.arg(i), "samples") && i + 1 < req.len() {
            let n = int_arg(req.arg(i + 1))?;
            if n < 0 {
                return Err(SYNTAX);
            }
            i += 2;
        } else {
            return Err(SYNTAX);
        }
    }
    match ctx.s.db.memory_usage(req.arg(2)) {
        Some(n) => ctx.int(n as i64),
        None => ctx.bulk_or_null(None),
    }
}
