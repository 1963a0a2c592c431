//! Arbitrary bytes never panic either decoder: they yield values, `Incomplete` or an error, and a
//! prefix never disagrees with the whole input.

use kvproto::{Limits, Status, decode_frame, decode_request};
use proptest::prelude::*;

/// Random bytes drawn mostly from the protocol's own alphabet, so they get past the first byte.
fn protocol_soup() -> impl Strategy<Value = Vec<u8>> {
    const ALPHABET: &[u8] = b"*$+-:_#,(!=%~|>\r\n\r\n0123456789-tfinax?\"' \\";
    prop::collection::vec(
        prop_oneof![4 => prop::sample::select(ALPHABET), 1 => any::<u8>()],
        0..200,
    )
}

fn small_limits(pick: bool) -> Limits {
    if pick {
        Limits::default()
            .with_max_inline_len(16)
            .with_max_bulk_len(32)
            .with_max_array_len(8)
            .with_max_depth(3)
    } else {
        Limits::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn requests_never_panic(
        bytes in protocol_soup(),
        small in any::<bool>(),
        unauthenticated in any::<bool>(),
    ) {
        let limits = small_limits(small).with_unauthenticated(unauthenticated);
        let mut pos = 0;
        while let Ok(Status::Complete((req, used))) = decode_request(&bytes[pos..], &limits) {
            prop_assert!(used > 0 && pos + used <= bytes.len());
            prop_assert!(req.args().map(<[u8]>::len).sum::<usize>() <= used);
            for cut in 0..used {
                let pre = decode_request(&bytes[pos..pos + cut], &limits);
                prop_assert!(matches!(pre, Ok(Status::Incomplete)), "prefix gave {:?}", pre);
            }
            pos += used;
        }
    }

    #[test]
    fn replies_never_panic(bytes in protocol_soup(), small in any::<bool>()) {
        let limits = small_limits(small);
        let mut pos = 0;
        loop {
            let full = decode_frame(&bytes[pos..], &limits);
            // Any prefix is Incomplete or agrees with the whole input.
            for cut in 0..bytes.len() - pos {
                let pre = decode_frame(&bytes[pos..pos + cut], &limits);
                prop_assert!(pre == Ok(Status::Incomplete) || pre == full, "prefix {} gave {:?}, whole {:?}", cut, pre, full);
            }
            match full {
                Ok(Status::Complete((_, used))) => {
                    prop_assert!(used > 0 && pos + used <= bytes.len());
                    pos += used;
                }
                _ => break,
            }
        }
    }
}
