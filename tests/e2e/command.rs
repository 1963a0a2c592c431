//! COMMAND INFO and COMMAND GETKEYS byte for byte as Redis 7 gives them: every expected reply
//! below was recorded from redis-server 7.0.15 (tools/diffcommand.py compares all commands).
//! Cluster clients and redis-py read flags and key positions from these replies.

use super::support::{Raw, Server, Session, expect_replies, resp};

fn check(raw: &mut Raw, session: Session<'_>) {
    expect_replies(raw, session);
    // Nothing more than the expected bytes came: the next reply is PING's.
    raw.roundtrip(b"PING\r\n", b"+PONG\r\n");
}

/// Reads and drops one RESP3 value whose length the test does not know (HELLO's map).
fn skip_value(raw: &mut Raw) {
    let line = raw.read_line();
    let n: usize = line[1..].trim_end().parse().unwrap_or(0);
    match line.as_bytes()[0] {
        b'%' => (0..2 * n).for_each(|_| skip_value(raw)),
        b'*' | b'~' => (0..n).for_each(|_| skip_value(raw)),
        b'$' => drop(raw.read_n(n + 2)),
        _ => {}
    }
}

#[test]
#[rustfmt::skip]
fn command_info_resp2_as_redis_sends_it() {
    let server = Server::start(&[]);
    check(&mut server.raw(), &[
    // COMMAND INFO get
    (&[b"COMMAND", b"INFO", b"get"],
          b"*1\r\n\
          *10\r\n\
          $3\r\n\
          get\r\n\
          :2\r\n\
          *2\r\n\
          +readonly\r\n\
          +fast\r\n\
          :1\r\n\
          :1\r\n\
          :1\r\n\
          *3\r\n\
          +@read\r\n\
          +@string\r\n\
          +@fast\r\n\
          *0\r\n\
          *1\r\n\
          *6\r\n\
          $5\r\n\
          flags\r\n\
          *2\r\n\
          +RO\r\n\
          +access\r\n\
          $12\r\n\
          begin_search\r\n\
          *4\r\n\
          $4\r\n\
          type\r\n\
          $5\r\n\
          index\r\n\
          $4\r\n\
          spec\r\n\
          *2\r\n\
          $5\r\n\
          index\r\n\
          :1\r\n\
          $9\r\n\
          find_keys\r\n\
          *4\r\n\
          $4\r\n\
          type\r\n\
          $5\r\n\
          range\r\n\
          $4\r\n\
          spec\r\n\
          *6\r\n\
          $7\r\n\
          lastkey\r\n\
          :0\r\n\
          $7\r\n\
          keystep\r\n\
          :1\r\n\
          $5\r\n\
          limit\r\n\
          :0\r\n\
          *0\r\n"),
    // COMMAND INFO set
    (&[b"COMMAND", b"INFO", b"set"],
          b"*1\r\n\
          *10\r\n\
          $3\r\n\
          set\r\n\
          :-3\r\n\
          *2\r\n\
          +write\r\n\
          +denyoom\r\n\
          :1\r\n\
          :1\r\n\
          :1\r\n\
          *3\r\n\
          +@write\r\n\
          +@string\r\n\
          +@slow\r\n\
          *0\r\n\
          *1\r\n\
          *8\r\n\
          $5\r\n\
          notes\r\n\
          $48\r\n\
          RW and ACCESS due to the optional `GET` argument\r\n\
          $5\r\n\
          flags\r\n\
          *4\r\n\
          +RW\r\n\
          +access\r\n\
          +update\r\n\
          +variable_flags\r\n\
          $12\r\n\
          begin_search\r\n\
          *4\r\n\
          $4\r\n\
          type\r\n\
          $5\r\n\
          index\r\n\
          $4\r\n\
          spec\r\n\
          *2\r\n\
          $5\r\n\
          index\r\n\
          :1\r\n\
          $9\r\n\
          find_keys\r\n\
          *4\r\n\
          $4\r\n\
          type\r\n\
          $5\r\n\
          range\r\n\
          $4\r\n\
          spec\r\n\
          *6\r\n\
          $7\r\n\
          lastkey\r\n\
          :0\r\n\
          $7\r\n\
          keystep\r\n\
          :1\r\n\
          $5\r\n\
          limit\r\n\
          :0\r\n\
          *0\r\n"),
    // COMMAND INFO mset
    (&[b"COMMAND", b"INFO", b"mset"],
          b"*1\r\n\
          *10\r\n\
          $4\r\n\
          mset\r\n\
          :-3\r\n\
          *2\r\n\
          +write\r\n\
          +denyoom\r\n\
          :1\r\n\
          :-1\r\n\
          :2\r\n\
          *3\r\n\
          +@write\r\n\
          +@string\r\n\
          +@slow\r\n\
          *2\r\n\
          $26\r\n\
          request_policy:multi_shard\r\n\
          $29\r\n\
          response_policy:all_succeeded\r\n\
          *1\r\n\
          *6\r\n\
          $5\r\n\
          flags\r\n\
          *2\r\n\
          +OW\r\n\
          +update\r\n\
          $12\r\n\
          begin_search\r\n\
          *4\r\n\
          $4\r\n\
          type\r\n\
          $5\r\n\
          index\r\n\
          $4\r\n\
          spec\r\n\
          *2\r\n\
          $5\r\n\
          index\r\n\
          :1\r\n\
          $9\r\n\
          find_keys\r\n\
          *4\r\n\
          $4\r\n\
          type\r\n\
          $5\r\n\
          range\r\n\
          $4\r\n\
          spec\r\n\
          *6\r\n\
          $7\r\n\
          lastkey\r\n\
          :-1\r\n\
          $7\r\n\
          keystep\r\n\
          :2\r\n\
          $5\r\n\
          limit\r\n\
          :0\r\n\
          *0\r\n"),
    // COMMAND INFO del
    (&[b"COMMAND", b"INFO", b"del"],
          b"*1\r\n\
          *10\r\n\
          $3\r\n\
          del\r\n\
          :-2\r\n\
          *1\r\n\
          +write\r\n\
          :1\r\n\
          :-1\r\n\
          :1\r\n\
          *3\r\n\
          +@keyspace\r\n\
          +@write\r\n\
          +@slow\r\n\
          *2\r\n\
          $26\r\n\
          request_policy:multi_shard\r\n\
          $23\r\n\
          response_policy:agg_sum\r\n\
          *1\r\n\
          *6\r\n\
          $5\r\n\
          flags\r\n\
          *2\r\n\
          +RM\r\n\
          +delete\r\n\
          $12\r\n\
          begin_search\r\n\
          *4\r\n\
          $4\r\n\
          type\r\n\
          $5\r\n\
          index\r\n\
          $4\r\n\
          spec\r\n\
          *2\r\n\
          $5\r\n\
          index\r\n\
          :1\r\n\
          $9\r\n\
          find_keys\r\n\
          *4\r\n\
          $4\r\n\
          type\r\n\
          $5\r\n\
          range\r\n\
          $4\r\n\
          spec\r\n\
          *6\r\n\
          $7\r\n\
          lastkey\r\n\
          :-1\r\n\
          $7\r\n\
          keystep\r\n\
          :1\r\n\
          $5\r\n\
          limit\r\n\
          :0\r\n\
          *0\r\n"),
    // COMMAND INFO lmove
    (&[b"COMMAND", b"INFO", b"lmove"],
          b"*1\r\n\
          *10\r\n\
          $5\r\n\
          lmove\r\n\
          :5\r\n\
          *2\r\n\
          +write\r\n\
          +denyoom\r\n\
          :1\r\n\
          :2\r\n\
          :1\r\n\
          *3\r\n\
          +@write\r\n\
          +@list\r\n\
          +@slow\r\n\
          *0\r\n\
          *2\r\n\
          *6\r\n\
          $5\r\n\
          flags\r\n\
          *3\r\n\
          +RW\r\n\
          +access\r\n\
          +delete\r\n\
          $12\r\n\
          begin_search\r\n\
          *4\r\n\
          $4\r\n\
          type\r\n\
          $5\r\n\
          index\r\n\
          $4\r\n\
          spec\r\n\
          *2\r\n\
          $5\r\n\
          index\r\n\
          :1\r\n\
          $9\r\n\
          find_keys\r\n\
          *4\r\n\
          $4\r\n\
          type\r\n\
          $5\r\n\
          range\r\n\
          $4\r\n\
          spec\r\n\
          *6\r\n\
          $7\r\n\
          lastkey\r\n\
          :0\r\n\
          $7\r\n\
          keystep\r\n\
          :1\r\n\
          $5\r\n\
          limit\r\n\
          :0\r\n\
          *6\r\n\
          $5\r\n\
          flags\r\n\
          *2\r\n\
          +RW\r\n\
          +insert\r\n\
          $12\r\n\
          begin_search\r\n\
          *4\r\n\
          $4\r\n\
          type\r\n\
          $5\r\n\
          index\r\n\
          $4\r\n\
          spec\r\n\
          *2\r\n\
          $5\r\n\
          index\r\n\
          :2\r\n\
          $9\r\n\
          find_keys\r\n\
          *4\r\n\
          $4\r\n\
          type\r\n\
          $5\r\n\
          range\r\n\
          $4\r\n\
          spec\r\n\
          *6\r\n\
          $7\r\n\
          lastkey\r\n\
          :0\r\n\
          $7\r\n\
          keystep\r\n\
          :1\r\n\
          $5\r\n\
          limit\r\n\
          :0\r\n\
          *0\r\n"),
    // COMMAND INFO zunionstore
    (&[b"COMMAND", b"INFO", b"zunionstore"],
          b"*1\r\n\
          *10\r\n\
          $11\r\n\
          zunionstore\r\n\
          :-4\r\n\
          *3\r\n\
          +write\r\n\
          +denyoom\r\n\
          +movablekeys\r\n\
          :1\r\n\
          :1\r\n\
          :1\r\n\
          *3\r\n\
          +@write\r\n\
          +@sortedset\r\n\
          +@slow\r\n\
          *0\r\n\
          *2\r\n\
          *6\r\n\
          $5\r\n\
          flags\r\n\
          *2\r\n\
          +OW\r\n\
          +update\r\n\
          $12\r\n\
          begin_search\r\n\
          *4\r\n\
          $4\r\n\
          type\r\n\
          $5\r\n\
          index\r\n\
          $4\r\n\
          spec\r\n\
          *2\r\n\
          $5\r\n\
          index\r\n\
          :1\r\n\
          $9\r\n\
          find_keys\r\n\
          *4\r\n\
          $4\r\n\
          type\r\n\
          $5\r\n\
          range\r\n\
          $4\r\n\
          spec\r\n\
          *6\r\n\
          $7\r\n\
          lastkey\r\n\
          :0\r\n\
          $7\r\n\
          keystep\r\n\
          :1\r\n\
          $5\r\n\
          limit\r\n\
          :0\r\n\
          *6\r\n\
          $5\r\n\
          flags\r\n\
          *2\r\n\
          +RO\r\n\
          +access\r\n\
          $12\r\n\
          begin_search\r\n\
          *4\r\n\
          $4\r\n\
          type\r\n\
          $5\r\n\
          index\r\n\
          $4\r\n\
          spec\r\n\
          *2\r\n\
          $5\r\n\
          index\r\n\
          :2\r\n\
          $9\r\n\
          find_keys\r\n\
          *4\r\n\
          $4\r\n\
          type\r\n\
          $6\r\n\
          keynum\r\n\
          $4\r\n\
          spec\r\n\
          *6\r\n\
          $9\r\n\
          keynumidx\r\n\
          :0\r\n\
          $8\r\n\
          firstkey\r\n\
          :1\r\n\
          $7\r\n\
          keystep\r\n\
          :1\r\n\
          *0\r\n"),
    // COMMAND INFO blpop
    (&[b"COMMAND", b"INFO", b"blpop"],
          b"*1\r\n\
          *10\r\n\
          $5\r\n\
          blpop\r\n\
          :-3\r\n\
          *3\r\n\
          +write\r\n\
          +noscript\r\n\
          +blocking\r\n\
          :1\r\n\
          :-2\r\n\
          :1\r\n\
          *4\r\n\
          +@write\r\n\
          +@list\r\n\
          +@slow\r\n\
          +@blocking\r\n\
          *0\r\n\
          *1\r\n\
          *6\r\n\
          $5\r\n\
          flags\r\n\
          *3\r\n\
          +RW\r\n\
          +access\r\n\
          +delete\r\n\
          $12\r\n\
          begin_search\r\n\
          *4\r\n\
          $4\r\n\
          type\r\n\
          $5\r\n\
          index\r\n\
          $4\r\n\
          spec\r\n\
          *2\r\n\
          $5\r\n\
          index\r\n\
          :1\r\n\
          $9\r\n\
          find_keys\r\n\
          *4\r\n\
          $4\r\n\
          type\r\n\
          $5\r\n\
          range\r\n\
          $4\r\n\
          spec\r\n\
          *6\r\n\
          $7\r\n\
          lastkey\r\n\
          :-2\r\n\
          $7\r\n\
          keystep\r\n\
          :1\r\n\
          $5\r\n\
          limit\r\n\
          :0\r\n\
          *0\r\n"),
    // COMMAND INFO object|encoding
    (&[b"COMMAND", b"INFO", b"object|encoding"],
          b"*1\r\n\
          *10\r\n\
          $15\r\n\
          object|encoding\r\n\
          :3\r\n\
          *1\r\n\
          +readonly\r\n\
          :2\r\n\
          :2\r\n\
          :1\r\n\
          *3\r\n\
          +@keyspace\r\n\
          +@read\r\n\
          +@slow\r\n\
          *1\r\n\
          $23\r\n\
          nondeterministic_output\r\n\
          *1\r\n\
          *6\r\n\
          $5\r\n\
          flags\r\n\
          *1\r\n\
          +RO\r\n\
          $12\r\n\
          begin_search\r\n\
          *4\r\n\
          $4\r\n\
          type\r\n\
          $5\r\n\
          index\r\n\
          $4\r\n\
          spec\r\n\
          *2\r\n\
          $5\r\n\
          index\r\n\
          :2\r\n\
          $9\r\n\
          find_keys\r\n\
          *4\r\n\
          $4\r\n\
          type\r\n\
          $5\r\n\
          range\r\n\
          $4\r\n\
          spec\r\n\
          *6\r\n\
          $7\r\n\
          lastkey\r\n\
          :0\r\n\
          $7\r\n\
          keystep\r\n\
          :1\r\n\
          $5\r\n\
          limit\r\n\
          :0\r\n\
          *0\r\n"),
    // COMMAND INFO client|list
    (&[b"COMMAND", b"INFO", b"client|list"],
          b"*1\r\n\
          *10\r\n\
          $11\r\n\
          client|list\r\n\
          :-2\r\n\
          *4\r\n\
          +admin\r\n\
          +noscript\r\n\
          +loading\r\n\
          +stale\r\n\
          :0\r\n\
          :0\r\n\
          :0\r\n\
          *4\r\n\
          +@admin\r\n\
          +@slow\r\n\
          +@dangerous\r\n\
          +@connection\r\n\
          *1\r\n\
          $23\r\n\
          nondeterministic_output\r\n\
          *0\r\n\
          *0\r\n"),
    // COMMAND INFO nosuch
    (&[b"COMMAND", b"INFO", b"nosuch"],
          b"*1\r\n\
          $-1\r\n"),
    ]);
}

/// RESP3 shows what RESP2 hides: flags, categories, tips and key specs are sets, a key spec
/// is a map, and a key spec's notes come first.
#[test]
#[rustfmt::skip]
fn command_info_resp3_as_redis_sends_it() {
    let server = Server::start(&[]);
    let mut raw = server.raw();
    raw.send(&resp(&[b"HELLO", b"3"]));
    skip_value(&mut raw);
    check(&mut raw, &[
    // COMMAND INFO set
    (&[b"COMMAND", b"INFO", b"set"],
          b"*1\r\n\
          *10\r\n\
          $3\r\n\
          set\r\n\
          :-3\r\n\
          ~2\r\n\
          +write\r\n\
          +denyoom\r\n\
          :1\r\n\
          :1\r\n\
          :1\r\n\
          ~3\r\n\
          +@write\r\n\
          +@string\r\n\
          +@slow\r\n\
          ~0\r\n\
          ~1\r\n\
          %4\r\n\
          $5\r\n\
          notes\r\n\
          $48\r\n\
          RW and ACCESS due to the optional `GET` argument\r\n\
          $5\r\n\
          flags\r\n\
          ~4\r\n\
          +RW\r\n\
          +access\r\n\
          +update\r\n\
          +variable_flags\r\n\
          $12\r\n\
          begin_search\r\n\
          %2\r\n\
          $4\r\n\
          type\r\n\
          $5\r\n\
          index\r\n\
          $4\r\n\
          spec\r\n\
          %1\r\n\
          $5\r\n\
          index\r\n\
          :1\r\n\
          $9\r\n\
          find_keys\r\n\
          %2\r\n\
          $4\r\n\
          type\r\n\
          $5\r\n\
          range\r\n\
          $4\r\n\
          spec\r\n\
          %3\r\n\
          $7\r\n\
          lastkey\r\n\
          :0\r\n\
          $7\r\n\
          keystep\r\n\
          :1\r\n\
          $5\r\n\
          limit\r\n\
          :0\r\n\
          ~0\r\n"),
    // COMMAND INFO zunionstore
    (&[b"COMMAND", b"INFO", b"zunionstore"],
          b"*1\r\n\
          *10\r\n\
          $11\r\n\
          zunionstore\r\n\
          :-4\r\n\
          ~3\r\n\
          +write\r\n\
          +denyoom\r\n\
          +movablekeys\r\n\
          :1\r\n\
          :1\r\n\
          :1\r\n\
          ~3\r\n\
          +@write\r\n\
          +@sortedset\r\n\
          +@slow\r\n\
          ~0\r\n\
          ~2\r\n\
          %3\r\n\
          $5\r\n\
          flags\r\n\
          ~2\r\n\
          +OW\r\n\
          +update\r\n\
          $12\r\n\
          begin_search\r\n\
          %2\r\n\
          $4\r\n\
          type\r\n\
          $5\r\n\
          index\r\n\
          $4\r\n\
          spec\r\n\
          %1\r\n\
          $5\r\n\
          index\r\n\
          :1\r\n\
          $9\r\n\
          find_keys\r\n\
          %2\r\n\
          $4\r\n\
          type\r\n\
          $5\r\n\
          range\r\n\
          $4\r\n\
          spec\r\n\
          %3\r\n\
          $7\r\n\
          lastkey\r\n\
          :0\r\n\
          $7\r\n\
          keystep\r\n\
          :1\r\n\
          $5\r\n\
          limit\r\n\
          :0\r\n\
          %3\r\n\
          $5\r\n\
          flags\r\n\
          ~2\r\n\
          +RO\r\n\
          +access\r\n\
          $12\r\n\
          begin_search\r\n\
          %2\r\n\
          $4\r\n\
          type\r\n\
          $5\r\n\
          index\r\n\
          $4\r\n\
          spec\r\n\
          %1\r\n\
          $5\r\n\
          index\r\n\
          :2\r\n\
          $9\r\n\
          find_keys\r\n\
          %2\r\n\
          $4\r\n\
          type\r\n\
          $6\r\n\
          keynum\r\n\
          $4\r\n\
          spec\r\n\
          %3\r\n\
          $9\r\n\
          keynumidx\r\n\
          :0\r\n\
          $8\r\n\
          firstkey\r\n\
          :1\r\n\
          $7\r\n\
          keystep\r\n\
          :1\r\n\
          ~0\r\n"),
    // COMMAND INFO lmpop
    (&[b"COMMAND", b"INFO", b"lmpop"],
          b"*1\r\n\
          *10\r\n\
          $5\r\n\
          lmpop\r\n\
          :-4\r\n\
          ~2\r\n\
          +write\r\n\
          +movablekeys\r\n\
          :0\r\n\
          :0\r\n\
          :0\r\n\
          ~3\r\n\
          +@write\r\n\
          +@list\r\n\
          +@slow\r\n\
          ~0\r\n\
          ~1\r\n\
          %3\r\n\
          $5\r\n\
          flags\r\n\
          ~3\r\n\
          +RW\r\n\
          +access\r\n\
          +delete\r\n\
          $12\r\n\
          begin_search\r\n\
          %2\r\n\
          $4\r\n\
          type\r\n\
          $5\r\n\
          index\r\n\
          $4\r\n\
          spec\r\n\
          %1\r\n\
          $5\r\n\
          index\r\n\
          :1\r\n\
          $9\r\n\
          find_keys\r\n\
          %2\r\n\
          $4\r\n\
          type\r\n\
          $6\r\n\
          keynum\r\n\
          $4\r\n\
          spec\r\n\
          %3\r\n\
          $9\r\n\
          keynumidx\r\n\
          :0\r\n\
          $8\r\n\
          firstkey\r\n\
          :1\r\n\
          $7\r\n\
          keystep\r\n\
          :1\r\n\
          ~0\r\n"),
    ]);
}

/// Keys by the key specs (a range, a key count, a subcommand's index), and Redis's errors in
/// Redis's order: unknown command, no key arguments, arity, then arguments the specs reject.
/// COMMAND GETKEYSANDFLAGS, and GETKEYS where a spec's keyword is left out (GEORADIUS without
/// STORE) or a command may name no key (EVAL, FCALL): recorded from redis-server 7.0.15.
#[test]
#[rustfmt::skip]
fn command_getkeysandflags_as_redis_answers() {
    let server = Server::start(&[]);
    let mut raw = server.raw();
    check(&mut raw, &[
    // COMMAND GETKEYS GEORADIUS g 0 0 1 m
    (&[b"COMMAND", b"GETKEYS", b"GEORADIUS", b"g", b"0", b"0", b"1", b"m"],
          b"*1\r\n$1\r\ng\r\n"),
    // COMMAND GETKEYS GEORADIUSBYMEMBER g m 1 m STORE d
    (&[b"COMMAND", b"GETKEYS", b"GEORADIUSBYMEMBER", b"g", b"m", b"1", b"m", b"STORE", b"d"],
          b"*2\r\n$1\r\ng\r\n$1\r\nd\r\n"),
    // A keyword as the last argument is not searched (Redis's loop stops before it): the
    // STORE spec finds no key, and GETKEYS answers the others.
    // COMMAND GETKEYS GEORADIUS g 13 38 200 km STORE
    (&[b"COMMAND", b"GETKEYS", b"GEORADIUS", b"g", b"13", b"38", b"200", b"km", b"STORE"],
          b"*1\r\n$1\r\ng\r\n"),
    // COMMAND GETKEYS GEORADIUS g 13 38 200 km STOREDIST
    (&[b"COMMAND", b"GETKEYS", b"GEORADIUS", b"g", b"13", b"38", b"200", b"km", b"STOREDIST"],
          b"*1\r\n$1\r\ng\r\n"),
    // COMMAND GETKEYS GEORADIUSBYMEMBER g m 200 km STORE
    (&[b"COMMAND", b"GETKEYS", b"GEORADIUSBYMEMBER", b"g", b"m", b"200", b"km", b"STORE"],
          b"*1\r\n$1\r\ng\r\n"),
    // COMMAND GETKEYSANDFLAGS GEORADIUS g 13 38 200 km STORE
    (&[b"COMMAND", b"GETKEYSANDFLAGS", b"GEORADIUS", b"g", b"13", b"38", b"200", b"km", b"STORE"],
          b"*1\r\n*2\r\n$1\r\ng\r\n*2\r\n+RO\r\n+access\r\n"),
    // COMMAND GETKEYS EVAL x 0
    (&[b"COMMAND", b"GETKEYS", b"EVAL", b"x", b"0"],
          b"*0\r\n"),
    // COMMAND GETKEYS EVAL x 3 k1
    (&[b"COMMAND", b"GETKEYS", b"EVAL", b"x", b"3", b"k1"],
          b"*0\r\n"),
    // COMMAND GETKEYS FCALL f 0
    (&[b"COMMAND", b"GETKEYS", b"FCALL", b"f", b"0"],
          b"*0\r\n"),
    // COMMAND GETKEYSANDFLAGS LMOVE a b LEFT RIGHT
    (&[b"COMMAND", b"GETKEYSANDFLAGS", b"LMOVE", b"a", b"b", b"LEFT", b"RIGHT"],
          b"*2\r\n*2\r\n$1\r\na\r\n*3\r\n+RW\r\n+access\r\n+delete\r\n*2\r\n$1\r\nb\r\n*2\r\n+RW\r\n+insert\r\n"),
    // COMMAND GETKEYSANDFLAGS SET k v
    (&[b"COMMAND", b"GETKEYSANDFLAGS", b"SET", b"k", b"v"],
          b"*1\r\n*2\r\n$1\r\nk\r\n*2\r\n+OW\r\n+update\r\n"),
    // COMMAND GETKEYSANDFLAGS SET k get
    (&[b"COMMAND", b"GETKEYSANDFLAGS", b"SET", b"k", b"get"],
          b"*1\r\n*2\r\n$1\r\nk\r\n*2\r\n+OW\r\n+update\r\n"),
    // COMMAND GETKEYSANDFLAGS SET k v get EX 1
    (&[b"COMMAND", b"GETKEYSANDFLAGS", b"SET", b"k", b"v", b"get", b"EX", b"1"],
          b"*1\r\n*2\r\n$1\r\nk\r\n*3\r\n+RW\r\n+access\r\n+update\r\n"),
    // COMMAND GETKEYSANDFLAGS BITFIELD k GET u8 0
    (&[b"COMMAND", b"GETKEYSANDFLAGS", b"BITFIELD", b"k", b"GET", b"u8", b"0"],
          b"*1\r\n*2\r\n$1\r\nk\r\n*2\r\n+RO\r\n+access\r\n"),
    // COMMAND GETKEYSANDFLAGS BITFIELD k GET u8 0 INCRBY u8 0 1
    (&[b"COMMAND", b"GETKEYSANDFLAGS", b"BITFIELD", b"k", b"GET", b"u8", b"0", b"INCRBY", b"u8", b"0", b"1"],
          b"*1\r\n*2\r\n$1\r\nk\r\n*3\r\n+RW\r\n+access\r\n+update\r\n"),
    // COMMAND GETKEYSANDFLAGS BITFIELD k GET u8
    (&[b"COMMAND", b"GETKEYSANDFLAGS", b"BITFIELD", b"k", b"GET", b"u8"],
          b"*1\r\n*2\r\n$1\r\nk\r\n*3\r\n+RW\r\n+access\r\n+update\r\n"),
    // COMMAND GETKEYSANDFLAGS BITFIELD k SET u8 0
    (&[b"COMMAND", b"GETKEYSANDFLAGS", b"BITFIELD", b"k", b"SET", b"u8", b"0"],
          b"*1\r\n*2\r\n$1\r\nk\r\n*3\r\n+RW\r\n+access\r\n+update\r\n"),
    // COMMAND GETKEYSANDFLAGS BITFIELD k OVERFLOW
    (&[b"COMMAND", b"GETKEYSANDFLAGS", b"BITFIELD", b"k", b"OVERFLOW"],
          b"*1\r\n*2\r\n$1\r\nk\r\n*3\r\n+RW\r\n+access\r\n+update\r\n"),
    // COMMAND GETKEYSANDFLAGS BITFIELD k OVERFLOW FAIL GET u8 0
    (&[b"COMMAND", b"GETKEYSANDFLAGS", b"BITFIELD", b"k", b"OVERFLOW", b"FAIL", b"GET", b"u8", b"0"],
          b"*1\r\n*2\r\n$1\r\nk\r\n*2\r\n+RO\r\n+access\r\n"),
    // COMMAND GETKEYSANDFLAGS SORT s BY x STORE d
    (&[b"COMMAND", b"GETKEYSANDFLAGS", b"SORT", b"s", b"BY", b"x", b"STORE", b"d"],
          b"*2\r\n*2\r\n$1\r\ns\r\n*2\r\n+RO\r\n+access\r\n*2\r\n$1\r\nd\r\n*2\r\n+OW\r\n+update\r\n"),
    // COMMAND GETKEYSANDFLAGS EVAL x 2 k1 k2
    (&[b"COMMAND", b"GETKEYSANDFLAGS", b"EVAL", b"x", b"2", b"k1", b"k2"],
          b"*2\r\n*2\r\n$2\r\nk1\r\n*3\r\n+RW\r\n+access\r\n+update\r\n*2\r\n$2\r\nk2\r\n*3\r\n+RW\r\n+access\r\n+update\r\n"),
    // COMMAND GETKEYSANDFLAGS EVAL x 0
    (&[b"COMMAND", b"GETKEYSANDFLAGS", b"EVAL", b"x", b"0"],
          b"*0\r\n"),
    // COMMAND GETKEYSANDFLAGS ZUNIONSTORE d 2 a b
    (&[b"COMMAND", b"GETKEYSANDFLAGS", b"ZUNIONSTORE", b"d", b"2", b"a", b"b"],
          b"*3\r\n*2\r\n$1\r\nd\r\n*2\r\n+OW\r\n+update\r\n*2\r\n$1\r\na\r\n*2\r\n+RO\r\n+access\r\n*2\r\n$1\r\nb\r\n*2\r\n+RO\r\n+access\r\n"),
    // COMMAND GETKEYSANDFLAGS GEORADIUS g 0 0 1 m STOREDIST d
    (&[b"COMMAND", b"GETKEYSANDFLAGS", b"GEORADIUS", b"g", b"0", b"0", b"1", b"m", b"STOREDIST", b"d"],
          b"*2\r\n*2\r\n$1\r\ng\r\n*2\r\n+RO\r\n+access\r\n*2\r\n$1\r\nd\r\n*2\r\n+OW\r\n+update\r\n"),
    // COMMAND GETKEYS SORT_RO s STORE d
    (&[b"COMMAND", b"GETKEYS", b"SORT_RO", b"s", b"STORE", b"d"],
          b"*1\r\n$1\r\ns\r\n"),
    // COMMAND GETKEYSANDFLAGS SORT_RO s STORE d
    (&[b"COMMAND", b"GETKEYSANDFLAGS", b"SORT_RO", b"s", b"STORE", b"d"],
          b"*1\r\n*2\r\n$1\r\ns\r\n*2\r\n+RO\r\n+access\r\n"),
    // COMMAND GETKEYSANDFLAGS GET
    (&[b"COMMAND", b"GETKEYSANDFLAGS", b"GET"],
          b"-ERR wrong number of arguments for 'command|getkeysandflags' command\r\n"),
    // COMMAND GETKEYSANDFLAGS NOSUCH a
    (&[b"COMMAND", b"GETKEYSANDFLAGS", b"NOSUCH", b"a"],
          b"-ERR Invalid command specified\r\n"),
    // COMMAND GETKEYSANDFLAGS SPUBLISH ch m
    (&[b"COMMAND", b"GETKEYSANDFLAGS", b"SPUBLISH", b"ch", b"m"],
          b"-ERR The command has no key arguments\r\n"),
    // COMMAND GETKEYSANDFLAGS LMOVE a
    (&[b"COMMAND", b"GETKEYSANDFLAGS", b"LMOVE", b"a"],
          b"-ERR Invalid number of arguments specified for command\r\n"),
    ]);
    // RESP3: each key's flags are a set.
    raw.send(&resp(&[b"HELLO", b"3"]));
    skip_value(&mut raw);
    check(&mut raw, &[
    // COMMAND GETKEYSANDFLAGS LMOVE a b LEFT RIGHT
    (&[b"COMMAND", b"GETKEYSANDFLAGS", b"LMOVE", b"a", b"b", b"LEFT", b"RIGHT"],
          b"*2\r\n*2\r\n$1\r\na\r\n~3\r\n+RW\r\n+access\r\n+delete\r\n*2\r\n$1\r\nb\r\n~2\r\n+RW\r\n+insert\r\n"),
    ]);
}

#[test]
#[rustfmt::skip]
fn command_getkeys_as_redis_answers() {
    let server = Server::start(&[]);
    check(&mut server.raw(), &[
    // COMMAND GETKEYS GET k
    (&[b"COMMAND", b"GETKEYS", b"GET", b"k"],
          b"*1\r\n\
          $1\r\n\
          k\r\n"),
    // COMMAND GETKEYS SET k v GET
    (&[b"COMMAND", b"GETKEYS", b"SET", b"k", b"v", b"GET"],
          b"*1\r\n\
          $1\r\n\
          k\r\n"),
    // COMMAND GETKEYS MSET a 1 b 2
    (&[b"COMMAND", b"GETKEYS", b"MSET", b"a", b"1", b"b", b"2"],
          b"*2\r\n\
          $1\r\n\
          a\r\n\
          $1\r\n\
          b\r\n"),
    // COMMAND GETKEYS DEL a b c
    (&[b"COMMAND", b"GETKEYS", b"DEL", b"a", b"b", b"c"],
          b"*3\r\n\
          $1\r\n\
          a\r\n\
          $1\r\n\
          b\r\n\
          $1\r\n\
          c\r\n"),
    // COMMAND GETKEYS LMOVE src dst LEFT RIGHT
    (&[b"COMMAND", b"GETKEYS", b"LMOVE", b"src", b"dst", b"LEFT", b"RIGHT"],
          b"*2\r\n\
          $3\r\n\
          src\r\n\
          $3\r\n\
          dst\r\n"),
    // COMMAND GETKEYS ZUNIONSTORE d 2 a b WEIGHTS 1 2
    (&[b"COMMAND", b"GETKEYS", b"ZUNIONSTORE", b"d", b"2", b"a", b"b", b"WEIGHTS", b"1", b"2"],
          b"*3\r\n\
          $1\r\n\
          d\r\n\
          $1\r\n\
          a\r\n\
          $1\r\n\
          b\r\n"),
    // COMMAND GETKEYS ZUNIONSTORE d 0 a
    (&[b"COMMAND", b"GETKEYS", b"ZUNIONSTORE", b"d", b"0", b"a"],
          b"-ERR Invalid arguments specified for command\r\n"),
    // COMMAND GETKEYS ZUNIONSTORE d x a
    (&[b"COMMAND", b"GETKEYS", b"ZUNIONSTORE", b"d", b"x", b"a"],
          b"-ERR Invalid arguments specified for command\r\n"),
    // COMMAND GETKEYS ZUNIONSTORE d 3 a b
    (&[b"COMMAND", b"GETKEYS", b"ZUNIONSTORE", b"d", b"3", b"a", b"b"],
          b"-ERR Invalid arguments specified for command\r\n"),
    // COMMAND GETKEYS BLPOP a b 0
    (&[b"COMMAND", b"GETKEYS", b"BLPOP", b"a", b"b", b"0"],
          b"*2\r\n\
          $1\r\n\
          a\r\n\
          $1\r\n\
          b\r\n"),
    // COMMAND GETKEYS LMPOP 2 a b LEFT
    (&[b"COMMAND", b"GETKEYS", b"LMPOP", b"2", b"a", b"b", b"LEFT"],
          b"*2\r\n\
          $1\r\n\
          a\r\n\
          $1\r\n\
          b\r\n"),
    // COMMAND GETKEYS BZMPOP 0 1 z MAX
    (&[b"COMMAND", b"GETKEYS", b"BZMPOP", b"0", b"1", b"z", b"MAX"],
          b"*1\r\n\
          $1\r\n\
          z\r\n"),
    // COMMAND GETKEYS SINTERCARD 2 a b LIMIT 1
    (&[b"COMMAND", b"GETKEYS", b"SINTERCARD", b"2", b"a", b"b", b"LIMIT", b"1"],
          b"*2\r\n\
          $1\r\n\
          a\r\n\
          $1\r\n\
          b\r\n"),
    // COMMAND GETKEYS OBJECT ENCODING k
    (&[b"COMMAND", b"GETKEYS", b"OBJECT", b"ENCODING", b"k"],
          b"*1\r\n\
          $1\r\n\
          k\r\n"),
    // COMMAND GETKEYS MEMORY USAGE k
    (&[b"COMMAND", b"GETKEYS", b"MEMORY", b"USAGE", b"k"],
          b"*1\r\n\
          $1\r\n\
          k\r\n"),
    // COMMAND GETKEYS OBJECT NOSUCH k
    (&[b"COMMAND", b"GETKEYS", b"OBJECT", b"NOSUCH", b"k"],
          b"-ERR Invalid command specified\r\n"),
    // COMMAND GETKEYS PING x
    (&[b"COMMAND", b"GETKEYS", b"PING", b"x"],
          b"-ERR The command has no key arguments\r\n"),
    // COMMAND GETKEYS GET a b
    (&[b"COMMAND", b"GETKEYS", b"GET", b"a", b"b"],
          b"-ERR Invalid number of arguments specified for command\r\n"),
    // COMMAND GETKEYS NOSUCH k
    (&[b"COMMAND", b"GETKEYS", b"NOSUCH", b"k"],
          b"-ERR Invalid command specified\r\n"),
    // COMMAND GETKEYS GET
    (&[b"COMMAND", b"GETKEYS", b"GET"],
          b"-ERR wrong number of arguments for 'command|getkeys' command\r\n"),
    ]);
}

/// A reply as nested strings, for comparing COMMAND DOCS field by field.
fn strings(v: &redis::Value) -> Vec<String> {
    match v {
        redis::Value::BulkString(b) => vec![String::from_utf8_lossy(b).into_owned()],
        redis::Value::SimpleString(s) => vec![s.clone()],
        redis::Value::Int(i) => vec![i.to_string()],
        redis::Value::Array(items) => items.iter().flat_map(strings).collect(),
        other => panic!("unexpected {other:?}"),
    }
}

/// COMMAND DOCS fields in Redis's order with Redis's values (redis-server 7.0.15), except the
/// summary, where kv has Redis 7.2's wording.
#[test]
fn command_docs_fields_as_redis_lists_them() {
    let server = Server::start(&[]);
    let mut con = server.client();
    let docs = |con: &mut redis::Connection, name: &str| -> Vec<String> {
        let v: redis::Value = redis::cmd("COMMAND")
            .arg("DOCS")
            .arg(name)
            .query(con)
            .unwrap();
        let mut s = strings(&v);
        assert_eq!(s[0], name);
        assert_eq!(s[1], "summary");
        s.drain(..3);
        s
    };
    assert_eq!(
        docs(&mut con, "zrevrange")[..12],
        [
            "since",
            "1.2.0",
            "group",
            "sorted-set",
            "complexity",
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number \
             of elements returned.",
            "doc_flags",
            "deprecated",
            "deprecated_since",
            "6.2.0",
            "replaced_by",
            "`ZRANGE` with the `REV` argument",
        ]
    );
    assert_eq!(
        docs(&mut con, "memory|usage"),
        [
            "since",
            "4.0.0",
            "group",
            "server",
            "complexity",
            "O(N) where N is the number of samples.",
            "arguments",
            "name",
            "key",
            "type",
            "key",
            "key_spec_index",
            "0",
            "name",
            "count",
            "type",
            "integer",
            "token",
            "SAMPLES",
            "flags",
            "optional",
        ]
    );
    let set = docs(&mut con, "set");
    let history = set.iter().position(|f| f == "history").unwrap();
    let args = set.iter().position(|f| f == "arguments").unwrap();
    assert_eq!(
        set[history + 1..args],
        [
            "2.6.12",
            "Added the `EX`, `PX`, `NX` and `XX` options.",
            "6.0.0",
            "Added the `KEEPTTL` option.",
            "6.2.0",
            "Added the `GET`, `EXAT` and `PXAT` option.",
            "7.0.0",
            "Allowed the `NX` and `GET` options to be used together.",
        ]
    );
}
