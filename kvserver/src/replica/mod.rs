//! kv as a replica: REPLICAOF's state, the checks it adds to the dispatcher (READONLY,
//! MASTERDOWN, LOADING), its INFO and ROLE fields, and the link thread (`link.rs`) that
//! follows a primary (a redis-server or a kv) over Redis's replication protocol.
//!
//! One [`Replica`] lives in `Shared`. REPLICAOF host port sets the target and starts a link
//! thread; the thread connects, handshakes, syncs and then applies the primary's command
//! stream through the command table as a "master client" session. Every REPLICAOF bumps a
//! generation number: a link thread whose generation is no longer current stops, and the
//! apply lock guarantees it applies nothing after the REPLICAOF that replaced it answered.
//!
//! The replication position ([`LinkState`]: the primary's replid and the offset of the stream
//! applied) is kept equal to kvcore's stream (`Kv::replication`): the link feeds every byte
//! it applies into the store's backlog verbatim, resets it to the primary's ID and offset
//! after a full sync and adopts a new ID on `+CONTINUE`, so this server's own replicas (and
//! INFO's `master_repl_offset`) see the primary's offsets; REPLICAOF NO ONE shifts the ID.

mod link;

use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use parking_lot::Mutex;

use crate::shared::Shared;

/// The reply to a write on a read-only replica.
pub(crate) const READONLY: &[u8] = b"READONLY You can't write against a read only replica.";
/// The reply to a data command while the link is down and stale data is not served.
pub(crate) const MASTERDOWN: &[u8] =
    b"MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
/// The reply to a command that needs the data while a full sync loads it.
pub(crate) const LOADING: &[u8] = b"LOADING Redis is loading the dataset in memory";

/// Where the link is (Redis's `repl_state`, as ROLE names it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// Waiting to (re)connect.
    Connect,
    Connecting,
    /// Connected, in the PING/AUTH/REPLCONF/PSYNC exchange.
    Handshake,
    /// Receiving (and then loading) the RDB of a full sync.
    Transfer,
    Connected,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Connect => "connect",
            State::Connecting => "connecting",
            State::Handshake => "handshake",
            State::Transfer => "sync",
            State::Connected => "connected",
        }
    }
}

/// A full sync's transfer, for INFO's `master_sync_*`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Transfer {
    /// The RDB's announced size; -1 for a diskless (`$EOF:`) one.
    pub(crate) size: i64,
    pub(crate) read: i64,
    pub(crate) last_io: Instant,
}

/// The link's position and status (the position mirrors kvcore's stream, see the module docs).
#[derive(Debug)]
pub(crate) struct LinkState {
    /// The primary to follow.
    pub(crate) target: Option<(String, u16)>,
    pub(crate) state: State,
    /// The replication id of the stream applied; `None` before the first sync (PSYNC `?`).
    pub(crate) replid: Option<String>,
    /// The offset of the last byte of the stream applied (Redis's `reploff`); PSYNC asks for
    /// the byte after it.
    pub(crate) offset: i64,
    /// The offset of the last byte read from the link (`read_reploff`).
    pub(crate) read_offset: i64,
    /// When a byte last came from the primary while connected.
    pub(crate) last_io: Option<Instant>,
    /// When the link went down (none: it never came up).
    pub(crate) down_since: Option<Instant>,
    pub(crate) transfer: Option<Transfer>,
    /// A clone of the link's socket, for REPLICAOF to cut it.
    socket: Option<TcpStream>,
    /// Full and partial syncs done by this process's links (logged; tests read the log).
    pub(crate) full_syncs: u64,
    pub(crate) partial_syncs: u64,
}

/// REPLICAOF's state, shared by every connection and the link thread.
#[derive(Debug)]
pub(crate) struct Replica {
    /// A primary is set (Redis's `masterhost != NULL`): the one check on the hot path.
    enabled: AtomicBool,
    generation: AtomicU64,
    read_only: AtomicBool,
    serve_stale: AtomicBool,
    /// The link is up and applying the stream (`repl_state == CONNECTED`).
    connected: AtomicBool,
    /// A full sync is replacing the data.
    loading: AtomicBool,
    priority: AtomicI64,
    announced: AtomicBool,
    link: Mutex<LinkState>,
    /// Held by the link thread while it applies a batch of the stream or loads an RDB.
    apply: Mutex<()>,
}

impl Replica {
    /// The state for the parameters' current values (`param(name)`).
    pub(crate) fn new(param: impl Fn(&str) -> String) -> Replica {
        Replica {
            enabled: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            read_only: AtomicBool::new(param("replica-read-only") != "no"),
            serve_stale: AtomicBool::new(param("replica-serve-stale-data") != "no"),
            connected: AtomicBool::new(false),
            loading: AtomicBool::new(false),
            priority: AtomicI64::new(param("replica-priority").parse().unwrap_or(100)),
            announced: AtomicBool::new(param("replica-announced") != "no"),
            link: Mutex::new(LinkState {
                target: None,
                state: State::Connect,
                replid: None,
                offset: 0,
                read_offset: 0,
                last_io: None,
                down_since: None,
                transfer: None,
                socket: None,
                full_syncs: 0,
                partial_syncs: 0,
            }),
            apply: Mutex::new(()),
        }
    }

    /// Whether this server follows a primary.
    #[inline]
    pub(crate) fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// The link's state, locked (short holds only).
    pub(crate) fn link(&self) -> parking_lot::MutexGuard<'_, LinkState> {
        self.link.lock()
    }

    /// Whether the link is up and applying the stream.
    pub(crate) fn connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    /// On a replica, holds the link between two applied batches (`None` on a primary): a
    /// full sync of this server's own replica takes its point-in-time image with every
    /// applied batch already in the stream it feeds, so each write lands exactly once.
    pub(crate) fn hold_apply(&self) -> Option<parking_lot::MutexGuard<'_, ()>> {
        self.enabled().then(|| self.apply.lock())
    }
}

/// Applies a replication parameter that CONFIG SET or the config file changed.
pub(crate) fn apply_param(shared: &Shared, name: &str, value: &str) {
    let r = &shared.replica;
    match name {
        "replica-read-only" => r.read_only.store(value != "no", Ordering::Relaxed),
        "replica-serve-stale-data" => r.serve_stale.store(value != "no", Ordering::Relaxed),
        "replica-priority" => r
            .priority
            .store(value.parse().unwrap_or(100), Ordering::Relaxed),
        "replica-announced" => r.announced.store(value != "no", Ordering::Relaxed),
        _ => {}
    }
}

/// Keeps `replicaof` as CONFIG GET and CONFIG REWRITE report it: `host port`, or empty.
fn set_param(shared: &Shared, value: &str) {
    shared.params.lock()[crate::params::index("replicaof")] = value.to_string();
}

/// The current value of a parameter as CONFIG GET reports it.
fn param(shared: &Shared, name: &str) -> String {
    shared.params.lock()[crate::params::index(name)].clone()
}

/// The file in the data directory that keeps a replica's position across a clean restart
/// (Redis keeps it in its RDB's aux fields): `<replid> <offset>`.
const POSITION_FILE: &str = "replica-position";

/// Starts following the `replicaof` of the config file, if it has one, from the position a
/// clean shutdown saved (the file is consumed: after a crash the replica syncs in full).
pub(crate) fn start_configured(shared: &Arc<Shared>) {
    let saved = shared.kv.is_persistent().then(|| {
        let path = shared.cfg.data_dir.join(POSITION_FILE);
        let text = std::fs::read_to_string(&path).ok();
        let _ = std::fs::remove_file(&path);
        text
    });
    let value = param(shared, "replicaof");
    let mut parts = value.split_whitespace();
    if let (Some(host), Some(Ok(port))) = (parts.next(), parts.next().map(str::parse::<u16>)) {
        // Only a server that starts as a replica resumes: one that starts as a primary may
        // take writes its old position does not account for.
        if let Some(Some(text)) = saved {
            let mut it = text.split_whitespace();
            if let (Some(id), Some(Ok(off))) = (it.next(), it.next().map(str::parse::<i64>)) {
                crate::log::notice!("resuming replication from {id} at offset {off}");
                let mut link = shared.replica.link();
                link.replid = Some(id.to_string());
                link.offset = off;
                link.read_offset = off;
            }
        }
        follow(shared, host.to_string(), port);
    }
}

/// At a clean shutdown (after the last client is gone, before the log's last sync): stops
/// the link and saves its position, so the restarted replica resumes with a partial resync.
pub(crate) fn save_position(shared: &Shared) {
    if !shared.replica.enabled() || !shared.kv.is_persistent() {
        return;
    }
    stop_link(shared);
    let position = {
        let link = shared.replica.link();
        link.replid
            .as_ref()
            .map(|id| format!("{id} {}\n", link.offset))
    };
    let Some(position) = position else { return };
    let path = shared.cfg.data_dir.join(POSITION_FILE);
    let tmp = shared.cfg.data_dir.join(format!("{POSITION_FILE}.tmp"));
    let written = std::fs::write(&tmp, position).and_then(|()| std::fs::rename(&tmp, &path));
    match written {
        Ok(()) => crate::log::notice!("replication position saved in {}", path.display()),
        Err(e) => crate::log::warning!("could not save the replication position: {e}"),
    }
}

/// REPLICAOF host port: true if it was already following that primary (nothing done).
pub(crate) fn replicaof(shared: &Arc<Shared>, host: &str, port: u16) -> bool {
    {
        let link = shared.replica.link();
        if shared.replica.enabled()
            && link
                .target
                .as_ref()
                .is_some_and(|(h, p)| h.eq_ignore_ascii_case(host) && *p == port)
        {
            return true;
        }
    }
    follow(shared, host.to_string(), port);
    crate::log::notice!("REPLICAOF {host}:{port} enabled");
    false
}

/// Points the replica at `host:port`: stops the current link (if any) and starts a new one,
/// which keeps the replication position for a partial resync.
pub(crate) fn follow(shared: &Arc<Shared>, host: String, port: u16) {
    let r = &shared.replica;
    let was_primary = !r.enabled();
    let generation = stop_link(shared);
    set_param(shared, &format!("{host} {port}"));
    // Clients' writes are refused first; then the stream this server's own replicas read
    // becomes its primary's, fed verbatim by the link (`link.rs`), not generated from the
    // writes it applies.
    shared.kv.set_passive_expiry(true);
    r.enabled.store(true, Ordering::SeqCst);
    let repl = shared.kv.replication();
    repl.set_generating(false);
    {
        let mut link = r.link();
        // A primary that becomes a replica offers its own history (Redis's
        // `replicationCacheMasterUsingMyself`): a promoted former replica continues it.
        if was_primary && repl.is_active() {
            link.replid = Some(repl.replid());
            link.offset = repl.offset() as i64;
            link.read_offset = link.offset;
        }
        link.target = Some((host, port));
        link.state = State::Connect;
        link.down_since = None;
        link.last_io = None;
        link.transfer = None;
    }
    disconnect_replicas(shared);
    link::spawn(Arc::clone(shared), generation);
}

/// REPLICAOF NO ONE (and a failover's end): stops following; the data stays and the server
/// is writable again. `why` is logged, as Redis's "MASTER MODE enabled (...)".
pub(crate) fn promote(shared: &Shared, why: &str) {
    let r = &shared.replica;
    if !r.enabled() {
        return;
    }
    stop_link(shared);
    set_param(shared, "");
    // The history so far stays valid under replid2 (former siblings continue partially);
    // this server's writes generate the stream again.
    let repl = shared.kv.replication();
    repl.shift_replid();
    repl.set_generating(true);
    disconnect_replicas(shared);
    r.enabled.store(false, Ordering::SeqCst);
    shared.kv.set_passive_expiry(false);
    let mut link = r.link();
    link.target = None;
    link.state = State::Connect;
    link.replid = None;
    link.offset = 0;
    link.read_offset = 0;
    crate::log::notice!("MASTER MODE enabled ({why})");
}

/// Drops this server's own replicas, so they reconnect and learn the new replication ID
/// (with a partial resync where their offset allows), as Redis's `disconnectSlaves`.
pub(crate) fn disconnect_replicas(shared: &Shared) {
    for c in shared.clients.list() {
        if c.replica.load(Ordering::Relaxed) {
            c.kill();
        }
    }
}

/// Ends the running link (if any), and returns the generation a new one is to run under.
/// Once it returns, the old link applies nothing more.
fn stop_link(shared: &Shared) -> u64 {
    let r = &shared.replica;
    let generation = r.generation.fetch_add(1, Ordering::SeqCst) + 1;
    if let Some(s) = r.link().socket.take() {
        let _ = s.shutdown(Shutdown::Both);
    }
    // A batch being applied finishes; the next one sees the new generation and stops.
    drop(r.apply.lock());
    r.connected.store(false, Ordering::SeqCst);
    r.loading.store(false, Ordering::SeqCst);
    generation
}

/// The dispatcher's write check (after the OOM check, as in Redis's `processCommand`): a
/// read-only replica refuses a normal client's write command.
#[inline]
pub(crate) fn refuses_write(shared: &Shared, write: bool) -> bool {
    write && shared.replica.enabled() && shared.replica.read_only.load(Ordering::Relaxed)
}

/// The dispatcher's data checks for a command without the `stale`/`loading` flags: the error
/// while the link is down and `replica-serve-stale-data` is `no`, or while a full sync loads.
#[inline]
pub(crate) fn refuses_data(
    shared: &Shared,
    stale_ok: bool,
    loading_ok: bool,
) -> Option<&'static [u8]> {
    let r = &shared.replica;
    if !r.enabled() {
        return None;
    }
    if !stale_ok && !r.connected.load(Ordering::Relaxed) && !r.serve_stale.load(Ordering::Relaxed) {
        return Some(MASTERDOWN);
    }
    if !loading_ok && r.loading.load(Ordering::Relaxed) {
        return Some(LOADING);
    }
    None
}

/// Seconds since `t`, as Redis's `unixtime - t`.
fn ago(t: Instant) -> u64 {
    t.elapsed().as_secs()
}

/// INFO replication's `role:` line and, on a replica, the fields about its primary, in
/// redis-server 7.0's order.
pub(crate) fn info(shared: &Shared, out: &mut String) {
    use std::fmt::Write;
    let r = &shared.replica;
    if !r.enabled() {
        out.push_str("role:master\r\n");
        return;
    }
    let link = r.link();
    let connected = link.state == State::Connected;
    let (host, port) = link.target.clone().unwrap_or_default();
    let last_io = match link.last_io {
        Some(t) if connected => ago(t) as i64,
        _ => -1,
    };
    let _ = write!(
        out,
        "role:slave\r\nmaster_host:{host}\r\nmaster_port:{port}\r\nmaster_link_status:{}\r\n\
         master_last_io_seconds_ago:{last_io}\r\nmaster_sync_in_progress:{}\r\n\
         slave_read_repl_offset:{}\r\nslave_repl_offset:{}\r\n",
        if connected { "up" } else { "down" },
        u8::from(link.state == State::Transfer),
        link.read_offset,
        link.offset,
    );
    if let (State::Transfer, Some(t)) = (link.state, link.transfer) {
        let perc = if t.size > 0 {
            t.read as f64 / t.size as f64 * 100.0
        } else {
            0.0
        };
        let _ = write!(
            out,
            "master_sync_total_bytes:{}\r\nmaster_sync_read_bytes:{}\r\n\
             master_sync_left_bytes:{}\r\nmaster_sync_perc:{perc:.2}\r\n\
             master_sync_last_io_seconds_ago:{}\r\n",
            t.size,
            t.read,
            t.size - t.read,
            ago(t.last_io)
        );
    }
    if !connected {
        let down = link.down_since.map_or(-1, |t| ago(t) as i64);
        let _ = write!(out, "master_link_down_since_seconds:{down}\r\n");
    }
    let _ = write!(
        out,
        "slave_priority:{}\r\nslave_read_only:{}\r\nreplica_announced:{}\r\n",
        r.priority.load(Ordering::Relaxed),
        u8::from(r.read_only.load(Ordering::Relaxed)),
        u8::from(r.announced.load(Ordering::Relaxed)),
    );
}

/// ROLE on a replica: `slave`, host, port, the link's state, the offset applied (-1 while
/// not connected); `None` on a primary.
pub(crate) fn role(shared: &Shared) -> Option<(String, u16, &'static str, i64)> {
    let r = &shared.replica;
    if !r.enabled() {
        return None;
    }
    let link = r.link();
    let (host, port) = link.target.clone().unwrap_or_default();
    let offset = if link.state == State::Connected {
        link.offset
    } else {
        -1
    };
    Some((host, port, link.state.name(), offset))
}
