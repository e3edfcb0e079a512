"""Work for the other core: a function run in a forked child while this process goes on.

`symbp derive` proves its patterns (half a second at the default size) while this process
builds the general laws and compiles and verifies the module; the machines it runs on have
two cores. A forked child starts in milliseconds with everything already imported and
computed (the derivation included), and sends back only its result, which must pickle.

Where fork is not safe or not there (not Linux), when SYMBP_BACKGROUND=0, or when the child
fails in any way (killed, out of memory, an exception), the function simply runs here when
its result is asked for: the answer is the same, only the wall time differs.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Generic, TypeVar, cast

from . import progress

T = TypeVar("T")

POLL_S = 0.05  # how often the parent looks whether a silent child is still alive
RELAY_S = 0.25  # the child's progress is sent at most this often (and at each stage's end)


def enabled() -> bool:
    """Fork only on Linux (fork of a process that has loaded system frameworks is unsafe on
    macOS) and unless SYMBP_BACKGROUND=0 asks for everything in one process."""
    return sys.platform.startswith("linux") and os.environ.get("SYMBP_BACKGROUND", "1") != "0"


class _Relay:
    """The child's progress, sent to the parent a few times a second (each message is short:
    the pipe's buffer holds minutes of them while the parent is busy elsewhere)."""

    def __init__(self, connection: Connection) -> None:
        self._connection, self._sent = connection, 0.0

    def __call__(self, stage: str, done: int, total: int, detail: str) -> None:
        now = time.monotonic()
        if now - self._sent < RELAY_S and done < total:
            return
        self._sent = now
        self._connection.send(("progress", (stage, done, total, detail[:60])))


def _child(connection: Connection, function: Callable[[], object], nice: int) -> None:
    """In the child: progress relayed to the parent, Ctrl-C left to it, result or error sent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        if nice:
            os.nice(nice)
        with progress.listening(_Relay(connection)):
            result: object = function()
        connection.send(("ok", result))
    except BaseException as error:  # the parent reruns the work and reports it itself
        with contextlib.suppress(BaseException):  # the parent has gone: nobody to tell
            connection.send(("error", repr(error)))
    finally:
        connection.close()
        os._exit(0)  # no interpreter teardown: the parent does not wait for it


class Background(Generic[T]):
    """`function()` computed in a forked child; `result()` waits for it (or computes it here).

    `nice` > 0 lowers the child's priority: work needed last yields the other core to work
    needed sooner (the PyTorch worker), and takes it back as soon as that is done.
    """

    def __init__(self, function: Callable[[], T], nice: int = 0) -> None:
        self._function = function
        self._connection: Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        if not enabled():
            return
        try:
            context = multiprocessing.get_context("fork")
            self._connection, child = context.Pipe(duplex=False)
            self._process = context.Process(
                target=_child, args=(child, function, nice), daemon=True
            )
            self._process.start()
            child.close()
        except (OSError, ValueError):  # no fork, no file descriptors left: do it here
            self._connection = self._process = None

    @property
    def forked(self) -> bool:
        return self._process is not None

    def result(self) -> T:
        """The child's result; the function run here if there is no child or it failed."""
        answer = self._receive()
        if answer is not None and answer[0] == "ok":
            return cast(T, answer[1])
        return self._function()

    def _receive(self) -> tuple[str, object] | None:
        connection, process = self._connection, self._process
        if connection is None or process is None:
            return None
        try:
            while True:
                while not connection.poll(POLL_S):
                    if not process.is_alive() and not connection.poll(0):
                        return None  # died without a word
                answer = connection.recv()
                if not (isinstance(answer, tuple) and len(answer) == 2):
                    return None
                if answer[0] != "progress":
                    return answer
                progress.step(*answer[1])  # shown here, where the user is waiting
        except Exception:  # EOF, a broken pipe, a result that does not unpickle
            return None
        finally:
            connection.close()
            process.join(timeout=1)
            if process.is_alive():
                process.kill()
            self._connection = self._process = None
