import rt

def handler(t, x):
    1 .wait()

    def m():
        nonlocal x
