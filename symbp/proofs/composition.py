"""Proof (e): the chain rule agrees with differentiating the whole composed loss directly.

ReLU and max-pool are piecewise, so the composed loss L(X, W1, B1, W2, B2, Y) is a different
smooth function on each activation pattern (which z1 are positive, which element wins each
pool window). Fixing a pattern, this module writes L out in full, lets `sympy.diff`
differentiate it with respect to every parameter, and checks that the staged chain-rule
gradients, with the same pattern fixed, are identical to it.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import sympy as sp

from symbp.symbolic.derivation import Derivation
from symbp.symbolic.layers import is_indicator

from .result import SAMPLED, Proof, TexAtom, formula


def _numeric_point(d: Derivation, seed: int) -> dict[sp.Symbol, float]:
    rng = np.random.default_rng(seed)
    values: dict[sp.Symbol, float] = {}
    for name in ("X", *d.parameter_names):
        for symbol in d.quantities[name].flat():
            values[symbol] = float(np.round(rng.normal(), 3))
    for symbol, expr in d.forward_definitions.items():  # dependency order
        values[symbol] = float(_fix_indicators(expr, values).xreplace(values))
    return values


def _fix_indicators(expr: sp.Expr, values: dict[sp.Symbol, float]) -> sp.Expr:
    """Replace every [condition] by its 0/1 value at the numeric point: fix the pattern."""
    fixed = {
        pw: (sp.S.One if bool(pw.args[0].cond.xreplace(values)) else sp.S.Zero)
        for pw in expr.atoms(sp.Piecewise)
        if is_indicator(pw)
    }
    return expr.xreplace(fixed)


def _exp_as_symbol(expr: sp.Expr, z2: sp.Expr, e: sp.Symbol) -> sp.Expr:
    """Write exp(k * (-z2)) as e**k so the check is rational arithmetic in e (exact)."""

    def rewrite(arg: sp.Expr) -> sp.Expr:
        ratio = sp.cancel(arg / (-z2))
        if not ratio.is_Rational:
            raise ValueError(f"unexpected exponential exp({arg})")
        return e**ratio

    return expr.replace(sp.exp, rewrite)


def _rational_difference(a: sp.Expr, b: sp.Expr, e: sp.Symbol) -> sp.Expr:
    """a - b exactly, as a polynomial in every symbol but e with coefficients in QQ(e).

    Both sides are rational in e and polynomial in the other symbols, so their difference is
    zero exactly when every coefficient, a rational function of e alone, is zero. Keeping e
    in the coefficient field leaves the gcds univariate: twice as fast as the rational
    function field in all the symbols, itself much faster than `cancel(together(...))`.
    """
    symbols = sorted((a.free_symbols | b.free_symbols) - {e}, key=sp.default_sort_key)
    if not symbols:
        return cast(sp.Expr, sp.cancel(a - b))
    ring, *_ = sp.ring(symbols, sp.QQ.frac_field(e))
    return cast(sp.Expr, (ring.from_expr(a) - ring.from_expr(b)).as_expr())


def prove_full_composition(d: Derivation, seeds: tuple[int, ...] = (1, 2, 3)) -> Proof:
    parameters = [s for name in d.parameter_names for s in d.quantities[name].flat()]
    a2 = d.quantities[d.prediction].symbols[()]
    bce = cast(sp.Expr, d.forward[-1].expressions[()])
    e = sp.Symbol("E", positive=True)
    patterns_checked = set()
    for seed in seeds:
        point = _numeric_point(d, seed)
        composed: dict[sp.Symbol, sp.Expr] = {}
        for symbol, expr in d.forward_definitions.items():
            composed[symbol] = sp.expand(
                _fix_indicators(expr, point).xreplace(composed), power_exp=False
            )
        z2 = composed[d.quantities[d.logit].symbols[()]]
        direct_loss = bce.xreplace({a2: composed[a2]})

        staged: dict[sp.Symbol, sp.Expr] = {}
        for symbol, expr in d.backward_definitions.items():
            staged[symbol] = _fix_indicators(expr, point).xreplace(staged).xreplace(composed)

        pattern = tuple(
            bool(pw.args[0].cond.xreplace(point))
            for expr in d.forward_definitions.values()
            for pw in sorted(expr.atoms(sp.Piecewise), key=sp.default_sort_key)
        )
        patterns_checked.add(pattern)
        for parameter in parameters:
            name, index = next(
                (n, i)
                for n in d.parameter_names
                for i in d.quantities[n].indices()
                if d.quantities[n].symbols[i] == parameter
            )
            chain = d.gradients[name][index]
            chain = _fix_indicators(chain, point).xreplace(staged).xreplace(composed)
            direct = sp.diff(direct_loss, parameter)
            difference = _rational_difference(
                _exp_as_symbol(direct, z2, e), _exp_as_symbol(chain, z2, e), e
            )
            if difference != 0:
                return Proof.of(
                    "composition",
                    ("Chain rule = sympy.diff of the fully composed loss",),
                    "",
                    False,
                    (
                        f"Pattern from seed {seed}: ",
                        formula(sp.Derivative(TexAtom("L"), parameter), f"d L/d {parameter}"),
                        " differs by ",
                        formula(difference),
                    ),
                    SAMPLED,
                )
    return Proof(
        "composition",
        "Chain rule = sympy.diff of the fully composed loss",
        r"\frac{\partial}{\partial \theta} L\big(X, \theta\big) \text{ (composed) } = "
        r"\text{chain rule}, \text{ each activation pattern fixed}",
        True,
        f"All {len(parameters)} parameters on {len(patterns_checked)} activation "
        f"pattern{'s' if len(patterns_checked) != 1 else ''} "
        "(ReLU signs and pool winners fixed): differences cancel to 0",
        SAMPLED,
    )
