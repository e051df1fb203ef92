"""The handshake that opens a TCP connection between a worker and the coordinator
(rt/protocol.py, docs/protocol.md "Over TCP"): both sides prove they know the run's secret
without sending it; a wrong secret (on either side), another protocol version, a stranger or a
fenced-off invocation is refused with its reason, before any frame (a pickle) is read.

    python3 -m unittest discover -s tests/py -p 'test_handshake.py'
"""

import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "runtime_py"))

from kappa_coordinator.backend import Listener  # noqa: E402
from rt import protocol  # noqa: E402

SECRET = bytes(range(32))


def handshake(worker_secret=SECRET, coordinator_secret=SECRET, invocation="i1", admit=lambda i: None,
              worker=None):
    """Both sides on a socket pair: (what the worker got, what the coordinator got), each the
    invocation id or the HandshakeError."""
    a, b = socket.socketpair()
    for s in (a, b):
        s.settimeout(5)
    outcome = {}

    def coordinator():
        try:
            outcome["coordinator"] = protocol.coordinator_handshake(b, coordinator_secret, admit)
        except protocol.HandshakeError as error:
            outcome["coordinator"] = error
        b.close()  # as the coordinator does after a refusal

    thread = threading.Thread(target=coordinator)
    thread.start()
    try:
        if worker is not None:
            worker(a)
            outcome["worker"] = None
        else:
            protocol.worker_handshake(a, worker_secret, invocation)
            outcome["worker"] = invocation
    except protocol.HandshakeError as error:
        outcome["worker"] = error
    a.close()  # as the worker does when it gives up
    thread.join()
    return outcome["worker"], outcome["coordinator"]


class Handshake(unittest.TestCase):
    def test_the_same_secret_joins(self):
        self.assertEqual(handshake(), ("i1", "i1"))

    def test_another_secret_on_either_side_is_refused_by_both(self):
        for secrets in ({"worker_secret": b"x" * 32}, {"coordinator_secret": b"y" * 32}):
            worker, coordinator = handshake(**secrets)
            self.assertIn("wrong secret: the coordinator's proof does not match", str(worker))
            self.assertIn("wrong secret: the worker is not part of this run", str(coordinator))

    def test_a_fenced_off_invocation_is_refused(self):
        worker, coordinator = handshake(invocation="i7", admit=lambda i: "invocation %s was given up" % i)
        self.assertIn("invocation i7 was given up", str(worker))
        self.assertIn("invocation i7 was given up", str(coordinator))

    def test_another_protocol_version_is_refused(self):
        def old_worker(sock):
            sock.sendall(protocol._HELLO.pack(protocol.MAGIC, protocol.VERSION - 1, b"n" * 32, 2) + b"i1")
            self.assertEqual(sock.recv(1), b"\x01")
            raise protocol.HandshakeError(protocol._refusal(sock))

        worker, coordinator = handshake(worker=old_worker)
        message = "the worker speaks protocol version %d; this coordinator speaks %d" % (
            protocol.VERSION - 1, protocol.VERSION)
        self.assertEqual(str(worker), message)
        self.assertEqual(str(coordinator), message)

    def test_a_stranger_is_refused_and_nothing_it_sent_is_unpickled(self):
        def stranger(sock):
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + b"\x80" * 64)

        _, coordinator = handshake(worker=stranger)
        self.assertIn("not a kappac worker", str(coordinator))


class ListenerTests(unittest.TestCase):
    def test_joins_and_refusals_through_the_listener(self):
        lines = []
        admitted = {"i1"}
        listener = Listener("127.0.0.1", 0, SECRET,
                            lambda i: None if i in admitted else "invocation %s is fenced off" % i, lines.append)
        self.addCleanup(listener.close)

        def connect(invocation, secret=SECRET):
            sock = socket.create_connection(listener.address, timeout=5)
            try:
                protocol.worker_handshake(sock, secret, invocation)
                return sock
            except protocol.HandshakeError as error:
                sock.close()
                return error

        results = {}
        threads = [threading.Thread(target=lambda i=i, s=s: results.__setitem__(i, connect(i, s)))
                   for i, s in (("i1", SECRET), ("i2", SECRET), ("i3", b"z" * 32))]
        for t in threads:
            t.start()
        joined = []
        deadline = time.monotonic() + 10
        while (len(lines) < 2 or not joined) and time.monotonic() < deadline:
            listener.accept()
            joined += listener.take()
            time.sleep(0.01)
        for t in threads:
            t.join()
        self.assertEqual([invocation for invocation, _ in joined], ["i1"])
        for _, connection in joined:
            connection.close()
        results["i1"].close()
        self.assertIn("fenced off", str(results["i2"]))
        self.assertIn("wrong secret", str(results["i3"]))
        self.assertEqual(len(lines), 2)
        self.assertTrue(all(line.startswith("kappac: refused a worker connection from 127.0.0.1:") for line in lines))

    def test_an_address_in_use_is_a_clear_error(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            with self.assertRaisesRegex(ValueError, "cannot listen on 127.0.0.1:%d" % port):
                Listener("127.0.0.1", port, SECRET, lambda i: None, print)


class WorkersOverTcp(unittest.TestCase):
    RUNTIME = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "runtime_py")

    def test_a_worker_that_cannot_join_is_reported_ended_with_its_reason(self):
        from kappa_coordinator.backend import TcpProcesses
        lines = []
        backend = TcpProcesses(os.path.abspath(self.RUNTIME), sys.executable, log=lines.append)
        backend.listener.sock.close()  # nobody listens any more: the worker cannot join
        worker = backend.start(False)
        ended = False
        deadline = time.monotonic() + 30
        while not ended and time.monotonic() < deadline:
            for event in backend.poll(0.5):
                ended = ended or (event[0] == "ended" and event[1] is worker)
        self.assertTrue(ended)
        backend.forget(worker)
        self.assertEqual(worker.exit_status, protocol.JOIN_FAILED)
        self.assertIn("kappac worker i1: cannot join the run at 127.0.0.1:", worker.startup_error())
        self.assertTrue(worker.joins_over_tcp)
        backend.shutdown()


if __name__ == "__main__":
    unittest.main()
