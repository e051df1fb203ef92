if e:
	if e:
        y
