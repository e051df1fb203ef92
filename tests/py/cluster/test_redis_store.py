"""The Redis store against a real redis-server, started here on a free localhost port with
its append-only file on, and always stopped. Needs `redis-server` and the redis package:
`scripts/test.sh` installs both and runs this with the Python of the venv it makes (see
tests/cluster.rs); by hand:

    target/test-venv/bin/python -m unittest discover -s tests/py/cluster
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "runtime_py"))

import redis  # noqa: E402

from kappa_coordinator.redis_store import RedisStore, parse_url  # noqa: E402
from kappa_coordinator.store import StoreError, open_store  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A redis-server of its own, in a temporary directory."""

    def __init__(self, *config):
        self.directory = tempfile.mkdtemp(prefix="kappac-redis-")
        self.port = free_port()
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.directory,
             "--save", "", *config],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = "redis://127.0.0.1:%d/0" % self.port
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if self.process.poll() is not None:
                    raise RuntimeError("redis-server exited with %s" % self.process.returncode)
                time.sleep(0.05)
        else:
            self.stop()
            raise RuntimeError("redis-server did not answer on port %d" % self.port)
        self.client = client

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


class DurableServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = RedisServer("--appendonly", "yes", "--appendfsync", "always")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def open(self, **options):
        warnings = []
        store = RedisStore(self.server.url, app_hash="h1", warn=warnings.append, **options)
        self.addCleanup(store.close)
        self.assertEqual(warnings, [])
        return store

    def test_a_call_is_stored_once_with_its_checkpoint(self):
        store = self.open()
        self.assertTrue(store.store("t1", 1, b"before 1", "spawn", b"call 1"))
        self.assertFalse(store.store("t1", 1, b"again", "spawn", b"call 1"))
        self.assertTrue(store.store("t1", 2, b"before 2", None, None))  # a checkpoint alone
        self.assertEqual(store.recorded_kind("t1", 1), "spawn")
        self.assertIsNone(store.recorded_kind("t1", 2))
        checkpoints = self.server.client.hgetall("kappac:run:{%s}:checkpoints" % store.run_id)
        self.assertEqual(checkpoints, {b"t1": b"before 2", b"t1:seqno": b"2"})

    def test_runs_are_listed_and_finish(self):
        store = self.open()
        self.assertIsNotNone(self.server.client.zscore("kappac:runs", store.run_id))
        store.finish("done")
        run = self.server.client.hgetall("kappac:run:{%s}:run" % store.run_id)
        self.assertEqual((run[b"state"], run[b"app_hash"]), (b"done", b"h1"))

    def test_a_coordinator_that_opens_the_run_fences_off_the_one_before(self):
        first = self.open()
        self.assertTrue(first.store("t1", 1, None, "spawn", b"c"))
        second = self.open(run_id=first.run_id)
        with self.assertRaisesRegex(StoreError, "another coordinator has opened run"):
            first.store("t1", 2, b"cp", "spawn", b"c2")
        self.assertIsNone(second.recorded_kind("t1", 2))  # nothing of the refused write
        self.assertFalse(second.store("t1", 1, None, "spawn", b"c"))  # the log carries over
        self.assertTrue(second.store("t1", 2, None, "enqueue", b"c2"))
        first.finish("failed")  # fenced too, silently
        self.assertEqual(self.server.client.hget("kappac:run:{%s}:run" % first.run_id, "state"), b"running")

    def test_a_run_that_is_not_there_is_refused(self):
        with self.assertRaisesRegex(StoreError, "no run `nope`"):
            RedisStore(self.server.url, run_id="nope")

    def test_checkpoints_of_tens_of_megabytes(self):
        store = self.open()
        big = os.urandom(1 << 20) * 24
        self.assertTrue(store.store("t1", 1, big, "spawn", b"c"))
        key = "kappac:run:{%s}:checkpoints" % store.run_id
        self.assertEqual(self.server.client.hget(key, "t1"), big)

    def test_other_keys_in_the_database_are_left_alone(self):
        self.server.client.set("someone-else", "theirs")
        store = self.open()
        store.store("t1", 1, b"cp", "spawn", b"c")
        store.finish("done")
        self.assertEqual(self.server.client.get("someone-else"), b"theirs")
        for key in self.server.client.keys("*"):
            self.assertTrue(key == b"someone-else" or key.startswith(b"kappac:"), key)

    def test_open_store_picks_redis_by_its_url(self):
        store = open_store(self.server.url, app_hash="h2")
        self.addCleanup(store.close)
        self.assertIsInstance(store, RedisStore)


class Misconfigured(unittest.TestCase):
    def test_a_server_without_an_append_only_file_is_refused(self):
        server = RedisServer("--appendonly", "no")
        self.addCleanup(server.stop)
        with self.assertRaisesRegex(StoreError, "keeps no append-only file"):
            RedisStore(server.url)
        self.assertEqual(server.client.keys("*"), [])  # nothing written

    def test_fsync_every_second_is_said_loudly(self):
        server = RedisServer("--appendonly", "yes", "--appendfsync", "everysec")
        self.addCleanup(server.stop)
        warnings = []
        store = RedisStore(server.url, warn=warnings.append)
        store.close()
        self.assertEqual(len(warnings), 1)
        self.assertIn("appendfsync always", warnings[0])

    def test_an_unreachable_server_is_a_clear_error(self):
        url = "redis://127.0.0.1:%d/0" % free_port()
        with self.assertRaisesRegex(StoreError, "cannot use the Redis store %s" % url):
            RedisStore(url)

    def test_urls(self):
        self.assertEqual(parse_url("redis://h"), ("h", 6379, 0))
        self.assertEqual(parse_url("redis://h:7000/3"), ("h", 7000, 3))
        for bad, message in [("http://h", "redis://HOST"), ("redis://:1", "no host"),
                             ("redis://h:99999", "port"), ("redis://h/x", "database is a number"),
                             ("redis://u:p@h", "credentials")]:
            with self.assertRaisesRegex(ValueError, message):
                parse_url(bad)
            with self.assertRaisesRegex(StoreError, message):
                RedisStore(bad)
        with self.assertRaisesRegex(StoreError, r"TLS to Redis \(rediss://\) is not supported"):
            open_store("rediss://h:6380/0")


if __name__ == "__main__":
    unittest.main()
