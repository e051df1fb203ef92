
x = 1
# -*- codiKg: klèngon -*-