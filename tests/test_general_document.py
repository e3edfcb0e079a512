"""The document of networks beyond the teaching one (channels, filters, stride, padding, other
activations and pools, several blocks): the same document family, checked here on the facts
that only such networks have.

Facts are computed here independently of the document code (shapes and parameter counts from
the conv arithmetic, which input cells a weight meets, how many products fall on padding) and
compared with what the rendered LaTeX and Markdown print; the LaTeX is compiled with pdflatex
for three of the specs. (What every document must be, for every network, is in
test_document.py.)
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from latex_tools import compile_tex, require_tex_tools

from symbp.document.build import render_document, render_markdown
from symbp.document.render import escape_markdown, escape_tex
from symbp.proofs import Proof, prove_all
from symbp.spec.model import ConvBlock, NetworkSpec
from symbp.symbolic.derivation import derive

SPECS = {
    "rgb-strided": NetworkSpec(input_shape=(7, 7), channels=2, filters=2, stride=2, padding=1),
    "leaky-overlap": NetworkSpec(
        input_shape=(8, 8), pool_size=3, pool_stride=1, activation="leaky_relu"
    ),
    "tanh-avg": NetworkSpec(input_shape=(6, 6), activation="tanh", pool_type="avg"),
    "sigmoid-nopool": NetworkSpec(
        input_shape=(6, 6), activation="sigmoid", pool_type="none", stride=2, padding=1
    ),
    "two-blocks": NetworkSpec(
        input_shape=(10, 10),
        channels=2,
        blocks=(
            ConvBlock(filters=2, padding=1),
            ConvBlock(filters=2, stride=2, activation="identity", pool_type="avg"),
        ),
    ),
}
COMPILED = ("rgb-strided", "leaky-overlap", "two-blocks")
TITLE = "General backpropagation"
HOSTILE_TITLE = r"\input{secret.txt} 50% & $x$ #1"


@pytest.fixture(scope="module")
def documents():
    """Each spec's derivation, proofs, LaTeX and Markdown, built once."""
    built = {}
    for name, spec in SPECS.items():
        d = derive(spec)
        proofs = prove_all(d)
        built[name] = (
            d,
            proofs,
            render_document(d, proofs, TITLE),
            render_markdown(d, proofs, TITLE),
        )
    return built


# ------------------------------------------------------------------ independent arithmetic
def independent_shapes(spec: NetworkSpec) -> list[dict[str, tuple[int, ...]]]:
    """Per block: input, filter bank, conv output and block output, from the conv formula."""
    rows = []
    c, (h, w) = spec.channels, spec.input_shape
    for block in spec.blocks:
        (kh, kw), s, p, k = block.filter_shape, block.stride, block.padding, block.filters
        oh, ow = (h + 2 * p - kh) // s + 1, (w + 2 * p - kw) // s + 1
        if block.pool_type == "none":
            ph, pw = oh, ow
        else:
            size, step = block.pool_size, block.pool_stride or block.pool_size
            ph, pw = (oh - size) // step + 1, (ow - size) // step + 1
        rows.append(
            {"input": (c, h, w), "filters": (k, c, kh, kw), "conv": (k, oh, ow), "out": (k, ph, pw)}
        )
        c, h, w = k, ph, pw
    return rows


def independent_parameters(spec: NetworkSpec) -> list[int]:
    sizes = []
    shapes = independent_shapes(spec)
    for row in shapes:
        sizes += [math.prod(row["filters"]), row["filters"][0]]
    return [*sizes, math.prod(shapes[-1]["out"]), 1]


def times(shape: tuple[int, ...]) -> str:
    return r" \times ".join(map(str, shape))


def met_cells(spec: NetworkSpec, p: int, q: int) -> list[tuple[int, int, int, int]]:
    """(row, col, i, j): the padded-away-or-not input cell weight (p, q) meets in output (i, j)."""
    block = spec.blocks[0]
    (h, w), s, pad = spec.input_shape, block.stride, block.padding
    kh, kw = block.filter_shape
    oh, ow = (h + 2 * pad - kh) // s + 1, (w + 2 * pad - kw) // s + 1
    return [(i * s + p - pad, j * s + q - pad, i, j) for i in range(oh) for j in range(ow)]


def products_at(spec: NetworkSpec, r: int, c: int) -> int:
    """How many dZ elements of one filter meet input (r, c): outputs whose window covers it."""
    block = spec.blocks[0]
    (h, w), s, pad = spec.input_shape, block.stride, block.padding
    kh, kw = block.filter_shape
    oh, ow = (h + 2 * pad - kh) // s + 1, (w + 2 * pad - kw) // s + 1
    rows = sum(1 for i in range(oh) if 0 <= r + pad - i * s < kh)
    cols = sum(1 for j in range(ow) if 0 <= c + pad - j * s < kw)
    return rows * cols


def indices(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in text.split(","))


def display_row(tex: str, lhs: str) -> str:
    """The aligned display row `lhs&= ...` up to the next row or the end of the display."""
    match = re.search(re.escape(lhs) + r" ?&=", tex)
    assert match, lhs
    start = match.start()
    ends = [tex.find(mark, start) for mark in (r"\\[3pt]", r"\end{align*}", r"\end{aligned}")]
    return tex[start : min(e for e in ends if e >= 0)]


# ------------------------------------------------------------------ the network
@pytest.mark.parametrize("name", sorted(SPECS))
def test_parameter_counts_and_shapes_are_the_specs(documents, name):
    d, _, tex, md = documents[name]
    sizes = independent_parameters(d.spec)
    assert sum(sizes) == d.spec.parameter_count
    breakdown = " + ".join(map(str, sizes))
    assert tex.count(breakdown) == 1 and md.count(breakdown) == 1  # stated once, in the table
    assert f"Total trainable parameters: {sum(sizes)} $= {breakdown}$}} \\\\" in tex
    assert f"**{sum(sizes)}** = {breakdown} |" in md
    shapes = independent_shapes(d.spec)
    # the block table is there when the layer table cannot say it all: filter banks (several
    # channels or filters), stride, padding, several blocks; else the layer table has the shapes
    banks = any(row["filters"][0] > 1 or row["filters"][1] > 1 for row in shapes)
    moves = any(b.stride > 1 or b.padding for b in d.spec.blocks)
    if not (banks or moves or len(shapes) > 1):
        assert "Stride, padding" not in tex and "Stride, padding" not in md
        conv = shapes[0]["conv"][1:]
        assert f"& ${times(conv)}$ & $W_1$: {math.prod(shapes[0]['filters'])}" in tex
        return
    for n, row in enumerate(shapes, start=1):
        block = d.spec.blocks[n - 1]
        cells = [
            f"${times(row['input'])}$",
            f"${times(row['filters'])}$",
            f"{block.stride}, {block.padding}",
            f"${times(row['conv'])}$",
            f"${times(row['out'])}$",
        ]
        assert f"{n} & " + " & ".join(cells) + r" \\" in tex, (n, cells)
        md_row = f"| {n} | " + " | ".join(cells) + " |"
        assert re.sub(r"\$([^$]+)\$", r"$`\1`$", md_row) in md, (n, cells)  # GitHub's $`…`$


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_proof_is_stated_with_its_result(documents, name):
    d, proofs, tex, md = documents[name]
    assert len(proofs) >= 6
    heading = re.search(r"^#+ .*What the derivation proves", md, re.M)
    assert heading is not None
    section = md[heading.end() :]
    for number, proof in enumerate(proofs, start=1):
        # the heading is typeset (words escaped, formulas through the printer): its words are there
        label = f"\\item\\label{{proof:{proof.key}}} \\textbf{{"
        item = tex[tex.index(label) :].split("\n", 1)[0]
        entry = section[section.index(f"\n{number}. **") :].split("\n", 2)[1]
        for words in (part for part in proof.document_title if isinstance(part, str)):
            assert escape_tex(words).replace(r"\textdegree{}", "$^\\circ$") in item, words
            assert escape_markdown(words) in entry, words
        statement = proof.statement
        assert f"\\[ {statement} \\]" in tex and statement in md
        assert not re.search(r"_\{[^{}]*\}_", statement), statement  # a double subscript
    assert f"All {len(proofs)} proofs hold." in tex
    assert tex.count(r"\fails") == 1  # its definition only
    # with each proof, and its definition (the general-law section marks its checks too)
    laws = tex[tex.index(r"\section{The general law}") : tex.index(r"\section{Forward pass")]
    assert tex.replace(laws, "").count(r"\holds") == len(proofs) + 1


def test_a_failing_proof_says_so(documents):
    d, proofs, _, _ = documents["tanh-avg"]
    broken = [*proofs, Proof("broken", "Made up & 50%", r"a = b", False, "element [0] differs")]
    tex = render_document(d, broken, TITLE)
    md = render_markdown(d, broken, TITLE)
    assert r"Made up \& 50\%" in tex and r"\fails" in tex
    assert f"1 of the {len(broken)} proofs \\fails." in tex
    assert "**FAILS**" in md and escape_markdown("element [0] differs") in md


# ------------------------------------------------------------------ forward and backward
@pytest.mark.parametrize("name", sorted(set(SPECS) - {"two-blocks"}))
def test_forward_convolution_elements_read_the_right_cells(documents, name):
    """Each product x[c, r, s] w[k, c, p, q] of z[k, i, j] has r = i S + p - P, s = j S + q - P,
    and the element has exactly the products whose cell lies inside the input."""
    d, _, tex, _ = documents[name]
    spec = d.spec
    block, (h, w), channels = spec.blocks[0], spec.input_shape, spec.channels
    (kh, kw), s, pad = block.filter_shape, block.stride, block.padding
    forward = tex[tex.index(r"\subsection{Convolution}") :]
    forward = forward[: forward.index(r"\end{align*}")]
    rows = re.findall(r"z\^\{\(1\)\}_\{([\d,]+)\}&=(.*?)(?=\\\\\[3pt\]|$)", forward, re.S)
    assert len(rows) >= 2
    for lhs, body in rows:
        out = indices(lhs)
        k, i, j = out if len(out) == 3 else (0, *out)
        found = set()
        for x, wt in re.findall(r"x_\{([\d,]+)\} w\^\{\(1\)\}_\{([\d,]+)\}", body):
            xc, xr, xs = indices(x) if len(indices(x)) == 3 else (0, *indices(x))
            wk, wc, p, q = indices(wt) if len(indices(wt)) == 4 else (0, 0, *indices(wt))
            found.add((xc, xr, xs, wk, wc, p, q))
        expected = {
            (c, i * s + p - pad, j * s + q - pad, k, c, p, q)
            for c in range(channels)
            for p in range(kh)
            for q in range(kw)
            if 0 <= i * s + p - pad < h and 0 <= j * s + q - pad < w
        }
        assert found == expected, (lhs, found ^ expected)
        assert "b^{(1)}" in body


@pytest.mark.parametrize("name", sorted(set(SPECS) - {"two-blocks"}))
def test_filter_gradient_element_is_the_strided_padded_correlation(documents, name):
    """δw[0, 0, 0, 0] = sum over outputs (i, j) of x[0, iS - P, jS - P] δz[0, i, j], padding left
    out: the products the document prints, against the conv arithmetic done here."""
    d, _, tex, md = documents[name]
    spec = d.spec
    several = d.quantities["W1"].symbols.ndim == 4
    lhs = r"\delta w^{(1)}_{" + ("0,0,0,0" if several else "0,0") + "}"
    row = display_row(tex, lhs)
    assert r"\cdots" not in row
    found = {
        (indices(x)[-2:], indices(z)[-2:])
        for x, z in re.findall(r"x_\{([\d,]+)\} \\delta z\^\{\(1\)\}_\{([\d,]+)\}", row)
    }
    (h, w) = spec.input_shape
    expected = {
        ((r, c), (i, j)) for r, c, i, j in met_cells(spec, 0, 0) if 0 <= r < h and 0 <= c < w
    }
    assert found == expected
    assert display_row(md, lhs).count(r"\delta z") == len(expected)


TITLES = {  # (the layer, what its backward pass does), as the subsection titles say
    "dense": ("Dense layer", ":"),
    "flatten": ("Flatten", ": reshape back"),
    "maxpool": ("Max-pool", ": the gradient is routed to the maximum"),
    "avgpool": ("Average pool", ": the gradient is shared out"),
    "relu": ("ReLU", ": the mask"),
    "leaky_relu": ("Leaky ReLU", ": the mask, with a slope"),
    "sigmoid": ("Sigmoid", ": the derivative in terms of the output"),
    "tanh": ("Tanh", ": the derivative in terms of the output"),
    "identity": ("Identity", ": the gradient passes unchanged"),
}


def section(tex: str, start: str, end: str) -> str:
    return tex[tex.index(rf"\section{{{start}") : tex.index(rf"\section{{{end}")]


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_layer_of_the_backward_pass_is_shown(documents, name):
    d, _, tex, md = documents[name]
    chain = section(tex, "The chain rule", "Backward pass")
    backward = section(tex, "Backward pass", "The convolution")
    conv = section(tex, "The convolution", "A batch")
    several = d.spec.n_blocks > 1
    for stage in d.stages[:-2]:  # the sigmoid and the loss are the head collapse
        block = f" of block {stage.block}" if several and stage.block else ""
        if stage.kind == "conv":
            assert not several or f"\\subsection{{Block {stage.block}}}" in conv
        else:
            layer, does = TITLES[stage.kind]
            assert f"\\subsection{{{layer}{block}{does}" in backward, stage
    for step in d.steps:  # each local Jacobian, with its size and its nonzero entries
        entries = max(d.quantities[step.upstream].size, 1) * max(d.quantities[step.target].size, 1)
        assert f"& {entries} & {len(step.local)} \\\\[2pt]" in chain, step.title
    head = d.head
    assert f"a^{{({d.prediction[1:]})}} - y" in backward
    assert head.result == d.quantities[d.prediction].symbols[()] - d.quantities["Y"].symbols[()]
    assert md.count("\n### 6.") >= len(d.conv_stages)


# ------------------------------------------------------------------ figures
@pytest.mark.parametrize("name", sorted(SPECS))
def test_each_block_states_its_patterns_with_figures(documents, name):
    d, _, tex, md = documents[name]
    for n, block in enumerate(d.spec.blocks, start=1):
        assert f"\\label{{fig:weight{n}}}" in tex and f"\\label{{fig:input{n}}}" in tex
        pooled = block.pool_type == "avg" or (
            block.pool_type == "max" and (block.pool_stride or block.pool_size) < block.pool_size
        )
        assert (f"\\label{{fig:poolP{n}}}" in tex) == pooled, n
    figures = md.count("*Figure")
    pools = tex.count("\\label{fig:pool")
    assert figures == 2 * len(d.spec.blocks) + pools
    assert md.count("```text") >= 4 * len(d.spec.blocks) + pools


@pytest.mark.parametrize("name", ["rgb-strided", "sigmoid-nopool"])
def test_figures_count_padding_and_products_as_the_arithmetic_does(documents, name):
    d, _, tex, md = documents[name]
    spec = d.spec
    (h, w), (kh, kw) = spec.input_shape, spec.filter_shape
    for p, q in [(0, 0), (kh - 1, kw - 1)]:
        outside = sum(1 for r, c, _, _ in met_cells(spec, p, q) if not (0 <= r < h and 0 <= c < w))
        lhs = "0,0," * (spec.channels > 1 or spec.filters > 1) + f"{p},{q}"
        said = (
            f"$\\delta w^{{(1)}}_{{{lhs}}}$: window at row {p}, column {q}; "
            f"{outside} of its products meet padding zeros"
        )
        assert (said in tex) == (outside > 0), (p, q, outside)
    first = "0,0,0" if spec.channels > 1 else "0,0"
    shown = re.search(r"\$\\delta x_\{" + first + r"\}\$: (\d+) product", tex)
    assert shown and int(shown.group(1)) == products_at(spec, 0, 0)
    # and the derivation's own δx[0, 0] has that many products per filter
    row = display_row(tex, r"\delta x_{" + first + "}")
    assert row.count(r"\delta z") == products_at(spec, 0, 0) * spec.filters


# ------------------------------------------------------------------ hash seeds
SCRIPT = """
import hashlib
from symbp.spec.model import ConvBlock, NetworkSpec
from symbp.symbolic.derivation import derive
from symbp.proofs import prove_all
from symbp.document.build import render_document, render_markdown
spec = NetworkSpec(input_shape=(7, 7), channels=2, filters=2, stride=2, padding=1)
d = derive(spec)
proofs = prove_all(d)
for text in (render_document(d, proofs, "T"), render_markdown(d, proofs, "T")):
    print(hashlib.sha256(text.encode()).hexdigest())
"""


def test_the_same_bytes_under_other_hash_seeds(documents):
    d, proofs, _, _ = documents["rgb-strided"]
    here = [
        hashlib.sha256(text.encode()).hexdigest()
        for text in (render_document(d, proofs, "T"), render_markdown(d, proofs, "T"))
    ]
    root = str(Path(__file__).resolve().parent.parent)
    for seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": root}
        result = subprocess.run(
            [sys.executable, "-c", SCRIPT],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=120,
        )
        assert result.stdout.split() == here, seed


# ------------------------------------------------------------------ compiled
@pytest.mark.parametrize("name", COMPILED)
def test_the_pdf_compiles_cleanly_and_states_the_results(documents, tmp_path, name):
    require_tex_tools()
    d, proofs, _, _ = documents[name]
    title = HOSTILE_TITLE if name == COMPILED[0] else TITLE
    log, text = compile_tex(render_document(d, proofs, title), tmp_path)
    assert len(re.findall(r"^Overfull \\[hv]box", log, re.M)) == 0
    assert "undefined references" not in log
    assert not re.search(r"Reference `[^']*' on page \d+ undefined", log)
    pages = int(re.search(r"Output written on .*?\((\d+) pages?", log).group(1))
    assert 10 <= pages <= 40, pages
    flat = " ".join(text.replace("\u2212", "-").split())
    squeezed = flat.replace(" ", "")
    assert "THE SECRET FILE WAS READ" not in flat
    if title == HOSTILE_TITLE:
        assert flat.startswith(HOSTILE_TITLE), flat[:80]
    sizes = independent_parameters(d.spec)
    assert f"{sum(sizes)}={'+'.join(map(str, sizes))}" in squeezed
    assert f"a({d.prediction[1:]})-y" in squeezed  # the head collapses to the prediction error
    for phrase in (
        "What the derivation proves",
        "cross-correlation",
        "rotated by 180",
        "falls from",
    ):
        assert phrase in flat, phrase
    assert f"All {len(proofs)} proofs hold." in flat
    assert "FAILS" not in flat and "??" not in flat
