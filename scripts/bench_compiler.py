#!/usr/bin/env python3
"""Benchmark the compiler: `kappac check` and `kappac build` throughput in lines/s on large
handlers (and how the time grows when the input doubles), and startup on a small app.

Builds the release binary, prepares the inputs in a temporary directory, times each run side by
side in this one invocation, and writes its section of docs/benchmarks.md (run by
`scripts/bench`). Standard library only.

    python3 scripts/bench_compiler.py [--runs 5]
"""
import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from benchmarks_md import Summary, replace_section  # noqa: E402

BINARY = os.path.join(ROOT, "target", "release", "kappac")
TARGET_LINES_PER_SECOND = 500_000
TARGET_BUILD_LINES_PER_SECOND = 200_000
TARGET_STARTUP_MS = 10.0


def stdlib_corpus(path, import_rt=False):
    """Every stdlib module CPython compiles, concatenated into one handler-like file. With
    `import_rt`, methods named like coordinator calls (`wait`, ...) become pause points, which
    exercises the whole can-pause and restriction analysis (and reports thousands of errors)."""
    root = sysconfig.get_paths()["stdlib"]
    parts = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in ("site-packages", "test", "tests", "idlelib"))
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            try:
                with open(os.path.join(directory, name), encoding="utf-8") as f:
                    text = f.read()
                compile(text, name, "exec", dont_inherit=True)
            except (UnicodeDecodeError, SyntaxError, ValueError):
                continue
            if "from __future__" in text:
                continue  # only legal at the top of a module
            parts.append(text if text.endswith("\n") else text + "\n")
    text = ("import rt\n" if import_rt else "") + "".join(parts)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return text.count("\n")


def generated_corpus(path, target_lines=50_000):
    """A Kappa-style handler with many pausing functions, loops and classes."""
    out = ["import rt\nfrom rt import spawn, checkpoint\n\n\ndef leaf(x):\n    return x + 1\n\n"]
    lines = 8
    i = 0
    while lines < target_lines:
        out.append(
            f"""
def step{i}(xs, k):
    total = 0
    for x in xs:
        if x % k == 0:
            total += spawn(leaf, (x,)).wait()
        else:
            total += step{max(i - 1, 0)}([x], k + 1) if {i} > 0 else x
    checkpoint()
    return total


class Worker{i}:
    def __init__(self, q):
        self.q = q
        self.seen = []

    def run(self, n):
        while n > 0:
            self.q.enqueue(n)
            n -= 1
        return [self.q.dequeue() for _ in range(3)]

"""
        )
        lines += 23
        i += 1
    out.append("\ndef handler(event, context):\n    return step0(event['xs'], 2)\n")
    text = "".join(out)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return text.count("\n")


SMALL_APP = os.path.join(ROOT, "examples", "fib")


def time_runs(args, runs, must_succeed=False):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append(time.perf_counter() - start)
        if result.returncode not in ((0,) if must_succeed else (0, 1)):
            sys.exit(f"kappac failed ({result.returncode}): {' '.join(args)}\n{result.stderr.decode()}")
    return times


def throughput_table(rows, target):
    """Markdown rows: each input's lines/s (min, median, max) and its median against `target`."""
    table = [
        "| input | lines | lines/s min | median | max | median vs. target |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, lines, _times, rates in rows:
        median = statistics.median(rates)
        table.append(
            f"| {label} | {lines:,} | {rates[0]:,.0f} | {median:,.0f} | {rates[-1]:,.0f} "
            f"| {median / target:.2f}× |"
        )
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    options = parser.parse_args()

    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip() or "unknown"

    rows = []
    summary = Summary("compiler")
    with tempfile.TemporaryDirectory() as tmp:
        stdlib = os.path.join(tmp, "stdlib_concat.py")
        stdlib_rt = os.path.join(tmp, "stdlib_concat_rt.py")
        generated = os.path.join(tmp, "generated.py")
        doubled = os.path.join(tmp, "generated_x2.py")
        inputs = [
            ("stdlib concatenated", stdlib, stdlib_corpus(stdlib)),
            ("stdlib concatenated, importing rt", stdlib_rt, stdlib_corpus(stdlib_rt, True)),
            ("generated Kappa-style handler", generated, generated_corpus(generated)),
            ("generated handler, twice the size", doubled, generated_corpus(doubled, 100_000)),
        ]
        for label, path, lines in inputs:
            times = time_runs([BINARY, "check", path, "--target-version", "3.11"], options.runs)
            rates = sorted(lines / t for t in times)
            rows.append((label, lines, times, rates))
        build_rows = []
        output_lines = {}
        for label, path, lines in [inputs[0]] + inputs[2:]:
            app = os.path.join(tmp, "app-" + os.path.basename(path)[:-3])
            os.makedirs(app)
            os.link(path, os.path.join(app, "handler.py"))
            out = os.path.join(tmp, "bundle")
            times = time_runs([BINARY, "build", app, "-o", out, "--target-version", "3.11"], options.runs,
                              must_succeed=True)
            rates = sorted(lines / t for t in times)
            build_rows.append((label, lines, times, rates))
            with open(os.path.join(out, "handler.py"), encoding="utf-8") as f:
                output_lines[label] = f.read().count("\n")
        startup = time_runs([BINARY, "check", SMALL_APP], max(options.runs, 20))

    # Linearity: time per line of the doubled input relative to the single one.
    def scaling_of(pair):
        per_line = [statistics.median(r[2]) / r[1] for r in pair]
        return per_line[1] / per_line[0]

    scaling = scaling_of(rows[2:4])
    build_scaling = scaling_of(build_rows[1:3])

    lines_out = [
        "Produced by `python3 scripts/bench_compiler.py`. Times are wall-clock for the whole",
        "`kappac` process (release build).",
        "",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        f"- date: {datetime.date.today().isoformat()}, commit `{commit}`, {options.runs} runs each",
        "",
        "### `kappac check` throughput",
        "",
        f"Target: at least {TARGET_LINES_PER_SECOND:,} lines/s.",
        "",
    ]
    lines_out += throughput_table(rows, TARGET_LINES_PER_SECOND)
    lines_out += [
        "",
        "### `kappac build` throughput",
        "",
        f"Target: at least {TARGET_BUILD_LINES_PER_SECOND:,} lines/s. A build checks the handler,",
        "transforms every pausing function and writes the bundle (runtime included).",
        "",
    ]
    lines_out += throughput_table(build_rows, TARGET_BUILD_LINES_PER_SECOND)
    summary.add("`kappac check`, generated 50k-line handler", "lines/s", rows[2][3],
                TARGET_LINES_PER_SECOND, higher_is_better=True)
    summary.add("`kappac check`, stdlib concatenated", "lines/s", rows[0][3],
                TARGET_LINES_PER_SECOND, higher_is_better=True)
    summary.add("`kappac build`, generated 50k-line handler", "lines/s", build_rows[1][3],
                TARGET_BUILD_LINES_PER_SECOND, higher_is_better=True)
    with open(os.path.join(SMALL_APP, "handler.py")) as f:
        small_lines = f.read().count("\n")
    startup_ms = sorted(t * 1000 for t in startup)
    lines_out += [
        "",
        "The `importing rt` row turns every `.wait()`, `.enqueue()` and `.dequeue()` of the stdlib",
        "into a pause point, so the whole analysis runs and about 10,000 errors are rendered.",
        "",
        f"Scaling: doubling the generated handler changes the time per line by {scaling:.2f}× "
        f"for `check` and {build_scaling:.2f}× for `build` (1.00 is linear).",
        "",
        "**Where the time goes.** `check` and `build` are linear (the scaling above); absolute",
        "figures depend on the machine (compare the yardstick in the summary with yours). `check`",
        "reads, parses and analyzes the stdlib at %s lines/s; the generated" % (
            "{:,.0f}".format(statistics.median(rows[0][3]))),
        "handler is slower per line because every line of it is in a function that can pause, so",
        "the restriction checks and the transform's lowering (which `check` runs to report K037)",
        "run on all of it. `build` writes the transformed module, which for the generated handler",
        "is %.1f× its input (%s lines: every pausing function gets a continuation per pause point, a" % (
            output_lines[build_rows[1][0]] / build_rows[1][1], "{:,}".format(output_lines[build_rows[1][0]])),
        "rest-of-block function per compound statement and a next-iterations function per loop),",
        "plus the line map in the manifest; a profile (`perf record`) puts a third of the time in",
        "formatting and writing that output and about a fifth in parsing and analyzing the handler",
        "a second time (once for `check`, once for the transform). What it would take: emit",
        "continuations that share code (one function per loop body resumed through a dispatch",
        "argument, instead of copies), reuse the check's parse and analysis in `build`, and write",
        "the output with fewer small allocations.",
        "",
        "### Startup",
        "",
        f"`kappac check` of the {small_lines}-line app `examples/fib`, {len(startup)} runs: "
        f"min {startup_ms[0]:.1f} ms, median {statistics.median(startup_ms):.1f} ms, "
        f"max {startup_ms[-1]:.1f} ms (target < {TARGET_STARTUP_MS:.0f} ms; "
        f"median vs. target {statistics.median(startup_ms) / TARGET_STARTUP_MS:.2f}×).",
        "",
    ]
    summary.add("`kappac check` startup, 17-line app", "ms", startup_ms, TARGET_STARTUP_MS,
                higher_is_better=False)
    text = "\n".join(lines_out)
    replace_section(options.out, "Compiler", text)
    summary.save()
    print(text)


if __name__ == "__main__":
    main()
