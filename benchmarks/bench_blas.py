"""Read and set the thread count of the OpenBLAS that NumPy bundles, without threadpoolctl.

Why: symbp's module does its first layer as one BLAS matrix product. On a 2-core machine shared
with other jobs, a multi-threaded OpenBLAS can wait for a busy core on every small product, so
the benchmark shows symbp with BLAS pinned to one thread as a diagnostic row next to the default.
"""

from __future__ import annotations

import ctypes
import glob
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import numpy as np

_PREFIXES = ("scipy_openblas_", "openblas_")
_SUFFIXES = ("64_", "")


@cache
def _library() -> tuple[ctypes.CDLL, str] | None:
    """The loaded OpenBLAS and its symbol prefix, or None if it cannot be found."""
    root = os.path.dirname(os.path.dirname(np.__file__))
    candidates = glob.glob(os.path.join(root, "numpy.libs", "*openblas*"))
    candidates += glob.glob(os.path.join(os.path.dirname(np.__file__), ".libs", "*openblas*"))
    for path in candidates:
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in _PREFIXES:
            for suffix in _SUFFIXES:
                if hasattr(library, f"{prefix}get_num_threads{suffix}"):
                    return library, f"{prefix}{{}}{suffix}"
    return None


def available() -> bool:
    return _library() is not None


def get_threads() -> int | None:
    found = _library()
    if found is None:
        return None
    library, pattern = found
    return int(getattr(library, pattern.format("get_num_threads"))())


def set_threads(n: int) -> None:
    found = _library()
    if found is not None:
        library, pattern = found
        getattr(library, pattern.format("set_num_threads"))(ctypes.c_int(n))


@contextmanager
def limited(n: int) -> Iterator[None]:
    """BLAS limited to n threads inside the block (no-op if OpenBLAS is not found)."""
    before = get_threads()
    set_threads(n)
    try:
        yield
    finally:
        if before is not None:
            set_threads(before)
