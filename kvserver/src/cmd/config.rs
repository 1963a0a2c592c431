//! CONFIG: GET (several glob patterns), SET (several pairs, all or nothing), RESETSTAT,
//! REWRITE, HELP, over every parameter of Redis 7.0 (`kvserver/src/params.rs`): the ones kv
//! applies change its behaviour at once (`apply`), the others are checked, stored and reported.

use std::sync::atomic::Ordering;

use kvproto::Request;

use super::ctx::{CmdResult, Ctx};
use super::error::CmdError;
use super::spec::{Group, a};
use super::table::{Command, run_subcommand};
use crate::log::Level;
use crate::params;
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
    Command::new("config|rewrite", 2, "admin noscript loading stale", rewrite)
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .doc(Group::Server, "2.8.0", "Persists the effective configuration to file.")
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

/// CONFIG GET pattern [pattern ...]: a name without glob characters is looked up directly (a
/// hidden parameter too) and answered under the name as the client spelled it; a pattern
/// matches every registered name, aliases included, but not hidden parameters. Redis answers
/// in its hash table's order; kv in the table's.
fn get(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let shared = &ctx.s.shared;
    let values = shared.params.lock().clone();
    let mut found: Vec<(Vec<u8>, usize)> = Vec::new();
    let seen = |found: &Vec<(Vec<u8>, usize)>, name: &[u8]| {
        found.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    for arg in req.args().skip(2) {
        if !arg.iter().any(|b| b"[*?".contains(b)) {
            let name = String::from_utf8_lossy(arg);
            if let Some((i, _)) = params::lookup(&name)
                && !seen(&found, arg)
            {
                found.push((arg.to_vec(), i));
            }
            continue;
        }
        let pattern = nocase_pattern(arg);
        for (i, p) in params::PARAMS.iter().enumerate() {
            if p.is(params::HIDDEN) {
                continue;
            }
            for name in std::iter::once(p.name).chain(p.alias) {
                if pattern.matches(name) && !seen(&found, name.as_bytes()) {
                    found.push((name.as_bytes().to_vec(), i));
                }
            }
        }
    }
    let mut w = ctx.w();
    w.map_len(found.len());
    for (name, i) in &found {
        w.bulk(name);
        w.bulk(values[*i].as_bytes());
    }
    Ok(())
}

/// A glob that matches names case-insensitively, as Redis's CONFIG GET does: the names it is
/// matched against are lowercase, so lowercasing the pattern is enough.
pub(super) fn nocase_pattern(pattern: &[u8]) -> kvcore::Pattern {
    kvcore::Pattern::new(pattern.to_ascii_lowercase())
}

/// A CONFIG SET error, in Redis's words.
fn failed(name: &str, why: &str) -> CmdError {
    CmdError::Text(format!(
        "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
    ))
}

/// CONFIG SET name value [name value ...]: all or nothing. The checks run in Redis's order:
/// every name first (unknown, immutable or protected, repeated: the first problem is
/// reported), then every value in turn; only when all pass is anything applied.
fn set(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    if !req.len().is_multiple_of(2) {
        return Err(CmdError::Msg("ERR syntax error"));
    }
    let mut chosen: Vec<(usize, &'static str, String)> = Vec::new();
    for i in (2..req.len()).step_by(2) {
        let typed = String::from_utf8_lossy(req.arg(i)).into_owned();
        let Some((index, registered)) = params::lookup(&typed) else {
            return Err(CmdError::Text(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{typed}'"
            )));
        };
        let param = &params::PARAMS[index];
        if param.is(params::IMMUTABLE) {
            return Err(failed(&typed, "can't set immutable config"));
        }
        if param.is(params::PROTECTED) {
            return Err(failed(&typed, "can't set protected config"));
        }
        // An alias is a registration of its own in Redis: setting a parameter and its alias
        // together is not a repetition (the later one wins).
        if chosen
            .iter()
            .any(|&(j, r, _)| j == index && r == registered)
        {
            return Err(failed(&typed, "duplicate parameter"));
        }
        let value = String::from_utf8_lossy(req.arg(i + 1)).into_owned();
        chosen.push((index, registered, value));
    }
    let shared = &ctx.s.shared;
    let mut values = shared.params.lock();
    let mut next = values.clone();
    for (index, registered, value) in &mut chosen {
        let param = &params::PARAMS[*index];
        let checked =
            params::check(param, value, &next[*index]).map_err(|why| failed(registered, &why))?;
        check_live(shared, param.name, &checked).map_err(|why| failed(registered, why))?;
        // Nor does it open or move its TLS listener at run time.
        if param.name == "tls-port" && checked != values[*index] {
            return Err(failed(registered, "Unable to listen on this port"));
        }
        next[*index].clone_from(&checked);
        *value = checked;
    }
    // New certificates or TLS settings: the configuration is rebuilt from the new values (the
    // files read again) before anything is applied, so a bad file changes nothing.
    if let Some(&(_, registered, _)) = chosen
        .iter()
        .find(|(index, ..)| crate::tls::PARAMS.contains(&params::PARAMS[*index].name))
        && let Some((config, cluster)) =
            tls_reload(&next, shared).map_err(|why| failed(registered, why))?
    {
        shared.tls.set(config);
        if let (Some(links), Some(cluster)) = (shared.raft_tls.get(), cluster) {
            links.set(cluster);
        }
    }
    for (index, _, value) in &chosen {
        apply(shared, params::PARAMS[*index].name, value);
    }
    *values = next;
    drop(values);
    ctx.ok()
}

/// The Raft links' two TLS configurations (`tls-cluster yes`), rebuilt with the client port's.
type ClusterConfigs = (
    std::sync::Arc<rustls::ServerConfig>,
    std::sync::Arc<rustls::ClientConfig>,
);

/// The client port's TLS configuration, and the Raft links' when they use TLS.
type Reloaded = (std::sync::Arc<rustls::ServerConfig>, Option<ClusterConfigs>);

/// The TLS configuration from `values` when TLS is on (`tls-port`), as Redis's
/// `applyTlsCfg`, and the Raft links' when they use TLS; `None` when it is off (the values
/// are only stored). Either failing to load fails both.
fn tls_reload(values: &[String], shared: &Shared) -> Result<Option<Reloaded>, &'static str> {
    if values[params::index("tls-port")] == "0" {
        return Ok(None);
    }
    let settings = crate::tls::Settings::from_params(|name| values[params::index(name)].clone());
    let built = settings.build().and_then(|config| {
        let cluster = shared
            .raft_tls
            .get()
            .map(|_| crate::raft_tls::ClusterTls::build(&settings))
            .transpose()?;
        Ok((config, cluster))
    });
    match built {
        Ok(configs) => {
            crate::log::notice!("TLS configuration reloaded");
            Ok(Some(configs))
        }
        Err(e) => {
            crate::log::warning!("cannot update the TLS configuration: {e}");
            Err("Unable to update TLS configuration. Check server logs.")
        }
    }
}

/// What kv cannot do although the value is valid.
fn check_live(shared: &Shared, name: &str, value: &str) -> Result<(), &'static str> {
    // kv does not move its listener: the port it is bound to is the only one it takes.
    if name == "port" && value != shared.local_addr.port().to_string() {
        return Err("Unable to listen on this port");
    }
    // The Raft links are secured, or not, when the node starts (kvserver/src/raft_tls.rs).
    if name == "tls-cluster"
        && shared.raft.get().is_some()
        && (value == "yes") != shared.raft_tls.get().is_some()
    {
        return Err("tls-cluster cannot change while the raft node runs (restart it)");
    }
    Ok(())
}

/// Makes a checked value take effect (for the parameters kv applies; the others are only
/// stored). Also used at start-up for the values of the config file.
pub(crate) fn apply(shared: &Shared, name: &str, value: &str) {
    let int = || value.parse::<u64>().unwrap_or(0);
    match name {
        "appendfsync" => {
            if let Some(mode) = kvcore::SyncMode::parse(value) {
                shared.kv.set_sync_mode(mode);
            }
        }
        "save" => shared
            .kv
            .set_save_rules(&params::save_rules(value).unwrap_or_default()),
        // Redis's hz: active expiry runs hz times a second (the value is clamped to 1..=500).
        "hz" => shared
            .kv
            .set_active_expiry_interval(std::time::Duration::from_millis(
                1000 / int().clamp(1, 500),
            )),
        "hll-sparse-max-bytes" => shared
            .kv
            .set_hll_sparse_max_bytes(usize::try_from(int()).unwrap_or(usize::MAX)),
        "maxclients" => shared
            .live
            .maxclients
            .store(int() as usize, Ordering::Relaxed),
        "timeout" => shared
            .live
            .idle_timeout_secs
            .store(int(), Ordering::Relaxed),
        "notify-keyspace-events" => {
            if let Some(flags) = kvcore::NotifyFlags::parse(value) {
                shared.kv.set_notify_keyspace_events(flags);
            }
        }
        "proto-max-bulk-len" => {
            shared
                .live
                .proto_max_bulk_len
                .store(int(), Ordering::Relaxed);
            shared
                .kv
                .set_max_bulk_len(usize::try_from(int()).unwrap_or(usize::MAX));
        }
        "tracking-table-max-keys" => shared.tracking.set_max_keys(int()),
        "replica-read-only"
        | "replica-serve-stale-data"
        | "replica-priority"
        | "replica-announced" => crate::replica::apply_param(shared, name, value),
        "repl-backlog-size"
        | "min-replicas-to-write"
        | "min-replicas-max-lag"
        | "repl-ping-replica-period"
        | "repl-diskless-sync" => shared.repl.apply(&shared.kv, name, value),
        "maxmemory" => shared.kv.set_max_memory(int()),
        "maxmemory-policy" => {
            if let Some(p) = kvcore::EvictionPolicy::parse(value) {
                shared.kv.set_eviction_policy(p);
            }
        }
        "maxmemory-samples" => shared.kv.set_eviction_samples(int() as u32),
        "maxmemory-eviction-tenacity" => shared.kv.set_eviction_tenacity(int() as u32),
        "lfu-log-factor" => shared.kv.set_lfu_log_factor(int() as u32),
        "lfu-decay-time" => shared.kv.set_lfu_decay_time(int() as u32),
        "busy-reply-threshold" => shared.scripts.set_busy_threshold(int()),
        "requirepass" => {
            *shared.live.requirepass.write() =
                (!value.is_empty()).then(|| value.as_bytes().to_vec());
            shared
                .acl
                .set_requirepass((!value.is_empty()).then_some(value.as_bytes()));
        }
        "client-output-buffer-limit" => {
            if let Some(limits) = crate::settings::OutputLimits::parse_redis(value) {
                shared.live.output_limits.set(limits);
                shared.repl.apply(&shared.kv, name, value);
            }
        }
        "client-query-buffer-limit" => shared
            .live
            .query_buffer_limit
            .store(int(), Ordering::Relaxed),
        "slowlog-log-slower-than" => shared
            .slowlog
            .set_slower_than(value.parse().unwrap_or(10_000)),
        "slowlog-max-len" => shared.slowlog.set_max_len(int()),
        "acllog-max-len" => shared.acl.log.set_max_len(int() as usize),
        "latency-monitor-threshold" => shared.latency.set_threshold_ms(int()),
        "latency-tracking" => shared.latency.set_tracking(value == "yes"),
        "loglevel" => {
            if let Some(level) = Level::parse(value) {
                crate::log::set_level(level);
            }
        }
        _ => {
            params::apply_encoding_limit(name, value);
        }
    }
}

/// CONFIG REWRITE: the running values written back into the config file the server started
/// with (`kvserver/src/rewrite.rs`).
fn rewrite(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let shared = &ctx.s.shared;
    let Some(path) = &shared.cfg.config_file else {
        return Err(CmdError::Msg(
            "ERR The server is running without a config file",
        ));
    };
    let values = shared.params.lock().clone();
    // ACL users go into the file as `user` lines, unless an aclfile keeps them.
    let users: Vec<String> = if shared.acl.file.is_some() {
        Vec::new()
    } else {
        shared
            .acl
            .users()
            .iter()
            .map(|u| format!("user {} {}", String::from_utf8_lossy(&u.name), u.describe()))
            .collect()
    };
    match crate::rewrite::rewrite_file(path, &values, &users) {
        Ok(()) => {
            crate::log::warning!("CONFIG REWRITE executed with success.");
            ctx.ok()
        }
        Err(e) => {
            crate::log::warning!("CONFIG REWRITE failed: {e}");
            Err(CmdError::Text(format!("ERR Rewriting config file: {e}")))
        }
    }
}

fn resetstat(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let shared = &ctx.s.shared;
    let baseline = Baseline {
        cmds: shared.clients.cmd_totals(),
        counters: shared.clients.counter_totals(),
        connections: shared.connections_received.load(Ordering::Relaxed),
        rejected: shared.rejected_connections.load(Ordering::Relaxed),
        expired: shared.kv.stats().expired_keys,
        evicted: shared.kv.evicted_keys(),
        output_limit_disconnections: shared.output_limit_disconnections.load(Ordering::Relaxed),
    };
    *shared.baseline.lock() = baseline;
    shared.errors.reset();
    shared.latency.reset_histograms();
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
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Prints this help.",
    ];
    ctx.help(&lines)
}
