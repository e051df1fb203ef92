"""A worker process: runs tasks of one bundle for a coordinator, one invocation at a time, and
stays warm between them. Speaks docs/protocol.md: messages from the coordinator on stdin,
messages to it on the file descriptor given as the first argument (or both on a TCP connection
to the coordinator: `connect_and_serve`); the tasks' own output goes to stdout and stderr,
which the coordinator labels with the task.

    python3 -m rt.worker FD          (in the bundle directory; the coordinator starts it with
                                      kappa_coordinator.backend.WORKER_BOOTSTRAP instead)
"""

import json
import os
import signal
import sys
import time
import traceback

import rt
from rt import Unwind, lifetime, protocol, resume, soundness, wire
from rt.manifest import Manifest, unpicklable_variable

# How long after its last checkpoint a task may go on past a `wait` on a finished future, or a
# call whose answer it knows, without taking a new checkpoint: the most work a restarted task
# redoes because of it.
CHECKPOINT_WINDOW = 0.02


class WorkerExit(SystemExit):
    """The worker itself ends (told to stop, or the protocol broke): never a task's error."""


class Worker:
    def __init__(self, inbox, outbox, startup=None):
        self.inbox = inbox
        self.outbox = outbox
        self.startup = startup
        self.manifest = Manifest(os.getcwd())
        self.done = {}  # future id -> reply to a wait on it, sent along with a probe's answer

    def send(self, message):
        protocol.send(self.outbox, message)

    def serve(self):
        hello = protocol.recv(self.inbox)
        if hello is None:
            return
        if hello.get("protocol") != protocol.VERSION:
            self.send({"op": "hello", "protocol": protocol.VERSION, "error": "worker speaks protocol %d, coordinator %r" % (protocol.VERSION, hello.get("protocol"))})
            return
        shadowed = [] if self.startup is None else shadowed_by_runtime(os.getcwd(), self.startup)
        if shadowed:
            self.send({
                "op": "hello",
                "protocol": protocol.VERSION,
                "import_error": (
                    "the app's %s has the name of a standard-library module kappac's runtime "
                    "has already imported: the app's code would not be used where it imports "
                    "that name. Rename it.\n" % ", ".join(shadowed)
                ),
            })
            return
        sys.path.insert(0, os.getcwd())
        try:
            import handler  # warm: imported once per worker
        except BaseException as error:  # noqa: B036 - SystemExit at import is a failure too
            # Every worker would fail the same way: the coordinator fails the run with this.
            self.send({
                "op": "hello",
                "protocol": protocol.VERSION,
                "import_error": self.manifest.format_exception(error),
            })
            return

        entry = getattr(handler, "handler", None)
        self.send({
            "op": "hello",
            "protocol": protocol.VERSION,
            "pid": os.getpid(),
            "entry_on_coordinator": bool(getattr(entry, "on_coordinator", False)),
        })
        while True:
            message = protocol.recv(self.inbox)
            if message is None or message["op"] == "stop":
                return
            if message["op"] != "invoke":
                sys.exit("kappa worker: protocol error: expected 'invoke' or 'stop' between invocations, got %r" % (
                    message["op"],))
            self.invoke(message)

    def invoke(self, message):
        task, seqno = message["task"], message["seqno"]
        self.done = {}
        rt.policy.called()
        timeout = message.get("timeout")
        rt.policy.deadline = rt.policy.last + timeout if timeout else None
        frames = None
        outcome = None
        # The first call of every invocation takes a checkpoint (so that a task restarted again
        # and again still gets further each time); later ones may not (see CHECKPOINT_WINDOW).
        durable_at = float("-inf")
        window = message.get("checkpoint_window", CHECKPOINT_WINDOW)
        if "checkpoint" in message:
            try:
                frames = wire.loads(message["checkpoint"])
                outcome = wire.to_outcome(message["reply"])
            except Exception as error:  # noqa: BLE001 - any reason it cannot be loaded
                # Every worker would fail the same way: the run fails now, saying why, rather
                # than as a worker that "died" at every restart.
                failure = RuntimeError("task %s cannot be resumed: its checkpoint (of call %d) cannot be "
                                       "loaded in this worker: %s: %s" % (task, seqno, type(error).__name__, error))
                failure.__cause__ = error
                self.fail(task, failure, fatal=True)
                return
        while True:
            try:
                if frames is None:
                    f, args = wire.start_arguments(message["start"], message["inputs"])
                    value = f(*args)
                else:
                    value = resume(frames, outcome)
            except Unwind as unwind:
                unresumable = soundness.check(unwind)
                if unresumable is not None:
                    frame, line = unresumable
                    error = soundness.NotCompiled(soundness.describe(frame, line, self.manifest.user_line))
                    error.__traceback__ = unwind.__traceback__
                    self.fail(task, error, fatal=True)
                    return
                frames = unwind.frames
                seqno += 1
                probed = self.probe(unwind.request, task, durable_at, window)
                if probed is not None:
                    outcome = probed
                    continue
                call, known = wire.to_call(unwind.request, task, seqno)
                if call["kind"] == protocol.EXIT:
                    # The task ends here: nothing of it runs after the call, so it takes no
                    # checkpoint and gets no answer (the coordinator finishes the task and may
                    # invoke another one on this worker at once). A worker that dies before
                    # the call is stored is replaced from the task's latest checkpoint.
                    self.send({"op": "call", "task": task, "seqno": seqno, "checkpoint": None, "call": call,
                               "where": self.manifest.where(frames[0]) if frames else None})
                    return
                recent = time.monotonic() - durable_at < window
                if known is not None and recent:
                    # A pipelined call soon after a checkpoint goes without one: if the task
                    # dies, it redoes the calls since its checkpoint, which the coordinator
                    # recognizes by their sequence numbers and does not apply again.
                    self.send({"op": "call", "task": task, "seqno": seqno, "checkpoint": None, "call": call})
                    outcome = wire.to_outcome(known)
                    continue
                durable_at = time.monotonic()
                try:
                    checkpoint = wire.dumps(frames)
                except Exception as error:
                    problem = next((p for p in (unpicklable_variable(f, self.manifest) for f in frames) if p), str(error))
                    self.fail(task, RuntimeError("cannot checkpoint: " + problem))
                    return
                self.send({
                    "op": "call",
                    "task": task,
                    "seqno": seqno,
                    "checkpoint": checkpoint,
                    "call": call,
                    "where": self.manifest.paused_at(frames),
                })
                if known is not None:
                    # Pipelined: the answer is determined; go on while the coordinator stores
                    # and applies the call (it reads this worker's messages in order). Never
                    # `checkpoint` or `maybe_pause`: those return once the checkpoint is stored.
                    outcome = wire.to_outcome(known)
                    continue
                reply = self.expect(("resume", "release"), "call %d of task %s" % (seqno, task))
                if reply["op"] == "release":
                    return  # the task continues later, from its checkpoint
                outcome = wire.to_outcome(reply["reply"])
            except WorkerExit:
                raise
            except BaseException as error:  # noqa: B036 - the task's SystemExit, KeyboardInterrupt ... are its errors
                self.fail(task, error)
                return
            else:
                try:
                    result = wire.dumps(value)
                except Exception as error:
                    self.fail(task, RuntimeError("the task's result (a %s) cannot be pickled: %s" % (type(value).__name__, error)))
                    return
                done = {"op": "done", "task": task, "result": result}
                if task == protocol.MAIN:
                    done["json"], done["json_error"] = wire.result_json(value)
                self.send(done)
                return

    def probe(self, request, task, durable_at, window):
        """A `wait` may be answered without a checkpoint: waiting changes nothing, so a task
        that dies after it simply waits again. The worker asks whether the future is done; if
        it is, the task goes on with the result (the outcome is returned), else the call is
        made as usual. Only while the last checkpoint is recent (`window` seconds)."""
        if request.kind != "wait" or time.monotonic() - durable_at >= window:
            return None
        future = request.args[0].task
        known = self.done.pop(future, None)
        if known is not None:
            return wire.to_outcome(known)
        self.send({"op": "probe", "task": task, "future": future})
        reply = self.expect(("resume", "checkpoint"), "a probe of task %s" % task)
        if reply["op"] == "checkpoint":
            return None  # not done yet: make the call, with a checkpoint
        # The coordinator adds the results of the futures made next to this one, if done.
        self.done = reply.get("done", {})
        return wire.to_outcome(reply["reply"])

    def expect(self, ops, what):
        """The coordinator's answer to `what`: a message whose op is one of `ops`. The worker
        exits on `stop` or a closed stdin, and on anything else, which would mean the two sides
        disagree about the state of the task: rather than guess, it says so on stderr and exits
        (the coordinator sees the worker die)."""
        reply = protocol.recv(self.inbox)
        if reply is None or reply["op"] == "stop":
            raise WorkerExit(0)
        if reply["op"] not in ops:
            raise WorkerExit("kappa worker: protocol error: expected %s in answer to %s, got %r" % (
                " or ".join(repr(op) for op in ops), what, reply["op"]))
        return reply

    def fail(self, task, error, fatal=False):
        """Reports the task's exception. A `fatal` one fails the whole run (it is not the
        program's exception, which a waiter could handle, but a task that cannot go on)."""
        self.send({
            "op": "failed",
            "task": task,
            "error": wire.dumps_error(error),
            "traceback": self.manifest.format_exception(error),
            "fatal": fatal,
        })


def main(fd=None, startup=None):
    """`startup`: the modules the interpreter had imported before the runtime's own imports."""
    # A worker whose coordinator is gone kills itself and its tasks' subprocesses.
    lifetime.signal_when_parent_dies()
    lifetime.kill_own_group_on(signal.SIGTERM)
    outbox = os.fdopen(int(fd if fd is not None else sys.argv[1]), "wb")
    Worker(sys.stdin.buffer, outbox, startup).serve()


def connect_and_serve(address, invocation, startup=None):
    """A worker that reaches its coordinator over TCP at `address` (HOST:PORT) as invocation
    `invocation`: reads the run's secret (hex, one line) from stdin, proves it knows it, and
    serves on the connection. Refused or unreachable: says why on stderr, exits with status
    protocol.JOIN_FAILED."""
    import socket  # only here: every module the runtime imports before the app shadows one of its

    lifetime.signal_when_parent_dies()
    lifetime.kill_own_group_on(signal.SIGTERM)
    host, _, port = address.rpartition(":")
    try:
        secret = bytes.fromhex(sys.stdin.buffer.readline().decode("ascii").strip())
        sock = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
        protocol.worker_handshake(sock, secret, invocation)
        sock.settimeout(None)
    except (OSError, ValueError, UnicodeDecodeError, protocol.HandshakeError) as error:
        sys.stderr.write("kappac worker %s: cannot join the run at %s: %s\n" % (invocation, address, error))
        sys.stderr.flush()
        os._exit(protocol.JOIN_FAILED)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    Worker(sock.makefile("rb"), sock.makefile("wb"), startup).serve()


def shadowed_by_runtime(root, startup):
    """The app's top-level modules (`json.py`, `pickle/`) that the runtime imported from the
    standard library before the app: `import json` in the app would get the standard
    library's, where plain Python, starting from the app's directory, would run the app's."""
    names = []
    for entry in sorted(os.listdir(root)):
        if entry.endswith(".py"):
            name = entry[:-3]
        elif os.path.isfile(os.path.join(root, entry, "__init__.py")):
            name = entry
        else:
            continue
        if name in sys.modules and name not in startup and name not in ("rt", "kappa_coordinator"):
            names.append(entry)
    return names


if __name__ == "__main__":
    main()
