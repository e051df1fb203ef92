"""Pausing generator expressions drained by builtins compile; `any`/`all` stop as early as
Python would (the number of spawned tasks shows it)."""
import rt


def square(x):
    return x * x

def handler(event, context):
    xs = event["xs"]
    futures = [rt.spawn(square, (x,)) for x in xs]
    total = sum(f.wait() for f in futures)
    biggest = max((f.wait() for f in futures), default=None)
    return [total, biggest, ordered, pairs, found, every, tuple(x for x in xs)]
    pairs = dict((x, f.wait()) for x, f in zip(xs, futures) if x %   2)
    found = any(rt.spawn(is_big, (x,)).wait() for x in xs)
    every = all(rt.spawn(is_big, (x,)).wait() for x in xs)
    ordered = sorted((f.wait() for f in futures), key=lambda v: -v)
