class C:
    def g():
        return __class__
        nonlocal __class__
