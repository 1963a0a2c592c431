//! A kvcore store replicated by Raft (raft-rs): a group of 3 or 5 nodes keeps one log, every
//! write is acknowledged once a majority has it durably, and reads are linearizable.
//!
//! The design is in ARCHITECTURE.md, *kvraft*.
//!
//! # Embedding a replicated store
//!
//! A program starts its node of the group over an empty in-memory [`kvcore::Kv`] and uses a
//! [`ReplicatedStore`] wherever a [`kvcore::Store`] (or any other kvcore store trait) will
//! do. On the leader each call returns once it is committed by a majority and applied, and a
//! read is linearizable; on a follower every call is refused with
//! [`kvcore::Error::Unavailable`], which names the leader and where its clients connect.
//!
//! ```no_run
//! use std::sync::Arc;
//! use kvcore::{Kv, Options, Store};
//! use kvraft::{RaftNode, RaftOptions, ReplicatedStore};
//!
//! fn count_visit(store: &impl Store) -> kvcore::Result<i64> {
//!     store.incr("visits")
//! }
//!
//! // Node 1 of three; the other two run the same with their own IDs.
//! let peers = vec![
//!     (1, "10.0.0.1:7001".to_string()),
//!     (2, "10.0.0.2:7001".to_string()),
//!     (3, "10.0.0.3:7001".to_string()),
//! ];
//! let opts = RaftOptions::new(1, peers, "/var/lib/app/raft");
//! let node = Arc::new(RaftNode::start(Kv::in_memory(Options::default()), opts)?);
//! let store = ReplicatedStore::new(Arc::clone(&node));
//! match count_visit(&store) {
//!     Ok(n) => println!("visit {n}, on a majority"),
//!     Err(kvcore::Error::Unavailable { reason, retry_at }) => {
//!         println!("not here ({reason}); the leader's clients connect to {retry_at:?}")
//!     }
//!     Err(e) => return Err(e.into()),
//! }
//! # Ok::<(), kvraft::Error>(())
//! ```

#![warn(missing_docs)]

mod batch;
mod driver;
mod error;
mod logger;
mod machine;
mod node;
mod secret;
mod storage;
mod store;
mod transport;

pub use error::{Error, Result};
pub use kvcore::{Coordinator, Forward, Permit, Refused, Route, Unsettled};
pub use node::{PeerStatus, RaftNode, RaftOptions, Role, Status};
pub use secret::SecretLinks;
pub use storage::{LogOptions, LogStore, MappedSnapshot, SnapshotReader};
pub use store::ReplicatedStore;
pub use transport::{LinkSecurity, LinkStream};

#[cfg(test)]
mod group_tests;
#[cfg(test)]
#[path = "../../tests/ports.rs"]
mod ports;
#[cfg(test)]
mod store_tests;
