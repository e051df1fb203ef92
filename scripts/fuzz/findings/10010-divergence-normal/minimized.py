from rt import checkpoint, create_queue, create_queues, exit, map_spawn, maybe_pause, on_coordinator, pause, spawn, spawn_many

def g0(a):
    pass

def f0(log, n0, n1):
    x7 = n0
    fut8 = spawn(g0, (n0,))
    del x7

def handler(event, context):
    log = 1
    out = {}
    try:
        out['f0'] = f0(log, 1, 1)
    except Exception as error:
        pass
    return {'log': log, 'out': out, 'vals': 1}
