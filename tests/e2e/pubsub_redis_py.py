"""redis-py's PubSub, used unchanged against a server: subscribe, psubscribe, ssubscribe,
get_message, listen, ping, PUBSUB introspection, in RESP2 and (redis-py >= 5) RESP3.

    python3 tests/e2e/pubsub_redis_py.py PORT

Exits 77 when redis-py is not installed (tests/e2e/pubsub_clients.rs decides whether that
fails), 0 when every check passed; a failed check raises.
"""
import sys
import threading

try:
    import redis
except ImportError:
    sys.exit(77)

PORT = int(sys.argv[1])
WAIT = 30  # seconds; a generous deadline, never a measurement


def message(p):
    m = p.get_message(timeout=WAIT)
    assert m is not None, "no message within the deadline"
    return m


def session(protocol):
    r = redis.Redis(port=PORT, protocol=protocol)
    p = r.pubsub()
    p.subscribe("news")
    p.psubscribe("n*")
    assert message(p) == {"type": "subscribe", "pattern": None, "channel": b"news", "data": 1}
    assert message(p) == {"type": "psubscribe", "pattern": None, "channel": b"n*", "data": 2}
    assert r.publish("news", "hello") == 2
    assert message(p) == {"type": "message", "pattern": None, "channel": b"news", "data": b"hello"}
    assert message(p) == {"type": "pmessage", "pattern": b"n*", "channel": b"news", "data": b"hello"}

    assert r.pubsub_channels() == [b"news"]
    assert r.pubsub_numsub("news", "other") == [(b"news", 1), (b"other", 0)]
    assert r.pubsub_numpat() == 1

    # PING while subscribed: RESP2's array form and RESP3's plain one both read as a pong.
    p.ping()
    pong = message(p)
    assert pong["type"] == "pong", pong

    # listen() over messages published from another thread, in order.
    p.punsubscribe("n*")
    assert message(p)["type"] == "punsubscribe"
    publisher = threading.Thread(target=lambda: [r.publish("news", str(i)) for i in range(50)])
    publisher.start()
    got = []
    for m in p.listen():
        assert m["type"] == "message", m
        got.append(m["data"])
        if len(got) == 50:
            break
    publisher.join()
    assert got == [str(i).encode() for i in range(50)], got

    # Sharded pub/sub (redis-py >= 5).
    if hasattr(p, "ssubscribe"):
        p.ssubscribe("shard")
        assert message(p) == {"type": "ssubscribe", "pattern": None, "channel": b"shard", "data": 1}
        assert r.spublish("shard", "s") == 1
        assert message(p) == {"type": "smessage", "pattern": None, "channel": b"shard", "data": b"s"}
        p.sunsubscribe()
        assert message(p)["type"] == "sunsubscribe"

    # Unsubscribing from everything, then the connection goes back to the pool and serves
    # ordinary commands.
    p.unsubscribe()
    assert message(p) == {"type": "unsubscribe", "pattern": None, "channel": b"news", "data": 0}
    p.close()
    assert r.set("after", "pubsub") and r.get("after") == b"pubsub"
    assert r.pubsub_numsub("news") == [(b"news", 0)]

    # Handlers with run_in_thread.
    seen = []
    done = threading.Event()

    def handler(m):
        seen.append(m["data"])
        if len(seen) == 3:
            done.set()

    p = r.pubsub()
    p.subscribe(**{"jobs": handler})
    worker = p.run_in_thread(sleep_time=0.01)
    # Wait until the subscription is there before publishing.
    for _ in range(WAIT * 100):
        if r.pubsub_numsub("jobs") == [(b"jobs", 1)]:
            break
        threading.Event().wait(0.01)
    for i in range(3):
        assert r.publish("jobs", "job%d" % i) == 1
    assert done.wait(WAIT), seen
    worker.stop()
    worker.join(WAIT)
    p.close()
    assert seen == [b"job0", b"job1", b"job2"], seen
    r.close()


session(2)
try:
    redis.Redis(port=PORT, protocol=3)
    resp3 = True
except Exception:  # redis-py < 5 has no protocol argument
    resp3 = False
if resp3:
    session(3)
print("redis-py %s: RESP2%s pub/sub checks passed" % (redis.__version__, " and RESP3" if resp3 else ""))
