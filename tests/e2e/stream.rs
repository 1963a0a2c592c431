//! Streams through the server, byte for byte as redis-server 7.0.15 answered the same
//! sessions (recorded with a script against `redis-server --port 7461`): the ID rules and every
//! error text of XADD, XRANGE, XREVRANGE, XDEL, XTRIM, XSETID and XREAD, RESP2 and RESP3 shapes,
//! XREAD inside MULTI, blocked readers woken by XADD, and the keyspace events.

use std::thread;

use super::support::{Raw, Server, Session, expect_replies, resp};

fn check(session: Session<'_>) {
    let server = Server::start(&[]);
    expect_replies(&mut server.raw(), session);
}

/// Switches `raw` to RESP3 and skips HELLO's reply (its version and id are kv's own).
fn hello3(raw: &mut Raw) {
    raw.send(&resp(&[b"HELLO", b"3"]));
    while raw.read_line() != "*0\r\n" {}
}

#[test]
#[rustfmt::skip]
fn xadd_ids_options_and_errors() {
    check(&[
        (&[b"XADD", b"s", b"1-1", b"f", b"v"], b"$3\r\n1-1\r\n"),
        (&[b"XADD", b"s", b"1-1", b"f", b"v"], b"-ERR The ID specified in XADD is equal or smaller than the target stream top item\r\n"),
        (&[b"XADD", b"s", b"1-0", b"f", b"v"], b"-ERR The ID specified in XADD is equal or smaller than the target stream top item\r\n"),
        (&[b"XADD", b"s", b"0-0", b"f", b"v"], b"-ERR The ID specified in XADD must be greater than 0-0\r\n"),
        (&[b"XADD", b"s", b"0-1", b"f", b"v"], b"-ERR The ID specified in XADD is equal or smaller than the target stream top item\r\n"),
        (&[b"XADD", b"s", b"1-*", b"a", b"b", b"c", b"d"], b"$3\r\n1-2\r\n"),
        (&[b"XADD", b"s", b"2-*", b"f", b"v"], b"$3\r\n2-0\r\n"),
        (&[b"XADD", b"s", b"abc", b"f", b"v"], b"-ERR Invalid stream ID specified as stream command argument\r\n"),
        (&[b"XADD", b"s", b"1-2-3", b"f", b"v"], b"-ERR Invalid stream ID specified as stream command argument\r\n"),
        (&[b"XADD", b"s", b"-", b"f", b"v"], b"-ERR Invalid stream ID specified as stream command argument\r\n"),
        (&[b"XADD", b"s", b"+", b"f", b"v"], b"-ERR Invalid stream ID specified as stream command argument\r\n"),
        (&[b"XADD", b"s", b"f", b"v"], b"-ERR wrong number of arguments for 'xadd' command\r\n"),
        (&[b"XADD", b"s", b"*", b"f"], b"-ERR wrong number of arguments for 'xadd' command\r\n"),
        (&[b"XADD", b"s", b" 3", b"f", b"v"], b"$3\r\n3-0\r\n"),
        (&[b"XADD", b"s", b"007-+1", b"f", b"v"], b"$3\r\n7-1\r\n"),
        (&[b"XADD", b"s", b"18446744073709551616-0", b"f", b"v"], b"-ERR Invalid stream ID specified as stream command argument\r\n"),
        (&[b"XADD", b"s", b"-5", b"f", b"v"], b"-ERR Invalid stream ID specified as stream command argument\r\n"),
        (&[b"XADD", b"s", b"MAXLEN", b"-1", b"*", b"f", b"v"], b"-ERR The MAXLEN argument must be >= 0.\r\n"),
        (&[b"XADD", b"s", b"MAXLEN", b"x", b"*", b"f", b"v"], b"-ERR value is not an integer or out of range\r\n"),
        (&[b"XADD", b"s", b"MAXLEN", b"=", b"2", b"LIMIT", b"5", b"*", b"f", b"v"], b"-ERR syntax error, LIMIT cannot be used without the special ~ option\r\n"),
        (&[b"XADD", b"s", b"LIMIT", b"5", b"*", b"f", b"v"], b"-ERR syntax error, LIMIT cannot be used without specifying a trimming strategy\r\n"),
        (&[b"XADD", b"s", b"LIMIT", b"0", b"*", b"f", b"v"], b"-ERR syntax error, LIMIT cannot be used without the special ~ option\r\n"),
        (&[b"XADD", b"s", b"LIMIT", b"-1", b"*", b"f", b"v"], b"-ERR The LIMIT argument must be >= 0.\r\n"),
        (&[b"XADD", b"s", b"MAXLEN", b"1", b"MINID", b"1", b"*", b"f", b"v"], b"-ERR syntax error, MAXLEN and MINID options at the same time are not compatible\r\n"),
        (&[b"XADD", b"s", b"MINID", b"-", b"*", b"f", b"v"], b"-ERR Invalid stream ID specified as stream command argument\r\n"),
        (&[b"XADD", b"s", b"MINID", b"5", b"99-1", b"f", b"v"], b"$4\r\n99-1\r\n"),
        (&[b"XADD", b"s", b"MAXLEN", b"~", b"10", b"LIMIT", b"0", b"100-1", b"f", b"v"], b"$5\r\n100-1\r\n"),
        (&[b"XADD", b"s", b"MAXLEN", b"2", b"101-1", b"f", b"v"], b"$5\r\n101-1\r\n"),
        (&[b"XRANGE", b"s", b"-", b"+"], b"*2\r\n*2\r\n$5\r\n100-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n*2\r\n$5\r\n101-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"),
        (&[b"XLEN", b"s"], b":2\r\n"),
        (&[b"XADD", b"nokey", b"NOMKSTREAM", b"*", b"f", b"v"], b"$-1\r\n"),
        (&[b"XADD", b"nokey", b"NOMKSTREAM", b"MAXLEN", b"0", b"1-1", b"f", b"v"], b"$-1\r\n"),
        (&[b"EXISTS", b"nokey"], b":0\r\n"),
        (&[b"SET", b"str", b"x"], b"+OK\r\n"),
        (&[b"XADD", b"str", b"*", b"f", b"v"], b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        (&[b"XADD", b"str", b"0-0", b"f", b"v"], b"-ERR The ID specified in XADD must be greater than 0-0\r\n"),
        (&[b"XLEN", b"str"], b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        (&[b"XRANGE", b"str", b"-", b"+"], b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        (&[b"XADD", b"e", b"18446744073709551615-18446744073709551615", b"f", b"v"], b"$41\r\n18446744073709551615-18446744073709551615\r\n"),
        (&[b"XADD", b"e", b"*", b"f", b"v"], b"-ERR The stream has exhausted the last possible ID, unable to add more items\r\n"),
        (&[b"XADD", b"q", b"5-18446744073709551615", b"f", b"v"], b"$22\r\n5-18446744073709551615\r\n"),
        (&[b"XADD", b"q", b"5-*", b"f", b"v"], b"-ERR Elements are too large to be stored\r\n"),
        (&[b"TYPE", b"s"], b"+stream\r\n"),
        (&[b"OBJECT", b"ENCODING", b"s"], b"$6\r\nstream\r\n"),
        (&[b"XADD", b"s", b"maxlen", b"1"], b"-ERR wrong number of arguments for 'xadd' command\r\n"),
        (&[b"XADD", b"s", b"nomkstream", b"maxlen"], b"-ERR wrong number of arguments for 'xadd' command\r\n"),
    ]);
}

#[test]
#[rustfmt::skip]
fn ranges_deletes_trims_and_setid() {
    check(&[
        (&[b"XADD", b"s", b"1-0", b"f", b"v10", b"g", b"x"], b"$3\r\n1-0\r\n"),
        (&[b"XADD", b"s", b"1-1", b"f", b"v11", b"g", b"x"], b"$3\r\n1-1\r\n"),
        (&[b"XADD", b"s", b"2-0", b"f", b"v20", b"g", b"x"], b"$3\r\n2-0\r\n"),
        (&[b"XADD", b"s", b"2-1", b"f", b"v21", b"g", b"x"], b"$3\r\n2-1\r\n"),
        (&[b"XADD", b"s", b"3-0", b"f", b"v30", b"g", b"x"], b"$3\r\n3-0\r\n"),
        (&[b"XADD", b"s", b"3-1", b"f", b"v31", b"g", b"x"], b"$3\r\n3-1\r\n"),
        (&[b"XRANGE", b"s", b"-", b"+"], b"*6\r\n*2\r\n$3\r\n1-0\r\n*4\r\n$1\r\nf\r\n$3\r\nv10\r\n$1\r\ng\r\n$1\r\nx\r\n*2\r\n$3\r\n1-1\r\n*4\r\n$1\r\nf\r\n$3\r\nv11\r\n$1\r\ng\r\n$1\r\nx\r\n*2\r\n$3\r\n2-0\r\n*4\r\n$1\r\nf\r\n$3\r\nv20\r\n$1\r\ng\r\n$1\r\nx\r\n*2\r\n$3\r\n2-1\r\n*4\r\n$1\r\nf\r\n$3\r\nv21\r\n$1\r\ng\r\n$1\r\nx\r\n*2\r\n$3\r\n3-0\r\n*4\r\n$1\r\nf\r\n$3\r\nv30\r\n$1\r\ng\r\n$1\r\nx\r\n*2\r\n$3\r\n3-1\r\n*4\r\n$1\r\nf\r\n$3\r\nv31\r\n$1\r\ng\r\n$1\r\nx\r\n"),
        (&[b"XRANGE", b"s", b"2", b"2"], b"*2\r\n*2\r\n$3\r\n2-0\r\n*4\r\n$1\r\nf\r\n$3\r\nv20\r\n$1\r\ng\r\n$1\r\nx\r\n*2\r\n$3\r\n2-1\r\n*4\r\n$1\r\nf\r\n$3\r\nv21\r\n$1\r\ng\r\n$1\r\nx\r\n"),
        (&[b"XRANGE", b"s", b"(1-1", b"(3-1"], b"*3\r\n*2\r\n$3\r\n2-0\r\n*4\r\n$1\r\nf\r\n$3\r\nv20\r\n$1\r\ng\r\n$1\r\nx\r\n*2\r\n$3\r\n2-1\r\n*4\r\n$1\r\nf\r\n$3\r\nv21\r\n$1\r\ng\r\n$1\r\nx\r\n*2\r\n$3\r\n3-0\r\n*4\r\n$1\r\nf\r\n$3\r\nv30\r\n$1\r\ng\r\n$1\r\nx\r\n"),
        (&[b"XRANGE", b"s", b"(1", b"+"], b"*5\r\n*2\r\n$3\r\n1-1\r\n*4\r\n$1\r\nf\r\n$3\r\nv11\r\n$1\r\ng\r\n$1\r\nx\r\n*2\r\n$3\r\n2-0\r\n*4\r\n$1\r\nf\r\n$3\r\nv20\r\n$1\r\ng\r\n$1\r\nx\r\n*2\r\n$3\r\n2-1\r\n*4\r\n$1\r\nf\r\n$3\r\nv21\r\n$1\r\ng\r\n$1\r\nx\r\n*2\r\n$3\r\n3-0\r\n*4\r\n$1\r\nf\r\n$3\r\nv30\r\n$1\r\ng\r\n$1\r\nx\r\n*2\r\n$3\r\n3-1\r\n*4\r\n$1\r\nf\r\n$3\r\nv31\r\n$1\r\ng\r\n$1\r\nx\r\n"),
        (&[b"XRANGE", b"s", b"-", b"+", b"COUNT", b"2"], b"*2\r\n*2\r\n$3\r\n1-0\r\n*4\r\n$1\r\nf\r\n$3\r\nv10\r\n$1\r\ng\r\n$1\r\nx\r\n*2\r\n$3\r\n1-1\r\n*4\r\n$1\r\nf\r\n$3\r\nv11\r\n$1\r\ng\r\n$1\r\nx\r\n"),
        (&[b"XRANGE", b"s", b"-", b"+", b"COUNT", b"0"], b"*-1\r\n"),
        (&[b"XRANGE", b"s", b"-", b"+", b"COUNT", b"-5"], b"*-1\r\n"),
        (&[b"XRANGE", b"s", b"-", b"+", b"COUNT"], b"-ERR syntax error\r\n"),
        (&[b"XRANGE", b"s", b"-", b"+", b"COUNT", b"x"], b"-ERR value is not an integer or out of range\r\n"),
        (&[b"XRANGE", b"s", b"-", b"+", b"LIMIT", b"1"], b"-ERR syntax error\r\n"),
        (&[b"XRANGE", b"s", b"(-", b"+"], b"-ERR Invalid stream ID specified as stream command argument\r\n"),
        (&[b"XRANGE", b"s", b"(", b"+"], b"-ERR Invalid stream ID specified as stream command argument\r\n"),
        (&[b"XRANGE", b"s", b"(18446744073709551615-18446744073709551615", b"+"], b"-ERR invalid start ID for the interval\r\n"),
        (&[b"XRANGE", b"s", b"-", b"(0-0"], b"-ERR invalid end ID for the interval\r\n"),
        (&[b"XRANGE", b"s", b"x", b"+"], b"-ERR Invalid stream ID specified as stream command argument\r\n"),
        (&[b"XRANGE", b"s", b"-", b"y"], b"-ERR Invalid stream ID specified as stream command argument\r\n"),
        (&[b"XRANGE", b"s", b"3", b"1"], b"*0\r\n"),
        (&[b"XRANGE", b"nokey", b"-", b"+"], b"*0\r\n"),
        (&[b"XRANGE", b"nokey", b"-", b"+", b"COUNT", b"0"], b"*0\r\n"),
        (&[b"XRANGE", b"nokey", b"x", b"+"], b"-ERR Invalid stream ID specified as stream command argument\r\n"),
        (&[b"XREVRANGE", b"s", b"+", b"-"], b"*6\r\n*2\r\n$3\r\n3-1\r\n*4\r\n$1\r\nf\r\n$3\r\nv31\r\n$1\r\ng\r\n$1\r\nx\r\n*2\r\n$3\r\n3-0\r\n*4\r\n$1\r\nf\r\n$3\r\nv30\r\n$1\r\ng\r\n$1\r\nx\r\n*2\r\n$3\r\n2-1\r\n*4\r\n$1\r\nf\r\n$3\r\nv21\r\n$1\r\ng\r\n$1\r\nx\r\n*2\r\n$3\r\n2-0\r\n*4\r\n$1\r\nf\r\n$3\r\nv20\r\n$1\r\ng\r\n$1\r\nx\r\n*2\r\n$3\r\n1-1\r\n*4\r\n$1\r\nf\r\n$3\r\nv11\r\n$1\r\ng\r\n$1\r\nx\r\n*2\r\n$3\r\n1-0\r\n*4\r\n$1\r\nf\r\n$3\r\nv10\r\n$1\r\ng\r\n$1\r\nx\r\n"),
        (&[b"XREVRANGE", b"s", b"+", b"-", b"COUNT", b"1"], b"*1\r\n*2\r\n$3\r\n3-1\r\n*4\r\n$1\r\nf\r\n$3\r\nv31\r\n$1\r\ng\r\n$1\r\nx\r\n"),
        (&[b"XREVRANGE", b"s", b"(3-1", b"(1-0"], b"*4\r\n*2\r\n$3\r\n3-0\r\n*4\r\n$1\r\nf\r\n$3\r\nv30\r\n$1\r\ng\r\n$1\r\nx\r\n*2\r\n$3\r\n2-1\r\n*4\r\n$1\r\nf\r\n$3\r\nv21\r\n$1\r\ng\r\n$1\r\nx\r\n*2\r\n$3\r\n2-0\r\n*4\r\n$1\r\nf\r\n$3\r\nv20\r\n$1\r\ng\r\n$1\r\nx\r\n*2\r\n$3\r\n1-1\r\n*4\r\n$1\r\nf\r\n$3\r\nv11\r\n$1\r\ng\r\n$1\r\nx\r\n"),
        (&[b"XREVRANGE", b"s", b"x", b"y"], b"-ERR Invalid stream ID specified as stream command argument\r\n"),
        (&[b"XREVRANGE", b"s", b"-", b"+"], b"*0\r\n"),
        (&[b"XDEL", b"s", b"2-0", b"2-0", b"9-9"], b":1\r\n"),
        (&[b"XDEL", b"s", b"x"], b"-ERR Invalid stream ID specified as stream command argument\r\n"),
        (&[b"XDEL", b"nokey", b"x"], b":0\r\n"),
        (&[b"XDEL", b"s", b"1-0", b"bad"], b"-ERR Invalid stream ID specified as stream command argument\r\n"),
        (&[b"XRANGE", b"s", b"-", b"+"], b"*5\r\n*2\r\n$3\r\n1-0\r\n*4\r\n$1\r\nf\r\n$3\r\nv10\r\n$1\r\ng\r\n$1\r\nx\r\n*2\r\n$3\r\n1-1\r\n*4\r\n$1\r\nf\r\n$3\r\nv11\r\n$1\r\ng\r\n$1\r\nx\r\n*2\r\n$3\r\n2-1\r\n*4\r\n$1\r\nf\r\n$3\r\nv21\r\n$1\r\ng\r\n$1\r\nx\r\n*2\r\n$3\r\n3-0\r\n*4\r\n$1\r\nf\r\n$3\r\nv30\r\n$1\r\ng\r\n$1\r\nx\r\n*2\r\n$3\r\n3-1\r\n*4\r\n$1\r\nf\r\n$3\r\nv31\r\n$1\r\ng\r\n$1\r\nx\r\n"),
        (&[b"SET", b"str", b"v"], b"+OK\r\n"),
        (&[b"XDEL", b"str", b"1-0"], b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        (&[b"XDEL", b"str", b"bad"], b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        (&[b"XTRIM", b"str", b"MAXLEN", b"0"], b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        (&[b"XSETID", b"str", b"1-0"], b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        (&[b"XTRIM", b"s", b"MAXLEN", b"1"], b":4\r\n"),
        (&[b"XTRIM", b"s", b"MAXLEN", b"~", b"0"], b":1\r\n"),
        (&[b"XTRIM", b"s", b"MAXLEN", b"=", b"0", b"LIMIT", b"1"], b"-ERR syntax error, LIMIT cannot be used without the special ~ option\r\n"),
        (&[b"XTRIM", b"s", b"LIMIT", b"1"], b"-ERR syntax error, LIMIT cannot be used without specifying a trimming strategy\r\n"),
        (&[b"XTRIM", b"s", b"FOO", b"1"], b"-ERR syntax error\r\n"),
        (&[b"XTRIM", b"s", b"MINID", b"x"], b"-ERR Invalid stream ID specified as stream command argument\r\n"),
        (&[b"XTRIM", b"nokey", b"MAXLEN", b"0"], b":0\r\n"),
        (&[b"XTRIM", b"s", b"MAXLEN", b"~", b"0", b"LIMIT", b"0"], b":0\r\n"),
        (&[b"XTRIM", b"s", b"MAXLEN", b"1", b"MINID", b"0"], b"-ERR syntax error, MAXLEN and MINID options at the same time are not compatible\r\n"),
        (&[b"XTRIM", b"nokey", b"MAXLEN", b"x"], b"-ERR value is not an integer or out of range\r\n"),
        (&[b"XSETID", b"s", b"1-0"], b"+OK\r\n"),
        (&[b"XSETID", b"s", b"999-0"], b"+OK\r\n"),
        (&[b"XSETID", b"s", b"999-0", b"ENTRIESADDED", b"1"], b"+OK\r\n"),
        (&[b"XSETID", b"s", b"999-0", b"ENTRIESADDED", b"-1"], b"-ERR entries_added must be positive\r\n"),
        (&[b"XSETID", b"s", b"999-0", b"MAXDELETEDID", b"1000-0"], b"-ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id\r\n"),
        (&[b"XSETID", b"s", b"999-0", b"MAXDELETEDID", b"x"], b"-ERR Invalid stream ID specified as stream command argument\r\n"),
        (&[b"XSETID", b"s", b"999-0", b"FOO", b"1"], b"-ERR syntax error\r\n"),
        (&[b"XSETID", b"s", b"999-0", b"ENTRIESADDED"], b"-ERR syntax error\r\n"),
        (&[b"XSETID", b"nokey", b"1-0"], b"-ERR no such key\r\n"),
        (&[b"XSETID", b"s", b"x"], b"-ERR Invalid stream ID specified as stream command argument\r\n"),
        (&[b"XSETID", b"s", b"-"], b"-ERR Invalid stream ID specified as stream command argument\r\n"),
        (&[b"XSETID", b"s", b"1000-0", b"ENTRIESADDED", b"100", b"MAXDELETEDID", b"5-0"], b"+OK\r\n"),
        (&[b"XADD", b"s", b"1000-0", b"f", b"v"], b"-ERR The ID specified in XADD is equal or smaller than the target stream top item\r\n"),
        (&[b"XTRIM", b"s", b"MAXLEN", b"0"], b":0\r\n"),
        (&[b"XLEN", b"s"], b":0\r\n"),
        (&[b"XSETID", b"s", b"1-0"], b"+OK\r\n"),
        (&[b"XADD", b"s", b"1-5", b"f", b"v"], b"$3\r\n1-5\r\n"),
        (&[b"EXISTS", b"s"], b":1\r\n"),
    ]);
}

#[test]
#[rustfmt::skip]
fn xread_in_resp2_and_resp3() {
    let server = Server::start(&[]);
    let mut raw = server.raw();
    expect_replies(&mut raw, &[
        (&[b"XADD", b"s", b"1-0", b"f", b"v1"], b"$3\r\n1-0\r\n"),
        (&[b"XADD", b"s", b"2-0", b"f", b"v2"], b"$3\r\n2-0\r\n"),
        (&[b"XADD", b"s", b"3-0", b"f", b"v3"], b"$3\r\n3-0\r\n"),
        (&[b"XADD", b"s", b"4-0", b"f", b"v4"], b"$3\r\n4-0\r\n"),
        (&[b"XADD", b"t", b"1-0", b"a", b"b"], b"$3\r\n1-0\r\n"),
        (&[b"XREAD", b"STREAMS", b"s", b"0"], b"*1\r\n*2\r\n$1\r\ns\r\n*4\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv1\r\n*2\r\n$3\r\n2-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv2\r\n*2\r\n$3\r\n3-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv3\r\n*2\r\n$3\r\n4-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv4\r\n"),
        (&[b"XREAD", b"COUNT", b"2", b"STREAMS", b"s", b"t", b"0", b"0"], b"*2\r\n*2\r\n$1\r\ns\r\n*2\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv1\r\n*2\r\n$3\r\n2-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv2\r\n*2\r\n$1\r\nt\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
        (&[b"XREAD", b"STREAMS", b"s", b"t", b"$", b"$"], b"*-1\r\n"),
        (&[b"XREAD", b"STREAMS", b"s", b"t", b"3", b"1"], b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n4-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv4\r\n"),
        (&[b"XREAD", b"STREAMS", b"nokey", b"0"], b"*-1\r\n"),
        (&[b"XREAD", b"STREAMS", b"s", b"nokey", b"0", b"$"], b"*1\r\n*2\r\n$1\r\ns\r\n*4\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv1\r\n*2\r\n$3\r\n2-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv2\r\n*2\r\n$3\r\n3-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv3\r\n*2\r\n$3\r\n4-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv4\r\n"),
        (&[b"XREAD", b"COUNT", b"-1", b"STREAMS", b"s", b"3"], b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n4-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv4\r\n"),
        (&[b"XREAD", b"COUNT", b"0", b"STREAMS", b"s", b"3"], b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n4-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv4\r\n"),
        (&[b"XREAD", b"STREAMS", b"s"], b"-ERR wrong number of arguments for 'xread' command\r\n"),
        (&[b"XREAD", b"STREAMS", b"s", b"t", b"0"], b"-ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.\r\n"),
        (&[b"XREAD", b"COUNT", b"x", b"STREAMS", b"s", b"0"], b"-ERR value is not an integer or out of range\r\n"),
        (&[b"XREAD", b"BLOCK", b"x", b"STREAMS", b"s", b"0"], b"-ERR timeout is not an integer or out of range\r\n"),
        (&[b"XREAD", b"BLOCK", b"-1", b"STREAMS", b"s", b"0"], b"-ERR timeout is negative\r\n"),
        (&[b"XREAD", b"BLOCK", b"10", b"STREAMS", b"s", b"$"], b"*-1\r\n"),
        (&[b"XREAD", b"BLOCK", b"1", b"STREAMS", b"s", b"+"], b"-ERR Invalid stream ID specified as stream command argument\r\n"),
        (&[b"XREAD", b"STREAMS", b"s", b"-"], b"-ERR Invalid stream ID specified as stream command argument\r\n"),
        (&[b"XREAD", b"STREAMS", b"s", b">"], b"-ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.\r\n"),
        (&[b"XREAD", b"GROUP", b"g", b"c", b"STREAMS", b"s", b">"], b"-ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.\r\n"),
        (&[b"XREAD", b"NOACK", b"STREAMS", b"s", b"0"], b"-ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.\r\n"),
        (&[b"XREAD", b"FOO", b"STREAMS", b"s", b"0"], b"-ERR syntax error\r\n"),
        (&[b"XREAD", b"COUNT", b"1"], b"-ERR wrong number of arguments for 'xread' command\r\n"),
        (&[b"XREAD", b"COUNT", b"1", b"BLOCK", b"0"], b"-ERR syntax error\r\n"),
        (&[b"XREAD", b"STREAMS", b"s", b"bad"], b"-ERR Invalid stream ID specified as stream command argument\r\n"),
        (&[b"SET", b"str", b"x"], b"+OK\r\n"),
        (&[b"XREAD", b"STREAMS", b"str", b"0"], b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        (&[b"XREAD", b"STREAMS", b"s", b"str", b"bad", b"0"], b"-ERR Invalid stream ID specified as stream command argument\r\n"),
        (&[b"XREAD", b"STREAMS", b"str", b"s", b"0", b"bad"], b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        (&[b"XREAD", b"STREAMS", b"s", b"18446744073709551615-18446744073709551615"], b"*-1\r\n"),
        (&[b"MULTI"], b"+OK\r\n"),
        (&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"$"], b"+QUEUED\r\n"),
        (&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"0"], b"+QUEUED\r\n"),
        (&[b"EXEC"], b"*2\r\n*-1\r\n*1\r\n*2\r\n$1\r\ns\r\n*4\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv1\r\n*2\r\n$3\r\n2-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv2\r\n*2\r\n$3\r\n3-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv3\r\n*2\r\n$3\r\n4-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv4\r\n"),
        (&[b"XRANGE", b"s", b"-", b"+", b"COUNT", b"1"], b"*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv1\r\n"),
        (&[b"XREVRANGE", b"s", b"+", b"-", b"COUNT", b"0"], b"*-1\r\n"),
        (&[b"XRANGE", b"nokey", b"-", b"+"], b"*0\r\n"),
    ]);
    let mut raw = server.raw();
    expect_replies(&mut raw, &[(&[b"FLUSHALL"], b"+OK\r\n")]);
    hello3(&mut raw);
    expect_replies(&mut raw, &[
        (&[b"XADD", b"s", b"1-0", b"f", b"v1"], b"$3\r\n1-0\r\n"),
        (&[b"XADD", b"s", b"2-0", b"f", b"v2"], b"$3\r\n2-0\r\n"),
        (&[b"XADD", b"s", b"3-0", b"f", b"v3"], b"$3\r\n3-0\r\n"),
        (&[b"XADD", b"s", b"4-0", b"f", b"v4"], b"$3\r\n4-0\r\n"),
        (&[b"XADD", b"t", b"1-0", b"a", b"b"], b"$3\r\n1-0\r\n"),
        (&[b"XREAD", b"STREAMS", b"s", b"0"], b"%1\r\n$1\r\ns\r\n*4\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv1\r\n*2\r\n$3\r\n2-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv2\r\n*2\r\n$3\r\n3-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv3\r\n*2\r\n$3\r\n4-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv4\r\n"),
        (&[b"XREAD", b"COUNT", b"2", b"STREAMS", b"s", b"t", b"0", b"0"], b"%2\r\n$1\r\ns\r\n*2\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv1\r\n*2\r\n$3\r\n2-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv2\r\n$1\r\nt\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
        (&[b"XREAD", b"STREAMS", b"s", b"t", b"$", b"$"], b"_\r\n"),
        (&[b"XREAD", b"STREAMS", b"s", b"t", b"3", b"1"], b"%1\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n4-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv4\r\n"),
        (&[b"XREAD", b"STREAMS", b"nokey", b"0"], b"_\r\n"),
        (&[b"XREAD", b"STREAMS", b"s", b"nokey", b"0", b"$"], b"%1\r\n$1\r\ns\r\n*4\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv1\r\n*2\r\n$3\r\n2-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv2\r\n*2\r\n$3\r\n3-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv3\r\n*2\r\n$3\r\n4-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv4\r\n"),
        (&[b"XREAD", b"COUNT", b"-1", b"STREAMS", b"s", b"3"], b"%1\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n4-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv4\r\n"),
        (&[b"XREAD", b"COUNT", b"0", b"STREAMS", b"s", b"3"], b"%1\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n4-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv4\r\n"),
        (&[b"XREAD", b"STREAMS", b"s"], b"-ERR wrong number of arguments for 'xread' command\r\n"),
        (&[b"XREAD", b"STREAMS", b"s", b"t", b"0"], b"-ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.\r\n"),
        (&[b"XREAD", b"COUNT", b"x", b"STREAMS", b"s", b"0"], b"-ERR value is not an integer or out of range\r\n"),
        (&[b"XREAD", b"BLOCK", b"x", b"STREAMS", b"s", b"0"], b"-ERR timeout is not an integer or out of range\r\n"),
        (&[b"XREAD", b"BLOCK", b"-1", b"STREAMS", b"s", b"0"], b"-ERR timeout is negative\r\n"),
        (&[b"XREAD", b"BLOCK", b"10", b"STREAMS", b"s", b"$"], b"_\r\n"),
        (&[b"XREAD", b"BLOCK", b"1", b"STREAMS", b"s", b"+"], b"-ERR Invalid stream ID specified as stream command argument\r\n"),
        (&[b"XREAD", b"STREAMS", b"s", b"-"], b"-ERR Invalid stream ID specified as stream command argument\r\n"),
        (&[b"XREAD", b"STREAMS", b"s", b">"], b"-ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.\r\n"),
        (&[b"XREAD", b"GROUP", b"g", b"c", b"STREAMS", b"s", b">"], b"-ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.\r\n"),
        (&[b"XREAD", b"NOACK", b"STREAMS", b"s", b"0"], b"-ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.\r\n"),
        (&[b"XREAD", b"FOO", b"STREAMS", b"s", b"0"], b"-ERR syntax error\r\n"),
        (&[b"XREAD", b"COUNT", b"1"], b"-ERR wrong number of arguments for 'xread' command\r\n"),
        (&[b"XREAD", b"COUNT", b"1", b"BLOCK", b"0"], b"-ERR syntax error\r\n"),
        (&[b"XREAD", b"STREAMS", b"s", b"bad"], b"-ERR Invalid stream ID specified as stream command argument\r\n"),
        (&[b"SET", b"str", b"x"], b"+OK\r\n"),
        (&[b"XREAD", b"STREAMS", b"str", b"0"], b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        (&[b"XREAD", b"STREAMS", b"s", b"str", b"bad", b"0"], b"-ERR Invalid stream ID specified as stream command argument\r\n"),
        (&[b"XREAD", b"STREAMS", b"str", b"s", b"0", b"bad"], b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        (&[b"XREAD", b"STREAMS", b"s", b"18446744073709551615-18446744073709551615"], b"_\r\n"),
        (&[b"MULTI"], b"+OK\r\n"),
        (&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"$"], b"+QUEUED\r\n"),
        (&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"0"], b"+QUEUED\r\n"),
        (&[b"EXEC"], b"*2\r\n_\r\n%1\r\n$1\r\ns\r\n*4\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv1\r\n*2\r\n$3\r\n2-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv2\r\n*2\r\n$3\r\n3-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv3\r\n*2\r\n$3\r\n4-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv4\r\n"),
        (&[b"XRANGE", b"s", b"-", b"+", b"COUNT", b"1"], b"*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv1\r\n"),
        (&[b"XREVRANGE", b"s", b"+", b"-", b"COUNT", b"0"], b"_\r\n"),
        (&[b"XRANGE", b"nokey", b"-", b"+"], b"*0\r\n"),
    ]);
}

fn blocked(raw: &mut Raw) -> usize {
    raw.send(&resp(&[b"INFO", b"clients"]));
    let info = String::from_utf8(raw.read_bulk()).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

/// Waits until `n` clients are blocked.
fn wait_blocked(raw: &mut Raw, n: usize) {
    let end = std::time::Instant::now() + super::support::PATIENCE;
    while blocked(raw) != n {
        assert!(std::time::Instant::now() < end, "{n} readers never blocked");
        thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Readers blocked on `$` (one on two keys with COUNT, one in RESP3) are all served the entry
/// an XADD appends, with redis-server 7.0.15's bytes; a reader whose ID is already below the
/// last entry is answered at once, a timeout is a null array.
#[test]
#[rustfmt::skip]
fn blocked_readers_are_woken_by_xadd() {
    let server = Server::start(&[]);
    let mut admin = server.raw();
    expect_replies(&mut admin, &[(&[b"XADD", b"s", b"1-0", b"f", b"v"], b"$3\r\n1-0\r\n")]);
    type Reader<'a> = (&'a [&'a [u8]], bool, &'a [u8]);
    let readers: [Reader<'_>; 3] = [
        (&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"$"], false,
         b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n2-0\r\n*2\r\n$1\r\ng\r\n$1\r\nw\r\n"),
        (&[b"XREAD", b"BLOCK", b"0", b"COUNT", b"1", b"STREAMS", b"t", b"s", b"$", b"$"], false,
         b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n2-0\r\n*2\r\n$1\r\ng\r\n$1\r\nw\r\n"),
        (&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"$"], true,
         b"%1\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n2-0\r\n*2\r\n$1\r\ng\r\n$1\r\nw\r\n"),
    ];
    let mut threads = Vec::new();
    for (i, (args, resp3, expected)) in readers.into_iter().enumerate() {
        let mut raw = server.raw();
        if resp3 {
            hello3(&mut raw);
        }
        let request = resp(args);
        threads.push(thread::spawn(move || {
            raw.send(&request);
            raw.expect(expected);
        }));
        wait_blocked(&mut admin, i + 1);
    }
    expect_replies(&mut admin, &[
        (&[b"XADD", b"s", b"2-0", b"g", b"w"], b"$3\r\n2-0\r\n"),
    ]);
    for t in threads {
        t.join().unwrap();
    }
    expect_replies(&mut admin, &[
        (&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"0-0"],
         b"*1\r\n*2\r\n$1\r\ns\r\n*2\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n*2\r\n$3\r\n2-0\r\n*2\r\n$1\r\ng\r\n$1\r\nw\r\n"),
        (&[b"XREAD", b"BLOCK", b"50", b"STREAMS", b"s", b"$"], b"*-1\r\n"),
    ]);
    // A reader of a key that does not exist yet is woken when XADD creates it.
    let mut raw = server.raw();
    let late = thread::spawn(move || {
        raw.send(&resp(&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"n", b"$"]));
        raw.expect(b"*1\r\n*2\r\n$1\r\nn\r\n*1\r\n*2\r\n$3\r\n5-5\r\n*2\r\n$1\r\nx\r\n$1\r\ny\r\n");
    });
    wait_blocked(&mut admin, 1);
    expect_replies(&mut admin, &[(&[b"XADD", b"n", b"5-5", b"x", b"y"], b"$3\r\n5-5\r\n")]);
    late.join().unwrap();
    // A waited key that turns into a string, then into a stream again with lower IDs, keeps
    // the reader waiting (redis-server 7.0.15 serves blocked XREADs from streams only, and
    // from IDs above the one it resolved), until an entry above that ID comes.
    let mut raw = server.raw();
    let patient = thread::spawn(move || {
        raw.send(&resp(&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"n", b"$"]));
        raw.expect(b"*1\r\n*2\r\n$1\r\nn\r\n*1\r\n*2\r\n$3\r\n9-0\r\n*2\r\n$1\r\nc\r\n$1\r\nd\r\n");
    });
    wait_blocked(&mut admin, 1);
    expect_replies(&mut admin, &[
        (&[b"SET", b"n", b"str"], b"+OK\r\n"),
        (&[b"DEL", b"n"], b":1\r\n"),
        (&[b"XADD", b"n", b"0-5", b"a", b"b"], b"$3\r\n0-5\r\n"),
    ]);
    assert_eq!(blocked(&mut admin), 1);
    expect_replies(&mut admin, &[(&[b"XADD", b"n", b"9-0", b"c", b"d"], b"$3\r\n9-0\r\n")]);
    patient.join().unwrap();
}

/// Readers that follow a stream with blocking XREADs from their last ID see every entry that
/// several concurrent writers add, once each and in ID order.
#[test]
fn followers_see_every_entry_of_many_writers() {
    const WRITERS: usize = 4;
    const EACH: usize = 50;
    let server = Server::start(&[]);
    let addr = server.addr;
    let follow = move || {
        let mut c = redis::Client::open(format!("redis://{addr}/"))
            .unwrap()
            .get_connection()
            .unwrap();
        let mut last = "0-0".to_string();
        let mut seen: Vec<(String, String)> = Vec::new();
        while seen.len() < WRITERS * EACH {
            let got: redis::Value = redis::cmd("XREAD")
                .arg("BLOCK")
                .arg(0)
                .arg("STREAMS")
                .arg("log")
                .arg(&last)
                .query(&mut c)
                .unwrap();
            let redis::Value::Array(streams) = got else {
                panic!("{got:?}")
            };
            let [redis::Value::Array(pair)] = &streams[..] else {
                panic!("{streams:?}")
            };
            let redis::Value::Array(entries) = &pair[1] else {
                panic!("{pair:?}")
            };
            for e in entries {
                let redis::Value::Array(e) = e else {
                    panic!("{e:?}")
                };
                let id: String = redis::from_redis_value(e[0].clone()).unwrap();
                let fields: Vec<String> = redis::from_redis_value(e[1].clone()).unwrap();
                seen.push((id.clone(), fields[1].clone()));
                last = id;
            }
        }
        seen
    };
    let followers: Vec<_> = (0..3).map(|_| thread::spawn(follow)).collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            thread::spawn(move || {
                let mut c = redis::Client::open(format!("redis://{addr}/"))
                    .unwrap()
                    .get_connection()
                    .unwrap();
                for i in 0..EACH {
                    let _: String = redis::cmd("XADD")
                        .arg("log")
                        .arg("*")
                        .arg("v")
                        .arg(format!("{w}-{i}"))
                        .query(&mut c)
                        .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let mut con = server.client();
    let all: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg("log")
        .arg("-")
        .arg("+")
        .query(&mut con)
        .unwrap();
    let want: Vec<(String, String)> = all
        .into_iter()
        .map(|(id, f)| (id, f[0].1.clone()))
        .collect();
    assert_eq!(want.len(), WRITERS * EACH);
    for f in followers {
        assert_eq!(f.join().unwrap(), want);
    }
}

/// Keyspace events of the stream commands, byte for byte as redis-server 7.0.15 published them
/// to a `__key*__:*` subscriber (`xadd`, `xtrim` after a trimming XADD, `xdel`, `xsetid`;
/// nothing for a change that changed nothing or a read).
#[test]
#[rustfmt::skip]
fn keyspace_events_are_redis_events() {
    let server = Server::start(&[]);
    let mut admin = server.raw();
    let mut sub = server.raw();
    expect_replies(&mut admin, &[
        (&[b"CONFIG", b"SET", b"notify-keyspace-events", b"KEA"], b"+OK\r\n"),
    ]);
    expect_replies(&mut sub, &[
        (&[b"PSUBSCRIBE", b"__key*__:*"], b"*3\r\n$10\r\npsubscribe\r\n$10\r\n__key*__:*\r\n:1\r\n"),
    ]);
    let commands: &[&[&[u8]]] = &[
        &[b"XADD", b"s", b"1-0", b"f", b"v"],
        &[b"XADD", b"s", b"MAXLEN", b"1", b"2-0", b"f", b"v"],
        &[b"XADD", b"s", b"MAXLEN", b"5", b"3-0", b"f", b"v"],
        &[b"XDEL", b"s", b"3-0", b"9-9"],
        &[b"XDEL", b"s", b"9-9"],
        &[b"XTRIM", b"s", b"MAXLEN", b"0"],
        &[b"XTRIM", b"s", b"MAXLEN", b"0"],
        &[b"XSETID", b"s", b"10-0"],
        &[b"XADD", b"n", b"NOMKSTREAM", b"*", b"f", b"v"],
        &[b"XADD", b"t", b"5-*", b"a", b"b"],
        &[b"XRANGE", b"t", b"-", b"+"],
        &[b"XREAD", b"STREAMS", b"t", b"0"],
        &[b"DEL", b"t"],
        &[b"XSETID", b"s", b"1-0", b"ENTRIESADDED", b"0"],
        &[b"PUBLISH", b"__keyevent@0__:zzend", b"end"],
    ];
    // The replies are checked elsewhere in this file: pipeline the commands, then skip every
    // reply up to a PING's.
    for c in commands {
        admin.send(&resp(c));
    }
    admin.send(&resp(&[b"PING"]));
    while admin.read_line() != "+PONG\r\n" {}
    let expected: &[&str] = &[
        "*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$16\r\n__keyspace@0__:s\r\n$4\r\nxadd\r\n",
        "*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$19\r\n__keyevent@0__:xadd\r\n$1\r\ns\r\n",
        "*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$16\r\n__keyspace@0__:s\r\n$4\r\nxadd\r\n",
        "*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$19\r\n__keyevent@0__:xadd\r\n$1\r\ns\r\n",
        "*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$16\r\n__keyspace@0__:s\r\n$5\r\nxtrim\r\n",
        "*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$20\r\n__keyevent@0__:xtrim\r\n$1\r\ns\r\n",
        "*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$16\r\n__keyspace@0__:s\r\n$4\r\nxadd\r\n",
        "*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$19\r\n__keyevent@0__:xadd\r\n$1\r\ns\r\n",
        "*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$16\r\n__keyspace@0__:s\r\n$4\r\nxdel\r\n",
        "*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$19\r\n__keyevent@0__:xdel\r\n$1\r\ns\r\n",
        "*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$16\r\n__keyspace@0__:s\r\n$5\r\nxtrim\r\n",
        "*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$20\r\n__keyevent@0__:xtrim\r\n$1\r\ns\r\n",
        "*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$16\r\n__keyspace@0__:s\r\n$6\r\nxsetid\r\n",
        "*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$21\r\n__keyevent@0__:xsetid\r\n$1\r\ns\r\n",
        "*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$16\r\n__keyspace@0__:t\r\n$4\r\nxadd\r\n",
        "*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$19\r\n__keyevent@0__:xadd\r\n$1\r\nt\r\n",
        "*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$16\r\n__keyspace@0__:t\r\n$3\r\ndel\r\n",
        "*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$18\r\n__keyevent@0__:del\r\n$1\r\nt\r\n",
        "*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$16\r\n__keyspace@0__:s\r\n$6\r\nxsetid\r\n",
        "*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$21\r\n__keyevent@0__:xsetid\r\n$1\r\ns\r\n",
        "*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$20\r\n__keyevent@0__:zzend\r\n$3\r\nend\r\n",
    ];
    sub.expect(expected.concat().as_bytes());
}
