import rt


def handler(event, context):
    xs = [1, 2]
    rt.checkpoint()
    del xs
    return "deleted"
