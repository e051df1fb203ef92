for c in ():
	 for i in ():
    pass
