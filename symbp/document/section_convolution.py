"""Section 6, the convolution layers, last block first: the local derivatives, the bias, every
filter weight's gradient written out, the two patterns recognised in them (the filter gradient a
cross-correlation, the input gradient the full cross-correlation with the kernel turned by
180 degrees, i.e. the full true convolution),
each with its figure and its proof."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import sympy as sp

from symbp.symbolic.derivation import Step
from symbp.symbolic.layers import Stage
from symbp.symbolic.patterns import rotate_180

from .context import Context, first, fullest, shape_text
from .display import SumLines
from .figures import input_panels, weight_panels
from .layout import LINE_EM, term_count

MANY_ELEMENTS = 25  # filter weights listed one by one up to this many
LISTING_LINES = 60  # the filter-gradient listing is written out in full up to this many lines
PANEL_CM = 7.9  # figure panels up to this wide go two to a row
PANEL_TEXT_WIDTH = 100  # text figures wider than this drop their cell labels
PAIRS_FULL = 18  # a figure panel's sum is listed pair by pair up to this many products
PAIRS_EM = 19.0  # room for a half-width panel's pairs (footnotesize, after "lhs =")


def weight_row(stride: int, padding: int, row: str = "r") -> str:
    """The filter row p that output row i puts on input row r (from S i + p - P = r), as
    LaTeX in the order the prose reads it: p = r - S i + P. `row` names the input row (u
    beside a channel index c)."""
    r, i, p = sp.symbols(f"{row} i p")
    terms = [r, -stride * i] + ([sp.Integer(padding)] if padding else [])
    return sp.latex(sp.Eq(p, sp.Add(*terms, evaluate=False), evaluate=False), order="none")


def _local_matrix(
    step: Step, out: tuple[int, ...], kernel: tuple[int, ...], shape: tuple[int, int]
) -> np.ndarray:
    """∂ out / ∂ (the kernel `kernel` of the filter bank), as a kh x kw array."""
    grid = np.empty(shape, dtype=object)
    grid[...] = sp.S.Zero
    for (at, target), derivative in step.local.items():
        if at == out and target[: len(kernel)] == kernel:
            grid[target[len(kernel) :]] = derivative
    return grid


def _local(c: Context, stage: Stage) -> dict[str, Any]:
    g = stage.geometry
    assert g is not None
    weight, bias = stage.params
    step = c.step(stage, weight)
    out = c.d.quantities[stage.output].symbols
    lead = first(out.shape)[:-2]
    outputs = list(dict.fromkeys([first(out.shape), (*lead, 0, min(1, out.shape[-1] - 1))]))
    bank = c.d.quantities[weight].symbols.ndim == 4
    kernel = (0, 0) if bank else ()  # filter 0, input channel 0
    target = c.names.part(weight, kernel) if bank else c.names.q[weight]
    shown = [
        (
            sp.Derivative(out[at], target),
            c.layout.matrix(_local_matrix(step, at, kernel, g.block.filter_shape)),
        )
        for at in outputs
    ]
    bias_symbols = c.d.quantities[bias].symbols
    return {
        "local": shown,
        "local_side": c.layout.fits(*(m for _, m in shown), extra_em=10.0),
        "local_b": (
            sp.Derivative(out[outputs[0]], bias_symbols[first(bias_symbols.shape)]),
            c.step(stage, bias).local[(outputs[0], first(bias_symbols.shape))],
        ),
        "stride_columns": g.block.stride,
    }


def _listing(c: Context, weight: str, per_line: int) -> dict[str, Any]:
    """The first two δw as sums of products for the section, and every δw for the appendix.

    In the section two sums show the pattern; the index formula and the figure give the rest.
    The appendix writes every sum in full while the listing stays short: past LISTING_LINES
    lines, the first two weights and the last in full and the others abbreviated to their
    first terms and last term; filters with more than MANY_ELEMENTS weights list the first six
    and the last two (None marks the gap).
    """
    gradients = c.d.gradients[weight]
    elements = list(np.ndindex(*gradients.shape))
    gap = None if len(elements) <= MANY_ELEMENTS else 6
    shown = elements if gap is None else elements[:gap] + elements[-2:]
    sums = [c.layout.sum(gradients[i], group=per_line) for i in shown]
    if sum(len(s.lines) for s in sums) > LISTING_LINES and len(shown) > 3:
        for k, index in enumerate(shown):
            if k not in (0, 1, len(shown) - 1):
                sums[k] = c.layout.sum(gradients[index], max_terms=3, keep=(2, 1))
    listing: list[tuple[sp.Basic, SumLines] | None] = [
        (c.names.dparam[weight][i], s) for i, s in zip(shown, sums, strict=True)
    ]
    if gap is not None:
        listing.insert(gap, None)
    counts = [term_count(gradients[i]) for i in elements]
    first = [entry for entry in listing[:2] if entry is not None]
    return {
        "first": first,
        "others": len(elements) - len(first),
        "first_in_full": all(not s.elided for _, s in first),
        "appendix": {
            "listing": listing,
            "in_full": sum(1 for s in sums if not s.elided),
            "all_shown": gap is None,
        },
        "fewest": min(counts),
        "most": max(counts),
    }


def _fitted(draw: Callable[[bool], list[str]]) -> list[str]:
    """A text figure with its cell labels, or without them when that is too wide."""
    lines = draw(True)
    if max(len(line) for line in lines) > PANEL_TEXT_WIDTH:
        lines = draw(False)
    return lines


def _pairs(c: Context, expr: sp.Basic, per_row: int) -> SumLines:
    """The highlighted element's sum as the pairs it multiplies, laid out under its panel
    (first and last products only past PAIRS_FULL)."""
    budget, keep = (PAIRS_EM, (1, 1)) if per_row == 2 else (LINE_EM, (3, 1))
    return c.layout.sum(expr, budget_em=budget, max_terms=PAIRS_FULL, keep=keep)


def _weight_figure(c: Context, stage: Stage) -> dict[str, Any]:
    g = stage.geometry
    assert g is not None
    weight = stage.params[0]
    panels = weight_panels(g)
    dparam = c.names.dparam[weight]
    bank = dparam.ndim == 4
    source = f"{stage.input} padded" if g.block.padding else stage.input
    texts = [
        _fitted(functools.partial(p.text, source, f"d{stage.output}", f"d{weight}")) for p in panels
    ]
    per_row = 2 if max(float(p.width) for p in panels) <= PANEL_CM else 1
    gradient = c.d.gradients[weight]
    at = [(0, 0, p.p, p.q) if bank else (p.p, p.q) for p in panels]
    return {
        "weights": [(p, dparam[i]) for p, i in zip(panels, at, strict=True)],
        "weight_pairs": [_pairs(c, gradient[i], per_row) for i in at],
        "weight_text": texts,
        "weight_per_row": per_row,
        "weight_labelled": bool(panels[0].image.labels),
    }


def _input_figure(c: Context, stage: Stage) -> dict[str, Any]:
    g = stage.geometry
    assert g is not None
    dx = c.d.gradients[stage.input].reshape(g.input)[0]
    row, col = fullest(dx)
    panels = input_panels(g, list(dict.fromkeys([(0, 0), (row, col)])))
    dinput = c.names.gradient_symbols(c.d, stage.input)
    several = dinput.ndim == 3
    grid = f"d{stage.output} " + ("dilated, padded" if g.block.stride > 1 else "padded")
    texts = [_fitted(functools.partial(p.text, grid, f"d{stage.input}")) for p in panels]
    per_row = 2 if max(float(p.width) for p in panels) <= PANEL_CM else 1
    return {
        "inputs": [(p, dinput[(0, p.r, p.s) if several else (p.r, p.s)]) for p in panels],
        "input_pairs": [_pairs(c, dx[p.r, p.s], per_row) for p in panels],
        "input_text": texts,
        "input_per_row": per_row,
        "input_labelled": bool(panels[0].spread.labels),
        "spread_shape": (panels[0].spread.rows, panels[0].spread.cols),
    }


def _input_sums(c: Context, stage: Stage) -> list[Any]:
    """δ(input) at a corner, at the end of the first row under the filter, and where it
    collects the most products (channel 0)."""
    g = stage.geometry
    assert g is not None
    gradient = c.d.gradients[stage.input]
    lhs = c.names.gradient_symbols(c.d, stage.input)
    lead = (0,) if gradient.ndim == 3 else ()
    kw, width = g.block.filter_shape[1], g.input[2]
    channel = gradient[lead] if lead else gradient
    positions = [(0, 0), (0, min(kw - 1, width - 1)), fullest(channel)]
    picked = list(dict.fromkeys((*lead, *p) for p in positions))
    return [c.displays.show(lhs[i], gradient[i], group=kw) for i in picked]


def dilation(input_shape: tuple[int, ...], output_shape: tuple[int, ...], block: Any) -> dict:
    """The stride-dilated output gradient's size, and the trailing zeros it needs for the
    valid cross-correlation with the padded input to have the filter's size.

    dil_S puts S - 1 zeros between neighbours: S (Ho - 1) + 1 rows. When the stride does not
    reach the input's last rows (H + 2P - kH not a multiple of S), (H + 2P - kH) mod S more
    zero rows go at the end, and the same for columns."""
    s, p = block.stride, block.padding
    dilated, trailing = [], []
    for size, out, k in zip(input_shape[-2:], output_shape[-2:], block.filter_shape, strict=True):
        dilated.append(s * (out - 1) + 1)
        trailing.append((size + 2 * p - k) % s)
    full = [d + t for d, t in zip(dilated, trailing, strict=True)]
    return {"dilated": dilated, "trailing": trailing, "full": full, "any_trailing": any(trailing)}


def _block(c: Context, stage: Stage) -> dict[str, Any]:
    g = stage.geometry
    assert g is not None and stage.block is not None
    n = stage.block
    weight, bias = stage.params
    bias_gradient = c.d.gradients[bias]
    bias_index = first(bias_gradient.shape)
    kernel = c.d.quantities[weight].symbols
    inputs = c.d.gradients[stage.input].reshape(g.input)[0]
    per_filter = [term_count(e) for e in inputs.reshape(-1)]
    return {
        "n": n,
        "stage": stage,
        "geometry": g,
        "input": stage.input,
        "output": stage.output,
        "weight": weight,
        "bias": bias,
        "first_block": n == 1,
        **_local(c, stage),
        "dB": (
            c.names.dparam[bias][bias_index],
            c.layout.sum(bias_gradient[bias_index], group=g.conv[2]),
        ),
        **_listing(c, weight, g.conv[2]),
        "outputs": g.conv[1] * g.conv[2],
        **_weight_figure(c, stage),
        "input_sums": _input_sums(c, stage),
        **_input_figure(c, stage),
        "corner_products": per_filter[0] // g.conv[0] if g.conv[0] else 0,
        "most_products": max(per_filter) // g.conv[0],
        "rot180": c.layout.matrix(rotate_180(kernel if kernel.ndim == 2 else kernel[0, 0])),
        "kernel_name": c.names.part(weight, (0, 0)) if kernel.ndim == 4 else c.names.q[weight],
        "dilation": dilation(g.input, g.conv, g.block),
        "weight_row": weight_row(
            g.block.stride,
            g.block.padding,
            "u" if c.d.quantities[stage.input].symbols.ndim == 3 else "r",
        ),
        "kernel_pad": ",".join(dict.fromkeys(str(k - 1) for k in g.block.filter_shape)),
        "weight_shape": shape_text(kernel.shape),
        "bias_shape": shape_text(c.d.quantities[bias].shape),
        "several": c.several_blocks,
        "stems": {
            "input": c.d.quantities[stage.input].tex,
            "weight": c.d.quantities[weight].tex,
            "output": c.d.quantities[stage.output].tex,
        },
        "bank": kernel.ndim == 4,
        "in_channels": c.d.quantities[stage.input].symbols.ndim == 3,
        "out_channels": c.d.quantities[stage.output].symbols.ndim == 3,
        "input_elements": int(np.prod(c.d.quantities[stage.input].shape)),
        "weight_elements": int(np.prod(kernel.shape)),
    }


def convolution_section(c: Context) -> list[dict[str, Any]]:
    """One entry per conv block, the last block first (the order the gradient reaches them)."""
    return [_block(c, stage) for stage in reversed(c.d.conv_stages)]
