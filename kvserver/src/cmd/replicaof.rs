//! Replication commands of the replica side: REPLICAOF (and its old name SLAVEOF); ROLE is
//! `kvserver/src/cmd/replication.rs`.
//! The link they start and the state they report are `kvserver/src/replica/`.

use std::sync::Arc;

use kvproto::Request;

use super::ctx::{CmdResult, Ctx, is};
use super::error::CmdError;
use super::spec::{Arg, Group, a};
use super::table::Command;

static ARGS: &[Arg] = &[a("args", "oneof").args(&[
    a("host-port", "block").args(&[a("host", "string"), a("port", "integer")]),
    a("no-one", "block").args(&[
        a("no", "pure-token").token("NO"),
        a("one", "pure-token").token("ONE"),
    ]),
])];

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("replicaof", 3, "admin noscript stale no_async_loading", replicaof)
        .doc(Group::Server, "5.0.0", "Make the server a replica of another instance, or promote it as master.")
        .complexity("O(1)")
        .args(ARGS),
    Command::new("slaveof", 3, "admin noscript stale no_async_loading", replicaof)
        .doc(Group::Server, "1.0.0", "Make the server a replica of another instance, or promote it as master.")
        .complexity("O(1)")
        .deprecated("5.0.0", "`REPLICAOF`")
        .args(ARGS),
];

/// REPLICAOF host port | NO ONE.
fn replicaof(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    if ctx.s.shared.coordinator.get().is_some() {
        return Err(CmdError::Msg(crate::raft::NO_REPLICATION));
    }
    if crate::repl::failover::phase_of(&ctx.s.shared) {
        return Err(CmdError::Msg(
            "ERR REPLICAOF not allowed while failing over.",
        ));
    }
    if is(req.arg(1), "no") && is(req.arg(2), "one") {
        crate::replica::promote(&ctx.s.shared, "user request");
        return ctx.ok();
    }
    let port = kvnum::parse_i64(req.arg(2))
        .filter(|p| (0..=65535).contains(p))
        .ok_or(CmdError::Msg("ERR Invalid master port"))?;
    let host = String::from_utf8_lossy(req.arg(1)).into_owned();
    let shared = Arc::clone(&ctx.s.shared);
    if crate::replica::replicaof(&shared, &host, port as u16) {
        ctx.w().simple(b"OK Already connected to specified master");
        return Ok(());
    }
    ctx.ok()
}
