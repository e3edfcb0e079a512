"""The user's own text in an error message: repeated, but never at length.

A 10 MB argument must give a one-line error, not a 10 MB one; every layer quotes user input
through these two functions.
"""

from __future__ import annotations

ECHO_LIMIT = 80  # characters of the user's own text an error message repeats


def clipped(text: str, limit: int = ECHO_LIMIT) -> str:
    """Text an error message repeats, cut to `limit` characters: a 10 MB argument gives a
    one-line error, not a 10 MB one."""
    return text if len(text) <= limit else f"{text[: limit - 1]}… ({len(text):,} characters)"


def shown(value: object, limit: int = ECHO_LIMIT) -> str:
    """The user's value as an error message quotes it: its repr, clipped."""
    return clipped(repr(value), limit)
