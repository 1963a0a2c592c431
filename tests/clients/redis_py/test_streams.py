"""Streams through redis-py's stream API, as applications use it: XADD with its options, ranges,
XDEL, XTRIM, XREAD (and a tailing reader blocked in XREAD that other clients' XADDs wake), in
RESP2 and RESP3. Consumer groups are in test_stream_groups.py.

Runs against the server on KV_PORT (any Redis-compatible server: the same file passes against
redis-server 7.0).
"""

import os
import threading
import unittest

import redis

PORT = int(os.environ["KV_PORT"])


def client(**kw):
    return redis.Redis(port=PORT, **kw)


class Streams(unittest.TestCase):
    protocol = 2

    def setUp(self):
        self.r = client(protocol=self.protocol)
        self.r.flushall()

    def tearDown(self):
        self.r.close()

    def test_xadd_ids_and_options(self):
        r = self.r
        self.assertEqual(r.xadd("s", {"f": "v"}, id="1-1"), b"1-1")
        self.assertEqual(r.xadd("s", {"f": "v"}, id="1-*"), b"1-2")
        auto = r.xadd("s", {"a": "1", "b": "2"})
        ms, seq = map(int, auto.split(b"-"))
        self.assertGreater(ms, 1)
        with self.assertRaises(redis.ResponseError) as e:
            r.xadd("s", {"f": "v"}, id="1-0")
        self.assertIn("equal or smaller than the target stream top item", str(e.exception))
        self.assertIsNone(r.xadd("missing", {"f": "v"}, nomkstream=True))
        self.assertEqual(r.exists("missing"), 0)
        for i in range(10):
            r.xadd("capped", {"n": i}, maxlen=3, approximate=False)
        self.assertEqual(r.xlen("capped"), 3)
        r.xadd("capped", {"n": "x"}, minid="0-1", approximate=True, limit=10)
        self.assertEqual(r.type("s"), b"stream")

    def test_ranges_deletes_and_trims(self):
        r = self.r
        ids = [r.xadd("s", {"n": i}, id=f"{i}-0") for i in range(1, 251)]
        self.assertEqual(r.xrange("s", "-", "+", count=2), [(b"1-0", {b"n": b"1"}), (b"2-0", {b"n": b"2"})])
        self.assertEqual(r.xrange("s", "(1-0", "3-0"), [(b"2-0", {b"n": b"2"}), (b"3-0", {b"n": b"3"})])
        self.assertEqual(r.xrevrange("s", "+", "-", count=1), [(b"250-0", {b"n": b"250"})])
        self.assertEqual(r.xdel("s", ids[0], ids[1], "999-0"), 2)
        # `~` removes whole nodes of 100 entries, as Redis does.
        self.assertEqual(r.xtrim("s", maxlen=120, approximate=True), 98)
        self.assertEqual(r.xtrim("s", maxlen=120, approximate=False), 30)
        self.assertEqual(r.xtrim("s", minid="200", approximate=False), 69)
        self.assertEqual(r.xlen("s"), 51)
        self.assertEqual(r.xrange("s", count=1)[0][0], b"200-0")

    def test_xread_reads_several_streams_after_ids(self):
        r = self.r
        r.xadd("a", {"f": "1"}, id="1-0")
        r.xadd("a", {"f": "2"}, id="2-0")
        r.xadd("b", {"g": "1"}, id="5-0")
        got = r.xread({"a": "1-0", "b": "0"}, count=10)
        want = [[b"a", [(b"2-0", {b"f": b"2"})]], [b"b", [(b"5-0", {b"g": b"1"})]]]
        if self.protocol == 3:
            want = {k: [v] for k, v in want}
        self.assertEqual(got, want)
        self.assertIn(r.xread({"a": "$"}, block=20), ([], {}, None))

    def test_a_tailing_reader_sees_every_entry_in_order(self):
        r = self.r
        r.xadd("log", {"v": "start"}, id="1-0")
        seen = []

        def tail():
            c = client(protocol=self.protocol)
            last = "1-0"
            while len(seen) < 60:
                for _key, entries in self._streams(c.xread({"log": last}, block=0)):
                    for entry_id, fields in entries:
                        seen.append((entry_id, fields[b"v"]))
                        last = entry_id
            c.close()

        reader = threading.Thread(target=tail)
        reader.start()

        def write(w):
            c = client()
            for i in range(20):
                c.xadd("log", {"v": f"{w}-{i}"})
            c.close()

        writers = [threading.Thread(target=write, args=(w,)) for w in range(3)]
        for t in writers:
            t.start()
        for t in writers:
            t.join()
        reader.join(30)
        self.assertFalse(reader.is_alive())
        all_entries = [(i, f[b"v"]) for i, f in r.xrange("log", "(1-0", "+")]
        self.assertEqual(seen, all_entries)

    def _streams(self, reply):
        """(key, entries) pairs: redis-py's RESP3 parser maps each key to [entries]."""
        if isinstance(reply, dict):
            return [(k, v[0]) for k, v in reply.items()]
        return reply


class StreamsResp3(Streams):
    protocol = 3


if __name__ == "__main__":
    unittest.main()
