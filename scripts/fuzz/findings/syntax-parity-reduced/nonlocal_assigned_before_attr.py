def f():
    x = (()).t
    def g():
        x = a
        nonlocal x
