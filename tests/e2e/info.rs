//! INFO, CLIENT LIST and CONFIG GET in the shape redis-server 7.0.15 gives them, so exporters
//! (redis_exporter, Datadog, Prometheus) and dashboards parse ours. Every expected name, order
//! and format below was read from redis-server 7.0.15 (`tools/diffinfo.py` compares the two).

use redis::Value;

use super::support::{Server, TempDir, cmd};

/// INFO's text as sections: (header, [(field, value)]), checking the framing on the way:
/// CRLF line endings, a `# Header` first in each section, one blank line between sections.
fn sections(text: &str) -> Vec<(String, Vec<(String, String)>)> {
    assert!(text.ends_with("\r\n"), "INFO must end with CRLF: {text:?}");
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "bare LF in INFO: {text:?}"
    );
    let mut out = Vec::new();
    for block in text.trim_end_matches("\r\n").split("\r\n\r\n") {
        let mut lines = block.split("\r\n");
        let header = lines.next().unwrap_or_default();
        let title = header
            .strip_prefix("# ")
            .unwrap_or_else(|| panic!("section without a header: {block:?}"));
        let fields = lines
            .map(|l| {
                assert!(!l.is_empty() && !l.starts_with('#'), "stray line {l:?}");
                let (k, v) = l
                    .split_once(':')
                    .unwrap_or_else(|| panic!("no colon: {l:?}"));
                (k.to_string(), v.to_string())
            })
            .collect();
        out.push((title.to_string(), fields));
    }
    out
}

fn info(con: &mut redis::Connection, args: &[&str]) -> String {
    let mut c = redis::cmd("INFO");
    for a in args {
        c.arg(*a);
    }
    c.query(con).unwrap()
}

fn headers(text: &str) -> Vec<String> {
    sections(text).into_iter().map(|(h, _)| h).collect()
}

fn field<'a>(secs: &'a [(String, Vec<(String, String)>)], name: &str) -> &'a str {
    secs.iter()
        .flat_map(|(_, f)| f)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("INFO lacks {name}"))
}

fn is_int(v: &str) -> bool {
    let digits = v.strip_prefix('-').unwrap_or(v);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// A float with exactly `decimals` digits after the point (`1.50`, `0.123456`).
fn is_fixed(v: &str, decimals: usize) -> bool {
    v.split_once('.')
        .is_some_and(|(i, f)| is_int(i) && f.len() == decimals && is_int(f))
}

/// Redis's human sizes: `512B`, `1.50K`, `3.00M`.
fn is_human(v: &str) -> bool {
    match v.strip_suffix('B') {
        Some(n) if is_int(n) => true,
        _ => {
            let (n, unit) = v.split_at(v.len().saturating_sub(1));
            ["K", "M", "G", "T", "P"].contains(&unit) && is_fixed(n, 2)
        }
    }
}

// redis-server 7.0.15's section order.
const EVERYTHING: [&str; 13] = [
    "Server",
    "Clients",
    "Memory",
    "Persistence",
    "Stats",
    "Replication",
    "CPU",
    "Modules",
    "Commandstats",
    "Errorstats",
    "Latencystats",
    "Cluster",
    "Keyspace",
];

#[test]
fn info_sections_headers_and_selection_follow_redis() {
    let server = Server::start(&[]);
    let mut con = server.client();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();

    assert_eq!(headers(&info(&mut con, &["everything"])), EVERYTHING);
    assert_eq!(headers(&info(&mut con, &["all"])), EVERYTHING);
    let default: Vec<&str> = EVERYTHING
        .into_iter()
        .filter(|h| !["Commandstats", "Latencystats"].contains(h))
        .collect();
    assert_eq!(headers(&info(&mut con, &[])), default);
    assert_eq!(headers(&info(&mut con, &["default"])), default);
    assert_eq!(
        headers(&info(&mut con, &["server", "clients"])),
        ["Server", "Clients"]
    );
    // Case-insensitive; asked out of order, given in Redis's order.
    assert_eq!(
        headers(&info(&mut con, &["Keyspace", "CPU"])),
        ["CPU", "Keyspace"]
    );
    assert_eq!(headers(&info(&mut con, &["SERVER"])), ["Server"]);
    // Redis: an unknown section is an empty bulk string.
    assert_eq!(info(&mut con, &["nosuchsection"]), "");
    // A section without fields is its bare header, as Redis sends `# Modules\r\n`.
    assert_eq!(info(&mut con, &["modules"]), "# Modules\r\n");
    assert_eq!(
        info(&mut con, &["cluster"]),
        "# Cluster\r\ncluster_enabled:0\r\n"
    );
}

/// (field, format) pairs an exporter reads, in redis-server 7.0.15's order within each section.
const FIELDS: &[(&str, &[(&str, &str)])] = &[
    (
        "Server",
        &[
            ("redis_version", "str"),
            ("redis_mode", "str"),
            ("os", "str"),
            ("arch_bits", "int"),
            ("process_id", "int"),
            ("run_id", "str"),
            ("tcp_port", "int"),
            ("server_time_usec", "int"),
            ("uptime_in_seconds", "int"),
            ("uptime_in_days", "int"),
            ("executable", "str"),
            ("config_file", "str"),
        ],
    ),
    (
        "Clients",
        &[
            ("connected_clients", "int"),
            ("cluster_connections", "int"),
            ("maxclients", "int"),
            ("blocked_clients", "int"),
            ("tracking_clients", "int"),
        ],
    ),
    (
        "Memory",
        &[
            ("used_memory", "int"),
            ("used_memory_human", "human"),
            ("used_memory_rss", "int"),
            ("used_memory_rss_human", "human"),
            ("used_memory_peak", "int"),
            ("used_memory_peak_human", "human"),
            ("used_memory_peak_perc", "perc"),
            ("total_system_memory", "int"),
            ("total_system_memory_human", "human"),
            ("maxmemory", "int"),
            ("maxmemory_human", "human"),
            ("maxmemory_policy", "str"),
            ("mem_fragmentation_ratio", "f2"),
            ("mem_fragmentation_bytes", "int"),
            ("mem_allocator", "str"),
        ],
    ),
    (
        "Persistence",
        &[
            ("loading", "int"),
            ("async_loading", "int"),
            ("current_fork_perc", "f2"),
            ("rdb_changes_since_last_save", "int"),
            ("rdb_bgsave_in_progress", "int"),
            ("rdb_last_save_time", "int"),
            ("rdb_last_bgsave_status", "status"),
            ("rdb_last_bgsave_time_sec", "int"),
            ("rdb_current_bgsave_time_sec", "int"),
            ("rdb_last_load_keys_loaded", "int"),
            ("aof_enabled", "int"),
            ("aof_rewrite_in_progress", "int"),
            ("aof_rewrite_scheduled", "int"),
            ("aof_last_rewrite_time_sec", "int"),
            ("aof_current_rewrite_time_sec", "int"),
            ("aof_last_bgrewrite_status", "status"),
            ("aof_rewrites", "int"),
            ("aof_rewrites_consecutive_failures", "int"),
            ("aof_last_write_status", "status"),
            ("module_fork_in_progress", "int"),
        ],
    ),
    (
        "Stats",
        &[
            ("total_connections_received", "int"),
            ("total_commands_processed", "int"),
            ("instantaneous_ops_per_sec", "int"),
            ("total_net_input_bytes", "int"),
            ("total_net_output_bytes", "int"),
            ("total_net_repl_input_bytes", "int"),
            ("total_net_repl_output_bytes", "int"),
            ("instantaneous_input_kbps", "f2"),
            ("instantaneous_output_kbps", "f2"),
            ("instantaneous_input_repl_kbps", "f2"),
            ("instantaneous_output_repl_kbps", "f2"),
            ("rejected_connections", "int"),
            ("sync_full", "int"),
            ("sync_partial_ok", "int"),
            ("sync_partial_err", "int"),
            ("expired_keys", "int"),
            ("evicted_keys", "int"),
            ("evicted_clients", "int"),
            ("keyspace_hits", "int"),
            ("keyspace_misses", "int"),
            ("pubsub_channels", "int"),
            ("pubsub_patterns", "int"),
            ("pubsubshard_channels", "int"),
            ("latest_fork_usec", "int"),
            ("total_forks", "int"),
            ("total_error_replies", "int"),
        ],
    ),
    (
        "Replication",
        &[
            ("role", "str"),
            ("connected_slaves", "int"),
            ("master_failover_state", "str"),
            ("master_replid", "str"),
            ("master_replid2", "str"),
            ("master_repl_offset", "int"),
            ("second_repl_offset", "int"),
            ("repl_backlog_active", "int"),
            ("repl_backlog_size", "int"),
            ("repl_backlog_first_byte_offset", "int"),
            ("repl_backlog_histlen", "int"),
        ],
    ),
    (
        "CPU",
        &[
            ("used_cpu_sys", "f6"),
            ("used_cpu_user", "f6"),
            ("used_cpu_sys_children", "f6"),
            ("used_cpu_user_children", "f6"),
        ],
    ),
];

fn check_format(name: &str, value: &str, format: &str) {
    let ok = match format {
        "int" => is_int(value),
        "f2" => is_fixed(value, 2),
        "f6" => is_fixed(value, 6),
        "human" => is_human(value),
        "perc" => value.strip_suffix('%').is_some_and(|v| is_fixed(v, 2)),
        "status" => value == "ok" || value == "err",
        _ => !value.is_empty() || name == "config_file",
    };
    assert!(ok, "{name}:{value} is not {format}");
}

#[test]
fn info_exporter_fields_have_redis_names_formats_and_order() {
    let server = Server::start(&[]);
    let mut con = server.client();
    let secs = sections(&info(&mut con, &["everything"]));
    for (section, fields) in FIELDS {
        let (_, got) = secs
            .iter()
            .find(|(h, _)| h == section)
            .unwrap_or_else(|| panic!("no # {section}"));
        let mut last = None;
        for (name, format) in *fields {
            let pos = got
                .iter()
                .position(|(k, _)| k == name)
                .unwrap_or_else(|| panic!("# {section} lacks {name}"));
            check_format(name, &got[pos].1, format);
            // Redis's relative order (kv's own kv_* fields may sit in between).
            assert!(
                last < Some(pos),
                "{name} out of Redis's order in # {section}"
            );
            last = Some(pos);
        }
    }
    assert_eq!(field(&secs, "role"), "master");
    assert_eq!(field(&secs, "connected_slaves"), "0");
    assert_eq!(field(&secs, "loading"), "0");
    assert_eq!(field(&secs, "aof_enabled"), "0");
    assert_eq!(field(&secs, "tcp_port"), server.port().to_string());
}

#[test]
fn info_keyspace_commandstats_and_errorstats_lines() {
    let server = Server::start(&[]);
    let mut con = server.client();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    let _: () = redis::cmd("SET")
        .arg("t")
        .arg("v")
        .arg("EX")
        .arg(100)
        .query(&mut con)
        .unwrap();
    let _: Option<String> = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert!(cmd(&mut con, &["LPUSH", "k", "x"]).is_err());
    assert!(cmd(&mut con, &["NOSUCHCOMMAND"]).is_err());
    assert!(cmd(&mut con, &["GET"]).is_err());
    let _: Value = redis::cmd("CONFIG")
        .arg("GET")
        .arg("port")
        .query(&mut con)
        .unwrap();
    assert!(cmd(&mut con, &["CONFIG", "GET"]).is_err());
    assert!(cmd(&mut con, &["CLIENT", "NOSUCH"]).is_err());

    let text = info(&mut con, &["keyspace"]);
    assert_eq!(text, "# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\n");

    let secs = sections(&info(&mut con, &["commandstats"]));
    let stats = &secs[0].1;
    let line = |name: &str| {
        stats
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {name} in {stats:?}"))
    };
    // calls=N,usec=N,usec_per_call=N.NN,rejected_calls=N,failed_calls=N
    let parts = |v: String| -> Vec<(String, String)> {
        v.split(',')
            .map(|p| {
                let (a, b) = p.split_once('=').unwrap();
                (a.to_string(), b.to_string())
            })
            .collect()
    };
    let get = parts(line("cmdstat_get"));
    let keys: Vec<&str> = get.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "calls",
            "usec",
            "usec_per_call",
            "rejected_calls",
            "failed_calls"
        ]
    );
    assert!(is_int(&get[0].1) && is_int(&get[1].1) && is_fixed(&get[2].1, 2));
    assert_eq!((get[0].1.as_str(), get[3].1.as_str()), ("1", "1"));
    assert!(parts(line("cmdstat_lpush")).contains(&("failed_calls".into(), "1".into())));
    // Redis 7 keeps subcommands apart: cmdstat_config|get, not cmdstat_config; a subcommand's
    // arity error is its rejected call; an unknown subcommand appears nowhere.
    let config_get = parts(line("cmdstat_config|get"));
    assert_eq!(
        (config_get[0].1.as_str(), config_get[3].1.as_str()),
        ("1", "1")
    );
    assert!(!stats.iter().any(|(k, _)| k == "cmdstat_config"));
    assert!(!stats.iter().any(|(k, _)| k == "cmdstat_client"));

    let text = info(&mut con, &["errorstats"]);
    assert_eq!(
        text,
        "# Errorstats\r\nerrorstat_ERR:count=4\r\nerrorstat_WRONGTYPE:count=1\r\n"
    );
    let total = sections(&info(&mut con, &["stats"]));
    assert_eq!(field(&total, "total_error_replies"), "5");
    assert_eq!(
        cmd(&mut con, &["CONFIG", "RESETSTAT"]).unwrap(),
        Value::Okay
    );
    assert_eq!(info(&mut con, &["errorstats"]), "# Errorstats\r\n");
}

#[test]
fn cluster_refusals_count_as_failed_calls() {
    // The same commands on redis-server 7.0.15 (cluster-enabled no) left these lines (usec
    // fields dropped): the refusal is the handler's, so a failed call; an arity error is a
    // rejected call; an unknown subcommand counts only as an error reply.
    let server = Server::start(&[]);
    let mut con = server.client();
    for args in [
        &["CLUSTER", "INFO"][..],
        &["CLUSTER", "NOSUCH"],
        &["CLUSTER", "INFO", "x"],
        &["CLUSTER"],
        &["READONLY"],
        &["ASKING"],
        &["READWRITE"],
        &["CLUSTER", "HELP"],
    ] {
        assert!(cmd(&mut con, args).is_err(), "{args:?}");
    }
    // The client's own CLIENT SETINFO on connecting is left out.
    let mut lines: Vec<String> = info(&mut con, &["commandstats"])
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with("cmdstat_client|"))
        .map(|l| {
            let (name, rest) = l.split_once(':').unwrap();
            let kept: Vec<&str> = rest.split(',').filter(|p| !p.starts_with("usec")).collect();
            format!("{name}:{}", kept.join(","))
        })
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "cmdstat_asking:calls=1,rejected_calls=0,failed_calls=1",
            "cmdstat_cluster:calls=0,rejected_calls=1,failed_calls=0",
            "cmdstat_cluster|help:calls=1,rejected_calls=0,failed_calls=1",
            "cmdstat_cluster|info:calls=1,rejected_calls=1,failed_calls=1",
            "cmdstat_readonly:calls=1,rejected_calls=0,failed_calls=1",
            "cmdstat_readwrite:calls=1,rejected_calls=0,failed_calls=1",
        ]
    );
    assert_eq!(
        info(&mut con, &["errorstats"]),
        "# Errorstats\r\nerrorstat_ERR:count=8\r\n"
    );
    let total = sections(&info(&mut con, &["stats"]));
    assert_eq!(field(&total, "total_error_replies"), "8");
}

#[test]
fn info_persistence_maps_the_log_onto_aof_and_snapshots_onto_rdb() {
    let dir = TempDir::new("info-persist");
    let server = Server::durable(&dir, "everysec");
    let mut con = server.client();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    let secs = sections(&info(&mut con, &["persistence"]));
    assert_eq!(field(&secs, "aof_enabled"), "1");
    assert_eq!(field(&secs, "aof_last_write_status"), "ok");
    assert_eq!(field(&secs, "rdb_bgsave_in_progress"), "0");
    assert_eq!(field(&secs, "rdb_changes_since_last_save"), "1");
    assert_eq!(field(&secs, "rdb_last_bgsave_time_sec"), "-1");
    let _: Value = redis::cmd("SAVE").query(&mut con).unwrap();
    let secs = sections(&info(&mut con, &["persistence"]));
    let lastsave: i64 = redis::cmd("LASTSAVE").query(&mut con).unwrap();
    assert_eq!(field(&secs, "rdb_last_save_time"), lastsave.to_string());
    assert_eq!(field(&secs, "rdb_changes_since_last_save"), "0");
    assert!(is_int(field(&secs, "rdb_last_bgsave_time_sec")));
    assert_eq!(field(&secs, "kv_sync"), "everysec");
}

#[test]
fn client_list_fields_in_redis_order() {
    let server = Server::start(&[]);
    let mut con = server.client();
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut con).unwrap();
    assert!(list.ends_with('\n') && !list.ends_with("\r\n"), "{list:?}");
    let names: Vec<&str> = list
        .trim_end()
        .split(' ')
        .map(|p| p.split_once('=').map_or(p, |(k, _)| k))
        .collect();
    // Redis 7.2's order (7.0 lacks watch, lib-name and lib-ver; kv reports 7.2).
    assert_eq!(
        names,
        [
            "id",
            "addr",
            "laddr",
            "fd",
            "name",
            "age",
            "idle",
            "flags",
            "db",
            "sub",
            "psub",
            "ssub",
            "multi",
            "watch",
            "qbuf",
            "qbuf-free",
            "argv-mem",
            "multi-mem",
            "rbs",
            "rbp",
            "obl",
            "oll",
            "omem",
            "tot-mem",
            "events",
            "cmd",
            "user",
            "redir",
            "resp",
            "lib-name",
            "lib-ver"
        ]
    );
    // cmd= names the subcommand, as Redis 7 does.
    assert!(list.contains(" cmd=client|list "), "{list}");
    let me: String = redis::cmd("CLIENT").arg("INFO").query(&mut con).unwrap();
    assert!(
        me.starts_with("id=") && me.contains(" cmd=client|info "),
        "{me}"
    );
}

#[test]
fn config_get_shapes() {
    let dir = TempDir::new("info-config");
    let server = Server::durable(&dir, "everysec");
    let mut con = server.client();
    let get = |con: &mut redis::Connection, args: &[&str]| -> Vec<String> {
        let mut c = redis::cmd("CONFIG");
        c.arg("GET");
        for a in args {
            c.arg(*a);
        }
        c.query(con).unwrap()
    };
    // Values as redis-server 7.0.15 formats them.
    assert_eq!(get(&mut con, &["appendonly"]), ["appendonly", "yes"]);
    assert_eq!(get(&mut con, &["appendfsync"]), ["appendfsync", "everysec"]);
    assert_eq!(get(&mut con, &["maxmemory"]), ["maxmemory", "0"]);
    assert_eq!(get(&mut con, &["databases"]), ["databases", "16"]);
    assert_eq!(
        get(&mut con, &["port"]),
        ["port".to_string(), server.port().to_string()]
    );
    assert_eq!(get(&mut con, &["dir"])[0], "dir");
    let save = get(&mut con, &["save"]);
    assert_eq!(save[0], "save");
    // `seconds changes` pairs, space-separated.
    let words: Vec<&str> = save[1].split(' ').collect();
    assert!(
        words.len().is_multiple_of(2) && words.iter().all(|w| is_int(w)),
        "{save:?}"
    );
    // A glob-free name comes back as the client spelled it; unknown names give nothing.
    assert_eq!(get(&mut con, &["SAVE"])[0], "SAVE");
    assert!(get(&mut con, &["nosuchparam"]).is_empty());
    // Several patterns, each parameter once.
    let both = get(&mut con, &["port", "maxmemory", "port"]);
    assert_eq!(both.len(), 4, "{both:?}");
}
