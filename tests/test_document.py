"""The derivation document: one family for every network, its numbers, its LaTeX (compiled),
its Markdown, its escaping, its notebook forms.

What every document must be (all its sections, well-formed Markdown math, the same bytes twice,
escaped titles, notebook forms) is checked for every network of the architecture matrix,
the teaching network included. The worked example's numbers are parsed back out of the rendered
LaTeX and compared with the numeric engine run here, formatted independently, so a wrong, stale
or misplaced matrix fails. The LaTeX is compiled with pdflatex (twice, for references) for
several specs; the log must have no undefined references and few overfull boxes, and the PDF
text the key results.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import sympy as sp
from architectures import ARCHITECTURE_IDS, ARCHITECTURE_SPECS
from documents import built_documents, checks_for
from jupyter import displayed
from latex_tools import compile_tex, require_tex_tools

from symbp.document.build import (
    notebook_latex,
    notebook_markdown,
    render_document,
    render_markdown,
    worked_example,
)
from symbp.document.latex_printer import DocumentLatexPrinter
from symbp.document.render import escape_markdown, escape_tex
from symbp.proofs import prove_all
from symbp.reference.engine import NumericNetwork
from symbp.spec.model import NetworkSpec
from symbp.symbolic.derivation import derive

DEFAULT = NetworkSpec()
COMPILED = {
    "6x6": DEFAULT,
    "8x8": NetworkSpec((8, 8)),
    "10x10-5x5": NetworkSpec((10, 10), (5, 5)),
    "28x28": NetworkSpec((28, 28)),
}
HOSTILE_TITLE = r"\input{secret.txt} \write18{x} \catcode`\%=11 $x^2$ #1 ~ 50% & {}"
# Computer Modern (OT1) typesets ` ^ ~ as accent glyphs; pdftotext reports them as such.
GLYPHS = {"\u2018": "`", "\u02c6": "^", "\u02dc": "~"}


@pytest.fixture(scope="module")
def default_derivation():
    d = derive(DEFAULT)
    return d, prove_all(d)


@pytest.fixture(scope="module")
def default_tex(default_derivation):
    d, proofs = default_derivation
    return render_document(d, proofs, "Backpropagation in a CNN")


@pytest.fixture(scope="module")
def default_md(default_derivation):
    d, proofs = default_derivation
    return render_markdown(d, proofs, "Backpropagation in a CNN")


# ------------------------------------------------------------------------------ worked example
def _engine_values(spec: NetworkSpec) -> dict[str, np.ndarray]:
    """The example run through the engine here, independently of the document code."""
    example = worked_example(spec)
    image, params, label = example["X"], example["params"], example["Y"]
    net = NumericNetwork(spec)
    batch, labels = image[None], np.array([label])
    forward = net.forward(batch, params)
    inter = net.intermediate_gradients(batch, labels, params)
    grads = net.gradients(batch, labels, params)
    eta = example["learning_rate"]
    updated = {k: np.asarray(params[k]) - eta * np.asarray(grads[k]) for k in params}
    return {
        "X": image,
        "W1": params["W1"],
        "B1": params["B1"],
        "W2T": params["W2"].T,
        "B2": params["B2"],
        "Z1": forward["Z1"][0],
        "A1": forward["A1"][0],
        "P1": forward["P1"][0],
        "F": forward["F"][0],
        "Z2": forward["Z2"][0],
        "A2": forward["A2"][0],
        "L": np.asarray(net.loss(batch, labels, params)),
        "dZ2": inter["Z2"][0],
        "dW2T": grads["W2"].T,
        "dB2": grads["B2"],
        "dF": inter["F"][0],
        "dP1": inter["P1"][0],
        "dA1": inter["A1"][0],
        "dZ1": inter["Z1"][0],
        "dB1": grads["B1"],
        "dW1": grads["W1"],
        "dX": net.input_gradient(batch, labels, params)[0],
        "new W1": updated["W1"],
        "new B1": updated["B1"],
        "new W2T": updated["W2"].T,
        "new B2": updated["B2"],
        "new L": np.asarray(net.loss(batch, labels, updated)),
    }


def _formatted(values: np.ndarray, digits: int) -> list[str]:
    out = []
    for v in np.asarray(values, dtype=float).reshape(-1):
        text = f"{v:.{digits}f}"
        out.append(text[1:] if re.fullmatch(r"-0\.0*", text) else text)
    return out


NUMBER = r"-?\d+\.\d+"
MATRIX = r"\\left\[\\begin\{matrix\}(.*?)\\end\{matrix\}\\right\]"


def _shown(text: str, lhs: str) -> list[str]:
    """The numbers displayed right after `lhs =` (a matrix or a single number)."""
    pattern = re.escape(lhs) + r"(?:\s*=\s*[^=\n]*?)?\s*=\s*(" + MATRIX + "|" + NUMBER + ")"
    match = re.search(r"(?<![A-Za-z])" + pattern, text, re.S)
    assert match is not None, f"no displayed value for {lhs!r}"
    return re.findall(NUMBER, match.group(1))


def _example_parts(tex: str) -> tuple[str, str]:
    section = tex[tex.index(r"\section{A worked example") : tex.index(r"\section{What the")]
    step = section.index(r"\subsection{One step of gradient descent}")
    return section[:step], section[step:]


# (name in _engine_values, LaTeX left-hand side, digits, part)
SHOWN = [
    ("X", "X", 1, 0),
    ("W1", "W_1", 2, 0),
    ("B1", "B_1", 2, 0),
    ("W2T", r"W_2^{\mathsf T}", 2, 0),
    ("B2", "B_2", 2, 0),
    ("Z1", "Z_1", 4, 0),
    ("A1", "A_1", 4, 0),
    ("P1", "P_1", 4, 0),
    ("F", "F", 4, 0),
    ("Z2", "Z_2", 4, 0),
    ("A2", r"\sigma(Z_2)", 4, 0),
    ("L", r"\log a^{(2)}", 4, 0),
    ("dZ2", r"a^{(2)} - y", 4, 0),
    ("dW2T", r"\delta W_2^{\mathsf T}", 4, 0),
    ("dB2", r"\delta B_2", 4, 0),
    ("dF", r"\delta F", 4, 0),
    ("dP1", r"\delta P_1", 4, 0),
    ("dA1", r"\delta A_1", 4, 0),
    ("dZ1", r"\delta Z_1", 4, 0),
    ("dW1", r"\delta W_1", 4, 0),
    ("dB1", r"\delta z^{(1)}_{i,j}", 4, 0),
    ("dX", r"\delta X", 4, 0),
    ("new W1", "W_1", 4, 1),
    ("new B1", "B_1", 4, 1),
    ("new W2T", r"W_2^{\mathsf T}", 4, 1),
    ("new B2", "B_2", 4, 1),
]


def test_every_number_of_the_worked_example_is_the_engines(default_tex):
    expected = _engine_values(DEFAULT)
    parts = _example_parts(default_tex)
    for name, lhs, digits, part in SHOWN:
        text = parts[part]
        if name in ("dA1", "dZ1"):
            text = text[text.index("The max-pool sends") :]
        assert _shown(text, lhs) == _formatted(expected[name], digits), name


def test_the_loss_falls_and_the_step_is_printed(default_tex):
    expected = _engine_values(DEFAULT)
    assert float(expected["new L"]) < float(expected["L"])
    _, step = _example_parts(default_tex)
    old, new = re.search(rf"falls from \$({NUMBER})\$ to \$({NUMBER})\$", step).groups()
    assert [old, new] == _formatted(expected["L"], 4) + _formatted(expected["new L"], 4)
    assert re.search(r"\\eta = 0\.10", step)


def test_the_numeric_sum_for_dw00_adds_up_to_the_engines_value(default_tex):
    expected = _engine_values(DEFAULT)
    section, _ = _example_parts(default_tex)
    block = section[section.index(r"\delta w^{(1)}_{0,0} &=") :]
    block = block[: block.index(r"\end{align*}")]
    products = re.findall(rf"({NUMBER}) \\cdot \(?({NUMBER})\)?", block)
    assert len(products) == DEFAULT.conv_shape[0] * DEFAULT.conv_shape[1]
    xs = [float(x) for x, _ in products]
    assert xs == [float(v) for v in np.asarray(expected["X"])[:4, :4].reshape(-1)]
    dz = [float(g) for _, g in products]
    assert dz == [float(v) for v in _formatted(expected["dZ1"], 4)]
    total = re.findall(rf"&= ({NUMBER}),", block)[-1]
    assert total == _formatted(expected["dW1"][0, 0], 4)[0]
    assert abs(sum(x * g for x, g in zip(xs, dz, strict=True)) - float(total)) < 1e-3


def test_worked_example_is_computed_by_the_engine_for_other_specs():
    spec = NetworkSpec((7, 7), (3, 3), 3, 2)
    example = worked_example(spec)
    assert example["X"].shape == (7, 7) and example["params"]["W2"].shape == (4, 1)
    # a vertical edge: dark left half, bright right half
    assert example["X"][:, :3].max() <= 0.3 and example["X"][:, 4:].min() >= 0.7
    assert example["updated_loss"] < example["loss"]
    net = NumericNetwork(spec)
    grads = net.gradients(example["X"][None], [example["Y"]], example["params"])
    np.testing.assert_array_equal(example["gradients"]["W1"], grads["W1"])


# ------------------------------------------------------------------------------ compiled LaTeX
@pytest.fixture(scope="module", params=sorted(COMPILED))
def compiled(request, tmp_path_factory):
    require_tex_tools()
    spec = COMPILED[request.param]
    d = derive(spec)
    proofs = prove_all(d)
    tex = render_document(d, proofs, "Backpropagation in a CNN")
    log, text = compile_tex(tex, tmp_path_factory.mktemp(request.param), "cnn_backprop")
    return spec, tex, log, text


def test_the_document_compiles_cleanly(compiled):
    spec, _, log, _ = compiled
    assert "undefined references" not in log
    assert not re.search(r"Reference `[^']*' on page \d+ undefined", log)
    assert log.count("Overfull \\hbox") <= 5
    pages = int(re.search(r"Output written on .*?\((\d+) pages?", log, re.S).group(1))
    assert pages <= 30, f"{spec.label}: {pages} pages"


def test_the_pdf_states_the_key_results(compiled):
    spec, _, _, text = compiled
    flat = " ".join(text.replace("\u2212", "-").split())
    assert "a(2) - y" in flat  # δz2 = A2 - Y, as SymPy found it
    assert "cross-correlation" in flat
    assert f"{spec.parameter_count} = {spec.parameter_breakdown}" in flat
    assert "falls from" in flat
    assert "FAILS" not in flat


def test_large_networks_are_elided(compiled):
    spec, tex, _, _ = compiled
    if spec.input_shape != (28, 28):
        assert "a sum of 676 products" not in tex
        return
    assert r"\cdots" in tex and r"\vdots" in tex and r"\ddots" in tex
    assert "a sum of 676 products" in tex
    assert "x_{27,27}" in tex  # the last corner is kept
    assert "x_{14,14}" not in tex  # the middle is not


def test_hostile_title_appears_literally(default_derivation, tmp_path):
    require_tex_tools()
    d, proofs = default_derivation
    tex = render_document(d, proofs, HOSTILE_TITLE)
    log, text = compile_tex(tex, tmp_path, "cnn_backprop")
    assert "THE SECRET FILE WAS READ" not in text
    title = " ".join(text[: text.index("Derived, proved")].split())
    for glyph, char in GLYPHS.items():
        title = title.replace(glyph, char)
    assert title == HOSTILE_TITLE


# ------------------------------------------------------------------------------ Markdown
def test_markdown_uses_github_math_and_no_latex_machinery(default_md):
    assert "```math" in default_md and default_md.count("```math") >= 20
    assert re.search(r"\$[^$\n]+\$", default_md)
    for leftover in ("tikz", r"\BLOCK", r"\VAR", r"\#{", r"\begin{align*}", r"\label", r"\ref"):
        assert leftover not in default_md, leftover
    assert default_md.count("```") % 2 == 0
    assert "cross-correlation" in default_md and "a^{(2)} - y" in default_md


def test_markdown_shows_the_same_numbers(default_md):
    expected = _engine_values(DEFAULT)
    for name, lhs in (("Z1", "Z_1"), ("dZ1", r"\delta Z_1")):
        section = default_md[default_md.index("## 8 A worked example") :]
        if name == "dZ1":
            section = section[section.index("The max-pool sends") :]
        assert _shown(section, lhs) == _formatted(expected[name], 4)


def test_titles_are_escaped():
    assert escape_tex(r"\input{x}") == r"\textbackslash{}input\{x\}"
    assert escape_tex("50% & $5 #1 ~ ^_") == (
        r"50\% \& \$5 \#1 \textasciitilde{} \textasciicircum{}\_"
    )
    assert "\\" not in escape_tex("a\u2603b").replace("?", "")
    assert escape_markdown("*not* [a](link) $x$ <b>") == r"\*not\* \[a\](link) \$x\$ \<b\>"


# ------------------------------------------------------------------------------ printer, notebook
def test_printer_notation(default_derivation):
    d, _ = default_derivation
    printer = DocumentLatexPrinter(d.latex_names)
    a2 = d.quantities["A2"].symbols[()]
    z = d.quantities["Z1"].symbols[0, 0]
    assert printer.doprint(a2**2) == "(a^{(2)})^{2}"
    assert printer.doprint(sp.log(a2)) == r"\log a^{(2)}"
    assert printer.doprint(d.forward[1].expressions[0, 0]) == ("z^{(1)}_{0,0} [z^{(1)}_{0,0} > 0]")
    assert r"\left(" not in printer.doprint(d.head.dprediction_in_output)
    assert printer.doprint(sp.Derivative(d.quantities["L"].symbols[()], z)) == (
        r"\frac{\partial L}{\partial z^{(1)}_{0,0}}"
    )


# ------------------------------------------------------------------ every network, one family
SECTIONS = [
    "The network",
    "The general law",
    "Forward pass, element by element",
    "The chain rule, parameter by parameter",
    "Backward pass, layer by layer",
    "The convolution layer",
    "A batch of",
    "A worked example with numbers",
    "Exercises",
    "What the derivation proves",
]
TEACHING_SUBSECTIONS = [
    "Convolution",
    "ReLU",
    "Max-pool",
    "Flatten",
    "Dense layer, sigmoid and loss",
    "Loss and sigmoid: the product collapses to",
    "Dense layer:",
    "Flatten: reshape back",
    "Max-pool: the gradient is routed to the maximum",
    "ReLU: the mask",
    "Local derivatives",
    "The bias:",
    "The filter: each",
    "The pattern: a cross-correlation of the image with",
    "The input:",
    "Summary: all 15 gradients",
    "Forward",
    "Backward",
    "One step of gradient descent",
]


@pytest.fixture(scope="module")
def documents():
    """name -> (derivation, proofs, LaTeX, Markdown), each built once, on demand."""
    return built_documents(ARCHITECTURE_SPECS, "T")


@pytest.mark.parametrize("name", ARCHITECTURE_IDS)
def test_every_network_gets_every_section(documents, name):
    d, proofs, tex, md = documents(name)
    body, appendices = tex.split("\\appendix\n")
    headings = re.findall(r"\\section\{([^}]*)", body)
    assert "\\section{Answers to the exercises}" in appendices
    assert len(headings) == len(SECTIONS)
    for heading, expected in zip(headings, SECTIONS, strict=True):
        assert heading.startswith(expected), (heading, expected)
    for number, expected in enumerate(SECTIONS, start=1):
        assert f"\n## {number} {expected}" in md, expected
    # per conv block: both patterns with their figures; the example's every parameter
    for stage in d.conv_stages:
        n = stage.block
        assert f"\\label{{fig:weight{n}}}" in tex and f"\\label{{fig:input{n}}}" in tex
    example = tex[tex.index(r"\section{A worked example") : tex.index(r"\section{What the")]
    for name_ in d.parameter_names:
        assert f"% example:updated.{name_}" in example, name_
    assert f"All {len(proofs)} proofs hold." in tex and f"All {len(proofs)} proofs hold." in md


def test_the_teaching_network_keeps_its_teaching_sections(default_tex):
    titles = re.findall(r"\\(?:sub)?section\{([^}]*)", default_tex)
    for expected in TEACHING_SUBSECTIONS:
        assert any(t.startswith(expected) for t in titles), expected


def _balanced(math: str) -> bool:
    depth = 0
    for k, ch in enumerate(math):
        if ch in "{}" and k > 0 and math[k - 1] == "\\":
            continue
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    environments = re.findall(r"\\(begin|end)\{(\w+\*?)\}", math)
    stack: list[str] = []
    for kind, name in environments:
        if kind == "begin":
            stack.append(name)
        elif not stack or stack.pop() != name:
            return False
    return depth == 0 and not stack


@pytest.mark.parametrize("name", ARCHITECTURE_IDS)
def test_markdown_math_is_well_formed(documents, name):
    _, _, _, md = documents(name)
    for leftover in ("tikz", r"\BLOCK", r"\VAR", r"\#{", r"\begin{align*}", r"\label", r"\ref"):
        assert leftover not in md, leftover
    assert md.count("```") % 2 == 0
    blocks = re.findall(r"```math\n(.*?)```", md, re.S)
    assert len(blocks) >= 20 and all(_balanced(block) for block in blocks)
    prose = re.sub(r"```.*?```", "", md, flags=re.S)
    for line in prose.splitlines():
        unescaped = re.sub(r"\\\$", "", line)
        assert unescaped.count("$") % 2 == 0, line
        for inline in re.findall(r"\$([^$]+)\$", unescaped):
            assert _balanced(inline) and inline == inline.strip(), inline


@pytest.mark.parametrize("name", ARCHITECTURE_IDS)
def test_documents_are_deterministic(documents, name):
    d, proofs, tex, md = documents(name)
    assert render_document(d, proofs, "T", checks=checks_for(d)) == tex
    assert render_markdown(d, proofs, "T", checks=checks_for(d)) == md


@pytest.mark.parametrize("name", ARCHITECTURE_IDS)
def test_titles_are_printed_literally(documents, name):
    d, proofs, _, _ = documents(name)
    title = r"\input{secret.txt} 50% & $x$ #1"
    tex = render_document(d, proofs, title)
    assert r"\title{\textbackslash{}input\{secret.txt\} 50\% \& \$x\$ \#1}" in tex
    assert r"\input{secret" not in tex
    md = render_markdown(d, proofs, title)
    assert md.startswith(r"# \\input{secret.txt} 50% \& \$x\$ \#1" + "\n")


@pytest.mark.parametrize("name", ARCHITECTURE_IDS)
def test_notebook_forms(documents, name):
    d, _, _, _ = documents(name)
    head = f"a^{{({d.prediction[1:]})}} - y"
    latex = notebook_latex(d)
    assert latex.startswith("$$") and latex.endswith("$$") and r"\begin{aligned}" in latex
    assert f"{d.spec.parameter_count} trainable parameters" in latex
    assert head in latex and r"\BLOCK" not in latex
    markdown = notebook_markdown(d)
    assert "| Gradient |" in markdown and "$$" in markdown and head in markdown
    for name_ in d.parameter_names:  # every parameter's first gradient element
        first = d.quantities[name_].tex.replace(name_[0].lower(), r"\delta " + name_[0].lower(), 1)
        assert first in markdown, first
    shown = displayed(d)
    assert shown["text/latex"] == latex and shown["text/markdown"] == markdown
