//! CONFIG: GET (glob patterns), SET (several pairs, all or nothing), RESETSTAT, HELP, for the
//! settings the server has. Names follow Redis so tools that read them (redis-benchmark reads
//! `save` and `appendonly`) find them.

use std::sync::atomic::Ordering;

use kvproto::Request;

use super::ctx::{CmdResult, Ctx};
use super::error::CmdError;
use super::spec::{Group, a};
use super::table::{Command, run_subcommand};
use crate::log::Level;
use crate::settings::parse_memory;
use crate::shared::{Baseline, Shared};

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("config", -2, "", run_subcommand)
        .doc(Group::Server, "2.0.0", "A container for server configuration commands.")
        .complexity("Depends on subcommand.")
        .subcommands(SUBCOMMANDS),
];

#[rustfmt::skip]
static SUBCOMMANDS: &[Command] = &[
    Command::new("config|get", -3, "admin noscript loading stale", get)
        .doc(Group::Server, "2.0.0", "Returns the effective values of configuration parameters.")
        .complexity("O(N) when N is the number of configuration parameters provided")
        .history(&[("7.0.0", "Added the ability to pass multiple pattern parameters in one call")])
        .args(&[a("parameter", "block").flags("multiple").args(&[a("parameter", "string")])]),
    Command::new("config|help", 2, "loading stale", help)
        .doc(Group::Server, "5.0.0", "Returns helpful text about the different subcommands.")
        .complexity("O(1)"),
    Command::new("config|resetstat", 2, "admin noscript loading stale", resetstat)
        .doc(Group::Server, "2.0.0", "Resets the server's statistics.")
        .complexity("O(1)"),
    Command::new("config|set", -4, "admin noscript loading stale", set)
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .doc(Group::Server, "2.0.0", "Sets configuration parameters in-flight.")
        .complexity("O(N) when N is the number of configuration parameters provided")
        .history(&[("7.0.0", "Added the ability to set multiple parameters in one call.")])
        .args(&[
            a("parameter_value", "block").flags("multiple").args(&[
                a("parameter", "string"),
                a("value", "string"),
            ]),
        ]),
];

/// Checks a new value and, when `apply` is set, stores it.
type Setter = fn(&Shared, &str, bool) -> Result<(), &'static str>;

struct Param {
    name: &'static str,
    get: fn(&Shared) -> String,
    /// `None`: immutable while the server runs.
    set: Option<Setter>,
}

const NOT_INT: &str = "argument couldn't be parsed into an integer";
const NOT_SIZE: &str = "argument must be a memory value";

fn set_u64(v: &str) -> Result<u64, &'static str> {
    v.parse::<u64>().map_err(|_| NOT_INT)
}

/// `busy-reply-threshold` / `lua-time-limit`: milliseconds, 0 or more.
fn set_busy_reply_threshold(s: &Shared, v: &str, apply: bool) -> Result<(), &'static str> {
    let n: i64 = v.parse().map_err(|_| NOT_INT)?;
    if n < 0 {
        return Err("argument must be between 0 and 9223372036854775807 inclusive");
    }
    if apply {
        s.live
            .busy_reply_threshold
            .store(n as u64, Ordering::Relaxed);
    }
    Ok(())
}

#[rustfmt::skip]
static PARAMS: &[Param] = &[
    Param { name: "appendfsync", get: |s| s.cfg.sync.as_str().into(), set: None },
    // The write-ahead log plays the part of Redis's append-only file.
    Param { name: "appendonly", get: |s| if s.kv.is_persistent() { "yes" } else { "no" }.into(), set: None },
    Param { name: "bind", get: |s| s.cfg.bind.clone(), set: None },
    Param {
        name: "busy-reply-threshold",
        get: |s| s.live.busy_reply_threshold.load(Ordering::Relaxed).to_string(),
        set: Some(set_busy_reply_threshold),
    },
    Param {
        name: "client-output-buffer-limit",
        get: |s| s.live.output_limits.get().to_redis_string(),
        // Redis's `<class> <hard> <soft> <seconds>` groups; the classes not named keep theirs.
        set: Some(|s, v, apply| {
            let words: Vec<&str> = v.split_whitespace().collect();
            let mut limits = s.live.output_limits.get();
            limits.update(&words)?;
            if apply {
                s.live.output_limits.set(limits);
            }
            Ok(())
        }),
    },
    Param {
        name: "client-query-buffer-limit",
        get: |s| s.live.query_buffer_limit.load(Ordering::Relaxed).to_string(),
        set: Some(|s, v, apply| {
            let n = parse_memory(v).ok_or(NOT_SIZE)?;
            if n < 1024 * 1024 {
                return Err("argument must be between 1048576 and 18446744073709551615 inclusive");
            }
            if apply {
                s.live.query_buffer_limit.store(n, Ordering::Relaxed);
            }
            Ok(())
        }),
    },
    Param { name: "databases", get: |s| s.cfg.databases.to_string(), set: None },
    Param { name: "dir", get: |s| data_dir(s), set: None },
    Param {
        name: "loglevel",
        get: |_| crate::log::level().as_str().into(),
        set: Some(|_, v, apply| {
            let l = Level::parse(v).ok_or("argument(s) must be one of the following: debug, verbose, notice, warning, nothing")?;
            if apply {
                crate::log::set_level(l);
            }
            Ok(())
        }),
    },
    Param {
        name: "maxclients",
        get: |s| s.live.maxclients.load(Ordering::Relaxed).to_string(),
        set: Some(|s, v, apply| {
            let n = set_u64(v)?;
            if n == 0 {
                return Err("argument must be between 1 and 4294967295 inclusive");
            }
            if apply {
                s.live.maxclients.store(n as usize, Ordering::Relaxed);
            }
            Ok(())
        }),
    },
    // Redis's older name for busy-reply-threshold: the same setting.
    Param {
        name: "lua-time-limit",
        get: |s| s.live.busy_reply_threshold.load(Ordering::Relaxed).to_string(),
        set: Some(set_busy_reply_threshold),
    },
    Param { name: "maxmemory", get: |_| "0".into(), set: None },
    Param { name: "maxmemory-policy", get: |_| "noeviction".into(), set: None },
    Param {
        name: "notify-keyspace-events",
        get: |s| s.kv.notify_keyspace_events().to_string(),
        set: Some(|s, v, apply| {
            let flags = kvcore::NotifyFlags::parse(v).ok_or(crate::settings::BAD_EVENT_CLASS)?;
            if apply {
                s.kv.set_notify_keyspace_events(flags);
            }
            Ok(())
        }),
    },
    Param { name: "port", get: |s| s.local_addr.port().to_string(), set: None },
    // Bounds a request's bulk strings (the decoder's limit, per connection from its next
    // request) and every string the store keeps (APPEND, SETRANGE), as in Redis.
    Param {
        name: "proto-max-bulk-len",
        get: |s| s.live.proto_max_bulk_len.load(Ordering::Relaxed).to_string(),
        set: Some(|s, v, apply| {
            let n = parse_memory(v).ok_or(NOT_SIZE)?;
            if !(1024 * 1024..=i64::MAX as u64).contains(&n) {
                return Err("argument must be between 1048576 and 9223372036854775807 inclusive");
            }
            if apply {
                s.live.proto_max_bulk_len.store(n, Ordering::Relaxed);
                s.kv.set_max_bulk_len(usize::try_from(n).unwrap_or(usize::MAX));
            }
            Ok(())
        }),
    },
    Param {
        name: "requirepass",
        get: |s| s.live.requirepass.read().as_deref().map(|p| String::from_utf8_lossy(p).into_owned()).unwrap_or_default(),
        set: Some(|s, v, apply| {
            if apply {
                *s.live.requirepass.write() = (!v.is_empty()).then(|| v.as_bytes().to_vec());
            }
            Ok(())
        }),
    },
    // The snapshot rules (seconds changes ...), when persistent.
    Param {
        name: "save",
        get: |s| {
            if !s.kv.is_persistent() {
                return String::new();
            }
            let rules = crate::listener::SAVE_RULES.iter().map(|(secs, n)| format!("{secs} {n}"));
            rules.collect::<Vec<_>>().join(" ")
        },
        set: None,
    },
    Param {
        name: "timeout",
        get: |s| s.live.idle_timeout_secs.load(Ordering::Relaxed).to_string(),
        set: Some(|s, v, apply| {
            let n = set_u64(v)?;
            if apply {
                s.live.idle_timeout_secs.store(n, Ordering::Relaxed);
            }
            Ok(())
        }),
    },
];

fn data_dir(s: &Shared) -> String {
    let d = &s.cfg.data_dir;
    std::fs::canonicalize(d)
        .unwrap_or_else(|_| d.clone())
        .display()
        .to_string()
}

/// A glob that matches names case-insensitively, as Redis's CONFIG GET does: the names it is
/// matched against are lowercase, so lowercasing the pattern is enough.
pub(super) fn nocase_pattern(pattern: &[u8]) -> kvcore::Pattern {
    kvcore::Pattern::new(pattern.to_ascii_lowercase())
}

/// CONFIG GET pattern [pattern ...]
fn get(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let shared = &ctx.s.shared;
    let patterns: Vec<kvcore::Pattern> = req.args().skip(2).map(nocase_pattern).collect();
    // Redis looks a name without glob characters up directly and replies with the name as the
    // client spelled it (`CONFIG GET SAVE` answers `SAVE`); the first spelling wins.
    let exact = |p: &Param| {
        req.args().skip(2).find(|a| {
            !a.iter().any(|b| b"[*?".contains(b)) && a.eq_ignore_ascii_case(p.name.as_bytes())
        })
    };
    let found: Vec<(&[u8], String)> = PARAMS
        .iter()
        .filter(|p| patterns.iter().any(|pat| pat.matches(p.name)))
        .map(|p| (exact(p).unwrap_or(p.name.as_bytes()), (p.get)(shared)))
        .collect();
    let mut w = ctx.w();
    w.map_len(found.len());
    for (name, value) in &found {
        w.bulk(name);
        w.bulk(value.as_bytes());
    }
    Ok(())
}

/// CONFIG SET name value [name value ...]: every pair is checked before any is applied.
fn set(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    if !req.len().is_multiple_of(2) {
        return Err(CmdError::Text(super::arity_error("config|set")));
    }
    let mut chosen: Vec<(&Param, String)> = Vec::new();
    for i in (2..req.len()).step_by(2) {
        let name = String::from_utf8_lossy(req.arg(i)).to_ascii_lowercase();
        let value = String::from_utf8_lossy(req.arg(i + 1)).into_owned();
        let Some(param) = PARAMS.iter().find(|p| p.name == name) else {
            return Err(CmdError::Text(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
            )));
        };
        let fail = |why: &str| {
            CmdError::Text(format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
            ))
        };
        if chosen.iter().any(|(p, _)| p.name == param.name) {
            return Err(fail("duplicate parameter"));
        }
        let Some(setter) = param.set else {
            return Err(fail("can't set immutable config"));
        };
        setter(&ctx.s.shared, &value, false).map_err(fail)?;
        chosen.push((param, value));
    }
    for (param, value) in chosen {
        if let Some(setter) = param.set {
            // Checked above with the same value; a setter that passed its check cannot fail.
            let _ = setter(&ctx.s.shared, &value, true);
        }
    }
    ctx.ok()
}

fn resetstat(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let shared = &ctx.s.shared;
    let baseline = Baseline {
        cmds: shared.clients.cmd_totals(),
        counters: shared.clients.counter_totals(),
        connections: shared.connections_received.load(Ordering::Relaxed),
        rejected: shared.rejected_connections.load(Ordering::Relaxed),
        expired: shared.kv.stats().expired_keys,
        output_limit_disconnections: shared.output_limit_disconnections.load(Ordering::Relaxed),
    };
    *shared.baseline.lock() = baseline;
    shared.errors.reset();
    ctx.ok()
}

fn help(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let lines = [
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "HELP",
        "    Print this help.",
    ];
    ctx.help(&lines)
}
