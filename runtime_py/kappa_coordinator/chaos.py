"""Failure injection (`--chaos`): when the coordinator kills workers, to prove that a run gives
the same answer however often its workers die."""

import hashlib


class Chaos:
    """When `--chaos` kills workers.

    `every`: after every coordinator call is stored. `kill=P,seed=S`: each decision is a draw
    that depends only on the seed and on what is decided — the task, the number of its call
    or of the call it resumes from, and how many times chaos has already killed it there — so a
    seed gives the same kill schedule on any machine, however fast and however the tasks are
    scheduled. Two places to die: before a call is stored (P/2), and after it is stored and
    applied (P/2). With `,timed`, also in the middle of an invocation (P/5, at a drawn moment
    in its first `MID_INVOCATION` seconds): explicitly not reproducible, since what the task
    has done by then depends on the machine's speed. Chaos kills one task at most
    `MAX_KILLS` times before it reaches a new checkpoint: chaos alone never fails a program
    (its kills do not count toward the coordinator's restart bound)."""

    MAX_KILLS = 3
    MID_INVOCATION = 0.2
    MID_INVOCATION_SHARE = 0.2

    def __init__(self, spec):
        self.every = False
        self.probability = 0.0
        self.seed = 0
        self.timed = False
        if not spec:
            return
        if spec == "every":
            self.every = True
            return
        parts = spec.split(",")
        options = dict(part.split("=", 1) for part in parts if "=" in part)
        flags = [part for part in parts if "=" not in part]
        try:
            self.probability = float(options.pop("kill"))
            self.seed = int(options.pop("seed", "0"))
            if options or any(flag != "timed" for flag in flags):
                raise ValueError(spec)
        except (KeyError, ValueError):
            raise ValueError("--chaos takes `every` or `kill=P,seed=S[,timed]`, not %r" % spec)
        self.timed = "timed" in flags
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("--chaos kill=P needs 0 <= P <= 1")

    def draw(self, *key):
        """A number in [0, 1) that depends only on the seed and `key`."""
        digest = hashlib.sha256(repr((self.seed,) + key).encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2.0 ** 64

    def kills(self, place, task, seqno, kills_so_far, share):
        """Whether chaos kills `task` at `place` of its call `seqno`."""
        if not self.probability or kills_so_far >= self.MAX_KILLS:
            return False
        return self.draw(place, task, seqno, kills_so_far) < self.probability * share

    def mid_invocation_delay(self, task, seqno, kills_so_far):
        """When to kill an invocation of `task` resumed at call `seqno` (seconds after it
        starts), or None."""
        if not self.timed or not self.kills("during", task, seqno, kills_so_far, self.MID_INVOCATION_SHARE):
            return None
        return self.draw("when", task, seqno, kills_so_far) * self.MID_INVOCATION
