//! The one error type of kvcore.

/// A `Result` whose error is kvcore's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a store operation can refuse.
///
/// Messages are lowercase and carry no Redis prefix; a server maps each variant to Redis's exact
/// reply (for example [`Error::WrongType`] to `WRONGTYPE Operation against a key holding the wrong
/// kind of value`).
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
    /// may be ([`Options::max_record_bytes`](crate::Options::max_record_bytes)), before it
    /// changes anything: a write that could not be logged must not be acknowledged.
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
    #[error("{0}")]
    Io(String),
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
}
