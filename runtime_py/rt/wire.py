"""Translation between the task side and a coordinator: a `Request` becomes a call (a dict of
plain data and pickled payloads) and a coordinator's reply becomes the `Outcome` of the call.
Coordinators never unpickle the app's objects."""

import pickle

from rt import Future, Outcome, Queue

PROTOCOL = pickle.HIGHEST_PROTOCOL


def dumps(value):
    return pickle.dumps(value, protocol=PROTOCOL)


def loads(data):
    return pickle.loads(data)


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
    reply = None
    kind = call["kind"]
    if kind in ("checkpoint", "maybe_pause"):
        reply = {"value": None}
    elif kind == "spawn" and not call["blocking"]:
        reply = {"futures": call["ids"], "many": call["copies"] is not None}
    elif kind == "map_spawn":
        reply = {"futures": call["ids"], "many": True}
    elif kind == "create_queues":
        reply = {"queues": call["ids"], "many": call["copies"] is not None}
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
    """The run's result as one line of JSON, or why it cannot be."""
    import json

    try:
        return json.dumps(value, allow_nan=False), None
    except (TypeError, ValueError) as error:
        return None, "the result (a %s) cannot be expressed as JSON: %s" % (type(value).__name__, error)
