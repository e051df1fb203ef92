global x
x: int
global x
