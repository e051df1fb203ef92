"""The coordinator: runs a bundle's tasks on workers of a backend, keeping every call in a store.

    event ──▶ Coordinator.run ──▶ State (state.py): tasks, futures, queues, who waits for what
                  │   ▲
       invoke /   │   │  calls (+ checkpoint), done, failed
       resume     ▼   │
              Backend (backend.py): workers that speak docs/protocol.md
                  │
              Store (store.py): each call and the checkpoint before it, at most once

- Workers are reused while warm, at most `workers` of them (plus one per running
  `on_coordinator` task).
- Every invocation has a time limit; past it the worker is killed and the task resumes from its
  latest checkpoint on another worker.
- A coordinator call arrives with the checkpoint taken just before it; both are stored in one
  transaction and the call is applied at most once, by (task, sequence number).
- A blocking call that cannot be answered at once waits in place for `block_wait` seconds (or
  until another task needs the worker), then the worker is released; the task is resumed from
  its checkpoint when it can proceed.
- Chaos (chaos.py) kills workers at calls, and with `timed` in the middle of invocations.
"""

import json
import os
import pickle
import sys
import time

from kappa_coordinator.backend import LocalProcesses, TcpProcesses
from kappa_coordinator.chaos import Chaos
from kappa_coordinator.state import State
from kappa_coordinator.store import open_store
from kappa_coordinator.terminal import Terminal
from rt.protocol import DURABLE, EXIT, JOIN_FAILED, MAIN, VERSION, pipelined_reply


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


class TaskProgress:
    """What the coordinator keeps about one task beside the run state: where it can resume."""

    __slots__ = ("checkpoint", "seqno", "reply", "recorded", "where", "restarts_without_progress",
                 "chaos_kills")

    def __init__(self):
        self.checkpoint = None  # bytes: its latest checkpoint
        self.seqno = 0  # the sequence number of the call that checkpoint precedes
        self.reply = None  # the reply to that call
        self.recorded = 0  # the sequence number of its latest applied call
        self.where = None  # where it last paused (for messages)
        self.restarts_without_progress = 0
        self.chaos_kills = 0  # times chaos killed it since its latest checkpoint


class Worker:
    """A worker of the backend (`handle`), with what the coordinator does with it."""

    def __init__(self, handle, protected):
        self.handle = handle
        self.protected = protected  # runs on_coordinator tasks: no time limit, no chaos
        self.ready = False  # it said hello
        self.task = None
        self.mode = "starting"  # starting, idle, busy, waiting
        self.killed = None  # why the coordinator killed it ("time limit", "chaos"), if it did
        self.invoked_at = None
        self.chaos_delay = None  # when chaos kills this invocation (seconds after invoked_at)
        self.wait_until = None
        self.pending = None  # an invocation to send once the worker has said hello

    def send(self, message):
        return self.handle.send(message)


def _app_hash(bundle):
    """The SHA-256 of the app's handler.py, from the bundle's manifest ("" if unreadable)."""
    try:
        with open(os.path.join(bundle, "kappa-manifest.json"), "rb") as f:
            return str(json.load(f).get("source_sha256", ""))
    except (OSError, ValueError, AttributeError):
        return ""


class Coordinator:
    def __init__(self, bundle, workers=None, timeout=None, block_wait=1.0, chaos=None, store=None,
                 python=None, progress=None, max_restarts=5, listen=None):
        self.bundle = os.path.abspath(bundle)
        self.max_workers = workers or os.cpu_count() or 1
        self.timeout = timeout
        self.block_wait = block_wait
        self.chaos = Chaos(chaos)
        self.terminal = Terminal(progress if progress is not None else sys.stderr.isatty())
        self.max_restarts = max_restarts
        self.state = State()
        self.store = open_store(store, app_hash=_app_hash(self.bundle))
        try:
            if listen is None:
                self.backend = LocalProcesses(self.bundle, python or sys.executable)
            else:
                host, port = listen
                self.backend = TcpProcesses(self.bundle, python or sys.executable, host, port)
        except BaseException:
            self.store.close()
            raise
        self.workers = []
        self.progress = {}  # task id -> TaskProgress
        self.restarts = 0
        self.entry_on_coordinator = None
        self.main_json = None
        self.main_json_error = None
        self.main_traceback = None
        self.started = time.monotonic()

    def _progress(self, task_id):
        record = self.progress.get(task_id)
        if record is None:
            record = self.progress[task_id] = TaskProgress()
        return record

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
                self.terminal.show_progress(self.started, self._progress_line)
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

    def _progress_line(self):
        running = sum(1 for w in self.workers if w.task is not None)
        done = sum(1 for t in self.state.tasks.values() if t.done)
        return "tasks: %d running, %d blocked, %d done | calls %d | restarts %d" % (
            running, len(self.state.blocked), done, self.state.calls_applied, self.restarts)

    def _spawn_worker(self, protected):
        worker = Worker(self.backend.start(protected), protected)
        self.workers.append(worker)
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
        progress = self._progress(task.id)
        message = {"op": "invoke", "task": task.id, "seqno": progress.seqno}
        protected = worker.protected
        if self.timeout and not protected:
            message["timeout"] = self.timeout
        if self.chaos.every:
            # Every call with its checkpoint, so that every call is a point to die at.
            message["checkpoint_window"] = 0
        if progress.checkpoint is not None:
            message["checkpoint"] = progress.checkpoint
            message["reply"] = task.reply
            progress.reply = task.reply
        else:
            message["start"] = task.start
            message["inputs"] = self.state.input_results(task)
        worker.task = task.id
        worker.mode = "busy"
        worker.invoked_at = time.monotonic()  # restarted when a starting worker gets it
        worker.chaos_delay = None
        if not protected:
            worker.chaos_delay = self.chaos.mid_invocation_delay(task.id, message["seqno"], progress.chaos_kills)
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
        by_handle = {id(worker.handle): worker for worker in self.workers}
        events = self.backend.poll(timeout)
        handled = 0
        try:
            for event in events:
                handled += 1
                worker = by_handle.get(id(event[1]))
                if worker is None or worker not in self.workers:
                    continue
                if event[0] == "messages":
                    for message in event[2]:
                        if worker not in self.workers:
                            break
                        self._handle(worker, message)
                elif event[0] == "ended":
                    self._worker_died(worker)
                else:
                    self._relay(worker, event[2], event[3])
        finally:
            # The run fails while handling an event: what the batch read of the workers' output
            # is still shown (it is no longer in their pipes for `_stop_workers` to drain).
            for event in events[handled:]:
                worker = by_handle.get(id(event[1]))
                if event[0] == "output" and worker in self.workers:
                    self._relay(worker, event[2], event[3])

    def _relay(self, worker, kind, data, end=False):
        self.terminal.relay(worker.handle, self._label(worker), kind, data, end)
        self.terminal.flush()

    @staticmethod
    def _label(worker):
        return "task %s" % worker.task if worker.task is not None else "worker"

    def _handle(self, worker, message):
        op = message["op"]
        if op == "hello":
            if message.get("import_error"):
                raise RunFailed("the app cannot be imported: every worker would fail the same way\n%s" % (
                    message["import_error"],))
            if message.get("error") or message.get("protocol") != VERSION:
                raise RunFailed("incompatible runtime: the worker speaks protocol %r, this coordinator %d%s" % (
                    message.get("protocol"), VERSION,
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
        if call["kind"] in DURABLE and (checkpoint is None or call.get("pipelined")):
            # checkpoint() returns once its checkpoint is stored (docs/protocol.md).
            raise RunFailed("protocol error: task %s sent `%s` (call %d) %s" % (
                task, call["kind"], seqno, "without its checkpoint" if checkpoint is None else "pipelined"))
        chaos = self.chaos
        protected = worker.protected
        progress = self._progress(task)
        # A restarted task makes again the calls it made since its checkpoint (only calls that
        # went without a checkpoint can be after it): recognized by number, not applied again.
        replay = seqno <= progress.recorded and self._check_replay(task, seqno, call)
        if not replay and not protected and chaos.kills("before", task, seqno, progress.chaos_kills, 0.5):
            self._kill(worker, "chaos")  # lost before the coordinator stored it: the task redoes it
            return
        if not self._store(task, seqno, checkpoint, None if replay else call):
            raise RunFailed("task %s sent call %d twice" % (task, seqno))
        pipelined = call.get("pipelined", False)
        if checkpoint is not None:
            progress.checkpoint = checkpoint
            progress.seqno = seqno
            progress.where = message.get("where")
            progress.restarts_without_progress = 0
            progress.chaos_kills = 0
            if pipelined:
                progress.reply = pipelined_reply(call)
        if replay:
            return  # pipelined (a blocking call always comes with its checkpoint)
        progress.recorded = max(seqno, progress.recorded)
        self.state.apply(task, call)
        if pipelined:
            # The worker knew the answer and went on: the task is running, not waiting.
            self.state.keep_running(task)
        if task == MAIN and call["kind"] == EXIT:
            self.main_json = call.get("json")
            self.main_json_error = call.get("json_error")
        kill_after = chaos.every or chaos.kills("after", task, seqno, progress.chaos_kills, 0.5)
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
        self._progress(task_id).reply = task.reply
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
        worker.handle.kill()
        self._worker_died(worker)

    def _worker_died(self, worker):
        if worker not in self.workers:
            return
        self.workers.remove(worker)
        self.backend.forget(worker.handle)
        self.terminal.forget(worker.handle)
        if (worker.handle.joins_over_tcp and not worker.ready and worker.killed is None
                and worker.handle.exit_status == JOIN_FAILED):
            # Not the task's doing: the worker could not reach the coordinator, or was refused.
            raise RunFailed("a worker could not join the run:\n" + worker.handle.startup_error())
        if worker.pending is None and worker.mode == "starting" and not worker.ready:
            stderr = worker.handle.startup_error()
            if worker.handle.exit_status not in (0, -9) and not self.workers:
                raise RunFailed("a worker failed to start:\n" + (stderr or "(it printed nothing)"))
        task_id = worker.task if worker.pending is None else worker.pending["task"]
        if task_id is None or worker.mode == "waiting":
            return  # idle, or a blocked task: it resumes from its checkpoint when unblocked
        task = self.state.tasks[task_id]
        if task.done:
            return
        self.restarts += 1
        progress = self._progress(task_id)
        if worker.killed == "chaos":
            progress.chaos_kills += 1
        if task_id in self.state.runnable or task_id in self.state.blocked:
            # Killed after its call was applied: the run state already holds the answer (or
            # the block); the task resumes from the checkpoint stored with that call.
            return
        if worker.killed == "chaos":
            # Bounded by Chaos.MAX_KILLS: not a sign the task cannot make progress.
            if progress.checkpoint is not None:
                task.reply = progress.reply
            self.state.runnable.append(task_id)
            return
        progress.restarts_without_progress += 1
        count = progress.restarts_without_progress
        if count > self.max_restarts:
            since = " since its last checkpoint at %s" % progress.where if progress.where else ""
            if worker.killed is None:
                # It ended on its own: os._exit, a crash in an extension, a signal from outside.
                status = worker.handle.exit_status
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
        if progress.checkpoint is not None:
            task.reply = progress.reply
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
        raise RunFailed(self.state.deadlock_message(
            lambda t: (self.progress[t].where if t in self.progress else None) or "its start"))

    def _stop_workers(self):
        # Workers exit on `stop` (or when their stdin closes); the run does not wait for the
        # interpreters to shut down, except those still busy, which are killed.
        for worker in self.workers:
            if worker.mode in ("busy", "starting") and worker.task is not None:
                worker.handle.kill()
            else:
                worker.send({"op": "stop"})
        for worker in self.workers:
            drained = self.backend.drain(worker.handle)
            for stream in ("stdout", "stderr"):
                for kind, data in drained:
                    if kind == stream:
                        self._relay(worker, kind, data)
                self._relay(worker, stream, b"", end=True)
            self.backend.close(worker.handle)
        self.workers = []
        self.backend.shutdown()
        self.terminal.clear_progress()
