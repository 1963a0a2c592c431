//! The reply decoder: every RESP2 and RESP3 type, strictly, for clients and tests.

use crate::error::ProtocolError;
use crate::frame::Frame;
use crate::limits::Limits;
use crate::number::{parse_double, parse_i64, parse_lenient_int};
use crate::status::Status;

/// Decodes one frame (any RESP2 or RESP3 type) from the front of `input`.
///
/// Returns `Complete((frame, consumed))`, or `Incomplete` when `input` ends inside the frame.
/// Unlike [`decode_request`](crate::decode_request), this decoder is strict: every line and
/// payload must end with CRLF. RESP2 `$-1` decodes as [`Frame::Null`], `*-1` as
/// [`Frame::NullArray`], RESP3 `_` as [`Frame::Null`]. An attribute (`|n`) is decoded together
/// with the frame it annotates. RESP3 streamed strings and aggregates (`$?`, `*?`) are not
/// supported (Redis never sends them). Each call decodes from the start of `input` and builds the
/// frame as it goes, so retrying a very large reply after every read costs what was received
/// so far each time; frames are for clients and tests, the server's hot path is
/// [`decode_request`](crate::decode_request).
///
/// # Errors
/// [`ProtocolError`] naming the problem: an unknown type byte, a bad length, a length or nesting
/// depth over `limits`, a malformed number, boolean or verbatim string, a missing CRLF. A prefix of
/// a valid frame is never an error.
pub fn decode_frame(
    input: &[u8],
    limits: &Limits,
) -> Result<Status<(Frame, usize)>, ProtocolError> {
    let mut d = Decoder { input, limits };
    Ok(match d.frame(0, 0)? {
        Some((frame, end)) => Status::Complete((frame, end)),
        None => Status::Incomplete,
    })
}

struct Decoder<'i, 'l> {
    input: &'i [u8],
    limits: &'l Limits,
}

/// `Ok(None)` means "need more bytes".
type Step<T> = Result<Option<T>, ProtocolError>;

/// Smallest encoded frame (`_\r\n`): bounds how many elements the remaining bytes can hold.
const MIN_FRAME: usize = 3;
/// The most element slots reserved before the elements arrive.
const MAX_RESERVE: usize = 1024;

impl Decoder<'_, '_> {
    /// Finds the CRLF ending the line that starts at `start`, scanning at most `max` content bytes.
    /// Returns the content and the index after the LF.
    fn line(&self, start: usize, max: usize) -> Step<(&[u8], usize)> {
        let rest = &self.input[start..];
        let window = &rest[..rest.len().min(max.saturating_add(1))];
        match window.iter().position(|&b| b == b'\r' || b == b'\n') {
            Some(i) if window[i] == b'\n' => Err(ProtocolError::ExpectedCrlf),
            Some(i) => match rest.get(i + 1) {
                Some(b'\n') => Ok(Some((&rest[..i], start + i + 2))),
                Some(_) => Err(ProtocolError::ExpectedCrlf),
                None => Ok(None),
            },
            None if rest.len() > max => Err(ProtocolError::TooBigLine),
            None => Ok(None),
        }
    }

    /// Reads a length header; `-1` is returned as `None` inside the `Ok(Some(..))`.
    fn length(&self, start: usize, max: usize, err: ProtocolError) -> Step<(Option<usize>, usize)> {
        let Some((text, next)) = self.line(start, self.limits.max_inline_len)? else {
            return Ok(None);
        };
        match parse_i64(text) {
            Some(-1) => Ok(Some((None, next))),
            Some(n) if n >= 0 && n as u64 <= max as u64 => Ok(Some((Some(n as usize), next))),
            _ => Err(err),
        }
    }

    /// Reads `len` payload bytes at `start` and the CRLF after them.
    fn payload(&self, start: usize, len: usize) -> Step<(Vec<u8>, usize)> {
        let end = start + len;
        if self.input.len() < end + 2 {
            // Fail early on a wrong terminator byte that has already arrived.
            if self.input.len() == end + 1 && self.input[end] != b'\r' {
                return Err(ProtocolError::ExpectedCrlf);
            }
            return Ok(None);
        }
        if &self.input[end..end + 2] != b"\r\n" {
            return Err(ProtocolError::ExpectedCrlf);
        }
        Ok(Some((self.input[start..end].to_vec(), end + 2)))
    }

    fn reserve(&self, n: usize, pos: usize, per_item: usize) -> usize {
        n.min((self.input.len() - pos) / per_item).min(MAX_RESERVE)
    }

    fn items(&mut self, n: usize, mut pos: usize, depth: usize) -> Step<(Vec<Frame>, usize)> {
        let mut items = Vec::with_capacity(self.reserve(n, pos, MIN_FRAME));
        for _ in 0..n {
            let Some((f, next)) = self.frame(pos, depth)? else {
                return Ok(None);
            };
            items.push(f);
            pos = next;
        }
        Ok(Some((items, pos)))
    }

    fn pairs(
        &mut self,
        n: usize,
        mut pos: usize,
        depth: usize,
    ) -> Step<(Vec<(Frame, Frame)>, usize)> {
        let mut pairs = Vec::with_capacity(self.reserve(n, pos, 2 * MIN_FRAME));
        for _ in 0..n {
            let Some((k, next)) = self.frame(pos, depth)? else {
                return Ok(None);
            };
            let Some((v, next)) = self.frame(next, depth)? else {
                return Ok(None);
            };
            pairs.push((k, v));
            pos = next;
        }
        Ok(Some((pairs, pos)))
    }

    /// Decodes the frame at `pos`, inside `depth` enclosing aggregates.
    fn frame(&mut self, pos: usize, depth: usize) -> Step<(Frame, usize)> {
        let Some(&tag) = self.input.get(pos) else {
            return Ok(None);
        };
        let body = pos + 1;
        let limits = *self.limits;
        let max_line = limits.max_bulk_len;
        let aggregate = matches!(tag, b'*' | b'%' | b'~' | b'|' | b'>');
        if aggregate && depth >= limits.max_depth {
            return Err(ProtocolError::TooDeep);
        }
        let inner = depth + 1;
        Ok(Some(match tag {
            b'+' | b'-' | b'(' => {
                let Some((text, next)) = self.line(body, max_line)? else {
                    return Ok(None);
                };
                let frame = match tag {
                    b'+' => Frame::Simple(text.to_vec()),
                    b'-' => Frame::Error(text.to_vec()),
                    _ => {
                        let digits = text.strip_prefix(b"-").unwrap_or(text);
                        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                            return Err(ProtocolError::InvalidBigNumber);
                        }
                        Frame::BigNumber(text.to_vec())
                    }
                };
                (frame, next)
            }
            b':' => {
                let Some((text, next)) = self.line(body, limits.max_inline_len)? else {
                    return Ok(None);
                };
                let n = parse_lenient_int(text).ok_or(ProtocolError::InvalidInteger)?;
                (Frame::Integer(n), next)
            }
            b',' => {
                let Some((text, next)) = self.line(body, limits.max_inline_len)? else {
                    return Ok(None);
                };
                (
                    Frame::Double(parse_double(text).ok_or(ProtocolError::InvalidDouble)?),
                    next,
                )
            }
            b'#' => {
                let Some((text, next)) = self.line(body, limits.max_inline_len)? else {
                    return Ok(None);
                };
                match text {
                    b"t" => (Frame::Boolean(true), next),
                    b"f" => (Frame::Boolean(false), next),
                    _ => return Err(ProtocolError::InvalidBoolean),
                }
            }
            b'_' => {
                let Some((text, next)) = self.line(body, limits.max_inline_len)? else {
                    return Ok(None);
                };
                if !text.is_empty() {
                    return Err(ProtocolError::ExpectedCrlf);
                }
                (Frame::Null, next)
            }
            b'$' | b'!' | b'=' => {
                let err = ProtocolError::InvalidBulkLength;
                let Some((len, next)) = self.length(body, limits.max_bulk_len, err)? else {
                    return Ok(None);
                };
                let Some(len) = len else {
                    return if tag == b'$' {
                        Ok(Some((Frame::Null, next)))
                    } else {
                        Err(err)
                    };
                };
                if tag == b'=' && len < 4 {
                    return Err(ProtocolError::InvalidVerbatim);
                }
                let Some((data, end)) = self.payload(next, len)? else {
                    return Ok(None);
                };
                let frame = match tag {
                    b'$' => Frame::Bulk(data),
                    b'!' => Frame::BulkError(data),
                    _ => {
                        if data[3] != b':' {
                            return Err(ProtocolError::InvalidVerbatim);
                        }
                        Frame::Verbatim {
                            format: [data[0], data[1], data[2]],
                            text: data[4..].to_vec(),
                        }
                    }
                };
                (frame, end)
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let err = ProtocolError::InvalidMultibulkLength;
                let Some((n, next)) = self.length(body, limits.max_array_len, err)? else {
                    return Ok(None);
                };
                let Some(n) = n else {
                    return if tag == b'*' {
                        Ok(Some((Frame::NullArray, next)))
                    } else {
                        Err(err)
                    };
                };
                match tag {
                    b'%' | b'|' => {
                        let Some((pairs, end)) = self.pairs(n, next, inner)? else {
                            return Ok(None);
                        };
                        if tag == b'%' {
                            (Frame::Map(pairs), end)
                        } else {
                            let Some((data, end)) = self.frame(end, inner)? else {
                                return Ok(None);
                            };
                            (
                                Frame::Attribute {
                                    attributes: pairs,
                                    data: Box::new(data),
                                },
                                end,
                            )
                        }
                    }
                    _ => {
                        let Some((items, end)) = self.items(n, next, inner)? else {
                            return Ok(None);
                        };
                        let frame = match tag {
                            b'*' => Frame::Array(items),
                            b'~' => Frame::Set(items),
                            _ => Frame::Push(items),
                        };
                        (frame, end)
                    }
                }
            }
            other => return Err(ProtocolError::InvalidFrameType(other)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &[u8], expected: Result<Option<(Frame, usize)>, ProtocolError>) {
        let got = decode_frame(input, &Limits::default()).map(Status::complete);
        assert_eq!(got, expected, "input {:?}", String::from_utf8_lossy(input));
    }

    fn ok(frame: Frame, n: usize) -> Result<Option<(Frame, usize)>, ProtocolError> {
        Ok(Some((frame, n)))
    }

    #[test]
    fn resp2_types() {
        check(b"+OK\r\n", ok(Frame::simple("OK"), 5));
        check(b"+\r\n", ok(Frame::simple(""), 3));
        check(b"-ERR no\r\n", ok(Frame::error("ERR no"), 9));
        check(b":0\r\n", ok(Frame::Integer(0), 4));
        check(b":-12\r\n", ok(Frame::Integer(-12), 6));
        check(b":+7\r\n", ok(Frame::Integer(7), 5));
        check(b"$3\r\nfoo\r\n", ok(Frame::bulk("foo"), 9));
        check(b"$0\r\n\r\n", ok(Frame::bulk(""), 6));
        check(b"$2\r\n\r\n\r\n", ok(Frame::bulk("\r\n"), 8));
        check(b"$-1\r\n", ok(Frame::Null, 5));
        check(b"*-1\r\n", ok(Frame::NullArray, 5));
        check(b"*0\r\n", ok(Frame::Array(vec![]), 4));
        check(
            b"*2\r\n:1\r\n*1\r\n+a\r\n",
            ok(
                Frame::Array(vec![
                    Frame::Integer(1),
                    Frame::Array(vec![Frame::simple("a")]),
                ]),
                16,
            ),
        );
    }

    #[test]
    fn resp3_types() {
        check(b"_\r\n", ok(Frame::Null, 3));
        check(b"#t\r\n", ok(Frame::Boolean(true), 4));
        check(b"#f\r\n", ok(Frame::Boolean(false), 4));
        check(b",1.5\r\n", ok(Frame::Double(1.5), 6));
        check(b",-3\r\n", ok(Frame::Double(-3.0), 5));
        check(b",inf\r\n", ok(Frame::Double(f64::INFINITY), 6));
        check(b",-inf\r\n", ok(Frame::Double(f64::NEG_INFINITY), 7));
        check(b",nan\r\n", ok(Frame::Double(f64::NAN), 6));
        check(b",1e+300\r\n", ok(Frame::Double(1e300), 9));
        check(
            b"(123456789012345678901234567890\r\n",
            ok(
                Frame::BigNumber(b"123456789012345678901234567890".to_vec()),
                33,
            ),
        );
        check(b"(-5\r\n", ok(Frame::BigNumber(b"-5".to_vec()), 5));
        check(
            b"!9\r\nERR x\r\ny!\r\n",
            ok(Frame::BulkError(b"ERR x\r\ny!".to_vec()), 15),
        );
        check(
            b"=8\r\ntxt:a\r\nb\r\n",
            ok(
                Frame::Verbatim {
                    format: *b"txt",
                    text: b"a\r\nb".to_vec(),
                },
                14,
            ),
        );
        check(
            b"=4\r\nmkd:\r\n",
            ok(
                Frame::Verbatim {
                    format: *b"mkd",
                    text: vec![],
                },
                10,
            ),
        );
        check(
            b"%1\r\n+k\r\n:1\r\n",
            ok(
                Frame::Map(vec![(Frame::simple("k"), Frame::Integer(1))]),
                12,
            ),
        );
        check(b"~1\r\n_\r\n", ok(Frame::Set(vec![Frame::Null]), 7));
        check(
            b">2\r\n+a\r\n+b\r\n",
            ok(
                Frame::Push(vec![Frame::simple("a"), Frame::simple("b")]),
                12,
            ),
        );
        check(
            b"|1\r\n+ttl\r\n:3\r\n:7\r\n",
            ok(
                Frame::Attribute {
                    attributes: vec![(Frame::simple("ttl"), Frame::Integer(3))],
                    data: Box::new(Frame::Integer(7)),
                },
                18,
            ),
        );
    }

    #[test]
    fn incomplete() {
        for input in [
            &b""[..],
            b"+OK",
            b"+OK\r",
            b"$3\r\nfo",
            b"$3\r\nfoo",
            b"$3\r\nfoo\r",
            b"*2\r\n:1\r\n",
            b"%1\r\n+k\r\n",
            b"|1\r\n+a\r\n+b\r\n",
            b"=4\r\ntxt",
            b"#t",
            b"_",
        ] {
            check(input, Ok(None));
        }
    }

    #[test]
    fn errors() {
        check(b"x\r\n", Err(ProtocolError::InvalidFrameType(b'x')));
        check(b"+a\nb\r\n", Err(ProtocolError::ExpectedCrlf));
        check(b"+a\rb\r\n", Err(ProtocolError::ExpectedCrlf));
        check(b"$3\r\nfooXY", Err(ProtocolError::ExpectedCrlf));
        check(b"$3\r\nfooX", Err(ProtocolError::ExpectedCrlf));
        check(b"$-2\r\n", Err(ProtocolError::InvalidBulkLength));
        check(b"$?\r\n", Err(ProtocolError::InvalidBulkLength));
        check(b"!-1\r\n", Err(ProtocolError::InvalidBulkLength));
        check(b"$536870913\r\n", Err(ProtocolError::InvalidBulkLength));
        check(b"*-2\r\n", Err(ProtocolError::InvalidMultibulkLength));
        check(b"%-1\r\n", Err(ProtocolError::InvalidMultibulkLength));
        check(b"*?\r\n", Err(ProtocolError::InvalidMultibulkLength));
        check(
            b"*3000000000\r\n",
            Err(ProtocolError::InvalidMultibulkLength),
        );
        check(b":1.5\r\n", Err(ProtocolError::InvalidInteger));
        check(b":\r\n", Err(ProtocolError::InvalidInteger));
        check(
            b":99999999999999999999\r\n",
            Err(ProtocolError::InvalidInteger),
        );
        check(b",abc\r\n", Err(ProtocolError::InvalidDouble));
        check(b",\r\n", Err(ProtocolError::InvalidDouble));
        check(b"#x\r\n", Err(ProtocolError::InvalidBoolean));
        check(b"(12a\r\n", Err(ProtocolError::InvalidBigNumber));
        check(b"(\r\n", Err(ProtocolError::InvalidBigNumber));
        check(b"=3\r\ntxt\r\n", Err(ProtocolError::InvalidVerbatim));
        check(b"=5\r\ntxt-a\r\n", Err(ProtocolError::InvalidVerbatim));
        check(b"_x\r\n", Err(ProtocolError::ExpectedCrlf));
    }

    #[test]
    fn limits() {
        let limits = Limits::default()
            .with_max_depth(2)
            .with_max_bulk_len(4)
            .with_max_array_len(3);
        let run = |input: &[u8]| decode_frame(input, &limits).map(Status::complete);
        assert!(run(b"*1\r\n*1\r\n:1\r\n").unwrap().is_some());
        assert_eq!(run(b"*1\r\n*1\r\n*0\r\n"), Err(ProtocolError::TooDeep));
        assert_eq!(
            run(b"|0\r\n|0\r\n|0\r\n:1\r\n"),
            Err(ProtocolError::TooDeep)
        );
        assert_eq!(run(b"$5\r\n"), Err(ProtocolError::InvalidBulkLength));
        assert_eq!(run(b"*4\r\n"), Err(ProtocolError::InvalidMultibulkLength));
        assert_eq!(run(b"+12345"), Err(ProtocolError::TooBigLine));
        assert_eq!(run(b"+1234"), Ok(None));
        assert_eq!(run(b"+1234\r\n").unwrap().unwrap().1, 7);
    }
}
