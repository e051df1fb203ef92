"""Process lifetimes: nothing kappac starts outlives what started it.

`kappac run` starts the coordinator, the coordinator starts workers, a task may start
subprocesses. Each process asks the kernel to signal it when its parent dies (Linux's
PR_SET_PDEATHSIG; elsewhere nothing is done). A worker runs in a process group of its own,
with the subprocesses of its tasks: the coordinator kills the whole group when it kills a worker,
and a worker whose coordinator died kills its group, so a task's `sleep 300` ends with it.
"""

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def signal_when_parent_dies(signum=signal.SIGTERM):
    """Asks for `signum` when the parent process dies; exits at once if it already has."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:
        os._exit(1)  # orphaned before the request took effect


def kill_own_group_on(signum=signal.SIGTERM):
    """On `signum`, kills this process's group (itself and its children) at once."""

    def handler(received, frame):
        try:
            os.killpg(os.getpgrp(), signal.SIGKILL)
        finally:
            os._exit(1)

    signal.signal(signum, handler)


def kill_group(pid):
    """Kills the process group led by `pid` (a worker and its tasks' subprocesses)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass
