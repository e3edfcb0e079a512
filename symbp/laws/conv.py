"""The convolution laws: output size, dW, dB and dX, derived and stated.

Derived: `sympy.diff` of L = sum_{k,i,j} delta_z[k,i,j] z[k,i,j] (z from `index_form.conv`)
by w[k,c,p,q], b[k] and x[c,u,v], then delta elimination.

Stated: the textbook patterns, built here from the textbook operations, each written from its
definition as an index-form function of integer positions (zero outside its extent):

    image   X_c(g, h)      = x[c, g, h] for 0 <= g < H, 0 <= h < W, else 0
    pad_n   A(g - n, h - n)
    dil_S   D_k(g, h)      = delta_z[k, i, j] where g = S i, h = S j, else 0
    rot180  kernel(kH - 1 - p, kW - 1 - q)
    crop_n  A(g + n, h + n)
    A star B (g, h)        = sum_{p,q} A(g + p, h + q) B(p, q)      (cross-correlation)

The builders take the choices a textbook could get wrong (rotate or not, crop by how much,
dilate or not) as arguments, so that tests can state a wrong law and watch it fail.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import sympy as sp

from . import index_form as F
from .delta import Limit, bounds_for, inequality
from .proof import Grid, IndexLaw, size_grid, stated_terms
from .symbols import Correlate, Crop, Dilate, Pad, Rotate

Plane = Callable[[sp.Expr, sp.Expr], sp.Expr]  # an index-form function of (row, col)

g, h = F.index("g"), F.index("h")


# ------------------------------------------------------------------ textbook operations
def image(base: sp.IndexedBase, lead: tuple, rows: sp.Expr, cols: sp.Expr) -> Plane:
    """base[lead..., g, h] inside rows x cols, zero outside (an embedding by deltas)."""
    rr, ss = F.index("r"), F.index("s")

    def at(gg: sp.Expr, hh: sp.Expr) -> sp.Expr:
        return sp.Sum(
            sp.KroneckerDelta(gg, rr) * sp.KroneckerDelta(hh, ss) * base[tuple(lead) + (rr, ss)],
            (rr, 0, rows - 1),
            (ss, 0, cols - 1),
        )

    return at


def pad(plane: Plane, rows: sp.Expr, cols: sp.Expr | None = None) -> Plane:
    cols = rows if cols is None else cols
    return lambda gg, hh: plane(gg - rows, hh - cols)


def dilate(base: sp.IndexedBase, lead: tuple, stride: sp.Expr) -> Plane:
    """The gradient spread out by the stride: base[lead, i, j] at (S i, S j), zeros between."""

    def at(gg: sp.Expr, hh: sp.Expr) -> sp.Expr:
        return sp.Sum(
            base[tuple(lead) + (F.i, F.j)]
            * sp.KroneckerDelta(gg, stride * F.i)
            * sp.KroneckerDelta(hh, stride * F.j),
            (F.i, 0, F.HO - 1),
            (F.j, 0, F.WO - 1),
        )

    return at


def undilated(base: sp.IndexedBase, lead: tuple) -> Plane:
    """The gradient as it is, not spread by the stride (wrong for S > 1; for the tests)."""
    return image(base, lead, F.HO, F.WO)


def rotate(kernel: Plane) -> Plane:
    return lambda pp, qq: kernel(F.KH - 1 - pp, F.KW - 1 - qq)


def crop(plane: Plane, margin: sp.Expr) -> Plane:
    return lambda gg, hh: plane(gg + margin, hh + margin)


def correlate(
    image_plane: Plane,
    kernel: Plane,
    rows: sp.Expr,
    cols: sp.Expr,
    over: tuple[sp.Symbol, sp.Symbol],
) -> Plane:
    """(A star B)(g, h) = sum_{p<rows, q<cols} A(g + p, h + q) B(p, q)."""
    pp, qq = over
    return lambda gg, hh: sp.Sum(
        image_plane(gg + pp, hh + qq) * kernel(pp, qq), (pp, 0, rows - 1), (qq, 0, cols - 1)
    )


# ------------------------------------------------------------------ the stated laws
def stated_weight_gradient(pad_by: sp.Expr = F.P, dilated: bool = True) -> sp.Expr:
    """dW[k,c,p,q] = (pad_P(X_c) star dil_S(delta_z_k))[p, q]."""
    x_c = pad(image(F.x, (F.c,), F.H, F.W), pad_by)
    d_k = dilate(F.dz, (F.k,), F.S) if dilated else undilated(F.dz, (F.k,))
    rows, cols = ((F.HO - 1) * F.S + 1, (F.WO - 1) * F.S + 1) if dilated else (F.HO, F.WO)
    return correlate(x_c, d_k, rows, cols, (g, h))(F.p, F.q)


def stated_bias_gradient() -> sp.Expr:
    """dB[k] = sum_{i,j} delta_z[k,i,j]."""
    return sp.Sum(F.dz[F.k, F.i, F.j], (F.i, 0, F.HO - 1), (F.j, 0, F.WO - 1))


def stated_input_gradient(
    rotated: bool = True, crop_by: sp.Expr = F.P, dilated: bool = True
) -> sp.Expr:
    """dX[c,u,v] = crop_P( sum_k pad_{kH-1,kW-1}(dil_S(delta_z_k)) star rot180(w_{k,c}) )[u, v]:
    the full cross-correlation with the rotated kernel, i.e. the transposed convolution."""
    d_k = dilate(F.dz, (F.k,), F.S) if dilated else undilated(F.dz, (F.k,))
    padded = pad(d_k, F.KH - 1, F.KW - 1)

    def kernel(pp: sp.Expr, qq: sp.Expr) -> sp.Expr:
        return F.w[F.k, F.c, pp, qq]

    full = correlate(padded, rotate(kernel) if rotated else kernel, F.KH, F.KW, (F.p, F.q))
    return sp.Sum(crop(full, crop_by)(F.u, F.v), (F.k, 0, F.K - 1))


def weight_pattern() -> sp.Basic:
    """pad_P(x_c) star dil_S(delta_z_k), for typesetting."""
    return Correlate(Pad(F.x[F.c], F.P), Dilate(F.dz[F.k], F.S))


def input_pattern() -> sp.Basic:
    """crop_P(sum_k pad_{kH-1}(dil_S(delta_z_k)) star rot180(w_{k,c})), for typesetting."""
    inner = Correlate(Pad(Dilate(F.dz[F.k], F.S), F.KH - 1), Rotate(F.w[F.k, F.c]))
    return Crop(sp.Sum(inner, (F.k, 0, F.K - 1)), F.P)


# ------------------------------------------------------------------ the derived laws
WEIGHT_FREE: tuple[Limit, ...] = (
    (F.k, 0, F.K - 1),
    (F.c, 0, F.C - 1),
    (F.p, 0, F.KH - 1),
    (F.q, 0, F.KW - 1),
)
BIAS_FREE: tuple[Limit, ...] = ((F.k, 0, F.K - 1),)
INPUT_FREE: tuple[Limit, ...] = ((F.c, 0, F.C - 1), (F.u, 0, F.H - 1), (F.v, 0, F.W - 1))


@cache
def derived_gradient(which: str) -> F.Gradient:
    """dL/dw, dL/db or dL/dx by sympy.diff of the contraction and delta elimination."""
    base, free = {"dW": (F.w, WEIGHT_FREE), "dB": (F.b, BIAS_FREE), "dX": (F.x, INPUT_FREE)}[which]
    return F.differentiate(F.conv_loss(), base, free, tuple(v for v, _, _ in free))


def output_size(read: sp.Expr, tap: Limit, extent: sp.Expr, position: sp.Symbol) -> sp.Expr:
    """How many positions have every tap of their window inside the input's extent.

    The read index is increasing (or decreasing) in the tap, so its first and last taps bound
    it; solving those two linear conditions for the position gives integer bounds by ceil and
    floor, and the count of integers between them.
    """
    dummy, first, last = tap
    slope = sp.diff(read, dummy)
    low_tap, high_tap = (first, last) if slope.is_positive else (last, first)
    conditions = [
        inequality(read.subs(dummy, low_tap)),
        inequality(extent - 1 - read.subs(dummy, high_tap)),
    ]
    lower, upper = bounds_for(position, conditions)
    if len(lower) != 1 or len(upper) != 1:
        raise ValueError(f"cannot bound {position} from {conditions}")
    return upper[0] - lower[0] + 1


def stated_output_size() -> tuple[sp.Expr, sp.Expr]:
    return sp.floor((F.H + 2 * F.P - F.KH) / F.S) + 1, sp.floor((F.W + 2 * F.P - F.KW) / F.S) + 1


@cache
def derived_output_size() -> tuple[sp.Expr, sp.Expr]:
    return tuple(output_size(*read) for read in F.CONV_READS)  # type: ignore[return-value]


# ------------------------------------------------------------------ grids
def _conv_extents(sizes: dict) -> dict:
    C, K, H, W = (sizes[s] for s in (F.C, F.K, F.H, F.W))
    return {
        "x": (C, H, W),
        "w": (K, C, sizes[F.KH], sizes[F.KW]),
        "b": (K,),
        "delta_z": (K, sizes[F.HO], sizes[F.WO]),
    }


def _output_rows(sizes: dict) -> int:
    return (sizes[F.H] + 2 * sizes[F.P] - sizes[F.KH]) // sizes[F.S] + 1


def _output_cols(sizes: dict) -> int:
    return (sizes[F.W] + 2 * sizes[F.P] - sizes[F.KW]) // sizes[F.S] + 1


def conv_grid(largest: int = 7, kernel: int = 3, stride: int = 3, channels: int = 2) -> Grid:
    """Every H, W <= largest, kH, kW <= kernel, S <= stride, P < min(kH, kW), C, K <= channels
    with the filter inside the padded input; H_o, W_o by the output-size law."""
    ranges = {
        F.H: range(1, largest + 1),
        F.W: range(1, largest + 1),
        F.KH: range(1, kernel + 1),
        F.KW: range(1, kernel + 1),
        F.S: range(1, stride + 1),
        F.P: range(0, kernel),
        F.C: range(1, channels + 1),
        F.K: range(1, channels + 1),
    }

    def keep(sz: dict) -> bool:
        return (
            sz[F.P] < min(sz[F.KH], sz[F.KW])
            and sz[F.KH] <= sz[F.H] + 2 * sz[F.P]
            and sz[F.KW] <= sz[F.W] + 2 * sz[F.P]
        )

    words = (
        f"all H, W <= {largest}, k_H, k_W <= {kernel}, S <= {stride}, P < min(k_H, k_W), "
        f"C, K <= {channels}"
    )
    derived = {F.HO: _output_rows, F.WO: _output_cols}
    bounds = (
        sp.Le(F.H, largest),
        sp.Le(F.W, largest),
        sp.Le(F.KH, kernel),
        sp.Le(F.KW, kernel),
        sp.Le(F.S, stride),
        sp.StrictLessThan(F.P, sp.Min(F.KH, F.KW)),
        sp.Le(F.C, channels),
        sp.Le(F.K, channels),
    )
    return size_grid(words, ranges, derived, keep, _conv_extents, bounds)


# ------------------------------------------------------------------ laws
TITLES = {
    "dW": "dL/dW is the cross-correlation of the zero-padded input with the stride-dilated dL/dZ",
    "dB": "dL/dB_k is the sum of filter k's dL/dZ",
    "dX": "dL/dX is the transposed convolution: the full cross-correlation of the dilated, "
    "padded dL/dZ with rot180(W), cropped by P, summed over filters",
}


def conv_law(which: str, statement: sp.Expr | None = None, grid: Grid | None = None) -> IndexLaw:
    """The law for dW, dB or dX; `statement` replaces the textbook one (to test wrong ones)."""
    gradient = derived_gradient(which)
    if statement is None:
        statement = {
            "dW": stated_weight_gradient,
            "dB": stated_bias_gradient,
            "dX": stated_input_gradient,
        }[which]()
    return IndexLaw(
        which,
        TITLES[which],
        gradient.free,
        gradient.terms,
        stated_terms(statement, gradient.free),
        F.CONV_SIZES,
        conv_grid() if grid is None else grid,
    )
