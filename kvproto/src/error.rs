//! The one error type of the crate.

use thiserror::Error;

/// Input that is not valid protocol. The connection that sent it cannot be resynchronised: the
/// server replies `-ERR <Display text>` and closes it, as Redis does.
///
/// `Display` gives Redis's text without the `ERR ` prefix, e.g.
/// `Protocol error: invalid multibulk length`. Needing more bytes is never an error: the
/// decoders return [`Status::Incomplete`](crate::Status::Incomplete) for that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// An array length that is not a number, or is above [`Limits::max_array_len`](crate::Limits).
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    /// A bulk length that is not a number, is negative, or is above
    /// [`Limits::max_bulk_len`](crate::Limits).
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    /// An array request declaring more than
    /// [`Limits::UNAUTHENTICATED_MAX_ARGS`](crate::Limits::UNAUTHENTICATED_MAX_ARGS) arguments
    /// under [`Limits::unauthenticated`](crate::Limits::unauthenticated).
    #[error("Protocol error: unauthenticated multibulk length")]
    UnauthenticatedMultibulkLength,
    /// A request bulk string longer than
    /// [`Limits::UNAUTHENTICATED_MAX_BULK_LEN`](crate::Limits::UNAUTHENTICATED_MAX_BULK_LEN)
    /// under [`Limits::unauthenticated`](crate::Limits::unauthenticated).
    #[error("Protocol error: unauthenticated bulk length")]
    UnauthenticatedBulkLength,
    /// An element of a request array that does not start with `$`. Redis prints the raw byte;
    /// `Display` prints printable ASCII as is, CR and LF as a space (Redis's reply sanitising)
    /// and any other byte as `?`, so the text stays valid UTF-8.
    #[error("Protocol error: expected '$', got '{}'", printable(*.0))]
    ExpectedBulk(u8),
    /// An inline request with an unterminated quote, or a closing quote followed by a non-space.
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    /// An inline request line longer than [`Limits::max_inline_len`](crate::Limits).
    #[error("Protocol error: too big inline request")]
    TooBigInlineRequest,
    /// An array header line (`*...`) longer than [`Limits::max_inline_len`](crate::Limits).
    #[error("Protocol error: too big mbulk count string")]
    TooBigMultibulkCount,
    /// A bulk header line (`$...`) longer than [`Limits::max_inline_len`](crate::Limits).
    #[error("Protocol error: too big bulk count string")]
    TooBigBulkCount,
    /// A reply frame that starts with a byte that is no RESP2/RESP3 type.
    #[error("Protocol error: invalid frame type '{}'", printable(*.0))]
    InvalidFrameType(u8),
    /// A line or payload that does not end with CRLF where the protocol requires one.
    #[error("Protocol error: expected CRLF")]
    ExpectedCrlf,
    /// A simple string, error or number line longer than [`Limits::max_bulk_len`](crate::Limits).
    #[error("Protocol error: too big line")]
    TooBigLine,
    /// An integer reply that is not a valid `i64`.
    #[error("Protocol error: invalid integer")]
    InvalidInteger,
    /// A double reply that is not `inf`, `-inf`, `nan` or a decimal number.
    #[error("Protocol error: invalid double")]
    InvalidDouble,
    /// A boolean reply other than `#t` or `#f`.
    #[error("Protocol error: invalid boolean")]
    InvalidBoolean,
    /// A big number reply that is not an optionally signed run of digits.
    #[error("Protocol error: invalid big number")]
    InvalidBigNumber,
    /// A verbatim string without its three-byte format and `:`.
    #[error("Protocol error: invalid verbatim string")]
    InvalidVerbatim,
    /// Aggregates nested deeper than [`Limits::max_depth`](crate::Limits).
    #[error("Protocol error: nesting too deep")]
    TooDeep,
}

fn printable(b: u8) -> char {
    match b {
        b'\r' | b'\n' => ' ',
        0x20..=0x7e => b as char,
        _ => '?',
    }
}
