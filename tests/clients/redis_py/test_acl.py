"""ACL through redis-py's own API, as applications and redis-py's test suite call it:
acl_setuser with its keyword options (passwords, hashed passwords, categories, commands,
keys, channels, selectors, reset flags), acl_getuser's parsed dict, acl_list/users/whoami,
acl_cat, acl_genpass, acl_dryrun, acl_deluser, acl_log (and its reset), auth with a username,
and NoPermissionError on refused commands, keys and channels.

The expected values are what redis-server 7.0.15 returns for the same calls. Runs against the
server on KV_PORT (see test_transactions.py).
"""

import hashlib
import os
import unittest

import redis

PORT = int(os.environ["KV_PORT"])
USER = "redis-py-user"


class Acl(unittest.TestCase):
    def setUp(self):
        self.r = redis.Redis(port=PORT, decode_responses=True)
        self.r.flushall()
        for u in self.r.acl_users():
            if u != "default":
                self.r.acl_deluser(u)
        self.r.acl_log_reset()

    def tearDown(self):
        for u in self.r.acl_users():
            if u != "default":
                self.r.acl_deluser(u)

    def test_whoami_users_and_list(self):
        r = self.r
        self.assertEqual(r.acl_whoami(), "default")
        self.assertEqual(r.acl_users(), ["default"])
        self.assertEqual(r.acl_list(), ["user default on nopass ~* &* +@all"])
        self.assertTrue(r.acl_setuser(USER))
        self.assertEqual(r.acl_users(), ["default", USER])
        self.assertIn(f"user {USER} off resetchannels -@all", r.acl_list())

    def test_cat(self):
        r = self.r
        categories = r.acl_cat()
        self.assertEqual(len(categories), 21)
        self.assertIn("keyspace", categories)
        self.assertIn("scripting", categories)
        commands = r.acl_cat("read")
        self.assertIn("get", commands)
        self.assertNotIn("set", commands)
        self.assertIn("config|get", r.acl_cat("admin"))
        with self.assertRaisesRegex(redis.ResponseError, "Unknown category 'nosuch'"):
            r.acl_cat("nosuch")

    def test_genpass(self):
        r = self.r
        password = r.acl_genpass()
        self.assertEqual(len(password), 64)
        int(password, 16)
        self.assertEqual(len(r.acl_genpass(555)), 139)
        with self.assertRaisesRegex(redis.ResponseError, "ACL GENPASS argument must be"):
            r.acl_genpass(0)
        with self.assertRaises(redis.DataError):
            r.acl_genpass(5555)  # refused by redis-py itself

    def test_setuser_and_getuser(self):
        r = self.r
        self.assertTrue(r.acl_setuser(USER))
        acl = r.acl_getuser(USER)
        self.assertEqual(acl["categories"], ["-@all"])
        self.assertEqual(acl["commands"], [])
        self.assertEqual(acl["keys"], [])
        self.assertEqual(acl["passwords"], [])
        self.assertIn("off", acl["flags"])
        self.assertFalse(acl["enabled"])

        hashed = hashlib.sha256(b"pass2").hexdigest()
        self.assertTrue(r.acl_setuser(
            USER, enabled=True, reset=True, passwords=["+pass1"], hashed_passwords=["+" + hashed],
            categories=["+@set", "+@hash", "-@geo"], commands=["+get", "+mget", "-hset"],
            keys=["cache:*", "objects:*"], channels=["message:*"]))
        acl = r.acl_getuser(USER)
        # Starting from -@all, -@geo changes nothing, so the description leaves it out.
        self.assertEqual(set(acl["categories"]), {"-@all", "+@set", "+@hash"})
        self.assertEqual(set(acl["commands"]), {"+get", "+mget", "-hset"})
        self.assertTrue(acl["enabled"])
        self.assertIn("on", acl["flags"])
        self.assertEqual(set(acl["keys"]), {"~cache:*", "~objects:*"})
        self.assertEqual(set(acl["channels"]), {"&message:*"})
        self.assertEqual(len(acl["passwords"]), 2)
        self.assertIn(hashed, acl["passwords"])
        self.assertIn(hashlib.sha256(b"pass1").hexdigest(), acl["passwords"])

        # Removing passwords, by text and by hash; nopass clears them.
        self.assertTrue(r.acl_setuser(USER, passwords=["-pass1"], hashed_passwords=["-" + hashed]))
        self.assertEqual(r.acl_getuser(USER)["passwords"], [])
        self.assertTrue(r.acl_setuser(USER, nopass=True))
        self.assertIn("nopass", r.acl_getuser(USER)["flags"])
        with self.assertRaises(redis.ResponseError):
            r.acl_setuser(USER, passwords=["-nosuchpassword"])
        with self.assertRaises(redis.ResponseError):
            r.acl_setuser(USER, hashed_passwords=["+badhash"])
        with self.assertRaises(redis.DataError):
            r.acl_setuser(USER, categories=["list"])  # no +/- prefix: refused by redis-py
        self.assertIsNone(r.acl_getuser("nosuch"))

    def test_selectors_and_key_permissions(self):
        r = self.r
        self.assertTrue(r.acl_setuser(
            USER, enabled=True, nopass=True, commands=["+get"], keys=["%R~read*", "%W~write*"],
            selectors=[("+set", "%W~selw*"), ("+@read", "~sel*")]))
        acl = r.acl_getuser(USER)
        self.assertEqual(acl["keys"], ["%R~read*", "%W~write*"])
        # Each selector comes as a flat list of field, value.
        selectors = [dict(zip(s[::2], s[1::2])) for s in acl["selectors"]]
        self.assertEqual(selectors, [
            {"commands": "-@all +set", "keys": "%W~selw*", "channels": ""},
            {"commands": "-@all +@read", "keys": "~sel*", "channels": ""},
        ])
        self.assertEqual(r.acl_dryrun(USER, "get", "read1"), "OK")
        self.assertEqual(r.acl_dryrun(USER, "get", "write1"),
                         "This user has no permissions to access the 'write1' key")
        self.assertEqual(r.acl_dryrun(USER, "set", "selw1", "v"), "OK")
        self.assertEqual(r.acl_dryrun(USER, "lrange", "sel1", "0", "-1"), "OK")
        self.assertEqual(r.acl_dryrun(USER, "del", "sel1"),
                         "This user has no permissions to run the 'del' command")
        with self.assertRaisesRegex(redis.ResponseError, "User 'nosuch' not found"):
            r.acl_dryrun("nosuch", "get", "x")

    def test_auth_and_noperm(self):
        r = self.r
        r.acl_setuser(USER, enabled=True, passwords=["+secret"], commands=["+get", "+set",
                      "+publish", "+acl|whoami"], keys=["k*"], channels=["ch*"])
        c = redis.Redis(port=PORT, decode_responses=True)
        with self.assertRaises(redis.AuthenticationError):
            c.auth("wrong", username=USER)
        self.assertTrue(c.auth("secret", username=USER))
        self.assertEqual(c.acl_whoami(), USER)
        self.assertTrue(c.set("k1", "v"))
        self.assertEqual(c.get("k1"), "v")
        with self.assertRaisesRegex(redis.exceptions.NoPermissionError,
                                    "no permissions to access one of the keys"):
            c.get("other")
        with self.assertRaisesRegex(redis.exceptions.NoPermissionError,
                                    "no permissions to run the 'lpush' command"):
            c.lpush("k1", "x")
        with self.assertRaisesRegex(redis.exceptions.NoPermissionError,
                                    "no permissions to access one of the channels"):
            c.publish("other", "m")
        self.assertEqual(c.publish("ch1", "m"), 0)
        # A client that connects as the user from the start.
        d = redis.Redis(port=PORT, username=USER, password="secret", decode_responses=True)
        self.assertEqual(d.get("k1"), "v")
        c.close()
        d.close()

    def test_log(self):
        r = self.r
        r.acl_setuser(USER, enabled=True, reset=True, commands=["+get", "+set", "+select"],
                      keys=["cache:*"], nopass=True)
        # No CLIENT SETINFO on connect (Redis 7.2's, which this user may not run).
        c = redis.Redis(port=PORT, username=USER, password="x", decode_responses=True,
                        lib_name=None, lib_version=None)
        c.set("cache:0", 1)
        with self.assertRaises(redis.exceptions.NoPermissionError):
            c.get("violated_cache:0")
        with self.assertRaises(redis.exceptions.NoPermissionError):
            c.hset("cache:0", "hkey", "hval")
        with self.assertRaises(redis.AuthenticationError):
            redis.Redis(port=PORT, username="nosuch", password="x").ping()
        log = r.acl_log()
        self.assertEqual(len(log), 3)
        self.assertEqual(len(r.acl_log(count=1)), 1)
        expected = {"count", "reason", "context", "object", "username", "age-seconds",
                    "client-info"}
        for entry in log:
            self.assertEqual(set(entry), expected)
            self.assertIsInstance(entry["client-info"], dict)
        self.assertEqual(log[0]["reason"], "auth")
        self.assertEqual(log[0]["username"], "nosuch")
        self.assertEqual(log[1]["reason"], "command")
        self.assertEqual(log[1]["object"], "hset")
        self.assertEqual(log[2]["reason"], "key")
        self.assertEqual(log[2]["object"], "violated_cache:0")
        self.assertEqual(log[2]["context"], "toplevel")
        self.assertTrue(r.acl_log_reset())
        self.assertEqual(r.acl_log(), [])
        c.close()

    def test_deluser(self):
        r = self.r
        self.assertEqual(r.acl_deluser(USER), 0)
        r.acl_setuser(USER)
        self.assertEqual(r.acl_deluser(USER), 1)
        names = [f"{USER}_{i}" for i in range(5)]
        for n in names:
            r.acl_setuser(n)
        self.assertEqual(r.acl_deluser(*names), 5)
        with self.assertRaisesRegex(redis.ResponseError, "The 'default' user cannot be removed"):
            r.acl_deluser("default")

    def test_help(self):
        self.assertEqual(len(self.r.acl_help()), 29)


if __name__ == "__main__":
    unittest.main()
