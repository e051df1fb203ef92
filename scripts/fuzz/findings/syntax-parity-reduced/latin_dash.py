# coding: latin-
x = 1
