//! Regressions: the request cases of Redis's own `tests/unit/protocol.tcl`, so kvproto keeps
//! answering them as Redis does, and inputs found by the fuzz targets (fuzz/).

use kvproto::{Limits, ProtocolError, Status, decode_request};

/// Decodes pipelined requests until the input runs out or an error; returns the argument lists
/// and how it ended.
fn run(input: &[u8]) -> (Vec<Vec<Vec<u8>>>, Result<(), ProtocolError>) {
    let limits = Limits::default();
    let mut pos = 0;
    let mut reqs = Vec::new();
    loop {
        match decode_request(&input[pos..], &limits) {
            Ok(Status::Complete((req, used))) => {
                reqs.push(req.to_vec());
                pos += used;
            }
            Ok(Status::Incomplete) => return (reqs, Ok(())),
            Err(e) => return (reqs, Err(e)),
        }
    }
}

fn ping() -> Vec<Vec<u8>> {
    vec![b"PING".to_vec()]
}

#[test]
fn redis_handle_an_empty_query() {
    assert_eq!(run(b"\r\nPING\r\n"), (vec![vec![], ping()], Ok(())));
}

#[test]
fn redis_negative_multibulk_length() {
    assert_eq!(run(b"*-10\r\nPING\r\n"), (vec![vec![], ping()], Ok(())));
}

#[test]
fn redis_out_of_range_multibulk_length() {
    assert_eq!(
        run(b"*3000000000\r\n").1,
        Err(ProtocolError::InvalidMultibulkLength)
    );
}

#[test]
fn redis_wrong_multibulk_payload_header() {
    let (_, end) = run(b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n");
    assert_eq!(end, Err(ProtocolError::ExpectedBulk(b'f')));
    assert_eq!(
        end.unwrap_err().to_string(),
        "Protocol error: expected '$', got 'f'"
    );
}

#[test]
fn redis_negative_out_of_range_and_non_number_payload_length() {
    for len in ["-10", "2000000000", "blabla"] {
        let input = format!("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n${len}\r\n");
        assert_eq!(
            run(input.as_bytes()).1,
            Err(ProtocolError::InvalidBulkLength),
            "{len}"
        );
    }
}

#[test]
fn redis_multibulk_request_not_followed_by_bulk_arguments() {
    assert_eq!(
        run(b"*1\r\nfoo\r\n").1,
        Err(ProtocolError::ExpectedBulk(b'f'))
    );
}

#[test]
fn redis_unbalanced_number_of_quotes() {
    let (reqs, end) = run(b"set \"\"\"test-key\"\"\" test-value\r\nping\r\n");
    assert!(reqs.is_empty());
    assert_eq!(
        end.unwrap_err().to_string(),
        "Protocol error: unbalanced quotes in request"
    );
}

/// Redis's "protocol desync regression test": after each of these starts, an endless stream of
/// `AAAA...\n` lines must end in a protocol error, not be run as commands.
#[test]
fn redis_protocol_desync() {
    let line = [&[b'A'; 1024][..], b"\n"].concat();
    for (start, error) in [
        (&b"\x00"[..], ProtocolError::TooBigInlineRequest),
        (b"*\x00", ProtocolError::TooBigMultibulkCount),
        (b"$\x00", ProtocolError::TooBigInlineRequest),
    ] {
        let mut input = start.to_vec();
        for _ in 0..70 {
            input.extend_from_slice(&line);
        }
        let (reqs, end) = run(&input);
        assert!(reqs.is_empty(), "{start:?} ran {} commands", reqs.len());
        assert_eq!(end, Err(error), "{start:?}");
    }
}
