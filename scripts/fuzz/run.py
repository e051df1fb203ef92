#!/usr/bin/env python3
"""Differential fuzzer of kappac (issue 10): generated programs, compiled and run in several
modes, against the untransformed program on the reference runtime.

    run.py [--seeds A..B] [--jobs N] [--modes normal,every,kill] [--time-limit SECONDS]
           [--kappac PATH] [--findings DIR] [--budget N] [--timeout SECONDS]

For each seed in A..B (B excluded): generate.py writes an app (handler.py, event.json) into a
temporary directory; `kappac check` runs on it: an error (a K0xx restriction) is a *refusal*,
counted per code. Otherwise `kappac emit` must give Python that compiles, the reference runtime
(`tests/py/drive.py reference`) gives the expected result and the numbers of spawns and
enqueued objects, and `kappac run` must give the same in every mode:

    normal   kappac run APP --event-file APP/event.json --workers 2 --block-wait 0.2
    every    ... --chaos every
    kill     ... --chaos kill=0.3,seed=SEED

A finding is saved under FINDINGS/<seed>-<kind>/ (handler.py, event.json, finding.json, report.txt):

    check-panic, emit-panic, run-panic   kappac exited 101 or printed "panicked"
    hang                                 a kappac command ran past --timeout (default 60 s)
    emit-invalid                         emitted code CPython does not compile
    not-compiled                         the run failed with NotCompiled (a missed pause point)
    chaos-limit                          --chaos kill killed a task before its next call more often than
                                         the runtime's restart bound allows (probabilistic, not a divergence)
    runtime-error                        a traceback from rt/ or kappa_coordinator/ themselves
    divergence                           another result, another error, or other counts
    false-refusal                        check reports K001 on a program CPython compiles
    generator                            the reference run failed outside the program (a bug here)

The last line is a summary; the exit status is 1 when anything was found.
"""

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import generate  # noqa: E402

DRIVE = os.path.join(ROOT, "tests", "py", "drive.py")
MODES = {
    "normal": lambda seed: [],
    "every": lambda seed: ["--chaos", "every"],
    "kill": lambda seed: ["--chaos", "kill=0.3,seed=%d" % seed],
}


class Outcome:
    """What one step gave: `kind` is None when all is well, else a finding kind."""

    def __init__(self, kind=None, mode=None, detail="", expected=None, got=None, command=None, stdout="", stderr=""):
        self.kind = kind
        self.mode = mode
        self.detail = detail
        self.expected = expected
        self.got = got
        self.command = command
        self.stdout = stdout
        self.stderr = stderr


def run_command(command, timeout, stdin=None, env=None):
    """(returncode or None on timeout, stdout, stderr). The process group is killed on timeout."""
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True, env=env,
    )
    try:
        out, err = process.communicate(stdin, timeout=timeout)
        return process.returncode, out, err
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, 9)
        except ProcessLookupError:
            pass
        out, err = process.communicate()
        return None, out, err


def panicked(code, err):
    return code == 101 or "panicked at" in err or "panicked" in err.split("\n", 1)[0]


def counts(stderr):
    """(spawned, enqueued) from the run's summary line, or None."""
    for line in reversed(stderr.splitlines()):
        if line.startswith("run finished: ") or line.startswith("run failed: "):
            spawned = re.search(r"\((\d+) spawned\)", line)
            enqueued = re.search(r"(\d+) objects enqueued", line)
            if spawned and enqueued:
                return int(spawned.group(1)), int(enqueued.group(1))
    return None


def tool_traceback(stderr):
    """A traceback whose innermost frame is in the runtime's own files (rt/, kappa_coordinator/)
    rather than in the user's handler.py: the tool itself crashed."""
    blocks = stderr.split("Traceback (most recent call last):")[1:]
    for block in blocks:
        frames = re.findall(r'File "([^"]+)", line \d+', block)
        if frames and re.search(r"(^|/)(rt|kappa_coordinator)/[^/]+\.py$", frames[-1]):
            # an error the runtime raises on purpose (a user error it reports) names itself
            last = block.strip().splitlines()[-1] if block.strip() else ""
            if not re.match(r"^(rt\.|kappa_coordinator\.)?\w*(RunFailed|NotCompiled|Deadlock|CheckpointError)", last):
                return True
    return False


class Oracle:
    def __init__(self, kappac, timeout=60.0, python="python3"):
        self.kappac = os.path.abspath(kappac)
        self.timeout = timeout
        self.python = python

    def env(self, cache):
        env = dict(os.environ)
        env["XDG_CACHE_HOME"] = cache
        return env

    def check(self, app):
        """(Outcome or None, refusal codes, warning codes)."""
        command = [self.kappac, "check", app, "--format", "json"]
        code, out, err = run_command(command, self.timeout)
        if code is None:
            return Outcome("hang", "check", "kappac check did not finish", command=command, stderr=err), [], []
        if panicked(code, err):
            return Outcome("check-panic", "check", "kappac check panicked", command=command, stdout=out, stderr=err), [], []
        try:
            diagnostics = json.loads(out or "[]")
        except ValueError:
            return Outcome("check-panic", "check", "kappac check printed no JSON (exit %s)" % code, command=command, stdout=out, stderr=err), [], []
        errors = sorted({d["code"] for d in diagnostics if d.get("severity") == "error"})
        warnings = sorted({d["code"] for d in diagnostics if d.get("severity") != "error"})
        if "K001" in errors:
            source = open(os.path.join(app, "handler.py")).read()
            try:
                compile(source, "handler.py", "exec")
            except SyntaxError:
                return Outcome("generator", "check", "the generator wrote a program CPython does not compile"), errors, warnings
            messages = [d["message"] for d in diagnostics if d["code"] == "K001"]
            return Outcome("false-refusal", "check", "K001 on a program CPython compiles: %s" % messages, command=command, stdout=out), errors, warnings
        return None, errors, warnings

    def emit(self, app):
        command = [self.kappac, "emit", os.path.join(app, "handler.py")]
        code, out, err = run_command(command, self.timeout)
        if code is None:
            return Outcome("hang", "emit", "kappac emit did not finish", command=command, stderr=err)
        if panicked(code, err):
            return Outcome("emit-panic", "emit", "kappac emit panicked", command=command, stdout=out, stderr=err)
        if code != 0:
            return Outcome("divergence", "emit", "emit refused a program check accepted (exit %d)" % code, command=command, stdout=out, stderr=err)
        try:
            compile(out, "emitted handler.py", "exec")
        except SyntaxError as error:
            return Outcome("emit-invalid", "emit", "emitted code does not compile: %s (line %s)" % (error.msg, error.lineno),
                           command=command, stdout=out, stderr=err)
        return None

    def reference(self, app):
        """(expected dict, Outcome or None)."""
        command = [self.python, DRIVE, "reference", app]
        code, out, err = run_command(command, self.timeout)
        if code is None:
            return None, Outcome("generator", "reference", "the reference run did not finish", stderr=err)
        try:
            return json.loads(out.strip().splitlines()[-1]), None
        except (ValueError, IndexError):
            return None, Outcome("generator", "reference", "the reference run printed no JSON", stdout=out, stderr=err)

    def run(self, app, mode, seed, expected, cache):
        command = [self.kappac, "run", app, "--event-file", os.path.join(app, "event.json"), "--workers", "2",
                   "--block-wait", "0.2"] + MODES[mode](seed)
        started = time.time()
        code, out, err = run_command(command, self.timeout, env=self.env(cache))
        elapsed = time.time() - started

        def outcome(kind, detail, got=None):
            return Outcome(kind, mode, detail, expected=expected, got=got, command=command, stdout=out, stderr=err)

        if code is None:
            return outcome("hang", "kappac run did not finish in %.0f s" % self.timeout), elapsed
        if panicked(code, err):
            return outcome("run-panic", "kappac run panicked"), elapsed
        if "NotCompiled" in err or "kappac did not compile" in err:
            return outcome("not-compiled", "the run failed with NotCompiled"), elapsed
        if tool_traceback(err):
            return outcome("runtime-error", "a traceback from the runtime itself"), elapsed
        if code == 1 and mode == "kill" and "without reaching a new checkpoint" in err and "chaos kill rate" in err:
            # the runtime's bound on restarts without progress: a task killed before its next
            # call was stored, more than max_restarts times in a row (about 0.3**6 per segment)
            return outcome("chaos-limit", "the chaos kill rate exceeded the runtime's restart bound"), elapsed
        if "error" in expected:
            wanted = "%s: %s" % (expected["error"], expected["message"])
            if code != 1 or wanted not in err:
                last = out.strip().splitlines()[-1] if out.strip() else None
                return outcome("divergence", "expected the run to fail with %r (exit %s)" % (wanted, code), got=last), elapsed
            return None, elapsed
        if code != 0:
            return outcome("divergence", "the run failed (exit %s); the reference returned a result" % code), elapsed
        lines = out.strip().splitlines()
        try:
            result = json.loads(lines[-1])
        except (ValueError, IndexError):
            return outcome("divergence", "the last line of stdout is not JSON"), elapsed
        if result != expected["result"]:
            return outcome("divergence", "another result", got=result), elapsed
        found = counts(err)
        if found is None:
            return outcome("divergence", "no summary line on stderr"), elapsed
        if found != (expected["spawns"], expected["enqueued"]):
            return outcome("divergence", "%d spawned and %d enqueued, expected %d and %d"
                           % (found + (expected["spawns"], expected["enqueued"])), got=list(found)), elapsed
        return None, elapsed

    def program(self, app, seed, modes, cache, stop_at_first=True):
        """Everything about one app: a dict with `refused` (codes), `warnings`, `findings`
        (Outcomes), `times` (per mode)."""
        report = {"refused": [], "warnings": [], "findings": [], "times": {}, "expected": None}
        finding, errors, warnings = self.check(app)
        report["warnings"] = warnings
        if finding:
            report["findings"].append(finding)
            return report
        if errors:
            report["refused"] = errors
            return report
        finding = self.emit(app)
        if finding:
            report["findings"].append(finding)
            if stop_at_first:
                return report
        expected, finding = self.reference(app)
        if finding:
            report["findings"].append(finding)
            return report
        report["expected"] = expected
        for mode in modes:
            finding, elapsed = self.run(app, mode, seed, expected, cache)
            report["times"][mode] = elapsed
            if finding:
                report["findings"].append(finding)
                if stop_at_first:
                    break
        return report


def save_finding(directory, app, seed, finding, budget):
    os.makedirs(directory, exist_ok=True)
    for name in ("handler.py", "event.json"):
        shutil.copy(os.path.join(app, name), os.path.join(directory, name))
    meta = {
        "seed": seed,
        "kind": finding.kind,
        "mode": finding.mode,
        "detail": finding.detail,
        "budget": budget,
        "expected": finding.expected,
        "got": finding.got,
        "command": finding.command,
    }
    with open(os.path.join(directory, "finding.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
        f.write("\n")
    with open(os.path.join(directory, "report.txt"), "w") as f:
        f.write("kind: %s\nmode: %s\nseed: %s\n%s\n\n" % (finding.kind, finding.mode, seed, finding.detail))
        if finding.command:
            f.write("command: %s\n\n" % " ".join(finding.command))
        if finding.expected is not None:
            f.write("expected: %s\n\n" % json.dumps(finding.expected, sort_keys=True))
        if finding.got is not None:
            f.write("got: %s\n\n" % json.dumps(finding.got, sort_keys=True))
        f.write("--- stdout (tail)\n%s\n--- stderr (tail)\n%s\n" % (finding.stdout[-6000:], finding.stderr[-12000:]))


def parse_seeds(text):
    if ".." in text:
        a, b = text.split("..", 1)
        return range(int(a), int(b))
    return range(int(text), int(text) + 1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0..100", help="A..B: seeds A to B-1 (default 0..100)")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--modes", default="normal,every,kill")
    parser.add_argument("--time-limit", type=float, default=None, help="stop starting programs after this many seconds")
    parser.add_argument("--kappac", default=os.path.join(ROOT, "target", "release", "kappac"))
    parser.add_argument("--findings", default=os.path.join(HERE, "findings"))
    parser.add_argument("--budget", type=int, default=32, help="the generator's coordinator-call budget")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per kappac command (a hang guard)")
    parser.add_argument("--all-modes", action="store_true", help="run every mode even after a finding")
    parser.add_argument("--disable", default="", help="generator kinds to leave out (e.g. del: a known bug that masks others)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    for m in modes:
        if m not in MODES:
            parser.error("unknown mode %r (known: %s)" % (m, ", ".join(MODES)))
    if not os.path.exists(args.kappac):
        parser.error("no kappac at %s (build it, or pass --kappac)" % args.kappac)
    seeds = parse_seeds(args.seeds)
    oracle = Oracle(args.kappac, args.timeout)
    started = time.time()
    lock = threading.Lock()
    stats = {"programs": 0, "compiled": 0, "refused": {}, "findings": {}, "warnings": {}, "mode_time": {}, "finding_dirs": [], "refused_programs": 0}
    work = tempfile.mkdtemp(prefix="kappac-fuzz-")

    def one(seed):
        if args.time_limit is not None and time.time() - started > args.time_limit:
            return
        app = os.path.join(work, "app-%d" % seed)
        cache = os.path.join(work, "cache-%d" % seed)
        try:
            generate.write_app(app, seed, args.budget, [k for k in args.disable.split(",") if k])
            report = oracle.program(app, seed, modes, cache, stop_at_first=not args.all_modes)
        except Exception as error:  # a bug of this script: report it as a finding of its own
            import traceback
            report = {"refused": [], "warnings": [], "times": {}, "expected": None,
                      "findings": [Outcome("generator", "fuzz", "the fuzzer failed: %r" % error, stderr=traceback.format_exc())]}
        with lock:
            stats["programs"] += 1
            if report["refused"]:
                stats["refused_programs"] += 1
            for code in report["refused"]:
                stats["refused"][code] = stats["refused"].get(code, 0) + 1
            for code in report["warnings"]:
                stats["warnings"][code] = stats["warnings"].get(code, 0) + 1
            if not report["refused"] and report["expected"] is not None:
                stats["compiled"] += 1
            for mode, t in report["times"].items():
                total, n = stats["mode_time"].get(mode, (0.0, 0))
                stats["mode_time"][mode] = (total + t, n + 1)
            for finding in report["findings"]:
                stats["findings"][finding.kind] = stats["findings"].get(finding.kind, 0) + 1
                directory = os.path.join(args.findings, "%d-%s" % (seed, finding.kind))
                if finding.mode not in (None, "check", "emit", "reference", "fuzz") and finding.kind == "divergence":
                    directory += "-" + finding.mode
                save_finding(directory, app, seed, finding, args.budget)
                stats["finding_dirs"].append(directory)
                if not args.quiet:
                    print("seed %d: %s in %s: %s -> %s" % (seed, finding.kind, finding.mode, finding.detail, directory), flush=True)
            if not args.quiet and stats["programs"] % 50 == 0:
                print("... %d programs, %.0f s" % (stats["programs"], time.time() - started), flush=True)
        shutil.rmtree(app, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)

    try:
        if args.jobs <= 1:
            for seed in seeds:
                one(seed)
        else:
            with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
                list(pool.map(one, seeds))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    elapsed = time.time() - started
    by_code = ", ".join("%s %d" % (c, n) for c, n in sorted(stats["refused"].items())) or "none"
    finding_total = sum(stats["findings"].values())
    by_kind = ", ".join("%s %d" % (k, n) for k, n in sorted(stats["findings"].items())) or "none"
    times = ", ".join("%s %.2f s" % (m, t / n) for m, (t, n) in sorted(stats["mode_time"].items()) if n)
    warnings = ", ".join("%s %d" % (c, n) for c, n in sorted(stats["warnings"].items())) or "none"
    print("warnings (programs): %s; mean run time: %s" % (warnings, times or "-"))
    for directory in stats["finding_dirs"]:
        print("finding: %s" % directory)
    print("fuzz: %d programs, %d compiled, %d refused (%s), %d divergences, %d findings (%s), %.0f s" % (
        stats["programs"], stats["compiled"], stats["refused_programs"], by_code,
        stats["findings"].get("divergence", 0), finding_total, by_kind, elapsed))
    return 1 if finding_total else 0


if __name__ == "__main__":
    sys.exit(main())
