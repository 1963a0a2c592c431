//! Errors of the durability layer (mapped onto kvcore's public `Error` when wired in).

use std::io;
use std::path::Path;

/// What can go wrong while logging, snapshotting or recovering.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PersistError {
    /// A file operation failed.
    #[error("io error while {context}: {source}")]
    Io {
        /// What we were doing, naming the file.
        context: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A file is damaged in a way that must not be skipped silently.
    #[error("{file} is corrupt at offset {offset}: {reason}; {hint}")]
    Corrupt {
        /// The damaged file.
        file: String,
        /// The byte offset of the first bad byte or record.
        offset: u64,
        /// What is wrong there.
        reason: String,
        /// How to repair it.
        hint: String,
    },
    /// A record or snapshot entry is larger than a frame may hold.
    #[error("{what} of {bytes} bytes is larger than the {limit}-byte limit of one frame")]
    TooLarge {
        /// What was being framed (`a log record`, `the snapshot entry of key ...`).
        what: String,
        /// Its encoded size.
        bytes: usize,
        /// The frame limit.
        limit: usize,
    },
    /// An earlier write or fsync failed; the log refuses all further writes.
    #[error("persistence failed, writes are refused until restart: {0}")]
    Failed(String),
}

impl PersistError {
    /// Wraps an io error with what we were doing to which file.
    pub(crate) fn io(what: &str, path: &Path, source: io::Error) -> Self {
        PersistError::Io {
            context: format!("{what} {}", path.display()),
            source,
        }
    }
}

/// Results of the durability layer.
pub(crate) type Result<T, E = PersistError> = std::result::Result<T, E>;
