//! Feeds arbitrary bytes to the request decoder, as a client would send them.
//!
//! Checks, besides "never panics": every complete request consumes at least one byte and no more
//! than it was given, and decoding a prefix yields `Incomplete` or exactly what the whole input
//! yields (the split-at-any-boundary property).
#![no_main]

use kvproto::{Limits, Status, decode_request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Small limits reach the "too big" paths with small inputs.
    let limits = if data.first().is_some_and(|b| b & 1 == 1) {
        Limits::default().with_max_inline_len(32).with_max_bulk_len(64).with_max_array_len(16)
    } else {
        Limits::default()
    };
    let mut pos = 0;
    while pos < data.len() {
        let input = &data[pos..];
        let full = decode_request(input, &limits);
        // One split point per request, chosen from the data, for the prefix property.
        let cut = usize::from(input[0]) * input.len() / 256;
        match (&full, decode_request(&input[..cut], &limits)) {
            (_, Ok(Status::Incomplete)) => {}
            (Ok(Status::Complete((req, used))), Ok(Status::Complete((pre, pre_used)))) => {
                assert_eq!((req, used), (&pre, &pre_used), "prefix of {cut} bytes decoded differently");
            }
            (Err(e), Err(pre)) => assert_eq!(*e, pre),
            (full, pre) => panic!("prefix of {cut} bytes gave {pre:?}, whole input {full:?}"),
        }
        match full {
            Ok(Status::Complete((req, used))) => {
                assert!(used > 0 && used <= input.len());
                let total: usize = req.args().map(<[u8]>::len).sum();
                assert!(total <= input.len(), "arguments longer than the input");
                pos += used;
            }
            Ok(Status::Incomplete) | Err(_) => break,
        }
    }
});
