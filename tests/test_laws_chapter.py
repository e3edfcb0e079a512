"""The document's section "The general law" (symbp.document.section_laws with the templates
latex/laws.tex and markdown/laws.md), in every document, before the instance is written out.

The default PDF is compiled and read back with pdftotext: the output-size law and the dX law
with its condition must be in its text. The prose must carry no ASCII mathematics, every law
must say how it was established, a law that fails must be shown failing, the network's label
goes through the escape, and the same input gives the same bytes under any hash seed.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from law_examples import LAW_EXAMPLES, stdout_under_hash_seeds

from symbp import ConvBlock, NetworkSpec, derive
from symbp.document.build import document_context, render_document, render_markdown
from symbp.document.notation import document_names
from symbp.document.render import render_latex
from symbp.document.render import render_markdown as render_markdown_template
from symbp.document.section_laws import latex_in_order, shown, textbook_size_law
from symbp.document.sections import document_sections
from symbp.laws import catalog, conv
from symbp.laws.text import latex
from symbp.proofs import prove_all

EXAMPLES = {
    **LAW_EXAMPLES,
    "leaky-avg-none": NetworkSpec(
        (10, 10),
        blocks=(
            ConvBlock(activation="leaky_relu", leaky_slope=0.1, pool_type="avg"),
            ConvBlock(activation="sigmoid", pool_type="none", filter_shape=(2, 2)),
        ),
    ),
}
TEMPLATES = {"latex": "latex/laws.tex", "markdown": "markdown/laws.md"}
MATH = re.compile(
    r"\\\[.*?\\\]|\\begin\{(gather|multline|align)\*\}.*?\\end\{\1\*\}|\$[^$]*\$|```math.*?```",
    re.DOTALL,
)


@pytest.fixture(scope="module")
def derivations():
    return {name: derive(spec) for name, spec in EXAMPLES.items()}


def section(d, fmt: str, **changes) -> str:
    """The section alone, rendered from the document's own context."""
    context = {**document_context(d, [], "title"), **changes}
    render = render_latex if fmt == "latex" else render_markdown_template
    return render(TEMPLATES[fmt], document_names(d).notation, **context)


def statements(key: str) -> tuple:
    law = catalog.law(key)
    return law.statement if isinstance(law.statement, tuple) else (law.statement,)


def prose(text: str) -> str:
    """The text outside the mathematics, code names, tables and LaTeX commands' arguments."""
    text = MATH.sub(" ", text)
    text = re.sub(r"\\texttt\{[^}]*\}|`[^`]*`", " ", text)
    text = re.sub(r"\\begin\{tabular\}.*?\\end\{tabular\}|^\|.*\|$", " ", text, flags=re.S | re.M)
    return re.sub(r"\\(section|subsection|label|ref|textbf)\{[^}]*\}", " ", text)


@pytest.mark.parametrize("fmt", ["latex", "markdown"])
@pytest.mark.parametrize("name", list(EXAMPLES))
def test_the_section_has_every_part_and_no_ascii_maths(name, fmt, derivations):
    d = derivations[name]
    text = section(d, fmt)
    latex_heading = r"\section{The general law}\label{sec:laws}"
    heading = latex_heading if fmt == "latex" else "## 2 The general law"
    assert text.startswith(heading), text[:80]
    for part in ("forward pass in index form", "output size", "gradient laws", "matrix view"):
        assert part in text.lower(), part
    assert "This network as an instance" in text
    words = prose(text)
    for ascii_maths in ("dL/d", "**2", "^", "_{", "<=", ">=", "floor(", "rot180", "delta_"):
        assert ascii_maths not in words, (ascii_maths, words[:2000])
    # every gradient law, the output size and the matrix view say how they were established
    gradients = [k for k in catalog.keys_for(d.spec) if k not in ("output-size", "matrix")]
    gradients = [k for k in gradients if k != "pool-size"]
    said = words.count("Established symbolically") + words.count("Checked, not proved")
    assert said == len(gradients) + 2, (said, gradients)
    assert "checked instances of these laws" in words and "NOT" not in words
    # the instance: every block's sizes in the table, and which tensors the laws' are
    assert all(f"at block {n} the laws'" in text for n in range(2, d.spec.n_blocks + 1))
    rows = [line for line in text.splitlines() if re.match(r"\|? ?\d+ (&|\|) \$\d+ \\times", line)]
    assert len(rows) == d.spec.n_blocks, rows


def test_the_laws_are_typeset_by_the_laws_printer(derivations):
    text = section(derivations["default"], "latex")
    for key in ("dW", "dB", "dX", "dense"):
        for statement in statements(key):
            assert latex(statement) in text, key  # the same printer, the same objects
    assert r"\operatorname{rot}_{180}" in text and r"\left\lfloor" in text
    # the default sizes, put into the output-size law by the printer
    assert r"H_{o} = \left\lfloor{\frac{6 + 2 \cdot 0 - 3}{1}}\right\rfloor + 1 = 4" in text
    assert r"N = 2 \cdot 1 \cdot 2 = 4" in text
    assert r"$J$ is $16 \times 36$" in text and "with $144$ nonzero entries" in text
    assert r"$x$, $w$, $b$ and $\delta z$ are $X$, $W_1$, $B_1$ and $\delta Z_1$" in text
    # the check table: one row per law and place, the elements the bridge compared
    assert r"input gradient & 1 & $\delta X$ & 2 & 72 & \holds \\" in text
    assert r"All 23 checks hold (784 elements, no difference)" in " ".join(text.split())


def test_markdown_carries_the_same_laws(derivations):
    d = derivations["two-blocks"]
    tex, md = section(d, "latex"), section(d, "markdown")
    assert "### 2.1 The forward pass in index form" in md and "### 2.5 This network" in md
    for key in catalog.keys_for(d.spec):
        for statement in statements(key):
            if key in ("output-size", "pool-size"):  # printed in textbook order (issue 13)
                ordered = latex_in_order(textbook_size_law(statement), inline=False)
                assert ordered in md and ordered in tex, key
                continue
            assert latex(statement) in md, key
            cut = shown(statement)  # a long sum is set on two lines in LaTeX
            printed = [cut["first"], cut["second"]] if cut["split"] else [statement]
            assert all(latex(part) in tex for part in printed), key
    for leftover in ("\\section", "\\texttt", "\\textbf", "\\begin{multline", "\\holds"):
        assert leftover not in md, leftover
    assert md.count("```") % 2 == 0 and "block 2:" in md


def test_the_section_sits_after_the_network_in_both_documents(derivations):
    d = derivations["default"]
    proofs = prove_all(d)
    tex, md = render_document(d, proofs), render_markdown(d, proofs)
    order = [r"\section{The network}", r"\section{The general law}", r"\section{Forward pass"]
    assert [tex.index(s) for s in order] == sorted(tex.index(s) for s in order)
    headings = re.findall(r"^## (\d+) (.*)$", md, re.M)
    assert headings[:3] == [
        ("1", "The network"),
        ("2", "The general law"),
        ("3", "Forward pass, element by element"),
    ]
    assert [int(n) for n, _ in headings] == list(range(1, len(headings) + 1))
    assert "3 Forward pass" in md[: md.index("## 1 The network")]  # the contents line
    assert "section 5)" in md and "Section 5" not in tex  # references follow the numbering


def test_a_failing_law_is_shown_as_failing(monkeypatch):
    wrong = conv.conv_law("dX", conv.stated_input_gradient(rotated=False))
    right = catalog.index_laws()
    monkeypatch.setattr(catalog, "index_laws", lambda: {**right, "dX": wrong})
    document_sections.cache_clear()
    try:
        d = derive(NetworkSpec())
        tex, md = section(d, "latex"), section(d, "markdown")
    finally:
        document_sections.cache_clear()
    flat = " ".join(tex.split())
    assert r"This law \fails{} at this network: [FAILS] dX (block 1" in flat
    assert r"input gradient & 1 & $\delta X$ & 2 & 36 & \fails \\" in tex
    assert "instance checks \\fails: the element sums that follow do NOT all agree" in flat
    assert "checked instances of these laws" not in flat
    assert "This law **FAILS** at this network" in md and "| **FAILS** |" in md


def test_the_label_goes_through_the_escape(derivations):
    hostile = r"\input{secret} $x$ #1 % _a_ ^b {c} ~ <b>|é"
    d = derivations["default"]
    tex = section(d, "latex", spec=SimpleNamespace(label=hostile))
    assert r"This network (\textbackslash{}input\{secret\} \$x\$ \#1 \% \_a\_" in tex
    assert "\\input{" not in tex
    md = section(d, "markdown", spec=SimpleNamespace(label=hostile))
    assert r"This network (\\input{secret} \$x\$ \#1 % \_a\_" in md


def test_the_same_input_gives_the_same_bytes_under_any_hash_seed():
    script = (
        "from symbp import NetworkSpec, ConvBlock, derive\n"
        "from symbp.document.build import document_context\n"
        "from symbp.document.notation import document_names\n"
        "from symbp.document.render import render_latex, render_markdown\n"
        "spec = NetworkSpec((12, 12), blocks=(ConvBlock(filters=2, padding=1),"
        " ConvBlock(activation='tanh', pool_type='avg')))\n"
        "d = derive(spec)\n"
        "context, notation = document_context(d, [], 't'), document_names(d).notation\n"
        "print(render_latex('latex/laws.tex', notation, **context))\n"
        "print(render_markdown('markdown/laws.md', notation, **context))\n"
    )
    outputs = stdout_under_hash_seeds(script, ("0", "4242"))
    assert outputs[0] == outputs[1] and "The general law" in outputs[0]


@pytest.mark.parametrize("name", ["default", "two-blocks", "leaky-avg-none"])
def test_the_pdf_states_the_laws(name, derivations, tmp_path):
    """The whole document through pdflatex: no overfull line, references resolved, and
    pdftotext finds the output-size law and the dX law with its condition."""
    from latex_tools import compile_tex, require_tex_tools

    require_tex_tools()
    d = derivations[name]
    log, text = compile_tex(render_document(d, prove_all(d)), tmp_path)
    assert "Overfull \\hbox" not in log and "undefined references" not in log
    flat = " ".join(text.split())
    start = flat.index("2 The general law Before")
    end = flat.index("3 Forward pass, element", start)
    laws = flat[start:end]
    assert "output-size law, Ho = ⌊(H + 2P − kH ) /S⌋ + 1" in laws
    assert "The input. xc,u,v meets the weight" in laws  # the dX law's words
    assert "cropP" in laws and "rot180" in laws and "transposed convolution" in laws
    dx = laws[laws.index("The input. xc,u,v") :][:2500]
    condition = "0 ≤ c ≤ C − 1, 0 ≤ u ≤ H − 1, 0 ≤ v ≤ W − 1, 0 ≤ P − Si + u ≤ kH − 1"
    assert f"This holds for {condition}" in dx
    assert "checked instances of these laws" in laws
