"""The store in Redis (`--store redis://HOST:PORT/DB`): the same `Store` as SQLite's, for a
coordinator whose store must outlive its machine. Needs the `redis` package (redis-py) in the
coordinator's interpreter; the task side never imports it.

What it guarantees (docs/ARCHITECTURE.md, "Trust and failure model"):
- Each `store` is one Lua script, atomic on the server: the call is recorded under
  (run, task, seqno) only if that number is new, and the checkpoint with it; a repeat writes
  nothing.
- Fencing: opening a run takes the next *epoch* of that run (INCR); every write carries the
  epoch it was opened with and is refused if a later coordinator has opened the run since. A
  coordinator that was presumed dead and comes back cannot apply anything: its next write
  raises `StoreError`.
- Durability as the server is configured: Redis acknowledges a write before it reaches the
  disk unless `appendonly yes` and `appendfsync always`. A server without the append-only file
  is refused (a restart would forget which calls were applied, and apply them again); with
  `appendfsync everysec` up to a second of writes can be lost with the machine, which is said
  loudly, once, on stderr. A server where CONFIG is disabled cannot be checked: said too.
- Nothing outside the keys `kappac:run:{<id>}:*` and `kappac:runs` is read or written, so the
  database can be shared with other applications; nothing read back is unpickled.
- An unreachable server is a `StoreError` within a few seconds (connect timeout 3 s).
"""

import sys
import time
import urllib.parse
import uuid

from kappa_coordinator.store import Store, StoreError

# The redis-py version the tests pin (scripts/test.sh); others with the same API work.
REDIS_PY = "redis==5.2.1"

CONNECT_TIMEOUT = 3.0
COMMAND_TIMEOUT = 30.0  # tens of MB of checkpoint on a slow link

# KEYS: epoch, calls, checkpoints. ARGV: epoch, field (task:seqno or ""), kind, call, task,
# checkpoint ("" for none), seqno. Returns -1 when fenced, 0 when the call is a repeat, 1.
_STORE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if ARGV[2] ~= '' then
    if redis.call('HSETNX', KEYS[2], ARGV[2], ARGV[3]) == 0 then return 0 end
    redis.call('HSET', KEYS[2], ARGV[2] .. ':call', ARGV[4])
end
if ARGV[6] ~= '' then
    redis.call('HSET', KEYS[3], ARGV[5], ARGV[6], ARGV[5] .. ':seqno', ARGV[7])
end
return 1
"""

# KEYS: epoch, run. ARGV: epoch, state, ended. Returns -1 when fenced.
_FINISH = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call('HSET', KEYS[2], 'state', ARGV[2], 'ended', ARGV[3])
return 1
"""


def parse_url(url):
    """`redis://HOST[:PORT][/DB]` as (host, port, db); a ValueError names what is wrong."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "redis":
        raise ValueError("a Redis store is redis://HOST[:PORT][/DB], not `%s`" % url)
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError("`%s`: credentials and options in the URL are not supported" % url)
    host = parts.hostname
    if not host:
        raise ValueError("`%s` names no host (redis://HOST[:PORT][/DB])" % url)
    try:
        port = parts.port or 6379
    except ValueError:
        raise ValueError("`%s`: the port is not a number from 1 to 65535" % url) from None
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise ValueError("`%s`: the database is a number (redis://HOST:PORT/0)" % url)
    return host, port, int(path or 0)


class RedisStore(Store):
    def __init__(self, url, app_hash="", run_id=None, warn=None):
        """Connects to the Redis server at `url` and starts a new run (or opens `run_id`,
        fencing off whoever had it)."""
        try:
            host, port, db = parse_url(url)
        except ValueError as error:
            raise StoreError(str(error)) from None
        self.url = url
        self._warn = warn or (lambda message: print("kappac: warning: " + message, file=sys.stderr))
        try:
            import redis
        except ImportError:
            raise StoreError("the Redis store needs the redis package in the coordinator's Python "
                             "(%s): pip install %s" % (sys.executable, REDIS_PY)) from None
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self._errors = (redis.RedisError, OSError)
        # Never retried by the client: a script that ran but whose reply was lost would, run
        # again, find its call stored and be taken for a repeat. A failure is the run's error.
        self.client = redis.Redis(host=host, port=port, db=db, socket_connect_timeout=CONNECT_TIMEOUT,
                                  socket_timeout=COMMAND_TIMEOUT, retry=Retry(NoBackoff(), 0),
                                  retry_on_timeout=False)
        try:
            self.client.ping()
            self._check_durability()
            self.run_id = run_id or uuid.uuid4().hex
            # One hash tag per run: a script's keys are in one slot of a Redis Cluster too.
            self._keys = "kappac:run:{%s}:" % self.run_id
            if run_id is None:
                self.client.hset(self._keys + "run", mapping={
                    "app_hash": app_hash, "state": "running", "started": repr(time.time())})
                self.client.zadd("kappac:runs", {self.run_id: time.time()})
            elif not self.client.exists(self._keys + "run"):
                raise StoreError("no run `%s` in the store %s" % (run_id, url))
            self.epoch = str(self.client.incr(self._keys + "epoch"))
            self._store = self.client.register_script(_STORE)
            self._finish = self.client.register_script(_FINISH)
        except self._errors as error:
            self.client.close()
            raise StoreError("cannot use the Redis store %s: %s" % (url, error)) from None
        except StoreError:
            self.client.close()
            raise

    def _check_durability(self):
        import redis
        try:
            config = self.client.config_get("append*")
        except redis.ResponseError:
            self._warn("the Redis store %s does not let kappac read its configuration (CONFIG is "
                       "disabled): make sure it runs with appendonly yes and appendfsync always, or "
                       "a server restart can make a run apply calls twice" % self.url)
            return
        if config.get("appendonly") != "yes":
            raise StoreError("the Redis server at %s keeps no append-only file (appendonly no): "
                             "after a restart it would forget which calls were applied. Start it "
                             "with `--appendonly yes --appendfsync always`, or run "
                             "`redis-cli CONFIG SET appendonly yes`" % self.url)
        if config.get("appendfsync") != "always":
            self._warn("the Redis server at %s syncs its append-only file %s, not always: if its "
                       "machine fails, the last writes can be lost and a run could apply a call "
                       "twice. For the full guarantee: CONFIG SET appendfsync always" % (
                           self.url, config.get("appendfsync")))

    def _fenced(self):
        return StoreError("another coordinator has opened run %s in %s since this one did: this "
                          "coordinator stops (its writes are refused)" % (self.run_id, self.url))

    def store(self, task, seqno, checkpoint, kind, call):
        keys = [self._keys + "epoch", self._keys + "calls", self._keys + "checkpoints"]
        args = [self.epoch, "" if call is None else "%s:%d" % (task, seqno), kind or "",
                call or b"", task, checkpoint or b"", seqno]
        try:
            outcome = self._store(keys=keys, args=args)
        except self._errors as error:
            raise StoreError("the Redis store %s failed: %s" % (self.url, error)) from None
        if outcome == -1:
            raise self._fenced()
        return outcome == 1

    def recorded_kind(self, task, seqno):
        try:
            kind = self.client.hget(self._keys + "calls", "%s:%d" % (task, seqno))
        except self._errors as error:
            raise StoreError("the Redis store %s failed: %s" % (self.url, error)) from None
        return None if kind is None else kind.decode("utf-8")

    def finish(self, state):
        try:
            self._finish(keys=[self._keys + "epoch", self._keys + "run"],
                         args=[self.epoch, state, repr(time.time())])
        except self._errors:
            pass  # the run's outcome is on the terminal; the store keeps "running"

    def close(self):
        self.client.close()
