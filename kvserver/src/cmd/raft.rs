//! RAFT: the Raft mode's administration (`--raft-id`): membership changes through raft-rs's
//! configuration change, leader transfer, and where the leader is.

use kvproto::Request;

use super::ctx::{CmdResult, Ctx, int_arg, is};
use super::error::{CmdError, SYNTAX};
use super::spec::{Group, a};
use super::table::Command;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("raft", -2, "admin noscript stale loading", raft)
        .doc(Group::Server, "kv", "Change the Raft group's members or leader, or ask where the leader is (kv's Raft mode).")
        .complexity("O(1)")
        .args(&[a("subcommand", "string"), a("arg", "string").flags("optional multiple")]),
];

const NOT_RAFT: &str =
    "ERR this server is not in raft mode (start it with --raft-id and --raft-peers)";

/// RAFT ADD-NODE id host:port | ADD-LEARNER id host:port | REMOVE-NODE id |
/// TRANSFER-LEADER id | LEADER.
fn raft(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let shared = std::sync::Arc::clone(&ctx.s.shared);
    let node = shared.raft.get().ok_or(CmdError::Msg(NOT_RAFT))?;
    let sub = req.arg(1);
    let id = |i: usize| -> Result<u64, CmdError> {
        let v = int_arg(req.arg(i))?;
        u64::try_from(v)
            .ok()
            .filter(|&v| v > 0)
            .ok_or(CmdError::Msg("ERR the node ID must be a positive integer"))
    };
    if is(sub, "leader") && req.len() == 2 {
        let leader = node.leader();
        let addr = if leader == node.id() {
            Some(shared.local_addr.to_string())
        } else {
            node.client_addr(leader)
        };
        let mut w = ctx.w();
        match (leader, addr) {
            (0, _) | (_, None) => w.null(),
            (id, Some(addr)) => {
                w.array_len(2);
                w.integer(id as i64);
                w.bulk(addr.as_bytes());
            }
        }
        return Ok(());
    }
    let done = if (is(sub, "add-node") || is(sub, "add-learner")) && req.len() == 4 {
        let addr = std::str::from_utf8(req.arg(3))
            .map_err(|_| CmdError::Msg("ERR the address must be host:port"))?;
        if addr
            .rsplit_once(':')
            .is_none_or(|(_, p)| p.parse::<u16>().is_err())
        {
            return Err(CmdError::Msg("ERR the address must be host:port"));
        }
        if is(sub, "add-node") {
            node.add_node(id(2)?, addr)
        } else {
            node.add_learner(id(2)?, addr)
        }
    } else if is(sub, "remove-node") && req.len() == 3 {
        node.remove_node(id(2)?)
    } else if is(sub, "transfer-leader") && req.len() == 3 {
        node.transfer_leader(id(2)?)
    } else {
        return Err(SYNTAX);
    };
    done.map_err(|e| CmdError::Text(format!("ERR {e}")))?;
    ctx.ok()
}
