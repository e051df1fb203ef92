"""Translation between the task side and a coordinator: a `Request` becomes a call (a dict of
plain data and pickled payloads) and a coordinator's reply becomes the `Outcome` of the call.
Coordinators never unpickle the app's objects."""

import importlib
import io
import pickle
import sys
import types

from kappa_coordinator.state import pipelined_reply
from rt import Future, Outcome, Queue

PROTOCOL = pickle.HIGHEST_PROTOCOL


def dumps(value):
    """`value` as bytes. Functions pickle by reference (module and name) where they can;
    nested functions, lambdas and functions hidden by a decorator have no such reference and
    pickle by value: where their code is in the bundle's modules, and the current contents of
    the variables they captured (see `_FunctionPickler`)."""
    try:
        return pickle.dumps(value, protocol=PROTOCOL)
    except Exception:
        pass
    buffer = io.BytesIO()
    _FunctionPickler(buffer, protocol=PROTOCOL).dump(value)
    return buffer.getvalue()


def loads(data):
    return pickle.loads(data)


class _FunctionPickler(pickle.Pickler):
    """Pickles a function that is not reachable by its module and qualified name as: the path
    from its module to its code object (through module-level functions and classes, nested
    code constants, `__wrapped__` and closures), its defaults and attributes, and its closure.
    The closure's cells are shared by all functions pickled together, as they were; their
    contents are saved after the function, so a function may capture itself."""

    def reducer_override(self, obj):
        if type(obj) is types.FunctionType and not _by_reference(obj):
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


def dumps_error(error):
    """An exception as bytes; one that cannot be pickled becomes a RuntimeError with its text."""
    try:
        data = dumps(error)
        pickle.loads(data)
        return data
    except Exception:
        return dumps(RuntimeError("%s: %s" % (type(error).__name__, error)))


def _future_ids(values):
    return [v.task for v in values if isinstance(v, Future)]


def new_ids(task_id, seqno, count, single):
    """The ids of what call `seqno` of task `task_id` creates (see kappa_coordinator.state)."""
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
    if kind in ("checkpoint", "maybe_pause"):
        return {"kind": kind}
    if kind == "exit":
        call = {"kind": "exit", "value": dumps(args[0])}
        if task_id == "0":
            call["json"], call["json_error"] = result_json(args[0])
        return call
    if kind == "spawn":
        f, fargs, awaits, name, copies, blocking = args
        return {
            "kind": "spawn",
            "ids": new_ids(task_id, seqno, copies or 1, copies is None),
            "start": dumps((f, fargs)),
            "inputs": _future_ids(fargs),
            "awaits": _future_ids(awaits),
            "name": name,
            "copies": copies,
            "blocking": blocking,
            "on_coordinator": bool(getattr(f, "on_coordinator", False)),
        }
    if kind == "map_spawn":
        f, elems, extra_args, awaits, name = args
        calls = [(elem,) + tuple(extra_args) for elem in elems]
        return {
            "kind": "map_spawn",
            "ids": new_ids(task_id, seqno, len(calls), False),
            "starts": [dumps((f, c)) for c in calls],
            "inputs": [_future_ids(c) for c in calls],
            "awaits": _future_ids(awaits),
            "name": name,
            "on_coordinator": bool(getattr(f, "on_coordinator", False)),
        }
    if kind == "wait":
        return {"kind": "wait", "future": args[0].task}
    if kind == "create_queues":
        return {
            "kind": "create_queues",
            "ids": new_ids(task_id, seqno, args[1] or 1, args[1] is None),
            "max_size": args[0],
            "copies": args[1],
        }
    if kind == "enqueue":
        return {"kind": "enqueue", "queue": args[0].queue, "items": [dumps(o) for o in args[1]]}
    if kind == "dequeue":
        return {"kind": "dequeue", "queue": args[0].queue}
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
