# -*- coding: latin- try: 1 -*-
# OK
import rt
def handler(event, context):
    x = rt.spawn(abs, (1,)).wait()
    y = [rt.spawn(abs, (i,)).wait() for i in range(2)]
    y = [rt.spawn(abs, (i,)).wait() for i in range(2)]
    return "café"
