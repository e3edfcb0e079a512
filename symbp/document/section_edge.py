"""Section 8's last part, "Edge cases, worked": the edge example (`reference.edge`, every
number from the numeric engine, all dyadic so ties and zeros are exact) at a tied max-pool
window, an exact Z = 0, and the input rows or columns no window reads; then the gradient-check
table (`reference.gradient_table`, computed by the caller, who has the compiled module)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import sympy as sp

from symbp.reference.edge import edge_example, has_kink, has_max_pool

from .context import Context
from .decimals import DIGITS, fmt, numeral
from .notation import DocumentNames
from .section_example import Numbers, Shown

X_DIGITS, W_DIGITS, Z_DIGITS = 2, 3, 5  # quarters, eighths, and their products: exact
TABLE_DIGITS = 6


def _element(c: Context, name: str, index: tuple[int, ...]) -> sp.Basic:
    """The element symbol of quantity `name` (dZ1 for a gradient) at a channel-first index."""
    quantities = c.d.gradient_symbols if name.startswith("d") else c.d.quantities
    quantity = quantities[name]
    return quantity.symbols[index[len(index) - len(quantity.shape) :]]


def _at(array: np.ndarray, spec_shape: tuple[int, ...], index: tuple[int, ...]) -> float:
    return float(np.asarray(array).reshape(spec_shape)[index])


def _tie(c: Context, ex: dict[str, Any]) -> dict[str, Any] | None:
    f, g = ex["facts"], c.d.spec.geometry[0]
    if f.tie is None:
        return None
    fwd, inter = ex["forward"], ex["intermediate"]
    value = numeral(_at(fwd["A1"], g.conv, f.tie), Z_DIGITS)
    return {
        "first": _element(c, "A1", f.tie),
        "other": _element(c, "A1", f.tie_other),
        "value": value,
        "pooled": _element(c, "dP1", f.window),
        "first_gradient": _element(c, "dA1", f.tie),
        "other_gradient": _element(c, "dA1", f.tie_other),
        "first_value": numeral(_at(inter["A1"], g.conv, f.tie)),
        "other_value": numeral(_at(inter["A1"], g.conv, f.tie_other)),
        "first_at": _where(g.conv[0], f.tie),
        "other_at": _where(g.conv[0], f.tie_other),
        "window": _window(ex["forward"]["A1"], g, f.window),
    }


def _where(channels: int, index: tuple[int, int, int]) -> str:
    """A cell's position in words: its row and column, and its channel when there are several."""
    cell = f"({index[1]}, {index[2]})"
    return f"{cell} of channel {index[0]}" if channels > 1 else cell


def _window(a: np.ndarray, g: Any, at: tuple[int, int, int]) -> sp.Matrix:
    """The tied pool window's activations, as the reader can check the tie."""
    size, step = g.block.pool_size, g.block.pool_step
    ch, i, j = at
    cells = np.asarray(a).reshape(g.conv)[
        ch, i * step : i * step + size, j * step : j * step + size
    ]
    return sp.Matrix([[numeral(float(v), Z_DIGITS) for v in row] for row in cells])


def _zero(c: Context, ex: dict[str, Any]) -> dict[str, Any] | None:
    f, g = ex["facts"], c.d.spec.geometry[0]
    if f.zero is None:
        return None
    block = g.block
    slope = block.leaky_slope if block.activation == "leaky_relu" else 0.0
    return {
        "z": _element(c, "Z1", f.zero),
        "da": _element(c, "dA1", f.zero),
        "dz": _element(c, "dZ1", f.zero),
        "da_value": numeral(_at(ex["intermediate"]["A1"], g.conv, f.zero)),
        "dz_value": numeral(_at(ex["intermediate"]["Z1"], g.conv, f.zero)),
        "slope": numeral(slope, 2) if slope else sp.S.Zero,
        "leaky": slope != 0,
        # ReLU makes the whole window 0 where a zero wins it: a tie at 0, won by the first cell
        "pool_tie": has_max_pool(c.d.spec) and block.activation == "relu",
    }


def _unread(c: Context, ex: dict[str, Any]) -> dict[str, Any] | None:
    f, g = ex["facts"], c.d.spec.geometry[0]
    block = g.block
    if not (f.unread_rows or f.unread_cols or block.padding or block.stride > 1):
        return None
    dx = np.asarray(ex["input_gradient"]).reshape(c.d.spec.channels, *c.d.spec.input_shape)
    rows_zero = all(not np.any(dx[:, r, :]) for r in f.unread_rows)
    cols_zero = all(not np.any(dx[:, :, q]) for q in f.unread_cols)
    return {
        "rows": list(f.unread_rows),
        "cols": list(f.unread_cols),
        "reads_all": not (f.unread_rows or f.unread_cols),
        "zero": rows_zero and cols_zero,
        "padding": block.padding,
        "stride": block.stride,
    }


def _signed(value: float) -> str:
    return fmt(value, TABLE_DIGITS)


def check_table(names: DocumentNames, checks: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The gradient-check table's rows as display items (None: no table was computed)."""
    if checks is None:
        return None
    rows = []
    for row in checks["rows"]:
        element = np.asarray(names.dparam[row.name], dtype=object)[row.index]
        rows.append(
            {
                "point": row.point,
                "element": element,
                "module": _signed(row.module),
                "central": _signed(row.central),
                "torch": None if row.torch is None else _signed(row.torch),
                "kink": row.kink,
                "all_zero": row.all_zero,
                "side": row.side,
                "status": row.status,
            }
        )
    crossed = any(r["kink"] and r["side"] is None for r in rows)  # two kinks on one line
    return {"rows": rows, "torch": checks["torch"], "passed": checks["passed"], "crossed": crossed}


def edge_section(c: Context) -> dict[str, Any]:
    """What the edge subsection shows for this network (every value from the engine)."""
    spec = c.d.spec
    ex = edge_example(spec)
    n = Numbers(c)
    pooled = spec.blocks[0].pooled
    inputs = n.lines(
        n.values("edge.X", "X", ex["X"], X_DIGITS)
        + n.values("edge.W1", "W1", ex["params"]["W1"], W_DIGITS)
        + n.values("edge.B1", "B1", ex["params"]["B1"], Z_DIGITS),
    )
    forward = n.lines(
        n.values("edge.Z1", "Z1", ex["forward"]["Z1"], Z_DIGITS)
        + n.values("edge.A1", "A1", ex["forward"]["A1"], Z_DIGITS)
        + (n.values("edge.P1", "P1", ex["forward"]["P1"], Z_DIGITS) if pooled else []),
    )
    backward = n.lines(
        (n.values("edge.dP1", "dP1", ex["intermediate"]["P1"], DIGITS) if pooled else [])
        + n.values("edge.dA1", "dA1", ex["intermediate"]["A1"], DIGITS)
        + n.values("edge.dZ1", "dZ1", ex["intermediate"]["Z1"], DIGITS),
    )
    passed: list[list[Shown]] = n.lines(n.values("edge.dX", "dX", ex["input_gradient"]))
    return {
        "max_pool": has_max_pool(spec),
        "kink": has_kink(spec),
        "shift": ex["shift"],
        # the activation and the pool round nothing: every number shown is exact
        "exact": spec.blocks[0].activation == "relu"
        and (not pooled or spec.blocks[0].pool_type == "max"),
        "inputs": inputs,
        "forward": forward,
        "backward": backward,
        "input_gradient": passed,
        "tie": _tie(c, ex),
        "zero": _zero(c, ex),
        "unread": _unread(c, ex),
    }
