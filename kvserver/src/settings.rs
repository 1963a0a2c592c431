//! Command-line flags, the optional Redis-style config file, and the settings they resolve to.
//!
//! Precedence: built-in defaults < `--config FILE` < command-line flags. The config file uses
//! Redis's `name value` lines, and accepts Redis's names (`dir`, `appendfsync`, `loglevel`,
//! `client-query-buffer-limit`, `timeout`, ...) as well as the flag names.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::log::Level;

/// When the write-ahead log is fsynced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum SyncMode {
    /// fsync after every write, before replying.
    Always,
    /// fsync once a second in the background.
    Everysec,
    /// never fsync; leave it to the operating system.
    No,
}

impl SyncMode {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SyncMode::Always => "always",
            SyncMode::Everysec => "everysec",
            SyncMode::No => "no",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<SyncMode> {
        Some(match s.to_ascii_lowercase().as_str() {
            "always" => SyncMode::Always,
            "everysec" => SyncMode::Everysec,
            "no" => SyncMode::No,
            _ => return None,
        })
    }
}

/// A Redis-compatible server over kvcore.
#[derive(Parser, Debug, Default)]
#[command(
    name = "kvserver",
    version,
    about,
    long_about = None
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) tool: Option<Tool>,
    /// Address to listen on [default: 127.0.0.1]. Anything but loopback without --requirepass
    /// logs a warning.
    #[arg(long, value_name = "ADDR")]
    bind: Option<String>,
    /// TCP port; 0 picks a free one (the "listening on" log line names it) [default: 6380]
    #[arg(long)]
    port: Option<u16>,
    /// Directory for the write-ahead log and snapshots, created if missing [default: ./data]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// When to fsync the write-ahead log: always (before each reply), everysec (a crash of
    /// the machine loses about a second), no (the OS decides) [default: everysec]
    #[arg(long, value_enum, value_name = "MODE")]
    sync: Option<SyncMode>,
    /// Keep everything in memory and write nothing to disk (--data-dir and --sync unused).
    #[arg(long)]
    in_memory: bool,
    /// With --sync everysec or no, copy log records into a shared memory mapping of the log (no
    /// system call per write). Say no on copy-on-write file systems (btrfs, ZFS), where a full
    /// disk would stop the process instead of failing writes [default: yes]
    #[arg(long, value_name = "yes|no", value_parser = yes_no_arg)]
    wal_mmap: Option<bool>,
    /// Require clients to AUTH with this password before any other command.
    #[arg(long, value_name = "PASSWORD")]
    requirepass: Option<String>,
    /// Most clients connected at once; more are refused with an error [default: 10000]
    #[arg(long, value_name = "N")]
    maxclients: Option<usize>,
    /// Number of numbered databases (SELECT 0..N-1) [default: 16]
    #[arg(long, value_name = "N")]
    databases: Option<usize>,
    /// Read settings from a Redis-style config file (`name value` lines); flags win over it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log verbosity: debug, verbose, notice or warning, or nothing [default: notice]
    #[arg(long, value_name = "LEVEL")]
    log_level: Option<String>,
    /// Close a client whose unparsed input passes this size; units b, kb, mb, gb [default: 1gb]
    #[arg(long, value_name = "BYTES")]
    query_buffer_limit: Option<String>,
    /// Close a client whose pending replies pass this size; 0 means no limit [default: 0]
    #[arg(long, value_name = "BYTES")]
    output_buffer_limit: Option<String>,
    /// Close a client idle for this many seconds; 0 means never [default: 0]
    #[arg(long, visible_alias = "timeout", value_name = "SECONDS")]
    idle_timeout: Option<u64>,
    /// Keyspace events to publish, as Redis's notify-keyspace-events letters (K E g $ l s h z
    /// x e t m d n A), e.g. KEA; empty: none [default: ""]
    #[arg(long, value_name = "FLAGS")]
    notify_keyspace_events: Option<String>,
    /// This node's ID in a Raft group (with --raft-peers): the replicated, linearizable mode.
    /// The Raft log and snapshots go under DATA_DIR/raft; --sync and --in-memory do not apply.
    #[arg(long, value_name = "N")]
    raft_id: Option<u64>,
    /// Every member of the Raft group as ID=HOST:PORT, comma-separated, this node included
    /// (its own entry is the address it listens on for the others), e.g.
    /// 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003
    #[arg(long, value_name = "PEERS")]
    raft_peers: Option<String>,
    /// Join a running Raft group instead of starting a new one: the node waits until the
    /// leader adds it (RAFT ADD-NODE id host:port) and sends it a snapshot.
    #[arg(long)]
    raft_join: bool,
    /// Snapshot the store and compact the Raft log once it holds this many entries
    /// [default: 10000]
    #[arg(long, value_name = "N")]
    raft_snapshot_entries: Option<u64>,
    /// How long, in microseconds, the Raft leader may hold its clients' writes until the
    /// rest of their cohort (the writers whose replies just went out) has written again,
    /// so that they share one log entry and one fsync per node; a lone writer is never held;
    /// 0: propose every write at once; at most 1000000 [default: 2000]
    #[arg(long, value_name = "MICROSECONDS")]
    raft_batch_wait: Option<u64>,
    /// A secret every node of the Raft group shares: a node accepts a Raft link only from a
    /// peer that proves it knows it, and sends only to one (a challenge-response; the secret
    /// never crosses the network). Use a long random string; a flag shows in `ps`, the config
    /// file's `raft-secret` does not. Without it (or tls-cluster) anyone who reaches the Raft
    /// port can send Raft messages.
    #[arg(long, value_name = "SECRET")]
    raft_secret: Option<String>,
}

/// The longest `raft-batch-wait`, in microseconds.
const MAX_RAFT_BATCH_WAIT: u64 = 1_000_000;

/// Offline tools instead of serving.
#[derive(Subcommand, Debug)]
pub(crate) enum Tool {
    /// Check a data directory's snapshots and write-ahead log (the server must not be running);
    /// exits 1 if something is damaged.
    Check {
        /// The data directory [default: ./data]
        #[arg(long, value_name = "DIR", default_value = "./data")]
        data_dir: PathBuf,
        /// Cut the log at its first damaged record (the records after it are lost; the report
        /// says how many).
        #[arg(long)]
        repair: bool,
    },
    /// Load a Redis RDB file (dump.rdb, RDB version up to 10) into the store the other options
    /// name (--data-dir, --databases, ...) through the normal, logged write path, then exit.
    /// A damaged file, or one with a type kv lacks (modules), is refused before anything is
    /// stored; the error names the key.
    Import {
        /// The RDB file
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Write the store the other options name (--data-dir, ...) as a Redis RDB file (version
    /// 10), which redis-server loads, then exit. The server must not be running.
    Export {
        /// The RDB file to write (replaced if it exists)
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

/// `1=host:port,2=host:port,...`: IDs (at least 1, each once) and addresses.
fn parse_peers(v: &str) -> Result<Vec<(u64, String)>, String> {
    let mut peers: Vec<(u64, String)> = Vec::new();
    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (id, addr) = part
            .split_once('=')
            .ok_or(format!("raft peer '{part}' is not ID=HOST:PORT"))?;
        let id: u64 = id.trim().parse().ok().filter(|&i| i > 0).ok_or(format!(
            "raft peer '{part}': the ID must be a number from 1"
        ))?;
        let addr = addr.trim();
        if addr
            .rsplit_once(':')
            .is_none_or(|(_, p)| p.parse::<u16>().is_err())
        {
            return Err(format!("raft peer '{part}': the address needs a port"));
        }
        if peers.iter().any(|(p, _)| *p == id) {
            return Err(format!("raft peer {id} is named twice"));
        }
        peers.push((id, addr.to_string()));
    }
    if peers.is_empty() {
        return Err("--raft-peers names no peer".to_string());
    }
    Ok(peers)
}

/// Redis's words for a `notify-keyspace-events` value with a letter it does not know.
pub(crate) const BAD_EVENT_CLASS: &str = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";

/// The resolved settings the server starts with.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Config {
    pub(crate) bind: String,
    pub(crate) port: u16,
    pub(crate) data_dir: PathBuf,
    pub(crate) sync: SyncMode,
    pub(crate) in_memory: bool,
    pub(crate) wal_mmap: bool,
    pub(crate) requirepass: Option<Vec<u8>>,
    pub(crate) maxclients: usize,
    pub(crate) databases: usize,
    pub(crate) log_level: Level,
    pub(crate) query_buffer_limit: u64,
    /// Redis's `proto-max-bulk-len`: the longest bulk string of a request, and of a stored
    /// string.
    pub(crate) proto_max_bulk_len: u64,
    /// Redis's `client-output-buffer-limit`, per client class.
    pub(crate) output_limits: OutputLimits,
    pub(crate) idle_timeout_secs: u64,
    /// Redis's `notify-keyspace-events`.
    pub(crate) notify_keyspace_events: kvcore::NotifyFlags,
    /// Redis's `busy-reply-threshold` (`lua-time-limit`), in ms.
    pub(crate) busy_reply_threshold: u64,
    pub(crate) config_file: Option<PathBuf>,
    /// Redis's `save` lines of the config file (`None`: none, the defaults apply).
    pub(crate) save: Option<Vec<(u64, u64)>>,
    /// The config file's other Redis parameters (by index in [`crate::params::PARAMS`]), their
    /// values checked and spelled as CONFIG GET reports them.
    pub(crate) params: Vec<(usize, String)>,
    /// The config file's `user` lines (name, then rules), loaded at start-up (`acl/file.rs`).
    pub(crate) users: Vec<Vec<String>>,
    /// The Raft mode: this node's ID and every member's ID and Raft address.
    pub(crate) raft: Option<(u64, Vec<(u64, String)>)>,
    /// `--raft-join`: join a running group.
    pub(crate) raft_join: bool,
    /// `--raft-snapshot-entries`.
    pub(crate) raft_snapshot_entries: u64,
    /// `--raft-batch-wait`, in microseconds.
    pub(crate) raft_batch_wait: u64,
    /// `--raft-secret` (`None`: not set, or set empty): the Raft links' shared secret
    /// (`kvraft::SecretLinks`). Not a Redis parameter, so CONFIG GET does not show it.
    pub(crate) raft_secret: Option<Vec<u8>>,
    /// The config file's `raft-id` and `raft-peers`, until the flags are resolved.
    pub(crate) raft_id: Option<u64>,
    pub(crate) raft_peers: Option<Vec<(u64, String)>>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            bind: "127.0.0.1".into(),
            port: 6380,
            data_dir: PathBuf::from("./data"),
            sync: SyncMode::Everysec,
            in_memory: false,
            wal_mmap: true,
            requirepass: None,
            maxclients: 10_000,
            databases: 16,
            log_level: Level::Notice,
            query_buffer_limit: 1 << 30,
            proto_max_bulk_len: 512 << 20,
            output_limits: OutputLimits::default(),
            idle_timeout_secs: 0,
            notify_keyspace_events: kvcore::NotifyFlags::default(),
            busy_reply_threshold: 5000,
            config_file: None,
            save: None,
            params: Vec::new(),
            users: Vec::new(),
            raft: None,
            raft_join: false,
            raft_snapshot_entries: 10_000,
            raft_batch_wait: 2000,
            raft_secret: None,
            raft_id: None,
            raft_peers: None,
        }
    }
}

impl Config {
    /// Resolves defaults, the config file (if any) and the flags.
    ///
    /// # Errors
    /// A message naming the bad flag, file or line.
    pub(crate) fn resolve(cli: Cli) -> Result<Config, String> {
        let mut cfg = Config::default();
        if let Some(path) = &cli.config {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
            cfg.apply_file(&text)
                .map_err(|e| format!("config file {}: {e}", path.display()))?;
            cfg.config_file = Some(path.clone());
        }
        if let Some(v) = cli.bind {
            cfg.bind = v;
        }
        if let Some(v) = cli.port {
            cfg.port = v;
        }
        if let Some(v) = cli.data_dir {
            cfg.data_dir = v;
        }
        if let Some(v) = cli.sync {
            cfg.sync = v;
        }
        if cli.in_memory {
            cfg.in_memory = true;
        }
        if cli.raft_join {
            cfg.raft_join = true;
        }
        if let Some(v) = cli.raft_snapshot_entries {
            cfg.raft_snapshot_entries = v;
        }
        if let Some(v) = cli.raft_batch_wait {
            cfg.raft_batch_wait = v;
        }
        if let Some(v) = cli.raft_secret {
            cfg.raft_secret = (!v.is_empty()).then(|| v.into_bytes());
        }
        if let Some(v) = cli.raft_id {
            cfg.raft_id = Some(v);
        }
        if let Some(v) = cli.raft_peers {
            cfg.raft_peers = Some(parse_peers(&v)?);
        }
        cfg.raft = match (cfg.raft_id, cfg.raft_peers.take()) {
            (None, None) => None,
            (Some(id), Some(peers)) => {
                if !peers.iter().any(|(p, _)| *p == id) {
                    return Err(format!("--raft-peers does not name this node ({id})"));
                }
                Some((id, peers))
            }
            _ => return Err("--raft-id and --raft-peers go together".to_string()),
        };
        // A hold is bounded so that a mistyped unit cannot stall every write for minutes.
        if cfg.raft_batch_wait > MAX_RAFT_BATCH_WAIT {
            return Err(format!(
                "raft-batch-wait is at most {MAX_RAFT_BATCH_WAIT} microseconds (1 s), not {}",
                cfg.raft_batch_wait
            ));
        }
        if let Some(v) = cli.wal_mmap {
            cfg.wal_mmap = v;
        }
        if let Some(v) = cli.requirepass {
            cfg.requirepass = (!v.is_empty()).then(|| v.into_bytes());
        }
        if let Some(v) = cli.maxclients {
            cfg.maxclients = v;
        }
        if let Some(v) = cli.databases {
            cfg.databases = v;
        }
        if let Some(v) = cli.log_level {
            cfg.log_level = Level::parse(&v).ok_or(format!("--log-level: unknown level '{v}'"))?;
        }
        if let Some(v) = cli.query_buffer_limit {
            cfg.query_buffer_limit =
                parse_memory(&v).ok_or(format!("--query-buffer-limit: bad size '{v}'"))?;
        }
        if let Some(v) = cli.output_buffer_limit {
            cfg.output_limits.normal.hard =
                parse_memory(&v).ok_or(format!("--output-buffer-limit: bad size '{v}'"))?;
        }
        if let Some(v) = cli.idle_timeout {
            cfg.idle_timeout_secs = v;
        }
        if let Some(v) = cli.notify_keyspace_events {
            cfg.notify_keyspace_events = kvcore::NotifyFlags::parse(&v)
                .ok_or(format!("--notify-keyspace-events: {BAD_EVENT_CLASS}"))?;
        }
        cfg.check()?;
        Ok(cfg)
    }

    fn check(&self) -> Result<(), String> {
        if self.databases == 0 || self.databases > 1_000_000 {
            return Err(format!(
                "databases must be between 1 and 1000000, not {}",
                self.databases
            ));
        }
        if self.maxclients == 0 {
            return Err("maxclients must be at least 1".into());
        }
        if self.query_buffer_limit < 1024 * 1024 {
            return Err("query-buffer-limit must be at least 1mb".into());
        }
        if self.proto_max_bulk_len < 1024 * 1024 {
            return Err("proto-max-bulk-len must be at least 1mb".into());
        }
        Ok(())
    }

    /// Applies a Redis-style config file: one `name value...` directive per line, `#` comments.
    fn apply_file(&mut self, text: &str) -> Result<(), String> {
        for (n, line) in text.lines().enumerate() {
            let words = split_args(line).ok_or(format!("line {}: unbalanced quotes", n + 1))?;
            let Some((name, values)) = words.split_first() else {
                continue;
            };
            self.apply_directive(&name.to_ascii_lowercase(), values)
                .map_err(|e| format!("line {}: {e}", n + 1))?;
        }
        Ok(())
    }

    fn apply_directive(&mut self, name: &str, values: &[String]) -> Result<(), String> {
        let one = || match values {
            [v] => Ok(v.as_str()),
            _ => Err(format!("'{name}' takes exactly one value")),
        };
        let num = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("'{name}': not a number: '{v}'"))
        };
        match name {
            "bind" => {
                // Redis accepts several addresses; one listener is all this server has. `*`
                // is every IPv4 address (Redis's default `* -::*`).
                let first = values.first().ok_or("'bind' needs an address")?;
                self.bind = match first.trim_start_matches('-') {
                    "*" => "0.0.0.0".to_string(),
                    "::*" => "::".to_string(),
                    a => a.to_string(),
                };
            }
            "save" => {
                // Each line adds rules; the first replaces the defaults; `save ""` clears.
                let rules = crate::params::save_rules(&values.join(" "))
                    .map_err(|e| format!("'save': {e}"))?;
                self.save.get_or_insert_with(Vec::new).extend(rules);
            }
            "port" => {
                self.port = u16::try_from(num(one()?)?).map_err(|_| "'port' is out of range")?
            }
            "dir" | "data-dir" => self.data_dir = PathBuf::from(one()?),
            "appendfsync" | "sync" => {
                let v = one()?;
                self.sync = SyncMode::parse(v).ok_or(format!("'{name}': unknown mode '{v}'"))?;
            }
            "raft-id" => {
                let id = num(one()?)?;
                if id == 0 {
                    return Err("'raft-id' must be at least 1".to_string());
                }
                self.raft_id = Some(id);
            }
            "raft-snapshot-entries" => self.raft_snapshot_entries = num(one()?)?,
            "raft-batch-wait" => self.raft_batch_wait = num(one()?)?,
            "raft-join" => {
                self.raft_join = parse_yes_no(one()?).ok_or("'raft-join': yes or no")?;
            }
            "raft-peers" => self.raft_peers = Some(parse_peers(&values.join(","))?),
            "raft-secret" => {
                let v = one()?;
                self.raft_secret = (!v.is_empty()).then(|| v.as_bytes().to_vec());
            }
            "in-memory" => self.in_memory = parse_yes_no(one()?).ok_or("'in-memory': yes or no")?,
            "wal-mmap" => self.wal_mmap = parse_yes_no(one()?).ok_or("'wal-mmap': yes or no")?,
            "requirepass" => {
                let v = one()?;
                self.requirepass = (!v.is_empty()).then(|| v.as_bytes().to_vec());
            }
            "maxclients" => self.maxclients = num(one()?)? as usize,
            "databases" => self.databases = num(one()?)? as usize,
            "loglevel" | "log-level" => {
                let v = one()?;
                self.log_level = Level::parse(v).ok_or(format!("unknown log level '{v}'"))?;
            }
            "client-query-buffer-limit" | "query-buffer-limit" => {
                let v = one()?;
                self.query_buffer_limit = parse_memory(v).ok_or(format!("bad size '{v}'"))?;
            }
            "proto-max-bulk-len" => {
                let v = one()?;
                self.proto_max_bulk_len = parse_memory(v).ok_or(format!("bad size '{v}'"))?;
            }
            "client-output-buffer-limit" if values.len() != 1 => {
                // Redis's form; each line sets the classes it names, as in Redis.
                let words: Vec<&str> = values.iter().map(String::as_str).collect();
                self.output_limits.update(&words).map_err(str::to_string)?;
            }
            "client-output-buffer-limit" | "output-buffer-limit" => {
                let v = one()?;
                self.output_limits.normal.hard =
                    parse_memory(v).ok_or(format!("bad size '{v}'"))?;
            }
            "timeout" | "idle-timeout" => self.idle_timeout_secs = num(one()?)?,
            "notify-keyspace-events" => {
                self.notify_keyspace_events =
                    kvcore::NotifyFlags::parse(one()?).ok_or(BAD_EVENT_CLASS)?;
            }
            "busy-reply-threshold" | "lua-time-limit" => self.busy_reply_threshold = num(one()?)?,
            "user" => {
                crate::acl::check_user_line(values)?;
                if self.users.iter().any(|u| u[0] == values[0]) {
                    return Err(
                        "Duplicate user found. A user can only be defined once in config \
                                files"
                            .into(),
                    );
                }
                self.users.push(values.to_vec());
            }
            _ => {
                // Any other Redis 7.0 parameter: checked, then stored and reported (and applied
                // at start-up if kv applies it).
                let Some((index, _)) = crate::params::lookup(name) else {
                    return Err(format!(
                        "bad directive or wrong number of arguments: '{name}'"
                    ));
                };
                let param = &crate::params::PARAMS[index];
                let current = self
                    .params
                    .iter()
                    .rev()
                    .find(|(i, _)| *i == index)
                    .map_or(param.default, |(_, v)| v.as_str());
                let value = crate::params::check(param, &values.join(" "), current)
                    .map_err(|e| format!("'{name}': {e}"))?;
                self.params.push((index, value));
            }
        }
        Ok(())
    }
}

/// One client class's `client-output-buffer-limit`: a client whose pending output reaches
/// `hard` bytes, or stays at `soft` bytes or more for longer than `secs` seconds, is closed; 0
/// turns a limit off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ClassLimit {
    pub(crate) hard: u64,
    pub(crate) soft: u64,
    pub(crate) secs: u64,
}

/// Redis's `client-output-buffer-limit` for its three classes (`master` clients count as
/// normal ones). kv applies `pubsub` in full to clients with a subscription and the normal
/// class's hard limit to other clients' replies (see `conn.rs`), and the `replica` class's hard
/// limit to how far a replica's stream may fall behind (`repl/`; the soft limit is reported only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OutputLimits {
    pub(crate) normal: ClassLimit,
    pub(crate) replica: ClassLimit,
    pub(crate) pubsub: ClassLimit,
}

impl Default for OutputLimits {
    /// Redis's defaults: `normal 0 0 0 slave 256mb 64mb 60 pubsub 32mb 8mb 60`.
    fn default() -> OutputLimits {
        OutputLimits {
            normal: ClassLimit::default(),
            replica: ClassLimit {
                hard: 256 << 20,
                soft: 64 << 20,
                secs: 60,
            },
            pubsub: ClassLimit {
                hard: 32 << 20,
                soft: 8 << 20,
                secs: 60,
            },
        }
    }
}

impl OutputLimits {
    /// Applies `<class> <hard> <soft> <seconds>` groups (any number, `""` included) as Redis's
    /// CONFIG SET and config file do: every group is checked before any is applied, and the
    /// classes not named keep their limits. Errors are Redis's texts.
    pub(crate) fn update(&mut self, words: &[&str]) -> Result<(), &'static str> {
        if !words.len().is_multiple_of(4) {
            return Err("Wrong number of arguments in buffer limit configuration.");
        }
        let mut next = *self;
        for group in words.chunks(4) {
            let class = match group[0].to_ascii_lowercase().as_str() {
                "normal" => &mut next.normal,
                "slave" | "replica" => &mut next.replica,
                "pubsub" => &mut next.pubsub,
                _ => {
                    return Err("Invalid client class specified in buffer limit configuration.");
                }
            };
            let (Some(hard), Some(soft), Some(secs)) = (
                parse_memory(group[1]),
                parse_memory(group[2]),
                parse_secs(group[3]),
            ) else {
                return Err(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
                );
            };
            *class = ClassLimit { hard, soft, secs };
        }
        *self = next;
        Ok(())
    }

    /// Reads what [`OutputLimits::to_redis_string`] wrote (the classes it names over the
    /// defaults).
    pub(crate) fn parse_redis(s: &str) -> Option<OutputLimits> {
        let mut l = OutputLimits::default();
        let words: Vec<&str> = s.split_whitespace().collect();
        l.update(&words).ok()?;
        Some(l)
    }

    /// `CONFIG GET client-output-buffer-limit`: `normal 0 0 0 slave 268435456 67108864 60 pubsub
    /// 33554432 8388608 60`.
    pub(crate) fn to_redis_string(self) -> String {
        let class = |name: &str, l: ClassLimit| format!("{name} {} {} {}", l.hard, l.soft, l.secs);
        format!(
            "{} {} {}",
            class("normal", self.normal),
            class("slave", self.replica),
            class("pubsub", self.pubsub)
        )
    }
}

/// The soft limit's seconds as Redis's `strtoll` check takes them: digits with an optional
/// `+`, not negative; an empty word is 0.
fn parse_secs(s: &str) -> Option<u64> {
    let digits = s.strip_prefix('+').unwrap_or(s);
    if s.is_empty() {
        return Some(0);
    }
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // strtoll saturates; Redis then stores the value in an int. Far beyond any real setting.
    Some(
        digits
            .parse::<u64>()
            .unwrap_or(u64::MAX)
            .min(i32::MAX as u64),
    )
}

/// Redis's memory sizes: a number with an optional unit; `k`/`m`/`g` are powers of 1000 and
/// `kb`/`mb`/`gb` powers of 1024, case-insensitive.
pub(crate) fn parse_memory(s: &str) -> Option<u64> {
    let lower = s.trim().to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mul)
}

/// `yes` or `no` as a flag's value.
fn yes_no_arg(s: &str) -> Result<bool, String> {
    parse_yes_no(s).ok_or_else(|| format!("expected yes or no, not '{s}'"))
}

pub(crate) fn parse_yes_no(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

/// Splits a config line into words the way Redis does: whitespace separates, `"..."` and `'...'`
/// quote (with `\n`, `\t`, `\\`, `\"` escapes inside double quotes), `#` starts a comment line.
/// `None` on unbalanced quotes.
pub(crate) fn split_args(line: &str) -> Option<Vec<String>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Some(Vec::new());
    }
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else {
            return Some(words);
        };
        let mut word = String::new();
        if first == '"' || first == '\'' {
            chars.next();
            loop {
                match chars.next()? {
                    c if c == first => break,
                    '\\' if first == '"' => match chars.next()? {
                        'n' => word.push('\n'),
                        't' => word.push('\t'),
                        'r' => word.push('\r'),
                        c => word.push(c),
                    },
                    c => word.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        words.push(word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units_follow_redis() {
        assert_eq!(parse_memory("1gb"), Some(1 << 30));
        assert_eq!(parse_memory("1G"), Some(1_000_000_000));
        assert_eq!(parse_memory("64kb"), Some(65_536));
        assert_eq!(parse_memory("100"), Some(100));
        assert_eq!(parse_memory("12xb"), None);
        assert_eq!(parse_memory("kb"), None);
        assert_eq!(parse_memory("99999999999gb"), None);
    }

    #[test]
    fn config_file_then_flags() {
        let mut cfg = Config::default();
        cfg.apply_file(
            "# a comment\n\nport 7000\nbind 0.0.0.0 ::1\nrequirepass \"s3 cret\"\n\
             appendfsync always\nclient-output-buffer-limit normal 1mb 0 0\ntimeout 30\n\
             loglevel warning\ndatabases 4\nwal-mmap no\nnotify-keyspace-events Ex\n",
        )
        .unwrap();
        assert_eq!(cfg.notify_keyspace_events.to_string(), "xE");
        assert!(!cfg.wal_mmap);
        assert_eq!(cfg.port, 7000);
        assert_eq!(cfg.bind, "0.0.0.0");
        assert_eq!(cfg.requirepass.as_deref(), Some(&b"s3 cret"[..]));
        assert_eq!(cfg.sync, SyncMode::Always);
        assert_eq!(cfg.output_limits.normal.hard, 1 << 20);
        assert_eq!(cfg.output_limits.pubsub, OutputLimits::default().pubsub);
        assert_eq!(cfg.idle_timeout_secs, 30);
        assert_eq!(cfg.log_level, Level::Warning);
        assert_eq!(cfg.databases, 4);
    }

    #[test]
    fn output_limits_follow_redis() {
        let mut l = OutputLimits::default();
        assert_eq!(
            l.to_redis_string(),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        l.update(&["pubsub", "1mb", "512kb", "10"]).unwrap();
        assert_eq!(
            l.to_redis_string(),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 524288 10"
        );
        l.update(&["PUBSUB", "1K", "2G", "3", "replica", "1", "2", "3"])
            .unwrap();
        assert_eq!(
            l.to_redis_string(),
            "normal 0 0 0 slave 1 2 3 pubsub 1000 2000000000 3"
        );
        l.update(&[]).unwrap();
        let before = l;
        for (words, err) in [
            (&["pubsub", "1", "2"][..], "Wrong number"),
            (&["1mb"], "Wrong number"),
            (&["bogus", "1", "2", "3"], "Invalid client class"),
            (&["master", "1", "2", "3"], "Invalid client class"),
            (&["pubsub", "x", "2", "3"], "Error in hard"),
            (&["pubsub", "1", "2", "-1"], "Error in hard"),
            (&["pubsub", "1", "-2", "1"], "Error in hard"),
            (
                &["normal", "1", "1", "1", "pubsub", "1", "2", "x"],
                "Error in hard",
            ),
        ] {
            let e = l.update(words).unwrap_err();
            assert!(e.starts_with(err), "{words:?}: {e}");
        }
        assert_eq!(l, before, "a refused update changes nothing");
        let mut cfg = Config::default();
        cfg.apply_file(
            "client-output-buffer-limit pubsub 64kb 0 0\nclient-output-buffer-limit 2mb\n",
        )
        .unwrap();
        assert_eq!(
            cfg.output_limits.pubsub,
            ClassLimit {
                hard: 65536,
                soft: 0,
                secs: 0
            }
        );
        assert_eq!(cfg.output_limits.normal.hard, 2 << 20);
    }

    #[test]
    fn config_file_errors_name_the_line() {
        let mut cfg = Config::default();
        let err = cfg.apply_file("port 1\nfrobnicate yes\n").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
        assert!(cfg.apply_file("port notanumber").is_err());
        assert!(cfg.apply_file("requirepass \"open").is_err());
        let err = cfg.apply_file("notify-keyspace-events KQ").unwrap_err();
        assert!(err.contains("Invalid event class character"), "{err}");
    }

    #[test]
    fn flags_override_defaults() {
        assert!(Config::default().wal_mmap);
        let cli = Cli::parse_from(["kvserver", "--wal-mmap", "no"]);
        assert!(!Config::resolve(cli).unwrap().wal_mmap);
        let err = Cli::try_parse_from(["kvserver", "--wal-mmap", "maybe"]).unwrap_err();
        assert!(err.to_string().contains("expected yes or no"), "{err}");
        let cli = Cli::parse_from(["kvserver", "--port", "0", "--in-memory", "--sync", "no"]);
        let cfg = Config::resolve(cli).unwrap();
        assert_eq!(cfg.port, 0);
        assert!(cfg.in_memory);
        assert_eq!(cfg.sync, SyncMode::No);
        assert_eq!(cfg.bind, "127.0.0.1");
        assert_eq!(cfg.databases, 16);
        let bad = Cli::parse_from(["kvserver", "--databases", "0"]);
        assert!(Config::resolve(bad).is_err());
    }

    #[test]
    fn raft_peers_are_checked() {
        let ok = parse_peers("1=127.0.0.1:7001, 2=h:7002,3=[::1]:7003").unwrap();
        assert_eq!(ok[0], (1, "127.0.0.1:7001".to_string()));
        assert_eq!(ok[2], (3, "[::1]:7003".to_string()));
        for (bad, why) in [
            ("", "names no peer"),
            ("1=h", "needs a port"),
            ("0=h:1", "from 1"),
            ("x=h:1", "from 1"),
            ("1=h:1,1=h:2", "named twice"),
            ("h:1", "not ID=HOST:PORT"),
        ] {
            let e = parse_peers(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        let cli = Cli::parse_from(["kvserver", "--raft-id", "2", "--raft-peers", "1=h:1,2=h:2"]);
        let cfg = Config::resolve(cli).unwrap();
        assert_eq!(cfg.raft.unwrap().0, 2);
        let cli = Cli::parse_from(["kvserver", "--raft-id", "3", "--raft-peers", "1=h:1,2=h:2"]);
        assert!(
            Config::resolve(cli)
                .unwrap_err()
                .contains("does not name this node")
        );
        let cli = Cli::parse_from(["kvserver", "--raft-id", "3"]);
        assert!(Config::resolve(cli).unwrap_err().contains("go together"));
        let mut cfg = Config::default();
        cfg.apply_file("raft-id 1\nraft-peers 1=h:1 2=h:2\n")
            .unwrap();
        assert_eq!(cfg.raft_id, Some(1));
        assert_eq!(cfg.raft_peers.as_ref().map(Vec::len), Some(2));
    }

    #[test]
    fn the_raft_secret_comes_from_the_file_or_the_flag_and_empty_is_none() {
        let mut cfg = Config::default();
        cfg.apply_file("raft-secret \"a long secret\"\n").unwrap();
        assert_eq!(cfg.raft_secret.as_deref(), Some(&b"a long secret"[..]));
        assert!(cfg.apply_file("raft-secret a b\n").is_err(), "one value");
        cfg.apply_file("raft-secret \"\"\n").unwrap();
        assert_eq!(cfg.raft_secret, None);
        let cli = Cli::parse_from(["kvserver", "--raft-secret", "s3cret"]);
        let cfg = Config::resolve(cli).unwrap();
        assert_eq!(cfg.raft_secret.as_deref(), Some(&b"s3cret"[..]));
    }

    #[test]
    fn the_raft_batch_wait_comes_from_the_file_or_the_flag() {
        assert_eq!(Config::default().raft_batch_wait, 2000);
        let mut cfg = Config::default();
        cfg.apply_file("raft-batch-wait 0\n").unwrap();
        assert_eq!(cfg.raft_batch_wait, 0);
        assert!(cfg.apply_file("raft-batch-wait -1\n").is_err());
        let cli = Cli::parse_from(["kvserver", "--raft-batch-wait", "500"]);
        assert_eq!(Config::resolve(cli).unwrap().raft_batch_wait, 500);
        let cli = Cli::parse_from(["kvserver", "--raft-batch-wait", "1000001"]);
        assert!(
            Config::resolve(cli)
                .unwrap_err()
                .contains("at most 1000000")
        );
    }
}
