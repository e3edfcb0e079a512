"""The laws after the last block: flatten, the dense unit, and the sigmoid + BCE head.

Derived as everywhere: `sympy.diff` of the generic contraction (a scalar upstream delta_z_o for
the dense unit) and delta elimination; the head's dL/dz_o by diff, simplify, and the rewrite in
the prediction a_o = sigma(z_o) through the sigmoid's inverse (sympy.solve).
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from . import index_form as F
from .activation import in_output
from .delta import Limit, Term
from .proof import Grid, IndexLaw, size_grid, stated_terms

FLATTEN_FREE: tuple[Limit, ...] = ((F.k, 0, F.K - 1), (F.m, 0, F.HP - 1), (F.n, 0, F.WP - 1))
FLATTEN_SIZES = (F.K, F.HP, F.WP, F.N)
DENSE_FREE: tuple[Limit, ...] = ((F.f, 0, F.N - 1),)
B_OUT = sp.Symbol("b_o")


def stated_flatten(
    position: sp.Expr = F.k * F.HP * F.WP + F.m * F.WP + F.n,
) -> sp.Expr:
    """dP[k,m,n] = delta_F[k H_p W_p + m W_p + n]: row-major order, as torch.flatten."""
    return F.dfeature[position]


def flatten_grid(channels: int = 3, largest: int = 5) -> Grid:
    """Sizes on which the flatten law is checked when the forms differ."""
    ranges = {F.K: range(1, channels + 1), F.HP: range(1, largest + 1), F.WP: range(1, largest + 1)}
    derived = {F.N: lambda sz: sz[F.K] * sz[F.HP] * sz[F.WP]}

    def extents(sz: dict) -> dict:
        return {"p": (sz[F.K], sz[F.HP], sz[F.WP]), "delta_F": (sz[F.N],)}

    words = f"all K <= {channels}, H_p, W_p <= {largest}, N = K H_p W_p"
    bounds = (
        sp.Le(F.K, channels),
        sp.Le(F.HP, largest),
        sp.Le(F.WP, largest),
        sp.Eq(F.N, F.K * F.HP * F.WP),
    )
    return size_grid(words, ranges, derived, lambda sz: True, extents, bounds)


@cache
def flatten_law(statement: sp.Expr | None = None) -> IndexLaw:
    """Flatten's gradient: derived from the row-major flatten, stated as textbooks do."""
    loss = F.contraction(F.dfeature, F.flatten, ((F.f, 0, F.N - 1),))
    gradient = F.differentiate(loss, F.pooled, FLATTEN_FREE, (F.k, F.m, F.n))
    stated = stated_flatten() if statement is None else statement
    return IndexLaw(
        "flatten",
        "Flatten: dL/dP[k,m,n] is dL/dF at the row-major position k H_p W_p + m W_p + n",
        gradient.free,
        gradient.terms,
        stated_terms(stated, gradient.free),
        FLATTEN_SIZES,
        flatten_grid(),
    )


DENSE_SIZES = (F.N,)
DENSE_SCALARS = (F.DZ_OUT,)


@cache
def dense_gradients() -> tuple[F.Gradient, F.Gradient, F.Gradient]:
    """dL/dw[f], dL/db_o, dL/dF[f] for L = delta_z_o * z_o."""
    loss = F.DZ_OUT * F.dense()
    weight = F.differentiate(loss, F.w, DENSE_FREE, (F.f,))
    feature = F.differentiate(loss, F.feature, DENSE_FREE, (F.f,))
    raw = sp.diff(loss, B_OUT)
    bias = F.Gradient(B_OUT, (), (Term(raw),), raw)
    return weight, bias, feature


def stated_dense() -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """dW = F^T delta_z_o, dB = delta_z_o, dF = delta_z_o W, element by element."""
    return F.DZ_OUT * F.feature[F.f], F.DZ_OUT, F.DZ_OUT * F.w[F.f]


def dense_laws() -> list[IndexLaw]:
    """dW, dB and dF of the dense unit as three index laws."""
    laws = []
    names = ("dense-dW", "dense-dB", "dense-dF")
    for name, gradient, stated in zip(names, dense_gradients(), stated_dense(), strict=True):
        laws.append(
            IndexLaw(
                "dense",
                name,
                gradient.free,
                gradient.terms,
                stated_terms(stated, gradient.free),
                DENSE_SIZES,
                flatten_grid(),
                DENSE_SCALARS,
            )
        )
    return laws


@cache
def head_gradient() -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """(diff of BCE(y, sigma(z_o)) by z_o, as one fraction in z_o, rewritten in a_o).

    `cancel` (one fraction in lowest terms) is all this needs; `simplify` found the same
    function in ten times the time."""
    sigmoid = 1 / (1 + sp.exp(-F.Z_OUT))
    raw = sp.diff(F.binary_cross_entropy(sigmoid), F.Z_OUT)
    simplified = sp.cancel(raw)
    in_a = in_output(simplified, F.Z_OUT, sigmoid, F.A_OUT)
    return raw, simplified, sp.factor_terms(in_a)


def stated_head() -> sp.Expr:
    return F.A_OUT - F.Y


def head_holds() -> tuple[bool, str]:
    """Symbolic: the derived dL/dz_o minus (sigma(z_o) - y) simplifies to 0."""
    raw, simplified, in_a = head_gradient()
    sigmoid = 1 / (1 + sp.exp(-F.Z_OUT))
    difference = sp.simplify(raw - stated_head().subs(F.A_OUT, sigmoid))
    in_a_ok = sp.expand(in_a - stated_head()) == 0
    detail = (
        f"sympy.diff of BCE(y, sigma(z_o)) by z_o, as one fraction: {simplified}; minus "
        f"(sigma(z_o) - y) it simplifies to {difference}; rewritten in a_o = sigma(z_o): {in_a}"
    )
    return difference == 0 and in_a_ok, detail
