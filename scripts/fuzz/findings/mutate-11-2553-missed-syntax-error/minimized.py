"""
"""
for c in():
	 for i in():
    [()](()%c)