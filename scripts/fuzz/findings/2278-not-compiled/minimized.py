from rt import checkpoint, create_queue, create_queues, map_spawn, maybe_pause, on_coordinator, pause, spawn

def g0(a, b):
    pass

def f0(log, n0):
    w6 = 0
    while w6 < 2:
        w6 += 1
        x7 = spawn(g0, (w6, 1)).wait()
        try:
            continue
        except ValueError as err10:
            pass

def handler(event, context):
    log = 1
    b = 1
    out['f0'] = f0(log, b)
