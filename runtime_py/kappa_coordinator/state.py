"""The state of a run: tasks, their futures, queues, and who waits for what. Every coordinator
call of a task goes through `State.apply`, which answers it at once or blocks the task until it
can be answered. Payloads (arguments, results, queue items) are opaque bytes; only task and queue
ids are understood here. Shared by the in-process runner and the process coordinator.

Ids are strings that the task side derives itself (`rt.protocol.MAIN`, "t.s" for what call `s`
of task `t` creates), so a task can know the answer to a call that creates things without
waiting for the coordinator (pipelining)."""

import collections

from rt.protocol import (
    CHECKPOINT, CREATE_QUEUES, DEQUEUE, DURABLE, ENQUEUE, EXIT, MAIN, MAP_SPAWN, SPAWN, WAIT,
)

class Task:
    __slots__ = (
        "id", "name", "start", "inputs", "awaits", "on_coordinator", "started", "done",
        "result", "error", "traceback", "reply", "waiting", "parent", "handled",
    )

    def __init__(self, id, start, inputs, awaits, on_coordinator, name, parent):
        self.id = id
        self.name = name
        self.start = start  # bytes: the pickled (function, args)
        self.inputs = inputs  # ids of the futures among the arguments
        self.awaits = awaits  # ids of further futures to wait for before starting
        self.on_coordinator = on_coordinator
        self.parent = parent
        self.started = False
        self.done = False
        self.result = None  # bytes
        self.error = None  # bytes: the pickled exception
        self.traceback = None  # text
        self.reply = None  # the answer to its pending coordinator call
        self.waiting = None  # why it is blocked, for messages
        self.handled = False  # someone waited on it, or it was another task's input

    def __getstate__(self):
        return {slot: getattr(self, slot) for slot in self.__slots__}

    def __setstate__(self, state):
        for slot, value in state.items():
            setattr(self, slot, value)

    def describe(self):
        return "task %s%s" % (self.id, " (%s)" % self.name if self.name else "")


class State:
    """What a run's tasks are doing; no processes, no storage, no Python objects of the app."""

    def __init__(self):
        self.tasks = {}
        self.runnable = collections.deque()
        self.blocked = {}  # task id -> why: a tuple
        self.queues = {}
        self.queue_limits = {}
        self.calls_applied = 0
        self.tasks_spawned = 0
        self.objects_enqueued = 0

    # -- tasks ----------------------------------------------------------------------------

    def new_task(self, task_id, start, inputs=(), awaits=(), on_coordinator=False, name=None, parent=None):
        if task_id in self.tasks:
            raise ValueError("task %s exists already" % (task_id,))
        task = Task(task_id, start, list(inputs), list(awaits), on_coordinator, name, parent)
        for i in task.inputs:
            self.tasks[i].handled = True  # its error, if any, becomes this task's
        if parent is not None:
            self.tasks_spawned += 1
        self.tasks[task.id] = task
        if task.inputs or task.awaits:
            self.blocked[task.id] = ("start", task.inputs + task.awaits)
            task.waiting = "its input futures"
            self._wake()
        else:
            self.runnable.append(task.id)
        return task.id

    def take_runnable(self):
        """The next task to run (its `reply` answers its pending call), or None."""
        if self.runnable:
            return self.tasks[self.runnable.popleft()]
        return None

    def input_results(self, task):
        """For a task about to start: {future id: result bytes} of its input futures."""
        return {i: self.tasks[i].result for i in task.inputs}

    def finish(self, task_id, result=None, error=None, traceback=None):
        task = self.tasks[task_id]
        task.done = True
        task.result = result
        task.error = error
        task.traceback = traceback
        task.reply = None
        self.blocked.pop(task_id, None)
        self._wake()

    def unhandled_failures(self):
        """Tasks that failed while nobody waited for them: their errors would otherwise be lost."""
        return [t for t in self.tasks.values() if t.parent is not None and t.error is not None and not t.handled]

    @property
    def main(self):
        return self.tasks[MAIN]

    def finished(self):
        return self.main.done

    # -- coordinator calls ----------------------------------------------------------------

    def apply(self, task_id, call):
        """Applies one coordinator call (a dict with "kind" and plain data or bytes)."""
        self.calls_applied += 1
        task = self.tasks[task_id]
        kind = call["kind"]
        if kind in DURABLE:
            self._answer(task, {"value": None})
        elif kind == EXIT:
            self.finish(task_id, result=call["value"])
        elif kind == SPAWN:
            ids = [
                self.new_task(new_id, call["start"], call["inputs"], call["awaits"], call["on_coordinator"], call["name"], task_id)
                for new_id in call["ids"]
            ]
            if call["blocking"]:
                for i in ids:
                    self.tasks[i].handled = True
                self._block(task, (WAIT, ids, call["copies"] is not None))
            else:
                self._answer(task, {"futures": ids, "many": call["copies"] is not None})
        elif kind == MAP_SPAWN:
            ids = [
                self.new_task(new_id, start, call["inputs"][i], call["awaits"], call["on_coordinator"], call["name"], task_id)
                for i, (new_id, start) in enumerate(zip(call["ids"], call["starts"]))
            ]
            self._answer(task, {"futures": ids, "many": True})
        elif kind == WAIT:
            self.tasks[call["future"]].handled = True
            self._block(task, (WAIT, [call["future"]], False))
        elif kind == CREATE_QUEUES:
            ids = list(call["ids"])
            for queue_id in ids:
                self.queues[queue_id] = collections.deque()
                self.queue_limits[queue_id] = call["max_size"]
            self._answer(task, {"queues": ids, "many": call["copies"] is not None})
        elif kind == ENQUEUE:
            self._block(task, (ENQUEUE, call["queue"], list(call["items"])))
        elif kind == DEQUEUE:
            self._block(task, (DEQUEUE, call["queue"]))
        else:
            raise ValueError("unknown coordinator call %r" % (kind,))

    def wait_reply(self, future_id):
        """The reply to a `wait` on a future that is done (None if it is not): what `apply`
        would answer at once, for a task that waits without a checkpoint. Nothing is applied."""
        child = self.tasks[future_id]
        if not child.done:
            return None
        child.handled = True
        return self._results_reply([child], False)

    def done_siblings(self, future_id, limit=64, max_bytes=1 << 20):
        """Replies to waits on the futures numbered next after `future_id` (`t.s+1`, ... for
        `spawn`; `t.s.i+1`, ... for `map_spawn`) that are done and did not fail, up to `limit`
        numbers on, and `max_bytes` of results: a task that waits on one future of a batch
        usually waits on the next ones."""
        prefix, _, index = future_id.rpartition(".")
        if not prefix or not index.isdigit():
            return {}
        replies = {}
        size = 0
        for i in range(int(index) + 1, int(index) + 1 + limit):
            child = self.tasks.get("%s.%d" % (prefix, i))
            if child is None:
                continue  # that call number made no task
            if not child.done:
                break
            if child.error is None:
                size += len(child.result)
                if size > max_bytes:
                    break
                replies[child.id] = {"value": child.result}
        return replies

    @staticmethod
    def _results_reply(children, many):
        """The reply to a wait on finished children: the first error, or the result(s)."""
        failed = [c for c in children if c.error is not None]
        if failed:
            return {"error": failed[0].error, "traceback": failed[0].traceback}
        if many:
            return {"values": [c.result for c in children]}
        return {"value": children[0].result}

    def keep_running(self, task_id):
        """Removes a runnable task that its worker goes on running (it has its answer). It was
        usually made runnable last, so this is cheap however many tasks wait for a worker."""
        if self.runnable and self.runnable[-1] == task_id:
            self.runnable.pop()
        else:
            self.runnable.remove(task_id)

    def _answer(self, task, reply):
        task.reply = reply
        task.waiting = None
        self.runnable.append(task.id)

    def _block(self, task, why):
        self.blocked[task.id] = why
        task.waiting = {
            WAIT: "a future",
            ENQUEUE: "room in queue %s" % (why[1],),
            DEQUEUE: "an item in queue %s" % (why[1],),
        }.get(why[0], why[0])
        self._wake()

    def _wake(self):
        """Answers every blocked call that can now proceed, until nothing changes (an enqueue can
        let a dequeue proceed and the other way round)."""
        progress = True
        while progress:
            progress = False
            for task_id in sorted(self.blocked):
                if task_id not in self.blocked:
                    continue
                if self._try_unblock(self.tasks[task_id], self.blocked[task_id]):
                    progress = True

    def _try_unblock(self, task, why):
        kind = why[0]
        if kind == WAIT:
            children = [self.tasks[i] for i in why[1]]
            if not all(child.done for child in children):
                return False
            del self.blocked[task.id]
            self._answer(task, self._results_reply(children, why[2]))
            return True
        if kind == ENQUEUE:
            queue, limit, pending = self.queues[why[1]], self.queue_limits[why[1]], why[2]
            moved = False
            while pending and (limit <= 0 or len(queue) < limit):
                queue.append(pending.pop(0))
                self.objects_enqueued += 1
                moved = True
            if not pending:
                del self.blocked[task.id]
                self._answer(task, {"value": None})
                return True
            return moved
        if kind == DEQUEUE:
            queue = self.queues[why[1]]
            if not queue:
                return False
            del self.blocked[task.id]
            self._answer(task, {"value": queue.popleft()})
            return True
        if kind == "start":
            if not all(self.tasks[i].done for i in why[1]):
                return False
            del self.blocked[task.id]
            failed = [self.tasks[i] for i in task.inputs if self.tasks[i].error is not None]
            if failed:
                # A failed input fails the task: the error reaches whoever waits on it.
                self.finish(task.id, error=failed[0].error, traceback=failed[0].traceback)
            else:
                task.waiting = None
                self.runnable.append(task.id)
            return True
        return False

    # -- diagnosis ------------------------------------------------------------------------

    def deadlock_message(self, where=None):
        """Every task blocked and none can run: which tasks wait, for what, and where."""
        lines = ["deadlock: every unfinished task is blocked"]
        for task_id in sorted(self.blocked):
            task = self.tasks[task_id]
            at = (" at %s" % where(task_id)) if where else ""
            lines.append("  %s waits for %s%s" % (task.describe(), task.waiting, at))
        return "\n".join(lines)
