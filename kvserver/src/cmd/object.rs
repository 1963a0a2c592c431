//! Introspection of single keys: OBJECT (ENCODING, FREQ, IDLETIME, REFCOUNT, HELP) and MEMORY
//! (USAGE, HELP).

use kvcore::Store;
use kvproto::Request;

use super::ctx::{CmdResult, Ctx, int_arg, is};
use super::error::{CmdError, SYNTAX};
use super::spec::{Begin::Index, Find::Range, Group, a, ks};
use super::table::{Command, run_subcommand};

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("object", -2, "", run_subcommand)
        .doc(Group::Generic, "2.2.3", "A container for object introspection commands.")
        .complexity("Depends on subcommand.")
        .subcommands(OBJECT_SUBCOMMANDS),
    Command::new("memory", -2, "", run_subcommand)
        .doc(Group::Server, "4.0.0", "A container for memory diagnostics commands.")
        .complexity("Depends on subcommand.")
        .subcommands(MEMORY_SUBCOMMANDS),
];

#[rustfmt::skip]
static OBJECT_SUBCOMMANDS: &[Command] = &[
    Command::new("object|encoding", 3, "readonly", encoding)
        .acl("@keyspace").tips(&["nondeterministic_output"]).keys(&[ks("RO", Index(2), Range(0, 1, 0))])
        .doc(Group::Generic, "2.2.3", "Returns the internal encoding of a Redis object.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0)]),
    Command::new("object|freq", 3, "readonly", freq)
        .acl("@keyspace").tips(&["nondeterministic_output"]).keys(&[ks("RO", Index(2), Range(0, 1, 0))])
        .doc(Group::Generic, "4.0.0", "Returns the logarithmic access frequency counter of a Redis object.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0)]),
    Command::new("object|help", 2, "loading stale", object_help)
        .acl("@keyspace")
        .doc(Group::Generic, "6.2.0", "Returns helpful text about the different subcommands.")
        .complexity("O(1)"),
    Command::new("object|idletime", 3, "readonly", idletime)
        .acl("@keyspace").tips(&["nondeterministic_output"]).keys(&[ks("RO", Index(2), Range(0, 1, 0))])
        .doc(Group::Generic, "2.2.3", "Returns the time since the last write to a Redis object.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0)]),
    Command::new("object|refcount", 3, "readonly", refcount)
        .acl("@keyspace").tips(&["nondeterministic_output"]).keys(&[ks("RO", Index(2), Range(0, 1, 0))])
        .doc(Group::Generic, "2.2.3", "Returns the reference count of a value of a key.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0)]),
];

#[rustfmt::skip]
static MEMORY_SUBCOMMANDS: &[Command] = &[
    Command::new("memory|doctor", 2, "", doctor)
        .tips(&["nondeterministic_output", "request_policy:all_shards", "response_policy:special"])
        .doc(Group::Server, "4.0.0", "Outputs memory problems report")
        .complexity("O(1)"),
    Command::new("memory|help", 2, "loading stale", memory_help)
        .doc(Group::Server, "4.0.0", "Returns helpful text about the different subcommands.")
        .complexity("O(1)"),
    Command::new("memory|malloc-stats", 2, "", malloc_stats)
        .tips(&["nondeterministic_output", "request_policy:all_shards", "response_policy:special"])
        .doc(Group::Server, "4.0.0", "Show allocator internal stats")
        .complexity("Depends on how much memory is allocated, could be slow"),
    Command::new("memory|purge", 2, "", purge)
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(Group::Server, "4.0.0", "Ask the allocator to release memory")
        .complexity("Depends on how much memory is allocated, could be slow"),
    Command::new("memory|stats", 2, "", stats)
        .tips(&["nondeterministic_output", "request_policy:all_shards", "response_policy:special"])
        .doc(Group::Server, "4.0.0", "Show memory usage details")
        .complexity("O(1)"),
    Command::new("memory|usage", -3, "readonly", usage)
        .keys(&[ks("RO", Index(2), Range(0, 1, 0))])
        .doc(Group::Server, "4.0.0", "Estimates the memory usage of a key.")
        .complexity("O(N) where N is the number of samples.")
        .args(&[a("key", "key").key(0), a("count", "integer").token("SAMPLES").flags("optional")]),
];

fn encoding(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let enc = ctx.s.db.object_encoding(req.arg(2))?;
    ctx.bulk_or_null(enc.map(str::as_bytes))
}

fn freq(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let Some(freq) = ctx.s.db.access_frequency(req.arg(2)) else {
        return ctx.bulk_or_null(None);
    };
    if !ctx.s.shared.kv.eviction_policy().is_lfu() {
        return Err(CmdError::Msg(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please \
             note that when switching between policies at runtime LRU and LFU data will take \
             some time to adjust.",
        ));
    }
    ctx.int(i64::from(freq))
}

fn idletime(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let Some(idle) = ctx.s.db.idle_time(req.arg(2)) else {
        return ctx.bulk_or_null(None);
    };
    if ctx.s.shared.kv.eviction_policy().is_lfu() {
        return Err(CmdError::Msg(
            "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that \
             when switching between policies at runtime LRU and LFU data will take some time to \
             adjust.",
        ));
    }
    // Seconds since the key was last read or written (CLIENT NO-TOUCH reads excepted).
    ctx.int(idle as i64)
}

fn refcount(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    if ctx.s.db.meta(req.arg(2))?.is_none() {
        return ctx.bulk_or_null(None);
    }
    // Values are never shared between keys.
    ctx.int(1)
}

fn help(ctx: &mut Ctx<'_>, lines: &[&str]) -> CmdResult {
    ctx.help(lines)
}

/// Redis 7.0's text, line for line.
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
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
            "HELP",
            "    Prints this help.",
        ],
    )
}

fn memory_help(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    help(
        ctx,
        &[
            "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
            "HELP",
            "    Prints this help.",
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
    match ctx.s.db.memory_usage(req.arg(2))? {
        Some(n) => ctx.int(n as i64),
        None => ctx.bulk_or_null(None),
    }
}

/// MEMORY STATS: Redis's fields (`memory.rs`), as a map (an array of pairs in RESP2).
fn stats(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    use crate::memory::Stat;
    let kv = ctx.s.db.kv();
    let fields = crate::memory::stats(&ctx.s.shared, &kv);
    let mut w = ctx.w();
    w.map_len(fields.len());
    for (name, value) in &fields {
        w.bulk(name.as_bytes());
        match value {
            Stat::Int(n) => w.integer(*n),
            Stat::Double(d) => w.double(*d),
            Stat::Db(pairs) => {
                w.map_len(pairs.len());
                for (k, n) in pairs {
                    w.bulk(k.as_bytes());
                    w.integer(*n);
                }
            }
        }
    }
    Ok(())
}

/// MEMORY DOCTOR: Redis's report of the memory problems it can see.
fn doctor(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let report = crate::memory::doctor(&ctx.s.shared);
    ctx.w().verbatim(b"txt", report.as_bytes());
    Ok(())
}

/// MEMORY MALLOC-STATS: what Redis answers for an allocator without a statistics report.
fn malloc_stats(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    ctx.w()
        .verbatim(b"txt", b"Stats not supported for the current allocator");
    Ok(())
}

/// MEMORY PURGE: the system allocator has nothing to purge on request.
fn purge(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    ctx.ok()
}
