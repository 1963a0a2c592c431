//! Feeds arbitrary bytes to the reply decoder, as a server would send them.
//!
//! Checks, besides "never panics": a decoded frame re-encoded as RESP3 decodes back to itself,
//! and its RESP2 downgrade decodes too; decoding a prefix yields `Incomplete` or the same result.
#![no_main]

use kvproto::{Frame, Limits, Status, Version, decode_frame, encode};
use libfuzzer_sys::fuzz_target;

/// RESP3 has one null: a RESP2 null array comes back as `Frame::Null`.
fn resp3_view(f: &Frame) -> Frame {
    match f {
        Frame::NullArray => Frame::Null,
        Frame::Array(v) => Frame::Array(v.iter().map(resp3_view).collect()),
        Frame::Set(v) => Frame::Set(v.iter().map(resp3_view).collect()),
        Frame::Push(v) => Frame::Push(v.iter().map(resp3_view).collect()),
        Frame::Map(p) => Frame::Map(
            p.iter()
                .map(|(k, v)| (resp3_view(k), resp3_view(v)))
                .collect(),
        ),
        Frame::Attribute { attributes, data } => Frame::Attribute {
            attributes: attributes
                .iter()
                .map(|(k, v)| (resp3_view(k), resp3_view(v)))
                .collect(),
            data: Box::new(resp3_view(data)),
        },
        other => other.clone(),
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = if data.first().is_some_and(|b| b & 1 == 1) {
        Limits::default()
            .with_max_depth(4)
            .with_max_bulk_len(64)
            .with_max_array_len(16)
    } else {
        Limits::default()
    };
    let mut pos = 0;
    while pos < data.len() {
        let input = &data[pos..];
        let full = decode_frame(input, &limits);
        let cut = usize::from(input[0]) * input.len() / 256;
        match (&full, decode_frame(&input[..cut], &limits)) {
            (_, Ok(Status::Incomplete)) => {}
            (Ok(Status::Complete(f)), Ok(Status::Complete(p))) => assert_eq!(f, &p),
            (Err(e), Err(p)) => assert_eq!(*e, p),
            (full, pre) => panic!("prefix of {cut} bytes gave {pre:?}, whole input {full:?}"),
        }
        let Ok(Status::Complete((frame, used))) = full else {
            break;
        };
        assert!(used > 0 && used <= input.len());
        let mut out = Vec::new();
        encode(&frame, Version::Resp3, &mut out);
        match decode_frame(&out, &limits) {
            Ok(Status::Complete((again, n))) => {
                assert_eq!(n, out.len());
                assert_eq!(again, resp3_view(&frame));
            }
            other => panic!("re-encoded {frame:?} as {out:?} decoded as {other:?}"),
        }
        out.clear();
        encode(&frame, Version::Resp2, &mut out);
        // A map of n pairs becomes an array of 2n elements: check it against the defaults.
        match decode_frame(&out, &Limits::default()) {
            Ok(Status::Complete((_, n))) => assert_eq!(n, out.len()),
            other => panic!("RESP2 form of {frame:?} ({out:?}) decoded as {other:?}"),
        }
        pos += used;
    }
});
