"""A nested function declares `nonlocal x` for a variable that is otherwise dead after a pause:
the continuation still binds it, or the emitted module would not compile (found by the
mutation fuzzer)."""
import rt


def handler(event, context):
    label = "x"
    count = 0
    rt.checkpoint()

    def show():
        rt.maybe_pause()
        rt.pause()
        nonlocal label
        return "shown"

    def read():
        nonlocal count
        return count

    return [show(), read()]
