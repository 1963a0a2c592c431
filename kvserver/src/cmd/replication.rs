//! The primary's replication commands: SYNC, PSYNC and REPLCONF (a replica's handshake, after
//! which its connection becomes a stream feeder: `kvserver/src/repl/`), WAIT and ROLE.

use std::time::Duration;

use kvproto::Request;

use super::ctx::{CmdResult, Ctx, int_arg, is};
use super::error::{CmdError, SYNTAX};
use super::spec::{Group, a};
use super::table::Command;
use crate::repl::Start;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("sync", 1, "admin noscript no_async_loading no_multi", sync)
        .doc(Group::Server, "1.0.0", "An internal command used in replication."),
    Command::new("psync", -3, "admin noscript no_async_loading no_multi", psync)
        .doc(Group::Server, "2.8.0", "An internal command used in replication.")
        .args(&[a("replicationid", "string"), a("offset", "integer")]),
    Command::new("replconf", -1, "admin noscript loading stale allow_busy", replconf)
        .doc(Group::Server, "3.0.0", "An internal command for configuring the replication stream.")
        .complexity("O(1)"),
    Command::new("wait", 3, "noscript", wait)
        .acl("@connection").tips(&["request_policy:all_shards", "response_policy:agg_min"])
        .doc(Group::Generic, "3.0.0", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.")
        .complexity("O(1)")
        .args(&[a("numreplicas", "integer"), a("timeout", "integer")]),
    Command::new("failover", -1, "admin noscript stale", failover)
        .doc(Group::Server, "6.2.0", "Start a coordinated failover between this server and one of its replicas.")
        .complexity("O(1)")
        .args(&[
            a("target", "block").token("TO").flags("optional").args(&[
                a("host", "string"),
                a("port", "integer"),
                a("force", "pure-token").token("FORCE").flags("optional"),
            ]),
            a("abort", "pure-token").token("ABORT").flags("optional"),
            a("milliseconds", "integer").token("TIMEOUT").flags("optional"),
        ]),
    Command::new("role", 1, "noscript loading stale fast", role)
        .acl("@admin @dangerous")
        .doc(Group::Server, "2.8.12", "Return the role of the instance in the context of replication")
        .complexity("O(1)"),
];

/// SYNC: the old protocol's full sync (the RDB without `+FULLRESYNC`).
fn sync(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    if ctx.s.shared.coordinator.get().is_some() {
        return Err(CmdError::Msg(crate::raft::NO_REPLICATION));
    }
    if ctx.s.shared.repl.is_replica(ctx.s.handle.id) {
        return Ok(());
    }
    link_up(ctx)?;
    start(ctx, Start::Full { psync: false })
}

/// PSYNC replid offset: `+CONTINUE` if the backlog holds `offset` of that history, else a
/// full resync (`PSYNC ? -1` asks for one).
fn psync(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    if ctx.s.shared.coordinator.get().is_some() {
        return Err(CmdError::Msg(crate::raft::NO_REPLICATION));
    }
    if ctx.s.shared.repl.is_replica(ctx.s.handle.id) {
        return Ok(());
    }
    // PSYNC <my replid> <offset> FAILOVER from this replica's own primary: take over.
    if req.len() > 3 && is(req.arg(3), "failover") {
        crate::log::warning!(
            "Failover request received for replid {}.",
            String::from_utf8_lossy(req.arg(1))
        );
        let shared = std::sync::Arc::clone(&ctx.s.shared);
        if !shared.replica.enabled() {
            return Err(CmdError::Msg(
                "ERR PSYNC FAILOVER can't be sent to a master.",
            ));
        }
        if req.arg(1) != shared.kv.replication().replid().as_bytes() {
            return Err(CmdError::Msg(
                "ERR PSYNC FAILOVER replid must match my replid.",
            ));
        }
        let from = format!("failover request from {}", ctx.s.handle.addr);
        crate::replica::promote(&shared, &from);
    }
    link_up(ctx)?;
    let shared = &ctx.s.shared;
    let repl = shared.kv.replication();
    let replid = String::from_utf8_lossy(req.arg(1));
    let reader = match int_arg(req.arg(2)) {
        Ok(off) if off > 0 && replid != "?" => repl.continue_from(&replid, off as u64),
        _ => None,
    };
    match reader {
        Some(r) => start(ctx, Start::Continue(r)),
        None => {
            if replid != "?" {
                shared
                    .repl
                    .sync_partial_err
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            start(ctx, Start::Full { psync: true })
        }
    }
}

/// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms], parsed and checked as Redis 7.0's
/// `failoverCommand` (`kvserver/src/repl/failover.rs` does the rest).
fn failover(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    if ctx.s.shared.coordinator.get().is_some() {
        return Err(CmdError::Msg(crate::raft::NO_REPLICATION));
    }
    let shared = std::sync::Arc::clone(&ctx.s.shared);
    if req.len() == 2 && is(req.arg(1), "abort") {
        if !crate::repl::failover::abort_by_hand(&shared) {
            return Err(CmdError::Msg("ERR No failover in progress."));
        }
        return ctx.ok();
    }
    let mut timeout = 0i64;
    let mut force = false;
    let mut to = None;
    let mut j = 1;
    while j < req.len() {
        let arg = req.arg(j);
        if is(arg, "timeout") && j + 1 < req.len() && timeout == 0 {
            timeout = int_arg(req.arg(j + 1))?;
            if timeout <= 0 {
                return Err(CmdError::Msg("ERR FAILOVER timeout must be greater than 0"));
            }
            j += 2;
        } else if is(arg, "to") && j + 2 < req.len() && to.is_none() {
            let port = int_arg(req.arg(j + 2))?;
            let host = String::from_utf8_lossy(req.arg(j + 1)).into_owned();
            to = Some((host, port));
            j += 3;
        } else if is(arg, "force") && !force {
            force = true;
            j += 1;
        } else {
            return Err(SYNTAX);
        }
    }
    // A port no replica can have matches none, as Redis's lookup finds none.
    let to = to.map(|(host, port)| (host, u16::try_from(port).unwrap_or(0)));
    let request = crate::repl::failover::Request {
        to,
        timeout: (timeout > 0).then(|| Duration::from_millis(timeout as u64)),
        force,
    };
    crate::repl::failover::start(&shared, request).map_err(CmdError::Msg)?;
    ctx.ok()
}

/// A replica serves replicas of its own (chained replication) only while its link is up; a
/// primary in a failover serves none.
fn link_up(ctx: &Ctx<'_>) -> CmdResult {
    if crate::repl::failover::phase_of(&ctx.s.shared) {
        return Err(CmdError::Msg("NOMASTERLINK Can't SYNC while failing over"));
    }
    let replica = &ctx.s.shared.replica;
    if replica.enabled() && !replica.connected() {
        return Err(CmdError::Msg(
            "NOMASTERLINK Can't SYNC while not connected with my master",
        ));
    }
    Ok(())
}

/// The connection's loop hands the socket to the feeder once this batch's replies are out
/// (SYNC and PSYNC ignore a connection that is a replica already, as Redis's `syncCommand`).
fn start(ctx: &mut Ctx<'_>, start: Start) -> CmdResult {
    ctx.s.replica_start = Some(start);
    Ok(())
}

/// REPLCONF option value ...: listening-port, ip-address, capa, ack, getack.
fn replconf(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    if req.len().is_multiple_of(2) {
        return Err(SYNTAX);
    }
    let mut i = 1;
    while i < req.len() {
        let (opt, value) = (req.arg(i), req.arg(i + 1));
        if is(opt, "listening-port") {
            let port = int_arg(value)?;
            ctx.s.handshake.listening_port = u16::try_from(port).unwrap_or(0);
        } else if is(opt, "ip-address") {
            ctx.s.handshake.ip_address = Some(String::from_utf8_lossy(value).into_owned());
        } else if is(opt, "capa") {
            if is(value, "eof") {
                ctx.s.handshake.capa_eof = true;
            }
        } else if is(opt, "ack") || is(opt, "getack") {
            // Only a replica's stream carries these; a client gets no reply, as in Redis.
            return Ok(());
        } else if is(opt, "rdb-only") || is(opt, "rdb-filter-only") {
            // Accepted (redis-cli --rdb sends them); kv streams the whole dataset.
        } else {
            return Err(CmdError::Text(format!(
                "ERR Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(opt)
            )));
        }
        i += 2;
    }
    ctx.ok()
}

/// WAIT numreplicas timeout: blocks until that many replicas acknowledged everything written
/// so far, or the timeout (ms, 0: forever) passes; replies how many did.
fn wait(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let want = int_arg(req.arg(1))?;
    let timeout = int_arg(req.arg(2))
        .map_err(|_| CmdError::Msg("ERR timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(CmdError::Msg("ERR timeout is negative"));
    }
    if ctx.s.shared.repl.is_replica(ctx.s.handle.id) {
        return Err(CmdError::Msg(
            "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.",
        ));
    }
    // The writes of this batch so far must be in the stream before the offset is read: they
    // are (journaled under their locks), though not yet acknowledged to this client.
    let shared = std::sync::Arc::clone(&ctx.s.shared);
    let offset = shared.kv.replication().offset();
    let timeout = (timeout > 0).then(|| Duration::from_millis(timeout as u64));
    let want = usize::try_from(want).unwrap_or(0);
    // Inside a transaction WAIT cannot block: it counts what is acknowledged.
    let timeout = if ctx.s.in_exec() {
        Some(Duration::ZERO)
    } else {
        timeout
    };
    let (got, unblocked) = shared
        .repl
        .wait(&shared.kv, &ctx.s.handle, offset, want, timeout);
    if let Some(how) = unblocked {
        // CLIENT UNBLOCK: TIMEOUT answers the count so far, as a timeout does.
        super::blocking::unblocked(ctx, how)?;
    }
    ctx.int(got as i64)
}

/// ROLE: on a replica `slave`, its primary's host and port, the link's state and the offset
/// applied; on a primary `master`, the replication offset, and each online replica's ip,
/// port and offset.
fn role(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let shared = std::sync::Arc::clone(&ctx.s.shared);
    if let Some(node) = shared.raft.get() {
        // The Raft mode in Redis's shapes: the leader as a master with its members, a
        // follower as a replica of the leader's client address.
        let st = node.status();
        let mut w = ctx.w();
        if st.serving {
            let members: Vec<_> = st.peers.iter().filter(|p| p.id != st.id).collect();
            w.array_len(3);
            w.bulk(b"master");
            w.integer(st.committed_offset as i64);
            w.array_len(members.len());
            for p in members {
                let client = node.client_addr(p.id).unwrap_or_default();
                let (host, port) = client.rsplit_once(':').unwrap_or(("", "0"));
                w.array_len(3);
                w.bulk(host.as_bytes());
                w.bulk(port.as_bytes());
                w.bulk(p.matched.to_string().as_bytes());
            }
        } else {
            let leader = node.client_addr(st.leader).filter(|_| st.leader != 0);
            let (host, port, state) = match &leader {
                Some(a) => {
                    let (h, p) = a.rsplit_once(':').unwrap_or((a.as_str(), "0"));
                    (h.to_string(), p.parse::<i64>().unwrap_or(0), "connected")
                }
                None => ("?".to_string(), 0, "connect"),
            };
            w.array_len(5);
            w.bulk(b"slave");
            w.bulk(host.as_bytes());
            w.integer(port);
            w.bulk(state.as_bytes());
            w.integer(st.committed_offset as i64);
        }
        return Ok(());
    }
    if let Some((host, port, state, offset)) = crate::replica::role(&shared) {
        let mut w = ctx.w();
        w.array_len(5);
        w.bulk(b"slave");
        w.bulk(host.as_bytes());
        w.integer(i64::from(port));
        w.bulk(state.as_bytes());
        w.integer(offset);
        return Ok(());
    }
    let replicas = shared.repl.role();
    let offset = shared.kv.replication().offset();
    let mut w = ctx.w();
    w.array_len(3);
    w.bulk(b"master");
    w.integer(offset as i64);
    w.array_len(replicas.len());
    for (ip, port, off) in replicas {
        w.array_len(3);
        w.bulk(ip.as_bytes());
        w.bulk(port.to_string().as_bytes());
        w.bulk(off.to_string().as_bytes());
    }
    Ok(())
}
