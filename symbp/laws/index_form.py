"""Every layer kind written once in index form, over symbolic sizes.

These are the forward definitions the laws are derived from; they mean what the element-wise
rule table (symbp's layer rules) means, and the bridge checks that they do, element by
element, at every spec's sizes. Nothing here is a gradient: gradients are found by
`sympy.diff` of a generic upstream contraction L = sum delta[o] * out[o] and delta elimination.

Conventions (the element-wise side's): tensors are (channels, rows, cols); convolution is
cross-correlation over a zero-padded input with a stride; zero padding is written as an
embedding of x in the padded grid (a bounded sum of deltas), so the padding's bounds come out
of the elimination as conditions; ReLU is z [z > 0] (so ReLU'(0) = 0); leaky ReLU is
z [z > 0] + alpha z [z <= 0]; max-pool multiplies each cell by a routing mask mu that is 1 on
the window's first maximum (row-major) and is piecewise constant in the values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import sympy as sp

from .delta import Limit, Term, simplify_terms, substitute_all, terms_of


def size(name: str) -> sp.Symbol:
    return sp.Symbol(name, integer=True, positive=True)


def index(name: str) -> sp.Symbol:
    return sp.Symbol(name, integer=True)


def free_index(name: str) -> sp.Symbol:
    return sp.Symbol(name, integer=True, nonnegative=True)


# ------------------------------------------------------------------ sizes
H, W = size("H"), size("W")  # input rows, cols
C, K = size("C"), size("K")  # input channels, filters
KH, KW = size("k_H"), size("k_W")  # filter rows, cols
S = size("S")  # convolution stride
P = sp.Symbol("P", integer=True, nonnegative=True)  # zero padding on every side
HO, WO = size("H_o"), size("W_o")  # convolution output rows, cols
R, T = size("R"), size("T")  # pool window (R x R) and pool stride
HP, WP = size("H_p"), size("W_p")  # pool output rows, cols
N = size("N")  # dense features
ALPHA = sp.Symbol("alpha", nonnegative=True)  # leaky ReLU slope

CONV_SIZES = (H, W, C, K, KH, KW, S, P, HO, WO)

# ------------------------------------------------------------------ indices
k, c, i, j, p, q, r, s = (index(n) for n in "kcijpqrs")
m, n, f = index("m"), index("n"), index("f")
u, v = free_index("u"), free_index("v")

# ------------------------------------------------------------------ tensors
x, w, b = sp.IndexedBase("x"), sp.IndexedBase("w"), sp.IndexedBase("b")
z, a, pooled = sp.IndexedBase("z"), sp.IndexedBase("a"), sp.IndexedBase("p")
mu = sp.IndexedBase("mu")  # the max-pool routing mask
feature = sp.IndexedBase("F")
dz, da, dp = sp.IndexedBase("delta_z"), sp.IndexedBase("delta_a"), sp.IndexedBase("delta_p")
dfeature = sp.IndexedBase("delta_F")
L = sp.Symbol("L")
Y = sp.Symbol("y", real=True)
Z_OUT, A_OUT, DZ_OUT = sp.Symbol("z_o", real=True), sp.Symbol("a_o"), sp.Symbol("delta_z_o")


def conv(kk: sp.Expr, ii: sp.Expr, jj: sp.Expr) -> sp.Expr:
    """z[k,i,j] = b[k] + sum_{c,p,q} xpad[c, S i + p, S j + q] w[k,c,p,q], where the padded
    input xpad[c, g, h] = sum_{r<H, s<W} [g = r + P][h = s + P] x[c, r, s] is x embedded in an
    (H + 2P) x (W + 2P) grid of zeros."""
    embedded = sp.Sum(
        sp.KroneckerDelta(S * ii + p, r + P) * sp.KroneckerDelta(S * jj + q, s + P) * x[c, r, s],
        (r, 0, H - 1),
        (s, 0, W - 1),
    )
    return b[kk] + sp.Sum(embedded * w[kk, c, p, q], (c, 0, C - 1), (p, 0, KH - 1), (q, 0, KW - 1))


# The rows of the padded input the window of output row i reads, and that input's extent:
# what the output-size law is derived from.
CONV_READS = ((S * i + p, (p, 0, KH - 1), H + 2 * P, i), (S * j + q, (q, 0, KW - 1), W + 2 * P, j))
POOL_READS = ((T * m + r, (r, 0, R - 1), HO, m), (T * n + s, (s, 0, R - 1), WO, n))


def average_pool(kk: sp.Expr, mm: sp.Expr, nn: sp.Expr) -> sp.Expr:
    """p[k,m,n] = (1 / R^2) sum_{r,s < R} a[k, T m + r, T n + s]."""
    window = sp.Sum(a[kk, T * mm + r, T * nn + s], (r, 0, R - 1), (s, 0, R - 1))
    return window / R**2


def max_pool(kk: sp.Expr, mm: sp.Expr, nn: sp.Expr) -> sp.Expr:
    """p[k,m,n] = sum_{r,s < R} mu[k,m,n,r,s] a[k, T m + r, T n + s]; mu selects the first
    maximum and is constant between ties, so its derivative is 0 wherever it is defined."""
    return sp.Sum(
        mu[kk, mm, nn, r, s] * a[kk, T * mm + r, T * nn + s], (r, 0, R - 1), (s, 0, R - 1)
    )


def iverson(condition: sp.Basic) -> sp.Expr:
    return sp.Piecewise((sp.S.One, condition), (sp.S.Zero, True))


ACTIVATIONS: dict[str, Callable[[sp.Expr], sp.Expr]] = {
    "relu": lambda t: t * iverson(t > 0),
    "leaky_relu": lambda t: t * iverson(t > 0) + ALPHA * t * iverson(t <= 0),
    "sigmoid": lambda t: 1 / (1 + sp.exp(-t)),
    "tanh": sp.tanh,
    "identity": lambda t: t,
}


def flatten(ff: sp.Expr) -> sp.Expr:
    """F[f] = p[k, m, n] at f = k H_p W_p + m W_p + n: row-major over (channel, row, col)."""
    return sp.Sum(
        sp.KroneckerDelta(ff, k * HP * WP + m * WP + n) * pooled[k, m, n],
        (k, 0, K - 1),
        (m, 0, HP - 1),
        (n, 0, WP - 1),
    )


def dense() -> sp.Expr:
    """z_o = b_o + sum_f F[f] w[f]: the dense unit before the sigmoid."""
    return sp.Symbol("b_o") + sp.Sum(feature[f] * w[f], (f, 0, N - 1))


def binary_cross_entropy(prediction: sp.Expr) -> sp.Expr:
    return -(Y * sp.log(prediction) + (1 - Y) * sp.log(1 - prediction))


# ------------------------------------------------------------------ derivation
@dataclass(frozen=True)
class Gradient:
    """dL/d target[free], found by diff and elimination: `terms` are the result."""

    target: sp.Expr  # the element differentiated by, e.g. w[k, c, p, q]
    free: tuple[Limit, ...]  # its indices and their ranges
    terms: tuple[Term, ...]
    raw: sp.Expr  # what sympy.diff returned, before elimination

    @property
    def lhs(self) -> sp.Expr:
        return sp.Derivative(L, self.target, evaluate=False)


def prime(symbol: sp.Symbol) -> sp.Symbol:
    return sp.Symbol(symbol.name + "'", **symbol.assumptions0)


def differentiate(
    loss: sp.Expr, base: sp.IndexedBase, free: tuple[Limit, ...], display: tuple[sp.Symbol, ...]
) -> Gradient:
    """d loss / d base[free...] by sympy.diff, then delta elimination.

    The free indices are differentiated as fresh (primed) symbols, so that none is captured by
    a summation index of the same name, and renamed to `display` afterwards (their summation
    namesakes have then been eliminated; if not, the primed names stay).
    """
    primed = tuple((prime(v), lo, hi) for v, lo, hi in free)
    target = base[tuple(v for v, _, _ in primed)] if primed else base
    raw = sp.diff(loss, target)
    terms = simplify_terms(terms_of(raw), primed)
    left = {sym for t in terms for sym in (*t.indices,)}
    names = {old: new for (old, _, _), new in zip(primed, display, strict=True) if new not in left}

    renamed = tuple(substitute_all(t, names) for t in terms)
    ranges = tuple((names.get(v, v), lo, hi) for v, lo, hi in primed)
    shown = base[tuple(v for v, _, _ in ranges)] if ranges else base
    return Gradient(shown, ranges, renamed, raw)


def contraction(
    upstream: sp.IndexedBase, output: Callable[..., sp.Expr], limits: tuple[Limit, ...]
) -> sp.Expr:
    """L = sum over the output's indices of upstream[o] * output[o]: any gradient from above."""
    indices = tuple(limit[0] for limit in limits)
    return sp.Sum(upstream[indices] * output(*indices), *limits)


@cache
def conv_loss() -> sp.Expr:
    return contraction(dz, conv, ((k, 0, K - 1), (i, 0, HO - 1), (j, 0, WO - 1)))


@cache
def pool_loss(kind: str) -> sp.Expr:
    layer = max_pool if kind == "max" else average_pool
    return contraction(dp, layer, ((k, 0, K - 1), (m, 0, HP - 1), (n, 0, WP - 1)))
