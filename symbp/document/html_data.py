"""What the web page's interaction shows, read off the derivation: every cell it lights up.

Each gradient element of the first block is a sum of products of SymPy symbols; its terms say
which entries meet. δW[k,c,p,q] = Σ x·δz and δX[c,r,s] = Σ δz·w are split into their products
here, each factor named by a key "Q:i,j,…" (the quantity and its (channel,) row, column index,
channels always written), the same keys the SVG cells carry. Nothing here knows the
cross-correlation pattern: the page shows what the derivation found, and the tests compare it
with an independent loop. The numbers are the worked example's (the numeric engine).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from symbp.reference.example import worked_example
from symbp.symbolic.derivation import Derivation
from symbp.symbolic.symbols import element_latex

from .decimals import fmt

__all__ = ["Keys", "element_key", "element_labels", "interaction_data"]

Keys = dict[sp.Symbol, tuple[str, tuple[int, ...]]]
Product = tuple[str, tuple[int, ...], str, tuple[int, ...]]  # two factors: quantity, index


def element_key(name: str, index: tuple[int, ...]) -> str:
    """'X', (0, 1, 2) -> 'X:0,1,2': how the page and its data name one element."""
    return f"{name}:{','.join(map(str, index))}"


def _full_index(index: tuple[int, ...], rank: int) -> tuple[int, ...]:
    """An index with the dropped channel axes put back as 0 (a (3,3) filter is (1,1,3,3))."""
    return (0,) * (rank - len(index)) + tuple(int(i) for i in index)


def _keys(d: Derivation, names: dict[str, int], gradient: str) -> Keys:
    """symbol -> (quantity, full index) for the block's quantities (rank: 3 or 4)."""
    keys: Keys = {}
    for name, rank in names.items():
        quantity = d.gradient_symbols[name] if name == gradient else d.quantities[name]
        for index in quantity.indices():
            keys[quantity.symbols[index]] = (name, _full_index(index, rank))
    return keys


def _products(expr: sp.Expr, keys: Keys, first: str) -> list[Product]:
    """The products of a sum, each as its two factors (the one of quantity `first` first)."""
    terms: list[Product] = []
    for term in sp.Add.make_args(sp.expand(expr)):
        if term == 0:
            continue
        factors = [keys[f] for f in sp.Mul.make_args(term) if f in keys]
        if len(factors) != 2 or sp.Mul(*[f for f in sp.Mul.make_args(term) if f in keys]) != term:
            raise ValueError(f"not a product of two entries: {term}")
        factors.sort(key=lambda f: f[0] != first)
        terms.append((factors[0][0], factors[0][1], factors[1][0], factors[1][1]))
    return sorted(terms, key=lambda t: (t[3], t[1]))


def _value(values: dict[str, np.ndarray], name: str, index: tuple[int, ...]) -> float:
    array = values[name]
    return float(array.reshape((1,) * (len(index) - array.ndim) + array.shape)[index])


def _elements(
    d: Derivation, target: str, rank: int, keys: Keys, first: str, values: dict[str, np.ndarray]
) -> list[dict[str, Any]]:
    """Every element of gradient `target` as its products, values and total."""
    grads = d.gradients[target]
    out = []
    for index in np.ndindex(grads.shape):
        terms = _products(grads[index], keys, first)
        rows: list[list[Any]] = []
        for a, ia, b, ib in terms:
            va, vb = _value(values, a, ia), _value(values, b, ib)
            rows.append([element_key(a, ia), element_key(b, ib), va, vb, va * vb])
        full = _full_index(index, rank)
        total = _value(values, "d" + target, full)
        out.append(
            {
                "key": element_key("d" + target, full),
                "index": list(full),
                "products": rows,
                "shown": [[fmt(r[2]), fmt(r[3]), fmt(r[4])] for r in rows],
                "total": total,
                "total_shown": fmt(total),
            }
        )
    return out


def _pool(d: Derivation, values: dict[str, np.ndarray]) -> dict[str, Any] | None:
    """Each max-pool window of the first block: its cells, the first maximum (row-major, the
    convention the derivation's Piecewise encodes) and the tied cells."""
    stage = next((s for s in d.stages if s.kind == "maxpool"), None)
    if stage is None or stage.input != d.stages[1].output:
        return None
    block = d.spec.blocks[0]
    size, step = block.pool_size, block.pool_step
    channels, rows, cols = d.spec.geometry[0].conv
    a = values[stage.input].reshape(channels, rows, cols)
    windows = []
    for k in range(channels):
        for i in range((rows - size) // step + 1):
            for j in range((cols - size) // step + 1):
                cells = [(k, i * step + r, j * step + c) for r in range(size) for c in range(size)]
                best = max(a[cell] for cell in cells)
                tied = [cell for cell in cells if a[cell] == best]
                windows.append(
                    {
                        "key": element_key(stage.output, (k, i, j)),
                        "cells": [element_key(stage.input, cell) for cell in cells],
                        "values": [float(a[cell]) for cell in cells],
                        "winner": element_key(stage.input, tied[0]),
                        "ties": [element_key(stage.input, cell) for cell in tied],
                        "gradient": fmt(_value(values, "d" + stage.output, (k, i, j))),
                    }
                )
    return {"input": stage.input, "output": stage.output, "windows": windows}


def element_labels(d: Derivation, keys: Keys, targets: tuple[str, ...]) -> dict[str, str]:
    """key -> the element's LaTeX in the document's notation (x_{0,1}, \\delta z^{(1)}_{0,0}),
    for the factors and for the gradient elements `targets` (δW1's, δX's)."""
    names = d.latex_names
    labels = {element_key(*where): names[symbol] for symbol, where in keys.items()}
    for target in targets:
        quantity = d.quantities[target]
        rank = 4 if target in d.parameter_names else 3
        for index in quantity.indices():
            key = element_key("d" + target, _full_index(index, rank))
            labels[key] = element_latex(rf"\delta {quantity.tex}", index)
    return dict(sorted(labels.items()))


def _example_values(d: Derivation) -> dict[str, np.ndarray]:
    example = worked_example(d.spec)
    values = {"X": example["X"], "dX": example["input_gradient"]}
    values.update(example["params"])
    values.update(example["forward"])
    values.update({"d" + k: v for k, v in example["gradients"].items()})
    values.update({"d" + k: v for k, v in example["intermediate"].items()})
    return values


def interaction_data(d: Derivation) -> dict[str, Any]:
    """The JSON the page embeds: the first block's δW and δX elements and its pool windows."""
    conv = d.conv_stages[0]
    weight = d.parameter_names[0]
    gradient = "d" + conv.output
    pooled = {s.input: 3 for s in d.stages[1:3] if s.kind == "maxpool"}
    pooled.update({s.output: 3 for s in d.stages[1:3] if s.kind == "maxpool"})
    keys = _keys(d, {conv.input: 3, weight: 4, gradient: 3, **pooled}, gradient)
    values = _example_values(d)
    geometry = d.spec.geometry[0]
    return {
        "input": conv.input,
        "weight": weight,
        "gradient": gradient,
        "padding": geometry.block.padding,
        "stride": geometry.block.stride,
        "filter": list(geometry.block.filter_shape),
        "weights": _elements(d, weight, 4, keys, conv.input, values),
        "inputs": _elements(d, conv.input, 3, keys, gradient, values),
        "pool": _pool(d, values),
        "labels": element_labels(d, keys, (weight, conv.input)),
    }
