"""The protocol between a coordinator and its workers (docs/protocol.md), in one place: its
version, the id of the first task, the kinds of coordinator calls, which calls are answered
by their own ids (pipelined), and the framing of messages (dicts of plain data and bytes,
pickled, each preceded by its length as 4 big-endian bytes).

Part of the task side (`rt`): a worker needs nothing else to talk to a coordinator, and every
coordinator (`kappa_coordinator`, or another one written from docs/protocol.md) imports it."""

import pickle
import struct

VERSION = 2

# The first task of a run, which runs the bundle's entry point. Ids are strings that the task
# side derives itself: what call number `s` of task `t` creates is "t.s" (or "t.s.i" for the
# i-th of several), so a task can know the answer to a call that creates things without
# waiting for the coordinator (pipelining).
MAIN = "0"

# The kinds of coordinator call (`call["kind"]`); docs/protocol.md gives each one's fields.
CHECKPOINT = "checkpoint"
MAYBE_PAUSE = "maybe_pause"
EXIT = "exit"
SPAWN = "spawn"
MAP_SPAWN = "map_spawn"
WAIT = "wait"
CREATE_QUEUES = "create_queues"
ENQUEUE = "enqueue"
DEQUEUE = "dequeue"
CALL_KINDS = frozenset((CHECKPOINT, MAYBE_PAUSE, EXIT, SPAWN, MAP_SPAWN, WAIT, CREATE_QUEUES, ENQUEUE, DEQUEUE))

# Calls that are durability barriers: they always carry their checkpoint and are never
# pipelined (when `checkpoint()` returns, a crash resumes after it).
DURABLE = frozenset((CHECKPOINT, MAYBE_PAUSE))


def pipelined_reply(call):
    """The reply to a call whose answer is determined by the call itself (its ids), or None.
    Such a call is *pipelined*: the task goes on without waiting for the coordinator.

    `checkpoint` and `maybe_pause` are never pipelined, although their reply is known: the
    program's next statement may act on the world (write a file, call a service), so when
    `checkpoint()` returns its checkpoint must be stored; a task that dies after that resumes
    after it, never before."""
    kind = call["kind"]
    if kind == SPAWN and not call["blocking"]:
        return {"futures": call["ids"], "many": call["copies"] is not None}
    if kind == MAP_SPAWN:
        return {"futures": call["ids"], "many": True}
    if kind == CREATE_QUEUES:
        return {"queues": call["ids"], "many": call["copies"] is not None}
    return None

_HEADER = struct.Struct(">I")


def encode(message):
    body = pickle.dumps(message, protocol=4)
    return _HEADER.pack(len(body)) + body


def send(stream, message):
    stream.write(encode(message))
    stream.flush()


def recv(stream):
    """The next message, or None at end of stream."""
    header = _read_exactly(stream, _HEADER.size)
    if header is None:
        return None
    (length,) = _HEADER.unpack(header)
    body = _read_exactly(stream, length)
    if body is None:
        return None
    return pickle.loads(body)


def _read_exactly(stream, n):
    data = bytearray()
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


class Decoder:
    """Splits a byte stream read piecemeal (non-blocking) into messages. Linear in the bytes
    fed, however large a message is (a 100 MB result arrives in many reads)."""

    def __init__(self):
        self.buffer = bytearray()

    def feed(self, data):
        self.buffer += data
        messages = []
        start = 0
        while len(self.buffer) - start >= _HEADER.size:
            (length,) = _HEADER.unpack_from(self.buffer, start)
            end = start + _HEADER.size + length
            if len(self.buffer) < end:
                break
            messages.append(pickle.loads(memoryview(self.buffer)[start + _HEADER.size:end]))
            start = end
        if start:
            del self.buffer[:start]
        return messages
