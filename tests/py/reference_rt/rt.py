"""Reference runtime for the differential tests: runs an *untransformed* handler.py with real
threads (spawn = a thread, wait = join, queues = queue.Queue). No checkpoints, no pausing:
what the program means, to compare compiled runs against. Standard library only."""

import queue as _queue
import threading

_lock = threading.Lock()
counts = {"spawns": 0, "enqueued": 0}


class _Exit(BaseException):
    def __init__(self, value):
        super().__init__(value)
        self.value = value


class Future:
    def __init__(self, f, args, awaits):
        self._result = None
        self._error = None
        self._thread = threading.Thread(target=self._run, args=(f, args, awaits), daemon=True)
        with _lock:
            counts["spawns"] += 1
        self._thread.start()

    def _run(self, f, args, awaits):
        try:
            for future in awaits:
                future._thread.join()
            values = []
            for arg in args:
                values.append(arg.wait() if isinstance(arg, Future) else arg)
            self._result = f(*values)
        except _Exit as exit_:
            self._result = exit_.value
        except BaseException as error:  # delivered to whoever waits
            self._error = error

    def wait(self):
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result


class Queue:
    def __init__(self, max_size):
        self._queue = _queue.Queue(max_size)

    def enqueue(self, *objs):
        for obj in objs:
            self._queue.put(obj)
            with _lock:
                counts["enqueued"] += 1

    def dequeue(self):
        return self._queue.get()


def checkpoint():
    pass


pause = checkpoint
maybe_pause = checkpoint


def spawn(f, args=(), *, awaits=(), name=None, blocking=False):
    future = Future(f, tuple(args), tuple(awaits))
    return future.wait() if blocking else future


def spawn_many(f, args=(), copies=1, *, awaits=(), name=None, blocking=False):
    futures = [Future(f, tuple(args), tuple(awaits)) for _ in range(copies)]
    return [f.wait() for f in futures] if blocking else futures


def map_spawn(f, elems, *, extra_args=(), awaits=(), name=None):
    return [Future(f, (elem,) + tuple(extra_args), tuple(awaits)) for elem in elems]


def create_queue(max_size=0, *, maxsize=None):
    return Queue(max_size if maxsize is None else maxsize)


def create_queues(max_size=0, copies=1, *, maxsize=None):
    return [create_queue(max_size, maxsize=maxsize) for _ in range(copies)]


def exit(ret=None):  # noqa: A001
    raise _Exit(ret)


exit_process = exit


def on_coordinator(f):
    f.on_coordinator = True
    return f


def run_handler(handler, event):
    try:
        return handler(event, None)
    except _Exit as exit_:
        return exit_.value
