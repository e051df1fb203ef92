"""An in-process coordinator: a cooperative scheduler that runs every task of a run as a chain
of continuations in this interpreter. Its whole state pickles, so a run can be stopped after
any coordinator call and continued in a fresh interpreter. Used when `rt` is imported outside
a coordinator, and by the tests."""

import collections

from rt import Frame, Future, Outcome, Queue, Unwind, resume


class TaskFailed(Exception):
    """The first task failed; the original exception is the cause."""


class CheckpointError(Exception):
    """A live value cannot be saved."""


class Deadlock(Exception):
    """No task can run, but the run is not finished."""


class Task:
    __slots__ = ("id", "start", "frames", "outcome", "waiting", "done", "result", "error", "name")

    def __init__(self, id, start, name=None):
        self.id = id
        self.start = start  # (f, args) before the task first runs
        self.frames = None  # the chain once it has paused
        self.outcome = None  # what its pending coordinator call returned
        self.waiting = None  # why it cannot run: a description
        self.done = False
        self.result = None
        self.error = None
        self.name = name

    def __getstate__(self):
        return {slot: getattr(self, slot) for slot in self.__slots__}

    def __setstate__(self, state):
        for slot, value in state.items():
            setattr(self, slot, value)


class Scheduler:
    """Runs tasks one at a time, each until its next coordinator call."""

    def __init__(self):
        self.tasks = {}
        self.runnable = collections.deque()
        self.blocked = {}  # task id -> (kind, details)
        self.queues = {}
        self.queue_limits = {}
        self.next_task = 0
        self.next_queue = 0
        self.calls_applied = collections.Counter()
        self.tasks_spawned = 0
        self.objects_enqueued = 0

    # -- running --------------------------------------------------------------------------

    def start(self, f, args):
        self._new_task(f, tuple(args))

    def run(self, f, args):
        self.start(f, args)
        while not self.step():
            pass
        return self.result()

    def finished(self):
        return self.tasks[0].done

    def result(self):
        main = self.tasks[0]
        if main.error is not None:
            raise main.error
        return main.result

    def step_call(self):
        """Steps until one more coordinator call has been applied or the run has finished.
        Returns True when the run has finished."""
        applied = sum(self.calls_applied.values())
        while not self.step():
            if sum(self.calls_applied.values()) > applied:
                return False
        return True

    def checkpoint(self):
        """The whole run's state as bytes. A value that cannot be pickled is named: the task,
        the paused function and the variable."""
        import pickle

        try:
            return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:
            raise CheckpointError(self._find_unpicklable() or str(error)) from error

    def _find_unpicklable(self):
        import pickle

        for task in self.tasks.values():
            for frame in task.frames or ():
                for name, value in frame.variables.items():
                    try:
                        pickle.dumps(value)
                    except Exception as error:
                        function = getattr(frame.continuation, "__name__", "?")
                        # `_kappa_<function>_c<n>` is the continuation of `<function>`.
                        function = "`%s`" % function[len("_kappa_"):].rsplit("_c", 1)[0]
                        what = "the iterator of a `for` loop" if name.startswith("_kappa_it") else "variable `%s`" % name
                        return "cannot checkpoint task %d: %s (a %s) in %s is live across a pause point and cannot be pickled: %s" % (
                            task.id, what, type(value).__name__, function, error)
        return None

    def step(self):
        """Runs one task until its next coordinator call and applies that call. Returns True
        when the first task has finished."""
        if self.finished():
            return True
        if not self.runnable:
            self._wake_waiters()
        if not self.runnable:
            raise Deadlock(self.describe_blocked())
        task = self.tasks[self.runnable.popleft()]
        try:
            if task.frames is None:
                f, args = task.start
                task.start = None
                value = f(*args)
            else:
                frames, outcome = task.frames, task.outcome
                task.frames, task.outcome = None, None
                value = resume(frames, outcome)
        except Unwind as unwind:
            task.frames = unwind.frames
            self._apply(task, unwind.request)
        except Exception as error:
            self._finish(task, error=error)
        else:
            self._finish(task, result=value)
        return self.finished()

    # -- coordinator calls ----------------------------------------------------------------

    def _apply(self, task, request):
        self.calls_applied[request.kind] += 1
        handler = getattr(self, "_call_" + request.kind)
        handler(task, *request.args)

    def _answer(self, task, value=None, error=None):
        task.outcome = Outcome(value, error)
        task.waiting = None
        self.runnable.append(task.id)

    def _call_checkpoint(self, task):
        self._answer(task)

    _call_maybe_pause = _call_checkpoint

    def _call_exit(self, task, ret):
        task.frames = None
        self._finish(task, result=ret)

    def _call_spawn(self, task, f, args, awaits, name, copies, blocking):
        """`copies` is None for `spawn` (one future), a count for `spawn_many` (a list)."""
        count = 1 if copies is None else copies
        futures = [Future(self._new_task(f, args, awaits, name)) for _ in range(count)]
        if blocking:
            self._block(task, ("wait" if copies is None else "wait_all", futures))
        else:
            self._answer(task, futures[0] if copies is None else futures)

    def _call_map_spawn(self, task, f, elems, extra_args, awaits, name):
        futures = [Future(self._new_task(f, (elem,) + tuple(extra_args), awaits, name)) for elem in elems]
        self._answer(task, futures)

    def _call_wait(self, task, future):
        self._block(task, ("wait", [future]))

    def _call_create_queues(self, task, max_size, copies):
        """`copies` is None for `create_queue` (one queue), a count for `create_queues`."""
        queues = []
        for _ in range(1 if copies is None else copies):
            self.next_queue += 1
            self.queues[self.next_queue] = collections.deque()
            self.queue_limits[self.next_queue] = max_size
            queues.append(Queue(self.next_queue))
        self._answer(task, queues[0] if copies is None else queues)

    def _call_enqueue(self, task, queue, objs):
        self._block(task, ("enqueue", queue.queue, list(objs)))

    def _call_dequeue(self, task, queue):
        self._block(task, ("dequeue", queue.queue))

    # -- blocking -------------------------------------------------------------------------

    def _block(self, task, why):
        self.blocked[task.id] = why
        task.waiting = why
        self._wake_waiters()

    def _wake_waiters(self):
        """Answers every blocked call that can now proceed (repeatedly: an enqueue can make a
        dequeue proceed and vice versa)."""
        progress = True
        while progress:
            progress = False
            for task_id in sorted(self.blocked):
                why = self.blocked[task_id]
                task = self.tasks[task_id]
                kind = why[0]
                if kind in ("wait", "wait_all"):
                    children = [self.tasks[f.task] for f in why[1]]
                    if all(child.done for child in children):
                        del self.blocked[task_id]
                        failed = [c for c in children if c.error is not None]
                        if failed:
                            self._answer(task, error=failed[0].error)
                        elif kind == "wait":
                            self._answer(task, children[0].result)
                        else:
                            self._answer(task, [c.result for c in children])
                        progress = True
                elif kind == "enqueue":
                    queue, limit = self.queues[why[1]], self.queue_limits[why[1]]
                    pending = why[2]
                    while pending and (limit <= 0 or len(queue) < limit):
                        queue.append(pending.pop(0))
                        self.objects_enqueued += 1
                        progress = True
                    if not pending:
                        del self.blocked[task_id]
                        self._answer(task)
                        progress = True
                elif kind == "dequeue":
                    queue = self.queues[why[1]]
                    if queue:
                        del self.blocked[task_id]
                        self._answer(task, queue.popleft())
                        progress = True
                elif kind == "start":
                    if all(self.tasks[f.task].done for f in why[1]):
                        del self.blocked[task_id]
                        self._start_ready(task)
                        progress = True

    def _new_task(self, f, args, awaits=(), name=None):
        task = Task(self.next_task, (f, tuple(args)), name)
        if self.next_task > 0:
            self.tasks_spawned += 1
        self.next_task += 1
        self.tasks[task.id] = task
        inputs = [a for a in args if isinstance(a, Future)] + list(awaits)
        if inputs:
            self.blocked[task.id] = ("start", inputs)
            task.waiting = ("start", inputs)
        else:
            self.runnable.append(task.id)
        return task.id

    def _start_ready(self, task):
        """A task whose input futures are done: replace them by their values (or fail with
        the first input's error) and make it runnable."""
        f, args = task.start
        for arg in args:
            if isinstance(arg, Future) and self.tasks[arg.task].error is not None:
                task.start = None
                self._finish(task, error=self.tasks[arg.task].error)
                return
        values = tuple(self.tasks[a.task].result if isinstance(a, Future) else a for a in args)
        task.start = (f, values)
        task.waiting = None
        self.runnable.append(task.id)

    def _finish(self, task, result=None, error=None):
        task.done = True
        task.result = result
        task.error = error
        task.frames = None
        self.blocked.pop(task.id, None)
        self._wake_waiters()

    def describe_blocked(self):
        lines = []
        for task_id in sorted(self.blocked):
            why = self.blocked[task_id]
            lines.append("task %d waits: %s" % (task_id, why[0]))
        return "every task is blocked:\n" + "\n".join(lines)
