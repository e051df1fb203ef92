def r():
    o += *a
