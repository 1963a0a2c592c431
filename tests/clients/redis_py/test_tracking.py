"""Client-side caching (CLIENT TRACKING) seen through redis-py's RESP3 connection: its
parser's invalidation-push handler receives the `invalidate` pushes a RESP3 tracking client
gets on its own connection, and a RESP2 subscriber gets them on `__redis__:invalidate`
through REDIRECT. (redis-py's own `cache_config` caching refuses servers older than 7.4, and
kv reports 7.0.15, so the test drives tracking itself, as that cache does.)

Runs against the server on KV_PORT (see test_transactions.py).
"""

import os
import time
import unittest

import redis

PORT = int(os.environ["KV_PORT"])
PATIENCE = 30.0  # seconds: generous, CI shares two cores


class Tracking(unittest.TestCase):
    def setUp(self):
        self.w = redis.Redis(port=PORT, protocol=2)
        self.w.flushall()

    def tracker(self, *options):
        r = redis.Redis(port=PORT, protocol=3, single_connection_client=True)
        got = []
        r.connection._parser.set_invalidation_push_handler(got.append)
        r.execute_command("CLIENT", "TRACKING", "on", *options)
        return r, got

    def wait_push(self, r, got):
        deadline = time.monotonic() + PATIENCE
        while not got and time.monotonic() < deadline:
            r.connection.read_response(push_request=True, timeout=1)
        return got

    def test_a_write_by_another_client_invalidates_a_read_key(self):
        r, got = self.tracker()
        self.w.set("user:1", "ann")
        self.assertEqual(r.get("user:1"), b"ann")
        self.w.set("user:1", "bob")
        self.assertEqual(self.wait_push(r, got), [[b"invalidate", [b"user:1"]]])
        self.assertEqual(r.get("user:1"), b"bob")

    def test_bcast_prefixes(self):
        r, got = self.tracker("BCAST", "PREFIX", "job:")
        self.w.mset({"job:1": "a", "other": "b"})
        self.assertEqual(self.wait_push(r, got), [[b"invalidate", [b"job:1"]]])

    def test_flushall_invalidates_everything(self):
        r, got = self.tracker()
        r.get("k")
        self.w.flushall()
        self.assertEqual(self.wait_push(r, got), [[b"invalidate", None]])

    def test_redirect_to_a_resp2_subscriber(self):
        p = redis.Redis(port=PORT, protocol=2).pubsub()
        p.subscribe("__redis__:invalidate")
        # subscribe() does not wait for the server: its confirmation does.
        deadline = time.monotonic() + PATIENCE
        confirmed = None
        while confirmed is None and time.monotonic() < deadline:
            confirmed = p.get_message(timeout=1.0)
        self.assertEqual(confirmed["type"], "subscribe")
        subscribers = [c for c in self.w.client_list() if c["sub"] == "1"]
        self.assertEqual(len(subscribers), 1)
        sub_id = int(subscribers[0]["id"])
        r = redis.Redis(port=PORT, protocol=2, single_connection_client=True)
        r.execute_command("CLIENT", "TRACKING", "on", "REDIRECT", sub_id)
        self.assertEqual(r.execute_command("CLIENT", "GETREDIR"), sub_id)
        r.get("r:1")
        self.w.set("r:1", "x")
        deadline = time.monotonic() + PATIENCE
        m = None
        while m is None and time.monotonic() < deadline:
            m = p.get_message(ignore_subscribe_messages=True, timeout=1.0)
        self.assertEqual(m["channel"], b"__redis__:invalidate")
        self.assertEqual(m["data"], [b"r:1"])
        p.close()

if __name__ == "__main__":
    unittest.main()
