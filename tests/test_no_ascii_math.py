"""No machine ASCII in the typeset prose (issue 13, "Machine ASCII in typeset prose").

Proofs hand the documents words and SymPy objects, so 'dL/dW1', 'z1_0_0', 'sigma(z2)',
'Piecewise(...)' or 'a**2' in the chapter means some text bypassed the printer. The scanner
reads the LaTeX outside verbatim and the Markdown outside code (math kept: LaTeX math never
holds these either), for the default network, examples/two-blocks.toml and a two-channel spec;
a planted pattern shows that it can fail.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from documents import built_documents

from symbp.spec.config import load_config
from symbp.spec.model import NetworkSpec

TITLE = "Backpropagation in a CNN"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SPECS = {
    "default": lambda: NetworkSpec(),
    "two-blocks": lambda: load_config(EXAMPLES / "two-blocks.toml"),
    "two-channels": lambda: NetworkSpec(channels=2, filters=2),
}

# Each pattern, as a regex; `\sigma(` is LaTeX, `sigma(` without the backslash is ASCII.
PATTERNS = {
    "**": r"\*\*",
    "_0_": r"_0_",
    "sigma(": r"(?<!\\)sigma\(",
    "Piecewise": r"Piecewise",
    "dL/d": r"dL/d",
    "\\textdegree": r"\\textdegree|˚",
}
# In Markdown `**` is bold: only a power such as a**2 (no space on either side) counts.
MARKDOWN_PATTERNS = {**PATTERNS, "**": r"(?<=[\w)\]])\*\*(?=[\w(\[])"}

_VERBATIM = re.compile(r"\\begin\{(verbatim|Verbatim|lstlisting|minted)\}.*?\\end\{\1\}", re.S)
_FENCE = "```"
_MARKDOWN_ESCAPE = re.compile(r"\\([\\`*_\[\]#|<>$~&])")
_INLINE_CODE = re.compile(r"(?<!\$)`[^`]*`(?!\$)")  # not GitHub's $`math`$


def latex_prose(tex: str) -> str:
    """The LaTeX outside verbatim, with escaped underscores and carets as the reader sees them."""
    text = _VERBATIM.sub("", tex)
    text = re.sub(r"\\verb(.).*?\1", "", text)
    return text.replace(r"\_", "_").replace(r"\textasciicircum{}", "^")


def markdown_prose(md: str) -> str:
    """The Markdown outside code fences and inline code (math fences and $`…`$ kept), unescaped.

    A fence closed at the end of a line of math (`...\\end{gathered}```) closes it too, so one
    such slip does not hide the rest of the document from the scan.
    """
    kept, fence = [], None
    for line in md.splitlines():
        stripped = line.strip()
        if fence is None:
            if stripped.startswith(_FENCE):
                fence = stripped[3:].strip() or "code"
                continue
            kept.append(_MARKDOWN_ESCAPE.sub(r"\1", _INLINE_CODE.sub("", line)))
            continue
        closing = stripped.endswith(_FENCE)
        body = stripped[: -len(_FENCE)] if closing else line
        if fence == "math":
            kept.append(body)
        if closing:
            fence = None
    return "\n".join(kept)


def ascii_math(text: str, patterns: dict[str, str]) -> dict[str, list[str]]:
    """Pattern -> the lines holding it (clipped), for every pattern found."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        for name, pattern in patterns.items():
            if re.search(pattern, line):
                found.setdefault(name, []).append(line.strip()[:160])
    return found


def scan_latex(tex: str) -> dict[str, list[str]]:
    return ascii_math(latex_prose(tex), PATTERNS)


def scan_markdown(md: str) -> dict[str, list[str]]:
    return ascii_math(markdown_prose(md), MARKDOWN_PATTERNS)


@pytest.fixture(scope="module")
def documents():
    """name -> (proofs, LaTeX, Markdown), each built once, on demand, with the CLI's proofs."""
    get = built_documents(SPECS, TITLE, full_composition=None)
    return lambda name: get(name)[1:]


@pytest.mark.parametrize("name", sorted(SPECS))
def test_latex_prose_has_no_ascii_math(documents, name):
    _, tex, _ = documents(name)
    assert scan_latex(tex) == {}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_markdown_prose_has_no_ascii_math(documents, name):
    _, _, md = documents(name)
    assert scan_markdown(md) == {}


@pytest.mark.parametrize(
    "planted",
    [
        r"Result: \holds. d relu(z)/dz = Piecewise((1, z1\_0\_0 \textgreater{} 0), (0, True)).",
        r"\textbf{tanh'(z) = 1 - a**2 with a = tanh(z).}",
        r"simplify((dL/dA2)(dA2/dZ2) - (sigma(z2) - y)) = 0.",
        r"cross-correlation rotated by 180\textdegree{}",
    ],
)
def test_the_latex_scanner_reports_a_planted_pattern(documents, planted):
    _, tex, _ = documents("default")
    assert scan_latex(tex + "\n" + planted + "\n") != {}
    hidden = "\\begin{verbatim}\n" + planted + "\n\\end{verbatim}\n"
    assert scan_latex(tex + hidden) == {}  # verbatim is code, not prose


def test_the_markdown_scanner_reports_a_planted_pattern(documents):
    _, _, md = documents("default")
    planted = r"1. **tanh'(z) = 1 - a\*\*2 with a = tanh(z).** simplify(dL/dA2 - sigma(z2)) = 0."
    assert set(scan_markdown(md + "\n" + planted + "\n")) == {"**", "dL/d", "sigma("}
    assert scan_markdown(md + "\n```text\n" + planted + "\n```\n") == {}  # code block
    assert scan_markdown(md + "\nsee `a**2` and **bold**\n") == {}  # inline code, bold
    # a fence closed on a line of math still closes: what follows is scanned
    slipped = "```math\nx = 1\\end{gathered}```\n" + planted + "\n"
    assert "dL/d" in scan_markdown(md + "\n" + slipped)


def test_proofs_keep_plain_text_for_the_terminal(documents):
    """The terminal prints title and detail; they say what the typeset heading says."""
    proofs, _, _ = documents("default")
    by_key = {p.key: p for p in proofs}
    assert by_key["dW1"].title == "dL/dW1 is the valid cross-correlation of X with dL/dZ1"
    assert by_key["dX"].title == (
        "dL/dX is the full cross-correlation of the padded dL/dZ1 with rot180(W1), "
        "i.e. the full true convolution dL/dZ1 * W1"
    )
    for proof in proofs:
        assert proof.heading and proof.findings or not proof.heading, proof.key
        assert "$" not in proof.title and "\\" not in proof.title, proof.key


@pytest.mark.parametrize("form", ["tex", "md"])
def test_dx_is_worded_in_the_proofs_own_vocabulary(documents, form):
    """One vocabulary: correlating with rot180(W) is the true convolution with W (issue 13)."""
    _, tex, md = documents("two-blocks")
    if form == "md":  # Markdown headings belong to the headings change: see the test below
        md = "\n".join(line for line in md.splitlines() if not line.startswith("#"))
    text = re.sub(r"\s+", " ", tex if form == "tex" else md)
    assert "full convolution with the kernel turned by" not in text
    assert "(unrotated); that is, the full true convolution" not in text
    assert "the full true convolution" in text and r"\operatorname{rot}_{180}(W_1)" in text
    degrees = r"180$^\circ$" if form == "tex" else "180°"
    assert degrees in text and "textdegree" not in text


def test_markdown_dx_heading_uses_the_proofs_vocabulary(documents):
    _, _, md = documents("two-blocks")
    headings = [line for line in md.splitlines() if line.startswith("#")]
    assert not any("full convolution with the kernel turned by" in h for h in headings)
