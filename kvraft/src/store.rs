//! `ReplicatedStore`: a Raft group's store as a [`kvcore::Store`] (and every other store
//! trait), for a program that embeds a node.

use std::sync::Arc;

use kvcore::{Db, Delegate, Unsettled};

use crate::error::Error;
use crate::node::RaftNode;

/// One database of a Raft group's store, seen through one node: every kvcore store trait
/// ([`Store`](kvcore::Store), [`ListStore`](kvcore::ListStore), ...), each call run through
/// [`RaftNode::run`].
///
/// On the leader a call returns once everything it changed or read is committed by a
/// majority and the leadership is confirmed: a write is durable on a majority and applied, a
/// read is linearizable. Elsewhere every call, a read as well, is refused with
/// [`kvcore::Error::Unavailable`] naming the leader (its ID, and in `retry_at` the address
/// its clients connect to) when this node knows one; nothing runs. A follower never answers
/// from its own copy, which may lack writes already acknowledged.
///
/// If the node stops leading, or no commit comes within the settle timeout, after a call ran,
/// the call also gets `Unavailable` (its reason says so): a write's outcome is then unknown
/// (it may or may not survive on the next leader), as with any replicated store whose
/// acknowledgement was lost.
///
/// Each call is one round through Raft: for several operations that must happen together,
/// or many small ones, use [`RaftNode::run`] with a closure, or a transaction in it.
#[derive(Clone, Debug)]
pub struct ReplicatedStore {
    node: Arc<RaftNode>,
    db: usize,
}

impl ReplicatedStore {
    /// Database 0 of `node`'s group.
    pub fn new(node: Arc<RaftNode>) -> ReplicatedStore {
        ReplicatedStore { node, db: 0 }
    }

    /// Database `db` of the same group (a bad index is refused by each call, with
    /// [`kvcore::Error::DbIndexOutOfRange`]).
    pub fn select(&self, db: usize) -> ReplicatedStore {
        ReplicatedStore {
            node: Arc::clone(&self.node),
            db,
        }
    }

    /// The node the calls go through.
    pub fn node(&self) -> &Arc<RaftNode> {
        &self.node
    }

    /// The refusal for a call made on a node that does not serve.
    fn not_leader(&self) -> kvcore::Error {
        let me = self.node.id();
        let leader = self.node.leader();
        let retry_at = (leader != 0 && leader != me)
            .then(|| self.node.client_addr(leader))
            .flatten();
        let reason = match (leader, &retry_at) {
            (0, _) => format!("raft node {me} knows no leader; retry later"),
            (l, _) if l == me => {
                format!("raft node {me} was elected and is still applying its log; retry later")
            }
            (l, Some(addr)) => {
                format!("raft node {me} is not the leader; node {l} leads, at {addr}")
            }
            (l, None) => format!("raft node {me} is not the leader; node {l} leads"),
        };
        kvcore::Error::Unavailable { reason, retry_at }
    }
}

impl Delegate for ReplicatedStore {
    fn delegate<R>(&self, op: impl FnOnce(&Db) -> kvcore::Result<R>) -> kvcore::Result<R> {
        let me = self.node.id();
        match self.node.run(|kv| kv.db(self.db).and_then(|db| op(&db))) {
            Ok(out) => out,
            Err(Error::NotLeader) => Err(self.not_leader()),
            Err(Error::Unsettled(why)) => {
                let why = match why {
                    Unsettled::LostLeadership => "stopped leading",
                    Unsettled::TimedOut => "saw no commit within the settle timeout",
                };
                Err(kvcore::Error::Unavailable {
                    reason: format!(
                        "raft node {me} {why} after the call ran: a write's outcome is unknown"
                    ),
                    retry_at: None,
                })
            }
            // `run` refuses with the two above only; anything else is not this call's doing.
            Err(other) => Err(kvcore::Error::Unavailable {
                reason: format!("raft node {me}: {other}"),
                retry_at: None,
            }),
        }
    }
}
