"""Proof (a): the derived index-form result is the stated law, and how strongly that is known.

First symbolically: both sides are reduced by the same exact rewriting (delta elimination,
canonical conditions) and compared term by term, up to the names of summation indices. Equal
canonical forms prove the law for every size. When the forms differ, that decides nothing (two
different-looking sums can be equal), so both sides are instantiated exactly over a stated grid
of sizes and compared element by element as polynomials: equal everywhere on the grid is
"checked", not proved; any difference is a counterexample, and the law fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import product

import sympy as sp

from .delta import Limit, NotIndexForm, Term, same_terms, simplify_terms, terms_of
from .instantiate import CompiledLaw, first_difference, reads_outside, show_polynomial

SYMBOLIC = "symbolic"

Sizes = dict[sp.Symbol, int]
Extents = Callable[[Sizes], Mapping[str, tuple[int, ...]]]


@dataclass(frozen=True)
class Verdict:
    holds: bool
    method: str  # SYMBOLIC, or 'checked: <the grid>'
    detail: str


@dataclass(frozen=True)
class Grid:
    """A finite set of sizes, smallest first, and the words that say which.

    `bounds` says the same as relations over the size symbols, for typesetting."""

    description: str
    points: Callable[[], Iterator[Sizes]]
    extents: Extents = field(default=lambda sizes: {})
    bounds: tuple[sp.Basic, ...] = ()

    def __iter__(self) -> Iterator[Sizes]:
        return self.points()


def size_grid(
    description: str,
    ranges: Mapping[sp.Symbol, Sequence[int]],
    derived: Mapping[sp.Symbol, Callable[[Sizes], int]],
    keep: Callable[[Sizes], bool],
    extents: Extents,
    bounds: tuple[sp.Basic, ...] = (),
) -> Grid:
    """Every combination of `ranges`, completed by `derived` (size -> function of the sizes),
    filtered by `keep`, ordered by total size so that a counterexample found is a small one."""

    def points() -> Iterator[Sizes]:
        names = list(ranges)
        combos = []
        for values in product(*(ranges[name] for name in names)):
            sizes = dict(zip(names, values, strict=True))
            for name, function in derived.items():
                sizes[name] = function(sizes)
            if keep(sizes):
                combos.append(sizes)
        combos.sort(key=lambda sizes: (sum(sizes.values()), tuple(sizes.values())))
        yield from combos

    return Grid(description, points, extents, bounds)


@dataclass(frozen=True)
class IndexLaw:
    """A law in index form: the derived terms, the stated terms, and how to check them."""

    key: str
    title: str
    free: tuple[Limit, ...]
    derived: tuple[Term, ...]
    stated: tuple[Term, ...]
    sizes: tuple[sp.Symbol, ...]
    grid: Grid
    scalars: tuple[sp.Symbol, ...] = ()

    @cached_property
    def compiled_derived(self) -> CompiledLaw:
        return CompiledLaw(list(self.derived), self.sizes, self.free, self.scalars)

    @cached_property
    def compiled_stated(self) -> CompiledLaw:
        return CompiledLaw(list(self.stated), self.sizes, self.free, self.scalars)


def stated_terms(statement: sp.Expr, free: tuple[Limit, ...]) -> tuple[Term, ...]:
    """A typed statement reduced by the same exact rewriting as the derived side."""
    return tuple(simplify_terms(terms_of(statement), free))


def _describe(sizes: Sizes) -> str:
    return ", ".join(f"{name}={value}" for name, value in sizes.items())


def check_on_grid(law: IndexLaw) -> Verdict:
    """Exact instantiation of both sides at every size of the grid."""
    method = f"checked: {law.grid.description}"
    try:
        compiled = law.compiled_derived, law.compiled_stated
    except NotIndexForm as error:
        return Verdict(False, method, f"the law cannot be instantiated: {error}")
    count = 0
    for sizes in law.grid:
        derived, stated = (side.evaluate(sizes) for side in compiled)
        outside = reads_outside(stated, law.grid.extents(sizes))
        if outside is not None:
            base, where = outside
            return Verdict(
                False,
                method,
                f"at {_describe(sizes)} the law reads {base}{list(where)}, "
                f"outside {base}'s extent {law.grid.extents(sizes)[base]}",
            )
        difference = first_difference(derived, stated)
        if difference is not None:
            point, left, right = difference
            return Verdict(
                False,
                method,
                f"at {_describe(sizes)}, element {list(point)}: derived "
                f"{show_polynomial(left)}, stated {show_polynomial(right)}",
            )
        count += 1
    return Verdict(
        True,
        method,
        f"the canonical forms differ, so it was instantiated exactly at all "
        f"{count} sizes of the grid and agrees element by element at each",
    )


def prove(law: IndexLaw) -> Verdict:
    """Symbolic when the canonical forms agree; otherwise the grid decides."""
    if same_terms(list(law.derived), list(law.stated)):
        return Verdict(
            True,
            SYMBOLIC,
            "after delta elimination both sides have the same canonical form "
            "(the same sums, factors and conditions, up to the names of summation indices): "
            "equal for every size",
        )
    return check_on_grid(law)
