# coding: koi
x = 1
