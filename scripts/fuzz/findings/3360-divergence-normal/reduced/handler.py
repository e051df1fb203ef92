import rt


def g(log, a):
    try:
        raise ValueError("original")
    except ValueError:
        rt.checkpoint()
        raise
    finally:
        log.append(a)


def handler(event, context):
    log = []
    try:
        g(log, 7)
    except Exception as error:
        log.append(type(error).__name__ + ": " + str(error))
    return log
