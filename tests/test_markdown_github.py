"""The Markdown document on GitHub (issue 13): GitHub's parser mangles `$…$` (two `_{…}` become
emphasis, `\\,` loses its backslash), so every inline span is $`…`$, display math stays in
```math fences, and no heading carries math. Jupyter does not know $`…`$: the notebook views
keep `$…$`.

The checker below is independent of symbp.document.markdown_math: it reads the rendered text
line by line, as GitHub does, and reports every dollar that is not part of a safe form.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from documents import built_documents, checks_for

from symbp.document.build import notebook_markdown, render_markdown
from symbp.document.markdown_math import github_math
from symbp.notebook import markdown_view
from symbp.proofs import prove_all
from symbp.spec.config import load_config
from symbp.spec.model import NetworkSpec

ROOT = Path(__file__).resolve().parent.parent
SPECS = {
    "default": lambda: NetworkSpec(),
    "two-blocks": lambda: load_config(ROOT / "examples" / "two-blocks.toml"),
    "two-channel": lambda: NetworkSpec(channels=2, filters=2),
}
GITHUB_SPAN = re.compile(r"\$`([^`]*)`\$")
CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)")
FENCE = re.compile(r"^\s*(`{3,}|~{3,})")


@pytest.fixture(scope="module")
def built():
    """name -> (derivation, Markdown), each built once, on demand."""
    get = built_documents(SPECS, "Backpropagation in a CNN")
    return lambda name: (get(name).derivation, get(name).md)


def _balanced(math: str) -> bool:
    """Braces pair up (escaped ones aside) and every \\left has its \\right."""
    depth = 0
    for token in re.findall(r"\\.|[{}]", math):
        depth += {"{": 1, "}": -1}.get(token, 0)
        if depth < 0:
            return False
    return depth == 0 and len(re.findall(r"\\left\b", math)) == len(re.findall(r"\\right\b", math))


def github_problems(markdown: str) -> list[str]:
    """Every line GitHub would render wrongly: a dollar outside $`…`$ (and outside code), an
    unbalanced $`…`$ span, math in a heading, a fence closed on a line of its own content."""
    problems = []
    fence = ""
    for number, line in enumerate(markdown.split("\n"), start=1):
        opened = FENCE.match(line)
        if fence:
            closing = line.strip()
            if closing == fence[0] * len(closing) and len(closing) >= len(fence):
                fence = ""
            elif line.rstrip().endswith(fence[0] * 3):
                problems.append(f"{number}: fence closed after content: {line[-40:]!r}")
            continue
        if opened:
            fence = opened[1]
            continue
        if line.lstrip().startswith("#") and "$" in line:
            problems.append(f"{number}: math in a heading: {line!r}")
        for math in GITHUB_SPAN.findall(line):
            if not math.strip() or not _balanced(math):
                problems.append(f"{number}: unbalanced span $`{math}`$")
        rest = CODE_SPAN.sub("", GITHUB_SPAN.sub("", line))
        if re.search(r"(?<!\\)\$", rest.replace("\\\\", "")):
            problems.append(f"{number}: a dollar outside $`…`$: {line!r}")
    if fence:
        problems.append("the document ends inside a fence")
    return problems


# ------------------------------------------------------------------ the three documents
@pytest.mark.parametrize("name", sorted(SPECS))
def test_document_has_only_github_safe_math(built, name):
    _, md = built(name)
    assert github_problems(md) == []
    spans = GITHUB_SPAN.findall(md)
    assert len(spans) > 100
    # the two failure patterns now occur only inside the safe form
    assert any(s.count("_{") >= 2 for s in spans)
    assert "$$" not in md
    assert md.count("```math") > 10


@pytest.mark.parametrize("name", sorted(SPECS))
def test_no_heading_carries_math(built, name):
    _, md = built(name)
    headings = [line for line in md.split("\n") if re.match(r"#{1,6} ", line)]
    assert len(headings) > 20
    assert [h for h in headings if "$" in h or "\\" in h] == []
    assert any("collapses to the prediction minus the label" in h for h in headings)


def test_markdown_is_deterministic(built):
    d, md = built("default")
    assert (
        render_markdown(
            d,
            prove_all(d, full_composition=False),
            "Backpropagation in a CNN",
            checks=checks_for(d),
        )
        == md
    )


def test_derive_writes_the_github_form(tmp_path):
    """The command line goes through the same path: `derive --format md` for two blocks."""
    config = ROOT / "examples" / "two-blocks.toml"
    command = ["derive", "--config", str(config), "--format", "md", "--out", str(tmp_path), "-q"]
    run = subprocess.run(
        [sys.executable, "-m", "symbp", *command],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    md = (tmp_path / "cnn_backprop.md").read_text(encoding="utf-8")
    assert github_problems(md) == []
    assert "$`" in md


# ------------------------------------------------------------------ Jupyter keeps $…$
def test_notebook_views_keep_jupyters_dollars(built):
    d, _ = built("default")
    for text in (notebook_markdown(d), markdown_view(d)):
        assert "$`" not in text and "`$" not in text
        assert re.search(r"(?<![$`])\$[^$`]+\$(?![$`])", text)
        assert "$$" in text


# ------------------------------------------------------------------ the conversion itself
@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("a $x$ b", "a $`x`$ b"),
        ("$x$ opens the line and $y$", "$`x`$ opens the line and $`y`$"),
        ("it ends with $y_{1}$", "it ends with $`y_{1}`$"),
        ("adjacent $a$$b$ and $c$ $d$", "adjacent $`a`$$`b`$ and $`c`$ $`d`$"),
        ("run `echo $HOME` for $x$", "run `echo $HOME` for $`x`$"),
        ("``a ` $b`` then $c$", "``a ` $b`` then $`c`$"),
        ("an unclosed ` tick and $x$", r"an unclosed \` tick and $`x`$"),
        ("two `` lone and $x$", r"two \`\` lone and $`x`$"),
        (r"costs \$5, \$6 and $x$", r"costs \$5, \$6 and $`x`$"),
        (r"\\$x$", r"\\$`x`$"),
        (r"$a\,b \$ c$", r"$`a\,b \$ c`$"),
        (r"$w_{k,c}\, x_{c,\,i+p}$", r"$`w_{k,c}\, x_{c,\,i+p}`$"),
        (r"$a \\ b$ and $c$", r"$`a \\ b`$ and $`c`$"),
        ("already $`x`$ and $y$", "already $`x`$ and $`y`$"),
        ("a span that $x +\ny$ wraps", "a span that $`x + y`$ wraps"),
        (
            "- $x$ is one\n- and $y_{1}$ two\n  1. $z$",
            "- $`x`$ is one\n- and $`y_{1}`$ two\n  1. $`z`$",
        ),
        ("| $Z$ | $|x| + \\|y\\|$ |", "| $`Z`$ | $`\\vert x\\vert  + \\Vert y\\Vert `$ |"),
        ("## A $x$ heading", "## A $`x`$ heading"),
        ("```math\n\\frac{a}{b} $x$\n```\n$y$", "```math\n\\frac{a}{b} $x$\n```\n$`y`$"),
        ("```python\nprint('$')\n```", "```python\nprint('$')\n```"),
        ("~~~\n$ ``` $\n~~~\n$x$", "~~~\n$ ``` $\n~~~\n$`x`$"),
        ("  ```math\n  a\n  ```", "  ```math\n  a\n  ```"),
        ("$$\n\\sum_{k} x_{k}\n$$", "```math\n\\sum_{k} x_{k}\n```"),
        ("$$a_{1} + b_{2}$$", "```math\na_{1} + b_{2}\n```"),
        ("no math at all, 5 € or more", "no math at all, 5 € or more"),
        ("para $a$\n\npara $b$\n", "para $`a`$\n\npara $`b`$\n"),
    ],
)
def test_github_math_converts(source, expected):
    assert github_math(source) == expected
    assert github_math(expected) == expected  # the safe form is a fixed point
    if not expected.startswith("#"):  # a heading's math is a problem of the templates
        assert github_problems(expected) == []


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("a $x without its end", "line 1: a \\$ that opens math but is never closed"),
        ("one\ntwo $x\n\n$ three", "line 2: a \\$ that opens"),
        ("| $a | b |\n| $c$ |", "line 1: a \\$ that opens"),
        ("text $$x$$ inline", "line 1: \\$\\$ display math inside a line"),
        ("$x`y$", "cannot be written as"),
        ("$`x` and more", "not closed by"),
        ("$$\nx", "never closed"),
    ],
)
def test_github_math_refuses_what_it_cannot_pair(source, message):
    with pytest.raises(ValueError, match=message):
        github_math(source)


def test_checker_sees_the_old_problems():
    """The checker flags what the old templates wrote: plain spans, math in headings, a fence
    closed on its content's line."""
    old = "### 5.1 collapses to $A_2 - Y$\n\nand $x_{1}y_{2}$\n\n```math\n\\end{gathered}```\n"
    problems = "\n".join(github_problems(old))
    assert "1: math in a heading" in problems
    assert "1: a dollar outside" in problems and "3: a dollar outside" in problems
    assert "6: fence closed after content" in problems
    assert "ends inside a fence" in problems


@pytest.mark.parametrize("name", sorted(SPECS))
def test_the_contents_line_lists_every_numbered_section(built, name):
    """The Markdown's line of contents names each '## N Title' section, in order."""
    _, md = built(name)
    headings = re.findall(r"^## (\d+) (.+)$", md, re.M)
    contents = " ".join(md[: md.index("## 1 ")].split())
    listed = re.findall(r"(\d+) ([^·]+?)(?: ·|$)", contents[contents.index("1 The network") :])
    assert [(n, t.strip()) for n, t in listed] == [(n, t.strip()) for n, t in headings]
