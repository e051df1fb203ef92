#!/usr/bin/env python3
"""Delta-debugging minimizer of a fuzzer finding.

    minimize.py FINDING_DIR [--kappac PATH] [--max-tests N] [--time-limit SECONDS] [--tries N]

FINDING_DIR holds handler.py, event.json and finding.json (written by run.py or mutate.py).
The program is reduced on its AST: whole definitions, then chunks of every statement list
(ddmin: halves, quarters, ... single statements; an emptied body becomes `pass`), compound
statements replaced by one of their blocks, `elif`/`else`/handler/`finally` parts dropped,
expressions replaced by a constant or one of their operands. A candidate is kept only if it
still gives the same finding kind (and, for a divergence, the same sort of divergence: another
result, other counts, a failed run, a wrong error) in the same mode. The result is written to
FINDING_DIR/minimized.py, with what it gives in FINDING_DIR/minimized.txt.

Findings that depend on timing (`--chaos kill`) may not reproduce every time: `--tries N`
runs each candidate up to N times.
"""

import argparse
import ast
import copy
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import run as fuzzrun  # noqa: E402

STMT_FIELDS = ("body", "orelse", "finalbody")


def divergence_sort(detail):
    for key, sort in (("another result", "result"), ("spawned and", "counts"), ("the run failed", "failed"),
                      ("expected the run to fail", "error"), ("not JSON", "json"), ("no summary", "summary"),
                      ("emit refused", "emit-refused")):
        if key in detail:
            return sort
    return detail


class Predicate:
    def __init__(self, meta, event, kappac, tries, timeout):
        self.meta = meta
        self.event = event
        self.kind = meta["kind"]
        self.mode = meta.get("mode")
        self.seed = meta.get("seed", 0)
        self.sort = divergence_sort(meta.get("detail", "")) if self.kind == "divergence" else None
        self.tries = tries
        self.oracle = fuzzrun.Oracle(kappac, timeout)
        self.work = tempfile.mkdtemp(prefix="kappac-min-")
        self.tests = 0
        self.cache = {}
        self.last = None

    def close(self):
        shutil.rmtree(self.work, ignore_errors=True)

    def outcome(self, source):
        app = os.path.join(self.work, "app")
        shutil.rmtree(app, ignore_errors=True)
        os.makedirs(app)
        with open(os.path.join(app, "handler.py"), "w") as f:
            f.write(source)
        with open(os.path.join(app, "event.json"), "w") as f:
            f.write(self.event)
        cache = os.path.join(self.work, "cache")
        if self.kind in ("check-panic", "false-refusal") or self.mode == "check":
            finding, errors, _ = self.oracle.check(app)
            return finding
        finding, errors, _ = self.oracle.check(app)
        if finding or errors:
            return finding
        if self.kind in ("emit-panic", "emit-invalid") or self.mode == "emit":
            return self.oracle.emit(app)
        saved = self.oracle.timeout
        self.oracle.timeout = min(saved, 15.0)  # a reduced program may deadlock the reference
        expected, finding = self.oracle.reference(app)
        self.oracle.timeout = saved
        if finding:
            return None
        finding, _ = self.oracle.run(app, self.mode, self.seed, expected, cache)
        shutil.rmtree(cache, ignore_errors=True)
        return finding

    def matches(self, finding):
        if finding is None or finding.kind != self.kind:
            return False
        if self.mode not in (None, "check", "emit", "mutate") and finding.mode != self.mode:
            return False
        if self.sort is not None and divergence_sort(finding.detail) != self.sort:
            return False
        return True

    def __call__(self, source):
        if source in self.cache:
            return self.cache[source]
        if self.kind != "false-refusal":
            try:
                compile(source, "handler.py", "exec")
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                self.cache[source] = False
                return False
        ok = False
        for _ in range(self.tries):
            self.tests += 1
            finding = self.outcome(source)
            if self.matches(finding):
                self.last = finding
                ok = True
                break
        self.cache[source] = ok
        return ok


class MutatePredicate:
    """Reproduces a mutate.py finding: the same kind with the same signature."""

    def __init__(self, meta, kappac, timeout):
        import mutate

        self.meta = meta
        self.kind = meta["kind"]
        self.signature = meta.get("signature")
        self.oracle = mutate.MutateOracle(kappac, meta.get("python", "python3"), meta.get("target_version", "3.11"), timeout)
        self.tests = 0
        self.cache = {}
        self.last = None

    def close(self):
        self.oracle.close()

    def __call__(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        if data in self.cache:
            return self.cache[data]
        self.tests += 1
        ok = False
        for finding in self.oracle.findings(data):
            if finding.kind == self.kind and (self.signature is None or finding.signature == self.signature):
                self.last = finding
                ok = True
                break
        self.cache[data] = ok
        return ok


def ddmin_bytes(data, predicate, split, join, max_tests, deadline):
    """Classic ddmin over the parts of `data` (lines, or bytes of a line)."""
    parts = split(data)
    chunk = max(len(parts) // 2, 1)
    while chunk >= 1 and predicate.tests < max_tests and time.time() < deadline:
        start = 0
        changed = False
        while start < len(parts) and predicate.tests < max_tests and time.time() < deadline:
            candidate = parts[:start] + parts[start + chunk:]
            if candidate and predicate(join(candidate)):
                parts = candidate
                changed = True
            else:
                start += chunk
        if chunk == 1 and not changed:
            break
        if not changed:
            chunk //= 2
    return join(parts)


def minimize_bytes(data, predicate, max_tests, deadline):
    """Lines first, then the bytes of each remaining line."""
    lines = lambda d: d.split(b"\n")  # noqa: E731
    data = ddmin_bytes(data, predicate, lines, b"\n".join, max_tests, deadline)
    i = 0
    while i < len(data.split(b"\n")) and predicate.tests < max_tests and time.time() < deadline:
        all_lines = data.split(b"\n")
        if len(all_lines[i]) > 1:
            data = _line_ddmin(all_lines, i, predicate, max_tests, deadline)
        i += 1
    return data


def _line_ddmin(all_lines, i, predicate, max_tests, deadline):
    line = list(all_lines[i])

    def join(parts):
        return b"\n".join(all_lines[:i] + [bytes(parts)] + all_lines[i + 1:])

    parts = line
    chunk = max(len(parts) // 2, 1)
    while chunk >= 1 and predicate.tests < max_tests and time.time() < deadline:
        start = 0
        changed = False
        while start < len(parts) and predicate.tests < max_tests and time.time() < deadline:
            candidate = parts[:start] + parts[start + chunk:]
            if predicate(join(candidate)):
                parts = candidate
                changed = True
            else:
                start += chunk
        if chunk == 1 and not changed:
            break
        if not changed:
            chunk //= 2
    return join(parts)


def stmt_lists(tree):
    """Every (node, field) whose value is a list of statements, outermost first."""
    found = []
    for node in ast.walk(tree):
        for field in STMT_FIELDS:
            value = getattr(node, field, None)
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                found.append((node, field))
        if isinstance(node, ast.Try) or node.__class__.__name__ == "TryStar":
            pass
    return found


def fix_empty(tree):
    """Put `pass` into emptied mandatory bodies; drop a try left with neither handler nor finally."""
    for node in ast.walk(tree):
        for field in STMT_FIELDS:
            value = getattr(node, field, None)
            if field == "body" and isinstance(value, list) and not value and not isinstance(node, ast.Module):
                node.body = [ast.Pass()]
        if isinstance(node, ast.ExceptHandler) and not node.body:
            node.body = [ast.Pass()]
    return tree


def unparse(tree):
    tree = fix_empty(tree)
    ast.fix_missing_locations(tree)
    return ast.unparse(tree) + "\n"


def simplifiable(tree):
    """Expressions worth replacing: values read, not callees, targets or constants."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            skip.add(id(node.func))
        elif isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred, ast.Name, ast.Tuple, ast.List)) and \
                isinstance(getattr(node, "ctx", None), (ast.Store, ast.Del)):
            skip.add(id(node))
    return [n for n in ast.walk(tree) if isinstance(n, ast.expr) and not isinstance(n, (ast.Name, ast.Constant))
            and id(n) not in skip]


class Minimizer:
    def __init__(self, source, predicate, max_tests, deadline):
        self.tree = ast.parse(source)
        self.best = unparse(copy.deepcopy(self.tree))
        self.predicate = predicate
        self.max_tests = max_tests
        self.deadline = deadline

    def out_of_time(self):
        return self.predicate.tests >= self.max_tests or time.time() > self.deadline

    def attempt(self, tree):
        if self.out_of_time():
            return False
        try:
            source = unparse(tree)
        except Exception:
            return False
        if len(source) >= len(self.best) and source != self.best:
            # only strictly smaller programs count as progress
            if len(source) > len(self.best):
                return False
        if source == self.best:
            return False
        if self.predicate(source):
            self.tree = tree
            self.best = source
            return True
        return False

    def reduce_lists(self):
        """ddmin over every statement list; True if anything was removed."""
        progress = False
        index = 0
        while not self.out_of_time():
            lists = stmt_lists(self.tree)
            if index >= len(lists):
                break
            node, field = lists[index]
            changed = self.ddmin(index, field)
            progress = progress or changed
            index += 1
        return progress

    def ddmin(self, index, field):
        changed = False
        n = len(getattr(stmt_lists(self.tree)[index][0], field))
        chunk = max(n // 2, 1)
        while chunk >= 1 and not self.out_of_time():
            start = 0
            while not self.out_of_time():
                lists = stmt_lists(self.tree)
                if index >= len(lists) or lists[index][1] != field:
                    return changed
                items = getattr(lists[index][0], field)
                if start >= len(items):
                    break
                candidate = copy.deepcopy(self.tree)
                node, _ = stmt_lists(candidate)[index]
                del getattr(node, field)[start:start + chunk]
                if self.attempt(candidate):
                    changed = True
                else:
                    start += chunk
            if chunk == 1:
                break
            chunk //= 2
        return changed

    def unwrap(self):
        """Replace compound statements by one of their blocks; drop optional parts."""
        progress = False
        position = 0
        while not self.out_of_time():
            nodes = [n for n in ast.walk(self.tree) if isinstance(n, (ast.If, ast.For, ast.While, ast.With, ast.Try, ast.FunctionDef, ast.ClassDef))]
            if position >= len(nodes):
                break
            changed = False
            for variant in self.variants(position):
                if self.attempt(variant):
                    changed = progress = True
                    break
            if not changed:
                position += 1
        return progress

    def variants(self, position):
        kinds = (ast.If, ast.For, ast.While, ast.With, ast.Try, ast.FunctionDef, ast.ClassDef)

        def fresh():
            tree = copy.deepcopy(self.tree)
            nodes = [n for n in ast.walk(tree) if isinstance(n, kinds)]
            target = nodes[position]
            for parent in ast.walk(tree):
                for field in STMT_FIELDS:
                    value = getattr(parent, field, None)
                    if isinstance(value, list) and target in value:
                        return tree, target, value
                if isinstance(parent, ast.Try):
                    for handler in parent.handlers:
                        if target in handler.body:
                            return tree, target, handler.body
            return tree, target, None

        tree, target, _ = fresh()
        blocks = []
        if isinstance(target, (ast.If, ast.For, ast.While, ast.With, ast.Try)):
            blocks.append("body")
            if getattr(target, "orelse", None):
                blocks.append("orelse")
            if isinstance(target, ast.Try):
                blocks += ["handler%d" % i for i in range(len(target.handlers))]
                if target.finalbody:
                    blocks.append("finalbody")
        for block in blocks:
            tree, target, siblings = fresh()
            if siblings is None:
                continue
            if block.startswith("handler"):
                replacement = target.handlers[int(block[7:])].body
            else:
                replacement = getattr(target, block)
            i = siblings.index(target)
            siblings[i:i + 1] = replacement
            yield tree
        # drop optional parts
        if isinstance(target, (ast.If, ast.For, ast.While, ast.Try)) and getattr(target, "orelse", None):
            tree, target, _ = fresh()
            target.orelse = []
            yield tree
        if isinstance(target, ast.Try):
            for i in range(len(target.handlers)):
                tree, t, _ = fresh()
                if len(t.handlers) > 1 or t.finalbody:
                    del t.handlers[i]
                    if not t.handlers:
                        t.orelse = []
                    yield tree
            if target.finalbody and target.handlers:
                tree, t, _ = fresh()
                t.finalbody = []
                yield tree
        if isinstance(target, ast.FunctionDef) and target.decorator_list:
            tree, t, _ = fresh()
            t.decorator_list = []
            yield tree
        if isinstance(target, ast.With) and len(target.items) > 1:
            tree, t, _ = fresh()
            t.items = t.items[:1]
            yield tree

    def simplify_expressions(self):
        """Replace expressions by a constant or by one of their operands."""
        progress = False
        position = 0
        while not self.out_of_time():
            exprs = simplifiable(self.tree)
            if position >= len(exprs):
                break
            changed = False
            for variant in self.expr_variants(position):
                if self.attempt(variant):
                    changed = progress = True
                    break
            if not changed:
                position += 1
        return progress

    def expr_variants(self, position):
        def fresh():
            tree = copy.deepcopy(self.tree)
            return tree, simplifiable(tree)[position]

        tree, target = fresh()
        replacements = []
        if isinstance(target, ast.BinOp):
            replacements = ["left", "right"]
        elif isinstance(target, ast.BoolOp):
            replacements = ["values%d" % i for i in range(len(target.values))]
        elif isinstance(target, ast.IfExp):
            replacements = ["body", "orelse"]
        elif isinstance(target, ast.Call):
            replacements = ["args%d" % i for i in range(len(target.args))]
        elif isinstance(target, ast.Compare):
            replacements = ["left"]
        elif isinstance(target, ast.UnaryOp):
            replacements = ["operand"]
        replacements.append("const")
        for how in replacements:
            tree, t = fresh()
            if how == "const":
                new = ast.Constant(1)
            elif how.startswith("values"):
                new = t.values[int(how[6:])]
            elif how.startswith("args"):
                new = t.args[int(how[4:])]
                if isinstance(new, ast.Starred):
                    continue
            else:
                new = getattr(t, how)
            if not self.replace(tree, t, new):
                continue
            yield tree

    @staticmethod
    def replace(tree, old, new):
        for parent in ast.walk(tree):
            for field, value in ast.iter_fields(parent):
                if value is old:
                    setattr(parent, field, new)
                    return True
                if isinstance(value, list):
                    for i, item in enumerate(value):
                        if item is old:
                            value[i] = new
                            return True
        return False

    def run(self):
        while not self.out_of_time():
            progress = self.reduce_lists()
            progress = self.unwrap() or progress
            if not progress:
                progress = self.simplify_expressions()
            if not progress:
                break
        return self.best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("finding")
    parser.add_argument("--kappac", default=os.path.join(ROOT, "target", "release", "kappac"))
    parser.add_argument("--max-tests", type=int, default=1500)
    parser.add_argument("--time-limit", type=float, default=1800.0)
    parser.add_argument("--tries", type=int, default=None, help="runs per candidate (default: 3 for --chaos kill, else 1)")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    directory = args.finding
    with open(os.path.join(directory, "finding.json")) as f:
        meta = json.load(f)
    with open(os.path.join(directory, "handler.py"), "rb") as f:
        data = f.read()
    if meta.get("mode") == "mutate":
        return minimize_mutant(directory, meta, data, args)
    source = data.decode("utf-8")
    event_path = os.path.join(directory, "event.json")
    event = open(event_path).read() if os.path.exists(event_path) else "{}\n"
    tries = args.tries or (3 if meta.get("mode") == "kill" else 1)
    if meta["kind"] == "hang":
        args.timeout = min(args.timeout, 30.0)
    predicate = Predicate(meta, event, args.kappac, tries, args.timeout)
    try:
        try:
            ast.parse(source)
        except SyntaxError:
            print("the program does not parse: AST minimization does not apply", file=sys.stderr)
            return 2
        if not predicate(source) and not predicate(unparse(ast.parse(source))):
            print("the finding does not reproduce (%d tries)" % tries, file=sys.stderr)
            return 1
        minimizer = Minimizer(source, predicate, args.max_tests, time.time() + args.time_limit)
        best = minimizer.run()
        # what the minimized program gives, to describe it
        predicate.cache.pop(best, None)
        predicate(best)
        with open(os.path.join(directory, "minimized.py"), "w") as f:
            f.write(best)
        describe(directory, meta, predicate.last)
        print("%d tests; %d -> %d lines: %s" % (predicate.tests, source.count("\n"), best.count("\n"),
                                              os.path.join(directory, "minimized.py")))
        return 0
    finally:
        predicate.close()


def describe(directory, meta, finding):
    with open(os.path.join(directory, "minimized.txt"), "w") as f:
        f.write("kind: %s\nmode: %s\n" % (meta["kind"], meta.get("mode")))
        if finding is not None:
            f.write("%s\n" % finding.detail)
            if finding.command:
                f.write("command: %s\n" % " ".join(finding.command))
            if finding.expected is not None:
                f.write("expected: %s\n" % json.dumps(finding.expected, sort_keys=True))
            if finding.got is not None:
                f.write("got: %s\n" % json.dumps(finding.got, sort_keys=True))
            f.write("--- stderr (tail)\n%s\n" % finding.stderr[-4000:])


def minimize_mutant(directory, meta, data, args):
    predicate = MutatePredicate(meta, args.kappac, min(args.timeout, 30.0))
    try:
        if not predicate(data):
            print("the finding does not reproduce", file=sys.stderr)
            return 1
        deadline = time.time() + args.time_limit
        best = minimize_bytes(data, predicate, args.max_tests, deadline)
        # a parsable result can be reduced further on its AST (whole statements)
        try:
            text = best.decode("utf-8")
            ast.parse(text)
            parsable = meta["kind"] in ("emit-invalid", "emit-panic", "parity")
        except (UnicodeDecodeError, SyntaxError, ValueError):
            parsable = False
        if parsable:
            minimizer = Minimizer(text, predicate, args.max_tests, deadline)
            best = minimizer.run().encode("utf-8")
        predicate.cache.pop(best, None)
        predicate(best)
        with open(os.path.join(directory, "minimized.py"), "wb") as f:
            f.write(best)
        describe(directory, meta, predicate.last)
        print("%d tests; %d -> %d bytes: %s" % (predicate.tests, len(data), len(best), os.path.join(directory, "minimized.py")))
        return 0
    finally:
        predicate.close()


if __name__ == "__main__":
    sys.exit(main())
