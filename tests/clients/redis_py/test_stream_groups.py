"""Stream consumer groups through redis-py, as job workers use them: a worker loop with several
consumers, one of which dies mid-work (its entries stay pending) and is taken over with
XAUTOCLAIM, every job processed exactly once after the acknowledgements; and redis-py's group
API (xgroup_*, xreadgroup, xack, xpending, xpending_range, xclaim, xautoclaim, xinfo_*) in RESP2
and RESP3.

Runs against the server on KV_PORT (any Redis-compatible server: the same file passes against
redis-server 7.0).
"""

import os
import threading
import time
import unittest

import redis

PORT = int(os.environ["KV_PORT"])
JOBS = 90


def client(**kw):
    return redis.Redis(port=PORT, **kw)


class WorkerLoop(unittest.TestCase):
    def setUp(self):
        self.r = client()
        self.r.flushall()

    def tearDown(self):
        self.r.close()

    def test_a_killed_workers_jobs_are_claimed_and_every_job_runs_once(self):
        r = self.r
        r.xgroup_create("jobs", "workers", id="$", mkstream=True)
        done = {}  # job -> worker that processed it
        lock = threading.Lock()
        produced = threading.Event()

        def worker(name, die_after=None):
            c = client()
            handled = 0
            while True:
                got = c.xreadgroup("workers", name, {"jobs": ">"}, count=4, block=100)
                if not got:
                    if produced.is_set():
                        break
                    continue
                for _, entries in got:
                    for entry_id, fields in entries:
                        if die_after is not None and handled >= die_after:
                            # Killed mid-work: what it read stays pending, unacknowledged.
                            c.connection_pool.disconnect()
                            return
                        with lock:
                            self.assertNotIn(fields[b"job"], done)
                            done[fields[b"job"]] = name
                        self.assertEqual(c.xack("jobs", "workers", entry_id), 1)
                        handled += 1
            c.close()

        threads = [
            threading.Thread(target=worker, args=("w1",)),
            threading.Thread(target=worker, args=("w2",)),
            threading.Thread(target=worker, args=("doomed", 3)),
        ]
        for t in threads:
            t.start()
        producer = client()
        for i in range(JOBS):
            producer.xadd("jobs", {"job": str(i)})
        producer.close()
        # Wait until everything was delivered to someone, then let the workers finish.
        deadline = time.time() + 30
        while r.xinfo_groups("jobs")[0]["lag"] != 0 and time.time() < deadline:
            time.sleep(0.01)
        produced.set()
        for t in threads:
            t.join()

        pending = r.xpending("jobs", "workers")
        by_consumer = {c["name"]: c["pending"] for c in pending["consumers"]}
        self.assertEqual(set(by_consumer), {b"doomed"}, pending)
        stuck = by_consumer[b"doomed"]
        self.assertGreater(stuck, 0)
        self.assertEqual(len(done) + stuck, JOBS)

        # A rescuer takes over entries idle for at least 10 ms, page by page.
        time.sleep(0.02)
        cursor, rescued = "0-0", 0
        while True:
            cursor, claimed, deleted = r.xautoclaim(
                "jobs", "workers", "rescuer", min_idle_time=10, start_id=cursor, count=2
            )
            self.assertEqual(deleted, [])
            for entry_id, fields in claimed:
                self.assertNotIn(fields[b"job"], done)
                done[fields[b"job"]] = "rescuer"
                self.assertEqual(r.xack("jobs", "workers", entry_id), 1)
                rescued += 1
            if cursor == b"0-0":
                break
        self.assertEqual(rescued, stuck)
        self.assertEqual(sorted(done, key=int), [str(i).encode() for i in range(JOBS)])
        self.assertEqual(r.xpending("jobs", "workers")["pending"], 0)
        consumers = {c["name"]: c["pending"] for c in r.xinfo_consumers("jobs", "workers")}
        self.assertEqual(consumers[b"doomed"], 0)
        self.assertEqual(set(consumers), {b"w1", b"w2", b"doomed", b"rescuer"})


class GroupApi(unittest.TestCase):
    protocol = 2

    def setUp(self):
        self.r = client(protocol=self.protocol)
        self.r.flushall()

    def tearDown(self):
        self.r.close()

    def test_groups_pending_and_claims(self):
        r = self.r
        for i in range(1, 6):
            r.xadd("s", {"n": str(i)}, id=f"{i}-0")
        self.assertTrue(r.xgroup_create("s", "g", id="0"))
        with self.assertRaises(redis.ResponseError) as e:
            r.xgroup_create("s", "g", id="0")
        self.assertIn("BUSYGROUP", str(e.exception))
        self.assertEqual(r.xgroup_createconsumer("s", "g", "idle"), 1)
        got = r.xreadgroup("g", "a", {"s": ">"}, count=2)
        entries = got[b"s"][0] if self.protocol == 3 else got[0][1]
        self.assertEqual([e[0] for e in entries], [b"1-0", b"2-0"])
        r.xreadgroup("g", "b", {"s": ">"}, count=2)
        self.assertEqual(r.xreadgroup("g", "c", {"s": ">"}, count=1, noack=True) != [], True)
        summary = r.xpending("s", "g")
        self.assertEqual(summary["pending"], 4)
        self.assertEqual((summary["min"], summary["max"]), (b"1-0", b"4-0"))
        detail = r.xpending_range("s", "g", min="-", max="+", count=10, consumername="b")
        self.assertEqual([d["message_id"] for d in detail], [b"3-0", b"4-0"])
        self.assertEqual([d["times_delivered"] for d in detail], [1, 1])
        self.assertEqual(r.xack("s", "g", "1-0", "9-0"), 1)
        claimed = r.xclaim("s", "g", "c", min_idle_time=0, message_ids=["3-0"], justid=True)
        self.assertEqual(claimed, [b"3-0"])
        claimed = r.xclaim("s", "g", "c", min_idle_time=0, message_ids=["4-0"], idle=5000)
        self.assertEqual(claimed[0][0], b"4-0")
        idle = r.xpending_range("s", "g", min="4-0", max="4-0", count=1)[0]
        self.assertGreaterEqual(idle["time_since_delivered"], 5000)
        self.assertEqual(idle["times_delivered"], 2)
        r.xdel("s", "2-0")
        cursor, got, deleted = r.xautoclaim("s", "g", "d", min_idle_time=0, start_id="0-0")
        self.assertEqual(cursor, b"0-0")
        self.assertEqual([e[0] for e in got], [b"3-0", b"4-0"])
        self.assertEqual(deleted, [b"2-0"])
        groups = r.xinfo_groups("s")
        self.assertEqual(groups[0]["name"], b"g")
        self.assertEqual(groups[0]["pending"], 2)
        self.assertEqual(groups[0]["last-delivered-id"], b"5-0")
        self.assertEqual(groups[0]["entries-read"], 5)
        self.assertEqual(groups[0]["lag"], 0)
        names = [c["name"] for c in r.xinfo_consumers("s", "g")]
        self.assertEqual(names, [b"a", b"b", b"c", b"d", b"idle"])
        full = r.xinfo_stream("s", full=True)
        self.assertEqual(full["length"], 4)
        self.assertEqual(len(full["groups"][0]["pending"]), 2)
        info = r.xinfo_stream("s")
        self.assertEqual(info["groups"], 1)
        self.assertEqual(info["first-entry"][0], b"1-0")
        self.assertEqual(r.xgroup_delconsumer("s", "g", "d"), 2)
        self.assertTrue(r.xgroup_setid("s", "g", id="0", entries_read=0))
        # 2-0 was deleted after 0: the lag cannot be known (Redis 7.0).
        self.assertIsNone(r.xinfo_groups("s")[0]["lag"])
        self.assertEqual(r.xgroup_destroy("s", "g"), 1)
        with self.assertRaises(redis.ResponseError) as e:
            r.xreadgroup("g", "a", {"s": ">"})
        self.assertIn("NOGROUP", str(e.exception))

    def test_a_blocked_group_reader_is_woken_by_xadd(self):
        r = self.r
        r.xgroup_create("q", "g", id="$", mkstream=True)
        got = {}

        def read():
            c = client(protocol=self.protocol)
            got["reply"] = c.xreadgroup("g", "w", {"q": ">"}, block=0)
            c.close()

        t = threading.Thread(target=read)
        t.start()
        deadline = time.time() + 10
        while r.info("clients")["blocked_clients"] == 0 and time.time() < deadline:
            time.sleep(0.005)
        r.xadd("q", {"k": "v"}, id="7-0")
        t.join()
        reply = got["reply"]
        entries = reply[b"q"][0] if self.protocol == 3 else reply[0][1]
        self.assertEqual(entries, [(b"7-0", {b"k": b"v"})])
        self.assertEqual(r.xpending("q", "g")["pending"], 1)


class GroupApiResp3(GroupApi):
    protocol = 3


if __name__ == "__main__":
    unittest.main()
