"""Differential driver for compiled apps (standard library only).

    drive.py check APP BUILD      compare the original app (reference runtime, threads) with
                                  the compiled bundle run normally and as a chain of fresh
                                  interpreters, each applying one coordinator call
    drive.py reference APP        run the original app; print {"result", "spawns", "enqueued"}
    drive.py run BUILD            run the bundle in-process; print the same
    drive.py step BUILD STATE     one coordinator call: start (or unpickle STATE), run until the
                                  next call is applied, pickle the state back; print "more",
                                  or the outcome when the run has finished

The event is read from APP/event.json (BUILD/event.json for run and step).
"""

import contextlib
import json
import os
import pickle
import subprocess
import sys


@contextlib.contextmanager
def any_size_ints():
    """Integers of any size to and from JSON text (CPython 3.11+ limits int <-> text conversion
    to 4300 digits by default), for the driver's own conversions only: the app's code keeps
    Python's limit, as it does in a worker."""
    limit = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 0
    if limit:
        sys.set_int_max_str_digits(0)
    try:
        yield
    finally:
        if limit:
            sys.set_int_max_str_digits(limit)


def load_event(directory):
    with open(os.path.join(directory, "event.json")) as f, any_size_ints():
        return json.load(f)


# The app's own printed output goes to stderr; stdout carries only the driver's JSON.
_STDOUT = sys.stdout
sys.stdout = sys.stderr


def emit(line):
    _STDOUT.write(line + "\n")
    _STDOUT.flush()


def outcome_json(result=None, error=None, **counts):
    if error is not None:
        payload = {"error": type(error).__name__, "message": str(error)}
    else:
        payload = {"result": result}
    payload.update(counts)
    with any_size_ints():
        return json.dumps(payload, sort_keys=True)


def reference(app):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference_rt"))
    sys.path.insert(1, app)
    os.chdir(app)
    import rt
    import handler

    try:
        result, error = rt.run_handler(handler.handler, load_event(app)), None
    except Exception as e:
        result, error = None, e
    emit(outcome_json(result, error, spawns=rt.counts["spawns"], enqueued=rt.counts["enqueued"]))


def _import_bundle(build):
    sys.path.insert(0, build)
    os.chdir(build)
    import handler
    from kappa_coordinator import inprocess as local

    return handler, local


def run(build):
    handler, local = _import_bundle(build)
    scheduler = local.Scheduler()
    try:
        result, error = scheduler.run(handler.handler, (load_event(build), None)), None
    except Exception as e:
        result, error = None, e
    emit(outcome_json(result, error, spawns=scheduler.tasks_spawned, enqueued=scheduler.objects_enqueued))


def step(build, state):
    handler, local = _import_bundle(build)
    if os.path.exists(state):
        with open(state, "rb") as f:
            scheduler = pickle.load(f)
    else:
        scheduler = local.Scheduler()
        scheduler.start(handler.handler, (load_event(build), None))
    try:
        finished = scheduler.step_call()
    except Exception as e:  # the run failed: report like `run` would
        emit(outcome_json(None, e, spawns=scheduler.tasks_spawned, enqueued=scheduler.objects_enqueued))
        return
    if finished:
        try:
            result, error = scheduler.result(), None
        except Exception as e:
            result, error = None, e
        emit(outcome_json(result, error, spawns=scheduler.tasks_spawned, enqueued=scheduler.objects_enqueued))
        return
    data = scheduler.checkpoint()
    with open(state + ".tmp", "wb") as f:
        f.write(data)
    os.replace(state + ".tmp", state)
    emit("more")


def _python(*args):
    done = subprocess.run([sys.executable, os.path.abspath(__file__)] + list(args), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit("drive.py %s failed:\n%s" % (" ".join(args), done.stderr))
    return done.stdout.strip()


def check(app, build):
    """Exits non-zero unless both compiled runs match the reference. With
    `expect_checkpoint_error` in APP/expect.json, the chain run must instead fail with a
    checkpoint error containing that text."""
    import tempfile

    expect = {}
    if os.path.exists(os.path.join(app, "expect.json")):
        with open(os.path.join(app, "expect.json")) as f:
            expect = json.load(f)
    expected = json.loads(_python("reference", app))
    normal = json.loads(_python("run", build))
    problems = []
    if normal != expected:
        problems.append("normal run: %s\n   expected: %s" % (normal, expected))
    with tempfile.TemporaryDirectory() as tmp:
        state = os.path.join(tmp, "state.pickle")
        steps = 0
        while True:
            if "expect_checkpoint_error" in expect:
                done = subprocess.run([sys.executable, os.path.abspath(__file__), "step", build, state], capture_output=True, text=True)
                if done.returncode != 0:
                    if "CheckpointError" in done.stderr and expect["expect_checkpoint_error"] in done.stderr:
                        emit(json.dumps({"steps": steps, "checkpoint_error": expect["expect_checkpoint_error"]}))
                        return
                    raise SystemExit("unexpected failure:\n" + done.stderr)
                out = done.stdout.strip()
            else:
                out = _python("step", build, state)
            steps += 1
            if out != "more":
                break
            if steps > 5000:
                raise SystemExit("chain run did not finish in 5000 steps")
        if "expect_checkpoint_error" in expect:
            raise SystemExit("%s: expected a checkpoint error, but the chain run finished: %s" % (app, out))
        chained = json.loads(out)
        if chained != expected:
            problems.append("chain run (%d fresh interpreters): %s\n   expected: %s" % (steps, chained, expected))
    if problems:
        raise SystemExit("%s:\n%s" % (app, "\n".join(problems)))
    emit(json.dumps({"steps": steps, "outcome": expected}, sort_keys=True))


def main():
    command, args = sys.argv[1], [os.path.abspath(a) for a in sys.argv[2:]]
    if command == "check":
        with any_size_ints():  # it runs no app code itself
            check(*args)
        return
    {"reference": reference, "run": run, "step": step}[command](*args)


if __name__ == "__main__":
    main()
