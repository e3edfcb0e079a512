"""Section 5, the backward pass through every layer but the convolutions (Section 6): the head
collapse, the dense layer, flatten, and each block's pool and activation, from the derivation's
own steps (local derivatives and staged gradients)."""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from symbp.symbolic.derivation import Step
from symbp.symbolic.layers import Stage, pool_windows

from .context import Context, block_of, first, fullest, step_along
from .display import TEXT_WIDTH_EM, elide, fit_columns
from .figures import pool_panel
from .layout import SYMBOL_MATRIX_LIMIT, Display, split_indicator, term_count

LOCAL_SHOWN = 3  # local derivatives listed per output element (then \cdots and the last)


def head_collapse(c: Context) -> dict[str, Any]:
    d = c.d
    q = d.quantities
    lsym, a, z = q["L"].symbols[()], q[d.prediction].symbols[()], q[d.logit].symbols[()]
    return {
        "collapse": d.head,
        "a": a,
        "z": z,
        "y": q["Y"].symbols[()],
        "dz": d.gradient_symbols["d" + d.logit].symbols[()],
        "dL_da": sp.Derivative(lsym, a),
        "da_dz": sp.Derivative(a, z),
    }


def _first_last(shape: tuple[int, ...]) -> list[tuple[int, ...] | None]:
    """The first, second and last element of a quantity; None for the ones between."""
    flat = list(np.ndindex(*shape))
    chosen = list(dict.fromkeys([flat[0], flat[min(1, len(flat) - 1)], flat[-1]]))
    if len(flat) > len(chosen):
        chosen.insert(len(chosen) - 1, None)
    return list(chosen)


def _dense_local(c: Context, step: Step) -> list[tuple[sp.Basic, sp.Basic] | None]:
    """∂z/∂(first, second and last element of the target) as sympy.diff found them."""
    symbols = c.d.quantities[step.target].symbols
    z = c.d.quantities[step.upstream].symbols[()]
    return [
        None if index is None else (sp.Derivative(z, symbols[index]), step.local[((), index)])
        for index in _first_last(symbols.shape)
    ]


def _dense(c: Context, stage: Stage) -> dict[str, Any]:
    d, layout = c.d, c.layout
    weight, bias = stage.params
    features = c.step(stage, stage.input)
    z = d.quantities[stage.output].symbols[()]
    return {
        "weight": weight,
        "bias": bias,
        "local_w": _dense_local(c, c.step(stage, weight)),
        "local_b": (sp.Derivative(z, d.quantities[bias].symbols[()]), sp.S.One),
        "local_f": _dense_local(c, features),
        "dW": layout.matrix(d.gradients[weight]),
        "dB": d.gradients[bias][()],
        "dB_symbol": c.names.dparam[bias][()],
        "dF": _rows(c, d.gradient_symbols["d" + stage.input].symbols, features.gradient),
    }


def _rows(c: Context, lhs: np.ndarray, rhs: np.ndarray) -> tuple[sp.Matrix, sp.Matrix]:
    """`lhs = rhs` as two rows with the same columns shown, as many as fit on one line: δF
    has the shape of F, a row (δF = δz W^T)."""
    pairs = np.empty((1, lhs.size), dtype=object)
    for k, pair in enumerate(zip(lhs.reshape(-1), rhs.reshape(-1), strict=True)):
        pairs[0, k] = pair
    cols = fit_columns(
        pairs,
        lambda pair: f"{c.layout.printed(pair[0])} {c.layout.printed(pair[1])}",
        TEXT_WIDTH_EM - 8,
        SYMBOL_MATRIX_LIMIT,
    )
    return elide(lhs.reshape(1, -1), 1, cols), elide(rhs.reshape(1, -1), 1, cols)


def _flatten(c: Context, stage: Stage) -> dict[str, Any]:
    d = c.d
    gradient = d.gradients[stage.input]
    symbols = d.gradient_symbols["d" + stage.input].symbols
    return {
        "first": (
            d.quantities[stage.output].symbols[0],
            d.quantities[stage.input].symbols[first(symbols.shape)],
        ),
        "symbols": c.layout.matrix(symbols) if symbols.ndim <= 2 else None,
        "gradients": c.matrices(stage.input, gradient, gradient=True),
    }


def _pool_cells(c: Context, step: Step, window: list[tuple[int, ...]], upstream: sp.Basic) -> list:
    """Per cell of the first window: its gradient's term from this window, and how many
    terms it has from other windows."""
    shown = []
    lhs = c.d.gradient_symbols["d" + step.target].symbols
    for cell in window:
        terms = sp.Add.make_args(step.gradient[cell])
        own = [t for t in terms if upstream in t.free_symbols]
        term = None
        if own:
            value, bracket = split_indicator(own[0])
            term = c.displays.bracketed(value, bracket if bracket is not None else sp.S.One)
        shown.append((lhs[cell], term, len(terms) - len(own)))
    return shown


def _overlap_example(c: Context, step: Step) -> Display | None:
    """An element inside several pool windows (overlapping windows), its brackets as [⋯]."""
    index = fullest(step.gradient)
    if term_count(step.gradient[index]) < 2:
        return None
    lhs = c.d.gradient_symbols["d" + step.target].symbols[index]
    return c.displays.abbreviated(lhs, step.gradient[index])


def _pool_figure(stage: Stage, shown: bool) -> dict[str, Any]:
    """The pool's windows and how many hold each cell (overlapping or averaging pools)."""
    if not shown or stage.geometry is None:
        return {"figure": None, "figure_text": []}
    figure = pool_panel(stage.geometry)
    return {"figure": figure, "figure_text": figure.text(stage.input)}


def _maxpool(c: Context, stage: Stage) -> dict[str, Any]:
    g = stage.geometry
    assert g is not None
    q = c.d.quantities
    step = c.step(stage, stage.input)
    window_index = first(q[stage.output].shape)
    window = pool_windows(g)[window_index]
    out = q[stage.output].symbols[window_index]
    local = [
        (
            sp.Derivative(out, q[stage.input].symbols[cell]),
            c.displays.bracketed(None, step.local[(window_index, cell)]),
        )
        for cell in window
    ]
    upstream = c.d.gradient_symbols["d" + stage.output].symbols[window_index]
    return {
        "geometry": g,
        "local": local,
        "cells": _pool_cells(c, step, window, upstream),
        "overlap": _overlap_example(c, step),
        **_pool_figure(stage, g.block.pool_step < g.block.pool_size),
    }


def local_part(c: Context, step: Step) -> dict[str, Any]:
    """The local derivatives of the output element with the most of them (the first such)."""
    counts: dict[tuple[int, ...], int] = {}
    for out, _ in step.local:
        counts[out] = counts.get(out, 0) + 1
    chosen = max(counts, key=counts.__getitem__)
    entries = [(target, value) for (out, target), value in step.local.items() if out == chosen]
    out_symbol = c.d.quantities[step.upstream].symbols[chosen]
    in_symbols = c.d.quantities[step.target].symbols
    picked: list[tuple[tuple[int, ...], sp.Basic] | None] = list(entries)
    if len(entries) > LOCAL_SHOWN + 1:
        picked = [*entries[:LOCAL_SHOWN], None, entries[-1]]
    shown: list[Display | None] = [
        None
        if entry is None
        else c.displays.show(sp.Derivative(out_symbol, in_symbols[entry[0]]), entry[1])
        for entry in picked
    ]
    return {
        "local": shown,
        "local_lines": c.displays.pack(shown),
        "output": out_symbol,
        "count": len(entries),
        "nonzero": len(step.local),
    }


def gradient_part(c: Context, step: Step) -> dict[str, Any]:
    """The staged gradient of the first element, its neighbour and the fullest one."""
    gradient = step.gradient
    lhs = c.names.gradient_symbols(c.d, step.target)
    wanted = [first(gradient.shape), step_along(gradient.shape)]
    most = fullest(gradient)
    indices = list(dict.fromkeys(i for i in [*wanted, most] if i is not None))
    return {
        "gradient": [c.displays.show(lhs[i], gradient[i]) for i in indices],
        "neighbour": wanted[1] is not None,
        "fullest": term_count(gradient[most]) if most not in wanted else None,
    }


def _avgpool(c: Context, stage: Stage) -> dict[str, Any]:
    g = stage.geometry
    assert g is not None
    step = c.step(stage, stage.input)
    return {
        "geometry": g,
        **_pool_figure(stage, True),
        **local_part(c, step),
        **gradient_part(c, step),
    }


def _activation(c: Context, stage: Stage) -> dict[str, Any]:
    step = c.step(stage, stage.input)
    q = c.d.quantities
    (out, target), local = next(iter(step.local.items()))
    gradient = c.d.gradients[stage.input]
    return {
        "local": (
            sp.Derivative(q[stage.output].symbols[out], q[stage.input].symbols[target]),
            local,
        ),
        "element": c.d.forward[c.d.stages.index(stage)].expressions[out],
        "element_symbol": q[stage.output].symbols[out],
        "gradients": c.matrices(stage.input, gradient, gradient=True),
    }


BUILDERS = {"dense": _dense, "flatten": _flatten, "maxpool": _maxpool, "avgpool": _avgpool}


def backward_section(c: Context) -> dict[str, Any]:
    parts = []
    seen: list[Stage] = []
    head = c.d.stages[-2:]  # the sigmoid and the loss: the head collapse
    for step in c.d.steps:
        stage = step.stage
        if stage.kind == "conv" or stage in head or stage in seen:
            continue  # the convolutions have Section 6
        seen.append(stage)
        build = BUILDERS.get(stage.kind, _activation)
        parts.append(
            {
                "kind": stage.kind,
                "stage": stage,
                "block": block_of(stage, c.several_blocks),
                **build(c, stage),
            }
        )
    return {"head": head_collapse(c), "parts": parts}
