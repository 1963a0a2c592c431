//! The arguments `COMMAND DOCS` lists per command (redis-cli builds its hints from them),
//! recorded from redis-server 7.0.15, plus ZRANK/ZREVRANK's WITHSCORE from 7.2.

use kvproto::Writer;

/// One documented argument, Redis's fields in Redis's order.
#[derive(Debug)]
pub(crate) struct Arg {
    name: &'static str,
    /// `key`, `string`, `integer`, `double`, `pattern`, `unix-time`, `pure-token`, `oneof`
    /// or `block`.
    kind: &'static str,
    key_spec_index: Option<i64>,
    token: Option<&'static str>,
    since: Option<&'static str>,
    deprecated_since: Option<&'static str>,
    /// Space-separated: `optional`, `multiple`, `multiple_token`.
    flags: &'static str,
    /// The members of a `oneof` or a `block`.
    args: &'static [Arg],
}

const fn a(name: &'static str, kind: &'static str) -> Arg {
    Arg {
        name,
        kind,
        key_spec_index: None,
        token: None,
        since: None,
        deprecated_since: None,
        flags: "",
        args: &[],
    }
}

impl Arg {
    const fn key(self, index: i64) -> Arg {
        Arg {
            key_spec_index: Some(index),
            ..self
        }
    }

    const fn token(self, token: &'static str) -> Arg {
        Arg {
            token: Some(token),
            ..self
        }
    }

    const fn since(self, since: &'static str) -> Arg {
        Arg {
            since: Some(since),
            ..self
        }
    }

    const fn deprecated(self, since: &'static str) -> Arg {
        Arg {
            deprecated_since: Some(since),
            ..self
        }
    }

    const fn flags(self, flags: &'static str) -> Arg {
        Arg { flags, ..self }
    }

    const fn args(self, args: &'static [Arg]) -> Arg {
        Arg { args, ..self }
    }
}

/// The documented arguments of a command or subcommand; empty for those without any.
pub(crate) fn arguments(name: &str) -> &'static [Arg] {
    ARGS.iter()
        .find(|(n, _)| *n == name)
        .map_or(&[], |(_, a)| a)
}

/// Writes an argument list as `COMMAND DOCS` does: an array of maps.
pub(crate) fn write_args(w: &mut Writer<'_>, args: &[Arg]) {
    w.array_len(args.len());
    for arg in args {
        let optional = [
            arg.key_spec_index.is_some(),
            arg.token.is_some(),
            arg.since.is_some(),
            arg.deprecated_since.is_some(),
            !arg.flags.is_empty(),
            !arg.args.is_empty(),
        ];
        w.map_len(2 + optional.iter().filter(|&&on| on).count());
        w.bulk(b"name");
        w.bulk(arg.name.as_bytes());
        w.bulk(b"type");
        w.bulk(arg.kind.as_bytes());
        if let Some(index) = arg.key_spec_index {
            w.bulk(b"key_spec_index");
            w.integer(index);
        }
        for (field, value) in [
            ("token", arg.token),
            ("since", arg.since),
            ("deprecated_since", arg.deprecated_since),
        ] {
            if let Some(value) = value {
                w.bulk(field.as_bytes());
                w.bulk(value.as_bytes());
            }
        }
        if !arg.flags.is_empty() {
            w.bulk(b"flags");
            w.set_len(arg.flags.split_whitespace().count());
            for f in arg.flags.split_whitespace() {
                w.simple(f.as_bytes());
            }
        }
        if !arg.args.is_empty() {
            w.bulk(b"arguments");
            write_args(w, arg.args);
        }
    }
}

#[rustfmt::skip]
static ARGS: &[(&str, &[Arg])] = &[
    ("append", &[
        a("key", "key").key(0),
        a("value", "string"),
    ]),
    ("decr", &[
        a("key", "key").key(0),
    ]),
    ("decrby", &[
        a("key", "key").key(0),
        a("decrement", "integer"),
    ]),
    ("get", &[
        a("key", "key").key(0),
    ]),
    ("getdel", &[
        a("key", "key").key(0),
    ]),
    ("getex", &[
        a("key", "key").key(0),
        a("expiration", "oneof").flags("optional").args(&[a("seconds", "integer").token("EX"), a("milliseconds", "integer").token("PX"), a("unix-time-seconds", "unix-time").token("EXAT"), a("unix-time-milliseconds", "unix-time").token("PXAT"), a("persist", "pure-token").token("PERSIST")]),
    ]),
    ("getrange", &[
        a("key", "key").key(0),
        a("start", "integer"),
        a("end", "integer"),
    ]),
    ("getset", &[
        a("key", "key").key(0),
        a("value", "string"),
    ]),
    ("incr", &[
        a("key", "key").key(0),
    ]),
    ("incrby", &[
        a("key", "key").key(0),
        a("increment", "integer"),
    ]),
    ("incrbyfloat", &[
        a("key", "key").key(0),
        a("increment", "double"),
    ]),
    ("lcs", &[
        a("key1", "key").key(0),
        a("key2", "key").key(0),
        a("len", "pure-token").token("LEN").flags("optional"),
        a("idx", "pure-token").token("IDX").flags("optional"),
        a("len", "integer").token("MINMATCHLEN").flags("optional"),
        a("withmatchlen", "pure-token").token("WITHMATCHLEN").flags("optional"),
    ]),
    ("mget", &[
        a("key", "key").key(0).flags("multiple"),
    ]),
    ("mset", &[
        a("key_value", "block").flags("multiple").args(&[a("key", "key").key(0), a("value", "string")]),
    ]),
    ("msetnx", &[
        a("key_value", "block").flags("multiple").args(&[a("key", "key").key(0), a("value", "string")]),
    ]),
    ("psetex", &[
        a("key", "key").key(0),
        a("milliseconds", "integer"),
        a("value", "string"),
    ]),
    ("set", &[
        a("key", "key").key(0),
        a("value", "string"),
        a("condition", "oneof").since("2.6.12").flags("optional").args(&[a("nx", "pure-token").token("NX"), a("xx", "pure-token").token("XX")]),
        a("get", "pure-token").token("GET").since("6.2.0").flags("optional"),
        a("expiration", "oneof").flags("optional").args(&[a("seconds", "integer").token("EX").since("2.6.12"), a("milliseconds", "integer").token("PX").since("2.6.12"), a("unix-time-seconds", "unix-time").token("EXAT").since("6.2.0"), a("unix-time-milliseconds", "unix-time").token("PXAT").since("6.2.0"), a("keepttl", "pure-token").token("KEEPTTL").since("6.0.0")]),
    ]),
    ("setex", &[
        a("key", "key").key(0),
        a("seconds", "integer"),
        a("value", "string"),
    ]),
    ("setnx", &[
        a("key", "key").key(0),
        a("value", "string"),
    ]),
    ("setrange", &[
        a("key", "key").key(0),
        a("offset", "integer"),
        a("value", "string"),
    ]),
    ("strlen", &[
        a("key", "key").key(0),
    ]),
    ("substr", &[
        a("key", "key").key(0),
        a("start", "integer"),
        a("end", "integer"),
    ]),
    ("copy", &[
        a("source", "key").key(0),
        a("destination", "key").key(1),
        a("destination-db", "integer").token("DB").flags("optional"),
        a("replace", "pure-token").token("REPLACE").flags("optional"),
    ]),
    ("del", &[
        a("key", "key").key(0).flags("multiple"),
    ]),
    ("exists", &[
        a("key", "key").key(0).flags("multiple"),
    ]),
    ("expire", &[
        a("key", "key").key(0),
        a("seconds", "integer"),
        a("condition", "oneof").since("7.0.0").flags("optional").args(&[a("nx", "pure-token").token("NX"), a("xx", "pure-token").token("XX"), a("gt", "pure-token").token("GT"), a("lt", "pure-token").token("LT")]),
    ]),
    ("expireat", &[
        a("key", "key").key(0),
        a("unix-time-seconds", "unix-time"),
        a("condition", "oneof").since("7.0.0").flags("optional").args(&[a("nx", "pure-token").token("NX"), a("xx", "pure-token").token("XX"), a("gt", "pure-token").token("GT"), a("lt", "pure-token").token("LT")]),
    ]),
    ("expiretime", &[
        a("key", "key").key(0),
    ]),
    ("keys", &[
        a("pattern", "pattern"),
    ]),
    ("move", &[
        a("key", "key").key(0),
        a("db", "integer"),
    ]),
    ("object|encoding", &[
        a("key", "key").key(0),
    ]),
    ("object|freq", &[
        a("key", "key").key(0),
    ]),
    ("object|idletime", &[
        a("key", "key").key(0),
    ]),
    ("object|refcount", &[
        a("key", "key").key(0),
    ]),
    ("persist", &[
        a("key", "key").key(0),
    ]),
    ("pexpire", &[
        a("key", "key").key(0),
        a("milliseconds", "integer"),
        a("condition", "oneof").since("7.0.0").flags("optional").args(&[a("nx", "pure-token").token("NX"), a("xx", "pure-token").token("XX"), a("gt", "pure-token").token("GT"), a("lt", "pure-token").token("LT")]),
    ]),
    ("pexpireat", &[
        a("key", "key").key(0),
        a("unix-time-milliseconds", "unix-time"),
        a("condition", "oneof").since("7.0.0").flags("optional").args(&[a("nx", "pure-token").token("NX"), a("xx", "pure-token").token("XX"), a("gt", "pure-token").token("GT"), a("lt", "pure-token").token("LT")]),
    ]),
    ("pexpiretime", &[
        a("key", "key").key(0),
    ]),
    ("pttl", &[
        a("key", "key").key(0),
    ]),
    ("rename", &[
        a("key", "key").key(0),
        a("newkey", "key").key(1),
    ]),
    ("renamenx", &[
        a("key", "key").key(0),
        a("newkey", "key").key(1),
    ]),
    ("scan", &[
        a("cursor", "integer"),
        a("pattern", "pattern").token("MATCH").flags("optional"),
        a("count", "integer").token("COUNT").flags("optional"),
        a("type", "string").token("TYPE").since("6.0.0").flags("optional"),
    ]),
    ("touch", &[
        a("key", "key").key(0).flags("multiple"),
    ]),
    ("ttl", &[
        a("key", "key").key(0),
    ]),
    ("type", &[
        a("key", "key").key(0),
    ]),
    ("unlink", &[
        a("key", "key").key(0).flags("multiple"),
    ]),
    ("blmove", &[
        a("source", "key").key(0),
        a("destination", "key").key(1),
        a("wherefrom", "oneof").args(&[a("left", "pure-token").token("LEFT"), a("right", "pure-token").token("RIGHT")]),
        a("whereto", "oneof").args(&[a("left", "pure-token").token("LEFT"), a("right", "pure-token").token("RIGHT")]),
        a("timeout", "double"),
    ]),
    ("blmpop", &[
        a("timeout", "double"),
        a("numkeys", "integer"),
        a("key", "key").key(0).flags("multiple"),
        a("where", "oneof").args(&[a("left", "pure-token").token("LEFT"), a("right", "pure-token").token("RIGHT")]),
        a("count", "integer").token("COUNT").flags("optional"),
    ]),
    ("blpop", &[
        a("key", "key").key(0).flags("multiple"),
        a("timeout", "double"),
    ]),
    ("brpop", &[
        a("key", "key").key(0).flags("multiple"),
        a("timeout", "double"),
    ]),
    ("brpoplpush", &[
        a("source", "key").key(0),
        a("destination", "key").key(1),
        a("timeout", "double"),
    ]),
    ("lindex", &[
        a("key", "key").key(0),
        a("index", "integer"),
    ]),
    ("linsert", &[
        a("key", "key").key(0),
        a("where", "oneof").args(&[a("before", "pure-token").token("BEFORE"), a("after", "pure-token").token("AFTER")]),
        a("pivot", "string"),
        a("element", "string"),
    ]),
    ("llen", &[
        a("key", "key").key(0),
    ]),
    ("lmove", &[
        a("source", "key").key(0),
        a("destination", "key").key(1),
        a("wherefrom", "oneof").args(&[a("left", "pure-token").token("LEFT"), a("right", "pure-token").token("RIGHT")]),
        a("whereto", "oneof").args(&[a("left", "pure-token").token("LEFT"), a("right", "pure-token").token("RIGHT")]),
    ]),
    ("lmpop", &[
        a("numkeys", "integer"),
        a("key", "key").key(0).flags("multiple"),
        a("where", "oneof").args(&[a("left", "pure-token").token("LEFT"), a("right", "pure-token").token("RIGHT")]),
        a("count", "integer").token("COUNT").flags("optional"),
    ]),
    ("lpop", &[
        a("key", "key").key(0),
        a("count", "integer").since("6.2.0").flags("optional"),
    ]),
    ("lpos", &[
        a("key", "key").key(0),
        a("element", "string"),
        a("rank", "integer").token("RANK").flags("optional"),
        a("num-matches", "integer").token("COUNT").flags("optional"),
        a("len", "integer").token("MAXLEN").flags("optional"),
    ]),
    ("lpush", &[
        a("key", "key").key(0),
        a("element", "string").flags("multiple"),
    ]),
    ("lpushx", &[
        a("key", "key").key(0),
        a("element", "string").flags("multiple"),
    ]),
    ("lrange", &[
        a("key", "key").key(0),
        a("start", "integer"),
        a("stop", "integer"),
    ]),
    ("lrem", &[
        a("key", "key").key(0),
        a("count", "integer"),
        a("element", "string"),
    ]),
    ("lset", &[
        a("key", "key").key(0),
        a("index", "integer"),
        a("element", "string"),
    ]),
    ("ltrim", &[
        a("key", "key").key(0),
        a("start", "integer"),
        a("stop", "integer"),
    ]),
    ("rpop", &[
        a("key", "key").key(0),
        a("count", "integer").since("6.2.0").flags("optional"),
    ]),
    ("rpoplpush", &[
        a("source", "key").key(0),
        a("destination", "key").key(1),
    ]),
    ("rpush", &[
        a("key", "key").key(0),
        a("element", "string").flags("multiple"),
    ]),
    ("rpushx", &[
        a("key", "key").key(0),
        a("element", "string").flags("multiple"),
    ]),
    ("hdel", &[
        a("key", "key").key(0),
        a("field", "string").flags("multiple"),
    ]),
    ("hexists", &[
        a("key", "key").key(0),
        a("field", "string"),
    ]),
    ("hget", &[
        a("key", "key").key(0),
        a("field", "string"),
    ]),
    ("hgetall", &[
        a("key", "key").key(0),
    ]),
    ("hincrby", &[
        a("key", "key").key(0),
        a("field", "string"),
        a("increment", "integer"),
    ]),
    ("hincrbyfloat", &[
        a("key", "key").key(0),
        a("field", "string"),
        a("increment", "double"),
    ]),
    ("hkeys", &[
        a("key", "key").key(0),
    ]),
    ("hlen", &[
        a("key", "key").key(0),
    ]),
    ("hmget", &[
        a("key", "key").key(0),
        a("field", "string").flags("multiple"),
    ]),
    ("hmset", &[
        a("key", "key").key(0),
        a("field_value", "block").flags("multiple").args(&[a("field", "string"), a("value", "string")]),
    ]),
    ("hrandfield", &[
        a("key", "key").key(0),
        a("options", "block").flags("optional").args(&[a("count", "integer"), a("withvalues", "pure-token").token("WITHVALUES").flags("optional")]),
    ]),
    ("hscan", &[
        a("key", "key").key(0),
        a("cursor", "integer"),
        a("pattern", "pattern").token("MATCH").flags("optional"),
        a("count", "integer").token("COUNT").flags("optional"),
    ]),
    ("hset", &[
        a("key", "key").key(0),
        a("field_value", "block").flags("multiple").args(&[a("field", "string"), a("value", "string")]),
    ]),
    ("hsetnx", &[
        a("key", "key").key(0),
        a("field", "string"),
        a("value", "string"),
    ]),
    ("hstrlen", &[
        a("key", "key").key(0),
        a("field", "string"),
    ]),
    ("hvals", &[
        a("key", "key").key(0),
    ]),
    ("sadd", &[
        a("key", "key").key(0),
        a("member", "string").flags("multiple"),
    ]),
    ("scard", &[
        a("key", "key").key(0),
    ]),
    ("sdiff", &[
        a("key", "key").key(0).flags("multiple"),
    ]),
    ("sdiffstore", &[
        a("destination", "key").key(0),
        a("key", "key").key(1).flags("multiple"),
    ]),
    ("sinter", &[
        a("key", "key").key(0).flags("multiple"),
    ]),
    ("sintercard", &[
        a("numkeys", "integer"),
        a("key", "key").key(0).flags("multiple"),
        a("limit", "integer").token("LIMIT").flags("optional"),
    ]),
    ("sinterstore", &[
        a("destination", "key").key(0),
        a("key", "key").key(1).flags("multiple"),
    ]),
    ("sismember", &[
        a("key", "key").key(0),
        a("member", "string"),
    ]),
    ("smembers", &[
        a("key", "key").key(0),
    ]),
    ("smismember", &[
        a("key", "key").key(0),
        a("member", "string").flags("multiple"),
    ]),
    ("smove", &[
        a("source", "key").key(0),
        a("destination", "key").key(1),
        a("member", "string"),
    ]),
    ("spop", &[
        a("key", "key").key(0),
        a("count", "integer").since("3.2.0").flags("optional"),
    ]),
    ("srandmember", &[
        a("key", "key").key(0),
        a("count", "integer").since("2.6.0").flags("optional"),
    ]),
    ("srem", &[
        a("key", "key").key(0),
        a("member", "string").flags("multiple"),
    ]),
    ("sscan", &[
        a("key", "key").key(0),
        a("cursor", "integer"),
        a("pattern", "pattern").token("MATCH").flags("optional"),
        a("count", "integer").token("COUNT").flags("optional"),
    ]),
    ("sunion", &[
        a("key", "key").key(0).flags("multiple"),
    ]),
    ("sunionstore", &[
        a("destination", "key").key(0),
        a("key", "key").key(1).flags("multiple"),
    ]),
    ("bzmpop", &[
        a("timeout", "double"),
        a("numkeys", "integer"),
        a("key", "key").key(0).flags("multiple"),
        a("where", "oneof").args(&[a("min", "pure-token").token("MIN"), a("max", "pure-token").token("MAX")]),
        a("count", "integer").token("COUNT").flags("optional"),
    ]),
    ("bzpopmax", &[
        a("key", "key").key(0).flags("multiple"),
        a("timeout", "double"),
    ]),
    ("bzpopmin", &[
        a("key", "key").key(0).flags("multiple"),
        a("timeout", "double"),
    ]),
    ("zadd", &[
        a("key", "key").key(0),
        a("condition", "oneof").since("3.0.2").flags("optional").args(&[a("nx", "pure-token").token("NX"), a("xx", "pure-token").token("XX")]),
        a("comparison", "oneof").since("6.2.0").flags("optional").args(&[a("gt", "pure-token").token("GT"), a("lt", "pure-token").token("LT")]),
        a("change", "pure-token").token("CH").since("3.0.2").flags("optional"),
        a("increment", "pure-token").token("INCR").since("3.0.2").flags("optional"),
        a("score_member", "block").flags("multiple").args(&[a("score", "double"), a("member", "string")]),
    ]),
    ("zcard", &[
        a("key", "key").key(0),
    ]),
    ("zcount", &[
        a("key", "key").key(0),
        a("min", "double"),
        a("max", "double"),
    ]),
    ("zdiff", &[
        a("numkeys", "integer"),
        a("key", "key").key(0).flags("multiple"),
        a("withscores", "pure-token").token("WITHSCORES").flags("optional"),
    ]),
    ("zdiffstore", &[
        a("destination", "key").key(0),
        a("numkeys", "integer"),
        a("key", "key").key(1).flags("multiple"),
    ]),
    ("zincrby", &[
        a("key", "key").key(0),
        a("increment", "integer"),
        a("member", "string"),
    ]),
    ("zinter", &[
        a("numkeys", "integer"),
        a("key", "key").key(0).flags("multiple"),
        a("weight", "integer").token("WEIGHTS").flags("optional multiple"),
        a("aggregate", "oneof").token("AGGREGATE").flags("optional").args(&[a("sum", "pure-token").token("SUM"), a("min", "pure-token").token("MIN"), a("max", "pure-token").token("MAX")]),
        a("withscores", "pure-token").token("WITHSCORES").flags("optional"),
    ]),
    ("zintercard", &[
        a("numkeys", "integer"),
        a("key", "key").key(0).flags("multiple"),
        a("limit", "integer").token("LIMIT").flags("optional"),
    ]),
    ("zinterstore", &[
        a("destination", "key").key(0),
        a("numkeys", "integer"),
        a("key", "key").key(1).flags("multiple"),
        a("weight", "integer").token("WEIGHTS").flags("optional multiple"),
        a("aggregate", "oneof").token("AGGREGATE").flags("optional").args(&[a("sum", "pure-token").token("SUM"), a("min", "pure-token").token("MIN"), a("max", "pure-token").token("MAX")]),
    ]),
    ("zlexcount", &[
        a("key", "key").key(0),
        a("min", "string"),
        a("max", "string"),
    ]),
    ("zmpop", &[
        a("numkeys", "integer"),
        a("key", "key").key(0).flags("multiple"),
        a("where", "oneof").args(&[a("min", "pure-token").token("MIN"), a("max", "pure-token").token("MAX")]),
        a("count", "integer").token("COUNT").flags("optional"),
    ]),
    ("zmscore", &[
        a("key", "key").key(0),
        a("member", "string").flags("multiple"),
    ]),
    ("zpopmax", &[
        a("key", "key").key(0),
        a("count", "integer").flags("optional"),
    ]),
    ("zpopmin", &[
        a("key", "key").key(0),
        a("count", "integer").flags("optional"),
    ]),
    ("zrandmember", &[
        a("key", "key").key(0),
        a("options", "block").flags("optional").args(&[a("count", "integer"), a("withscores", "pure-token").token("WITHSCORES").flags("optional")]),
    ]),
    ("zrange", &[
        a("key", "key").key(0),
        a("start", "string"),
        a("stop", "string"),
        a("sortby", "oneof").since("6.2.0").flags("optional").args(&[a("byscore", "pure-token").token("BYSCORE"), a("bylex", "pure-token").token("BYLEX")]),
        a("rev", "pure-token").token("REV").since("6.2.0").flags("optional"),
        a("offset_count", "block").token("LIMIT").since("6.2.0").flags("optional").args(&[a("offset", "integer"), a("count", "integer")]),
        a("withscores", "pure-token").token("WITHSCORES").flags("optional"),
    ]),
    ("zrangebylex", &[
        a("key", "key").key(0),
        a("min", "string"),
        a("max", "string"),
        a("offset_count", "block").token("LIMIT").flags("optional").args(&[a("offset", "integer"), a("count", "integer")]),
    ]),
    ("zrangebyscore", &[
        a("key", "key").key(0),
        a("min", "double"),
        a("max", "double"),
        a("withscores", "pure-token").token("WITHSCORES").since("2.0.0").flags("optional"),
        a("offset_count", "block").token("LIMIT").flags("optional").args(&[a("offset", "integer"), a("count", "integer")]),
    ]),
    ("zrangestore", &[
        a("dst", "key").key(0),
        a("src", "key").key(1),
        a("min", "string"),
        a("max", "string"),
        a("sortby", "oneof").flags("optional").args(&[a("byscore", "pure-token").token("BYSCORE"), a("bylex", "pure-token").token("BYLEX")]),
        a("rev", "pure-token").token("REV").flags("optional"),
        a("offset_count", "block").token("LIMIT").flags("optional").args(&[a("offset", "integer"), a("count", "integer")]),
    ]),
    ("zrank", &[
        a("key", "key").key(0),
        a("member", "string"),
        // Redis 7.2.
        a("withscore", "pure-token").token("WITHSCORE").since("7.2.0").flags("optional"),
    ]),
    ("zrem", &[
        a("key", "key").key(0),
        a("member", "string").flags("multiple"),
    ]),
    ("zremrangebylex", &[
        a("key", "key").key(0),
        a("min", "string"),
        a("max", "string"),
    ]),
    ("zremrangebyrank", &[
        a("key", "key").key(0),
        a("start", "integer"),
        a("stop", "integer"),
    ]),
    ("zremrangebyscore", &[
        a("key", "key").key(0),
        a("min", "double"),
        a("max", "double"),
    ]),
    ("zrevrange", &[
        a("key", "key").key(0),
        a("start", "integer"),
        a("stop", "integer"),
        a("withscores", "pure-token").token("WITHSCORES").flags("optional"),
    ]),
    ("zrevrangebylex", &[
        a("key", "key").key(0),
        a("max", "string"),
        a("min", "string"),
        a("offset_count", "block").token("LIMIT").flags("optional").args(&[a("offset", "integer"), a("count", "integer")]),
    ]),
    ("zrevrangebyscore", &[
        a("key", "key").key(0),
        a("max", "double"),
        a("min", "double"),
        a("withscores", "pure-token").token("WITHSCORES").flags("optional"),
        a("offset_count", "block").token("LIMIT").flags("optional").args(&[a("offset", "integer"), a("count", "integer")]),
    ]),
    ("zrevrank", &[
        a("key", "key").key(0),
        a("member", "string"),
        // Redis 7.2.
        a("withscore", "pure-token").token("WITHSCORE").since("7.2.0").flags("optional"),
    ]),
    ("zscan", &[
        a("key", "key").key(0),
        a("cursor", "integer"),
        a("pattern", "pattern").token("MATCH").flags("optional"),
        a("count", "integer").token("COUNT").flags("optional"),
    ]),
    ("zscore", &[
        a("key", "key").key(0),
        a("member", "string"),
    ]),
    ("zunion", &[
        a("numkeys", "integer"),
        a("key", "key").key(0).flags("multiple"),
        a("weight", "integer").token("WEIGHTS").flags("optional multiple"),
        a("aggregate", "oneof").token("AGGREGATE").flags("optional").args(&[a("sum", "pure-token").token("SUM"), a("min", "pure-token").token("MIN"), a("max", "pure-token").token("MAX")]),
        a("withscores", "pure-token").token("WITHSCORES").flags("optional"),
    ]),
    ("zunionstore", &[
        a("destination", "key").key(0),
        a("numkeys", "integer"),
        a("key", "key").key(1).flags("multiple"),
        a("weight", "integer").token("WEIGHTS").flags("optional multiple"),
        a("aggregate", "oneof").token("AGGREGATE").flags("optional").args(&[a("sum", "pure-token").token("SUM"), a("min", "pure-token").token("MIN"), a("max", "pure-token").token("MAX")]),
    ]),
    ("auth", &[
        a("username", "string").since("6.0.0").flags("optional"),
        a("password", "string"),
    ]),
    ("client|kill", &[
        a("filter", "oneof").args(&[a("ip:port", "string").deprecated("2.8.12"), a("new-format", "oneof").flags("multiple").args(&[a("client-id", "integer").token("ID").since("2.8.12").flags("optional"), a("normal_master_slave_pubsub", "oneof").token("TYPE").since("2.8.12").flags("optional").args(&[a("normal", "pure-token").token("NORMAL"), a("master", "pure-token").token("MASTER").since("3.2.0"), a("slave", "pure-token").token("SLAVE"), a("replica", "pure-token").token("REPLICA").since("5.0.0"), a("pubsub", "pure-token").token("PUBSUB")]), a("username", "string").token("USER").flags("optional"), a("ip:port", "string").token("ADDR").flags("optional"), a("ip:port", "string").token("LADDR").since("6.2.0").flags("optional"), a("yes/no", "string").token("SKIPME").flags("optional")])]),
    ]),
    ("client|list", &[
        a("normal_master_replica_pubsub", "oneof").token("TYPE").since("5.0.0").flags("optional").args(&[a("normal", "pure-token").token("NORMAL"), a("master", "pure-token").token("MASTER"), a("replica", "pure-token").token("REPLICA"), a("pubsub", "pure-token").token("PUBSUB")]),
        a("id", "block").token("ID").since("6.2.0").flags("optional").args(&[a("client-id", "integer").flags("multiple")]),
    ]),
    ("client|no-evict", &[
        a("enabled", "oneof").args(&[a("on", "pure-token").token("ON"), a("off", "pure-token").token("OFF")]),
    ]),
    ("client|reply", &[
        a("on_off_skip", "oneof").args(&[a("on", "pure-token").token("ON"), a("off", "pure-token").token("OFF"), a("skip", "pure-token").token("SKIP")]),
    ]),
    ("client|setname", &[
        a("connection-name", "string"),
    ]),
    ("echo", &[
        a("message", "string"),
    ]),
    ("hello", &[
        a("arguments", "block").flags("optional").args(&[a("protover", "integer"), a("username_password", "block").token("AUTH").flags("optional").args(&[a("username", "string"), a("password", "string")]), a("clientname", "string").token("SETNAME").flags("optional")]),
    ]),
    ("ping", &[
        a("message", "string").flags("optional"),
    ]),
    ("select", &[
        a("index", "integer"),
    ]),
    ("command|docs", &[
        a("command-name", "string").flags("optional multiple"),
    ]),
    ("command|info", &[
        a("command-name", "string").flags("optional multiple"),
    ]),
    ("command|list", &[
        a("filterby", "oneof").token("FILTERBY").flags("optional").args(&[a("module-name", "string").token("MODULE"), a("category", "string").token("ACLCAT"), a("pattern", "pattern").token("PATTERN")]),
    ]),
    ("config|get", &[
        a("parameter", "block").flags("multiple").args(&[a("parameter", "string")]),
    ]),
    ("config|set", &[
        a("parameter_value", "block").flags("multiple").args(&[a("parameter", "string"), a("value", "string")]),
    ]),
    ("flushall", &[
        a("async", "oneof").flags("optional").args(&[a("async", "pure-token").token("ASYNC").since("4.0.0"), a("sync", "pure-token").token("SYNC").since("6.2.0")]),
    ]),
    ("flushdb", &[
        a("async", "oneof").flags("optional").args(&[a("async", "pure-token").token("ASYNC").since("4.0.0"), a("sync", "pure-token").token("SYNC").since("6.2.0")]),
    ]),
    ("info", &[
        a("section", "string").flags("optional multiple"),
    ]),
    ("memory|usage", &[
        a("key", "key").key(0),
        a("count", "integer").token("SAMPLES").flags("optional"),
    ]),
    ("bgsave", &[
        a("schedule", "pure-token").token("SCHEDULE").since("3.2.2").flags("optional"),
    ]),
    ("shutdown", &[
        a("nosave_save", "oneof").flags("optional").args(&[a("nosave", "pure-token").token("NOSAVE"), a("save", "pure-token").token("SAVE")]),
        a("now", "pure-token").token("NOW").since("7.0.0").flags("optional"),
        a("force", "pure-token").token("FORCE").since("7.0.0").flags("optional"),
        a("abort", "pure-token").token("ABORT").since("7.0.0").flags("optional"),
    ]),
    ("swapdb", &[
        a("index1", "integer"),
        a("index2", "integer"),
    ]),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn key_indexes(args: &[Arg], out: &mut Vec<i64>) {
        for arg in args {
            out.extend(arg.key_spec_index);
            key_indexes(arg.args, out);
        }
    }

    #[test]
    fn arguments_belong_to_commands_and_point_at_their_key_specs() {
        for (name, args) in ARGS {
            let meta = super::super::spec::meta(name)
                .unwrap_or_else(|| panic!("{name} has arguments but no spec::meta entry"));
            let mut indexes = Vec::new();
            key_indexes(args, &mut indexes);
            for i in indexes {
                assert!(
                    usize::try_from(i).is_ok_and(|i| i < meta.key_specs.len()),
                    "{name}: key_spec_index {i} of {} specs",
                    meta.key_specs.len()
                );
            }
        }
        assert_eq!(arguments("get")[0].name, "key");
        assert!(arguments("ping")[0].flags.contains("optional"));
        assert!(arguments("dbsize").is_empty());
    }
}
