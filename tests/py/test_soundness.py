"""The runtime's safety net (rt.soundness): a pause that unwinds through a frame kappac did not
compile fails the run, naming that frame; frames that can be resumed (compiled ones, and frames
at a tail call) pass. Independent of the compiler's analysis: the "compiled" function below is
written in the shape kappac emits.

    python3 -m unittest discover -s tests/py -p 'test_*.py'
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "runtime_py"))

import rt  # noqa: E402
from rt.soundness import NotCompiled  # noqa: E402


def _resume_pauser(outcome, variables):
    outcome.get()
    return variables["x"] + 1


def pauser(x):
    """What kappac emits for `def pauser(x): rt.checkpoint(); return x + 1`."""
    try:
        rt.checkpoint()
    except rt.Unwind as unwind:
        unwind.push(_resume_pauser, rt.live(locals(), ("x",)))
        raise
    return x + 1


def exits_from_helper(x):
    """Not compiled, but `exit` is never resumed: nothing of this frame is lost."""
    rt.exit(x * 10)
    return "never"


def uses_result(x):
    y = pauser(x)
    return ["done", y]


def tail(x):
    return pauser(x)


def tail_in_loops(xs):
    for x in xs:
        while True:
            return pauser(x)


def tail_in_handler(x):
    try:
        raise ValueError(x)
    except ValueError:
        return pauser(x)


def tail_in_named_handler(x):
    try:
        raise ValueError(x)
    except ValueError as error:
        return pauser(error.args[0])


def tail_inside_try(x):
    try:
        return pauser(x)
    except ValueError:
        return None


def tail_inside_finally_try(x):
    try:
        return pauser(x)
    finally:
        pass


class Manager:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def tail_inside_with(x):
    with Manager():
        return pauser(x)


def argument(x):
    return str(pauser(x))


def through_lambda(x):
    return (lambda y: pauser(y))(x)


def uses_lambda(x):
    f = lambda y: pauser(y)  # noqa: E731
    value = f(x)
    return value


class SafetyNet(unittest.TestCase):
    def test_compiled_frames_resume(self):
        self.assertEqual(rt.run(pauser, 1), 2)

    def test_tail_calls_resume(self):
        for f in (tail, tail_in_handler, tail_in_named_handler, through_lambda):
            with self.subTest(f=f.__name__):
                self.assertEqual(rt.run(f, 1), 2)
        self.assertEqual(rt.run(tail_in_loops, [5]), 6)

    def test_exit_passes_any_frame(self):
        self.assertEqual(rt.run(exits_from_helper, 4), 40)

    def test_frames_with_work_left_fail_the_run(self):
        cases = {
            uses_result: "uses_result",
            tail_inside_try: "tail_inside_try",
            tail_inside_finally_try: "tail_inside_finally_try",
            tail_inside_with: "tail_inside_with",
            argument: "argument",
            uses_lambda: "uses_lambda",
        }
        for f, name in cases.items():
            with self.subTest(f=name):
                with self.assertRaises(NotCompiled) as raised:
                    rt.run(f, 1)
                message = str(raised.exception)
                self.assertIn("`%s`" % name, message)
                self.assertIn("kappac did not compile", message)
                self.assertIn("test_soundness.py, line", message)


if __name__ == "__main__":
    unittest.main()
