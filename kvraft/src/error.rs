//! The crate's one error type.

use std::path::PathBuf;

/// What can go wrong in kvraft.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file operation failed; `context` says which and on what path.
    #[error("io error while {context}: {source}")]
    Io {
        /// What was being done, naming the file or directory.
        context: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Another process (or another `LogStore` of this one) holds the directory's `LOCK`.
    #[error("raft directory {0} is in use by another log store (its LOCK file is held)")]
    Locked(PathBuf),
    /// A file on disk is damaged (not a torn tail) or does not follow the format.
    #[error("{} is damaged at offset {offset}: {reason}", file.display())]
    Corrupt {
        /// The damaged file.
        file: PathBuf,
        /// Where in it the damage starts.
        offset: u64,
        /// What is wrong there.
        reason: String,
    },
    /// An earlier write or sync of the log failed; nothing more is written until the log is
    /// reopened (a failed fsync cannot be retried safely).
    #[error("the raft log refuses writes after an earlier failed write or sync")]
    Failed,
    /// `append` was given entries that would leave a gap, overwrite compacted entries, or are
    /// not consecutive.
    #[error("cannot append entries starting at index {index}: the log holds {first}..={last}")]
    BadAppend {
        /// The first entry's index.
        index: u64,
        /// The log's first index.
        first: u64,
        /// The log's last index.
        last: u64,
    },
    /// `apply_snapshot` was given a snapshot no newer than what the store already covers.
    #[error(
        "snapshot at index {index} is out of date (the log starts at {first}, the newest snapshot is at {snapshot})"
    )]
    SnapshotOutOfDate {
        /// The snapshot's index.
        index: u64,
        /// The log's first index.
        first: u64,
        /// The newest snapshot's index.
        snapshot: u64,
    },
    /// `compact` was asked for an index that is not after the newest snapshot and in the log.
    #[error(
        "cannot compact at index {index}: the newest snapshot is at {snapshot} and the last entry at {last}"
    )]
    CompactOutOfRange {
        /// The requested index.
        index: u64,
        /// The newest snapshot's index.
        snapshot: u64,
        /// The log's last index.
        last: u64,
    },
    /// A record or snapshot is larger than its frame can say.
    #[error("a {what} of {len} bytes is too large to store")]
    TooLarge {
        /// What was being stored.
        what: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// raft-rs refused something (a proposal, a configuration change).
    #[error("raft: {0}")]
    Raft(#[from] raft::Error),
    /// The store refused something (loading a snapshot, applying the log).
    #[error("store: {0}")]
    Store(#[from] kvcore::Error),
    /// Data or a setting that does not make sense, saying what.
    #[error("{0}")]
    Invalid(String),
    /// A snapshot sent to this node would not fit on its disk (nothing was written).
    #[error(
        "a snapshot of {len} bytes does not fit in {}: {free} bytes are free, {pending} are \
         promised to transfers in progress and {reserve} are kept for the log",
        dir.display()
    )]
    NoSpace {
        /// The snapshot file's length.
        len: u64,
        /// The bytes free on the log directory's file system.
        free: u64,
        /// The bytes of other snapshot files being received.
        pending: u64,
        /// The bytes kept free for the log's own writes.
        reserve: u64,
        /// The log directory.
        dir: PathBuf,
    },
    /// A change of the group was asked of a node that does not lead it.
    #[error("this node is not the raft leader")]
    NotLeader,
    /// What ran on the leader could not be confirmed (see `RaftNode::settle`).
    #[error("the raft group did not confirm the operation: {0:?}")]
    Unsettled(kvcore::Unsettled),
}

/// kvraft's `Result`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}
