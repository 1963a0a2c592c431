//! INFO: Redis's `# Section` headers and `field:value` lines, CRLF-separated, so dashboards and
//! exporters that parse Redis's INFO read ours.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use kvcore::Store;
use kvproto::Request;

use super::ctx::{CmdResult, Ctx, is};
use super::spec::{Group, a};
use super::table::{self, Command, stat_name};
use crate::shared::Shared;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("info", -1, "loading stale", info)
        .acl("@dangerous").tips(&["nondeterministic_output", "request_policy:all_shards", "response_policy:special"])
        .doc(Group::Server, "1.0.0", "Returns information and statistics about the server.")
        .complexity("O(1)")
        .history(&[("7.0.0", "Added support for taking multiple section arguments.")])
        .args(&[a("section", "string").flags("optional multiple")]),
];

/// The Redis version whose commands and replies this server follows; clients gate features on
/// it (HELLO and INFO report it; `kv_version` in INFO is this server's own version).
pub(crate) const REDIS_VERSION: &str = "7.2.0";

/// Redis's sections, in Redis's order.
const SECTIONS: [&str; 14] = [
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
    // kv's own: the Raft mode's state, only in that mode.
    "raft",
];

/// INFO [section ...]: no argument or `default` gives every section but commandstats; `all`
/// and `everything` give them all. Names are case-insensitive; unknown ones give nothing.
fn info(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let mut wanted = [false; SECTIONS.len()];
    if req.len() == 1 {
        wanted = SECTIONS.map(is_default);
    }
    for arg in req.args().skip(1) {
        if is(arg, "all") || is(arg, "everything") {
            wanted = [true; SECTIONS.len()];
        } else if is(arg, "default") {
            for (w, s) in wanted.iter_mut().zip(SECTIONS) {
                *w |= is_default(s);
            }
        } else if let Some(i) = SECTIONS.iter().position(|s| is(arg, s)) {
            wanted[i] = true;
        }
    }
    let mut text = String::new();
    for (i, name) in SECTIONS.iter().enumerate() {
        let raft_mode = ctx.s.shared.raft.get().is_some();
        if !(wanted[i] || *name == "raft" && raft_mode && req.len() == 1) {
            continue;
        }
        if *name == "raft" && !raft_mode {
            continue;
        }
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        // The keyspace is read through the session's handle: inside EXEC, the transaction's.
        section(&ctx.s.shared, &ctx.s.db.kv(), name, &mut text);
    }
    ctx.w().verbatim(b"txt", text.as_bytes());
    Ok(())
}

/// Whether INFO with no section (or `default`) includes `section`: all but the per-command
/// ones, as in Redis.
fn is_default(section: &str) -> bool {
    !matches!(section, "commandstats" | "latencystats")
}

macro_rules! line {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
        $out.push_str("\r\n");
    }};
}

fn section(s: &Shared, kv: &kvcore::Kv, name: &str, out: &mut String) {
    let mut title = name.to_string();
    title[..1].make_ascii_uppercase();
    if name == "cpu" {
        title = "CPU".into();
    }
    line!(out, "# {title}");
    match name {
        "server" => server(s, out),
        "clients" => {
            line!(out, "connected_clients:{}", s.clients.connected());
            line!(out, "cluster_connections:0");
            line!(
                out,
                "maxclients:{}",
                s.live.maxclients.load(Ordering::Relaxed)
            );
            let blocked = s.waiters.waiting() + s.repl.blocked() + s.pause.held();
            line!(out, "blocked_clients:{blocked}");
            line!(out, "tracking_clients:{}", s.tracking.totals().clients);
        }
        "memory" => crate::memory::info(s, out),
        "persistence" => persistence(s, out),
        "stats" => stats(s, out),
        "replication" => {
            // The role and, on a replica, its link (`replica/`); then this server's own
            // replicas and stream (`repl/`): a replica is a primary to its own replicas.
            crate::replica::info(s, out);
            s.repl.info(kv, out);
        }
        "cpu" => {
            let cpu = cpu_seconds();
            line!(out, "used_cpu_sys:{:.6}", cpu[1]);
            line!(out, "used_cpu_user:{:.6}", cpu[0]);
            line!(out, "used_cpu_sys_children:{:.6}", cpu[3]);
            line!(out, "used_cpu_user_children:{:.6}", cpu[2]);
        }
        // No modules: Redis prints the bare header too.
        "modules" => {}
        "errorstats" => {
            for (code, n) in s.errors.snapshot() {
                line!(out, "errorstat_{code}:count={n}");
            }
        }
        "cluster" => line!(out, "cluster_enabled:0"),
        "raft" => {
            if let Some(node) = s.raft.get() {
                crate::raft::info(node, out);
            }
        }
        "commandstats" => commandstats(s, out),
        "latencystats" => latencystats(s, out),
        "keyspace" => {
            for i in 0..kv.databases() {
                if let Ok(db) = kv.db(i)
                    && let Ok(n @ 1..) = db.dbsize()
                {
                    // avg_ttl: kv does not sample TTLs; 0 is Redis's "no estimate yet".
                    line!(out, "db{i}:keys={n},expires={},avg_ttl=0", db.expires());
                }
            }
        }
        _ => {}
    }
}

fn server(s: &Shared, out: &mut String) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let uptime = s.started.elapsed().as_secs();
    line!(out, "redis_version:{REDIS_VERSION}");
    line!(out, "kv_version:{}", env!("CARGO_PKG_VERSION"));
    line!(out, "redis_git_sha1:00000000");
    line!(out, "redis_git_dirty:0");
    line!(out, "redis_mode:standalone");
    line!(
        out,
        "os:{} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    line!(out, "arch_bits:{}", usize::BITS);
    // std's Instant is clock_gettime(CLOCK_MONOTONIC), what Redis names this way.
    line!(out, "monotonic_clock:POSIX clock_gettime");
    line!(out, "multiplexing_api:threads");
    line!(out, "process_id:{}", std::process::id());
    line!(out, "process_supervised:no");
    line!(out, "run_id:{}", s.run_id);
    line!(out, "tcp_port:{}", s.local_addr.port());
    line!(out, "server_time_usec:{}", now.as_micros());
    line!(out, "uptime_in_seconds:{uptime}");
    line!(out, "uptime_in_days:{}", uptime / 86_400);
    // Redis's hz paces its active expiry cycle; kv's active expiry runs every 100 ms.
    line!(out, "hz:10");
    line!(out, "configured_hz:10");
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    line!(out, "executable:{exe}");
    let cfg = s
        .cfg
        .config_file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    line!(out, "config_file:{cfg}");
    // One thread per connection does its own I/O: no Redis-style I/O threads.
    line!(out, "io_threads_active:0");
}

fn persistence(s: &Shared, out: &mut String) {
    // The store is loaded before the listener opens, so no client ever sees loading:1.
    line!(out, "loading:0");
    line!(out, "async_loading:0");
    // Snapshots are written by a thread from a consistent view, never by a forked child.
    line!(out, "current_fork_perc:0.00");
    let p = s.kv.persistence();
    let ok = |b: bool| if b { "ok" } else { "err" };
    let changes = p.as_ref().map_or(0, |p| p.changes_since_save);
    let saving = p.as_ref().is_some_and(|p| p.saving);
    let last_save = p.as_ref().and_then(|p| p.last_save_ms);
    line!(out, "rdb_changes_since_last_save:{changes}");
    line!(out, "rdb_bgsave_in_progress:{}", u8::from(saving));
    line!(
        out,
        "rdb_last_save_time:{}",
        last_save.unwrap_or(s.started_unix_ms) / 1000
    );
    let save_ok = p.as_ref().and_then(|p| p.last_save_ok).unwrap_or(true);
    line!(out, "rdb_last_bgsave_status:{}", ok(save_ok));
    // Redis's seconds, rounded down; -1 when none was taken in this run.
    let last_secs = p
        .as_ref()
        .and_then(|p| p.last_save.as_ref())
        .map_or(-1, |i| (i.millis / 1000) as i64);
    line!(out, "rdb_last_bgsave_time_sec:{last_secs}");
    line!(out, "rdb_current_bgsave_time_sec:-1");
    let loaded = p.as_ref().map_or(0, |p| p.recovery.keys_loaded);
    line!(out, "rdb_last_load_keys_loaded:{loaded}");
    // A log is kv's append-only file: on whenever the store is durable. kv never rewrites it
    // (snapshots truncate it), so the rewrite fields hold Redis's values for "never rewritten".
    line!(out, "aof_enabled:{}", u8::from(p.is_some()));
    line!(out, "aof_rewrite_in_progress:0");
    line!(out, "aof_rewrite_scheduled:0");
    line!(out, "aof_last_rewrite_time_sec:-1");
    line!(out, "aof_current_rewrite_time_sec:-1");
    line!(out, "aof_last_bgrewrite_status:ok");
    line!(out, "aof_rewrites:0");
    line!(out, "aof_rewrites_consecutive_failures:0");
    let write_ok = p.as_ref().is_none_or(|p| p.write_failure.is_none());
    line!(out, "aof_last_write_status:{}", ok(write_ok));
    line!(out, "module_fork_in_progress:0");
    let Some(p) = p else {
        return;
    };
    line!(out, "kv_sync:{}", p.sync.as_str());
    line!(out, "kv_log_seq:{}", p.log_seq);
    line!(out, "kv_log_syncs:{}", p.log_syncs);
    line!(out, "kv_recovered_keys:{}", p.recovery.keys_loaded);
    line!(out, "kv_recovered_records:{}", p.recovery.records_replayed);
}

fn stats(s: &Shared, out: &mut String) {
    let base = s.baseline.lock();
    let cmds = s.clients.cmd_totals();
    let processed: u64 = cmds
        .iter()
        .enumerate()
        .map(|(i, t)| {
            t.calls
                .saturating_sub(base.cmds.get(i).map_or(0, |b| b.calls))
        })
        .sum();
    let c = s.clients.counter_totals().minus(base.counters);
    let conns = s
        .connections_received
        .load(Ordering::Relaxed)
        .saturating_sub(base.connections);
    let rejected = s
        .rejected_connections
        .load(Ordering::Relaxed)
        .saturating_sub(base.rejected);
    let [ops, net_in, net_out] = s.instantaneous.rates();
    line!(out, "total_connections_received:{conns}");
    line!(out, "total_commands_processed:{processed}");
    line!(out, "instantaneous_ops_per_sec:{}", ops.round() as u64);
    line!(out, "total_net_input_bytes:{}", c.net_in);
    line!(out, "total_net_output_bytes:{}", c.net_out);
    // No replication, so no replication traffic.
    line!(out, "total_net_repl_input_bytes:0");
    line!(out, "total_net_repl_output_bytes:0");
    line!(out, "instantaneous_input_kbps:{:.2}", net_in / 1024.0);
    line!(out, "instantaneous_output_kbps:{:.2}", net_out / 1024.0);
    line!(out, "instantaneous_input_repl_kbps:0.00");
    line!(out, "instantaneous_output_repl_kbps:0.00");
    line!(out, "rejected_connections:{rejected}");
    line!(
        out,
        "sync_full:{}",
        s.repl.sync_full.load(Ordering::Relaxed)
    );
    line!(
        out,
        "sync_partial_ok:{}",
        s.repl.sync_partial_ok.load(Ordering::Relaxed)
    );
    line!(
        out,
        "sync_partial_err:{}",
        s.repl.sync_partial_err.load(Ordering::Relaxed)
    );
    let expired = s.kv.stats().expired_keys.saturating_sub(base.expired);
    line!(out, "expired_keys:{expired}");
    let evicted = s.kv.evicted_keys().saturating_sub(base.evicted);
    line!(out, "evicted_keys:{evicted}");
    // kv never evicts clients.
    line!(out, "evicted_clients:0");
    line!(out, "keyspace_hits:{}", c.hits);
    line!(out, "keyspace_misses:{}", c.misses);
    let pubsub = s.kv.pubsub_counts();
    line!(out, "pubsub_channels:{}", pubsub.channels);
    line!(out, "pubsub_patterns:{}", pubsub.patterns);
    line!(out, "pubsubshard_channels:{}", pubsub.shard_channels);
    // kv never forks.
    line!(out, "latest_fork_usec:0");
    line!(out, "total_forks:0");
    let tracking = s.tracking.totals();
    line!(out, "tracking_total_keys:{}", tracking.keys);
    line!(out, "tracking_total_items:{}", tracking.items);
    line!(out, "tracking_total_prefixes:{}", tracking.prefixes);
    line!(out, "total_error_replies:{}", c.errors);
    // Redis 7.4's field (7.0 has none): clients closed over `client-output-buffer-limit`.
    let cut = s.output_limit_disconnections.load(Ordering::Relaxed);
    line!(
        out,
        "client_output_buffer_limit_disconnections:{}",
        cut.saturating_sub(base.output_limit_disconnections)
    );
}

fn commandstats(s: &Shared, out: &mut String) {
    let base = s.baseline.lock();
    for (i, t) in s.clients.cmd_totals().into_iter().enumerate() {
        let t = t.minus(base.cmds.get(i).copied().unwrap_or_default());
        if t.calls == 0 && t.rejected == 0 {
            continue;
        }
        let per_call = if t.calls == 0 {
            0.0
        } else {
            t.usec as f64 / t.calls as f64
        };
        line!(
            out,
            "cmdstat_{}:calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}",
            stat_name(i),
            t.calls,
            t.usec,
            t.rejected,
            t.failed
        );
    }
}

/// `latency_percentiles_usec_<command>:p50=..,p99=..` per command timed since tracking began,
/// at the percentiles of `latency-tracking-info-percentiles`; nothing while `latency-tracking`
/// is off (Redis prints the bare header then).
fn latencystats(s: &Shared, out: &mut String) {
    if !s.latency.tracking() {
        return;
    }
    let percentiles: Vec<f64> = {
        let params = s.params.lock();
        params[crate::params::index("latency-tracking-info-percentiles")]
            .split_ascii_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    };
    for slot in 0..table::stat_slots() {
        let Some(hist) = s.latency.histogram(slot) else {
            continue;
        };
        let _ = write!(out, "latency_percentiles_usec_{}:", stat_name(slot));
        for (i, &p) in percentiles.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let usec = hist.value_at_percentile(p) as f64 / 1000.0;
            let _ = write!(out, "p{}={usec:.3}", crate::params::trim_double(p));
        }
        out.push_str("\r\n");
    }
}

/// User, system, children's user and children's system CPU seconds of the process, from
/// /proc/self/stat (clock ticks of 1/100 s).
fn cpu_seconds() -> [f64; 4] {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name (field 2) may hold spaces; fields after its closing paren are plain.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 100.0
    };
    // After ')': state is index 0, so utime (field 14) is index 11, stime 12, cutime 13, cstime 14.
    [tick(11), tick(12), tick(13), tick(14)]
}

#[cfg(test)]
mod tests {
    use crate::memory::human;

    #[test]
    fn human_sizes() {
        assert_eq!(human(512), "512B");
        assert_eq!(human(1536), "1.50K");
        assert_eq!(human(3 * 1024 * 1024), "3.00M");
    }
}
