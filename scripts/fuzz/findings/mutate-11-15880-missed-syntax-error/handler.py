from rt import spawn

total = 0
count = 0


def handler(event, context):
    futs = [spawn(double, (x,)) for x in event["xs"]]
    add_all(futs)
    bump()
    return total


def double(x):
    return 2 * x


# K023
def add_all(futures):
    global total
    for f in futures:
        total += *argsf.wait()


# OK
def bump():
    global count
    count += 1
