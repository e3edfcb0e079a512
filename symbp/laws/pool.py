"""The pool laws: output size, the average pool's even spread, the max-pool's routing.

Derived: `sympy.diff` of L = sum delta_p[k,m,n] p[k,m,n] (p from `index_form`) by a[k,i,j]
and delta elimination. Stated: each cell (i, j) collects, from every window (m, n) that holds
it (T m <= i <= T m + R - 1, the same for columns), delta_p[k,m,n] / R^2 (average) or
mu[k,m,n,i - T m,j - T n] delta_p[k,m,n] (max), so overlapping windows add up.

The mask mu is the first-maximum convention: mu[.., r, s] = 1 when the window's cell (r, s) is
strictly greater than every earlier cell and at least every later one (row-major). That it
selects exactly the first maximum is checked exhaustively on small windows (`first_max_law`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from itertools import product

import numpy as np
import sympy as sp

from . import index_form as F
from .conv import output_size
from .delta import Limit
from .proof import Grid, IndexLaw, Verdict, size_grid, stated_terms

FREE: tuple[Limit, ...] = ((F.k, 0, F.K - 1), (F.i, 0, F.HO - 1), (F.j, 0, F.WO - 1))
SIZES = (F.K, F.HO, F.WO, F.R, F.T, F.HP, F.WP)


def _in_window() -> sp.Basic:
    """(i, j) lies in window (m, n): T m <= i <= T m + R - 1, T n <= j <= T n + R - 1."""
    rows = sp.And(F.T * F.m <= F.i, F.i <= F.T * F.m + F.R - 1)
    cols = sp.And(F.T * F.n <= F.j, F.j <= F.T * F.n + F.R - 1)
    return sp.And(rows, cols)


def stated_average(weight: sp.Expr = 1 / F.R**2) -> sp.Expr:
    """dA[k,i,j] = sum over the windows (m, n) holding (i, j) of delta_p[k,m,n] / R^2."""
    body = sp.Piecewise((weight * F.dp[F.k, F.m, F.n], _in_window()), (0, True))
    return sp.Sum(body, (F.m, 0, F.HP - 1), (F.n, 0, F.WP - 1))


def stated_max(
    cell: Callable[[], tuple[sp.Expr, sp.Expr]] = lambda: (F.i - F.T * F.m, F.j - F.T * F.n),
) -> sp.Expr:
    """dA[k,i,j] = sum over the windows holding (i, j) of delta_p[k,m,n] where (i, j) is the
    window's first maximum."""
    r, s = cell()
    body = sp.Piecewise((F.mu[F.k, F.m, F.n, r, s] * F.dp[F.k, F.m, F.n], _in_window()), (0, True))
    return sp.Sum(body, (F.m, 0, F.HP - 1), (F.n, 0, F.WP - 1))


def _pool_extents(sizes: dict) -> dict:
    k, ho, wo, hp, wp, r = (sizes[s] for s in (F.K, F.HO, F.WO, F.HP, F.WP, F.R))
    return {"a": (k, ho, wo), "delta_p": (k, hp, wp), "mu": (k, hp, wp, r, r)}


def pool_grid(largest: int = 8, window: int = 3, channels: int = 2) -> Grid:
    """Every H_o, W_o <= largest, R <= window, T <= R with windows covering the input exactly
    (the element-wise side's rule), K <= channels."""
    ranges = {
        F.HO: range(1, largest + 1),
        F.WO: range(1, largest + 1),
        F.R: range(1, window + 1),
        F.T: range(1, window + 1),
        F.K: range(1, channels + 1),
    }

    def covers(extent: int, sizes: dict) -> bool:
        return extent >= sizes[F.R] and (extent - sizes[F.R]) % sizes[F.T] == 0

    def keep(sizes: dict) -> bool:
        return (
            sizes[F.T] <= sizes[F.R] and covers(sizes[F.HO], sizes) and covers(sizes[F.WO], sizes)
        )

    derived = {
        F.HP: lambda sz: (sz[F.HO] - sz[F.R]) // sz[F.T] + 1,
        F.WP: lambda sz: (sz[F.WO] - sz[F.R]) // sz[F.T] + 1,
    }
    words = (
        f"all H_o, W_o <= {largest}, R <= {window}, T <= R with windows covering the input, "
        f"K <= {channels}"
    )
    bounds = (
        sp.Le(F.HO, largest),
        sp.Le(F.WO, largest),
        sp.Le(F.R, window),
        sp.Le(F.T, F.R),
        sp.Le(F.K, channels),
    )
    return size_grid(words, ranges, derived, keep, _pool_extents, bounds)


@cache
def pool_law(kind: str, statement: sp.Expr | None = None) -> IndexLaw:
    """'avg' or 'max'; `statement` replaces the textbook one (to test wrong ones)."""
    gradient = F.differentiate(F.pool_loss(kind), F.a, FREE, tuple(v for v, _, _ in FREE))
    if statement is None:
        statement = stated_average() if kind == "avg" else stated_max()
    title = (
        "Average pool: each window's dL/dP is spread evenly, 1/R^2 to each of its cells; "
        "overlapping windows add up"
        if kind == "avg"
        else "Max-pool: each window's dL/dP goes to its first maximum; overlapping windows add up"
    )
    return IndexLaw(
        f"{kind}-pool",
        title,
        gradient.free,
        gradient.terms,
        stated_terms(statement, gradient.free),
        SIZES,
        pool_grid(),
    )


def stated_pool_size() -> tuple[sp.Expr, sp.Expr]:
    return sp.floor((F.HO - F.R) / F.T) + 1, sp.floor((F.WO - F.R) / F.T) + 1


@cache
def derived_pool_size() -> tuple[sp.Expr, sp.Expr]:
    return tuple(output_size(*read) for read in F.POOL_READS)  # type: ignore[return-value]


# ------------------------------------------------------------------ the first-max mask
def first_max_condition(window: Sequence[sp.Expr], position: int) -> sp.Basic:
    """mu at one cell of a window (row-major): strictly above every earlier cell, at least
    every later one. The convention, as the forward definition states it."""
    cell = window[position]
    before = [sp.StrictGreaterThan(cell, o, evaluate=False) for o in window[:position]]
    after = [sp.GreaterThan(cell, o, evaluate=False) for o in window[position + 1 :]]
    return sp.And(*before, *after)


def mask(window: Sequence[sp.Expr], position: int) -> sp.Expr:
    """mu at one cell as an indicator over the window's values (unevaluated, as the relations
    are written)."""
    condition = first_max_condition(window, position)
    return sp.Piecewise((sp.S.One, condition), (sp.S.Zero, True), evaluate=False)


def _mask_on_values(values: np.ndarray) -> np.ndarray:
    """The convention evaluated on rows of window values (vectorised): one column per cell."""
    cells = values.shape[1]
    out = np.ones(values.shape, dtype=bool)
    for cell in range(cells):
        for other in range(cells):
            if other < cell:
                out[:, cell] &= values[:, cell] > values[:, other]
            elif other > cell:
                out[:, cell] &= values[:, cell] >= values[:, other]
    return out


MASK_CASES = ((1, 4), (2, 4), (3, 3))  # (window R, values 0 .. v-1): every assignment


def first_max_law() -> Verdict:
    """Checked: on every assignment of small values to every window size listed, mu is
    one-hot at np.argmax (the first maximum, row-major), as PyTorch routes ties."""
    checked = 0
    for size, levels in MASK_CASES:
        values = np.array(list(product(range(levels), repeat=size * size)))
        got = _mask_on_values(values)
        expected = np.zeros_like(got)
        expected[np.arange(len(values)), values.argmax(axis=1)] = True
        if not np.array_equal(got, expected):
            bad = int(np.argmax(np.any(got != expected, axis=1)))
            return Verdict(
                False,
                _MASK_METHOD,
                f"window {values[bad].tolist()}: mu = {got[bad].astype(int).tolist()}",
            )
        checked += len(values)
    return Verdict(
        True,
        _MASK_METHOD,
        f"on all {checked} windows, mu is 1 exactly at the first maximum (np.argmax) "
        "and 0 elsewhere: ties go to the first",
    )


_MASK_METHOD = "checked: every R x R window with " + ", ".join(
    f"R = {size} and values in 0..{levels - 1}" for size, levels in MASK_CASES
)
