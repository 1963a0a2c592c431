//! A kvcore store replicated by Raft (raft-rs): a group of 3 or 5 nodes keeps one log, every
//! write is acknowledged once a majority has it durably, and reads are linearizable.
//!
//! The design is in ARCHITECTURE.md, *kvraft*.

#![warn(missing_docs)]

mod error;
mod storage;

pub use error::{Error, Result};
pub use storage::{LogOptions, LogStore};
