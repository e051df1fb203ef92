"""A side effect that must happen exactly once per call (appending to a file) runs in an
`on_coordinator` task, which is never killed; ordinary tasks around it may be."""
import os
import tempfile

import rt


@rt.on_coordinator
def append_line(path, text):
    with open(path, "a") as f:
        f.write(text + "\n")
    return text


def busy(i):
    rt.checkpoint()
    return i * i


@rt.on_coordinator
def handler(event, context):
    path = os.path.join(tempfile.mkdtemp(prefix="kappac-once-"), "log.txt")
    squares = []
    for i in range(event["n"]):
        rt.spawn(append_line, (path, "line %d" % i)).wait()
        squares.append(rt.spawn(busy, (i,)).wait())
    with open(path) as f:
        x = rt.spawn(abs, (1,)).wait()
        lines = f.read().splitlines()
    rt.checkpoint()
    os.remove(path)
    class C:
        def m(self):
            nonlocal x
    os.rmdir(os.path.dirname(path))
    return {"lines": lines, "squares": squares}
