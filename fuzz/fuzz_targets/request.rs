//! Feeds arbitrary bytes to the request decoder, as a client would send them.
//!
//! Checks, besides "never panics": every complete request consumes at least one byte and no more
//! than it was given, and decoding a prefix yields `Incomplete` or exactly what the whole input
//! yields (the split-at-any-boundary property). The stateful `RequestDecoder`, fed the same bytes
//! in chunks, must yield exactly what `decode_request` yields.
#![no_main]

use kvproto::{Limits, RequestDecoder, Status, decode_request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Small limits reach the "too big" paths with small inputs.
    let limits = if data.first().is_some_and(|b| b & 1 == 1) {
        Limits::default()
            .with_max_inline_len(32)
            .with_max_bulk_len(64)
            .with_max_array_len(16)
    } else {
        Limits::default()
    };
    let mut expected = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let input = &data[pos..];
        let full = decode_request(input, &limits);
        // One split point per request, chosen from the data, for the prefix property.
        let cut = usize::from(input[0]) * input.len() / 256;
        match (&full, decode_request(&input[..cut], &limits)) {
            (_, Ok(Status::Incomplete)) => {}
            (Ok(Status::Complete((req, used))), Ok(Status::Complete((pre, pre_used)))) => {
                assert_eq!(
                    (req, used),
                    (&pre, &pre_used),
                    "prefix of {cut} bytes decoded differently"
                );
            }
            (Err(e), Err(pre)) => assert_eq!(*e, pre),
            (full, pre) => panic!("prefix of {cut} bytes gave {pre:?}, whole input {full:?}"),
        }
        match full {
            Ok(Status::Complete((req, used))) => {
                assert!(used > 0 && used <= input.len());
                let total: usize = req.args().map(<[u8]>::len).sum();
                assert!(total <= input.len(), "arguments longer than the input");
                expected.push(Ok((req.to_vec(), used)));
                pos += used;
            }
            Ok(Status::Incomplete) => break,
            Err(e) => {
                expected.push(Err(e));
                break;
            }
        }
    }

    // The same bytes in chunks whose sizes come from the data, through the stateful decoder.
    let mut decoder = RequestDecoder::new(limits);
    let mut got = Vec::new();
    let (mut start, mut end, mut i) = (0, 0, 0);
    'feed: while end < data.len() {
        end = (end + 1 + usize::from(data[i % data.len()] % 17)).min(data.len());
        i += 1;
        loop {
            match decoder.decode(&data[start..end]) {
                Ok(Status::Complete((req, used))) => {
                    got.push(Ok((req.to_vec(), used)));
                    start += used;
                }
                Ok(Status::Incomplete) => break,
                Err(e) => {
                    got.push(Err(e));
                    break 'feed;
                }
            }
        }
    }
    assert_eq!(
        got, expected,
        "RequestDecoder disagrees with decode_request"
    );
});
