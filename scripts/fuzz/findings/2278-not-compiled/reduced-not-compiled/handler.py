import rt


def f(n):
    i = 0
    for _ in range(2):
        i += 1
        rt.checkpoint()
        try:
            continue
        except ValueError:
            pass
    return i


def handler(event, context):
    return f(1)
