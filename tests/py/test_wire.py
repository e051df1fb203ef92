"""What `rt.wire.dumps` keeps across a checkpoint that plain pickle does not: iterators over
dicts and sets stay iterators over the shared dict or set (values changed later are seen,
a changed size raises RuntimeError), exceptions keep their class, attributes and chain, the
app's module-level objects stay the same objects, and a future keeps the outcome it was waited
for. An iterator that cannot be saved faithfully is a PicklingError, not a copy.

    python3 -m unittest discover -s tests/py -p 'test_*.py'
"""

import collections
import errno
import importlib
import json
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "runtime_py"))

import rt  # noqa: E402
from rt import wire  # noqa: E402


def again(value):
    return wire.loads(wire.dumps(value))


class DictIterators(unittest.TestCase):
    def test_every_kind_at_every_position_sees_later_values(self):
        for kind, make in enumerate(wire._DICT_ITERATOR_MAKERS):
            for position in range(4):
                with self.subTest(kind=kind, position=position):
                    d = {"a": 1, "b": 2, "c": 3}
                    iterator = make(d)
                    for _ in range(position):
                        next(iterator)
                    d2, iterator2 = again((d, iterator))
                    self.assertIs(type(iterator2), type(iterator))
                    self.assertEqual(iterator2.__length_hint__(), iterator.__length_hint__())
                    d["b"] = d2["b"] = 20
                    self.assertEqual(list(iterator2), list(iterator))
                    # exhausted, it stays exhausted
                    d2, iterator2 = again((d, iterator))
                    d2["z"] = 0
                    self.assertEqual(list(iterator2), [])

    def test_the_dict_stays_shared(self):
        d = {"a": 1, "b": 2}
        items, values = iter(d.items()), iter(d.values())
        next(values)
        d2, items2, values2 = again((d, items, values))
        d2["a"], d2["b"] = 100, 200
        self.assertEqual(list(items2), [("a", 100), ("b", 200)])
        self.assertEqual(list(values2), [200])

    def test_a_changed_size_raises_at_the_next_step(self):
        d = {"a": 1, "b": 2}
        iterator = iter(d)
        next(iterator)
        d["c"] = 3  # before the checkpoint
        iterator2 = again(iterator)
        for _ in range(2):  # for good, as in Python
            with self.assertRaisesRegex(RuntimeError, "changed size"):
                next(iterator2)
        d = {"a": 1}
        iterator = iter(d)
        next(iterator)  # nothing left, but not stepped past the end
        d2, iterator2 = again((d, iterator))
        d2["b"] = 2  # after the resume
        with self.assertRaisesRegex(RuntimeError, "changed size"):
            next(iterator2)

    def test_keys_changed_during_the_iteration_is_an_error_not_a_copy(self):
        d = {"a": 1, "b": 2, "c": 3}
        iterator = iter(d)
        next(iterator)
        del d["a"]
        d["new"] = 0
        with self.assertRaisesRegex(pickle.PicklingError, "keys changed"):
            wire.dumps(iterator)

    def test_subclasses_and_iterators_around_them(self):
        d = collections.defaultdict(list, a=[1], b=[2])
        iterator = iter(d.items())
        next(iterator)
        d2, iterator2 = again((d, iterator))
        d2["b"].append(3)
        self.assertEqual(list(iterator2), [("b", [2, 3])])
        d = {"a": 1, "b": 2}
        numbered, pairs, texts = enumerate(d.items()), zip(d, d.values()), map(str, d.values())
        for iterator in (numbered, pairs, texts):
            next(iterator)
        d2, numbered2, pairs2, texts2 = again((d, numbered, pairs, texts))
        d2["b"] = 5
        self.assertEqual([list(numbered2), list(pairs2), list(texts2)], [[(1, ("b", 5))], [("b", 5)], ["5"]])

    def test_views_stay_views(self):
        d = {"a": 1}
        d2, items = again((d, d.items()))
        d2["b"] = 2
        self.assertEqual(list(items), [("a", 1), ("b", 2)])
        od = collections.OrderedDict(a=1)
        od2, keys = again((od, od.keys()))
        od2["z"] = 0
        self.assertEqual((type(keys), list(keys)), (type(od.keys()), ["a", "z"]))

    def test_list_iterators_keep_their_list(self):
        xs = [1, 2]
        iterator = iter(xs)
        next(iterator)
        xs2, iterator2 = again((xs, iterator))
        xs2.append(3)
        self.assertEqual(list(iterator2), [2, 3])


class OrderedDictIterators(unittest.TestCase):
    def test_every_kind_at_every_position(self):
        for items in ([("p", 1), ("q", 2), ("r", 3)], [(1, 1), (2, 2), (3, 3)]):  # values that are their keys too
            for kind, make in enumerate(wire._ORDERED_ITERATOR_MAKERS):
                for position in range(4):
                    with self.subTest(items=items, kind=kind, position=position):
                        od = collections.OrderedDict(items)
                        iterator = make(od)
                        for _ in range(position):
                            next(iterator)
                        od2, iterator2 = again((od, iterator))
                        self.assertEqual(od2, od)  # the kind is found without changing the dict
                        key = items[1][0]
                        od[key] = od2[key] = 20
                        self.assertEqual(list(iterator2), list(iterator))

    def test_mutated_during_the_iteration_raises_once(self):
        od = collections.OrderedDict([(1, 1), (2, 2)])
        iterator = iter(od)
        next(iterator)
        od.move_to_end(1)
        iterator2 = again(iterator)
        with self.assertRaisesRegex(RuntimeError, "mutated"):
            next(iterator2)
        self.assertEqual(next(iterator2, "end"), "end")


class SetIterators(unittest.TestCase):
    def test_what_is_left_in_the_same_order(self):
        s = {1, 2, 3, 4}
        iterator = iter(s)
        first = next(iterator)
        s2, iterator2 = again((s, iterator))
        rest = list(iterator2)
        self.assertEqual(rest, list(iterator))
        self.assertEqual(sorted([first] + rest), [1, 2, 3, 4])

    def test_a_changed_size_raises_at_the_next_step(self):
        s = {1, 2, 3}
        iterator = iter(s)
        next(iterator)
        s2, iterator2 = again((s, iterator))
        s2.add(9)
        for _ in range(2):
            with self.assertRaisesRegex(RuntimeError, "Set changed size"):
                next(iterator2)

    def test_frozen_exhausted_and_pickled_twice(self):
        self.assertEqual(list(again(iter(frozenset([1])))), [1])
        iterator = iter({5})
        list(iterator)
        self.assertEqual(list(again(iterator)), [])
        s = {"x", "y"}
        iterator = iter(s)
        next(iterator)
        self.assertEqual(list(again(again((s, iterator)))[1]), list(iterator))


class CodeError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class Slotted(Exception):
    __slots__ = ("code",)

    def __init__(self, code):
        super().__init__("slotted")
        self.code = code


class OwnReduce(Exception):
    def __init__(self, a, b):
        super().__init__(a + b)
        self.a, self.b = a, b

    def __reduce__(self):
        return (OwnReduce, (self.a, self.b))


class Mixin:
    def __init__(self, *args):
        super().__init__(*args)
        self.mixed = True


class Mixed(Mixin, ValueError):
    def __init__(self, x, y):
        super().__init__("%s-%s" % (x, y))


class Denied(PermissionError):
    def __init__(self, path):
        super().__init__(errno.EACCES, "denied", path)
        self.extra = 1


class Holder(Exception):
    pass


def raised(error, cause=None):
    try:
        if cause is None:
            raise error
        raise error from cause
    except BaseException as caught:
        return caught


class Exceptions(unittest.TestCase):
    def test_builtin_exceptions_keep_everything(self):
        syntax = ("f.py", 1, 2, "x y", 1, 3) if sys.version_info >= (3, 10) else ("f.py", 1, 2, "x y")
        for error, fields in [
            (ValueError("v"), ()),
            (OSError(errno.ENOENT, "nf", "/p"), ("errno", "strerror", "filename")),
            (ImportError("m", name="n", path="p"), ("name", "path")),
            (SystemExit(3), ("code",)),
            (StopIteration(5), ("value",)),
            (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"), ("encoding", "start", "end", "reason")),
            (SyntaxError("s", syntax), ("filename", "lineno", "offset", "text")),
            (json.JSONDecodeError("m", "doc", 1), ("msg", "doc", "pos")),
            (subprocess.CalledProcessError(1, ["x"], b"out", b"err"), ("returncode", "cmd", "output", "stderr")),
        ]:
            with self.subTest(error=error):
                copy = again(error)
                self.assertIs(type(copy), type(error))
                self.assertEqual((copy.args, str(copy)), (error.args, str(error)))
                self.assertEqual([getattr(copy, f) for f in fields], [getattr(error, f) for f in fields])

    def test_classes_whose_init_takes_other_arguments(self):
        copy = again(CodeError(7, "failed"))
        self.assertEqual((type(copy), copy.args, copy.code), (CodeError, ("failed",), 7))
        copy = again(Slotted(4))
        self.assertEqual((copy.args, copy.code), (("slotted",), 4))
        copy = again(OwnReduce(1, 2))
        self.assertEqual((copy.a, copy.b, copy.args), (1, 2, (3,)))
        copy = again(Mixed(1, 2))
        self.assertEqual((type(copy), copy.args, copy.mixed), (Mixed, ("1-2",), True))
        copy = again(Denied("/f"))
        self.assertEqual((type(copy), copy.errno, copy.strerror, copy.filename, copy.extra),
                         (Denied, errno.EACCES, "denied", "/f", 1))

    def test_chains(self):
        try:
            raise KeyError("k")
        except KeyError as key_error:
            error = raised(OwnReduce(1, 1), key_error)  # __cause__ and __context__
        error.__suppress_context__ = False
        copy = again(error)
        self.assertIs(type(copy.__cause__), KeyError)
        self.assertIs(copy.__context__, copy.__cause__)
        self.assertIs(copy.__suppress_context__, False)
        self.assertIs(again(raised(ValueError("v"), KeyError("k"))).__suppress_context__, True)
        notes = ValueError("noted")
        notes.__notes__ = ["a note"]  # what add_note does on 3.11+
        self.assertEqual(again(notes).__notes__, ["a note"])

    def test_cycles_and_long_chains(self):
        a, b = ValueError("a"), ValueError("b")
        a.__cause__, b.__cause__ = b, a
        copy = again(a)
        self.assertIs(copy.__cause__.__cause__, copy)
        a = ValueError("a")
        a.__context__ = ValueError(a)  # through the arguments
        copy = again(a)
        self.assertIs(copy.__context__.args[0], copy)
        error = ValueError(0)
        for n in range(1, 5000):
            error = raised(ValueError(n), error)
        copy = pickle.loads(wire.dumps_error(error))  # too deep for pickle: cut, not a failure
        self.assertEqual(copy.args, (4999,))
        self.assertEqual(copy.__cause__.args, (4998,))

    @unittest.skipIf(sys.version_info < (3, 11), "exception groups")
    def test_exception_groups(self):
        group = ExceptionGroup("g", [raised(ValueError(1), KeyError("c")), CodeError(2, "x")])  # noqa: F821
        group.add_note("note")
        copy = again(group)
        self.assertEqual((type(copy), copy.__notes__), (type(group), ["note"]))
        self.assertIs(type(copy.exceptions[0].__cause__), KeyError)
        self.assertEqual(copy.exceptions[1].code, 2)

    def test_an_exception_that_cannot_be_pickled_becomes_one_that_names_it(self):
        holder = Holder("cannot travel")
        holder.lock = threading.Lock()
        holder = raised(holder, raised(KeyError("inner")))
        copy = pickle.loads(wire.dumps_error(holder))
        self.assertIs(type(copy), wire.UnpicklableError)
        self.assertIsInstance(copy, RuntimeError)
        self.assertIn("%s.Holder: cannot travel" % __name__, str(copy))
        self.assertIn("lock", str(copy))
        self.assertEqual((copy.type_name, copy.message), ("%s.Holder" % __name__, "cannot travel"))
        self.assertIs(type(copy.__cause__), KeyError)  # the rest of the chain is kept
        self.assertTrue(copy.__suppress_context__)
        fine = ValueError("fine")
        fine.__context__ = holder
        copy = pickle.loads(wire.dumps_error(fine))
        self.assertIs(type(copy), ValueError)
        self.assertIs(type(copy.__context__), wire.UnpicklableError)

        def local():
            class Local(Exception):
                pass
            return Local("here")

        copy = pickle.loads(wire.dumps_error(local()))
        self.assertIs(type(copy), wire.UnpicklableError)
        self.assertIn("Local: here", str(copy))


class Unequal:
    def __eq__(self, other):
        raise ValueError("cannot compare")

    __hash__ = object.__hash__


class ModuleObjects(unittest.TestCase):
    """The app's modules are those under the bundle's directory: here a temporary one."""

    SOURCE = '''
MISSING = object()
TABLE = {"a": 1}
square = lambda x: x * x
NUMBER = 12345678901


class Options:
    UNSET = object()

    def pick(self, value=UNSET, *, cache={}):
        return value


def remember(n, cache={}):
    return cache


DEFAULT = Options()
pick = DEFAULT.pick


class Point:
    def __init__(self, x):
        self.x = x

    def __eq__(self, other):
        return isinstance(other, Point) and other.x == self.x

    __hash__ = None


ORIGIN = Point(0)


class Tools:
    @staticmethod
    def twice(x):
        return 2 * x

    @classmethod
    def build(cls):
        return cls()


def shared_cell():
    n = 0

    def inc():
        nonlocal n
        n += 1
        return n

    def get():
        return n

    return inc, get


def recursive():
    def fact(k):
        return 1 if k <= 1 else k * fact(k - 1)

    return fact


def with_defaults(base):
    def f(x, y=base, *, z=[base]):
        return x + y + z[0]

    return f
''' + "".join("X%d = [%d]\n" % (n, n) for n in range(300))

    def setUp(self):
        self.directory = tempfile.TemporaryDirectory()
        self.saved = wire._APP_ROOT, wire._references, wire._module_references
        wire._APP_ROOT = self.directory.name
        wire._references = wire._ModuleReferences()
        wire._module_references = wire._references.get
        with open(os.path.join(self.directory.name, "wire_app.py"), "w") as f:
            f.write(self.SOURCE)
        sys.path.insert(0, self.directory.name)
        self.app = importlib.import_module("wire_app")

    def tearDown(self):
        sys.path.remove(self.directory.name)
        sys.modules.pop("wire_app", None)
        wire._APP_ROOT, wire._references, wire._module_references = self.saved
        wire._Pickler.dispatch_table.refer(frozenset())
        self.directory.cleanup()

    def test_saved_by_reference(self):
        app = self.app
        values = [app.MISSING, app.TABLE, app.square, app.Options.UNSET, app.remember.__defaults__[0],
                  app.Options.pick.__kwdefaults__["cache"], [app.TABLE]]
        copy = again(values)
        for original, restored in zip(values[:-1], copy[:-1]):
            self.assertIs(restored, original)
        self.assertIs(copy[-1][0], app.TABLE)
        default, pick, other, plain = again([app.DEFAULT, app.pick, app.Options(), object()])
        self.assertIs(default, app.DEFAULT)
        self.assertIs(pick.__self__, app.DEFAULT)
        self.assertIsNot(other, app.DEFAULT)  # other instances of the same classes are copied
        self.assertIs(type(other), app.Options)
        self.assertIs(type(plain), object)
        self.assertEqual(again(app.NUMBER), app.NUMBER)
        self.assertNotIn(b"wire_app", wire.dumps([1, {"b": 2}]))  # no reference: a plain pickle

    def test_only_what_the_import_bound(self):
        """What a task binds to a module-level name is this process's state: copied."""
        app = self.app
        old = app.TABLE
        default = app.DEFAULT
        self.assertIs(again([app.DEFAULT, app.TABLE])[0], app.DEFAULT)
        app.TABLE = {"a": 1}  # equal to the old one: the list comparison cannot tell, identity can
        app.DEFAULT = app.Options()
        origin = app.ORIGIN
        self.assertIs(again(origin), origin)
        app.ORIGIN = app.Point(0)  # equal too
        for value in (app.TABLE, old, app.DEFAULT, default, app.ORIGIN, origin):
            copy = again(value)
            self.assertIsNot(copy, value)
            self.assertIs(type(copy), type(value))
        self.assertEqual(again(old), old)
        app.DEFAULT = default
        app.LATER = []
        self.assertIsNot(again([app.LATER])[0], app.LATER)
        app.Options.LATER = object()  # a class attribute too
        app.TABLE = {"c": 3}  # (the module changes: its table is made again)
        self.assertIsNot(again(app.Options.LATER), app.Options.LATER)
        self.assertIs(again(app.Options.UNSET), app.Options.UNSET)
        app.TABLE = {"b": 2}
        app.TABLE = old  # bound again to what the import bound
        self.assertIs(again([app.TABLE])[0], app.TABLE)
        app.NUMBER = Unequal()  # comparing it fails
        self.assertIs(type(again(app.NUMBER)), Unequal)
        app.NUMBER = Unequal()
        self.assertIs(again([app.MISSING, app.NUMBER])[0], app.MISSING)

    def test_a_name_gone_in_the_loading_process_fails_loudly_if_used(self):
        app = self.app
        data, unused = wire.dumps([app.TABLE]), wire.dumps([app.MISSING, 1])
        del app.TABLE
        with self.assertRaisesRegex(pickle.UnpicklingError, "wire_app.TABLE"):
            wire.loads(data)
        self.assertIs(wire.loads(unused)[0], app.MISSING)
        app.MISSING = "other"
        with self.assertRaisesRegex(pickle.UnpicklingError, "a builtins.object when it was saved"):
            wire.loads(unused)

    def test_functions(self):
        """Module-level functions and methods by reference; functions made by a call (closures)
        by value, with their cells shared as they were, their defaults and their names."""
        app = self.app
        twice, build, remember = again([app.Tools.twice, app.Tools.build, app.remember])
        self.assertIs(twice, app.Tools.twice)
        self.assertIs(build.__self__, app.Tools)
        self.assertIs(build.__func__, app.Tools.build.__func__)
        self.assertIs(remember, app.remember)
        inc, get = again(app.shared_cell())
        inc()
        inc()
        self.assertEqual(get(), 2)  # one cell, as before the checkpoint
        self.assertEqual(again(app.recursive())(5), 120)  # a closure over itself
        f = again(app.with_defaults(10))
        self.assertEqual(f(1), 21)
        self.assertEqual(f.__kwdefaults__, {"z": [10]})
        self.assertEqual((f.__qualname__, f.__module__), ("with_defaults.<locals>.f", "wire_app"))
        with self.assertRaisesRegex(TypeError, "cannot pickle 'generator' object"):
            wire.dumps((x for x in "ab"))

    def test_many_references_and_a_big_pickle(self):
        app = self.app
        big = [app.X299, list(range(200000)), app.X3]
        copy = again(big)
        self.assertIs(copy[0], app.X299)
        self.assertIs(copy[2], app.X3)


class Futures(unittest.TestCase):
    def test_waiting_again_gives_the_same_outcome(self):
        future = rt.Future("0.1")
        try:
            future.wait()
        except rt.Unwind as unwind:
            frames = unwind.frames
        else:
            self.fail("wait() did not pause")
        frames, future = again((frames, future))  # a checkpoint: the frame holds the future
        value = rt.resume(frames, rt.Outcome(["result"]))
        self.assertIs(future.wait(), value)  # no pause: known
        copy = again(future)
        self.assertEqual(copy.wait(), ["result"])
        self.assertEqual(copy, future)
        self.assertIsNone(again(rt.Future("0.3", rt.Outcome(["not held"]))).outcome)  # nothing to be the same as
        failed = rt.Future("0.2", rt.Outcome(error=ValueError("x")))
        held = failed.outcome.error  # noqa: F841 - something else holds it: kept
        failed = again(failed)
        errors = []
        for _ in range(2):
            try:
                failed.wait()
            except ValueError as error:
                errors.append(error)
        self.assertIs(errors[0], errors[1])


if __name__ == "__main__":
    unittest.main()
