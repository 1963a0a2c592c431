#!/usr/bin/env python3
"""Record or compare the keyspace notifications a command script produces.

Usage: tools/diffnotify.py --record PORT > tests/e2e/notify.txt
       tools/diffnotify.py PORT1 PORT2

`--record` runs SCRIPT below against one server (a redis-server) and prints every command
with the events it produced: `COMMAND => event key, event key dbN, ...`, and `sleep MS` for
the pauses that let keys expire on their own. Each event is taken from
`__keyevent@<db>__:<event>` and checked to come right after the matching
`__keyspace@<db>__:<key>` message. The e2e test `tests/e2e/notify.rs` replays the recording
against kvserver. With two ports (redis-server and kvserver), prints the commands whose
replies or events differ and exits 1 when any does. `expired` events are compared as one set
over the whole run, not per command: when Redis reclaims an expired key depends on its
timer, and kv reclaims a key set with a deadline already past at once. The servers must be
expendable: the script flushes them and turns notify-keyspace-events on.

A subscriber pattern-subscribes to both channel families and to a marker channel; after each
command the command connection publishes a marker, and the subscriber reads up to it, so no
timing is involved (one publisher's messages reach a subscriber in order).
"""

import sys
import time

sys.dont_write_bytecode = True  # importing resp.py leaves no tools/__pycache__
import resp

# (command, seconds to sleep after it). The sleeps let keys expire on their own.
SCRIPT = [
    "SET s v", "SET s w EX 100", "SET s x KEEPTTL", "SET s y NX", "SET s z GET",
    "SETNX s q", "SETNX s2 q", "GETSET s2 r", "SETEX s3 100 v", "PSETEX s4 100000 v",
    "MSET m1 a m2 b", "MSETNX m1 a m3 b", "MSETNX m4 a m5 b", "APPEND s y", "APPEND a1 y",
    "SETRANGE s 1 abc", "SETRANGE s 1 ''", "SETRANGE sr 2 x", "INCR n", "INCRBY n 5",
    "DECR n", "DECRBY n 2", "INCRBYFLOAT f 1.5", "GETDEL s2", "GETDEL nope",
    "GETEX s3 EX 200", "GETEX s3 PERSIST", "GETEX s3 PERSIST", "GETEX s4 PXAT 1",
    "SETBIT bm1 3 1", "SETBIT bm1 3 1", "SETBIT bm1 3 0", "SETBIT bm2 0 0", "GETBIT nope 1",
    "BITCOUNT nope", "BITPOS nope 1", "BITOP OR bm3 bm1 nope", "BITOP AND bm3 nope nope2",
    "BITOP AND bm4 nope", "BITFIELD bm5 SET u8 0 1", "BITFIELD bm5 SET u8 0 1",
    "BITFIELD bm5 OVERFLOW FAIL INCRBY u2 100 9", "BITFIELD nope GET u8 0",
    "BITFIELD_RO nope GET u8 0", "PFADD hl1 a b", "PFADD hl1 a", "PFADD hl2", "PFCOUNT hl1",
    "PFCOUNT nope", "PFCOUNT hl1 nope", "PFMERGE hl3 hl1 nope", "PFDEBUG TODENSE hl3",
    "SET p v PXAT 1", "SET s5 v", "SET s5 w PXAT 1", "EXPIRE s 100", "PEXPIRE s 100000",
    "EXPIREAT s 99999999999", "EXPIRE s 100 NX", "PERSIST s", "PERSIST s", "EXPIRE nope 10",
    "EXPIRE m1 0", "DEL m2 nope a1", "UNLINK sr", "RENAME s s6", "RENAME s6 s6",
    "RENAMENX s6 n", "SET t v", "RENAME t s6", "COPY s6 c1", "COPY s6 c1", "COPY s6 c1 REPLACE",
    "COPY s6 c1 DB 1", "MOVE c1 1", "MOVE n 2",
    "ZUNION 2 z2 nope", "ZINTER 1 nope", "ZINTERCARD 1 nope", "SINTER nope", "SUNION nope x",
    "SINTERCARD 1 nope", "SMISMEMBER nope a", "LINDEX nope 0", "LLEN nope", "LPOS nope x",
    "HGETALL nope", "HEXISTS nope f", "HLEN nope", "SISMEMBER nope a", "SCARD nope",
    "ZSCORE nope a", "ZCARD nope", "GETRANGE nope 0 1", "PTTL nope", "EXPIRETIME nope",
    "OBJECT ENCODING nope", "INCRBYFLOAT nope abc", "ZUNIONSTORE zz 1 nope WEIGHTS x",
    "BLPOP nope 0.01", "BZPOPMIN nope 0.01", "BLMPOP 0.01 1 nope LEFT", "LCS nope nope2",
    "SRANDMEMBER nope", "HRANDFIELD nope", "ZRANDMEMBER nope", "RANDOMKEY",
    "GET nope", "GET n", "EXISTS nope", "TYPE nope", "TTL nope", "STRLEN nope",
    "MGET n nope", "HGET nope f", "LRANGE nope 0 -1", "SMEMBERS nope", "ZRANGE nope 0 -1",
    "LPUSH l a b c", "RPUSH l d", "LPUSHX l z", "RPUSHX nope z", "LPUSHX nope z",
    "LPOP l", "RPOP l", "LPOP l 2", "LPOP nope", "LSET l 0 q", "RPUSH l q r q",
    "LREM l 0 q", "LREM l 0 nothere", "LINSERT l BEFORE r p", "LINSERT l BEFORE zz p",
    "LTRIM l 0 100", "LTRIM l 1 0", "RPUSH l2 a b c", "LMOVE l2 l3 LEFT RIGHT",
    "RPOPLPUSH l2 l2", "LMOVE l2 l3 RIGHT LEFT", "LMOVE l2 l3 RIGHT LEFT",
    "RPUSH l4 x y", "LMPOP 2 nope l4 LEFT COUNT 5", "BLPOP l3 0", "BRPOPLPUSH l3 l5 0",
    "BLMOVE l5 l5 LEFT RIGHT 0", "BLMPOP 0 1 l5 RIGHT",
    "HSET h a 1 b 2", "HSET h a 1", "HMSET h c 3", "HSETNX h a 9", "HSETNX h d 4",
    "HDEL h a nope", "HINCRBY h n 3", "HINCRBYFLOAT h f 0.5", "HDEL h b c d n f",
    "SADD st a b c", "SADD st a", "SREM st a nope", "SREM st nope", "SPOP st", "SPOP st 5",
    "SPOP nope", "SADD st1 a b", "SADD st2 b c", "SMOVE st1 st2 a", "SMOVE st1 st2 b",
    "SINTERSTORE si st2 nope", "SADD si x", "SINTERSTORE si st2 nope", "SUNIONSTORE su st2 nope",
    "SDIFFSTORE sd st2 nope", "SINTERSTORE su2 nope nope2",
    "ZADD z 1 a 2 b", "ZADD z 1 a", "ZADD z XX 5 a", "ZADD z CH 6 a 7 c", "ZADD z NX 9 a",
    "ZADD z INCR 1 a", "ZADD z XX INCR 1 nope", "ZINCRBY z 2 b", "ZINCRBY z 0 b", "ZREM z c nope",
    "ZADD z 1 m1 1 m2 1 m3 20 big", "ZREMRANGEBYSCORE z 100 200", "ZREMRANGEBYSCORE z 20 20",
    "ZREMRANGEBYRANK z 0 0", "ZREMRANGEBYLEX z [m2 [m3", "ZPOPMIN z", "ZPOPMAX z 2",
    "ZPOPMAX z 5", "ZPOPMIN nope", "ZADD z2 1 a 2 b 3 c", "ZRANGESTORE zr z2 0 1",
    "ZRANGESTORE zr nope 0 1", "ZRANGESTORE zr nope 0 1", "ZUNIONSTORE zu 2 z2 st2",
    "ZINTERSTORE zi 2 z2 nope", "ZADD zd 1 x", "ZDIFFSTORE zd 1 nope", "ZDIFFSTORE zd2 2 z2 z2",
    "ZMPOP 2 nope z2 MIN", "BZPOPMIN z2 0", "BZPOPMAX z2 0", "BZMPOP 0 1 zu MAX COUNT 10",
    "SET e1 v PX 50", ("PEXPIRE e1 1", 0.3), "GET e1", "SET e2 v PX 50", ("SET e3 v", 0.3),
    "EXISTS e2", "SET e4 v PX 20", ("SET e5 v", 1.5), "SET nx2 v GET", "GETEX nope",
    "EXISTS p s5 e1 e2 e4",
    "SELECT 1", "SET d1 v", "DEL d1", "SELECT 0", "FLUSHDB", "SET fa v", "SWAPDB 0 1",
    "FLUSHALL",
]

MARK = b"diffnotify-mark"


def split(line):
    """A script line into arguments; '' is an empty argument."""
    return [b"" if w == "''" else w.encode() for w in line.split()]


class Conn(resp.Conn):
    def read(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        if t == b":":
            return int(rest)
        return (t + rest).decode()


def record(port):
    cmd, sub = Conn(port), Conn(port)
    cmd.call("FLUSHALL")
    assert cmd.call("CONFIG", "SET", "notify-keyspace-events", "KEAmn") == "+OK"
    sub.sock.sendall(resp.enc(["PSUBSCRIBE", "__key*__:*", MARK]))
    for _ in range(2):
        sub.read()
    out = []
    for step in SCRIPT:
        line, pause = step if isinstance(step, tuple) else (step, 0)
        reply = cmd.call(*split(line))
        if pause:
            time.sleep(pause)
        cmd.call("PUBLISH", MARK, line)
        events, pending = [], None
        while True:
            kind, _pattern, channel, payload = sub.read()
            assert kind == b"pmessage", kind
            if channel == MARK:
                assert payload == line.encode(), (payload, line)
                break
            family, name = channel.split(b":", 1)
            if family.startswith(b"__keyspace@"):
                assert pending is None, (line, pending)
                pending = (family[len(b"__keyspace@"):], name, payload)
            else:
                db = family[len(b"__keyevent@"):]
                assert pending == (db, payload, name), (line, pending, channel, payload)
                pending = None
                events.append(f"{name.decode()} {payload.decode()}"
                              + ("" if db == b"0__" else f" db{db[:-2].decode()}"))
        out.append((line, reply, events))
    cmd.call("CONFIG", "SET", "notify-keyspace-events", "")
    return out


# Their replies are random: only their events are compared.
RANDOM = {b"SPOP", b"RANDOMKEY", b"SRANDMEMBER", b"HRANDFIELD", b"ZRANDMEMBER"}


def same_reply(line, a, b):
    return a == b or split(line)[0].upper() in RANDOM


def pauses():
    return {s[0]: s[1] for s in SCRIPT if isinstance(s, tuple)}


def unexpired(events):
    return [e for e in events if not e.startswith("expired ")]


def expired(run):
    return sorted(e for _, _, events in run for e in events if e.startswith("expired "))


def main():
    args = sys.argv[1:]
    if args[:1] == ["--record"]:
        cmd = Conn(int(args[1]))
        version = next(l for l in cmd.call("INFO", "server").split(b"\r\n")
                       if l.startswith(b"redis_version:")).decode()
        print(f"# Recorded from redis-server ({version}) by tools/diffnotify.py --record.")
        for line, _reply, events in record(int(args[1])):
            print(f"{line} => {', '.join(events)}".rstrip())
            if line in pauses():
                print(f"sleep {int(pauses()[line] * 1000)}")
        return 0
    ports = [int(p) for p in args]
    a, b = record(ports[0]), record(ports[1])
    diffs = 0
    for (line, ra, ea), (_, rb, eb) in zip(a, b):
        if unexpired(ea) != unexpired(eb) or not same_reply(line, ra, rb):
            diffs += 1
            print(f"{line}\n  {ports[0]}: {ra!r} {ea}\n  {ports[1]}: {rb!r} {eb}")
    if expired(a) != expired(b):
        diffs += 1
        print(f"expired events:\n  {ports[0]}: {expired(a)}\n  {ports[1]}: {expired(b)}")
    print(f"{diffs} of {len(a)} commands differ")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
