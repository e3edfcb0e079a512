"""Errata of the chapter (issue 13, "Errors on the page"): each wrong sentence or display a
teacher found, checked in the LaTeX and in the Markdown.

The teaching network (no padding, no tie in its pool windows) and the same network with
padding 1 (a padded input gradient, and tied pool windows: ReLU zeros at the border) are
derived once each; every test reads their rendered text.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from documents import built_documents
from numpy.lib.stride_tricks import sliding_window_view

from symbp.reference.example import worked_example
from symbp.spec.model import NetworkSpec

TITLE = "Backpropagation in a CNN"
SPECS = {"default": NetworkSpec(), "padded": NetworkSpec(padding=1)}


@pytest.fixture(scope="module")
def built():
    """name -> (derivation, proofs, LaTeX, Markdown), each built once, on demand."""
    return built_documents(SPECS, TITLE)


def _texts(built, name: str) -> dict[str, str]:
    _, _, tex, md = built(name)
    return {"tex": tex, "md": md}


def _flat(text: str) -> str:
    """The text with every run of white space one space (sentences wrap in the templates)."""
    return re.sub(r"\s+", " ", text)


def _in(form: str, text: str) -> str:
    """`text`'s inline math as the form writes it: GitHub's $`…`$ in the Markdown."""
    return text if form == "tex" else re.sub(r"\$([^$]+)\$", r"$`\1`$", text)


# ------------------------------------------------------ 1. general indices, not the first element
@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("form", ["tex", "md"])
def test_convolution_section_opens_with_every_element_in_general_indices(built, name, form):
    text = _flat(_texts(built, name)[form])
    assert _in(form, r"every $\delta z^{(1)}_{i,j}$ is known") in text
    assert _in(form, r"every $\delta z^{(1)}_{0,0}$ is known") not in text


@pytest.mark.parametrize("form", ["tex", "md"])
def test_forward_sum_is_stated_for_every_element(built, form):
    text = _flat(_texts(built, "default")[form])
    assert _in(form, r"each $z^{(1)}_{i,j}$ is a sum of 9 products") in text
    assert _in(form, r"$z^{(1)}_{0,0}$ is a sum of") not in text


# ------------------------------------------------------ 2. the dX proof pads by a defined size
@pytest.mark.parametrize("form", ["tex", "md"])
def test_input_gradient_proof_pads_by_the_kernel_size_as_a_number(built, form):
    """Proof 7 padded by an undefined k - 1; the instance now says pad_2 for the 3x3 kernel,
    like its dil and crop, which are numbers too."""
    d, proofs, *_ = built("default")
    (proof,) = [p for p in proofs if p.key == "dX"]
    assert "k-1" not in proof.statement.replace(" ", "")
    assert r"\operatorname{pad}_{2}" in proof.statement
    text = _texts(built, "default")[form]
    proofs_section = text[text.index("Every comparison below is exact") :]
    assert not re.search(r"\\operatorname\{pad\}_\{\s*k", proofs_section)


# ------------------------------------------------------ 3. the tie sentence follows the numbers
def _ties_by_hand(values: np.ndarray, size: int, step: int) -> tuple[int, int]:
    """Windows whose maximum occurs more than once, and all windows, counted independently."""
    grid = values if values.ndim == 3 else values[None]
    tied = total = 0
    for channel in grid:
        for r in range(0, channel.shape[0] - size + 1, step):
            for c in range(0, channel.shape[1] - size + 1, step):
                window = channel[r : r + size, c : c + size].ravel().tolist()
                tied += window.count(max(window)) > 1
                total += 1
    return tied, total


def test_tied_windows_counts_windows_with_a_repeated_maximum():
    from symbp.document.section_example import tied_windows

    a = np.array(
        [[1.0, 1.0, 0.0, 2.0], [0.0, 0.5, 1.0, 0.0], [3.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    )
    assert tied_windows(a, 2, 2) == (2, 4)  # the top-left (1, 1) and the bottom-right (all 0)
    assert tied_windows(a[None], 2, 2) == (2, 4)
    assert tied_windows(a, 2, 1) == _ties_by_hand(a, 2, 1)
    windows = sliding_window_view(a, (3, 3))
    assert (
        tied_windows(a, 3, 1) == _ties_by_hand(a, 3, 1) == (0, windows.shape[0] * windows.shape[1])
    )


TIE_CLAIM = "the first one, where the window has a tie"


@pytest.mark.parametrize("form", ["tex", "md"])
def test_example_without_a_tie_does_not_claim_one(built, form):
    spec = SPECS["default"]
    tied, _ = _ties_by_hand(worked_example(spec)["forward"]["A1"], 2, 2)
    assert tied == 0  # the premise: the teaching example has no tied window
    text = _flat(_texts(built, "default")[form])
    assert TIE_CLAIM not in text
    assert "to the maximum of its window (every window here has a single maximum)" in text


@pytest.mark.parametrize("form", ["tex", "md"])
def test_example_with_ties_says_how_many_windows_tie(built, form):
    spec = SPECS["padded"]
    tied, total = _ties_by_hand(worked_example(spec)["forward"]["A1"], 2, 2)
    assert 0 < tied < total  # the premise: the padded example has tied windows
    text = _flat(_texts(built, "padded")[form])
    assert (
        f"to the maximum of its window (the first one in row-major order where the maximum is "
        f"tied, as in {tied} of its {total} windows here)"
    ) in text


# ------------------------------------------------------ 4. the cropped ring is gradient, not zeros
@pytest.mark.parametrize("form", ["tex", "md"])
def test_cropped_ring_holds_the_gradient_at_the_padding(built, form):
    text = _flat(_texts(built, "padded")[form])
    assert "ring of zeros" not in text
    assert "(the padding) is cropped away" not in text
    assert "(the padding, 1 wide) is cropped away" not in text
    assert (
        "holds the gradient at the padding positions, which are not inputs, and is discarded"
        in text
    )


# ------------------------------------------------------ 5. δF has the shape of F: a row
@pytest.mark.parametrize("form", ["tex", "md"])
def test_feature_gradient_is_displayed_as_a_row_like_f(built, form):
    text = _texts(built, "default")[form]
    start = text.index("each feature's gradient is its")
    section = text[start : text.index("In matrix form", start)]
    row = (
        r"\left[\begin{matrix}\delta f_{0} & \delta f_{1} & \delta f_{2} & \delta f_{3}"
        r"\end{matrix}\right]"
    )
    assert row in section
    assert r"\delta f_{0}\\" not in section
    assert r"\delta z^{(2)} w^{(2)}_{0,0} & \delta z^{(2)} w^{(2)}_{1,0}" in section
    # F itself is a row on the same page, and the text says δF = δz W2ᵀ (a row)
    assert r"F = \left[\begin{matrix}f_{0} & f_{1} & f_{2} & f_{3}\end{matrix}\right]" in text
    assert r"\delta F = \delta z^{(2)}\,W_2^{\mathsf T}" in text


# ------------------------------------------------------ 6. what each proof establishes
@pytest.mark.parametrize("form", ["tex", "md"])
def test_the_proofs_say_what_each_establishes_not_no_sampling(built, form):
    """The old intro claimed 'no sampling' while proofs evaluate at points and enumerate
    windows: now each proof states its method, and the intro says what each method means."""
    _, proofs, *_ = built("default")
    text = _flat(_texts(built, "default")[form])
    section = text[text.index("Every comparison below is exact") :]
    assert "no sampling" not in text
    for method in ("symbolic", "exhaustive", "sampled"):
        assert re.search(method + r"[}*]?, ", section), method  # the intro defines each
    marks = re.findall(r"\((?:\\emph\{|\*)(symbolic|exhaustive|sampled)(?:\}|\*)\)", section)
    assert marks == [p.method for p in proofs]
    assert {p.method for p in proofs} >= {"symbolic", "exhaustive"}


# ------------------------------------------------------ 7. figure labels readable on screen
@pytest.mark.parametrize("name", ["default", "padded"])
def test_no_figure_label_under_7pt(built, name):
    """Cell labels were 5 pt; every font size the document sets is now at least 7 pt."""
    tex = _texts(built, name)["tex"]
    sizes = [int(n) for n in re.findall(r"\\fontsize\{(\d+(?:\.\d+)?)\}", tex)]
    assert sizes and min(sizes) >= 7, sizes
    assert not re.search(r"\\(tiny|scriptsize)\b", tex)


# ------------------------------------------------------ 8. small words
@pytest.mark.parametrize(
    "number, word",
    [(8, "an"), (11, "an"), (18, "an"), (80, "an"), (800, "an"), (11_000, "an"), (1, "a")]
    + [(12, "a"), (110, "a"), (1_100, "a"), (180, "a"), (28, "a")],
)
def test_the_article_a_number_takes(number, word):
    from symbp.document.render import article

    assert article(number) == word


def test_an_8x8_network_reads_an_8x8_and_no_double_comma():
    from documents import built_documents

    from symbp.spec.config import load_config

    root = Path(__file__).resolve().parent.parent
    get = built_documents(
        {"8x8": NetworkSpec((8, 8)), "two": lambda: load_config(root / "examples/two-blocks.toml")},
        TITLE,
    )
    for name in ("8x8", "two"):
        for text in get(name)[2:]:
            assert not re.search(r"\ba (8|11|18)\b", text), name
            assert ",," not in text.replace("$`,`$", ""), name
    assert "an 8×8" in get("8x8").md


# ------------------------------------------------------ 9. proofs numbered as they are read
def test_proofs_are_numbered_in_the_order_the_text_first_cites_them():
    """Two blocks used to read Proofs 1, 2, 3, 4, 7, 8, 9, 5, 6, ...: the list now follows the
    backward pass (last layer first, last block first), as the text does."""
    from documents import built_documents

    from symbp.spec.config import load_config

    root = Path(__file__).resolve().parent.parent
    specs = {
        "default": NetworkSpec(),
        "two": lambda: load_config(root / "examples/two-blocks.toml"),
    }
    get = built_documents(specs, TITLE)
    for name in specs:
        tex = get(name).tex
        body = tex[: tex.index(r"\section{What the derivation proves}")]
        cited = list(dict.fromkeys(re.findall(r"\\ref\{proof:([^}]+)\}", body)))
        listed = re.findall(r"\\label\{proof:([^}]+)\}", tex)
        positions = [listed.index(key) for key in cited]
        assert positions == sorted(positions), (name, cited, listed)
