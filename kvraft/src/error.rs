//! The crate's error type.

/// What can go wrong in the replicated store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error, with what was being done.
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    /// raft-rs refused something.
    #[error("raft: {0}")]
    Raft(#[from] raft::Error),
    /// The store refused something (loading a snapshot, applying the log).
    #[error("store: {0}")]
    Store(#[from] kvcore::Error),
    /// Damaged or unexpected data, saying what and where.
    #[error("{0}")]
    Corrupt(String),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;
