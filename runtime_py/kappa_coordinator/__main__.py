"""Runs a bundle on the local coordinator and prints the handler's result as one line of JSON.

    python3 -m kappa_coordinator BUNDLE [--event JSON | --event-file PATH] [--workers N]
                                        [--timeout S] [--store PATH|redis://HOST:PORT/DB]
                                        [--chaos every|kill=P,seed=S[,timed]] [--listen HOST:PORT]
"""

import argparse
import json
import signal
import sys

from kappa_coordinator.coordinator import Coordinator, RunFailed
from kappa_coordinator.store import StoreError
from rt import lifetime


def _stop(signum, frame):
    # Once: the run stops its workers on the way out, which a second signal must not cut short.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt("signal %d" % signum)


def main(argv=None, prog="python3 -m kappa_coordinator", bundle=None):
    """`bundle`: the bundle to run, when the caller knows it (`python3 BUNDLE`); otherwise the
    first argument."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    if bundle is None:
        parser.add_argument("bundle", help="a directory written by `kappac build`")
    events = parser.add_mutually_exclusive_group()
    events.add_argument("--event", default=None, help="the event, as JSON (default: {})")
    events.add_argument("--event-file", default=None, help="a file holding the event, as JSON")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes, 1 or more (default: the number of CPUs)")
    parser.add_argument("--timeout", type=float, default=None, help="time limit of one invocation, seconds")
    parser.add_argument("--block-wait", type=float, default=1.0, help="how long a blocked call waits in place")
    parser.add_argument("--store", default=None,
                        help="where checkpoints and calls are kept: a SQLite file, or redis://HOST:PORT/DB "
                             "(needs the redis package); default: memory")
    parser.add_argument("--listen", default=None, metavar="HOST:PORT",
                        help="workers join the run over TCP at this address (port 0: a free one), "
                             "after proving they know the run's secret; default: pipes")
    parser.add_argument("--chaos", default=None,
                        help="kill workers to test recovery: 'every' (at every coordinator call) or "
                             "'kill=P,seed=S' (at calls, with probability P, reproducibly per seed; add ',timed' "
                             "to kill in the middle of invocations too, not reproducibly)")
    parser.add_argument("--python", default=None,
                        help="the interpreter for workers (default: the one running the coordinator)")
    options = parser.parse_args(argv)
    if bundle is not None:
        options.bundle = bundle
    if hasattr(sys, "set_int_max_str_digits"):
        # CPython 3.11+ refuses to convert integers of more than 4300 digits to or from text
        # by default; events and results are integers of any size (the result arrives as JSON
        # text from the worker, which lifts the limit for it). No app code runs here.
        sys.set_int_max_str_digits(0)
    source = "--event"
    text = options.event if options.event is not None else "{}"
    if options.event_file is not None:
        source = options.event_file
        try:
            with open(options.event_file, "rb") as f:
                text = f.read().decode("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            print("error: cannot read the event %s: %s" % (source, error), file=sys.stderr)
            return 2
    try:
        event = json.loads(text)
    except ValueError as error:
        print("error: the event (%s) is not JSON: %s" % (source, error), file=sys.stderr)
        return 2
    except RecursionError:
        print("error: the event (%s) nests deeper than Python's json module reads" % source, file=sys.stderr)
        return 2
    listen = None
    if options.listen is not None:
        host, _, port = options.listen.rpartition(":")
        if not host or not port.isdigit() or int(port) > 65535:
            print("error: --listen takes HOST:PORT (port 0: a free one), not `%s`" % options.listen,
                  file=sys.stderr)
            return 2
        listen = (host.strip("[]"), int(port))
    try:
        coordinator = Coordinator(options.bundle, workers=options.workers, timeout=options.timeout,
                                  block_wait=options.block_wait, chaos=options.chaos, store=options.store,
                                  python=options.python, listen=listen)
    except (ValueError, StoreError) as error:
        print("error: %s" % error, file=sys.stderr)
        return 2
    # Killing whoever started the coordinator (`kappac run`), or sending it SIGTERM, stops the
    # run like Ctrl-C: its workers and their subprocesses are killed, and it says so.
    lifetime.signal_when_parent_dies(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        result = coordinator.run(event)
    except KeyboardInterrupt:
        print("run stopped (interrupted): its workers were stopped; " + coordinator.summary(), file=sys.stderr)
        return 130
    except StoreError as error:
        # Nothing more can be applied once a call cannot be stored: the run stops, its workers
        # stopped; what was stored stays (a durable store keeps the run as "running").
        print("error: %s" % error, file=sys.stderr)
        print("run failed: " + coordinator.summary(), file=sys.stderr)
        return 1
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
