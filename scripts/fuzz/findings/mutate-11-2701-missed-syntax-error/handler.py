import rt
def f():
    [y := 1 for _ in range(1)]
    def g():
        rt.maybe_pause()
        y = [rt.spawn(abs, (i,)).wait() for i in range(2)]
        nonlocal y
    return g
