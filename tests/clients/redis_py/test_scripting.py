"""Lua scripting through redis-py, as applications use it: the `Lock` (whose release, extend
and reacquire are scripts run with EVALSHA), `Script` objects from `register_script` (the
NOSCRIPT fallback, scripts in pipelines), EVAL/EVALSHA/EVAL_RO and SCRIPT, errors as
`ResponseError`s with Redis's text, RESP2 and RESP3 replies.

Runs against the server on KV_PORT (any Redis-compatible server: `tests/e2e/clients.rs`
points it at kvserver, and the same file passes against redis-server 7.0.15, where the error
texts were recorded).
"""

import hashlib
import os
import threading
import time
import unittest

import redis
from redis.exceptions import LockError, LockNotOwnedError, NoScriptError, ResponseError

PORT = int(os.environ["KV_PORT"])


def client(**kw):
    return redis.Redis(port=PORT, **kw)


def sha1(text):
    return hashlib.sha1(text.encode()).hexdigest()


def wait_until_gone(r, key):
    """Spins until `key` has expired (its TTL is short); bounded so a bug cannot hang."""
    deadline = time.monotonic() + 10
    while r.exists(key):
        if time.monotonic() > deadline:
            raise AssertionError(f"{key} never expired")
        time.sleep(0.01)


class Locks(unittest.TestCase):
    """redis-py's `Lock`: SET NX PX to acquire, scripts to release, extend and reacquire."""

    def setUp(self):
        self.r = client()
        self.r.flushall()
        self.r.script_flush()

    def tearDown(self):
        self.r.close()

    def test_a_lock_is_held_until_released(self):
        lock = self.r.lock("res", timeout=30)
        self.assertTrue(lock.acquire(blocking=False))
        self.assertTrue(lock.locked())
        self.assertTrue(lock.owned())
        self.assertEqual(self.r.get("res"), lock.local.token)
        other = self.r.lock("res", timeout=30)
        self.assertFalse(other.acquire(blocking=False))
        self.assertFalse(other.owned())
        lock.release()
        self.assertFalse(lock.locked())
        self.assertEqual(self.r.exists("res"), 0)
        self.assertTrue(other.acquire(blocking=False))
        other.release()

    def test_a_blocked_acquirer_gets_the_lock_when_the_holder_releases(self):
        holder = self.r.lock("res", timeout=30)
        self.assertTrue(holder.acquire(blocking=False))
        started = threading.Event()
        got = []

        def wait_for_it():
            c = client()
            lock = c.lock("res", timeout=30, sleep=0.01)
            started.set()
            got.append(lock.acquire(blocking_timeout=20))
            # Recorded after acquiring: it must come after the holder's entry.
            c.rpush("order", "second")
            got.append(lock.owned())
            lock.release()
            c.close()

        waiter = threading.Thread(target=wait_for_it)
        waiter.start()
        started.wait()
        time.sleep(0.1)  # let the waiter try at least once while the lock is held
        self.r.rpush("order", "first")
        holder.release()
        waiter.join()
        self.assertEqual(got, [True, True])
        self.assertEqual(self.r.lrange("order", 0, -1), [b"first", b"second"])
        self.assertEqual(self.r.exists("res"), 0)

    def test_a_blocking_acquire_gives_up_at_its_timeout(self):
        holder = self.r.lock("res", timeout=30)
        self.assertTrue(holder.acquire())
        other = client()
        waiter = other.lock("res", timeout=30, sleep=0.01)
        self.assertFalse(waiter.acquire(blocking_timeout=0.2))
        self.assertFalse(waiter.owned())
        self.assertTrue(holder.owned())
        holder.release()
        other.close()

    def test_extend_and_reacquire_move_the_expiry(self):
        lock = self.r.lock("res", timeout=60)
        self.assertTrue(lock.acquire())
        self.assertTrue(0 < self.r.pttl("res") <= 60_000)
        self.assertTrue(lock.extend(60))  # adds to what is left
        self.assertTrue(60_000 < self.r.pttl("res") <= 120_000)
        self.assertTrue(lock.extend(5, replace_ttl=True))
        self.assertTrue(0 < self.r.pttl("res") <= 5_000)
        self.assertTrue(lock.reacquire())  # back to the lock's own timeout
        self.assertTrue(5_000 < self.r.pttl("res") <= 60_000)
        self.assertTrue(lock.owned())
        lock.release()
        with self.assertRaises(LockError):
            lock.extend(10)

    def test_a_lock_that_expired_and_was_taken_is_not_ours_to_release(self):
        lock = self.r.lock("res", timeout=0.1)
        self.assertTrue(lock.acquire())
        wait_until_gone(self.r, "res")
        other = client()
        thief = other.lock("res", timeout=30)
        self.assertTrue(thief.acquire(blocking=False))
        with self.assertRaises(LockNotOwnedError):
            lock.extend(10)
        with self.assertRaises(LockNotOwnedError):
            lock.reacquire()
        with self.assertRaises(LockNotOwnedError):
            lock.release()
        # The failed release deleted nothing: the new holder still has it.
        self.assertTrue(thief.owned())
        self.assertEqual(self.r.get("res"), thief.local.token)
        thief.release()
        other.close()

    def test_releasing_an_expired_lock_nobody_took_raises(self):
        lock = self.r.lock("res", timeout=0.1)
        self.assertTrue(lock.acquire())
        wait_until_gone(self.r, "res")
        with self.assertRaises(LockNotOwnedError):
            lock.release()

    def test_the_lock_serialises_read_modify_write_across_clients(self):
        self.r.set("counter", 0)
        workers, each = 4, 25

        def work():
            c = client()
            for _ in range(each):
                with c.lock("counter-lock", timeout=30, sleep=0.001, blocking_timeout=60):
                    n = int(c.get("counter"))
                    c.set("counter", n + 1)
            c.close()

        threads = [threading.Thread(target=work) for _ in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(int(self.r.get("counter")), workers * each)
        self.assertEqual(self.r.exists("counter-lock"), 0)


INCRBY = "return {KEYS[1], ARGV[1], redis.call('INCRBY', KEYS[1], ARGV[1])}"


class Scripts(unittest.TestCase):
    """`register_script`, EVAL/EVALSHA and SCRIPT as applications call them."""

    def setUp(self):
        self.r = client(protocol=2)
        self.r.flushall()
        self.r.script_flush()

    def tearDown(self):
        self.r.close()

    def test_a_registered_script_runs_with_keys_and_args(self):
        script = self.r.register_script(INCRBY)
        self.assertEqual(script.sha, sha1(INCRBY))
        self.assertEqual(script(keys=["n"], args=[5]), [b"n", b"5", 5])
        self.assertEqual(script(keys=["n"], args=[-2]), [b"n", b"-2", 3])
        self.assertEqual(self.r.get("n"), b"3")
        self.assertEqual(self.r.script_exists(script.sha), [True])

    def test_a_flushed_script_is_reloaded_transparently(self):
        script = self.r.register_script(INCRBY)
        self.assertEqual(script(keys=["n"], args=[1])[2], 1)
        self.assertTrue(self.r.script_flush())
        self.assertEqual(self.r.script_exists(script.sha), [False])
        with self.assertRaises(NoScriptError) as e:
            self.r.evalsha(script.sha, 1, "n", 1)
        self.assertEqual(str(e.exception), "No matching script. Please use EVAL.")
        # Script.__call__ catches NOSCRIPT, loads the script and runs it again.
        self.assertEqual(script(keys=["n"], args=[1])[2], 2)
        self.assertEqual(self.r.script_exists(script.sha), [True])

    def test_a_script_called_by_another_client_of_the_same_server(self):
        script = self.r.register_script(INCRBY)
        other = client(protocol=2)
        self.assertEqual(script(keys=["n"], args=[7], client=other), [b"n", b"7", 7])
        other.close()

    def test_scripts_in_a_transaction_pipeline(self):
        script = self.r.register_script(INCRBY)
        # The pipeline loads scripts the server lacks (SCRIPT EXISTS, SCRIPT LOAD) first.
        with self.r.pipeline() as p:
            script(keys=["a"], args=[2], client=p)
            p.incr("a")
            script(keys=["b"], args=[10], client=p)
            script(keys=["a"], args=[1], client=p)
            self.assertEqual(
                p.execute(), [[b"a", b"2", 2], 3, [b"b", b"10", 10], [b"a", b"1", 4]]
            )
        self.assertEqual(self.r.script_exists(script.sha), [True])

    def test_scripts_in_a_plain_pipeline_after_a_flush(self):
        script = self.r.register_script(INCRBY)
        self.assertEqual(script(keys=["a"], args=[1])[2], 1)
        self.r.script_flush()
        with self.r.pipeline(transaction=False) as p:
            script(keys=["a"], args=[1], client=p)
            script(keys=["a"], args=[1], client=p)
            p.get("a")
            self.assertEqual(p.execute(), [[b"a", b"1", 2], [b"a", b"1", 3], b"3"])

    def test_an_error_in_a_pipelined_script_fails_only_that_script(self):
        self.r.set("s", "text")
        script = self.r.register_script("return redis.call('INCR', KEYS[1])")
        with self.r.pipeline() as p:
            script(keys=["n"], client=p)
            script(keys=["s"], client=p)
            script(keys=["n"], client=p)
            results = p.execute(raise_on_error=False)
        self.assertEqual(results[0], 1)
        self.assertIsInstance(results[1], ResponseError)
        self.assertIn("value is not an integer or out of range", str(results[1]))
        self.assertEqual(results[2], 2)

    def test_eval_evalsha_script_load_and_exists(self):
        text = "return redis.call('GET', KEYS[1])"
        self.r.set("k", "v")
        sha = self.r.script_load(text)
        self.assertEqual(sha, sha1(text))
        self.assertEqual(self.r.evalsha(sha, 1, "k"), b"v")
        self.assertEqual(self.r.evalsha(sha.upper(), 1, "k"), b"v")
        other = "return ARGV[1]"
        self.assertEqual(self.r.script_exists(sha, sha1(other)), [True, False])
        # EVAL caches what it runs, so EVALSHA finds it afterwards.
        self.assertEqual(self.r.eval(other, 0, "x"), b"x")
        self.assertEqual(self.r.script_exists(sha, sha1(other)), [True, True])
        self.assertEqual(self.r.evalsha(sha1(other), 0, "y"), b"y")
        self.assertTrue(self.r.script_flush("ASYNC"))
        self.assertEqual(self.r.script_exists(sha, sha1(other)), [False, False])
        self.assertTrue(self.r.script_flush("SYNC"))

    def test_values_convert_as_in_redis(self):
        r = self.r
        self.assertEqual(r.eval("return {1, 2, {3, 'x'}, nil, 5}", 0), [1, 2, [3, b"x"]])
        self.assertEqual(r.eval("return 3.99", 0), 3)
        self.assertEqual(r.eval("return true", 0), 1)
        self.assertIsNone(r.eval("return false", 0))
        self.assertEqual(r.eval("return {ok = 'fine'}", 0), b"fine")
        self.assertEqual(r.eval("return redis.status_reply('FINE')", 0), b"FINE")
        self.assertIsNone(r.eval("return redis.call('GET', KEYS[1])", 1, "missing"))
        self.assertEqual(r.eval("return redis.call('GET', KEYS[1]) == false", 1, "nope"), 1)

    def test_script_errors_are_response_errors_with_redis_text(self):
        self.r.set("s", "text")
        cases = [
            ("return redis.call('INCR', KEYS[1])", ["s"],
             "value is not an integer or out of range script: {sha}, on @user_script:1."),
            ("return nosuch()", [],
             "user_script:1: Script attempted to access nonexistent global variable 'nosuch' "
             "script: {sha}, on @user_script:1."),
            ("return +", [],
             "Error compiling script (new function): user_script:1: unexpected symbol near '+'"),
            ("return redis.error_reply('MYERR custom')", [], "MYERR custom"),
            ("return {err = 'oops'}", [], "oops"),
            ("error('boom')", [], "user_script:1: boom script: {sha}, on @user_script:1."),
            ("error({err = 'TABLEERR x'})", [], "TABLEERR x script: {sha}, on @user_script:1."),
            ("return redis.call('nosuch')", [],
             "Unknown Redis command called from script script: {sha}, on @user_script:1."),
            ("return redis.call('SET', 'a')", [],
             "Wrong number of args calling Redis command from script script: {sha}, "
             "on @user_script:1."),
        ]
        for text, keys, expected in cases:
            with self.subTest(text):
                with self.assertRaises(ResponseError) as e:
                    self.r.eval(text, len(keys), *keys)
                self.assertEqual(str(e.exception), expected.format(sha=sha1(text)))
        with self.assertRaises(ResponseError) as e:
            self.r.eval("return 1", 2, "a")
        self.assertEqual(str(e.exception), "Number of keys can't be greater than number of args")
        with self.assertRaises(ResponseError) as e:
            self.r.eval("return 1", -1)
        self.assertEqual(str(e.exception), "Number of keys can't be negative")

    def test_pcall_hands_the_error_to_the_script(self):
        self.r.set("s", "text")
        text = "local e = redis.pcall('INCR', KEYS[1]); return e['err']"
        self.assertEqual(self.r.eval(text, 1, "s"), b"ERR value is not an integer or out of range")

    def test_a_failing_script_keeps_the_writes_before_its_error(self):
        """Scripts are atomic, not transactional: Redis does not roll back."""
        self.r.set("s", "text")
        text = "redis.call('SET', KEYS[1], 'partial'); redis.call('INCR', KEYS[2])"
        with self.assertRaises(ResponseError):
            self.r.eval(text, 2, "p", "s")
        self.assertEqual(self.r.get("p"), b"partial")

    def test_eval_ro_reads_and_refuses_writes(self):
        self.r.set("k", "v")
        self.assertEqual(self.r.eval_ro("return redis.call('GET', KEYS[1])", 1, "k"), b"v")
        write = "return redis.call('SET', KEYS[1], 'x')"
        with self.assertRaises(ResponseError) as e:
            self.r.eval_ro(write, 1, "k")
        self.assertEqual(
            str(e.exception),
            f"Write commands are not allowed from read-only scripts. script: {sha1(write)}, "
            "on @user_script:1.",
        )
        sha = self.r.script_load(write)
        with self.assertRaises(ResponseError) as e:
            self.r.evalsha_ro(sha, 1, "k")
        self.assertIn("Write commands are not allowed from read-only scripts", str(e.exception))
        self.assertEqual(self.r.get("k"), b"v")
        with self.assertRaises(NoScriptError):
            self.r.evalsha_ro(sha1("return 'never loaded'"), 0)

    def test_other_clients_never_see_a_script_half_done(self):
        """A reader's MGET of two keys that every script changes together agrees."""
        self.r.mset({"left": 0, "right": 0})
        both = self.r.register_script(
            "redis.call('INCR', KEYS[1]); return redis.call('INCR', KEYS[2])"
        )
        done = threading.Event()
        torn = []

        def read():
            c = client(protocol=2)
            while not done.is_set():
                a, b = c.mget("left", "right")
                if a != b:
                    torn.append((a, b))
            c.close()

        reader = threading.Thread(target=read)
        reader.start()
        try:
            for _ in range(300):
                both(keys=["left", "right"])
        finally:
            done.set()
            reader.join()
        self.assertEqual(torn, [])
        self.assertEqual(self.r.mget("left", "right"), [b"300", b"300"])

    def test_concurrent_transfer_scripts_preserve_the_total(self):
        accounts = [f"acct:{i}" for i in range(4)]
        self.r.mset({a: 1000 for a in accounts})
        transfer = self.r.register_script(
            """
            local amount = tonumber(ARGV[1])
            if tonumber(redis.call('GET', KEYS[1])) < amount then return 0 end
            redis.call('DECRBY', KEYS[1], amount)
            redis.call('INCRBY', KEYS[2], amount)
            -- Keys the script does not declare, as applications often write.
            redis.call('RPUSH', 'transfers', KEYS[1] .. '>' .. KEYS[2])
            redis.call('INCR', 'transfer-count')
            return 1
            """
        )
        done = []

        def work(i):
            c = client(protocol=2)
            moved = 0
            for n in range(100):
                src, dst = accounts[(i + n) % 4], accounts[(i + n + 1 + i) % 4]
                if src != dst:
                    moved += transfer(keys=[src, dst], args=[(n % 7) + 1], client=c)
            done.append(moved)
            c.close()

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        values = [int(v) for v in self.r.mget(accounts)]
        self.assertEqual(sum(values), 4000)
        self.assertTrue(all(v >= 0 for v in values), values)
        self.assertGreater(sum(done), 0)
        self.assertEqual(self.r.llen("transfers"), sum(done))
        self.assertEqual(int(self.r.get("transfer-count")), sum(done))

    def test_script_kill_stops_a_runaway_read_only_script(self):
        outcome = []

        def run():
            c = client(protocol=2)
            try:
                c.eval("while true do end", 0)
                outcome.append("returned")
            except ResponseError as e:
                outcome.append(str(e))
            c.close()

        runner = threading.Thread(target=run)
        runner.start()
        killer = client(protocol=2)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.assertTrue(killer.script_kill())
                break
            except ResponseError as e:
                # The script has not started yet.
                self.assertEqual(str(e), "NOTBUSY No scripts in execution right now.")
                self.assertLess(time.monotonic(), deadline, "the script never ran")
                time.sleep(0.01)
        runner.join()
        self.assertEqual(len(outcome), 1)
        self.assertTrue(
            outcome[0].startswith("Script killed by user with SCRIPT KILL..."), outcome[0]
        )
        self.assertEqual(killer.ping(), True)
        with self.assertRaises(ResponseError) as e:
            killer.script_kill()
        self.assertEqual(str(e.exception), "NOTBUSY No scripts in execution right now.")
        killer.close()


class Resp3(unittest.TestCase):
    """`redis.setresp(3)` inside a script, seen by RESP3 and RESP2 clients."""

    HGETALL3 = "redis.setresp(3); return redis.call('HGETALL', KEYS[1])"

    def setUp(self):
        self.r = client(protocol=3)
        self.r.flushall()
        self.r.hset("h", mapping={"a": 1, "b": 2})

    def tearDown(self):
        self.r.close()

    def test_setresp_3_returns_a_map_to_a_resp3_client(self):
        self.assertEqual(self.r.eval(self.HGETALL3, 1, "h"), {b"a": b"1", b"b": b"2"})
        script = self.r.register_script(self.HGETALL3)
        self.assertEqual(script(keys=["h"]), {b"a": b"1", b"b": b"2"})

    def test_without_setresp_a_script_sees_resp2_replies(self):
        self.assertEqual(
            self.r.eval("return redis.call('HGETALL', KEYS[1])", 1, "h"),
            [b"a", b"1", b"b", b"2"],
        )

    def test_a_resp2_client_gets_the_map_flattened(self):
        c = client(protocol=2)
        self.assertEqual(c.eval(self.HGETALL3, 1, "h"), [b"a", b"1", b"b", b"2"])
        c.close()

    def test_resp3_types_built_in_lua(self):
        self.assertEqual(self.r.eval("return {map = {a = 1}}", 0), {b"a": 1})
        self.assertEqual(self.r.eval("return {double = 3.5}", 0), 3.5)
        self.assertEqual(
            sorted(self.r.eval("redis.setresp(3); return redis.call('SMEMBERS', KEYS[1])",
                               1, "nosuchset")),
            [],
        )
        self.r.sadd("st", "x", "y")
        self.assertEqual(
            sorted(self.r.eval("redis.setresp(3); return redis.call('SMEMBERS', KEYS[1])",
                               1, "st")),
            [b"x", b"y"],
        )
        self.assertIsNone(self.r.eval("redis.setresp(3); return redis.call('GET', 'nokey')", 0))

    def test_a_lock_over_resp3(self):
        lock = self.r.lock("res3", timeout=30)
        self.assertTrue(lock.acquire(blocking=False))
        self.assertTrue(lock.extend(10))
        lock.release()
        self.assertEqual(self.r.exists("res3"), 0)


class Functions(unittest.TestCase):
    """Function libraries through redis-py's function API, including DUMP / RESTORE."""

    LIB = ("#!lua name=shop\n"
           "redis.register_function('buy', function(keys, args) "
           "return redis.call('DECRBY', keys[1], args[1]) end)\n"
           "redis.register_function{function_name='stock', callback=function(keys) "
           "return redis.call('GET', keys[1]) end, flags={'no-writes'}}")

    def setUp(self):
        self.r = client()
        self.r.flushall()
        self.r.function_flush()

    def tearDown(self):
        self.r.function_flush()
        self.r.close()

    def test_load_call_and_list(self):
        self.assertEqual(self.r.function_load(self.LIB), b"shop")
        self.r.set("apples", 10)
        self.assertEqual(self.r.fcall("buy", 1, "apples", 3), 7)
        self.assertEqual(self.r.fcall_ro("stock", 1, "apples"), b"7")
        with self.assertRaises(ResponseError) as e:
            self.r.fcall_ro("buy", 1, "apples", 1)
        self.assertIn("write flag", str(e.exception))
        [lib] = self.r.function_list()
        self.assertEqual(lib[1], b"shop")

    def test_dump_and_restore_move_libraries(self):
        self.r.function_load(self.LIB)
        payload = self.r.function_dump()
        self.r.function_flush()
        self.assertEqual(self.r.function_list(), [])
        self.assertTrue(self.r.function_restore(payload))
        self.r.set("pears", 4)
        self.assertEqual(self.r.fcall("buy", 1, "pears", 1), 3)
        # The library exists now: APPEND refuses, REPLACE and FLUSH accept.
        with self.assertRaises(ResponseError) as e:
            self.r.function_restore(payload)
        self.assertEqual(str(e.exception), "Library shop already exists")
        self.assertTrue(self.r.function_restore(payload, "REPLACE"))
        self.assertTrue(self.r.function_restore(payload, "FLUSH"))
        with self.assertRaises(ResponseError) as e:
            self.r.function_restore(payload[:-1] + b"x")
        self.assertEqual(str(e.exception), "DUMP payload version or checksum are wrong")
        self.assertEqual(self.r.function_dump(), payload)


if __name__ == "__main__":
    unittest.main()
