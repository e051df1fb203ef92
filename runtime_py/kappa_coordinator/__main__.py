"""Runs a bundle on the local coordinator and prints the handler's result as one line of JSON.

    python3 -m kappa_coordinator BUNDLE [--event JSON] [--workers N] [--timeout S]
                                        [--store PATH] [--chaos every|kill=P,seed=S]
"""

import argparse
import json
import sys

from kappa_coordinator.local import Coordinator, RunFailed


def main(argv=None):
    parser = argparse.ArgumentParser(prog="kappa_coordinator", description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("--event", default="{}", help="the event, as JSON")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=None, help="time limit of one invocation, seconds")
    parser.add_argument("--block-wait", type=float, default=1.0, help="how long a blocked call waits in place")
    parser.add_argument("--store", default=None, help="SQLite file for checkpoints and calls")
    parser.add_argument("--chaos", default=None)
    parser.add_argument("--python", default=None)
    options = parser.parse_args(argv)
    if hasattr(sys, "set_int_max_str_digits"):
        # CPython 3.11+ refuses to convert integers of more than 4300 digits to or from text
        # by default; events and results are integers of any size (the result arrives as JSON
        # text from the worker, which lifts the limit for it). No app code runs here.
        sys.set_int_max_str_digits(0)
    try:
        event = json.loads(options.event)
    except ValueError as error:
        print("error: --event is not JSON: %s" % error, file=sys.stderr)
        return 2
    try:
        coordinator = Coordinator(options.bundle, workers=options.workers, timeout=options.timeout,
                                  block_wait=options.block_wait, chaos=options.chaos, store=options.store,
                                  python=options.python)
    except ValueError as error:
        print("error: %s" % error, file=sys.stderr)
        return 2
    try:
        result = coordinator.run(event)
    except RunFailed as failure:
        sys.stderr.write(str(failure))
        if not str(failure).endswith("\n"):
            sys.stderr.write("\n")
        print("run failed: " + coordinator.summary(), file=sys.stderr)
        return 1
    print("run finished: " + coordinator.summary(), file=sys.stderr)
    sys.stdout.write(result + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
