//! The state every connection thread shares: the store, the settings `CONFIG SET` may change,
//! the client registry and the server-wide counters.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use parking_lot::{Mutex, RwLock};

use crate::registry::Registry;
use crate::settings::{ClassLimit, Config, OutputLimits};
use crate::stats::{CmdTotals, CounterTotals};

/// Settings that `CONFIG SET` can change while the server runs.
#[derive(Debug)]
pub(crate) struct Live {
    pub(crate) requirepass: RwLock<Option<Vec<u8>>>,
    pub(crate) maxclients: AtomicUsize,
    pub(crate) idle_timeout_secs: AtomicU64,
    pub(crate) query_buffer_limit: AtomicU64,
    /// Redis's `proto-max-bulk-len`: the longest bulk string a request may carry.
    pub(crate) proto_max_bulk_len: AtomicU64,
    /// `client-output-buffer-limit`.
    pub(crate) output_limits: LiveOutputLimits,
}

/// One class's `client-output-buffer-limit`, readable by any thread without a lock (CONFIG SET
/// stores its three numbers one after the other; a reader in between sees a mix for a moment).
#[derive(Debug, Default)]
pub(crate) struct LiveClassLimit {
    hard: AtomicU64,
    soft: AtomicU64,
    secs: AtomicU64,
}

impl LiveClassLimit {
    pub(crate) fn get(&self) -> ClassLimit {
        ClassLimit {
            hard: self.hard.load(Ordering::Relaxed),
            soft: self.soft.load(Ordering::Relaxed),
            secs: self.secs.load(Ordering::Relaxed),
        }
    }

    fn set(&self, l: ClassLimit) {
        self.hard.store(l.hard, Ordering::Relaxed);
        self.soft.store(l.soft, Ordering::Relaxed);
        self.secs.store(l.secs, Ordering::Relaxed);
    }
}

/// [`OutputLimits`], changeable at run time.
#[derive(Debug, Default)]
pub(crate) struct LiveOutputLimits {
    pub(crate) normal: LiveClassLimit,
    pub(crate) replica: LiveClassLimit,
    pub(crate) pubsub: LiveClassLimit,
}

impl LiveOutputLimits {
    fn new(l: OutputLimits) -> LiveOutputLimits {
        let live = LiveOutputLimits::default();
        live.set(l);
        live
    }

    pub(crate) fn set(&self, l: OutputLimits) {
        self.normal.set(l.normal);
        self.replica.set(l.replica);
        self.pubsub.set(l.pubsub);
    }
}

/// What `CONFIG RESETSTAT` resets to: reports subtract these.
#[derive(Debug, Default)]
pub(crate) struct Baseline {
    pub(crate) cmds: Vec<CmdTotals>,
    pub(crate) counters: CounterTotals,
    pub(crate) connections: u64,
    pub(crate) rejected: u64,
    pub(crate) expired: u64,
    pub(crate) evicted: u64,
    pub(crate) output_limit_disconnections: u64,
}

/// The state every connection thread shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) kv: kvcore::Kv,
    /// The settings the server started with (the immutable ones are read from here).
    pub(crate) cfg: Config,
    pub(crate) live: Live,
    /// Every parameter's value as CONFIG GET reports it, by its index in
    /// [`crate::params::PARAMS`] (CONFIG SET replaces them, under this lock, all at once).
    pub(crate) params: Mutex<Vec<String>>,
    pub(crate) clients: Registry,
    pub(crate) local_addr: SocketAddr,
    pub(crate) started: Instant,
    /// Wall-clock start time (Unix ms), for LASTSAVE before the first snapshot.
    pub(crate) started_unix_ms: u64,
    /// The counted memory when the server was ready (INFO's `used_memory_startup`).
    pub(crate) startup_memory: u64,
    pub(crate) run_id: String,
    pub(crate) connections_received: AtomicU64,
    pub(crate) rejected_connections: AtomicU64,
    /// The TLS configuration new connections on `tls-port` get (`tls.rs`).
    pub(crate) tls: crate::tls::Current,
    /// Clients closed for passing their `client-output-buffer-limit` (INFO's
    /// `client_output_buffer_limit_disconnections`, Redis 7.4).
    pub(crate) output_limit_disconnections: AtomicU64,
    pub(crate) baseline: Mutex<Baseline>,
    /// Error replies per error code (`INFO errorstats`).
    pub(crate) errors: crate::stats::ErrorStats,
    /// `instantaneous_*` rates, fed by the sampler thread.
    pub(crate) instantaneous: crate::stats::Instantaneous,
    pub(crate) stopping: AtomicBool,
    /// Take a snapshot before exiting (SIGTERM/SIGINT and SHUTDOWN; SHUTDOWN NOSAVE clears it).
    pub(crate) save_on_shutdown: AtomicBool,
    pub(crate) waiters: crate::waiters::Waiters,
    /// The clients that ran MONITOR.
    pub(crate) monitors: crate::monitor::Monitors,
    /// Client-side caching: the tracking clients and the keys they may cache.
    pub(crate) tracking: crate::tracking::Tracking,
    /// The Lua interpreters, the script cache and the function libraries (EVAL, SCRIPT,
    /// FUNCTION).
    pub(crate) scripts: kvcore::script::Engine,
    /// ACL users, the ACL log and the ACL file (`acl/`).
    pub(crate) acl: crate::acl::Acl,
    /// SLOWLOG's entries and its parameters (`kvserver/src/cmd/slowlog.rs`).
    pub(crate) slowlog: crate::cmd::SlowLog,
    /// The latency monitor and histograms (`kvserver/src/cmd/latency.rs`).
    pub(crate) latency: crate::cmd::Latency,
    /// CLIENT PAUSE (`kvserver/src/cmd/pause.rs`).
    pub(crate) pause: crate::cmd::Pause,
    /// Sends the replies of batches that wait for an fdatasync (`--sync always`).
    pub(crate) replier: Option<crate::replier::Replier>,
    /// REPLICAOF's state and the link to a primary (`replica/`).
    pub(crate) replica: crate::replica::Replica,
    /// Unit tests only: runs this handler instead of the named command's (see `Session::handler`).
    #[cfg(test)]
    pub(crate) test_handler: Option<(&'static str, crate::cmd::table::Handler)>,
    /// The attached replicas and the replication settings (`repl/`).
    pub(crate) repl: crate::repl::Primary,
    /// What decides where data commands run and when their replies may go out, when this
    /// server's store is replicated (kvcore's `Coordinator` seam); set once at start-up.
    /// Unset, every command runs here and a batch's replies wait only for its own commit.
    pub(crate) coordinator: std::sync::OnceLock<std::sync::Arc<dyn kvcore::Coordinator>>,
    /// The Raft mode's node (`--raft-id`), set once at start-up: also the `coordinator`;
    /// here for what only Raft has (RAFT, INFO raft, ROLE).
    pub(crate) raft: std::sync::OnceLock<std::sync::Arc<kvraft::RaftNode>>,
    /// The Raft links' TLS (`tls-cluster yes` in the Raft mode), set once at start-up: a
    /// follower forwards to the leader's TLS client port with it.
    pub(crate) raft_tls: std::sync::OnceLock<std::sync::Arc<crate::raft_tls::ClusterTls>>,
}

/// The script engine, with the function libraries the store kept loaded into it and
/// busy-reply-threshold (`busy_ms`).
fn scripts(kv: &kvcore::Kv, busy_ms: u64) -> kvcore::script::Engine {
    let engine = kvcore::script::Engine::new(kvcore::script::EngineOptions {
        version: crate::cmd::REDIS_VERSION.to_string(),
        ..kvcore::script::EngineOptions::default()
    });
    engine.set_busy_threshold(busy_ms);
    for (name, code) in kv.function_libraries() {
        let loaded = engine.function_load(&code, kvcore::script::Policy::Replace, |_, _| Ok(()));
        if let Err(kvcore::script::Value::Error(e)) = loaded {
            crate::log::warning!(
                "function library '{}' could not be loaded: {}",
                String::from_utf8_lossy(&name),
                String::from_utf8_lossy(&e)
            );
        }
    }
    engine
}

impl Shared {
    pub(crate) fn new(
        kv: kvcore::Kv,
        cfg: Config,
        local_addr: SocketAddr,
        replier: Option<crate::replier::Replier>,
    ) -> Shared {
        let scripts = scripts(&kv, cfg.busy_reply_threshold);
        let params = initial_params(&kv, &cfg, local_addr);
        let param = |name: &str| params[crate::params::index(name)].as_str();
        let slowlog = crate::cmd::SlowLog::new(
            param("slowlog-log-slower-than").parse().unwrap_or(10_000),
            param("slowlog-max-len").parse().unwrap_or(128),
        );
        let latency = crate::cmd::Latency::new(
            param("latency-monitor-threshold").parse().unwrap_or(0),
            param("latency-tracking") != "no",
        );
        let acl = crate::acl::Acl::new(
            cfg.requirepass.as_deref(),
            param("acllog-max-len").parse().unwrap_or(128),
            Some(param("aclfile"))
                .filter(|f| !f.is_empty())
                .map(std::path::PathBuf::from),
        );
        let replica = crate::replica::Replica::new(|name| param(name).to_string());
        let repl = crate::repl::Primary::default();
        for name in [
            "repl-backlog-size",
            "min-replicas-to-write",
            "min-replicas-max-lag",
            "repl-ping-replica-period",
            "repl-diskless-sync",
            "client-output-buffer-limit",
        ] {
            repl.apply(&kv, name, param(name));
        }
        let params = Mutex::new(params);
        Shared {
            replica,
            repl,
            acl,
            slowlog,
            latency,
            pause: crate::cmd::Pause::default(),
            params,
            replier,
            live: Live {
                requirepass: RwLock::new(cfg.requirepass.clone()),
                maxclients: AtomicUsize::new(cfg.maxclients),
                idle_timeout_secs: AtomicU64::new(cfg.idle_timeout_secs),
                query_buffer_limit: AtomicU64::new(cfg.query_buffer_limit),
                proto_max_bulk_len: AtomicU64::new(cfg.proto_max_bulk_len),
                output_limits: LiveOutputLimits::new(cfg.output_limits),
            },
            kv,
            cfg,
            clients: Registry::new(crate::cmd::table::stat_slots()),
            local_addr,
            started: Instant::now(),
            started_unix_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            startup_memory: kvcore::allocated().map_or(0, |a| a.used),
            run_id: run_id(),
            connections_received: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            tls: crate::tls::Current::default(),
            output_limit_disconnections: AtomicU64::new(0),
            baseline: Mutex::new(Baseline::default()),
            errors: crate::stats::ErrorStats::default(),
            instantaneous: crate::stats::Instantaneous::default(),
            stopping: AtomicBool::new(false),
            coordinator: std::sync::OnceLock::new(),
            raft: std::sync::OnceLock::new(),
            raft_tls: std::sync::OnceLock::new(),
            save_on_shutdown: AtomicBool::new(true),
            waiters: crate::waiters::Waiters::default(),
            monitors: crate::monitor::Monitors::default(),
            tracking: crate::tracking::Tracking::default(),
            scripts,
            #[cfg(test)]
            test_handler: None,
        }
    }

    /// Milliseconds since the server started: the clock of client ages and idle times (one
    /// monotonic read, cheaper than the wall clock and immune to its jumps).
    pub(crate) fn uptime_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Whether the server asks new connections to authenticate right now: the default user
    /// has a password (`requirepass`) or is off, as Redis's `authRequired`.
    pub(crate) fn requires_auth(&self) -> bool {
        self.acl.requires_auth()
    }
}

/// The parameters' values at start-up: Redis's defaults, then what the flags and the config
/// file set (the settings kv has its own fields for), then the config file's other lines.
fn initial_params(kv: &kvcore::Kv, cfg: &Config, local_addr: SocketAddr) -> Vec<String> {
    use crate::params::{PARAMS, index};
    let mut v: Vec<String> = PARAMS.iter().map(|p| p.default.to_string()).collect();
    let dir = std::fs::canonicalize(&cfg.data_dir).unwrap_or_else(|_| cfg.data_dir.clone());
    // An in-memory store takes no snapshots: it reports the file's rules, if any, or none.
    let save = kv
        .save_rules()
        .or_else(|| cfg.save.clone())
        .unwrap_or_default();
    let save: Vec<String> = save.iter().map(|(s, c)| format!("{s} {c}")).collect();
    let password = cfg.requirepass.as_deref().unwrap_or_default();
    for (name, value) in [
        ("appendfsync", cfg.sync.as_str().to_string()),
        // The write-ahead log plays the part of Redis's append-only file.
        (
            "appendonly",
            if kv.is_persistent() { "yes" } else { "no" }.into(),
        ),
        ("bind", cfg.bind.clone()),
        ("port", local_addr.port().to_string()),
        ("dir", dir.display().to_string()),
        ("save", save.join(" ")),
        ("databases", cfg.databases.to_string()),
        (
            "requirepass",
            String::from_utf8_lossy(password).into_owned(),
        ),
        ("maxclients", cfg.maxclients.to_string()),
        ("loglevel", cfg.log_level.as_str().to_string()),
        (
            "client-query-buffer-limit",
            cfg.query_buffer_limit.to_string(),
        ),
        ("proto-max-bulk-len", cfg.proto_max_bulk_len.to_string()),
        (
            "client-output-buffer-limit",
            cfg.output_limits.to_redis_string(),
        ),
        ("timeout", cfg.idle_timeout_secs.to_string()),
        (
            "notify-keyspace-events",
            cfg.notify_keyspace_events.to_string(),
        ),
        ("busy-reply-threshold", cfg.busy_reply_threshold.to_string()),
    ] {
        v[index(name)] = value;
    }
    for (i, value) in &cfg.params {
        v[*i].clone_from(value);
    }
    v
}

/// A 40-hex-digit id for this process's run (Redis's `run_id`), from std's random hasher keys.
fn run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut s = String::with_capacity(40);
    let mut i = 0u64;
    while s.len() < 40 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(i);
        h.write_u32(std::process::id());
        s.push_str(&format!("{:016x}", h.finish()));
        i += 1;
    }
    s.truncate(40);
    s
}
