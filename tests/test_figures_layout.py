"""Figures and page layout (issue 13, "Figures" and "Cramped symbolic matrices").

Every product of an input-gradient figure readable (both factors' indices in a shared cell);
the pairs of each highlighted element's sum listed under its panel, in LaTeX and Markdown, and
checked against the indices the arithmetic gives; no figure whose labels are all alike; matrix
rows of tall entries spaced; and, compiled, each figure inside its own section and no page but a
section's last under half full, with no overfull box. Expected values come from the spec's
sizes, not from the figure code.
"""

from __future__ import annotations

import re
import subprocess
from html import unescape
from pathlib import Path

import pytest
import sympy as sp
from documents import built_documents
from latex_tools import compile_tex, require_tex_tools

from symbp.document.latex_printer import DocumentLatexPrinter
from symbp.spec.config import load_config
from symbp.spec.model import NetworkSpec

TITLE = "Backpropagation in a CNN"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SPECS = {
    "default": lambda: NetworkSpec(),
    "two-blocks": lambda: load_config(EXAMPLES / "two-blocks.toml"),
    "two-channels": lambda: NetworkSpec(channels=2, filters=2),
    # at the time of issue 13, the input-gradient figures of these two printed in Section 7
    "padded": lambda: NetworkSpec(padding=1),
    "two-channels-padded": lambda: NetworkSpec(channels=2, filters=2, padding=1),
}
COMPILED = sorted(SPECS)


@pytest.fixture(scope="module")
def built():
    return built_documents(SPECS, TITLE)


def _figure(tex: str, label: str) -> str:
    """The LaTeX of the figure environment carrying `label`."""
    for body in re.findall(r"\\begin\{figure\}.*?\\end\{figure\}", tex, re.S):
        if f"\\label{{{label}}}" in body:
            return body
    raise AssertionError(label)


_CELL_LABEL = re.compile(r"\\node\[cell label[^\]]*\] at \([^)]*\) \{([^}]*)\};")


# ------------------------------------------------ 1. both factors of every product readable
def test_every_input_figure_cell_shows_both_its_indices(built):
    """A cell where a δZ1 element meets a turned weight shows both indices (it showed only the
    weight's): each panel draws all 16 δZ1 labels and all 9 weight labels."""
    _, _, tex, md = built("default")
    figure = _figure(tex, "fig:input1")
    panels = figure.count(r"\begin{tikzpicture}")
    drawn = _CELL_LABEL.findall(figure)
    assert panels == 2
    assert len(drawn) == panels * (4 * 4 + 3 * 3)
    for i in range(4):
        for j in range(4):
            assert drawn.count(f"{i},{j}") == panels + (panels if (i, j) in _TURNED else 0)
    # Markdown: each panel (the corner, and 2,2) shows all 16 δZ1 indices besides the weights
    grids = [g for g in re.findall(r"```text\n(.*?)```", md, re.S) if "[2,2]" in g]
    assert len(grids) == 2
    for grid in grids:
        plain = re.sub(r"\[\d,\d\]", "", grid)
        assert sorted(set(re.findall(r"\b(\d,\d)\b", plain))) == [
            f"{i},{j}" for i in range(4) for j in range(4)
        ]


# weight indices (a, b) of a 3x3 filter also occur as δZ1 indices (i, j < 4): drawn twice
_TURNED = {(a, b) for a in range(3) for b in range(3)}


# ------------------------------------------------ 2. the pairs of each highlighted element
def _pairs(text: str, lhs: str) -> set[tuple[str, str]]:
    """The (first, second) factor pairs of the aligned sum that starts with `lhs &=`."""
    start = text.index(lhs + "&= ")
    end = text.index(r"\end{aligned}", start)
    body = text[start + len(lhs) + 3 : end]
    factor = r"(?:\\delta )?[a-z](?:\^\{\(\d\)\})?_\{[\d,]+\}"
    return set(re.findall(rf"({factor}) ({factor})", body))


@pytest.mark.parametrize("form", ["tex", "md"])
def test_each_figure_panel_lists_the_pairs_of_its_sum(built, form):
    _, _, tex, md = built("default")
    if form == "tex":
        text, inputs = _figure(tex, "fig:weight1"), _figure(tex, "fig:input1")
        assert text.count(r"\begin{aligned}") == 4 and inputs.count(r"\begin{aligned}") == 2
    else:  # after the text figures: the weights' ("(*)") and the inputs' (the turned filter)
        text, inputs = md[md.index("(*)") :], md[md.index("[2,2] [2,1] [2,0]") :]
    for p, q in [(0, 0), (0, 1), (1, 2), (2, 2)]:  # the weights the figure shows
        expected = {
            (f"x_{{{i + p},{j + q}}}", f"\\delta z^{{(1)}}_{{{i},{j}}}")
            for i in range(4)
            for j in range(4)
        }
        assert _pairs(text, f"\\delta w^{{(1)}}_{{{p},{q}}}") == expected, (p, q)
    expected = {
        (f"\\delta z^{{(1)}}_{{{i},{j}}}", f"w^{{(1)}}_{{{2 - i},{2 - j}}}")
        for i in range(3)
        for j in range(3)
    }
    assert _pairs(inputs, r"\delta x_{2,2}") == expected


# ------------------------------------------------ 5. no figure of identical labels
@pytest.mark.parametrize("name", ["default", "two-blocks", "two-channels"])
def test_no_figure_grid_has_all_equal_labels(built, name):
    """A window-count grid of tiling windows was all 1s; such cells now name their window."""
    _, _, tex, _ = built(name)
    pictures = re.findall(r"\\begin\{tikzpicture\}.*?\\end\{tikzpicture\}", tex, re.S)
    for picture in pictures:
        labels = _CELL_LABEL.findall(picture)
        assert len(labels) < 2 or len(set(labels)) > 1, labels[:4]


def test_tiling_pool_windows_are_labelled_by_window(built):
    _, _, tex, md = built("two-blocks")  # block 2: 2x2 average pool over 4x4, no overlap
    figure = _figure(tex, "fig:poolP2")
    labels = _CELL_LABEL.findall(figure)
    expected = [f"{r // 2},{c // 2}" for r in range(4) for c in range(4)]
    assert labels == expected
    assert "window of each cell" in md


# ------------------------------------------------ 6. matrix rows spaced
def test_matrix_rows_of_superscripted_entries_are_spaced():
    z = sp.symbols("z0:4")
    names = {s: f"z^{{(1)}}_{{{k}}}" for k, s in enumerate(z)}
    printed = DocumentLatexPrinter(names).doprint(sp.Matrix(2, 2, list(z)))
    assert printed.count(r"\\[3pt]") == 1
    plain = DocumentLatexPrinter({s: f"z_{{{k}}}" for k, s in enumerate(z)})
    assert r"\\[" not in plain.doprint(sp.Matrix(2, 2, list(z)))


def test_forward_section_matrices_are_spaced(built):
    _, _, tex, md = built("default")
    for text in (tex, md):
        matrices = re.findall(r"\\begin\{matrix\}(.*?)\\end\{matrix\}", text, re.S)
        tall = [m for m in matrices if "^{" in m and r"\\" in m]
        assert tall
        for matrix in tall:
            assert not re.search(r"\\\\(?!\[3pt\])", matrix), matrix[:120]


# ------------------------------------------------ 3, 4. compiled: floats and page fill
def _pages(pdf: Path) -> list[tuple[float, str]]:
    """Per page: how far down its body text reaches (0 top, 1 bottom), and its text."""
    boxes = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    plain = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout.split("\f")
    pages = []
    for k, page in enumerate(boxes.split("<page ")[1:]):
        height = float(re.search(r'height="([\d.]+)"', page).group(1))
        bottoms = [
            float(y)
            for y, word in re.findall(r'yMax="([\d.]+)">([^<]*)<', page)
            if float(y) < height - 80 and unescape(word).strip()  # not the page number
        ]
        top, body = 62.0, height - 2 * 62.0 - 40.0  # 2.2 cm margins, the footer
        pages.append(((max(bottoms, default=top) - top) / body, plain[k]))
    return pages


def _sections(aux: Path) -> list[tuple[str, re.Pattern[str]]]:
    """(number, the heading's title line as pdftotext writes it: the whole line, or its start
    when the title has math), from the .aux's table of contents."""
    found = re.findall(r"\{section\}\{\\numberline \{(\w+)\}([^{}]*)", aux.read_text())
    headings = []
    for number, title in found:
        words, math = title.split("$")[0].strip(), "$" in title
        headings.append((number, re.compile(rf"^{re.escape(words)}{'' if math else '$'}", re.M)))
    return headings


@pytest.fixture(scope="module")
def compiled(built, tmp_path_factory):
    require_tex_tools()
    cache: dict[str, tuple[str, str, Path]] = {}

    def get(name: str) -> tuple[str, str, Path]:
        if name not in cache:
            tex = built(name).tex
            folder = tmp_path_factory.mktemp(name)
            log, text = compile_tex(tex, folder)
            cache[name] = (tex, log, folder / "doc.pdf")
        return cache[name]

    return get


def misplaced_figures(tex: str, pdf: Path) -> list[tuple[int, str, str]]:
    """(figure, its section, the section it is printed in) of every figure printed outside
    the section whose source holds it."""
    body = tex[tex.index(r"\begin{document}") :]
    owner = []  # per figure, in order: the number of the section holding it
    for number, part in enumerate(re.split(r"\\section\{", body)):
        owner += [number] * part.count(r"\begin{figure}")
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    headings, start = [], text.index("\f")  # past the table of contents
    for number, heading in _sections(pdf.with_suffix(".aux")):
        match = heading.search(text, start)
        assert match, (number, heading.pattern)
        start = match.start()
        headings.append((start, number))
    assert [n for _, n in headings][:3] == ["1", "2", "3"]
    wrong = []
    for k, section in enumerate(owner, 1):
        at = text.index(f"Figure {k}:")
        printed = [n for start, n in headings if start < at][-1]
        if printed != str(section):
            wrong.append((k, str(section), printed))
    return wrong


def short_pages(pdf: Path) -> list[int]:
    """The pages under half full that are not the last of a section (the next page opens one)."""
    pages, headings = _pages(pdf), [h for _, h in _sections(pdf.with_suffix(".aux"))]

    def opens_a_section(text: str) -> bool:  # its first lines hold a section's title
        head = "\n".join(text.strip().splitlines()[:3])
        return any(h.search(head) for h in headings)

    return [
        k + 1
        for k, (fill, _) in enumerate(pages[:-1])
        if fill < 0.5 and not opens_a_section(pages[k + 1][1])
    ]


@pytest.mark.parametrize("name", sorted(COMPILED))
def test_each_figure_appears_in_its_own_section(compiled, name):
    """A figure floated past the next section's heading (the input-gradient figure of a
    padded network, one channel or two, printed after Section 7's heading)."""
    tex, log, pdf = compiled(name)
    assert len(re.findall(r"^Overfull \\[hv]box", log, re.M)) == 0
    assert misplaced_figures(tex, pdf) == []


@pytest.mark.parametrize("name", sorted(COMPILED))
def test_no_page_but_a_sections_last_is_under_half_full(compiled, name):
    _, _, pdf = compiled(name)
    assert short_pages(pdf) == []
