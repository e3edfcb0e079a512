"""The chapter as one self-contained, interactive web page (`symbp derive --format html`).

The text is the Markdown document (`render_markdown`), so there is no third template family:
its math spans are converted to MathML by latex2mathml and its Markdown to HTML by
markdown-it-py (both pure Python, the `html` extra). The math is already SymPy's LaTeX printer
output in the document's notation, so converting that LaTeX keeps one source of truth; SymPy's
own MathML printer would print the expressions again, apart from the prose around them. Browsers
lay MathML out natively: no script, font or network at view time.

The figures are inline SVG of the `Grid` geometry the TikZ figures use (`svg.py`); what a cell
lights up comes from the derivation's sums of products (`html_data.py`), embedded as JSON and
read by a small script. CSS and script are inline: the page is one file. Same input, same bytes.
"""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import replace
from functools import partial
from html import escape
from typing import Any

from symbp.spec.kinds import KINDS
from symbp.spec.naming import tex_name
from symbp.symbolic.derivation import Derivation, quantity_shapes

from .figures import diagram_edges, diagram_nodes, input_panels, weight_panels
from .grids import Grid, cell_size
from .html_data import element_key, interaction_data
from .ipynb import MissingExtraError
from .render import environment
from .svg import SCALE, Placed, arrow_path, figure_svg

__all__ = ["EXTRA_HINT", "MissingExtraError", "chapter_html", "render_html", "require_html"]

EXTRA_HINT = (
    "--format html needs markdown-it-py and latex2mathml, which are not installed: "
    "pip install 'symbp[html]'"
)
GAP = 0.6  # centimetres between stacked channel grids

_INLINE = re.compile(r"\$`([^`]+)`\$")
_DISPLAY = re.compile(r"^([ \t]*)```math\n(.*?)\n[ \t]*```$", re.MULTILINE | re.DOTALL)
_TOKEN = re.compile(r"SYMBPMATH(\d+)Z")
_PARAGRAPH_TOKEN = re.compile(r"<p>SYMBPMATH(\d+)Z</p>")


# What latex2mathml lays out as a table: `aligned` as `align*` (alternating right and left
# columns, as LaTeX's), `gathered` as one centred column; a row's extra space `\\[6pt]` dropped
_ENVIRONMENTS = (
    (r"\begin{aligned}", r"\begin{align*}"),
    (r"\end{aligned}", r"\end{align*}"),
    (r"\begin{gathered}", r"\begin{array}{c}"),
    (r"\end{gathered}", r"\end{array}"),
)
_ROW_SPACE = re.compile(r"\\\\\[[^\]]*\]")


def mathml_ready(latex: str) -> str:
    """The document's LaTeX in the forms latex2mathml turns into MathML tables."""
    for old, new in _ENVIRONMENTS:
        latex = latex.replace(old, new)
    return _ROW_SPACE.sub(r"\\\\", latex).strip()


def require_html() -> tuple[Any, Any]:
    """(markdown_it, latex2mathml.converter), imported; MissingExtraError naming the extra."""
    try:
        return (
            importlib.import_module("markdown_it"),
            importlib.import_module("latex2mathml.converter"),
        )
    except ImportError:
        raise MissingExtraError(EXTRA_HINT) from None


def chapter_html(markdown: str) -> str:
    """The GitHub-form Markdown document as HTML with MathML: every $`…`$ and ```math block
    is set aside, the rest converted by markdown-it (raw HTML in it escaped), then put back."""
    markdown_it, converter = require_html()
    maths: list[str] = []

    def keep(latex: str, display: bool) -> str:
        mathml = converter.convert(mathml_ready(latex), display="block" if display else "inline")
        maths.append(mathml)
        return f"SYMBPMATH{len(maths) - 1}Z"

    text = _DISPLAY.sub(lambda m: f"\n{m[1]}{keep(m[2], True)}\n", markdown)
    text = _INLINE.sub(lambda m: keep(m[1], False), text)
    parser = markdown_it.MarkdownIt("commonmark", {"html": False}).enable("table")
    body = parser.render(text)
    body = _PARAGRAPH_TOKEN.sub(lambda m: f'<div class="display">{maths[int(m[1])]}</div>', body)
    return _TOKEN.sub(lambda m: maths[int(m[1])], body)


def math(latex: str, display: bool = False) -> str:
    """One formula as MathML."""
    _, converter = require_html()
    return str(converter.convert(mathml_ready(latex), display="block" if display else "inline"))


def _stacked(grid: Grid, n: int) -> Grid:
    """The n-th copy of a grid, one grid height (and a gap) lower: channels one under another."""
    return replace(grid, y=grid.y - n * (grid.height + GAP))


def _cell_key(name: str, lead: tuple[int, ...], r: int, s: int) -> str:
    """The key of cell (r, s) of one channel's grid: 'dZ1:0,r,s'."""
    return element_key(name, (*lead, r, s))


def _inner_key(name: str, c: int, pad: int, size: tuple[int, int], r: int, s: int) -> str | None:
    """Cell (r, s) of a padded grid: the element it holds, None on the padding."""
    i, j = r - pad, s - pad
    return element_key(name, (c, i, j)) if 0 <= i < size[0] and 0 <= j < size[1] else None


def _no_key(r: int, s: int) -> None:
    return None


def weight_figure(d: Derivation, data: dict[str, Any]) -> str:
    """δW: the padded input (per channel), δZ (per filter), δW (per filter and channel)."""
    geometry = d.spec.geometry[0]
    channels, h, w = geometry.input
    filters = geometry.conv[0]
    pad = geometry.block.padding
    panel = weight_panels(geometry)[0]
    image = replace(panel.image, labels={})
    x, dz, dw = data["input"], data["gradient"], "d" + data["weight"]
    placed = []
    for c in range(channels):
        placed.append(
            Placed(
                _stacked(image, c),
                f"{x}:{c}",
                partial(_inner_key, x, c, pad, (h, w)),
            )
        )
    for k in range(filters):
        placed.append(
            Placed(_stacked(panel.gradient, k), f"{dz}:{k}", partial(_cell_key, dz, (k,)))
        )
    result = replace(panel.result, regions=[])
    for k in range(filters):
        for c in range(channels):
            placed.append(
                Placed(
                    _stacked(result, k * channels + c),
                    f"{dw}:{k},{c}",
                    partial(_cell_key, dw, (k, c)),
                    focusable=True,
                )
            )
    return figure_svg(placed, "the filter gradient: input, output gradient, filter gradient")


def input_figure(d: Derivation, data: dict[str, Any]) -> str:
    """δX: δZ dilated and padded (per filter), the full result with its cropped ring."""
    geometry = d.spec.geometry[0]
    channels, h, w = geometry.input
    filters = geometry.conv[0]
    (kh, kw), step, pad = geometry.block.filter_shape, geometry.block.stride, geometry.block.padding
    panel = input_panels(geometry, [(0, 0)])[0]
    dz, dx = data["gradient"], "d" + data["input"]

    def held(k: int, r: int, s: int) -> str | None:
        i, ri = divmod(r - (kh - 1), step)
        j, rj = divmod(s - (kw - 1), step)
        ok = r >= kh - 1 and s >= kw - 1 and ri == rj == 0
        oh, ow = geometry.conv[1:]
        return element_key(dz, (k, i, j)) if ok and i < oh and j < ow else None

    spread = replace(panel.spread, accent={})
    placed = [Placed(_stacked(spread, k), f"{dz}:{k}", partial(held, k)) for k in range(filters)]
    result = replace(panel.result, regions=[r for r in panel.result.regions if r.style != "target"])
    for c in range(channels):
        placed.append(
            Placed(
                _stacked(result, c),
                f"{dx}:{c}",
                partial(_inner_key, dx, c, pad, (h, w)),
                focusable=True,
            )
        )
    return figure_svg(placed, "the input gradient: spread output gradient, full result, crop")


def pool_figure(d: Derivation, data: dict[str, Any]) -> str | None:
    """Max-pool: its input (per channel), each window's winner lit on demand, and its output."""
    pool = data["pool"]
    if pool is None:
        return None
    shapes = quantity_shapes(d.spec)
    rows, cols = shapes[pool["input"]][-2:]
    out_rows, out_cols = shapes[pool["output"]][-2:]
    channels = 1 if len(shapes[pool["input"]]) < 3 else shapes[pool["input"]][0]
    cell = cell_size(rows, cols, room=3.4)
    a = Grid(rows, cols, 0.0, 0.0, cell)
    p = Grid(out_rows, out_cols, a.width + 1.0, (a.height - out_rows * cell) / 2, cell)
    placed = []
    for k in range(channels):
        name, out = pool["input"], pool["output"]
        placed.append(Placed(_stacked(a, k), f"{name}:{k}", partial(_cell_key, name, (k,))))
        placed.append(
            Placed(
                replace(p, y=p.y - k * (a.height + GAP)),
                f"{out}:{k}",
                partial(_cell_key, out, (k,)),
                focusable=True,
            )
        )
    return figure_svg(placed, "max-pool windows and their winning cells")


def diagram_figure(d: Derivation) -> str:
    """The network, one grid per quantity (the PDF's diagram), each named for the step control."""
    names = [d.stages[0].input, *(stage.output for stage in d.stages)]
    nodes = diagram_nodes(quantity_shapes(d.spec), names)
    edges = diagram_edges(nodes)
    placed = [Placed(node.grid, f"node:{node.name}", _no_key) for node in nodes]

    def arrows(left: float, top: float) -> list[str]:
        lines = [
            f'<polyline class="edge" points="{arrow_path(edge.path, left, top)}"/>'
            for edge in edges
        ]
        for node in nodes:
            g = node.grid
            x, y = (g.x + g.width / 2 - left) * SCALE, (top - g.y + 0.45) * SCALE
            lines.append(
                f'<text class="name" x="{x:.1f}" y="{y:.1f}">{escape(_plain(node.name))}</text>'
            )
        return lines

    return figure_svg(placed, "the network, quantity by quantity", extra=arrows)


_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _plain(name: str) -> str:
    """'Z1' -> 'Z₁': a quantity's name as text inside SVG, where MathML cannot go."""
    stem = name.rstrip("0123456789")
    return stem + name[len(stem) :].translate(_SUBSCRIPTS)


def chain_steps(d: Derivation) -> list[dict[str, Any]]:
    """From L back to the first block's input, one layer per step: which quantities it joins
    and the derivative it gives, as MathML."""
    steps = []
    for stage in reversed(d.stages):
        then = r",\ ".join(
            r"\frac{\partial L}{\partial " + tex_name(name) + "}"
            for name in (*(p for p in stage.params if p in d.parameter_names), stage.input)
        )
        nodes = [stage.output, stage.input]
        steps.append(
            {
                "nodes": nodes,
                "title": escape(KINDS[stage.kind].title),
                "math": math(then),
            }
        )
    return steps


def _json(data: Any) -> str:
    """JSON for a <script> block: sorted keys, and no "</" that could close the element."""
    return json.dumps(data, sort_keys=True, separators=(",", ":")).replace("</", "<\\/")


def render_html(d: Derivation, markdown: str, title: str) -> str:
    """The page: `markdown` is the chapter in GitHub form (`build.render_markdown`)."""
    require_html()
    data = interaction_data(d)
    steps = chain_steps(d)
    data["steps"] = [step["nodes"] for step in steps]
    data["labels"] = {key: math(latex) for key, latex in data["labels"].items()}
    context = {
        "title": escape(title),
        "chapter": chapter_html(markdown).partition("<h2>"),
        "diagram": diagram_figure(d),
        "steps": steps,
        "weight_svg": weight_figure(d, data),
        "input_svg": input_figure(d, data),
        "pool_svg": pool_figure(d, data),
        "data": _json(data),
        "m": {
            "dw": math(r"\delta " + tex_name(data["weight"])),
            "dx": math(r"\delta " + tex_name(data["input"])),
            "dz": math(r"\delta " + tex_name(data["gradient"][1:])),
            "x": math(tex_name(data["input"])),
        },
        "pool": data["pool"],
        "block": d.spec.blocks[0],
    }
    return environment().get_template("html/page.html").render(**context)
