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

/// Bytes sent on a new connection to a server with a password, the exact reply, and what a
/// PING then gets (`None`: the server closed the connection). Recorded from redis-server
/// 7.0.15 started with `--requirepass secret`.
type PreAuthCase = (Vec<u8>, &'static [u8], Option<&'static [u8]>);

const NOAUTH: &[u8] = b"-NOAUTH Authentication required.\r\n";
const PONG: &[u8] = b"+PONG\r\n";
const UNAUTH_COUNT: &[u8] = b"-ERR Protocol error: unauthenticated multibulk length\r\n";
const UNAUTH_BULK: &[u8] = b"-ERR Protocol error: unauthenticated bulk length\r\n";
const AUTH: &[u8] = b"*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n";

/// `MSET` with 5 pairs: 11 arguments, one more than an unauthenticated client may send.
fn mset11() -> Vec<u8> {
    [
        &b"*11\r\n$4\r\nMSET\r\n"[..],
        &b"$1\r\nk\r\n$1\r\nv\r\n".repeat(5),
    ]
    .concat()
}

/// `cmd` with one bulk argument of `n` bytes.
fn with_bulk(cmd: &[u8], n: usize) -> Vec<u8> {
    let mut r = format!("*2\r\n${}\r\n", cmd.len()).into_bytes();
    r.extend_from_slice(cmd);
    r.extend_from_slice(format!("\r\n${n}\r\n").as_bytes());
    r.resize(r.len() + n, b'e');
    r.extend_from_slice(b"\r\n");
    r
}

fn pre_auth_cases() -> Vec<PreAuthCase> {
    let cat = |parts: &[&[u8]]| parts.concat();
    // A reply the cases borrow for the whole test.
    let big_echo: &'static [u8] = {
        let mut r = b"+OK\r\n$16385\r\n".to_vec();
        r.resize(r.len() + 16385, b'e');
        r.extend_from_slice(b"\r\n");
        r.leak()
    };
    let mget10 = cat(&[b"*10\r\n$4\r\nMGET\r\n", &b"$1\r\nk\r\n".repeat(9)]);
    vec![
        // More than 10 arguments, and a bulk over 16 KiB: refused at the header, closed.
        (b"*11\r\n".to_vec(), UNAUTH_COUNT, None),
        (mget10, NOAUTH, Some(NOAUTH)),
        (
            b"PING\r\n*11\r\n$3\r\nfoo\r\n".to_vec(),
            b"-NOAUTH Authentication required.\r\n-ERR Protocol error: unauthenticated multibulk length\r\n",
            None,
        ),
        (b"*2\r\n$3\r\nGET\r\n$16385\r\n".to_vec(), UNAUTH_BULK, None),
        // At the limits: accepted, then refused for want of AUTH.
        (with_bulk(b"GET", 16384), NOAUTH, Some(NOAUTH)),
        // Redis's own checks come first, and empty requests are not limited.
        (
            b"*2\r\n$3\r\nGET\r\n$-1\r\n".to_vec(),
            b"-ERR Protocol error: invalid bulk length\r\n",
            None,
        ),
        (
            b"*2\r\n$3\r\nGET\r\n$600000000\r\n".to_vec(),
            b"-ERR Protocol error: invalid bulk length\r\n",
            None,
        ),
        (
            b"*99999999999\r\n".to_vec(),
            b"-ERR Protocol error: invalid multibulk length\r\n",
            None,
        ),
        (b"*-5\r\n*0\r\nPING\r\n".to_vec(), NOAUTH, Some(NOAUTH)),
        // Inline requests are bounded by the inline limit only.
        (
            cat(&[b"GET", &b" a".repeat(20), b"\r\n"]),
            b"-ERR wrong number of arguments for 'get' command\r\n",
            Some(NOAUTH),
        ),
        (cat(&[b"GET ", &b"a".repeat(20_000), b"\r\n"]), NOAUTH, Some(NOAUTH)),
        // AUTH lifts the limits from the next request on, in the same write.
        (cat(&[AUTH, &mset11()]), b"+OK\r\n+OK\r\n", Some(PONG)),
        (cat(&[b"AUTH secret\r\n", &mset11()]), b"+OK\r\n+OK\r\n", Some(PONG)),
        (cat(&[AUTH, &with_bulk(b"ECHO", 16385)]), big_echo, Some(PONG)),
        // A wrong password changes nothing; RESET puts the limits back.
        (
            cat(&[b"*2\r\n$4\r\nAUTH\r\n$5\r\nwrong\r\n*11\r\n"]),
            b"-WRONGPASS invalid username-password pair or user is disabled.\r\n-ERR Protocol error: unauthenticated multibulk length\r\n",
            None,
        ),
        (
            cat(&[AUTH, b"*1\r\n$5\r\nRESET\r\n*11\r\n"]),
            b"+OK\r\n+RESET\r\n-ERR Protocol error: unauthenticated multibulk length\r\n",
            None,
        ),
    ]
}

#[test]
fn unauthenticated_clients_get_redis_s_small_limits() {
    let server = Server::start(&["--requirepass", "secret"]);
    check_pre_auth(server.addr);
}

fn check_pre_auth(addr: std::net::SocketAddr) {
    for (request, reply, then) in pre_auth_cases() {
        let what = String::from_utf8_lossy(&request[..request.len().min(60)]).into_owned();
        let mut c = super::support::Raw::connect(addr);
        c.send(&request);
        let got = c.read_n(reply.len());
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(reply),
            "after {what:?}"
        );
        match then {
            None => c.expect_closed(),
            Some(next) => c.roundtrip(b"*1\r\n$4\r\nPING\r\n", next),
        }
    }
}

#[test]
fn a_password_set_or_removed_at_run_time_applies_as_in_redis() {
    let server = Server::start(&[]);
    let mut a = server.raw();
    a.roundtrip(&mset11(), b"+OK\r\n");
    a.roundtrip(
        &resp(&[b"CONFIG", b"SET", b"requirepass", b"x"]),
        b"+OK\r\n",
    );
    // New connections must authenticate, and get the small limits until they do.
    let mut b = server.raw();
    b.roundtrip(b"*11\r\n", UNAUTH_COUNT);
    b.expect_closed();
    // A connection that needed no password keeps its full limits.
    a.roundtrip(&mset11(), b"+OK\r\n");
    let mut c = server.raw();
    c.roundtrip(b"PING\r\n", NOAUTH);
    // Without a password nobody must authenticate, at once (Redis's `authRequired`).
    a.roundtrip(&resp(&[b"CONFIG", b"SET", b"requirepass", b""]), b"+OK\r\n");
    c.roundtrip(b"PING\r\n", PONG);
    c.roundtrip(&mset11(), b"+OK\r\n");
    let mut echo = b"$20000\r\n".to_vec();
    echo.resize(echo.len() + 20_000, b'e');
    echo.extend_from_slice(b"\r\n");
    c.roundtrip(&with_bulk(b"ECHO", 20_000), &echo);
}

/// Reads one whole reply of any RESP2/RESP3 type, for replies whose bytes differ between
/// servers (HELLO names the server, its version and the client id).
fn skip_reply(c: &mut super::support::Raw) {
    let line = c.read_line();
    let n = || line[1..].trim_end().parse::<usize>().unwrap();
    match line.as_bytes()[0] {
        b'$' | b'=' | b'!' => drop(c.read_n(n() + 2)),
        b'*' | b'~' | b'>' => (0..n()).for_each(|_| skip_reply(c)),
        b'%' | b'|' => (0..2 * n()).for_each(|_| skip_reply(c)),
        _ => {}
    }
}

#[test]
fn hello_auth_lifts_the_limits_for_the_next_request() {
    let server = Server::start(&["--requirepass", "secret"]);
    for version in [&b"2"[..], b"3"] {
        let mut c = server.raw();
        let hello = resp(&[b"HELLO", version, b"AUTH", b"default", b"secret"]);
        c.send(&[&hello[..], &mset11()].concat());
        skip_reply(&mut c);
        c.expect(b"+OK\r\n");
    }
    // A wrong password leaves them in place.
    let mut c = server.raw();
    let hello = resp(&[b"HELLO", b"2", b"AUTH", b"default", b"wrong"]);
    c.send(&[&hello[..], b"*11\r\n"].concat());
    c.expect(b"-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    c.expect(UNAUTH_COUNT);
    c.expect_closed();
}

/// `proto-max-bulk-len` bounds requests and stored strings, and CONFIG SET changes it at once
/// for every connection, as in Redis (replies recorded from redis-server 7.0.15).
#[test]
fn proto_max_bulk_len_is_live() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    let set = |v: &str| resp(&[b"CONFIG", b"SET", b"proto-max-bulk-len", v.as_bytes()]);
    c.roundtrip(
        &set("1000"),
        b"-ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - argument \
          must be between 1048576 and 9223372036854775807 inclusive\r\n",
    );
    c.roundtrip(
        &set("abc"),
        b"-ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - argument \
          must be a memory value\r\n",
    );
    c.roundtrip(&resp(&[b"SET", b"k", b"v"]), b"+OK\r\n");
    // Another connection, open before the change, follows it from its next request.
    let mut other = server.raw();
    other.roundtrip(b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n");
    c.roundtrip(&set("1mb"), b"+OK\r\n");
    c.roundtrip(
        &resp(&[b"CONFIG", b"GET", b"proto-max-bulk-len"]),
        b"*2\r\n$18\r\nproto-max-bulk-len\r\n$7\r\n1048576\r\n",
    );
    let mut append = resp(&[b"APPEND", b"k"]);
    append[1] = b'3';
    append.extend_from_slice(b"$1048576\r\n");
    append.resize(append.len() + 1_048_576, b'y');
    append.extend_from_slice(b"\r\n");
    c.roundtrip(
        &append,
        b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n",
    );
    c.roundtrip(&resp(&[b"STRLEN", b"k"]), b":1\r\n");
    let mut too_long = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n".to_vec();
    too_long.resize(too_long.len() + 1_048_577, b'x');
    too_long.extend_from_slice(b"\r\n");
    // The bulk header alone is refused (the server answers and closes before the payload).
    other.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n");
    other.expect(b"-ERR Protocol error: invalid bulk length\r\n");
    other.expect_closed();
    c.roundtrip(&set("512mb"), b"+OK\r\n");
    c.roundtrip(&too_long, b"+OK\r\n");
}
