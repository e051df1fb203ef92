import rt


def handler(event, context):
    label = "x"
    rt.checkpoint()

    def show():
        nonlocal label
        return "shown"

    return show()
