"""Geometry of the document's figures: which cells of which grid are coloured, and where.

The figures teach by alignment, so their content is data: for dL/dW1[p,q], the window of X
that lines up with dL/dZ1; for dL/dX[r,c], the rotated kernel lying over the zero-padded
dL/dZ1. This module computes the grids, their coloured regions and cell labels once; the LaTeX
templates draw them with TikZ and the Markdown templates as text grids (`text_grid`).
Coordinates are centimetres, formatted with fixed digits so the output is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .spec import NetworkSpec

PANEL_GRID_CM = 2.6  # the largest grid of a panel is at most this wide or tall
LABEL_MIN_CELL_CM = 0.3  # smaller cells get no index labels


def _cm(value: float) -> str:
    return f"{value:.3f}"


@dataclass(frozen=True)
class Region:
    """Cells r0..r1 x c0..c1 (inclusive) of a grid, drawn in `style` (a TikZ style name)."""

    r0: int
    c0: int
    r1: int
    c1: int
    style: str


@dataclass(frozen=True)
class Grid:
    """A rows x cols grid of square cells with its lower-left corner at (x, y)."""

    rows: int
    cols: int
    x: float
    y: float
    cell: float
    regions: list[Region] = field(default_factory=list)
    labels: dict[tuple[int, int], str] = field(default_factory=dict)
    lines: bool = True  # draw the cell lines (not for very fine grids)
    accent: dict[tuple[int, int], str] = field(default_factory=dict)  # labels drawn in colour
    cell_height: float | None = None  # for long vectors: cells flatter than wide

    @property
    def cell_y(self) -> float:
        return self.cell if self.cell_height is None else self.cell_height

    @property
    def width(self) -> float:
        return self.cols * self.cell

    @property
    def height(self) -> float:
        return self.rows * self.cell_y

    # TikZ coordinates, as text
    @property
    def x0(self) -> str:
        return _cm(self.x)

    @property
    def y0(self) -> str:
        return _cm(self.y)

    @property
    def x1(self) -> str:
        return _cm(self.x + self.width)

    @property
    def y1(self) -> str:
        return _cm(self.y + self.height)

    @property
    def grid_end(self) -> tuple[str, str]:
        """Where a TikZ `grid` from the origin should end: just past the last line."""
        return _cm(self.width + 0.001), _cm(self.height + 0.001)

    @property
    def step(self) -> str:
        return _cm(self.cell)

    @property
    def ystep(self) -> str:
        return _cm(self.cell_y)

    @property
    def centre_x(self) -> str:
        return _cm(self.x + self.width / 2)

    def region_box(self, region: Region) -> tuple[str, str, str, str]:
        """(x0, y0, x1, y1) of a region; row 0 is at the top."""
        return (
            _cm(self.x + region.c0 * self.cell),
            _cm(self.y + (self.rows - region.r1 - 1) * self.cell_y),
            _cm(self.x + (region.c1 + 1) * self.cell),
            _cm(self.y + (self.rows - region.r0) * self.cell_y),
        )

    @property
    def boxes(self) -> list[tuple[str, tuple[str, str, str, str]]]:
        return [(region.style, self.region_box(region)) for region in self.regions]

    def _placed(self, labels: dict[tuple[int, int], str]) -> list[tuple[str, str, str]]:
        return [
            (
                _cm(self.x + (c + 0.5) * self.cell),
                _cm(self.y + (self.rows - r - 0.5) * self.cell_y),
                text,
            )
            for (r, c), text in sorted(labels.items())
        ]

    @property
    def placed_labels(self) -> list[tuple[str, str, str]]:
        """(x, y, text) of each plain cell label (not under an accent label), row-major."""
        return self._placed({k: v for k, v in self.labels.items() if k not in self.accent})

    @property
    def placed_accents(self) -> list[tuple[str, str, str]]:
        return self._placed(self.accent)

    def role(self, r: int, c: int) -> str | None:
        """The style of the last region covering a cell (drawn last, so on top)."""
        found = None
        for region in self.regions:
            if region.r0 <= r <= region.r1 and region.c0 <= c <= region.c1:
                found = region.style
        return found


def cell_size(*extents: int, room: float = PANEL_GRID_CM) -> float:
    return round(min(0.45, room / max(extents)), 3)


def _between(left: Grid, right: Grid) -> tuple[str, str]:
    """The middle of the gap between two grids side by side, at the left grid's mid-height."""
    return _cm((left.x + left.width + right.x) / 2), _cm(left.y + left.height / 2)


def index_label(i: int, j: int) -> str:
    return f"{i},{j}"


def gradient_and_target(
    image: Grid,
    gradient_shape: tuple[int, int],
    kernel_shape: tuple[int, int],
    target: tuple[int, int],
    labelled: bool,
    gap: float,
) -> tuple[Grid, Grid]:
    """The rest of a filter-gradient panel, right of its image: dZ (every cell in the sum,
    labelled by index) and the filter-sized result with the weight being computed marked."""
    (rows, cols), (kh, kw), (p, q) = gradient_shape, kernel_shape, target
    cell = image.cell
    gradient = Grid(
        rows,
        cols,
        image.width + gap,
        (image.height - rows * cell) / 2,
        cell,
        [Region(0, 0, rows - 1, cols - 1, "gradient")],
        {(i, j): index_label(i, j) for i in range(rows) for j in range(cols)} if labelled else {},
        lines=cell >= 0.12,
    )
    result_cell = max(cell, 0.3)
    result = Grid(
        kh,
        kw,
        gradient.x + gradient.width + gap,
        (image.height - kh * result_cell) / 2,
        result_cell,
        [Region(p, q, p, q, "target")],
    )
    return gradient, result


# ------------------------------------------------------------------ dL/dW1 = X ⋆ dL/dZ1
@dataclass(frozen=True)
class CorrelationPanel:
    """dL/dW1[p,q] = sum_{i,j} X[p+i, q+j] dL/dZ1[i,j]: the window of X under dL/dZ1."""

    p: int
    q: int
    image: Grid  # X, the window starting at (p, q) shaded
    gradient: Grid  # dL/dZ1
    result: Grid  # dL/dW1 with (p, q) marked
    width: str  # total width in cm

    @property
    def times_at(self) -> tuple[str, str]:
        return _between(self.image, self.gradient)

    @property
    def sum_at(self) -> tuple[str, str]:
        return _between(self.gradient, self.result)


def correlation_offsets(spec: NetworkSpec, limit: int = 4) -> list[tuple[int, int]]:
    """Filter positions shown in the figure: corners and a neighbour, without repeats."""
    kh, kw = spec.filter_shape
    wanted = [(0, 0), (0, min(1, kw - 1)), (min(1, kh - 1), kw - 1), (kh - 1, kw - 1)]
    offsets: list[tuple[int, int]] = []
    for offset in wanted:
        if offset not in offsets:
            offsets.append(offset)
    return offsets[:limit]


def correlation_panels(spec: NetworkSpec) -> list[CorrelationPanel]:
    (h, w), (ch, cw), (kh, kw) = spec.input_shape, spec.conv_shape, spec.filter_shape
    cell = cell_size(h, w)
    labelled = cell >= LABEL_MIN_CELL_CM and max(ch, cw) <= 10
    gap = 0.9
    panels = []
    for p, q in correlation_offsets(spec):
        image = Grid(
            h,
            w,
            0.0,
            0.0,
            cell,
            [Region(p, q, p + ch - 1, q + cw - 1, "window")],
            {(p + i, q + j): index_label(i, j) for i in range(ch) for j in range(cw)}
            if labelled
            else {},
            lines=cell >= 0.12,
        )
        gradient, result = gradient_and_target(image, (ch, cw), (kh, kw), (p, q), labelled, gap)
        panels.append(CorrelationPanel(p, q, image, gradient, result, _cm(result.x + result.width)))
    return panels


# ------------------------------------------------------------ dL/dX = pad(dL/dZ1) ⋆ rot180(W1)
@dataclass(frozen=True)
class ConvolutionPanel:
    """dL/dX[r,c]: the 180°-rotated kernel over the zero-padded dL/dZ1, at offset (r, c)."""

    r: int
    c: int
    padded: Grid  # the padded dL/dZ1, padding shaded, kernel window outlined
    image: Grid  # X with (r, c) marked
    width: str

    @property
    def arrow_at(self) -> tuple[str, str]:
        return _between(self.padded, self.image)


def convolution_positions(spec: NetworkSpec) -> list[tuple[int, int]]:
    """A corner (one product), and an inside position (a full kernel of products)."""
    (h, w), (kh, kw) = spec.input_shape, spec.filter_shape
    inside = (min(kh - 1, h - 1), min(kw - 1, w - 1))
    return [(0, 0), inside] if inside != (0, 0) else [(0, 0)]


def convolution_panels(spec: NetworkSpec) -> list[ConvolutionPanel]:
    (h, w), (ch, cw), (kh, kw) = spec.input_shape, spec.conv_shape, spec.filter_shape
    ph, pw = ch + 2 * (kh - 1), cw + 2 * (kw - 1)  # == (h + kh - 1, w + kw - 1)
    cell = cell_size(ph, pw, room=PANEL_GRID_CM + 0.8)
    labelled = cell >= LABEL_MIN_CELL_CM and max(ch, cw) <= 10
    panels = []
    for r, c in convolution_positions(spec):
        padding = [
            Region(0, 0, kh - 2, pw - 1, "padding"),
            Region(ph - kh + 1, 0, ph - 1, pw - 1, "padding"),
            Region(0, 0, ph - 1, kw - 2, "padding"),
            Region(0, pw - kw + 1, ph - 1, pw - 1, "padding"),
        ]
        padding = [g for g in padding if g.r0 <= g.r1 and g.c0 <= g.c1]
        labels, accent = {}, {}
        if labelled:
            labels = {
                (kh - 1 + i, kw - 1 + j): index_label(i, j) for i in range(ch) for j in range(cw)
            }
            # the turned filter: window cell (a, b) holds weight (kh-1-a, kw-1-b)
            accent = {
                (r + a, c + b): index_label(kh - 1 - a, kw - 1 - b)
                for a in range(kh)
                for b in range(kw)
            }
        padded = Grid(
            ph,
            pw,
            0.0,
            0.0,
            cell,
            [
                Region(kh - 1, kw - 1, kh - 2 + ch, kw - 2 + cw, "gradient"),
                *padding,
                Region(r, c, r + kh - 1, c + kw - 1, "kernel"),
            ],
            labels,
            lines=cell >= 0.12,
            accent=accent,
        )
        image_cell = cell_size(h, w)
        image = Grid(
            h,
            w,
            padded.width + 1.1,
            (padded.height - h * image_cell) / 2,
            image_cell,
            [Region(r, c, r, c, "target")],
            lines=image_cell >= 0.12,
        )
        panels.append(ConvolutionPanel(r, c, padded, image, _cm(image.x + image.width)))
    return panels


# ------------------------------------------------------------------ the architecture diagram
@dataclass(frozen=True)
class DiagramNode:
    """One quantity of the network drawn as a grid of its shape, centred at (x, y)."""

    name: str  # quantity name, e.g. "Z1"
    shape: tuple[int, ...]
    grid: Grid

    @property
    def shape_text(self) -> str:
        return r" \times ".join(map(str, self.shape)) if self.shape else r"1 \times 1"


def diagram_nodes(shapes: dict[str, tuple[int, ...]], names: list[str]) -> list[DiagramNode]:
    """Two rows of four quantities, each a grid scaled to at most 2 cm."""
    nodes = []
    for k, name in enumerate(names):
        shape = shapes[name]
        rows, cols = (shape + (1, 1))[:2] if len(shape) != 1 else (shape[0], 1)
        rows, cols = max(rows, 1), max(cols, 1)
        cell = round(min(0.32, 1.9 / max(rows, cols)), 3)
        cell_height = None
        if cols == 1 and rows > 1:  # a vector: keep its cells wide enough to see
            cell, cell_height = 0.32, round(min(0.32, 1.9 / rows), 3)
        cx, cy = 1.2 + (k % 4) * 4.3, -(k // 4) * 4.2
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
        nodes.append(DiagramNode(name, shape, grid))
    return nodes


@dataclass(frozen=True)
class DiagramEdge:
    """An arrow from one quantity to the next, labelled by the layer kind's operation."""

    kind: str
    path: str  # TikZ path, e.g. "(1.000,0.000) -- (3.000,0.000)"
    label_at: tuple[str, str]
    wraps: bool  # goes from the end of the first row to the start of the second


def diagram_edges(nodes: list[DiagramNode], kinds: list[str]) -> list[DiagramEdge]:
    edges = []
    for a, b, kind in zip(nodes[:-1], nodes[1:], kinds, strict=True):
        ga, gb = a.grid, b.grid
        if abs(ga.y + ga.height / 2 - (gb.y + gb.height / 2)) < 1e-9:
            y = ga.y + ga.height / 2
            x0, x1 = ga.x + ga.width + 0.15, gb.x - 0.15
            path = f"({_cm(x0)},{_cm(y)}) -- ({_cm(x1)},{_cm(y)})"
            edges.append(DiagramEdge(kind, path, (_cm((x0 + x1) / 2), _cm(y)), False))
        else:
            xa, xb = ga.x + ga.width / 2, gb.x + gb.width / 2
            top, bottom = ga.y - 0.55, gb.y + gb.height + 0.6
            middle = (top + bottom) / 2
            path = (
                f"({_cm(xa)},{_cm(top)}) -- ({_cm(xa)},{_cm(middle)}) -- "
                f"({_cm(xb)},{_cm(middle)}) -- ({_cm(xb)},{_cm(bottom)})"
            )
            edges.append(DiagramEdge(kind, path, (_cm((xa + xb) / 2), _cm(middle)), True))
    return edges


# ------------------------------------------------------------------ text grids (Markdown)
def text_grid(grid: Grid, marks: dict[str, str], blank: str = "·") -> list[str]:
    """The grid as lines of text, one cell per column of equal width.

    A cell shows its accent label in brackets ("[2,2]"), else its label, else the mark of its
    region (a single character), else `blank`.
    """
    texts = list(grid.labels.values()) + list(grid.accent.values())
    width = max([len(t) for t in texts] + [1]) + (2 if grid.accent else 0)
    rows = []
    for r in range(grid.rows):
        cells = []
        for c in range(grid.cols):
            if (r, c) in grid.accent:
                text = f"[{grid.accent[r, c]}]"
            elif (r, c) in grid.labels:
                text = grid.labels[r, c]
            else:
                text = marks.get(grid.role(r, c) or "", blank)
            cells.append(text.center(width))
        rows.append(" ".join(cells).rstrip())
    return rows


def framed(title: str, lines: list[str]) -> list[str]:
    """A text grid with its title above it."""
    return [title, *lines]


def side_by_side(blocks: list[list[str]], gap: int = 4) -> list[str]:
    """Text blocks next to each other, vertically centred."""
    height = max(len(b) for b in blocks)
    widths = [max((len(line) for line in b), default=0) for b in blocks]
    out = []
    for row in range(height):
        parts = []
        for block, width in zip(blocks, widths, strict=True):
            top = (height - len(block)) // 2
            line = block[row - top] if 0 <= row - top < len(block) else ""
            parts.append(line.ljust(width))
        out.append((" " * gap).join(parts).rstrip())
    return out
