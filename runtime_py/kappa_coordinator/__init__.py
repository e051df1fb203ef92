"""The reference coordinator: the bookkeeping of a run (`state`), and the local coordinator that
runs tasks in worker processes (`local`). Standard library only. It knows nothing of
continuations: tasks' checkpoints, arguments and results are opaque bytes to it."""
