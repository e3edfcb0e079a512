"""symbp.symbolic.construct builds sums and products exactly as SymPy evaluates them.

Every architecture of the matrix, every shipped example and the default network are derived
twice, with the direct construction and with SymPy's own `Mul`/`Add` evaluation, and every
expression the derivation holds (forward values, local derivatives, gradients, head) is
compared as trees of (class, arguments in stored order). A construction that sorts its
arguments any other way is caught. The MNIST-sized examples are left to the matrix's own
28x28 network (they take half a minute each here).
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sympy as sp
from architectures import ARCHITECTURE_SPECS

from symbp.spec.config import load_config
from symbp.spec.model import NetworkSpec
from symbp.symbolic import construct
from symbp.symbolic.derivation import derive

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SPECS = {
    "default": NetworkSpec(),
    **{
        f"example-{p.stem}": load_config(p)
        for p in sorted(EXAMPLES.glob("*.toml"))
        if not p.stem.startswith("mnist")
    },
    **{f"matrix-{name}": spec for name, spec in ARCHITECTURE_SPECS.items()},
}


def tree(expr: sp.Basic) -> Any:
    """(class, its args in stored order): srepr alone would print an Add's terms sorted."""
    if not expr.args:
        return sp.srepr(expr)
    return (type(expr).__name__, tuple(tree(arg) for arg in expr.args))


def spelled(value: Any) -> Any:
    """Every SymPy object in a derivation as its tree, in a plain nested structure."""
    if isinstance(value, sp.Basic):
        return tree(value)
    if isinstance(value, np.ndarray):
        return [spelled(v) for v in value.reshape(-1)] + [value.shape]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: spelled(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {repr(k): spelled(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [spelled(v) for v in value]
    return repr(value)


@functools.cache
def by_sympy(name: str) -> Any:
    construct.ENABLED = False
    try:
        return spelled(derive(SPECS[name]))
    finally:
        construct.ENABLED = True


@pytest.mark.parametrize("name", list(SPECS))
def test_direct_construction_gives_sympys_expressions(name):
    assert construct.ENABLED
    assert spelled(derive(SPECS[name])) == by_sympy(name)


a, b, c = sp.symbols("a b c", real=True)
CASES = [
    [a, b],
    [b, a],
    [c, a, b],
    [a, a],  # like terms: SymPy collects them
    [a, sp.S.One],
    [sp.Rational(1, 4), a],
    [a * b, c],
    [a * b, b * a],
    [2 * a, b],
    [a, -b],
    [sp.S.Zero, a],
]


@pytest.mark.parametrize("terms", CASES, ids=str)
def test_each_shortcut_equals_sympy_or_defers_to_it(terms):
    assert tree(construct.total(terms)) == tree(sp.Add(*terms))
    assert tree(construct.product_of(terms)) == tree(sp.Mul(*terms))
    if len(terms) == 2:
        assert tree(construct.times(*terms)) == tree(terms[0] * terms[1])


def test_the_comparison_sees_argument_order():
    """The check above would catch a shortcut that sorted the other way."""
    canonical = sp.Add(c, a, b)
    reversed_order = sp.Add._from_args(tuple(reversed(canonical.args)))
    assert tree(reversed_order) != tree(canonical)
