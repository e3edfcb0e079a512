"""The activation laws: dL/dz[k,i,j] = dL/da[k,i,j] f'(z[k,i,j]), with f' found by diff.

Derived: `sympy.diff` of L = sum delta_a[k,i,j] f(z[k,i,j]) by z[k,i,j] and delta elimination;
for sigmoid and tanh the derivative is then rewritten in the layer's output a = f(z), with the
inverse of f found by `sympy.solve` (as the element-wise derivation does).

Stated: ReLU' = [z > 0], so ReLU'(0) = 0; LeakyReLU' = [z > 0] + alpha [z <= 0], so
LeakyReLU'(0) = alpha; sigma' = a (1 - a); tanh' = 1 - a^2; identity' = 1. Proved by SymPy:
the derived and stated derivatives, both written in z, simplify to the same expression.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial

import sympy as sp

from . import index_form as F
from .delta import Limit, Term
from .names import ACTIVATION_KEYS

FREE: tuple[Limit, ...] = ((F.k, 0, F.K - 1), (F.i, 0, F.HO - 1), (F.j, 0, F.WO - 1))
SIZES = (F.K, F.HO, F.WO, F.ALPHA)

KEYS = ACTIVATION_KEYS
NAMES = {
    "relu": "ReLU",
    "leaky_relu": "LeakyReLU",
    "sigmoid": "sigma",
    "tanh": "tanh",
    "identity": "identity",
}

KINKED = ("relu", "leaky_relu")
_t, _a = sp.Symbol("z", real=True), sp.Symbol("a", real=True)


def stated_derivative(kind: str, zz: sp.Expr, aa: sp.Expr) -> sp.Expr:
    """The textbook derivative, in the input z or the output a as textbooks write it."""
    return {
        "relu": F.iverson(zz > 0),
        "leaky_relu": F.iverson(zz > 0) + F.ALPHA * F.iverson(zz <= 0),
        "sigmoid": aa * (1 - aa),
        "tanh": 1 - aa**2,
        "identity": sp.S.One,
    }[kind]


def in_output(
    derivative: sp.Expr, variable: sp.Symbol, function: sp.Expr, output: sp.Symbol
) -> sp.Expr:
    """f'(z) rewritten in a = f(z): directly where f itself appears (tanh' = 1 - tanh^2),
    else through the inverse z = f^{-1}(a) that sympy.solve finds; unchanged if neither.

    After the substitution exp(log(.)) has cancelled itself for the sigmoid, so `cancel`
    finishes the job; `simplify`, ten times slower, only where a non-rational part is left."""
    direct = derivative.xreplace({function: output})
    if not direct.has(variable):
        return sp.expand(direct)
    for inverse in sp.solve(sp.Eq(output, function), variable):
        candidate = sp.cancel(derivative.subs(variable, inverse))
        if not candidate.is_rational_function(output):
            candidate = sp.simplify(candidate)
        if not candidate.has(variable):
            return sp.expand(candidate)
    return derivative


@dataclass(frozen=True)
class ActivationLaw:
    kind: str
    key: str
    gradient: F.Gradient  # dL/dz by diff and elimination, f' in z
    derived: tuple[Term, ...]  # the same, f' rewritten in the output where the layer does
    stated: tuple[Term, ...]
    holds: bool
    detail: str

    @property
    def title(self) -> str:
        name = NAMES[self.kind]
        if self.kind == "relu":
            return "ReLU'(z) = [z > 0], so ReLU'(0) = 0"
        if self.kind == "leaky_relu":
            return "LeakyReLU'(z) = [z > 0] + alpha [z <= 0], so LeakyReLU'(0) = alpha"
        if self.kind == "sigmoid":
            return "sigma'(z) = a (1 - a) with a = sigma(z)"
        if self.kind == "tanh":
            return "tanh'(z) = 1 - a^2 with a = tanh(z)"
        return f"{name}'(z) = 1: the gradient passes unchanged"


def _kink(kind: str, derivative_at: sp.Expr) -> tuple[bool, str]:
    """The value at z = 0, where ReLU and leaky ReLU have their kink."""
    if kind not in KINKED:
        return True, ""
    value = derivative_at.subs(_t, 0)
    expected = 0 if kind == "relu" else F.ALPHA
    return value == expected, f"; at z = 0 the derived derivative is {value}"


Stated = Callable[[sp.Expr, sp.Expr], sp.Expr]  # (z, a) -> the stated derivative


@cache
def activation_law(kind: str, stated_as: Stated | None = None) -> ActivationLaw:
    """The law for one activation; `stated_as` replaces the textbook derivative (for tests)."""
    function = F.ACTIVATIONS[kind]
    loss = F.contraction(F.da, lambda kk, ii, jj: function(F.z[kk, ii, jj]), FREE)
    gradient = F.differentiate(loss, F.z, FREE, tuple(v for v, _, _ in FREE))
    element = F.z[F.k, F.i, F.j]
    (term,) = gradient.terms
    derivative = sp.expand(term.factor / F.da[F.k, F.i, F.j]).xreplace({element: _t})
    rewritten = sp.piecewise_fold(derivative)  # one Piecewise: [z > 0] + alpha [z <= 0]
    if kind in ("sigmoid", "tanh"):
        rewritten = in_output(derivative, _t, function(_t), _a)
    out = F.a[F.k, F.i, F.j]
    derived = Term(F.da[F.k, F.i, F.j] * rewritten.xreplace({_t: element, _a: out}))
    if stated_as is None:
        stated_as = partial(stated_derivative, kind)
    stated = stated_as(element, out)
    stated_in_z = stated_as(_t, function(_t))
    difference = sp.simplify(derivative - stated_in_z)
    kink_ok, kink = _kink(kind, derivative)
    holds = difference == 0 and kink_ok
    detail = (
        f"sympy.diff gives {kind}'(z) = {rewritten if kind in KINKED else derivative}; "
        f"minus the stated derivative, written in z, it simplifies to {difference}" + kink
    )
    if kind in ("sigmoid", "tanh"):
        detail += f"; rewritten in the output a = {kind}(z) (sympy.solve for the inverse): " + str(
            rewritten.xreplace({_a: sp.Symbol("a")})
        )
    stated_term = Term(F.da[F.k, F.i, F.j] * stated)
    return ActivationLaw(kind, KEYS[kind], gradient, (derived,), (stated_term,), holds, detail)
