"""Walls of symbols (issue 13): the convolution section writes out two filter-weight sums and
the index formula; the appendix lists every sum, and each of them is the derivation's."""

from __future__ import annotations

import re

import pytest
import sympy as sp

from symbp.document.build import render_document, render_markdown
from symbp.pipeline import check_spec
from symbp.spec.model import NetworkSpec

SUM = re.compile(r"\\delta w\^\{\(1\)\}_\{(\d+),(\d+)\}\s*&=")


@pytest.fixture(scope="module")
def default():
    checked = check_spec(NetworkSpec())
    d, proofs = checked.derivation, checked.proofs
    return d, render_document(d, proofs, "t"), render_markdown(d, proofs, "t")


def _between(text: str, start: str, end: str) -> str:
    begin = text.index(start)
    return text[begin : text.index(end, begin + len(start))]


def test_the_section_shows_two_sums_and_the_appendix_all_nine(default):
    _, latex, markdown = default
    section = _between(latex, r"{The filter: each", r"\subsection{The pattern")
    appendix = latex[latex.index(r"\appendix") :]
    assert [m.groups() for m in SUM.finditer(section)] == [("0", "0"), ("0", "1")]
    assert len(SUM.findall(appendix)) == 9
    assert r"Appendix~\ref{app:sums} lists them all" in section
    md_section = _between(markdown, "The filter: each weight", "The pattern: a cross")
    md_appendix = markdown[markdown.index("## Appendix: Every sum of products") :]
    assert len(SUM.findall(md_section)) == 2 and len(SUM.findall(md_appendix)) == 9


def test_every_appendix_sum_is_the_derivations(default):
    """Parse each printed sum back (products x_{r,c} dz_{i,j}) and compare with the derived
    gradient's terms: a listing that dropped or invented a product fails here."""
    d, latex, _ = default
    appendix = latex[latex.index(r"\appendix") :]
    gradients = d.gradients["W1"]
    for p, q in [(m.group(1), m.group(2)) for m in SUM.finditer(appendix)]:
        start = appendix.index(rf"\delta w^{{(1)}}_{{{p},{q}}}")
        end = appendix.find(r"\delta w^{(1)}", start + 10)
        printed = appendix[start : end if end > 0 else None]
        pairs = set(re.findall(r"x_\{(\d+),(\d+)\} \\delta z\^\{\(1\)\}_\{(\d+),(\d+)\}", printed))
        derived = {
            tuple(str(s).split("_")[1:] + str(t).split("_")[1:])
            for term in sp.Add.make_args(gradients[int(p), int(q)])
            for s, t in [sorted(term.free_symbols, key=lambda s: not str(s).startswith("x"))]
        }
        assert pairs == derived, (p, q)


def test_two_blocks_lists_each_blocks_filter():
    from pathlib import Path

    from symbp.spec.config import load_config

    spec = load_config(Path(__file__).resolve().parent.parent / "examples" / "two-blocks.toml")
    checked = check_spec(spec)
    latex = render_document(checked.derivation, checked.proofs, "t")
    appendix = latex[latex.index(r"\appendix") :]
    assert appendix.count(r"\subsection*{Block") == spec.n_blocks
