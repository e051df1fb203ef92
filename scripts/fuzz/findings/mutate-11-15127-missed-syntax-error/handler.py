class C:
    def f(self):
        def g():
            return __class__
            nonlocal __class__
        return g
