"""The wire protocol between a coordinator and its workers (docs/protocol.md): messages are
dicts of plain data and bytes, pickled, each preceded by its length as 4 big-endian bytes."""

import pickle
import struct

VERSION = 2

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
