#!/usr/bin/env python3
"""Benchmarks of compiled code on the task side, in one interpreter (plain CPython, no
coordinator), each measured side by side in one run and written to docs/benchmarks.md
(section "Task side"; run by `scripts/bench`):

(a) fast path: a function that loops and calls helpers that can pause but never do, original
    against transformed code, both imported and run by plain CPython; and a function that cannot
    pause, which must come out of the compiler byte for byte;
(b) resume: unpickle a checkpoint of a depth-10 chain of paused calls holding 10 KB of live
    state, and run the chain to its end.

    python3 scripts/bench_task.py [--runs 5]
"""
import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "kappac")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "runtime_py"))
from benchmarks_md import Summary, replace_section, spread  # noqa: E402

import rt  # noqa: E402  (the runtime shipped in every bundle)
from rt import wire  # noqa: E402

FAST_PATH_APP = '''import rt


def scale(x, limit):
    if x > limit:
        rt.checkpoint()  # never reached: the helper can pause, but does not
    return 3 * x + 1


def accumulate(values, limit):
    total = 0
    for v in values:
        total += scale(v, limit) % 7
        if total > limit:
            rt.maybe_pause()
            total -= limit
    return total


def plain(values):
    """Cannot pause: emitted unchanged."""
    total = 0
    for v in values:
        total += (3 * v + 1) % 7
    return total


def handler(event, context):
    return accumulate(range(event["n"]), 10 ** 9)
'''

RESUME_APP = '''import rt


def down(depth, state):
    if depth == 0:
        rt.checkpoint()
        return len(state)
    here = state[depth]
    below = down(depth - 1, state)
    return below + len(here)


def handler(event, context):
    state = ["x" * 1000 for _ in range(11)]  # 11 KB, live in every frame
    return down(10, state)
'''


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # continuations pickle by reference to it
    spec.loader.exec_module(module)
    return module


def compile_app(tmp, name, source):
    app = os.path.join(tmp, name)
    os.makedirs(app)
    original = os.path.join(app, "handler.py")
    with open(original, "w") as f:
        f.write(source)
    emitted = subprocess.run([BINARY, "emit", original], check=True, capture_output=True, text=True).stdout
    compiled = os.path.join(tmp, name + "_compiled.py")
    with open(compiled, "w") as f:
        f.write(emitted)
    return original, compiled, emitted


def ratio_of(baseline, candidate, repeat=200):
    """candidate's time over baseline's: the fastest of `repeat` short timings of each (the
    least disturbed by the machine), the two sides alternating so that both see the same
    machine. Many short timings filter out a noisy machine better than a few long ones."""
    times = ([], [])
    for _ in range(repeat):
        for side, function in enumerate((baseline, candidate)):
            start = time.process_time()
            function()
            times[side].append(time.process_time() - start)
    return min(times[1]) / min(times[0])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    summary = Summary("task")
    with tempfile.TemporaryDirectory() as tmp:
        original_path, compiled_path, emitted = compile_app(tmp, "fast", FAST_PATH_APP)
        original = load(original_path, "fast_original")
        compiled = load(compiled_path, "fast_compiled")
        plain_source = FAST_PATH_APP[FAST_PATH_APP.index("def plain"):FAST_PATH_APP.index("def handler")]
        plain_unchanged = plain_source in emitted
        values = range(10_000)
        assert original.accumulate(values, 10 ** 9) == compiled.accumulate(values, 10 ** 9)
        ratios, plain_ratios = [], []
        for _ in range(options.runs):
            ratios.append(ratio_of(lambda: original.accumulate(values, 10 ** 9),
                                   lambda: compiled.accumulate(values, 10 ** 9)))
            plain_ratios.append(ratio_of(lambda: original.plain(values), lambda: compiled.plain(values)))

        _, resume_path, _ = compile_app(tmp, "resume", RESUME_APP)
        resume_module = load(resume_path, "resume_compiled")
        try:
            resume_module.handler({}, None)
        except rt.Unwind as unwind:
            frames = unwind.frames
        else:
            sys.exit("the resume app did not pause")
        checkpoint = wire.dumps(frames)
        per_resume_ms = []
        iterations = 2000
        for _ in range(options.runs):
            start = time.perf_counter()
            for _ in range(iterations):
                result = rt.resume(wire.loads(checkpoint), rt.Outcome(None))
            per_resume_ms.append((time.perf_counter() - start) / iterations * 1000)
        assert result == 11 + 10 * 1000, result

    overhead = [(r - 1) * 100 for r in ratios]
    plain_overhead = [(r - 1) * 100 for r in plain_ratios]
    summary.add("fast path: transformed vs. original, never pausing", "% slower", overhead, 5.0,
                higher_is_better=False)
    summary.add("resume a depth-10 chain with 11 KB of state, in-process", "ms", per_resume_ms, 1.0,
                higher_is_better=False)
    lines = [
        "Produced by `python3 scripts/bench_task.py` (%d runs; min / median / max; in (a) each run" % options.runs,
        "compares the best of 200 timings of each side, the two sides alternating).",
        "",
        "| benchmark | figure | target |",
        "| --- | --- | --- |",
        "| (a) fast path: `accumulate` (a loop calling a helper that can pause, 10,000 iterations), transformed vs. original, %% slower | %s | ≤ 5 %% |" % spread(overhead, "%+.1f"),
        "| (a) a function that cannot pause, transformed vs. original, %% slower | %s (emitted byte for byte: %s) | 0 %% |" % (
            spread(plain_overhead, "%+.1f"), "yes" if plain_unchanged else "NO"),
        "| (b) resume: unpickle and run a depth-10 chain of continuations with 11 KB of live state, ms | %s | < 1 ms |" % spread(per_resume_ms, "%.3f"),
        "",
        "(a) The transformed `accumulate` is the original with a `try`/`except rt.Unwind` around",
        "each pause point (a pause point's temporary is folded back into the line that reads it, so",
        "`total += scale(v, limit) % 7` stays one line inside the `try`). Per iteration CPython 3.11",
        "then executes two bytecodes more than the original: the `NOP` that opens the `try` and the",
        "`JUMP_FORWARD` over the handler, which sits inline after the `try` body, making the loop",
        "body longer; `for` keeps its iterator in a variable (once per loop). On a loop this tight",
        "(a call of a three-line function per iteration) that is a few percent: the row measures it",
        "at %+.1f %% (median). What it would take to get under 5 %% on such loops: keep the handlers" % statistics.median(overhead),
        "out of the loop body — one `try` around the whole function with a variable naming the",
        "pause point, at the cost of a store per pause point — or leave pause points that are",
        "not live-variable boundaries (the helper here) unwrapped when their caller's state can be",
        "rebuilt. A function that cannot pause is copied verbatim, so any difference in its row is",
        "measurement noise: it shows how much to trust the first row on this machine.",
        "(b) The checkpoint holds 11 frames (ten `down` frames and the `checkpoint()` call's),",
        "each with the 11 KB list live; `rt.resume` runs the continuations innermost first.",
    ]
    text = "\n".join(lines)
    replace_section(os.path.join(ROOT, "docs", "benchmarks.md"), "Task side", text)
    summary.save()
    print(text)


if __name__ == "__main__":
    main()
