"""The store: every coordinator call applied and the checkpoint taken before it, durable and
at most once by (run, task, sequence number). `Store` is the interface the coordinator uses;
`SqliteStore` keeps it in SQLite, in memory or in a file (`--store`). A networked store (Redis)
implements the same interface, with each `store` atomic on the server and fenced by the
invocation's epoch.

What a SQLite store file guarantees (docs/ARCHITECTURE.md, "Trust and failure model"):
- It is kappac's: a `meta` table names the format and its version. A file that is not a
  kappac store (another application's database, a corrupt file) is refused with `StoreError`,
  never modified. A new file is created with mode 0600.
- Runs never touch each other's rows: each run has an id, and rows are keyed by it.
- One coordinator at a time: an exclusive lock on the file (flock) is held while the store is
  open; a second one is refused, naming the store.
- Nothing read back from a store is executed: calls are stored with their kind as text, and the
  coordinator compares kinds, never unpickles what it reads. Checkpoints are only written here
  (a restarted task's checkpoint comes from the coordinator's memory).
"""

import fcntl
import os
import sqlite3
import time
import uuid

FORMAT = "kappac-store"
SCHEMA_VERSION = 1


class StoreError(Exception):
    """A store that cannot be used: not kappac's, another version, corrupt, or in use."""


class Store:
    """What the coordinator needs from a store. Every method may raise StoreError."""

    run_id = None  # this run's id in the store

    def store(self, task, seqno, checkpoint, kind, call):
        """Stores call `seqno` of `task` (its kind and opaque bytes) and the checkpoint taken
        just before it, atomically; either may be None. Returns False, storing nothing, if call
        `seqno` of the task is stored already: calls are applied at most once."""
        raise NotImplementedError

    def recorded_kind(self, task, seqno):
        """The kind of call `seqno` of the task in this run, or None if none is stored."""
        raise NotImplementedError

    def finish(self, state):
        """Records how the run ended ("finished" or "failed"); never raises."""
        raise NotImplementedError

    def close(self):
        raise NotImplementedError


def open_store(spec, app_hash=""):
    """The store `spec` names: None is SQLite in memory, `redis://HOST:PORT/DB` a Redis store
    (redis_store.py, imported only then), anything else a SQLite file."""
    if spec is not None and spec.startswith("rediss://"):
        raise StoreError("`%s`: TLS to Redis (rediss://) is not supported yet; use redis:// on a "
                         "trusted network, or a tunnel" % spec)
    if spec is not None and spec.startswith("redis://"):
        from kappa_coordinator.redis_store import RedisStore
        return RedisStore(spec, app_hash=app_hash)
    return SqliteStore(spec, app_hash=app_hash)


class SqliteStore(Store):
    def __init__(self, path=None, app_hash=""):
        """Opens (or creates) the store at `path` (None: in memory) and starts a new run."""
        self.path = path
        self._lock = None
        if path is None:
            self.db = sqlite3.connect(":memory:", isolation_level=None)
        else:
            self.db = self._open_file(path)
        try:
            self._prepare()
            self.run_id = uuid.uuid4().hex
            self.db.execute("INSERT INTO runs VALUES (?, ?, 'running', ?, NULL)",
                            (self.run_id, app_hash, time.time()))
        except sqlite3.DatabaseError as error:
            self.close()
            raise StoreError("`%s` cannot be used as a store: %s" % (path, error)) from None

    def _open_file(self, path):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise StoreError("cannot open the store `%s`: %s" % (path, error.strerror)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StoreError("the store `%s` is in use by another kappac run; wait for it to finish, "
                             "or use another --store" % path) from None
        self._lock = fd
        try:
            db = sqlite3.connect(path, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            return db
        except sqlite3.DatabaseError as error:
            self.close()
            raise StoreError("`%s` is not a kappac store (%s)" % (path, error)) from None

    def _prepare(self):
        tables = {row[0] for row in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            self.db.execute("BEGIN")
            self.db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
            self.db.executemany("INSERT INTO meta VALUES (?, ?)",
                                [("format", FORMAT), ("schema_version", str(SCHEMA_VERSION))])
            self.db.execute("CREATE TABLE runs (id TEXT PRIMARY KEY, app_hash TEXT, state TEXT, "
                            "started REAL, ended REAL)")
            self.db.execute("CREATE TABLE calls (run TEXT, task TEXT, seqno INTEGER, kind TEXT, call BLOB, "
                            "PRIMARY KEY (run, task, seqno))")
            self.db.execute("CREATE TABLE checkpoints (run TEXT, task TEXT, seqno INTEGER, checkpoint BLOB, "
                            "PRIMARY KEY (run, task))")
            self.db.execute("COMMIT")
            return
        meta = {}
        if "meta" in tables:
            meta = dict(self.db.execute("SELECT key, value FROM meta"))
        if meta.get("format") != FORMAT:
            raise StoreError("`%s` is not a kappac store (it holds the tables %s); kappac leaves it "
                             "untouched: choose another --store" % (self.path, ", ".join(sorted(tables))))
        if meta.get("schema_version") != str(SCHEMA_VERSION):
            raise StoreError("the store `%s` has schema version %s; this kappac reads version %d" % (
                self.path, meta.get("schema_version"), SCHEMA_VERSION))

    def store(self, task, seqno, checkpoint, kind, call):
        try:
            self.db.execute("BEGIN")
            if call is not None:
                self.db.execute("INSERT INTO calls VALUES (?, ?, ?, ?, ?)",
                                (self.run_id, task, seqno, kind, call))
            if checkpoint is not None:
                self.db.execute("INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?, ?)",
                                (self.run_id, task, seqno, checkpoint))
            self.db.execute("COMMIT")
            return True
        except sqlite3.IntegrityError:
            self.db.execute("ROLLBACK")
            return False

    def recorded_kind(self, task, seqno):
        row = self.db.execute("SELECT kind FROM calls WHERE run = ? AND task = ? AND seqno = ?",
                              (self.run_id, task, seqno)).fetchone()
        return row[0] if row else None

    def finish(self, state):
        try:
            self.db.execute("UPDATE runs SET state = ?, ended = ? WHERE id = ?", (state, time.time(), self.run_id))
        except sqlite3.DatabaseError:
            pass

    def close(self):
        try:
            self.db.close()
        except (AttributeError, sqlite3.DatabaseError):
            pass
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None
