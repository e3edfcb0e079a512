"""The document's size for the stride-dilated gradient (issue 13): S (Ho - 1) + 1 rows, then
(H + 2P - kH) mod S trailing zero rows, so that the valid cross-correlation of the padded input
with it has the filter's size and equals the engine's dW (a loop, independent of the sizes)."""

from __future__ import annotations

import numpy as np
import pytest

from symbp.document.section_convolution import dilation
from symbp.reference.engine import Conv2D
from symbp.spec.model import ConvBlock

CASES = [  # (H, W), filter, stride, padding
    ((6, 6), (3, 3), 2, 0),  # the example: 2x2 dZ -> 3x3 dilated -> 4x4 with a zero row
    ((7, 7), (3, 3), 2, 0),  # the stride reaches the last row: no trailing zeros
    ((8, 9), (3, 2), 3, 1),
    ((5, 5), (2, 2), 1, 1),
]


def _correlate_valid(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    rows = image.shape[0] - kernel.shape[0] + 1
    cols = image.shape[1] - kernel.shape[1] + 1
    return np.array(
        [
            [
                np.sum(image[p : p + kernel.shape[0], q : q + kernel.shape[1]] * kernel)
                for q in range(cols)
            ]
            for p in range(rows)
        ]
    )


@pytest.mark.parametrize("size, kernel, stride, padding", CASES)
def test_the_stated_dilated_size_gives_the_engines_weight_gradient(size, kernel, stride, padding):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 1, *size))
    w = rng.normal(size=(1, 1, *kernel))
    conv = Conv2D(w, np.zeros(1), stride=stride, padding=padding)
    z = conv.forward(x)
    dz = rng.normal(size=z.shape)
    conv.backward(dz)
    block = ConvBlock(filter_shape=kernel, stride=stride, padding=padding)
    facts = dilation((1, *size), z.shape[1:], block)
    full = np.zeros(facts["full"])
    full[::stride, ::stride][: z.shape[2], : z.shape[3]] = dz[0, 0]
    assert facts["dilated"] == [stride * (n - 1) + 1 for n in z.shape[2:]]
    padded = np.pad(x[0, 0], padding)
    dw = _correlate_valid(padded, full)
    assert dw.shape == kernel
    np.testing.assert_allclose(dw, conv.grad_weight[0, 0], rtol=1e-12, atol=1e-12)


def test_without_the_trailing_zeros_the_sizes_do_not_fit():
    """Break it on purpose: the dilated gradient alone gives a 4x4 result for a 3x3 filter."""
    block = ConvBlock(filter_shape=(3, 3), stride=2, padding=0)
    facts = dilation((1, 6, 6), (1, 2, 2), block)
    assert facts["trailing"] == [1, 1]
    assert 6 - facts["dilated"][0] + 1 == 4 != 3 == 6 - facts["full"][0] + 1


def test_the_document_states_the_sizes():
    from symbp.document.build import render_document, render_markdown
    from symbp.pipeline import check_spec
    from symbp.spec.model import NetworkSpec

    checked = check_spec(NetworkSpec(stride=2, pool_size=1))
    markdown = render_markdown(checked.derivation, checked.proofs, "t")
    latex = render_document(checked.derivation, checked.proofs, "t")
    assert "1 zero between its elements: 3×3; then 1 zero row and 1 zero column" in markdown
    assert "4×4 in all; the valid cross-correlation then has the filter's size, 3×3" in markdown
    assert r"4$\times$4 in all" in latex


def test_the_input_gradient_states_the_same_sizes():
    """The dX grid: the dilated 3x3, one trailing zero row and column (4x4), padded by 2 on
    each side: 8x8, whose valid cross-correlation with the 3x3 kernel is the 6x6 input."""
    from symbp.document.build import render_markdown
    from symbp.pipeline import check_spec
    from symbp.spec.model import NetworkSpec

    checked = check_spec(NetworkSpec(stride=2, pool_size=1))
    markdown = " ".join(render_markdown(checked.derivation, checked.proofs, "t").split())
    assert "the stride never reaches: 4×4), pad it with 2 rows and 2 columns" in markdown
    assert "(an 8×8 grid)" in markdown and 8 - 3 + 1 == 6
