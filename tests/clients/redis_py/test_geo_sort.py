"""Geo and SORT through redis-py's own API, as applications call them: geoadd with its
options, geopos/geohash/geodist, geosearch and geosearchstore (radius and box, member and
coordinates, any/count/sort, with* options parsed by redis-py), georadius/georadiusbymember
(store and store_dist), and sort/sort_ro with by/get/limit/alpha/desc/store.

The expected values are what redis-server 7.0.15 returns for the same calls. Runs against the
server on KV_PORT (see test_transactions.py).
"""

import os
import unittest

import redis

PORT = int(os.environ["KV_PORT"])

SICILY = (13.361389, 38.115556, "Palermo", 15.087269, 37.502669, "Catania")


class Geo(unittest.TestCase):
    def setUp(self):
        self.r = redis.Redis(port=PORT, decode_responses=True)
        self.r.flushall()
        self.assertEqual(self.r.geoadd("Sicily", SICILY), 2)

    def test_add_options_and_scores(self):
        r = self.r
        self.assertEqual(r.zscore("Sicily", "Palermo"), 3479099956230698.0)
        self.assertEqual(r.geoadd("Sicily", (13.361389, 38.115556, "Palermo"), nx=True), 0)
        self.assertEqual(r.geoadd("Sicily", (13.5, 38.1, "Palermo"), xx=True, ch=True), 1)
        self.assertEqual(r.geoadd("Sicily", (13.361389, 38.115556, "Palermo"), ch=True), 1)
        with self.assertRaises(redis.DataError):
            r.geoadd("Sicily", (1, 2, "x"), nx=True, xx=True)  # refused by redis-py itself
        with self.assertRaisesRegex(redis.ResponseError, "invalid longitude,latitude pair"):
            r.geoadd("Sicily", (200, 100, "x"))

    def test_pos_hash_dist(self):
        r = self.r
        pos = r.geopos("Sicily", "Palermo", "nowhere")
        self.assertEqual(pos[0], (13.361389338970184, 38.1155563954963))
        self.assertIsNone(pos[1])
        self.assertEqual(r.geohash("Sicily", "Palermo", "Catania", "x"),
                         ["sqc8b49rny0", "sqdtr74hyu0", None])
        self.assertEqual(r.geodist("Sicily", "Palermo", "Catania"), 166274.1516)
        self.assertEqual(r.geodist("Sicily", "Palermo", "Catania", "km"), 166.2742)
        self.assertEqual(r.geodist("Sicily", "Palermo", "Catania", "mi"), 103.3182)
        self.assertIsNone(r.geodist("Sicily", "Palermo", "nowhere"))

    def test_search(self):
        r = self.r
        self.assertEqual(
            r.geosearch("Sicily", longitude=15, latitude=37, radius=200, unit="km",
                        sort="ASC"),
            ["Catania", "Palermo"])
        self.assertEqual(
            r.geosearch("Sicily", member="Palermo", width=400, height=400, unit="km",
                        withdist=True, sort="DESC"),
            [["Catania", 166.2742], ["Palermo", 0.0]])
        near = r.geosearch("Sicily", longitude=15, latitude=37, radius=200, unit="km",
                           withcoord=True, withhash=True, withdist=True, count=1)
        self.assertEqual(near, [["Catania", 56.4413, 3479447370796909,
                                 (15.087267458438873, 37.50266842333162)]])
        self.assertEqual(len(r.geosearch("Sicily", longitude=15, latitude=37, radius=200,
                                         unit="km", count=1, any=True)), 1)
        self.assertEqual(r.geosearchstore("near", "Sicily", longitude=15, latitude=37,
                                          radius=100, unit="km"), 1)
        self.assertEqual(r.zrange("near", 0, -1, withscores=True),
                         [("Catania", 3479447370796909.0)])
        self.assertEqual(r.geosearchstore("near", "Sicily", longitude=15, latitude=37,
                                          radius=200, unit="km", storedist=True), 2)
        self.assertEqual(r.zrange("near", 0, -1), ["Catania", "Palermo"])
        with self.assertRaisesRegex(redis.ResponseError, "could not decode requested zset member"):
            r.geosearch("Sicily", member="nowhere", radius=1, unit="km")

    def test_radius_commands(self):
        r = self.r
        self.assertEqual(r.georadius("Sicily", 15, 37, 200, unit="km", withdist=True, sort="ASC"),
                         [["Catania", 56.4413], ["Palermo", 190.4424]])
        self.assertEqual(r.georadiusbymember("Sicily", "Palermo", 100, unit="km"), ["Palermo"])
        self.assertEqual(r.georadius("Sicily", 15, 37, 200, unit="km", store="dst"), 2)
        self.assertEqual(r.zcard("dst"), 2)
        self.assertEqual(r.georadiusbymember("Sicily", "Palermo", 200, unit="km",
                                             store_dist="dd"), 2)
        self.assertEqual(r.zscore("dd", "Palermo"), 0.0)
        self.assertEqual(r.georadius("nokey", 15, 37, 200, unit="km"), [])


class Sort(unittest.TestCase):
    def setUp(self):
        self.r = redis.Redis(port=PORT, decode_responses=True)
        self.r.flushall()
        self.r.rpush("ids", 3, 1, 2)
        self.r.mset({"weight_1": 30, "weight_2": 10, "weight_3": 20})
        for i, name in ((1, "ann"), (2, "bob"), (3, "cy")):
            self.r.hset(f"user:{i}", mapping={"name": name, "age": 40 - i})

    def test_plain(self):
        r = self.r
        self.assertEqual(r.sort("ids"), ["1", "2", "3"])
        self.assertEqual(r.sort("ids", desc=True), ["3", "2", "1"])
        self.assertEqual(r.sort("ids", start=1, num=1), ["2"])
        r.rpush("names", "cy", "ann", "bob")
        self.assertEqual(r.sort("names", alpha=True), ["ann", "bob", "cy"])
        with self.assertRaisesRegex(redis.ResponseError, "can't be converted into double"):
            r.sort("names")

    def test_by_get_store(self):
        r = self.r
        self.assertEqual(r.sort("ids", by="weight_*"), ["2", "3", "1"])
        self.assertEqual(r.sort("ids", by="user:*->age", get=["#", "user:*->name"]),
                         ["3", "cy", "2", "bob", "1", "ann"])
        self.assertEqual(r.sort("ids", by="nosort", get="weight_*"), ["20", "30", "10"])
        self.assertEqual(r.sort("ids", by="weight_*", get=["#", "user:*->name"], groups=True),
                         [("2", "bob"), ("3", "cy"), ("1", "ann")])
        self.assertEqual(r.sort("ids", by="weight_*", store="sorted"), 3)
        self.assertEqual(r.lrange("sorted", 0, -1), ["2", "3", "1"])
        self.assertEqual(r.sort_ro("ids", by="weight_*", get="#", desc=True), ["1", "3", "2"])

    def test_sets_and_sorted_sets(self):
        r = self.r
        r.sadd("s", 5, 1, 3)
        r.zadd("z", {"b": 1, "a": 2})
        self.assertEqual(r.sort("s"), ["1", "3", "5"])
        self.assertEqual(r.sort("z", alpha=True), ["a", "b"])
        self.assertEqual(r.sort("z", by="nosort"), ["b", "a"])


if __name__ == "__main__":
    unittest.main()
