from rt import spawn


def add(a, b):
    return a + b


def fib(n):
    if n < 2:
        return n
    left = spawn(fib, (n - 1,))
    right = spawn(fib, (n - 2,))
    return spawn(add, (left, right)).wait()   # futures as arguments


def handler(event, context):
    return fib(event["n"])
