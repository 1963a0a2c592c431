//! A kvcore store replicated by Raft (raft-rs): a group of 3 or 5 nodes keeps one log, every
//! write is acknowledged once a majority has it durably, and reads are linearizable.
//!
//! The design is in ARCHITECTURE.md, *kvraft*.

#![warn(missing_docs)]

mod driver;
mod error;
mod logger;
mod machine;
mod node;
mod storage;
mod transport;

pub use error::{Error, Result};
pub use node::{PeerStatus, RaftNode, RaftOptions, Role, Route, Serve, Status, Unsettled};
pub use storage::{LogOptions, LogStore};
pub use transport::{LinkSecurity, LinkStream};

#[cfg(test)]
mod group_tests;
