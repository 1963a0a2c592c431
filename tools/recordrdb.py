#!/usr/bin/env python3
"""Record how redis-server encodes strings in DUMP payloads (integer encodings, LZF), and write
the DUMP/RESTORE case file.

Usage: tools/recordrdb.py PORT > kvcore/src/rdb/strings.txt
       tools/recordrdb.py --cases PORT > tests/e2e/dump.txt
       tools/diffreplies.py --record PORT tests/e2e/dump.txt

For each value of a fixed, deterministic list it runs `SET k value` and `DUMP k` against a
freshly started, expendable redis-server 7.0 and prints one line: the value and the payload,
both in hex. kvcore's rdb tests (kvcore/src/rdb/tests.rs) encode every value themselves and
compare with the payload byte for byte.
"""

import random
import struct
import sys
import redis  # redis-py, as the client tests use


def values():
    rng = random.Random(7)
    out = [b"", b"a", b"hello", b"x" * 20, b"x" * 21, b"a" * 100, b"ab" * 300, b"abc" * 1500]
    for n in [0, 1, -1, 127, 128, -128, -129, 255, 32767, 32768, -32768, -32769,
              2147483647, 2147483648, -2147483648, -2147483649, 12345678901]:
        out.append(str(n).encode())
    out += [b"007", b"-0", b"+1", b" 1", b"1 "]
    lua = (b"#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) "
           b"return redis.call('GET', keys[1]) end)\n")
    out += [lua, lua * 3]
    words = [b"the", b"quick", b"brown", b"fox", b"jumps", b"over", b"lazy", b"dog", b"\x00\xff"]
    for n in [5, 40, 400, 3000]:
        out.append(b" ".join(rng.choice(words) for _ in range(n)))
    for n in [30, 300]:
        out.append(bytes(rng.randrange(256) for _ in range(n)))
    noise = bytes(rng.randrange(256) for _ in range(500))
    out.append(noise + noise + noise[:77])
    out.append(bytes(rng.choice(b"ab") for _ in range(3000)))
    return out


def crc64(data):
    """CRC-64/Jones, reflected, as Redis's crc64 (DUMP footers)."""
    poly, crc = 0x95AC9329AC4BC9B5, 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
    return crc


def seal(body, version=10):
    """A DUMP payload: the body, the RDB version and the CRC-64, little-endian."""
    body += struct.pack("<H", version)
    return body + struct.pack("<Q", crc64(body))


def rdb_len(n):
    if n < 64:
        return bytes([n])
    if n < 16384:
        return bytes([0x40 | (n >> 8), n & 0xFF])
    return b"\x80" + struct.pack(">I", n)


def rdb_str(s):
    return rdb_len(len(s)) + s


def ziplist(items):
    """A ziplist (Redis before 7.0) of short strings and integers."""
    entries, prev = b"", 0
    for it in items:
        head = bytes([prev]) if prev < 254 else b"\xfe" + struct.pack("<I", prev)
        if isinstance(it, int):
            if 0 <= it <= 12:
                body = bytes([0xF1 + it])
            elif -128 <= it <= 127:
                body = b"\xfe" + struct.pack("<b", it)
            elif -32768 <= it <= 32767:
                body = b"\xc0" + struct.pack("<h", it)
            elif -(1 << 31) <= it < (1 << 31):
                body = b"\xd0" + struct.pack("<i", it)
            else:
                body = b"\xe0" + struct.pack("<q", it)
        else:
            body = bytes([len(it)]) + it
        entry = head + body
        entries += entry
        prev = len(entry)
    total = 10 + len(entries) + 1
    tail = 10 + len(entries) - prev if items else 10
    return struct.pack("<IIH", total, tail, len(items)) + entries + b"\xff"


def quote(b):
    return '"' + "".join(chr(c) if c < 128 and chr(c).isalnum() else "\\x%02x" % c for c in b) + '"'


def cases(r):
    """The commands of tests/e2e/dump.txt (replies recorded by diffreplies.py)."""
    out = ["# DUMP and RESTORE, recorded from redis-server 7.0.15: tools/recordrdb.py --cases PORT",
           "# writes the commands, tools/diffreplies.py --record PORT fills in the replies. Payloads",
           "# are compared byte for byte where Redis's encoding is deterministic (listpacks,",
           "# intsets, quicklists, skip lists; hash tables of one element).",
           "@flush"]
    setups = [
        ["SET s hello"], ["SET s 12345"], ["SET s -2147483649"], ["SET s ''"],
        ["SET s " + "abcdefgh" * 20],
        ["RPUSH s a b c 1 -1 127 128 4095 4096 -4097 32767 40000 8388608 3000000000 " + "x" * 70],
        ["LPUSH s a b c", "RPUSH s d", "LINSERT s BEFORE b z", "LREM s 1 a"],
        ["EVAL \"for i = 1, 3000 do redis.call('rpush', KEYS[1], 'element-' .. i) end\" 1 s"],
        ["EVAL \"for i = 1, 5 do redis.call('rpush', KEYS[1], string.rep('y', 5000 + i)) end\" 1 s"],
        ["SADD s 1 2 3 -7"], ["SADD s 1 40000 -40000"], ["SADD s 5 5000000000"],
        ["SADD s onlyone"],
        ["HSET s f1 v1 f2 123 f3 -5 f4 " + "z" * 64, "HDEL s f2", "HSET s f1 new"],
        ["HSET s f " + "v" * 65],
        ["ZADD s 1 a 2.5 b -3 c 1e20 d inf e -inf f 0.1 g 4503599627370496 h 3 i"],
        ["ZADD s 1 a 2 b", "ZINCRBY s 0.5 a", "ZREM s b"],
        ["ZADD s 1 " + "m" * 65 + " 2 b -0.25 c 1e300 d"],
        ["EVAL \"for i = 1, 200 do redis.call('zadd', KEYS[1], i / 7, 'member' .. i) end\" 1 s"],
        ["XADD s 1-1 f v", "XADD s 1-2 f v2", "XADD s 2-0 g x h y", "XADD s 3-5 f 100"],
        ["XADD s MAXLEN 0 5-5 f v"],
        ["EVAL \"for i = 1, 250 do redis.call('xadd', KEYS[1], i .. '-1', 'field', 'value' .. i, 'n', i) end\" 1 s"],
        ["EVAL \"for i = 1, 30 do redis.call('xadd', KEYS[1], i .. '-0', 'f', string.rep('w', 300)) end\" 1 s",
         "XTRIM s MAXLEN 0"],
        ["XADD s 1-1 f v", "XADD s 2-1 f v", "XGROUP CREATE s g1 0", "XGROUP CREATE s g0 $ ENTRIESREAD 2",
         "XSETID s 10-10 ENTRIESADDED 9 MAXDELETEDID 1-5"],
    ]
    for setup in setups:
        out.append("@flush")
        out.extend(setup)
        out.append("DUMP s")
        out.append("OBJECT ENCODING s")
    out.append("DUMP missing")
    # RESTORE: round trips through Redis's own payloads, options and errors.
    r.flushall()
    r.rpush("l", "a", "b", 1)
    r.hset("h", mapping={"f": "v", "g": "1"})
    r.zadd("z", {"a": 1.5, "b": -2})
    r.sadd("i", 1, 2, 3)
    r.set("str", "hello")
    r.xadd("x", {"f": "v"}, id="1-1")
    p = {k: r.dump(k) for k in ["l", "h", "z", "i", "str", "x"]}
    out.append("@flush")
    for k, v in p.items():
        out += ["RESTORE %s 0 %s" % (k, quote(v)), "TYPE %s" % k, "OBJECT ENCODING %s" % k, "DUMP %s" % k]
    out += ["LRANGE l 0 -1", "HGETALL h", "ZRANGE z 0 -1 WITHSCORES", "SMEMBERS i", "GET str",
            "XRANGE x - +"]
    s = quote(p["str"])
    out += [
        "RESTORE str 0 " + s,
        "RESTORE str -1 garbage",
        "RESTORE str 0 %s REPLACE" % s,
        "RESTORE l 0 %s REPLACE" % s,
        "TYPE l",
        "RESTORE n -1 " + s,
        "RESTORE n abc " + s,
        "RESTORE n 0 " + s + " FOO",
        "RESTORE n 0 " + s + " IDLETIME -1",
        "RESTORE n 0 " + s + " IDLETIME x",
        "RESTORE n 0 " + s + " FREQ 256",
        "RESTORE n 0 " + s + " FREQ -1",
        "RESTORE n 0 " + s + " IDLETIME 10 FREQ 5",
        "RESTORE n 0 " + s + " FREQ 5 IDLETIME 10",
        "RESTORE n 0 " + s + " IDLETIME",
        "RESTORE n 0 " + s + " IDLETIME 100 REPLACE ABSTTL",
        "EXISTS n",
        "RESTORE n2 0 " + s + " FREQ 255",
        "RESTORE t 100000 " + s,
        "TTL t",
        "RESTORE t2 4102444800000 %s ABSTTL" % s,
        "EXPIRETIME t2",
        "RESTORE t3 1000 %s ABSTTL" % s,
        "EXISTS t3",
        "RESTORE t2 1000 %s ABSTTL REPLACE" % s,
        "EXISTS t2",
        "RESTORE v9 0 " + quote(seal(b"\x00\x05hello", 9)),
        "GET v9",
    ]
    bad = [
        b"short",
        p["str"][:-1] + bytes([p["str"][-1] ^ 1]),
        seal(b"\x00\x05hello", 11),
        seal(b"\x00\x09hello"),
        seal(b"\x08\x05hello"),
        seal(b"\x07\x05hello"),
        seal(b"\x09\x05hello"),
        seal(b"\x0b\x04\x02\x00\x00\x00"),
        seal(b"\x02\x00"),
        seal(b"\x12\x01\x02" + rdb_str(b"\x07\x00\x00\x00\x00\x00\xff")),
        seal(b"\x0e\x01" + rdb_str(b"garbage")),
        seal(b"\x10" + rdb_str(b"\x0b\x00\x00\x00\x01\x00\x81a\x02\xff")),
    ]
    for i, payload in enumerate(bad):
        out += ["RESTORE bad%d 0 %s" % (i, quote(payload)), "EXISTS bad%d" % i]
    # The encodings of Redis before 7.0, which Redis 7.0 still loads.
    old = {
        "zl_list": b"\x0a" + rdb_str(ziplist([b"a", 5, -300, 70000, 1 << 40, b"bb"])),
        "ql_list": b"\x0e\x02" + rdb_str(ziplist([b"a", b"b"])) + rdb_str(ziplist([3, b"c"])),
        "zl_hash": b"\x0d" + rdb_str(ziplist([b"f1", b"v1", b"f2", 12, b"f3", -5])),
        "zl_zset": b"\x0c" + rdb_str(ziplist([b"a", 1, b"b", b"2.5", b"c", b"inf"])),
        "old_list": b"\x01\x02" + rdb_str(b"x") + rdb_str(b"y"),
        "old_zset": b"\x03\x02" + rdb_str(b"a") + b"\x031.5" + rdb_str(b"b") + b"\xfe",
        "old_set": b"\x02\x01" + rdb_str(b"m"),
        "old_hash": b"\x04\x01" + rdb_str(b"f") + rdb_str(b"v"),
    }
    out.append("@flush")
    for k, body in old.items():
        out += ["RESTORE %s 0 %s" % (k, quote(seal(body, 9))), "TYPE " + k, "OBJECT ENCODING " + k]
        # Redis keeps a loaded quicklist's nodes as they were; kv cuts its own.
        if k != "ql_list":
            out.append("DUMP " + k)
    out += ["LRANGE zl_list 0 -1", "LRANGE ql_list 0 -1", "HGETALL zl_hash",
            "ZRANGE zl_zset 0 -1 WITHSCORES", "LRANGE old_list 0 -1", "ZRANGE old_zset 0 -1 WITHSCORES"]
    return out


def main():
    if sys.argv[1] == "--cases":
        print("\n".join(cases(redis.Redis(port=int(sys.argv[2])))))
        return
    r = redis.Redis(port=int(sys.argv[1]))
    for v in values():
        r.set("k", v)
        print(v.hex(), r.dump("k").hex())
    r.delete("k")


if __name__ == "__main__":
    main()
