"""Section 7, a batch of M images: every quantity's shape with the batch axis, the batch form of
each layer's gradient, and the summary of every parameter's gradient."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import sympy as sp

from symbp.symbolic.derivation import Derivation

from .context import Context, shape_text
from .display import SumLines
from .layout import Layout


def gradient_summary(
    d: Derivation,
    dparam: dict[str, np.ndarray],
    layout: Layout,
    parameters: Iterable[str],
    ends: tuple[int, int] = (4, 2),
    limit: int = 16,
) -> list[tuple[sp.Basic, SumLines] | None]:
    """(dθ element, its sum) for each parameter's elements: all of them up to `limit`, else
    the first and last `ends`, with None standing for the ones left out."""
    head, tail = ends
    summary: list[tuple[sp.Basic, SumLines] | None] = []
    for parameter in parameters:
        indices: list[tuple[int, ...] | None] = list(d.quantities[parameter].indices())
        shown = indices if len(indices) <= limit else [*indices[:head], None, *indices[-tail:]]
        for index in shown:
            if index is None:
                summary.append(None)
                continue
            expr = d.gradients[parameter][index]
            summary.append(
                (
                    dparam[parameter][index],
                    layout.sum(expr, max_terms=3, keep=(2, 1), budget_em=200),
                )
            )
    return summary


def batch_section(c: Context) -> dict[str, Any]:
    d = c.d
    parameters = set(d.parameter_names)
    rows = []
    for name, quantity in d.quantities.items():
        if name in parameters or name == "L":
            continue
        shape = quantity.shape
        rows.append(
            (c.names.q[name], shape_text(shape), r" \times ".join(["M", *map(str, shape or (1,))]))
        )
    # the gradients between the input and the features: P1, A1, Z1, ... (last block first)
    between = [c.names.dq[s.input] for s in reversed(d.stages[:-3]) if s.input != "X"]
    return {
        "shapes": rows,
        "computed_per_image": between,
        "summary": gradient_summary(d, c.names.dparam, c.layout, d.parameter_names),
        "count": d.parameter_count,
    }
