//! The link thread: connects to the primary, handshakes as a Redis 7 replica does (PING,
//! AUTH, REPLCONF listening-port, REPLCONF capa eof capa psync2, PSYNC), takes a full sync
//! (an RDB sized `$<len>` or diskless `$EOF:<mark>`) or a partial one (`+CONTINUE`), then
//! applies the command stream through the command table as the primary's client: no
//! replies, no read-only, ACL or OOM checks, SELECT included. It counts the bytes applied (the
//! replication offset), answers `REPLCONF GETACK` and sends `REPLCONF ACK <offset>` every
//! second. A lost link is retried once a second (Redis's cron) with `PSYNC <replid>
//! <offset+1>`, so a primary whose backlog still covers the gap continues where it stopped.
//!
//! A full sync reads the whole RDB into memory first, serving the old data meanwhile (as
//! redis-server does while it receives the file), then replaces the data; only that
//! replacement (FLUSHALL, the load) answers `-LOADING` to clients. `repl-diskless-load` is
//! accepted and does not change this: the socket's payload is always loaded from memory.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use kvproto::{Limits, Request, RequestDecoder, Status};

use super::{State, Transfer, param};
use crate::conn::Session;
use crate::log::{notice, warning};
use crate::registry::ClientHandle;
use crate::shared::Shared;

/// How often the link sends `REPLCONF ACK` (Redis's replication cron: once a second).
const ACK_EVERY: Duration = Duration::from_secs(1);
/// How long a read waits before the link checks its generation and its ACK timer.
const POLL: Duration = Duration::from_millis(100);
/// The length of a diskless transfer's end mark.
const EOF_MARK: usize = 40;
/// The bytes read from the socket at a time.
const CHUNK: usize = 64 * 1024;

/// Starts a link thread for `generation`.
pub(super) fn spawn(shared: Arc<Shared>, generation: u64) {
    let spawned = std::thread::Builder::new()
        .name("replica-link".into())
        .spawn(move || run(&shared, generation));
    if let Err(e) = spawned {
        warning!("cannot start the replica link thread: {e}");
    }
}

/// Whether the link of `generation` is still the one wanted.
fn current(shared: &Shared, generation: u64) -> bool {
    shared.replica.generation.load(Ordering::SeqCst) == generation
        && !shared.stopping.load(Ordering::Relaxed)
}

fn run(shared: &Arc<Shared>, generation: u64) {
    while current(shared, generation) {
        let result = session(shared, generation);
        {
            let r = &shared.replica;
            let mut link = r.link();
            // Checked under the lock REPLICAOF changes the generation under: a stale thread
            // never touches its successor's state.
            if r.generation.load(Ordering::SeqCst) == generation {
                // As Redis's `repl_down_since`: set when a link that was up is lost.
                if link.state == State::Connected {
                    link.down_since = Some(Instant::now());
                }
                link.state = State::Connect;
                link.socket = None;
                link.transfer = None;
                r.connected.store(false, Ordering::SeqCst);
                r.loading.store(false, Ordering::SeqCst);
            }
        }
        if let Err(e) = result
            && current(shared, generation)
        {
            // A failover's link that failed before its target answered: a primary again.
            if crate::repl::failover::in_progress(shared) {
                crate::repl::failover::abort(
                    shared,
                    &format!("the link to the target failed: {e}"),
                );
                return;
            }
            warning!("replica link: {e}; retrying in a second");
        }
        // Redis's cron: one attempt a second.
        let until = Instant::now() + Duration::from_secs(1);
        while Instant::now() < until && current(shared, generation) {
            std::thread::sleep(POLL);
        }
    }
}

fn fail(msg: impl Into<String>) -> io::Error {
    io::Error::other(msg.into())
}

/// The connection to the primary: plaintext, or TLS with `tls-replication yes` (the
/// session verifies the primary's certificate against `tls-ca-cert-file`/`-dir`, and its
/// name, and presents `tls-client-cert-file` or else `tls-cert-file`).
enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Conn {
    /// The socket, for timeouts and the client registry.
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(s) => &s.sock,
        }
    }

    /// Connects TLS over `tcp` when `tls-replication` is on.
    fn open(shared: &Shared, tcp: TcpStream, host: &str) -> io::Result<Conn> {
        let settings = crate::tls::Settings::from_params(|name| param(shared, name));
        if !settings.replication {
            return Ok(Conn::Plain(tcp));
        }
        let config = settings.client_config().map_err(fail)?;
        let name = rustls::pki_types::ServerName::try_from(host.to_string())
            .map_err(|e| fail(format!("{host} is not a TLS server name: {e}")))?;
        let session =
            rustls::ClientConnection::new(config, name).map_err(|e| fail(format!("TLS: {e}")))?;
        let mut tls = rustls::StreamOwned::new(session, tcp);
        // The handshake now, so a refused certificate is reported as such.
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock)?;
        }
        Ok(Conn::Tls(Box::new(tls)))
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// The connection to the primary and what was read from it but not yet used.
struct Wire {
    stream: Conn,
    buf: Vec<u8>,
    start: usize,
}

impl Wire {
    /// Sends one command as a RESP array.
    fn send(&mut self, args: &[&[u8]]) -> io::Result<()> {
        let mut out = Vec::new();
        out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.stream.write_all(&out)?;
        self.stream.flush()
    }

    /// Reads more bytes into the buffer; an error at end of stream.
    fn fill(&mut self) -> io::Result<usize> {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        let old = self.buf.len();
        self.buf.resize(old + CHUNK, 0);
        let got = self.stream.read(&mut self.buf[old..]);
        let n = match got {
            Ok(n) => n,
            Err(e) => {
                self.buf.truncate(old);
                return Err(e);
            }
        };
        self.buf.truncate(old + n);
        if n == 0 {
            return Err(fail("connection closed by the primary"));
        }
        Ok(n)
    }

    /// The next non-empty line (the primary sends bare newlines as keepalives while it
    /// prepares an RDB), without its line end. Lines are short: one longer than 64 KiB is an
    /// error.
    fn line(&mut self) -> io::Result<String> {
        loop {
            if let Some(i) = self.buf[self.start..].iter().position(|&b| b == b'\n') {
                let raw = &self.buf[self.start..self.start + i];
                let line =
                    String::from_utf8_lossy(raw.strip_suffix(b"\r").unwrap_or(raw)).into_owned();
                self.start += i + 1;
                if line.is_empty() {
                    continue;
                }
                return Ok(line);
            }
            if self.buf.len() - self.start > CHUNK {
                return Err(fail("the primary sent a line that is too long"));
            }
            self.fill()?;
        }
    }

    /// Sends a command and reads its one-line reply.
    fn call(&mut self, args: &[&[u8]]) -> io::Result<String> {
        self.send(args)?;
        self.line()
    }
}

/// One connection to the primary, from connect to loss.
fn session(shared: &Arc<Shared>, generation: u64) -> io::Result<()> {
    let r = &shared.replica;
    let Some((host, port)) = r.link().target.clone() else {
        return Ok(());
    };
    set_state(shared, generation, State::Connecting);
    let timeout = Duration::from_secs(
        param(shared, "repl-timeout")
            .parse::<u64>()
            .unwrap_or(60)
            .max(1),
    );
    let addr = (host.as_str(), port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| fail(format!("{host}:{port} has no address")))?;
    let stream = TcpStream::connect_timeout(&addr, timeout)?;
    let _ = stream.set_nodelay(true);
    stream.set_read_timeout(Some(timeout))?;
    {
        let mut link = r.link();
        if r.generation.load(Ordering::SeqCst) != generation {
            return Ok(());
        }
        link.socket = Some(stream.try_clone()?);
        link.state = State::Handshake;
    }
    notice!("connecting to MASTER {host}:{port}");
    let mut wire = Wire {
        stream: Conn::open(shared, stream, &host)?,
        buf: Vec::new(),
        start: 0,
    };
    handshake(shared, &mut wire)?;
    let (replid, offset) = {
        let link = r.link();
        (link.replid.clone(), link.offset)
    };
    // A primary handing over with FAILOVER asks its target to take over (`repl/failover.rs`).
    let failover = crate::repl::failover::in_progress(shared);
    let next = (offset + 1).to_string();
    let psync = match &replid {
        Some(id) if failover => {
            wire.call(&[b"PSYNC", id.as_bytes(), next.as_bytes(), b"FAILOVER"])?
        }
        Some(id) => wire.call(&[b"PSYNC", id.as_bytes(), next.as_bytes()])?,
        None => wire.call(&[b"PSYNC", b"?", b"-1"])?,
    };
    if failover {
        let accepted = psync.starts_with("+CONTINUE") || psync.starts_with("+FULLRESYNC");
        crate::repl::failover::psync_answered(shared, accepted);
        if !accepted {
            return Err(fail(format!(
                "the failover target answered PSYNC with {psync}"
            )));
        }
    }
    let mut master = MasterClient::new(shared, wire.stream.tcp())?;
    if let Some(rest) = psync.strip_prefix("+FULLRESYNC ") {
        let mut parts = rest.split(' ');
        let (Some(id), Some(Ok(off))) = (parts.next(), parts.next().map(str::parse::<i64>)) else {
            return Err(fail(format!("bad reply to PSYNC: {psync}")));
        };
        notice!("full resync from MASTER: replid {id}, offset {off}");
        full_sync(shared, generation, &mut wire, &mut master, id, off, timeout)?;
    } else if let Some(rest) = psync.strip_prefix("+CONTINUE") {
        let new_id = rest.trim();
        let _apply = r.apply.lock();
        let mut link = r.link();
        // The store's stream continues from the position asked for (after a restart it starts
        // there: the backlog is empty until the stream arrives).
        let repl = shared.kv.replication();
        if let Some(id) = &link.replid
            && (repl.replid() != *id || repl.offset() != offset as u64)
        {
            repl.reset(id, offset as u64)
                .map_err(|e| fail(e.to_string()))?;
        }
        if !new_id.is_empty() && link.replid.as_deref() != Some(new_id) {
            notice!("MASTER replication id changed to {new_id}");
            repl.adopt_replid(new_id).map_err(|e| fail(e.to_string()))?;
            link.replid = Some(new_id.to_string());
            super::disconnect_replicas(shared);
        }
        link.partial_syncs += 1;
        notice!("successful partial resynchronization with MASTER at offset {offset}");
    } else {
        return Err(fail(format!("the primary answered PSYNC with {psync}")));
    }
    {
        let mut link = r.link();
        if r.generation.load(Ordering::SeqCst) != generation {
            return Ok(());
        }
        link.state = State::Connected;
        link.transfer = None;
        link.down_since = None;
        link.last_io = Some(Instant::now());
        r.connected.store(true, Ordering::SeqCst);
    }
    stream_loop(shared, generation, &mut wire, &mut master, timeout)
}

fn set_state(shared: &Shared, generation: u64, state: State) {
    let mut link = shared.replica.link();
    if shared.replica.generation.load(Ordering::SeqCst) == generation {
        link.state = state;
    }
}

/// PING, AUTH, REPLCONF listening-port, REPLCONF capa, as Redis 7's replica sends them.
fn handshake(shared: &Shared, wire: &mut Wire) -> io::Result<()> {
    let pong = wire.call(&[b"PING"])?;
    // A primary that wants a password answers PING with an error; AUTH comes next.
    if pong.starts_with('-')
        && !pong.starts_with("-NOAUTH")
        && !pong.starts_with("-NOPERM")
        && !pong.starts_with("-ERR operation not permitted")
    {
        return Err(fail(format!(
            "error reply to PING from the primary: {pong}"
        )));
    }
    let pass = param(shared, "masterauth");
    if !pass.is_empty() {
        let user = param(shared, "masteruser");
        let reply = if user.is_empty() {
            wire.call(&[b"AUTH", pass.as_bytes()])?
        } else {
            wire.call(&[b"AUTH", user.as_bytes(), pass.as_bytes()])?
        };
        if reply.starts_with('-') {
            return Err(fail(format!("unable to AUTH to MASTER: {reply}")));
        }
    }
    let announced = param(shared, "replica-announce-port");
    let port = match announced.parse::<u16>() {
        Ok(p) if p != 0 => p,
        _ => shared.local_addr.port(),
    };
    // Errors here are not fatal, as in Redis (an old primary may not know the option).
    let reply = wire.call(&[b"REPLCONF", b"listening-port", port.to_string().as_bytes()])?;
    if reply.starts_with('-') {
        notice!("(non critical) primary does not understand REPLCONF listening-port: {reply}");
    }
    let reply = wire.call(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])?;
    if reply.starts_with('-') {
        notice!("(non critical) primary does not understand REPLCONF capa: {reply}");
    }
    Ok(())
}

/// Receives the RDB of a full sync into memory, then replaces the data with it.
#[allow(clippy::too_many_arguments)]
fn full_sync(
    shared: &Shared,
    generation: u64,
    wire: &mut Wire,
    master: &mut MasterClient,
    replid: &str,
    offset: i64,
    timeout: Duration,
) -> io::Result<()> {
    let r = &shared.replica;
    set_state(shared, generation, State::Transfer);
    let header = wire.line()?;
    let Some(size) = header.strip_prefix('$') else {
        return Err(fail(format!("bad RDB header from the primary: {header}")));
    };
    let mark = size.strip_prefix("EOF:").map(|m| m.as_bytes().to_vec());
    if mark.as_ref().is_some_and(|m| m.len() != EOF_MARK) {
        return Err(fail("bad diskless end mark from the primary"));
    }
    let total: i64 = match &mark {
        Some(_) => -1,
        None => size
            .parse()
            .map_err(|_| fail(format!("bad RDB length from the primary: {size}")))?,
    };
    let progress = |read: usize| {
        let mut link = r.link();
        link.transfer = Some(Transfer {
            size: total,
            read: read as i64,
            last_io: Instant::now(),
        });
    };
    progress(0);
    match total {
        -1 => notice!("MASTER <-> REPLICA sync: receiving streamed RDB from master (diskless)"),
        n => notice!("MASTER <-> REPLICA sync: receiving {n} bytes from master to memory"),
    }
    wire.stream.tcp().set_read_timeout(Some(timeout))?;
    let mut data = wire.buf.split_off(wire.start);
    wire.buf.clear();
    wire.start = 0;
    progress(data.len());
    match &mark {
        Some(mark) => {
            while !data.ends_with(mark) {
                if !current(shared, generation) {
                    return Ok(());
                }
                wire.fill()?;
                data.extend_from_slice(&wire.buf);
                wire.buf.clear();
                progress(data.len());
            }
            data.truncate(data.len() - EOF_MARK);
        }
        None => {
            let want = usize::try_from(total).map_err(|_| fail("negative RDB length"))?;
            while data.len() < want {
                if !current(shared, generation) {
                    return Ok(());
                }
                wire.fill()?;
                data.extend_from_slice(&wire.buf);
                wire.buf.clear();
                progress(data.len());
            }
            // What follows the RDB is the command stream.
            wire.buf = data.split_off(want);
        }
    }
    notice!(
        "MASTER <-> REPLICA sync: received {} bytes of RDB",
        data.len()
    );
    let _apply = r.apply.lock();
    if !current(shared, generation) {
        return Ok(());
    }
    r.loading.store(true, Ordering::SeqCst);
    // The old data and functions go the way a FLUSHALL and FUNCTION FLUSH would (watchers,
    // notifications, the log); the RDB's keys are then stored by kvcore's loader.
    master.run(&[b"FLUSHALL"]);
    master.run(&[b"FUNCTION", b"FLUSH"]);
    master.commit()?;
    {
        // Until it loads, the replica must not resume from the old position.
        let mut link = r.link();
        link.replid = None;
        link.offset = 0;
        link.read_offset = 0;
    }
    let loaded = shared.kv.load_rdb(&data[..]);
    // The script engine gets the libraries the RDB brought.
    for (name, code) in shared.kv.function_libraries() {
        let loaded =
            shared
                .scripts
                .function_load(&code, kvcore::script::Policy::Replace, |_, _| Ok(()));
        if let Err(kvcore::script::Value::Error(e)) = loaded {
            warning!(
                "function library '{}' from the primary could not be loaded: {}",
                String::from_utf8_lossy(&name),
                String::from_utf8_lossy(&e)
            );
        }
    }
    r.loading.store(false, Ordering::SeqCst);
    // The flushes are the replica's own doing: CLIENT LIST shows no command yet, as Redis.
    master
        .session
        .handle
        .last_cmd
        .store(crate::registry::NO_COMMAND, Ordering::Relaxed);
    let info = loaded.map_err(|e| fail(format!("cannot load the primary's RDB: {e}")))?;
    notice!(
        "MASTER <-> REPLICA sync: loaded {} keys ({} already expired)",
        info.keys,
        info.expired
    );
    // The stream this server feeds its own replicas starts over at the primary's position
    // (they sync in full again, as Redis's sub-replicas do).
    shared
        .kv
        .replication()
        .reset(replid, offset as u64)
        .map_err(|e| fail(e.to_string()))?;
    let mut link = r.link();
    link.replid = Some(replid.to_string());
    link.offset = offset;
    link.read_offset = offset;
    link.full_syncs += 1;
    Ok(())
}

/// Applies the command stream until the link fails or is replaced.
fn stream_loop(
    shared: &Shared,
    generation: u64,
    wire: &mut Wire,
    master: &mut MasterClient,
    timeout: Duration,
) -> io::Result<()> {
    let r = &shared.replica;
    wire.stream.tcp().set_read_timeout(Some(POLL))?;
    let max_bulk = shared.live.proto_max_bulk_len.load(Ordering::Relaxed);
    let limits =
        Limits::default().with_max_bulk_len(usize::try_from(max_bulk).unwrap_or(usize::MAX));
    let mut decoder = RequestDecoder::new(limits);
    let repl = shared.kv.replication();
    let mut offset = r.link().offset;
    let mut last_ack = Instant::now()
        .checked_sub(ACK_EVERY)
        .unwrap_or_else(Instant::now);
    let mut last_data = Instant::now();
    // What arrived with the end of the RDB (or the PSYNC reply) is applied first.
    let mut fresh = wire.buf.len() - wire.start;
    loop {
        if !current(shared, generation) {
            return Ok(());
        }
        if last_ack.elapsed() >= ACK_EVERY {
            wire.send(&[b"REPLCONF", b"ACK", offset.to_string().as_bytes()])?;
            last_ack = Instant::now();
        }
        if fresh == 0 {
            if wire.start > 0 {
                wire.buf.drain(..wire.start);
                wire.start = 0;
            }
            match wire.fill() {
                Ok(n) => fresh = n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if last_data.elapsed() > timeout {
                        return Err(fail("timeout: no data from the primary"));
                    }
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        last_data = Instant::now();
        {
            let mut link = r.link();
            link.last_io = Some(last_data);
            link.read_offset += fresh as i64;
        }
        fresh = 0;
        let _apply = r.apply.lock();
        if !current(shared, generation) {
            return Ok(());
        }
        let batch = wire.start;
        loop {
            match decoder.decode(&wire.buf[wire.start..]) {
                Ok(Status::Complete((req, used))) => {
                    wire.start += used;
                    if !req.is_empty() && is_getack(&req) {
                        // The offset before this command, as Redis answers it.
                        let ack = offset.to_string();
                        wire.stream.write_all(&ack_bytes(ack.as_bytes()))?;
                        wire.stream.flush()?;
                    } else if !req.is_empty() {
                        master.execute(&req);
                    }
                    offset += used as i64;
                }
                Ok(Status::Incomplete) => break,
                Err(e) => return Err(fail(format!("protocol error in the primary's stream: {e}"))),
            }
        }
        master.commit()?;
        // What was applied goes verbatim into this server's stream (its own replicas'),
        // GETACKs and PINGs included: the same bytes at the same offsets as the primary's.
        if wire.start > batch {
            repl.feed_raw(&wire.buf[batch..wire.start]);
        }
        r.link().offset = offset;
    }
}

fn is_getack(req: &Request<'_>) -> bool {
    req.len() >= 2
        && req.arg(0).eq_ignore_ascii_case(b"replconf")
        && req.arg(1).eq_ignore_ascii_case(b"getack")
}

fn ack_bytes(offset: &[u8]) -> Vec<u8> {
    let mut out =
        format!("*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n${}\r\n", offset.len()).into_bytes();
    out.extend_from_slice(offset);
    out.extend_from_slice(b"\r\n");
    out
}

/// The primary's client: a session that runs the stream's commands (Redis's `server.master`),
/// listed by CLIENT LIST while the link is up.
struct MasterClient {
    session: Session,
    out: Vec<u8>,
}

impl MasterClient {
    fn new(shared: &Arc<Shared>, stream: &TcpStream) -> io::Result<MasterClient> {
        let id = shared
            .clients
            .try_reserve(usize::MAX)
            .ok_or_else(|| fail("no client id"))?;
        let handle = ClientHandle::new(
            id,
            crate::wire::Wire::plain(stream.try_clone()?),
            stream.peer_addr()?,
            stream.local_addr()?,
            stream.as_raw_fd(),
            shared.uptime_ms(),
            crate::cmd::table::stat_slots(),
        );
        handle.master.store(true, Ordering::Relaxed);
        // As Redis lists its primary's client: obeyed whatever the ACL says.
        *handle.user.lock() = b"(superuser)".to_vec();
        let handle = Arc::new(handle);
        shared.clients.register(Arc::clone(&handle));
        crate::tracking::set_current(id);
        let mut session = Session::new(Arc::clone(shared), handle);
        session.master = true;
        session.authenticated = true;
        Ok(MasterClient {
            session,
            out: Vec::new(),
        })
    }

    /// Runs one command of the stream; its reply is dropped (a replica never answers its
    /// primary, except REPLCONF GETACK), an error reply is logged.
    fn execute(&mut self, req: &Request<'_>) {
        self.out.clear();
        self.session.execute(req, &mut self.out);
        if self.out.first() == Some(&b'-') {
            let end = self.out.len().min(200);
            warning!(
                "the primary's command '{}' failed on this replica: {}",
                String::from_utf8_lossy(req.arg(0)),
                String::from_utf8_lossy(&self.out[1..end]).trim_end()
            );
        }
        self.session.close = false;
    }

    fn run(&mut self, args: &[&[u8]]) {
        self.execute(&Request::from_args(args.iter().copied()));
    }

    /// Commits what the commands since the last commit wrote, and hands out what they
    /// published and showed, as a connection does at the end of a batch.
    fn commit(&mut self) -> io::Result<()> {
        let s = &mut self.session;
        s.handle
            .last_ms
            .store(s.shared.uptime_ms(), Ordering::Relaxed);
        s.handle.db.store(s.db_index, Ordering::Relaxed);
        if s.shared.tracking.active() {
            s.shared.tracking.end_batch(&s.shared);
        }
        s.pubsub.pending.flush();
        s.flush_monitors();
        s.writes
            .commit()
            .map_err(|e| fail(format!("cannot commit the primary's writes: {e}")))
    }
}

impl Drop for MasterClient {
    fn drop(&mut self) {
        let s = &self.session;
        s.shared.clients.release(s.handle.id);
    }
}
