"""Shared by the benchmark scripts: each owns one `## Section` of docs/benchmarks.md and
replaces it, leaving the others as they are."""
import os
import re

HEADER = "# Benchmarks\n\nEach section is written by the script it names; figures in a section were measured\nside by side in one run of that script.\n"


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
