//! The RESP2/RESP3 value model.

/// The protocol version a connection speaks (`HELLO 2`/`HELLO 3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Version {
    /// RESP2, every client's default.
    #[default]
    Resp2,
    /// RESP3, after `HELLO 3`.
    Resp3,
}

/// One RESP2 or RESP3 value, owning its bytes.
///
/// Decoding RESP2 yields only the RESP2 variants; encoding any variant as RESP2 downgrades it the
/// way Redis does (see [`encode`](crate::encode)).
///
/// `PartialEq` compares doubles by value, except that any NaN equals any NaN and `0.0` differs
/// from `-0.0`: the comparison a round-trip test wants.
#[derive(Debug, Clone)]
pub enum Frame {
    /// `+OK`: a status line (no CR or LF inside).
    Simple(Vec<u8>),
    /// `-ERR message`: an error line, its first word the error code.
    Error(Vec<u8>),
    /// `:42`
    Integer(i64),
    /// `$3\r\nfoo`: a binary-safe string.
    Bulk(Vec<u8>),
    /// The absent value: `$-1` in RESP2, `_` in RESP3.
    Null,
    /// The absent array: `*-1` in RESP2 (`_` in RESP3, which decodes as [`Frame::Null`]).
    NullArray,
    /// `*n`: an ordered list of frames.
    Array(Vec<Frame>),
    /// RESP3 `#t`/`#f` (RESP2: `:1`/`:0`).
    Boolean(bool),
    /// RESP3 `,3.14`, also `inf`, `-inf`, `nan` (RESP2: a bulk string).
    Double(f64),
    /// RESP3 `(12345678901234567890`: decimal digits with an optional `-` (RESP2: a bulk string).
    BigNumber(Vec<u8>),
    /// RESP3 `!n`: a binary-safe error (RESP2: an error line).
    BulkError(Vec<u8>),
    /// RESP3 `=n\r\ntxt:...`: text with a three-byte format such as `txt` or `mkd`
    /// (RESP2: a bulk string of the text).
    Verbatim {
        /// The format, e.g. `*b"txt"`.
        format: [u8; 3],
        /// The text after `format:`.
        text: Vec<u8>,
    },
    /// RESP3 `%n`: key/value pairs in order (RESP2: a flat array of 2n elements).
    Map(Vec<(Frame, Frame)>),
    /// RESP3 `~n`: unordered members (RESP2: an array).
    Set(Vec<Frame>),
    /// RESP3 `|n`: out-of-band key/value pairs that annotate the frame after them
    /// (RESP2: only the annotated frame is sent, as Redis never sends attributes to RESP2 clients).
    Attribute {
        /// The attribute pairs.
        attributes: Vec<(Frame, Frame)>,
        /// The frame they annotate.
        data: Box<Frame>,
    },
    /// RESP3 `>n`: an out-of-band message such as pub/sub (RESP2: an array).
    Push(Vec<Frame>),
}

impl Frame {
    /// A simple string frame.
    pub fn simple(s: impl Into<Vec<u8>>) -> Frame {
        Frame::Simple(s.into())
    }

    /// An error frame; `msg` starts with the code, e.g. `"ERR syntax error"`.
    pub fn error(msg: impl Into<Vec<u8>>) -> Frame {
        Frame::Error(msg.into())
    }

    /// A bulk string frame.
    pub fn bulk(b: impl Into<Vec<u8>>) -> Frame {
        Frame::Bulk(b.into())
    }

    /// An array of bulk strings, the shape of a request.
    pub fn command<I, T>(args: I) -> Frame
    where
        I: IntoIterator<Item = T>,
        T: Into<Vec<u8>>,
    {
        Frame::Array(args.into_iter().map(|a| Frame::Bulk(a.into())).collect())
    }
}

fn doubles_match(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

impl PartialEq for Frame {
    fn eq(&self, other: &Frame) -> bool {
        use Frame::*;
        match (self, other) {
            (Simple(a), Simple(b))
            | (Error(a), Error(b))
            | (Bulk(a), Bulk(b))
            | (BigNumber(a), BigNumber(b))
            | (BulkError(a), BulkError(b)) => a == b,
            (Integer(a), Integer(b)) => a == b,
            (Null, Null) | (NullArray, NullArray) => true,
            (Array(a), Array(b)) | (Set(a), Set(b)) | (Push(a), Push(b)) => a == b,
            (Boolean(a), Boolean(b)) => a == b,
            (Double(a), Double(b)) => doubles_match(*a, *b),
            (
                Verbatim {
                    format: fa,
                    text: ta,
                },
                Verbatim {
                    format: fb,
                    text: tb,
                },
            ) => fa == fb && ta == tb,
            (Map(a), Map(b)) => a == b,
            (
                Attribute {
                    attributes: aa,
                    data: da,
                },
                Attribute {
                    attributes: ab,
                    data: db,
                },
            ) => aa == ab && da == db,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality_of_doubles() {
        assert_eq!(Frame::Double(f64::NAN), Frame::Double(-f64::NAN));
        assert_ne!(Frame::Double(0.0), Frame::Double(-0.0));
        assert_eq!(Frame::Double(1.5), Frame::Double(1.5));
        assert_ne!(Frame::Null, Frame::NullArray);
        assert_eq!(
            Frame::command(["GET", "k"]),
            Frame::Array(vec![Frame::bulk("GET"), Frame::bulk("k")])
        );
    }
}
