"""Network specs from TOML files (`symbp derive --config net.toml`).

One conv block, with its settings at the top level:

    input = "28x28"          # or [28, 28]
    channels = 1             # optional
    filter = "3x3"           # or [3, 3]
    filters = 4              # optional, each filter has its own bias
    stride = 1               # optional, the convolution's
    padding = 0              # optional, zeros on every side
    activation = "relu"      # relu, leaky_relu, sigmoid, tanh, identity
    leaky_slope = 0.01       # optional, for leaky_relu
    pool_type = "max"        # max, avg, none
    pool = 2
    pool_stride = 2          # optional; default: the pool size
    allow_large = false      # optional

Several blocks, each a `[[block]]` table holding the block settings above (filter ... pool_stride),
with input, channels and allow_large at the top.

Every problem is a `SpecError` naming the file, the line and the key, and saying what would be
accepted: a syntax error, an unknown key, a value of the wrong type, or a network that cannot
exist. Values are read as data only: nothing in the file is evaluated.
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path
from typing import Any

from symbp.support.text import clipped, shown

from .model import (
    ACTIVATIONS,
    POOL_TYPES,
    ConvBlock,
    NetworkSpec,
    SpecError,
    block_from_strings,
    network_from_blocks,
    parse_size,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

NETWORK_KEYS = {
    "input": 'a size like "8x8" or [8, 8]',
    "channels": "a whole number, the input channels",
    "allow_large": "true or false",
    "block": "an array of [[block]] tables",
}
BLOCK_KEYS = {
    "filter": 'a size like "3x3" or [3, 3]',
    "filters": "a whole number, the number of filters",
    "stride": "a whole number, the convolution stride",
    "padding": "a whole number, the zero padding",
    "activation": f"one of {', '.join(map(repr, ACTIVATIONS))}",
    "leaky_slope": "a number in [0, 1), the leaky ReLU slope",
    "pool_type": f"one of {', '.join(map(repr, POOL_TYPES))}",
    "pool": "a whole number, the pool window size",
    "pool_stride": "a whole number, the pool stride",
}
KEYS = {**NETWORK_KEYS, **BLOCK_KEYS}
_HEADER = re.compile(r"\s*\[")
_BLOCK_HEADER = re.compile(r"\s*\[\[\s*block\s*\]\]")


def _line_of(text: str, key: str, block: int | None = None) -> int | None:
    """The line where `key` is set: at the top level, or inside the block-th [[block]] table."""
    lines = text.splitlines()
    headers = [n for n, line in enumerate(lines) if _BLOCK_HEADER.match(line)]
    if key == "block" and headers:
        return headers[0] + 1
    start = 0
    if block is not None:
        if block >= len(headers):
            return None
        start = headers[block] + 1
    for number in range(start, len(lines)):
        if _HEADER.match(lines[number]):
            break  # the next table: the key is not set here
        if re.match(rf"\s*{re.escape(key)}\s*=", lines[number]):
            return number + 1
    return None


def _where(path: str, text: str, key: str, block: int | None = None) -> str:
    line = _line_of(text, key, block)
    table = f"[[block]] {block + 1}, " if block is not None else ""
    named = f"key {shown(key)}"
    return f"{path}, {table}line {line}, {named}" if line else f"{path}, {table}{named}"


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
    raise SpecError(f"must be {KEYS[key]}, got {shown(value)}")


def _whole(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"must be {KEYS[key]}, got {shown(value)}")
    return value


def _text(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise SpecError(f"must be {KEYS[key]}, got {shown(value)}")
    return value


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SpecError(f"must be {KEYS[key]}, got {shown(value)}")
    return float(value)


_READERS = {
    "filter": _size,
    "filters": _whole,
    "stride": _whole,
    "padding": _whole,
    "activation": _text,
    "leaky_slope": _number,
    "pool_type": _text,
    "pool": _whole,
    "pool_stride": _whole,
}


def _block(table: dict[str, Any], path: str, text: str, index: int | None) -> ConvBlock:
    """One block's settings, read and checked for type; keyed errors point at their line."""
    for key in table:
        if key not in BLOCK_KEYS:
            allowed = BLOCK_KEYS if index is not None else KEYS
            raise SpecError(
                f"{_where(path, text, key, index)}: unknown key; the keys are "
                f"{', '.join(k for k in allowed if k != 'block')}"
                + ("" if index is None else " (input, channels and allow_large go at the top)")
            )
    values: dict[str, Any] = {}
    for key, reader in _READERS.items():
        if key in table:
            try:
                values[key] = reader(table[key], key)
                if key == "filter":
                    parse_size(values[key], "filter size")
            except SpecError as error:
                raise SpecError(f"{_where(path, text, key, index)}: {error}") from None
    if values.get("pool_type", "").strip().lower() == "none":
        for key in ("pool", "pool_stride"):
            if key in values:
                raise SpecError(
                    f'{_where(path, text, key, index)}: a block with pool_type = "none" has '
                    f"no pool; remove {key}"
                )
    try:
        return block_from_strings(
            filter_size=values.get("filter", "3x3"),
            filters=values.get("filters", 1),
            stride=values.get("stride", 1),
            padding=values.get("padding", 0),
            activation=values.get("activation", "relu"),
            leaky_slope=values.get("leaky_slope", 0.01),
            pool_type=values.get("pool_type", "max"),
            pool=values.get("pool", 2),
            pool_stride=values.get("pool_stride"),
        )
    except SpecError as error:
        at = error.key if error.key in table else None
        where = _where(path, text, at, index) if at else path
        raise SpecError(f"{where}: {error}", key=at, block=index) from None


def parse_config(text: str, path: str = "<config>", allow_large: bool = False) -> NetworkSpec:
    """The NetworkSpec a TOML text describes; SpecError naming line and key otherwise.

    `allow_large` (the command line's --allow-large) has the effect of allow_large = true.
    """
    data = _read_toml(text, path)
    input_shape, channels, allow_large = _network_settings(data, path, text, allow_large)
    tables = data.get("block")
    blocks = _blocks(data, tables, path, text)
    try:
        return network_from_blocks(input_shape, channels, blocks, allow_large)
    except SpecError as error:
        raise _located(error, path, text, data, tables) from None


def _read_toml(text: str, path: str) -> dict[str, Any]:
    """The TOML table, with only known top-level keys; SpecError in one line otherwise."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SpecError(f"{path}: not valid TOML: {clipped(str(error), 200)}") from None
    except RecursionError:
        raise SpecError(
            f"{path}: arrays or tables nested too deeply to read; a network spec needs no nesting"
        ) from None
    except ValueError as error:  # e.g. an integer of thousands of digits
        raise SpecError(f"{path}: a value cannot be read: {clipped(str(error))}") from None
    for key in data:
        if key not in KEYS:
            raise SpecError(
                f"{_where(path, text, key)}: unknown key; the keys are {', '.join(k for k in KEYS)}"
            )
    return data


def _network_settings(
    data: dict[str, Any], path: str, text: str, allow_large_flag: bool
) -> tuple[tuple[int, int], int, bool]:
    """(input shape, channels, allow_large): the settings of the whole network."""
    current = ""
    try:
        current = "input"
        input_size = _size(data.get("input", "6x6"), "input")
        input_shape = parse_size(input_size, "input size")
        current = "channels"
        channels = _whole(data.get("channels", 1), "channels")
        current = "allow_large"
        allow_large = data.get("allow_large", False)
        if not isinstance(allow_large, bool):
            raise SpecError(f"must be {KEYS['allow_large']}, got {shown(allow_large)}")
    except SpecError as error:
        raise SpecError(f"{_where(path, text, current)}: {error}") from None
    return input_shape, channels, allow_large or allow_large_flag


def _blocks(data: dict[str, Any], tables: Any, path: str, text: str) -> list[ConvBlock]:
    """The [[block]] tables, or the flat block settings of a one-block file (not both)."""
    flat = {k: v for k, v in data.items() if k in BLOCK_KEYS}
    if tables is None:
        return [_block(flat, path, text, None)]
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        raise SpecError(
            f"{_where(path, text, 'block')}: must be {KEYS['block']}: write each block as "
            "[[block]] followed by its settings"
        )
    if flat:
        key = next(iter(flat))
        raise SpecError(
            f"{_where(path, text, key)}: block settings go inside the [[block]] tables "
            "when there are any; move this one into a [[block]]"
        )
    indexed = len(tables) > 1
    return [_block(t, path, text, i if indexed else 0) for i, t in enumerate(tables)]


def _located(
    error: SpecError, path: str, text: str, data: dict[str, Any], tables: Any
) -> SpecError:
    """The spec's error, pointing at the line of the setting at fault.

    Inside a [[block]] that is the key when the table sets it, else the table's header (the
    fault is a default the table left alone); at the top level, the key or else the input size
    that decides it.
    """
    index = error.block if tables is not None else None
    if tables is not None and index is None and error.key not in NETWORK_KEYS:
        index = 0  # a single [[block]]
    message = re.sub(r"^block [0-9]+: ", "", str(error))
    if index is not None:
        table = tables[index]
        if error.key is not None and error.key in table:
            where = _where(path, text, error.key, index)
        else:
            line = _block_header_line(text, index)
            setting = f" (its {error.key} is the default)" if error.key in BLOCK_KEYS else ""
            where = f"{path}, [[block]] {index + 1}, line {line}{setting}"
        return SpecError(f"{where}: {message}", key=error.key, block=index)
    key = next((k for k in (error.key, "input", "filter") if k and k in data), None)
    where = _where(path, text, key) if key else path
    return SpecError(f"{where}: {message}", key=key)


def _block_header_line(text: str, index: int) -> int:
    headers = [n for n, line in enumerate(text.splitlines(), 1) if _BLOCK_HEADER.match(line)]
    return headers[index] if index < len(headers) else 1


MAX_CONFIG_BYTES = 1 << 20  # a spec is a few lines; this stops /dev/zero and runaway files


def load_config(path: str | Path, allow_large: bool = False) -> NetworkSpec:
    """Read and parse a TOML spec file; unreadable, huge or non-UTF-8 files are SpecErrors too.

    A UTF-8 byte-order mark (as some Windows editors write) is dropped before parsing."""
    name = clipped(str(path))
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as error:
        raise SpecError(f"cannot read config {name}: {error.strerror or error}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise SpecError(
            f"config {name} is larger than {MAX_CONFIG_BYTES >> 20} MiB; a network spec is a "
            "few lines of TOML (see examples/)"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SpecError(
            f"config {name} is not UTF-8 text (byte {error.start + 1} cannot be read); save it "
            "as UTF-8"
        ) from None
    return parse_config(text, name, allow_large)
