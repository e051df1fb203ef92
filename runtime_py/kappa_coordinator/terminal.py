"""What a run shows on stderr while it runs: its tasks' output, each line labelled with the
task, and on a terminal a progress line that never sticks to that output."""

import sys
import time

# How many times a second the progress line may be redrawn.
PROGRESS_RATE = 10

# The longest piece of a task's output line kept before it is shown.
OUTPUT_CHUNK = 1 << 16


class Terminal:
    def __init__(self, progress):
        self.progress = progress  # draw the progress line
        self.progress_shown = False  # the progress line is on the terminal now
        self.progress_at = 0.0  # when it was last drawn
        self.output = {}  # (source, stream name) -> (pieces of the current line, their size, continuing)

    @property
    def stream(self):
        return sys.stderr

    def relay(self, source, label, kind, data, end=False):
        """Shows output of `source` (a worker) on stderr, each line prefixed with `label`.
        Linear time and bounded memory: a line longer than OUTPUT_CHUNK is shown in pieces as it
        arrives (the first labelled, the others continuing it), never kept whole."""
        pieces, size, continuing = self.output.get((source, kind)) or ([], 0, False)
        lines = data.split(b"\n")
        for index, line in enumerate(lines):
            complete = index < len(lines) - 1  # a newline came after this line
            if line:
                pieces.append(line)
                size += len(line)
            if not (complete or size > OUTPUT_CHUNK or end):
                continue
            if pieces:
                text = b"".join(pieces).decode("utf-8", "replace")
                self.clear_progress()
                self.stream.write(text if continuing else "[%s] %s" % (label, text))
                continuing = True
            if (complete or end) and continuing:
                self.stream.write("\n")
                continuing = False
            pieces, size = [], 0
        self.output[(source, kind)] = (pieces, size, continuing)

    def flush(self):
        self.stream.flush()

    def forget(self, source):
        """`source` is gone: a partial line it printed without a newline is dropped."""
        for key in [key for key in self.output if key[0] is source]:
            del self.output[key]

    def show_progress(self, started, line):
        """The live progress line on a terminal: redrawn at most PROGRESS_RATE times a second,
        cleared before any task output (so it never sticks to it) and when the run ends.
        `line()` gives its text after the elapsed time."""
        if not self.progress:
            return
        if any(continuing for (_, _, continuing) in self.output.values()):
            return  # a task's long line is being shown in pieces: not in the middle of it
        now = time.monotonic()
        if self.progress_shown and now - self.progress_at < 1.0 / PROGRESS_RATE:
            return
        self.progress_at = now
        self.progress_shown = True
        self.stream.write("\r\x1b[K%.1f s | %s" % (now - started, line()))
        self.stream.flush()

    def clear_progress(self):
        if self.progress_shown:
            self.stream.write("\r\x1b[K")
            self.progress_shown = False
