"""Pub/sub and keyspace notifications through redis-py's PubSub, as applications use them:
channel and pattern subscriptions, shard channels, listen() and a listener thread,
introspection, RESP3 push messages, health checks, and cache invalidation on keyspace events
(expiry included).

Runs against the server on KV_PORT (see test_transactions.py).
"""

import os
import threading
import time
import unittest

import redis

PORT = int(os.environ["KV_PORT"])
PATIENCE = 30.0  # seconds: generous, CI shares two cores


def client(**kw):
    return redis.Redis(port=PORT, **kw)


def next_message(p):
    """The next message (not a subscription confirmation), waiting up to PATIENCE."""
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        m = p.get_message(ignore_subscribe_messages=True, timeout=1.0)
        if m is not None:
            return m
    raise AssertionError("no message")


def confirmations(p, n):
    """The next n subscription confirmations."""
    return [p.get_message(timeout=PATIENCE) for _ in range(n)]


class PubSub(unittest.TestCase):
    def setUp(self):
        self.r = client()
        self.r.flushall()
        self.r.config_set("notify-keyspace-events", "")

    def tearDown(self):
        self.r.config_set("notify-keyspace-events", "")
        self.r.close()

    def test_channels_and_patterns(self):
        for protocol in (2, 3):
            with self.subTest(protocol=protocol):
                self.channels_and_patterns(client(protocol=protocol))

    def channels_and_patterns(self, c):
        p = c.pubsub()
        p.subscribe("news", "sport")
        p.psubscribe("n*")
        got = confirmations(p, 3)
        self.assertEqual(
            [(m["type"], m["channel"], m["data"]) for m in got],
            [("subscribe", b"news", 1), ("subscribe", b"sport", 2), ("psubscribe", b"n*", 3)],
        )
        self.assertEqual(self.r.publish("news", "hello"), 2)
        self.assertEqual(self.r.publish("nothing", "x"), 1)
        self.assertEqual(self.r.publish("other", "x"), 0)
        m = next_message(p)
        self.assertEqual((m["type"], m["channel"], m["data"]), ("message", b"news", b"hello"))
        m = next_message(p)
        self.assertEqual(
            (m["type"], m["pattern"], m["channel"], m["data"]),
            ("pmessage", b"n*", b"news", b"hello"),
        )
        m = next_message(p)
        self.assertEqual((m["pattern"], m["channel"]), (b"n*", b"nothing"))
        p.unsubscribe("news")
        p.punsubscribe()
        got = confirmations(p, 2)
        self.assertEqual(
            [(m["type"], m["channel"], m["data"]) for m in got],
            [("unsubscribe", b"news", 2), ("punsubscribe", b"n*", 1)],
        )
        p.close()
        # Back in the pool, the connection serves ordinary commands.
        self.assertTrue(c.set("after", "pubsub"))
        self.assertEqual(c.get("after"), b"pubsub")
        c.close()

    def test_introspection(self):
        p = self.r.pubsub()
        p.subscribe("a", "b")
        p.psubscribe("x*", "y*", "z*")
        confirmations(p, 5)
        self.assertEqual(sorted(self.r.pubsub_channels()), [b"a", b"b"])
        self.assertEqual(self.r.pubsub_channels("a*"), [b"a"])
        self.assertEqual(self.r.pubsub_numsub("a", "c"), [(b"a", 1), (b"c", 0)])
        self.assertEqual(self.r.pubsub_numpat(), 3)
        p.close()

    def test_shard_channels(self):
        p = self.r.pubsub()
        p.ssubscribe("orders")
        p.psubscribe("*")
        confirmations(p, 2)
        self.assertEqual(self.r.spublish("orders", "o1"), 1)
        m = p.get_sharded_message(timeout=PATIENCE)
        self.assertEqual((m["type"], m["channel"], m["data"]), ("smessage", b"orders", b"o1"))
        self.assertEqual(self.r.pubsub_shardchannels(), [b"orders"])
        self.assertEqual(self.r.pubsub_shardnumsub("orders"), [(b"orders", 1)])
        p.close()

    def test_listen_gets_messages_from_another_thread_in_order(self):
        p = self.r.pubsub(ignore_subscribe_messages=True)
        p.subscribe("news")
        confirmations(p, 1)
        other = client()
        publisher = threading.Thread(
            target=lambda: [other.publish("news", str(i)) for i in range(200)])
        publisher.start()
        got = []
        for m in p.listen():
            if m is None:
                continue
            self.assertEqual(m["type"], "message")
            got.append(m["data"])
            if len(got) == 200:
                break
        publisher.join()
        other.close()
        p.close()
        self.assertEqual(got, [str(i).encode() for i in range(200)])

    def test_a_listener_thread_gets_every_message_in_order(self):
        got = []
        done = threading.Event()

        def handler(m):
            got.append(m["data"])
            if m["data"] == b"last":
                done.set()

        p = self.r.pubsub()
        p.subscribe(**{"jobs": handler})
        confirmations(p, 1)
        worker = p.run_in_thread(sleep_time=0.01, daemon=True)
        try:
            for i in range(500):
                self.r.publish("jobs", str(i))
            self.r.publish("jobs", "last")
            self.assertTrue(done.wait(PATIENCE))
        finally:
            worker.stop()
            worker.join(PATIENCE)
            p.close()
        self.assertEqual(got, [str(i).encode() for i in range(500)] + [b"last"])

    def test_resp3_push_messages_and_commands_while_subscribed(self):
        c = client(protocol=3)
        p = c.pubsub()
        p.subscribe("news")
        confirmations(p, 1)
        self.r.publish("news", "hi")
        m = next_message(p)
        self.assertEqual((m["type"], m["channel"], m["data"]), ("message", b"news", b"hi"))
        # In RESP3 a subscribed connection keeps every command.
        p.execute_command("SET", "k", "v")
        p.execute_command("GET", "k")
        replies = []
        deadline = time.monotonic() + PATIENCE
        while len(replies) < 2 and time.monotonic() < deadline:
            reply = p.parse_response(block=False, timeout=1.0)
            if reply is not None:
                replies.append(reply)
        self.assertEqual(replies, [b"OK", b"v"])
        p.close()
        c.close()

    def test_ping_and_health_checks_while_subscribed(self):
        # redis-py's health check is a PING with an argument on the subscribed connection,
        # answered as a `pong` message in RESP2.
        c = client(health_check_interval=1)
        p = c.pubsub()
        p.subscribe("news")
        confirmations(p, 1)
        p.ping("are you there")
        m = p.get_message(timeout=PATIENCE)
        self.assertEqual((m["type"], m["data"]), ("pong", b"are you there"))
        time.sleep(1.1)  # past the health-check interval: the next read checks first
        self.r.publish("news", "still here")
        m = next_message(p)
        self.assertEqual(m["data"], b"still here")
        p.close()
        c.close()

    def test_keyspace_events_invalidate_a_cache(self):
        self.r.config_set("notify-keyspace-events", "KEA")
        self.assertEqual(self.r.config_get("notify-keyspace-events"),
                         {"notify-keyspace-events": "AKE"})
        p = self.r.pubsub()
        p.psubscribe("__keyspace@0__:user:*")
        p.subscribe("__keyevent@0__:expired")
        confirmations(p, 2)
        self.r.set("user:1", "ann")
        self.r.hset("user:2", "name", "bob")
        self.r.delete("user:1")
        self.r.set("session", "x", px=20)
        got = [next_message(p) for _ in range(3)]
        self.assertEqual(
            [(m["channel"], m["data"]) for m in got],
            [(b"__keyspace@0__:user:1", b"set"), (b"__keyspace@0__:user:2", b"hset"),
             (b"__keyspace@0__:user:1", b"del")],
        )
        # Nobody reads the key: it is reported when active expiry reclaims it.
        m = next_message(p)
        self.assertEqual((m["channel"], m["data"]), (b"__keyevent@0__:expired", b"session"))
        self.assertEqual(self.r.exists("session"), 0)
        p.close()


if __name__ == "__main__":
    unittest.main()
