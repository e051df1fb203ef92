#coding:latin-
def r():
 return""