#!/usr/bin/env python3
"""Record how redis-server encodes strings in DUMP payloads (integer encodings, LZF).

Usage: tools/recordrdb.py PORT > kvcore/src/rdb/strings.txt

For each value of a fixed, deterministic list it runs `SET k value` and `DUMP k` against a
freshly started, expendable redis-server 7.0 and prints one line: the value and the payload,
both in hex. kvcore's rdb tests (kvcore/src/rdb/tests.rs) encode every value themselves and
compare with the payload byte for byte.
"""

import random
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


def main():
    r = redis.Redis(port=int(sys.argv[1]))
    for v in values():
        r.set("k", v)
        print(v.hex(), r.dump("k").hex())
    r.delete("k")


if __name__ == "__main__":
    main()
