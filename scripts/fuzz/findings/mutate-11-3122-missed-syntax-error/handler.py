import rt
if True:
	x = rt.spawn(abs, (1,)).wait()
	if True:
        y = 2
