def r():
 o+=*a
def p():
 o