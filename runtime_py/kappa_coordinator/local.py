"""The local coordinator: runs a bundle's tasks in worker processes on this machine.

- Workers are `python3 -m rt.worker` processes in the bundle directory, reused while warm, at
  most `workers` of them (plus one per running `on_coordinator` task).
- Every invocation has a time limit; past it the worker is killed and the task resumes from its
  latest checkpoint on another worker.
- A coordinator call arrives with the checkpoint taken just before it; both are stored in one
  SQLite (WAL) transaction and the call is applied at most once, by (task, sequence number).
- A blocking call that cannot be answered at once waits in place for `block_wait` seconds (or
  until another task needs the worker), then the worker is released; the task is resumed from
  its checkpoint when it can proceed.
- Chaos: `every` kills the worker at every coordinator call (after storing it) and resumes the
  task in a fresh process; `kill=P,seed=S` kills workers at random: at a call (before or after
  it is stored) and in time slices.
"""

import hashlib
import json
import os
import pickle
import selectors
import subprocess
import sys
import time

from kappa_coordinator import lifetime, protocol
from kappa_coordinator.state import MAIN, State, pipelined_reply
from kappa_coordinator.store import Store



class RunFailed(Exception):
    """The run failed: the first task's error, a deadlock, or a task that makes no progress."""


class _Module:
    def __init__(self, name):
        self.name = name

    def __reduce__(self):
        import importlib

        return (importlib.import_module, (self.name,))


class _Attribute:
    """Pickles as `module.name` without importing the module here."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __reduce__(self):
        return (getattr, (_Module(self.module), self.name))


class Chaos:
    """When `--chaos` kills workers.

    `every`: after every coordinator call is stored. `kill=P,seed=S`: each decision is a draw
    that depends only on the seed and on what is decided — the task, the number of its call
    or of the call it resumes from, and how many times chaos has already killed it there — so a
    seed gives the same kill schedule on any machine, however fast and however the tasks are
    scheduled. Two places to die: before a call is stored (P/2), and after it is stored and
    applied (P/2). With `,timed`, also in the middle of an invocation (P/5, at a drawn moment
    in its first `MID_INVOCATION` seconds): explicitly not reproducible, since what the task
    has done by then depends on the machine's speed. Chaos kills one task at most
    `MAX_KILLS` times before it reaches a new checkpoint: chaos alone never fails a program
    (its kills do not count toward the coordinator's restart bound)."""

    MAX_KILLS = 3
    MID_INVOCATION = 0.2
    MID_INVOCATION_SHARE = 0.2

    def __init__(self, spec):
        self.every = False
        self.probability = 0.0
        self.seed = 0
        self.timed = False
        if not spec:
            return
        if spec == "every":
            self.every = True
            return
        parts = spec.split(",")
        options = dict(part.split("=", 1) for part in parts if "=" in part)
        flags = [part for part in parts if "=" not in part]
        try:
            self.probability = float(options.pop("kill"))
            self.seed = int(options.pop("seed", "0"))
            if options or any(flag != "timed" for flag in flags):
                raise ValueError(spec)
        except (KeyError, ValueError):
            raise ValueError("--chaos takes `every` or `kill=P,seed=S[,timed]`, not %r" % spec)
        self.timed = "timed" in flags
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("--chaos kill=P needs 0 <= P <= 1")

    def draw(self, *key):
        """A number in [0, 1) that depends only on the seed and `key`."""
        digest = hashlib.sha256(repr((self.seed,) + key).encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2.0 ** 64

    def kills(self, place, task, seqno, kills_so_far, share):
        """Whether chaos kills `task` at `place` of its call `seqno`."""
        if not self.probability or kills_so_far >= self.MAX_KILLS:
            return False
        return self.draw(place, task, seqno, kills_so_far) < self.probability * share

    def mid_invocation_delay(self, task, seqno, kills_so_far):
        """When to kill an invocation of `task` resumed at call `seqno` (seconds after it
        starts), or None."""
        if not self.timed or not self.kills("during", task, seqno, kills_so_far, self.MID_INVOCATION_SHARE):
            return None
        return self.draw("when", task, seqno, kills_so_far) * self.MID_INVOCATION


# Starts a worker: the runtime's own modules come from the standard library (an app's
# `types.py` or `random.py` must not replace them); the bundle comes last on the path, for `rt`.
# The worker puts the bundle first only to import the app (`rt.worker.Worker.serve`).
WORKER_BOOTSTRAP = (
    "import sys; startup = frozenset(sys.modules); del sys.path[0]; sys.path.append(sys.argv[1]); "
    "from rt.worker import main; main(sys.argv[2], startup)"
)


# How many times a second the progress line may be redrawn.
PROGRESS_RATE = 10

# The longest piece of a task's output line kept before it is shown.
OUTPUT_CHUNK = 1 << 16


class Worker:
    def __init__(self, coordinator, protected):
        read_fd, write_fd = os.pipe()
        self.process = subprocess.Popen(
            [coordinator.python, "-c", WORKER_BOOTSTRAP, coordinator.bundle, str(write_fd)],
            cwd=coordinator.bundle,
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
        self.protected = protected
        self.ready = False
        self.task = None
        self.mode = "starting"  # starting, idle, busy, waiting
        self.killed = None  # why the coordinator killed it ("time limit", "chaos"), if it did
        self.invoked_at = None
        self.chaos_delay = None  # when chaos kills this invocation (seconds after invoked_at)
        self.wait_until = None
        self.pending = None  # an invocation to send once the worker has said hello
        self.output = {}
        for stream in (self.process.stdout, self.process.stderr):
            os.set_blocking(stream.fileno(), False)
        os.set_blocking(read_fd, False)
        protocol.send(self.process.stdin, {"op": "hello", "protocol": protocol.VERSION})

    def send(self, message):
        try:
            protocol.send(self.process.stdin, message)
            return True
        except (BrokenPipeError, OSError):
            return False

    def kill(self):
        """Kills the worker and every process its tasks started."""
        lifetime.kill_group(self.process.pid)


def _app_hash(bundle):
    """The SHA-256 of the app's handler.py, from the bundle's manifest ("" if unreadable)."""
    try:
        with open(os.path.join(bundle, "kappa-manifest.json"), "rb") as f:
            return str(json.load(f).get("source_sha256", ""))
    except (OSError, ValueError, AttributeError):
        return ""


class Coordinator:
    def __init__(self, bundle, workers=None, timeout=None, block_wait=1.0, chaos=None, store=None,
                 python=None, progress=None, max_restarts=5):
        self.bundle = os.path.abspath(bundle)
        self.max_workers = workers or os.cpu_count() or 1
        self.timeout = timeout
        self.block_wait = block_wait
        self.chaos = Chaos(chaos)
        self.python = python or sys.executable
        self.progress = progress if progress is not None else sys.stderr.isatty()
        self.progress_shown = False  # the progress line is on the terminal now
        self.progress_at = 0.0  # when it was last drawn
        self.max_restarts = max_restarts
        self.state = State()
        self.selector = selectors.DefaultSelector()
        self.workers = []
        self.checkpoints = {}  # task -> latest checkpoint bytes
        self.seqnos = {}  # task -> sequence number of the call its latest checkpoint precedes
        self.replies = {}  # task -> the reply to that call
        self.recorded = {}  # task -> sequence number of its latest applied call
        self.where = {}  # task -> where it last paused (for messages)
        self.restarts = 0
        self.restarts_without_progress = {}
        self.chaos_kills = {}  # task -> times chaos killed it since its latest checkpoint
        self.entry_on_coordinator = None
        self.main_json = None
        self.main_json_error = None
        self.main_traceback = None
        self.started = time.monotonic()
        self.store = Store(store, app_hash=_app_hash(self.bundle))

    # -- storage --------------------------------------------------------------------------

    def _store(self, task, seqno, checkpoint, call):
        """A call and the checkpoint taken just before it (either may be None: a call made
        without a checkpoint, or a call made again by a restarted task), in one transaction. A
        (task, seqno) already stored is refused: calls are applied at most once."""
        if call is None:
            return self.store.store(task, seqno, checkpoint, None, None)
        return self.store.store(task, seqno, checkpoint, call["kind"], pickle.dumps(call, protocol=4))

    def _check_replay(self, task, seqno, call):
        """Whether call `seqno` was made before (a restarted task makes again the calls it made
        after its checkpoint): then it must be the call stored under that number, and it is not
        applied again."""
        recorded = self.store.recorded_kind(task, seqno)
        if recorded is None:
            return False  # a `wait` answered without being stored (see `probe`): not made before
        if recorded != call["kind"]:
            raise RunFailed(
                "%s took another path when it was re-run from its checkpoint: its coordinator call %d "
                "was `%s` and is now `%s`. Code between coordinator calls may run again after a worker "
                "dies, and must then make the same calls (do not decide them on time, randomness or "
                "outside state; or take a checkpoint() right after such a decision)" % (
                    self.state.tasks[task].describe(), seqno, recorded, call["kind"]))
        return True

    # -- running --------------------------------------------------------------------------

    def run(self, event):
        """Runs the bundle's handler on `event`; returns the result as a line of JSON."""
        self.state.new_task(MAIN, pickle.dumps((_Attribute("handler", "handler"), (event, None)), protocol=4))
        try:
            # The run is over when the first task has finished and no other task can still
            # run; tasks blocked forever are abandoned.
            while not self.state.finished() or self._work_left():
                self._dispatch()
                self._check_deadlock()
                self._wait_for_events()
                self._handle_time()
                self._show_progress()
        except BaseException:
            self.store.finish("failed")
            self.store.close()
            raise
        finally:
            self._stop_workers()
        main = self.state.main
        self.store.finish("failed" if main.error is not None or self.main_json_error
                          or self.state.unhandled_failures() else "finished")
        self.store.close()
        if main.error is not None:
            raise RunFailed(self.main_traceback or "the handler failed")
        if self.main_json_error:
            raise RunFailed(self.main_json_error)
        unhandled = self.state.unhandled_failures()
        if unhandled:
            raise RunFailed("".join(
                "%s failed and nobody waited for its result:\n%s" % (task.describe(), task.traceback or "")
                for task in unhandled))
        return self.main_json

    def summary(self):
        return "%d tasks (%d spawned), %d objects enqueued, %d coordinator calls applied, %d restarts, %.2f s" % (
            len(self.state.tasks), self.state.tasks_spawned, self.state.objects_enqueued,
            self.state.calls_applied, self.restarts, time.monotonic() - self.started)

    def _show_progress(self):
        """The live progress line on a terminal: redrawn at most PROGRESS_RATE times a second,
        cleared before any task output (so it never sticks to it) and when the run ends."""
        if not self.progress:
            return
        if any(continuing for w in self.workers for (_, _, continuing) in w.output.values()):
            return  # a task's long line is being shown in pieces: not in the middle of it
        now = time.monotonic()
        if self.progress_shown and now - self.progress_at < 1.0 / PROGRESS_RATE:
            return
        self.progress_at = now
        self.progress_shown = True
        running = sum(1 for w in self.workers if w.task is not None)
        done = sum(1 for t in self.state.tasks.values() if t.done)
        sys.stderr.write("\r\x1b[K%.1f s | tasks: %d running, %d blocked, %d done | calls %d | restarts %d" % (
            now - self.started, running, len(self.state.blocked), done, self.state.calls_applied,
            self.restarts))
        sys.stderr.flush()

    def _clear_progress(self):
        if self.progress_shown:
            sys.stderr.write("\r\x1b[K")
            self.progress_shown = False

    def _spawn_worker(self, protected):
        worker = Worker(self, protected)
        self.workers.append(worker)
        self.selector.register(worker.events, selectors.EVENT_READ, (worker, "events"))
        self.selector.register(worker.process.stdout, selectors.EVENT_READ, (worker, "stdout"))
        self.selector.register(worker.process.stderr, selectors.EVENT_READ, (worker, "stderr"))
        return worker

    def _worker_for(self, task):
        protected = bool(task.on_coordinator) or (task.id == MAIN and bool(self.entry_on_coordinator))
        for worker in self.workers:
            if worker.mode == "idle" and worker.protected == protected:
                return worker
        if protected:
            return self._spawn_worker(True)
        if sum(1 for w in self.workers if not w.protected) < self.max_workers:
            return self._spawn_worker(False)
        return None

    def _dispatch(self):
        while self.state.runnable:
            task = self.state.tasks[self.state.runnable[0]]
            if task.id == MAIN and self.entry_on_coordinator is None:
                # Whether the handler runs on the coordinator is known once a worker said hello.
                if not any(w.ready for w in self.workers):
                    if not self.workers:
                        self._spawn_worker(False)
                    return
            worker = self._worker_for(task)
            if worker is None:
                # Waiting in place only uses spare workers: release one for this task.
                waiting = [w for w in self.workers if w.mode == "waiting" and not w.protected]
                if not waiting:
                    return
                waiting[0].send({"op": "release"})
                self._idle(waiting[0])
                continue
            self.state.runnable.popleft()
            self._invoke(worker, task)

    def _invoke(self, worker, task):
        message = {"op": "invoke", "task": task.id, "seqno": self.seqnos.get(task.id, 0)}
        protected = worker.protected
        if self.timeout and not protected:
            message["timeout"] = self.timeout
        if self.chaos.every:
            # Every call with its checkpoint, so that every call is a point to die at.
            message["checkpoint_window"] = 0
        if task.id in self.checkpoints:
            message["checkpoint"] = self.checkpoints[task.id]
            message["reply"] = task.reply
            self.replies[task.id] = task.reply
        else:
            message["start"] = task.start
            message["inputs"] = self.state.input_results(task)
        worker.task = task.id
        worker.mode = "busy"
        worker.invoked_at = time.monotonic()  # restarted when a starting worker gets it
        worker.chaos_delay = None
        if not protected:
            worker.chaos_delay = self.chaos.mid_invocation_delay(
                task.id, message["seqno"], self.chaos_kills.get(task.id, 0))
        if worker.ready:
            if not worker.send(message):
                self._worker_died(worker)
        else:
            worker.pending = message

    def _wait_for_events(self):
        timeout = 0.5
        now = time.monotonic()
        for worker in self.workers:
            if worker.mode == "busy" and self.timeout and not worker.protected:
                timeout = min(timeout, max(0.0, worker.invoked_at + self.timeout - now))
            if worker.mode == "waiting":
                timeout = min(timeout, max(0.0, worker.wait_until - now))
            if worker.mode == "busy" and worker.chaos_delay is not None:
                timeout = min(timeout, max(0.0, worker.invoked_at + worker.chaos_delay - now))
        for key, _ in self.selector.select(timeout):
            worker, kind = key.data
            if worker not in self.workers:
                continue
            if kind == "events":
                self._read_events(worker)
            else:
                self._read_output(worker, kind)

    def _drain_output(self, worker):
        """What a worker's tasks printed and the coordinator has not shown yet."""
        for kind, stream in (("stdout", worker.process.stdout), ("stderr", worker.process.stderr)):
            while True:
                try:
                    data = os.read(stream.fileno(), 65536)
                except (BlockingIOError, OSError, ValueError):
                    break
                if not data:
                    break
                self._relay(worker, kind, data)
            self._relay(worker, kind, b"", end=True)
        sys.stderr.flush()

    def _read_output(self, worker, kind):
        stream = worker.process.stdout if kind == "stdout" else worker.process.stderr
        try:
            data = os.read(stream.fileno(), 65536)
        except (BlockingIOError, OSError):
            return
        if not data:
            self.selector.unregister(stream)
            return
        self._relay(worker, kind, data)
        sys.stderr.flush()

    def _relay(self, worker, kind, data, end=False):
        """Shows a task's output on stderr, each line prefixed with the task. Linear time and
        bounded memory: a line longer than OUTPUT_CHUNK is shown in pieces as it arrives (the
        first labelled, the others continuing it), never kept whole."""
        label = "task %s" % worker.task if worker.task is not None else "worker"
        pieces, size, continuing = worker.output.get(kind) or ([], 0, False)
        lines = data.split(b"\n")
        for index, line in enumerate(lines):
            complete = index < len(lines) - 1  # a newline came after this line
            if line:
                pieces.append(line)
                size += len(line)
            if not (complete or size > OUTPUT_CHUNK or end):
                continue
            if pieces:
                text = b"".join(pieces).decode("utf-8", "replace")
                self._clear_progress()
                sys.stderr.write(text if continuing else "[%s] %s" % (label, text))
                continuing = True
            if (complete or end) and continuing:
                sys.stderr.write("\n")
                continuing = False
            pieces, size = [], 0
        worker.output[kind] = (pieces, size, continuing)

    def _read_events(self, worker):
        try:
            data = os.read(worker.events, 1 << 20)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._worker_died(worker)
            return
        for message in worker.decoder.feed(data):
            if worker not in self.workers:
                return
            self._handle(worker, message)

    def _handle(self, worker, message):
        op = message["op"]
        if op == "hello":
            if message.get("import_error"):
                raise RunFailed("the app cannot be imported: every worker would fail the same way\n%s" % (
                    message["import_error"],))
            if message.get("error") or message.get("protocol") != protocol.VERSION:
                raise RunFailed("incompatible runtime: the worker speaks protocol %r, this coordinator %d%s" % (
                    message.get("protocol"), protocol.VERSION,
                    " (%s)" % message["error"] if message.get("error") else ""))
            worker.ready = True
            if self.entry_on_coordinator is None:
                self.entry_on_coordinator = bool(message.get("entry_on_coordinator"))
            if worker.pending is not None:
                pending, worker.pending = worker.pending, None
                worker.invoked_at = time.monotonic()  # the time limit counts from here
                if not worker.send(pending):
                    self._worker_died(worker)
            elif worker.mode == "starting":
                worker.mode = "idle"
        elif op == "call":
            self._call(worker, message)
        elif op == "probe":
            reply = self.state.wait_reply(message["future"])
            if reply is None:
                sent = worker.send({"op": "checkpoint"})
            else:
                sent = worker.send({"op": "resume", "reply": reply,
                                    "done": self.state.done_siblings(message["future"])})
            if not sent:
                self._worker_died(worker)
        elif op in ("done", "failed"):
            task = message["task"]
            if op == "done":
                self.state.finish(task, result=message["result"])
                if task == MAIN:
                    self.main_json, self.main_json_error = message.get("json"), message.get("json_error")
            elif message.get("fatal"):
                raise RunFailed("%s cannot go on:\n%s" % (self.state.tasks[task].describe(), message["traceback"]))
            else:
                self.state.finish(task, error=message["error"], traceback=message["traceback"])
                if task == MAIN:
                    self.main_traceback = message["traceback"]
            self._idle(worker)

    def _call(self, worker, message):
        task, seqno = message["task"], message["seqno"]
        checkpoint, call = message["checkpoint"], message["call"]
        if call["kind"] in ("checkpoint", "maybe_pause") and (checkpoint is None or call.get("pipelined")):
            # checkpoint() returns once its checkpoint is stored (docs/protocol.md).
            raise RunFailed("protocol error: task %s sent `%s` (call %d) %s" % (
                task, call["kind"], seqno, "without its checkpoint" if checkpoint is None else "pipelined"))
        chaos = self.chaos
        protected = worker.protected
        # A restarted task makes again the calls it made since its checkpoint (only calls that
        # went without a checkpoint can be after it): recognized by number, not applied again.
        replay = seqno <= self.recorded.get(task, 0) and self._check_replay(task, seqno, call)
        kills = self.chaos_kills.get(task, 0)
        if not replay and not protected and chaos.kills("before", task, seqno, kills, 0.5):
            self._kill(worker, "chaos")  # lost before the coordinator stored it: the task redoes it
            return
        if not self._store(task, seqno, checkpoint, None if replay else call):
            raise RunFailed("task %s sent call %d twice" % (task, seqno))
        pipelined = call.get("pipelined", False)
        if checkpoint is not None:
            self.checkpoints[task] = checkpoint
            self.seqnos[task] = seqno
            self.where[task] = message.get("where")
            self.restarts_without_progress[task] = 0
            self.chaos_kills[task] = 0
            if pipelined:
                self.replies[task] = pipelined_reply(call)
        if replay:
            return  # pipelined (a blocking call always comes with its checkpoint)
        self.recorded[task] = max(seqno, self.recorded.get(task, 0))
        self.state.apply(task, call)
        if pipelined:
            # The worker knew the answer and went on: the task is running, not waiting.
            self.state.keep_running(task)
        if task == MAIN and call["kind"] == "exit":
            self.main_json = call.get("json")
            self.main_json_error = call.get("json_error")
        kill_after = chaos.every or chaos.kills("after", task, seqno, self.chaos_kills.get(task, 0), 0.5)
        if kill_after and not protected:
            self._kill(worker, "chaos")  # stored and applied: the task resumes with the recorded reply
            return
        if self.state.tasks[task].done:
            self._idle(worker)
        elif pipelined:
            pass
        elif task in self.state.runnable:
            self._resume_in_place(worker, task)
        else:
            worker.mode = "waiting"
            worker.wait_until = time.monotonic() + self.block_wait

    def _resume_in_place(self, worker, task_id):
        self.state.keep_running(task_id)
        task = self.state.tasks[task_id]
        self.replies[task_id] = task.reply
        worker.mode = "busy"
        if not worker.send({"op": "resume", "reply": task.reply}):
            self._worker_died(worker)

    def _idle(self, worker):
        worker.task = None
        worker.mode = "idle"
        worker.invoked_at = None
        worker.chaos_delay = None

    def _kill(self, worker, reason):
        worker.killed = reason
        worker.kill()
        self._worker_died(worker)

    def _worker_died(self, worker):
        if worker not in self.workers:
            return
        self.workers.remove(worker)
        for fileobj in (worker.events, worker.process.stdout, worker.process.stderr):
            try:
                self.selector.unregister(fileobj)
            except (KeyError, ValueError):
                pass
        worker.kill()
        try:
            worker.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.close(worker.events)
        except OSError:
            pass
        if worker.pending is None and worker.mode == "starting" and not worker.ready:
            stderr = b""
            try:
                stderr = worker.process.stderr.read() or b""
            except (OSError, ValueError):
                pass
            if worker.process.returncode not in (0, -9) and not self.workers:
                raise RunFailed("a worker failed to start:\n" + stderr.decode("utf-8", "replace"))
        task_id = worker.task if worker.pending is None else worker.pending["task"]
        if task_id is None or worker.mode == "waiting":
            return  # idle, or a blocked task: it resumes from its checkpoint when unblocked
        task = self.state.tasks[task_id]
        if task.done:
            return
        self.restarts += 1
        if worker.killed == "chaos":
            self.chaos_kills[task_id] = self.chaos_kills.get(task_id, 0) + 1
        if task_id in self.state.runnable or task_id in self.state.blocked:
            # Killed after its call was applied: the run state already holds the answer (or
            # the block); the task resumes from the checkpoint stored with that call.
            return
        if worker.killed == "chaos":
            # Bounded by Chaos.MAX_KILLS: not a sign the task cannot make progress.
            if task_id in self.checkpoints:
                task.reply = self.replies[task_id]
            self.state.runnable.append(task_id)
            return
        count = self.restarts_without_progress.get(task_id, 0) + 1
        self.restarts_without_progress[task_id] = count
        if count > self.max_restarts:
            where = self.where.get(task_id)
            since = " since its last checkpoint at %s" % where if where else ""
            if worker.killed is None:
                # It ended on its own: os._exit, a crash in an extension, a signal from outside.
                status = worker.process.returncode
                how = ("exited with status %d" % status if status is not None and status >= 0
                       else "was killed by signal %d" % -status if status is not None else "died")
                message = ("%s failed: its worker %s %d times in a row%s. A task's code must not end its "
                           "process (os._exit, a crash in a C extension); raise an exception instead\n" % (
                               task.describe(), how, count, since))
            else:
                message = ("%s was restarted %d times without reaching a new checkpoint%s; it needs a "
                           "coordinator call (e.g. checkpoint()) more often than the %s allows\n" % (
                               task.describe(), count - 1, since,
                               "time limit" if worker.killed == "time limit" else "chaos kill rate"))
            self.state.finish(task_id, error=pickle.dumps(RuntimeError("restarted too often")), traceback=message)
            if task_id == MAIN:
                self.main_traceback = self.state.main.traceback
            return
        if task_id in self.checkpoints:
            task.reply = self.replies[task_id]
        self.state.runnable.append(task_id)

    def _handle_time(self):
        now = time.monotonic()
        for worker in list(self.workers):
            if worker.mode == "busy" and self.timeout and not worker.protected and worker.invoked_at is not None:
                if now - worker.invoked_at > self.timeout:
                    self._kill(worker, "time limit")
                    continue
            if worker.mode == "waiting":
                if worker.task in self.state.runnable:
                    self._resume_in_place(worker, worker.task)
                elif self.state.tasks[worker.task].done:
                    self._idle(worker)
                elif now >= worker.wait_until:
                    worker.send({"op": "release"})
                    self._idle(worker)
            if (worker.mode == "busy" and worker.chaos_delay is not None
                    and now >= worker.invoked_at + worker.chaos_delay):
                self._kill(worker, "chaos")

    def _work_left(self):
        if self.state.runnable:
            return True
        return any(w.task is not None and w.mode in ("busy", "starting") for w in self.workers) or any(
            w.pending is not None for w in self.workers)

    def _check_deadlock(self):
        if self.state.finished() or self.state.runnable:
            return
        if any(w.mode in ("busy", "starting") and w.task is not None for w in self.workers):
            return
        if any(w.pending is not None for w in self.workers):
            return
        if any(w.mode == "waiting" and time.monotonic() < w.wait_until for w in self.workers):
            return
        raise RunFailed(self.state.deadlock_message(lambda t: self.where.get(t) or "its start"))

    def _stop_workers(self):
        # Workers exit on `stop` (or when their stdin closes); the run does not wait for the
        # interpreters to shut down, except those still busy, which are killed.
        for worker in self.workers:
            if worker.mode in ("busy", "starting") and worker.task is not None:
                worker.kill()
            else:
                worker.send({"op": "stop"})
        for worker in self.workers:
            self._drain_output(worker)
            for stream in (worker.process.stdin, worker.process.stdout, worker.process.stderr):
                try:
                    stream.close()
                except OSError:
                    pass
            try:
                os.close(worker.events)
            except OSError:
                pass
        self.workers = []
        self._clear_progress()
