//! Lists, hashes and sets through the server (their semantics are tested in kvcore; these check
//! argument parsing, reply shapes in RESP2 and RESP3, and error strings).

use redis::Value;

use super::support::{Server, cmd, err};

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

fn bulks(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|s| bulk(s)).collect())
}

#[test]
fn lists() {
    let server = Server::start(&[]);
    let mut con = server.client();
    assert_eq!(
        cmd(&mut con, &["RPUSH", "l", "a", "b", "c"]).unwrap(),
        Value::Int(3)
    );
    assert_eq!(cmd(&mut con, &["LPUSH", "l", "z"]).unwrap(), Value::Int(4));
    assert_eq!(
        cmd(&mut con, &["LRANGE", "l", "0", "-1"]).unwrap(),
        bulks(&["z", "a", "b", "c"])
    );
    assert_eq!(
        cmd(&mut con, &["LPUSHX", "nosuch", "x"]).unwrap(),
        Value::Int(0)
    );
    assert_eq!(cmd(&mut con, &["LPOP", "l"]).unwrap(), bulk("z"));
    assert_eq!(
        cmd(&mut con, &["RPOP", "l", "2"]).unwrap(),
        bulks(&["c", "b"])
    );
    assert_eq!(cmd(&mut con, &["LPOP", "nosuch", "2"]).unwrap(), Value::Nil);
    assert_eq!(
        err(&mut con, &["LPOP", "l", "-1"]),
        "ERR value is out of range, must be positive"
    );
    assert_eq!(
        err(&mut con, &["LPOP", "l", "1", "2"]),
        "ERR wrong number of arguments for 'lpop' command"
    );
    assert_eq!(
        cmd(&mut con, &["RPUSH", "l", "b", "a", "b"]).unwrap(),
        Value::Int(4)
    );
    assert_eq!(cmd(&mut con, &["LPOS", "l", "b"]).unwrap(), Value::Int(1));
    assert_eq!(
        cmd(&mut con, &["LPOS", "l", "b", "RANK", "-1"]).unwrap(),
        Value::Int(3)
    );
    assert_eq!(
        cmd(&mut con, &["LPOS", "l", "b", "COUNT", "0"]).unwrap(),
        Value::Array(vec![Value::Int(1), Value::Int(3)])
    );
    assert_eq!(cmd(&mut con, &["LPOS", "l", "nope"]).unwrap(), Value::Nil);
    assert!(err(&mut con, &["LPOS", "l", "b", "RANK", "0"]).starts_with("ERR RANK can't be zero"));
    assert_eq!(
        cmd(&mut con, &["LINSERT", "l", "BEFORE", "a", "x"]).unwrap(),
        Value::Int(5)
    );
    assert_eq!(
        cmd(&mut con, &["LINSERT", "l", "AFTER", "nope", "x"]).unwrap(),
        Value::Int(-1)
    );
    assert_eq!(
        err(&mut con, &["LINSERT", "l", "BESIDE", "a", "x"]),
        "ERR syntax error"
    );
    assert_eq!(cmd(&mut con, &["LINDEX", "l", "0"]).unwrap(), bulk("x"));
    assert_eq!(
        cmd(&mut con, &["LSET", "l", "0", "y"]).unwrap(),
        Value::Okay
    );
    assert_eq!(
        err(&mut con, &["LSET", "l", "99", "y"]),
        "ERR index out of range"
    );
    assert_eq!(
        err(&mut con, &["LSET", "nosuch", "0", "y"]),
        "ERR no such key"
    );
    assert_eq!(
        cmd(&mut con, &["LREM", "l", "0", "b"]).unwrap(),
        Value::Int(2)
    );
    assert_eq!(
        cmd(&mut con, &["LTRIM", "l", "0", "0"]).unwrap(),
        Value::Okay
    );
    assert_eq!(cmd(&mut con, &["LLEN", "l"]).unwrap(), Value::Int(1));
    assert_eq!(
        cmd(&mut con, &["RPUSH", "src", "1", "2"]).unwrap(),
        Value::Int(2)
    );
    assert_eq!(
        cmd(&mut con, &["LMOVE", "src", "dst", "LEFT", "RIGHT"]).unwrap(),
        bulk("1")
    );
    assert_eq!(
        cmd(&mut con, &["RPOPLPUSH", "src", "dst"]).unwrap(),
        bulk("2")
    );
    assert_eq!(cmd(&mut con, &["EXISTS", "src"]).unwrap(), Value::Int(0));
    assert_eq!(
        err(&mut con, &["LMOVE", "dst", "x", "UP", "LEFT"]),
        "ERR syntax error"
    );
    assert_eq!(
        cmd(
            &mut con,
            &["LMPOP", "2", "nosuch", "dst", "LEFT", "COUNT", "5"]
        )
        .unwrap(),
        Value::Array(vec![bulk("dst"), bulks(&["2", "1"])])
    );
    assert_eq!(
        cmd(&mut con, &["LMPOP", "1", "nosuch", "LEFT"]).unwrap(),
        Value::Nil
    );
    assert_eq!(
        err(&mut con, &["LMPOP", "0", "x", "LEFT"]),
        "ERR numkeys should be greater than 0"
    );
    assert_eq!(
        err(&mut con, &["LMPOP", "1", "x", "LEFT", "COUNT", "0"]),
        "ERR count should be greater than 0"
    );
    assert_eq!(cmd(&mut con, &["SET", "str", "v"]).unwrap(), Value::Okay);
    assert_eq!(
        err(&mut con, &["LPUSH", "str", "x"]),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(
        cmd(&mut con, &["TYPE", "l"]).unwrap(),
        Value::SimpleString("list".into())
    );
}

#[test]
fn hashes() {
    let server = Server::start(&[]);
    let mut con = server.client();
    assert_eq!(
        cmd(&mut con, &["HSET", "h", "f1", "v1", "f2", "v2"]).unwrap(),
        Value::Int(2)
    );
    assert_eq!(
        cmd(&mut con, &["HSET", "h", "f1", "v9"]).unwrap(),
        Value::Int(0)
    );
    assert_eq!(
        err(&mut con, &["HSET", "h", "f1"]),
        "ERR wrong number of arguments for 'hset' command"
    );
    assert_eq!(
        cmd(&mut con, &["HMSET", "h", "f3", "v3"]).unwrap(),
        Value::Okay
    );
    assert_eq!(
        cmd(&mut con, &["HSETNX", "h", "f3", "x"]).unwrap(),
        Value::Int(0)
    );
    assert_eq!(cmd(&mut con, &["HGET", "h", "f1"]).unwrap(), bulk("v9"));
    assert_eq!(cmd(&mut con, &["HGET", "h", "nope"]).unwrap(), Value::Nil);
    assert_eq!(
        cmd(&mut con, &["HMGET", "h", "f2", "nope"]).unwrap(),
        Value::Array(vec![bulk("v2"), Value::Nil])
    );
    assert_eq!(cmd(&mut con, &["HLEN", "h"]).unwrap(), Value::Int(3));
    assert_eq!(
        cmd(&mut con, &["HSTRLEN", "h", "f2"]).unwrap(),
        Value::Int(2)
    );
    assert_eq!(
        cmd(&mut con, &["HEXISTS", "h", "f2"]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(
        cmd(&mut con, &["HINCRBY", "h", "n", "5"]).unwrap(),
        Value::Int(5)
    );
    assert_eq!(
        err(&mut con, &["HINCRBY", "h", "f1", "1"]),
        "ERR hash value is not an integer"
    );
    assert_eq!(
        cmd(&mut con, &["HINCRBYFLOAT", "h", "fl", "1.5"]).unwrap(),
        bulk("1.5")
    );
    assert_eq!(
        err(&mut con, &["HINCRBYFLOAT", "h", "f1", "1"]),
        "ERR hash value is not a float"
    );
    assert_eq!(
        err(&mut con, &["HINCRBYFLOAT", "h", "fl", "inf"]),
        "ERR value is NaN or Infinity"
    );
    // Long double sums, as Redis's (recorded from redis-server 7.0.15).
    assert_eq!(
        cmd(&mut con, &["HINCRBYFLOAT", "hld", "fl", "0x1p-2"]).unwrap(),
        bulk("0.25")
    );
    cmd(&mut con, &["HSET", "hld", "p", "0.1"]).unwrap();
    assert_eq!(
        cmd(&mut con, &["HINCRBYFLOAT", "hld", "p", "0.2"]).unwrap(),
        bulk("0.3")
    );
    // A huge repeating count is refused instead of allocating it (regression: OOM by one command).
    assert_eq!(
        err(&mut con, &["HRANDFIELD", "h", "-9223372036854775808"]),
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    );
    assert_eq!(
        err(
            &mut con,
            &["HRANDFIELD", "h", "-1000000000000", "WITHVALUES"]
        ),
        "ERR value is out of range"
    );
    assert_eq!(
        cmd(&mut con, &["HDEL", "h", "n", "fl", "nope"]).unwrap(),
        Value::Int(2)
    );
    let all = cmd(&mut con, &["HGETALL", "h"]).unwrap();
    match all {
        Value::Array(items) => assert_eq!(items.len(), 6),
        v => panic!("{v:?}"),
    }
    let keys: Vec<String> = redis::cmd("HKEYS").arg("h").query(&mut con).unwrap();
    assert_eq!(keys.len(), 3);
    let vals: Vec<String> = redis::cmd("HVALS").arg("h").query(&mut con).unwrap();
    assert!(vals.contains(&"v3".to_string()));
    match cmd(&mut con, &["HRANDFIELD", "h", "-5", "WITHVALUES"]).unwrap() {
        Value::Array(items) => assert_eq!(items.len(), 10),
        v => panic!("{v:?}"),
    }
    assert!(matches!(
        cmd(&mut con, &["HRANDFIELD", "h"]).unwrap(),
        Value::BulkString(_)
    ));
    let (cursor, items): (String, Vec<String>) = redis::cmd("HSCAN")
        .arg("h")
        .arg(0)
        .arg("COUNT")
        .arg(100)
        .query(&mut con)
        .unwrap();
    assert_eq!(cursor, "0");
    assert_eq!(items.len(), 6);
    // RESP3: HGETALL is a map, HRANDFIELD WITHVALUES gives pairs.
    let mut raw = server.raw();
    raw.send(b"HELLO 3\r\n");
    let _ = raw.read_line();
    // Skip the rest of HELLO's map: 7 pairs of one or two lines each, read until PING's reply.
    raw.send(b"PING\r\n");
    while raw.read_line() != "+PONG\r\n" {}
    raw.roundtrip(
        b"HSET h2 a 1\r\nHGETALL h2\r\n",
        b":1\r\n%1\r\n$1\r\na\r\n$1\r\n1\r\n",
    );
    raw.roundtrip(
        b"HRANDFIELD h2 1 WITHVALUES\r\n",
        b"*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
    );
}

#[test]
fn sets() {
    let server = Server::start(&[]);
    let mut con = server.client();
    assert_eq!(
        cmd(&mut con, &["SADD", "s", "a", "b", "c", "a"]).unwrap(),
        Value::Int(3)
    );
    assert_eq!(
        cmd(&mut con, &["SADD", "t", "b", "c", "d"]).unwrap(),
        Value::Int(3)
    );
    assert_eq!(
        cmd(&mut con, &["SISMEMBER", "s", "a"]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(
        cmd(&mut con, &["SMISMEMBER", "s", "a", "z"]).unwrap(),
        Value::Array(vec![Value::Int(1), Value::Int(0)])
    );
    assert_eq!(cmd(&mut con, &["SCARD", "s"]).unwrap(), Value::Int(3));
    let mut inter: Vec<String> = redis::cmd("SINTER")
        .arg("s")
        .arg("t")
        .query(&mut con)
        .unwrap();
    inter.sort();
    assert_eq!(inter, vec!["b", "c"]);
    let union: Vec<String> = redis::cmd("SUNION")
        .arg("s")
        .arg("t")
        .query(&mut con)
        .unwrap();
    assert_eq!(union.len(), 4);
    let diff: Vec<String> = redis::cmd("SDIFF")
        .arg("s")
        .arg("t")
        .query(&mut con)
        .unwrap();
    assert_eq!(diff, vec!["a"]);
    assert_eq!(
        cmd(&mut con, &["SINTERSTORE", "st", "s", "t"]).unwrap(),
        Value::Int(2)
    );
    assert_eq!(
        cmd(&mut con, &["SUNIONSTORE", "su", "s", "t"]).unwrap(),
        Value::Int(4)
    );
    assert_eq!(
        cmd(&mut con, &["SDIFFSTORE", "sd", "s", "t"]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(
        cmd(&mut con, &["SINTERCARD", "2", "s", "t"]).unwrap(),
        Value::Int(2)
    );
    assert_eq!(
        cmd(&mut con, &["SINTERCARD", "2", "s", "t", "LIMIT", "1"]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(
        err(&mut con, &["SINTERCARD", "3", "s", "t"]),
        "ERR Number of keys can't be greater than number of args"
    );
    assert_eq!(
        cmd(&mut con, &["SMOVE", "s", "t", "a"]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(
        cmd(&mut con, &["SREM", "t", "a", "zz"]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(
        err(&mut con, &["SRANDMEMBER", "t", "-99999999999"]),
        "ERR value is out of range"
    );
    assert_eq!(
        err(&mut con, &["ZRANDMEMBER", "t", "-99999999999"]),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    match cmd(&mut con, &["SRANDMEMBER", "t", "-5"]).unwrap() {
        Value::Array(items) => assert_eq!(items.len(), 5),
        v => panic!("{v:?}"),
    }
    let popped: Vec<String> = redis::cmd("SPOP")
        .arg("su")
        .arg(10)
        .query(&mut con)
        .unwrap();
    assert_eq!(popped.len(), 4);
    assert_eq!(cmd(&mut con, &["EXISTS", "su"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut con, &["SPOP", "nosuch"]).unwrap(), Value::Nil);
    assert_eq!(
        err(&mut con, &["SPOP", "s", "-1"]),
        "ERR value is out of range, must be positive"
    );
    let (cursor, members): (String, Vec<String>) = redis::cmd("SSCAN")
        .arg("t")
        .arg(0)
        .arg("MATCH")
        .arg("[bc]")
        .query(&mut con)
        .unwrap();
    assert_eq!(cursor, "0");
    assert_eq!(members.len(), 2);
    // RESP3: SMEMBERS is a set.
    let mut raw = server.raw();
    raw.send(b"HELLO 3\r\nPING\r\n");
    while raw.read_line() != "+PONG\r\n" {}
    raw.roundtrip(b"SMEMBERS sd\r\n", b"~1\r\n$1\r\na\r\n");
}

#[test]
fn sorted_sets() {
    let server = Server::start(&[]);
    let mut con = server.client();
    assert_eq!(
        cmd(
            &mut con,
            &["ZADD", "z", "1", "a", "2", "b", "3", "c", "1.5", "d"]
        )
        .unwrap(),
        Value::Int(4)
    );
    assert_eq!(
        cmd(&mut con, &["ZRANGE", "z", "0", "1", "WITHSCORES"]).unwrap(),
        bulks(&["a", "1", "d", "1.5"])
    );
    assert_eq!(
        cmd(&mut con, &["ZRANGE", "z", "(1", "3", "BYSCORE"]).unwrap(),
        bulks(&["d", "b", "c"])
    );
    assert_eq!(
        cmd(
            &mut con,
            &["ZRANGE", "z", "3", "1", "BYSCORE", "REV", "LIMIT", "0", "2"]
        )
        .unwrap(),
        bulks(&["c", "b"])
    );
    assert_eq!(
        cmd(&mut con, &["ZREVRANGE", "z", "0", "0"]).unwrap(),
        bulks(&["c"])
    );
    assert_eq!(
        cmd(&mut con, &["ZRANGEBYSCORE", "z", "-inf", "(1.5"]).unwrap(),
        bulks(&["a"])
    );
    assert_eq!(
        cmd(
            &mut con,
            &["ZREVRANGEBYSCORE", "z", "+inf", "2", "WITHSCORES"]
        )
        .unwrap(),
        bulks(&["c", "3", "b", "2"])
    );
    assert_eq!(
        err(&mut con, &["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"]),
        "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
    );
    assert_eq!(
        err(&mut con, &["ZADD", "z", "XX", "NX", "1", "a"]),
        "ERR XX and NX options at the same time are not compatible"
    );
    assert_eq!(
        err(&mut con, &["ZADD", "z", "GT", "LT", "1", "a"]),
        "ERR GT, LT, and/or NX options at the same time are not compatible"
    );
    assert_eq!(
        err(&mut con, &["ZADD", "z", "nan", "a"]),
        "ERR value is not a valid float"
    );
    assert_eq!(
        err(&mut con, &["ZADD", "z", "1", "a", "2"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut con, &["ZCOUNT", "z", "x", "1"]),
        "ERR min or max is not a float"
    );
    assert_eq!(
        cmd(&mut con, &["ZADD", "z", "CH", "GT", "0", "a", "9", "b"]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(
        cmd(&mut con, &["ZADD", "z", "INCR", "1", "a"]).unwrap(),
        bulk("2")
    );
    assert_eq!(
        cmd(&mut con, &["ZADD", "z", "NX", "INCR", "1", "a"]).unwrap(),
        Value::Nil
    );
    assert_eq!(
        cmd(&mut con, &["ZINCRBY", "z", "0.1", "d"]).unwrap(),
        bulk("1.6")
    );
    assert_eq!(cmd(&mut con, &["ZSCORE", "z", "d"]).unwrap(), bulk("1.6"));
    assert_eq!(
        cmd(&mut con, &["ZMSCORE", "z", "d", "nope"]).unwrap(),
        Value::Array(vec![bulk("1.6"), Value::Nil])
    );
    assert_eq!(cmd(&mut con, &["ZCARD", "z"]).unwrap(), Value::Int(4));
    assert_eq!(
        cmd(&mut con, &["ZCOUNT", "z", "2", "+inf"]).unwrap(),
        Value::Int(3)
    );
    assert_eq!(cmd(&mut con, &["ZRANK", "z", "d"]).unwrap(), Value::Int(0));
    assert_eq!(
        cmd(&mut con, &["ZREVRANK", "z", "b", "WITHSCORE"]).unwrap(),
        Value::Array(vec![Value::Int(0), bulk("9")])
    );
    assert_eq!(cmd(&mut con, &["ZRANK", "z", "nope"]).unwrap(), Value::Nil);
    assert_eq!(
        cmd(&mut con, &["ZPOPMIN", "z"]).unwrap(),
        bulks(&["d", "1.6"])
    );
    assert_eq!(
        cmd(&mut con, &["ZPOPMAX", "z", "1"]).unwrap(),
        bulks(&["b", "9"])
    );
    assert_eq!(
        cmd(&mut con, &["ZMPOP", "2", "nope", "z", "MIN", "COUNT", "10"]).unwrap(),
        Value::Array(vec![
            bulk("z"),
            Value::Array(vec![bulks(&["a", "2"]), bulks(&["c", "3"])])
        ])
    );
    assert_eq!(cmd(&mut con, &["EXISTS", "z"]).unwrap(), Value::Int(0));
    // Combining.
    cmd(&mut con, &["ZADD", "p", "1", "x", "2", "y"]).unwrap();
    cmd(&mut con, &["ZADD", "q", "10", "y", "20", "w"]).unwrap();
    assert_eq!(
        cmd(&mut con, &["ZUNION", "2", "p", "q", "WITHSCORES"]).unwrap(),
        bulks(&["x", "1", "y", "12", "w", "20"])
    );
    assert_eq!(
        cmd(
            &mut con,
            &["ZINTER", "2", "p", "q", "AGGREGATE", "MAX", "WITHSCORES"]
        )
        .unwrap(),
        bulks(&["y", "10"])
    );
    assert_eq!(
        cmd(&mut con, &["ZDIFF", "2", "p", "q"]).unwrap(),
        bulks(&["x"])
    );
    assert_eq!(
        cmd(
            &mut con,
            &["ZUNIONSTORE", "u", "2", "p", "q", "WEIGHTS", "2", "1"]
        )
        .unwrap(),
        Value::Int(3)
    );
    assert_eq!(cmd(&mut con, &["ZSCORE", "u", "y"]).unwrap(), bulk("14"));
    assert_eq!(
        err(
            &mut con,
            &["ZUNIONSTORE", "u", "2", "p", "q", "WEIGHTS", "x", "1"]
        ),
        "ERR weight value is not a float"
    );
    assert_eq!(
        cmd(&mut con, &["ZINTERCARD", "2", "p", "q"]).unwrap(),
        Value::Int(1)
    );
    // Lexicographic ranges.
    cmd(&mut con, &["ZADD", "lex", "0", "a", "0", "b", "0", "c"]).unwrap();
    assert_eq!(
        cmd(&mut con, &["ZRANGEBYLEX", "lex", "[b", "+"]).unwrap(),
        bulks(&["b", "c"])
    );
    assert_eq!(
        cmd(&mut con, &["ZREVRANGEBYLEX", "lex", "+", "(a"]).unwrap(),
        bulks(&["c", "b"])
    );
    assert_eq!(
        cmd(&mut con, &["ZLEXCOUNT", "lex", "-", "+"]).unwrap(),
        Value::Int(3)
    );
    assert_eq!(
        err(&mut con, &["ZRANGEBYLEX", "lex", "b", "+"]),
        "ERR min or max not valid string range item"
    );
    assert_eq!(
        cmd(
            &mut con,
            &["ZRANGESTORE", "dst", "lex", "[a", "[b", "BYLEX"]
        )
        .unwrap(),
        Value::Int(2)
    );
    assert_eq!(
        cmd(&mut con, &["ZREMRANGEBYLEX", "lex", "[a", "[a"]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(
        cmd(&mut con, &["ZREMRANGEBYRANK", "lex", "0", "0"]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(
        cmd(&mut con, &["ZREMRANGEBYSCORE", "lex", "-inf", "+inf"]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(
        cmd(&mut con, &["ZREM", "dst", "a", "zz"]).unwrap(),
        Value::Int(1)
    );
    let (cursor, items): (String, Vec<String>) =
        redis::cmd("ZSCAN").arg("u").arg(0).query(&mut con).unwrap();
    assert_eq!((cursor.as_str(), items.len()), ("0", 6));
    match cmd(&mut con, &["ZRANDMEMBER", "u", "-4", "WITHSCORES"]).unwrap() {
        Value::Array(items) => assert_eq!(items.len(), 8),
        v => panic!("{v:?}"),
    }
    // RESP3: scores are doubles, WITHSCORES gives pairs.
    let mut raw = server.raw();
    raw.send(b"HELLO 3\r\nPING\r\n");
    while raw.read_line() != "+PONG\r\n" {}
    raw.roundtrip(b"ZSCORE u x\r\n", b",2\r\n");
    raw.roundtrip(
        b"ZRANGE p 0 0 WITHSCORES\r\n",
        b"*1\r\n*2\r\n$1\r\nx\r\n,1\r\n",
    );
}

#[test]
fn blocking_pops_wait_for_a_push() {
    let server = Server::start(&[]);
    let mut con = server.client();
    // Data already there: no waiting.
    cmd(&mut con, &["RPUSH", "ready", "x"]).unwrap();
    assert_eq!(
        cmd(&mut con, &["BLPOP", "empty", "ready", "0"]).unwrap(),
        bulks(&["ready", "x"])
    );
    // A timeout gives a null reply.
    assert_eq!(
        cmd(&mut con, &["BRPOP", "empty", "0.05"]).unwrap(),
        Value::Nil
    );
    assert_eq!(
        cmd(&mut con, &["BZPOPMIN", "empty", "0.05"]).unwrap(),
        Value::Nil
    );
    assert_eq!(
        err(&mut con, &["BLPOP", "k", "-1"]),
        "ERR timeout is negative"
    );
    assert_eq!(
        err(&mut con, &["BLPOP", "k", "x"]),
        "ERR timeout is not a float or out of range"
    );
    cmd(&mut con, &["SET", "str", "v"]).unwrap();
    assert_eq!(
        err(&mut con, &["BLPOP", "str", "0"]),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );

    // Blocked clients are served in the order they blocked, one element each (issue 6).
    let blocked = |con: &mut redis::Connection| -> usize {
        let info: String = redis::cmd("INFO").arg("clients").query(con).unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix("blocked_clients:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap()
    };
    let mut waiters = Vec::new();
    for i in 0..3 {
        let addr = server.addr;
        waiters.push(std::thread::spawn(move || {
            let mut c = redis::Client::open(format!("redis://{addr}/"))
                .unwrap()
                .get_connection()
                .unwrap();
            let got: (String, String) = redis::cmd("BLPOP")
                .arg("nothing")
                .arg("jobs")
                .arg(0)
                .query(&mut c)
                .unwrap();
            got
        }));
        // Wait until this one is in line before starting the next.
        let end = std::time::Instant::now() + super::support::PATIENCE;
        while blocked(&mut con) != i + 1 {
            assert!(std::time::Instant::now() < end, "waiter {i} never blocked");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut con).unwrap();
    assert_eq!(list.matches(" flags=b ").count(), 3, "{list}");
    for v in ["a", "b", "c"] {
        assert_eq!(cmd(&mut con, &["RPUSH", "jobs", v]).unwrap(), Value::Int(1));
    }
    let got: Vec<(String, String)> = waiters.into_iter().map(|t| t.join().unwrap()).collect();
    let want: Vec<(String, String)> = ["a", "b", "c"]
        .iter()
        .map(|v| ("jobs".to_string(), v.to_string()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(blocked(&mut con), 0);

    // BLMOVE and BZPOPMAX wake up too.
    let addr = server.addr;
    let mover = std::thread::spawn(move || {
        let mut c = redis::Client::open(format!("redis://{addr}/"))
            .unwrap()
            .get_connection()
            .unwrap();
        let v: String = redis::cmd("BLMOVE")
            .arg("src")
            .arg("dst")
            .arg("LEFT")
            .arg("RIGHT")
            .arg(0)
            .query(&mut c)
            .unwrap();
        let z: (String, String, String) = redis::cmd("BZPOPMAX")
            .arg("zs")
            .arg(0)
            .query(&mut c)
            .unwrap();
        (v, z)
    });
    while !mover.is_finished() {
        let _ = cmd(&mut con, &["RPUSH", "src", "m"]);
        let _ = cmd(&mut con, &["ZADD", "zs", "5", "top"]);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (v, z) = mover.join().unwrap();
    assert_eq!(v, "m");
    assert_eq!(z, ("zs".to_string(), "top".to_string(), "5".to_string()));
}

#[test]
fn a_blocked_client_that_hangs_up_is_released() {
    let server = Server::start(&[]);
    let mut raw = server.raw();
    raw.send(b"BLPOP never 0\r\n");
    let mut con = server.client();
    let end = std::time::Instant::now() + super::support::PATIENCE;
    while !redis::cmd("CLIENT")
        .arg("LIST")
        .query::<String>(&mut con)
        .unwrap()
        .contains("cmd=blpop")
    {
        assert!(std::time::Instant::now() < end);
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    drop(raw);
    // The server notices within its poll interval and the client disappears from the list.
    loop {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut con).unwrap();
        if !list.contains("cmd=blpop") {
            break;
        }
        assert!(
            std::time::Instant::now() < end,
            "blocked client never released:\n{list}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
