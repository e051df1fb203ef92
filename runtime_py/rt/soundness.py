"""The runtime's safety net: a pause may only unwind through frames that can be resumed.

When a coordinator call pauses a task, the `Unwind` exception travels up the stack. Every frame
kappac compiled catches it at its pause point and saves its continuation (`Unwind.push`, which
also records the frame). A frame that lets it pass without saving anything can be resumed only
if nothing of it is left to run: it is at a *tail call* (`return f(...)`, outside any `try` or
`with` that would have handled the call's outcome), so the resumed callee's result is its
result. kappac's own continuations chain this way, and so does a lambda whose whole body is a
pausing call.

Any other frame is code that kappac did not compile, reached by a call its analysis could not
follow (or a kappac bug): resuming the task would skip the rest of that frame and give a wrong
result. `check` finds such a frame, and the runner fails the run with `NotCompiled` naming the
function and line, instead.
"""

import dis
import os
import sys

from rt import protocol

_RUNTIME = os.path.dirname(os.path.abspath(__file__)) + os.sep

# Instructions that may stand between a tail call and its `return`: they only drop what loops
# and finished `except` handlers left on the stack (CPython 3.9-3.14).
_STACK_CLEANUP = frozenset({
    "CACHE", "NOP", "EXTENDED_ARG", "POP_TOP", "ROT_TWO", "ROT_THREE", "ROT_FOUR", "SWAP",
    "POP_EXCEPT", "POP_ITER",
})
_RETURNS = frozenset({"RETURN_VALUE"})
# Exception handlers that only restore the interpreter's state (and unbind `except E as e`'s
# name) and re-raise.
_CLEANUP_HANDLER = frozenset({
    "COPY", "POP_EXCEPT", "RERAISE", "SWAP", "POP_TOP", "NOP", "CACHE", "LOAD_CONST", "STORE_FAST",
    "DELETE_FAST",
})


class NotCompiled(Exception):
    """A pause unwound through a frame that cannot be resumed."""


_runtime_files = {}
_tail_calls = {}


def _in_runtime(code):
    filename = code.co_filename
    inside = _runtime_files.get(filename)
    if inside is None:
        inside = os.path.abspath(filename).startswith(_RUNTIME)
        _runtime_files[filename] = inside
    return inside


def _instructions(code):
    if sys.version_info >= (3, 11):
        return list(dis.get_instructions(code, show_caches=True))
    return list(dis.get_instructions(code))


def _covered_by_handler(code, offset, by_offset):
    """Whether an exception raised at `offset` goes to a handler that runs user code (an
    `except`, a `finally`, a `with` exit) rather than only cleaning up and re-raising."""
    if sys.version_info < (3, 11):
        return False  # 3.9/3.10 have block instructions, checked in `is_tail_call`
    for entry in dis.Bytecode(code).exception_entries:
        if entry.start <= offset < entry.end:
            index = by_offset.get(entry.target)
            if index is None:
                return True
            for instruction in _instructions(code)[index:]:
                if instruction.opname == "RERAISE":
                    break
                if instruction.opname not in _CLEANUP_HANDLER:
                    return True
    return False


def is_tail_call(code, offset):
    """Whether the instruction at `offset` is a call whose result the function returns at
    once, with no handler around it."""
    key = (code, offset)
    known = _tail_calls.get(key)
    if known is not None:
        return known
    instructions = _instructions(code)
    by_offset = {instruction.offset: index for index, instruction in enumerate(instructions)}
    index = by_offset.get(offset)
    # 3.11 and 3.12 report the last code unit of the call: its inline cache.
    while index and instructions[index].opname == "CACHE":
        index -= 1
    tail = False
    if index is not None and instructions[index].opname.startswith("CALL"):
        rest = [i.opname for i in instructions[index + 1:]]
        position = 0
        while position < len(rest):
            name = rest[position]
            if name in _RETURNS:
                tail = True
                break
            if name == "POP_BLOCK":
                # 3.9/3.10: leaving a `try` body (its handler would have seen the call's
                # exception: not a tail call) or, before POP_EXCEPT, the end of `except E as e`.
                if "POP_EXCEPT" not in rest[position + 1:position + 3]:
                    break
            elif rest[position:position + 3] == ["LOAD_CONST", "STORE_FAST", "DELETE_FAST"]:
                position += 3  # `e = None; del e` at the end of `except E as e`
                continue
            elif name not in _STACK_CLEANUP:
                break
            position += 1
        if tail and _covered_by_handler(code, instructions[index].offset, by_offset):
            tail = False
    _tail_calls[key] = tail
    return tail


def check(unwind):
    """The first frame `unwind` passed that cannot be resumed, as `(frame, line)`, or None.
    Called by whoever caught it at the top (a worker, the in-process coordinator): the first
    frame of its traceback is that catcher's, which the unwind did not pass. An `exit` is never
    resumed (the task ends there), so any frame may pass it."""
    if unwind.request.kind == protocol.EXIT:
        return None
    saved = {id(frame) for frame in unwind.saved_frames}
    tb = unwind.__traceback__
    tb = tb.tb_next if tb is not None else None
    while tb is not None:
        frame = tb.tb_frame
        code = frame.f_code
        if id(frame) not in saved and not _in_runtime(code) and not is_tail_call(code, tb.tb_lasti):
            return frame, tb.tb_lineno
        tb = tb.tb_next
    return None


def describe(frame, line, where=None):
    """The message of `NotCompiled` for a frame found by `check`. `where(filename, line)` may
    map a generated line to the user's `(filename, line)`."""
    code = frame.f_code
    filename, line = where(code.co_filename, line) if where else (code.co_filename, line)
    name = getattr(code, "co_qualname", code.co_name)
    return (
        "a coordinator call paused the task inside `%s` (%s, line %d), which kappac did not compile: "
        "it was reached through a call kappac could not follow, so the task cannot be resumed "
        "there and would give a wrong result. Call the pausing function through a name kappac can "
        "follow (a function defined in handler.py, or a variable holding one), and run `kappac check` "
        "(if it reports nothing for this call, this is a kappac bug)" % (name, os.path.basename(filename), line)
    )
