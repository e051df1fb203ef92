def f():
    [y:=1or()]
    def g():
        y=[(()).w()or()]
        nonlocal y