import rt

def g0(a, b):
    pass

def f0(log, *ps):
    n0 = 1
    x3 = 1
    with rt.spawn(g0, (x3, n0)).wait() as tag5:
        pass

def handler(event, context):
    log = []
    b = 1
    out = 1
    try:
        out['f0'] = f0(log, b, 7)
    except Exception as error:
        log.append(['E', 'f0', 1, str(error)])
    return {'log': log, 'out': out, 'vals': 1}
