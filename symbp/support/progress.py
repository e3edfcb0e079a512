"""Progress of long work, reported by the core and shown by whoever listens.

The derivation, the proofs, the verification and the PDF build call `step(...)` as they go;
by default nobody listens and a call costs one context-variable lookup. The command line
installs a `TerminalProgress` (only when stderr is a terminal and --quiet is not given), which
rewrites one status line: the stage, a bar with n of N and an estimate where the count is
known, and what is being worked on. Stdout is never touched.

A line-rewriter of our own rather than tqdm or rich: what is shown is one line with a bar, the
whole of it is the class below, and symbp keeps its three runtime dependencies.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TextIO

Listener = Callable[[str, int, int, str], None]  # stage, done, total (0: unknown), detail

_listener: ContextVar[Listener | None] = ContextVar("symbp_progress", default=None)


def step(stage: str, done: int = 0, total: int = 0, detail: str = "") -> None:
    """Report that `stage` has done `done` of `total` units (total 0: count unknown)."""
    listener = _listener.get()
    if listener is not None:
        listener(stage, done, total, detail)


@contextmanager
def listening(listener: Listener | None) -> Iterator[None]:
    """Send the progress of the work inside the block to `listener` (None: to nobody)."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


class TerminalProgress:
    """One status line on a terminal, rewritten in place and at most every `interval` s."""

    BAR = 20  # characters

    def __init__(self, stream: TextIO, width: int = 79, interval: float = 0.1) -> None:
        self._stream, self._width, self._interval = stream, width, interval
        self._stage, self._stage_start, self._shown_at = "", 0.0, 0.0
        self._visible = False

    def __call__(self, stage: str, done: int, total: int, detail: str) -> None:
        now = time.monotonic()
        if stage != self._stage:
            self._stage, self._stage_start = stage, now
        elif now - self._shown_at < self._interval and done < total:
            return  # a redraw per tenth of a second is plenty
        self._shown_at = now
        self._draw(self.line(stage, done, total, detail, now - self._stage_start))

    @classmethod
    def line(cls, stage: str, done: int, total: int, detail: str, elapsed: float) -> str:
        """'proofs  ██████░░░░░░  7/12  about 3 s left  dW1'"""
        parts = [stage]
        if total > 0:
            filled = min(cls.BAR, cls.BAR * done // total)
            parts.append("█" * filled + "░" * (cls.BAR - filled))
            parts.append(f"{done}/{total}")
            if 0 < done < total and elapsed > 1:
                parts.append(f"about {elapsed / done * (total - done):.0f} s left")
        if detail:
            parts.append(detail)
        return "  ".join(parts)

    def _draw(self, text: str) -> None:
        text = text[: self._width]
        try:
            self._stream.write("\r" + text + "\x1b[K")
            self._stream.flush()
        except (OSError, ValueError):  # a closed terminal: progress is not worth an error
            return
        self._visible = True

    def clear(self) -> None:
        """Erase the status line, so the next message starts on a clean line."""
        if self._visible:
            try:
                self._stream.write("\r\x1b[K")
                self._stream.flush()
            except (OSError, ValueError):
                pass
            self._visible = False
