#!/usr/bin/env python3
"""Grammar-based generator of Kappa handler.py programs for the differential fuzzer (issue 10).

    generate.py SEED [-o APP_DIR]      write APP_DIR/handler.py and APP_DIR/event.json
                                       (without -o: the handler on stdout)

Every program is valid, deterministic and terminating: `handler(event, context)` returns a JSON
document holding a trace (`log`, a list that statements append to, so that a divergence in
control flow shows) and final values. The same seed always gives the same bytes
(`random.Random(seed)`, nothing else).

What keeps the programs honest (the rules the generator follows):
- every loop is bounded (`for` over a range or a slice of at most 4 elements, `while` on a
  counter incremented first thing in the body); calls go from later functions to earlier ones
  only, and the two recursive templates take a small depth;
- a cost model bounds the coordinator calls and the work a run makes (`Budget`);
- spawned tasks get immutable arguments (ints, strings, tuples) or fresh objects, and never the
  caller's `log`: a spawned procedure runs under `traced`, which gives it a log of its own and
  returns `[value, log]`;
- a future whose task may fail is waited for at once (inside the `try` that catches it); other
  futures may be waited for later, or not at all;
- a queue is always used by one producer and one consumer with the same count of objects;
- nested functions and lambdas capture only names that are never rebound (parameters and
  constants) plus `log`, which they only append to (K041 is about rebinding);
- sets are only looked at through `sorted`, `len` and `in`; dict keys are strings.
"""

import argparse
import json
import os
import random
import sys

KEYS = ["a", "b", "c", "d"]
WORDS = ["ab", "cd", "xy", "kap", "pa", "zz"]


class Var:
    __slots__ = ("name", "type", "const", "assignable", "info")

    def __init__(self, name, type_, const=False, assignable=True, info=None):
        self.name = name
        self.type = type_
        self.const = const
        self.assignable = assignable and not const
        self.info = info


class Fn:
    """A generated function: `kind` is "pure" (ints in, int out, spawnable), "proc"
    (`log` first, int out; spawned through `traced`), "closure"."""

    def __init__(self, name, kind, arity, params=None):
        self.name = name
        self.kind = kind
        self.arity = arity
        self.params = params or []
        self.pausing = False
        self.may_raise = False
        self.cost = 0  # coordinator calls per call (upper bound)
        self.work = 1  # statements per call (upper bound)
        self.spawnable = kind == "pure"
        self.decorated = False
        self.variadic = False


class Cls:
    def __init__(self, name, base):
        self.name = name
        self.base = base
        self.step = None  # Fn of the `step(self, log, x)` method
        self.init_cost = 0
        self.init_raise = False
        self.user = None  # module-level function spawning it


class Ctx:
    """Generation state of one function body."""

    def __init__(self, gen, fn, has_log, allow_pause, budget, work_budget):
        self.gen = gen
        self.fn = fn
        self.has_log = has_log
        self.allow_pause = allow_pause
        self.budget = budget
        self.work_budget = work_budget
        self.scopes = [[]]
        self.futs = [[]]
        self.loops = []  # one entry per enclosing loop: True
        self.mult = 1
        self.depth = 0
        self.protected = 0  # > 0: inside a try body whose handlers catch ValueError
        self.in_finally = 0
        self.in_handler = 0
        self.pausing = False
        self.may_raise = False
        self.used = 0
        self.work = 0
        self.callees = []  # functions this body may call directly
        self.max_depth = 2
        # compound statements stop once the output reaches this line (a size bound per function)
        self.line_limit = len(gen.lines) + gen.allowance(fn.kind if fn else "proc")

    # scopes
    def push(self):
        self.scopes.append([])
        self.futs.append([])

    def pop(self):
        self.scopes.pop()
        self.futs.pop()

    def add(self, var):
        self.scopes[-1].append(var)
        return var

    def vars(self, type_=None, assignable=None, const=None):
        found = []
        for scope in self.scopes:
            for v in scope:
                if type_ is not None and v.type != type_:
                    continue
                if assignable is not None and v.assignable != assignable:
                    continue
                if const is not None and v.const != const:
                    continue
                found.append(v)
        return found

    # costs
    def can_pay(self, calls):
        return self.allow_pause and self.used + calls * self.mult <= self.budget

    def pay(self, calls):
        self.used += calls * self.mult
        if calls:
            self.pausing = True

    def can_work(self, work):
        return self.work + work * self.mult <= self.work_budget

    def do_work(self, work):
        self.work += work * self.mult

    def raised(self):
        """An exception may leave the current statement."""
        if not self.protected:
            self.may_raise = True


class Generator:
    def __init__(self, seed, budget=32, disable=()):
        self.disable = frozenset(disable)
        self.seed = seed
        self.r = random.Random(seed)
        self.total_budget = budget
        self.lines = []
        self.ind = 0
        self.counter = 0
        self.marks = 0
        self.pures = []
        self.procs = []
        self.classes = []
        self.features = set()
        self.in_fstring = 0
        self.in_comprehension = 0
        self.stress = False
        self.soft_lines = 100

    # ---------------------------------------------------------------- helpers
    def chance(self, p):
        return self.r.random() < p

    def pick(self, seq):
        return seq[self.r.randrange(len(seq))]

    def weighted(self, table):
        total = sum(w for _, w in table)
        x = self.r.random() * total
        for item, w in table:
            x -= w
            if x < 0:
                return item
        return table[-1][0]

    def uid(self, prefix):
        self.counter += 1
        return "%s%d" % (prefix, self.counter)

    def line(self, text):
        self.lines.append("    " * self.ind + text if text else "")

    def indent(self):
        gen = self

        class _Indent:
            def __enter__(self):
                gen.ind += 1

            def __exit__(self, *exc):
                gen.ind -= 1

        return _Indent()

    def allowance(self, kind):
        """Lines a function body may grow to before it takes only simple statements."""
        lo, hi = {"pure": (4, 10), "method": (4, 9), "closure": (3, 7), "handler": (12, 26)}.get(kind, (14, 30))
        if self.stress:
            lo, hi = lo + 4, hi + 8
        return self.r.randint(lo, hi)

    def mark(self, ctx):
        self.marks += 1
        return '"%s.%d"' % (ctx.fn.name if ctx.fn else "m", self.marks)

    # coordinator API names, by import style
    def api(self, name):
        if self.style == "from":
            return name
        return "%s.%s" % (self.rt, name)

    def int_lit(self):
        return str(self.r.randint(0, 9))

    # ------------------------------------------------------------ expressions
    def int_leaf(self, ctx):
        options = [("lit", 3)]
        ints = ctx.vars("int")
        if ints:
            options.append(("var", 8))
        if ctx.vars("list"):
            options.append(("list", 2))
        if ctx.vars("str"):
            options.append(("str", 1))
        if ctx.vars("dict"):
            options.append(("dict", 2))
        if ctx.vars("obj"):
            options.append(("obj", 1))
        if ctx.vars("set"):
            options.append(("set", 1))
        kind = self.weighted(options)
        if kind == "lit":
            return self.int_lit()
        if kind == "var":
            return self.pick(ints).name
        if kind == "list":
            v = self.pick(ctx.vars("list")).name
            return self.pick(["len(%s)" % v, "%s[-1]" % v, "%s[0]" % v, "sum(%s[:3])" % v, "max(%s)" % v])
        if kind == "str":
            return "len(%s)" % self.pick(ctx.vars("str")).name
        if kind == "dict":
            v = self.pick(ctx.vars("dict")).name
            return self.pick(['%s.get("%s", 0)' % (v, self.pick(KEYS)), "len(%s)" % v])
        if kind == "set":
            v = self.pick(ctx.vars("set")).name
            return self.pick(["len(%s)" % v, "(%s in %s)" % (self.int_lit(), v)])
        v = self.pick(ctx.vars("obj"))
        return self.pick(["%s.a" % v.name, "%s.total()" % v.name])

    def int_expr(self, ctx, depth=2, pause=0.0):
        """An int expression; with probability `pause` it holds a pause point."""
        if pause and self.chance(pause):
            text = self.pause_int(ctx, depth)
            if text is not None:
                return text
        if depth <= 0 or self.chance(0.3):
            return self.int_leaf(ctx)
        d = depth - 1
        kind = self.weighted([
            ("add", 5), ("sub", 3), ("mul", 3), ("div", 2), ("mod", 2), ("abs", 1), ("minmax", 2),
            ("cond", 2), ("call", 3), ("lam", 1), ("comp", 1), ("gen", 1), ("len", 1),
        ])
        if kind == "add":
            return "(%s + %s)" % (self.int_expr(ctx, d, pause), self.int_expr(ctx, d, pause))
        if kind == "sub":
            return "(%s - %s)" % (self.int_expr(ctx, d, pause), self.int_expr(ctx, d))
        if kind == "mul":
            return "(%s * %s %% 97)" % (self.int_expr(ctx, d, pause), self.int_expr(ctx, d))
        if kind == "div":
            return "(%s // (abs(%s) %% 4 + 1))" % (self.int_expr(ctx, d, pause), self.int_expr(ctx, d))
        if kind == "mod":
            return "(%s %% %d)" % (self.int_expr(ctx, d, pause), self.r.randint(2, 11))
        if kind == "abs":
            return "abs(%s)" % self.int_expr(ctx, d, pause)
        if kind == "minmax":
            return "%s(%s, %s)" % (self.pick(["min", "max"]), self.int_expr(ctx, d, pause), self.int_expr(ctx, d))
        if kind == "cond":
            return "(%s if %s else %s)" % (self.int_expr(ctx, d, pause), self.cond(ctx, d, pause), self.int_expr(ctx, d, pause))
        if kind == "call":
            fns = [f for f in ctx.callees if f.kind == "pure" and not f.pausing and ctx.can_work(f.work)]
            if fns:
                f = self.pick(fns)
                return self.call_pure(ctx, f, d, pause)
            return self.int_leaf(ctx)
        if kind == "lam":
            lams = [v for v in ctx.vars("fn") if not v.info.pausing]
            if lams:
                return "%s(%s)" % (self.pick(lams).name, self.int_expr(ctx, d))
            return self.int_leaf(ctx)
        if kind == "comp":
            i = self.uid("i")
            n = self.r.randint(0, 4)
            ctx.push()
            ctx.add(Var(i, "int", assignable=False))
            old = ctx.mult
            ctx.mult *= max(n, 1)
            elem = self.int_expr(ctx, d)
            ctx.mult = old
            ctx.pop()
            return "sum([%s for %s in range(%d)])" % (elem, i, n)
        if kind == "gen":
            if self.gen_fn:
                self.features.add("generator")
                return "sum(%s(%s))" % (self.gen_fn, self.r.randint(0, 4))
            return self.int_leaf(ctx)
        return "len(%s)" % self.str_expr(ctx, d)

    def call_pure(self, ctx, f, depth, pause):
        ctx.do_work(f.work)
        if f.may_raise:
            ctx.raised()
        args = [self.int_expr(ctx, depth, pause) for _ in range(f.arity)]
        if f.arity == 2 and self.chance(0.2):
            self.features.add("starred")
            return "%s(*[%s])" % (f.name, ", ".join(args))
        if f.arity == 2 and self.chance(0.1):
            self.features.add("kwargs")
            return "%s(**{%s})" % (f.name, ", ".join('"%s": %s' % (p, a) for p, a in zip(f.params, args)))
        return "%s(%s)" % (f.name, ", ".join(args))

    def spawn_target(self, ctx, raising=None, arity=None):
        """A pure function (or a spawnable lambda/closure variable) whose cost fits."""
        cands = []
        for f in ctx.callees:
            if f.kind != "pure" or not f.spawnable:
                continue
            if raising is not None and f.may_raise != raising:
                continue
            if arity is not None and f.arity != arity:
                continue
            if ctx.can_pay(f.cost + 3) and ctx.can_work(f.work):
                cands.append((f.name, f))
        for v in ctx.vars("fn"):
            f = v.info
            if f.spawnable and raising is not True and (arity is None or arity == 1) and ctx.can_pay(f.cost + 3):
                cands.append((v.name, f))
        if not cands:
            return None
        return self.pick(cands)

    def pause_int(self, ctx, depth):
        """An int expression holding a pause point, or None when nothing fits the budget."""
        if not ctx.allow_pause:
            return None
        d = max(depth - 1, 0)
        options = []
        if ctx.can_pay(4):
            options += [("spawn", 6), ("comp", 2), ("map", 1), ("blocking", 1)]
        if ctx.can_pay(1):
            futs = [v for v in ctx.vars("fut")]
            if futs:
                options.append(("fut", 6))
            options.append(("callp", 4))
            if ctx.vars("obj"):
                options.append(("method", 2))
            if [v for v in ctx.vars("fn") if v.info.pausing]:
                options.append(("closure", 3))
            if self.apply_fn:
                options.append(("apply", 1))
            if self.adder_factory:
                options.append(("factory", 1))
            if ctx.vars("table"):
                options.append(("table", 1))
            if len(futs) >= 2 and ctx.can_pay(4):
                options.append(("futargs", 1))
            if futs and ctx.vars("waiter"):
                options.append(("waiter", 2))
            if ctx.has_log and self.recursive and ctx.can_pay(4):
                options.append(("rec", 1))
            if self.tree and ctx.can_pay(30):
                options.append(("tree", 1))
            if ctx.can_pay(4):
                options += [("anyall", 1.5), ("callarg", 2), ("nestcomp", 0.7), ("spawnmany", 0.7), ("boolval", 1.5),
                            ("inlist", 0.7), ("index", 0.7)]
                if ctx.vars("list"):
                    options.append(("slice", 0.7))
                if ctx.vars("obj") and ctx.has_log:
                    options.append(("getattr", 0.5))
                if ctx.vars("list"):
                    options.append(("subscript", 1.5))
                if not self.in_fstring and not self.in_comprehension:
                    options.append(("walrus", 1))
                if [v for v in ctx.vars("fut")]:
                    options.append(("awaits", 1))
                if self.early:
                    options.append(("early", 1))
        options = [(k, w) for k, w in options if k not in self.disable]
        if not options:
            return None
        kind = self.weighted(options)
        if kind == "spawn":
            t = self.spawn_target(ctx)
            if not t:
                return None
            name, f = t
            ctx.pay(f.cost + 3)
            ctx.do_work(f.work)
            if f.may_raise:
                ctx.raised()
            args = [self.int_expr(ctx, d) for _ in range(f.arity)]
            return "%s(%s, (%s,)).wait()" % (self.api("spawn"), name, ", ".join(args))
        if kind == "blocking":
            t = self.spawn_target(ctx)
            if not t:
                return None
            name, f = t
            ctx.pay(f.cost + 3)
            ctx.do_work(f.work)
            if f.may_raise:
                ctx.raised()
            self.features.add("blocking")
            args = [self.int_expr(ctx, d) for _ in range(f.arity)]
            return "%s(%s, (%s,), blocking=True)" % (self.api("spawn"), name, ", ".join(args))
        if kind == "comp":
            n = self.r.randint(1, 3)
            t = self.spawn_target(ctx, arity=1)
            if not t or not ctx.can_pay(n * (t[1].cost + 3)):
                return None
            name, f = t
            ctx.pay(n * (f.cost + 3))
            ctx.do_work(n * f.work)
            if f.may_raise:
                ctx.raised()
            i = self.uid("i")
            self.features.add("pausing comprehension")
            wrap = self.pick(["sum([%s])", "sum(%s)", "max([%s])", "len([%s])"])
            cond = ""
            if self.chance(0.3):
                cond = " if %s %% 2 == %d" % (i, self.r.randint(0, 1))
                wrap = self.pick(["sum([%s])", "len([%s])"])
            return wrap % ("%s(%s, (%s,)).wait() for %s in range(%d)%s" % (self.api("spawn"), name, i, i, n, cond))
        if kind == "map":
            n = self.r.randint(1, 3)
            t = self.spawn_target(ctx, raising=False)
            if not t or not ctx.can_pay(n * (t[1].cost + 3)):
                return None
            name, f = t
            ctx.pay(n * (f.cost + 3))
            ctx.do_work(n * f.work)
            fu = self.uid("fu")
            self.features.add("map_spawn")
            elems = "[%s]" % ", ".join(self.int_lit() for _ in range(n))
            if f.arity == 2:
                return "sum([%s.wait() for %s in %s(%s, %s, extra_args=(%s,))])" % (fu, fu, self.api("map_spawn"), name, elems, self.int_expr(ctx, d))
            return "sum([%s.wait() for %s in %s(%s, %s)])" % (fu, fu, self.api("map_spawn"), name, elems)
        if kind == "fut":
            v = self.pick(ctx.vars("fut"))
            v.info["waited"] = True
            ctx.pay(1)
            return "%s.wait()" % v.name
        if kind == "waiter":
            v = self.pick(ctx.vars("fut"))
            v.info["waited"] = True
            ctx.pay(1)
            self.features.add("pausing lambda")
            return "%s(%s)" % (self.pick(ctx.vars("waiter")).name, v.name)
        if kind == "futargs":
            a, b = self.r.sample(ctx.vars("fut"), 2)
            ctx.pay(4)
            self.features.add("futures as arguments")
            return "%s(%s, (%s, %s)).wait()" % (self.api("spawn"), self.add2, a.name, b.name)
        if kind == "callp":
            fns = [f for f in ctx.callees if f.kind == "pure" and f.pausing and ctx.can_pay(f.cost) and ctx.can_work(f.work)]
            if not fns:
                return None
            f = self.pick(fns)
            ctx.pay(f.cost)
            return self.call_pure(ctx, f, d, 0)
        if kind == "apply":
            fns = [f for f in ctx.callees if f.kind == "pure" and f.arity == 1 and ctx.can_pay(f.cost) and ctx.can_work(f.work)]
            if not fns:
                return None
            f = self.pick(fns)
            ctx.pay(max(f.cost, 1))
            ctx.do_work(f.work)
            if f.may_raise:
                ctx.raised()
            self.features.add("function argument")
            return "%s(%s, %s)" % (self.apply_fn, f.name, self.int_expr(ctx, d))
        if kind == "factory":
            ctx.pay(4)
            self.features.add("returned closure")
            if self.chance(0.5) and ctx.can_pay(7):
                ctx.pay(3)
                return "%s(%s(%s), (%s,)).wait()" % (self.api("spawn"), self.adder_factory, self.int_lit(), self.int_expr(ctx, d))
            return "%s(%s)(%s)" % (self.adder_factory, self.int_lit(), self.int_expr(ctx, d))
        if kind == "table":
            v = self.pick(ctx.vars("table"))
            keys, fns = v.info
            k = self.r.randrange(len(keys))
            f = fns[k]
            if not ctx.can_pay(f.cost):
                return None
            ctx.pay(max(f.cost, 1))
            ctx.do_work(f.work)
            if f.may_raise:
                ctx.raised()
            self.features.add("dispatch table")
            if self.chance(0.5):
                return '%s["%s"](%s)' % (v.name, keys[k], self.int_expr(ctx, d))
            return '%s.get("%s")(%s)' % (v.name, keys[k], self.int_expr(ctx, d))
        if kind == "method":
            v = self.pick(ctx.vars("obj"))
            step = v.info.step
            if not ctx.has_log or not ctx.can_pay(step.cost) or not ctx.can_work(step.work):
                return None
            ctx.pay(max(step.cost, 1) if step.pausing else 0)
            ctx.do_work(step.work)
            if step.may_raise:
                ctx.raised()
            return "%s.step(log, %s)" % (v.name, self.int_expr(ctx, d))
        if kind == "closure":
            v = self.pick([v for v in ctx.vars("fn") if v.info.pausing])
            if not ctx.can_pay(v.info.cost) or not ctx.can_work(v.info.work):
                return None
            ctx.pay(v.info.cost)
            ctx.do_work(v.info.work)
            if v.info.may_raise:
                ctx.raised()
            return "%s(%s)" % (v.name, self.int_expr(ctx, d))
        if kind == "rec":
            n = self.r.randint(0, 2)
            f = self.recursive
            if not ctx.can_pay((n + 1) * f.cost) or not ctx.can_work((n + 1) * f.work):
                return None
            ctx.pay((n + 1) * f.cost)
            ctx.do_work((n + 1) * f.work)
            self.features.add("recursion")
            return "%s(log, %d)" % (f.name, n)
        if kind == "boolval":
            inner = self.pause_int(ctx, d)
            if inner is None:
                return None
            self.features.add("and/or value")
            return "(%s %s %s)" % (self.int_expr(ctx, 0), self.pick(["or", "and"]), inner)
        if kind == "inlist":
            inner = self.pause_int(ctx, d)
            if inner is None:
                return None
            return "int(%s %s [%s, %s])" % (self.int_expr(ctx, 0), self.pick(["in", "not in"]), inner, self.int_lit())
        if kind == "index":
            if self.pair and ctx.can_pay(3 + self.pair.cost):
                ctx.pay(3 + self.pair.cost)
                return "%s(%s, (%s,)).wait()[%s]" % (self.api("spawn"), self.pair.name, self.int_expr(ctx, d), self.pick(["0", "1", "-1"]))
            inner = self.pause_int(ctx, d)
            if inner is None:
                return None
            return "len(str(%s).upper())" % inner
        if kind == "slice":
            inner = self.pause_int(ctx, d)
            if inner is None:
                return None
            v = self.pick(ctx.vars("list")).name
            return "sum(%s[%s %% 3:])" % (v, inner)
        if kind == "getattr":
            v = self.pick(ctx.vars("obj"))
            step = v.info.step
            if not ctx.can_pay(step.cost) or not ctx.can_work(step.work):
                return None
            ctx.pay(max(step.cost, 1) if step.pausing else 0)
            ctx.do_work(step.work)
            if step.may_raise:
                ctx.raised()
            self.features.add("getattr constant")
            return 'getattr(%s, "step")(log, %s)' % (v.name, self.int_expr(ctx, d))
        if kind == "anyall":
            n = self.r.randint(2, 4)
            t = self.spawn_target(ctx, arity=1)
            if not t or not ctx.can_pay(n * (t[1].cost + 3)):
                return None
            name, f = t
            ctx.pay(n * (f.cost + 3))
            ctx.do_work(n * f.work)
            if f.may_raise:
                ctx.raised()
            i = self.uid("i")
            self.features.add("short-circuit generator")
            return "int(%s(%s(%s, (%s,)).wait() %s %d for %s in range(%d)))" % (
                self.pick(["any", "all"]), self.api("spawn"), name, i, self.pick([">", "<", "!=", "=="]),
                self.r.randint(0, 9), i, n)
        if kind == "callarg":
            fns = [f for f in ctx.callees if f.kind == "pure" and ctx.can_work(f.work) and ctx.can_pay(f.cost)]
            if not fns:
                return None
            f = self.pick(fns)
            inner = self.pause_int(ctx, d)
            if inner is None:
                return None
            ctx.pay(f.cost)
            ctx.do_work(f.work)
            if f.may_raise:
                ctx.raised()
            args = [self.int_expr(ctx, d) for _ in range(f.arity)]
            args[self.r.randrange(f.arity)] = inner
            form = self.r.randrange(3)
            if form == 0 or f.arity == 0:
                self.features.add("keyword argument pause")
                return "%s(%s)" % (f.name, ", ".join("%s=%s" % (p, a) for p, a in zip(f.params, args)))
            if form == 1:
                self.features.add("starred argument pause")
                return "%s(*[%s])" % (f.name, ", ".join(args))
            self.features.add("double-starred argument pause")
            return "%s(**{%s})" % (f.name, ", ".join('"%s": %s' % (p, a) for p, a in zip(f.params, args)))
        if kind == "subscript":
            inner = self.pause_int(ctx, d)
            if inner is None:
                return None
            v = self.pick(ctx.vars("list")).name
            self.features.add("subscript pause")
            return "%s[%s %% len(%s)]" % (v, inner, v)
        if kind == "walrus":
            inner = self.pause_int(ctx, d)
            if inner is None:
                return None
            w = self.uid("wal")
            self.features.add("walrus")
            return "((%s := %s) + %s)" % (w, inner, w)
        if kind == "nestcomp":
            t = self.spawn_target(ctx, raising=False, arity=1)
            if not t or not ctx.can_pay(4 * (t[1].cost + 3)):
                return None
            name, f = t
            ctx.pay(4 * (f.cost + 3))
            ctx.do_work(4 * f.work)
            i, j = self.uid("i"), self.uid("j")
            self.features.add("nested pausing comprehension")
            return "sum([sum([%s(%s, (%s + %s,)).wait() for %s in range(2)]) for %s in range(2)])" % (
                self.api("spawn"), name, i, j, i, j)
        if kind == "spawnmany":
            t = self.spawn_target(ctx, raising=False)
            if not t or not ctx.can_pay(2 * (t[1].cost + 3)):
                return None
            name, f = t
            ctx.pay(2 * (f.cost + 3))
            ctx.do_work(2 * f.work)
            fu = self.uid("fu")
            self.features.add("spawn_many")
            args = ", ".join(self.int_expr(ctx, d) for _ in range(f.arity))
            return "sum([%s.wait() for %s in %s(%s, (%s,), %d)])" % (fu, fu, self.api("spawn_many"), name, args, self.r.randint(1, 3))
        if kind == "awaits":
            t = self.spawn_target(ctx, raising=None)
            if not t:
                return None
            name, f = t
            ctx.pay(f.cost + 3)
            ctx.do_work(f.work)
            if f.may_raise:
                ctx.raised()
            v = self.pick(ctx.vars("fut"))
            self.features.add("awaits")
            args = ", ".join(self.int_expr(ctx, d) for _ in range(f.arity))
            return "%s(%s, (%s,), awaits=[%s]).wait()" % (self.api("spawn"), name, args, v.name)
        if kind == "early":
            ctx.pay(5)
            self.features.add("rt.exit")
            return "%s(%s, (%s,)).wait()" % (self.api("spawn"), self.early, self.int_expr(ctx, d))
        if kind == "tree":
            n = self.r.randint(1, 3)
            ctx.pay(3 * [1, 1, 2, 4][n] + 3)
            self.features.add("spawn tree")
            return "%s(%s, (%d,)).wait()" % (self.api("spawn"), self.tree, n)
        return None

    def cond(self, ctx, depth=1, pause=0.0):
        d = max(depth - 1, 0)
        kind = self.weighted([
            ("cmp", 6), ("chain", 2), ("in", 2), ("not", 1), ("and", 2), ("or", 2), ("len", 1),
            ("isinst", 1 if ctx.vars("obj") else 0),
        ])
        if kind == "cmp":
            op = self.pick(["<", "<=", ">", ">=", "==", "!="])
            left, right = self.int_expr(ctx, d, pause), self.int_expr(ctx, d)
            if left == right:
                right = self.int_lit()
            return "%s %s %s" % (left, op, right)
        if kind == "chain":
            self.features.add("chained comparison")
            return "%s <= %s < %s" % (self.int_expr(ctx, 0), self.int_expr(ctx, d, pause), self.int_expr(ctx, 0))
        if kind == "in":
            lists = ctx.vars("list")
            dicts = ctx.vars("dict")
            if lists and (not dicts or self.chance(0.5)):
                return "%s in %s" % (self.int_expr(ctx, d, pause), self.pick(lists).name)
            if dicts:
                return '"%s" in %s' % (self.pick(KEYS), self.pick(dicts).name)
            return "%s in [1, 3, 5]" % self.int_expr(ctx, d, pause)
        if kind == "not":
            return "not (%s)" % self.cond(ctx, d, pause)
        if kind == "and":
            self.features.add("short circuit")
            return "(%s and %s)" % (self.cond(ctx, d, pause), self.cond(ctx, d, pause))
        if kind == "or":
            self.features.add("short circuit")
            return "(%s or %s)" % (self.cond(ctx, d, pause), self.cond(ctx, d, pause))
        if kind == "len":
            return "len(%s) > %d" % (self.str_expr(ctx, 0), self.r.randint(1, 4))
        v = self.pick(ctx.vars("obj"))
        return "isinstance(%s, %s)" % (v.name, self.pick(self.classes).name)

    def str_expr(self, ctx, depth=1, pause=0.0):
        d = max(depth - 1, 0)
        strs = ctx.vars("str")
        kind = self.weighted([
            ("lit", 2), ("var", 5 if strs else 0), ("str", 3), ("cat", 2), ("upper", 1), ("fstr", 3),
            ("join", 1 if ctx.vars("list") else 0), ("rev", 1), ("fmt", 1),
        ])
        if self.in_fstring and kind == "fstr":
            kind = "str"
        if kind == "lit" or depth <= 0 and kind not in ("var", "str"):
            return '"%s"' % self.pick(WORDS)
        if kind == "var":
            return self.pick(strs).name
        if kind == "str":
            return "str(%s)" % self.int_expr(ctx, d, pause)
        if kind == "cat":
            return "(%s + %s)[:12]" % (self.str_expr(ctx, d, pause), self.str_expr(ctx, d))
        if kind == "upper":
            return "%s.upper()" % self.str_expr(ctx, d)
        if kind == "rev":
            return "%s[::-1]" % self.str_expr(ctx, d)
        if kind == "fmt":
            return '("%%s/%%d" %% (%s, %s))' % (self.str_expr(ctx, d), self.int_expr(ctx, d, pause))
        if kind == "join":
            e = self.uid("e")
            return '"-".join(str(%s) for %s in %s[:3])' % (e, e, self.pick(ctx.vars("list")).name)
        self.features.add("f-string")
        self.in_fstring += 1
        parts = []
        for _ in range(self.r.randint(1, 2)):
            spec = self.pick(["", "", "!r", ":>3", ":03d"])
            if spec == "!r":
                parts.append("{%s!r}" % self.str_expr(ctx, d))
            elif spec:
                parts.append("{%s%s}" % (self.int_expr(ctx, d, pause), spec))
            else:
                parts.append("{%s}" % self.int_expr(ctx, d, pause))
        self.in_fstring -= 1
        return 'f"%s"' % ("_".join(parts)).replace('"', "'")

    def list_expr(self, ctx, depth=1, pause=0.0):
        d = max(depth - 1, 0)
        lists = ctx.vars("list")
        kind = self.weighted([
            ("lit", 4), ("slice", 2 if lists else 0), ("sorted", 1 if lists else 0), ("comp", 2 if lists else 0),
            ("cat", 2 if lists else 0), ("range", 1), ("filter", 1 if lists else 0), ("pcomp", 2 if pause else 0),
            ("gen", 1 if self.gen_fn else 0),
        ])
        if kind == "lit":
            return "[%s]" % ", ".join(self.int_expr(ctx, d, pause) for _ in range(self.r.randint(1, 3)))
        if kind == "slice":
            return "%s[%s]" % (self.pick(lists).name, self.pick([":3", "::-1", ":", "-2:"]))
        if kind == "sorted":
            return "sorted(%s%s)" % (self.pick(lists).name, self.pick(["", ", reverse=True", ", key=lambda v: v % 3"]))
        if kind == "comp":
            e = self.uid("e")
            src = self.pick(lists).name
            ctx.push()
            ctx.add(Var(e, "int", assignable=False))
            elem = self.int_expr(ctx, d)
            ctx.pop()
            self.features.add("comprehension")
            return "[%s for %s in %s[:4]]" % (elem, e, src)
        if kind == "filter":
            e = self.uid("e")
            src = self.pick(lists).name
            return "([%s for %s in %s if %s %% 2 == %d] or [%s])" % (e, e, src, e, self.r.randint(0, 1), self.int_lit())
        if kind == "cat":
            return "(%s[:3] + [%s])" % (self.pick(lists).name, self.int_expr(ctx, d, pause))
        if kind == "range":
            return "list(range(%d))" % self.r.randint(1, 4)
        if kind == "gen":
            return "list(%s(%d))" % (self.gen_fn, self.r.randint(1, 4))
        # a list comprehension holding pause points
        n = self.r.randint(1, 3)
        t = self.spawn_target(ctx, arity=1)
        if not t or not ctx.can_pay(n * (t[1].cost + 3)):
            return "[%s]" % self.int_expr(ctx, d)
        name, f = t
        ctx.pay(n * (f.cost + 3))
        ctx.do_work(n * f.work)
        if f.may_raise:
            ctx.raised()
        i = self.uid("i")
        self.features.add("pausing comprehension")
        src = "range(%d)" % n
        if lists and self.chance(0.5):
            src = "%s[:%d]" % (self.pick(lists).name, n)
        return "[%s(%s, (%s,)).wait() for %s in %s]" % (self.api("spawn"), name, i, i, src)

    def dict_expr(self, ctx, depth=1, pause=0.0):
        d = max(depth - 1, 0)
        dicts = ctx.vars("dict")
        kind = self.weighted([("lit", 4), ("comp", 2 if dicts else 0), ("merge", 2 if dicts else 0), ("zip", 1), ("pcomp", 1 if pause else 0)])
        if kind == "lit":
            keys = self.r.sample(KEYS, self.r.randint(1, 3))
            return "{%s}" % ", ".join('"%s": %s' % (k, self.int_expr(ctx, d, pause)) for k in keys)
        if kind == "comp":
            k, v = self.uid("k"), self.uid("v")
            self.features.add("comprehension")
            return "{%s: %s * 2 + 1 for %s, %s in %s.items()}" % (k, v, k, v, self.pick(dicts).name)
        if kind == "merge":
            return '{**%s, "%s": %s}' % (self.pick(dicts).name, self.pick(KEYS), self.int_expr(ctx, d, pause))
        if kind == "zip":
            return 'dict(zip(["a", "b", "c"], range(%d, 9)))' % self.r.randint(0, 5)
        t = self.spawn_target(ctx, arity=1)
        if not t or not ctx.can_pay(2 * (t[1].cost + 3)):
            return '{"a": %s}' % self.int_expr(ctx, d)
        name, f = t
        ctx.pay(2 * (f.cost + 3))
        ctx.do_work(2 * f.work)
        if f.may_raise:
            ctx.raised()
        k = self.uid("k")
        self.features.add("pausing comprehension")
        return '{%s: %s(%s, (len(%s),)).wait() for %s in ["a", "bb"]}' % (k, self.api("spawn"), name, k, k)

    def set_expr(self, ctx, depth=1, pause=0.0):
        lists = ctx.vars("list")
        if lists and self.chance(0.6):
            e = self.uid("e")
            self.features.add("comprehension")
            return "{%s %% 5 for %s in %s}" % (e, e, self.pick(lists).name)
        return "{%s, %s}" % (self.int_expr(ctx, 1, pause), self.int_lit())

    def expr_of(self, ctx, type_, depth=2, pause=0.0):
        if type_ == "int":
            return self.int_expr(ctx, depth, pause)
        if type_ == "str":
            return self.str_expr(ctx, depth, pause)
        if type_ == "list":
            return self.list_expr(ctx, depth, pause)
        if type_ == "dict":
            return self.dict_expr(ctx, depth, pause)
        return self.set_expr(ctx, depth, pause)

    def json_of(self, var):
        if var.type == "set":
            return "sorted(%s)" % var.name
        if var.type == "obj":
            return "[%s.a, %s.total()]" % (var.name, var.name)
        return var.name

    # ------------------------------------------------------------- statements
    def block(self, ctx, lo=1, hi=3):
        ctx.push()
        start = len(self.lines)
        if len(self.lines) > ctx.line_limit:
            hi = lo
        for _ in range(self.r.randint(lo, hi)):
            self.stmt(ctx)
        self.flush_futures(ctx)
        if len(self.lines) == start:
            self.line("pass")
        ctx.pop()

    def flush_futures(self, ctx):
        for v in ctx.futs[-1]:
            if not v.info["waited"] or self.chance(0.2):
                if not ctx.can_pay(1) and v.info["waited"]:
                    continue
                ctx.pay(1)
                v.info["waited"] = True
                if ctx.has_log:
                    self.line("log.append([%s, %s.wait()])" % (self.mark(ctx), v.name))
                else:
                    self.line("%s.wait()" % v.name)

    def stmt(self, ctx):
        weights = [(k, 0 if k in self.disable else w) for k, w in self.stmt_weights(ctx)]
        for _ in range(20):
            kind = self.weighted(weights)
            if getattr(self, "s_" + kind)(ctx) is not False:
                ctx.do_work(1)
                return
        self.s_log(ctx) if ctx.has_log else self.line("pass")

    def stmt_weights(self, ctx):
        compound = 1.0 if ctx.depth < ctx.max_depth else 0.0
        if ctx.depth == ctx.max_depth - 1 and ctx.depth > 0:
            compound = 0.5
        if len(self.lines) > ctx.line_limit:
            compound = 0.0
        loops = bool(ctx.loops)
        p = 1.0 if ctx.allow_pause else 0.0
        # the stress profile: control flow around pause points rather than data
        c, d, x = (2.0, 0.4, 0.3) if self.stress else (1.0, 1.0, 1.0)
        ret = 0.8 if ctx.fn and ctx.fn.kind != "handler" else 0
        if ctx.in_finally:
            ret *= 0.15 if self.stress else 0
        return [
            ("new", 5 * d), ("assign", 3 * d), ("aug", 3 * d), ("log", 3 if ctx.has_log else 0),
            ("if", 4 * compound * c), ("for", 3.5 * compound * c), ("while", 1.5 * compound * c), ("try", 3.5 * compound * c),
            ("with", 2 * compound * c if ctx.has_log else 0),
            ("jump", (4 if loops else 0) * (1.5 if self.stress else 1)), ("ret", ret),
            ("raise", 1.2), ("unpack", 1 * d),
            ("checkpoint", 3 * p * (1.5 if self.stress else 1)), ("pending", 3 * p), ("futlist", 1.5 * p * compound),
            ("childerr", 2 * p * compound), ("queue", 2.5 * p * compound), ("mapspawn", 1.5 * p * d),
            ("callproc", 3 * p if ctx.has_log else 0), ("traced", 2 * p if ctx.has_log else 0),
            ("closure", 1.5 * compound * x if ctx.fn.kind != "closure" else 0),
            ("lambda", 0.7 * x if ctx.fn.kind != "closure" else 0), ("obj", 1 * x if self.classes else 0),
            ("pauseexpr", 6 * p), ("table", 0.3 * p * x), ("natural", 0.4 * compound * x),
            ("assert", 0.5 * p), ("augsub", 1.5 * p), ("del", 0.6), ("multi", 1.5),
            ("walrus", 1 * d),
        ]

    def new_name(self, type_):
        return self.uid({"int": "x", "str": "s", "list": "xs", "dict": "d", "set": "st"}[type_])

    def s_new(self, ctx):
        type_ = self.weighted([("int", 6), ("str", 2), ("list", 2), ("dict", 1.5), ("set", 0.7)])
        expr = self.expr_of(ctx, type_, 2, 0.35)
        name = self.new_name(type_)
        const = type_ in ("int", "str") and not ctx.loops and ctx.depth == 0 and self.chance(0.5)
        self.line("%s = %s" % (name, expr))
        ctx.add(Var(name, type_, const=const))

    def s_walrus(self, ctx):
        """An assignment expression (`:=`), often holding a pause point: a whole statement, a
        whole assigned value, or part of one (its parentheses are outside its syntax node)."""
        self.features.add("assignment expression")
        name = self.new_name("int")
        value = self.int_expr(ctx, 2, 0.5)
        how = self.r.randrange(3)
        if how == 0:
            self.line("(%s := %s)" % (name, value))
        else:
            other = self.new_name("int")
            rest = "" if how == 1 else " + %s" % self.int_expr(ctx, 1)
            self.line("%s = (%s := %s)%s" % (other, name, value, rest))
            ctx.add(Var(other, "int"))
        ctx.add(Var(name, "int"))

    def s_assign(self, ctx):
        targets = ctx.vars(assignable=True)
        targets = [v for v in targets if v.type in ("int", "str", "list", "dict", "set")]
        if not targets:
            return False
        v = self.pick(targets)
        self.line("%s = %s" % (v.name, self.expr_of(ctx, v.type, 2, 0.3)))

    def s_aug(self, ctx):
        targets = [v for v in ctx.vars(assignable=True) if v.type in ("int", "str", "list", "dict", "set")]
        if not targets:
            return False
        v = self.pick(targets)
        self.features.add("augmented assignment")
        if v.type == "int":
            op = self.pick(["+=", "-=", "+=", "%=", "//=", "*="])
            if op in ("%=", "//="):
                self.line("%s %s %d" % (v.name, op, self.r.randint(2, 9)))
            elif op == "*=":
                self.line("%s *= %d" % (v.name, self.r.randint(2, 3)))
                self.line("%s %%= 1000" % v.name)
            else:
                self.line("%s %s %s" % (v.name, op, self.int_expr(ctx, 2, 0.3)))
        elif v.type == "str":
            self.line("%s += %s" % (v.name, self.str_expr(ctx, 1, 0.2)))
            self.line("%s = %s[-10:]" % (v.name, v.name))
        elif v.type == "list":
            how = self.r.randrange(3)
            if how == 0:
                self.line("%s.append(%s)" % (v.name, self.int_expr(ctx, 2, 0.3)))
            elif how == 1:
                self.line("%s += [%s]" % (v.name, self.int_expr(ctx, 1, 0.3)))
            else:
                self.line("%s.extend(%s)" % (v.name, self.list_expr(ctx, 1, 0.2)))
            self.line("%s = %s[-6:]" % (v.name, v.name))
        elif v.type == "dict":
            k = self.pick(KEYS)
            if self.chance(0.5):
                self.line('%s["%s"] = %s.get("%s", 0) + %s' % (v.name, k, v.name, k, self.int_expr(ctx, 1, 0.3)))
            else:
                self.line('%s["%s"] = %s' % (v.name, k, self.int_expr(ctx, 2, 0.3)))
        else:
            self.line("%s.add(%s %% 7)" % (v.name, self.int_expr(ctx, 1, 0.2)))

    def s_log(self, ctx):
        if not ctx.has_log:
            return False
        m = self.mark(ctx)
        if self.chance(0.4):
            self.line("log.append(%s)" % m)
            return
        values = [v for v in ctx.vars() if v.type in ("int", "str", "list", "dict", "set", "obj", "misc")]
        if values and self.chance(0.6):
            v = self.pick(values)
            self.line("log.append([%s, %s])" % (m, self.json_of(v)))
        else:
            self.line("log.append([%s, %s])" % (m, self.expr_of(ctx, self.pick(["int", "int", "str"]), 2, 0.3)))

    def s_if(self, ctx):
        self.line("if %s:" % self.cond(ctx, 2, 0.2))
        self.sub(ctx, self.block)
        for _ in range(self.r.choice([0, 0, 1, 2])):
            self.line("elif %s:" % self.cond(ctx, 1, 0.1))
            self.sub(ctx, self.block)
        if self.chance(0.5):
            self.line("else:")
            self.sub(ctx, self.block)

    def sub(self, ctx, body, *args):
        ctx.depth += 1
        with self.indent():
            body(ctx, *args)
        ctx.depth -= 1

    def loop_body(self, ctx, n):
        old = ctx.mult
        ctx.mult *= max(n, 1)
        ctx.loops.append(True)
        self.sub(ctx, self.block, 1, 3)
        ctx.loops.pop()
        ctx.mult = old

    def loop_else(self, ctx):
        if self.chance(0.3):
            self.features.add("loop else")
            self.line("else:")
            self.sub(ctx, self.block, 1, 2)

    def s_for(self, ctx):
        n = self.pick([0, 1, 2, 2, 3, 3, 4])
        lists = ctx.vars("list")
        dicts = ctx.vars("dict")
        target = self.uid("i")
        kind = self.weighted([("range", 4), ("list", 3 if lists else 0), ("enum", 1 if lists else 0),
                              ("items", 1 if dicts else 0), ("zip", 1 if lists else 0), ("rev", 1 if lists else 0),
                              ("str", 1), ("lit", 1)])
        extra = []
        if kind == "range":
            it = "range(%d)" % n if self.chance(0.7) else "range(%d, %d)" % (1, n + 1)
        elif kind == "list":
            it = "%s[:%d]" % (self.pick(lists).name, n)
        elif kind == "enum":
            it = "enumerate(%s[:%d])" % (self.pick(lists).name, n)
            extra = [self.uid("j")]
        elif kind == "items":
            it = "sorted(%s.items())" % self.pick(dicts).name
            n = 5
            target = self.uid("key")
            extra = [self.uid("val")]
        elif kind == "zip":
            it = "zip(%s[:%d], range(%d))" % (self.pick(lists).name, n, n)
            extra = [self.uid("j")]
        elif kind == "rev":
            it = "reversed(%s[:%d])" % (self.pick(lists).name, n)
        elif kind == "str":
            it = "%s[:%d]" % (self.str_expr(ctx, 1), n)
            target = self.uid("ch")
        else:
            it = "[%s]" % ", ".join(self.int_lit() for _ in range(n))
        if kind == "lit" and ctx.allow_pause and self.chance(0.3) and ctx.can_pay(4 * n + 4):
            it = "%s[:%d]" % (self.list_expr(ctx, 1, 1.0), n)
            self.features.add("pause in for iterable")
        if kind == "range" and ctx.allow_pause and self.chance(0.1) and ctx.can_pay(4):
            t = self.spawn_target(ctx, raising=False, arity=1)
            if t:
                ctx.pay(t[1].cost + 3)
                it = "range(%s(%s, (%d,)).wait() %% %d)" % (self.api("spawn"), t[0], n, n + 1)
        targets = [target] + extra
        if kind == "items":
            self.line("for %s, %s in %s:" % (target, extra[0], it))
        elif extra:
            pair = (extra[0], target) if kind == "enum" else (target, extra[0])
            self.line("for %s, %s in %s:" % (pair + (it,)))
        else:
            self.line("for %s in %s:" % (target, it))
        ctx.push()
        for t in targets:
            ctx.add(Var(t, "str" if t.startswith(("ch", "key")) else "int", assignable=False))
        self.loop_body(ctx, n)
        ctx.pop()
        self.loop_else(ctx)

    def s_while(self, ctx):
        n = self.r.randint(1, 4)
        w = self.uid("w")
        self.line("%s = 0" % w)
        ctx.add(Var(w, "int", assignable=False))
        cond = "%s < %d" % (w, n)
        if self.chance(0.25):
            old = ctx.mult
            ctx.mult *= n + 1
            cond = "%s and %s" % (cond, self.cond(ctx, 1, 0.3))
            ctx.mult = old
        self.line("while %s:" % cond)
        with self.indent():
            self.line("%s += 1" % w)
        self.loop_body(ctx, n)
        self.loop_else(ctx)

    def s_try(self, ctx):
        self.features.add("try")
        handlers = []
        shape = self.weighted([("except", 5), ("finally", 2), ("both", 3)])
        if shape != "finally":
            for _ in range(self.r.randint(1, 2)):
                handlers.append(self.pick(["ValueError", "AppError", "Exception", "(KeyError, ValueError)", "bare", "ValueError"]))
            # a more general handler before a specific one is legal but makes the latter dead;
            # order them so both can run
            order = {"AppError": 0, "ValueError": 1, "(KeyError, ValueError)": 1, "Exception": 2, "bare": 3}
            handlers.sort(key=lambda h: order[h])
            if "bare" in handlers:
                handlers = handlers[: handlers.index("bare") + 1]
        catches = any(h != "AppError" for h in handlers)
        self.line("try:")
        if catches:
            ctx.protected += 1
        self.sub(ctx, self.block, 1, 3)
        if catches:
            ctx.protected -= 1
        for h in handlers:
            e = self.uid("err")
            if h == "bare":
                self.line("except:")
            else:
                self.line("except %s as %s:" % (h, e))
            ctx.in_handler += 1
            ctx.push()
            ctx.depth += 1
            with self.indent():
                start = len(self.lines)
                if ctx.has_log:
                    if h == "bare":
                        self.line("log.append(%s)" % self.mark(ctx))
                    else:
                        self.line("log.append([%s, type(%s).__name__, str(%s)])" % (self.mark(ctx), e, e))
                if h != "bare":
                    ctx.add(Var(e, "exc", assignable=False))
                for _ in range(self.r.randint(0, 2)):
                    self.stmt(ctx)
                if self.chance(0.15):
                    self.features.add("re-raise")
                    ctx.raised()
                    self.line(self.pick(["raise", 'raise AppError("again")' + (" from %s" % e if h != "bare" else "")]))
                self.flush_futures(ctx)
                if len(self.lines) == start:
                    self.line("pass")
            ctx.depth -= 1
            ctx.pop()
            ctx.in_handler -= 1
        if handlers and self.chance(0.3):
            self.line("else:")
            self.sub(ctx, self.block, 1, 2)
        if shape != "except":
            self.line("finally:")
            ctx.in_finally += 1
            self.sub(ctx, self.block, 1, 3)
            ctx.in_finally -= 1

    def s_with(self, ctx):
        if not ctx.has_log:
            return False
        self.features.add("with")
        name = self.uid("cm")
        suppress = self.chance(0.2)
        label = '"%s"' % name
        if ctx.allow_pause and self.chance(0.2):
            inner = self.pause_int(ctx, 1)
            if inner is not None:
                self.features.add("pause in with manager")
                label = '"%s" + str(%s)' % (name, inner)
        items = ['Rec(log, %s%s)' % (label, ", True" if suppress else "")]
        tag = None
        if self.chance(0.6):
            tag = self.uid("tag")
            items[0] += " as %s" % tag
        if self.chance(0.2):
            items.append('Rec(log, "%s_b")' % name)
        self.line("with %s:" % ", ".join(items))
        ctx.push()
        if tag:
            ctx.add(Var(tag, "str", assignable=False))
        if suppress:
            ctx.protected += 1
        self.sub(ctx, self.block, 1, 3)
        if suppress:
            ctx.protected -= 1
        ctx.pop()

    def s_jump(self, ctx):
        if not ctx.loops:
            return False
        word = self.pick(["break", "continue", "break"])
        self.features.add(word + (" in finally" if ctx.in_finally else ""))
        if self.chance(0.85):
            self.line("if %s:" % self.cond(ctx, 1, 0.1))
            with self.indent():
                if ctx.has_log and self.chance(0.5):
                    self.line("log.append(%s)" % self.mark(ctx))
                self.line(word)
        else:
            self.line(word)

    def s_ret(self, ctx):
        if ctx.fn.kind in ("handler",):
            return False
        if ctx.in_finally:
            self.features.add("return in finally")
        self.features.add("early return")
        if ctx.depth == 0:
            # a return at the top level of a body would cut the rest off: guard it
            self.line("if %s:" % self.cond(ctx, 1, 0.1))
            with self.indent():
                self.line("return %s" % self.int_expr(ctx, 2, 0.3))
            return
        value = self.int_expr(ctx, 2, 0.3)
        if self.chance(0.15):
            self.features.add("assignment expression")
            value = "(%s := %s)" % (self.uid("w"), value)
        if self.chance(0.7):
            self.line("if %s:" % self.cond(ctx, 1, 0.1))
            with self.indent():
                self.line("return %s" % value)
        else:
            self.line("return %s" % value)

    def s_raise(self, ctx):
        self.features.add("raise")
        exc = self.pick(["ValueError", "ValueError", "AppError"])
        how = self.r.randrange(3)
        if how == 0:
            msg = '"bad %d"' % self.r.randint(0, 99)
        elif how == 1:
            self.in_fstring += 1
            msg = 'f"v{%s}"' % self.int_expr(ctx, 1).replace('"', "'")
            self.in_fstring -= 1
        else:
            msg = '"m" + str(%s)' % self.int_expr(ctx, 1, 0.3)
        self.line("if %s:" % self.cond(ctx, 1, 0.1))
        with self.indent():
            self.line("raise %s(%s)" % (exc, msg))
        ctx.raised()

    def s_del(self, ctx):
        local = [v for v in ctx.scopes[-1] if v.assignable and v.type in ("int", "str", "list", "dict", "set")]
        if not local:
            return False
        v = self.pick(local)
        ctx.scopes[-1].remove(v)
        self.features.add("del")
        self.line("del %s" % v.name)

    def s_multi(self, ctx):
        a, b = self.uid("x"), self.uid("x")
        how = self.r.randrange(3)
        if how == 0:
            self.features.add("chained assignment")
            self.line("%s = %s = %s" % (a, b, self.int_expr(ctx, 2, 0.5)))
            ctx.add(Var(a, "int"))
            ctx.add(Var(b, "int"))
        elif how == 1:
            self.features.add("annotated assignment")
            self.line("%s: int = %s" % (a, self.int_expr(ctx, 2, 0.5)))
            ctx.add(Var(a, "int"))
        else:
            self.features.add("tuple assignment")
            self.line("%s, %s = %s, %s" % (a, b, self.int_expr(ctx, 1, 0.4), self.int_expr(ctx, 1, 0.4)))
            ctx.add(Var(a, "int"))
            ctx.add(Var(b, "int"))

    def s_assert(self, ctx):
        inner = self.pause_int(ctx, 1) if ctx.allow_pause else None
        if inner is None:
            return False
        self.features.add("assert pause")
        self.line("assert isinstance(%s, int), %s" % (inner, '"not an int"'))

    def s_augsub(self, ctx):
        """Augmented assignment to a subscript or attribute whose value pauses."""
        inner = self.pause_int(ctx, 1) if ctx.allow_pause else None
        if inner is None:
            return False
        lists = [v for v in ctx.vars("list")]
        dicts = [v for v in ctx.vars("dict")]
        objs = [v for v in ctx.vars("obj")]
        options = [("list", 1 if lists else 0), ("dict", 1 if dicts else 0), ("obj", 1 if objs else 0),
                   ("self", 1 if ctx.fn.kind == "method" and "step" in ctx.fn.name else 0)]
        if not any(w for _, w in options):
            v = self.uid("x")
            self.line("%s = [0, 0]" % v)
            self.line("%s[1] += %s" % (v, inner))
            ctx.add(Var(v, "list"))
            return
        kind = self.weighted(options)
        self.features.add("augmented assignment to %s" % kind)
        if kind == "list":
            self.line("%s[%s] += %s" % (self.pick(lists).name, self.pick(["0", "-1"]), inner))
        elif kind == "dict":
            d, k = self.pick(dicts).name, self.pick(KEYS)
            self.line('%s["%s"] = %s.get("%s", 0)' % (d, k, d, k))
            self.line('%s["%s"] += %s' % (d, k, inner))
        elif kind == "obj":
            self.line("%s.a += %s" % (self.pick(objs).name, inner))
        else:
            self.line("self.a += %s" % inner)

    def s_unpack(self, ctx):
        lists = ctx.vars("list")
        a, b = self.uid("x"), self.uid("x")
        if lists and self.chance(0.4):
            rest = self.uid("xs")
            self.features.add("starred assignment")
            self.line("%s, *%s = %s" % (a, rest, self.pick(lists).name))
            ctx.add(Var(a, "int"))
            ctx.add(Var(rest, "list_maybe_empty", assignable=False))
            return
        if self.pair and ctx.allow_pause and self.chance(0.4) and ctx.can_pay(3 + self.pair.cost):
            ctx.pay(3 + self.pair.cost)
            self.line("%s, %s = %s(%s, (%s,)).wait()" % (a, b, self.api("spawn"), self.pair.name, self.int_expr(ctx, 1)))
        else:
            self.line("%s, %s = %s, %s" % (a, b, self.int_expr(ctx, 1, 0.2), self.int_expr(ctx, 1)))
        ctx.add(Var(a, "int"))
        ctx.add(Var(b, "int"))

    def s_checkpoint(self, ctx):
        if not ctx.can_pay(1):
            return False
        ctx.pay(1)
        call = self.weighted([("checkpoint", 6), ("pause", 1), ("maybe_pause", 0.5)])
        self.line("%s()" % self.api(call))

    def s_pending(self, ctx):
        t = self.spawn_target(ctx, raising=False)
        if not t:
            return False
        name, f = t
        ctx.pay(f.cost + 2)
        ctx.do_work(f.work)
        fu = self.uid("fut")
        self.features.add("future waited later")
        self.line("%s = %s(%s, (%s,))" % (fu, self.api("spawn"), name, ", ".join(self.int_expr(ctx, 1) for _ in range(f.arity))))
        v = ctx.add(Var(fu, "fut", assignable=False, info={"waited": False}))
        ctx.futs[-1].append(v)

    def s_futlist(self, ctx):
        n = self.r.randint(1, 3)
        t = self.spawn_target(ctx, raising=False, arity=1)
        if not t or not ctx.can_pay(n * (t[1].cost + 3)):
            return False
        name, f = t
        ctx.pay(n * (f.cost + 3))
        ctx.do_work(n * f.work)
        futs, i, fu = self.uid("futs"), self.uid("i"), self.uid("fu")
        self.features.add("futures list")
        self.line("%s = []" % futs)
        self.line("for %s in range(%d):" % (i, n))
        with self.indent():
            ctx.push()
            ctx.add(Var(i, "int", assignable=False))
            self.line("%s.append(%s(%s, (%s,)))" % (futs, self.api("spawn"), name, self.int_expr(ctx, 1)))
            ctx.pop()
        order = self.pick(["reversed(%s)", "%s", "%s[::-1]"]) % futs
        acc = self.uid("xs")
        self.line("%s = [0]" % acc)
        self.line("for %s in %s:" % (fu, order))
        with self.indent():
            self.line("%s.append(%s.wait())" % (acc, fu))
        ctx.add(Var(acc, "list"))

    def s_childerr(self, ctx):
        t = self.spawn_target(ctx, raising=True)
        if not t:
            return False
        name, f = t
        ctx.pay(f.cost + 3)
        ctx.do_work(f.work)
        self.features.add("child error")
        v = self.uid("x")
        args = ", ".join(self.int_expr(ctx, 1) for _ in range(f.arity))
        self.line("try:")
        with self.indent():
            self.line("%s = %s(%s, (%s,)).wait()" % (v, self.api("spawn"), name, args))
            if ctx.has_log:
                self.line("log.append([%s, %s])" % (self.mark(ctx), v))
        handler = self.pick(["ValueError", "Exception", "AppError"])
        e = self.uid("err")
        self.line("except %s as %s:" % (handler, e))
        with self.indent():
            if ctx.has_log:
                self.line("log.append([%s, type(%s).__name__, str(%s)])" % (self.mark(ctx), e, e))
            else:
                self.line("pass")
        if handler == "AppError":
            ctx.raised()

    def s_queue(self, ctx):
        if not self.producer:
            return False
        k = self.r.randint(1, 4)
        cost = 2 * k + 3
        if not ctx.can_pay(cost):
            return False
        ctx.pay(cost)
        q, fu, got = self.uid("q"), self.uid("fut"), self.uid("xs")
        size = self.pick([0, 1, 2, 3])
        self.features.add("queue")
        if self.chance(0.5):
            self.line("%s = %s(%s)" % (q, self.api("create_queue"), self.pick([str(size), "maxsize=%d" % size])))
        else:
            self.line("%s = %s(%d, 1)[0]" % (q, self.api("create_queues"), size))
        if self.chance(0.6):
            base = self.int_expr(ctx, 1)
            self.line("%s = %s(%s, (%s, %d, %s))" % (fu, self.api("spawn"), self.producer, q, k, base))
            self.line("%s = [0]" % got)
            i = self.uid("i")
            self.line("for %s in range(%d):" % (i, k))
            with self.indent():
                self.line("%s.append(%s.dequeue())" % (got, q))
            if ctx.has_log:
                self.line("log.append([%s, %s, %s.wait()])" % (self.mark(ctx), got, fu))
            else:
                self.line("%s.append(%s.wait())" % (got, fu))
        else:
            self.line("%s = %s(%s, (%s, %d))" % (fu, self.api("spawn"), self.consumer, q, k))
            i = self.uid("i")
            if k >= 2 and self.chance(0.4):
                self.line("%s.enqueue(%s)" % (q, ", ".join(str(self.r.randint(0, 20)) for _ in range(k))))
            else:
                self.line("for %s in range(%d):" % (i, k))
                with self.indent():
                    ctx.push()
                    ctx.add(Var(i, "int", assignable=False))
                    self.line("%s.enqueue(%s)" % (q, self.int_expr(ctx, 1)))
                    ctx.pop()
            self.line("%s = %s.wait()" % (got, fu))
        ctx.add(Var(got, "list"))

    def s_mapspawn(self, ctx):
        n = self.r.randint(1, 3)
        t = self.spawn_target(ctx, raising=False)
        if not t or not ctx.can_pay(n * (t[1].cost + 3)):
            return False
        name, f = t
        ctx.pay(n * (f.cost + 3))
        ctx.do_work(n * f.work)
        self.features.add("map_spawn")
        futs = self.uid("futs")
        lists = ctx.vars("list")
        elems = "%s[:%d]" % (self.pick(lists).name, n) if lists and self.chance(0.5) else "[%s]" % ", ".join(self.int_lit() for _ in range(n))
        extra = ", extra_args=(%s,)" % self.int_expr(ctx, 1) if f.arity == 2 else ""
        self.line("%s = %s(%s, %s%s)" % (futs, self.api("map_spawn"), name, elems, extra))
        acc = self.uid("xs")
        fu = self.uid("fu")
        self.line("%s = [0] + [%s.wait() for %s in %s]" % (acc, fu, fu, futs))
        ctx.add(Var(acc, "list"))

    def s_callproc(self, ctx):
        procs = [f for f in ctx.callees if f.kind == "proc" and ctx.can_pay(f.cost) and ctx.can_work(f.work)]
        if not procs:
            return False
        f = self.pick(procs)
        ctx.pay(f.cost)
        ctx.do_work(f.work)
        if f.may_raise:
            ctx.raised()
        args = [self.int_expr(ctx, 1, 0.2) if t == "int" else self.str_expr(ctx, 1) for t in f.params]
        how = self.r.randrange(6)
        if f.variadic:
            call = "%s(log, %s)" % (f.name, ", ".join(args))
        elif how == 0:
            self.features.add("starred")
            call = "%s(log, *[%s])" % (f.name, ", ".join(args))
        elif how == 1:
            self.features.add("starred")
            call = "%s(*(log, %s))" % (f.name, ", ".join(args))
        elif how == 2 and not f.decorated:
            self.features.add("kwargs")
            call = "%s(log, **{%s})" % (f.name, ", ".join('"n%d": %s' % (i, a) for i, a in enumerate(args)))
        else:
            call = "%s(log, %s)" % (f.name, ", ".join(args))
        if self.chance(0.5):
            v = self.uid("x")
            self.line("%s = %s" % (v, call))
            ctx.add(Var(v, "int"))
        else:
            self.line("log.append([%s, %s])" % (self.mark(ctx), call))

    def s_traced(self, ctx):
        procs = [f for f in ctx.callees if f.kind == "proc" and ctx.can_pay(f.cost + 3) and ctx.can_work(f.work)]
        if not procs:
            return False
        f = self.pick(procs)
        ctx.pay(f.cost + 3)
        ctx.do_work(f.work)
        if f.may_raise:
            ctx.raised()
        self.features.add("spawned procedure")
        r = self.uid("res")
        args = [self.int_expr(ctx, 1) if t == "int" else self.str_expr(ctx, 1) for t in f.params]
        self.line("%s = %s(traced, (%s, %s)).wait()" % (r, self.api("spawn"), f.name, ", ".join(args)))
        self.line("log.extend(%s[1])" % r)
        v = self.uid("x")
        self.line("%s = %s[0]" % (v, r))
        ctx.add(Var(v, "int"))

    def s_closure(self, ctx):
        if ctx.fn.kind == "closure" or ctx.depth > 1:
            return False
        name = self.uid("inner")
        uses_log = ctx.has_log and self.chance(0.6)
        pausing = ctx.allow_pause and self.chance(0.6)
        f = Fn(name, "closure", 1, ["int"])
        f.spawnable = not uses_log
        sub = Ctx(self, f, uses_log, pausing, budget=min(6, self.total_budget // 4), work_budget=200)
        sub.callees = [g for g in ctx.callees if g.kind == "pure"]
        sub.max_depth = 1
        sub.line_limit = min(sub.line_limit, ctx.line_limit + 4)
        for v in ctx.vars():
            if v.const and v.type in ("int", "str"):
                sub.add(Var(v.name, v.type, const=True))
        param = self.uid("v")
        sub.add(Var(param, "int", const=True))
        self.features.add("closure" + (" pausing" if pausing else ""))
        self.line("def %s(%s):" % (name, param))
        with self.indent():
            if uses_log:
                self.line("log.append([%s, %s])" % (self.mark(sub), param))
            for _ in range(self.r.randint(1, 3)):
                self.stmt(sub)
            self.flush_futures(sub)
            self.line("return %s" % self.int_expr(sub, 2, 0.3))
        f.pausing = sub.pausing
        f.cost = sub.used
        f.work = sub.work + 2
        f.may_raise = sub.may_raise
        if f.may_raise:
            f.spawnable = False
        ctx.add(Var(name, "fn", const=True, info=f))
        # using it right away makes it count
        if self.chance(0.7):
            if ctx.can_pay(f.cost) and ctx.can_work(f.work):
                ctx.pay(f.cost)
                ctx.do_work(f.work)
                if f.may_raise:
                    ctx.raised()
                v = self.uid("x")
                self.line("%s = %s(%s)" % (v, name, self.int_expr(ctx, 1)))
                ctx.add(Var(v, "int"))

    def s_lambda(self, ctx):
        name = self.uid("lam")
        if ctx.allow_pause and ctx.vars("fut") and self.chance(0.4):
            self.line("%s = lambda fu: fu.wait()" % name)
            ctx.add(Var(name, "waiter", const=True))
            return
        f = Fn(name, "closure", 1)
        f.spawnable = True
        sub = Ctx(self, f, False, False, 0, 50)
        for v in ctx.vars():
            if v.const and v.type == "int":
                sub.add(Var(v.name, v.type, const=True))
        p = self.uid("v")
        sub.add(Var(p, "int", const=True))
        self.features.add("lambda")
        self.line("%s = lambda %s: %s" % (name, p, self.int_expr(sub, 2)))
        ctx.add(Var(name, "fn", const=True, info=f))

    def s_obj(self, ctx):
        cls = self.pick(self.classes)
        cost = cls.init_cost
        if cost and not ctx.can_pay(cost):
            return False
        if ctx.fn.kind == "closure":
            return False
        ctx.pay(cost)
        if cls.init_raise:
            ctx.raised()
        o = self.uid("obj")
        args = [self.int_expr(ctx, 1, 0.2) for _ in range(1 if cls.base is None else 2)]
        self.line("%s = %s(%s)" % (o, cls.name, ", ".join(args)))
        ctx.add(Var(o, "obj", assignable=False, info=cls))
        step = cls.step
        if ctx.has_log and self.chance(0.7) and ctx.can_pay(step.cost) and ctx.can_work(step.work):
            ctx.pay(step.cost)
            ctx.do_work(step.work)
            if step.may_raise:
                ctx.raised()
            self.line("log.append([%s, %s.step(log, %s), %s.total()])" % (self.mark(ctx), o, self.int_expr(ctx, 1), o))
        elif cls.user and ctx.allow_pause and self.chance(0.5) and ctx.can_pay(4 + step.cost + cls.init_cost):
            ctx.pay(4 + step.cost + cls.init_cost)
            if step.may_raise or cls.init_raise:
                ctx.raised()
            self.features.add("object sent to a task")
            v = self.uid("x")
            self.line("%s = %s(%s, (%s(%s), %s)).wait()" % (v, self.api("spawn"), cls.user, cls.name, ", ".join(args), self.int_expr(ctx, 1)))
            ctx.add(Var(v, "misc"))

    def s_pauseexpr(self, ctx):
        if not ctx.allow_pause:
            return False
        form = self.r.randrange(6)
        if form == 1 and ctx.has_log:
            self.in_fstring += 1
            text = self.pause_int(ctx, 2)
            self.in_fstring -= 1
            if text is None:
                return False
            self.features.add("f-string")
            self.line('log.append(f"%s={%s}")' % (self.uid("r"), text.replace('"', "'")))
            return
        text = self.pause_int(ctx, 2)
        if text is None:
            return False
        if form == 0:
            v = self.uid("x")
            self.line("%s = %s + %s" % (v, self.int_expr(ctx, 1), text))
            ctx.add(Var(v, "int"))
        elif form == 2:
            targets = [v for v in ctx.vars("int", assignable=True)]
            if targets:
                self.features.add("augmented assignment")
                self.line("%s += %s" % (self.pick(targets).name, text))
            else:
                v = self.uid("x")
                self.line("%s = %s" % (v, text))
                ctx.add(Var(v, "int"))
        elif form == 3:
            dicts = [v for v in ctx.vars("dict", assignable=True)]
            if dicts:
                self.line('%s["%s"] = %s' % (self.pick(dicts).name, self.pick(KEYS), text))
            else:
                v = self.uid("x")
                self.line("%s = %s" % (v, text))
                ctx.add(Var(v, "int"))
        elif form == 4 and ctx.has_log:
            self.line("log.append([%s, %s])" % (self.mark(ctx), text))
        else:
            v = self.uid("x")
            self.line("%s = (%s) %% %d" % (v, text, self.r.randint(50, 1000)))
            ctx.add(Var(v, "int"))

    def s_table(self, ctx):
        fns = [f for f in ctx.callees if f.kind == "pure" and f.arity == 1]
        if len(fns) < 2:
            return False
        chosen = self.r.sample(fns, 2)
        name = self.uid("table")
        keys = ["k%d" % i for i in range(2)]
        self.line("%s = {%s}" % (name, ", ".join('"%s": %s' % (k, f.name) for k, f in zip(keys, chosen))))
        ctx.add(Var(name, "table", const=True, info=(keys, chosen)))

    def s_natural(self, ctx):
        if not ctx.has_log:
            return False
        kind = self.pick(["zero", "key", "index"])
        e = self.uid("err")
        self.line("try:")
        with self.indent():
            if kind == "zero":
                self.line("log.append(%s // (%s - %s))" % (self.int_expr(ctx, 1), self.int_lit(), self.int_lit()))
                exc = "ZeroDivisionError"
            elif kind == "key":
                self.line('log.append({"a": 1}[%s])' % self.pick(['"a"', '"b"']))
                exc = "KeyError"
            else:
                self.line("log.append([1, 2][%s %% 4])" % self.int_expr(ctx, 1))
                exc = "IndexError"
        self.line("except %s as %s:" % (self.pick([exc, "LookupError" if exc != "ZeroDivisionError" else "ArithmeticError", "Exception"]), e))
        with self.indent():
            self.line("log.append([%s, type(%s).__name__, str(%s)])" % (self.mark(ctx), e, e))

    # --------------------------------------------------------------- program
    def function_body(self, ctx, lo, hi):
        for _ in range(self.r.randint(lo, hi)):
            self.stmt(ctx)
        self.flush_futures(ctx)
        self.line("return %s" % self.int_expr(ctx, 2, 0.3))

    def make_pure(self, index, allow_pause):
        name = "g%d" % index
        arity = self.pick([1, 1, 2])
        params = ["a", "b"][:arity]
        f = Fn(name, "pure", arity, params)
        ctx = Ctx(self, f, False, allow_pause, budget=self.r.randint(1, 4) if allow_pause else 0, work_budget=60)
        ctx.callees = [g for g in self.pures if not g.may_raise or self.chance(0.3)]
        ctx.max_depth = 1
        for p in params:
            ctx.add(Var(p, "int", const=True))
        self.line("def %s(%s):" % (name, ", ".join(params)))
        with self.indent():
            if self.chance(0.4):
                self.line("if %s %% %d == %d:" % (params[0], self.r.randint(3, 5), self.r.randint(0, 2)))
                with self.indent():
                    self.line('raise %s("%s got %%d" %% %s)' % (self.pick(["ValueError", "AppError"]), name, params[0]))
                ctx.may_raise = True
            self.function_body(ctx, 1, 2)
        self.line("")
        self.line("")
        f.pausing, f.cost, f.may_raise, f.work = ctx.pausing, ctx.used, ctx.may_raise, ctx.work + 3
        self.pures.append(f)

    def make_proc(self, index):
        name = "f%d" % index
        f = Fn(name, "proc", 0)
        variadic = self.chance(0.1)
        params = self.pick([["int"], ["int", "int"], ["int", "str"], ["int", "int", "int"]])
        f.params = params
        f.arity = len(params)
        decorated = self.decorator and self.chance(0.35) and not variadic
        f.decorated = decorated
        budget = self.r.randint(3, max(3, self.total_budget // 2))
        ctx = Ctx(self, f, True, True, budget=budget, work_budget=1500)
        ctx.callees = self.pures + self.procs
        ctx.max_depth = self.pick([3, 4]) if self.stress else self.pick([2, 2, 3])
        names = ["n%d" % i for i in range(len(params))]
        if decorated:
            self.line("@%s" % self.decorator)
            self.features.add("decorator")
        if variadic:
            f.variadic = True
            self.features.add("variadic")
            self.line("def %s(log, *ps):" % name)
        else:
            self.line("def %s(log, %s):" % (name, ", ".join(names)))
        with self.indent():
            if variadic:
                for i, (n, t) in enumerate(zip(names, params)):
                    self.line("%s = ps[%d]" % (n, i))
            for n, t in zip(names, params):
                ctx.add(Var(n, t, const=True))
            ctx.add(Var("log", "log", const=True))
            self.line("log.append([%s, %s])" % (self.mark(ctx), ", ".join(names)))
            self.function_body(ctx, 3, 6)
        self.line("")
        self.line("")
        f.pausing, f.cost, f.may_raise, f.work = ctx.pausing, ctx.used, ctx.may_raise, ctx.work + 3
        if decorated:
            f.work += 3
            if self.decorator == "repeat(2)":
                f.cost *= 2
                f.work *= 2
        self.procs.append(f)

    def make_classes(self):
        base = Cls("Base", None)
        kid = Cls("Kid", base)
        # Base
        self.line("class Base:")
        with self.indent():
            self.line("def __init__(self, a):")
            with self.indent():
                self.line("self.a = a % 50")
                self.line("self.hist = [self.a]")
            self.line("")
            self.line("def total(self):")
            with self.indent():
                self.line("return self.a + sum(self.hist[-4:])")
            self.line("")
            self.line("def step(self, log, x):")
            with self.indent():
                f = Fn("Base.step", "method", 1)
                ctx = Ctx(self, f, True, self.chance(0.6), budget=self.r.randint(1, 3), work_budget=100)
                ctx.callees = list(self.pures)
                ctx.max_depth = 1
                ctx.add(Var("x", "int", const=True))
                self.line("self.hist.append(x)")
                self.line("log.append([%s, self.a, x])" % self.mark(ctx))
                for _ in range(self.r.randint(1, 3)):
                    self.stmt(ctx)
                self.flush_futures(ctx)
                self.line("return %s" % self.int_expr(ctx, 1, 0.3))
                f.pausing, f.cost, f.may_raise, f.work = ctx.pausing, ctx.used, ctx.may_raise, ctx.work + 3
            base.step = f
        self.line("")
        self.line("")
        # Kid
        self.line("class Kid(Base):")
        with self.indent():
            self.line("def __init__(self, a, b):")
            with self.indent():
                self.line("super().__init__(a)")
                ctx = Ctx(self, Fn("Kid.__init__", "method", 2), False, self.chance(0.5), budget=4, work_budget=40)
                ctx.callees = [g for g in self.pures if not g.may_raise]
                ctx.add(Var("b", "int", const=True))
                self.line("self.b = %s" % self.int_expr(ctx, 1, 0.6))
                kid.init_cost = ctx.used
                kid.init_raise = ctx.may_raise
                if ctx.pausing:
                    self.features.add("pausing __init__")
            self.line("")
            self.line("def step(self, log, x):")
            with self.indent():
                f = Fn("Kid.step", "method", 1)
                ctx = Ctx(self, f, True, self.chance(0.7), budget=self.r.randint(1, 4), work_budget=200)
                ctx.callees = list(self.pures)
                ctx.max_depth = 1
                ctx.add(Var("x", "int", const=True))
                y = self.uid("x")
                self.line("%s = super().step(log, x + self.b)" % y)
                ctx.add(Var(y, "int"))
                for _ in range(self.r.randint(0, 2)):
                    self.stmt(ctx)
                self.flush_futures(ctx)
                self.line("return %s" % self.int_expr(ctx, 1, 0.3))
                f.pausing = ctx.pausing or base.step.pausing
                f.cost = ctx.used + base.step.cost
                f.may_raise = ctx.may_raise or base.step.may_raise
                f.work = ctx.work + base.step.work + 3
                self.features.add("super")
            kid.step = f
        self.line("")
        self.line("")
        for cls in (base, kid):
            if self.chance(0.5):
                user = "use_%s" % cls.name.lower()
                self.line("def %s(obj, x):" % user)
                with self.indent():
                    self.line("log = []")
                    self.line("value = obj.step(log, x)")
                    self.line("return [value, obj.total(), log]")
                self.line("")
                self.line("")
                cls.user = user
        self.classes = [base, kid]

    def header(self):
        self.style = self.pick(["rt", "rt", "alias", "from"])
        self.line('"""Generated by scripts/fuzz/generate.py, seed %d."""' % self.seed)
        if self.decorator_wraps:
            self.line("import functools")
        if self.style == "rt":
            self.rt = "rt"
            self.line("import rt")
        elif self.style == "alias":
            self.rt = "kr"
            self.line("import rt as kr")
        else:
            self.rt = None
            self.line("from rt import (checkpoint, create_queue, create_queues, exit, map_spawn, maybe_pause, on_coordinator,")
            self.line("                pause, spawn, spawn_many)")
        self.line("")
        self.line("")
        self.line("class AppError(ValueError):")
        self.line("    pass")
        self.line("")
        self.line("")
        self.line("class Rec:")
        self.line("    def __init__(self, log, name, suppress=False):")
        self.line("        self.log = log")
        self.line("        self.name = name")
        self.line("        self.suppress = suppress")
        self.line("")
        self.line("    def __enter__(self):")
        self.line('        self.log.append("enter " + self.name)')
        self.line("        return self.name")
        self.line("")
        self.line("    def __exit__(self, kind, value, tb):")
        self.line('        self.log.append("exit %s %s" % (self.name, kind.__name__ if kind else None))')
        self.line("        return self.suppress")
        self.line("")
        self.line("")
        self.line("def traced(fn, *args):")
        self.line("    log = []")
        self.line("    value = fn(log, *args)")
        self.line("    return [value, log]")
        self.line("")
        self.line("")

    def templates(self):
        """Optional module-level helpers the bodies may use."""
        self.producer = self.consumer = self.gen_fn = self.apply_fn = self.adder_factory = None
        self.recursive = self.tree = self.pair = None
        self.add2 = None
        self.early = None
        if self.chance(0.25):
            self.early = "early"
            self.line("def early(x):")
            self.line("    if x % 2 == 0:")
            self.line("        %s(x * 10)" % self.api("exit"))
            if self.chance(0.5):
                self.line("    %s()" % self.api("checkpoint"))
            self.line("    return x + 1")
            self.line("")
            self.line("")
        if self.chance(0.5):
            self.producer = "produce"
            multi = self.chance(0.4)
            self.line("def produce(q, n, base):")
            self.line("    for i in range(n):")
            self.line("        q.enqueue(base + i * i)")
            if multi:
                self.line("    %s()" % self.api("checkpoint"))
            self.line("    return n")
            self.line("")
            self.line("")
            self.consumer = "consume"
            self.line("def consume(q, n):")
            self.line("    got = []")
            self.line("    while len(got) < n:")
            self.line("        got.append(q.dequeue() * 2)")
            self.line("    return got")
            self.line("")
            self.line("")
        if self.chance(0.3):
            self.gen_fn = "gen_squares"
            self.line("def gen_squares(n):")
            self.line("    for i in range(n):")
            self.line("        yield i * i")
            self.line("")
            self.line("")
        if self.chance(0.4):
            self.add2 = "add2"
            self.line("def add2(a, b):")
            self.line("    return a + b")
            self.line("")
            self.line("")
        if self.chance(0.3):
            self.pair = Fn("pair", "pure", 1)
            self.line("def pair(x):")
            if self.chance(0.5):
                self.line("    %s()" % self.api("checkpoint"))
                self.pair.cost = 1
            self.line("    return [x, x * 2]")
            self.line("")
            self.line("")

    def templates_after_pures(self):
        if self.chance(0.3):
            self.apply_fn = "apply_fn"
            self.line("def apply_fn(fn, x):")
            if self.chance(0.5):
                self.line("    return fn(x)")
            else:
                self.line("    r = fn(x)")
                self.line("    return r + 1")
            self.line("")
            self.line("")
        if self.chance(0.3):
            self.adder_factory = "make_adder"
            self.line("def make_adder(k):")
            self.line("    def add(x):")
            if self.chance(0.6):
                self.line("        y = %s(%s, (x,)).wait()" % (self.api("spawn"), self.pick([p for p in self.pures if not p.may_raise and p.arity == 1] or [Fn("abs", "pure", 1)]).name))
            else:
                self.line("        %s()" % self.api("checkpoint"))
                self.line("        y = x")
            self.line("        return y + k")
            self.line("    return add")
            self.line("")
            self.line("")
        if self.chance(0.35):
            f = Fn("rec", "proc", 1)
            f.cost = 1
            f.work = 6
            self.recursive = f
            self.line("def rec(log, n):")
            self.line('    log.append(["rec", n])')
            self.line("    if n <= 0:")
            self.line("        return 1")
            if self.chance(0.5):
                self.line("    %s()" % self.api("checkpoint"))
                self.line("    return rec(log, n - 1) * 2 + n")
            else:
                self.line("    value = rec(log, n - 1)")
                self.line("    %s()" % self.api("checkpoint"))
                self.line("    return value * 2 + n")
            self.line("")
            self.line("")
        if self.chance(0.25):
            self.tree = "tree"
            self.line("def tree(n):")
            self.line("    if n < 2:")
            self.line("        return n")
            self.line("    left = %s(tree, (n - 1,))" % self.api("spawn"))
            self.line("    right = %s(tree, (n - 2,))" % self.api("spawn"))
            self.line("    return left.wait() + right.wait()")
            self.line("")
            self.line("")

    def make_decorator(self):
        self.decorator = None
        self.decorator_wraps = False
        if self.chance(0.3):
            self.decorator = self.pick(["logged", "logged", "repeat(2)", "repeat(1)"])
            self.decorator_wraps = self.chance(0.5)

    def emit_decorator(self):
        if not self.decorator:
            return
        if self.decorator.startswith("repeat"):
            self.line("def repeat(n):")
            self.line("    def decorate(fn):")
            if self.decorator_wraps:
                self.line("        @functools.wraps(fn)")
            self.line("        def wrapper(log, *args):")
            self.line("            total = 0")
            self.line("            for i in range(n):")
            self.line('                log.append("round %d" % i)')
            self.line("                total += fn(log, *args)")
            self.line("            return total")
            self.line("        return wrapper")
            self.line("    return decorate")
            self.line("")
            self.line("")
            return
        self.line("def logged(fn):")
        if self.decorator_wraps:
            self.line("    @functools.wraps(fn)")
        self.line("    def wrapper(log, *args):")
        self.line('        log.append("call " + fn.__name__)')
        self.line("        result = fn(log, *args)")
        self.line('        log.append("done " + fn.__name__)')
        self.line("        return result")
        self.line("    return wrapper")
        self.line("")
        self.line("")

    def make_handler(self):
        f = Fn("handler", "handler", 2)
        ctx = Ctx(self, f, True, True, budget=self.total_budget, work_budget=6000)
        ctx.callees = self.pures + self.procs
        if self.chance(0.25):
            self.line("@%s" % ("on_coordinator" if self.style == "from" else self.rt + ".on_coordinator"))
            self.features.add("on_coordinator")
        self.line("def handler(event, context):")
        with self.indent():
            self.line("log = []")
            self.line('a = event["a"]')
            self.line('b = event["b"]')
            self.line('name = event["name"]')
            self.line('xs = list(event["xs"])')
            self.line("out = {}")
            ctx.add(Var("log", "log", const=True))
            ctx.add(Var("a", "int", const=True))
            ctx.add(Var("b", "int", const=True))
            ctx.add(Var("name", "str", const=True))
            ctx.add(Var("xs", "list"))
            procs = list(self.procs)
            self.r.shuffle(procs)
            top = [p for p in procs if ctx.can_pay(p.cost)]
            # the top procedures first (so that they fit the budget), then random statements
            for p in top[:3]:
                if not ctx.can_pay(p.cost):
                    continue
                ctx.pay(p.cost)
                ctx.do_work(p.work)
                args = [self.int_expr(ctx, 1) if t == "int" else self.str_expr(ctx, 1) for t in p.params]
                self.line("try:")
                self.line('    out["%s"] = %s(log, %s)' % (p.name, p.name, ", ".join(args)))
                self.line("except Exception as error:")
                self.line('    log.append(["E", "%s", type(error).__name__, str(error)])' % p.name)
            protected = self.chance(0.8)
            if protected:
                self.line("try:")
                ctx.protected += 1
                ctx.depth += 1
                with self.indent():
                    ctx.push()
                    for _ in range(self.r.randint(2, 5)):
                        self.stmt(ctx)
                    self.flush_futures(ctx)
                    final = [v for v in ctx.scopes[-1] if v.type in ("int", "str", "list", "dict", "set", "obj")]
                    for v in final[-4:]:
                        self.line('out["%s"] = %s' % (v.name, self.json_of(v)))
                    ctx.pop()
                ctx.depth -= 1
                ctx.protected -= 1
                self.line("except Exception as error:")
                self.line('    log.append(["E", type(error).__name__, str(error)])')
            else:
                for _ in range(self.r.randint(1, 4)):
                    self.stmt(ctx)
                self.flush_futures(ctx)
            final = [v for v in ctx.vars() if v.type in ("int", "str", "list", "dict", "set", "obj")]
            self.line('return {"log": log, "out": out, "vals": [%s]}' % ", ".join(self.json_of(v) for v in final))
        return ctx

    def program(self):
        self.stress = self.chance(0.4)
        self.soft_lines = self.r.randint(45, 105)
        self.make_decorator()
        self.header()
        self.templates()
        for i in range(self.r.randint(1, 2) if self.stress else self.r.randint(2, 3)):
            self.make_pure(i, allow_pause=self.chance(0.5))
        self.templates_after_pures()
        self.emit_decorator()
        if self.chance(0.4):
            self.make_classes()
        self.classes = self.classes or []
        for i in range(self.r.randint(1, 3)):
            self.make_proc(i)
        ctx = self.make_handler()
        self.cost = ctx.used
        text = "\n".join(self.lines) + "\n"
        return text


def generate(seed, budget=32, max_lines=150, disable=()):
    """(handler source, event) for `seed`: the first of the seed's attempts that fits
    `max_lines` (each attempt draws from the same random stream, so this is deterministic)."""
    rng = random.Random(seed)
    best = None
    for attempt in range(20):
        g = Generator(rng.randrange(1 << 30), budget, disable)
        g.seed = seed
        source = g.program()
        if best is None or source.count("\n") < best[0].count("\n"):
            best = (source, g)
        if source.count("\n") <= max_lines:
            best = (source, g)
            break
    source, g = best
    event = {
        "a": rng.randint(-3, 12),
        "b": rng.randint(0, 9),
        "name": rng.choice(WORDS),
        "xs": [rng.randint(-2, 9) for _ in range(rng.randint(1, 5))],
    }
    return source, event, g


def write_app(directory, seed, budget=32, disable=()):
    source, event, g = generate(seed, budget, disable=disable)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "handler.py"), "w") as f:
        f.write(source)
    with open(os.path.join(directory, "event.json"), "w") as f:
        json.dump(event, f)
        f.write("\n")
    return g


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("seed", type=int)
    parser.add_argument("-o", "--out", help="app directory to write (handler.py, event.json)")
    parser.add_argument("--budget", type=int, default=32, help="coordinator calls a run may make (estimate)")
    parser.add_argument("--features", action="store_true", help="print the constructs used on stderr")
    parser.add_argument("--disable", default="", help="statement or pause kinds not to generate (comma-separated: del,queue,...)")
    args = parser.parse_args(argv)
    disable = [k for k in args.disable.split(",") if k]
    if args.out:
        g = write_app(args.out, args.seed, args.budget, disable)
    else:
        source, event, g = generate(args.seed, args.budget, disable=disable)
        sys.stdout.write(source)
    if args.features:
        sys.stderr.write("features: %s\n" % ", ".join(sorted(g.features)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
