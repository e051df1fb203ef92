if x:
	a = 1
else:
  *args       