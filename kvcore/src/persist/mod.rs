//! Durability: the write-ahead log, snapshots and the file-system seam beneath them.
//!
//! `api` is the public face (`Kv::open`, SAVE/BGSAVE, INFO, `check_data_dir`) and `options`
//! its settings (`PersistOptions`); `engine` is
//! what a persistent store carries; `wal` and `snapshot` are the two file formats
//! (docs/format.md), written through the `fs` seam.

mod api;
mod apply;
mod convert;
mod engine;
mod error;
mod frame;
mod fs;
mod options;
mod record;
mod snapshot;
mod wal;

pub use api::{
    CheckReport, LogProblem, PersistenceInfo, PersistenceTask, RecoveryInfo, SaveInfo,
    SnapshotCheck, check_data_dir,
};
pub(crate) use engine::{Logged, Persist};
pub use options::PersistOptions;
pub use wal::SyncMode;

#[cfg(test)]
mod tests;
