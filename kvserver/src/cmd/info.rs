//! INFO: Redis's `# Section` headers and `field:value` lines, CRLF-separated, so dashboards and
//! exporters that parse Redis's INFO read ours.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use kvcore::Store;
use kvproto::Request;

use super::ctx::{CmdResult, Ctx, is};
use super::table::TABLE;
use crate::server::Shared;

/// The Redis version whose commands and replies this server follows; clients gate features on
/// it (HELLO and INFO report it; `kv_version` in INFO is this server's own version).
pub(crate) const REDIS_VERSION: &str = "7.2.0";

const SECTIONS: [&str; 9] = [
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "commandstats",
    "keyspace",
];

/// INFO [section ...]: no argument or `default` gives every section but commandstats; `all`
/// and `everything` give them all.
pub(super) fn info(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let mut wanted = [false; SECTIONS.len()];
    if req.len() == 1 {
        wanted = SECTIONS.map(|s| s != "commandstats");
    }
    for arg in req.args().skip(1) {
        if is(arg, "all") || is(arg, "everything") {
            wanted = [true; SECTIONS.len()];
        } else if is(arg, "default") {
            for (w, s) in wanted.iter_mut().zip(SECTIONS) {
                *w |= s != "commandstats";
            }
        } else if let Some(i) = SECTIONS.iter().position(|s| is(arg, s)) {
            wanted[i] = true;
        }
    }
    let mut text = String::new();
    for (i, name) in SECTIONS.iter().enumerate() {
        if !wanted[i] {
            continue;
        }
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        section(&ctx.s.shared, name, &mut text);
    }
    ctx.w().verbatim(b"txt", text.as_bytes());
    Ok(())
}

macro_rules! line {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
        $out.push_str("\r\n");
    }};
}

fn section(s: &Shared, name: &str, out: &mut String) {
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
            line!(
                out,
                "maxclients:{}",
                s.live.maxclients.load(Ordering::Relaxed)
            );
            line!(out, "blocked_clients:{}", s.blocking.waiting());
        }
        "memory" => {
            let rss = rss_bytes();
            line!(out, "used_memory:{rss}");
            line!(out, "used_memory_human:{}", human(rss));
            line!(out, "used_memory_rss:{rss}");
            line!(out, "used_memory_rss_human:{}", human(rss));
            line!(out, "maxmemory:0");
            line!(out, "maxmemory_human:0B");
            line!(out, "maxmemory_policy:noeviction");
            line!(out, "mem_allocator:libc");
        }
        "persistence" => persistence(s, out),
        "stats" => stats(s, out),
        "replication" => {
            line!(out, "role:master");
            line!(out, "connected_slaves:0");
            line!(out, "master_replid:{}", s.run_id);
            line!(out, "master_repl_offset:0");
        }
        "cpu" => {
            let (user, sys) = cpu_seconds();
            line!(out, "used_cpu_sys:{sys:.6}");
            line!(out, "used_cpu_user:{user:.6}");
        }
        "commandstats" => commandstats(s, out),
        "keyspace" => {
            for i in 0..s.kv.databases() {
                if let Ok(db) = s.kv.db(i) {
                    let n = db.dbsize();
                    if n > 0 {
                        line!(out, "db{i}:keys={n},expires={}", db.expires());
                    }
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
    line!(out, "multiplexing_api:threads");
    line!(out, "process_id:{}", std::process::id());
    line!(out, "run_id:{}", s.run_id);
    line!(out, "tcp_port:{}", s.local_addr.port());
    line!(out, "server_time_usec:{}", now.as_micros());
    line!(out, "uptime_in_seconds:{uptime}");
    line!(out, "uptime_in_days:{}", uptime / 86_400);
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
}

fn persistence(s: &Shared, out: &mut String) {
    line!(out, "loading:0");
    line!(out, "async_loading:0");
    let Some(p) = s.kv.persistence() else {
        line!(out, "rdb_changes_since_last_save:0");
        line!(out, "rdb_bgsave_in_progress:0");
        line!(out, "rdb_last_save_time:{}", s.started_unix_ms / 1000);
        line!(out, "aof_enabled:0");
        line!(out, "aof_rewrite_in_progress:0");
        return;
    };
    let ok = |b: bool| if b { "ok" } else { "err" };
    line!(out, "rdb_changes_since_last_save:{}", p.changes_since_save);
    line!(out, "rdb_bgsave_in_progress:{}", u8::from(p.saving));
    line!(
        out,
        "rdb_last_save_time:{}",
        p.last_save_ms.unwrap_or(s.started_unix_ms) / 1000
    );
    line!(
        out,
        "rdb_last_bgsave_status:{}",
        ok(p.last_save_ok.unwrap_or(true))
    );
    line!(out, "aof_enabled:1");
    line!(out, "aof_rewrite_in_progress:0");
    line!(
        out,
        "aof_last_write_status:{}",
        ok(p.write_failure.is_none())
    );
    line!(out, "kv_sync:{}", s.cfg.sync.as_str());
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
    line!(out, "total_connections_received:{conns}");
    line!(out, "total_commands_processed:{processed}");
    line!(out, "total_net_input_bytes:{}", c.net_in);
    line!(out, "total_net_output_bytes:{}", c.net_out);
    line!(out, "rejected_connections:{rejected}");
    let expired = s.kv.stats().expired_keys.saturating_sub(base.expired);
    line!(out, "expired_keys:{expired}");
    line!(out, "keyspace_hits:{}", c.hits);
    line!(out, "keyspace_misses:{}", c.misses);
    line!(out, "total_error_replies:{}", c.errors);
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
            TABLE[i].name,
            t.calls,
            t.usec,
            t.rejected,
            t.failed
        );
    }
}

/// The process's resident set size, from /proc (0 where that is unavailable).
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// User and system CPU seconds of the process, from /proc/self/stat (clock ticks of 1/100 s).
fn cpu_seconds() -> (f64, f64) {
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
    // After ')': state is index 0, so utime (field 14) is index 11 and stime index 12.
    (tick(11), tick(12))
}

/// Redis's `*_human` format: `1.50M`.
fn human(n: u64) -> String {
    let units = ["B", "K", "M", "G", "T"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n}B")
    } else {
        format!("{v:.2}{}", units[u])
    }
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn human_sizes() {
        assert_eq!(human(512), "512B");
        assert_eq!(human(1536), "1.50K");
        assert_eq!(human(3 * 1024 * 1024), "3.00M");
    }
}
