"""MULTI/EXEC and WATCH through redis-py, as applications use them: pipelines, the
`transaction()` retry helper, errors at queue time and at run time.

Runs against the server on KV_PORT (any Redis-compatible server: `tests/clients/run` points
it at kvserver, and the same file passes against redis-server).
"""

import os
import threading
import unittest

import redis

PORT = int(os.environ["KV_PORT"])


def client(**kw):
    return redis.Redis(port=PORT, **kw)


class Transactions(unittest.TestCase):
    def setUp(self):
        self.r = client()
        self.r.flushall()

    def tearDown(self):
        self.r.close()

    def test_a_pipeline_runs_as_one_transaction(self):
        with self.r.pipeline() as p:
            p.set("a", 1).incr("a").lpush("l", "x", "y").lrange("l", 0, -1).get("missing")
            self.assertEqual(p.execute(), [True, 2, 2, [b"y", b"x"], None])

    def test_other_clients_never_see_a_transaction_half_done(self):
        """A reader's MGET of two keys a transaction always changes together agrees."""
        self.r.mset({"left": 0, "right": 0})
        done = threading.Event()
        torn = []

        def read():
            c = client()
            while not done.is_set():
                a, b = c.mget("left", "right")
                if a != b:
                    torn.append((a, b))
            c.close()

        reader = threading.Thread(target=read)
        reader.start()
        try:
            with self.r.pipeline() as p:
                for _ in range(300):
                    p.incr("left").incr("right").execute()
        finally:
            done.set()
            reader.join()
        self.assertEqual(torn, [])
        self.assertEqual(self.r.mget("left", "right"), [b"300", b"300"])

    def test_watch_retries_lose_no_update(self):
        """Check-and-set with redis-py's transaction() helper from several clients."""
        self.r.set("counter", 0)
        workers, each = 6, 50

        def work():
            c = client()

            def bump(pipe):
                n = int(pipe.get("counter"))
                pipe.multi()
                pipe.set("counter", n + 1)

            for _ in range(each):
                c.transaction(bump, "counter")
            c.close()

        threads = [threading.Thread(target=work) for _ in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(int(self.r.get("counter")), workers * each)

    def test_a_watched_key_changed_elsewhere_aborts_exec(self):
        other = client()
        with self.r.pipeline() as p:
            p.watch("k")
            other.set("k", "changed")
            p.multi()
            p.set("k", "mine")
            with self.assertRaises(redis.WatchError):
                p.execute()
        self.assertEqual(self.r.get("k"), b"changed")
        # The next transaction on the same connection is not affected.
        with self.r.pipeline() as p:
            p.watch("k")
            p.multi()
            p.set("k", "mine")
            self.assertEqual(p.execute(), [True])
        self.assertEqual(self.r.get("k"), b"mine")
        other.close()

    def test_an_expiring_watched_key_aborts_exec(self):
        # The key must still exist when WATCH arrives (on a loaded machine 50 ms can pass
        # first): the watch is placed, then the key is seen alive, else the round is redone.
        for _ in range(20):
            self.r.set("k", "v", px=50)
            with self.r.pipeline() as p:
                p.watch("k")
                if self.r.pttl("k") <= 0:
                    continue
                while self.r.exists("k"):
                    pass
                p.multi()
                p.set("k", "new")
                with self.assertRaises(redis.WatchError):
                    p.execute()
                return
        self.fail("the key expired before WATCH in every round")

    def test_unwatch_and_reset_forget_the_watch(self):
        other = client()
        with self.r.pipeline() as p:
            p.watch("k")
            other.set("k", "changed")
            p.unwatch()
            p.multi()
            p.set("k", "mine")
            self.assertEqual(p.execute(), [True])
        other.close()

    def test_a_command_refused_while_queueing_discards_the_transaction(self):
        self.r.set("k", "before")
        with self.r.pipeline() as p:
            p.set("k", "after")
            p.execute_command("SET", "k")  # wrong number of arguments
            with self.assertRaises(redis.ResponseError) as e:
                p.execute()
            self.assertIn("wrong number of arguments for 'set' command", str(e.exception))
        self.assertEqual(self.r.get("k"), b"before")

    def test_an_error_at_run_time_fails_only_its_command(self):
        self.r.set("s", "text")
        with self.r.pipeline() as p:
            p.incr("n").lpush("s", "x").incr("n")
            with self.assertRaises(redis.ResponseError) as e:
                p.execute()
            self.assertIn("WRONGTYPE", str(e.exception))
        self.assertEqual(self.r.get("n"), b"2")
        with self.r.pipeline() as p:
            p.incr("n").lpush("s", "x").incr("n")
            results = p.execute(raise_on_error=False)
        self.assertEqual(results[0], 3)
        self.assertIsInstance(results[1], redis.ResponseError)
        self.assertEqual(results[2], 4)

    def test_exec_without_multi_and_nested_multi_are_errors(self):
        with self.assertRaises(redis.ResponseError) as e:
            self.r.execute_command("EXEC")
        self.assertEqual(str(e.exception), "EXEC without MULTI")
        self.r.execute_command("MULTI")
        with self.assertRaises(redis.ResponseError) as e:
            self.r.execute_command("MULTI")
        self.assertEqual(str(e.exception), "MULTI calls can not be nested")
        self.assertEqual(self.r.execute_command("DISCARD"), b"OK")

    def test_watch_inside_multi_is_refused(self):
        with self.r.pipeline() as p:
            p.multi()
            p.execute_command("WATCH", "k")
            with self.assertRaises(redis.ResponseError) as e:
                p.execute()
            self.assertIn("WATCH inside MULTI is not allowed", str(e.exception))

    def test_resp3_transaction(self):
        c = client(protocol=3)
        with c.pipeline() as p:
            p.hset("h", mapping={"a": 1}).hgetall("h").smembers("nope")
            self.assertEqual(p.execute(), [1, {b"a": b"1"}, set()])
        c.close()


if __name__ == "__main__":
    unittest.main()
