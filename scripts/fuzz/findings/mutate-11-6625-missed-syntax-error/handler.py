import rt
def f():
    x = rt.spawn(abs, (1,)).wait()
    rt.maybe_pause()
    def g():
        x = rt.spawn(abs, (1,)).wait()
        y = [rt.spawn(abs, (i,)).wait() for i in range(2)]
        nonlocal x
        x = 2
    q = rt.create_queue(1)
    x = 1
    g()
    g()
    rt.checkpoint()
    return x
