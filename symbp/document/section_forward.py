"""Section 3, the forward pass: for every layer, representative elements as the derivation
built them, and the layer's quantities as matrices where they are small enough to read."""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from symbp.symbolic.derivation import ForwardStep
from symbp.symbolic.layers import pool_windows

from .context import Context, block_of, first, fullest
from .layout import Display, term_count

ROLES = ("input", "weight", "bias", "output")


def conv_indices(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """The first output, one step right, one step down, and the last of the first filter."""
    rows, cols = shape[-2], shape[-1]
    lead = (0,) * (len(shape) - 2)
    wanted = [(0, 0), (0, min(1, cols - 1)), (min(1, rows - 1), 0), (rows - 1, cols - 1)]
    return list(dict.fromkeys((*lead, *cell) for cell in wanted))


def _conv(c: Context, fwd: ForwardStep) -> dict[str, Any]:
    stage, exprs = fwd.stage, fwd.expressions
    g = stage.geometry
    assert g is not None
    out = c.d.quantities[stage.output]
    kh, kw = g.block.filter_shape
    indices = conv_indices(exprs.shape)
    weight, bias = stage.params
    q = c.d.quantities
    flat = all(len(q[name].shape) <= 2 for name in (stage.input, weight, stage.output))
    matrices = None
    if flat:
        matrices = {
            "input": c.layout.matrix(q[stage.input].symbols),
            "weight": c.layout.matrix(q[weight].symbols),
            "output": c.layout.matrix(out.symbols),
        }
    return {
        "geometry": g,
        "weight": weight,
        "bias": bias,
        "displays": [c.displays.show(out.symbols[i], exprs[i], group=kw) for i in indices],
        "products": g.input[0] * kh * kw,
        "counts": [term_count(exprs[i]) - 1 for i in indices],
        "fullest": term_count(exprs[fullest(exprs)]) - 1,
        "matrices": matrices,
        "bias_symbol": q[bias].symbols[first(q[bias].shape)],
        "stems": {
            role: q[name].tex
            for role, name in zip(ROLES, (stage.input, weight, bias, stage.output), strict=True)
        },
        "in_channels": q[stage.input].symbols.ndim == 3,
        "out_channels": out.symbols.ndim == 3,
        "bank": q[weight].symbols.ndim == 4,
        "side": matrices is not None
        and c.layout.fits(matrices["weight"], matrices["output"], extra_em=9.0),
    }


def _activation(c: Context, fwd: ForwardStep) -> dict[str, Any]:
    stage, exprs = fwd.stage, fwd.expressions
    out = c.d.quantities[stage.output].symbols
    index = first(exprs.shape)
    return {
        "element": (out[index], exprs[index]),
        "elements": int(np.prod(exprs.shape)),
        "matrices": c.matrices(stage.output, out) if out.ndim <= 2 else None,
    }


def _pool(c: Context, fwd: ForwardStep) -> dict[str, Any]:
    stage, exprs = fwd.stage, fwd.expressions
    g = stage.geometry
    assert g is not None
    q = c.d.quantities
    out, source = q[stage.output].symbols, q[stage.input].symbols
    index = first(exprs.shape)
    windows = pool_windows(g)
    expr = sp.expand(exprs[index]) if stage.kind == "avgpool" else exprs[index]
    return {
        "geometry": g,
        "display": c.displays.show(out[index], expr),
        "window": [source[cell] for cell in windows[index]],
        "windows": len(windows) // g.output[0],
        "size": g.block.pool_size**2,
        "matrices": c.matrices(stage.output, out) if out.ndim <= 2 else None,
    }


def _flatten(c: Context, fwd: ForwardStep) -> dict[str, Any]:
    features = c.d.quantities[fwd.stage.output].symbols
    return {
        "features": c.layout.matrix(features.reshape(1, -1)),
        "elements": c.layout.matrix(fwd.expressions.reshape(1, -1)),
        "count": features.size,
    }


def _head(c: Context, steps: list[ForwardStep]) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    for fwd in steps:
        out = c.d.quantities[fwd.stage.output].symbols[()]
        expr = fwd.expressions[()]
        if fwd.stage.kind == "dense":  # a sum, in lines
            shown["dense"] = Display(out, "sum", c.layout.sum(expr))
        else:
            shown[fwd.stage.kind] = c.displays.show(out, expr)
    return {**shown, "features": c.d.spec.n_features}


BUILDERS = {"conv": _conv, "maxpool": _pool, "avgpool": _pool, "flatten": _flatten}


def forward_section(c: Context) -> list[dict[str, Any]]:
    """One part per layer; the dense layer, the sigmoid and the loss share one."""
    parts: list[dict[str, Any]] = []
    head = c.d.forward[-3:]  # dense, sigmoid, loss
    for fwd in c.d.forward[:-3]:
        kind = fwd.stage.kind
        build = BUILDERS.get(kind, _activation)
        parts.append(
            {
                "kind": kind,
                "stage": fwd.stage,
                "title": fwd.title,
                "block": block_of(fwd.stage, c.several_blocks),
                **build(c, fwd),
            }
        )
    parts.append({"kind": "head", "stage": head[0].stage, "block": None, **_head(c, head)})
    return parts
