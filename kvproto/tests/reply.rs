//! Properties of the reply encoder and decoder.

use kvproto::{Frame, Limits, Status, Version, decode_frame, encode};
use proptest::prelude::*;

use crate::strategy::{frame, resp2_view, resp3_view};

/// Encodes `frames` back to back, then checks that every proper prefix of each frame is
/// `Incomplete` and that the stream decodes to `expected`, each frame consuming exactly its bytes.
fn check_stream(frames: &[Frame], version: Version, view: fn(&Frame) -> Frame) {
    let limits = Limits::default();
    let mut bytes = Vec::new();
    let mut ends = Vec::new();
    for f in frames {
        encode(f, version, &mut bytes);
        ends.push(bytes.len());
    }
    let mut start = 0;
    for (f, end) in frames.iter().zip(ends) {
        for cut in start..end {
            assert_eq!(
                decode_frame(&bytes[start..cut], &limits),
                Ok(Status::Incomplete),
                "prefix {:?} of {f:?}",
                String::from_utf8_lossy(&bytes[start..cut])
            );
        }
        let decoded = decode_frame(&bytes[start..], &limits);
        assert_eq!(
            decoded,
            Ok(Status::Complete((view(f), end - start))),
            "{f:?} as {version:?}"
        );
        start = end;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn resp3_round_trip_split_anywhere(frames in prop::collection::vec(frame(), 1..3)) {
        check_stream(&frames, Version::Resp3, resp3_view);
    }

    #[test]
    fn resp2_round_trip_split_anywhere(frames in prop::collection::vec(frame(), 1..3)) {
        check_stream(&frames, Version::Resp2, resp2_view);
    }

    #[test]
    fn writer_and_encode_agree_on_doubles(d in any::<f64>()) {
        for version in [Version::Resp2, Version::Resp3] {
            let mut a = Vec::new();
            encode(&Frame::Double(d), version, &mut a);
            let mut b = Vec::new();
            kvproto::Writer::new(&mut b, version).double(d);
            prop_assert_eq!(&a, &b);
            // The text is shortest round-trip: it parses back to the same double.
            let decoded = decode_frame(&a, &Limits::default()).unwrap().complete().unwrap().0;
            match (version, decoded) {
                (Version::Resp3, Frame::Double(back)) => {
                    prop_assert!(back.to_bits() == d.to_bits() || (d.is_nan() && back.is_nan()));
                }
                (Version::Resp2, Frame::Bulk(text)) => {
                    let back: f64 = std::str::from_utf8(&text).unwrap().parse().unwrap();
                    prop_assert!(back.to_bits() == d.to_bits() || (d.is_nan() && back.is_nan()));
                }
                (_, other) => prop_assert!(false, "unexpected {:?}", other),
            }
        }
    }
}

#[test]
fn nesting_depth_is_bounded_without_recursing_past_it() {
    let mut deep = b"*1\r\n".repeat(100_000);
    deep.extend_from_slice(b":1\r\n");
    assert_eq!(
        decode_frame(&deep, &Limits::default()),
        Err(kvproto::ProtocolError::TooDeep)
    );
    let limits = Limits::default().with_max_depth(3);
    assert!(
        decode_frame(b"*1\r\n*1\r\n*1\r\n:1\r\n", &limits)
            .unwrap()
            .is_complete()
    );
    let attrs = b"|0\r\n".repeat(100_000);
    assert_eq!(
        decode_frame(&attrs, &Limits::default()),
        Err(kvproto::ProtocolError::TooDeep)
    );
}

#[test]
fn huge_declared_lengths_allocate_nothing_up_front() {
    // A 13-byte header declaring two billion elements must not reserve memory for them: the
    // decoder reports Incomplete (and would grow only as elements arrive).
    let limits = Limits::default();
    assert_eq!(
        decode_frame(b"*2000000000\r\n", &limits),
        Ok(Status::Incomplete)
    );
    assert_eq!(
        decode_frame(b"%2000000000\r\n:1\r\n", &limits),
        Ok(Status::Incomplete)
    );
    assert_eq!(
        decode_frame(b"$536870912\r\nabc", &limits),
        Ok(Status::Incomplete)
    );
}
