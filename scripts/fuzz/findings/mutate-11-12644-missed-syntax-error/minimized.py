global x
x:t
global x