//! The encoder: appends frames to the caller's buffer and cannot fail.

use crate::frame::{Frame, Version};
use crate::number::{push_d2string, push_i64, push_usize};

/// Appends `frame` to `out` in `version`'s wire format.
///
/// Encoding cannot fail. In RESP2, RESP3-only types are downgraded as Redis does: a map becomes a
/// flat array of keys and values, a set or push an array, null `$-1` (and
/// [`Frame::NullArray`] `*-1`), a boolean `:1`/`:0`, a double, big number or verbatim string a
/// bulk string, a bulk error an error line, and an attribute is dropped (its annotated frame is
/// sent). CR and LF inside simple strings and errors become spaces, so the output is always valid
/// protocol.
pub fn encode(frame: &Frame, version: Version, out: &mut Vec<u8>) {
    Writer::new(out, version).frame(frame);
}

/// Writes replies straight into the caller's buffer, without building [`Frame`]s.
///
/// Aggregates are written as a header (`array_len`, `map_len`, ...) followed by their elements.
///
/// ```
/// use kvproto::{Version, Writer};
///
/// let mut out = Vec::new();
/// let mut w = Writer::new(&mut out, Version::Resp2);
/// w.map_len(1);
/// w.bulk(b"score");
/// w.double(1.5);
/// assert_eq!(out, b"*2\r\n$5\r\nscore\r\n$3\r\n1.5\r\n");
/// ```
#[derive(Debug)]
pub struct Writer<'a> {
    out: &'a mut Vec<u8>,
    version: Version,
}

impl<'a> Writer<'a> {
    /// A writer appending to `out` in `version`'s format.
    pub fn new(out: &'a mut Vec<u8>, version: Version) -> Self {
        Writer { out, version }
    }

    /// The protocol version this writer emits.
    pub fn version(&self) -> Version {
        self.version
    }

    fn resp3(&self) -> bool {
        self.version == Version::Resp3
    }

    #[inline]
    fn header(&mut self, tag: u8, n: usize) {
        self.out.push(tag);
        push_usize(self.out, n);
        self.out.extend_from_slice(b"\r\n");
    }

    /// A line whose content must not hold CR or LF: they are replaced by spaces.
    #[inline]
    fn line(&mut self, tag: u8, s: &[u8]) {
        self.out.reserve(s.len() + 3);
        self.out.push(tag);
        if s.iter().any(|&b| b == b'\r' || b == b'\n') {
            self.out.extend(
                s.iter()
                    .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
            );
        } else {
            self.out.extend_from_slice(s);
        }
        self.out.extend_from_slice(b"\r\n");
    }

    #[inline]
    fn blob(&mut self, tag: u8, b: &[u8]) {
        self.out.reserve(b.len() + 16);
        self.header(tag, b.len());
        self.out.extend_from_slice(b);
        self.out.extend_from_slice(b"\r\n");
    }

    /// A status reply: `+OK`. CR and LF in `s` become spaces.
    pub fn simple(&mut self, s: &[u8]) {
        self.line(b'+', s);
    }

    /// An error reply: `msg` includes the code word, e.g. `b"ERR syntax error"`. CR and LF become
    /// spaces.
    pub fn error(&mut self, msg: &[u8]) {
        self.line(b'-', msg);
    }

    /// A bulk error (`!n` in RESP3, an error line in RESP2).
    pub fn bulk_error(&mut self, msg: &[u8]) {
        if self.resp3() {
            self.blob(b'!', msg);
        } else {
            self.line(b'-', msg);
        }
    }

    /// An integer reply: `:42`.
    #[inline]
    pub fn integer(&mut self, n: i64) {
        self.out.push(b':');
        push_i64(self.out, n);
        self.out.extend_from_slice(b"\r\n");
    }

    /// A bulk string reply: `$3\r\nfoo`.
    #[inline]
    pub fn bulk(&mut self, b: &[u8]) {
        self.blob(b'$', b);
    }

    /// The null reply: `$-1` in RESP2, `_` in RESP3.
    pub fn null(&mut self) {
        self.out
            .extend_from_slice(if self.resp3() { b"_\r\n" } else { b"$-1\r\n" });
    }

    /// The null array reply: `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        self.out
            .extend_from_slice(if self.resp3() { b"_\r\n" } else { b"*-1\r\n" });
    }

    /// An array header: `n` elements follow.
    #[inline]
    pub fn array_len(&mut self, n: usize) {
        self.header(b'*', n);
    }

    /// A map header: `n` key/value pairs follow (`%n` in RESP3, `*2n` in RESP2).
    pub fn map_len(&mut self, n: usize) {
        if self.resp3() {
            self.header(b'%', n);
        } else {
            self.header(b'*', n.saturating_mul(2));
        }
    }

    /// A set header: `n` members follow (`~n` in RESP3, `*n` in RESP2).
    pub fn set_len(&mut self, n: usize) {
        self.header(if self.resp3() { b'~' } else { b'*' }, n);
    }

    /// A push header: `n` elements follow (`>n` in RESP3, `*n` in RESP2).
    pub fn push_len(&mut self, n: usize) {
        self.header(if self.resp3() { b'>' } else { b'*' }, n);
    }

    /// A double reply formatted as Redis does (`1.5`, `3`, `inf`, `-inf`, `nan`, `1e+300`):
    /// `,d` in RESP3, a bulk string in RESP2.
    pub fn double(&mut self, d: f64) {
        if self.resp3() {
            self.out.push(b',');
            push_d2string(self.out, d);
            self.out.extend_from_slice(b"\r\n");
        } else {
            // Format in place, then move the (at most 24) bytes behind their length header.
            let start = self.out.len();
            push_d2string(self.out, d);
            let mut tmp = [0u8; 32];
            let len = self.out.len() - start;
            tmp[..len].copy_from_slice(&self.out[start..]);
            self.out.truncate(start);
            self.blob(b'$', &tmp[..len]);
        }
    }

    /// A double reply whose digits the caller formatted (Redis's `addReplyHumanLongDouble`,
    /// the `%.17Lf` text GEOPOS sends): `,text` in RESP3, a bulk string in RESP2. CR and LF
    /// become spaces.
    pub fn double_text(&mut self, text: &[u8]) {
        if self.resp3() {
            self.line(b',', text);
        } else {
            self.blob(b'$', text);
        }
    }

    /// A boolean reply: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub fn boolean(&mut self, b: bool) {
        let bytes: &[u8] = match (self.resp3(), b) {
            (true, true) => b"#t\r\n",
            (true, false) => b"#f\r\n",
            (false, true) => b":1\r\n",
            (false, false) => b":0\r\n",
        };
        self.out.extend_from_slice(bytes);
    }

    /// A verbatim string (`=n\r\ntxt:...` in RESP3, a bulk string of `text` in RESP2).
    pub fn verbatim(&mut self, format: &[u8; 3], text: &[u8]) {
        if self.resp3() {
            self.out.reserve(text.len() + 20);
            self.header(b'=', text.len() + 4);
            self.out.extend_from_slice(format);
            self.out.push(b':');
            self.out.extend_from_slice(text);
            self.out.extend_from_slice(b"\r\n");
        } else {
            self.blob(b'$', text);
        }
    }

    /// A big number (`(digits` in RESP3, a bulk string in RESP2). CR and LF become spaces.
    pub fn big_number(&mut self, digits: &[u8]) {
        if self.resp3() {
            self.line(b'(', digits);
        } else {
            self.blob(b'$', digits);
        }
    }

    /// Any frame, downgraded for RESP2 as [`encode`] describes.
    pub fn frame(&mut self, f: &Frame) {
        match f {
            Frame::Simple(s) => self.simple(s),
            Frame::Error(e) => self.error(e),
            Frame::Integer(n) => self.integer(*n),
            Frame::Bulk(b) => self.bulk(b),
            Frame::Null => self.null(),
            Frame::NullArray => self.null_array(),
            Frame::Array(items) => {
                self.array_len(items.len());
                items.iter().for_each(|i| self.frame(i));
            }
            Frame::Boolean(b) => self.boolean(*b),
            Frame::Double(d) => self.double(*d),
            Frame::BigNumber(n) => self.big_number(n),
            Frame::BulkError(e) => self.bulk_error(e),
            Frame::Verbatim { format, text } => self.verbatim(format, text),
            Frame::Map(pairs) => {
                self.map_len(pairs.len());
                self.pairs(pairs);
            }
            Frame::Set(items) => {
                self.set_len(items.len());
                items.iter().for_each(|i| self.frame(i));
            }
            Frame::Attribute { attributes, data } => {
                if self.resp3() {
                    self.header(b'|', attributes.len());
                    self.pairs(attributes);
                }
                self.frame(data);
            }
            Frame::Push(items) => {
                self.push_len(items.len());
                items.iter().for_each(|i| self.frame(i));
            }
        }
    }

    fn pairs(&mut self, pairs: &[(Frame, Frame)]) {
        for (k, v) in pairs {
            self.frame(k);
            self.frame(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(frame: Frame, resp2: &[u8], resp3: &[u8]) {
        for (version, expected) in [(Version::Resp2, resp2), (Version::Resp3, resp3)] {
            let mut out = b"prefix".to_vec();
            encode(&frame, version, &mut out);
            assert_eq!(
                String::from_utf8_lossy(&out[6..]),
                String::from_utf8_lossy(expected),
                "{frame:?} as {version:?}"
            );
        }
    }

    #[test]
    fn every_type() {
        check(Frame::simple("OK"), b"+OK\r\n", b"+OK\r\n");
        check(Frame::simple("a\r\nb"), b"+a  b\r\n", b"+a  b\r\n");
        check(Frame::error("ERR bad"), b"-ERR bad\r\n", b"-ERR bad\r\n");
        check(Frame::Integer(-42), b":-42\r\n", b":-42\r\n");
        check(
            Frame::Integer(i64::MIN),
            b":-9223372036854775808\r\n",
            b":-9223372036854775808\r\n",
        );
        check(Frame::bulk(""), b"$0\r\n\r\n", b"$0\r\n\r\n");
        check(
            Frame::bulk("a\r\nb"),
            b"$4\r\na\r\nb\r\n",
            b"$4\r\na\r\nb\r\n",
        );
        check(Frame::Null, b"$-1\r\n", b"_\r\n");
        check(Frame::NullArray, b"*-1\r\n", b"_\r\n");
        check(Frame::Array(vec![]), b"*0\r\n", b"*0\r\n");
        check(
            Frame::Array(vec![Frame::Integer(1), Frame::Null]),
            b"*2\r\n:1\r\n$-1\r\n",
            b"*2\r\n:1\r\n_\r\n",
        );
        check(Frame::Boolean(true), b":1\r\n", b"#t\r\n");
        check(Frame::Boolean(false), b":0\r\n", b"#f\r\n");
        check(Frame::Double(1.5), b"$3\r\n1.5\r\n", b",1.5\r\n");
        check(Frame::Double(3.0), b"$1\r\n3\r\n", b",3\r\n");
        check(Frame::Double(f64::INFINITY), b"$3\r\ninf\r\n", b",inf\r\n");
        check(
            Frame::Double(f64::NEG_INFINITY),
            b"$4\r\n-inf\r\n",
            b",-inf\r\n",
        );
        check(Frame::Double(f64::NAN), b"$3\r\nnan\r\n", b",nan\r\n");
        check(
            Frame::BigNumber(b"-123".to_vec()),
            b"$4\r\n-123\r\n",
            b"(-123\r\n",
        );
        check(
            Frame::BulkError(b"ERR x\r\ny".to_vec()),
            b"-ERR x  y\r\n",
            b"!8\r\nERR x\r\ny\r\n",
        );
        check(
            Frame::Verbatim {
                format: *b"txt",
                text: b"hi".to_vec(),
            },
            b"$2\r\nhi\r\n",
            b"=6\r\ntxt:hi\r\n",
        );
        check(
            Frame::Map(vec![(Frame::bulk("k"), Frame::Integer(1))]),
            b"*2\r\n$1\r\nk\r\n:1\r\n",
            b"%1\r\n$1\r\nk\r\n:1\r\n",
        );
        check(
            Frame::Set(vec![Frame::bulk("m")]),
            b"*1\r\n$1\r\nm\r\n",
            b"~1\r\n$1\r\nm\r\n",
        );
        check(
            Frame::Attribute {
                attributes: vec![(Frame::simple("ttl"), Frame::Integer(3))],
                data: Box::new(Frame::Integer(7)),
            },
            b":7\r\n",
            b"|1\r\n+ttl\r\n:3\r\n:7\r\n",
        );
        check(
            Frame::Push(vec![Frame::bulk("message")]),
            b"*1\r\n$7\r\nmessage\r\n",
            b">1\r\n$7\r\nmessage\r\n",
        );
    }

    #[test]
    fn writer_helpers() {
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out, Version::Resp3);
        assert_eq!(w.version(), Version::Resp3);
        w.map_len(2);
        w.set_len(0);
        w.push_len(1);
        w.null();
        w.null_array();
        w.bulk_error(b"ERR x");
        assert_eq!(out, b"%2\r\n~0\r\n>1\r\n_\r\n_\r\n!5\r\nERR x\r\n");
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out, Version::Resp2);
        w.map_len(2);
        w.set_len(0);
        w.push_len(1);
        w.big_number(b"12");
        w.array_len(1);
        w.integer(0);
        assert_eq!(out, b"*4\r\n*0\r\n*1\r\n$2\r\n12\r\n*1\r\n:0\r\n");
    }
}
