"""The runtime's layering (docs/ARCHITECTURE.md): the task side (`rt`) never imports the
coordinator (`kappa_coordinator`), so a worker needs only `rt`; the coordinator imports `rt`
only for the protocol and process lifetimes, never the task API's machinery.

    python3 tests/py/test_layers.py [-v]
"""

import os
import subprocess
import sys
import unittest

RUNTIME = os.environ.get("KAPPA_RUNTIME") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "runtime_py")

TASK_SIDE = ["rt", "rt.lifetime", "rt.manifest", "rt.protocol", "rt.soundness", "rt.wire", "rt.worker"]


def _modules_after_import(names):
    code = ("import sys; sys.path.insert(0, sys.argv[1]); "
            "[__import__(n) for n in sys.argv[2:]]; print('\\n'.join(sorted(sys.modules)))")
    output = subprocess.run([sys.executable, "-c", code, RUNTIME] + names,
                            check=True, capture_output=True, text=True).stdout
    return set(output.split())


class Layers(unittest.TestCase):
    def test_task_side_does_not_import_the_coordinator(self):
        loaded = _modules_after_import(TASK_SIDE)
        self.assertTrue(set(TASK_SIDE) <= loaded)
        self.assertEqual(sorted(m for m in loaded if m.split(".")[0] == "kappa_coordinator"), [])

    def test_every_task_side_module_is_listed(self):
        files = sorted(f[:-3] for f in os.listdir(os.path.join(RUNTIME, "rt")) if f.endswith(".py"))
        self.assertEqual(sorted("rt" if f == "__init__" else "rt." + f for f in files), sorted(TASK_SIDE))

    def test_the_coordinator_uses_only_the_protocol_side_of_rt(self):
        loaded = _modules_after_import(["kappa_coordinator.coordinator", "kappa_coordinator.__main__"])
        self.assertEqual(sorted(m for m in loaded if m.split(".")[0] == "rt"),
                         ["rt", "rt.lifetime", "rt.protocol"])


if __name__ == "__main__":
    unittest.main()
