//! Properties of the request decoder.

use kvproto::{Limits, Request, RequestDecoder, Status, Version, Writer, decode_request};
use proptest::prelude::*;

use crate::strategy::request_args;

fn encode_array(args: &[Vec<u8>], out: &mut Vec<u8>) {
    let mut w = Writer::new(out, Version::Resp2);
    w.array_len(args.len());
    for a in args {
        w.bulk(a);
    }
}

/// Quotes every argument the way `redis-cli` prints them (`"..."` with escapes).
fn encode_inline(args: &[Vec<u8>], out: &mut Vec<u8>) {
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.push(b'"');
        for &b in a {
            match b {
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'"' => out.extend_from_slice(b"\\\""),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0x07 => out.extend_from_slice(b"\\a"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x20..=0x7e => out.push(b),
                _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
            }
        }
        out.push(b'"');
    }
    out.extend_from_slice(b"\r\n");
}

/// Decodes the pipelined `bytes`, checking that every proper prefix of each request is
/// `Incomplete`, and returns the requests' arguments.
fn decode_all(bytes: &[u8]) -> Vec<Vec<Vec<u8>>> {
    let limits = Limits::default();
    let mut pos = 0;
    let mut requests = Vec::new();
    while pos < bytes.len() {
        let (req, used) = match decode_request(&bytes[pos..], &limits) {
            Ok(Status::Complete(done)) => done,
            other => panic!("at {pos}: {other:?}"),
        };
        for cut in pos..pos + used {
            assert_eq!(
                decode_request(&bytes[pos..cut], &limits).map(|s| s.is_incomplete()),
                Ok(true),
                "prefix {:?}",
                String::from_utf8_lossy(&bytes[pos..cut])
            );
        }
        requests.push(req.to_vec());
        pos += used;
    }
    requests
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arrays_round_trip_pipelined(reqs in prop::collection::vec(request_args(), 1..5)) {
        let mut bytes = Vec::new();
        for r in &reqs {
            encode_array(r, &mut bytes);
        }
        prop_assert_eq!(decode_all(&bytes), reqs);
    }

    #[test]
    fn quoted_inline_round_trips(reqs in prop::collection::vec(request_args(), 1..4)) {
        let mut bytes = Vec::new();
        for r in &reqs {
            encode_inline(r, &mut bytes);
        }
        prop_assert_eq!(decode_all(&bytes), reqs);
    }

    #[test]
    fn array_arguments_borrow_from_the_input(args in request_args()) {
        let mut bytes = Vec::new();
        encode_array(&args, &mut bytes);
        let (req, _) = decode_request(&bytes, &Limits::default()).unwrap().complete().unwrap();
        let range = bytes.as_ptr_range();
        for a in req.args() {
            prop_assert!(range.contains(&a.as_ptr()) || a.is_empty());
        }
        prop_assert_eq!(req, Request::from_args(args.iter().map(Vec::as_slice)));
    }
}

#[test]
fn mixed_pipeline() {
    let bytes = b"PING\r\n*1\r\n$4\r\nPING\r\n\r\n*0\r\nset k 'v w'\n*-1\r\n";
    let got = decode_all(bytes);
    let expected: Vec<Vec<Vec<u8>>> = vec![
        vec![b"PING".to_vec()],
        vec![b"PING".to_vec()],
        vec![],
        vec![],
        vec![b"set".to_vec(), b"k".to_vec(), b"v w".to_vec()],
        vec![],
    ];
    assert_eq!(got, expected);
}

/// Simulates a server: the bytes arrive in chunks of the given sizes, and after each chunk the
/// stateful decoder is asked for every complete request at the front of the unconsumed bytes.
fn decode_chunked(bytes: &[u8], chunks: &[usize]) -> Vec<Vec<Vec<u8>>> {
    let mut decoder = RequestDecoder::new(Limits::default());
    let mut requests = Vec::new();
    let (mut start, mut end) = (0, 0);
    let mut sizes = chunks.iter().cycle();
    while end < bytes.len() {
        end = (end + sizes.next().copied().unwrap_or(1).max(1)).min(bytes.len());
        while let Status::Complete((req, used)) = decoder.decode(&bytes[start..end]).unwrap() {
            requests.push(req.to_vec());
            start += used;
        }
    }
    assert_eq!(start, bytes.len(), "bytes left over");
    requests
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn stateful_decoder_agrees_with_decode_request(
        reqs in prop::collection::vec((request_args(), any::<bool>()), 1..5),
        chunks in prop::collection::vec(1usize..40, 1..6),
    ) {
        let mut bytes = Vec::new();
        for (r, inline) in &reqs {
            if *inline { encode_inline(r, &mut bytes) } else { encode_array(r, &mut bytes) }
        }
        let expected = decode_all(&bytes);
        prop_assert_eq!(decode_chunked(&bytes, &chunks), expected);
    }
}
