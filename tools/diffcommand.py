#!/usr/bin/env python3
"""Compare COMMAND INFO / DOCS / GETKEYS between kvserver and redis-server, field by field.

Usage: tools/diffcommand.py [--redis 17301] [--kv 17302] [--examples 3] [--dump]

Both servers must be running. Every name kvserver's `COMMAND LIST` returns (subcommands
included) is looked up on both sides over RESP3, so set/map/array types are compared as well
as values. Prints a mismatch count per field and a few examples of each; exits 1 when any
field differs. Where kv follows Redis 7.2 (README: "Semantics, reply types and error strings
follow Redis 7.2") and 7.0 differs, the difference is listed apart and not counted: CLIENT SETINFO
(new in 7.2), ZRANK/ZREVRANK's arity, history and arguments (WITHSCORE, new in 7.2) and the
COMMAND DOCS summaries (7.2 rewrote them). Subcommands Redis has and kv does not support are listed, not counted.
"""

import argparse
import sys
from collections import defaultdict

sys.dont_write_bytecode = True  # importing resp.py leaves no tools/__pycache__
import resp


class Conn(resp.Conn):
    def __init__(self, port):
        super().__init__(port)
        self.call("HELLO", "3")

    def read(self):
        """One RESP3 value, tagged with its type so that a set and an array differ."""
        line = self._line()
        t, rest = line[:1], line[1:]
        if t in b"+":
            return ("simple", rest.decode())
        if t == b"-":
            return ("error", rest.decode())
        if t == b":":
            return ("int", int(rest))
        if t == b"$":
            n = int(rest)
            return ("null",) if n < 0 else ("bulk", self._exact(n).decode("utf-8", "replace"))
        if t == b"_":
            return ("null",)
        if t in (b"*", b"~"):
            n = int(rest)
            if n < 0:
                return ("null",)
            kind = "array" if t == b"*" else "set"
            return (kind, tuple(self.read() for _ in range(n)))
        if t == b"%":
            n = int(rest)
            return ("map", tuple((self.read(), self.read()) for _ in range(n)))
        raise ValueError(f"unexpected RESP type {line!r}")


def plain(v):
    """A tagged value without its tags (for printing and for the string-ish comparisons)."""
    kind = v[0]
    if kind in ("array", "set"):
        return [plain(x) for x in v[1]]
    if kind == "map":
        return {str(plain(k)): plain(x) for k, x in v[1]}
    if kind == "null":
        return None
    return v[1]


# (field, name) pairs where kv follows Redis 7.2 and 7.0 differs; "*" matches every name.
REDIS_72 = {("arity", "zrank"), ("arity", "zrevrank"), ("docs.summary", "*"),
            ("docs.extra", "zrank"), ("docs.extra", "zrevrank"),
            ("docs.arguments", "zrank"), ("docs.arguments", "zrevrank")}
ONLY_72 = {"client|setinfo"}

DOCS_FIELDS = ["summary", "since", "group", "complexity", "doc_flags", "deprecated_since",
               "replaced_by", "history", "arguments", "fields"]

INFO_FIELDS = ["name", "arity", "flags", "first", "last", "step", "acl", "tips", "key_specs",
               "subcommands"]

# A representative invocation of every key-taking command kv supports (arguments after the
# name). Commands that take no keys are checked for the "no key arguments" error instead.
GETKEYS = {
    "append": ["k", "v"], "decr": ["k"], "decrby": ["k", "1"], "get": ["k"], "getdel": ["k"],
    "getex": ["k", "EX", "1"], "getrange": ["k", "0", "1"], "getset": ["k", "v"],
    "incr": ["k"], "incrby": ["k", "1"], "incrbyfloat": ["k", "1"], "lcs": ["a", "b"],
    "mget": ["a", "b", "c"], "mset": ["a", "1", "b", "2"], "msetnx": ["a", "1", "b", "2"],
    "psetex": ["k", "10", "v"], "set": ["k", "v", "EX", "1"], "setex": ["k", "10", "v"],
    "setnx": ["k", "v"], "setrange": ["k", "0", "v"], "strlen": ["k"],
    "substr": ["k", "0", "1"], "copy": ["a", "b", "REPLACE"], "del": ["a", "b"],
    "exists": ["a", "b"], "expire": ["k", "10"], "expireat": ["k", "10"], "expiretime": ["k"],
    "move": ["k", "1"], "object|encoding": ["k"], "object|freq": ["k"],
    "object|idletime": ["k"], "object|refcount": ["k"], "persist": ["k"],
    "pexpire": ["k", "10"], "pexpireat": ["k", "10"], "pexpiretime": ["k"], "pttl": ["k"],
    "rename": ["a", "b"], "renamenx": ["a", "b"], "touch": ["a", "b"], "ttl": ["k"],
    "type": ["k"], "unlink": ["a", "b"], "memory|usage": ["k", "SAMPLES", "5"],
    "blmove": ["a", "b", "LEFT", "RIGHT", "0"], "blmpop": ["0", "2", "a", "b", "LEFT"],
    "blpop": ["a", "b", "0"], "brpop": ["a", "b", "0"], "brpoplpush": ["a", "b", "0"],
    "lindex": ["k", "0"], "linsert": ["k", "BEFORE", "p", "v"], "llen": ["k"],
    "lmove": ["a", "b", "LEFT", "RIGHT"], "lmpop": ["2", "a", "b", "LEFT", "COUNT", "2"],
    "lpop": ["k"], "lpos": ["k", "v"], "lpush": ["k", "v"], "lpushx": ["k", "v"],
    "lrange": ["k", "0", "1"], "lrem": ["k", "0", "v"], "lset": ["k", "0", "v"],
    "ltrim": ["k", "0", "1"], "rpop": ["k"], "rpoplpush": ["a", "b"], "rpush": ["k", "v"],
    "rpushx": ["k", "v"], "hdel": ["k", "f"], "hexists": ["k", "f"], "hget": ["k", "f"],
    "hgetall": ["k"], "hincrby": ["k", "f", "1"], "hincrbyfloat": ["k", "f", "1"],
    "hkeys": ["k"], "hlen": ["k"], "hmget": ["k", "f"], "hmset": ["k", "f", "v"],
    "hrandfield": ["k"], "hscan": ["k", "0"], "hset": ["k", "f", "v"], "hsetnx": ["k", "f", "v"],
    "hstrlen": ["k", "f"], "hvals": ["k"], "sadd": ["k", "m"], "scard": ["k"],
    "sdiff": ["a", "b"], "sdiffstore": ["d", "a", "b"], "sinter": ["a", "b"],
    "sintercard": ["2", "a", "b", "LIMIT", "1"], "sinterstore": ["d", "a", "b"],
    "sismember": ["k", "m"], "smembers": ["k"], "smismember": ["k", "m"],
    "smove": ["a", "b", "m"], "spop": ["k"], "srandmember": ["k"], "srem": ["k", "m"],
    "sscan": ["k", "0"], "sunion": ["a", "b"], "sunionstore": ["d", "a", "b"],
    "bzmpop": ["0", "2", "a", "b", "MIN"], "bzpopmax": ["a", "b", "0"],
    "bzpopmin": ["a", "b", "0"], "zadd": ["k", "1", "m"], "zcard": ["k"],
    "zcount": ["k", "0", "1"], "zdiff": ["2", "a", "b"], "zdiffstore": ["d", "2", "a", "b"],
    "zincrby": ["k", "1", "m"], "zinter": ["2", "a", "b", "WITHSCORES"],
    "zintercard": ["2", "a", "b"], "zinterstore": ["d", "2", "a", "b", "WEIGHTS", "1", "2"],
    "zlexcount": ["k", "-", "+"], "zmpop": ["2", "a", "b", "MIN"], "zmscore": ["k", "m"],
    "zpopmax": ["k"], "zpopmin": ["k"], "zrandmember": ["k"], "zrange": ["k", "0", "1"],
    "zrangebylex": ["k", "-", "+"], "zrangebyscore": ["k", "0", "1"],
    "zrangestore": ["d", "k", "0", "1"], "zrank": ["k", "m"], "zrem": ["k", "m"],
    "zremrangebylex": ["k", "-", "+"], "zremrangebyrank": ["k", "0", "1"],
    "zremrangebyscore": ["k", "0", "1"], "zrevrange": ["k", "0", "1"],
    "zrevrangebylex": ["k", "+", "-"], "zrevrangebyscore": ["k", "1", "0"],
    "zrevrank": ["k", "m"], "zscan": ["k", "0"], "zscore": ["k", "m"],
    "zunion": ["3", "a", "b", "c"], "zunionstore": ["d", "3", "a", "b", "c"],
}

# Edge cases where Redis's answer is worth pinning: key-count arguments that are zero, negative,
# not numbers or larger than the rest; a keyword search; wrong arity; unknown commands.
GETKEYS_EDGES = [
    ["zunionstore", "d", "0", "a"], ["zunionstore", "d", "-1", "a"],
    ["zunionstore", "d", "x", "a"], ["zunionstore", "d", "5", "a"], ["zunion", "0", "a"],
    ["lmpop", "0", "a", "LEFT"], ["lmpop", "5", "a", "LEFT"], ["blmpop", "0", "x", "a", "LEFT"],
    ["sintercard", "0", "a"], ["zintercard", "9", "a"], ["zmpop", "x", "a", "MIN"],
    ["get"], ["get", "a", "b"], ["nosuch", "a"], ["ping"], ["object", "encoding", "k"],
    ["OBJECT", "ENCODING", "k"], ["memory", "usage", "k"], ["client", "list"],
    ["mset", "a", "1", "b"], ["blpop", "a", "0"], ["set", "k", "v", "GET"],
    ["command", "getkeys", "get", "k"], ["cluster", "info"], ["cluster", "keyslot", "k"],
    ["cluster", "getkeysinslot", "1", "2"], ["cluster", "nosuch"], ["readonly"],
]


def info_fields(v):
    if v[0] != "array":
        return None
    items = v[1]
    out = {}
    for i, name in enumerate(INFO_FIELDS):
        out[name] = items[i] if i < len(items) else ("missing",)
    return out


def subnames(v):
    """The names of the subcommands in one COMMAND INFO entry."""
    f = info_fields(v)
    if not f or f["subcommands"][0] not in ("array", "set"):
        return []
    return [plain(s)[0] for s in f["subcommands"][1]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--redis", type=int, default=17301)
    ap.add_argument("--kv", type=int, default=17302)
    ap.add_argument("--examples", type=int, default=3)
    ap.add_argument("--dump", action="store_true", help="print every mismatch")
    args = ap.parse_args()
    r, k = Conn(args.redis), Conn(args.kv)

    names = plain(k.call("COMMAND", "LIST"))
    mismatches = defaultdict(list)
    follows_72 = defaultdict(list)
    unsupported_subs = []
    only_kv = []
    docs_left_out = defaultdict(int)

    def note(field, name, ours, theirs):
        if (field, name) in REDIS_72 or (field, "*") in REDIS_72:
            follows_72[field].append(name)
        else:
            mismatches[field].append((name, ours, theirs))

    for name in names:
        ours, theirs = k.call("COMMAND", "INFO", name), r.call("COMMAND", "INFO", name)
        ours, theirs = ours[1][0], theirs[1][0]
        if theirs[0] == "null":
            only_kv.append(name)
            continue
        fo, ft = info_fields(ours), info_fields(theirs)
        if fo is None:
            note("info-missing", name, plain(ours), "entry")
            continue
        for field in INFO_FIELDS:
            if field == "subcommands":
                a, b = set(subnames(ours)) - ONLY_72, set(subnames(theirs))
                unsupported_subs.extend(sorted(b - a))
                if a - b:
                    note(field, name, sorted(a - b), "not in Redis")
            elif fo[field] != ft[field]:
                note(field, name, plain(fo[field]), plain(ft[field]))

        # COMMAND DOCS: compare what kv provides, count what it leaves out.
        dk, dr = k.call("COMMAND", "DOCS", name), r.call("COMMAND", "DOCS", name)
        dk = dict((plain(a), b) for a, b in dk[1][0][1][1]) if dk[1] else {}
        dr = dict((plain(a), b) for a, b in dr[1][0][1][1]) if dr[1] else {}
        for field, val in dr.items():
            if field == "subcommands":
                continue
            if field not in dk:
                docs_left_out[field] += 1
            elif dk[field] != val:
                note("docs." + field, name, plain(dk[field]), plain(val))
        for field in dk:
            if field not in dr:
                note("docs.extra", name, field, None)
        # The fields both list, in the same order (Redis's order).
        order = [f for f in dk if f in dr and f != "subcommands"]
        if order != [f for f in dr if f in dk and f != "subcommands"]:
            note("docs.fields", name, order, list(dr))

    getkeys_cases = []
    for name in names:
        if name in GETKEYS:
            getkeys_cases.append(name.split("|") + GETKEYS[name])
        elif "|" not in name:
            getkeys_cases.append([name, "x"])
    getkeys_cases += GETKEYS_EDGES
    for case in getkeys_cases:
        a = plain(k.call("COMMAND", "GETKEYS", *case))
        b = plain(r.call("COMMAND", "GETKEYS", *case))
        if a != b:
            note("getkeys", " ".join(case), a, b)

    # COMMAND LIST FILTERBY ACLCAT: kv's answer is Redis's, less the commands kv lacks.
    supported = set(names) - ONLY_72
    for cat in plain(r.call("ACL", "CAT")):
        a = sorted(set(plain(k.call("COMMAND", "LIST", "FILTERBY", "ACLCAT", cat))) - ONLY_72)
        b = sorted(n for n in plain(r.call("COMMAND", "LIST", "FILTERBY", "ACLCAT", cat))
                   if n in supported)
        if a != b:
            note("aclcat", cat, sorted(set(a) - set(b)), sorted(set(b) - set(a)))
    ours, theirs = k.call("COMMAND", "INFO", "nosuch"), r.call("COMMAND", "INFO", "nosuch")
    if ours != theirs:
        note("unknown", "COMMAND INFO nosuch", plain(ours), plain(theirs))

    always = INFO_FIELDS + ["docs." + f for f in DOCS_FIELDS] + ["getkeys", "aclcat", "unknown"]
    fields = always + sorted({f for f in mismatches if f not in always})
    total = 0
    print(f"{len(names)} names from kv's COMMAND LIST, {len(getkeys_cases)} GETKEYS cases")
    for field in fields:
        rows = mismatches.get(field, [])
        total += len(rows)
        print(f"{field:22} {len(rows):4} mismatches")
        shown = rows if args.dump else rows[: args.examples]
        for name, ours, theirs in shown:
            print(f"    {name}: kv={ours!r}\n    {' ' * len(name)}  redis={theirs!r}")
    print("only in kv (Redis 7.2, absent from 7.0):", ", ".join(only_kv) or "none")
    for field, names72 in sorted(follows_72.items()):
        print(f"kv follows Redis 7.2 in {field} ({len(names72)}):", ", ".join(names72[:8]),
              "..." if len(names72) > 8 else "")
    print(f"Redis subcommands kv does not support ({len(unsupported_subs)}):",
          ", ".join(unsupported_subs))
    print("COMMAND DOCS fields kv leaves out (commands):",
          ", ".join(f"{f} ({n})" for f, n in sorted(docs_left_out.items())) or "none")
    print(f"total {total}")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
