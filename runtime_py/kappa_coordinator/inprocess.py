"""The in-process coordinator (`rt.run`): every task of a run in this interpreter, one at a
time, each until its next coordinator call, on the same run state the process coordinator uses
(`state.py`). Arguments, results and queue items are pickled between tasks as
they would be between processes. The whole runner pickles, so a run can be stopped after any
coordinator call and continued in a fresh interpreter (the tests do)."""

from kappa_coordinator.state import State
from rt import Unwind, resume, soundness, wire
from rt.manifest import Manifest, unpicklable_variable
from rt.protocol import MAIN


class CheckpointError(Exception):
    """A live value cannot be saved."""


class Deadlock(Exception):
    """No task can run, but the run is not finished."""


class Scheduler:
    def __init__(self):
        self.state = State()
        self.frames = {}  # task id -> its paused frames
        self.seqnos = {}  # task id -> number of coordinator calls it made

    @property
    def tasks_spawned(self):
        return self.state.tasks_spawned

    @property
    def objects_enqueued(self):
        return self.state.objects_enqueued

    def start(self, f, args):
        self.state.new_task(MAIN, wire.dumps((f, tuple(args))))

    def run(self, f, args):
        self.start(f, args)
        while not self.step():
            pass
        return self.result()

    def finished(self):
        return self.state.finished()

    def result(self):
        main = self.state.main
        if main.error is not None:
            raise wire.loads(main.error)
        unhandled = self.state.unhandled_failures()
        if unhandled:
            raise wire.loads(unhandled[0].error)
        return wire.loads(main.result)

    def step(self):
        """Runs one task until its next coordinator call and applies it. Returns True when the
        run is over: the first task has finished and no other task can still run (tasks
        blocked forever are abandoned)."""
        task = self.state.take_runnable()
        if task is None:
            if self.finished():
                return True
            raise Deadlock(self.state.deadlock_message())
        try:
            if not task.started:
                task.started = True
                f, args = wire.start_arguments(task.start, self.state.input_results(task))
                value = f(*args)
            else:
                value = resume(self.frames.pop(task.id), wire.to_outcome(task.reply))
        except Unwind as unwind:
            unresumable = soundness.check(unwind)
            if unresumable is not None:
                raise soundness.NotCompiled(soundness.describe(*unresumable)) from None
            self.frames[task.id] = unwind.frames
            seqno = self.seqnos.get(task.id, 0) + 1
            self.seqnos[task.id] = seqno
            call, _ = wire.to_call(unwind.request, task.id, seqno)
            self.state.apply(task.id, call)
            if task.done:
                self.frames.pop(task.id, None)
        except BaseException as error:  # noqa: B036 - the task's SystemExit ... is its error
            self.state.finish(task.id, error=wire.dumps_error(error))
        else:
            self.state.finish(task.id, result=wire.dumps(value))
        return self.finished() and not self.state.runnable

    def step_call(self):
        """Steps until one more coordinator call has been applied or the run has finished.
        Returns True when the run has finished."""
        applied = self.state.calls_applied
        while not self.step():
            if self.state.calls_applied > applied:
                return False
        return True

    def checkpoint(self):
        """The whole run as bytes. A value that cannot be pickled is named: the task, the paused
        function and the variable."""
        try:
            return wire.dumps(self)
        except Exception as error:
            raise CheckpointError(self._find_unpicklable() or str(error)) from error

    def _find_unpicklable(self):
        for task_id, frames in sorted(self.frames.items()):
            for frame in frames:
                problem = unpicklable_variable(frame, Manifest.of_function(frame.continuation))
                if problem:
                    return "cannot checkpoint task %s: %s" % (task_id, problem)
        return None
