//! The one error type of kvcore.

use std::fmt;
use std::io;
use std::sync::Arc;

/// A `Result` whose error is kvcore's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a store operation can refuse.
///
/// Messages are lowercase and carry no Redis prefix; a server maps each variant to Redis's exact
/// reply (for example [`Error::WrongType`] to `WRONGTYPE Operation against a key holding the wrong
/// kind of value`).
///
/// Errors compare equal when they mean the same thing; for [`Error::Io`] that is the same
/// context and the same [`io::ErrorKind`] (see [`IoError`]'s `PartialEq`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The key holds a value of another type than the operation needs.
    #[error("operation against a key holding the wrong kind of value")]
    WrongType,
    /// The stored value (or an argument) is not a 64-bit signed integer.
    #[error("value is not an integer or out of range")]
    NotInteger,
    /// The stored value (or an argument) is not a valid float.
    #[error("value is not a valid float")]
    NotFloat,
    /// An integer increment would leave the `i64` range.
    #[error("increment or decrement would overflow")]
    Overflow,
    /// A float increment would produce NaN or an infinity.
    #[error("increment would produce nan or infinity")]
    NanOrInfinity,
    /// The source key of RENAME does not exist.
    #[error("no such key")]
    NoSuchKey,
    /// COPY was asked to copy a key onto itself.
    #[error("source and destination objects are the same")]
    SameObject,
    /// An expire time is not positive where it must be, or overflows once made absolute.
    #[error("invalid expire time")]
    InvalidExpireTime,
    /// A database index is not below [`Kv::databases`](crate::Kv::databases).
    #[error("db index is out of range")]
    DbIndexOutOfRange,
    /// LSET with an index outside the list.
    #[error("index out of range")]
    IndexOutOfRange,
    /// HINCRBY on a field whose value is not an integer.
    #[error("hash value is not an integer")]
    HashValueNotInteger,
    /// HINCRBYFLOAT on a field whose value is not a number.
    #[error("hash value is not a float")]
    HashValueNotFloat,
    /// A sorted-set score would be NaN (for example `+inf` plus `-inf`), or was given as NaN.
    #[error("resulting score is not a number (nan)")]
    ScoreNan,
    /// Options that cannot be combined, such as ZADD's NX with XX. Carries Redis's reply
    /// text without the `ERR ` prefix.
    #[error("{0}")]
    IncompatibleOptions(&'static str),
    /// A string would grow past 512 MiB (Redis's `proto-max-bulk-len`).
    #[error("string exceeds maximum allowed size")]
    StringTooLong,
    /// A persistent store refuses a write whose log record would be larger than one record
    /// may be ([`PersistOptions::max_record_bytes`](crate::PersistOptions::max_record_bytes)),
    /// before it changes anything: a write that could not be logged must not be acknowledged.
    #[error(
        "write refused: its log record would take {bytes} bytes, more than the {limit}-byte \
         limit of one record"
    )]
    RecordTooLarge {
        /// The record's size (an upper bound computed before the write).
        bytes: usize,
        /// The store's record limit.
        limit: usize,
    },
    /// A persistent store refuses writes because writing or syncing its log failed (a full
    /// disk, an I/O error); reads still work. Carries the reason. A server answers `MISCONF`.
    #[error("persistence failed, writes are refused until the store is reopened: {0}")]
    PersistenceFailed(String),
    /// A data directory could not be read or written (opening a store, taking a snapshot).
    /// The [`IoError`] says what was being done to which path; its
    /// [`source`](std::error::Error::source) (and this error's) is the operating system's
    /// [`io::Error`].
    #[error(transparent)]
    Io(IoError),
    /// A data directory holds damage that must not be skipped; the message names the file,
    /// the offset and how to repair it.
    #[error("{0}")]
    Corrupt(String),
    /// SAVE or BGSAVE while a snapshot is already being taken.
    #[error("background save already in progress")]
    SaveInProgress,
    /// A persistence operation on a store that lives only in memory.
    #[error("the store has no data directory")]
    NotPersistent,
    /// An in-process [`Subscription`](crate::Subscription) was closed because more than its
    /// bound of messages waited to be read; everything queued before has been read.
    #[error("subscription closed: more than {limit} bytes of messages waited to be read")]
    SubscriptionOverflowed {
        /// The subscription's bound ([`SubscriptionOptions::max_pending_bytes`](crate::SubscriptionOptions::max_pending_bytes)).
        limit: usize,
    },
    /// A geo position outside Redis's limits (longitude -180..=180, latitude
    /// -85.05112878..=85.05112878).
    #[error("invalid longitude,latitude pair")]
    InvalidCoordinates,
    /// A geo search centred on a member the sorted set does not hold.
    #[error("could not decode requested zset member")]
    NoSuchMember,
    /// A stream write that would break the stream's rules (see [`StreamError`]).
    #[error("{0}")]
    Stream(StreamError),
    /// A bit offset at or past `8 *` [`Kv::max_bulk_len`](crate::Kv::max_bulk_len) (SETBIT,
    /// GETBIT, BITFIELD).
    #[error("bit offset is not an integer or out of range")]
    BitOffsetOutOfRange,
    /// A HyperLogLog command met a string that is not a HyperLogLog (no `HYLL` header, an
    /// unknown encoding, a dense value of the wrong size).
    #[error("key is not a valid hyperloglog string value")]
    NotHyperLogLog,
    /// A HyperLogLog whose sparse registers do not add up.
    #[error("corrupted hll object detected")]
    CorruptHyperLogLog,
    /// RESTORE: the key exists and REPLACE was not given.
    #[error("target key name already exists")]
    BusyKey,
    /// RESTORE: the payload's footer has an RDB version kv does not read or a wrong CRC-64.
    #[error("dump payload version or checksum are wrong")]
    BadDumpPayload,
    /// RESTORE: the payload's value does not decode.
    #[error("bad data format")]
    BadDataFormat,
    /// A replication stream reader fell further behind than the backlog and its reader
    /// limit keep (the bytes it needs are gone), or the stream was started over.
    #[error("the replication stream reader fell out of the backlog")]
    BacklogOverrun,
    /// A replication stream given to a [`StreamApplier`](crate::StreamApplier) does not
    /// apply: it is malformed, holds a command outside the stream's set, or a command the
    /// follower refused (it no longer matches its primary). The message names the command
    /// and the stream offset.
    #[error("replication stream: {0}")]
    BadStream(String),
    /// A [`Scope::Optimistic`](crate::Scope::Optimistic) transaction reached a key another
    /// client held while it could not wait for it, and was undone: nothing it did stays. Run
    /// it again with [`Scope::Open`](crate::Scope::Open).
    #[error("the transaction met another and was undone; run it again as an open one")]
    Conflict,
    /// The store cannot serve the call now, a read as well as a write, and did nothing: a
    /// replicated store on a node that does not lead its group (a follower must not answer
    /// from a copy that may lack acknowledged writes), or while no leader is known. For a
    /// write that ran but could not be confirmed the store says so in `reason`: its outcome
    /// is then unknown. Retry later, or where `retry_at` says. [`Db`](crate::Db) never
    /// returns it. A server answers `TRYAGAIN`.
    #[error("store unavailable: {reason}")]
    Unavailable {
        /// Why, naming the node that can serve the call when one is known.
        reason: String,
        /// Where the call can be served now, when known (for a Raft group: the address the
        /// leader's clients connect to).
        retry_at: Option<String>,
    },
}

/// Why a stream write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// XADD: the ID is not above the stream's last ID.
    #[error("the ID is equal or smaller than the stream's top item")]
    IdTooSmall,
    /// XADD: the ID `0-0`, which no entry may have.
    #[error("the ID must be greater than 0-0")]
    IdZero,
    /// XADD: the stream's last ID is the largest possible one.
    #[error("the stream has exhausted the last possible ID")]
    Exhausted,
    /// XADD `<ms>-*`: the last ID has these milliseconds and the largest sequence number.
    #[error("no sequence number is left for the ID's milliseconds")]
    SeqExhausted,
    /// XADD: no field/value pairs.
    #[error("an entry needs at least one field and value")]
    NoFields,
    /// XADD: the fields and values add up to more than 1 GiB.
    #[error("the elements are too large to be stored")]
    TooLarge,
    /// XSETID: the ID is below the stream's last entry.
    #[error("the ID is smaller than the stream's top item")]
    SetIdTooSmall,
    /// XSETID: the entries-added count is below the stream's length.
    #[error("the entries-added count is smaller than the stream's length")]
    SetIdEntriesAdded,
    /// XSETID: the ID is below the given largest deleted ID.
    #[error("the ID is smaller than the largest deleted ID")]
    SetIdMaxDeleted,
    /// A consumer-group command on a missing key, or a group the stream does not have.
    #[error("no such key or consumer group")]
    NoGroup,
    /// XGROUP CREATE: the stream already has a group of that name.
    #[error("the consumer group name already exists")]
    GroupExists,
}

/// A failed file operation of a persistent store: what was being done, naming the file or
/// directory, and the operating system's error.
///
/// Its message is the context alone (`io error while writing /data/wal-….log`); the
/// [`io::Error`] is its [`source`](std::error::Error::source), so a report that walks the
/// chain (`anyhow`'s `{:#}`, for one) prints both without repeating either:
///
/// ```
/// use std::error::Error as _;
/// use std::io;
///
/// let dir = std::env::temp_dir().join(format!("kv-doc-io-{}", std::process::id()));
/// std::fs::write(&dir, b"a file, not a directory")?;
/// let err = kvcore::Kv::open(&dir, kvcore::Options::new(), kvcore::PersistOptions::new())
///     .unwrap_err();
/// let kvcore::Error::Io(io_err) = &err else { panic!("{err:?}") };
/// assert!(io_err.context().contains(&*dir.to_string_lossy()));
/// let source = err.source().and_then(|s| s.downcast_ref::<io::Error>());
/// assert_eq!(source.map(io::Error::kind), Some(io_err.kind()));
/// # std::fs::remove_file(&dir)?;
/// # Ok::<(), io::Error>(())
/// ```
///
/// It is `Clone` (the `io::Error`, which is not, is shared) and `PartialEq`: two `IoError`s are
/// equal when their contexts and [`kind`](IoError::kind)s are, whatever the operating system's
/// message or code, which an `io::Error` offers no way to compare.
#[derive(Debug, Clone)]
pub struct IoError {
    context: String,
    source: Arc<io::Error>,
}

impl IoError {
    /// Wraps `source` with what was being done (a phrase that names the path).
    pub(crate) fn new(context: impl Into<String>, source: io::Error) -> Self {
        IoError {
            context: context.into(),
            source: Arc::new(source),
        }
    }

    /// What was being done, naming the file or directory.
    pub fn context(&self) -> &str {
        &self.context
    }

    /// The kind of the operating system's error (`NotFound`, `StorageFull`, ...).
    pub fn kind(&self) -> io::ErrorKind {
        self.source.kind()
    }

    /// The operating system's error itself.
    pub fn io_error(&self) -> &io::Error {
        &self.source
    }
}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.context)
    }
}

impl std::error::Error for IoError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

impl PartialEq for IoError {
    fn eq(&self, other: &Self) -> bool {
        self.context == other.context && self.kind() == other.kind()
    }
}

impl Eq for IoError {}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    fn io(context: &str, kind: io::ErrorKind, message: &str) -> Error {
        Error::Io(IoError::new(context, io::Error::new(kind, message)))
    }

    #[test]
    fn io_errors_keep_their_source() {
        let err = io(
            "io error while reading /d/x",
            io::ErrorKind::NotFound,
            "gone",
        );
        assert_eq!(err.to_string(), "io error while reading /d/x");
        let source = err.source().expect("an io error has a source");
        let source = source
            .downcast_ref::<io::Error>()
            .expect("the io::Error itself");
        assert_eq!(
            (source.kind(), source.to_string()),
            (io::ErrorKind::NotFound, "gone".into())
        );
    }

    #[test]
    fn io_errors_compare_by_context_and_kind() {
        let a = io("writing /d/x", io::ErrorKind::StorageFull, "no space");
        let same = io("writing /d/x", io::ErrorKind::StorageFull, "disk full");
        let other_kind = io("writing /d/x", io::ErrorKind::PermissionDenied, "no space");
        let other_file = io("writing /d/y", io::ErrorKind::StorageFull, "no space");
        assert_eq!(a, same);
        assert_eq!(a.clone(), a);
        assert_ne!(a, other_kind);
        assert_ne!(a, other_file);
        assert_ne!(a, Error::NotPersistent);
    }
}
