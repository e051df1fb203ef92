"""The protocol's pieces (runtime_py/rt/protocol.py) and the run-state machine
(runtime_py/kappa_coordinator/state.py), driven directly: framing read in arbitrary pieces,
which calls are pipelined, and how the state answers, blocks and wakes tasks. Standard library
only; no process is started.

    python3 tests/py/test_protocol_and_state.py [-v]
"""

import os
import sys
import unittest

RUNTIME = os.environ.get("KAPPA_RUNTIME") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "runtime_py")
sys.path.insert(0, RUNTIME)

from kappa_coordinator.state import State  # noqa: E402
from rt import protocol  # noqa: E402


class Framing(unittest.TestCase):
    def test_messages_split_anywhere_come_out_whole_and_in_order(self):
        messages = [{"op": "call", "n": i, "blob": bytes(range(i % 256)) * i} for i in range(40)]
        stream = b"".join(protocol.encode(m) for m in messages)
        for piece in (1, 3, 4, 5, 97, 4096, len(stream)):
            decoder = protocol.Decoder()
            got = []
            for start in range(0, len(stream), piece):
                got.extend(decoder.feed(stream[start:start + piece]))
            self.assertEqual(got, messages, "pieces of %d bytes" % piece)
            self.assertEqual(decoder.buffer, bytearray())

    def test_a_frame_naming_a_class_or_function_is_refused_not_run(self):
        import io
        import pickle
        plain = {"op": "call", "data": b"\x80opaque", "ids": ["0.1"], "n": 2 ** 70, "x": (1.5, None, {3})}
        self.assertEqual(protocol.Decoder().feed(protocol.encode(plain)), [plain])
        for hostile in (os.system, {"op": "call", "call": OSError("x")}):
            body = pickle.dumps(hostile, protocol=4)
            frame = len(body).to_bytes(4, "big") + body
            with self.assertRaisesRegex(pickle.UnpicklingError, "messages are plain data"):
                protocol.Decoder().feed(frame)
            with self.assertRaisesRegex(pickle.UnpicklingError, "messages are plain data"):
                protocol.recv(io.BytesIO(frame))

    def test_a_partial_frame_waits_for_the_rest(self):
        frame = protocol.encode({"op": "hello", "protocol": protocol.VERSION})
        decoder = protocol.Decoder()
        self.assertEqual(decoder.feed(frame[:-1]), [])
        self.assertEqual(decoder.feed(frame[-1:]), [{"op": "hello", "protocol": protocol.VERSION}])


class PipelinedCalls(unittest.TestCase):
    def test_only_calls_answered_by_their_own_ids_are_pipelined(self):
        spawn = {"kind": protocol.SPAWN, "ids": ["0.1"], "copies": None, "blocking": False}
        self.assertEqual(protocol.pipelined_reply(spawn), {"futures": ["0.1"], "many": False})
        self.assertIsNone(protocol.pipelined_reply(dict(spawn, blocking=True)))
        queues = {"kind": protocol.CREATE_QUEUES, "ids": ["0.2.0", "0.2.1"], "copies": 2}
        self.assertEqual(protocol.pipelined_reply(queues), {"queues": ["0.2.0", "0.2.1"], "many": True})
        for kind in protocol.DURABLE | {protocol.WAIT, protocol.ENQUEUE, protocol.DEQUEUE, protocol.EXIT}:
            self.assertIsNone(protocol.pipelined_reply({"kind": kind}), kind)

    def test_durable_calls_are_call_kinds(self):
        self.assertLessEqual(protocol.DURABLE, protocol.CALL_KINDS)
        self.assertIn(protocol.MAIN, ("0",))


def spawn_call(ids, blocking=False):
    return {"kind": protocol.SPAWN, "ids": ids, "start": b"f", "inputs": [], "awaits": [],
            "on_coordinator": False, "name": None, "copies": None, "blocking": blocking}


class RunState(unittest.TestCase):
    def setUp(self):
        self.state = State()
        self.state.new_task(protocol.MAIN, b"handler")
        self.assertEqual(self.state.take_runnable().id, protocol.MAIN)

    def test_a_wait_blocks_until_the_child_finishes_then_gets_its_result(self):
        state = self.state
        state.apply(protocol.MAIN, spawn_call(["0.1"]))
        # The child can start, and the spawner has its answer at once.
        runnable = {t.id: t.reply for t in iter(state.take_runnable, None)}
        self.assertEqual(runnable, {"0.1": None, protocol.MAIN: {"futures": ["0.1"], "many": False}})
        state.apply(protocol.MAIN, {"kind": protocol.WAIT, "future": "0.1"})
        self.assertIsNone(state.take_runnable())
        self.assertIn(protocol.MAIN, state.blocked)
        state.finish("0.1", result=b"42")
        main = state.take_runnable()
        self.assertEqual((main.id, main.reply), (protocol.MAIN, {"value": b"42"}))
        self.assertEqual(state.tasks_spawned, 1)
        self.assertEqual(state.calls_applied, 2)

    def test_a_failed_child_nobody_waits_for_is_an_unhandled_failure(self):
        state = self.state
        state.apply(protocol.MAIN, spawn_call(["0.1"]))
        list(iter(state.take_runnable, None))
        state.finish("0.1", error=b"boom", traceback="Traceback ...")
        self.assertEqual([t.id for t in state.unhandled_failures()], ["0.1"])
        state.apply(protocol.MAIN, {"kind": protocol.WAIT, "future": "0.1"})
        self.assertEqual(state.unhandled_failures(), [])
        self.assertEqual(state.take_runnable().reply, {"error": b"boom", "traceback": "Traceback ..."})

    def test_a_dequeue_waits_for_an_enqueue_and_a_full_queue_blocks_the_producer(self):
        state = self.state
        state.apply(protocol.MAIN, {"kind": protocol.CREATE_QUEUES, "ids": ["0.1"], "max_size": 1,
                                    "copies": None})
        state.take_runnable()
        state.apply(protocol.MAIN, spawn_call(["0.2"]))
        self.assertEqual({t.id for t in iter(state.take_runnable, None)}, {protocol.MAIN, "0.2"})
        state.apply("0.2", {"kind": protocol.DEQUEUE, "queue": "0.1"})
        self.assertIn("0.2", state.blocked)
        state.apply(protocol.MAIN, {"kind": protocol.ENQUEUE, "queue": "0.1", "items": [b"a", b"b"]})
        # "a" went to the waiting consumer at once; "b" fits; the producer goes on.
        woken = {t.id: t.reply for t in iter(state.take_runnable, None)}
        self.assertEqual(woken["0.2"], {"value": b"a"})
        self.assertIn(protocol.MAIN, woken)
        self.assertEqual(state.objects_enqueued, 2)

    def test_deadlock_message_names_what_each_task_waits_for(self):
        state = self.state
        state.apply(protocol.MAIN, {"kind": protocol.CREATE_QUEUES, "ids": ["0.1"], "max_size": 1,
                                    "copies": None})
        state.take_runnable()
        state.apply(protocol.MAIN, {"kind": protocol.DEQUEUE, "queue": "0.1"})
        message = state.deadlock_message(lambda task: "handler.py line 5")
        self.assertIn("task 0 waits for an item in queue 0.1 at handler.py line 5", message)


if __name__ == "__main__":
    unittest.main()
