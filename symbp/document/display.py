"""How much of a large matrix or sum the document shows, decided before anything is printed.

A 28x28 network has 784 inputs and sums of 676 products; printed whole they would fill a
hundred pages. `elide` keeps the corners of a matrix with \\cdots, \\vdots and \\ddots between
them; `fit_columns` decides how many columns fit the page from the printed width of the
entries; `SumLines` breaks a long sum into lines (or keeps its first and last terms).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import sympy as sp

from .latex_printer import Dots

HDOTS, VDOTS, DDOTS = Dots(r"\cdots"), Dots(r"\vdots"), Dots(r"\ddots")

# Widths in em at the document's 11pt size. The text block is 16.6 cm = 42 em wide; a display
# keeps some room for its left-hand side.
TEXT_WIDTH_EM = 42.0
MATRIX_COLUMN_GAP_EM = 1.0

_COMMAND = re.compile(r"\\[A-Za-z]+")
_SPACING = re.compile(r"\\left|\\right|\\[,;:! ]|\\quad|\\qquad")
_ONE_EM = {r"\cdots", r"\ddots", r"\wedge", r"\geq", r"\leq", r"\partial", r"\delta"}


def _group_end(tex: str, start: int) -> int:
    """Index just past the brace group opening at `start`."""
    depth = 0
    for k in range(start, len(tex)):
        if tex[k] == "{":
            depth += 1
        elif tex[k] == "}":
            depth -= 1
            if depth == 0:
                return k + 1
    return len(tex)


def tex_width(tex: str) -> float:
    """A rough printed width of math LaTeX in em, erring on the wide side.

    Characters count 0.5 em, relation and operator signs 1.2 em (with their spacing), scripts
    0.72 of their content, and a superscript stacked over a subscript (z^{(1)}_{0,0}) only as
    wide as the wider of the two. Only used to decide how many matrix columns or sum terms fit
    on a line.
    """
    tex = _SPACING.sub("", tex)
    width, i = 0.0, 0
    previous_script: float | None = None  # width of a script just before, for stacking
    while i < len(tex):
        ch = tex[i]
        if ch in "_^" and i + 1 < len(tex):
            start = i + 1
            if tex[start] == "{":
                end = _group_end(tex, start)
                inner = tex[start + 1 : end - 1]
            else:
                match = _COMMAND.match(tex, start)
                end = match.end() if match else start + 1
                inner = tex[start:end]
            script = 0.72 * tex_width(inner)
            if previous_script is None:
                width += script
                previous_script = script
            else:  # stacked over the previous script
                width += max(0.0, script - previous_script)
                previous_script = None
            i = end
            continue
        previous_script = None
        if ch in "{} ":
            i += 1
            continue
        match = _COMMAND.match(tex, i)
        if match:
            token = match.group()
            i = match.end()
            if token not in ("\\frac", "\\operatorname", "\\mathrm", "\\text"):
                width += 1.0 if token in _ONE_EM else 0.6
            continue
        i += 1
        width += 1.2 if ch in "+-=<>" else 0.5
    return width


def _keep(n: int, limit: int) -> tuple[list[int], bool]:
    """Indices shown along an axis of length n when at most `limit` entries fit.

    An elided axis keeps up to three leading and two trailing entries (first rows, then the
    last ones), like a printed matrix in a textbook.
    """
    if n <= limit:
        return list(range(n)), False
    tail = 1 if limit < 4 else 2
    head = max(1, min(3, limit - tail))
    return list(range(head)) + list(range(n - tail, n)), True


def elide(array: np.ndarray, max_rows: int, max_cols: int) -> sp.Matrix:
    """The array as a SymPy matrix, its middle rows and columns replaced by ellipses.

    A rank-1 array is shown as a column; rank 0 as a 1x1 matrix.
    """
    grid = np.asarray(array, dtype=object)
    if grid.ndim == 0:
        grid = grid.reshape(1, 1)
    elif grid.ndim == 1:
        grid = grid.reshape(-1, 1)
    rows, rows_cut = _keep(grid.shape[0], max_rows)
    cols, cols_cut = _keep(grid.shape[1], max_cols)
    shown: list[list[sp.Basic]] = []
    for k, r in enumerate(rows):
        if rows_cut and k > 0 and r != rows[k - 1] + 1:
            shown.append(_dots_row(cols, cols_cut))
        shown.append(_cells(grid[r], cols, cols_cut))
    return sp.Matrix(shown)


def _cells(row: np.ndarray, cols: list[int], cut: bool) -> list[sp.Basic]:
    out: list[sp.Basic] = []
    for k, c in enumerate(cols):
        if cut and k > 0 and c != cols[k - 1] + 1:
            out.append(HDOTS)
        out.append(row[c])
    return out


def _dots_row(cols: list[int], cut: bool) -> list[sp.Basic]:
    out: list[sp.Basic] = []
    for k, c in enumerate(cols):
        if cut and k > 0 and c != cols[k - 1] + 1:
            out.append(DDOTS)
        out.append(VDOTS)
    return out


def fit_columns(
    array: np.ndarray,
    printed: Callable[[sp.Basic], str],
    budget_em: float = TEXT_WIDTH_EM - 6,
    max_cols: int = 10,
) -> int:
    """How many columns of `array` fit in `budget_em` when printed with `printed`.

    The widest entry of each column decides its width; an elided matrix also needs a column of
    dots, which the count leaves room for.
    """
    grid = np.asarray(array, dtype=object)
    grid = grid.reshape(-1, 1) if grid.ndim < 2 else grid
    sample_rows = sorted({0, grid.shape[0] - 1})
    widths = [
        max(tex_width(printed(grid[r, c])) for r in sample_rows) + MATRIX_COLUMN_GAP_EM
        for c in range(grid.shape[1])
    ]
    if sum(widths) <= budget_em and grid.shape[1] <= max_cols:
        return grid.shape[1]
    fitting, total = 0, 1.5  # the dots column
    for width in widths:
        if total + width > budget_em or fitting >= max_cols - 1:
            break
        fitting, total = fitting + 1, total + width
    return max(fitting, 2)


@dataclass(frozen=True)
class SumLines:
    """A sum laid out for display: its terms in lines, possibly elided with \\cdots.

    `count` is how many terms the full sum has, so the prose can say "a sum of 676 products".
    """

    lines: list[list[sp.Basic]]
    count: int
    elided: bool


def sum_lines(
    terms: Sequence[sp.Basic],
    per_line: int | Sequence[int],
    max_terms: int = 36,
    keep: tuple[int, int] = (3, 1),
) -> SumLines:
    """Split `terms` into lines of `per_line` terms (or the given line lengths).

    Sums longer than `max_terms` are shown as their first keep[0] terms, \\cdots, and their
    last keep[1] terms, on one line.
    """
    terms = list(terms)
    if len(terms) > max_terms:
        head, tail = keep
        return SumLines([[*terms[:head], HDOTS, *terms[len(terms) - tail :]]], len(terms), True)
    if isinstance(per_line, int):
        sizes = [per_line] * (-(-len(terms) // max(per_line, 1)))
    else:
        sizes = list(per_line)
    lines, start = [], 0
    for size in sizes:
        if start >= len(terms):
            break
        lines.append(terms[start : start + size])
        start += size
    if start < len(terms):
        lines.append(terms[start:])
    if len(lines) > 1 and len(lines[-1]) == 1:  # a lone last term (a bias) joins the line above
        lines[-2:] = [lines[-2] + lines[-1]]
    return SumLines(lines or [[sp.S.Zero]], len(terms), False)
