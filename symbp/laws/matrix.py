"""The matrix view: the convolution as a sparse matrix J, and dX = J^T vec(dZ).

J[(k,i,j), (c,u,v)] = dz[k,i,j] / dx[c,u,v] is found in index form by `sympy.diff` of the
forward convolution by x[c,u,v] and delta elimination: w[k, c, u + P - S i, v + P - S j] where
that index lies inside the filter, else 0. The law: the input gradient is J^T times the
vectorised output gradient, sum_{k,i,j} J[(k,i,j),(c,u,v)] delta_z[k,i,j]; built from the
derived J, reduced and compared with the derived dX law, it is the same sum (symbolic). This is
why frameworks call the input gradient a "transposed convolution": multiplying by J^T.

At a spec's sizes J becomes a concrete SymPy sparse matrix (16 x 36 at the default 6x6 input
with a 3x3 filter); the bridge checks it against the element-wise derivation's own local
Jacobian and J^T vec(dZ) against its input gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache

import sympy as sp

from . import index_form as F
from .conv import INPUT_FREE, derived_gradient
from .delta import Limit, Term, same_terms, simplify_terms
from .instantiate import CompiledLaw, Polynomial, to_sympy

OUTPUT_FREE: tuple[Limit, ...] = ((F.k, 0, F.K - 1), (F.i, 0, F.HO - 1), (F.j, 0, F.WO - 1))
JACOBIAN_FREE = OUTPUT_FREE + INPUT_FREE


@cache
def jacobian_entry() -> F.Gradient:
    """dz[k,i,j] / dx[c,u,v] by diff of the forward convolution and delta elimination."""
    gradient = F.differentiate(F.conv(F.k, F.i, F.j), F.x, INPUT_FREE, (F.c, F.u, F.v))
    # the output indices are free here too: their ranges belong to the context
    terms = simplify_terms(gradient.terms, JACOBIAN_FREE)
    return replace(gradient, free=JACOBIAN_FREE, terms=tuple(terms))


def transposed_product() -> list[Term]:
    """sum_{k,i,j} J[(k,i,j),(c,u,v)] delta_z[k,i,j], reduced: J^T vec(dZ) in index form."""
    summed = [
        Term(
            t.factor * F.dz[F.k, F.i, F.j],
            t.conditions,
            t.equations,
            OUTPUT_FREE + t.limits,
        )
        for t in jacobian_entry().terms
    ]
    return simplify_terms(summed, INPUT_FREE)


@dataclass(frozen=True)
class MatrixLaw:
    holds: bool
    detail: str
    entry: F.Gradient
    product: tuple[Term, ...]


@cache
def matrix_law() -> MatrixLaw:
    """J^T vec(dZ) from the derived J, against the derived dX law."""
    product = transposed_product()
    holds = same_terms(product, list(derived_gradient("dX").terms))
    detail = (
        "J^T vec(dZ), built from the J that diff found and reduced, has the same canonical "
        "form as the derived dL/dX: symbolic, for every size"
        if holds
        else "J^T vec(dZ) and the derived dL/dX have different canonical forms"
    )
    return MatrixLaw(holds, detail, jacobian_entry(), tuple(product))


COLUMN = sp.IndexedBase("column")  # marks the column (c, u, v) an entry of J belongs to
Entries = dict[tuple[int, int], Polynomial]


@cache
def compiled_jacobian() -> CompiledLaw:
    """J row by row: each entry's term summed over the input indices and multiplied by a marker
    read column[c, u, v], so that the loops, narrowed by the entry's conditions, visit only the
    nonzero entries (those under the filter) and each product says which column it is in."""
    terms = [
        Term(t.factor * COLUMN[F.c, F.u, F.v], t.conditions, t.equations, INPUT_FREE + t.limits)
        for t in jacobian_entry().terms
    ]
    return CompiledLaw(terms, F.CONV_SIZES, OUTPUT_FREE)


def jacobian_entries(sizes: dict) -> Entries:
    """J at concrete sizes as polynomials, keyed (row, col): rows vec(Z) and columns vec(X),
    both row-major; entries not listed are 0."""
    ho, wo, h, w = sizes[F.HO], sizes[F.WO], sizes[F.H], sizes[F.W]
    marker = str(COLUMN.label)
    entries: Entries = {}
    for (kk, ii, jj), polynomial in compiled_jacobian().evaluate(sizes).items():
        row = (kk * ho + ii) * wo + jj
        for (plain, residual, inner), coefficient in polynomial.items():
            ((cc, uu, vv),) = [index for base, index in plain if base == marker]
            rest = tuple(read for read in plain if read[0] != marker)
            entry = entries.setdefault((row, (cc * h + uu) * w + vv), {})
            entry[(rest, residual, inner)] = entry.get((rest, residual, inner), 0) + coefficient
    kept = {key: {m: n for m, n in entry.items() if n != 0} for key, entry in entries.items()}
    return {key: entry for key, entry in kept.items() if entry}


def jacobian_at(sizes: dict, element: Callable[[str, tuple[int, ...]], sp.Expr]) -> sp.SparseMatrix:
    """J at concrete sizes as a SymPy sparse matrix; `element(base, index)` gives the symbol
    of a weight."""
    k, ho, wo = sizes[F.K], sizes[F.HO], sizes[F.WO]
    c, h, w = sizes[F.C], sizes[F.H], sizes[F.W]
    entries = {key: to_sympy(entry, element) for key, entry in jacobian_entries(sizes).items()}
    return sp.SparseMatrix(k * ho * wo, c * h * w, entries)
