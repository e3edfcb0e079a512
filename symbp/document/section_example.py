"""Section 8, the worked example: one image through the network, forward and backward, and one
step of gradient descent, every number from the numeric engine (`symbp.document.worked`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import sympy as sp
from numpy.lib.stride_tricks import sliding_window_view

from symbp.reference.example import worked_example

from .context import SLICES_SHOWN, Context
from .decimals import DIGITS, fmt, numeral, numerals
from .display import TEXT_WIDTH_EM
from .layout import sum_of

X_DIGITS, PARAMETER_DIGITS = 1, 2  # the chosen image and parameters are exact at these digits
ROW_EM = TEXT_WIDTH_EM - 2  # room for displays set side by side
VIA_EM = {"dense_weight": 5.0, "dense_feature": 6.0, "correlation": 7.0, "bias_sum": 7.0}


@dataclass(frozen=True)
class Shown:
    """One displayed value: `lhs = [via =] value`; `key` names it for the tests (% example:)."""

    key: str
    lhs: sp.Basic | None  # None: the slices left out (\cdots)
    value: sp.Basic | None
    via: str | None = None
    of: tuple[sp.Basic, ...] = ()


class Numbers:
    """The example's values as displays, packed into lines that fit."""

    def __init__(self, c: Context) -> None:
        self.c = c

    def values(
        self, key: str, name: str, values: Any, digits: int = DIGITS, **kw: Any
    ) -> list[Shown]:
        """A quantity's values: a number, a matrix (vectors and transposes as rows), or one
        matrix per channel or kernel. `name` starting with 'd' names the gradient, ending
        with 'T' the transpose (W2T: W_2^T)."""
        array = np.asarray(values, dtype=np.float64)
        gradient, transposed = name.startswith("d"), name.endswith("T")
        base = name[int(gradient) : len(name) - int(transposed)]
        symbols = {
            (False, False): self.c.names.q,
            (True, False): self.c.names.dq,
            (False, True): self.c.names.qt,
            (True, True): self.c.names.dqt,
        }[(gradient, transposed)]
        symbol = symbols[base]
        if array.ndim == 0:
            return [Shown(key, symbol, numeral(float(array), digits), **kw)]
        if array.ndim == 1 or transposed:
            row = self.c.layout.matrix(numerals(array.reshape(1, -1), digits))
            return [Shown(key, symbol, row, **kw)]
        if array.ndim == 2:
            return [Shown(key, symbol, self.c.layout.matrix(numerals(array, digits)), **kw)]
        lead = list(np.ndindex(*array.shape[:-2]))
        picked = lead if len(lead) <= SLICES_SHOWN + 1 else [*lead[:SLICES_SHOWN], None, lead[-1]]
        return [
            Shown(key, None, None)
            if index is None
            else Shown(
                key,
                self.c.names.part(("d" if gradient else "") + base, index),
                self.c.layout.matrix(numerals(array[index], digits)),
                **kw,
            )
            for index in picked
        ]

    def width(self, item: Shown) -> float:
        """`lhs = [via =] value` in em, with its share of the gap to the next display."""
        if item.value is None or item.lhs is None:
            return 3.0
        layout = self.c.layout
        return (
            layout.width(item.lhs)
            + layout.width(item.value)
            + VIA_EM.get(item.via or "", 0.0)
            + 4.0
        )

    def lines(self, *groups: list[Shown]) -> list[list[Shown]]:
        """Each group's displays side by side while they fit, a new line when not."""
        lines: list[list[Shown]] = []
        for group in groups:
            lines.append([])
            used = 0.0
            for item in group:
                width = self.width(item)
                if lines[-1] and used + width > ROW_EM:
                    lines.append([])
                    used = 0.0
                lines[-1].append(item)
                used += width
        return [line for line in lines if line]


def _edge_response(spec: Any, z: np.ndarray) -> str:
    """How block 1's first filter responds where its window straddles the edge (covers the
    columns on both sides of the middle) compared with elsewhere: 'small' (elsewhere at most
    half the smallest edge response), 'smaller', or '' (no such contrast, or no edge to see)."""
    g = spec.geometry[0]
    kw, step, pad = g.block.filter_shape[1], g.block.stride, g.block.padding
    middle = spec.input_shape[1] // 2
    responses = z.reshape(g.conv)[0]
    straddles = [
        j * step - pad <= middle - 1 and middle <= j * step - pad + kw - 1 for j in range(g.conv[2])
    ]
    inside = [responses[:, j] for j in range(g.conv[2]) if straddles[j]]
    outside = [responses[:, j] for j in range(g.conv[2]) if not straddles[j]]
    if kw < 2 or not inside or not outside:
        return ""
    edge, rest = float(np.min(inside)), float(np.max(outside))
    if edge <= rest:
        return ""
    return "small" if rest <= edge / 2 else "smaller"


def _forward(c: Context, n: Numbers, ex: dict[str, Any]) -> dict[str, Any]:
    d, fwd = c.d, ex["forward"]
    dense = d.stages[-3]
    weight, bias = dense.params
    inputs = n.lines(
        n.values("X", "X", ex["X"], X_DIGITS)
        + [
            s
            for st in d.conv_stages
            for s in n.values(
                st.params[0], st.params[0], ex["params"][st.params[0]], PARAMETER_DIGITS
            )
        ],
        [
            s
            for st in d.conv_stages
            for s in n.values(
                st.params[1], st.params[1], ex["params"][st.params[1]], PARAMETER_DIGITS
            )
        ]
        + n.values(weight + "T", weight + "T", ex["params"][weight], PARAMETER_DIGITS)
        + n.values(bias, bias, ex["params"][bias], PARAMETER_DIGITS),
    )
    blocks = []
    for stage in d.conv_stages:
        g = stage.geometry
        assert g is not None and stage.block is not None
        names = [f"Z{stage.block}", f"A{stage.block}"]
        pooled = [f"P{stage.block}"] if g.block.pooled else []
        blocks.append(
            {
                "n": stage.block,
                "block": g.block,
                "input": c.names.q[stage.input],
                "lines": n.lines(
                    [s for name in names for s in n.values(name, name, fwd[name])],
                    [s for name in pooled for s in n.values(name, name, fwd[name])],
                ),
            }
        )
    q = d.quantities
    return {
        "inputs": inputs,
        "blocks": blocks,
        "features": n.values("FT", "F", fwd["F"]),
        "logit": numeral(float(fwd[d.logit])),
        "prediction": numeral(float(fwd[d.prediction])),
        "loss": numeral(ex["loss"]),
        "loss_at_label": cast(sp.Expr, d.forward[-1].expressions[()]).subs(
            q["Y"].symbols[()], sp.nsimplify(ex["Y"])
        ),
        "edge_response": _edge_response(d.spec, fwd["Z1"]),
        "probability": float(fwd[d.prediction]),
    }


def _first_weight_sum(c: Context, ex: dict[str, Any]) -> tuple[Any, Any, Any]:
    """δw of block 1's first weight: the derivation's own sum, each symbol given its value."""
    d = c.d
    stage = d.conv_stages[0]
    weight, data, out = stage.params[0], d.quantities[stage.input], stage.output
    values: dict[sp.Basic, float] = {}
    for index in data.indices():
        values[data.symbols[index]] = float(ex["X"][index])
    dz = d.gradient_symbols["d" + out]
    for index in dz.indices():
        values[dz.symbols[index]] = float(ex["intermediate"][out][index])
    index = (0,) * d.gradients[weight].ndim
    notation = c.layout.notation
    products = [
        tuple(
            numeral(values[f], X_DIGITS if f in data.flat() else DIGITS)
            for f in notation.ordered_factors(term) or [term]
        )
        for term in notation.ordered_terms(d.gradients[weight][index])
    ]
    per_line = min(stage.geometry.conv[2] if stage.geometry else 4, 4)
    total = numeral(float(ex["gradients"][weight][index]))
    return c.names.dparam[weight][index], sum_of(products, per_line), total


def _correlation(c: Context, stage: Any, values: np.ndarray) -> dict[str, Any]:
    """δW = (input) ⋆ δZ, printed between δW and its values when δW is one matrix."""
    if np.ndim(values) != 2:
        return {}
    of = (c.names.q[stage.input], c.names.dq[stage.output], stage.geometry)
    return {"via": "correlation", "of": of}


def _bias_sum(c: Context, stage: Any, values: np.ndarray) -> dict[str, Any]:
    """δB = Σ δz, printed between δB and its value when the block has one filter."""
    if np.ndim(values) != 0:
        return {}
    return {"via": "bias_sum", "of": (c.d.quantities[stage.output].tex,)}


def tied_windows(values: np.ndarray, size: int, step: int) -> tuple[int, int]:
    """(windows whose maximum occurs more than once, all windows) of a size x size pool taken
    every `step` elements of `values`, (rows, cols) or (channels, rows, cols).

    Equal means equal as floats, as the engine's first-maximum routing (`np.argmax`) sees it.
    """
    grid = np.asarray(values, dtype=float)
    grid = grid[None] if grid.ndim == 2 else grid
    windows = sliding_window_view(grid, (size, size), axis=(1, 2))[:, ::step, ::step]
    flat = windows.reshape(*windows.shape[:3], size * size)
    at_maximum = (flat == flat.max(axis=-1, keepdims=True)).sum(axis=-1)
    return int(np.count_nonzero(at_maximum > 1)), int(at_maximum.size)


def _ties(block: Any, pooled: np.ndarray | None) -> dict[str, int]:
    """How many of a max-pool's windows have a tied maximum in the example, and how many
    windows it has (both 0 for no max-pool): the window a tie sends to the first maximum."""
    if block.pool_type != "max" or pooled is None:
        return {"ties": 0, "windows": 0}
    ties, windows = tied_windows(pooled, block.pool_size, block.pool_step)
    return {"ties": ties, "windows": windows}


def _backward(c: Context, n: Numbers, ex: dict[str, Any]) -> dict[str, Any]:
    d, inter, grads = c.d, ex["intermediate"], ex["gradients"]
    dense = d.stages[-3]
    weight, bias = dense.params
    dz = d.gradient_symbols["d" + d.logit].symbols[()]
    flatten = d.stages[-4]
    head = n.lines(
        n.values(
            "dW" + weight[1:] + "T",
            "d" + weight + "T",
            grads[weight],
            via="dense_weight",
            of=(c.names.q["F"], dz),
        )
        + n.values("dB" + bias[1:], "d" + bias, grads[bias]),
        n.values("dFT", "dF", inter["F"], via="dense_feature", of=(dz, c.names.qt[weight]))
        + n.values("d" + flatten.input, "d" + flatten.input, inter[flatten.input]),
    )
    blocks = []
    for stage in reversed(d.conv_stages):
        g = stage.geometry
        assert g is not None and stage.block is not None
        k = stage.block
        w, b = stage.params
        inner = ([f"A{k}"] if g.block.pooled else []) + [f"Z{k}"]
        passed = (
            n.values("dX", "dX", ex["input_gradient"])
            if stage.input == "X"
            else n.values("d" + stage.input, "d" + stage.input, inter[stage.input])
        )
        blocks.append(
            {
                "n": k,
                "block": g.block,
                "stage": stage,
                **_ties(g.block, ex["forward"].get(f"A{k}")),
                "mask": n.lines(
                    [s for name in inner for s in n.values("d" + name, "d" + name, inter[name])]
                ),
                "parameters": n.lines(
                    n.values("d" + w, "d" + w, grads[w], **_correlation(c, stage, grads[w]))
                    + n.values("d" + b, "d" + b, grads[b], **_bias_sum(c, stage, grads[b])),
                    passed,
                ),
            }
        )
    return {
        "error": numeral(float(inter[d.logit])),
        "error_negative": float(inter[d.logit]) < 0,
        "dz": dz,
        "head": head,
        "blocks": blocks,
        "first_weight": _first_weight_sum(c, ex),
    }


def _update(c: Context, n: Numbers, ex: dict[str, Any]) -> list[list[Shown]]:
    updated = ex["updated"]
    groups = []
    for stage in c.d.conv_stages:
        w, b = stage.params
        groups.append(
            n.values("updated." + w, w, updated[w]) + n.values("updated." + b, b, updated[b])
        )
    weight, bias = c.d.stages[-3].params
    groups.append(
        n.values("updated." + weight + "T", weight + "T", updated[weight])
        + n.values("updated." + bias, bias, updated[bias])
    )
    return n.lines(*groups)


def example_section(c: Context) -> dict[str, Any]:
    """The worked example's numbers as display matrices (every value from the engine)."""
    ex = worked_example(c.d.spec)
    n = Numbers(c)
    q = c.d.quantities
    return {
        "forward": _forward(c, n, ex),
        "backward": _backward(c, n, ex),
        "updated": _update(c, n, ex),
        "updated_loss": numeral(ex["updated_loss"]),
        "loss_fell": ex["updated_loss"] < ex["loss"],
        "learning_rate": fmt(ex["learning_rate"], 2),
        "label": fmt(ex["Y"], 0),
        "y": q["Y"].symbols[()],
        "numbers": ex,
    }
