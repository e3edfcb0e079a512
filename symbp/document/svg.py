"""The figures' `Grid` geometry as inline SVG, for the web page (the PDF draws it with TikZ).

The same `grids.Grid` objects the TikZ figures are drawn from (templates/latex/figures.tex):
positions and cell sizes in centimetres, y upwards, row 0 at the top. Here y is flipped and
centimetres become SVG units; a cell that is an element of a quantity carries `data-key`
("X:0,1,2", as `html_data.element_key`) so the page's script can light it up. Coordinates
have fixed digits: the same grids give the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from .grids import Grid

__all__ = ["SCALE", "Placed", "arrow_path", "figure_svg"]

SCALE = 56.0  # SVG units (CSS pixels at full size) per centimetre
MARGIN = 0.3  # centimetres around a figure
STATIC_STYLES = ("padding", "hole", "gradient", "quantity")  # drawn fixed; the rest by script

Key = Callable[[int, int], str | None]


@dataclass(frozen=True)
class Placed:
    """One grid of a figure: `key(r, c)` names the element a cell holds (None: padding or a
    spread zero); `name` the grid for the script; `focusable` cells are the ones to explore."""

    grid: Grid
    name: str
    key: Key
    focusable: bool = False
    labels: bool = True


def _u(value: float) -> str:
    return f"{value * SCALE:.1f}"


def _styles(grid: Grid, r: int, c: int) -> list[str]:
    return sorted(
        {
            region.style
            for region in grid.regions
            if region.style in STATIC_STYLES and region.r0 <= r <= region.r1
            if region.c0 <= c <= region.c1
        }
    )


def _cells(placed: Placed, left: float, top: float) -> list[str]:
    g = placed.grid
    out = [f'<g class="grid" data-grid="{escape(placed.name)}">']
    for r in range(g.rows):
        for c in range(g.cols):
            x = g.x + c * g.cell - left
            y = top - (g.y + (g.rows - r) * g.cell_y)
            key = placed.key(r, c)
            attrs = f' data-r="{r}" data-c="{c}"'
            if key is not None:
                attrs += f' data-key="{escape(key)}"'
                if placed.focusable:
                    attrs += f' tabindex="0" role="button" aria-label="{escape(key)}"'
            classes = " ".join(["cell", *_styles(g, r, c)])
            out.append(
                f'<rect class="{classes}"{attrs} x="{_u(x)}" y="{_u(y)}" '
                f'width="{_u(g.cell)}" height="{_u(g.cell_y)}"/>'
            )
    if placed.labels:
        size = _u(min(g.cell, g.cell_y) * 0.3)
        for lx, ly, text in g.placed_labels:
            x, y = float(lx) - left, top - float(ly)
            out.append(
                f'<text class="label" x="{_u(x)}" y="{_u(y)}" font-size="{size}">'
                f"{escape(text)}</text>"
            )
    out.append("</g>")
    return out


_POINT = re.compile(r"\(([-0-9.]+),([-0-9.]+)\)")


def arrow_path(tikz: str, left: float, top: float) -> str:
    """A TikZ path "(x,y) -- (x,y) -- …" (figures.DiagramEdge.path) as SVG points."""
    points = [(float(x), float(y)) for x, y in _POINT.findall(tikz)]
    return " ".join(f"{_u(x - left)},{_u(top - y)}" for x, y in points)


def bounds(grids: Sequence[Grid]) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) in centimetres, with the margin."""
    left = min(g.x for g in grids) - MARGIN
    bottom = min(g.y for g in grids) - MARGIN
    right = max(g.x + g.width for g in grids) + MARGIN
    top = max(g.y + g.height for g in grids) + MARGIN
    return left, bottom, right, top


def figure_svg(
    placed: Sequence[Placed], label: str, extra: Callable[[float, float], list[str]] | None = None
) -> str:
    """One <svg> holding the grids, scaled to its container's width (viewBox, no fixed size);
    `extra(left, top)` adds shapes in the same coordinates (the diagram's arrows)."""
    left, bottom, right, top = bounds([p.grid for p in placed])
    width, height = _u(right - left), _u(top - bottom)
    lines = [
        f'<svg viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(label)}" class="figure" '
        f'style="max-width:{width}px">'
    ]
    for item in placed:
        lines += _cells(item, left, top)
    if extra is not None:
        lines += extra(left, top)
    lines.append("</svg>")
    return "\n".join(lines)
