#!/usr/bin/env python3
"""Group the findings of run.py / mutate.py by a rough signature, to see how many distinct
problems a long run found.

    triage.py FINDINGS_DIR [--show N]

The signature of a divergence is the first difference between the expected and the actual
trace (an error type that appears, a result that differs) or the last line of the run's error;
of NotCompiled, the kind of kappac function named; of a mutant, its kind and signature.
"""

import argparse
import json
import os
import re
import sys


def first_difference(expected, got):
    """A short description of where two traces first differ."""
    if isinstance(expected, dict) and isinstance(got, dict):
        for key in sorted(set(expected) | set(got)):
            if expected.get(key) != got.get(key):
                return first_difference(expected.get(key), got.get(key))
        return "equal"
    if isinstance(expected, list) and isinstance(got, list):
        for e, g in zip(expected, got):
            if e != g:
                m = re.search(r'"(\w+Error|NotCompiled)"', json.dumps(g))
                return "got %s" % m.group(1) if m else first_difference(e, g)
        rest = got[len(expected):] or expected[len(got):]
        m = re.search(r'"(\w+Error|NotCompiled)"', json.dumps(rest))
        return "got %s" % m.group(1) if m else "length %d != %d" % (len(expected), len(got))
    text = json.dumps(got)
    m = re.search(r'"(\w+Error|NotCompiled|AppError)"', text)
    if m:
        return "got %s" % m.group(1)
    return "value differs"


def signature(directory):
    with open(os.path.join(directory, "finding.json")) as f:
        meta = json.load(f)
    kind = meta["kind"]
    if meta.get("mode") == "mutate":
        return "%s: %s" % (kind, meta.get("signature"))
    report = open(os.path.join(directory, "report.txt")).read()
    if kind == "not-compiled":
        m = re.search(r"inside `(\w+)`", report)
        name = re.sub(r"_kappa_\w+?_([a-z])\d+$", r"_kappa_*_\1N", m.group(1)) if m else "?"
        return "not-compiled in %s" % name
    if kind == "divergence":
        detail = meta.get("detail", "")
        if "another result" in detail and isinstance(meta.get("expected"), dict):
            return "divergence (%s): %s" % (meta.get("mode"), first_difference(meta["expected"].get("result"), meta.get("got")))
        lines = [l for l in report.splitlines() if re.match(r"^\w*(Error|Exception|NotCompiled)\b", l)]
        return "divergence (%s): %s %s" % (meta.get("mode"), detail[:60], lines[-1][:80] if lines else "")
    return "%s (%s): %s" % (kind, meta.get("mode"), meta.get("detail", "")[:80])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("findings")
    parser.add_argument("--show", type=int, default=3, help="finding directories listed per group")
    args = parser.parse_args(argv)
    groups = {}
    for name in sorted(os.listdir(args.findings)):
        directory = os.path.join(args.findings, name)
        if os.path.isfile(os.path.join(directory, "finding.json")):
            groups.setdefault(signature(directory), []).append(directory)
    for sig, dirs in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        print("%4d  %s" % (len(dirs), sig))
        for d in dirs[: args.show]:
            print("        %s" % d)
    print("%d findings, %d groups" % (sum(len(d) for d in groups.values()), len(groups)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
