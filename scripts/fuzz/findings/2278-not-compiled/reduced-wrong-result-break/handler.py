import rt


def f(log):
    for i in range(3):
        rt.checkpoint()
        try:
            log.append(i)
            break
        except ValueError:
            log.append("caught by the loop's handler")
    raise ValueError("after the loop")


def handler(event, context):
    log = []
    try:
        f(log)
    except ValueError as error:
        log.append("handler caught " + str(error))
    return log
