"""The worker (runtime_py/rt/worker.py) driven message by message, as a coordinator would, with a
hand-written continuation-passing handler: what it sends, and what it does before it gets an
answer. Deterministic, unlike kills at random (standard library only).

    python3 tests/py/test_worker_protocol.py [-v]

KAPPA_RUNTIME=DIR tests the runtime in DIR (holding rt/ and kappa_coordinator/) instead of
this repository's runtime_py.
"""

import math
import os
import pickle
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import unittest

RUNTIME = os.environ.get("KAPPA_RUNTIME") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "runtime_py")
sys.path.insert(0, RUNTIME)

from rt import protocol  # noqa: E402

# Compiled code in miniature: a coordinator call raises Unwind; each function it passes through
# pushes its continuation and live variables.
HANDLER = '''
import math
import sys

import rt


def record(path, text):
    with open(path, "a") as f:
        f.write(text)


def checkpoint_then_write(path, kind):
    record(path, "before\\n")
    try:
        if kind == "maybe_pause":
            rt.policy.interval = 0  # due at once
            rt.maybe_pause()
        else:
            rt.checkpoint()
    except rt.Unwind as unwind:
        unwind.push(after_checkpoint, {"path": path})
        raise
    return after_checkpoint(rt.Outcome(), {"path": path})


def after_checkpoint(outcome, variables):
    outcome.get()
    record(variables["path"], "after\\n")
    return "done"


def exit_with(value):
    rt.exit(value)
    raise AssertionError("rt.exit returned")


def exit_deep(n):
    if n == 0:
        rt.exit("deep")
    return exit_deep(n - 1)


def double(x):
    return 2 * x


def factorial(n):
    return math.factorial(n)


def int_limit():
    return sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else None
'''


class _Module:
    def __reduce__(self):
        import importlib

        return (importlib.import_module, ("handler",))


class _Function:
    """Pickles as `handler.<name>` without importing handler here."""

    def __init__(self, name):
        self.name = name

    def __reduce__(self):
        return (getattr, (_Module(), self.name))


def start(name, *args):
    return pickle.dumps((_Function(name), args), protocol=4)


class Worker:
    def __init__(self, bundle):
        read_fd, write_fd = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rt.worker", str(write_fd)],
            cwd=bundle, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            pass_fds=(write_fd,), env=dict(os.environ, PYTHONPATH=bundle))
        os.close(write_fd)
        self.events = read_fd
        self.buffer = b""
        self.send({"op": "hello", "protocol": protocol.VERSION})
        hello = self.recv()
        assert hello is not None and hello["op"] == "hello" and "error" not in hello, hello

    def send(self, message):
        body = pickle.dumps(message, protocol=4)
        self.process.stdin.write(struct.pack(">I", len(body)) + body)
        self.process.stdin.flush()

    def recv(self, timeout=10.0):
        """The next message, or None if none comes within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buffer) >= 4:
                (length,) = struct.unpack(">I", self.buffer[:4])
                if len(self.buffer) >= 4 + length:
                    body, self.buffer = self.buffer[4:4 + length], self.buffer[4 + length:]
                    return pickle.loads(body)
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.events], [], [], left)[0]:
                return None
            data = os.read(self.events, 1 << 20)
            if not data:
                return None
            self.buffer += data

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stderr):
            stream.close()
        os.close(self.events)


class WorkerProtocol(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.bundle = tempfile.mkdtemp(prefix="kappa-worker-test-")
        for package in ("rt", "kappa_coordinator"):
            shutil.copytree(os.path.join(RUNTIME, package), os.path.join(cls.bundle, package))
        with open(os.path.join(cls.bundle, "handler.py"), "w") as f:
            f.write(HANDLER)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.bundle)

    def setUp(self):
        self.worker = Worker(self.bundle)
        self.addCleanup(self.worker.close)
        self.log = os.path.join(self.bundle, "log-%s.txt" % self._testMethodName)
        self.addCleanup(lambda: os.path.exists(self.log) and os.remove(self.log))

    def invoke(self, task, name, *args):
        self.worker.send({"op": "invoke", "task": task, "seqno": 0, "start": start(name, *args), "inputs": {}})

    def expect(self, op, task, kind=None):
        message = self.worker.recv()
        self.assertIsNotNone(message, "no %s message from the worker within 10 s" % op)
        self.assertEqual((message["op"], message["task"]), (op, task), message)
        if kind is not None:
            self.assertEqual(message["call"]["kind"], kind, message)
        return message

    def logged(self):
        with open(self.log) as f:
            return f.read().split()

    def checkpoint_waits_until_stored(self, kind):
        self.invoke("0.1", "checkpoint_then_write", self.log, kind)
        call = self.expect("call", "0.1", kind)
        # Not answered yet: the code after the checkpoint must not run.
        self.assertIsNone(self.worker.recv(timeout=0.5), "the worker went on before the checkpoint was stored")
        self.assertEqual(self.logged(), ["before"])
        self.assertIsInstance(call["checkpoint"], bytes, "a %s call must carry its checkpoint" % kind)
        self.assertFalse(call["call"].get("pipelined"), "a %s call must wait for its answer" % kind)
        return call

    def test_checkpoint_returns_once_the_coordinator_has_stored_it(self):
        self.checkpoint_waits_until_stored("checkpoint")
        self.worker.send({"op": "resume", "reply": {"value": None}})
        self.assertEqual(pickle.loads(self.expect("done", "0.1")["result"]), "done")
        self.assertEqual(self.logged(), ["before", "after"])

    def test_maybe_pause_that_pauses_waits_too(self):
        self.checkpoint_waits_until_stored("maybe_pause")
        self.worker.send({"op": "resume", "reply": {"value": None}})
        self.assertEqual(pickle.loads(self.expect("done", "0.1")["result"]), "done")
        self.assertEqual(self.logged(), ["before", "after"])

    def test_a_released_checkpoint_resumes_after_it(self):
        call = self.checkpoint_waits_until_stored("checkpoint")
        self.worker.send({"op": "release"})
        self.worker.send({"op": "invoke", "task": "0.1", "seqno": call["seqno"],
                          "checkpoint": call["checkpoint"], "reply": {"value": None}})
        self.assertEqual(pickle.loads(self.expect("done", "0.1")["result"]), "done")
        self.assertEqual(self.logged(), ["before", "after"])

    def test_exit_ends_the_task_and_frees_the_worker_at_once(self):
        # No answer to an exit: the next invocation runs at once.
        calls = []
        for task, name, arg, value in (("0.1", "exit_with", 7, 7), ("0.2", "exit_deep", 30, "deep")):
            self.invoke(task, name, arg)
            calls.append(self.expect("call", task, "exit"))
            self.assertEqual(pickle.loads(calls[-1]["call"]["value"]), value)
        self.invoke("0.3", "double", 21)
        self.assertEqual(pickle.loads(self.expect("done", "0.3")["result"]), 42)
        for call in calls:
            self.assertIsNone(call["checkpoint"], "an exit needs no checkpoint")

    def test_integers_of_any_size_in_the_first_tasks_json(self):
        if hasattr(sys, "set_int_max_str_digits"):
            sys.set_int_max_str_digits(0)
        self.invoke("0.1", "int_limit")
        limit = pickle.loads(self.expect("done", "0.1")["result"])
        n = 2000
        expected = str(math.factorial(n))
        self.assertGreater(len(expected), 4300)
        self.invoke("0", "factorial", n)
        done = self.expect("done", "0")
        self.assertIsNone(done.get("json_error"))
        self.assertEqual(done["json"], expected)
        self.invoke("0", "exit_with", math.factorial(n) * 3)
        call = self.expect("call", "0", "exit")
        self.assertIsNone(call["call"].get("json_error"))
        self.assertEqual(call["call"]["json"], str(math.factorial(n) * 3))
        # The app's own code keeps Python's limit.
        self.invoke("0.2", "int_limit")
        self.assertEqual(pickle.loads(self.expect("done", "0.2")["result"]), limit)

    def test_a_checkpoint_that_cannot_be_loaded_fails_the_run_saying_so(self):
        # Not a worker that dies at every restart ("restarted 5 times"): one fatal failure.
        self.worker.send({"op": "invoke", "task": "0.1", "seqno": 3,
                          "checkpoint": b"not a checkpoint", "reply": {"value": None}})
        failed = self.expect("failed", "0.1")
        self.assertTrue(failed["fatal"], failed)
        self.assertIn("task 0.1 cannot be resumed: its checkpoint (of call 3) cannot be loaded", failed["traceback"])
        # The worker lives on for other tasks.
        self.invoke("0.2", "double", 21)
        self.assertEqual(pickle.loads(self.expect("done", "0.2")["result"]), 42)

    def test_an_unexpected_message_stops_the_worker_loudly(self):
        self.invoke("0.1", "checkpoint_then_write", self.log, "checkpoint")
        self.expect("call", "0.1", "checkpoint")
        self.invoke("0.2", "double", 1)  # while it waits for the answer to its checkpoint
        self.assertNotEqual(self.worker.process.wait(timeout=10), 0)
        stderr = self.worker.process.stderr.read().decode()
        self.assertIn("protocol error: expected 'resume' or 'release' in answer to call 1 of task 0.1, got 'invoke'", stderr)
        self.assertEqual(self.logged(), ["before"])


if __name__ == "__main__":
    unittest.main()
