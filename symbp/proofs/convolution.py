"""The conv layer's three laws, proved element by element: dW is a cross-correlation of the
(padded) input with the (dilated) dZ, dB the sum of dZ, and dX the full cross-correlation of the
padded dZ with rot180(W), i.e. the full true convolution dZ * W (cropped by the padding).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp

from symbp.spec.naming import tex_name
from symbp.symbolic import patterns
from symbp.symbolic.derivation import Derivation

from .result import (
    Convolve,
    Correlate,
    Element,
    Formula,
    Proof,
    Rot180,
    TexAtom,
    Text,
    compare,
    elements_of,
    find_pattern,
    formula,
    grad,
    indexed,
    named,
    partial_of,
)


@dataclass(frozen=True)
class ConvView:
    """One conv layer of the derivation as 4-D / 3-D object arrays (filters, channels, ...)."""

    block: int
    input: str  # X, or the previous block's output (P1, A1)
    weight: str
    bias: str
    output: str
    x: np.ndarray  # (C, H, W) symbols
    w: np.ndarray  # (K, C, kH, kW) symbols
    dz: np.ndarray  # (K, oH, oW) gradient symbols
    stride: int
    padding: int


def conv_views(d: Derivation) -> list[ConvView]:
    views = []
    for stage in d.conv_stages:
        assert stage.geometry is not None and stage.block is not None
        g = stage.geometry
        k, c = g.conv[0], g.input[0]
        kh, kw = g.block.filter_shape
        views.append(
            ConvView(
                stage.block,
                stage.input,
                stage.params[0],
                stage.params[1],
                stage.output,
                d.quantities[stage.input].symbols.reshape(g.input),
                d.quantities[stage.params[0]].symbols.reshape(k, c, kh, kw),
                d.gradient_symbols["d" + stage.output].symbols.reshape(g.conv),
                g.block.stride,
                g.block.padding,
            )
        )
    return views


def _padded(view: ConvView) -> list[np.ndarray]:
    return [patterns.zero_pad(channel, view.padding) for channel in view.x]


def _dilated(view: ConvView) -> list[np.ndarray]:
    """dZ of each filter dilated by the stride to (Hp - kH + 1) x (Wp - kW + 1)."""
    _, h, w = view.x.shape
    kh, kw = view.w.shape[2:]
    rows, cols = h + 2 * view.padding - kh + 1, w + 2 * view.padding - kw + 1
    return [patterns.dilate(g, view.stride, rows, cols) for g in view.dz]


def _conv_words(view: ConvView) -> tuple[Text, Text]:
    """How the input and dZ enter the pattern, in words: (X, δZ1), or padded/dilated."""
    source: Text = (named(view.input),)
    if view.padding:
        source += (f" zero-padded by {view.padding}",)
    gradient: Text = (grad(view.output),)
    if view.stride != 1:
        gradient += (f" dilated by {view.stride}",)
    return source, gradient


def _operands(view: ConvView) -> tuple[TexAtom, TexAtom, TexAtom]:
    """The input, dZ and the kernel as printable atoms, for the candidates' formulas."""
    return (
        TexAtom(tex_name(view.input)),
        TexAtom(rf"\delta {tex_name(view.output)}"),
        TexAtom(tex_name(view.weight)),
    )


def prove_weight_gradient(d: Derivation, view: ConvView) -> Proof:
    """dW[k, c] = pad(X[c]) ⋆ dilate(dZ[k]): the cross-correlation of input and gradient."""
    padded, dilated = _padded(view), _dilated(view)
    flipped = [patterns.rotate_180(g) for g in dilated]
    kh, kw = view.w.shape[2:]
    actual = d.gradients[view.weight].reshape(view.w.shape)
    x, dz, _ = _operands(view)
    dz_plain = f"dL/d{view.output}"
    holds, detail = find_pattern(
        actual,
        {
            (
                "cross-correlation ",
                Formula(Correlate(x, dz), f"{view.input} ⋆ {dz_plain}"),
            ): lambda i: patterns.correlate_at(padded[i[1]], dilated[i[0]], i[2], i[3]),
            (
                "true convolution ",
                Formula(Convolve(x, dz), f"{view.input} * {dz_plain}"),
                " (flipped)",
            ): lambda i: patterns.correlate_at(padded[i[1]], flipped[i[0]], i[2], i[3]),
            (
                "cross-correlation rotated by 180° (a forward pass that flips the kernel)",
            ): lambda i: patterns.correlate_at(
                padded[i[1]], dilated[i[0]], kh - 1 - i[2], kw - 1 - i[3]
            ),
        },
        grad(view.weight),
    )
    source, gradient = _conv_words(view)
    simple = view.stride == 1 and not view.padding
    several = view.w.shape[0] * view.w.shape[1] > 1
    x_tex = indexed(tex_name(view.input), "c" if several else "")
    dz_tex = indexed(partial_of(view.output), "k" if several else "")
    if not view.padding and view.stride == 1:
        right = rf"{x_tex} \star {dz_tex}"
    else:
        inner = rf"\operatorname{{pad}}_{{{view.padding}}}({x_tex})" if view.padding else x_tex
        dil = rf"\operatorname{{dil}}_{{{view.stride}}}\!\Big({dz_tex}\Big)"
        right = rf"{inner} \star " + (dil if view.stride != 1 else dz_tex)
    left = indexed(partial_of(view.weight), "k,c" if several else "")
    heading: Text = (
        grad(view.weight),
        " is the valid cross-correlation of " if simple else " is the cross-correlation of ",
        *source,
        " with ",
        *gradient,
    )
    if several:
        k, c = sp.symbols("k c")
        heading += (" (per filter ", formula(k), " and channel ", formula(c), ")")
    return Proof.of(f"dW{view.block}", heading, f"{left} = {right}", holds, detail)


def prove_bias_gradient(d: Derivation, view: ConvView) -> Proof:
    filters = view.dz.shape[0]
    actual = d.gradients[view.bias].reshape(filters)
    expected = np.empty(filters, dtype=object)
    for k in range(filters):
        expected[k] = patterns.total(view.dz[k])
    holds, detail = compare(actual, elements_of(expected), grad(view.bias))
    if holds and filters == 1:
        detail = ("The difference for ", grad(view.bias), " expands to 0")  # not "All 1 elements"
    out = view.output
    z_tex = f"z^{{({out[1:]})}}"
    heading: Text
    if filters == 1:
        heading = (grad(view.bias), " is the sum of ", grad(out))
        element = rf"\frac{{\partial L}}{{\partial {z_tex}_{{i,j}}}}"
        statement = rf"{partial_of(view.bias)} = \sum_{{i,j}} {element}"
    else:
        heading = (grad(view.bias), " is, per filter, the sum of that filter's ", grad(out))
        element = rf"\frac{{\partial L}}{{\partial {z_tex}_{{k,i,j}}}}"
        statement = rf"{partial_of(view.bias)}[k] = \sum_{{i,j}} {element}"
    return Proof.of(f"dB{view.block}", heading, statement, holds, detail)


def prove_input_gradient(d: Derivation, view: ConvView) -> Proof:
    """dX[c] = crop_P( sum_k pad_{k_H-1}(dilate(dZ[k])) ⋆ rot180(W[k, c]) ): full convolution."""
    kh, kw = view.w.shape[2:]
    dilated = [patterns.zero_pad(g, kh - 1, kw - 1) for g in _dilated(view)]
    filters, pad = view.w.shape[0], view.padding

    def full(kernel_of: Callable[[int, int], np.ndarray]) -> Element:
        def element(index: tuple[int, ...]) -> sp.Expr:
            c, i, j = index
            return sp.Add(
                *(
                    patterns.correlate_at(dilated[k], kernel_of(k, c), i + pad, j + pad)
                    for k in range(filters)
                )
            )

        return element

    actual = d.gradients[view.input].reshape(view.x.shape)
    rejected: Text = (
        "full cross-correlation of the padded ",
        grad(view.output),
        " with the unrotated ",
        named(view.weight),
    )
    holds, detail = find_pattern(
        actual,
        {
            _input_gradient_words(view): full(lambda k, c: patterns.rotate_180(view.w[k, c])),
            rejected: full(lambda k, c: view.w[k, c]),
        },
        grad(view.input),
    )
    statement = _input_gradient_statement(view)
    heading = (grad(view.input), " is the ", *_input_gradient_words(view))
    return Proof.of("d" + view.input, heading, statement, holds, detail)


def _input_gradient_words(view: ConvView) -> Text:
    """The dX law in the proofs' own vocabulary: correlating with the rotated kernel is, by
    definition, true convolution with the kernel itself (one wording, documents and terminal)."""
    filters = view.w.shape[0]
    _, dz, w = _operands(view)
    dz_plain = f"dL/d{view.output}"
    if view.stride != 1:
        s = view.stride
        dz = TexAtom(rf"\operatorname{{dil}}_{{{s}}}({dz.name})")
        dz_plain = f"dil{s}({dz_plain})"
        padded: Text = ("full cross-correlation of ", grad(view.output), f" dilated by {s} ")
        padded += ("and padded, with ",)
    else:
        padded = ("full cross-correlation of the padded ", grad(view.output), " with ")
    words: Text = (
        *padded,
        Formula(Rot180(w), f"rot180({view.weight})"),
        ", i.e. the full true convolution ",
        Formula(Convolve(dz, w), f"{dz_plain} * {view.weight}"),
    )
    if view.padding:
        words += (f", cropped by the padding {view.padding}",)
    if filters > 1:
        words += (", summed over filters",)
    return words


def _input_gradient_statement(view: ConvView) -> str:
    """The dX law for this block in LaTeX (the statement)."""
    kh, kw = view.w.shape[2:]
    filters, channels = view.w.shape[:2]
    pad = view.padding
    several = filters * channels > 1
    dz_tex = indexed(partial_of(view.output), "k" if several else "")
    w_tex = indexed(tex_name(view.weight), "k,c" if several else "")
    inner = (
        rf"\operatorname{{dil}}_{{{view.stride}}}\!\Big({dz_tex}\Big)"
        if view.stride != 1
        else dz_tex
    )
    # pad by the kernel's size - 1, as a number like every other size in this instance
    # (k alone would be undefined: the general laws' k is the filter index)
    amount = f"{kh - 1}" if kh == kw else f"{kh - 1},{kw - 1}"
    body = (
        rf"\operatorname{{pad}}_{{{amount}}}\!\Big({inner}\Big) \star "
        rf"\operatorname{{rot}}_{{180}}({w_tex})"
    )
    if several:
        body = rf"\sum_k {body}"
    if pad:
        body = rf"\operatorname{{crop}}_{{{pad}}}\!\Big({body}\Big)"
    left = indexed(partial_of(view.input), "c" if several else "")
    return f"{left} = {body}"
