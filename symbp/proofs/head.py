"""The sigmoid-BCE head: its product collapses to A - Y, and the stable loss the compiled
module evaluates equals the textbook BCE."""

from __future__ import annotations

from typing import cast

import sympy as sp

from symbp.spec.naming import tex_name
from symbp.symbolic.derivation import Derivation

from .result import (
    Proof,
    TexAtom,
    formula,
)


def prove_head_collapses(d: Derivation) -> Proof:
    head = d.head
    a2, y = d.quantities[d.prediction].symbols[()], d.quantities["Y"].symbols[()]
    z2 = d.quantities[d.logit].symbols[()]
    sigmoid = 1 / (1 + sp.exp(-z2))
    in_z2 = head.product.subs(a2, sigmoid)
    difference = sp.simplify(in_z2 - (sigmoid - y))
    holds = difference == 0 and sp.expand(head.result - (a2 - y)) == 0
    a, z = d.prediction, d.logit
    collapsed = formula(TexAtom(f"{tex_name(a)} - Y"), f"{a} - Y")
    findings = (
        (
            "The product minus ",
            formula(TexAtom(rf"(\sigma({d.latex_names[z2]}) - y)"), f"(sigma({z.lower()}) - y)"),
            " simplifies to 0",
        )
        if holds
        else (
            "The product differs from ",
            collapsed,
            " by ",
            formula(difference),
            "; found ",
            formula(head.result),
        )
    )
    return Proof.of(
        "head",
        ("The sigmoid and cross-entropy head collapses to ", collapsed),
        rf"\frac{{\partial L}}{{\partial {tex_name(a)}}}"
        rf"\frac{{\partial {tex_name(a)}}}{{\partial {tex_name(z)}}}"
        rf" = {tex_name(a)} - Y",
        holds,
        findings,
    )


def prove_stable_loss(d: Derivation) -> Proof:
    """The compiled loss uses softplus(z2) - y z2; it must equal BCE(y, sigma(z2))."""
    y, z2 = d.quantities["Y"].symbols[()], d.quantities[d.logit].symbols[()]
    a2 = d.quantities[d.prediction].symbols[()]
    bce = cast(sp.Expr, d.forward[-1].expressions[()]).subs(a2, 1 / (1 + sp.exp(-z2)))
    softplus_form = sp.log(1 + sp.exp(z2)) - y * z2
    difference = sp.simplify(sp.expand_log(bce - softplus_form, force=True))
    # The compiled form: softplus(z) = max(z, 0) + log(1 + exp(-|z|)), on each side of 0.
    positive = sp.Symbol("u", positive=True)
    branches = (
        sp.simplify(sp.log(1 + sp.exp(positive)) - positive - sp.log(1 + sp.exp(-positive))),
        sp.simplify(sp.log(1 + sp.exp(-positive)) - sp.log(1 + sp.exp(-positive))),
    )
    holds = difference == 0 and branches == (0, 0)
    z = sp.Symbol("z")
    softplus = sp.Eq(
        sp.Function("softplus")(z), sp.Max(z, 0) + sp.log(1 + sp.exp(-sp.Abs(z))), evaluate=False
    )
    return Proof.of(
        "stable-loss",
        ("The binary cross-entropy equals the softplus form the generated module evaluates",),
        r"-\big(y\log\sigma(z) + (1-y)\log(1-\sigma(z))\big) = \log(1+e^{z}) - y z",
        holds,
        (
            "The difference simplifies to 0, and ",
            formula(softplus, "softplus(z) = max(z, 0) + log(1 + exp(-|z|))"),
            " for ",
            formula(z > 0),
            " and ",
            formula(z < 0),
        )
        if holds
        else (
            "The difference is ",
            formula(difference),
            ", branches ",
            formula(sp.Tuple(*branches)),
        ),
    )
