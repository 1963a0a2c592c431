#!/usr/bin/env python3
"""Differential fuzz of the string, key, expiry and server/connection commands: the same seeded
random commands go to redis-server and kvserver and the FULL replies are compared, error text
included. Time-dependent replies (TTL, PTTL, EXPIRETIME, PEXPIRETIME) are compared with a
tolerance; KEYS and complete SCAN iterations are compared as sorted key lists. After a mismatch
both servers are flushed so that one difference does not cascade.

Usage: difffuzz_strings.py PORT_REDIS PORT_KV N SEED [--show K] [--history H] [--resp3]
Prints up to K examples (default 3) per mismatch class, each after the H commands before it
(default 0), and a count per class. --resp3 runs the session in RESP3 (HELLO 3)."""
import random, sys, time
from collections import defaultdict


sys.dont_write_bytecode = True  # importing resp.py leaves no tools/__pycache__
from resp import Tagged  # tools/resp.py


Conn = Tagged  # tools/resp.py


# Integers that probe the parser: signs, zeros, spaces, 20+ digits, the i64 edges.
INTS = ["0", "1", "-1", "2", "10", "-10", "100", "+1", "-0", "007", " 1", "1 ", "1.0", "1e3",
        "", "abc", "0x10", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
        "-9223372036854775809", "99999999999999999999", "12345678901234567890",
        "4611686018427387904", "-4611686018427387904", "9223372036854775806"]
VALUES = ["", "a", "hello", "0", "1", "10", "-5", "+1", "-0", "007", " 7", "7 ", "3.5",
          "9223372036854775807", "-9223372036854775808", "9223372036854775808",
          "12345678901234567890", "123456789012345678901", "-1234567890123456789",
          "x" * 44, "x" * 45, "y" * 20, "z" * 102, "z" * 103, "w" * 1000, b"\x00\x01\xff\r\n", "\u00e9t\u00e9", "*", "?", "[a]"]
KEYS = ["k1", "k2", "k3", "", b"b\x00\xff", "n", "a*", "h[e]llo", "]", "a\\b", "-"]
# Relative times: never small positives, so nothing expires between the two servers' commands.
SECS = ["100", "1000", "0", "-1", "-100", "1.5", "abc", "", "+100", "9223372036854775807",
        "9223372036854775", "9223372036854776", "92233720368547758", "-9223372036854775808",
        "4611686018427387", "9223372036854", "100000000000"]
MSECS = ["100000", "1000000", "0", "-1", "-100000", "1.5", "x", "9223372036854775807",
         "9223372036854775806", "-9223372036854775808", "9223372036854775", "100000000000000"]
PATTERNS = ["*", "k*", "k?", "k[12]", "k[^1]", "k[!1]", "k[1-2]", "k[2-1]", "\\*", "a\\*", "a*",
            "h\\[e\\]llo", "h[e]llo", "*\x00*", "", "[", "k[", "\\", "*k*", "?", "??", "[a-z]*",
            "h[]]llo", "k[\\]]", "[a-]*", "[-a]*", "[]", "[!]", "k\\", "[\\", "[a-\\]]*", "*[",
            "?*?", "[^]", "[z-a]*", "[]]", "a\\\\b", "*\\", "[^a-z]*", "[\x00-\xff]*",
            "\xff*", "*]", "[]-a]*", "**", "*?*?*?*", "[[]*", "[*]*", "[?]", "[k][1]",
            b"[a-\xff]*", b"\xff*", b"[\x80-\x01]*", b"b\x00*", b"*[\xff]"]


def gen(rng, now):
    k = lambda: rng.choice(KEYS)
    v = lambda: rng.choice(VALUES)
    rs = lambda: "".join(rng.choice("abc") for _ in range(rng.randrange(13)))
    i = lambda: rng.choice(INTS)
    s = lambda: rng.choice(SECS)
    ms = lambda: rng.choice(MSECS)
    abs_s = lambda: rng.choice(["1", "0", "-1", str(int(now) + 5000), str(int(now) + 10**8),
                                "9223372036854775807", "9223372036854775", "abc", "1.5"])
    abs_ms = lambda: rng.choice(["1", "0", "-1", str(int(now * 1000) + 5000000),
                                 "9223372036854775807", "9223372036854775806", "1.5", "x"])

    def set_opts():
        opts = []
        for _ in range(rng.choice([0, 1, 1, 2, 2, 3])):
            o = rng.choice(["NX", "XX", "GET", "EX", "PX", "EXAT", "PXAT", "KEEPTTL", "ex", "Nx",
                            "BOGUS", "EX", "PX"])
            if o.upper() == "EX":
                opts += [o, s()] if rng.random() < 0.9 else [o]
            elif o.upper() == "PX":
                opts += [o, ms()]
            elif o == "EXAT":
                opts += [o, abs_s()]
            elif o == "PXAT":
                opts += [o, abs_ms()]
            else:
                opts.append(o)
        return opts

    def getex_opts():
        o = rng.choice([[], ["PERSIST"], ["EX", s()], ["PX", ms()], ["EXAT", abs_s()],
                        ["PXAT", abs_ms()], ["EX"], ["KEEPTTL"], ["PERSIST", "EX", "100"],
                        ["EX", "100", "PX", "100000"], ["EX", "100", "EX", "200"], ["persist"],
                        ["EX", "100", "PERSIST"], ["FOO"]])
        return o

    cond = lambda: rng.choice([[], [], ["NX"], ["XX"], ["GT"], ["LT"], ["NX", "XX"], ["GT", "LT"],
                               ["NX", "GT"], ["XX", "GT"], ["XX", "LT"], ["gt"], ["BAD"],
                               ["GT", "GT"], ["LT", "XX"]])
    fams = [
        # strings
        (10, lambda: ["SET", k(), v()] + set_opts()),
        (6, lambda: ["GET", k()]),
        (2, lambda: ["GETSET", k(), v()]),
        (2, lambda: ["GETDEL", k()]),
        (4, lambda: ["GETEX", k()] + getex_opts()),
        (2, lambda: ["SETNX", k(), v()]),
        (3, lambda: rng.choice([["SETEX", k(), s(), v()], ["PSETEX", k(), ms(), v()]])),
        (2, lambda: ["MGET"] + [k() for _ in range(rng.randrange(1, 4))]),
        (2, lambda: [rng.choice(["MSET", "MSETNX"])] + [x for _ in range(rng.randrange(1, 3))
                                                       for x in (k(), v())]
            + ([k()] if rng.random() < 0.2 else [])),
        (3, lambda: ["APPEND", k(), v()]),
        (2, lambda: ["STRLEN", k()]),
        # 536870911 only with a 2+ byte value: the error, not a 512 MB string.
        (3, lambda: ["SETRANGE", k(), rng.choice(["0", "1", "5", "-1", "50", "536870912", "x",
                                                   "4294967296", "9223372036854775807"]), v()]),
        (0.5, lambda: ["SETRANGE", k(), "536870911", rng.choice(["ab", "xyz", ""])]),
        (3, lambda: [rng.choice(["GETRANGE", "SUBSTR"]), k(), i(), i()]),
        (5, lambda: [rng.choice(["INCR", "DECR"]), k()]),
        (4, lambda: [rng.choice(["INCRBY", "DECRBY"]), k(), i()]),
        (1, lambda: ["MSET", "k1", rs(), "k2", rs()]),
        (2, lambda: ["LCS", rng.choice(["k1", "k2", k()]), rng.choice(["k1", "k2", k()])]
            + rng.choice([[], ["LEN"], ["IDX"], ["IDX", "WITHMATCHLEN"], ["LEN", "IDX"],
                          ["IDX", "MINMATCHLEN", rng.choice(["0", "1", "2", "3", "-1", "x"])],
                          ["IDX", "MINMATCHLEN", "2", "WITHMATCHLEN"], ["MINMATCHLEN"],
                          ["WITHMATCHLEN"], ["BOGUS"], ["idx", "len"]])),
        # keys
        (3, lambda: [rng.choice(["DEL", "UNLINK", "EXISTS"])] + [k() for _ in
                                                               range(rng.randrange(1, 4))]),
        (2, lambda: ["TYPE", k()]),
        (2, lambda: [rng.choice(["RENAME", "RENAMENX"]), k(), k()]),
        (1, lambda: ["MOVE", k(), rng.choice(["0", "1", "1", "15", "16", "-1", "x", "2147483648"])]),
        (1, lambda: ["TOUCH"] + [k() for _ in range(rng.randrange(1, 4))]),
        (2, lambda: ["COPY", k(), k()] + rng.choice([[], ["REPLACE"], ["DB", "1"], ["DB", "0"],
                                                     ["DB", "16"], ["DB", "-1"], ["DB", "x"],
                                                     ["DB", "2147483648"], ["DB", "-2147483649"],
                                                     ["DB", "1", "REPLACE"], ["DB"], ["FOO"]])),
        (2, lambda: ["KEYS", rng.choice(PATTERNS)]),
        (2, lambda: ["SCANALL"] + rng.choice([[], ["MATCH", rng.choice(PATTERNS)],
                                              ["COUNT", rng.choice(["1", "2", "10"])],
                                              ["TYPE", rng.choice(["string", "list", "hash",
                                                                   "set", "zset", "bogus"])]])),
        (1, lambda: ["SCAN", rng.choice(["0", "x", "-1", "18446744073709551616", "1.5", ""])]
            + rng.choice([["COUNT", "0"], ["COUNT", "-1"], ["COUNT", "x"], ["COUNT"], ["MATCH"],
                          ["TYPE"], ["FOO", "1"], ["COUNT", "1000"]])),
        (1, lambda: ["DBSIZE"]),
        # expiry
        (4, lambda: rng.choice([["EXPIRE", k(), s()], ["PEXPIRE", k(), ms()]]) + cond()),
        (2, lambda: ["EXPIREAT", k(), abs_s()] + cond()),
        (2, lambda: ["PEXPIREAT", k(), abs_ms()] + cond()),
        (4, lambda: [rng.choice(["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"]), k()]),
        (2, lambda: ["PERSIST", k()]),
        # other types, for WRONGTYPE
        (2, lambda: rng.choice([["RPUSH", k(), "a"], ["HSET", k(), "f", "v"], ["SADD", k(), "m"],
                                ["ZADD", k(), "1", "m"]])),
        # introspection, connection, server
        (3, lambda: ["OBJECT", "ENCODING", k()]),
        (1, lambda: ["OBJECT", rng.choice(["REFCOUNT", "FREQ", "refcount"]), k()]),
        (1, lambda: ["RANDOMKEY"]),
        (1, lambda: rng.choice([["PING"], ["PING", "hi"], ["PING", "a", "b"], ["ECHO"],
                                ["ECHO", v()], ["ECHO", "a", "b"]])),
        (1, lambda: rng.choice([["AUTH", "pw"], ["AUTH", "default", "pw"], ["AUTH"],
                                ["AUTH", "a", "b", "c"], ["HELLO", rng.choice(["4", "x", "1", "-1"])],
                                ["HELLO", "2", "AUTH", "default"], ["HELLO", "2", "FOO"],
                                ["HELLO", "2", b"x\x00y"],
                                ["HELLO", "2", "SETNAME", "a b"],
                                ["CLIENT", "SETNAME", rng.choice(["ok", "a b", "", "x\ny"])],
                                ["CLIENT", "GETNAME"], ["CLIENT", "SETNAME"], ["CLIENT", "FOO"],
                                ["CLIENT", "NO-EVICT", rng.choice(["on", "off", "x"])],
                                ["CLIENT", "REPLY", "x"], ["RESET"], ["RESET", "x"], ["TIME"],
                                ["TIME", "x"], ["LASTSAVE"], ["PING", b"\x00\xff"],
                                ["ECHO", b"\x00\xff"], ["TYPE", k(), k()], ["DBSIZE", "x"],
                                # OBJECT HELP's text differs on purpose (IDLETIME).
                                ["OBJECT", "HELP", "x"], ["MEMORY", "USAGE"],
                                # Not COMMAND GETKEYS GET (Redis 7.0 has arity -4 for it, 7.2
                                # and kv -3) nor COMMAND INFO (kv derives key-spec flags).
                                ["QUIT", "x"], ["COMMAND", "COUNT", "x"], ["COMMAND", "GETKEYS"],
                                ["COMMAND", "GETKEYS", "NOPE", "a"],
                                ["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"],
                                ["COMMAND", "GETKEYS", "LCS", "a", "b"]])),
        (1, lambda: ["SELECT", rng.choice(["0", "1", "0", "1", "15", "16", "-1", "x", "1.0", "",
                                           "+1", "01", "9223372036854775808",
                                           "2147483648", "-2147483649", "2147483647"])]),
        (1, lambda: ["SWAPDB", rng.choice(["0", "1", "x", "16", "-1", "2147483648"]),
                     rng.choice(["0", "1", "y", "2", "16", "-2147483649"])]),
        (0.2, lambda: [rng.choice(["FLUSHDB", "FLUSHALL"])] + rng.choice(
            [[], ["ASYNC"], ["SYNC"], ["sync"], ["BOGUS"], ["ASYNC", "SYNC"]])),
        (1, lambda: [rng.choice(["GET", "SET", "GETEX", "SETEX", "INCRBY", "MGET", "DEL",
                                 "EXPIRE", "TTL", "RENAME", "COPY", "KEYS", "DBSIZE", "SELECT",
                                 "STRLEN", "APPEND", "SETRANGE", "GETRANGE", "TYPE", "PERSIST",
                                 "MSET", "SCAN", "SWAPDB", "OBJECT", "EXISTS", "GETDEL", "SETNX",
                                 "PEXPIREAT", "EXPIRETIME", "ECHO", "LCS", "SUBSTR", "DECR",
                                 "GETSET", "PSETEX", "MSETNX", "UNLINK", "RENAMENX",
                                 "PEXPIRE", "EXPIREAT", "PTTL", "PEXPIRETIME", "INCR",
                                 "DECRBY", "RANDOMKEY", "FLUSHDB", "FLUSHALL", "PING", "MOVE",
                                 "TOUCH"])]
            + [k() for _ in range(rng.choice([0, 0, 1, 4, 5]))]),
        (0.5, lambda: [rng.choice(["FOOBAR", "get\x00", "SETT", "OBJECT"]),
                       rng.choice(["a", "b c", "", "ENC"])]),
        (0.3, lambda: ["OBJECT", rng.choice(["ENCODING", "FOO", "encoding"])]),
    ]
    total = sum(w for w, _ in fams)
    x = rng.random() * total
    for w, f in fams:
        x -= w
        if x < 0:
            return f()
    return fams[0][1]()


TOL = {"TTL": 2, "EXPIRETIME": 2, "PTTL": 2000, "PEXPIRETIME": 2000}
STRING_ENCODINGS = {b"int", b"embstr", b"raw"}


def same(c, ra, rb, redis):
    """Whether two replies agree. Known, accepted differences:
    - TTLs and expire times within a tolerance (the servers run the command ms apart);
    - DBSIZE: Redis counts a key SET with an EXAT/PXAT in the past until it reclaims it, kv
      deletes it at once; kv must then agree with the live keys Redis lists;
    - OBJECT ENCODING of containers: Redis 7.0 answers quicklist/hashtable where 7.2, and kv,
      use listpack for small lists and sets (containers have tools/difffuzz.py);
    - OBJECT REFCOUNT: Redis shares the integers 0..9999 (refcount 2147483647); kv shares no
      value and answers 1;
    - SCAN from a cursor kv never handed out (-1, ...): Redis answers the keys of whatever
      hash bucket the number names, kv ends the walk."""
    if ra == rb:
        return True
    cmd = c[0]
    tol = TOL.get(cmd)
    if tol and isinstance(ra, int) and isinstance(rb, int) and ra >= 0 and rb >= 0:
        return abs(ra - rb) <= tol
    if cmd == "DBSIZE" and isinstance(ra, int) and isinstance(rb, int) and rb < ra:
        return rb == len(redis.cmd(["KEYS", "*"]))
    if cmd == "OBJECT" and isinstance(ra, bytes) and isinstance(rb, bytes):
        return ra not in STRING_ENCODINGS and rb not in STRING_ENCODINGS
    if cmd == "OBJECT" and c[1].upper() == "REFCOUNT":
        return (ra, rb) == (2147483647, 1)
    if cmd == "SCAN" and c[1] not in ("0", "") and isinstance(ra, list) and isinstance(rb, list):
        return rb == [b"0", []]
    return False


def run(conn, c):
    if c[0] == "SCANALL":
        cur, keys = b"0", []
        for _ in range(10000):
            r = conn.cmd(["SCAN", cur] + c[1:])
            if not isinstance(r, list):
                return r
            cur, keys = r[0], keys + r[1]
            if cur == b"0":
                return sorted(keys)
        return ("err", b"scan did not finish")
    r = conn.cmd(c)
    if c[0] == "RANDOMKEY" and isinstance(r, bytes):
        return ("some key",)  # which one is random
    if c[0] in ("TIME", "LASTSAVE") and not isinstance(r, tuple):
        return ("a time",)
    if c[0] == "RESET" and r == ("ok", b"RESET") and "--resp3" in sys.argv:
        conn.cmd(["HELLO", "3"])  # RESET goes back to RESP2
    if c[0] == "KEYS" and isinstance(r, list):
        return sorted(r)
    if c[0] == "SCAN" and isinstance(r, list) and r[0] == b"0":
        return [r[0], sorted(r[1])]  # one complete page: the order is the table's
    return r


def guarded(conn, c):
    """run(), with a closed connection as a reply (and a new connection for what follows)."""
    try:
        return run(conn, c)
    except (ConnectionError, OSError):
        conn.reconnect()
        return ("closed",)


def klass(c, ra, rb):
    """A mismatch class: the command and the two replies' kinds (an error's first words)."""
    def kind(r):
        if isinstance(r, tuple):
            return r[0] + ":" + " ".join(r[1].decode("latin1").split(" ")[:5])
        return type(r).__name__
    return f"{c[0]} | redis {kind(ra)} | kv {kind(rb)}"


def main():
    pa, pb, n, seed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    opt = lambda name, d: int(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else d
    show, hist = opt("--show", 3), opt("--history", 0)
    since = []  # the commands since the last reset
    a, b = Conn(pa), Conn(pb)
    hello = [["HELLO", "3"]] if "--resp3" in sys.argv else []
    reset = lambda: [x.cmd(y) for x in (a, b) for y in hello + [["SELECT", "0"], ["FLUSHALL"]]]
    reset()
    rng = random.Random(seed)
    classes = defaultdict(list)
    bad = 0
    for k in range(n):
        c = gen(rng, time.time())
        ra, rb = guarded(a, c), guarded(b, c)
        since.append(c)
        if not same(c, ra, rb, a):
            bad += 1
            classes[klass(c, ra, rb)].append((k, c, ra, rb, since[-hist - 1:-1] if hist else []))
            reset()
            since = []
    for cl, ex in sorted(classes.items(), key=lambda kv: -len(kv[1])):
        print(f"[{len(ex)}] {cl}")
        for k, c, ra, rb, before in ex[:show]:
            for p in before:
                print(f"      .. {p!r}")
            print(f"    #{k} {c!r}\n      redis: {ra!r}\n      kv:    {rb!r}")
    print(f"{n} commands, seed {seed}, {bad} mismatches in {len(classes)} classes")
    sys.exit(1 if bad else 0)


main()
