global x
x: int = 1
global x