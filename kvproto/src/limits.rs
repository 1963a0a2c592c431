//! Bounds on every length read from the network.

/// Bounds applied to every length the decoders read, before anything is allocated.
///
/// The defaults are Redis 7's: `proto-max-bulk-len` 512 MiB, an array of at most `i32::MAX`
/// elements (Redis's `INT_MAX`; the decoders never reserve more than a small, fixed number of
/// slots up front, so memory grows with the bytes that actually arrive, not with a declared
/// count), inline requests and header lines of at most 64 KiB (`PROTO_INLINE_MAX_SIZE`), and
/// replies nested at most 128 aggregates deep.
///
/// ```
/// let limits = kvproto::Limits::default().with_max_bulk_len(1 << 20);
/// assert_eq!(limits.max_bulk_len, 1 << 20);
/// assert_eq!(limits.max_inline_len, 64 * 1024);
///
/// // A server lowers them for a client that has not authenticated, as Redis does.
/// let wire = b"*11\r\n";
/// let err = kvproto::decode_request(wire, &limits.with_unauthenticated(true)).unwrap_err();
/// assert_eq!(err.to_string(), "Protocol error: unauthenticated multibulk length");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The largest bulk string, in bytes (also bounds simple-string lines in replies).
    pub max_bulk_len: usize,
    /// The most elements an array (or map pairs, set members, ...) may declare.
    pub max_array_len: usize,
    /// The longest inline request line and the longest `*`/`$` header line, in bytes.
    pub max_inline_len: usize,
    /// The deepest nesting of aggregates in a reply (a flat array has depth 1). The reply decoder
    /// recurses once per level, so this also bounds its stack use: keep it in the hundreds.
    pub max_depth: usize,
    /// Requests only: the peer has not authenticated yet, so Redis's pre-authentication bounds
    /// apply on top of the ones above: an array request of at most
    /// [`UNAUTHENTICATED_MAX_ARGS`](Self::UNAUTHENTICATED_MAX_ARGS) arguments, bulk strings of at
    /// most [`UNAUTHENTICATED_MAX_BULK_LEN`](Self::UNAUTHENTICATED_MAX_BULK_LEN) bytes. A length
    /// past [`max_array_len`](Self::max_array_len) or [`max_bulk_len`](Self::max_bulk_len) is
    /// still "invalid"; one within those but past these fails with
    /// [`ProtocolError::UnauthenticatedMultibulkLength`](crate::ProtocolError) or
    /// [`ProtocolError::UnauthenticatedBulkLength`](crate::ProtocolError), Redis's order and
    /// texts. Inline requests are bounded by [`max_inline_len`](Self::max_inline_len) only, as in
    /// Redis. `false` by default.
    pub unauthenticated: bool,
}

impl Limits {
    /// The most arguments an array request may declare before the peer authenticated (Redis
    /// 7.0's `processMultibulkBuffer`).
    pub const UNAUTHENTICATED_MAX_ARGS: usize = 10;
    /// The longest bulk string of a request before the peer authenticated (Redis 7.0).
    pub const UNAUTHENTICATED_MAX_BULK_LEN: usize = 16 * 1024;

    /// Redis's defaults (see the type docs).
    pub const fn new() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            max_array_len: i32::MAX as usize,
            max_inline_len: 64 * 1024,
            max_depth: 128,
            unauthenticated: false,
        }
    }

    /// Sets [`max_bulk_len`](Self::max_bulk_len).
    pub const fn with_max_bulk_len(mut self, n: usize) -> Self {
        self.max_bulk_len = n;
        self
    }

    /// Sets [`max_array_len`](Self::max_array_len).
    pub const fn with_max_array_len(mut self, n: usize) -> Self {
        self.max_array_len = n;
        self
    }

    /// Sets [`max_inline_len`](Self::max_inline_len).
    pub const fn with_max_inline_len(mut self, n: usize) -> Self {
        self.max_inline_len = n;
        self
    }

    /// Sets [`max_depth`](Self::max_depth).
    pub const fn with_max_depth(mut self, n: usize) -> Self {
        self.max_depth = n;
        self
    }

    /// Sets [`unauthenticated`](Self::unauthenticated).
    pub const fn with_unauthenticated(mut self, yes: bool) -> Self {
        self.unauthenticated = yes;
        self
    }

    /// The most arguments a request may declare without an error.
    #[inline]
    pub(crate) const fn request_args_bound(&self) -> usize {
        if self.unauthenticated && self.max_array_len > Self::UNAUTHENTICATED_MAX_ARGS {
            Self::UNAUTHENTICATED_MAX_ARGS
        } else {
            self.max_array_len
        }
    }

    /// The longest bulk string a request may carry without an error.
    #[inline]
    pub(crate) const fn request_bulk_bound(&self) -> usize {
        if self.unauthenticated && self.max_bulk_len > Self::UNAUTHENTICATED_MAX_BULK_LEN {
            Self::UNAUTHENTICATED_MAX_BULK_LEN
        } else {
            self.max_bulk_len
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::new()
    }
}
