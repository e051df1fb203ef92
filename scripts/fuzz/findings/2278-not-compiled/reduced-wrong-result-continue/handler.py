import rt


def f(log):
    for i in range(3):
        if i == 0:
            rt.checkpoint()
        if i == 2:
            raise ValueError("boom at 2")
        try:
            log.append(i)
            continue
        except ValueError:
            log.append("caught by the handler of an earlier iteration")
    return log


def handler(event, context):
    log = []
    try:
        f(log)
    except ValueError as error:
        log.append("handler caught " + str(error))
    return log
