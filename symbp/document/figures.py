"""What the figures show: the network's diagram, and each conv block's two patterns.

- The diagram: every quantity as a grid of its rows and columns (channels stacked behind),
  every layer an arrow.
- dW[k, c, p, q]: the cells of the zero-padded input that meet weight (p, q), one every
  `stride` cells, each multiplied by the dZ[k] element of the same label;
- dX[c, r, s]: dZ[k] dilated by the stride (zeros between its elements), padded by the filter
  size minus one, under the filter turned by 180 degrees; the result, before the padding is
  cropped, with the cropped ring shaded.

Pools whose windows overlap or average get a grid of their input with two windows and, in each
cell, the number of windows that hold it (the number of terms its gradient collects). Everything
is computed from the spec's `BlockGeometry` as `grids.Grid` data; the templates draw it with
TikZ (templates/latex/figures.tex) and as text grids.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from symbp.spec.model import BlockGeometry
from symbp.symbolic.patterns import window_cells

from .grids import (
    TEXT_MARKS,
    Grid,
    Region,
    between,
    cell_size,
    cm,
    framed,
    gradient_and_target,
    index_label,
    side_by_side,
    text_grid,
    unlabelled,
)

WEIGHT_CM = 3.4  # the input grid of a filter-gradient panel is at most this wide or tall
SPREAD_CM = 4.15  # the spread gradient grid of an input-gradient panel
RESULT_CM = 2.4  # the result grid of an input-gradient panel
POOL_CM = 4.0
LABEL_MIN_CM = 0.42  # smaller cells get no index labels (7 pt labels "3,3" need this much)
PAIR_CELL_CM = 0.56  # input-panel cells hold two 7 pt labels, one above the other ...
PAIR_MIN_CM = 0.5  # ... which needs at least this much (else no labels)
GAP_CM = 0.9
PANEL_MAX_CM = 7.8  # unlabelled filter-gradient panels shrink to this width (two to a row)
POOL_MARKS = {"window": "#", "kernel": "+", "both": "%", "quantity": "."}
DIAGRAM_ROW = 4  # quantities per row of the diagram


def _ring(rows: int, cols: int, width: int, style: str) -> list[Region]:
    """The outer `width` rows and columns of a rows x cols grid."""
    if width <= 0:
        return []
    bands = [
        Region(0, 0, width - 1, cols - 1, style),
        Region(rows - width, 0, rows - 1, cols - 1, style),
        Region(0, 0, rows - 1, width - 1, style),
        Region(0, cols - width, rows - 1, cols - 1, style),
    ]
    return [b for b in bands if b.r0 <= b.r1 and b.c0 <= b.c1]


# ------------------------------------------------------------ dW = pad(X) ⋆ dilate(dZ)
@dataclass(frozen=True)
class WeightPanel:
    """dW[k, c, p, q]: the input cells (stride apart) that weight (p, q) meets."""

    p: int
    q: int
    image: Grid  # the zero-padded input channel; the cells meeting (p, q) shaded and labelled
    gradient: Grid  # dZ of filter k, cells labelled
    result: Grid  # dW[k, c] with (p, q) marked
    width: str
    meets_padding: int  # how many of the products fall on padding zeros

    @property
    def times_at(self) -> tuple[str, str]:
        return between(self.image, self.gradient)

    @property
    def sum_at(self) -> tuple[str, str]:
        return between(self.gradient, self.result)

    def text(self, image: str, gradient: str, result: str, labels: bool = True) -> list[str]:
        shown = (lambda g: g) if labels else unlabelled
        return side_by_side(
            [
                framed(image, text_grid(shown(self.image), TEXT_MARKS)),
                ["", "  (*)  "],
                framed(gradient, text_grid(shown(self.gradient), TEXT_MARKS)),
                ["", "  ->  "],
                framed(result, text_grid(self.result, TEXT_MARKS)),
            ]
        )


def weight_offsets(geometry: BlockGeometry) -> list[tuple[int, int]]:
    """The weights shown: the first, its right neighbour, one a row down, and the last."""
    kh, kw = geometry.block.filter_shape
    wanted = [(0, 0), (0, min(1, kw - 1)), (min(1, kh - 1), kw - 1), (kh - 1, kw - 1)]
    return list(dict.fromkeys(wanted))


def weight_panels(geometry: BlockGeometry) -> list[WeightPanel]:
    block = geometry.block
    _, h, w = geometry.input
    _, oh, ow = geometry.conv
    (kh, kw), step, pad = block.filter_shape, block.stride, block.padding
    hp, wp = h + 2 * pad, w + 2 * pad
    cell = cell_size(hp, wp, room=WEIGHT_CM)
    labelled = cell >= LABEL_MIN_CM and max(oh, ow) <= 10
    if not labelled:  # nothing to read in the cells: small enough for two panels a row
        fitting = (PANEL_MAX_CM - 2 * GAP_CM - kw * 0.3) / (wp + ow)
        cell = min(cell, max(round(fitting, 3), 0.05))
    panels = []
    for p, q in weight_offsets(geometry):
        met = [(i * step + p, j * step + q, i, j) for i in range(oh) for j in range(ow)]
        if step == 1:  # one block of cells
            window = [Region(p, q, p + oh - 1, q + ow - 1, "window")]
        else:  # cells `step` apart
            window = [Region(r, c, r, c, "window") for r, c, _, _ in met]
        in_padding = sum(1 for r, c, _, _ in met if not (pad <= r < pad + h and pad <= c < pad + w))
        image = Grid(
            hp,
            wp,
            0.0,
            0.0,
            cell,
            [*_ring(hp, wp, pad, "padding"), *window],
            {(r, c): index_label(i, j) for r, c, i, j in met} if labelled else {},
            lines=cell >= 0.12,
        )
        gradient, result = gradient_and_target(image, (oh, ow), (kh, kw), (p, q), labelled, GAP_CM)
        panels.append(
            WeightPanel(p, q, image, gradient, result, cm(result.x + result.width), in_padding)
        )
    return panels


# ------------------------------------------- dX = crop(pad(dilate(dZ)) ⋆ rot180(W))
@dataclass(frozen=True)
class InputPanel:
    """dX[c, r, s]: the turned filter over the dilated, padded dZ, then the crop."""

    r: int
    s: int
    spread: Grid  # dZ dilated by the stride, padded by the filter size - 1; the kernel window
    result: Grid  # the full result (padded input size); the cropped ring shaded, (r, s) marked
    width: str
    products: int  # how many window cells hold a dZ element (non-zero products)

    @property
    def arrow_at(self) -> tuple[str, str]:
        return between(self.spread, self.result)

    def text(self, spread: str, result: str, labels: bool = True) -> list[str]:
        grid = self.spread if labels else unlabelled(self.spread)
        return side_by_side(
            [
                framed(spread, text_grid(grid, TEXT_MARKS)),
                ["", "  ->  "],
                framed(result, text_grid(self.result, TEXT_MARKS)),
            ]
        )


def _turned_filter_labels(
    holds: dict[tuple[int, int], tuple[int, int]],
    corner: tuple[int, int],
    kernel: tuple[int, int],
    labelled: bool,
) -> tuple[dict[tuple[int, int], str], dict[tuple[int, int], str]]:
    """(labels, accents): each dZ cell's index, and over the window at `corner` the index of
    the weight the turned filter puts there."""
    if not labelled:
        return {}, {}
    (top, left), (kh, kw) = corner, kernel
    labels = {cell: index_label(*index) for cell, index in holds.items()}
    accent = {
        (top + a, left + b): index_label(kh - 1 - a, kw - 1 - b)
        for a in range(kh)
        for b in range(kw)
    }
    return labels, accent


def input_panels(geometry: BlockGeometry, positions: list[tuple[int, int]]) -> list[InputPanel]:
    """One panel per input position (row, column), e.g. a corner and one with most products."""
    block = geometry.block
    _, h, w = geometry.input
    _, oh, ow = geometry.conv
    (kh, kw), step, pad = block.filter_shape, block.stride, block.padding
    hp, wp = h + 2 * pad, w + 2 * pad
    rows, cols = hp + kh - 1, wp + kw - 1  # dilated to (hp - kh + 1), padded by kh - 1
    cell = cell_size(rows, cols, room=SPREAD_CM, largest=PAIR_CELL_CM)
    labelled = cell >= PAIR_MIN_CM and max(oh, ow) <= 10
    holds = {(kh - 1 + i * step, kw - 1 + j * step): (i, j) for i in range(oh) for j in range(ow)}
    inner = Region(kh - 1, kw - 1, rows - kh, cols - kw, "hole")
    panels = []
    for r, s in positions:
        top, left = r + pad, s + pad  # the window's corner in the spread grid
        window = {(top + a, left + b) for a in range(kh) for b in range(kw)}
        labels, accent = _turned_filter_labels(holds, (top, left), (kh, kw), labelled)
        spread = Grid(
            rows,
            cols,
            0.0,
            0.0,
            cell,
            [
                *_ring(rows, cols, kh - 1, "padding"),
                inner,
                *(Region(a, b, a, b, "gradient") for (a, b) in holds),
                Region(top, left, top + kh - 1, left + kw - 1, "kernel"),
            ],
            labels,
            lines=cell >= 0.12,
            accent=accent,
        )
        result_cell = cell_size(hp, wp, room=RESULT_CM)
        result = Grid(
            hp,
            wp,
            spread.width + 1.1,
            (spread.height - hp * result_cell) / 2,
            result_cell,
            [*_ring(hp, wp, pad, "padding"), Region(top, left, top, left, "target")],
            lines=result_cell >= 0.12,
        )
        panels.append(
            InputPanel(
                r,
                s,
                spread,
                result,
                cm(result.x + result.width),
                sum(1 for cell_ in window if cell_ in holds),
            )
        )
    return panels


# ------------------------------------------------------------------ pool windows
@dataclass(frozen=True)
class PoolPanel:
    """One channel of a pool's input: two neighbouring windows, and per cell its window count."""

    grid: Grid
    size: int
    step: int
    windows: int  # how many windows the pool has (per channel)
    most: int  # the largest number of windows holding one cell
    width: str
    labelled_by: str = "count"  # labels: "count" (windows per cell) or "window" (its index)

    def text(self, title: str) -> list[str]:
        """The windows (marks) and the window counts (numbers), side by side."""
        marks = replace(self.grid, labels={})
        blocks = [framed(title, text_grid(marks, POOL_MARKS))]
        if self.grid.labels:
            heading = "windows per cell" if self.labelled_by == "count" else "window of each cell"
            blocks += [["", "    "], framed(heading, text_grid(self.grid, {}))]
        return side_by_side(blocks)


def pool_panel(geometry: BlockGeometry) -> PoolPanel:
    block = geometry.block
    _, rows, cols = geometry.conv
    size, step = block.pool_size, block.pool_step
    windows = window_cells(rows, cols, size, step)
    counts: dict[tuple[int, int], int] = {}
    for cells in windows.values():
        for cell_ in cells:
            counts[cell_] = counts.get(cell_, 0) + 1
    cell = cell_size(rows, cols, room=POOL_CM)
    regions = [
        Region(0, 0, rows - 1, cols - 1, "quantity"),
        Region(0, 0, size - 1, size - 1, "window"),
    ]
    if (0, 1) in windows:
        regions.append(Region(0, step, size - 1, step + size - 1, "kernel"))
        if step < size:
            regions.append(Region(0, step, size - 1, size - 1, "both"))
    labels = _pool_labels(windows, counts) if cell >= LABEL_MIN_CM else {}
    grid = Grid(rows, cols, 0.0, 0.0, cell, regions, labels, lines=cell >= 0.12)
    by = "count" if len(set(counts.values())) > 1 else "window"
    return PoolPanel(grid, size, step, len(windows), max(counts.values()), cm(grid.width), by)


def _pool_labels(
    windows: dict[tuple[int, int], list[tuple[int, int]]], counts: dict[tuple[int, int], int]
) -> dict[tuple[int, int], str]:
    """Each cell's window count; when every count is the same (windows that tile the input)
    that says nothing, so each cell shows the index of the one window holding it instead."""
    if len(set(counts.values())) > 1:
        return {c: str(n) for c, n in counts.items()}
    return {cell_: index_label(*at) for at, cells in windows.items() for cell_ in cells}


# ------------------------------------------------------------------ the architecture diagram
@dataclass(frozen=True)
class DiagramNode:
    """One quantity of the network drawn as a grid of its rows and columns, centred at (x, y);
    a quantity with several channels has `depth` > 1 (up to two more frames drawn behind)."""

    name: str  # quantity name, e.g. "Z1"
    shape: tuple[int, ...]
    grid: Grid
    depth: int

    @property
    def shape_text(self) -> str:
        return r" \times ".join(map(str, self.shape)) if self.shape else r"1 \times 1"

    @property
    def behind(self) -> list[tuple[str, str, str, str]]:
        """(x0, y0, x1, y1) of the frames standing for the other channels, back to front."""
        g = self.grid
        frames = min(self.depth, 3) - 1
        return [
            (
                cm(g.x + 0.12 * k),
                cm(g.y + 0.12 * k),
                cm(g.x + g.width + 0.12 * k),
                cm(g.y + g.height + 0.12 * k),
            )
            for k in range(frames, 0, -1)
        ]


def _rows_cols(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(rows, columns, channels) a quantity is drawn with."""
    if len(shape) == 3:
        return shape[1], shape[2], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1], 1
    return (shape[0] if shape else 1), 1, 1


def diagram_nodes(shapes: dict[str, tuple[int, ...]], names: list[str]) -> list[DiagramNode]:
    """Rows of four quantities, each a grid scaled to at most 2 cm."""
    nodes = []
    for k, name in enumerate(names):
        rows, cols, depth = _rows_cols(shapes[name])
        rows, cols = max(rows, 1), max(cols, 1)
        cell = round(min(0.32, 1.9 / max(rows, cols)), 3)
        cell_height = None
        if cols == 1 and rows > 1:  # a vector: keep its cells wide enough to see
            cell, cell_height = 0.32, round(min(0.32, 1.9 / rows), 3)
        cx, cy = 1.2 + (k % DIAGRAM_ROW) * 4.3, -(k // DIAGRAM_ROW) * 4.2
        height = rows * (cell if cell_height is None else cell_height)
        grid = Grid(
            rows,
            cols,
            cx - cols * cell / 2,
            cy - height / 2,
            cell,
            [Region(0, 0, rows - 1, cols - 1, "quantity")],
            lines=min(cell, cell_height or cell) >= 0.1,
            cell_height=cell_height,
        )
        nodes.append(DiagramNode(name, shapes[name], grid, depth))
    return nodes


@dataclass(frozen=True)
class DiagramEdge:
    """An arrow from one quantity to the next, labelled by the layer's operation."""

    layer: int  # the layer's place in the pipeline
    path: str  # TikZ path, e.g. "(1.000,0.000) -- (3.000,0.000)"
    label_at: tuple[str, str]
    wraps: bool  # goes from the end of one row to the start of the next


def diagram_edges(nodes: list[DiagramNode]) -> list[DiagramEdge]:
    edges = []
    for layer, (a, b) in enumerate(zip(nodes[:-1], nodes[1:], strict=False)):
        ga, gb = a.grid, b.grid
        if abs(ga.y + ga.height / 2 - (gb.y + gb.height / 2)) < 1e-9:
            y = ga.y + ga.height / 2
            x0, x1 = ga.x + ga.width + 0.15, gb.x - 0.15
            path = f"({cm(x0)},{cm(y)}) -- ({cm(x1)},{cm(y)})"
            edges.append(DiagramEdge(layer, path, (cm((x0 + x1) / 2), cm(y)), False))
        else:
            xa, xb = ga.x + ga.width / 2, gb.x + gb.width / 2
            top, bottom = ga.y - 0.55, gb.y + gb.height + 0.6
            middle = (top + bottom) / 2
            path = (
                f"({cm(xa)},{cm(top)}) -- ({cm(xa)},{cm(middle)}) -- "
                f"({cm(xb)},{cm(middle)}) -- ({cm(xb)},{cm(bottom)})"
            )
            edges.append(DiagramEdge(layer, path, (cm((xa + xb) / 2), cm(middle)), True))
    return edges
