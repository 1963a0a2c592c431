//! The server's sharp edges: requests that arrive in many pieces (the incremental decoder), and
//! clients that have not authenticated (Redis's small pre-authentication limits).

use std::io::Write;

use super::support::{Server, resp};

/// Requests with their exact replies, each meant to be split at every byte: arrays, inline
/// commands (CRLF and bare LF, quoted), empty requests that get no reply, a payload made of
/// CRLFs, and more arguments than a request keeps inline.
const UNITS: &[(&[u8], &[u8])] = &[
    (b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n", b"+OK\r\n"),
    (b"GET key\r\n", b"$5\r\nvalue\r\n"),
    (b"PING\n", b"+PONG\r\n"),
    (b"ECHO \"a b\"\r\n", b"$3\r\na b\r\n"),
    (
        b"*0\r\n\r\n*-1\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n",
        b"$2\r\nhi\r\n",
    ),
    (
        b"*2\r\n$4\r\nECHO\r\n$6\r\n\r\n\r\n\r\n\r\n",
        b"$6\r\n\r\n\r\n\r\n\r\n",
    ),
    (
        b"*9\r\n$4\r\nMSET\r\n$2\r\nk1\r\n$1\r\na\r\n$2\r\nk2\r\n$2\r\nbb\r\n$2\r\nk3\r\n$0\r\n\r\n$2\r\nk4\r\n$10\r\n0123456789\r\n",
        b"+OK\r\n",
    ),
    (
        b"*5\r\n$4\r\nMGET\r\n$2\r\nk1\r\n$2\r\nk2\r\n$2\r\nk3\r\n$2\r\nk4\r\n",
        b"*4\r\n$1\r\na\r\n$2\r\nbb\r\n$0\r\n\r\n$10\r\n0123456789\r\n",
    ),
];

#[test]
fn requests_split_at_every_byte_get_their_replies() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    c.stream.set_nodelay(true).unwrap();
    for (request, reply) in UNITS {
        for cut in 1..request.len() {
            // The PING's reply shows the server has read up to the cut (loopback delivers
            // the one write in one piece): it then holds a partial request.
            c.roundtrip(&[b"PING\r\n", &request[..cut]].concat(), b"+PONG\r\n");
            c.roundtrip(&request[cut..], reply);
        }
    }
    // The whole pipeline, one byte per write, and the replies in order.
    let pipeline: Vec<u8> = UNITS.iter().flat_map(|(r, _)| r.iter().copied()).collect();
    for b in &pipeline {
        c.send(std::slice::from_ref(b));
    }
    let replies: Vec<u8> = UNITS.iter().flat_map(|(_, r)| r.iter().copied()).collect();
    c.expect(&replies);
}

#[test]
fn a_huge_request_in_many_small_writes() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    c.stream.set_nodelay(true).unwrap();
    // MSET with 60 000 pairs: 120 001 arguments, about 2 MB.
    const PAIRS: usize = 60_000;
    let mut args: Vec<Vec<u8>> = vec![b"MSET".to_vec()];
    for i in 0..PAIRS {
        args.push(format!("key:{i}").into_bytes());
        args.push(format!("value:{}", i * 7).into_bytes());
    }
    let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    let request = resp(&refs);
    // Odd-sized writes, so the pieces end inside headers, payloads and CRLFs alike.
    for piece in request.chunks(1021) {
        c.stream.write_all(piece).unwrap();
    }
    c.expect(b"+OK\r\n");
    c.roundtrip(&resp(&[b"DBSIZE"]), format!(":{PAIRS}\r\n").as_bytes());
    for i in [0, 1, PAIRS / 2, PAIRS - 1] {
        let key = format!("key:{i}");
        let value = format!("value:{}", i * 7);
        let expected = format!("${}\r\n{value}\r\n", value.len());
        c.roundtrip(&resp(&[b"GET", key.as_bytes()]), expected.as_bytes());
    }
    // RPUSH with 100 000 elements, the same way, then the list's ends and length.
    let mut args: Vec<Vec<u8>> = vec![b"RPUSH".to_vec(), b"list".to_vec()];
    args.extend((0..100_000).map(|i| format!("e{i}").into_bytes()));
    let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    for piece in resp(&refs).chunks(777) {
        c.stream.write_all(piece).unwrap();
    }
    c.expect(b":100000\r\n");
    c.roundtrip(
        &resp(&[b"LRANGE", b"list", b"0", b"1"]),
        b"*2\r\n$2\r\ne0\r\n$2\r\ne1\r\n",
    );
    c.roundtrip(&resp(&[b"LINDEX", b"list", b"-1"]), b"$6\r\ne99999\r\n");
}
