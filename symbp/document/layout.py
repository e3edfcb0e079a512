"""How a formula is laid out on the page, decided from its printed width before it is printed.

`Layout` fits matrices and sums to the line (`display.elide`, `display.sum_lines`); `Displays`
turns `lhs = expression` into a `Display`: whole when it fits, a sum over several lines, or a
sum of Iverson-bracketed terms whose conditions run over several lines (`Bracketed`). Nothing
here types mathematics: every object is printed later, in the templates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from symbp.symbolic.layers import is_indicator

from .display import (
    MATRIX_COLUMN_GAP_EM,
    TEXT_WIDTH_EM,
    SumLines,
    elide,
    fit_columns,
    sum_lines,
    tex_width,
)
from .latex_printer import DocumentLatexPrinter, Dots, Notation

SYMBOL_MATRIX_LIMIT = 10  # rows/columns of a symbol matrix shown whole
LONG_SUM = 36  # sums with more terms are shown as first terms + \cdots + last term
LINE_EM = TEXT_WIDTH_EM - 8  # room for a display's terms after its left-hand side
BRACKET_EM = TEXT_WIDTH_EM - 14  # room for one line of an Iverson bracket's conditions
PACKED_EM = TEXT_WIDTH_EM - 6  # room for one-line displays set side by side
MANY_TERMS = 4  # sums of bracketed terms longer than this show their first two and last
BRACKET = Dots(r"[\,\cdots]")  # stands for a window's first-maximum condition


def split_indicator(term: sp.Basic) -> tuple[sp.Basic, sp.Basic | None]:
    """(rest, indicator) of a product value * [condition]."""
    factors = sp.Mul.make_args(term)
    brackets = [f for f in factors if is_indicator(f)]
    rest = sp.Mul(*(f for f in factors if not is_indicator(f)))
    return rest, (brackets[0] if brackets else None)


def term_count(expr: sp.Basic) -> int:
    """How many terms a sum has (0 for zero)."""
    return len(sp.Add.make_args(expr)) if expr != 0 else 0


@dataclass(frozen=True)
class Bracketed:
    """`value` times an Iverson bracket whose conditions are laid out in lines (chunks)."""

    value: sp.Basic | None
    chunks: list[list[sp.Basic]]


@dataclass(frozen=True)
class Display:
    """`lhs = value`, laid out for an aligned display.

    kind 'expr': value is one expression, on one line; 'sum': a `SumLines`; 'terms': a list of
    `Bracketed` terms, one per line (None marks terms left out).
    """

    lhs: sp.Basic
    kind: str
    value: Any


@dataclass(frozen=True)
class Layout:
    """Printing-aware layout decisions: how many columns and terms fit a line."""

    printer: DocumentLatexPrinter

    @classmethod
    def of(cls, notation: Notation) -> Layout:
        return cls(DocumentLatexPrinter(notation))

    @property
    def notation(self) -> Notation:
        return self.printer.notation

    def printed(self, expr: sp.Basic) -> str:
        return str(self.printer.doprint(expr))

    def matrix(self, array: np.ndarray, budget_em: float = LINE_EM) -> sp.Matrix:
        """The array as a matrix that fits `budget_em`, corners kept when it does not."""
        grid = np.asarray(array, dtype=object)
        rows = grid.shape[0] if grid.ndim else 1
        cols = fit_columns(grid, self.printed, budget_em, SYMBOL_MATRIX_LIMIT)
        return elide(grid, rows if rows <= SYMBOL_MATRIX_LIMIT else 5, cols)

    def width(self, value: sp.Basic) -> float:
        """Estimated printed width in em (a matrix: its widest entry per column; a derivative:
        its wider half)."""
        if isinstance(value, sp.MatrixBase):
            columns = [
                max(tex_width(self.printed(value[r, c])) for r in range(value.rows))
                for c in range(value.cols)
            ]
            return sum(columns) + MATRIX_COLUMN_GAP_EM * value.cols + 1.0
        if isinstance(value, sp.Derivative):
            return max(self.width(value.expr), self.width(value.variables[0])) + 1.2
        return tex_width(self.printed(value))

    def fits(
        self, *values: sp.Basic, extra_em: float = 0.0, budget_em: float = TEXT_WIDTH_EM - 2
    ) -> bool:
        """Whether the displays `lhs = value` fit side by side on one line.

        `extra_em` is room for what the template writes between them (e.g. "= X ⋆ δZ_1").
        """
        return sum(self.width(v) + 5.0 for v in values) + extra_em <= budget_em

    def sum(
        self,
        expr: sp.Basic,
        group: int | None = None,
        budget_em: float = LINE_EM,
        max_terms: int = LONG_SUM,
        keep: tuple[int, int] = (3, 1),
    ) -> SumLines:
        """The terms of `expr` in reading order, in lines of `group` terms if they fit."""
        terms = self.notation.ordered_terms(expr)
        widest = max(tex_width(self.printed(t)) for t in terms[:12]) + 1.6
        fitting = max(1, int(budget_em // widest))
        if group is not None and group > fitting:
            # split each group evenly: 5 products -> 3 + 2, not 4 + 1
            parts = -(-group // fitting)
            sizes = [(-(-group // parts))] * parts
            sizes[-1] = group - sizes[0] * (parts - 1)
            lines = sizes * (-(-len(terms) // group))
            return sum_lines(terms, lines, max_terms, keep)
        return sum_lines(terms, group if group is not None else fitting, max_terms, keep)


class Displays:
    """Lays out expressions: short ones whole, sums over lines, brackets over lines, elided."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.notation = layout.notation

    def width(self, expr: sp.Basic) -> float:
        return self.layout.width(expr)

    def bracketed(self, value: sp.Basic | None, factor: sp.Basic) -> Bracketed:
        """value · [conditions], the conditions in lines that fit; no bracket: value · factor.

        (A 1x1 pool has no conditions: its local derivative is the number 1.)
        """
        if not is_indicator(factor):
            whole = factor if value is None else value * factor
            return Bracketed(whole, [])
        conditions = self.notation.oriented_conditions(factor.args[0].cond)
        budget = BRACKET_EM - (0.0 if value is None else self.width(value))
        chunks: list[list[sp.Basic]] = [[]]
        used = 0.0
        for condition in conditions:
            width = self.width(condition) + 1.5
            if chunks[-1] and used + width > budget:
                chunks.append([])
                used = 0.0
            chunks[-1].append(condition)
            used += width
        return Bracketed(value, chunks)

    def term(self, term: sp.Basic) -> Bracketed:
        """One term of a sum, its bracket (if any) laid out in lines."""
        value, indicator = split_indicator(term)
        if indicator is None:
            return Bracketed(term, [])
        return self.bracketed(None if value == 1 else value, indicator)

    def _long_bracket(self, expr: sp.Basic) -> bool:
        """Whether a term's bracket is too long for one line with the rest."""
        for term in sp.Add.make_args(expr):
            _, indicator = split_indicator(term)
            if indicator is not None and isinstance(indicator.args[0].cond, sp.And):
                return True
        return False

    def show(self, lhs: sp.Basic, expr: sp.Basic, group: int | None = None) -> Display:
        """`lhs = expr`: whole if it fits, else a sum over lines or bracketed terms."""
        if self._long_bracket(expr):
            terms = self.notation.ordered_terms(expr) if isinstance(expr, sp.Add) else [expr]
            picked: list[sp.Basic | None] = list(terms)
            if len(terms) > MANY_TERMS:
                picked = [terms[0], terms[1], None, terms[-1]]
            shown = [None if term is None else self.term(term) for term in picked]
            return Display(lhs, "terms", shown)
        if isinstance(expr, sp.Add) and (group is not None or self.width(expr) > LINE_EM):
            return Display(lhs, "sum", self.layout.sum(expr, group=group))
        return Display(lhs, "expr", expr)

    def pack(self, rows: list[Display | None]) -> list[list[Display | None]] | None:
        """One-line displays side by side, as many to a line as fit; None if any is longer."""
        lines: list[list[Display | None]] = [[]]
        used = 0.0
        for row in rows:
            if row is not None and row.kind != "expr":
                return None
            width = 2.5 if row is None else self.width(row.lhs) + self.width(row.value) + 3.5
            if lines[-1] and used + width > PACKED_EM:
                lines.append([])
                used = 0.0
            lines[-1].append(row)
            used += width
        return lines

    def abbreviated(self, lhs: sp.Basic, expr: sp.Basic) -> Display:
        """A sum of bracketed terms with each bracket written [⋯] (overlapping windows)."""
        return Display(lhs, "sum", self.layout.sum(abbreviated(expr)))


def abbreviated(expr: sp.Basic) -> sp.Basic:
    """The sum with each term's first-maximum bracket written [⋯]."""
    return sp.Add(*(split_indicator(t)[0] * BRACKET for t in sp.Add.make_args(expr)))


def sum_of(terms: list[Any], per_line: int) -> SumLines:
    """Terms already chosen (numeric products, say) in lines of `per_line`."""
    return sum_lines(terms, per_line, max_terms=LONG_SUM, keep=(3, 1))
