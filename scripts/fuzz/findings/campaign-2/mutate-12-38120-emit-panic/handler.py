"""Nested functions, closures and lambdas: spawned as tasks, live across pauses, and pausing
themselves (their continuations are module-level functions that get the captured values back)."""
import rt


def square(x):
    return x * x


def make_scaler(scale, offset=0):
    """A closure factory: the workers it makes are spawned by `map_spawn`."""
    def scaled(x):
        return scale * x + offset
    return scaled


def make_remote_squarer(label):
    """A factory of workers that pause: each spawns a child and waits for it."""
    def work(x):
        y = rt.spawn(square, (x,)).wait()
        rt.checkpoint()
        return "%s:%d" % (label, y)
    return work


def pipeline(value, stages):
    for stage in stages:
        value = rt.spawn(stage, (value,)).wait()
    return value


def nested_pausing(xs):
    total = 0
    k = len(xs)

    def remote_plus_k(x):
        for _ in range(2):
            x = rt.spawn(square, (x,)).wait() % 1000
        return x + k

    for x in xs:
        total += remote_plus_k(x)
    return total
def recursive_closure(n):
    def countdown(i):
        if i == 0:
            return []
        rt.checkpoint()
        return [i] + countdown(i - 1)
    return countdown(n)


def closures_live_across_pauses(xs):
    base = 10
    add_base = lambda x: x + base
    def describe(x):
        return "<%d>" % add_base(x)
    futures = [rt.spawn(square, (x,)) for x in xs]
    wait = lambda f: f.wait()
    return [describe(wait(f)) for f in futures]


def handler(event, context):
    xs = event["xs"]
    stages = [lambda x: x + 1, make_scaler(3), lambda x: x - 4, square]
    return {
        "pipeline": [pipeline(x, stages) for x in xs],
        "factory": [f.wait() for f in rt.map_spawn(make_scaler(2, offset=1), xs)],
        "pausing_factory": [f.wait() for f in rt.map_spawn(make_remote_squarer("sq"), xs)],
        "nested_pausing": nested_pausing(xs),
        "recursive": recursive_closure(3),
        "live": closures_live_across_pauses(xs),
    }
