"""What the derivation document shows, gathered from a `Derivation` for the templates.

This module decides *what* appears (which elements, which steps, how much of a large matrix);
the templates decide how it is laid out and what the prose says; SymPy's LaTeX printer
subclass prints every formula. Nothing here types mathematics: every expression comes from
the derivation or its proofs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from . import __version__
from .derivation import Derivation, Step
from .proofs import Proof
from .render import render_latex
from .symbols import as_matrix

FULL_MATRIX_LIMIT = 36  # show every element of matrices up to 6x6; elide larger ones


@dataclass(frozen=True)
class Shown:
    """A quantity as the document shows it: whole, or one representative element."""

    name: str
    shape: tuple[int, ...]
    matrix: sp.Matrix | None  # None when too large to print whole
    element: sp.Expr  # a representative element's symbol
    expression: sp.Expr  # what that element equals

    @property
    def shape_text(self) -> str:
        return r" \times ".join(map(str, self.shape)) if self.shape else r"1 \times 1"


def _shown(name: str, symbols: np.ndarray, expressions: np.ndarray) -> Shown:
    index = (0,) * symbols.ndim
    matrix = as_matrix(symbols) if symbols.size <= FULL_MATRIX_LIMIT else None
    return Shown(name, tuple(symbols.shape), matrix, symbols[index], expressions[index])


def _representative(step: Step) -> tuple[tuple[int, ...], sp.Expr]:
    """The first element of a step's gradient that is not zero."""
    for index in np.ndindex(*step.gradient.shape):
        if step.gradient[index] != 0:
            return index, step.gradient[index]
    index = (0,) * step.gradient.ndim
    return index, step.gradient[index]


def document_context(d: Derivation, proofs: list[Proof], title: str) -> dict[str, Any]:
    q, g = d.quantities, d.gradient_symbols
    layers = [
        (stage.output, fwd.title, fwd.expressions.shape, [q[p] for p in stage.params if p != "Y"])
        for stage, fwd in zip(d.stages, d.forward, strict=True)
    ]
    forward = [
        _shown(fwd.stage.output, q[fwd.stage.output].symbols, fwd.expressions) for fwd in d.forward
    ]
    steps = []
    for step in d.steps:
        index, expr = _representative(step)
        target = q[step.target].symbols[index]
        steps.append({"step": step, "index": index, "symbol": target, "gradient": expr})
    return {
        "title": title,
        "version": __version__,
        "spec": d.spec,
        "derivation": d,
        "q": q,
        "g": g,
        "layers": layers,
        "forward": forward,
        "steps": steps,
        "head": d.head,
        "proofs": proofs,
        "parameter_names": d.parameter_names,
    }


def render_document(
    d: Derivation, proofs: list[Proof], title: str = "Backpropagation in a CNN"
) -> str:
    return render_latex("cnn_backprop.tex", d.latex_names, **document_context(d, proofs, title))
