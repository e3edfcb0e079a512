"""The document section "The general law" (symbp.laws.chapter), in LaTeX and Markdown.

The LaTeX is compiled with pdflatex (amsmath and amssymb only) and read back with pdftotext:
the output-size law and the dX law with its condition must be in the PDF's text. The prose
must carry no ASCII mathematics, user text must be escaped, and the same input must give the
same bytes under any hash seed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from symbp import ConvBlock, NetworkSpec, derive
from symbp.laws import catalog, chapter, conv
from symbp.laws.chapter import escape_markdown, escape_tex, general_law_section

EXAMPLES = {
    "default": NetworkSpec(),
    "padding1-stride2": NetworkSpec((8, 8), padding=1, stride=2),
    "two-channels-two-filters": NetworkSpec((6, 6), channels=2, filters=2),
    "two-blocks": NetworkSpec(
        (12, 12),
        blocks=(ConvBlock(filters=2, padding=1), ConvBlock(activation="tanh", pool_type="avg")),
    ),
    "leaky-avg-none": NetworkSpec(
        (10, 10),
        blocks=(
            ConvBlock(activation="leaky_relu", leaky_slope=0.1, pool_type="avg"),
            ConvBlock(activation="sigmoid", pool_type="none", filter_shape=(2, 2)),
        ),
    ),
}
MATH = re.compile(
    r"\\\[.*?\\\]|\\begin\{(gather|multline)\*\}.*?\\end\{\1\*\}|\$[^$]*\$|```math.*?```",
    re.DOTALL,
)


@pytest.fixture(scope="module")
def derivations():
    return {name: derive(spec) for name, spec in EXAMPLES.items()}


def prose(text: str) -> str:
    """The text outside the mathematics (and outside \\texttt and `code`)."""
    text = MATH.sub(" ", text)
    text = re.sub(r"\\texttt\{[^}]*\}|`[^`]*`", " ", text)
    return re.sub(r"\\(section|subsection|label)\{[^}]*\}", " ", text)


@pytest.mark.parametrize("fmt", ["latex", "markdown"])
@pytest.mark.parametrize("name", list(EXAMPLES))
def test_the_section_has_every_part_and_no_ascii_maths(name, fmt, derivations):
    spec = EXAMPLES[name]
    text = general_law_section(spec, fmt, derivation=derivations[name])
    heading = r"\section{The general law}" if fmt == "latex" else "## The general law"
    assert text.startswith(heading) and text.endswith("\n") and not text.endswith("\n\n")
    for part in ("forward pass in index form", "output size", "gradient laws", "matrix view"):
        assert part in text.lower(), part
    assert "This network as an instance" in text
    words = prose(text)
    for ascii_maths in ("dL/d", "**", "^", "_{", "<=", ">=", "floor(", "rot180", "delta_"):
        assert ascii_maths not in words, (ascii_maths, words[:2000])
    # every law of the spec is there, with how it was established
    assert words.count("Established symbolically") + words.count("Checked, not proved") == (
        len(catalog.keys_for(spec))
    )
    assert "checked instances of the general laws" in words
    blocks = [f"Block {n}: " for n in range(1, spec.n_blocks + 1)]
    assert all(block in text for block in blocks)


def test_the_laws_are_typeset_by_sympy(derivations):
    text = general_law_section(EXAMPLES["default"], "latex", derivation=derivations["default"])
    law = catalog.law("dX")
    assert chapter.latex(law.statement) in text  # the same printer, the same objects
    assert r"\operatorname{rot}_{180}" in text and r"\left\lfloor" in text
    # the default sizes, put into the output-size law by the printer
    assert r"H_{o} = \left\lfloor{\frac{6 + 2 \cdot 0 - 3}{1}}\right\rfloor + 1 = 4" in text
    assert r"$J$ is $16 \times 36$ with $144$ nonzero entries" in text
    assert r"$x = X$, $w = W_{1}$, $b = B_{1}$ and" in text


def test_markdown_carries_the_same_latex(derivations):
    d = derivations["two-blocks"]
    tex = general_law_section(d.spec, "latex", derivation=d)
    md = general_law_section(d.spec, "markdown", derivation=d, number=3)
    assert md.startswith("## 3 The general law\n") and "### 3.1 The forward pass" in md
    displayed = re.findall(r"```math\n(.*?)\n```", md, re.DOTALL)
    missing = [line for line in displayed if line not in tex]  # set on two lines in LaTeX
    assert displayed and len(missing) == tex.count("\\begin{multline*}") > 0
    assert "\\section" not in md and "\\texttt" not in md


def test_without_a_derivation_it_claims_no_check():
    text = general_law_section(NetworkSpec(), "markdown")
    assert "`symbp laws` checks every one of them" in text
    assert "were checked as such" not in text and "the tensors of the laws are" not in text


def test_a_failing_law_is_said_to_fail(derivations, monkeypatch):
    wrong = conv.conv_law("dX", conv.stated_input_gradient(rotated=False))
    right = catalog.index_laws()
    monkeypatch.setattr(catalog, "index_laws", lambda: {**right, "dX": wrong})
    chapter.section_blocks.cache_clear()
    text = general_law_section(NetworkSpec(), "latex", derivation=derive(NetworkSpec()))
    chapter.section_blocks.cache_clear()
    assert "This law does NOT hold" in text and "do NOT all agree with these laws" in text
    assert "What follows are checked instances" not in text


def test_bad_input_is_a_one_line_value_error(derivations):
    with pytest.raises(ValueError, match="unknown format 'html'; the formats are latex, markdown"):
        general_law_section(NetworkSpec(), "html")
    with pytest.raises(ValueError, match="another network"):
        general_law_section(EXAMPLES["two-blocks"], "latex", derivation=derivations["default"])
    with pytest.raises(ValueError, match="expected a NetworkSpec or a Derivation, got str"):
        general_law_section("6x6", "latex")


def test_user_text_is_escaped():
    hostile = r"\input{secret} $x$ #1 % _a_ ^b {c} ~ <b>|é"
    tex = escape_tex(hostile)
    assert "\\input" not in tex and "$" not in tex.replace(r"\$", "")
    assert tex.count("?") == 1 and r"\%" in tex and r"\#" in tex and r"\_" in tex
    md = escape_markdown(hostile + "\nnext line")
    assert "\n" not in md and r"\$x\$" in md and r"\<b\>" in md and r"\_a\_" in md


def test_the_label_goes_through_the_escape(monkeypatch):
    monkeypatch.setattr(chapter, "escape_tex", lambda words: str(words).upper())
    text = general_law_section(NetworkSpec(), "latex")
    assert "THIS NETWORK (6X6 INPUT, 3X3 FILTER, 2X2 MAX-POOL STRIDE 2)" in text


def test_the_same_input_gives_the_same_bytes_under_any_hash_seed():
    script = (
        "from symbp import NetworkSpec, ConvBlock, derive\n"
        "from symbp.laws.chapter import general_law_section\n"
        "spec = NetworkSpec((12, 12), blocks=(ConvBlock(filters=2, padding=1),"
        " ConvBlock(activation='tanh', pool_type='avg')))\n"
        "d = derive(spec)\n"
        "print(general_law_section(spec, 'latex', derivation=d))\n"
        "print(general_law_section(spec, 'markdown', derivation=d, number=4))\n"
    )
    outputs = []
    for seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
        )
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1] and "The general law" in outputs[0]


@pytest.mark.parametrize("name", ["default", "two-blocks", "leaky-avg-none"])
def test_the_latex_compiles_and_the_pdf_states_the_laws(name, derivations, tmp_path):
    """pdflatex with amsmath and amssymb only; pdftotext must find the output-size law and
    the dX law with its condition."""
    from latex_tools import compile_tex, require_tex_tools

    require_tex_tools()
    body = general_law_section(EXAMPLES[name], "latex", derivation=derivations[name])
    tex = (
        "\\documentclass[11pt]{article}\n\\usepackage[a4paper,margin=2.2cm]{geometry}\n"
        "\\usepackage{amsmath,amssymb}\n\\begin{document}\n" + body + "\\end{document}\n"
    )
    log, text = compile_tex(tex, tmp_path)
    assert "Undefined control sequence" not in log and "Overfull \\hbox" not in log
    flat = " ".join(text.split())
    assert "output-size law, Ho = ⌊(H + 2P − kH ) /S⌋ + 1" in flat
    assert "The input. xc,u,v meets the weight" in flat  # the dX law's words
    assert "cropP" in flat and "rot180" in flat and "transposed convolution" in flat
    dx = flat[flat.index("The input. xc,u,v") : flat.index("The input. xc,u,v") + 2500]
    assert (
        "This holds for 0 ≤ c ≤ C − 1, 0 ≤ u ≤ H − 1, 0 ≤ v ≤ W − 1, 0 ≤ P − Si + u ≤ kH − 1" in dx
    )
    assert "THE SECRET FILE WAS READ" not in text
