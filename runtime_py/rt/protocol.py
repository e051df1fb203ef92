"""The protocol between a coordinator and its workers (docs/protocol.md), in one place: its
version, the id of the first task, the kinds of coordinator calls, which calls are answered
by their own ids (pipelined), and the framing of messages (dicts of plain data and bytes,
pickled, each preceded by its length as 4 big-endian bytes).

Part of the task side (`rt`): a worker needs nothing else to talk to a coordinator, and every
coordinator (`kappa_coordinator`, or another one written from docs/protocol.md) imports it."""

import io
import os
import pickle
import struct

VERSION = 3

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


class _PlainData(pickle.Unpickler):
    """Messages are plain data (docs/protocol.md): nothing in them names a class or a function,
    so a frame that does — a peer that is not a kappac worker or coordinator, or one that was
    tampered with on the way — is refused, never executed."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(
            "a protocol message names %s.%s: messages are plain data; refused" % (module, name))


def _loads(data):
    return _PlainData(io.BytesIO(data)).load()


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
    return _loads(body)


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
            messages.append(_loads(bytes(memoryview(self.buffer)[start + _HEADER.size:end])))
            start = end
        if start:
            del self.buffer[:start]
        return messages


# -- over TCP ------------------------------------------------------------------------------
# A worker started anywhere reaches the coordinator over TCP. Before any frame (frames are
# pickles), both sides prove that they know the run's secret without sending it: each sends a
# fresh nonce and answers the other's with HMAC-SHA256(secret, role || nonces || invocation).
# The handshake is fixed-size binary and never unpickled; a peer that fails it is refused with
# a reason and never sent or read a frame. docs/protocol.md, "Over TCP", has the bytes.

MAGIC = b"KAPPA\x00"
NONCE_SIZE = 32
_PROOF_SIZE = 32
MAX_INVOCATION = 200
SECRET_SIZE = 32
_HELLO = struct.Struct(">6sI32sB")  # magic, protocol version, worker nonce, invocation length
_OK = b"\x00"
_REFUSED = b"\x01"


# The exit status of a worker that could not join the run over TCP (it says why on stderr).
JOIN_FAILED = 3


class HandshakeError(Exception):
    """The other side is not a party to this run (or speaks another version): the reason."""


def _proof(secret, role, first, second, invocation):
    # Imported here, not before the app: every module the runtime imports before the app
    # shadows an app module of that name.
    import hashlib
    import hmac

    return hmac.new(secret, role + first + second + invocation, hashlib.sha256).digest()


def _equal(a, b):
    import hmac

    return hmac.compare_digest(a, b)


def _recv_exactly(sock, n, deadline=None):
    import time

    data = bytearray()
    while len(data) < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise HandshakeError("the handshake took too long")
            sock.settimeout(left)
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise HandshakeError("the connection closed during the handshake")
        data += chunk
    return bytes(data)


def _refusal(sock):
    """After a _REFUSED byte: the reason the other side gave."""
    (length,) = struct.unpack(">H", _recv_exactly(sock, 2))
    return _recv_exactly(sock, length).decode("utf-8", "replace")


def refuse(sock, reason):
    """Tells the peer why it is refused (best effort) before the connection is closed."""
    data = reason.encode("utf-8")[:1000]
    try:
        sock.sendall(_REFUSED + struct.pack(">H", len(data)) + data)
    except OSError:
        pass


def worker_handshake(sock, secret, invocation):
    """The worker's side, on a connected socket: raises HandshakeError (the coordinator's
    reason, or that the coordinator does not know the secret)."""
    invocation = invocation.encode("ascii")
    if not 0 < len(invocation) <= MAX_INVOCATION:
        raise HandshakeError("bad invocation id")
    nonce = os.urandom(NONCE_SIZE)
    sock.sendall(_HELLO.pack(MAGIC, VERSION, nonce, len(invocation)) + invocation)
    status = _recv_exactly(sock, 1)
    if status != _OK:
        raise HandshakeError("refused by the coordinator: " + _refusal(sock))
    theirs = _recv_exactly(sock, NONCE_SIZE)
    if not _equal(_recv_exactly(sock, _PROOF_SIZE), _proof(secret, b"coordinator", nonce, theirs, invocation)):
        raise HandshakeError("wrong secret: the coordinator's proof does not match this worker's secret")
    sock.sendall(_proof(secret, b"worker", theirs, nonce, invocation))
    status = _recv_exactly(sock, 1)
    if status != _OK:
        raise HandshakeError("refused by the coordinator: " + _refusal(sock))


def coordinator_handshake(sock, secret, admit, deadline=None):
    """The coordinator's side, on an accepted socket: returns the worker's invocation id once
    the worker has proved it knows the secret and `admit(invocation)` returned None (else it
    returns the reason to refuse: a stale or unknown invocation). Raises HandshakeError,
    having told the worker why, when it is refused, or when it has not succeeded by
    `deadline` (time.monotonic())."""
    magic, version, nonce, length = _HELLO.unpack(_recv_exactly(sock, _HELLO.size, deadline))
    if magic != MAGIC:
        raise HandshakeError("not a kappac worker (it did not start with the protocol's magic bytes)")
    if version != VERSION:
        reason = "the worker speaks protocol version %d; this coordinator speaks %d" % (version, VERSION)
        refuse(sock, reason)
        raise HandshakeError(reason)
    if not 0 < length <= MAX_INVOCATION:
        refuse(sock, "bad invocation id")
        raise HandshakeError("bad invocation id")
    invocation = _recv_exactly(sock, length, deadline)
    ours = os.urandom(NONCE_SIZE)
    sock.sendall(_OK + ours + _proof(secret, b"coordinator", nonce, ours, invocation))
    reason = "wrong secret: the worker is not part of this run"
    try:
        theirs = _recv_exactly(sock, _PROOF_SIZE, deadline)
    except HandshakeError:
        # A worker with another secret finds this side's proof wrong and hangs up.
        raise HandshakeError(reason) from None
    if not _equal(theirs, _proof(secret, b"worker", ours, nonce, invocation)):
        refuse(sock, reason)
        raise HandshakeError(reason)
    invocation = invocation.decode("ascii", "replace")
    reason = admit(invocation)
    if reason is not None:
        refuse(sock, reason)
        raise HandshakeError(reason)
    sock.sendall(_OK)
    return invocation
