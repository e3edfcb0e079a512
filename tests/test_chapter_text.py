"""The chapter's remaining text errata (issue 13): words defined where they are first used,
proof details written as sentences, the size law in textbook order, headings without
mathematics, the index relations of the convolution with padding and stride stated right (and
checked against the derivation), Markdown that CommonMark reads as meant, the parameter count
said once. Each test reads the rendered LaTeX and Markdown of the teaching network, the
two-blocks example and the strided, padded three-channel example.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from documents import built_documents

from symbp.proofs.result import plain
from symbp.spec.config import load_config
from symbp.spec.model import NetworkSpec
from symbp.symbolic.derivation import derive

TITLE = "Backpropagation in a CNN"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SPECS = {
    "default": NetworkSpec(),
    "two-blocks": lambda: load_config(EXAMPLES / "two-blocks.toml"),
    "rgb-strided": lambda: load_config(EXAMPLES / "rgb-strided.toml"),
}
NAMES = sorted(SPECS)


@pytest.fixture(scope="module")
def built():
    return built_documents(SPECS, TITLE)


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _outside_fences(md: str) -> list[tuple[int, str]]:
    """(line number, line) of the Markdown outside fenced blocks (the fences themselves out)."""
    lines, fenced = [], False
    for number, line in enumerate(md.split("\n")):
        if re.match(r"^\s*```", line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    return lines


# ------------------------------------------------------------------ 1. words defined or gone
@pytest.mark.parametrize("name", NAMES)
def test_no_unexplained_words(built, name):
    doc = built(name)
    for text in (doc.tex, doc.md):
        flat = _flat(text)
        assert "spread out by the stride" not in flat  # "spread" even at stride 1
        assert "dilated by the stride" in flat
        words = re.sub(r"avg-spread[.\d]*|spreads? (each window's|the) gradient evenly", "", flat)
        assert "spread" not in words.lower()
        assert "compiled loss" not in flat
        # "staged" is defined where it is first used
        first = flat.index("staged")
        assert flat[first:].startswith(r"staged}: $\delta s$ is written with") or flat[
            first:
        ].startswith(r"staged*: $`\delta s`$ is written with"), flat[first - 40 : first + 60]


@pytest.mark.parametrize("name", ["two-blocks", "rgb-strided"])
def test_channel_brackets_are_defined_and_typeset(built, name):
    """[k] was outside the mathematics, and "[c] means its channel" followed "[c] is the
    Iverson bracket" without a word on which is which."""
    doc = built(name)
    for form, text in (("tex", doc.tex), ("md", doc.md)):
        flat = _flat(text)
        assert "followed by $[c]$ means its channel" not in flat.replace("`", "")
        assert "an index in square brackets means that channel of it" in flat
        assert "A bracket holding a condition, as above, is the Iverson bracket." in flat
        assert not re.search(r"\$\[k\][^$]", text), form  # [k] inside the mathematics


# ------------------------------------------------------------------ 2. proof details as sentences
@pytest.mark.parametrize("name", NAMES)
def test_proof_details_are_sentences(built, name):
    _, proofs, tex, md = built(name)
    for p in proofs:
        detail = plain(p.document_detail)
        assert not detail[0].islower(), (p.key, detail)
    marks = r"\((?:\\emph\{|\*)(?:symbolic|exhaustive|sampled)(?:\}|\*)\)\. (\S)"
    for text in (tex, md):
        starts = re.findall(marks, text)
        assert len(starts) == len(proofs)
        assert not any(s.islower() for s in starts), starts
        held = re.findall(r"it (?:holds|FAILS)(?:\.|\s*---|\s*—) (\S)", text)
        assert held and not any(s.islower() for s in held), held
        assert "it holds —" not in text and "it holds ---" not in text


# ------------------------------------------------------------------ 3. the size law's order
def test_output_size_law_in_textbook_order(built):
    for text in built("default")[2:]:
        assert r"W_{o} = \left\lfloor{\frac{W + 2 P - k_{W}}{S}}\right\rfloor + 1" in text
        assert r"H_{o} = \left\lfloor{\left(H + 2 P - k_{H}\right) / S}\right\rfloor + 1" in text
        assert r"W_{p} = \left\lfloor{\frac{W_{o} - R}{T}}\right\rfloor + 1" in text
        assert r"k_{W} \leq W + 2 P" in text  # its condition too
        assert "2 P + W" not in text
        assert r"- R + W_{o}" not in text


# ------------------------------------------------------------------ 4. headings without math
_TEX_HEADING = re.compile(r"\\(?:sub)*section\*?\{((?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*)\}")


@pytest.mark.parametrize("name", NAMES)
def test_latex_headings_carry_no_math_and_match_the_markdown(built, name):
    _, _, tex, md = built(name)
    headings = _TEX_HEADING.findall(tex[tex.index(r"\begin{document}") :])
    assert headings
    md_headings = {
        re.sub(r"^#+ (?:[\d.]+ )?", "", line) for _, line in _outside_fences(md) if line[:1] == "#"
    }
    for heading in headings:
        assert "$" not in heading and "texorpdfstring" not in heading, heading
        words = heading.replace(r"i.e.\ ", "i.e. ").replace(r"\&", "&")
        assert words in md_headings or f"Appendix: {words}" in md_headings, words


# ------------------------------------------------------------------ 6. the input-gradient index
def _terms(expr) -> list[dict[str, tuple[int, ...]]]:
    """Each product of an element's gradient as {symbol stem: its indices}."""
    found = []
    for term in expr.as_ordered_terms():
        names = {}
        for s in term.free_symbols:
            stem, *index = str(s).split("_")
            names[stem] = tuple(int(n) for n in index)
        found.append(names)
    return found


def test_the_filter_row_each_input_row_meets_has_padding_and_stride(built):
    """Old text: 'the weight index r − 2i', wrong when the input is padded. The derivation of a
    padded, strided network: δx_{r,c} pairs δz_{i,j} with w_{p,q}, p = r − S i + P."""
    stride, pad = 2, 1
    d = derive(NetworkSpec(input_shape=(7, 7), stride=stride, padding=pad))
    checked = 0
    for (r, c), expr in np.ndenumerate(d.gradients["X"]):
        for names in _terms(expr):
            (i, j), (p, q) = names["dz1"], names["w1"]
            assert (p, q) == (r - stride * i + pad, c - stride * j + pad)
            checked += 1
    assert checked > 40
    for text in built("rgb-strided")[2:]:
        plain = text.replace("`", "")
        assert "the filter row that meets input row $u$, $p = u - 2 i + 1$," in plain
        assert "r - 2i" not in text
        # the input element's column is not the channel's letter: x_{c,u,v}, not x_{c,r,c}
        assert "x_{c,u,v}" in plain and "x_{c,r,c}" not in plain and "(r, c)" not in plain
    for text in built("default")[2:]:
        assert "the filter row that meets input row $r$, $p = r - i$," in text.replace("`", "")


# ------------------------------------------------------------------ 7. the row a weight reads
def test_the_input_row_a_weight_multiplies_is_stated_plainly_and_right(built):
    """w_{k,c,p,q} multiplies input row S i + p − P, row S i + p of the padded input: checked
    on the derivation of a padded, strided network (δw_{p,q} sums δz_{i,j} x_{2i+p−1, 2j+q−1})."""
    stride, pad = 2, 1
    d = derive(NetworkSpec(input_shape=(7, 7), stride=stride, padding=pad))
    for (p, q), expr in np.ndenumerate(d.gradients["W1"]):
        for names in _terms(expr):
            (i, j), (u, v) = names["dz1"], names["x"]
            assert (u, v) == (stride * i + p - pad, stride * j + q - pad)
    for text in built("default")[2:]:
        flat = _flat(text).replace("`", "")
        assert "multiplies input row $S i + p - P$ (row $S i + p$ of the padded input)" in flat
        assert "padded input at row" not in flat


# ------------------------------------------------------------------ 8. CommonMark pitfalls
@pytest.mark.parametrize("name", NAMES)
def test_markdown_headings_follow_a_blank_line_and_fences_close(built, name):
    md = built(name).md
    lines = md.split("\n")
    assert sum(1 for line in lines if re.match(r"^\s*```", line)) % 2 == 0
    for number, line in _outside_fences(md):
        if re.match(r"^#{1,6} ", line) and number > 0:
            assert lines[number - 1].strip() == "", (number + 1, lines[number - 1], line)
        assert not re.match(r"^#{1,6}[^# ]", line), line  # "#x" is not a heading


# ------------------------------------------------------------------ 10. said once
@pytest.mark.parametrize("name", NAMES)
def test_parameter_count_once_on_the_network_page_and_jacobian_sentence_not_repeated(built, name):
    d, _, tex, md = built(name)
    count = str(d.spec.parameter_count)
    network = md[md.index("## 1 The network") : md.index("## 2 ")]
    assert len(re.findall(rf"(?<![\d.,]){count}(?![\d.,])", network)) == 1, network
    jacobians = len(re.findall(r"local Jacobian \S+ has", _flat(tex)))
    assert jacobians <= sum(1 for b in d.spec.blocks if b.pool_type == "avg")
