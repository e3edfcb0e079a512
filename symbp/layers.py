"""The table of layer rules: how each layer's output elements are written as SymPy expressions.

This is the only place where the network's mathematics is typed in. Backward rules are not
written anywhere: the derivation differentiates these element expressions with `sympy.diff`.
The conventions live in the forward definitions, where they belong:

- ReLU is `z * [z > 0]`; differentiating gives `[z > 0]`, so ReLU'(0) = 0.
- Max-pool selects the *first* maximum of its window in row-major order: element k is chosen
  when it is strictly greater than every earlier element and at least every later one.
  Differentiating the selection gives exactly that indicator, so ties route to the first.

`[c]` is an Iverson bracket, `Piecewise((1, c), (0, True))` in SymPy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import product
from types import MappingProxyType

import numpy as np
import sympy as sp

from .spec import NetworkSpec
from .symbols import object_array

Builder = Callable[[np.ndarray, Mapping[str, np.ndarray], NetworkSpec], np.ndarray]


def indicator(condition: sp.Basic) -> sp.Expr:
    """The Iverson bracket [condition]: 1 where it holds, 0 elsewhere.

    A decided condition gives 1 or 0; an undecided one (a relation between symbols) is kept as
    it is, without Piecewise's evaluation, which would only return it unchanged, slowly.
    """
    if condition in (sp.true, sp.false):
        return sp.S.One if condition == sp.true else sp.S.Zero
    return sp.Piecewise((sp.S.One, condition), (sp.S.Zero, sp.true), evaluate=False)


def is_indicator(expr: sp.Basic) -> bool:
    return (
        isinstance(expr, sp.Piecewise)
        and len(expr.args) == 2
        and expr.args[0].expr == 1
        and expr.args[1].expr == 0
        and expr.args[1].cond == sp.true
    )


def first_max_conditions(window: list[sp.Expr]) -> list[sp.Basic]:
    """Condition under which each window element is the first maximum (row-major order)."""
    conditions = []
    for k, candidate in enumerate(window):
        # Unevaluated: relations between distinct real symbols are undecidable anyway, and
        # asking SymPy's assumptions system for each one dominates large derivations.
        before = [sp.StrictGreaterThan(candidate, other, evaluate=False) for other in window[:k]]
        after = [sp.GreaterThan(candidate, other, evaluate=False) for other in window[k + 1 :]]
        conditions.append(sp.And(*before, *after))
    return conditions


def pool_windows(spec: NetworkSpec) -> dict[tuple[int, int], list[tuple[int, int]]]:
    """Pool output index -> the conv-output indices of its window, row-major."""
    ph, pw = spec.pool_shape
    size, stride = spec.pool_size, spec.stride
    return {
        (a, b): [(a * stride + r, b * stride + c) for r in range(size) for c in range(size)]
        for a, b in product(range(ph), range(pw))
    }


# ----------------------------------------------------------------------------- forward builders
def _conv(x: np.ndarray, params: Mapping[str, np.ndarray], spec: NetworkSpec) -> np.ndarray:
    w, b = params["W1"], params["B1"][()]
    kh, kw = spec.filter_shape
    out = object_array(spec.conv_shape)
    for i, j in product(*(range(n) for n in spec.conv_shape)):
        terms = [x[i + p, j + q] * w[p, q] for p in range(kh) for q in range(kw)]
        out[i, j] = sp.Add(*terms, b)
    return out


def _relu(z: np.ndarray, params: Mapping[str, np.ndarray], spec: NetworkSpec) -> np.ndarray:
    out = object_array(z.shape)
    for index in np.ndindex(*z.shape):
        out[index] = z[index] * indicator(z[index] > 0)
    return out


def _max_pool(a: np.ndarray, params: Mapping[str, np.ndarray], spec: NetworkSpec) -> np.ndarray:
    out = object_array(spec.pool_shape)
    for index, window in pool_windows(spec).items():
        values = [a[cell] for cell in window]
        chosen = first_max_conditions(values)
        out[index] = sp.Add(*(v * indicator(c) for v, c in zip(values, chosen, strict=True)))
    return out


def _flatten(p: np.ndarray, params: Mapping[str, np.ndarray], spec: NetworkSpec) -> np.ndarray:
    return p.reshape(-1).copy()  # row-major, as torch.flatten


def _dense(f: np.ndarray, params: Mapping[str, np.ndarray], spec: NetworkSpec) -> np.ndarray:
    w, b = params["W2"], params["B2"][()]
    out = object_array(())
    out[()] = sp.Add(*(f[k] * w[k, 0] for k in range(f.shape[0])), b)
    return out


def _sigmoid(z: np.ndarray, params: Mapping[str, np.ndarray], spec: NetworkSpec) -> np.ndarray:
    out = object_array(z.shape)
    for index in np.ndindex(*z.shape):
        out[index] = 1 / (1 + sp.exp(-z[index]))
    return out


def _bce(a: np.ndarray, params: Mapping[str, np.ndarray], spec: NetworkSpec) -> np.ndarray:
    y = params["Y"][()]
    out = object_array(())
    out[()] = -(y * sp.log(a[()]) + (1 - y) * sp.log(1 - a[()]))
    return out


@dataclass(frozen=True)
class LayerRule:
    """One layer kind: its forward element expressions and the name the document uses."""

    kind: str
    title: str
    build: Builder


LAYER_RULES: Mapping[str, LayerRule] = MappingProxyType(
    {
        rule.kind: rule
        for rule in (
            LayerRule("conv", "Convolution", _conv),
            LayerRule("relu", "ReLU", _relu),
            LayerRule("maxpool", "Max-pool", _max_pool),
            LayerRule("flatten", "Flatten", _flatten),
            LayerRule("dense", "Dense", _dense),
            LayerRule("sigmoid", "Sigmoid", _sigmoid),
            LayerRule("bce", "Binary cross-entropy", _bce),
        )
    }
)
