#!/usr/bin/env python3
"""Benchmarks of the local coordinator, each measured side by side in one run, written to
docs/benchmarks.md (section "Runtime"):

(a) trivial spawn+wait throughput vs. concurrent.futures.ProcessPoolExecutor on the same number
    of workers (durable checkpoints on: SQLite in WAL mode on disk);
(b) fib with spawn under `--chaos every` vs. a normal run;
(c) resume latency: a ping-pong through queues where every dequeue releases its worker, so each
    hop is a call (checkpoint made durable) plus an invocation of the other task from its 10 KB
    checkpoint on a warm worker.

    python3 scripts/bench_runtime.py [--runs 5]
"""
import argparse
import concurrent.futures
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "kappac")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from benchmarks_md import replace_section  # noqa: E402

WORKERS = 2
SPAWNS = 400
HOPS = 200

SPAWN_APP = '''import rt

def trivial(i):
    return i

def handler(event, context):
    futures = [rt.spawn(trivial, (i,)) for i in range(event["n"])]
    return sum([f.wait() for f in futures])
'''

PING_APP = '''import rt

def player(inbox, outbox, hops, state):
    count = 0
    while count < hops:
        value = inbox.dequeue()
        count += 1
        outbox.enqueue(value + 1)
    return len(state)

def handler(event, context):
    a, b = rt.create_queues(1, 2)
    state = "x" * 10000  # 10 KB live in each player
    first = rt.spawn(player, (a, b, event["hops"], state))
    second = rt.spawn(player, (b, a, event["hops"], state))
    a.enqueue(0)
    return [first.wait(), second.wait()]
'''


def trivial(i):
    return i


def build(tmp, name, source):
    app = os.path.join(tmp, name)
    os.makedirs(app)
    with open(os.path.join(app, "handler.py"), "w") as f:
        f.write(source)
    out = os.path.join(tmp, name + "-bundle")
    subprocess.run([BINARY, "build", app, "-o", out], check=True, capture_output=True)
    return out


def run_bundle(bundle, event, *extra):
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "kappa_coordinator", bundle, "--event", json.dumps(event),
         "--workers", str(WORKERS)] + list(extra),
        cwd=bundle, env=dict(os.environ, PYTHONPATH=bundle), capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit("run failed:\n" + done.stderr)
    return elapsed, done.stdout.strip()


def pool_run(n):
    start = time.perf_counter()
    with concurrent.futures.ProcessPoolExecutor(WORKERS) as pool:
        futures = [pool.submit(trivial, i) for i in range(n)]
        total = sum(f.result() for f in futures)
    return time.perf_counter() - start, total


def spread(values):
    values = sorted(values)
    return "%.3f / %.3f / %.3f" % (values[0], statistics.median(values), values[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as tmp:
        spawn_bundle = build(tmp, "spawns", SPAWN_APP)
        fib_bundle = os.path.join(tmp, "fib-bundle")
        subprocess.run([BINARY, "build", os.path.join(ROOT, "examples", "fib"), "-o", fib_bundle],
                       check=True, capture_output=True)
        ping_bundle = build(tmp, "ping", PING_APP)
        store = os.path.join(tmp, "store.sqlite")

        ours, pool = [], []
        empty_ours, empty_pool, big_ours = [], [], []
        for _ in range(options.runs):
            ours.append(run_bundle(spawn_bundle, {"n": SPAWNS}, "--store", store)[0])
            pool.append(pool_run(SPAWNS)[0])
            empty_ours.append(run_bundle(spawn_bundle, {"n": 0}, "--store", store)[0])
            empty_pool.append(pool_run(0)[0])
            big_ours.append(run_bundle(spawn_bundle, {"n": 4 * SPAWNS}, "--store", store)[0])
        in_process = float(subprocess.run(
            [sys.executable, "-c",
             "import sys, time; sys.path.insert(0, sys.argv[1]); import handler, rt; "
             "t = time.perf_counter(); rt.run(handler.handler, {'n': %d}, None); print(time.perf_counter() - t)" % SPAWNS,
             spawn_bundle], check=True, capture_output=True, text=True).stdout)
        normal, chaos = [], []
        for _ in range(options.runs):
            normal.append(run_bundle(fib_bundle, {"n": 8})[0])
            chaos.append(run_bundle(fib_bundle, {"n": 8}, "--chaos", "every")[0])
        hops, empty = [], []
        for _ in range(options.runs):
            hops.append(run_bundle(ping_bundle, {"hops": HOPS}, "--block-wait", "0", "--store", store)[0])
            empty.append(run_bundle(ping_bundle, {"hops": 1}, "--block-wait", "0", "--store", store)[0])

    ours_rate = [SPAWNS / t for t in ours]
    pool_rate = [SPAWNS / t for t in pool]
    throughput_ratio = statistics.median(ours_rate) / statistics.median(pool_rate)
    chaos_ratio = statistics.median(chaos) / statistics.median(normal)
    per_hop_ms = [(h - e) / (2 * HOPS - 1) * 1000 for h, e in zip(sorted(hops), sorted(empty))]
    lines = [
        "Produced by `python3 scripts/bench_runtime.py` (%d runs each; min / median / max)." % options.runs,
        "Wall time of whole runs, including starting the coordinator and %d workers." % WORKERS,
        "",
        "| benchmark | kappac | baseline | ratio (median) | target |",
        "| --- | --- | --- | ---: | --- |",
        "| (a) spawn+wait of a trivial task, tasks/s, durable checkpoints | %s | ProcessPoolExecutor: %s | %.2f× | ≥ 0.5× |" % (
            "%.0f / %.0f / %.0f" % (min(ours_rate), statistics.median(ours_rate), max(ours_rate)),
            "%.0f / %.0f / %.0f" % (min(pool_rate), statistics.median(pool_rate), max(pool_rate)),
            throughput_ratio),
        "| (b) fib(8) with spawn, seconds | `--chaos every`: %s | normal: %s | %.1f× slower | — |" % (
            spread(chaos), spread(normal), chaos_ratio),
        "| (c) one hop: durable call + resume from a 10 KB checkpoint on a warm worker, ms | %s | — | — | < 5 ms |" % (
            spread(per_hop_ms)),
        "",
        "(a) runs %d tasks; each costs the parent two coordinator calls (spawn, wait), each one an" % SPAWNS,
        "unwind of the stack, a pickled checkpoint and an SQLite commit, plus the child's",
        "invocation and result. (c) is measured as (time of %d hops − time of 1 hop) / %d; each hop is" % (HOPS, 2 * HOPS - 1),
        "an `enqueue` (checkpoint committed) and the other task's invocation from its checkpoint,",
        "so it is an upper bound on the resume latency alone.",
    ]
    fixed = statistics.median(empty_ours)
    per_task = (statistics.median(ours) - fixed) / SPAWNS * 1000
    per_task_big = (statistics.median(big_ours) - fixed) / (4 * SPAWNS) * 1000
    lines += [
        "",
        "**Where (a)'s time goes** (same run): a fixed %.2f s to start the coordinator and %d fresh" % (fixed, WORKERS),
        "worker interpreters (the pool forks its workers: %.3f s); then %.2f ms per task at %d tasks" % (
            statistics.median(empty_pool), per_task, SPAWNS),
        "and %.2f ms at %d. The task side itself is cheap (the same %d tasks take %.0f ms on the" % (
            per_task_big, 4 * SPAWNS, SPAWNS, in_process * 1000),
        "in-process runner), so the cost is (1) one pipe round trip per `wait` (spawn",
        "is pipelined: it needs no answer), with the coordinator and the workers sharing two cores,",
        "and (2) the checkpoint at every call re-pickling the parent's growing list of futures,",
        "which is quadratic in the fan-out (the per-task cost grows with the number of tasks). What",
        "it would take: pushing a finished child's result to the worker of a task holding its future,",
        "so that `wait` on a done future needs no round trip; incremental checkpoints (only changed",
        "frames; containers of futures pickled by id); pre-started (forkserver) workers.",
    ]
    text = "\n".join(lines)
    replace_section(os.path.join(ROOT, "docs", "benchmarks.md"), "Runtime", text)
    print(text)


if __name__ == "__main__":
    main()
