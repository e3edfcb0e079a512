"""Network specs from TOML files (`symbp derive --config net.toml`).

    # net.toml
    input = "8x8"        # or [8, 8]
    filter = "3x3"       # or [3, 3]
    pool = 2
    pool_stride = 2      # optional; default: the pool size
    allow_large = false  # optional

Every problem is a `SpecError` naming the file, the line and the key, and saying what would be
accepted: a syntax error, an unknown key, a value of the wrong type, or a network that cannot
exist. Values are read as data only: nothing in the file is evaluated.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from .spec import NetworkSpec, SpecError, spec_from_strings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

KEYS = {
    "input": 'a size like "8x8" or [8, 8]',
    "filter": 'a size like "3x3" or [3, 3]',
    "pool": "a whole number, the pool window size",
    "pool_stride": "a whole number, the pool stride",
    "allow_large": "true or false",
}


def _line_of(text: str, key: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if re.match(rf"\s*{re.escape(key)}\s*=", line):
            return number
    return None


def _where(path: str, text: str, key: str) -> str:
    line = _line_of(text, key)
    return f"{path}, line {line}, key '{key}'" if line else f"{path}, key '{key}'"


def _size(value: Any, key: str) -> str:
    """A size as the command line writes it, from "8x8", 8 or [8, 8]."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        return f"{value[0]}x{value[1]}"
    raise SpecError(f"must be {KEYS[key]}, got {value!r}")


def _whole(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"must be {KEYS[key]}, got {value!r}")
    return value


def parse_config(text: str, path: str = "<config>") -> NetworkSpec:
    """The NetworkSpec a TOML text describes; SpecError naming line and key otherwise."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SpecError(f"{path}: not valid TOML: {error}") from None
    for key in data:
        if key not in KEYS:
            raise SpecError(
                f"{_where(path, text, key)}: unknown key; the keys are {', '.join(KEYS)}"
            )
    current = ""
    try:
        current = "input"
        input_size = _size(data.get("input", "6x6"), "input")
        current = "filter"
        filter_size = _size(data.get("filter", "3x3"), "filter")
        current = "pool"
        pool = _whole(data.get("pool", 2), "pool")
        current = "pool_stride"
        stride = data.get("pool_stride")
        pool_stride = None if stride is None else _whole(stride, "pool_stride")
        current = "allow_large"
        allow_large = data.get("allow_large", False)
        if not isinstance(allow_large, bool):
            raise SpecError(f"must be {KEYS['allow_large']}, got {allow_large!r}")
    except SpecError as error:
        raise SpecError(f"{_where(path, text, current)}: {error}") from None
    try:
        return spec_from_strings(input_size, filter_size, pool, pool_stride, allow_large)
    except SpecError as error:
        # The setting at fault, or else the size that decides it (the input, then the filter).
        key = next((k for k in (error.key, "input", "filter") if k in data), None)
        where = _where(path, text, key) if key else path
        raise SpecError(f"{where}: {error}", key=key) from None


def load_config(path: str | Path) -> NetworkSpec:
    """Read and parse a TOML spec file; unreadable files are SpecErrors too."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise SpecError(f"cannot read config {path}: {reason}") from None
    return parse_config(text, str(path))
