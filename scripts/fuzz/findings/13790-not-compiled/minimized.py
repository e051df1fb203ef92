import rt as kr

class Rec:

    def __init__(self, log, name, suppress=False):
        pass

    def __enter__(self):
        pass

    def __exit__(self, kind, value, tb):
        pass

def g0(a):
    pass

def handler(event, context):
    log = 1
    for i26 in range(2):
        fut27 = kr.spawn(g0, (4,))
        with Rec(log, 'cm28'):
            continue
            f'r29={g1.wait()}'
