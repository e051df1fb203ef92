"""Shared by the benchmark scripts: each owns one `## Section` of docs/benchmarks.md and
replaces it, leaving the others as they are, and records its headline figures (min / median /
max against a target) for the summary table `scripts/bench` writes at the top."""
import json
import os
import re
import statistics

SUMMARY_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "target", "bench")

HEADER = "# Benchmarks\n\nWritten by `scripts/bench`, which runs every benchmark script; each section is written by the\nscript it names, and the figures in a section were measured side by side in one run.\n"


def replace_section(path, title, body):
    text = open(path).read() if os.path.exists(path) else HEADER
    if not text.startswith("# Benchmarks"):
        text = HEADER + "\n" + text
    section = "## %s\n\n%s\n" % (title, body.strip("\n"))
    pattern = re.compile(r"^## %s\n.*?(?=^## |\Z)" % re.escape(title), re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(text.rstrip("\n") + "\n")


def spread(values, fmt="%.3f"):
    """`min / median / max` of the values, each formatted with `fmt`."""
    values = sorted(values)
    return " / ".join(fmt % v for v in (values[0], statistics.median(values), values[-1]))


class Summary:
    """Headline figures of one script, saved as target/bench/<name>.json."""

    def __init__(self, name):
        self.name = name
        self.rows = []

    def add(self, figure, unit, values, target, higher_is_better, note=""):
        values = sorted(values)
        median = statistics.median(values)
        met = median >= target if higher_is_better else median <= target
        ratio = median / target if target else None
        self.rows.append({
            "figure": figure, "unit": unit, "min": values[0], "median": median, "max": values[-1],
            "target": ("≥ " if higher_is_better else "≤ ") + _number(target) + " " + unit,
            "ratio": ratio, "met": met, "note": note,
        })

    def save(self):
        os.makedirs(SUMMARY_DIR, exist_ok=True)
        with open(os.path.join(SUMMARY_DIR, self.name + ".json"), "w") as f:
            json.dump(self.rows, f, indent=1)


def _number(value):
    if value >= 1000:
        return "{:,.0f}".format(value)
    return ("%.3g" % value)
