"""The bundle's manifest (`kappa-manifest.json`, written by `kappac build`) as the runtime
reads it: where each resume point is in the user's handler.py, the line map from the
transformed handler.py back to the user's, and what kappac's own variables are. Everything the
runtime says about user code in its terms comes from here."""

import json
import os
import sys
import traceback

from rt import wire


class Manifest:
    """The bundle's manifest: resume points, generated functions, and the line map."""

    _by_directory = {}

    def __init__(self, directory):
        try:
            with open(os.path.join(directory, "kappa-manifest.json")) as f:
                data = json.load(f)
        except (OSError, ValueError):
            data = {}
        self.line_map = data.get("line_map", [])
        # By the continuation's qualified name (`C._kappa_step_c1` in class `C`).
        self.points = {p["continuation"]: p for p in data.get("resume_points", [])}
        functions = data.get("functions", {})
        self.functions = functions
        # A traceback knows a frame's code name only (no class); a generated code name always
        # stands for the same user function name.
        self.function_names = {qualname.rsplit(".", 1)[-1]: f["name"] for qualname, f in functions.items()}
        self.directory = os.path.abspath(directory)
        self.handler = os.path.join(self.directory, "handler.py")
        try:
            with open(os.path.join(directory, "kappa-source", "handler.py"), encoding="utf-8") as f:
                self.source_lines = f.read().splitlines()
        except OSError:
            self.source_lines = []

    @classmethod
    def of_function(cls, function):
        """The manifest of the bundle `function` was compiled into (read once per bundle); an
        empty one if it has none (a module run without a bundle)."""
        module = sys.modules.get(getattr(function, "__module__", None) or "")
        directory = os.path.dirname(os.path.abspath(getattr(module, "__file__", None) or "."))
        manifest = cls._by_directory.get(directory)
        if manifest is None:
            manifest = cls._by_directory[directory] = cls(directory)
        return manifest

    def user_line(self, filename, line):
        """`(filename, line)` of the user's code for a line of the bundle's files."""
        path = os.path.abspath(filename)
        if path == self.handler and 0 < line <= len(self.line_map):
            return "handler.py", self.line_map[line - 1]
        if path.startswith(self.directory + os.sep):
            return os.path.relpath(path, self.directory), line  # the app's own file
        return filename, line

    def point(self, frame):
        """The resume point a saved frame continues from, or None (a runtime frame)."""
        return self.points.get(getattr(frame.continuation, "__qualname__", ""))

    def where(self, frame):
        point = self.point(frame)
        return "handler.py line %d" % point["line"] if point else None

    def paused_at(self, frames):
        """Where the innermost of the app's frames paused (the runtime's own frames, such as
        `Future.wait`'s, have no place in handler.py)."""
        return next((w for w in map(self.where, frames) if w), None)

    def function_name(self, code_name):
        """The user's function a frame of `code_name` runs (part of)."""
        return self.function_names.get(code_name, code_name)

    def format_exception(self, error):
        """A traceback whose handler.py lines and functions are the user's, not the generated
        ones."""
        lines = []
        for entry in traceback.extract_tb(error.__traceback__):
            runtime = entry.filename.replace("\\", "/")
            if "/rt/" in runtime or "/kappa_coordinator/" in runtime:
                continue
            filename, lineno = self.user_line(entry.filename, entry.lineno)
            text = entry.line
            if filename == "handler.py" and 0 < lineno <= len(self.source_lines):
                text = self.source_lines[lineno - 1]
            lines.append('  File "%s", line %d, in %s\n' % (filename, lineno, self.function_name(entry.name)))
            if text:
                lines.append("    %s\n" % text.strip())
        if lines:
            lines.insert(0, "Traceback (most recent call last):\n")
        if isinstance(error, SyntaxError) and error.filename:
            error.filename, _ = self.user_line(error.filename, error.lineno or 0)
        lines.extend(traceback.format_exception_only(type(error), error))
        child = getattr(error, "kappa_child_traceback", None)
        if child:
            lines.append("\nraised in a spawned task:\n" + child)
        return "".join(lines)

    def describe_variable(self, frame, name):
        """What a live variable of a saved frame is, in the user's terms, with a rank: the
        manager of a `with` first (its bound `__exit__` fails with it, and says less), then the
        user's variables, then what kappac keeps."""
        point = self.point(frame) or {}
        variable = point.get("compiler_variables", {}).get(name)
        if variable is None:
            return 1, "variable `%s`" % name
        kind, line = variable.get("kind"), variable.get("line")
        if kind == "with_manager":
            return 0, "the context manager of the `with` statement on line %s" % line
        if kind == "with_exit":
            return 0.5, "the context manager of the `with` statement on line %s" % line
        if kind == "comprehension_variable":
            return 1, "variable `%s` of a comprehension" % variable.get("name")
        if kind == "iterator":
            return 2, "the iterator of the `for` loop on line %s" % line
        if kind == "caught_exception":
            return 2, "the exception caught by the `except` clause on line %s" % line
        if kind == "temporary":
            return 3, "a value computed before the pause (part of an expression on that line)"
        return 3, "a value kappac keeps for the statement on line %s" % line


def unpicklable_variable(frame, manifest):
    """Why a frame's live variables cannot be saved, naming the variable (a `with` manager
    first, then the user's variables, then kappac's temporaries), or None."""
    problems = []
    for name, value in frame.variables.items():
        try:
            wire.dumps(value)
        except Exception as error:
            rank, what = manifest.describe_variable(frame, name)
            problems.append((rank, name, what, value, error))
    if not problems:
        return None
    _, _, what, value, error = min(problems, key=lambda p: (p[0], p[1]))
    point = manifest.point(frame)
    function = point["function"] if point else getattr(frame.continuation, "__qualname__", "?")
    place = manifest.where(frame)
    return "%s (a %s) in `%s`%s is live across a pause point and cannot be pickled (%s); close or drop it before the pause, or recreate it after" % (
        what, type(value).__name__, function, " at %s" % place if place else "", error)
