"""A nested function declares `nonlocal x` for a variable that is otherwise dead after a pause:
the continuation still binds it, or the emitted module would not compile (found by the
mutation fuzzer)."""
import rt


def handler(event, context):
    label = "x"
    count = 0
    rt.checkpoint()

    def show():
        nonlocal label
        return "shown"

    def read():
        y = [rt.spawn(abs, (i,)).wait() for i in range(2)]
        rt.checkpoint()
        nonlocal count
        return count

    return [show(), read()]
