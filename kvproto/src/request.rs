//! Requests as Redis receives them: arrays of bulk strings, and inline commands.

use std::borrow::Cow;

use crate::error::ProtocolError;
use crate::inline::split_args;
use crate::limits::Limits;
use crate::number::parse_i64;
use crate::status::Status;

/// How many arguments a request keeps without a heap allocation (covers GET/SET/HSET/...).
const SMALL: usize = 6;
/// The most argument slots reserved up front for a declared array length (Redis reserves
/// `min(count, 1024)` too): a 2-byte `*9...` header must not reserve gigabytes.
const MAX_RESERVE: usize = 1024;

/// One decoded command: its arguments, borrowed from the input where possible.
///
/// Arguments of an array request are always slices of the input (zero copy). Arguments of an
/// inline request are slices too unless they were quoted, in which case they are unescaped
/// copies.
#[derive(Clone)]
pub struct Request<'a> {
    args: Args<'a>,
    inline: bool,
}

#[derive(Clone)]
enum Args<'a> {
    Small { len: u8, items: [&'a [u8]; SMALL] },
    Large(Vec<&'a [u8]>),
    Inline(Vec<Cow<'a, [u8]>>),
}

impl<'a> Request<'a> {
    fn empty(inline: bool) -> Self {
        Request {
            args: Args::Small {
                len: 0,
                items: [&[]; SMALL],
            },
            inline,
        }
    }

    /// Builds an array request from its arguments (for tests and for hosts that already split).
    pub fn from_args(args: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut builder = ArgsBuilder::new(0);
        for a in args {
            builder.push(a);
        }
        Request {
            args: builder.finish(),
            inline: false,
        }
    }

    /// The number of arguments, the command name included.
    pub fn len(&self) -> usize {
        match &self.args {
            Args::Small { len, .. } => usize::from(*len),
            Args::Large(v) => v.len(),
            Args::Inline(v) => v.len(),
        }
    }

    /// Returns `true` for an empty request (an empty inline line, `*0` or a negative count),
    /// which the server skips without replying, as Redis does.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Argument `i` (`0` is the command name).
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn arg(&self, i: usize) -> &[u8] {
        match &self.args {
            Args::Small { len, items } => items[..usize::from(*len)][i],
            Args::Large(v) => v[i],
            Args::Inline(v) => &v[i],
        }
    }

    /// Argument `i`, or `None` past the end.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        (i < self.len()).then(|| self.arg(i))
    }

    /// The arguments in order, the command name first.
    pub fn args(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        (0..self.len()).map(move |i| self.arg(i))
    }

    /// Returns `true` if the request arrived as an inline command line rather than an array.
    pub fn is_inline(&self) -> bool {
        self.inline
    }

    /// Copies the arguments out, for a caller that must release the input buffer.
    pub fn to_vec(&self) -> Vec<Vec<u8>> {
        self.args().map(<[u8]>::to_vec).collect()
    }
}

impl std::fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut list = f.debug_list();
        for a in self.args() {
            list.entry(&String::from_utf8_lossy(a));
        }
        list.finish()?;
        if self.inline {
            f.write_str(" (inline)")
        } else {
            Ok(())
        }
    }
}

impl PartialEq for Request<'_> {
    /// Two requests are equal when their arguments are; how they arrived does not matter.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.args().eq(other.args())
    }
}

/// Collects borrowed arguments, inline up to [`SMALL`], then on the heap.
pub(crate) struct ArgsBuilder<'a> {
    len: usize,
    items: [&'a [u8]; SMALL],
    heap: Vec<&'a [u8]>,
    declared: usize,
}

impl<'a> ArgsBuilder<'a> {
    pub(crate) fn new(declared: usize) -> Self {
        ArgsBuilder {
            len: 0,
            items: [&[]; SMALL],
            heap: Vec::new(),
            declared,
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, arg: &'a [u8]) {
        if self.len < SMALL {
            self.items[self.len] = arg;
        } else {
            if self.len == SMALL {
                let cap = self.declared.clamp(SMALL + 1, MAX_RESERVE);
                self.heap = Vec::with_capacity(cap);
                self.heap.extend_from_slice(&self.items);
            }
            self.heap.push(arg);
        }
        self.len += 1;
    }

    fn finish(self) -> Args<'a> {
        if self.len <= SMALL {
            // len <= SMALL = 6, so it fits in a u8.
            Args::Small {
                len: self.len as u8,
                items: self.items,
            }
        } else {
            Args::Large(self.heap)
        }
    }

    pub(crate) fn into_request(self) -> Request<'a> {
        Request {
            args: self.finish(),
            inline: false,
        }
    }
}

/// Decodes one request from the front of `input`.
///
/// Returns `Complete((request, consumed))` with the number of bytes the request used (the next
/// request starts at `input[consumed..]`), or `Incomplete` when `input` ends inside a request.
/// A request starting with `*` is an array of bulk strings; anything else is an inline command
/// line ending in `\n` (an optional `\r` before it is dropped). An empty line, `*0\r\n` and a
/// negative array length (`*-1\r\n`) are complete *empty* requests, which Redis skips silently.
///
/// The parser follows Redis's `processMultibulkBuffer`/`processInlineBuffer`, including two of its
/// leniencies: the byte after a header's `\r` and the two bytes after a bulk payload are skipped
/// without being checked. A NUL byte in an inline line or a header line (Redis's `strchr` cannot
/// see past it) is a "too big" error, as in Redis, but immediately instead of after 64 KiB. Only headers are scanned, payloads are skipped by length, so calling
/// again on a grown buffer costs time proportional to the number of arguments, not bytes.
///
/// # Errors
/// [`ProtocolError`] with Redis's message when the input cannot be a request: a bad array or bulk
/// length, a non-`$` element, a header or inline line over [`Limits::max_inline_len`], unbalanced
/// quotes. A prefix of a valid request is never an error.
pub fn decode_request<'a>(
    input: &'a [u8],
    limits: &Limits,
) -> Result<Status<(Request<'a>, usize)>, ProtocolError> {
    match input.first() {
        None => Ok(Status::Incomplete),
        Some(b'*') => decode_multibulk(input, limits),
        Some(_) => decode_inline(input, limits),
    }
}

fn decode_inline<'a>(
    input: &'a [u8],
    limits: &Limits,
) -> Result<Status<(Request<'a>, usize)>, ProtocolError> {
    // Redis errors once more than PROTO_INLINE_MAX_SIZE bytes are buffered without a newline.
    // Looking only within the limit makes the outcome independent of how the bytes arrived.
    let window = &input[..input.len().min(limits.max_inline_len.saturating_add(1))];
    // Redis looks for the newline with strchr, which stops at a NUL byte: it never sees this
    // line's end and fails it as "too big" once 64 KiB are buffered (its "protocol desync"
    // regression test). We fail it with the same error as soon as the NUL is seen.
    let Some(newline) = window.iter().position(|&b| b == b'\n' || b == 0) else {
        return if input.len() > limits.max_inline_len {
            Err(ProtocolError::TooBigInlineRequest)
        } else {
            Ok(Status::Incomplete)
        };
    };
    if input[newline] == 0 {
        return Err(ProtocolError::TooBigInlineRequest);
    }
    let mut end = newline;
    if end > 0 && input[end - 1] == b'\r' {
        end -= 1;
    }
    let args = split_args(&input[..end]).ok_or(ProtocolError::UnbalancedQuotes)?;
    let request = if args.is_empty() {
        Request::empty(true)
    } else {
        Request {
            args: Args::Inline(args),
            inline: true,
        }
    };
    Ok(Status::Complete((request, newline + 1)))
}

/// Finds the `\r` ending the header line that starts at `start`, as Redis does (`strchr` for `\r`,
/// then "the buffer should also contain `\n`"), bounded by `max_inline_len`.
///
/// Returns `Ok(None)` when more bytes are needed. A NUL before the `\r` hides it from Redis's
/// `strchr`, which then fails with `too_big` once 64 KiB are buffered; we fail at once.
#[inline]
pub(crate) fn header_end(
    input: &[u8],
    start: usize,
    limits: &Limits,
    too_big: ProtocolError,
) -> Result<Option<usize>, ProtocolError> {
    let rest = &input[start..];
    // Fast path: headers are a handful of bytes.
    let window = &rest[..rest.len().min(limits.max_inline_len.saturating_add(1))];
    match window.iter().position(|&b| b == b'\r' || b == 0) {
        Some(i) if rest[i] == 0 => Err(too_big),
        Some(i) if start + i + 1 < input.len() => Ok(Some(start + i)),
        Some(_) => Ok(None),
        None if rest.len() > limits.max_inline_len => Err(too_big),
        None => Ok(None),
    }
}

fn decode_multibulk<'a>(
    input: &'a [u8],
    limits: &Limits,
) -> Result<Status<(Request<'a>, usize)>, ProtocolError> {
    let (count, cr) = match short_header(input, 0, b'*', limits.request_args_bound(), limits) {
        Some((n, cr)) if n > 0 => (n, cr),
        _ => {
            let Some(cr) = header_end(input, 0, limits, ProtocolError::TooBigMultibulkCount)?
            else {
                return Ok(Status::Incomplete);
            };
            match request_len(&input[1..cr], limits)? {
                0 => return Ok(Status::Complete((Request::empty(false), cr + 2))),
                n => (n, cr),
            }
        }
    };
    let mut pos = cr + 2;
    let mut args = ArgsBuilder::new(count);
    for _ in 0..count {
        match bulk_arg(input, pos, limits)? {
            Some((arg, next)) => {
                args.push(arg);
                pos = next;
            }
            None => return Ok(Status::Incomplete),
        }
    }
    Ok(Status::Complete((args.into_request(), pos)))
}

/// The argument count an array request's header declares (`digits` between `*` and `\r`),
/// checked as Redis does: not a number or past `max_array_len` is invalid, then past the
/// pre-authentication bound is "unauthenticated". `0` for an empty request (0 or negative).
pub(crate) fn request_len(digits: &[u8], limits: &Limits) -> Result<usize, ProtocolError> {
    match parse_i64(digits) {
        Some(n) if n <= 0 => Ok(0),
        Some(n) if n as u64 > limits.max_array_len as u64 => {
            Err(ProtocolError::InvalidMultibulkLength)
        }
        Some(n) if n as u64 > limits.request_args_bound() as u64 => {
            Err(ProtocolError::UnauthenticatedMultibulkLength)
        }
        Some(n) => Ok(n as usize),
        None => Err(ProtocolError::InvalidMultibulkLength),
    }
}

/// Decodes the bulk-string argument whose `$` header starts at `pos`; returns it and the position
/// after it, or `None` when more bytes are needed.
#[inline]
pub(crate) fn bulk_arg<'a>(
    input: &'a [u8],
    pos: usize,
    limits: &Limits,
) -> Result<Option<(&'a [u8], usize)>, ProtocolError> {
    if pos >= input.len() {
        return Ok(None);
    }
    if let Some((len, cr)) = short_header(input, pos, b'$', limits.request_bulk_bound(), limits) {
        let data = cr + 2;
        let end = data + len;
        if input.len() < end + 2 {
            return Ok(None);
        }
        return Ok(Some((&input[data..end], end + 2)));
    }
    let Some(cr) = header_end(input, pos, limits, ProtocolError::TooBigBulkCount)? else {
        return Ok(None);
    };
    if input[pos] != b'$' {
        return Err(ProtocolError::ExpectedBulk(input[pos]));
    }
    let len = match parse_i64(&input[pos + 1..cr]) {
        Some(n) if n < 0 || n as u64 > limits.max_bulk_len as u64 => {
            return Err(ProtocolError::InvalidBulkLength);
        }
        Some(n) if n as u64 > limits.request_bulk_bound() as u64 => {
            return Err(ProtocolError::UnauthenticatedBulkLength);
        }
        Some(n) => n as usize,
        None => return Err(ProtocolError::InvalidBulkLength),
    };
    let data = cr + 2;
    // Redis needs the payload and two more bytes (meant to be CRLF, not checked) to be present.
    let end = data + len;
    if input.len() < end + 2 {
        return Ok(None);
    }
    Ok(Some((&input[data..end], end + 2)))
}

/// The common header in one pass: `tag` (`*` or `$`), a canonical number of at most 9
/// digits that is at most `max`, `\r` and one more byte present. Returns the number and the
/// position of the `\r`, or `None` for anything else, which the general path (`header_end` +
/// `parse_i64`) then decides. Every header this accepts, the general path accepts with
/// the same result: this only saves scanning the digits twice (a pipelined SET spent a
/// third of its decoding time on its four headers).
#[inline]
fn short_header(
    input: &[u8],
    pos: usize,
    tag: u8,
    max: usize,
    limits: &Limits,
) -> Option<(usize, usize)> {
    if input.get(pos) != Some(&tag) {
        return None;
    }
    let first = *input.get(pos + 1)?;
    let mut len = match first {
        b'0' => 0,
        b'1'..=b'9' => usize::from(first - b'0'),
        _ => return None,
    };
    let mut at = pos + 2;
    loop {
        match *input.get(at)? {
            b'\r' => break,
            b @ b'0'..=b'9' if first != b'0' && at - pos <= 9 => {
                len = len * 10 + usize::from(b - b'0');
            }
            _ => return None,
        }
        at += 1;
    }
    // The general path also needs the byte after '\r' and a header within the inline limit.
    (at + 1 < input.len() && at - pos <= limits.max_inline_len && len <= max).then_some((len, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Expected<'e> = Result<Option<(&'e [&'e [u8]], usize)>, ProtocolError>;

    fn check(input: &[u8], expected: Expected<'_>) {
        let got = decode_request(input, &Limits::default());
        let got = got.map(|s| s.complete().map(|(r, n)| (r.to_vec(), n)));
        let expected =
            expected.map(|o| o.map(|(args, n)| (args.iter().map(|a| a.to_vec()).collect(), n)));
        assert_eq!(got, expected, "input {:?}", String::from_utf8_lossy(input));
    }

    #[test]
    fn short_header_agrees_with_the_general_path() {
        let tiny = Limits::default().with_max_bulk_len(5);
        for limits in [Limits::default(), tiny] {
            for input in [
                &b"$3\r\nfoo\r\n"[..],
                b"$0\r\n\r\n",
                b"$00\r\n\r\n",
                b"$01\r\nx\r\n",
                b"$-1\r\n",
                b"$+1\r\nx\r\n",
                b"$6\r\nfoobar\r\n",
                b"$123456789\r\n",
                b"$1234567890\r\n",
                b"$3\r",
                b"$3",
                b"$",
                b"$3 \r\nfoo\r\n",
                b"$3\x00\r\nfoo\r\n",
                b"*3\r\n",
            ] {
                let general = (|| {
                    let cr =
                        header_end(input, 0, &limits, ProtocolError::TooBigBulkCount).ok()??;
                    let n = parse_i64(&input[1..cr])?;
                    (input[0] == b'$' && n >= 0 && n as u64 <= limits.max_bulk_len as u64)
                        .then_some((n as usize, cr))
                })();
                let fast = short_header(input, 0, b'$', limits.max_bulk_len, &limits);
                assert!(
                    fast.is_none() || fast == general,
                    "{input:?}: {fast:?} {general:?}"
                );
            }
            let max = limits.max_bulk_len;
            assert_eq!(
                short_header(b"$3\r\nfoo\r\n", 0, b'$', max, &limits),
                Some((3, 2))
            );
            assert_eq!(short_header(b"*2\r\n$3", 0, b'*', 2, &limits), Some((2, 2)));
            assert_eq!(short_header(b"*3\r\n$3", 0, b'*', 2, &limits), None);
            assert_eq!(short_header(b"$3\r\n", 0, b'*', 9, &limits), None);
        }
    }

    #[test]
    fn arrays() {
        check(b"*1\r\n$4\r\nPING\r\n", Ok(Some((&[b"PING"], 14))));
        check(
            b"*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n+rest",
            Ok(Some((&[b"GET", b"foo"], 22))),
        );
        check(
            b"*2\r\n$3\r\nGET\r\n$0\r\n\r\n",
            Ok(Some((&[b"GET", b""], 19))),
        );
        check(b"*1\r\n$3\r\na\r\n\r\n", Ok(Some((&[b"a\r\n"], 13))));
        check(b"*0\r\n", Ok(Some((&[], 4))));
        check(b"*-1\r\n", Ok(Some((&[], 5))));
        check(b"*-10\r\n*1\r\n", Ok(Some((&[], 6))));
        // Redis's leniencies: the byte after '\r' and the bytes after a payload are not checked.
        check(b"*1\rX$1\r\nab!", Ok(Some((&[b"a"], 11))));
    }

    #[test]
    fn incomplete_arrays() {
        for input in [
            &b"*"[..],
            b"*2",
            b"*2\r",
            b"*2\r\n",
            b"*2\r\n$",
            b"*2\r\n$3\r\nGET\r",
            b"*2\r\n$3\r\nGET\r\n$3\r\nfo",
        ] {
            check(input, Ok(None));
        }
        check(b"", Ok(None));
    }

    #[test]
    fn array_errors() {
        check(b"*x\r\n", Err(ProtocolError::InvalidMultibulkLength));
        check(b"*01\r\n", Err(ProtocolError::InvalidMultibulkLength));
        check(b"*\r\n", Err(ProtocolError::InvalidMultibulkLength));
        check(b"*1 \r\n", Err(ProtocolError::InvalidMultibulkLength));
        check(
            b"*3000000000\r\n",
            Err(ProtocolError::InvalidMultibulkLength),
        );
        check(
            b"*99999999999999999999999\r\n",
            Err(ProtocolError::InvalidMultibulkLength),
        );
        check(b"*1\r\n+OK\r\n", Err(ProtocolError::ExpectedBulk(b'+')));
        check(
            b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n",
            Err(ProtocolError::ExpectedBulk(b'f')),
        );
        check(b"*1\r\n$-1\r\n", Err(ProtocolError::InvalidBulkLength));
        check(b"*1\r\n$x\r\n", Err(ProtocolError::InvalidBulkLength));
        check(
            b"*1\r\n$536870913\r\n",
            Err(ProtocolError::InvalidBulkLength),
        );
        let mut long = b"*".to_vec();
        long.resize(64 * 1024 + 2, b'1');
        check(&long, Err(ProtocolError::TooBigMultibulkCount));
        let mut long = b"*1\r\n$".to_vec();
        long.resize(64 * 1024 + 10, b'1');
        check(&long, Err(ProtocolError::TooBigBulkCount));
    }

    #[test]
    fn limits_apply() {
        let limits = Limits::default().with_max_array_len(2).with_max_bulk_len(3);
        let ok = decode_request(b"*2\r\n$3\r\nabc\r\n$0\r\n\r\n", &limits);
        assert!(matches!(ok, Ok(Status::Complete((ref r, 19))) if r.len() == 2));
        assert_eq!(
            decode_request(b"*3\r\n", &limits),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(
            decode_request(b"*1\r\n$4\r\n", &limits),
            Err(ProtocolError::InvalidBulkLength)
        );
    }

    #[test]
    fn inline() {
        check(b"PING\r\n", Ok(Some((&[b"PING"], 6))));
        check(b"PING\n", Ok(Some((&[b"PING"], 5))));
        check(
            b"SET k \"hello world\"\r\nGET k\r\n",
            Ok(Some((&[b"SET", b"k", b"hello world"], 21))),
        );
        check(b"\r\n", Ok(Some((&[], 2))));
        check(b"\n", Ok(Some((&[], 1))));
        check(b"   \r\n", Ok(Some((&[], 5))));
        check(b"a\r\r\n", Ok(Some((&[b"a"], 4))));
        check(b"PING", Ok(None));
        check(b"PING\r", Ok(None));
        check(b"SET k \"oops\r\n", Err(ProtocolError::UnbalancedQuotes));
        check(b"SET k 'a'b\r\n", Err(ProtocolError::UnbalancedQuotes));
        check(b"\0PING\r\n", Err(ProtocolError::TooBigInlineRequest));
        check(b"PI\0", Err(ProtocolError::TooBigInlineRequest));
        check(b"*1\r\n$4\r\nPI\0G\r\n", Ok(Some((&[b"PI\0G"], 14))));
        check(b"*1\0\r\n", Err(ProtocolError::TooBigMultibulkCount));
        check(b"*1\r\n$\0", Err(ProtocolError::TooBigBulkCount));
    }

    #[test]
    fn inline_size_limit() {
        let limits = Limits::default().with_max_inline_len(8);
        assert_eq!(decode_request(b"12345678", &limits), Ok(Status::Incomplete));
        assert_eq!(
            decode_request(b"123456789", &limits),
            Err(ProtocolError::TooBigInlineRequest)
        );
        assert_eq!(
            decode_request(b"12345678\r\n", &limits),
            Err(ProtocolError::TooBigInlineRequest)
        );
        // The line and its '\r' fit in the limit: Redis finds the newline and accepts it.
        let ok = decode_request(b"1234567\r\n", &limits)
            .unwrap()
            .complete()
            .unwrap();
        assert_eq!((ok.0.to_vec(), ok.1), (vec![b"1234567".to_vec()], 9));
    }

    #[test]
    fn request_accessors() {
        let (r, _) = decode_request(
            b"*7\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n$1\r\nf\r\n$1\r\ng\r\n",
            &Limits::default(),
        )
        .unwrap()
        .complete()
        .unwrap();
        assert_eq!(r.len(), 7);
        assert_eq!(r.arg(6), b"g");
        assert_eq!(r.get(7), None);
        assert!(!r.is_inline());
        let joined: Vec<u8> = r.args().flatten().copied().collect();
        assert_eq!(joined, b"abcdefg");
        let (r, _) = decode_request(b"get 'k'\n", &Limits::default())
            .unwrap()
            .complete()
            .unwrap();
        assert!(r.is_inline());
        assert_eq!(r, Request::from_args([&b"get"[..], b"k"]));
        assert_eq!(format!("{r:?}"), "[\"get\", \"k\"] (inline)");
    }

    /// `Ok(None)`: incomplete; `Ok(Some(n))`: a complete request of `n` arguments.
    type Outcome = Result<Option<usize>, ProtocolError>;

    /// Decodes `input` with `limits` both ways (in one piece, and byte by byte with the
    /// incremental decoder) and checks that they agree with `expected`. `input` holds one
    /// request, or the start of one.
    #[track_caller]
    fn check_limits(limits: Limits, input: &[u8], expected: Outcome) {
        let text = String::from_utf8_lossy(&input[..input.len().min(40)]).into_owned();
        let whole = decode_request(input, &limits).map(|s| s.complete().map(|(r, _)| r.len()));
        assert_eq!(whole, expected, "decode_request, input {text:?}");
        let mut decoder = crate::RequestDecoder::new(limits);
        let mut pieces = Ok(None);
        for end in 1..=input.len() {
            pieces = decoder
                .decode(&input[..end])
                .map(|s| s.complete().map(|(r, _)| r.len()));
            match pieces {
                Ok(None) => {}
                // An error shows as soon as its header is complete.
                Err(_) => break,
                Ok(Some(_)) => {
                    assert_eq!(end, input.len(), "complete early, input {text:?}");
                    break;
                }
            }
        }
        assert_eq!(pieces, expected, "RequestDecoder, input {text:?}");
    }

    #[test]
    fn unauthenticated_limits_follow_redis() {
        use ProtocolError::*;
        let unauth = Limits::default().with_unauthenticated(true);
        let big = |n: usize| {
            let mut r = format!("*2\r\n$4\r\nAUTH\r\n${n}\r\n").into_bytes();
            r.resize(r.len() + n, b'x');
            r.extend_from_slice(b"\r\n");
            r
        };
        let ten = [&b"*10\r\n"[..], &b"$1\r\na\r\n".repeat(10)].concat();
        let inline_args = format!("ECHO{}\r\n", " a".repeat(40));
        let inline_long = format!("ECHO {}\r\n", "b".repeat(20_000));
        let cases: Vec<(Vec<u8>, Outcome, Outcome)> = vec![
            // (input, unauthenticated, default limits)
            (ten, Ok(Some(10)), Ok(Some(10))),
            (
                b"*11\r\n".to_vec(),
                Err(UnauthenticatedMultibulkLength),
                Ok(None),
            ),
            (b"*11\r".to_vec(), Ok(None), Ok(None)),
            // Redis checks "invalid" first, and empty requests are not limited.
            (
                b"*99999999999\r\n".to_vec(),
                Err(InvalidMultibulkLength),
                Err(InvalidMultibulkLength),
            ),
            (
                b"*x\r\n".to_vec(),
                Err(InvalidMultibulkLength),
                Err(InvalidMultibulkLength),
            ),
            (b"*-5\r\n".to_vec(), Ok(Some(0)), Ok(Some(0))),
            (b"*0\r\n".to_vec(), Ok(Some(0)), Ok(Some(0))),
            (big(16384), Ok(Some(2)), Ok(Some(2))),
            (big(16385), Err(UnauthenticatedBulkLength), Ok(Some(2))),
            (
                b"*1\r\n$-1\r\n".to_vec(),
                Err(InvalidBulkLength),
                Err(InvalidBulkLength),
            ),
            (
                b"*1\r\n$600000000\r\n".to_vec(),
                Err(InvalidBulkLength),
                Err(InvalidBulkLength),
            ),
            // Inline requests are bounded by the inline limit only, as in Redis.
            (inline_args.into_bytes(), Ok(Some(41)), Ok(Some(41))),
            (inline_long.into_bytes(), Ok(Some(2)), Ok(Some(2))),
        ];
        for (input, unauthenticated, default) in cases {
            check_limits(unauth, &input, unauthenticated);
            check_limits(Limits::default(), &input, default);
        }
        // Lower host limits still come first and still say "invalid".
        let tight = unauth.with_max_array_len(5).with_max_bulk_len(100);
        check_limits(tight, b"*7\r\n", Err(InvalidMultibulkLength));
        check_limits(tight, b"*1\r\n$200\r\n", Err(InvalidBulkLength));
        check_limits(tight, b"*5\r\n", Ok(None));
    }

    #[test]
    #[should_panic]
    fn arg_out_of_range_panics() {
        let r = Request::from_args([&b"PING"[..]]);
        let _ = r.arg(1);
    }
}
