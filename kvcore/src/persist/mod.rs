//! Durability: the write-ahead log, snapshots and the file-system seam beneath them.
//!
//! `api` is the public face (`Kv::open`, SAVE/BGSAVE, INFO, `check_data_dir`); `engine` is
//! what a persistent store carries; `wal` and `snapshot` are the two file formats
//! (docs/format.md), written through the `fs` seam.

mod api;
mod apply;
mod convert;
mod engine;
mod error;
mod frame;
mod fs;
mod record;
mod snapshot;
mod wal;

pub use api::{
    CheckReport, Deferred, LogProblem, PersistenceInfo, PersistenceTask, RecoveryInfo, SaveInfo,
    SnapshotCheck, check_data_dir,
};
pub(crate) use engine::{Config, Persist};
pub use wal::SyncMode;

#[cfg(test)]
mod tests;
