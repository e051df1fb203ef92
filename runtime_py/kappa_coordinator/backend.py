"""Where invocations run: the `Backend` interface of the coordinator, and `LocalProcesses`, the
backend of worker processes on this machine.

A backend starts *workers*: processes that speak docs/protocol.md with the coordinator, each
running one invocation at a time and staying warm between them. The coordinator decides
everything else (which task runs where, time limits, retries, chaos); a backend only starts
workers, carries messages both ways, reports what they printed and that they ended, and kills
them. A cluster backend (Dask) plugs in here: its workers are child interpreters on the
cluster's machines that reach the coordinator over the network, and `poll` reports the same
events.

    backend.start(protected) -> handle      a new worker (it will say hello)
    handle.send(message) -> bool            False: the worker is gone
    backend.poll(timeout) -> [event]        what happened, waiting at most `timeout` seconds:
        ("messages", handle, [message])       messages from the worker, in order
        ("ended", handle)                     the worker ended (or its channel broke)
        ("output", handle, stream, bytes)     what its tasks printed (stream: stdout, stderr)
    backend.forget(handle)                  kills it if need be and releases it; after "ended"
                                            or when the coordinator gives up on the worker
    backend.drain(handle) -> [(stream, bytes)]   what it printed and poll has not reported
    handle.kill()                           kills the worker and every process it started
    handle.exit_status                      the exit status once it ended (negative: signal)
    handle.startup_error() -> str           what it printed on stderr, if it failed to start
    backend.close(handle)                   releases it once told to stop (or killed)
"""

import os
import selectors
import subprocess

from rt import lifetime, protocol

# Starts a worker: the runtime's own modules come from the standard library (an app's
# `types.py` or `random.py` must not replace them); the bundle comes last on the path, for `rt`.
# The worker puts the bundle first only to import the app (`rt.worker.Worker.serve`).
WORKER_BOOTSTRAP = (
    "import sys; startup = frozenset(sys.modules); del sys.path[0]; sys.path.append(sys.argv[1]); "
    "from rt.worker import main; main(sys.argv[2], startup)"
)


class Backend:
    """The interface (see the module's docstring)."""

    def start(self, protected):
        raise NotImplementedError

    def poll(self, timeout):
        raise NotImplementedError

    def forget(self, handle):
        raise NotImplementedError

    def drain(self, handle):
        raise NotImplementedError

    def close(self, handle):
        raise NotImplementedError


class WorkerProcess:
    """A worker process of `LocalProcesses`: `python3 -c WORKER_BOOTSTRAP` in the bundle's
    directory, messages to it on stdin, from it on a pipe of its own; stdout and stderr carry
    only its tasks' output."""

    def __init__(self, bundle, python):
        read_fd, write_fd = os.pipe()
        self.process = subprocess.Popen(
            [python, "-c", WORKER_BOOTSTRAP, bundle, str(write_fd)],
            cwd=bundle,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(write_fd,),
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
            # A group of its own, with its tasks' subprocesses: killed together (lifetime.py).
            start_new_session=True,
        )
        os.close(write_fd)
        self.events = read_fd
        self.decoder = protocol.Decoder()
        self.stderr_seen = bytearray()  # the start of what it printed on stderr, for startup_error
        for stream in (self.process.stdout, self.process.stderr):
            os.set_blocking(stream.fileno(), False)
        os.set_blocking(read_fd, False)
        # A worker that is gone already (it could not start) is reported by `poll` as ended.
        self.send({"op": "hello", "protocol": protocol.VERSION})

    def send(self, message):
        try:
            protocol.send(self.process.stdin, message)
            return True
        except (BrokenPipeError, OSError):
            return False

    def kill(self):
        """Kills the worker and every process its tasks started."""
        lifetime.kill_group(self.process.pid)

    @property
    def exit_status(self):
        return self.process.returncode

    # How much of a worker's stderr `startup_error` keeps.
    STDERR_KEPT = 1 << 16

    def seen(self, kind, data):
        """Notes output `poll` read, so that `startup_error` has it even if it was shown."""
        if kind == "stderr" and len(self.stderr_seen) < self.STDERR_KEPT:
            self.stderr_seen += data[:self.STDERR_KEPT - len(self.stderr_seen)]

    def startup_error(self):
        """What the worker printed on stderr: what poll read of it, and what is left."""
        try:
            rest = self.process.stderr.read() or b""
        except (OSError, ValueError):
            rest = b""
        return (bytes(self.stderr_seen) + rest).decode("utf-8", "replace")

    def streams(self):
        return (("stdout", self.process.stdout), ("stderr", self.process.stderr))


class LocalProcesses(Backend):
    """Worker processes on this machine, watched with one selector."""

    def __init__(self, bundle, python):
        self.bundle = bundle
        self.python = python
        self.selector = selectors.DefaultSelector()

    def start(self, protected):
        worker = WorkerProcess(self.bundle, self.python)
        self.selector.register(worker.events, selectors.EVENT_READ, (worker, "events"))
        for name, stream in worker.streams():
            self.selector.register(stream, selectors.EVENT_READ, (worker, name))
        return worker

    def poll(self, timeout):
        events = []
        for key, _ in self.selector.select(timeout):
            worker, kind = key.data
            if kind == "events":
                try:
                    data = os.read(worker.events, 1 << 20)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if data:
                    events.append(("messages", worker, worker.decoder.feed(data)))
                else:
                    events.append(("ended", worker))
                continue
            stream = key.fileobj
            try:
                data = os.read(stream.fileno(), 65536)
            except (BlockingIOError, OSError):
                continue
            if data:
                worker.seen(kind, data)
                events.append(("output", worker, kind, data))
            else:
                self.selector.unregister(stream)
        return events

    def _unregister(self, worker):
        for fileobj in (worker.events, worker.process.stdout, worker.process.stderr):
            try:
                self.selector.unregister(fileobj)
            except (KeyError, ValueError):
                pass

    def forget(self, worker):
        self._unregister(worker)
        worker.kill()
        try:
            worker.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.close(worker.events)
        except OSError:
            pass

    def drain(self, worker):
        """What the worker printed that poll has not read: stdout's, then stderr's."""
        output = []
        for kind, stream in worker.streams():
            while True:
                try:
                    data = os.read(stream.fileno(), 65536)
                except (BlockingIOError, OSError, ValueError):
                    break
                if not data:
                    break
                output.append((kind, data))
        return output

    def close(self, worker):
        self._unregister(worker)
        for stream in (worker.process.stdin, worker.process.stdout, worker.process.stderr):
            try:
                stream.close()
            except OSError:
                pass
        try:
            os.close(worker.events)
        except OSError:
            pass
