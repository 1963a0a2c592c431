//! CLUSTER (every subcommand Redis 7.0 has), READONLY, READWRITE and ASKING: kv has no cluster
//! mode (the Raft mode is unrelated), and these exist only to answer as a standalone
//! redis-server 7.0 (`cluster-enabled no`) does. Clients and tools probe them (CLUSTER INFO,
//! a cluster-aware client's READONLY) to tell a standalone server from a cluster node, so each
//! has Redis's table entry (arity, flags, ACL categories, COMMAND DOCS) and, once the
//! dispatcher's arity, subcommand, auth and ACL checks pass, Redis's one error. CLUSTER HELP
//! too: Redis's handler refuses before it reads which subcommand it got. The entries are
//! redis-server 7.0.15's COMMAND INFO and DOCS, summaries included (`tests/e2e/cluster.txt`).

use kvproto::Request;

use super::ctx::{CmdResult, Ctx};
use super::error::CmdError;
use super::spec::{Group, a};
use super::table::{Command, run_subcommand};

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("asking", 1, "fast", disabled)
        .acl("@connection")
        .doc(Group::Cluster, "3.0.0", "Sent by cluster clients after an -ASK redirect")
        .complexity("O(1)"),
    Command::new("cluster", -2, "", run_subcommand)
        .doc(Group::Cluster, "3.0.0", "A container for cluster commands")
        .complexity("Depends on subcommand.")
        .subcommands(SUBCOMMANDS),
    Command::new("readonly", 1, "loading stale fast", disabled)
        .acl("@connection")
        .doc(Group::Cluster, "3.0.0", "Enables read queries for a connection to a cluster replica node")
        .complexity("O(1)"),
    Command::new("readwrite", 1, "loading stale fast", disabled)
        .acl("@connection")
        .doc(Group::Cluster, "3.0.0", "Disables read queries for a connection to a cluster replica node")
        .complexity("O(1)"),
];

#[rustfmt::skip]
static SUBCOMMANDS: &[Command] = &[
    Command::new("cluster|addslots", -3, "admin stale no_async_loading", disabled)
        .doc(Group::Cluster, "3.0.0", "Assign new hash slots to receiving node")
        .complexity("O(N) where N is the total number of hash slot arguments")
        .args(&[a("slot", "integer").flags("multiple")]),
    Command::new("cluster|addslotsrange", -4, "admin stale no_async_loading", disabled)
        .doc(Group::Cluster, "7.0.0", "Assign new hash slots to receiving node")
        .complexity("O(N) where N is the total number of the slots between the start slot and end slot arguments.")
        .args(&[
            a("start-slot_end-slot", "block").flags("multiple").args(&[
                a("start-slot", "integer"),
                a("end-slot", "integer"),
            ]),
        ]),
    Command::new("cluster|bumpepoch", 2, "admin stale no_async_loading", disabled)
        .tips(&["nondeterministic_output"])
        .doc(Group::Cluster, "3.0.0", "Advance the cluster config epoch")
        .complexity("O(1)"),
    Command::new("cluster|count-failure-reports", 3, "admin stale", disabled)
        .tips(&["nondeterministic_output"])
        .doc(Group::Cluster, "3.0.0", "Return the number of failure reports active for a given node")
        .complexity("O(N) where N is the number of failure reports")
        .args(&[a("node-id", "string")]),
    Command::new("cluster|countkeysinslot", 3, "stale", disabled)
        .doc(Group::Cluster, "3.0.0", "Return the number of local keys in the specified hash slot")
        .complexity("O(1)")
        .args(&[a("slot", "integer")]),
    Command::new("cluster|delslots", -3, "admin stale no_async_loading", disabled)
        .doc(Group::Cluster, "3.0.0", "Set hash slots as unbound in receiving node")
        .complexity("O(N) where N is the total number of hash slot arguments")
        .args(&[a("slot", "integer").flags("multiple")]),
    Command::new("cluster|delslotsrange", -4, "admin stale no_async_loading", disabled)
        .doc(Group::Cluster, "7.0.0", "Set hash slots as unbound in receiving node")
        .complexity("O(N) where N is the total number of the slots between the start slot and end slot arguments.")
        .args(&[
            a("start-slot_end-slot", "block").flags("multiple").args(&[
                a("start-slot", "integer"),
                a("end-slot", "integer"),
            ]),
        ]),
    Command::new("cluster|failover", -2, "admin stale no_async_loading", disabled)
        .doc(Group::Cluster, "3.0.0", "Forces a replica to perform a manual failover of its master.")
        .complexity("O(1)")
        .args(&[
            a("options", "oneof").flags("optional").args(&[
                a("force", "pure-token").token("FORCE"),
                a("takeover", "pure-token").token("TAKEOVER"),
            ]),
        ]),
    Command::new("cluster|flushslots", 2, "admin stale no_async_loading", disabled)
        .doc(Group::Cluster, "3.0.0", "Delete a node's own slots information")
        .complexity("O(1)"),
    Command::new("cluster|forget", 3, "admin stale no_async_loading", disabled)
        .doc(Group::Cluster, "3.0.0", "Remove a node from the nodes table")
        .complexity("O(1)")
        .args(&[a("node-id", "string")]),
    Command::new("cluster|getkeysinslot", 4, "stale", disabled)
        .tips(&["nondeterministic_output"])
        .doc(Group::Cluster, "3.0.0", "Return local key names in the specified hash slot")
        .complexity("O(log(N)) where N is the number of requested keys")
        .args(&[
            a("slot", "integer"),
            a("count", "integer"),
        ]),
    Command::new("cluster|help", 2, "loading stale", disabled)
        .doc(Group::Cluster, "5.0.0", "Show helpful text about the different subcommands")
        .complexity("O(1)"),
    Command::new("cluster|info", 2, "stale", disabled)
        .tips(&["nondeterministic_output"])
        .doc(Group::Cluster, "3.0.0", "Provides info about Redis Cluster node state")
        .complexity("O(1)"),
    Command::new("cluster|keyslot", 3, "stale", disabled)
        .doc(Group::Cluster, "3.0.0", "Returns the hash slot of the specified key")
        .complexity("O(N) where N is the number of bytes in the key")
        .args(&[a("key", "string")]),
    Command::new("cluster|links", 2, "stale", disabled)
        .tips(&["nondeterministic_output"])
        .doc(Group::Cluster, "7.0.0", "Returns a list of all TCP links to and from peer nodes in cluster")
        .complexity("O(N) where N is the total number of Cluster nodes"),
    Command::new("cluster|meet", -4, "admin stale no_async_loading", disabled)
        .doc(Group::Cluster, "3.0.0", "Force a node cluster to handshake with another node")
        .complexity("O(1)")
        .history(&[("4.0.0", "Added the optional `cluster_bus_port` argument.")])
        .args(&[
            a("ip", "string"),
            a("port", "integer"),
            a("cluster_bus_port", "integer").since("4.0.0").flags("optional"),
        ]),
    Command::new("cluster|myid", 2, "stale", disabled)
        .doc(Group::Cluster, "3.0.0", "Return the node id")
        .complexity("O(1)"),
    Command::new("cluster|nodes", 2, "stale", disabled)
        .tips(&["nondeterministic_output"])
        .doc(Group::Cluster, "3.0.0", "Get Cluster config for the node")
        .complexity("O(N) where N is the total number of Cluster nodes"),
    Command::new("cluster|replicas", 3, "admin stale", disabled)
        .tips(&["nondeterministic_output"])
        .doc(Group::Cluster, "5.0.0", "List replica nodes of the specified master node")
        .complexity("O(1)")
        .args(&[a("node-id", "string")]),
    Command::new("cluster|replicate", 3, "admin stale no_async_loading", disabled)
        .doc(Group::Cluster, "3.0.0", "Reconfigure a node as a replica of the specified master node")
        .complexity("O(1)")
        .args(&[a("node-id", "string")]),
    Command::new("cluster|reset", -2, "admin noscript stale", disabled)
        .doc(Group::Cluster, "3.0.0", "Reset a Redis Cluster node")
        .complexity("O(N) where N is the number of known nodes. The command may execute a FLUSHALL as a side effect.")
        .args(&[
            a("hard_soft", "oneof").flags("optional").args(&[
                a("hard", "pure-token").token("HARD"),
                a("soft", "pure-token").token("SOFT"),
            ]),
        ]),
    Command::new("cluster|saveconfig", 2, "admin stale no_async_loading", disabled)
        .doc(Group::Cluster, "3.0.0", "Forces the node to save cluster state on disk")
        .complexity("O(1)"),
    Command::new("cluster|set-config-epoch", 3, "admin stale no_async_loading", disabled)
        .doc(Group::Cluster, "3.0.0", "Set the configuration epoch in a new node")
        .complexity("O(1)")
        .args(&[a("config-epoch", "integer")]),
    Command::new("cluster|setslot", -4, "admin stale no_async_loading", disabled)
        .doc(Group::Cluster, "3.0.0", "Bind a hash slot to a specific node")
        .complexity("O(1)")
        .args(&[
            a("slot", "integer"),
            a("subcommand", "oneof").args(&[
                a("node-id", "string").token("IMPORTING"),
                a("node-id", "string").token("MIGRATING"),
                a("node-id", "string").token("NODE"),
                a("stable", "pure-token").token("STABLE"),
            ]),
        ]),
    Command::new("cluster|shards", 2, "stale", disabled)
        .tips(&["nondeterministic_output"])
        .doc(Group::Cluster, "7.0.0", "Get array of cluster slots to node mappings")
        .complexity("O(N) where N is the total number of cluster nodes"),
    Command::new("cluster|slaves", 3, "admin stale", disabled)
        .tips(&["nondeterministic_output"])
        .doc(Group::Cluster, "3.0.0", "List replica nodes of the specified master node")
        .complexity("O(1)")
        .deprecated("5.0.0", "`CLUSTER REPLICAS`")
        .args(&[a("node-id", "string")]),
    Command::new("cluster|slots", 2, "stale", disabled)
        .tips(&["nondeterministic_output"])
        .doc(Group::Cluster, "3.0.0", "Get array of Cluster slot to node mappings")
        .complexity("O(N) where N is the total number of Cluster nodes")
        .deprecated("7.0.0", "`CLUSTER SHARDS`")
        .history(&[("4.0.0", "Added node IDs."), ("7.0.0", "Added additional networking metadata field.")]),
];

/// What redis-server answers to every cluster command when `cluster-enabled` is `no`.
const DISABLED: CmdError = CmdError::Msg("ERR This instance has cluster support disabled");

fn disabled(_ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    Err(DISABLED)
}
