#!/usr/bin/env python3
"""Mutation fuzzer of the compiler's front end and transform (issue 10).

    mutate.py [--seconds N | --iterations N] [--seed S] [--kappac PATH] [--findings DIR]
              [--stdlib-sample N] [--target-version 3.11]

Takes the fixture handlers (tests/fixtures/**/*.py) and a sample of the standard library
(/root/.pyenv/versions/3.11*/lib/python3.11/*.py, or the running python's), applies one to four
mutations (delete, duplicate, swap or move lines; insert random tokens, brackets, pause points,
`import rt`; re-indent; truncate; flip bytes; nest deeply; splice lines of another file), and
checks on each mutant:

    check-panic, emit-panic   `kappac check` / `kappac emit` exited 101 or panicked
    hang                      one of them ran past --timeout (30 s)
    emit-invalid              `emit` succeeded and CPython does not compile what it printed
    false-syntax-error        check reports K001/K002/K003 and CPython compiles the file
    missed-syntax-error       CPython does not compile the file and check reports none of them
    parity                    `emit` refused a file check found no error in, or printed one it did

(CPython is the `--python` interpreter, 3.11 by default, and check runs with the matching
`--target-version`.) Each distinct finding (kind plus a signature: the panic location, the
CPython message, the K code) is saved once under FINDINGS/mutate-<seed>-<n>-<kind>/ (handler.py,
finding.json, report.txt); repeats are counted. minimize.py reduces them (line-based for files
that do not parse). Exit status 1 when anything was found.
"""

import argparse
import glob
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from run import panicked, run_command  # noqa: E402

SYNTAX_CODES = ("K001", "K002", "K003")

COMPILER = r"""
import json, sys, warnings
warnings.simplefilter("ignore")
inp = sys.stdin.buffer
while True:
    head = inp.read(8)
    if len(head) < 8:
        break
    data = inp.read(int.from_bytes(head, "little"))
    # Python reads a source file two ways: `import` compiles the raw bytes (lax: invalid UTF-8
    # in a comment passes), `python3 handler.py` and tracebacks decode it first (strict:
    # importlib.util.decode_source). And up to 3.11 how deeply an expression may nest depends
    # on how deep the Python stack is where it is compiled (three levels per frame): compiled
    # again 100 frames deeper, a file near that limit can fail. Where the verdicts disagree,
    # either is Python's: "ok" is None and kappac may go either way.
    import importlib.util
    def deeper(frames, way):
        return way() if frames == 0 else deeper(frames - 1, way)
    verdicts = []
    for way in (lambda: compile(data, "handler.py", "exec"),
                lambda: compile(importlib.util.decode_source(data), "handler.py", "exec"),
                lambda: deeper(100, lambda: compile(data, "handler.py", "exec"))):
        try:
            way()
            verdicts.append({"ok": True})
        except SyntaxError as e:
            verdicts.append({"ok": False, "error": type(e).__name__, "msg": str(e.msg), "line": e.lineno})
        except (ValueError, RecursionError, MemoryError, OverflowError) as e:
            verdicts.append({"ok": False, "error": type(e).__name__, "msg": str(e)[:200]})
    r = verdicts[0] if all(v["ok"] == verdicts[0]["ok"] for v in verdicts) else {"ok": None}
    sys.stdout.write(json.dumps(r) + "\n")
    sys.stdout.flush()
"""


class CPython:
    """A persistent interpreter compiling the sources it is sent (restarted if it dies)."""

    def __init__(self, python):
        self.python = python
        self.process = None

    def start(self):
        self.process = subprocess.Popen([self.python, "-c", COMPILER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL)

    def compile(self, data):
        for _ in range(2):
            if self.process is None or self.process.poll() is not None:
                self.start()
            try:
                self.process.stdin.write(len(data).to_bytes(8, "little") + data)
                self.process.stdin.flush()
                line = self.process.stdout.readline()
                if line:
                    return json.loads(line)
            except (BrokenPipeError, OSError, ValueError):
                pass
            self.close()
        return {"ok": False, "error": "crash", "msg": "CPython's compile() crashed"}

    def close(self):
        if self.process is not None:
            try:
                self.process.kill()
                self.process.wait()
            except OSError:
                pass
            self.process = None


class Finding:
    def __init__(self, kind, detail, signature, stdout="", stderr="", command=None):
        self.kind = kind
        self.detail = detail
        self.signature = signature
        self.stdout = stdout
        self.stderr = stderr
        self.command = command
        self.mode = "mutate"
        self.expected = None
        self.got = None


def panic_site(err):
    m = re.search(r"panicked at ([^\n]+)", err)
    return m.group(1).strip().rstrip(":") if m else "panic"


class MutateOracle:
    def __init__(self, kappac, python="python3", target="3.11", timeout=30.0):
        self.kappac = os.path.abspath(kappac)
        self.cpython = CPython(python)
        self.target = target
        self.timeout = timeout
        self.work = tempfile.mkdtemp(prefix="kappac-mutate-")
        self.path = os.path.join(self.work, "handler.py")

    def close(self):
        self.cpython.close()
        shutil.rmtree(self.work, ignore_errors=True)

    def findings(self, data):
        """Every finding on `data` (bytes), most serious first."""
        with open(self.path, "wb") as f:
            f.write(data)
        found = []
        command = [self.kappac, "check", self.path, "--format", "json", "--target-version", self.target]
        code, out, err = run_command(command, self.timeout)
        if code is None:
            return [Finding("hang", "kappac check ran past %.0f s" % self.timeout, "check", stderr=err, command=command)]
        if panicked(code, err):
            return [Finding("check-panic", "kappac check panicked", panic_site(err), out, err, command)]
        try:
            diagnostics = json.loads(out)
        except ValueError:
            return [Finding("check-panic", "kappac check printed no JSON (exit %s)" % code, "no-json", out, err, command)]
        errors = [d for d in diagnostics if d.get("severity") == "error"]
        syntax = [d for d in errors if d["code"] in SYNTAX_CODES]
        verdict = self.cpython.compile(data)
        if verdict["ok"] and syntax:
            d = syntax[0]
            found.append(Finding("false-syntax-error", "check: %s %s (line %s); CPython %s compiles the file"
                                 % (d["code"], d["message"], d["start"]["line"], self.target),
                                 "%s %s" % (d["code"], re.sub(r"\d+", "N", d["message"])[:80]), out, err, command))
        elif verdict["ok"] is False and not syntax and verdict.get("error") != "crash":
            found.append(Finding("missed-syntax-error", "CPython %s: %s: %s (line %s); check reports no K001/K002/K003"
                                 % (self.target, verdict["error"], verdict["msg"], verdict.get("line")),
                                 "%s %s" % (verdict["error"], re.sub(r"\d+", "N", verdict["msg"])[:80]), out, err, command))
        command = [self.kappac, "emit", self.path, "--target-version", self.target]
        code, out, err = run_command(command, self.timeout)
        if code is None:
            found.insert(0, Finding("hang", "kappac emit ran past %.0f s" % self.timeout, "emit", stderr=err, command=command))
            return found
        if panicked(code, err):
            found.insert(0, Finding("emit-panic", "kappac emit panicked", panic_site(err), out, err, command))
            return found
        if code == 0 and errors:
            found.append(Finding("parity", "emit printed a module check reports errors in (%s)" % errors[0]["code"],
                                 "emit-ok-" + errors[0]["code"], out, err, command))
        elif code == 1 and not errors:
            found.append(Finding("parity", "emit refused a module check finds no error in", "emit-refused", out, err, command))
        elif code == 0 and verdict["ok"]:
            emitted = self.cpython.compile(out.encode("utf-8", "surrogateescape"))
            if emitted["ok"] is False:
                found.insert(0, Finding("emit-invalid", "the emitted module does not compile: %s: %s (line %s)"
                                        % (emitted["error"], emitted["msg"], emitted.get("line")),
                                        re.sub(r"\d+", "N", emitted["msg"])[:80], out, err, command))
        return found


# ------------------------------------------------------------------------------ mutations
TOKENS = [
    b"(", b")", b"[", b"]", b"{", b"}", b":", b",", b".", b";", b"=", b"==", b"+=", b"->", b"*", b"**", b"@", b"\\",
    b"'", b'"', b'"""', b"#", b"lambda", b"lambda x:", b"yield", b"await", b"async", b"def", b"class", b"return",
    b"break", b"continue", b"try:", b"except:", b"finally:", b"with", b"as", b"if", b"else:", b"elif", b"for",
    b"in", b"while", b"not", b"and", b"or", b"is", b"global x", b"nonlocal x", b"del", b"pass", b"raise", b"from",
    b"import", b"match", b"case", b"_", b"print", b"x", b"0", b"1.5j", b"0x", b"1_000", b"f'{x}'", b"f'{x=}'",
    b"b'\\xff'", b"rt.checkpoint()", b"rt.spawn(f, (1,)).wait()", b"q.dequeue()", b"x.wait()", b":=", b"...",
    b"\t", b"    ", b"\n", b"\r", b"\x00", b"\xff", b"\xef\xbb\xbf", b"# -*- coding: latin-1 -*-", b"*args", b"**kw",
    b"except* ValueError:", b"type X = int", b"def f[T](x: T): pass",
]

PAUSES = [b"rt.checkpoint()", b"x = rt.spawn(abs, (1,)).wait()", b"rt.pause()", b"q = rt.create_queue(1)",
          b"y = [rt.spawn(abs, (i,)).wait() for i in range(2)]", b"rt.maybe_pause()"]


def indent_of(line):
    return line[: len(line) - len(line.lstrip(b" \t"))]


class Mutator:
    def __init__(self, rng, corpus):
        self.r = rng
        self.corpus = corpus

    def mutate(self, data):
        names = []
        for _ in range(self.r.choice([1, 1, 2, 2, 3, 4])):
            name = self.r.choice([
                "delete", "delete", "duplicate", "swap", "move", "token", "token", "brackets", "truncate", "byte",
                "nest", "indent", "pause", "pause", "pause", "splice", "dedent_block", "join_lines",
            ])
            data = getattr(self, "m_" + name)(data)
            names.append(name)
        return data, names

    def lines(self, data):
        return data.split(b"\n")

    def m_delete(self, data):
        lines = self.lines(data)
        if len(lines) < 2:
            return data
        i = self.r.randrange(len(lines))
        n = self.r.choice([1, 1, 1, 2, 5])
        del lines[i:i + n]
        return b"\n".join(lines)

    def m_duplicate(self, data):
        lines = self.lines(data)
        i = self.r.randrange(len(lines))
        lines.insert(i, lines[i])
        return b"\n".join(lines)

    def m_swap(self, data):
        lines = self.lines(data)
        i, j = self.r.randrange(len(lines)), self.r.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
        return b"\n".join(lines)

    def m_move(self, data):
        lines = self.lines(data)
        line = lines.pop(self.r.randrange(len(lines)))
        lines.insert(self.r.randrange(len(lines) + 1), line)
        return b"\n".join(lines)

    def m_token(self, data):
        pos = self.r.randrange(len(data) + 1)
        token = self.r.choice(TOKENS)
        sep = self.r.choice([b"", b" "])
        return data[:pos] + sep + token + sep + data[pos:]

    def m_brackets(self, data):
        pos = self.r.randrange(len(data) + 1)
        seq = bytes(self.r.choice(b"()[]{}") for _ in range(self.r.randint(1, 6)))
        return data[:pos] + seq + data[pos:]

    def m_truncate(self, data):
        if not data:
            return data
        return data[: self.r.randrange(len(data))]

    def m_byte(self, data):
        if not data:
            return data
        data = bytearray(data)
        for _ in range(self.r.randint(1, 3)):
            data[self.r.randrange(len(data))] = self.r.randrange(256)
        return bytes(data)

    def m_nest(self, data):
        lines = self.lines(data)
        i = self.r.randrange(len(lines))
        depth = self.r.choice([5, 30, 150, 199, 200, 201, 260, 1000, 3000])
        how = self.r.randrange(4)
        ind = indent_of(lines[i])
        if how == 0:
            expr = b"(" * depth + b"1" + b")" * depth
            lines.insert(i, ind + b"x = " + expr)
        elif how == 1:
            expr = b"[" * depth + b"]" * depth
            lines.insert(i, ind + b"x = " + expr)
        elif how == 2:
            depth = min(depth, 120)
            block = []
            for d in range(depth):
                block.append(ind + b" " * d + b"if x:")
            block.append(ind + b" " * depth + b"rt.checkpoint()")
            lines[i:i] = block
        else:
            expr = b"-" * depth + b"1" if self.r.random() < 0.5 else b"1" + b" + 1" * depth
            lines.insert(i, ind + b"x = " + expr)
        return b"\n".join(lines)

    def m_indent(self, data):
        lines = self.lines(data)
        i = self.r.randrange(len(lines))
        lines[i] = self.r.choice([b" ", b"    ", b"\t", b""]) + (lines[i].lstrip() if self.r.random() < 0.3 else lines[i])
        return b"\n".join(lines)

    def m_dedent_block(self, data):
        lines = self.lines(data)
        i = self.r.randrange(len(lines))
        for j in range(i, min(len(lines), i + self.r.randint(1, 8))):
            if lines[j].startswith(b"    "):
                lines[j] = lines[j][4:]
        return b"\n".join(lines)

    def m_join_lines(self, data):
        lines = self.lines(data)
        if len(lines) < 2:
            return data
        i = self.r.randrange(len(lines) - 1)
        lines[i:i + 2] = [lines[i] + self.r.choice([b"; ", b" ", b""]) + lines[i + 1].lstrip()]
        return b"\n".join(lines)

    def m_pause(self, data):
        """Make the file a Kappa program: `import rt`, and pause points inside function bodies."""
        lines = self.lines(data)
        if b"import rt" not in data:
            at = 0
            while at < len(lines) and (lines[at].startswith(b"#") or lines[at].startswith(b"from __future__")):
                at += 1
            lines.insert(at, b"import rt")
        defs = [i for i, l in enumerate(lines) if l.lstrip().startswith((b"def ", b"async def ")) and l.rstrip().endswith(b":")]
        spots = defs if defs and self.r.random() < 0.6 else list(range(len(lines)))
        for _ in range(self.r.randint(1, 3)):
            i = self.r.choice(spots)
            # the indentation of the next non-blank line
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            if j >= len(lines):
                continue
            ind = indent_of(lines[j])
            lines.insert(j, ind + self.r.choice(PAUSES))
        return b"\n".join(lines)

    def m_splice(self, data):
        other = self.r.choice(self.corpus)[1]
        olines = other.split(b"\n")
        if not olines:
            return data
        a = self.r.randrange(len(olines))
        chunk = olines[a:a + self.r.randint(1, 12)]
        lines = self.lines(data)
        i = self.r.randrange(len(lines) + 1)
        lines[i:i] = chunk
        return b"\n".join(lines)


def load_corpus(rng, stdlib_sample):
    files = sorted(glob.glob(os.path.join(ROOT, "tests", "fixtures", "**", "*.py"), recursive=True))
    files += sorted(glob.glob(os.path.join(ROOT, "examples", "**", "*.py"), recursive=True))
    stdlib = sorted(glob.glob("/root/.pyenv/versions/3.11*/lib/python3.11/*.py"))
    if not stdlib:
        import sysconfig
        stdlib = sorted(glob.glob(os.path.join(sysconfig.get_paths()["stdlib"], "*.py")))
    stdlib = [p for p in stdlib if os.path.getsize(p) < 150_000]
    files += rng.sample(stdlib, min(stdlib_sample, len(stdlib)))
    corpus = []
    for path in files:
        with open(path, "rb") as f:
            corpus.append((os.path.relpath(path, ROOT) if path.startswith(ROOT) else path, f.read()))
    return corpus


def save(directory, data, finding, meta):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "handler.py"), "wb") as f:
        f.write(data)
    meta = dict(meta, kind=finding.kind, mode="mutate", detail=finding.detail, signature=finding.signature,
                command=finding.command)
    with open(os.path.join(directory, "finding.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
        f.write("\n")
    with open(os.path.join(directory, "report.txt"), "w") as f:
        f.write("kind: %s\n%s\nsource: %s\nmutations: %s\n\n" % (finding.kind, finding.detail, meta.get("source"),
                                                               ", ".join(meta.get("mutations", []))))
        if finding.command:
            f.write("command: %s\n\n" % " ".join(finding.command))
        f.write("--- stdout (tail)\n%s\n--- stderr (tail)\n%s\n" % (finding.stdout[-3000:], finding.stderr[-6000:]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kappac", default=os.path.join(ROOT, "target", "release", "kappac"))
    parser.add_argument("--python", default="python3")
    parser.add_argument("--target-version", default=None, help="default: the version of --python")
    parser.add_argument("--findings", default=os.path.join(HERE, "findings"))
    parser.add_argument("--stdlib-sample", type=int, default=40)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.seconds is None and args.iterations is None:
        args.seconds = 60.0
    if not os.path.exists(args.kappac):
        parser.error("no kappac at %s (build it, or pass --kappac)" % args.kappac)
    target = args.target_version or subprocess.run(
        [args.python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True).stdout.strip()
    rng = random.Random(args.seed)
    corpus = load_corpus(rng, args.stdlib_sample)
    mutator = Mutator(rng, corpus)
    oracle = MutateOracle(args.kappac, args.python, target, args.timeout)
    started = time.time()
    seen = {}
    saved = []
    iterations = 0
    accepted = 0
    try:
        while True:
            if args.iterations is not None and iterations >= args.iterations:
                break
            if args.seconds is not None and time.time() - started >= args.seconds:
                break
            iterations += 1
            source, data = rng.choice(corpus)
            mutant, names = mutator.mutate(data)
            found = oracle.findings(mutant)
            if not found and oracle.cpython.compile(mutant)["ok"] is not False:
                accepted += 1
            for finding in found:
                key = (finding.kind, finding.signature)
                seen[key] = seen.get(key, 0) + 1
                if seen[key] > 1:
                    continue
                directory = os.path.join(args.findings, "mutate-%d-%d-%s" % (args.seed, iterations, finding.kind))
                save(directory, mutant, finding, {"seed": args.seed, "iteration": iterations, "source": source,
                                                  "mutations": names, "target_version": target})
                saved.append(directory)
                if not args.quiet:
                    print("iteration %d (%s, %s): %s: %s -> %s" % (iterations, source, "+".join(names), finding.kind,
                                                                   finding.detail[:200], directory), flush=True)
    finally:
        oracle.close()
    elapsed = time.time() - started
    kinds = {}
    for (kind, _), n in seen.items():
        kinds[kind] = kinds.get(kind, 0) + n
    for (kind, signature), n in sorted(seen.items()):
        print("  %s x%d: %s" % (kind, n, signature))
    for directory in saved:
        print("finding: %s" % directory)
    print("mutate: %d mutants (%d valid Python), %d distinct findings (%s), %.0f s" % (
        iterations, accepted, len(seen), ", ".join("%s %d" % kv for kv in sorted(kinds.items())) or "none", elapsed))
    return 1 if seen else 0


if __name__ == "__main__":
    sys.exit(main())
