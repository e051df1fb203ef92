import rt


def p(x):
    rt.checkpoint()
    return x


class Rec:
    def __init__(self, log):
        self.log = log

    def __enter__(self):
        self.log.append("enter")

    def __exit__(self, *exc):
        self.log.append("exit")


def f(log, n0, x3):
  with Rec(log):
    for i6 in range(2):
        try:
            log.append(p(i6))
            if n0 in [1, 3, 5]:
                continue
        except Exception:
            log.append("exc")
        else:
            break
        finally:
            if x3 != i6:
                continue
        return "after try"
  return log


def handler(event, context):
    return [f([], 9, 7), f([], 1, 7)]
