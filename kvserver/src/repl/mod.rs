//! The primary side of replication: the replicas attached to this server, each served by its
//! own connection thread turned into a stream feeder once PSYNC or SYNC succeeded.
//!
//! The stream itself is kvcore's (`kvcore/src/repl/`): every write is encoded there, under
//! its shard locks, into the backlog. A feeder writes the RDB of a full sync (kvcore's
//! point-in-time `FullSync`) or `+CONTINUE`, then copies the backlog from its reader's
//! position to the socket and reads the replica's `REPLCONF ACK`s, which wake WAIT.

pub(crate) mod failover;

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kvproto::{Limits, RequestDecoder, Status};
use parking_lot::{Condvar, Mutex};

use crate::conn::Session;
use crate::log::{notice, warning};
use crate::registry::ClientHandle;
use crate::shared::Shared;
use crate::waiters::Unblock;
use crate::wire::Wire;

/// Redis's reply to a write refused by `min-replicas-to-write`.
pub(crate) const NOREPLICAS: &[u8] = b"NOREPLICAS Not enough good replicas to write.";

/// How long a feeder waits for new stream bytes before it checks its socket and its state.
const POLL: Duration = Duration::from_millis(50);
/// The most a feeder copies out of the backlog at once.
const CHUNK: usize = 256 * 1024;

/// A replica's state as INFO names it.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum State {
    WaitBgsave = 0,
    SendBulk = 1,
    Online = 2,
}

/// One attached replica.
pub(crate) struct Replica {
    client_id: u64,
    ip: String,
    /// REPLCONF listening-port.
    port: u16,
    state: AtomicU8,
    /// The offset of its last REPLCONF ACK.
    ack_offset: AtomicU64,
    /// When it last acknowledged (unix ms).
    ack_ms: AtomicU64,
}

/// What REPLCONF told this connection before its PSYNC.
#[derive(Debug, Default, Clone)]
pub(crate) struct Handshake {
    pub(crate) listening_port: u16,
    pub(crate) ip_address: Option<String>,
    pub(crate) capa_eof: bool,
}

/// How a replica's stream starts, decided by PSYNC/SYNC.
pub(crate) enum Start {
    /// `+FULLRESYNC` (or, for SYNC, nothing) and an RDB.
    Full { psync: bool },
    /// `+CONTINUE` from this reader.
    Continue(kvcore::StreamReader),
}

/// The replicas and the replication settings the server applies (a field of `Shared`).
#[derive(Default)]
pub(crate) struct Primary {
    replicas: Mutex<Vec<Arc<Replica>>>,
    /// Woken by every ACK and by CLIENT UNBLOCK (WAIT sleeps on it, with `waiting`).
    acked: Condvar,
    /// The clients blocked in WAIT, each with how CLIENT UNBLOCK ended its wait if it did.
    waiting: Mutex<HashMap<u64, Option<Unblock>>>,
    /// `min-replicas-to-write` and `min-replicas-max-lag` (seconds).
    min_replicas: AtomicU64,
    max_lag: AtomicU64,
    /// `repl-ping-replica-period`, seconds.
    ping_period: AtomicU64,
    /// `repl-diskless-sync`.
    diskless: AtomicBool,
    pinger: AtomicBool,
    /// FAILOVER's state (`failover.rs`).
    pub(crate) failover: failover::Failover,
    /// INFO stats: `sync_full`, `sync_partial_ok`, `sync_partial_err`.
    pub(crate) sync_full: AtomicU64,
    pub(crate) sync_partial_ok: AtomicU64,
    pub(crate) sync_partial_err: AtomicU64,
}

impl std::fmt::Debug for Primary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Primary")
            .field("replicas", &self.count())
            .finish_non_exhaustive()
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Primary {
    /// Applies a replication parameter (at start-up and on CONFIG SET).
    pub(crate) fn apply(&self, kv: &kvcore::Kv, name: &str, value: &str) {
        let int = || value.parse::<u64>().unwrap_or(0);
        match name {
            "repl-backlog-size" => kv
                .replication()
                .set_backlog_size(usize::try_from(int()).unwrap_or(usize::MAX)),
            "min-replicas-to-write" => self.min_replicas.store(int(), Ordering::Relaxed),
            "min-replicas-max-lag" => self.max_lag.store(int(), Ordering::Relaxed),
            "repl-ping-replica-period" => self.ping_period.store(int().max(1), Ordering::Relaxed),
            "repl-diskless-sync" => self.diskless.store(value == "yes", Ordering::Relaxed),
            "client-output-buffer-limit" => {
                if let Some(l) = crate::settings::OutputLimits::parse_redis(value) {
                    let hard = usize::try_from(l.replica.hard).unwrap_or(usize::MAX);
                    kv.replication().set_reader_limit(hard);
                }
            }
            _ => {}
        }
    }

    /// Whether `min-replicas-to-write` refuses writes now: one relaxed load when it is 0.
    #[inline]
    pub(crate) fn refuses_writes(&self) -> bool {
        let min = self.min_replicas.load(Ordering::Relaxed);
        min > 0 && self.max_lag.load(Ordering::Relaxed) > 0 && self.good_replicas() < min
    }

    /// Replicas online whose last ACK is at most `min-replicas-max-lag` seconds old.
    fn good_replicas(&self) -> u64 {
        let lag_ms = self.max_lag.load(Ordering::Relaxed) * 1000;
        let now = now_ms();
        self.replicas
            .lock()
            .iter()
            .filter(|r| {
                r.state.load(Ordering::Relaxed) == State::Online as u8
                    && now.saturating_sub(r.ack_ms.load(Ordering::Relaxed)) <= lag_ms
            })
            .count() as u64
    }

    /// How many replicas there are (INFO's `connected_slaves`).
    pub(crate) fn count(&self) -> usize {
        self.replicas.lock().len()
    }

    /// Replicas that acknowledged `offset` or more.
    fn acked_at_least(&self, offset: u64) -> usize {
        self.replicas
            .lock()
            .iter()
            .filter(|r| r.ack_offset.load(Ordering::Acquire) >= offset)
            .count()
    }

    /// FAILOVER TO's check: `Some(online)` for the replica at `host:port`, `None` if there
    /// is none.
    pub(crate) fn replica_state(&self, host: &str, port: u16) -> Option<bool> {
        self.replicas
            .lock()
            .iter()
            .find(|r| r.ip == host && r.port == port)
            .map(|r| r.state.load(Ordering::Relaxed) == State::Online as u8)
    }

    /// The last offset the replica at `host:port` acknowledged.
    pub(crate) fn ack_of(&self, host: &str, port: u16) -> Option<u64> {
        self.replicas
            .lock()
            .iter()
            .find(|r| r.ip == host && r.port == port)
            .map(|r| r.ack_offset.load(Ordering::Acquire))
    }

    /// The address of a replica that acknowledged exactly `offset` (FAILOVER to any).
    pub(crate) fn caught_up(&self, offset: u64) -> Option<(String, u16)> {
        self.replicas
            .lock()
            .iter()
            .find(|r| r.ack_offset.load(Ordering::Acquire) == offset)
            .map(|r| (r.ip.clone(), r.port))
    }

    /// Whether the client with this id is a replica.
    pub(crate) fn is_replica(&self, client_id: u64) -> bool {
        self.replicas
            .lock()
            .iter()
            .any(|r| r.client_id == client_id)
    }

    /// INFO replication's primary lines.
    pub(crate) fn info(&self, kv: &kvcore::Kv, out: &mut String) {
        use std::fmt::Write as _;
        let repl = kv.replication();
        let replicas = self.replicas.lock().clone();
        let _ = write!(out, "connected_slaves:{}\r\n", replicas.len());
        let now = now_ms();
        for (i, r) in replicas.iter().enumerate() {
            let state = match r.state.load(Ordering::Relaxed) {
                0 => "wait_bgsave",
                1 => "send_bulk",
                _ => "online",
            };
            let _ = write!(
                out,
                "slave{i}:ip={},port={},state={state},offset={},lag={}\r\n",
                r.ip,
                r.port,
                r.ack_offset.load(Ordering::Relaxed),
                now.saturating_sub(r.ack_ms.load(Ordering::Relaxed)) / 1000
            );
        }
        let min = self.min_replicas.load(Ordering::Relaxed);
        if min > 0 {
            let _ = write!(out, "min_slaves_good_slaves:{}\r\n", self.good_replicas());
        }
        let active = repl.is_active();
        let _ = write!(
            out,
            "master_failover_state:{}\r\nmaster_replid:{}\r\nmaster_replid2:{}\r\n\
             master_repl_offset:{}\r\nsecond_repl_offset:{}\r\nrepl_backlog_active:{}\r\n\
             repl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{}\r\nrepl_backlog_histlen:{}\r\n",
            self.failover.describe(),
            repl.replid(),
            repl.replid2(),
            repl.offset(),
            repl.second_offset(),
            u8::from(active),
            repl.backlog_size(),
            if active {
                repl.backlog_first_byte_offset()
            } else {
                0
            },
            repl.backlog_histlen(),
        );
    }

    /// ROLE's master form: offset and `[ip, port, acked offset]` per online replica.
    pub(crate) fn role(&self) -> Vec<(String, u16, u64)> {
        self.replicas
            .lock()
            .iter()
            .filter(|r| r.state.load(Ordering::Relaxed) == State::Online as u8)
            .map(|r| (r.ip.clone(), r.port, r.ack_offset.load(Ordering::Relaxed)))
            .collect()
    }

    /// WAIT: asks the replicas for their offsets, then waits (up to `timeout`, forever if
    /// `None`; a zero timeout, inside a transaction, does not wait) until `want` of them
    /// acknowledged `offset`. Returns how many did, and how CLIENT UNBLOCK ended the wait if it
    /// did. While it waits the client shows as blocked (CLIENT LIST flag `b`, INFO
    /// `blocked_clients`), as in Redis.
    pub(crate) fn wait(
        &self,
        kv: &kvcore::Kv,
        handle: &ClientHandle,
        offset: u64,
        want: usize,
        timeout: Option<Duration>,
    ) -> (usize, Option<Unblock>) {
        let got = self.acked_at_least(offset);
        let no_wait = timeout.is_some_and(|t| t.is_zero());
        if got >= want || self.count() == 0 && want > 0 && no_wait {
            return (got, None);
        }
        kv.replication()
            .feed_command(&[b"REPLCONF", b"GETACK", b"*"]);
        if no_wait {
            return (self.acked_at_least(offset), None);
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        let _idle = crate::conn::Waiting::enter();
        let mut waiting = self.waiting.lock();
        waiting.insert(handle.id, None);
        // Shown as blocked only once CLIENT UNBLOCK can find it.
        let _blocked = handle.mark_blocked();
        let unblocked = loop {
            // CLIENT UNBLOCK answered 1 for this wait: it ends the way it said, whatever the
            // replicas acknowledged meanwhile.
            if let Some(how) = waiting.get(&handle.id).copied().flatten() {
                break Some(how);
            }
            if self.acked_at_least(offset) >= want || handle.is_killed() {
                break None;
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                break None;
            }
            let until = deadline.map_or(now + POLL, |d| d.min(now + POLL));
            self.acked.wait_until(&mut waiting, until);
        };
        waiting.remove(&handle.id);
        (self.acked_at_least(offset), unblocked)
    }

    /// CLIENT UNBLOCK: ends the WAIT of client `client` if it is in one (and not already
    /// unblocked); true if it did.
    pub(crate) fn unblock(&self, client: u64, how: Unblock) -> bool {
        let mut waiting = self.waiting.lock();
        match waiting.get_mut(&client) {
            Some(slot @ None) => {
                *slot = Some(how);
                self.acked.notify_all();
                true
            }
            _ => false,
        }
    }

    /// How many clients are blocked in WAIT (part of INFO `blocked_clients`).
    pub(crate) fn blocked(&self) -> usize {
        self.waiting.lock().len()
    }

    fn attach(&self, r: Arc<Replica>) {
        self.replicas.lock().push(r);
    }

    fn detach(&self, client_id: u64) {
        self.replicas.lock().retain(|r| r.client_id != client_id);
        let _g = self.waiting.lock();
        self.acked.notify_all();
    }

    fn note_ack(&self, r: &Replica, offset: u64) {
        r.ack_offset.fetch_max(offset, Ordering::AcqRel);
        r.ack_ms.store(now_ms(), Ordering::Relaxed);
        let _g = self.waiting.lock();
        self.acked.notify_all();
    }

    /// Starts the thread that pings the replicas every `repl-ping-replica-period` through the
    /// stream (so it counts in the offsets, as Redis's PING does), once.
    pub(crate) fn start_pinger(&self, shared: &Arc<Shared>) {
        if self.pinger.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak: Weak<Shared> = Arc::downgrade(shared);
        let spawned = std::thread::Builder::new()
            .name("repl-ping".into())
            .spawn(move || {
                let mut last = Instant::now();
                loop {
                    std::thread::sleep(Duration::from_millis(100));
                    let Some(shared) = weak.upgrade() else { return };
                    failover::tick(&shared);
                    let period = shared.repl.ping_period.load(Ordering::Relaxed).max(1);
                    if last.elapsed() >= Duration::from_secs(period) {
                        last = Instant::now();
                        if shared.repl.count() > 0 && !failover::quiet(&shared) {
                            shared.kv.replication().feed_command(&[b"PING"]);
                        }
                    }
                }
            });
        if spawned.is_err() {
            self.pinger.store(false, Ordering::Release);
        }
    }
}

/// Serves a replica on its connection's thread until it leaves or is dropped: the start of
/// its stream (an RDB, or `+CONTINUE`), then the stream.
///
/// # Errors
/// The I/O error that ended the connection.
pub(crate) fn serve(
    s: &mut Session,
    stream: &Wire,
    start: Start,
    handshake: &Handshake,
) -> io::Result<()> {
    let shared = Arc::clone(&s.shared);
    let kv = shared.kv.clone();
    let repl = kv.replication();
    let replica = Arc::new(Replica {
        client_id: s.handle.id,
        ip: handshake
            .ip_address
            .clone()
            .unwrap_or_else(|| s.handle.addr.ip().to_string()),
        port: handshake.listening_port,
        state: AtomicU8::new(State::WaitBgsave as u8),
        ack_offset: AtomicU64::new(0),
        ack_ms: AtomicU64::new(now_ms()),
    });
    s.handle.replica.store(true, Ordering::Relaxed);
    shared.repl.attach(Arc::clone(&replica));
    shared.repl.start_pinger(&shared);
    let _ = stream.tcp().set_write_timeout(None);
    let _ = stream.tcp().set_read_timeout(None);
    let served = feed(&shared, &repl, &replica, stream, start, handshake);
    shared.repl.detach(replica.client_id);
    if let Err(e) = &served {
        notice!(
            "connection with replica {}:{} lost: {e}",
            replica.ip,
            replica.port
        );
    }
    served
}

fn feed(
    shared: &Arc<Shared>,
    repl: &kvcore::Replication,
    replica: &Replica,
    stream: &Wire,
    start: Start,
    handshake: &Handshake,
) -> io::Result<()> {
    // After a diskless payload the replica finds the end by the mark being the last bytes it
    // read, so the stream waits for its first ACK (sent once it loaded), as Redis's does.
    let mut await_ack = false;
    let mut reader = match start {
        Start::Continue(reader) => {
            shared.repl.sync_partial_ok.fetch_add(1, Ordering::Relaxed);
            notice!(
                "partial resynchronization request from {}:{} accepted, sending {} bytes of \
                 backlog",
                replica.ip,
                replica.port,
                repl.offset() + 1 - reader.position()
            );
            stream.write_all(format!("+CONTINUE {}\r\n", repl.replid()).as_bytes())?;
            reader
        }
        Start::Full { psync } => {
            shared.repl.sync_full.fetch_add(1, Ordering::Relaxed);
            // On a replica: between two batches of its primary's stream (see `hold_apply`).
            let mut sync = {
                let _between = shared.replica.hold_apply();
                repl.full_sync()
            };
            notice!(
                "full resync for replica {}:{} at offset {}",
                replica.ip,
                replica.port,
                sync.offset()
            );
            if psync {
                stream.write_all(
                    format!("+FULLRESYNC {} {}\r\n", repl.replid(), sync.offset()).as_bytes(),
                )?;
            }
            replica
                .state
                .store(State::SendBulk as u8, Ordering::Relaxed);
            if handshake.capa_eof && shared.repl.diskless.load(Ordering::Relaxed) {
                let mark = eof_mark(&shared.kv);
                stream.write_all(format!("$EOF:{mark}\r\n").as_bytes())?;
                let mut w = io::BufWriter::with_capacity(CHUNK, WireWriter(stream));
                sync.write_rdb(&mut w).map_err(io::Error::other)?;
                w.write_all(mark.as_bytes())?;
                w.flush()?;
                await_ack = true;
            } else {
                let mut rdb = Vec::new();
                sync.write_rdb(&mut rdb).map_err(io::Error::other)?;
                stream.write_all(format!("${}\r\n", rdb.len()).as_bytes())?;
                stream.write_all(&rdb)?;
            }
            replica.ack_offset.store(sync.offset(), Ordering::Relaxed);
            sync.into_reader()
        }
    };
    replica.state.store(State::Online as u8, Ordering::Relaxed);
    replica.ack_ms.store(now_ms(), Ordering::Relaxed);
    let mut out = Vec::with_capacity(CHUNK);
    let mut inbuf = vec![0u8; 4096];
    let mut pending: Vec<u8> = Vec::new();
    loop {
        if shared.stopping.load(Ordering::Relaxed) {
            return Ok(());
        }
        out.clear();
        if await_ack {
            stream.tcp().set_read_timeout(Some(POLL))?;
            match stream.read(&mut inbuf) {
                Ok(0) => return Ok(()),
                Ok(n) => pending.extend_from_slice(&inbuf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => return Err(e),
            }
            let used = read_acks(&pending, |offset| {
                await_ack = false;
                shared.repl.note_ack(replica, offset);
            });
            pending.drain(..used);
            if !await_ack {
                stream.tcp().set_read_timeout(None)?;
            }
            continue;
        }
        match reader.read(&mut out, CHUNK, POLL) {
            Ok(_) => {}
            Err(e) => {
                warning!(
                    "dropping replica {}:{}: {e} (client-output-buffer-limit replica)",
                    replica.ip,
                    replica.port
                );
                return Ok(());
            }
        }
        if !out.is_empty() {
            stream.write_all(&out)?;
        }
        // The replica's ACKs (and anything else it says) without blocking.
        loop {
            match stream.read_nowait(&mut inbuf) {
                Ok(0) => return Ok(()),
                Ok(n) => pending.extend_from_slice(&inbuf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let used = read_acks(&pending, |offset| shared.repl.note_ack(replica, offset));
        pending.drain(..used);
        if pending.len() > 64 * 1024 {
            return Err(io::Error::other("replica sent too much"));
        }
    }
}

/// A replica's connection as an `io::Write`, for the diskless RDB's buffered writer (a TLS
/// replica's bytes pass through its session).
struct WireWriter<'a>(&'a Wire);

impl Write for WireWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush_wait(None)
    }
}

/// Reads the complete `REPLCONF ACK <offset>` requests at the start of `buf`; returns how many
/// bytes it consumed.
fn read_acks(buf: &[u8], mut ack: impl FnMut(u64)) -> usize {
    let mut decoder = RequestDecoder::new(Limits::default());
    let mut start = 0;
    while start < buf.len() {
        match decoder.decode(&buf[start..]) {
            Ok(Status::Complete((req, used))) => {
                start += used;
                if req.len() >= 3
                    && req.arg(0).eq_ignore_ascii_case(b"replconf")
                    && req.arg(1).eq_ignore_ascii_case(b"ack")
                    && let Some(off) = kvnum::parse_u64(req.arg(2))
                {
                    ack(off);
                }
            }
            Ok(Status::Incomplete) => break,
            Err(_) => return buf.len(),
        }
    }
    start
}

/// 40 random characters ending a diskless payload (`$EOF:<mark>`).
fn eof_mark(kv: &kvcore::Kv) -> String {
    // The replication ID generator's output is random hex: a fresh one per sync.
    let repl = kv.replication();
    let seed = format!("{}{}", repl.replid(), now_ms());
    let mut h = std::hash::DefaultHasher::new();
    let mut mark = String::with_capacity(40);
    while mark.len() < 40 {
        std::hash::Hash::hash(&(&seed, mark.len(), Instant::now()), &mut h);
        mark.push_str(&format!("{:016x}", std::hash::Hasher::finish(&h)));
    }
    mark.truncate(40);
    mark
}

#[cfg(test)]
mod tests {
    #[test]
    fn acks_are_read_from_complete_requests() {
        let mut got = Vec::new();
        let buf =
            b"*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$2\r\n42\r\n*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK";
        let used = super::read_acks(buf, |o| got.push(o));
        assert_eq!(got, [42]);
        assert_eq!(used, 35);
    }
}
