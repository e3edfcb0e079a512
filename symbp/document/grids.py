"""Grids of square cells, their coloured regions and labels: what every figure is drawn from.

A `Grid` is data (rows, columns, where it sits, which cells are coloured and labelled); the LaTeX
templates draw it with TikZ (the `grid` macro of templates/latex/figures.tex) and the Markdown
templates as lines of text (`text_grid`). Coordinates are centimetres, formatted with fixed
digits so the output is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

GRID_CM = 2.6  # the largest grid of a figure is at most this wide or tall
PAIR_SHIFT = 0.23  # two labels in one cell sit this many cell heights above and below its middle


def cm(value: float) -> str:
    """A coordinate in centimetres, as TikZ reads it."""
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
        return cm(self.x)

    @property
    def y0(self) -> str:
        return cm(self.y)

    @property
    def x1(self) -> str:
        return cm(self.x + self.width)

    @property
    def y1(self) -> str:
        return cm(self.y + self.height)

    @property
    def grid_end(self) -> tuple[str, str]:
        """Where a TikZ `grid` from the origin should end: just past the last line."""
        return cm(self.width + 0.001), cm(self.height + 0.001)

    @property
    def step(self) -> str:
        return cm(self.cell)

    @property
    def ystep(self) -> str:
        return cm(self.cell_y)

    @property
    def centre_x(self) -> str:
        return cm(self.x + self.width / 2)

    def region_box(self, region: Region) -> tuple[str, str, str, str]:
        """(x0, y0, x1, y1) of a region; row 0 is at the top."""
        return (
            cm(self.x + region.c0 * self.cell),
            cm(self.y + (self.rows - region.r1 - 1) * self.cell_y),
            cm(self.x + (region.c1 + 1) * self.cell),
            cm(self.y + (self.rows - region.r0) * self.cell_y),
        )

    @property
    def boxes(self) -> list[tuple[str, tuple[str, str, str, str]]]:
        return [(region.style, self.region_box(region)) for region in self.regions]

    def _placed(self, labels: dict[tuple[int, int], str]) -> list[tuple[str, str, str]]:
        return [
            (
                cm(self.x + (c + 0.5) * self.cell),
                cm(self.y + (self.rows - r - 0.5) * self.cell_y),
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

    @property
    def placed_lone_accents(self) -> list[tuple[str, str, str]]:
        """(x, y, text) of each accent label on a cell without a plain label."""
        return self._placed({k: v for k, v in self.accent.items() if k not in self.labels})

    @property
    def placed_pairs(self) -> list[tuple[str, str, str, str, str]]:
        """(x, y upper, y lower, accent, label) of each cell holding both labels: drawn one
        above the other, so that a cell where two factors meet shows both."""
        shift = self.cell_y * PAIR_SHIFT
        pairs = []
        for (r, c), accent in sorted(self.accent.items()):
            if (r, c) in self.labels:
                y = self.y + (self.rows - r - 0.5) * self.cell_y
                x = cm(self.x + (c + 0.5) * self.cell)
                pairs.append((x, cm(y + shift), cm(y - shift), accent, self.labels[r, c]))
        return pairs

    def role(self, r: int, c: int) -> str | None:
        """The style of the last region covering a cell (drawn last, so on top)."""
        found = None
        for region in self.regions:
            if region.r0 <= r <= region.r1 and region.c0 <= c <= region.c1:
                found = region.style
        return found


def cell_size(*extents: int, room: float = GRID_CM, largest: float = 0.45) -> float:
    return round(min(largest, room / max(extents)), 3)


def between(left: Grid, right: Grid) -> tuple[str, str]:
    """The middle of the gap between two grids side by side, at the left grid's mid-height."""
    return cm((left.x + left.width + right.x) / 2), cm(left.y + left.height / 2)


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


# ------------------------------------------------------------------ text grids (Markdown)
def text_grid(grid: Grid, marks: dict[str, str], blank: str = "·") -> list[str]:
    """The grid as lines of text, one cell per column of equal width.

    A cell shows its accent label in brackets ("[2,2]"), else its label, else the mark of its
    region (a single character), else `blank`. A cell with both labels shows its plain label
    on a second line under the accent (rows holding such cells take two lines).
    """
    texts = list(grid.labels.values()) + list(grid.accent.values())
    width = max([len(t) for t in texts] + [1]) + (2 if grid.accent else 0)
    rows = []
    for r in range(grid.rows):
        cells, under = [], []
        for c in range(grid.cols):
            if (r, c) in grid.accent:
                text = f"[{grid.accent[r, c]}]"
            elif (r, c) in grid.labels:
                text = grid.labels[r, c]
            else:
                text = marks.get(grid.role(r, c) or "", blank)
            cells.append(text.center(width))
            paired = (r, c) in grid.accent and (r, c) in grid.labels
            under.append((grid.labels[r, c] if paired else "").center(width))
        rows.append(" ".join(cells).rstrip())
        if any(u.strip() for u in under):
            rows.append(" ".join(under).rstrip())
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


TEXT_MARKS = {
    "window": "#",
    "gradient": "#",
    "target": "@",
    "padding": "0",
    "hole": "0",
    "kernel": "@",
    "quantity": ".",
}


def unlabelled(grid: Grid) -> Grid:
    """The grid without its cell labels (for text figures that would be too wide)."""
    return replace(grid, labels={}, accent={})
