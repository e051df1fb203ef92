#!/usr/bin/env python3
"""Checkpoint size: for every transform fixture, the bytes of kappac's live-variable checkpoints
against pickling all locals of every frame of the task at the same coordinator calls (what a
checkpoint without liveness would hold). Writes its section of docs/benchmarks.md.

    python3 scripts/bench_checkpoint.py
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "kappac")
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "transform")
REFERENCE_RT = os.path.join(ROOT, "tests", "py", "reference_rt")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from benchmarks_md import replace_section  # noqa: E402

SIZE = r'''
import pickle, sys
_STDOUT, sys.stdout = sys.stdout, sys.stderr  # the app's own output must not mix with ours
def size(obj):
    return len(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
def picklable(values, totals):
    kept = {}
    for name, value in values.items():
        try:
            pickle.dumps(value)
            kept[name] = value
        except Exception:
            totals["skipped_values"] += 1
    return kept
'''

# The compiled app on the in-process scheduler: the checkpoint at each coordinator call is the
# live variables of every paused frame.
MEASURE_COMPILED = SIZE + r'''
import json, os, sys
if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(0)  # events with integers of any size (big_integers)
sys.path.insert(0, sys.argv[1]); os.chdir(sys.argv[1])
import handler
from kappa_coordinator import inprocess as local
from kappa_coordinator.state import State
totals = {"calls": 0, "bytes": 0, "skipped_values": 0}
scheduler = local.Scheduler()
original_apply = State.apply
def measuring_apply(self, task_id, call):
    # The runner stores a task's frames just before it applies the task's call.
    totals["calls"] += 1
    totals["bytes"] += size([picklable(f.variables, totals) for f in scheduler.frames[task_id]])
    return original_apply(self, task_id, call)
State.apply = measuring_apply
with open("event.json") as f:
    event = json.load(f)
try:
    scheduler.run(handler.handler, (event, None))
except Exception:
    pass  # a fixture whose run fails (child_error) is measured up to the failure
_STDOUT.write(json.dumps(totals) + '\n')
'''

# The original app on the reference runtime (threads): at each coordinator call, all locals of
# every frame of handler.py on the calling thread's stack.
MEASURE_ORIGINAL = SIZE + r'''
import json, os, sys, threading
if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(0)  # events with integers of any size (big_integers)
sys.path.insert(0, sys.argv[2]); sys.path.insert(1, sys.argv[1]); os.chdir(sys.argv[1])
import rt
totals = {"calls": 0, "bytes": 0, "skipped_values": 0}
lock = threading.Lock()
module_globals = []
def measured(f):
    def wrapper(*args, **kwargs):
        frames = []
        frame = sys._getframe(1)
        while frame is not None:
            if module_globals and frame.f_globals is module_globals[0]:
                frames.append(dict(frame.f_locals))
            frame = frame.f_back
        with lock:
            totals["calls"] += 1
            totals["bytes"] += size([picklable(v, totals) for v in frames])
        return f(*args, **kwargs)
    return wrapper
for name in ("checkpoint", "pause", "maybe_pause", "spawn", "spawn_many", "map_spawn",
             "create_queue", "create_queues", "exit", "exit_process"):
    setattr(rt, name, measured(getattr(rt, name)))
for cls, name in ((rt.Future, "wait"), (rt.Queue, "enqueue"), (rt.Queue, "dequeue")):
    setattr(cls, name, measured(getattr(cls, name)))
import handler
module_globals.append(handler.__dict__)
with open("event.json") as f:
    event = json.load(f)
try:
    rt.run_handler(handler.handler, event)
except Exception:
    pass  # measured up to the failure, like the compiled side
_STDOUT.write(json.dumps(totals) + '\n')
'''


def main():
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1, help="ignored: sizes do not vary between runs")
    parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in sorted(os.listdir(FIXTURES)):
            app = os.path.join(FIXTURES, name)
            target = "3.9"
            expect_path = os.path.join(app, "expect.json")
            if os.path.exists(expect_path):
                with open(expect_path) as f:
                    target = json.load(f).get("target_version", target)
            out = os.path.join(tmp, name)
            subprocess.run([BINARY, "build", app, "-o", out, "--target-version", target],
                           check=True, capture_output=True)
            compiled = subprocess.run([sys.executable, "-c", MEASURE_COMPILED, out], capture_output=True, text=True)
            original = subprocess.run([sys.executable, "-c", MEASURE_ORIGINAL, app, REFERENCE_RT], capture_output=True, text=True)
            for done in (compiled, original):
                if done.returncode != 0:
                    sys.exit("%s failed:\n%s" % (name, done.stderr))
            rows.append((name, json.loads(compiled.stdout.splitlines()[-1]), json.loads(original.stdout.splitlines()[-1])))
    lines = [
        "Produced by `python3 scripts/bench_checkpoint.py`. For each transform fixture, the",
        "checkpoints kappac takes (the live variables of every paused frame, pickled, at each",
        "coordinator call of the compiled app) against pickling all locals of every handler.py",
        "frame on the stack at each coordinator call of the untransformed app. Sums over the run.",
        "",
        "| fixture | calls (compiled / original) | live-variable checkpoints (bytes) | all frame locals (bytes) | ratio |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    total_live = total_all = 0
    for name, live, everything in rows:
        total_live += live["bytes"]
        total_all += everything["bytes"]
        lines.append("| %s | %d / %d | %d | %d | %.2f |" % (
            name, live["calls"], everything["calls"], live["bytes"], everything["bytes"],
            live["bytes"] / max(everything["bytes"], 1)))
    lines.append("| **all** | | %d | %d | %.2f |" % (total_live, total_all, total_live / max(total_all, 1)))
    lines += [
        "",
        "Both sides pickle a list of per-frame dicts, so the fixed pickle overhead is the same.",
        "The live side includes kappac's temporaries (spilled operands, loop iterators, a `with`",
        "block's manager and `__exit__`), which the original keeps on the interpreter's stacks; in",
        "these small fixtures nearly every local is live, so those temporaries dominate and the",
        "ratio exceeds 1. Liveness pays where a task holds data it no longer needs (`dead_data`).",
        "Values that cannot be pickled (the generator in `generator_from_helper`) are left out of",
        "both sides.",
    ]
    text = "\n".join(lines)
    replace_section(os.path.join(ROOT, "docs", "benchmarks.md"), "Checkpoint size", text)
    print(text)


if __name__ == "__main__":
    main()
