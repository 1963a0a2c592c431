//! The listener: start-up, the accept loop (maxclients), one thread per connection, and the
//! stop sequence.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::log::{Chain, notice, verbose, warning};
use crate::registry::ClientHandle;
use crate::settings::{Config, SyncMode};
use crate::shared::Shared;
use crate::signal::StopPipe;

/// Each connection thread's stack: command handlers do not recurse, replies live on the heap.
const CONN_STACK: usize = 256 * 1024;
/// How often the background task samples keys with a TTL (Redis's `hz 10`).
const ACTIVE_EXPIRY_INTERVAL: Duration = Duration::from_millis(100);
/// How long the stop sequence waits for connections to finish their replies.
const DRAIN_DEADLINE: Duration = Duration::from_secs(5);

/// Feeds `INFO stats`'s `instantaneous_*` rates until the server stops. It reads the registry's
/// totals (one registry lock per period), never the connections' command path.
fn sample_loop(shared: &Shared) {
    while !shared.stopping.load(Ordering::Relaxed) {
        let c = shared.clients.counter_totals();
        let now = shared.started.elapsed().as_millis() as u64;
        shared
            .instantaneous
            .sample(now, [c.commands, c.net_in, c.net_out]);
        std::thread::sleep(crate::stats::Instantaneous::PERIOD);
    }
}

/// Runs the server until SIGINT, SIGTERM or SHUTDOWN; returns when every connection is done.
///
/// # Errors
/// A message when the port cannot be bound or the store cannot start.
pub(crate) fn run(cfg: Config) -> Result<(), String> {
    crate::log::set_level(cfg.log_level);
    let mut stop =
        StopPipe::install().map_err(|e| format!("cannot install signal handlers: {e}"))?;
    // The config file's encoding thresholds, before loading builds the values.
    for (i, value) in &cfg.params {
        crate::params::apply_encoding_limit(crate::params::PARAMS[*i].name, value);
    }
    // `tls-port` and its files come from the config file; Redis's `port 0` with a TLS port
    // means TLS only (without one, port 0 picks a free port).
    let tls_port: u16 = config_value(&cfg, "tls-port").parse().unwrap_or(0);
    let tls_config = if tls_port != 0 {
        let config = crate::tls::Settings::from_params(|name| config_value(&cfg, name))
            .build()
            .map_err(|e| format!("cannot configure TLS: {e}"))?;
        Some(config)
    } else {
        None
    };
    let kv = open_store(&cfg)?;
    kv.set_notify_keyspace_events(cfg.notify_keyspace_events);
    let bind = |port: u16| {
        TcpListener::bind((cfg.bind.as_str(), port))
            .map_err(|e| format!("cannot listen on {}:{port}: {e}", cfg.bind))
    };
    let listener = if cfg.port == 0 && tls_port != 0 {
        None
    } else {
        Some(bind(cfg.port)?)
    };
    let tls_listener = match tls_port {
        0 => None,
        port => Some(bind(port)?),
    };
    let local_addr = listener
        .as_ref()
        .or(tls_listener.as_ref())
        .expect("a plaintext listener unless a TLS one was asked for")
        .local_addr()
        .map_err(|e| format!("cannot read bound address: {e}"))?;
    let tls_addr = match &tls_listener {
        Some(l) => Some(
            l.local_addr()
                .map_err(|e| format!("cannot read bound address: {e}"))?,
        ),
        None => None,
    };

    if !local_addr.ip().is_loopback() && cfg.requirepass.is_none() {
        warning!(
            "bound to non-loopback address {} WITHOUT a password: anyone who can reach this \
             port can read and change all data; set --requirepass or bind 127.0.0.1",
            local_addr.ip()
        );
    }
    if let Some(f) = &cfg.config_file {
        notice!("configuration loaded from {}", f.display());
    }

    // Reclaims expired keys nobody reads again; stopped when `_expiry` drops at return.
    let _expiry = kv.start_active_expiry(ACTIVE_EXPIRY_INTERVAL);
    // The everysec flusher and the snapshot rules (nothing for an in-memory store).
    let persistence = kv.start_persistence();
    let replier = crate::replier::Replier::start(&kv, cfg.raft.is_some())
        .map_err(|e| format!("cannot start the replier thread: {e}"))?;
    let shared = Arc::new(Shared::new(kv, cfg, local_addr, replier));
    // Calibrates the clock commands are timed with (about a millisecond) now, not in the
    // first client's first command.
    quanta::Instant::now();
    crate::acl::load_at_startup(&shared)?;
    if let Some(config) = tls_config {
        shared.tls.set(config);
    }
    // The config file's other parameters that kv applies.
    for (i, value) in &shared.cfg.params {
        crate::cmd::apply_param(&shared, crate::params::PARAMS[*i].name, value);
    }
    // `replicaof` in the config file: start following the primary.
    crate::replica::start_configured(&shared);
    if let Some((id, peers)) = shared.cfg.raft.clone() {
        // Where this node listens for its peers (settings checked that the list names it).
        let listen = peers
            .iter()
            .find(|(p, _)| *p == id)
            .map_or(String::new(), |(_, addr)| addr.clone());
        let mut opts = kvraft::RaftOptions::new(id, peers, shared.cfg.data_dir.join("raft"))
            .client_port(local_addr.port())
            .join(shared.cfg.raft_join)
            .snapshot_entries(shared.cfg.raft_snapshot_entries)
            .batch_wait(Duration::from_micros(shared.cfg.raft_batch_wait));
        let secret = shared.cfg.raft_secret.as_deref();
        if config_value(&shared.cfg, "tls-cluster") == "yes" {
            let Some(addr) = tls_addr else {
                return Err(
                    "tls-cluster yes needs a tls-port (the port followers forward \
                            to over TLS)"
                        .into(),
                );
            };
            let settings =
                crate::tls::Settings::from_params(|name| config_value(&shared.cfg, name));
            let tls = Arc::new(
                crate::raft_tls::ClusterTls::new(&settings)
                    .map_err(|e| format!("cannot configure TLS for the raft links: {e}"))?,
            );
            let tls_hook = Arc::clone(&tls) as Arc<dyn kvraft::LinkSecurity>;
            // Both: the secret's handshake inside the TLS session, so a peer needs the CA's
            // certificate and the secret.
            let hook = match secret {
                Some(secret) => Arc::new(kvraft::SecretLinks::over(secret, tls_hook)),
                None => tls_hook,
            };
            opts = opts.tls_client_port(addr.port()).security(hook);
            let _ = shared.raft_tls.set(tls);
        } else if let Some(secret) = secret {
            opts = opts.security(Arc::new(kvraft::SecretLinks::new(secret)));
        } else {
            warning!(
                "the raft port {listen} accepts links from any peer: whoever reaches it can \
                 send raft messages and corrupt the group; set raft-secret (the same on every \
                 node) or tls-cluster yes"
            );
        }
        let node = kvraft::RaftNode::start(shared.kv.clone(), opts)
            .map_err(|e| format!("cannot start raft node {id}: {e}"))?;
        let weak = Arc::downgrade(&shared);
        node.on_leading(move || {
            // The function libraries the log brought, into the script engine.
            if let Some(shared) = weak.upgrade() {
                for (_, code) in shared.kv.function_libraries() {
                    let _ = shared.scripts.function_load(
                        &code,
                        kvcore::script::Policy::Replace,
                        |_, _| Ok(()),
                    );
                }
            }
        });
        let node = Arc::new(node);
        let _ = shared
            .coordinator
            .set(Arc::clone(&node) as Arc<dyn kvcore::Coordinator>);
        let _ = shared.raft.set(node);
        notice!("raft node {id} started");
    }
    // The line tests and scripts parse to find the port (matters with --port 0).
    notice!(
        "kvserver {} listening on {local_addr}",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(addr) = tls_addr {
        notice!("accepting TLS connections on {addr}");
    }

    let mut acceptors = Vec::new();
    for (listener, tls) in [(listener, false), (tls_listener, true)] {
        let Some(listener) = listener else {
            continue;
        };
        let shared = Arc::clone(&shared);
        let name = if tls { "accept-tls" } else { "accept" };
        acceptors.push(
            std::thread::Builder::new()
                .name(name.into())
                .spawn(move || accept_loop(listener, shared, tls))
                .map_err(|e| format!("cannot start the accept thread: {e}"))?,
        );
    }

    let sampler = {
        let shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("sampler".into())
            .spawn(move || sample_loop(&shared))
            .map_err(|e| format!("cannot start the sampler thread: {e}"))?
    };

    let reason = stop.wait();
    notice!("{reason:?}: stopping (no new connections; finishing replies in flight)");
    shared.stopping.store(true, Ordering::SeqCst);
    // Wake the blocked accept() with a connection of our own; it sees `stopping` and returns.
    for addr in std::iter::once(local_addr).chain(tls_addr) {
        let wake_ip = match addr.ip() {
            ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            ip => ip,
        };
        let _ = TcpStream::connect_timeout(
            &SocketAddr::new(wake_ip, addr.port()),
            Duration::from_secs(1),
        );
    }
    for acceptor in acceptors {
        let _ = acceptor.join();
    }
    let _ = sampler.join();

    shared.clients.stop_reading_all();
    let deadline = Instant::now() + DRAIN_DEADLINE;
    // A connection running a script that was not killed never drains (one per running
    // script or function); it is dealt with below.
    let stuck = || shared.scripts.running();
    while shared.clients.connected() > stuck() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let left = shared.clients.connected();
    if left > 0 {
        warning!("{left} connection(s) still busy after {DRAIN_DEADLINE:?}; exiting anyway");
    }
    if shared.scripts.running_for().is_some() {
        // SHUTDOWN NOSAVE during a script that could not be killed (it wrote). The script
        // holds its keys' locks, which stopping the background tasks or saving would wait
        // for: exit now. Its writes are not in the log (a script's record is appended when
        // it ends), so the data directory holds the state before it, as after a crash.
        warning!("a script is still running: exiting without it (its writes are discarded)");
        if shared.kv.is_persistent()
            && let Err(e) = shared.kv.sync_log()
        {
            warning!("could not sync the write-ahead log: {}", Chain(&e));
        }
        std::process::exit(0);
    }
    if let Some(replier) = &shared.replier {
        replier.stop();
    }
    // A replica's position, for a partial resync after the restart.
    crate::replica::save_position(&shared);
    persistence.stop();
    if shared.kv.is_persistent() {
        if shared.save_on_shutdown.load(Ordering::SeqCst) {
            match shared.kv.save() {
                Ok(_) => notice!("snapshot saved before exiting"),
                Err(e) => warning!("snapshot before exiting failed: {}", Chain(&e)),
            }
        }
        match shared.kv.sync_log() {
            Ok(()) => notice!("write-ahead log synced to disk"),
            Err(e) => {
                warning!("could not sync the write-ahead log: {}", Chain(&e));
                return Err(format!("could not sync the write-ahead log: {}", Chain(&e)));
            }
        }
    }
    notice!("kvserver is now ready to exit, bye bye");
    Ok(())
}

/// Redis's default save points (seconds, changes), unless the config file has `save` lines.
pub(crate) const SAVE_RULES: &[(u64, u64)] = &[(3600, 1), (300, 100), (60, 10_000)];

/// `kvserver import FILE`: opens the store as the server would, loads the RDB file into it
/// (`Kv::load_rdb`) and closes it; the exit status.
pub(crate) fn import(cfg: &Config, file: &std::path::Path) -> i32 {
    let loaded = open_store(cfg).and_then(|kv| {
        let f = std::fs::File::open(file)
            .map_err(|e| format!("cannot open {}: {e}", file.display()))?;
        let info = kv
            .load_rdb(std::io::BufReader::new(f))
            .map_err(|e| format!("cannot import {}: {}", file.display(), Chain(&e)))?;
        if kv.persistence().is_some() {
            kv.sync_log()
                .map_err(|e| format!("cannot sync the log: {}", Chain(&e)))?;
        }
        Ok(info)
    });
    match loaded {
        Ok(info) => {
            println!(
                "imported {}: {} keys, {} function libraries (RDB version {}; {} keys already \
                 expired, skipped)",
                file.display(),
                info.keys,
                info.functions,
                info.version,
                info.expired
            );
            0
        }
        Err(e) => {
            eprintln!("kvserver import: {e}");
            1
        }
    }
}

/// `kvserver export FILE`: opens the store as the server would and writes it as an RDB file
/// (`Kv::write_rdb`, through a temporary file renamed into place); the exit status.
pub(crate) fn export(cfg: &Config, file: &std::path::Path) -> i32 {
    let tmp = file.with_extension("rdb.tmp");
    let written = open_store(cfg).and_then(|kv| {
        let f = std::fs::File::create(&tmp)
            .map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
        let mut w = std::io::BufWriter::new(f);
        let keys = kv
            .write_rdb(&mut w)
            .map_err(|e| format!("cannot write {}: {}", tmp.display(), Chain(&e)))?;
        let f = w
            .into_inner()
            .map_err(|e| format!("cannot write {}: {}", tmp.display(), e.error()))?;
        f.sync_all()
            .and_then(|()| std::fs::rename(&tmp, file))
            .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        Ok(keys)
    });
    match written {
        Ok(keys) => {
            println!("exported {} keys to {}", keys, file.display());
            0
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            eprintln!("kvserver export: {e}");
            1
        }
    }
}

/// Opens the store: in memory with `--in-memory`, otherwise from (or into) the data directory,
/// loading its snapshot and replaying its log.
fn open_store(cfg: &Config) -> Result<kvcore::Kv, String> {
    let opts = kvcore::Options::default()
        .databases(cfg.databases)
        .max_bulk_len(usize::try_from(cfg.proto_max_bulk_len).unwrap_or(usize::MAX));
    if cfg.raft.is_some() {
        notice!("raft mode: the store is rebuilt from the raft log under the data directory");
        return Ok(kvcore::Kv::in_memory(opts));
    }
    if cfg.in_memory {
        notice!("running in memory (--in-memory): nothing is written to disk");
        return Ok(kvcore::Kv::in_memory(opts));
    }
    let dir = &cfg.data_dir;
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create the data directory {}: {e}", dir.display()))?;
    let sync = match cfg.sync {
        SyncMode::Always => kvcore::SyncMode::Always,
        SyncMode::Everysec => kvcore::SyncMode::EverySec,
        SyncMode::No => kvcore::SyncMode::No,
    };
    let started = Instant::now();
    let persist = kvcore::PersistOptions::new()
        .sync(sync)
        .save_rules(cfg.save.as_deref().unwrap_or(SAVE_RULES))
        .wal_mapped(cfg.wal_mmap);
    let kv = kvcore::Kv::open(dir, opts, persist).map_err(|e| {
        format!(
            "cannot open the data directory {}: {}",
            dir.display(),
            Chain(&e)
        )
    })?;
    if let Some(p) = kv.persistence() {
        let r = &p.recovery;
        notice!(
            "data directory {} loaded in {:?}: {} keys from {}, {} log records replayed \
             (fsync: {})",
            dir.display(),
            started.elapsed(),
            r.keys_loaded,
            r.snapshot_seq
                .map_or("no snapshot".to_string(), |s| format!("snapshot {s}")),
            r.records_replayed,
            cfg.sync.as_str()
        );
        // The warnings themselves (r.warnings) were logged by kvcore while it opened the
        // store, through the `log` bridge (log::install), as `kvcore: recovery: ...`.
    }
    Ok(kv)
}

/// A parameter's value from the config file, or its default.
fn config_value(cfg: &Config, name: &str) -> String {
    let index = crate::params::index(name);
    cfg.params
        .iter()
        .rev()
        .find(|(i, _)| *i == index)
        .map_or_else(
            || crate::params::PARAMS[index].default.to_string(),
            |(_, v)| v.clone(),
        )
}

/// Redis's reply to a client that protected mode refuses (`networking.c`, 7.0).
pub(crate) const DENIED: &[u8] = b"-DENIED Redis is running in protected mode because protected \
mode is enabled and no password is set for the default user. In this mode connections are only \
accepted from the loopback interface. If you want to connect from external computers to Redis \
you may adopt one of the following solutions: 1) Just disable protected mode sending the command \
'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same \
host the server is running, however MAKE SURE Redis is not publicly accessible from internet if \
you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just \
disable the protected mode by editing the Redis configuration file, and setting the protected \
mode option to 'no', and then restarting the server. 3) If you started the server manually just \
for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication \
password for the default user. NOTE: You only need to do one of the above things in order for \
the server to start accepting connections from the outside.\r\n";

/// Whether protected mode refuses a client from `peer`: it is on, the default user has no
/// password, and the client is not on the loopback interface (Redis's `islocalClient`
/// compares the address with 127.0.0.1 and ::1 exactly; so does kv).
#[inline(never)]
fn protected_mode_refuses(shared: &Shared, peer: &SocketAddr) -> bool {
    let local = match peer.ip() {
        IpAddr::V4(ip) => ip == Ipv4Addr::LOCALHOST,
        IpAddr::V6(ip) => ip.is_loopback(),
    };
    if local || shared.requires_auth() {
        return false;
    }
    shared.params.lock()[crate::params::index("protected-mode")] == "yes"
}

/// Answers a client that protected mode refuses. Out of line, like the rest of the refusal
/// path, so that it does not grow every connection thread's stack.
#[cold]
#[inline(never)]
fn refuse_protected(shared: &Shared, stream: &mut TcpStream, addr: SocketAddr) {
    shared.rejected_connections.fetch_add(1, Ordering::Relaxed);
    let _ = stream.write_all(DENIED);
    verbose!("refused {addr}: protected mode (no password, not a loopback client)");
}

/// [`refuse_protected`] for a TLS client.
#[cold]
#[inline(never)]
fn refuse_protected_tls(shared: &Shared, wire: &crate::wire::Wire, addr: SocketAddr) {
    shared.rejected_connections.fetch_add(1, Ordering::Relaxed);
    let _ = wire.tcp().set_write_timeout(Some(Duration::from_secs(10)));
    let _ = wire.write_all(DENIED);
    wire.finish();
    verbose!("refused {addr}: protected mode (no password, not a loopback client)");
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>, tls: bool) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                warning!("accept failed: {e}");
                // Out of file descriptors and the like: back off instead of spinning.
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        shared.connections_received.fetch_add(1, Ordering::Relaxed);
        let max = shared.live.maxclients.load(Ordering::Relaxed);
        let Some(id) = shared.clients.try_reserve(max) else {
            shared.rejected_connections.fetch_add(1, Ordering::Relaxed);
            let mut s = stream;
            // A TLS client could not read a plaintext error: it is just closed.
            if !tls {
                let _ = s.write_all(b"-ERR max number of clients reached\r\n");
            }
            verbose!("refused a connection: max number of clients ({max}) reached");
            continue;
        };
        // From here the slot belongs to the seat: if the thread cannot start, the closure that
        // owns it is dropped and the slot with it.
        let seat = Seat {
            shared: Arc::clone(&shared),
            id,
        };
        let spawned = std::thread::Builder::new()
            .name(format!("client-{id}"))
            .stack_size(CONN_STACK)
            .spawn(move || {
                if tls {
                    serve_tls(seat, stream);
                } else {
                    serve(seat, stream, None);
                }
            });
        if let Err(e) = spawned {
            warning!("cannot start a thread for a new connection: {e}");
        }
    }
}

/// A connection's place in the registry: its `maxclients` slot from `try_reserve` on, and its
/// CLIENT LIST row once it registered. Dropping the seat gives both back and folds the
/// connection's statistics into the totals, however its thread ends: a return, an I/O error, a
/// panic that unwinds out of the connection loop, or a thread that never started.
struct Seat {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for Seat {
    fn drop(&mut self) {
        if std::thread::panicking() {
            warning!(
                "client id={} closed: its connection thread panicked (see above)",
                self.id
            );
        }
        self.shared.clients.release(self.id);
    }
}

/// Serves a TLS connection: its handshake, then [`serve`] with the session (`tls.rs`), on the
/// current thread. Out of line: its locals (a rustls session during the handshake) would
/// otherwise deepen every plaintext connection's stack too.
#[inline(never)]
fn serve_tls(seat: Seat, tcp: TcpStream) {
    let Some(config) = seat.shared.tls.get() else {
        return;
    };
    match crate::tls::accept(&tcp, config) {
        Ok(link) => serve(seat, tcp, Some(link)),
        Err(e) => {
            let peer = tcp.peer_addr().map(|a| a.to_string()).unwrap_or_default();
            verbose!("TLS handshake with {peer} failed: {e}");
        }
    }
}

/// Serves one connection on the current thread until it closes; `tls`: its session, for a
/// TLS client.
fn serve(seat: Seat, mut stream: TcpStream, tls: Option<Box<crate::tls::Link>>) {
    let (shared, id) = (&seat.shared, seat.id);
    let (Ok(addr), Ok(laddr)) = (stream.peer_addr(), stream.local_addr()) else {
        return;
    };
    if protected_mode_refuses(shared, &addr) {
        match &tls {
            None => refuse_protected(shared, &mut stream, addr),
            Some(_) => {
                // Said through the session, as everything a TLS client reads.
                let wire = crate::wire::Wire::tls(stream, tls.expect("a TLS session"));
                refuse_protected_tls(shared, &wire, addr);
            }
        }
        return;
    }
    let _ = stream.set_nodelay(true);
    if let Err(e) = crate::os::batch_scheduling() {
        verbose!("connection thread keeps the default scheduling policy: {e}");
    }
    let fd = stream.as_raw_fd();
    let wire = match tls {
        None => crate::wire::Wire::plain(stream),
        Some(link) => crate::wire::Wire::tls(stream, link),
    };
    let handle = Arc::new(ClientHandle::new(
        id,
        wire,
        addr,
        laddr,
        fd,
        shared.uptime_ms(),
        crate::cmd::table::stat_slots(),
    ));
    shared.clients.register(Arc::clone(&handle));
    verbose!("accepted {addr} (id={id})");
    let result = crate::conn::Conn::new(Arc::clone(shared), handle).run();
    match result {
        Ok(()) => verbose!("client {addr} (id={id}) closed"),
        Err(e) => verbose!("client {addr} (id={id}) closed: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::thread::JoinHandle;

    use kvcore::Store;

    use super::*;

    /// How long a test waits for something another thread does before it fails.
    const PATIENCE: Duration = Duration::from_secs(30);

    /// The real accept loop and connection threads over an in-memory store, on a loopback
    /// port, with `ECHO` replaced by `conn::tests::MISBEHAVING_ECHO`.
    struct TestServer {
        shared: Arc<Shared>,
        addr: SocketAddr,
        acceptor: Option<JoinHandle<()>>,
    }

    impl TestServer {
        fn start(cfg: Config) -> TestServer {
            TestServer::start_with(cfg, false)
        }

        /// With `replier`, the server has a replier thread as a Raft node's does (on Linux).
        fn start_with(cfg: Config, replier: bool) -> TestServer {
            let kv = kvcore::Kv::in_memory(kvcore::Options::default().databases(cfg.databases));
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let replier = crate::replier::Replier::start(&kv, replier).unwrap();
            let mut shared = Shared::new(kv, cfg, addr, replier);
            shared.test_handler = Some(("echo", crate::conn::tests::MISBEHAVING_ECHO));
            let shared = Arc::new(shared);
            let acceptor = {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || accept_loop(listener, shared, false))
            };
            TestServer {
                shared,
                addr,
                acceptor: Some(acceptor),
            }
        }

        fn connect(&self) -> TcpStream {
            let s = TcpStream::connect(self.addr).unwrap();
            s.set_read_timeout(Some(PATIENCE)).unwrap();
            s
        }

        /// Waits until the registry shows `n` connections, in its count and in its list.
        #[track_caller]
        fn wait_connected(&self, n: usize) {
            let deadline = Instant::now() + PATIENCE;
            let clients = &self.shared.clients;
            while clients.connected() != n || clients.list().len() != n {
                assert!(
                    Instant::now() < deadline,
                    "expected {n} connections, have {} ({} listed)",
                    clients.connected(),
                    clients.list().len()
                );
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }

    impl Drop for TestServer {
        fn drop(&mut self) {
            self.shared.stopping.store(true, Ordering::SeqCst);
            let _ = TcpStream::connect(self.addr);
            if let Some(a) = self.acceptor.take() {
                let _ = a.join();
            }
            self.shared.clients.stop_reading_all();
        }
    }

    #[track_caller]
    fn roundtrip(s: &mut TcpStream, request: &[u8], expected: &[u8]) {
        s.write_all(request).unwrap();
        let mut got = vec![0; expected.len()];
        s.read_exact(&mut got).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected)
        );
    }

    #[track_caller]
    fn expect_closed(s: &mut TcpStream) {
        let mut b = [0u8; 64];
        match s.read(&mut b) {
            Ok(0) => {}
            Ok(n) => panic!("expected EOF, got {:?}", String::from_utf8_lossy(&b[..n])),
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
        }
    }

    /// Reads one bulk reply's payload.
    fn read_bulk(s: &mut TcpStream) -> String {
        let mut header = Vec::new();
        let mut b = [0u8; 1];
        while !header.ends_with(b"\r\n") {
            s.read_exact(&mut b).unwrap();
            header.push(b[0]);
        }
        let n: usize = std::str::from_utf8(&header[1..header.len() - 2])
            .unwrap()
            .parse()
            .unwrap();
        let mut body = vec![0; n + 2];
        s.read_exact(&mut body).unwrap();
        body.truncate(n);
        String::from_utf8(body).unwrap()
    }

    const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";
    const PANIC: &[u8] = b"*2\r\n$4\r\nECHO\r\n$5\r\npanic\r\n";
    const PANICKED: &[u8] = b"-ERR internal error in 'echo' command (see the server log)\r\n";

    #[test]
    fn a_panicking_command_answers_an_error_to_its_client_only() {
        let server = TestServer::start(Config::default());
        let (mut a, mut b) = (server.connect(), server.connect());
        roundtrip(&mut b, PING, b"+PONG\r\n");
        // In a pipeline: the replies before and after are intact, the half-written reply of
        // the panicking command is gone.
        let pipeline = [PING, PANIC, PING].concat();
        roundtrip(
            &mut a,
            &pipeline,
            &[b"+PONG\r\n", PANICKED, b"+PONG\r\n"].concat(),
        );
        // What the command wrote before it panicked stays, and the connection keeps serving.
        roundtrip(
            &mut a,
            b"*2\r\n$3\r\nGET\r\n$20\r\nwritten-before-panic\r\n",
            b"$1\r\n1\r\n",
        );
        roundtrip(&mut a, b"*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n", b"$2\r\nhi\r\n");
        roundtrip(&mut b, PING, b"+PONG\r\n");
        assert_eq!(server.shared.clients.connected(), 2);
        let errors = server.shared.errors.snapshot();
        assert!(
            errors.iter().any(|(code, n)| &**code == "ERR" && *n == 1),
            "{errors:?}"
        );
    }

    #[test]
    fn a_connection_thread_that_panics_gives_back_its_slot_and_row() {
        let server = TestServer::start(Config {
            maxclients: 2,
            ..Config::default()
        });
        let mut a = server.connect();
        roundtrip(&mut a, b"*2\r\n$4\r\nECHO\r\n$1\r\nx\r\n", b"$1\r\nx\r\n");
        let mut b = server.connect();
        roundtrip(&mut b, PING, b"+PONG\r\n");
        server.wait_connected(2);
        let mut full = server.connect();
        let mut refused = String::new();
        full.read_to_string(&mut refused).unwrap();
        assert_eq!(refused, "-ERR max number of clients reached\r\n");

        // A panic that unwinds out of the connection loop ends that connection only.
        a.write_all(b"*2\r\n$4\r\nECHO\r\n$6\r\nescape\r\n")
            .unwrap();
        expect_closed(&mut a);
        server.wait_connected(1);
        b.write_all(b"*2\r\n$6\r\nCLIENT\r\n$4\r\nLIST\r\n")
            .unwrap();
        let list = read_bulk(&mut b);
        assert_eq!(list.lines().count(), 1, "{list}");
        assert!(list.contains("cmd=client|list"), "{list}");
        // The dead connection's statistics were folded into the totals, as on a normal close.
        b.write_all(b"*2\r\n$4\r\nINFO\r\n$12\r\ncommandstats\r\n")
            .unwrap();
        let info = read_bulk(&mut b);
        assert!(info.contains("cmdstat_echo:calls=1,"), "{info}");
        // And its maxclients slot is free again.
        let mut d = server.connect();
        roundtrip(&mut d, PING, b"+PONG\r\n");
        server.wait_connected(2);
    }

    #[test]
    fn an_embedding_program_and_network_clients_share_one_bus() {
        let server = TestServer::start(Config::default());
        let kv = server.shared.kv.clone();
        let program = kv.subscribe(["news"]);
        let mut client = server.connect();
        roundtrip(
            &mut client,
            b"*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nnews\r\n",
            b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n",
        );
        let next = |client: &mut TcpStream, payload: &str| {
            let want = format!(
                "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n${}\r\n{payload}\r\n",
                payload.len()
            );
            let mut got = vec![0; want.len()];
            client.read_exact(&mut got).unwrap();
            assert_eq!(String::from_utf8_lossy(&got), want);
        };
        // The program's publish reaches the network subscriber...
        assert_eq!(kv.publish("news", "from the program"), 2);
        next(&mut client, "from the program");
        let got = program.recv_timeout(PATIENCE).unwrap().expect("a message");
        assert_eq!(got.payload(), b"from the program");
        // ...and a network client's PUBLISH the program's subscription.
        let mut publisher = server.connect();
        roundtrip(
            &mut publisher,
            b"*3\r\n$7\r\nPUBLISH\r\n$4\r\nnews\r\n$3\r\nhey\r\n",
            b":2\r\n",
        );
        next(&mut client, "hey");
        let got = program.recv_timeout(PATIENCE).unwrap().expect("a message");
        assert_eq!(got.payload(), b"hey");
        // PUBSUB sees both kinds of subscriber.
        roundtrip(
            &mut publisher,
            b"*3\r\n$6\r\nPUBSUB\r\n$6\r\nNUMSUB\r\n$4\r\nnews\r\n",
            b"*2\r\n$4\r\nnews\r\n:2\r\n",
        );
    }

    #[test]
    fn a_connection_whose_thread_cannot_start_gives_back_its_slot() {
        let server = TestServer::start(Config::default());
        let id = server.shared.clients.try_reserve(1).unwrap();
        assert_eq!(server.shared.clients.connected(), 1);
        let seat = Seat {
            shared: Arc::clone(&server.shared),
            id,
        };
        // No system gives a thread a 64 TiB stack: std reports the failure and drops the
        // closure, and the seat in it. (Were it to start, the seat would drop when it ends.)
        let spawned = std::thread::Builder::new()
            .stack_size(1 << 46)
            .spawn(move || drop(seat));
        if let Ok(thread) = spawned {
            thread.join().unwrap();
        }
        assert_eq!(server.shared.clients.connected(), 0);
    }

    /// A coordinator a test switches: off, nothing runs here (`Route::Unavailable`); with
    /// `elsewhere`, data commands go to that server; with `unsettled`, replies are withheld.
    #[derive(Debug, Default)]
    struct Switch {
        off: std::sync::atomic::AtomicBool,
        unsettled: std::sync::atomic::AtomicBool,
        elsewhere: parking_lot::Mutex<Option<SocketAddr>>,
        running: std::sync::atomic::AtomicUsize,
        settled: std::sync::atomic::AtomicUsize,
    }

    impl kvcore::Coordinator for Switch {
        fn route(&self) -> kvcore::Route<'_> {
            if let Some(addr) = *self.elsewhere.lock() {
                return kvcore::Route::Forward(kvcore::Forward::new(2, addr.to_string(), None));
            }
            if self.off.load(Ordering::SeqCst) {
                return kvcore::Route::Unavailable;
            }
            kvcore::Route::Local(kvcore::Permit::enter(&self.running, 7))
        }

        fn settle(&self, epoch: u64, _own: Option<u64>) -> Result<(), kvcore::Unsettled> {
            assert_eq!(epoch, 7, "the epoch of the permit the batch ran under");
            assert_eq!(
                self.running.load(Ordering::SeqCst),
                0,
                "settled after it ran"
            );
            if self.unsettled.load(Ordering::SeqCst) {
                return Err(kvcore::Unsettled::LostLeadership);
            }
            self.settled.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }

        fn serving(&self) -> bool {
            !self.off.load(Ordering::SeqCst) && self.elsewhere.lock().is_none()
        }

        fn leader_node(&self) -> Option<u64> {
            self.elsewhere.lock().map(|_| 2)
        }
    }

    #[test]
    fn the_server_serves_its_store_through_any_coordinator() {
        serves_through_a_coordinator(false);
    }

    /// The same with the replier (a Raft node's replies): it settles each batch handed to it
    /// before sending, and closes the connection of one that does not settle.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_replier_settles_a_batch_with_the_coordinator_before_it_replies() {
        serves_through_a_coordinator(true);
    }

    fn serves_through_a_coordinator(replier: bool) {
        let server = TestServer::start_with(Config::default(), replier);
        assert_eq!(server.shared.replier.is_some(), replier);
        let switch = Arc::new(Switch::default());
        server
            .shared
            .coordinator
            .set(Arc::clone(&switch) as Arc<dyn kvcore::Coordinator>)
            .unwrap();
        let db = server.shared.kv.db(0).unwrap();
        let set = |k: &str| format!("*3\r\n$3\r\nSET\r\n$2\r\n{k}\r\n$1\r\nv\r\n").into_bytes();
        let mut c = server.connect();

        // Routed here: runs, and the reply waits for the batch to settle.
        roundtrip(&mut c, &set("k1"), b"+OK\r\n");
        assert_eq!(switch.settled.load(Ordering::SeqCst), 1);
        assert_eq!(db.get("k1").unwrap().as_deref(), Some(&b"v"[..]));

        // Nowhere to run: a retryable error and nothing written; a connection command
        // still runs here.
        switch.off.store(true, Ordering::SeqCst);
        roundtrip(
            &mut c,
            &set("k2"),
            b"-TRYAGAIN no raft leader is known, retry later\r\n",
        );
        assert_eq!(db.get("k2").unwrap(), None);
        roundtrip(&mut c, PING, b"+PONG\r\n");

        // Another node runs data commands: forwarded to it, its reply relayed.
        let other = TestServer::start(Config::default());
        *switch.elsewhere.lock() = Some(other.addr);
        roundtrip(&mut c, &set("k3"), b"+OK\r\n");
        let there = other.shared.kv.db(0).unwrap();
        assert_eq!(there.get("k3").unwrap().as_deref(), Some(&b"v"[..]));
        assert_eq!(db.get("k3").unwrap(), None, "ran there, not here");

        // Back here, but the batch cannot settle: no reply, the connection closes (the
        // write's outcome is the coordinator's to decide).
        *switch.elsewhere.lock() = None;
        switch.off.store(false, Ordering::SeqCst);
        let mut d = server.connect();
        roundtrip(&mut d, &set("k4"), b"+OK\r\n");
        switch.unsettled.store(true, Ordering::SeqCst);
        d.write_all(&set("k5")).unwrap();
        expect_closed(&mut d);
        assert_eq!(switch.settled.load(Ordering::SeqCst), 2);
    }
}
