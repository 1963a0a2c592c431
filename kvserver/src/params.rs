//! Redis 7.0's configuration parameters: the one table that names each of them (and its
//! alias), says how its value is checked and spelled (type, bounds, units, enum names), gives
//! its default as Redis's `CONFIG GET` reports it, whether it may change at run time, and
//! whether kv applies it (`live`) or accepts, stores and reports it. CONFIG GET/SET/REWRITE
//! (`kvserver/src/cmd/config.rs`), the config file (`kvserver/src/settings.rs`) and the rewrite
//! (`kvserver/src/rewrite.rs`) all read it.
//!
//! Value checks follow Redis's `config.c` rules and error texts: `yes`/`no` booleans, integers
//! by `string2ll`, memory sizes (`1gb`, `100mb`, `5k`), percentages, octal, enums (one name, or
//! several for flag sets), and the special parameters with their own grammar (`save`,
//! `client-output-buffer-limit`, `notify-keyspace-events`, `bind`, `oom-score-adj-values`,
//! `latency-tracking-info-percentiles`).

use std::borrow::Cow;

/// How a number is written and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fmt {
    /// `string2ll`.
    Plain,
    /// A memory size (`memtoull`: digits and an optional unit).
    Memory,
    /// A memory size or a percentage (`10%`, kept negative, as Redis does).
    MemoryPercent,
    /// Octal digits.
    Octal,
}

/// A parameter's grammar.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// `yes` or `no`.
    Bool,
    /// An integer within `lo..=hi`. `unsigned`: the bounds are checked on the value as an
    /// unsigned 64-bit number (Redis's `size_t`, `unsigned int` and `unsigned long long`
    /// parameters), so a negative value is out of range rather than below it.
    Num {
        lo: i128,
        hi: i128,
        unsigned: bool,
        fmt: Fmt,
    },
    /// One name of the list (names sharing a value are synonyms; the first is reported).
    Enum(&'static [(&'static str, u32)]),
    /// Several names of the list, space-separated, as a set of flags.
    Flags(&'static [(&'static str, u32)]),
    /// A string; `empty_is_null`: an empty value means "not set" (left out of a rewrite).
    Str {
        empty_is_null: bool,
    },
    Save,
    OutputLimits,
    OomValues,
    Notify,
    Bind,
    ReplicaOf,
    Percentiles,
    Dir,
}

/// Refused by CONFIG SET: `can't set immutable config`.
pub(crate) const IMMUTABLE: u8 = 1;
/// Refused by CONFIG SET under Redis's default `enable-protected-configs no`.
pub(crate) const PROTECTED: u8 = 2;
/// Not listed by a CONFIG GET pattern, only by its exact name.
pub(crate) const HIDDEN: u8 = 4;
/// A secret (a password).
pub(crate) const SENSITIVE: u8 = 8;
/// The value is split on spaces into several arguments.
pub(crate) const MULTI_ARG: u8 = 16;
/// kv applies the value: it changes the server's behaviour at once.
pub(crate) const LIVE: u8 = 32;

/// One parameter.
#[derive(Debug)]
pub(crate) struct Param {
    pub(crate) name: &'static str,
    pub(crate) alias: Option<&'static str>,
    pub(crate) kind: Kind,
    /// CONFIG GET's answer when nothing set it (kv's own for `bind`, `dir`, `port`, `save`).
    pub(crate) default: &'static str,
    pub(crate) flags: u8,
}

impl Param {
    const fn alias(mut self, alias: &'static str) -> Param {
        self.alias = Some(alias);
        self
    }

    const fn flag(mut self, flag: u8) -> Param {
        self.flags |= flag;
        self
    }

    const fn live(self) -> Param {
        self.flag(LIVE)
    }

    pub(crate) fn is(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

const fn p(name: &'static str, kind: Kind, default: &'static str) -> Param {
    Param {
        name,
        alias: None,
        kind,
        default,
        flags: 0,
    }
}

const fn num(lo: i128, hi: i128, fmt: Fmt) -> Kind {
    Kind::Num {
        lo,
        hi,
        unsigned: false,
        fmt,
    }
}

const fn unum(lo: i128, hi: i128, fmt: Fmt) -> Kind {
    Kind::Num {
        lo,
        hi,
        unsigned: true,
        fmt,
    }
}

use Fmt::{Memory, MemoryPercent, Octal, Plain};

const BOOL: Kind = Kind::Bool;
const STRING: Kind = Kind::Str {
    empty_is_null: false,
};
const NULLABLE: Kind = Kind::Str {
    empty_is_null: true,
};
const I32: i128 = i32::MAX as i128;
const U32: i128 = u32::MAX as i128;
const I64: i128 = i64::MAX as i128;
const U64: i128 = u64::MAX as i128;

const SUPERVISED_MODE_ENUM: &[(&str, u32)] =
    &[("upstart", 0), ("systemd", 1), ("auto", 2), ("no", 3)];
const SYSLOG_FACILITY_ENUM: &[(&str, u32)] = &[
    ("user", 0),
    ("local0", 1),
    ("local1", 2),
    ("local2", 3),
    ("local3", 4),
    ("local4", 5),
    ("local5", 6),
    ("local6", 7),
    ("local7", 8),
];
const REPL_DISKLESS_LOAD_ENUM: &[(&str, u32)] =
    &[("disabled", 0), ("on-empty-db", 1), ("swapdb", 2)];
const LOGLEVEL_ENUM: &[(&str, u32)] =
    &[("debug", 0), ("verbose", 1), ("notice", 2), ("warning", 3)];
const MAXMEMORY_POLICY_ENUM: &[(&str, u32)] = &[
    ("volatile-lru", 0),
    ("volatile-lfu", 1),
    ("volatile-random", 2),
    ("volatile-ttl", 3),
    ("allkeys-lru", 4),
    ("allkeys-lfu", 5),
    ("allkeys-random", 6),
    ("noeviction", 7),
];
const AOF_FSYNC_ENUM: &[(&str, u32)] = &[("everysec", 0), ("always", 1), ("no", 2)];
const OOM_SCORE_ADJ_ENUM: &[(&str, u32)] =
    &[("no", 0), ("yes", 1), ("relative", 1), ("absolute", 2)];
const ACL_PUBSUB_DEFAULT_ENUM: &[(&str, u32)] = &[("allchannels", 0), ("resetchannels", 1)];
const SANITIZE_DUMP_PAYLOAD_ENUM: &[(&str, u32)] = &[("no", 0), ("yes", 1), ("clients", 2)];
const PROTECTED_ACTION_ENUM: &[(&str, u32)] = &[("no", 0), ("yes", 1), ("local", 2)];
const CLUSTER_PREFERRED_ENDPOINT_TYPE_ENUM: &[(&str, u32)] =
    &[("ip", 0), ("hostname", 1), ("unknown-endpoint", 2)];
const PROPAGATION_ERROR_BEHAVIOR_ENUM: &[(&str, u32)] =
    &[("ignore", 0), ("panic", 1), ("panic-on-replicas", 2)];
const SHUTDOWN_ON_SIG_ENUM: &[(&str, u32)] = &[
    ("default", 0),
    ("save", 1),
    ("nosave", 2),
    ("now", 4),
    ("force", 8),
];
const TLS_AUTH_CLIENTS_ENUM: &[(&str, u32)] = &[("no", 0), ("yes", 1), ("optional", 2)];

/// Every parameter of Redis 7.0 (the TLS ones included, as a TLS build lists them), in
/// `config.c`'s order.
#[rustfmt::skip]
pub(crate) static PARAMS: &[Param] = &[
    p("rdbchecksum", BOOL, "yes").flag(IMMUTABLE),
    p("daemonize", BOOL, "no").flag(IMMUTABLE),
    p("io-threads-do-reads", BOOL, "no").flag(IMMUTABLE),
    p("always-show-logo", BOOL, "no").flag(IMMUTABLE),
    p("protected-mode", BOOL, "yes").live(),
    p("rdbcompression", BOOL, "yes"),
    p("rdb-del-sync-files", BOOL, "no"),
    p("activerehashing", BOOL, "yes"),
    p("stop-writes-on-bgsave-error", BOOL, "yes"),
    p("set-proc-title", BOOL, "yes").flag(IMMUTABLE),
    p("dynamic-hz", BOOL, "yes"),
    p("lazyfree-lazy-eviction", BOOL, "no"),
    p("lazyfree-lazy-expire", BOOL, "no"),
    p("lazyfree-lazy-server-del", BOOL, "no"),
    p("lazyfree-lazy-user-del", BOOL, "no"),
    p("lazyfree-lazy-user-flush", BOOL, "no"),
    p("repl-disable-tcp-nodelay", BOOL, "no"),
    p("repl-diskless-sync", BOOL, "yes").live(),
    p("aof-rewrite-incremental-fsync", BOOL, "yes"),
    p("no-appendfsync-on-rewrite", BOOL, "no"),
    p("cluster-require-full-coverage", BOOL, "yes"),
    p("rdb-save-incremental-fsync", BOOL, "yes"),
    p("aof-load-truncated", BOOL, "yes"),
    p("aof-use-rdb-preamble", BOOL, "yes"),
    p("aof-timestamp-enabled", BOOL, "no"),
    p("cluster-replica-no-failover", BOOL, "no").alias("cluster-slave-no-failover"),
    p("replica-lazy-flush", BOOL, "no").alias("slave-lazy-flush"),
    p("replica-serve-stale-data", BOOL, "yes").alias("slave-serve-stale-data"),
    p("replica-read-only", BOOL, "yes").alias("slave-read-only"),
    p("replica-ignore-maxmemory", BOOL, "yes").alias("slave-ignore-maxmemory"),
    p("jemalloc-bg-thread", BOOL, "yes"),
    p("activedefrag", BOOL, "no"),
    p("syslog-enabled", BOOL, "no").flag(IMMUTABLE),
    p("cluster-enabled", BOOL, "no").flag(IMMUTABLE),
    p("appendonly", BOOL, "no"),
    p("cluster-allow-reads-when-down", BOOL, "no"),
    p("cluster-allow-pubsubshard-when-down", BOOL, "yes"),
    p("crash-log-enabled", BOOL, "yes"),
    p("crash-memcheck-enabled", BOOL, "yes"),
    p("use-exit-on-panic", BOOL, "no").flag(HIDDEN),
    p("disable-thp", BOOL, "yes").flag(IMMUTABLE),
    p("cluster-allow-replica-migration", BOOL, "yes"),
    p("replica-announced", BOOL, "yes"),
    p("latency-tracking", BOOL, "yes").live(),
    p("aof-disable-auto-gc", BOOL, "no"),
    p("replica-ignore-disk-write-errors", BOOL, "no"),
    p("aclfile", STRING, "").flag(IMMUTABLE),
    p("unixsocket", NULLABLE, "").flag(IMMUTABLE),
    p("pidfile", NULLABLE, "").flag(IMMUTABLE),
    p("replica-announce-ip", NULLABLE, "").alias("slave-announce-ip"),
    p("masteruser", NULLABLE, "").flag(SENSITIVE),
    p("cluster-announce-ip", NULLABLE, ""),
    p("cluster-config-file", STRING, "nodes.conf").flag(IMMUTABLE),
    p("cluster-announce-hostname", NULLABLE, ""),
    p("syslog-ident", STRING, "redis").flag(IMMUTABLE),
    p("dbfilename", STRING, "dump.rdb").flag(PROTECTED),
    p("appendfilename", STRING, "appendonly.aof").flag(IMMUTABLE),
    p("appenddirname", STRING, "appendonlydir").flag(IMMUTABLE),
    p("server_cpulist", NULLABLE, "").flag(IMMUTABLE),
    p("bio_cpulist", NULLABLE, "").flag(IMMUTABLE),
    p("aof_rewrite_cpulist", NULLABLE, "").flag(IMMUTABLE),
    p("bgsave_cpulist", NULLABLE, "").flag(IMMUTABLE),
    p("ignore-warnings", STRING, ""),
    p("proc-title-template", STRING, "{title} {listen-addr} {server-mode}"),
    p("bind-source-addr", NULLABLE, ""),
    p("logfile", STRING, "").flag(IMMUTABLE),
    p("masterauth", NULLABLE, "").flag(SENSITIVE),
    p("requirepass", NULLABLE, "").flag(SENSITIVE).live(),
    p("supervised", Kind::Enum(SUPERVISED_MODE_ENUM), "no").flag(IMMUTABLE),
    p("syslog-facility", Kind::Enum(SYSLOG_FACILITY_ENUM), "local0").flag(IMMUTABLE),
    p("repl-diskless-load", Kind::Enum(REPL_DISKLESS_LOAD_ENUM), "disabled"),
    p("loglevel", Kind::Enum(LOGLEVEL_ENUM), "notice").live(),
    p("maxmemory-policy", Kind::Enum(MAXMEMORY_POLICY_ENUM), "noeviction").live(),
    p("appendfsync", Kind::Enum(AOF_FSYNC_ENUM), "everysec").live(),
    p("oom-score-adj", Kind::Enum(OOM_SCORE_ADJ_ENUM), "no"),
    p("acl-pubsub-default", Kind::Enum(ACL_PUBSUB_DEFAULT_ENUM), "resetchannels"),
    p("sanitize-dump-payload", Kind::Enum(SANITIZE_DUMP_PAYLOAD_ENUM), "no"),
    p("enable-protected-configs", Kind::Enum(PROTECTED_ACTION_ENUM), "no").flag(IMMUTABLE),
    p("enable-debug-command", Kind::Enum(PROTECTED_ACTION_ENUM), "no").flag(IMMUTABLE),
    p("enable-module-command", Kind::Enum(PROTECTED_ACTION_ENUM), "no").flag(IMMUTABLE),
    p("cluster-preferred-endpoint-type", Kind::Enum(CLUSTER_PREFERRED_ENDPOINT_TYPE_ENUM), "ip"),
    p("propagation-error-behavior", Kind::Enum(PROPAGATION_ERROR_BEHAVIOR_ENUM), "ignore"),
    p("shutdown-on-sigint", Kind::Flags(SHUTDOWN_ON_SIG_ENUM), "default").flag(MULTI_ARG),
    p("shutdown-on-sigterm", Kind::Flags(SHUTDOWN_ON_SIG_ENUM), "default").flag(MULTI_ARG),
    p("databases", num(1, I32, Plain), "16").flag(IMMUTABLE),
    p("port", num(0, 65535, Plain), "6379").live(),
    p("io-threads", num(1, 128, Plain), "1").flag(IMMUTABLE),
    p("auto-aof-rewrite-percentage", num(0, I32, Plain), "100"),
    p("cluster-replica-validity-factor", num(0, I32, Plain), "10").alias("cluster-slave-validity-factor"),
    p("list-max-listpack-size", num(-I32 - 1, I32, Plain), "-2").alias("list-max-ziplist-size"),
    p("tcp-keepalive", num(0, I32, Plain), "300"),
    p("cluster-migration-barrier", num(0, I32, Plain), "1"),
    p("active-defrag-cycle-min", num(1, 99, Plain), "1"),
    p("active-defrag-cycle-max", num(1, 99, Plain), "25"),
    p("active-defrag-threshold-lower", num(0, 1000, Plain), "10"),
    p("active-defrag-threshold-upper", num(0, 1000, Plain), "100"),
    p("lfu-log-factor", num(0, I32, Plain), "10").live(),
    p("lfu-decay-time", num(0, I32, Plain), "1").live(),
    p("replica-priority", num(0, I32, Plain), "100").alias("slave-priority"),
    p("repl-diskless-sync-delay", num(0, I32, Plain), "5"),
    p("maxmemory-samples", num(1, I32, Plain), "5").live(),
    p("maxmemory-eviction-tenacity", num(0, 100, Plain), "10").live(),
    p("timeout", num(0, I32, Plain), "0").live(),
    p("replica-announce-port", num(0, 65535, Plain), "0").alias("slave-announce-port"),
    p("tcp-backlog", num(0, I32, Plain), "511").flag(IMMUTABLE),
    p("cluster-port", num(0, 65535, Plain), "0").flag(IMMUTABLE),
    p("cluster-announce-bus-port", num(0, 65535, Plain), "0"),
    p("cluster-announce-port", num(0, 65535, Plain), "0"),
    p("cluster-announce-tls-port", num(0, 65535, Plain), "0"),
    p("repl-timeout", num(1, I32, Plain), "60"),
    p("repl-ping-replica-period", num(1, I32, Plain), "10").alias("repl-ping-slave-period").live(),
    p("list-compress-depth", num(0, I32, Plain), "0"),
    p("rdb-key-save-delay", num(-I32 - 1, I32, Plain), "0").flag(HIDDEN),
    p("key-load-delay", num(-I32 - 1, I32, Plain), "0").flag(HIDDEN),
    p("active-expire-effort", num(1, 10, Plain), "1"),
    p("hz", num(0, I32, Plain), "10").live(),
    p("min-replicas-to-write", num(0, I32, Plain), "0").alias("min-slaves-to-write").live(),
    p("min-replicas-max-lag", num(0, I32, Plain), "10").alias("min-slaves-max-lag").live(),
    p("watchdog-period", num(0, I32, Plain), "0").flag(HIDDEN),
    p("shutdown-timeout", num(0, I32, Plain), "10"),
    p("repl-diskless-sync-max-replicas", num(0, I32, Plain), "0"),
    p("maxclients", unum(1, U32, Plain), "10000").live(),
    p("unixsocketperm", unum(0, 511, Octal), "0").flag(IMMUTABLE),
    p("socket-mark-id", unum(0, U32, Plain), "0").flag(IMMUTABLE),
    p("active-defrag-max-scan-fields", num(1, I64, Plain), "1000"),
    p("slowlog-max-len", num(0, I64, Plain), "128").live(),
    p("acllog-max-len", num(0, I64, Plain), "128").live(),
    p("busy-reply-threshold", num(0, I64, Plain), "5000").alias("lua-time-limit").live(),
    p("cluster-node-timeout", num(0, I64, Plain), "15000"),
    p("slowlog-log-slower-than", num(-1, I64, Plain), "10000").live(),
    p("latency-monitor-threshold", num(0, I64, Plain), "0").live(),
    p("proto-max-bulk-len", num(1048576, I64, Memory), "536870912").live(),
    p("stream-node-max-entries", num(0, I64, Plain), "100"),
    p("repl-backlog-size", num(1, I64, Memory), "1048576").live(),
    p("maxmemory", unum(0, U64, Memory), "0").live(),
    p("cluster-link-sendbuf-limit", unum(0, U64, Memory), "0"),
    p("hash-max-listpack-entries", unum(0, I64, Plain), "512").alias("hash-max-ziplist-entries").live(),
    p("set-max-intset-entries", unum(0, I64, Plain), "512").live(),
    p("zset-max-listpack-entries", unum(0, I64, Plain), "128").alias("zset-max-ziplist-entries").live(),
    p("active-defrag-ignore-bytes", unum(1, I64, Memory), "104857600"),
    p("hash-max-listpack-value", unum(0, I64, Memory), "64").alias("hash-max-ziplist-value").live(),
    p("stream-node-max-bytes", unum(0, I64, Memory), "4096"),
    p("zset-max-listpack-value", unum(0, I64, Memory), "64").alias("zset-max-ziplist-value").live(),
    p("hll-sparse-max-bytes", unum(0, I64, Memory), "3000").live(),
    p("tracking-table-max-keys", unum(0, I64, Plain), "1000000").live(),
    p("client-query-buffer-limit", unum(1048576, I64, Memory), "1073741824").live(),
    p("maxmemory-clients", num(-100, I64, MemoryPercent), "0"),
    p("repl-backlog-ttl", num(0, I64, Plain), "3600"),
    p("auto-aof-rewrite-min-size", num(0, I64, Memory), "67108864"),
    p("loading-process-events-interval-bytes", num(1024, I32, Plain), "2097152").flag(HIDDEN),
    p("tls-port", num(0, 65535, Plain), "0"),
    p("tls-session-cache-size", num(0, I32, Plain), "20480"),
    p("tls-session-cache-timeout", num(0, I32, Plain), "300"),
    p("tls-cluster", BOOL, "no"),
    p("tls-replication", BOOL, "no"),
    p("tls-auth-clients", Kind::Enum(TLS_AUTH_CLIENTS_ENUM), "yes"),
    p("tls-prefer-server-ciphers", BOOL, "no"),
    p("tls-session-caching", BOOL, "yes"),
    p("tls-cert-file", NULLABLE, ""),
    p("tls-key-file", NULLABLE, ""),
    p("tls-key-file-pass", NULLABLE, ""),
    p("tls-client-cert-file", NULLABLE, ""),
    p("tls-client-key-file", NULLABLE, ""),
    p("tls-client-key-file-pass", NULLABLE, ""),
    p("tls-dh-params-file", NULLABLE, ""),
    p("tls-ca-cert-file", NULLABLE, ""),
    p("tls-ca-cert-dir", NULLABLE, ""),
    p("tls-protocols", NULLABLE, ""),
    p("tls-ciphers", NULLABLE, ""),
    p("tls-ciphersuites", NULLABLE, ""),
    p("dir", Kind::Dir, "").flag(PROTECTED),
    p("save", Kind::Save, "3600 1 300 100 60 10000").flag(MULTI_ARG).live(),
    p("client-output-buffer-limit", Kind::OutputLimits, "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60").flag(MULTI_ARG).live(),
    p("oom-score-adj-values", Kind::OomValues, "0 200 800").flag(MULTI_ARG),
    p("notify-keyspace-events", Kind::Notify, "").live(),
    p("bind", Kind::Bind, "127.0.0.1").flag(MULTI_ARG),
    p("replicaof", Kind::ReplicaOf, "").alias("slaveof").flag(IMMUTABLE).flag(MULTI_ARG),
    p("latency-tracking-info-percentiles", Kind::Percentiles, "50 99 99.9").flag(MULTI_ARG),
];

/// The parameter registered under `name` (its name or its alias, any case): its index in
/// [`PARAMS`] and the registered name (the alias when looked up by the alias, as Redis names
/// it in errors).
pub(crate) fn lookup(name: &str) -> Option<(usize, &'static str)> {
    PARAMS.iter().enumerate().find_map(|(i, p)| {
        if p.name.eq_ignore_ascii_case(name) {
            Some((i, p.name))
        } else {
            p.alias
                .filter(|a| a.eq_ignore_ascii_case(name))
                .map(|a| (i, a))
        }
    })
}

/// The index of a parameter by its exact primary name (for the server's own code).
///
/// # Panics
/// If no parameter has that name: a typo in kv's code, caught by the unit tests.
pub(crate) fn index(name: &str) -> usize {
    PARAMS
        .iter()
        .position(|p| p.name == name)
        .unwrap_or_else(|| panic!("no parameter named {name}"))
}

/// Why a value is refused: the text after Redis's `CONFIG SET failed (...) - `.
pub(crate) type Refusal = Cow<'static, str>;

/// Splits a multi-argument value as Redis does (on every single space; an empty value is no
/// argument at all).
fn split(v: &str) -> Vec<&str> {
    if v.is_empty() {
        Vec::new()
    } else {
        v.split(' ').collect()
    }
}

/// Checks `value` for the parameter and returns it as CONFIG GET will report it. `current` is
/// the value it replaces (`client-output-buffer-limit` changes only the classes it names).
///
/// # Errors
/// Redis's reason, as CONFIG SET reports it.
pub(crate) fn check(param: &Param, value: &str, current: &str) -> Result<String, Refusal> {
    match param.kind {
        Kind::Bool => match value.to_ascii_lowercase().as_str() {
            "yes" if param.name == "activedefrag" => Err(Cow::Borrowed(
                "Active defragmentation cannot be enabled: it requires a Redis server compiled \
                 with a modified Jemalloc like the one shipped by default with the Redis source \
                 distribution",
            )),
            "yes" => Ok("yes".into()),
            "no" => Ok("no".into()),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        Kind::Num {
            lo,
            hi,
            unsigned,
            fmt,
        } => {
            let n = parse_num(value, fmt)?;
            let in_range = if unsigned {
                (lo..=hi).contains(&((n as u64) as i128))
            } else if fmt == MemoryPercent && n < 0 {
                if (n as i128) < lo {
                    return Err(
                        format!("percentage argument must be less or equal to {}", -lo).into(),
                    );
                }
                true
            } else {
                (lo..=hi).contains(&(n as i128))
            };
            if !in_range {
                return Err(match (unsigned, fmt) {
                    (_, Octal) => format!("argument must be between {lo:o} and {hi:o} inclusive"),
                    _ => format!("argument must be between {lo} and {hi} inclusive"),
                }
                .into());
            }
            // Redis takes `hz` out of range but keeps it within 1..=500.
            let n = if param.name == "hz" {
                n.clamp(1, 500)
            } else {
                n
            };
            Ok(match fmt {
                Plain => n.to_string(),
                Memory => (n as u64).to_string(),
                MemoryPercent if n < 0 => format!("{}%", -(n as i128)),
                MemoryPercent => (n as u64).to_string(),
                Octal => format!("{n:o}"),
            })
        }
        Kind::Enum(names) => names
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(value))
            .map(|&(_, v)| enum_name(names, v))
            .ok_or_else(|| enum_error(names)),
        Kind::Flags(names) => {
            let args = split(value);
            let mut bits = 0;
            for a in &args {
                bits |= names
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(a))
                    .ok_or_else(|| enum_error(names))?
                    .1;
            }
            if args.is_empty() {
                return Err(enum_error(names));
            }
            // shutdown-on-sig*: SAVE (1) and NOSAVE (2) exclude each other.
            if bits & 3 == 3 {
                return Err("shutdown options SAVE and NOSAVE can't be used simultaneously".into());
            }
            Ok(flag_names(names, bits))
        }
        Kind::Str { .. } => {
            check_string(param.name, value)?;
            Ok(value.to_string())
        }
        Kind::Save => save_rules(value).map(|rules| {
            let words: Vec<String> = rules.iter().map(|(s, c)| format!("{s} {c}")).collect();
            words.join(" ")
        }),
        Kind::OutputLimits => {
            let mut limits =
                crate::settings::OutputLimits::parse_redis(current).unwrap_or_default();
            let words: Vec<&str> = value.split_whitespace().collect();
            limits.update(&words)?;
            Ok(limits.to_redis_string())
        }
        Kind::OomValues => {
            let args = split(value);
            if args.len() != 3 {
                return Err("wrong number of arguments".into());
            }
            let mut out = Vec::new();
            for a in args {
                match strtoll(a) {
                    Some(n) if (-2000..=2000).contains(&n) => out.push(n.to_string()),
                    _ => {
                        return Err(
                            "Invalid oom-score-adj-values, elements must be between -2000 \
                                    and 2000."
                                .into(),
                        );
                    }
                }
            }
            Ok(out.join(" "))
        }
        Kind::Notify => kvcore::NotifyFlags::parse(value)
            .map(|f| f.to_string())
            .ok_or(Cow::Borrowed(crate::settings::BAD_EVENT_CLASS)),
        Kind::Bind => {
            let args = split(value);
            if args.len() > 16 {
                return Err("Too many bind addresses specified.".into());
            }
            Ok(args.join(" "))
        }
        Kind::ReplicaOf => {
            let args = split(value);
            if args.len() != 2 {
                return Err("wrong number of arguments".into());
            }
            if args[0].eq_ignore_ascii_case("no") && args[1].eq_ignore_ascii_case("one") {
                return Ok(String::new());
            }
            match strtoll(args[1]) {
                Some(port) if (0..=65535).contains(&port) => Ok(format!("{} {port}", args[0])),
                _ => Err("Invalid master port".into()),
            }
        }
        Kind::Percentiles => {
            let mut out = Vec::new();
            for a in split(value) {
                let Some(v) = parse_double(a) else {
                    return Err("Invalid latency-tracking-info-percentiles parameters".into());
                };
                if !(0.0..=100.0).contains(&v) {
                    return Err(
                        "latency-tracking-info-percentiles parameters should sit between \
                                [0.0,100.0]"
                            .into(),
                    );
                }
                out.push(trim_double(v));
            }
            Ok(out.join(" "))
        }
        Kind::Dir => {
            if split(value).len() != 1 {
                return Err("wrong number of arguments".into());
            }
            Ok(value.to_string())
        }
    }
}

/// The `save` rules a value stands for.
///
/// # Errors
/// Redis's `Invalid save parameters`.
pub(crate) fn save_rules(value: &str) -> Result<Vec<(u64, u64)>, Refusal> {
    let args = split(value);
    let bad = || Cow::Borrowed("Invalid save parameters");
    if !args.len().is_multiple_of(2) {
        return Err(bad());
    }
    let mut rules = Vec::new();
    for pair in args.chunks(2) {
        let secs = strtoll(pair[0]).filter(|&n| n >= 1).ok_or_else(bad)?;
        let changes = strtoll(pair[1]).filter(|&n| n >= 0).ok_or_else(bad)?;
        // Redis keeps the count in an int.
        rules.push((secs as u64, changes as i32 as u64));
    }
    Ok(rules)
}

fn check_string(name: &str, v: &str) -> Result<(), Refusal> {
    match name {
        "cluster-announce-hostname" => {
            if v.len() >= 256 {
                return Err("Hostnames must be less than 256 characters".into());
            }
            if !v
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
            {
                return Err(
                    "Hostnames may only contain alphanumeric characters, hyphens or dots".into(),
                );
            }
        }
        "proc-title-template" => {
            const VARS: &[&str] = &[
                "{title}",
                "{listen-addr}",
                "{server-mode}",
                "{port}",
                "{tls-port}",
                "{unixsocket}",
                "{config-file}",
            ];
            let mut rest = v;
            let mut ok = v.contains("{title}");
            while let Some(open) = rest.find('{') {
                let Some(close) = rest[open..].find('}') else {
                    ok = false;
                    break;
                };
                ok &= VARS.contains(&&rest[open..open + close + 1]);
                rest = &rest[open + close + 1..];
            }
            if !ok || rest.contains('}') {
                return Err("template format is invalid or contains unknown variables".into());
            }
        }
        _ => {}
    }
    Ok(())
}

fn enum_error(names: &[(&str, u32)]) -> Refusal {
    let list: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
    format!(
        "argument(s) must be one of the following: {}",
        list.join(", ")
    )
    .into()
}

/// The first name with value `v` (Redis's `configEnumGetName`).
fn enum_name(names: &[(&str, u32)], v: u32) -> String {
    names
        .iter()
        .find(|(_, x)| *x == v)
        .map_or("unknown", |(n, _)| n)
        .to_string()
}

/// A set of flags as Redis names it: a name whose value is exactly the set, else each flag.
fn flag_names(names: &[(&str, u32)], bits: u32) -> String {
    if let Some((n, _)) = names.iter().find(|(_, v)| *v == bits) {
        return n.to_string();
    }
    let words: Vec<&str> = names
        .iter()
        .filter(|(_, v)| *v != 0 && bits & v == *v)
        .map(|(n, _)| *n)
        .collect();
    words.join(" ")
}

/// C's `strtoll` over the whole word (base 10, optional sign, leading spaces), as Redis's
/// special parameters read their numbers.
fn strtoll(s: &str) -> Option<i64> {
    let t = s.trim_start();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // strtoll saturates.
    Some(t.parse::<i64>().unwrap_or(if t.starts_with('-') {
        i64::MIN
    } else {
        i64::MAX
    }))
}

/// Redis's `string2d`: a whole-word double, no spaces, not NaN.
fn parse_double(s: &str) -> Option<f64> {
    if s.is_empty() || s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| !v.is_nan())
}

/// `%f` with trailing zeros (and a trailing dot) removed.
pub(crate) fn trim_double(v: f64) -> String {
    let s = format!("{v:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A number the way Redis's `numericParseString` reads it for `fmt`, as a `long long`.
fn parse_num(v: &str, fmt: Fmt) -> Result<i64, Refusal> {
    if matches!(fmt, Memory | MemoryPercent)
        && let Some(n) = memtoull(v)
    {
        return Ok(n as i64);
    }
    if fmt == MemoryPercent
        && v.len() > 1
        && let Some(digits) = v.strip_suffix('%')
        && let Some(n) = kvnum::parse_i64(digits.as_bytes()).filter(|&n| n >= 0)
    {
        return Ok(-n);
    }
    if fmt == Octal {
        let t = v.trim_start();
        let (neg, digits) = match t.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        if !digits.is_empty()
            && let Ok(n) = i64::from_str_radix(digits, 8)
        {
            return Ok(if neg { -n } else { n });
        }
    }
    if fmt == Plain
        && let Some(n) = kvnum::parse_i64(v.as_bytes())
    {
        return Ok(n);
    }
    Err(match fmt {
        MemoryPercent => "argument must be a memory or percent value",
        Memory => "argument must be a memory value",
        Octal => "argument couldn't be parsed as an octal number",
        Plain => "argument couldn't be parsed into an integer",
    }
    .into())
}

/// Redis's `memtoull`: digits (none reads as 0) and an optional unit, `b`, `k`/`m`/`g` (powers
/// of 1000) or `kb`/`mb`/`gb` (powers of 1024), any case. Too many digits saturate and the
/// multiplication wraps, as in Redis.
pub(crate) fn memtoull(s: &str) -> Option<u64> {
    if s.starts_with('-') {
        return None;
    }
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let mul: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if digits.len() >= 128 {
        return None;
    }
    let n = if digits.is_empty() {
        0
    } else {
        digits.parse::<u64>().unwrap_or(u64::MAX)
    };
    Some(n.wrapping_mul(mul))
}

/// Applies one of the encoding thresholds (`hash-max-listpack-*`, `zset-max-listpack-*`,
/// `set-max-intset-entries`, by primary name) to kvcore's; other names are ignored. The server
/// applies the config file's before it opens the store, so that loading follows them.
pub(crate) fn apply_encoding_limit(name: &str, value: &str) {
    let n = value
        .parse::<u64>()
        .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let mut l = kvcore::encoding_limits();
    match name {
        "hash-max-listpack-entries" => l.hash_max_listpack_entries = n,
        "hash-max-listpack-value" => l.hash_max_listpack_value = n,
        "zset-max-listpack-entries" => l.zset_max_listpack_entries = n,
        "zset-max-listpack-value" => l.zset_max_listpack_value = n,
        "set-max-intset-entries" => l.set_max_intset_entries = n,
        _ => return,
    }
    kvcore::set_encoding_limits(l);
}

/// Redis's `rewriteConfigFormatMemory`: the largest of gb, mb, kb that divides the value.
fn format_memory(n: u64) -> String {
    const KB: u64 = 1024;
    match n {
        0 => "0".into(),
        n if n.is_multiple_of(KB * KB * KB) => format!("{}gb", n / (KB * KB * KB)),
        n if n.is_multiple_of(KB * KB) => format!("{}mb", n / (KB * KB)),
        n if n.is_multiple_of(KB) => format!("{}kb", n / KB),
        n => n.to_string(),
    }
}

/// Redis's `sdscatrepr`: a double-quoted string with C escapes.
pub(crate) fn repr(s: &str) -> String {
    let mut out = String::from("\"");
    for b in s.bytes() {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            7 => out.push_str("\\a"),
            8 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// What CONFIG REWRITE writes for a parameter at `value`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Rewrite {
    /// Leave it out, and drop the file's lines for it.
    Remove,
    /// These lines; `force`: also when the file has none for the parameter (the value is
    /// not the default).
    Lines(Vec<(String, bool)>),
}

/// Redis's rewrite rules for a parameter's value (`rewriteConfig*Option`).
pub(crate) fn rewrite(param: &Param, value: &str) -> Rewrite {
    let name = param.name;
    let differs = value != param.default;
    let one = |line: String, force: bool| Rewrite::Lines(vec![(line, force)]);
    match param.kind {
        Kind::Bool | Kind::Enum(_) | Kind::Flags(_) => one(format!("{name} {value}"), differs),
        Kind::Num { fmt, .. } => {
            let shown = match fmt {
                Memory => format_memory(value.parse().unwrap_or(0)),
                MemoryPercent if !value.ends_with('%') => format_memory(value.parse().unwrap_or(0)),
                _ => value.to_string(),
            };
            one(format!("{name} {shown}"), differs)
        }
        Kind::Str { empty_is_null } => {
            if empty_is_null && value.is_empty() {
                Rewrite::Remove
            } else {
                one(format!("{name} {}", repr(value)), differs)
            }
        }
        Kind::Dir => one(format!("{name} {}", repr(value)), true),
        Kind::Save => {
            let rules = save_rules(value).unwrap_or_default();
            if rules.is_empty() {
                return one("save \"\"".into(), true);
            }
            Rewrite::Lines(
                rules
                    .iter()
                    .map(|(s, c)| (format!("save {s} {c}"), true))
                    .collect(),
            )
        }
        Kind::OutputLimits => {
            let cur = crate::settings::OutputLimits::parse_redis(value).unwrap_or_default();
            let def = crate::settings::OutputLimits::default();
            let class = |n: &str, l: crate::settings::ClassLimit, d| {
                let line = format!(
                    "{name} {n} {} {} {}",
                    format_memory(l.hard),
                    format_memory(l.soft),
                    l.secs
                );
                (line, l != d)
            };
            Rewrite::Lines(vec![
                class("normal", cur.normal, def.normal),
                class("replica", cur.replica, def.replica),
                class("pubsub", cur.pubsub, def.pubsub),
            ])
        }
        Kind::OomValues => one(format!("{name} {value}"), differs),
        Kind::Notify => one(format!("{name} {}", repr(value)), !value.is_empty()),
        Kind::Bind if !differs => Rewrite::Remove,
        Kind::Bind if value.is_empty() => one(format!("{name} \"\""), true),
        Kind::Bind => one(format!("{name} {value}"), true),
        // A replica writes the primary it follows (REPLICAOF keeps the value current).
        Kind::ReplicaOf if value.is_empty() => Rewrite::Remove,
        Kind::ReplicaOf => one(format!("{name} {value}"), true),
        Kind::Percentiles if value.is_empty() => one(format!("{name} \"\""), true),
        Kind::Percentiles => one(format!("{name} {value}"), true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(name: &str, v: &str) -> Result<String, String> {
        let (i, _) = lookup(name).expect("a parameter");
        check(&PARAMS[i], v, PARAMS[i].default).map_err(|e| e.into_owned())
    }

    #[test]
    fn names_are_unique_and_defaults_valid() {
        let mut seen = std::collections::HashSet::new();
        for p in PARAMS {
            assert!(seen.insert(p.name), "{}", p.name);
            if let Some(a) = p.alias {
                assert!(seen.insert(a), "{a}");
            }
            if !matches!(p.kind, Kind::Dir | Kind::ReplicaOf) {
                assert_eq!(
                    check(p, p.default, p.default).as_deref(),
                    Ok(p.default),
                    "{}",
                    p.name
                );
            }
        }
        assert_eq!(
            lookup("HASH-MAX-ZIPLIST-ENTRIES"),
            Some((
                index("hash-max-listpack-entries"),
                "hash-max-ziplist-entries"
            ))
        );
    }

    #[test]
    fn values_follow_redis() {
        assert_eq!(set("maxmemory", "1GB").unwrap(), "1073741824");
        assert_eq!(set("maxmemory", "").unwrap(), "0");
        assert_eq!(
            set("maxmemory", "1.5gb").unwrap_err(),
            "argument must be a memory value"
        );
        assert_eq!(
            set("timeout", "-1").unwrap_err(),
            "argument must be between 0 and 2147483647 inclusive"
        );
        assert_eq!(
            set("maxclients", "-1").unwrap_err(),
            "argument must be between 1 and 4294967295 inclusive"
        );
        assert_eq!(
            set("slowlog-max-len", "-1").unwrap_err(),
            "argument must be between 0 and 9223372036854775807 inclusive"
        );
        assert_eq!(
            set("hash-max-listpack-value", "-1").unwrap_err(),
            "argument must be a memory value"
        );
        assert_eq!(set("maxmemory-clients", "10%").unwrap(), "10%");
        assert_eq!(
            set("maxmemory-clients", "-10").unwrap_err(),
            "argument must be a memory or percent value"
        );
        assert_eq!(set("hz", "1000").unwrap(), "500");
        assert_eq!(set("oom-score-adj", "relative").unwrap(), "yes");
        assert_eq!(set("shutdown-on-sigint", "now save").unwrap(), "save now");
        assert!(
            set("shutdown-on-sigint", "save nosave")
                .unwrap_err()
                .contains("simultaneously")
        );
        assert_eq!(
            set("loglevel", "nothing").unwrap_err(),
            "argument(s) must be one of the following: debug, verbose, notice, warning"
        );
        assert_eq!(set("save", "").unwrap(), "");
        assert_eq!(set("save", "100").unwrap_err(), "Invalid save parameters");
        assert_eq!(
            set("latency-tracking-info-percentiles", "50 99.90 100").unwrap(),
            "50 99.9 100"
        );
        assert_eq!(
            set("appendonly", "maybe").unwrap_err(),
            "argument must be 'yes' or 'no'"
        );
    }

    #[test]
    fn rewrite_lines_follow_redis() {
        let p = &PARAMS[index("maxmemory")];
        assert_eq!(
            rewrite(p, "1073741824"),
            Rewrite::Lines(vec![("maxmemory 1gb".into(), true)])
        );
        assert_eq!(
            rewrite(p, "0"),
            Rewrite::Lines(vec![("maxmemory 0".into(), false)])
        );
        let p = &PARAMS[index("requirepass")];
        assert_eq!(rewrite(p, ""), Rewrite::Remove);
        assert_eq!(
            rewrite(p, "a\"b"),
            Rewrite::Lines(vec![("requirepass \"a\\\"b\"".into(), true)])
        );
        let p = &PARAMS[index("save")];
        assert_eq!(
            rewrite(p, ""),
            Rewrite::Lines(vec![("save \"\"".into(), true)])
        );
    }
}
