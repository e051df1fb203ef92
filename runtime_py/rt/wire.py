"""Translation between the task side and a coordinator: a `Request` becomes a call (a dict of
plain data and pickled payloads) and a coordinator's reply becomes the `Outcome` of the call.
Coordinators never unpickle the app's objects.

`dumps` is the standard `pickle` with three additions that keep Python's meaning of a task's
objects across a resume (see `_Pickler`): iterators over dicts and sets stay iterators over the
(shared) dict or set instead of becoming lists of what was left; exceptions keep their chain and
are restored without calling their class's `__init__`; objects bound to module-level names of
the app's modules are saved as references to those names, so they stay the same objects.

One module (over 1,100 lines) because the pickler's dispatch table, the reducers it holds and
the loaders they name must agree on one format: splitting it is issue 13's remaining work."""

import collections
import copyreg
import gc
import importlib
import importlib.machinery
import io
import itertools
import operator
import os
import pickle
import re
import sys
import types

from rt import Future, Outcome, Queue
from rt.protocol import (
    CREATE_QUEUES, DEQUEUE, DURABLE, ENQUEUE, EXIT, MAIN, MAP_SPAWN, SPAWN, WAIT, pipelined_reply,
)

PROTOCOL = pickle.HIGHEST_PROTOCOL


def dumps(value):
    """`value` as bytes. Functions pickle by reference (module and name) where they can;
    nested functions, lambdas and functions hidden by a decorator have no such reference and
    pickle by value: where their code is in the bundle's modules, and the current contents of
    the variables they captured (see `_FunctionPickler`). Objects bound to the app's
    module-level names pickle as references to those names (see `_ModuleReferences`)."""
    if type(value) in _ATOMS:
        return pickle.dumps(value, protocol=PROTOCOL)
    if len(copyreg.dispatch_table) != _Pickler.dispatch_table.copyreg_size:
        _Pickler.dispatch_table.reset()
    containers = _module_references()
    try:
        return _dump(value, _Pickler, containers)
    except Exception:
        pass
    return _dump(value, _FunctionPickler, containers)


def loads(data):
    return pickle.loads(data)


_ATOMS = frozenset([type(None), bool, int, float, complex, str, bytes])


def _dump(value, pickler_class, containers, again=True):
    """Pickles `value`. With `containers` (the app's module-level lists, dicts, sets ...), they
    are in the pickler's memo first, at indices 0..n-1, so that the pickle refers to them
    instead of copying them (pickle saves these types itself, before any hook could)."""
    pair = _idle.pop(pickler_class, None)  # a pickler not in use (dumps may be reentered)
    if pair is None:
        buffer = io.BytesIO()
        pair = buffer, pickler_class(buffer, protocol=PROTOCOL)
    buffer, pickler = pair
    if containers is not None:
        pickler.memo = containers[0]
    pickler.dump(value)  # a pickler that failed is not used again
    body = buffer.getvalue()
    pickler.clear_memo()
    buffer.seek(0)
    buffer.truncate()
    _idle[pickler_class] = pair
    if containers is None:
        return body
    memo, names, gets, nones = containers
    if len(body) > _SEARCHED:  # copying it into a wrapper costs less than searching it
        used = [(index,) + name for index, name in enumerate(names)]
    else:
        # The memo indices that appear in a BINGET or LONG_BINGET opcode (a byte search: a few
        # more, never fewer).
        found = set(gets.findall(body))
        if not found:
            # It refers to none of them: a plain pickle, whose memo starts with as many Nones.
            return b"".join((nones, memoryview(body)[2:]))
        used = [(index,) + names[index] for index in sorted(_memo_index(get) for get in found)]
    by_index = _references.by_index
    if any(_resolve(module_name, path, False) is not by_index[index] for index, module_name, path, _ in used):
        # One of them is no longer bound to its name (but to an equal object, which the module
        # comparison could not tell): look again, and pickle again (without them if still so).
        _references.forget()
        return _dump(value, pickler_class, _module_references() if again else None, False)
    return pickle.dumps(_WithReferences(len(names), used, body), protocol=PROTOCOL)


_idle = {}  # pickler class -> (buffer, pickler) for the next `_dump`
_SEARCHED = 16384  # the longest pickle searched for the memo entries it uses


# --- the pickler ----------------------------------------------------------------------------

class _DispatchTable(dict):
    """`copyreg.dispatch_table` plus this module's reducers, looked up by a `_Pickler` for every
    object that is not a str, bytes, number, list, tuple, dict, set, function or class. A type
    seen for the first time gets its entry here once (`copyreg`'s, one of ours, or the default
    `__reduce_ex__`), so later lookups are one dictionary access in C. The types of the app's
    module-level objects (`referred`) get `_reduce_module_object`, which tells those objects
    from other instances of their types."""

    referred = frozenset()

    def __missing__(self, cls):
        if len(copyreg.dispatch_table) != self.copyreg_size:
            self.reset()
            return self[cls]
        if issubclass(cls, type):
            raise KeyError(cls)  # a class: pickled by reference, by pickle itself
        reducer = self[cls] = self.fallback(cls)
        return reducer

    @staticmethod
    def fallback(cls):
        """The reducer of a type, apart from module-level objects."""
        reducer = _REDUCERS.get(cls) or copyreg.dispatch_table.get(cls)
        if reducer is not None:
            return reducer
        if issubclass(cls, BaseException):
            return _reduce_exception
        return _DEFAULT_REDUCE

    def reset(self):
        self.clear()
        self.update(_REDUCERS)
        self.copyreg_size = len(copyreg.dispatch_table)
        for cls in self.referred:
            self[cls] = _reduce_module_object

    def refer(self, kinds):
        for cls in self.referred - kinds:
            self.pop(cls, None)
        self.referred = kinds
        for cls in kinds:
            self[cls] = _reduce_module_object


_DEFAULT_REDUCE = operator.methodcaller("__reduce_ex__", PROTOCOL)


class _Pickler(pickle.Pickler):
    """The standard pickler with this module's reducers (see `_DispatchTable`). Objects it
    would otherwise copy into something else:

    - an iterator over a dict or one of its views (keys, values, items, reversed) is saved as
      the dict, which pickles once and stays shared, and the number of entries consumed, and
      restored as the same kind of iterator over that dict, advanced as far: it sees the values
      the dict has when it gets there, and raises RuntimeError if the dict changed size;
      pickle's own reduction copies what was left into a list;
    - a set iterator remembers its set and raises RuntimeError if it changed size;
    - an OrderedDict iterator, like a dict's;
    - a dict view (`d.keys()` ...) stays a view of its dict (pickle cannot save views);
    - an exception keeps `__cause__`, `__context__` and `__suppress_context__` (and
      `__notes__`, which live in its `__dict__`), and is restored like any other object: its
      arguments and attributes, without calling its class's `__init__` (which may take other
      arguments than the ones it passed on).

    An iterator that cannot be restored faithfully is a `pickle.PicklingError` saying why."""

    dispatch_table = _DispatchTable()


# --- iterators -----------------------------------------------------------------------------

def _referent(iterator, kind):
    """What a built-in iterator iterates over (None once it is exhausted)."""
    for referent in gc.get_referents(iterator):
        if isinstance(referent, kind):
            return referent
    return None


_DICT_ITERATOR_KINDS = {}  # iterator type -> its index in _DICT_ITERATOR_MAKERS
_DICT_ITERATOR_MAKERS = (
    lambda d: iter(dict.keys(d)),
    lambda d: iter(dict.values(d)),
    lambda d: iter(dict.items(d)),
    lambda d: reversed(dict.keys(d)),
    lambda d: reversed(dict.values(d)),
    lambda d: reversed(dict.items(d)),
)
for _index, _make in enumerate(_DICT_ITERATOR_MAKERS):
    _DICT_ITERATOR_KINDS[type(_make({}))] = _index


def _reduce_dict_iterator(iterator):
    """A dict iterator iterates over the dict's entries from a position on, and expects a
    number of them (`__length_hint__`). What it has left is a suffix of the dict's entries (its
    own reduction lists it, from a copy of it); when that suffix is as long as expected, a new
    iterator over the dict that skips the entries before it is the same. Otherwise the keys
    changed during the iteration (Python's behavior is then undefined) and it is a
    PicklingError; a changed size is a RuntimeError at the next step, as in Python."""
    kind = _DICT_ITERATOR_KINDS[type(iterator)]
    d = _referent(iterator, dict)
    if d is None:  # exhausted
        return (_dict_iterator, (None, kind, 0))
    try:
        left = len(iterator.__reduce__()[1][0])
    except RuntimeError as error:
        if "changed size" in str(error):
            return (_RaisingIterator, (str(error), True))
        left = error
    if left != iterator.__length_hint__():
        raise pickle.PicklingError(
            "an iterator over a dict whose keys changed during the iteration cannot be saved faithfully%s" % (
                " (%s)" % left if isinstance(left, Exception) else ""))
    return (_dict_iterator, (d, kind, dict.__len__(d) - left))


def _dict_iterator(d, kind, consumed):
    """An iterator of kind `kind` over `d` that has yielded `consumed` entries."""
    if d is not None and consumed > dict.__len__(d):  # `d` holds the iterator: not filled yet
        raise pickle.UnpicklingError("an iterator over a dict that holds it cannot be restored")
    iterator = _DICT_ITERATOR_MAKERS[kind]({} if d is None else d)
    if consumed:
        next(itertools.islice(iterator, consumed, consumed), None)
    elif d is None:
        next(iterator, None)  # exhausted: it no longer holds a dict
    return iterator


_ORDERED_ITERATOR_MAKERS = (
    lambda d: iter(collections.OrderedDict.keys(d)),
    lambda d: iter(collections.OrderedDict.values(d)),
    lambda d: iter(collections.OrderedDict.items(d)),
    lambda d: reversed(collections.OrderedDict.keys(d)),
    lambda d: reversed(collections.OrderedDict.values(d)),
    lambda d: reversed(collections.OrderedDict.items(d)),
)


def _same_items(a, b):
    return len(a) == len(b) and all(
        x is y or (type(x) is tuple and type(y) is tuple and len(x) == len(y) and all(map(operator.is_, x, y)))
        for x, y in zip(a, b))


def _reduce_ordered_iterator(iterator):
    """OrderedDict iterators are all of one type; which kind (keys, values, items; forward or
    reversed) this one is, is found by comparing what it has left with what each kind would
    have left. When the keys left are their values (`od[k] is k`), a keys iterator and a
    values iterator differ only once a value changes: the value of the next key is changed for
    a moment (the dict itself, which does not change the OrderedDict's order or state) to see
    which it is."""
    d = _referent(iterator, collections.OrderedDict)
    if d is None:
        return (_ordered_iterator, (None, 0, 0))
    try:
        left = list(iterator.__reduce__()[1][0])
    except RuntimeError as error:  # changed size: for good; mutated: once
        return (_RaisingIterator, (str(error), "changed size" in str(error)))
    consumed = dict.__len__(d) - len(left)
    kinds = [kind for kind, make in enumerate(_ORDERED_ITERATOR_MAKERS)
             if _same_items(list(itertools.islice(make(d), consumed, None)), left)]
    if not left:
        kinds = kinds[:1]  # at its end: every kind behaves the same
    elif len(kinds) > 1 and all(kind % 3 != 2 for kind in kinds):
        key, probe = left[0], object()
        value = dict.__getitem__(d, key)
        dict.__setitem__(d, key, probe)
        try:
            yields_values = iterator.__reduce__()[1][0][0] is probe
        finally:
            dict.__setitem__(d, key, value)
        kinds = [kind for kind in kinds if (kind % 3 == 1) == yields_values]
    if len(kinds) != 1:
        raise pickle.PicklingError("cannot tell which kind of iterator over an OrderedDict this is")
    return (_ordered_iterator, (d, kinds[0], consumed))


def _ordered_iterator(d, kind, consumed):
    iterator = _ORDERED_ITERATOR_MAKERS[kind](collections.OrderedDict() if d is None else d)
    if consumed:
        next(itertools.islice(iterator, consumed, consumed), None)
    elif d is None:
        next(iterator, None)
    return iterator


class _RaisingIterator:
    """Stands for an iterator whose next step raises RuntimeError (its collection changed size
    during the iteration): raises it, again and again if `sticky` (as dict and set iterators
    do), else once and then stops."""

    __slots__ = ("message", "sticky")

    def __init__(self, message, sticky):
        self.message = message
        self.sticky = sticky

    def __iter__(self):
        return self

    def __next__(self):
        if self.message is None:
            raise StopIteration
        message = self.message
        if not self.sticky:
            self.message = None
        raise RuntimeError(message)

    def __length_hint__(self):
        return 0

    def __reduce__(self):
        return (_RaisingIterator, (self.message, self.sticky))


class _SetIterator:
    """An iterator over a set, restored: the elements it had left, in the order it would have
    yielded them (a restored set may order its elements differently), and the set itself, to
    raise RuntimeError as a set iterator does if the set changes size."""

    __slots__ = ("set", "left", "size")

    def __init__(self, s, left, size):
        self.set = s
        self.left = left  # reversed: the next element last
        self.size = size

    def __iter__(self):
        return self

    def __next__(self):
        if self.set is None:
            raise StopIteration
        if len(self.set) != self.size:
            self.size = -1  # for good, as a set iterator does
            raise RuntimeError("Set changed size during iteration")
        if not self.left:
            self.set = None
            raise StopIteration
        return self.left.pop()

    def __length_hint__(self):
        return len(self.left) if self.set is not None and len(self.set) == self.size else 0

    def __reduce__(self):
        return (_SetIterator, (self.set, self.left, self.size))


def _reduce_set_iterator(iterator):
    s = _referent(iterator, (set, frozenset))
    if s is None:
        return (_SetIterator, (None, [], 0))
    try:
        left = list(iterator.__reduce__()[1][0])
    except RuntimeError as error:
        return (_RaisingIterator, (str(error), True))
    left.reverse()
    return (_SetIterator, (s, left, len(s)))


_DICT_VIEW_MAKERS = (dict.keys, dict.values, dict.items,
                     collections.OrderedDict.keys, collections.OrderedDict.values, collections.OrderedDict.items)
_DICT_VIEW_KINDS = {type(make(collections.OrderedDict())): kind for kind, make in enumerate(_DICT_VIEW_MAKERS)}


def _reduce_dict_view(view):
    return (_dict_view, (_referent(view, dict), _DICT_VIEW_KINDS[type(view)]))


def _dict_view(d, kind):
    return _DICT_VIEW_MAKERS[kind](d)


# --- exceptions ----------------------------------------------------------------------------

_exception_plans = {}  # exception class -> (custom reduce, base class to construct with or None, slot names)


def _exception_plan(cls):
    """How to rebuild instances of an exception class: whether it has its own reduction, and
    the class whose `__new__` and `__init__` to call with its arguments: None when no class
    on the way up to the built-in one defines `__init__` or `__new__` in Python (calling the
    class is then what pickle itself does); otherwise the class above the last one that does,
    so that an `__init__` taking other arguments than it passes on is skipped (its attributes
    are restored from `__dict__`)."""
    plan = _exception_plans.get(cls)
    if plan is None:
        custom = any(
            isinstance(vars(c).get(name), (types.FunctionType, classmethod, staticmethod))
            for c in cls.__mro__ for name in ("__reduce__", "__reduce_ex__"))
        last = -1
        for index, c in enumerate(cls.__mro__):
            if isinstance(vars(c).get("__init__"), types.FunctionType) or isinstance(vars(c).get("__new__"), (types.FunctionType, staticmethod)):
                last = index
        base = None
        if last >= 0:
            base = next((c for c in cls.__mro__[last + 1:] if issubclass(c, BaseException)), BaseException)
        plan = _exception_plans[cls] = (custom, base, tuple(copyreg._slotnames(cls)))
    return plan


def _reduce_exception(error, chained=True):
    custom, base, slots = _exception_plan(type(error))
    reduced = error.__reduce_ex__(PROTOCOL)
    if isinstance(reduced, str) or len(reduced) > 3 and any(x is not None for x in reduced[3:]):
        return reduced  # a reduction of its own that pickle must carry out as it is
    function, args = reduced[0], reduced[1]
    state = reduced[2] if len(reduced) > 2 else None
    if not custom:
        function, args = (type(error), args) if base is None else (_new_exception, (type(error), base, args))
    slot_state = _slot_state(error, slots) if slots else None
    cause, context, suppress_context = error.__cause__, error.__context__, error.__suppress_context__
    if not chained:
        cause, context, suppress_context = None, None, False
    elif cause is None and context is None and not suppress_context and slot_state is None:
        return (function, args, state)  # nothing more than pickle would restore
    return (function, args, (state, slot_state, cause, context, suppress_context), None, None, _restore_exception)


def _slot_state(obj, names):
    state = {}
    for name in names:
        try:
            state[name] = getattr(obj, name)
        except AttributeError:
            pass
    return state


def _new_exception(cls, base, args):
    error = base.__new__(cls, *args)
    base.__init__(error, *args)
    return error


def _restore_exception(error, chain):
    state, slots, cause, context, suppress_context = chain
    if state is not None:
        setstate = getattr(error, "__setstate__", None)
        if setstate is not None:
            setstate(state)
        else:
            error.__dict__.update(state)
    for name, value in (slots or {}).items():
        setattr(error, name, value)
    error.__cause__ = cause  # sets __suppress_context__: restore it after
    error.__context__ = context
    error.__suppress_context__ = suppress_context


# --- objects of the app's modules -----------------------------------------------------------

# The bundle's directory: modules whose files are in it (rt and kappa_coordinator aside) are
# the app's.
_APP_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_RUNTIME_PACKAGES = ("rt", "kappa_coordinator")
_NOTHING = object()


def _is_app_module(name, filename):
    return bool(filename) and name != "__main__" and name.partition(".")[0] not in _RUNTIME_PACKAGES \
        and os.path.abspath(filename).startswith(_APP_ROOT + os.sep)


# What each of the app's modules bound when its import finished. Only those objects are saved
# by reference: they are the module's in every process (its code made them), while what a
# task binds to a module-level name later is this process's state (another process may not
# have it), and is copied as before.
_imported = {}  # module name -> {name: value}
_imported_classes = {}  # class defined by one of them -> {attribute: value}


def _record_import(module):
    names = _imported[module.__name__] = dict(module.__dict__)
    pending = [value for value in names.values() if isinstance(value, type) and value.__module__ == module.__name__]
    while pending:
        cls = pending.pop()
        if cls not in _imported_classes:
            attributes = _imported_classes[cls] = dict(vars(cls))
            pending.extend(value for value in attributes.values()
                           if isinstance(value, type) and value.__qualname__.startswith(cls.__qualname__ + "."))
    return names


class _ImportedLoader:
    """Wraps the loader of one of the app's modules to record its names once its code ran."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _record_import(module)

    def __getattr__(self, name):
        if name == "_loader":  # not set yet (a copy being made)
            raise AttributeError(name)
        return getattr(self._loader, name)


class _ImportedFinder:
    """Finds modules as `PathFinder` does (it stands just before it in `sys.meta_path`), with
    an `_ImportedLoader` for the app's."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is not None and hasattr(spec.loader, "exec_module") and _is_app_module(name, spec.origin):
            spec.loader = _ImportedLoader(spec.loader)
        return spec


def _watch_imports():
    if _ImportedFinder in sys.meta_path:
        return
    finders = sys.meta_path
    at = finders.index(importlib.machinery.PathFinder) if importlib.machinery.PathFinder in finders else len(finders)
    finders.insert(at, _ImportedFinder)
    for name, module in list(sys.modules.items()):  # imported before this module: as they are now
        if name not in _imported and _is_app_module(name, getattr(module, "__file__", None)):
            _record_import(module)


def _referable(value):
    """Whether `value`, found at a module-level name, is saved as a reference to that name:
    everything pickle would copy (instances, containers, functions without a name of their
    own), but not numbers, strings, bytes and tuples of them (identity means nothing for them), nor what
    pickle already saves by reference (classes, modules, functions and built-in functions
    reachable by their names)."""
    kind = type(value)
    if kind in _ATOMS or isinstance(value, (type, types.ModuleType)):
        return False
    if kind in (tuple, frozenset) and all(type(item) in _ATOMS for item in value):
        return False  # a value, like a number
    if kind is types.FunctionType:
        return not _by_reference(value)
    if kind is types.BuiltinFunctionType:
        return not isinstance(value.__self__, types.ModuleType) and value.__self__ is not None
    return True


def _function_defaults(function, path, found):
    for index, value in enumerate(getattr(function, "__defaults__", None) or ()):
        if _referable(value):
            found.append(((path, "__defaults__", index), value))
    for key, value in (getattr(function, "__kwdefaults__", None) or {}).items():
        if _referable(value):
            found.append(((path, "__kwdefaults__", key), value))


def _entries(module_name, name, value):
    """The objects reachable from a module-level name, with their paths: the value, the
    default argument values of a function, and for a class defined in the module its
    attributes as its import left them (nested classes and methods' defaults included)."""
    found = []
    if _referable(value):
        found.append((name, value))
    if isinstance(value, types.FunctionType):
        _function_defaults(value, name, found)
    elif isinstance(value, type) and value.__module__ == module_name:
        pending = [(name, value)]
        while pending:
            path, cls = pending.pop()
            imported = _imported_classes.get(cls, {})  # a class made later has none of its own
            for attribute, member in list(vars(cls).items()):
                if attribute.startswith("__") and attribute.endswith("__") or imported.get(attribute, _NOTHING) is not member:
                    continue
                member_path = path + "." + attribute
                if isinstance(member, (staticmethod, classmethod)):
                    _function_defaults(member.__func__, member_path, found)
                    continue
                if isinstance(member, types.FunctionType):
                    _function_defaults(member, member_path, found)
                    if _by_reference(member):
                        continue
                if isinstance(member, type):
                    if member.__module__ == module_name and member.__qualname__ == cls.__qualname__ + "." + attribute:
                        pending.append((member_path, member))
                    continue
                if _referable(member):
                    found.append((member_path, member))
    return found


# Types that pickle saves itself, before any hook (reducer_override, dispatch table) could see
# them: the app's module-level objects of these types are put in the pickler's memo instead.
_CONTAINERS = frozenset([dict, list, set, frozenset, tuple, bytearray])


class _ModuleReferences:
    """The app's module-level objects and their names, kept up to date at each `dumps`: the
    modules' dictionaries are compared (by identity of their values, in C) with what they held
    last time, and only names bound to other objects since are looked at again.

    Most objects pickle as a call to `_module_object` with their name, made by a reducer in
    the dispatch table for their type (`_reduce_module_object`), or, for functions, by
    `_FunctionPickler`. Objects of the types pickle saves itself (`_CONTAINERS`) are put in
    the pickler's memo before the value (`_dump`), and the pickle is wrapped in a
    `_WithReferences` that names those it may use."""

    def __init__(self):
        self.module_count = -1
        self.modules = []  # the app's modules
        self.seen = {}  # module name -> (module, whether it is the app's)
        self.values = {}  # module name -> list of its values last time
        self.names = {}  # module name -> {name: value} last time
        self.entries = {}  # module name -> {name: [(path, object)]}
        self.rebound = {}  # module name -> (names, objects their import bound) bound to others
        self.objects = {}  # id -> ((module, path, type name), object)
        self.by_index = []  # the objects put in the pickler's memo, by index
        self.containers = None  # (pickler memo, [(module, path, type name)], _gets, _prefix of Nones)

    def get(self):
        changed = False
        if len(sys.modules) != self.module_count:
            changed = self.find_modules()
        for module in self.modules:
            # Whether the module's names are bound to what they were last time. A list
            # comparison (in C) takes identical values as equal without comparing them, but
            # also values that are equal and not identical: a referenced object is checked
            # when it is used (`_bound`), and the names bound to other objects than their
            # import bound are checked by identity here.
            d = module.__dict__
            values = list(d.values())
            last = self.values.get(module.__name__)
            try:
                same = values == last
            except Exception:  # an __eq__ that fails (arrays ...)
                same = False
            if same:
                keys, objects = self.rebound[module.__name__]
                if keys and any(map(operator.is_, map(d.get, keys), objects)):
                    same = False
            if not same:
                self.values[module.__name__] = values
                self.update(module)
                changed = True
        if changed:
            self.combine()
        return self.containers

    def find_modules(self):
        self.module_count = len(sys.modules)
        modules = []
        for name, module in list(sys.modules.items()):
            seen = self.seen.get(name)
            if seen is None or seen[0] is not module:
                seen = self.seen[name] = (module, _is_app_module(name, getattr(module, "__file__", None)))
            if seen[1]:
                modules.append(module)
        gone = set(m.__name__ for m in self.modules) - set(m.__name__ for m in modules)
        for name in gone:
            for table in (self.values, self.names, self.entries, self.rebound):
                table.pop(name, None)
        changed = bool(gone) or len(modules) != len(self.modules)
        self.modules = modules
        return changed

    def update(self, module):
        name = module.__name__
        names = dict(module.__dict__)
        last = self.names.get(name, {})
        imported = _imported.get(name)
        if imported is None:  # not imported the usual way: as it is now, the best guess
            imported = _record_import(module)
        entries = self.entries.setdefault(name, {})
        for key in last.keys() - names.keys():
            entries.pop(key, None)
        for key, value in names.items():
            if key.startswith("__") and key.endswith("__"):
                continue
            if last.get(key, _NOTHING) is not value:
                found = _entries(name, key, value) if imported.get(key, _NOTHING) is value else None
                if found:
                    entries[key] = found
                else:
                    entries.pop(key, None)
        self.names[name] = names
        rebound = [(key, value) for key, value in imported.items()
                   if names.get(key, _NOTHING) is not value and not (key.startswith("__") and key.endswith("__"))
                   and _referable(value)]
        self.rebound[name] = ([k for k, _ in rebound], [v for _, v in rebound])

    def forget(self):
        """Looks at every name of every module again at the next `get` (a referenced object
        was found no longer bound to its name)."""
        self.values.clear()
        self.names.clear()

    def combine(self):
        objects = {}
        kinds = set()
        memo, names, by_index = {}, [], []
        for module in self.modules:
            for found in self.entries.get(module.__name__, {}).values():
                for path, value in found:
                    if id(value) in objects:
                        continue
                    reference = (module.__name__, path, _type_name(value))
                    objects[id(value)] = (reference, value)
                    if type(value) in _CONTAINERS:
                        memo[id(value)] = (len(names), value)
                        names.append(reference)
                        by_index.append(value)
                    else:
                        kinds.add(type(value))
        self.objects = objects
        _Pickler.dispatch_table.refer(frozenset(kinds))
        self.containers = None
        if names:
            self.containers = (memo, names, _gets(len(names)), _prefix(len(names), b"N"))
        self.by_index = by_index


def _gets(count):
    """A regular expression for the opcodes that get memo entries 0..count-1 (BINGET below
    256, LONG_BINGET from there)."""
    pattern = b"h[\\x00-\\x%02x]" % min(count - 1, 255)
    if count > 256:
        pattern += b"|j(?:%s)" % b"|".join(re.escape(i.to_bytes(4, "little")) for i in range(256, count))
    return re.compile(pattern, re.DOTALL)


def _memo_index(get):
    return get[1] if get[:1] == b"h" else int.from_bytes(get[1:], "little")


_references = _ModuleReferences()
_module_references = _references.get
_watch_imports()


def _bound(found, obj):
    """Whether `found` (an entry of `_ModuleReferences.objects`) is `obj`, still bound to its
    name (it may have been bound to an equal object since)."""
    return found is not None and found[1] is obj and _resolve(found[0][0], found[0][1], False) is obj


def _reduce_module_object(obj):
    found = _references.objects.get(id(obj))
    if _bound(found, obj):
        return (_module_object, found[0])
    return _Pickler.dispatch_table.fallback(type(obj))(obj)


def _module_object(module_name, path, type_name):
    """The object bound to a module-level name (of the app), as when it was saved."""
    found = _resolve(module_name, path)
    if found is _NOTHING or _type_name(found) != type_name:
        raise pickle.UnpicklingError(_unresolved_message(module_name, path, type_name, found))
    return found


def _unresolved_message(module_name, path, type_name, found):
    where = "%s.%s" % (module_name, path if isinstance(path, str) else "%s.%s[%r]" % path)
    return "the saved value refers to `%s` (a %s when it was saved), which %s in this process" % (
        where, type_name, "does not exist" if found is _NOTHING else "is a %s" % _type_name(found))


def _type_name(value):
    kind = type(value)
    return "%s.%s" % (kind.__module__, kind.__qualname__)


class _WithReferences:
    """A pickle made with some of the app's module-level objects in its memo (indices
    0..count-1), and the names of those it may use. Unpickles as the value."""

    __slots__ = ("count", "used", "body")

    def __init__(self, count, used, body):
        self.count = count
        self.used = used
        self.body = body

    def __reduce__(self):
        return (_load_with_references, (self.count, self.used, self.body))


class _Unresolved:
    """Stands for a module-level object that this process does not have (the name is unbound
    or bound to an object of another type). Loading fails if anything refers to it."""

    __slots__ = ("reference", "found")

    def __init__(self, reference, found):
        self.reference = reference
        self.found = found


def _resolve(module_name, path, load=True):
    try:
        target = sys.modules.get(module_name)
        if target is None:
            if not load:
                return _NOTHING
            target = importlib.import_module(module_name)
        if isinstance(path, str):
            attributes, where, key = path, None, None
        else:
            attributes, where, key = path
        for attribute in attributes.split("."):
            target = getattr(target, attribute)
        if where is not None:
            target = getattr(target, where)[key]
        return target
    except (ImportError, AttributeError, LookupError, TypeError):
        return _NOTHING


class _ReferenceUnpickler(pickle.Unpickler):
    def persistent_load(self, index):
        return self.objects[index]


def _prefix(count, push=None):
    """The start of a pickle that puts `count` objects in the unpickler's memo, in order: the
    objects the unpickler's `persistent_load` gives for 0..count-1, or what `push` pushes."""
    parts = [b"\x80" + bytes((PROTOCOL,))]
    for index in range(count):
        if push is None:
            number = b"K" + bytes((index,)) if index < 256 else b"J" + index.to_bytes(4, "little", signed=True)
            parts.append(number + b"Q\x940")  # BINPERSID MEMOIZE POP
        else:
            parts.append(push + b"\x940")  # MEMOIZE POP
    return b"".join(parts)


def _load_with_references(count, used, body):
    objects = [None] * count
    unresolved = []
    for index, module_name, path, type_name in used:
        found = _resolve(module_name, path)
        if found is _NOTHING or _type_name(found) != type_name:
            unresolved.append(_Unresolved((module_name, path, type_name), found))
            found = unresolved[-1]
        objects[index] = found
    found = None
    unpickler = _ReferenceUnpickler(io.BytesIO(b"".join((_prefix(count), memoryview(body)[2:]))))
    unpickler.objects = objects
    # Some of the names may be used (a byte search found them): whether the value refers to a
    # stand-in, its reference count (held by `unresolved` and `objects` alone, before and
    # after) says.
    before = [sys.getrefcount(u) for u in unresolved]
    value = unpickler.load()
    del unpickler
    after = [sys.getrefcount(u) for u in unresolved]
    for u, b, a in zip(unresolved, before, after):
        if a != b:
            raise pickle.UnpicklingError(_unresolved_message(*(u.reference + (u.found,))))
    return value


class _FunctionPickler(_Pickler):
    """Pickles a function that is not reachable by its module and qualified name as: the path
    from its module to its code object (through module-level functions and classes, nested
    code constants, `__wrapped__` and closures), its defaults and attributes, and its closure.
    The closure's cells are shared by all functions pickled together, as they were; their
    contents are saved after the function, so a function may capture itself."""

    def reducer_override(self, obj):
        if type(obj) is types.FunctionType and not _by_reference(obj):
            found = _references.objects.get(id(obj))
            if _bound(found, obj):
                return (_module_object, found[0])  # bound to another module-level name
            path = _code_path(obj)
            if path is None:
                return NotImplemented  # pickle's own error names the function
            closure = obj.__closure__ or ()
            return (
                _make_function,
                (obj.__module__, path, obj.__name__, obj.__qualname__, obj.__defaults__,
                 obj.__kwdefaults__, tuple(closure), dict(obj.__dict__)),
                tuple(_cell_state(cell) for cell in closure),
                None,
                None,
                _fill_closure,
            )
        if type(obj) is types.CellType:
            return (_new_cell, ())
        return NotImplemented


def _by_reference(function):
    module = sys.modules.get(function.__module__)
    target = module
    for part in function.__qualname__.split("."):
        target = getattr(target, part, None)
    return target is function


def _cell_state(cell):
    try:
        return (cell.cell_contents,)
    except ValueError:  # a variable not assigned yet
        return ()


def _new_cell():
    return types.CellType()


def _fill_closure(function, state):
    for cell, contents in zip(function.__closure__ or (), state):
        if contents:
            cell.cell_contents = contents[0]


def _make_function(module_name, path, name, qualname, defaults, kwdefaults, closure, attributes):
    module = importlib.import_module(module_name)
    function = types.FunctionType(_follow(module, path), module.__dict__, name, defaults, closure or None)
    function.__qualname__ = qualname
    function.__kwdefaults__ = kwdefaults
    function.__dict__.update(attributes)
    return function


_code_paths = {}


def _code_path(function):
    """Steps from the function's module to its code object, or None."""
    code = function.__code__
    if code in _code_paths:
        return _code_paths[code]
    module = sys.modules.get(function.__module__)
    if module is None:
        return None
    seen = set()

    def search(value, path):
        if id(value) in seen:
            return None
        seen.add(id(value))
        if isinstance(value, (staticmethod, classmethod)):
            return search(value.__func__, path + (("func",),))
        if isinstance(value, type):
            if value.__module__ != module.__name__:
                return None
            for key, member in list(vars(value).items()):
                found = search(member, path + (("attr", key),))
                if found:
                    return found
            return None
        if isinstance(value, types.FunctionType):
            found = search(value.__code__, path + (("code",),))
            if found:
                return found
            wrapped = value.__dict__.get("__wrapped__")
            if wrapped is not None:
                found = search(wrapped, path + (("attr", "__wrapped__"),))
                if found:
                    return found
            for index, cell in enumerate(value.__closure__ or ()):
                contents = _cell_state(cell)
                if contents and isinstance(contents[0], types.FunctionType):
                    found = search(contents[0], path + (("cell", index),))
                    if found:
                        return found
            return None
        if isinstance(value, types.CodeType):
            if value is code:
                return path
            for index, const in enumerate(value.co_consts):
                if isinstance(const, types.CodeType):
                    found = search(const, path + (("const", index),))
                    if found:
                        return found
        return None

    found = None
    for key, value in list(vars(module).items()):
        if isinstance(value, (types.FunctionType, type)):
            found = search(value, (("attr", key),))
            if found:
                break
    _code_paths[code] = found
    return found


def _follow(target, path):
    for step in path:
        if step[0] == "attr":
            target = getattr(target, step[1]) if not isinstance(target, type) else vars(target)[step[1]]
        elif step[0] == "func":
            target = target.__func__
        elif step[0] == "code":
            target = target.__code__
        elif step[0] == "const":
            target = target.co_consts[step[1]]
        elif step[0] == "cell":
            target = target.__closure__[step[1]].cell_contents
    return target


_REDUCERS = {}
for _kind in _DICT_ITERATOR_KINDS:
    _REDUCERS[_kind] = _reduce_dict_iterator
_REDUCERS[type(iter(collections.OrderedDict()))] = _reduce_ordered_iterator
_REDUCERS[type(iter(set()))] = _reduce_set_iterator
for _kind in _DICT_VIEW_KINDS:
    _REDUCERS[_kind] = _reduce_dict_view
_Pickler.dispatch_table.reset()


class UnpicklableError(RuntimeError):
    """Stands for an exception that cannot be pickled (or unpickled), when it must go to
    another task or process: its text is the original's type and message and why it could not
    be pickled; `type_name` and `message` hold the first two."""


def dumps_error(error):
    """An exception as bytes, with its chain (`__cause__`, `__context__`). In a chain that
    cannot be pickled, each exception that cannot be is replaced by an `UnpicklableError`
    (and a chain too long for pickle is cut)."""
    try:
        data = dumps(error)
        pickle.loads(data)
        return data
    except Exception:
        pass
    return dumps(_portable(error, {}, _CHAIN_LIMIT))


_CHAIN_LIMIT = 100  # exceptions of a chain kept when it must be rebuilt (pickle recurses)


def _portable(error, done, limit):
    """A copy of the exception chain from `error` in which every exception that cannot go
    through pickle (without its chain) is an `UnpicklableError`; a cycle stays a cycle; the
    chain is cut `limit` exceptions deep."""
    if error is None or limit == 0:
        return None
    if id(error) in done:
        return done[id(error)]
    try:
        buffer = io.BytesIO()
        _UnchainedPickler(buffer, protocol=PROTOCOL).dump(error)
        copy = pickle.loads(buffer.getvalue())
    except Exception as problem:
        type_name = _type_name(error)
        if type_name.startswith("builtins."):
            type_name = type_name[len("builtins."):]
        message = _text(error)
        copy = UnpicklableError("%s: %s (this %s could not be pickled: %s)" % (
            type_name, message, type(error).__name__, _text(problem)))
        copy.type_name = type_name
        copy.message = message
    done[id(error)] = copy
    copy.__cause__ = _portable(error.__cause__, done, limit - 1)
    copy.__context__ = _portable(error.__context__, done, limit - 1)
    copy.__suppress_context__ = error.__suppress_context__
    return copy


def _text(error):
    try:
        return str(error)
    except Exception:
        return "<%s whose str() failed>" % type(error).__name__


class _UnchainedPickler(_FunctionPickler):
    """Pickles exceptions without their chains."""

    def reducer_override(self, obj):
        if isinstance(obj, BaseException):
            return _reduce_exception(obj, chained=False)
        return super().reducer_override(obj)


def _future_ids(values):
    return [v.task for v in values if isinstance(v, Future)]


def new_ids(task_id, seqno, count, single):
    """The ids of what call `seqno` of task `task_id` creates (see rt.protocol)."""
    if single:
        return ["%s.%d" % (task_id, seqno)]
    return ["%s.%d.%d" % (task_id, seqno, i) for i in range(count)]


def to_call(request, task_id, seqno):
    """The call a coordinator applies for `request`, made as call number `seqno` of the task,
    and the reply the task can know without asking: for calls that only create things or take
    a checkpoint, the coordinator's answer is determined, so the task goes on at once
    (the call is *pipelined*); otherwise None."""
    call = _call_of(request, task_id, seqno)
    reply = pipelined_reply(call)
    if reply is not None:
        call["pipelined"] = True
    return call, reply


def _call_of(request, task_id, seqno):
    kind, args = request.kind, request.args
    if kind in DURABLE:
        return {"kind": kind}
    if kind == EXIT:
        call = {"kind": EXIT, "value": dumps(args[0])}
        if task_id == MAIN:
            call["json"], call["json_error"] = result_json(args[0])
        return call
    if kind == SPAWN:
        f, fargs, awaits, name, copies, blocking = args
        return {
            "kind": SPAWN,
            "ids": new_ids(task_id, seqno, copies or 1, copies is None),
            "start": dumps((f, fargs)),
            "inputs": _future_ids(fargs),
            "awaits": _future_ids(awaits),
            "name": name,
            "copies": copies,
            "blocking": blocking,
            "on_coordinator": bool(getattr(f, "on_coordinator", False)),
        }
    if kind == MAP_SPAWN:
        f, elems, extra_args, awaits, name = args
        calls = [(elem,) + tuple(extra_args) for elem in elems]
        return {
            "kind": MAP_SPAWN,
            "ids": new_ids(task_id, seqno, len(calls), False),
            "starts": [dumps((f, c)) for c in calls],
            "inputs": [_future_ids(c) for c in calls],
            "awaits": _future_ids(awaits),
            "name": name,
            "on_coordinator": bool(getattr(f, "on_coordinator", False)),
        }
    if kind == WAIT:
        return {"kind": WAIT, "future": args[0].task}
    if kind == CREATE_QUEUES:
        return {
            "kind": CREATE_QUEUES,
            "ids": new_ids(task_id, seqno, args[1] or 1, args[1] is None),
            "max_size": args[0],
            "copies": args[1],
        }
    if kind == ENQUEUE:
        return {"kind": ENQUEUE, "queue": args[0].queue, "items": [dumps(o) for o in args[1]]}
    if kind == DEQUEUE:
        return {"kind": DEQUEUE, "queue": args[0].queue}
    raise ValueError("unknown coordinator call %r" % (kind,))


def to_outcome(reply):
    """The outcome of a call from the coordinator's reply."""
    if "error" in reply:
        error = loads(reply["error"])
        if reply.get("traceback"):
            try:
                error.kappa_child_traceback = reply["traceback"]
            except Exception:
                pass
        return Outcome(error=error)
    if "futures" in reply:
        futures = [Future(i) for i in reply["futures"]]
        return Outcome(futures if reply["many"] else futures[0])
    if "queues" in reply:
        queues = [Queue(i) for i in reply["queues"]]
        return Outcome(queues if reply["many"] else queues[0])
    if "values" in reply:
        return Outcome([loads(v) for v in reply["values"]])
    value = reply.get("value")
    return Outcome(None if value is None else loads(value))


def start_arguments(start, input_results):
    """The function and arguments of a task about to start, its input futures replaced by their
    results."""
    f, args = loads(start)
    values = tuple(loads(input_results[a.task]) if isinstance(a, Future) else a for a in args)
    return f, values


def result_json(value):
    """The run's result as one line of JSON (integers of any size), or why it cannot be."""
    import json

    # CPython 3.11+ limits int-to-text conversion to 4300 digits by default. Lifted for the
    # result only, not for the app's own code (which keeps Python's behavior and setting).
    limit = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 0
    if limit:
        sys.set_int_max_str_digits(0)
    try:
        return json.dumps(value, allow_nan=False), None
    except (TypeError, ValueError) as error:
        return None, "the result (a %s) cannot be expressed as JSON: %s" % (type(value).__name__, error)
    finally:
        if limit:
            sys.set_int_max_str_digits(limit)
