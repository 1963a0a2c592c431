//! A request decoder that remembers its progress through a partial array request.

use crate::error::ProtocolError;
use crate::limits::Limits;
use crate::number::parse_i64;
use crate::request::{ArgsBuilder, Request, bulk_arg, decode_request, header_end};
use crate::status::Status;

/// Decodes requests like [`decode_request`], but resumes a partial array request where the last
/// attempt stopped instead of re-reading its headers.
///
/// [`decode_request`] re-scans every argument header of a partial request on each retry, which is
/// cheap for ordinary commands but quadratic for a million-argument `MSET` arriving over many
/// reads. This decoder keeps the positions of the arguments it has already seen.
///
/// Contract: after `Incomplete`, call again with the *same* buffer grown at the end (the bytes
/// already passed must not change). After `Complete` or an error, the decoder starts afresh with
/// the next call, whose input must start at the next request (usually `&buf[consumed..]`). If it
/// is given fewer bytes than last time, it also starts afresh; other breaches of the contract
/// yield wrong arguments, never a panic (every remembered position lies within the bytes seen).
///
/// ```
/// use kvproto::{Limits, RequestDecoder, Status};
///
/// let wire = b"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n";
/// let mut decoder = RequestDecoder::new(Limits::default());
/// assert_eq!(decoder.decode(&wire[..16])?, Status::Incomplete);
/// let Status::Complete((req, used)) = decoder.decode(wire)? else { unreachable!() };
/// assert_eq!((req.arg(1), used), (&b"hello"[..], wire.len()));
/// # Ok::<(), kvproto::ProtocolError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RequestDecoder {
    limits: Limits,
    /// Arguments the current array request declared; 0 when no array request is in progress.
    count: usize,
    /// Where the next argument header starts.
    pos: usize,
    /// `(start, len)` of each argument decoded so far.
    spans: Vec<(usize, usize)>,
    /// The length of the input of the last `Incomplete` attempt.
    seen: usize,
}

/// Span slots kept across requests; more are reserved only as arguments arrive.
const MAX_RESERVE: usize = 1024;

impl RequestDecoder {
    /// A decoder applying `limits`.
    pub fn new(limits: Limits) -> Self {
        RequestDecoder {
            limits,
            count: 0,
            pos: 0,
            spans: Vec::new(),
            seen: 0,
        }
    }

    /// The limits this decoder applies.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Forgets any partial request.
    pub fn reset(&mut self) {
        self.count = 0;
        self.pos = 0;
        self.seen = 0;
        self.spans.clear();
        if self.spans.capacity() > MAX_RESERVE {
            self.spans.shrink_to(MAX_RESERVE);
        }
    }

    /// Decodes one request from the front of `input`; see the type docs for the contract.
    ///
    /// # Errors
    /// As [`decode_request`].
    pub fn decode<'a>(
        &mut self,
        input: &'a [u8],
    ) -> Result<Status<(Request<'a>, usize)>, ProtocolError> {
        if self.count == 0 || input.len() < self.seen {
            self.reset();
            if input.first() != Some(&b'*') {
                return decode_request(input, &self.limits);
            }
            let limits = &self.limits;
            let Some(cr) = header_end(input, 0, limits, ProtocolError::TooBigMultibulkCount)?
            else {
                return Ok(Status::Incomplete);
            };
            match parse_i64(&input[1..cr]) {
                // Empty requests carry no state: the free function reports them.
                Some(n) if n <= 0 => return decode_request(input, limits),
                Some(n) if n as u64 <= limits.max_array_len as u64 => self.count = n as usize,
                _ => return Err(ProtocolError::InvalidMultibulkLength),
            }
            self.pos = cr + 2;
        }
        let result = self.resume(input);
        if matches!(result, Ok(Status::Incomplete)) {
            self.seen = input.len();
        } else {
            self.reset();
        }
        result
    }

    fn resume<'a>(
        &mut self,
        input: &'a [u8],
    ) -> Result<Status<(Request<'a>, usize)>, ProtocolError> {
        while self.spans.len() < self.count {
            match bulk_arg(input, self.pos, &self.limits)? {
                Some((arg, next)) => {
                    // The argument is a subslice of `input`: its offset is the pointer distance.
                    let start = arg.as_ptr() as usize - input.as_ptr() as usize;
                    self.spans.push((start, arg.len()));
                    self.pos = next;
                }
                None => return Ok(Status::Incomplete),
            }
        }
        let mut args = ArgsBuilder::new(self.count);
        for &(start, len) in &self.spans {
            args.push(&input[start..start + len]);
        }
        Ok(Status::Complete((args.into_request(), self.pos)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resumes_and_resets() {
        let wire = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nvv\r\nPING\r\n";
        let mut d = RequestDecoder::new(Limits::default());
        for end in 0..28 {
            assert_eq!(
                d.decode(&wire[..end]),
                Ok(Status::Incomplete),
                "prefix {end}"
            );
        }
        let (req, used) = d.decode(wire).unwrap().complete().unwrap();
        assert_eq!(
            (req.to_vec(), used),
            (vec![b"SET".to_vec(), b"k".to_vec(), b"vv".to_vec()], 28)
        );
        let (req, used) = d.decode(&wire[28..]).unwrap().complete().unwrap();
        assert_eq!(
            (req.to_vec(), used, req.is_inline()),
            (vec![b"PING".to_vec()], 6, true)
        );
        assert_eq!(
            d.decode(b"*0\r\n")
                .unwrap()
                .complete()
                .map(|(r, n)| (r.len(), n)),
            Some((0, 4))
        );
    }

    #[test]
    fn errors_reset_the_state() {
        let mut d = RequestDecoder::new(Limits::default());
        assert_eq!(d.decode(b"*2\r\n$1\r\na\r\n"), Ok(Status::Incomplete));
        assert_eq!(
            d.decode(b"*2\r\n$1\r\na\r\n+x\r\n"),
            Err(ProtocolError::ExpectedBulk(b'+'))
        );
        let (req, _) = d.decode(b"*1\r\n$1\r\nb\r\n").unwrap().complete().unwrap();
        assert_eq!(req.arg(0), b"b");
        // A shorter buffer than last time starts over instead of reading stale positions.
        assert_eq!(d.decode(b"*2\r\n$1\r\na\r\n$1\r"), Ok(Status::Incomplete));
        let (req, _) = d.decode(b"*1\r\n$1\r\nc\r\n").unwrap().complete().unwrap();
        assert_eq!(req.arg(0), b"c");
    }
}
