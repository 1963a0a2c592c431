//! CLIENT TRACKING across connections: a RESP3 reader gets the invalidation of a key another
//! connection writes, an expired key invalidates too, and `tracking-table-max-keys` bounds the
//! table by invalidating the oldest keys (see also tracking.txt, replayed by replies.rs, and
//! the redis-py suite `tests/clients/redis_py/test_tracking.py`).

use super::support::{Raw, Server, resp};

fn reader(server: &Server, options: &[&[u8]]) -> Raw {
    let mut r = server.raw();
    r.send(&resp(&[b"HELLO", b"3"]));
    // HELLO's map ends with its `modules` entry, an empty array.
    while r.read_line() != "*0\r\n" {}
    let mut args: Vec<&[u8]> = vec![b"CLIENT", b"TRACKING", b"on"];
    args.extend_from_slice(options);
    r.roundtrip(&resp(&args), b"+OK\r\n");
    r
}

fn invalidate(keys: &[&str]) -> Vec<u8> {
    let mut out = format!(">2\r\n$10\r\ninvalidate\r\n*{}\r\n", keys.len()).into_bytes();
    for k in keys {
        out.extend_from_slice(format!("${}\r\n{k}\r\n", k.len()).as_bytes());
    }
    out
}

#[test]
fn another_connections_write_invalidates_a_read_key() {
    let server = Server::start(&[]);
    let mut w = server.raw();
    w.roundtrip(&resp(&[b"SET", b"k", b"1"]), b"+OK\r\n");
    let mut r = reader(&server, &[]);
    r.roundtrip(&resp(&[b"GET", b"k"]), b"$1\r\n1\r\n");
    // An unread key is not tracked: only `k`'s invalidation comes.
    w.roundtrip(&resp(&[b"SET", b"other", b"1"]), b"+OK\r\n");
    w.roundtrip(&resp(&[b"INCR", b"k"]), b":2\r\n");
    r.expect(&invalidate(&["k"]));
    // Forgotten once invalidated: a second write sends nothing until the next read.
    w.roundtrip(&resp(&[b"INCR", b"k"]), b":3\r\n");
    r.roundtrip(&resp(&[b"PING"]), b"+PONG\r\n");
}

#[test]
fn bcast_sends_the_writers_keys_under_each_prefix() {
    let server = Server::start(&[]);
    let mut r = reader(&server, &[b"BCAST", b"PREFIX", b"a:", b"PREFIX", b"b:"]);
    let mut w = server.raw();
    w.roundtrip(
        &resp(&[b"MSET", b"a:2", b"x", b"c:1", b"x", b"a:1", b"x"]),
        b"+OK\r\n",
    );
    r.expect(&invalidate(&["a:1", "a:2"]));
    w.roundtrip(&resp(&[b"DEL", b"a:1", b"b:1"]), b":1\r\n");
    r.expect(&invalidate(&["a:1"]));
}

#[test]
fn an_expired_key_is_invalidated() {
    let server = Server::start(&[]);
    let mut w = server.raw();
    w.roundtrip(&resp(&[b"SET", b"e", b"v", b"PX", b"50"]), b"+OK\r\n");
    let mut r = reader(&server, &[]);
    r.send(&resp(&[b"GET", b"e"]));
    let first = r.read_line();
    if first == "$1\r\n" {
        r.expect(b"v\r\n");
        // Active expiry removes it (or a read finds it gone): the invalidation follows.
        r.expect(&invalidate(&["e"]));
    } else {
        assert_eq!(first, "_\r\n", "already expired before the read");
    }
}

#[test]
fn the_table_is_bounded_by_tracking_table_max_keys() {
    let server = Server::start(&[]);
    let mut w = server.raw();
    w.roundtrip(
        &resp(&[b"CONFIG", b"SET", b"tracking-table-max-keys", b"2"]),
        b"+OK\r\n",
    );
    let mut r = reader(&server, &[]);
    r.roundtrip(&resp(&[b"GET", b"k1"]), b"_\r\n");
    r.roundtrip(&resp(&[b"GET", b"k2"]), b"_\r\n");
    // A third key evicts the oldest, which is invalidated.
    r.send(&resp(&[b"GET", b"k3"]));
    r.expect(b"_\r\n");
    r.expect(&invalidate(&["k1"]));
    w.send(&resp(&[b"INFO", b"stats"]));
    let info = String::from_utf8_lossy(&w.read_bulk()).into_owned();
    assert!(info.contains("tracking_total_keys:2\r\n"), "{info}");
    w.send(&resp(&[b"INFO", b"clients"]));
    let info = String::from_utf8_lossy(&w.read_bulk()).into_owned();
    assert!(info.contains("tracking_clients:1\r\n"), "{info}");
}
