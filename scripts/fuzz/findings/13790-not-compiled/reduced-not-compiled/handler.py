import rt


class Rec:
    def __init__(self, log, name):
        self.log = log
        self.name = name

    def __enter__(self):
        self.log.append("enter " + self.name)

    def __exit__(self, *exc):
        self.log.append("exit " + self.name)


def handler(event, context):
    log = []
    for i in range(3):
        rt.checkpoint()
        with Rec(log, str(i)):
            if i < 2:
                continue
            rt.checkpoint()
            log.append("after")
    return log
