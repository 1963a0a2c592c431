//! The Raft mode's side in the server (`--raft-id`, `--raft-peers`): which commands a
//! follower forwards to the leader and how, and what a leader's connection waits for before
//! replying. The consensus itself is kvraft's.
//!
//! A follower forwards every command that touches the data (Redis's `readonly`, `write` and
//! `may_replicate` flags, transactions and scripts) over its own connection to the leader,
//! one per client connection, opened when first needed and authenticated as the client's
//! user, and relays the reply bytes as they come. Connection commands (HELLO, CLIENT,
//! SELECT, ...), server administration (INFO, CONFIG, ...) and subscriptions run on the node
//! itself; PUBLISH is forwarded and reaches every node's subscribers through the log. If the
//! link to the leader fails after a command was sent, its outcome is unknown: the client's
//! connection is closed rather than answered, as a failed commit closes it on a single
//! server. With `tls-cluster yes` the link goes to the leader's `tls-port` over TLS
//! (`crate::raft_tls`), so a group whose clients use only TLS forwards too.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use kvproto::{Limits, Request, Status, Version, Writer};

use crate::cmd::table::{Command, Flags};
use crate::conn::Session;
use crate::log::verbose;

/// The answer while no leader is known (nothing ran).
pub(crate) const TRYAGAIN: &[u8] = b"TRYAGAIN no raft leader is known, retry later";

/// The answer to REPLICAOF, SYNC, PSYNC and FAILOVER in the Raft mode: the group replicates
/// itself, and a Redis replication stream would restart at every change of leader.
pub(crate) const NO_REPLICATION: &str =
    "ERR Redis replication (REPLICAOF, SYNC, PSYNC, FAILOVER) is not available in raft mode";

/// The credentials a client authenticated with on a follower (AUTH, HELLO ... AUTH).
#[derive(PartialEq, Eq)]
pub(crate) struct Creds {
    pub(crate) user: Vec<u8>,
    pub(crate) pass: Vec<u8>,
}

/// A link to the leader: plain TCP, or TLS with `tls-cluster yes`.
enum Link {
    Plain(TcpStream),
    Tls(Box<crate::raft_tls::ClientStream>),
}

impl Link {
    /// Sends all of `buf` (a TLS session's records included).
    fn send(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Link::Plain(s) => s.write_all(buf),
            Link::Tls(s) => s.write_all(buf).and_then(|()| s.flush()),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Link::Plain(s) => s.read(buf),
            Link::Tls(s) => s.read(buf),
        }
    }
}

/// The connection to the leader a follower's client uses.
pub(crate) struct Upstream {
    addr: String,
    leader: u64,
    stream: Link,
    buf: Vec<u8>,
    /// The database, protocol and user the leader's side of this connection has (no user:
    /// the leader's default, unauthenticated).
    db: usize,
    resp3: bool,
    creds: Option<Creds>,
    /// Whether the leader's side has a transaction open, or keys watched, for this client:
    /// then the client cannot go on with another leader.
    multi: bool,
    watching: bool,
    /// A command of the open transaction was refused here (arity, ACL, ...): the leader
    /// queued the others, so EXEC becomes DISCARD and EXECABORT, as Redis answers.
    dirty: bool,
    /// The database the last valid SELECT queued in the open transaction selects once EXEC
    /// runs it (on the leader's side of this link, and so for the client here too).
    queued_db: Option<usize>,
}

impl Upstream {
    /// Whether a transaction is open on the leader for this client.
    pub(crate) fn in_multi(&self) -> bool {
        self.multi
    }

    /// Marks the transaction open on the leader, if any, as failed (`Session::fail_transaction`).
    pub(crate) fn fail(&mut self) {
        self.dirty |= self.multi;
    }

    /// Follows MULTI, WATCH, EXEC, DISCARD and UNWATCH by the leader's answer (`ok`: a `+`
    /// reply), so that a client whose transaction ended goes on through a new leader.
    fn track(&mut self, name: &[u8], ok: bool) {
        let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        if is("multi") && ok {
            self.multi = true;
            self.dirty = false;
        } else if is("watch") && ok {
            self.watching = true;
        } else if (is("exec") || is("discard")) && self.multi {
            // Both end a transaction (even EXECABORT) and unwatch every key; without one
            // they are errors that change nothing.
            self.multi = false;
            self.watching = false;
            self.dirty = false;
            self.queued_db = None;
        } else if is("unwatch") && !self.multi {
            self.watching = false;
        }
    }
}

/// Whether a follower forwards `cmd` to the leader.
pub(crate) fn forwards(cmd: &Command) -> bool {
    match cmd.name {
        // PUBLISH goes through the log, so every node's subscribers get the message.
        "multi" | "exec" | "discard" | "watch" | "unwatch" | "publish" | "spublish" => true,
        "select" | "hello" | "auth" | "reset" | "quit" => false,
        _ => cmd.flags.any(Flags::KEYSPACE),
    }
}

/// What a follower does with a command it would run itself (`forwards` is false) while a
/// transaction is open on the leader for this client, where Redis would queue it: PING, ECHO,
/// TIME and SELECT go to the leader to be queued (`Some(true)`: they answer the same there,
/// and `forward` follows a queued SELECT into the client's session at EXEC); QUIT
/// and RESET act at once, here, as in Redis (`Some(false)`); anything else would act on the
/// wrong node or before the transaction (connection state, subscriptions, administration),
/// so it is refused and the transaction fails (`None`, [`NOT_IN_FORWARDED_MULTI`]).
pub(crate) fn in_forwarded_multi(cmd: &Command) -> Option<bool> {
    match cmd.name {
        // SELECT too, as Redis queues it: EXEC selects the database on both sides.
        "ping" | "echo" | "time" | "select" => Some(true),
        "quit" | "reset" => Some(false),
        _ => None,
    }
}

/// The refusal of [`in_forwarded_multi`]'s `None` (the transaction then ends in EXECABORT).
pub(crate) const NOT_IN_FORWARDED_MULTI: &[u8] = b"ERR this command is not available inside \
    MULTI through a raft follower (send it outside the transaction, or to the leader)";

/// Sends `req` to the leader `to` names and appends its reply to `out`.
pub(crate) fn forward(s: &mut Session, to: &kvcore::Forward, req: &Request<'_>, out: &mut Vec<u8>) {
    let leader = to.node();
    // With `tls-cluster yes`, the leader's TLS client port, over TLS.
    let tls = s.shared.raft_tls.get().cloned();
    let addr = match &tls {
        None => to.addr(),
        Some(_) => match to.tls_addr() {
            Some(a) => a,
            None => {
                verbose!("the raft leader {leader} announced no TLS client port");
                Writer::new(out, s.version).error(TRYAGAIN);
                return;
            }
        },
    };
    if s.upstream
        .as_ref()
        .is_some_and(|u| u.addr != addr || u.leader != leader)
    {
        // The leader changed: a transaction or watch begun with the old one cannot go on.
        s.upstream = None;
        if s.forwarded_state {
            s.close = true;
            return;
        }
    }
    if s.upstream
        .as_ref()
        .is_some_and(|u| u.creds.is_some() && s.forward_creds.is_none())
    {
        // Only a new connection is unauthenticated again (RESET drops the link itself).
        s.upstream = None;
        if s.forwarded_state {
            s.close = true;
            return;
        }
    }
    if s.upstream.is_none() {
        match connect(addr, leader, tls.as_deref()) {
            Ok(u) => s.upstream = Some(Box::new(u)),
            Err(e) => {
                verbose!("cannot reach the raft leader at {addr}: {e}");
                Writer::new(out, s.version).error(TRYAGAIN);
                return;
            }
        }
    }
    let name = req.arg(0);
    if name.eq_ignore_ascii_case(b"multi") || name.eq_ignore_ascii_case(b"watch") {
        s.forwarded_state = true;
    }
    let shared = std::sync::Arc::clone(&s.shared);
    let handle = std::sync::Arc::clone(&s.handle);
    // Checked whenever the leader is silent for a while: give up when another node leads,
    // or nobody waits for the answer any more.
    let give_up = || {
        shared
            .coordinator
            .get()
            .is_none_or(|c| c.leader_node() != Some(leader))
            || handle.is_killed()
            || handle.peer_closed()
            || shared.stopping.load(std::sync::atomic::Ordering::Relaxed)
    };
    let up = s.upstream.as_mut().expect("connected above");
    if let Some(creds) = s.forward_creds.as_deref()
        && up.creds.as_ref() != Some(creds)
    {
        // The client's user, before anything runs as it: the command waits for the answer,
        // and if the leader refuses the credentials the client gets its error instead.
        let mut msg = Vec::new();
        push_command(&mut msg, &[b"AUTH", &creds.user, &creds.pass]);
        let mut answer = Vec::new();
        let done = up
            .stream
            .send(&msg)
            .and_then(|()| read_reply(up, &give_up, Some(&mut answer)));
        match done {
            Ok(b'-') => {
                verbose!("the raft leader refused a forwarded client's credentials");
                out.extend_from_slice(&answer);
                s.upstream = None;
                if s.forwarded_state {
                    s.close = true;
                }
                return;
            }
            Ok(_) => {
                up.creds = Some(Creds {
                    user: creds.user.clone(),
                    pass: creds.pass.clone(),
                });
            }
            Err(e) => {
                verbose!("the link to the raft leader failed: {e}; closing the client");
                s.upstream = None;
                s.close = true;
                return;
            }
        }
    }
    let discard = up.dirty && name.eq_ignore_ascii_case(b"exec");
    let name: &[u8] = if discard { b"DISCARD" } else { name };
    let mut msg = Vec::new();
    if up.db != s.db_index {
        push_command(&mut msg, &[b"SELECT", s.db_index.to_string().as_bytes()]);
    }
    let resp3 = s.version == Version::Resp3;
    if up.resp3 != resp3 {
        push_command(&mut msg, &[b"HELLO", if resp3 { b"3" } else { b"2" }]);
    }
    let extra = usize::from(up.db != s.db_index) + usize::from(up.resp3 != resp3);
    let args: Vec<&[u8]> = if discard {
        vec![name]
    } else {
        req.args().collect()
    };
    push_command(&mut msg, &args);
    let mark = out.len();
    let sent = up.stream.send(&msg);
    let mut reply = Ok(b'+');
    if sent.is_ok() {
        for i in 0..=extra {
            let keep = i == extra;
            reply = read_reply(up, &give_up, keep.then_some(&mut *out));
            if reply.is_err() {
                break;
            }
        }
    }
    match sent.and(reply) {
        Ok(kind) => {
            up.db = s.db_index;
            up.resp3 = resp3;
            if up.multi && name.eq_ignore_ascii_case(b"select") && kind == b'+' {
                // Queued: it selects at EXEC if it is valid there (as here: the same
                // `databases`), else EXEC's answer has its error and nothing changes.
                let db = std::str::from_utf8(req.arg(1))
                    .ok()
                    .and_then(|a| a.parse::<usize>().ok())
                    .filter(|&db| db < s.shared.kv.databases());
                if db.is_some() {
                    up.queued_db = db;
                }
            }
            // EXEC ran the transaction (an array, not the nil of a failed WATCH): a queued
            // SELECT now applies on the leader's side and to the client.
            let ran = name.eq_ignore_ascii_case(b"exec")
                && kind == b'*'
                && !out[mark..].starts_with(b"*-1");
            let selected = up.queued_db.take_if(|_| ran);
            if let Some(db) = selected {
                up.db = db;
            }
            up.track(name, kind == b'+');
            s.forwarded_state = up.multi || up.watching;
            if let Some(db) = selected
                && let Ok(handle) = s.select_db(db)
            {
                s.db_index = db;
                s.db = handle;
            }
            if discard {
                out.truncate(mark);
                Writer::new(out, s.version)
                    .error(b"EXECABORT Transaction discarded because of previous errors.");
            }
        }
        Err(e) => {
            verbose!("the link to the raft leader failed: {e}; closing the client");
            s.upstream = None;
            s.close = true;
        }
    }
}

fn connect(
    addr: &str,
    leader: u64,
    tls: Option<&crate::raft_tls::ClusterTls>,
) -> io::Result<Upstream> {
    let sock = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::other("no address"))?;
    let stream = TcpStream::connect_timeout(&sock, Duration::from_secs(1))?;
    stream.set_nodelay(true)?;
    let stream = match tls {
        None => Link::Plain(stream),
        Some(tls) => {
            stream.set_read_timeout(Some(crate::tls::HANDSHAKE_DEADLINE))?;
            stream.set_write_timeout(Some(crate::tls::HANDSHAKE_DEADLINE))?;
            Link::Tls(Box::new(tls.connect(stream, addr)?))
        }
    };
    let tcp = match &stream {
        Link::Plain(s) => s,
        Link::Tls(s) => &s.sock,
    };
    // Short reads, so that a leader that stops answering is noticed when another is elected.
    tcp.set_read_timeout(Some(Duration::from_millis(100)))?;
    tcp.set_write_timeout(Some(Duration::from_secs(10)))?;
    Ok(Upstream {
        addr: addr.to_string(),
        leader,
        stream,
        buf: Vec::new(),
        db: 0,
        resp3: false,
        creds: None,
        multi: false,
        watching: false,
        dirty: false,
        queued_db: None,
    })
}

fn push_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Reads one reply (and any push messages before it) from the leader; appends its bytes to
/// `out` if given, and returns the reply's type byte (`+`, `-`, ...). Waits until `give_up`
/// says so: a blocking command may take long.
fn read_reply(
    up: &mut Upstream,
    give_up: &dyn Fn() -> bool,
    mut out: Option<&mut Vec<u8>>,
) -> io::Result<u8> {
    let mut limits = Limits::new();
    limits.max_bulk_len = usize::MAX;
    limits.max_array_len = usize::MAX;
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if !up.buf.is_empty() {
            match kvproto::decode_frame(&up.buf, &limits) {
                Ok(Status::Complete((frame, used))) => {
                    let push = matches!(frame, kvproto::Frame::Push(_));
                    let kind = up.buf[0];
                    if let Some(o) = out.as_deref_mut() {
                        o.extend_from_slice(&up.buf[..used]);
                    }
                    up.buf.drain(..used);
                    if !push {
                        return Ok(kind);
                    }
                    continue;
                }
                Ok(Status::Incomplete) => {}
                Err(e) => return Err(io::Error::other(e.to_string())),
            }
        }
        match up.stream.read(&mut chunk) {
            Ok(0) => return Err(io::Error::other("the leader closed the connection")),
            Ok(n) => up.buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if give_up() {
                    return Err(io::Error::other(
                        "no answer from the leader (another leads, or the client left)",
                    ));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// `INFO raft`.
pub(crate) fn info(node: &kvraft::RaftNode, out: &mut String) {
    use std::fmt::Write as _;
    let st = node.status();
    let _ = write!(
        out,
        "raft_node_id:{}\r\nraft_role:{}\r\nraft_serving:{}\r\nraft_term:{}\r\nraft_leader_id:{}\r\n\
         raft_commit_index:{}\r\nraft_applied_index:{}\r\nraft_first_index:{}\r\nraft_last_index:{}\r\n\
         raft_committed_offset:{}\r\nraft_read_tickets:{}\r\nraft_read_rounds:{}\r\n\
         raft_snapshots_sent:{}\r\nraft_snapshots_send_failed:{}\r\nraft_snapshots_received:{}\r\n\
         raft_log_syncs:{}\r\nraft_members:{}\r\n",
        st.id,
        st.role.name(),
        u8::from(st.serving),
        st.term,
        st.leader,
        st.commit,
        st.applied,
        st.first_index,
        st.last_index,
        st.committed_offset,
        st.read_tickets,
        st.read_rounds,
        st.snapshots_sent,
        st.snapshots_send_failed,
        st.snapshots_received,
        st.log_syncs,
        st.peers.len(),
    );
    for p in &st.peers {
        let _ = write!(
            out,
            "raft_member{}:addr={},voter={},match={}\r\n",
            p.id,
            p.addr,
            u8::from(p.voter),
            p.matched
        );
    }
}
