# coding: utf
x = 1
