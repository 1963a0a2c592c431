#!/usr/bin/env python3
"""Differential fuzz: random deterministic list/hash/set/zset commands against redis-server and
kvserver; replies must match (unordered replies compared sorted). Usage: difffuzz.py PORT_A PORT_B N SEED"""
import os, random, socket, sys
BIG = os.environ.get("BIG") == "1"

from resp import enc  # tools/resp.py

class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port)); self.buf = b""
    def line(self):
        while b"\r\n" not in self.buf:
            self.buf += self.s.recv(65536)
        l, self.buf = self.buf.split(b"\r\n", 1); return l
    def exact(self, n):
        while len(self.buf) < n + 2:
            self.buf += self.s.recv(65536)
        d, self.buf = self.buf[:n], self.buf[n + 2:]; return d
    def reply(self):
        l = self.line(); t, rest = l[:1], l[1:]
        if t == b"+": return ("ok", rest)
        if t == b"-": return ("err", rest.split(b" ")[0])  # compare error kinds by prefix word
        if t == b":": return int(rest)
        if t == b"$":
            n = int(rest); return None if n < 0 else self.exact(n)
        if t == b"*":
            n = int(rest); return None if n < 0 else [self.reply() for _ in range(n)]
        raise ValueError(l)
    def cmd(self, args):
        self.s.sendall(enc(args)); return self.reply()

UNORDERED = {"SMEMBERS", "SINTER", "SUNION", "SDIFF", "HKEYS", "HVALS"}
PAIRS = {"HGETALL"}

def norm(cmd, r):
    if cmd in UNORDERED and isinstance(r, list): return sorted(r, key=repr)
    if cmd in PAIRS and isinstance(r, list): return sorted(zip(r[::2], r[1::2]), key=repr)
    if cmd in ("SSCAN", "HSCAN") and isinstance(r, list): return r  # cursors differ by design; skipped below
    return r

def gen(rng):
    V = ["a", "b", "c", "1", "2", "3", "-1", "10", "x" * 70] if not BIG else [str(rng.randrange(400)) for _ in range(3)] + ["m%d" % rng.randrange(300)]
    S = ["0", "1", "2", "-1", "1.5", "inf", "-inf", "(1", "(2", "+inf"]
    I = ["0", "1", "-1", "2", "-2", "5", "-5", "100"]
    L = ["-", "+", "[a", "(a", "[b", "(c", "[1"]
    l, h, s, z = rng.choice(["l1", "l2"]), "h1", rng.choice(["s1", "s2"]), rng.choice(["z1", "z2"])
    v, i = (lambda: rng.choice(V)), (lambda: rng.choice(I))
    sc = lambda: rng.choice(["0", "1", "2", "-1", "1.5", "inf", "-inf", "3"])
    c = rng.choice([
        ["RPUSH", l, v(), v(), v(), v()], ["LPUSH", l, v()], ["LPUSHX", l, v()], ["RPUSHX", l, v()],
        ["LPOP", l], ["RPOP", l, rng.choice(["0", "1", "3"])], ["LRANGE", l, i(), i()],
        ["LINDEX", l, i()], ["LSET", l, i(), v()], ["LREM", l, i(), v()], ["LTRIM", l, i(), i()],
        ["LINSERT", l, rng.choice(["BEFORE", "AFTER"]), v(), v()], ["LLEN", l],
        ["LPOS", l, v(), "RANK", rng.choice(["1", "-1", "2"]), "COUNT", rng.choice(["0", "1", "2"])],
        ["LMOVE", l, rng.choice(["l1", "l2"]), rng.choice(["LEFT", "RIGHT"]), rng.choice(["LEFT", "RIGHT"])],
        ["HSET", h, v(), v()], ["HDEL", h, v(), v()], ["HGET", h, v()], ["HMGET", h, v(), v()],
        ["HINCRBY", h, v(), i()], ["HLEN", h], ["HSTRLEN", h, v()], ["HEXISTS", h, v()],
        ["HSETNX", h, v(), v()], ["HGETALL", h], ["HKEYS", h],
        ["SADD", s, v(), v()], ["SREM", s, v()], ["SISMEMBER", s, v()], ["SMISMEMBER", s, v(), v()],
        ["SCARD", s], ["SMEMBERS", s], ["SINTER", "s1", "s2"], ["SUNION", "s1", "s2"], ["SDIFF", "s1", "s2"],
        ["SINTERCARD", "2", "s1", "s2"], ["SMOVE", "s1", "s2", v()],
        ["SINTERSTORE", "s3", "s1", "s2"], ["SUNIONSTORE", "s3", "s1", "s2"], ["SMEMBERS", "s3"],
        ["ZADD", z, sc(), v()], ["ZADD", z, rng.choice(["NX", "XX", "GT", "LT", "CH", "GT CH"]), sc(), v()],
        ["ZADD", z, "INCR", sc(), v()], ["ZINCRBY", z, sc(), v()], ["ZREM", z, v()],
        ["ZSCORE", z, v()], ["ZMSCORE", z, v(), v()], ["ZCARD", z], ["ZRANK", z, v()], ["ZREVRANK", z, v()],
        ["ZRANGE", z, i(), i(), "WITHSCORES"], ["ZRANGE", z, i(), i(), "REV"],
        ["ZRANGEBYSCORE", z, rng.choice(S), rng.choice(S), "WITHSCORES"],
        ["ZREVRANGEBYSCORE", z, rng.choice(S), rng.choice(S), "LIMIT", i(), i()],
        ["ZRANGEBYLEX", z, rng.choice(L), rng.choice(L)], ["ZLEXCOUNT", z, rng.choice(L), rng.choice(L)],
        ["ZCOUNT", z, rng.choice(S), rng.choice(S)], ["ZREMRANGEBYRANK", z, i(), i()],
        ["ZREMRANGEBYSCORE", z, rng.choice(S), rng.choice(S)], ["ZPOPMIN", z, rng.choice(["1", "2"])],
        ["ZPOPMAX", z], ["ZUNIONSTORE", "z3", "2", "z1", "z2", "WEIGHTS", rng.choice(["1", "2", "-1", "0"]), "1"],
        ["ZINTERSTORE", "z3", "2", "z1", "z2", "AGGREGATE", rng.choice(["SUM", "MIN", "MAX"])],
        ["ZDIFFSTORE", "z3", "2", "z1", "z2"], ["ZRANGE", "z3", "0", "-1", "WITHSCORES"],
        ["ZRANGESTORE", "z3", z, i(), i()], ["ZUNION", "2", "z1", "s1", "WITHSCORES"],
        ["TYPE", rng.choice(["l1", "h1", "s1", "z1", "s3", "z3"])], ["DEL", rng.choice(["l1", "s1", "z1", "h1"])],
        ["SET", rng.choice(["l2", "s2", "z2"]), "str"],
    ])
    return [x for part in c for x in (part.split(" ") if part in ("GT CH",) else [part])]

def main():
    pa, pb, n, seed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    a, b = Conn(pa), Conn(pb)
    a.cmd(["FLUSHALL"]); b.cmd(["FLUSHALL"])
    rng = random.Random(seed); bad = 0
    for k in range(n):
        c = gen(rng)
        ra, rb = norm(c[0], a.cmd(c)), norm(c[0], b.cmd(c))
        if ra != rb:
            bad += 1
            print(f"#{k} {' '.join(c)}\n  redis: {ra!r}\n  kv:    {rb!r}")
            if bad >= 15: break
    print(f"{n} commands, {bad} mismatches")

main()
