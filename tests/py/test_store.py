"""The store (runtime_py/kappa_coordinator/store.py): identity, runs, locking, mode 0600, and
nothing read back is ever unpickled.

    python3 -m unittest discover -s tests/py -p 'test_*.py'
"""

import os
import pickle
import sqlite3
import stat
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "runtime_py"))

from kappa_coordinator.store import SqliteStore as Store, StoreError  # noqa: E402


class _Trap:
    """Unpickling this creates a file: proof that something unpickled a stored blob."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


class StoreTests(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.path = os.path.join(self.dir, "runs.db")

    def tearDown(self):
        for name in os.listdir(self.dir):
            os.remove(os.path.join(self.dir, name))
        os.rmdir(self.dir)

    def test_a_new_store_is_private_and_identified(self):
        store = Store(self.path, app_hash="abc")
        store.close()
        self.assertEqual(stat.S_IMODE(os.stat(self.path).st_mode), 0o600)
        db = sqlite3.connect(self.path)
        self.assertEqual(dict(db.execute("SELECT key, value FROM meta"))["format"], "kappac-store")
        db.close()

    def test_a_foreign_database_is_refused_and_left_untouched(self):
        db = sqlite3.connect(self.path)
        db.execute("CREATE TABLE calls (x)")
        db.execute("INSERT INTO calls VALUES (1)")
        db.commit()
        db.close()
        with self.assertRaises(StoreError) as raised:
            Store(self.path)
        self.assertIn("is not a kappac store", str(raised.exception))
        db = sqlite3.connect(self.path)
        self.assertEqual(db.execute("SELECT count(*) FROM calls").fetchone()[0], 1)
        db.close()

    def test_a_corrupt_file_is_a_clear_error(self):
        with open(self.path, "wb") as f:
            f.write(b"this is not a database, just some bytes" * 100)
        with self.assertRaises(StoreError) as raised:
            Store(self.path)
        self.assertIn(self.path, str(raised.exception))

    def test_runs_keep_their_own_rows(self):
        first = Store(self.path)
        self.assertTrue(first.store("0", 1, b"ckpt", "spawn", b"call"))
        self.assertFalse(first.store("0", 1, None, "spawn", b"again"))  # at most once
        first.finish("finished")
        first.close()
        second = Store(self.path)
        self.assertNotEqual(first.run_id, second.run_id)
        self.assertIsNone(second.recorded_kind("0", 1))
        self.assertTrue(second.store("0", 1, None, "wait", b"call"))
        second.close()
        db = sqlite3.connect(self.path)
        self.assertEqual(db.execute("SELECT count(*) FROM calls").fetchone()[0], 2)
        self.assertEqual(dict(db.execute("SELECT id, state FROM runs"))[first.run_id], "finished")
        db.close()

    def test_a_call_is_stored_once_with_its_checkpoint(self):
        """What replay rests on: a task restarted from a checkpoint makes its calls again, and
        the store takes each (task, seqno) once; a repeat stores nothing, not even its
        checkpoint, and the kind recorded the first time is what the coordinator compares."""
        store = Store(self.path)
        self.assertTrue(store.store("t1", 1, b"before 1", "spawn", b"call 1"))
        self.assertFalse(store.store("t1", 1, b"again", "spawn", b"call 1"))
        self.assertTrue(store.store("t2", 1, None, "enqueue", b"other task"))
        self.assertEqual(store.recorded_kind("t1", 1), "spawn")
        self.assertEqual(store.recorded_kind("t2", 1), "enqueue")
        self.assertIsNone(store.recorded_kind("t1", 2))
        store.close()
        db = sqlite3.connect(self.path)
        self.assertEqual(db.execute("SELECT checkpoint FROM checkpoints WHERE task = 't1'").fetchall(),
                         [(b"before 1",)])
        self.assertEqual(db.execute("SELECT count(*) FROM calls").fetchone()[0], 2)
        db.close()

    def test_two_coordinators_cannot_share_a_store(self):
        first = Store(self.path)
        with self.assertRaises(StoreError) as raised:
            Store(self.path)
        self.assertIn("in use by another kappac run", str(raised.exception))
        first.close()
        Store(self.path).close()  # free again

    def test_stored_blobs_are_never_unpickled(self):
        store = Store(self.path)
        trap = os.path.join(self.dir, "executed")
        store.store("0", 1, pickle.dumps(_Trap(trap)), "spawn", pickle.dumps(_Trap(trap)))
        # Tamper with both blobs behind the coordinator's back, then read as a replay does.
        db = sqlite3.connect(self.path)
        db.execute("UPDATE calls SET call = ?", (pickle.dumps(_Trap(trap)),))
        db.execute("UPDATE checkpoints SET checkpoint = ?", (pickle.dumps(_Trap(trap)),))
        db.commit()
        db.close()
        self.assertEqual(store.recorded_kind("0", 1), "spawn")
        store.close()
        self.assertFalse(os.path.exists(trap))


if __name__ == "__main__":
    unittest.main()
