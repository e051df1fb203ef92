import rt

def g1(a):
    try:
        raise ValueError(1)
    except ValueError as err8:
        rt.pause()
        raise
    finally:
        if a:
            pass

def f0(log, n0, n1):
    x13 = rt.spawn(g1, (n0,), blocking=True)

def handler(event, context):
    log = []
    b = 1
    name = 1
    out = 1
    try:
        out['f0'] = f0(log, b, name)
    except Exception as error:
        log.append(['E', 'f0', 1, str(error)])
    return {'log': log, 'out': out, 'vals': 1}
