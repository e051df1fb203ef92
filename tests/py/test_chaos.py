"""`--chaos kill=P,seed=S` (runtime_py/kappa_coordinator/chaos.py, class Chaos): each decision
depends only on the seed and on what is decided, and chaos kills a task at most MAX_KILLS times
before it reaches a new checkpoint.

    python3 -m unittest discover -s tests/py -p 'test_*.py'
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "runtime_py"))

from kappa_coordinator.chaos import Chaos  # noqa: E402


class ChaosTests(unittest.TestCase):
    def schedule(self, spec):
        chaos = Chaos(spec)
        return [
            (chaos.kills(place, task, seqno, kills, 0.5), chaos.mid_invocation_delay(task, seqno, kills))
            for place in ("before", "after")
            for task in ("0", "0.1.0", "0.2.1")
            for seqno in range(20)
            for kills in range(Chaos.MAX_KILLS)
        ]

    def test_a_seed_gives_one_schedule(self):
        # Two coordinators with the same seed (two runs, on any machine) decide alike; the
        # order in which decisions are asked for does not matter.
        first = self.schedule("kill=0.3,seed=7")
        self.assertEqual(first, self.schedule("kill=0.3,seed=7"))
        chaos = Chaos("kill=0.3,seed=7")
        backwards = [chaos.kills("before", "0", seqno, 0, 0.5) for seqno in reversed(range(20))]
        forwards = [Chaos("kill=0.3,seed=7").kills("before", "0", seqno, 0, 0.5) for seqno in range(20)]
        self.assertEqual(backwards[::-1], forwards)
        self.assertNotEqual(first, self.schedule("kill=0.3,seed=8"))

    def test_the_rate_is_about_p(self):
        chaos = Chaos("kill=0.3,seed=1")
        n = 20000
        killed = sum(chaos.kills("after", "0", seqno, 0, 0.5) for seqno in range(n))
        self.assertAlmostEqual(killed / n, 0.15, delta=0.015)
        self.assertTrue(all(chaos.mid_invocation_delay("0", seqno, 0) is None for seqno in range(100)))
        chaos = Chaos("kill=0.3,seed=1,timed")
        delays = [chaos.mid_invocation_delay("0", seqno, 0) for seqno in range(n)]
        drawn = [d for d in delays if d is not None]
        self.assertAlmostEqual(len(drawn) / n, 0.3 * Chaos.MID_INVOCATION_SHARE, delta=0.01)
        self.assertTrue(all(0 <= d < Chaos.MID_INVOCATION for d in drawn))

    def test_a_task_is_killed_at_most_max_kills_times_per_checkpoint(self):
        chaos = Chaos("kill=1.0,seed=1,timed")
        self.assertTrue(all(chaos.kills("before", "0", 3, k, 1.0) for k in range(Chaos.MAX_KILLS)))
        self.assertFalse(chaos.kills("before", "0", 3, Chaos.MAX_KILLS, 1.0))
        self.assertIsNone(chaos.mid_invocation_delay("0", 3, Chaos.MAX_KILLS))

    def test_specs(self):
        self.assertFalse(Chaos("kill=0.3,seed=2").timed)
        self.assertTrue(Chaos("kill=0.3,seed=2,timed").timed)
        for bad in ("kill=0.3,seed=2,sometimes", "kill=0.3,seed=2,speed=3", "seed=2", "kill=x"):
            with self.assertRaises(ValueError):
                Chaos(bad)

    def test_no_chaos_and_every_draw_nothing(self):
        for spec in (None, "every"):
            chaos = Chaos(spec)
            self.assertFalse(chaos.kills("before", "0", 1, 0, 0.5))
            self.assertIsNone(chaos.mid_invocation_delay("0", 1, 0))


if __name__ == "__main__":
    unittest.main()
