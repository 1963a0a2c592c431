//! proptest strategies shared by the property tests.

use kvproto::{Frame, Version, encode};
use proptest::prelude::*;

/// Bytes without CR or LF, as a simple string or error line must be.
pub(crate) fn line_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        any::<u8>().prop_filter("no CR/LF", |b| *b != b'\r' && *b != b'\n'),
        0..12,
    )
}

/// Binary bytes, biased towards the protocol's own delimiters.
pub(crate) fn blob() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            any::<u8>(),
            Just(b'\r'),
            Just(b'\n'),
            Just(b'$'),
            Just(b'*')
        ],
        0..24,
    )
}

fn big_number() -> impl Strategy<Value = Vec<u8>> {
    (any::<bool>(), prop::collection::vec(b'0'..=b'9', 1..30)).prop_map(|(neg, mut digits)| {
        if neg {
            digits.insert(0, b'-');
        }
        digits
    })
}

fn double() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(f64::NAN),
        Just(-0.0),
        (-1_000_000i64..1_000_000).prop_map(|n| n as f64 / 8.0),
    ]
}

fn leaf() -> impl Strategy<Value = Frame> {
    prop_oneof![
        line_bytes().prop_map(Frame::Simple),
        line_bytes().prop_map(Frame::Error),
        any::<i64>().prop_map(Frame::Integer),
        blob().prop_map(Frame::Bulk),
        Just(Frame::Null),
        Just(Frame::NullArray),
        any::<bool>().prop_map(Frame::Boolean),
        double().prop_map(Frame::Double),
        big_number().prop_map(Frame::BigNumber),
        blob().prop_map(Frame::BulkError),
        (any::<[u8; 3]>(), blob()).prop_map(|(format, text)| Frame::Verbatim { format, text }),
    ]
}

/// Any frame of every RESP2/RESP3 type, nested a few levels.
pub(crate) fn frame() -> impl Strategy<Value = Frame> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        let pairs = prop::collection::vec((inner.clone(), inner.clone()), 0..4);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Frame::Array),
            prop::collection::vec(inner.clone(), 0..6).prop_map(Frame::Set),
            prop::collection::vec(inner.clone(), 0..6).prop_map(Frame::Push),
            pairs.clone().prop_map(Frame::Map),
            (pairs, inner).prop_map(|(attributes, data)| Frame::Attribute {
                attributes,
                data: Box::new(data)
            }),
        ]
    })
}

/// The arguments of one request: a command name and a few binary arguments.
pub(crate) fn request_args() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(blob(), 1..9)
}

fn map_items(items: &[Frame], f: fn(&Frame) -> Frame) -> Vec<Frame> {
    items.iter().map(f).collect()
}

fn map_pairs(pairs: &[(Frame, Frame)], f: fn(&Frame) -> Frame) -> Vec<(Frame, Frame)> {
    pairs.iter().map(|(k, v)| (f(k), f(v))).collect()
}

/// What a RESP3 peer decodes from `f`: the only change is that RESP3 has one null.
pub(crate) fn resp3_view(f: &Frame) -> Frame {
    match f {
        Frame::NullArray => Frame::Null,
        Frame::Array(v) => Frame::Array(map_items(v, resp3_view)),
        Frame::Set(v) => Frame::Set(map_items(v, resp3_view)),
        Frame::Push(v) => Frame::Push(map_items(v, resp3_view)),
        Frame::Map(p) => Frame::Map(map_pairs(p, resp3_view)),
        Frame::Attribute { attributes, data } => Frame::Attribute {
            attributes: map_pairs(attributes, resp3_view),
            data: Box::new(resp3_view(data)),
        },
        other => other.clone(),
    }
}

/// Redis's text for a double, taken from the RESP3 encoding (`,<text>\r\n`).
pub(crate) fn double_text(d: f64) -> Vec<u8> {
    let mut out = Vec::new();
    encode(&Frame::Double(d), Version::Resp3, &mut out);
    out[1..out.len() - 2].to_vec()
}

fn sanitize(b: &[u8]) -> Vec<u8> {
    b.iter()
        .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
        .collect()
}

/// What a RESP2 peer decodes from `f`: the downgrades Redis applies.
pub(crate) fn resp2_view(f: &Frame) -> Frame {
    match f {
        Frame::Array(v) | Frame::Set(v) | Frame::Push(v) => Frame::Array(map_items(v, resp2_view)),
        Frame::Map(p) => Frame::Array(
            p.iter()
                .flat_map(|(k, v)| [resp2_view(k), resp2_view(v)])
                .collect(),
        ),
        Frame::Attribute { data, .. } => resp2_view(data),
        Frame::Boolean(b) => Frame::Integer(i64::from(*b)),
        Frame::Double(d) => Frame::Bulk(double_text(*d)),
        Frame::BigNumber(n) => Frame::Bulk(n.clone()),
        Frame::Verbatim { text, .. } => Frame::Bulk(text.clone()),
        Frame::BulkError(e) => Frame::Error(sanitize(e)),
        other => other.clone(),
    }
}
