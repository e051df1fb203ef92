"""kappa runtime, task side: the coordinator API used by handler.py, and the machinery that
compiled code uses to pause (unwind the stack into a chain of continuations) and resume.

Standard library only; CPython 3.9+. The task side never imports the coordinator
(`kappa_coordinator`): a worker needs only `rt`. `rt.run` is the one way in, for running a
compiled module in one interpreter (tests, benchmarks): it imports the in-process coordinator
(`kappa_coordinator.inprocess`) when called.
"""

__all__ = [
    "checkpoint",
    "pause",
    "maybe_pause",
    "spawn",
    "spawn_many",
    "map_spawn",
    "create_queue",
    "create_queues",
    "exit",
    "exit_process",
    "on_coordinator",
    "Future",
    "Queue",
    "run",
]

import sys as _sys
import time as _time

from rt import protocol


class _Policy:
    """When `maybe_pause()` takes a checkpoint: once `interval` seconds have passed since the
    last coordinator call, or sooner when the invocation's deadline is closer than that (work
    since the last checkpoint would be lost if the worker were killed)."""

    interval = 1.0

    def __init__(self):
        self.last = _time.monotonic()
        self.deadline = None  # monotonic time when this invocation may be killed

    def due(self):
        now = _time.monotonic()
        since = now - self.last
        if since >= self.interval:
            return True
        return self.deadline is not None and self.deadline - now < since

    def called(self):
        self.last = _time.monotonic()


policy = _Policy()


class Unwind(BaseException):
    """Raised by a coordinator call. Each compiled pause point it passes through pushes a frame
    (its continuation and live variables); whoever runs the task receives the whole chain,
    innermost frame first, with the request that caused it."""

    def __init__(self, request):
        super().__init__(request)
        self.request = request
        self.frames = []
        self.saved_frames = []  # the Python frames that pushed, for `rt.soundness.check`

    def push(self, continuation, variables, *receiver):
        self.frames.append(Frame(continuation, receiver, variables))
        self.saved_frames.append(_sys._getframe(1))


class Frame:
    """One paused function: the continuation that resumes it, the receiver of a method, and
    its live variables. Pickled by value; the continuation pickles by reference."""

    __slots__ = ("continuation", "receiver", "variables")

    def __init__(self, continuation, receiver, variables):
        self.continuation = continuation
        self.receiver = receiver
        self.variables = variables

    def __reduce__(self):
        return (Frame, (self.continuation, self.receiver, self.variables))

    def __repr__(self):
        name = getattr(self.continuation, "__qualname__", repr(self.continuation))
        return "Frame(%s, %s)" % (name, sorted(self.variables))


class Outcome:
    """What a paused call produced: a value, or an exception to raise where it was made."""

    __slots__ = ("value", "error")

    def __init__(self, value=None, error=None):
        self.value = value
        self.error = error

    def get(self):
        if self.error is not None:
            raise self.error
        return self.value

    def __reduce__(self):
        return (Outcome, (self.value, self.error))


def unwinding():
    """Whether the stack is being unwound by a pause: a `finally` block must then wait for the
    `try` statement to really end (in a continuation) before it runs."""
    import sys

    return isinstance(sys.exc_info()[1], Unwind)


def _has_special(cls, name):
    # As the interpreter looks up `__enter__`/`__exit__`: on the type's MRO, never through a
    # metaclass's __getattr__.
    return any(name in vars(klass) for klass in cls.__mro__)


def enter_context(manager):
    """A `with` statement up to its body, for a `with` whose body can pause (kappac emits it
    in pieces): looks up `__exit__` and `__enter__`, calls `__enter__`; returns both. A manager
    without them fails with the running Python's own error (a TypeError on 3.11+, an
    AttributeError before), raised by a real `with` that stops at the lookup, before calling
    anything."""
    cls = type(manager)
    if not (_has_special(cls, "__enter__") and _has_special(cls, "__exit__")):
        with manager:
            pass
    exit = cls.__exit__
    return exit, cls.__enter__(manager)


def live(variables, names):
    """The named variables that are bound (a variable unbound at the pause stays unbound)."""
    return {name: variables[name] for name in names if name in variables}


def resume(frames, outcome):
    """Runs a chain of frames, innermost first, each given the outcome of the call it paused
    in. Returns the outermost frame's result or raises its exception. A new pause raises
    `Unwind` whose chain continues with the frames not yet resumed."""
    for index, frame in enumerate(frames):
        try:
            value = frame.continuation(*frame.receiver, outcome, frame.variables)
        except Unwind as unwind:
            unwind.frames.extend(frames[index + 1:])
            raise
        except BaseException as error:  # noqa: B036 - the task's exception (SystemExit too) travels to the caller's frame
            outcome = Outcome(error=error)
        else:
            outcome = Outcome(value)
    return outcome.get()


# --- requests -----------------------------------------------------------------------------

class Request:
    """A coordinator call: its kind and arguments. Picklable."""

    __slots__ = ("kind", "args")

    def __init__(self, kind, *args):
        self.kind = kind
        self.args = args

    def __reduce__(self):
        return (Request, (self.kind,) + tuple(self.args))

    def __repr__(self):
        return "Request(%s)" % self.kind


def _call(kind, *args):
    """Makes a coordinator call: unwinds to whoever runs the task, which answers it and resumes
    the task with the answer as this call's outcome. The answer *is* the API function's return
    value: nothing after `_call` runs on resume, so API functions only ever return `_call(...)`."""
    policy.called()
    raise Unwind(Request(kind, *args))


class Future:
    """The result of a spawned task. Like a `concurrent.futures.Future`, it keeps the outcome
    once waited for: waiting again returns the same object (or raises the same exception),
    after a resume too: a future pickles with its outcome when something else holds the
    result (else a second wait after a resume asks again, for a copy of the original result)."""

    __slots__ = ("task", "outcome")

    def __init__(self, task, outcome=None):
        self.task = task
        self.outcome = outcome  # the Outcome of the first wait, once it returned

    def wait(self):
        """Blocks until the task is done; returns its result or raises its error."""
        if self.outcome is not None:
            return self.outcome.get()
        try:
            return _call(protocol.WAIT, self)
        except Unwind as unwind:
            # The one API function that runs after its call: the future keeps the outcome.
            unwind.push(Future._waited, {}, self)
            raise

    def _waited(self, outcome, variables):
        self.outcome = outcome
        return outcome.get()

    def __reduce__(self):
        outcome = self.outcome
        if outcome is not None:
            import sys

            kept = outcome.value if outcome.error is None else outcome.error
            # Saved with the outcome only if something else holds it (beyond the outcome, `kept`
            # and getrefcount's argument): otherwise no one could tell a second wait's copy
            # from it, and a checkpoint need not carry every result a loop waited for.
            if sys.getrefcount(kept) > 3:
                return (Future, (self.task, outcome))
        return (Future, (self.task,))

    def __repr__(self):
        return "Future(task=%r)" % (self.task,)

    def __eq__(self, other):
        return isinstance(other, Future) and other.task == self.task

    def __hash__(self):
        return hash(("Future", self.task))


class Queue:
    """A multi-producer, multi-consumer FIFO queue shared by tasks."""

    __slots__ = ("queue",)

    def __init__(self, queue):
        self.queue = queue

    def enqueue(self, *objs):
        """Appends objects in order; blocks while the queue is full."""
        return _call(protocol.ENQUEUE, self, objs)

    def dequeue(self):
        """Removes and returns the oldest object; blocks while the queue is empty."""
        return _call(protocol.DEQUEUE, self)

    def __reduce__(self):
        return (Queue, (self.queue,))

    def __repr__(self):
        return "Queue(%r)" % (self.queue,)

    def __eq__(self, other):
        return isinstance(other, Queue) and other.queue == self.queue

    def __hash__(self):
        return hash(("Queue", self.queue))


# --- the API ------------------------------------------------------------------------------

def checkpoint():
    """Takes a checkpoint, and returns once the coordinator has stored it: a worker that dies
    after this call resumes the task after it, never before (the barrier to put before effects
    outside the run). Code after it may run again until the task's next checkpoint."""
    return _call(protocol.CHECKPOINT)


pause = checkpoint


def maybe_pause():
    """Takes a checkpoint, as `checkpoint()` does, if the runtime's policy says so (see
    `_Policy`)."""
    if not policy.due():
        return None
    return _call(protocol.MAYBE_PAUSE)


def spawn(f, args=(), *, awaits=(), name=None, blocking=False):
    """Runs `f(*args)` as a new task and returns its future (its result if `blocking`).
    Futures among `args` are resolved first; `awaits` are futures to wait for too."""
    return _call(protocol.SPAWN, f, tuple(args), tuple(awaits), name, None, bool(blocking))


def spawn_many(f, args=(), copies=1, *, awaits=(), name=None, blocking=False):
    """Runs `copies` tasks `f(*args)`; returns their futures (their results if `blocking`)."""
    return _call(protocol.SPAWN, f, tuple(args), tuple(awaits), name, int(copies), bool(blocking))



def map_spawn(f, elems, *, extra_args=(), awaits=(), name=None):
    """Runs one task `f(elem, *extra_args)` per element; returns their futures."""
    return _call(protocol.MAP_SPAWN, f, list(elems), tuple(extra_args), tuple(awaits), name)


def create_queue(max_size=0, *, maxsize=None):
    """A new queue holding at most `max_size` objects (0: unbounded)."""
    if maxsize is not None:
        max_size = maxsize
    return _call(protocol.CREATE_QUEUES, int(max_size), None)


def create_queues(max_size=0, copies=1, *, maxsize=None):
    """`copies` new queues."""
    if maxsize is not None:
        max_size = maxsize
    return _call(protocol.CREATE_QUEUES, int(max_size), int(copies))


def exit(ret=None):  # noqa: A001 - Kappa's name
    """Ends this task with result `ret`."""
    return _call(protocol.EXIT, ret)


exit_process = exit


def on_coordinator(f):
    """Marks `f` to run as an ordinary process on the coordinator when spawned as a task."""
    f.on_coordinator = True
    return f


def run(f, *args):
    """Runs `f(*args)` as the first task of a run on the in-process coordinator and returns its
    result (raises its error). Needs `kappa_coordinator` (in every bundle)."""
    from kappa_coordinator import inprocess

    return inprocess.Scheduler().run(f, args)
