"""Sums and products of symbols, built as SymPy would build them, without its evaluation.

A convolution's chain rule at MNIST size makes ~50 000 products `dZ * x` and ~5 000 sums of
them; SymPy's `Mul(a, b)` and `Add(*terms)` spend most of their time looking for numbers to
combine, powers to merge and like terms to collect, none of which exist when every factor is a
distinct plain symbol. There the canonical form is only the arguments sorted by
`Basic.compare` (what `Mul.flatten` and `Add.flatten` end with), so it is built directly.
Anything else goes to SymPy. `tests/test_construct.py` derives every architecture both ways
and finds the expressions identical.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cmp_to_key

import sympy as sp

_CANONICAL = cmp_to_key(sp.Basic.compare)  # the key of SymPy's _addsort and _mulsort
ENABLED = True  # tests switch it off to compare with SymPy's own evaluation


def _plain_product(expr: sp.Basic) -> bool:
    """A symbol, or a product of plain symbols with no number in front."""
    if type(expr) is sp.Symbol:
        return True
    return type(expr) is sp.Mul and all(type(arg) is sp.Symbol for arg in expr.args)


def times(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """a * b: directly for two distinct plain symbols or a factor 1, else by SymPy."""
    if ENABLED:
        if b is sp.S.One:
            return a
        if a is sp.S.One:
            return b
        if (a is sp.S.Zero and type(b) is sp.Symbol) or (b is sp.S.Zero and type(a) is sp.Symbol):
            return sp.S.Zero  # a padding or dilation zero times an element
        if type(a) is sp.Symbol and type(b) is sp.Symbol and a != b:
            return sp.Mul._from_args(sorted((a, b), key=_CANONICAL), is_commutative=True)
    return a * b


def total(terms: Sequence[sp.Expr]) -> sp.Expr:
    """sp.Add(*terms): directly when the terms other than zeros are distinct plain symbols or
    products of them (nothing to collect), else by SymPy."""
    if ENABLED:
        kept = [t for t in terms if t is not sp.S.Zero]
        if all(_plain_product(t) for t in kept) and len(set(kept)) == len(kept):
            if len(kept) <= 1:
                return kept[0] if kept else sp.S.Zero
            return sp.Add._from_args(sorted(kept, key=_CANONICAL), is_commutative=True)
    return sp.Add(*terms)


def product_of(factors: Sequence[sp.Expr]) -> sp.Expr:
    """sp.Mul(*factors): directly when they are distinct plain symbols, else by SymPy."""
    plain = all(type(f) is sp.Symbol for f in factors)
    if ENABLED and len(factors) > 1 and plain and len(set(factors)) == len(factors):
        return sp.Mul._from_args(sorted(factors, key=_CANONICAL), is_commutative=True)
    return sp.Mul(*factors)
