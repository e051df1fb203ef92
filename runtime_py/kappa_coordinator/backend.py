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
    handle.joins_over_tcp                   an exit with protocol.JOIN_FAILED: it could not join
    backend.close(handle)                   releases it once told to stop (or killed)
    backend.shutdown()                      releases the backend itself, once the run is over

`LocalProcesses` talks to its workers over pipes; `TcpProcesses` (`--listen`) starts them here
too, but they join the run over TCP, as a cluster's would, after a handshake proving they
know the run's secret (rt/protocol.py).
"""

import os
import selectors
import socket
import struct
import subprocess
import sys
import threading
import time

from rt import lifetime, protocol

# Starts a worker: the runtime's own modules come from the standard library (an app's
# `types.py` or `random.py` must not replace them); the bundle comes last on the path, for `rt`.
# The worker puts the bundle first only to import the app (`rt.worker.Worker.serve`).
WORKER_BOOTSTRAP = (
    "import sys; startup = frozenset(sys.modules); del sys.path[0]; sys.path.append(sys.argv[1]); "
    "from rt.worker import main; main(sys.argv[2], startup)"
)


# The same over TCP: the worker reads the run's secret from stdin and connects to the coordinator.
WORKER_BOOTSTRAP_TCP = (
    "import sys; startup = frozenset(sys.modules); del sys.path[0]; sys.path.append(sys.argv[1]); "
    "from rt.worker import connect_and_serve; connect_and_serve(sys.argv[2], sys.argv[3], startup)"
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

    def shutdown(self):
        pass


class WorkerProcess:
    """A worker process of `LocalProcesses`: `python3 -c WORKER_BOOTSTRAP` in the bundle's
    directory, messages to it on stdin, from it on a pipe of its own; stdout and stderr carry
    only its tasks' output."""

    joins_over_tcp = False  # whether an exit with protocol.JOIN_FAILED means it could not join

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
        self._read_output()
        os.set_blocking(read_fd, False)
        # A worker that is gone already (it could not start) is reported by `poll` as ended.
        self.send({"op": "hello", "protocol": protocol.VERSION})

    def _read_output(self):
        """Messages are decoded as they come; stdout and stderr are read without blocking."""
        self.decoder = protocol.Decoder()
        self.stderr_seen = bytearray()  # the start of what it printed on stderr, for startup_error
        for stream in (self.process.stdout, self.process.stderr):
            os.set_blocking(stream.fileno(), False)

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

    def shutdown(self):
        self.selector.close()

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
                    self._messages(worker, data, events)
                else:
                    events.append(("ended", worker))
                continue
            self._output(worker, kind, key.fileobj, events)
        return events

    def _output(self, worker, kind, stream, events):
        """What the worker printed on `stream` (stdout or stderr); False once it is closed."""
        try:
            data = os.read(stream.fileno(), 65536)
        except (BlockingIOError, OSError):
            return True
        if data:
            worker.seen(kind, data)
            events.append(("output", worker, kind, data))
            return True
        self.selector.unregister(stream)
        return False

    @staticmethod
    def _messages(worker, data, events):
        """The messages in `data`; a worker that sends what is not a protocol message (a frame
        naming a class, a corrupt pickle) is killed and reported ended, and that is logged."""
        try:
            events.append(("messages", worker, worker.decoder.feed(data)))
        except Exception as error:  # anything a bad pickle raises
            print("kappac: a worker sent what is not a protocol message (%s); it is stopped" % error,
                  file=sys.stderr)
            worker.kill()
            events.append(("ended", worker))

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


class Listener:
    """The coordinator's TCP endpoint: accepts connections, runs the handshake of each on a
    thread of its own (so a slow or hostile peer cannot stall the run; at most MAX_PENDING at
    a time, each given HANDSHAKE_TIMEOUT in all) and hands over the authenticated ones, with
    their invocation ids, through `take` (its `wake` descriptor becomes readable when there are
    some). Refused peers are logged, one line each, up to MAX_LOGGED lines."""

    HANDSHAKE_TIMEOUT = 10.0
    MAX_PENDING = 32
    MAX_LOGGED = 20

    def __init__(self, host, port, secret, admit, log):
        try:
            family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
            self.sock = socket.create_server((host, port), family=family)
        except (OSError, IndexError) as error:
            raise ValueError("cannot listen on %s:%d: %s" % (host, port, getattr(error, "strerror", None) or error)) from None
        self.sock.setblocking(False)
        self.address = self.sock.getsockname()[:2]
        self.secret = secret
        self.admit = admit
        self.log = log
        self.lock = threading.Lock()
        self.pending = threading.BoundedSemaphore(self.MAX_PENDING)
        self.ready = []
        self.closed = False
        self.refused = 0
        self.wake, self._wake_write = os.pipe()
        os.set_blocking(self.wake, False)

    def accept(self):
        while True:
            try:
                connection, peer = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                self._refused("cannot accept a connection: %s" % (error.strerror or error))
                return
            if not self.pending.acquire(blocking=False):
                connection.close()  # too many handshakes under way: a flood, not workers
                self._refused("too many connections at once; one from %s:%d closed" % peer[:2])
                continue
            try:
                threading.Thread(target=self._handshake, args=(connection, peer), daemon=True).start()
            except RuntimeError:
                self.pending.release()
                connection.close()

    def _refused(self, line):
        with self.lock:
            self.refused += 1
            count = self.refused
        if count <= self.MAX_LOGGED:
            self.log("kappac: " + line)
        elif count == self.MAX_LOGGED + 1:
            self.log("kappac: more connections refused; no more are logged")

    def _handshake(self, connection, peer):
        try:
            connection.setblocking(True)
            deadline = time.monotonic() + self.HANDSHAKE_TIMEOUT
            try:
                invocation = protocol.coordinator_handshake(connection, self.secret, self.admit, deadline)
                connection.settimeout(None)
                connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except (OSError, struct.error, protocol.HandshakeError) as error:
                connection.close()
                self._refused("refused a worker connection from %s:%d: %s" % (peer[0], peer[1], error))
                return
            with self.lock:
                if self.closed:
                    connection.close()
                    return
                self.ready.append((invocation, connection))
                os.write(self._wake_write, b"!")
        finally:
            self.pending.release()

    def take(self):
        try:
            while os.read(self.wake, 4096):
                pass
        except (BlockingIOError, OSError):
            pass
        with self.lock:
            ready, self.ready = self.ready, []
        return ready

    def close(self):
        with self.lock:
            self.closed = True
            ready, self.ready = self.ready, []
            for fd in (self.wake, self._wake_write):
                try:
                    os.close(fd)
                except OSError:
                    pass
        for _, connection in ready:
            connection.close()
        self.sock.close()


class TcpWorkerProcess(WorkerProcess):
    """A worker process on this machine that speaks to the coordinator over TCP, as a worker
    on another machine does: its messages travel on the connection once it has joined the run
    (what is sent before is kept until then); stdin only gives it the run's secret."""

    joins_over_tcp = True

    def __init__(self, bundle, python, address, invocation, secret):
        self.invocation = invocation
        self.connection = None
        self.pending = []
        self.process = subprocess.Popen(
            [python, "-c", WORKER_BOOTSTRAP_TCP, bundle, "%s:%d" % address, invocation],
            cwd=bundle,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
            start_new_session=True,
        )
        try:
            self.process.stdin.write(secret.hex().encode("ascii") + b"\n")
            self.process.stdin.close()
        except OSError:
            pass  # it could not start: poll reports it ended
        self.events = None
        self._read_output()
        self.send({"op": "hello", "protocol": protocol.VERSION})

    def joined(self, connection):
        self.connection = connection
        self.events = connection
        pending, self.pending = self.pending, None
        for data in pending:
            if not self._send_bytes(data):
                return False
        return True

    def _send_bytes(self, data):
        try:
            self.connection.sendall(data)
            return True
        except OSError:
            return False

    def send(self, message):
        data = protocol.encode(message)
        if self.connection is None:
            if self.pending is None:
                return False
            self.pending.append(data)
            return True
        return self._send_bytes(data)

    def read(self):
        return self.connection.recv(1 << 20)


class TcpProcesses(LocalProcesses):
    """Worker processes on this machine that join the run over TCP (`--listen`): the transport
    of a cluster backend, tried here. Each start is an *invocation* with an id of its own; a
    connection is admitted once, for an invocation started and not given up, after the
    handshake of rt/protocol.py with the run's secret (fresh for each run)."""

    def __init__(self, bundle, python, host="127.0.0.1", port=0, log=None):
        super().__init__(bundle, python)
        self.secret = os.urandom(protocol.SECRET_SIZE)
        self.lock = threading.Lock()
        self.waiting = {}  # invocation -> worker not yet joined
        self.joining = set()  # invocations admitted by a handshake, not yet taken by poll
        self.given_up = set()
        self.started = 0
        self.log = log or (lambda line: print(line, file=sys.stderr))
        self.listener = Listener(host, port, self.secret, self._admit, self.log)
        self.address = self.listener.address
        self.selector.register(self.listener.sock, selectors.EVENT_READ, (None, "listen"))
        self.selector.register(self.listener.wake, selectors.EVENT_READ, (None, "joined"))

    def _admit(self, invocation):
        with self.lock:
            if invocation in self.waiting and invocation not in self.joining:
                self.joining.add(invocation)  # admitted once: a second handshake for it is refused
                return None
            if invocation in self.given_up:
                return "invocation %s was given up by the coordinator (fenced off)" % invocation
            return "no invocation %s is expected (already joined, or never started)" % invocation

    def start(self, protected):
        with self.lock:
            self.started += 1
            invocation = "i%d" % self.started
        worker = TcpWorkerProcess(self.bundle, self.python, self.address, invocation, self.secret)
        with self.lock:
            self.waiting[invocation] = worker
        for name, stream in worker.streams():
            self.selector.register(stream, selectors.EVENT_READ, (worker, name))
        return worker

    def poll(self, timeout):
        events = []
        for key, _ in self.selector.select(timeout):
            worker, kind = key.data
            if kind == "listen":
                self.listener.accept()
            elif kind == "joined":
                for invocation, connection in self.listener.take():
                    with self.lock:
                        worker = self.waiting.pop(invocation, None)
                        self.joining.discard(invocation)
                    if worker is None:  # given up meanwhile
                        connection.close()
                        continue
                    if worker.joined(connection):
                        self.selector.register(connection, selectors.EVENT_READ, (worker, "events"))
                    else:
                        events.append(("ended", worker))
            elif kind == "events":
                try:
                    data = worker.read()
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if data:
                    self._messages(worker, data, events)
                else:
                    self.selector.unregister(worker.connection)
                    events.append(("ended", worker))
            elif not self._output(worker, kind, key.fileobj, events):
                if worker.connection is None and kind == "stderr":
                    # It ended (or gave up joining) before it joined: it never will.
                    events.append(("ended", worker))
        return events

    def _give_up(self, worker):
        with self.lock:
            self.waiting.pop(worker.invocation, None)
            self.joining.discard(worker.invocation)
            self.given_up.add(worker.invocation)
        if worker.connection is not None:
            try:
                self.selector.unregister(worker.connection)
            except (KeyError, ValueError):
                pass
            worker.connection.close()
        for stream in (worker.process.stdout, worker.process.stderr):
            try:
                self.selector.unregister(stream)
            except (KeyError, ValueError):
                pass

    def forget(self, worker):
        self._give_up(worker)
        worker.kill()
        try:
            worker.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def close(self, worker):
        self._give_up(worker)
        for stream in (worker.process.stdout, worker.process.stderr):
            try:
                stream.close()
            except OSError:
                pass

    def shutdown(self):
        self.listener.close()
        super().shutdown()
